/*
 * fuzz.h - what every libFuzzer harness in tests/fuzz/ shares: the pipeline data
 * of this checkout (FUZZ_DATADIR, set by the Makefile) and a scratch directory for
 * the readers that take a file, not bytes.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ec.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Point the library at this checkout's pipeline/ and a private scratch directory
 * (its path into dir). run.sh silences what the readers print (-close_fd_mask). */
static inline void
fuzz_setup(char *dir, size_t cap)
{
	setenv("EPIC_DATADIR", FUZZ_DATADIR, 1);
	unsetenv("EPIC_CONFIG");
	unsetenv("EPIC_PERSONA_PATH");
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, cap, "%s/epic-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
}

/* The LLVMFuzzerInitialize of a harness that needs nothing but fuzz_setup. */
#define FUZZ_SETUP_ONLY() \
	int LLVMFuzzerInitialize(int *argc, char ***argv) \
	{ \
		char dir[PATH_MAX]; \
		fuzz_setup(dir, sizeof dir); \
		return 0; \
	}

/* Write size bytes to path, whole. */
static inline void
fuzz_write(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

#endif
