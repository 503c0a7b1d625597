# cmake/pgo-train.cmake - the training run of a profile-guided release build (cmake -P).
#
# Builds synscope instrumented (-fprofile-generate) in BIN/pgo/train, runs it over the lab
# captures in pcaps/ (recorded from the Linux kernel: every verdict, IPv4 and IPv6, pcap and
# pcapng, damaged files) in every output format, and leaves the profile in BIN/pgo/profile,
# where the release build's compiler reads it (-fprofile-use). Variables: SRC (source tree),
# BIN (the release build's folder), GENERATOR, CC and CFLAGS (the C compiler and the release
# build's CMAKE_C_FLAGS: the two builds must compile the same code).
cmake_minimum_required(VERSION 3.18)

set(train "${BIN}/pgo/train")
set(profile "${BIN}/pgo/profile")
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
    "${CMAKE_COMMAND}" --build "${train}" --target synscope --parallel ${cores})

# One capture at a time: some are damaged on purpose, and exit codes are not the point here.
# Without captures (a source tree stripped of pcaps/) there is no profile, and the release
# build is compiled without one.
file(GLOB labs "${SRC}/pcaps/*.pcap" "${SRC}/pcaps/*.pcapng")
if(NOT labs)
  message(WARNING "profile-guided build: no captures in ${SRC}/pcaps to train on; "
                  "building without a profile")
  return()
endif()
foreach(format text json html)
  foreach(lab IN LISTS labs)
    execute_process(COMMAND "${train}/synscope" read -f ${format} -o /dev/null "${lab}"
                    OUTPUT_QUIET ERROR_QUIET)
  endforeach()
endforeach()
