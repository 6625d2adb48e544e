/*
 * epic-audit - the spool's audit log for an operator: check its hash chain
 * (verify), show its last lines (tail), and move old lines to a rotated file
 * (rotate), keeping the chain verifiable across files.
 *
 * The front door runs it: `epic audit verify` is `epic-audit verify`. The chain's
 * rules are the library's (audit.c, audit.h); this file parses command lines and
 * prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "roles.h"

/* The subcommands: name, synopsis (after the program's name), what it does. */
static const ec_sub subs[] = {
	{ "verify", "[--spool DIR] [FILE ...]",
	    "Walk the audit log's hash chain: each line's prev must be the SHA-256 of the\n"
	    "line before it. Without FILE, the rotated files log/audit.jsonl.N in order, then\n"
	    "log/audit.jsonl; with FILEs, those, in the order given, as one chain. Names the\n"
	    "first broken line and exits 1, or prints one line and exits 0.\n" },
	{ "tail", "[-n N] [--spool DIR]",
	    "Print the last N lines of log/audit.jsonl (default 10).\n\n"
	    "  -n, --lines N      how many lines\n" },
	{ "rotate", "--older-than DAYS [--spool DIR]",
	    "Move the leading lines of log/audit.jsonl older than DAYS (a number; 0: all\n"
	    "of them) to a new log/audit.jsonl.N, byte for byte; the chain runs on.\n\n"
	    "  -o, --older-than DAYS   the age of the lines to move\n" },
	{ NULL, NULL, NULL },
};

/* The subcommand being run (NULL: none yet), for usage. */
static const ec_sub *current;

static void
usage(int code)
{
	ec_usage_exit(ec_sub_usage(subs, current, !code,
	    "The spool's audit log, a hash chain: verify it, show its end, rotate\n"
	    "it. 'SUBCOMMAND --help' says more.\n",
	    "\n  -s, --spool DIR    the spool (default $EPIC_SPOOL, then ./spool)\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      print the version\n\n"
	    "Exit: 0 ok, 1 the chain is broken, 2 usage, 111 temporary failure (I/O).\n"), code);
}

/* Walk a FILE named on the command line into w, as far as its writers finished
 * when it was opened. Returns as ec_audit_walk_fd. */
static int
walk_path(const char *path, ec_audit_walk *w, ec_err *e)
{
	int fd, r;

	if ((fd = ec_open_read(path, e)) < 0)
		return -1;
	r = ec_audit_walk_fd(fd, path, ec_audit_size(fd), w, e);
	close(fd);
	return r;
}

static int
cmd_verify(const char *spool, int nfiles, char **files)
{
	ec_audit_walk w = { 0 };
	ec_err e;
	int r = 0;

	if (nfiles > 0) {
		for (int i = 0; i < nfiles && r == 0; i++)
			r = walk_path(files[i], &w, &e);
	} else {
		/* The files as they were at one moment: a rotation or an append while we
		 * walk is no break. */
		ec_audit_file *v;
		int n = ec_audit_files(spool, &v, &e);

		if (n < 0)
			ec_die_err(&e);
		for (int i = 0; i < n && r == 0; i++)
			r = ec_audit_walk_fd(v[i].fd, v[i].name, v[i].size, &w, &e);
		ec_audit_files_free(v, n);
	}
	if (r < 0)
		ec_die_err(&e);
	if (r > 0) {
		ec_warn("%s", w.why);
		return EC_EXIT_REJECT;
	}
	if (!w.lines)
		printf("0 lines, chain intact (empty)\n");
	else if (!strcmp(w.start, EC_AUDIT_ZERO))
		printf("%lld line%s, chain intact, last SHA-256 %s\n", w.lines, w.lines == 1 ? "" : "s",
		    w.last);
	else
		printf("%lld line%s, chain intact, last SHA-256 %s; it continues SHA-256 %s "
		    "(lines before it rotated away)\n", w.lines, w.lines == 1 ? "" : "s", w.last,
		    w.start);
	return EC_EXIT_OK;
}

