/* test_paths.h - where the tests find the repository's captures (defined in flow_fixtures.c,
 * from the source folder CMake names). */
#ifndef SYNSCOPE_TEST_PATHS_H
#define SYNSCOPE_TEST_PATHS_H

#include <stddef.h>

/* The repository's root folder (pcaps/ and ../shared/external-pcaps/ are found from it). */
void repo_root(char *out, size_t outlen);

#endif
