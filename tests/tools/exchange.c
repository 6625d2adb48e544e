/*
 * exchange A B SECONDS - swap the directory entries A and B atomically
 * (renameat2 RENAME_EXCHANGE), as fast as it can, for SECONDS or until one of them
 * is gone. The hostile submitter of tests/hardening.bats: a name in incoming/ that
 * is a regular file one moment and a FIFO or a symbolic link the next.
 * Prints the number of swaps.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main(int argc, char *argv[])
{
	time_t end;
	long n = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: exchange A B SECONDS\n");
		return 2;
	}
	end = time(NULL) + atoi(argv[3]);
	while (time(NULL) < end && renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) == 0)
		n++;
	printf("%ld\n", n);
	return 0;
}
