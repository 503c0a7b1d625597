# cmake/pgo-train.cmake - the training run of a profile-guided release build (cmake -P).
#
# Builds synscope instrumented (-fprofile-generate) in BIN/pgo/train, runs it over a capture
# made by bench/gen.c (the benchmark's generator, with another seed and size than bench/run's)
# and over the lab captures in pcaps/, and leaves the profile in BIN/pgo/profile, where the
# release build's compiler reads it (-fprofile-use). Variables: SRC (source tree), BIN (the
# release build's folder), GENERATOR, CC and CFLAGS (the C compiler and the release build's
# CMAKE_C_FLAGS: the two builds must compile the same code).
cmake_minimum_required(VERSION 3.18)

set(train "${BIN}/pgo/train")
set(profile "${BIN}/pgo/profile")
set(capture "${BIN}/pgo/train.pcap")
file(REMOVE_RECURSE "${profile}")
cmake_host_system_information(RESULT cores QUERY NUMBER_OF_LOGICAL_CORES)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "profile-guided build: ${what} failed (${rc})")
  endif()
endfunction()

run("configuring the instrumented build"
    "${CMAKE_COMMAND}" -S "${SRC}" -B "${train}" -G "${GENERATOR}" "-DCMAKE_C_COMPILER=${CC}"
    "-DCMAKE_C_FLAGS=${CFLAGS}"
    -DCMAKE_BUILD_TYPE=Release -DSYNSCOPE_TESTS=OFF -DSYNSCOPE_PGO=OFF
    "-DSYNSCOPE_PGO_GENERATE=${profile}")
run("building the instrumented synscope"
    "${CMAKE_COMMAND}" --build "${train}" --target synscope pgo_gen --parallel ${cores})
run("generating the training capture"
    "${train}/pgo_gen" --attempts 40000 --seed 11 "${capture}")

# Every output format, the generated mix and every lab capture (one by one: some are damaged on
# purpose, and their exit codes are not the point here).
file(GLOB labs "${SRC}/pcaps/*.pcap" "${SRC}/pcaps/*.pcapng")
foreach(format text json html)
  run("the training run (${format})"
      "${train}/synscope" read -f ${format} -o /dev/null "${capture}")
  foreach(lab IN LISTS labs)
    execute_process(COMMAND "${train}/synscope" read -f ${format} -o /dev/null "${lab}"
                    OUTPUT_QUIET ERROR_QUIET)
  endforeach()
endforeach()
file(REMOVE "${capture}")