/* Print the last n lines of the log (a ring of n lines over one pass). */
static int
cmd_tail(const char *spool, long n)
{
	char **ring = calloc((size_t)n + 1, sizeof *ring), *line = NULL;
	long seen = 0;
	size_t cap = 0;
	ec_err e;
	FILE *f;
	int fd;

	if (!ring)
		ec_die(EC_EXIT_TEMP, "out of memory");
	if ((fd = ec_spool_open(spool, EC_AUDIT_LOG, O_RDONLY, 0, NULL, &e)) < 0) {
		if (errno == ENOENT)
			return free(ring), EC_EXIT_OK;
		ec_die_err(&e);
	}
	if (!(f = fdopen(fd, "r")))
		ec_die(EC_EXIT_TEMP, "cannot read '%s/%s': %s", spool, EC_AUDIT_LOG, strerror(errno));
	while (n > 0 && getline(&line, &cap, f) > 0) {
		free(ring[seen % n]);
		ring[seen % n] = line;
		line = NULL, cap = 0;
		seen++;
	}
	if (ferror(f))
		ec_die(EC_EXIT_TEMP, "cannot read '%s/%s': %s", spool, EC_AUDIT_LOG, strerror(errno));
	fclose(f);
	free(line);
	for (long i = seen > n ? seen - n : 0; i < seen; i++) {
		size_t len = strlen(ring[i % n]);
		fputs(ring[i % n], stdout);
		if (len && ring[i % n][len - 1] != '\n')
			putchar('\n');
	}
	for (long i = 0; i < n; i++)
		free(ring[i]);
	free(ring);
	return EC_EXIT_OK;
}

static int
cmd_rotate(const char *spool, double days)
{
	ec_err e;
	long moved = ec_audit_rotate(spool, (long long)(days * 86400000.0), &e), *v;
	int n;

	if (moved < 0)
		ec_die_err(&e);
	if (moved == 0) {
		printf("nothing to rotate\n");
		return EC_EXIT_OK;
	}
	if ((n = ec_audit_rotated(spool, &v, &e)) <= 0)
		ec_die_err(&e);
	printf("%ld lines moved to %s.%ld\n", moved, EC_AUDIT_LOG, v[n - 1]);
	free(v);
	return EC_EXIT_OK;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "lines", required_argument, NULL, 'n' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "spool", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spool = NULL, *cmd, *opts;
	double days = -1;
	long lines = 10;
	int c, r;

	ec_setprogname(argv[0]);
	cmd = argc > 1 ? argv[1] : NULL;
	current = ec_sub_main(subs, cmd, usage);
	opts = !strcmp(cmd, "tail") ? "hn:s:V" : !strcmp(cmd, "rotate") ? "ho:s:V" : "hs:V";
	argc--, argv++;
	while ((c = getopt_long(argc, argv, opts, longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'h': usage(EC_EXIT_OK); break;
		case 'n':
			errno = 0;
			lines = strtol(optarg, &end, 10);
			if (end == optarg || *end || errno || lines < 0 || lines > 1000000) {
				ec_warn("--lines takes a number from 0 to 1000000, not '%s'", optarg);
				usage(EC_EXIT_USAGE);
			}
			break;
		case 'o':
			days = strtod(optarg, &end);
			if (end == optarg || *end || !isfinite(days) || days < 0 || days > 1e6) {
				ec_warn("--older-than takes days (a number of at least 0), not '%s'", optarg);
				usage(EC_EXIT_USAGE);
			}
			break;
		case 's': spool = optarg; break;
		case 'V': printf("epic-audit %s\n", EC_VERSION); return EC_EXIT_OK;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (strcmp(cmd, "verify") != 0 && optind < argc) {
		ec_warn("unexpected argument '%s'", argv[optind]);
		usage(EC_EXIT_USAGE);
	}
	if (!strcmp(cmd, "rotate") && days < 0) {
		ec_warn("rotate needs --older-than DAYS");
		usage(EC_EXIT_USAGE);
	}
	spool = ec_spool_root(spool);
	/* Refusals dropped under security.roles join the log before it is read. */
	if (strcmp(cmd, "rotate") != 0 && (strcmp(cmd, "verify") != 0 || optind == argc)) {
		ec_err e;
		if (ec_roles_fold(spool, &e) < 0)
			ec_warn("%s", e.msg);
	}
	if (!strcmp(cmd, "verify"))
		r = cmd_verify(spool, argc - optind, argv + optind);
	else if (!strcmp(cmd, "tail"))
		r = cmd_tail(spool, lines);
	else
		r = cmd_rotate(spool, days);
	if (ec_close_stdout() < 0)
		return EC_EXIT_TEMP;
	return r;
}
