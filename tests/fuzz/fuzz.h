/* fuzz.h - the entry point every fuzz target defines (libFuzzer's), shared with replay.c. */
#ifndef SYNSCOPE_FUZZ_H
#define SYNSCOPE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input; always returns 0 (libFuzzer's contract). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
