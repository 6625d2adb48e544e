/*
 * floor.c - the two costs a cold epic cannot go below on this machine, for make
 * bench (issue 12): starting a trivial statically linked program (fork, exec,
 * exit, wait: what each tool in an epic's process tree costs before it does any
 * work) and one durable atomic write (a temporary file, write, fsync, rename, fsync
 * of the directory: what each synced file costs). Prints the medians in
 * microseconds:
 *
 *     floor NOOP-STATIC-BINARY DIR [ROUNDS [PROGRAM...]]
 *     spawn_us 1104
 *     durable_write_us 812
 *
 * Given PROGRAMs after ROUNDS (the programs of an epic's process tree, in order,
 * one per process), it also times them run one after another with --version, each
 * doing nothing but start, print a line and exit, and prints that sum's median as
 * "chain_us N": what the epic's own binaries cost before any work (dynamic
 * loading, the C library's start, paging in a larger image), against the floor's
 * trivial spawns.
 *
 * And, for the peak memory of a tool, "floor --rss PROGRAM ARG..." runs it (stdout
 * to /dev/null) and prints "rss_kib N exit S": the child's ru_maxrss from wait4.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static long long
median(long long *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Run argv (a path, or a name looked up in PATH), stdout to /dev/null when quiet,
 * and wait for it: its exit status (128 if a signal ended it), its rusage into ru
 * if not NULL; -1, said why, if it could not be run.
 */
static int
run(char *argv[], int quiet, struct rusage *ru)
{
	posix_spawn_file_actions_t fa;
	struct rusage own;
	pid_t pid;
	int st, rc = -1;

	posix_spawn_file_actions_init(&fa);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) == 0 &&
	    wait4(pid, &st, 0, ru ? ru : &own) == pid)
		rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	else
		perror(argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

static int
rss(char *argv[])
{
	struct rusage ru;
	int st = run(argv, 1, &ru);

	if (st < 0)
		return 111;
	printf("rss_kib %ld exit %d\n", ru.ru_maxrss, st);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc > 2 && !strcmp(argv[1], "--rss"))
		return rss(argv + 2);
	int rounds = argc > 3 ? atoi(argv[3]) : 200;
	long long *t;
	char buf[8192], tmp[4096], dst[4096];

	if (argc < 3 || rounds < 1) {
		fprintf(stderr, "usage: floor NOOP-STATIC-BINARY DIR [ROUNDS [PROGRAM...]]\n");
		return 2;
	}
	if (!(t = calloc((size_t)rounds, sizeof *t)))
		return 111;
	for (int i = 0; i < rounds; i++) {
		char *av[] = { argv[1], NULL };
		long long t0 = now_us();
		if (run(av, 0, NULL) != 0)
			return 111;
		t[i] = now_us() - t0;
	}
	printf("spawn_us %lld\n", median(t, rounds));
	if (argc > 4) {
		for (int i = 0; i < rounds; i++) {
			long long t0 = now_us();
			for (int k = 4; k < argc; k++) {
				char *av[] = { argv[k], "--version", NULL };
				if (run(av, 1, NULL) != 0) {
					fprintf(stderr, "%s --version failed\n", argv[k]);
					return 111;
				}
			}
			t[i] = now_us() - t0;
		}
		printf("chain_us %lld\n", median(t, rounds));
	}
	/* The size of a typical persona output. */
	memset(buf, 'x', sizeof buf);
	snprintf(tmp, sizeof tmp, "%s/.floor.tmp", argv[2]);
	snprintf(dst, sizeof dst, "%s/floor.json", argv[2]);
	for (int i = 0; i < rounds; i++) {
		long long t0 = now_us();
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), dfd;
		if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || fsync(fd) < 0 ||
		    close(fd) < 0 || rename(tmp, dst) < 0 ||
		    (dfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(dfd) < 0) {
			perror(argv[2]);
			return 111;
		}
		close(dfd);
		t[i] = now_us() - t0;
	}
	printf("durable_write_us %lld\n", median(t, rounds));
	free(t);
	return 0;
}
