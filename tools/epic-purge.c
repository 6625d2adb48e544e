/*
 * epic-purge - apply the config's retention: limits to the spool: finished and
 * failed tasks, cache entries and metrics lines older than their limit go.
 *
 * Run by the operator, by the nightly unit after `epic-watch --once`, or once a day
 * by a running watcher (watcher.purgeHours). What goes and how is the library's
 * (retention.c, which removes through trash.c as `epic delete` does); this file
 * parses the command line and says what went.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "retention.h"
#include "roles.h"

static const char usage_text[] =
    "usage: epic-purge [--dry-run] [--quiet] [--spool DIR] [--config FILE]\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nRemove what the config's retention: section says is too old: done/ tasks\n"
		    "finished more than doneDays ago, failed/ tasks more than failedDays ago, cache\n"
		    "entries written more than cacheDays ago, log/metrics.jsonl lines older than\n"
		    "logDays (0 keeps forever). A running task is never removed. Prints what goes.\n\n"
		    "  -n, --dry-run       print what would go; remove nothing\n"
		    "  -q, --quiet         print nothing but errors and warnings\n"
		    "  -s, --spool DIR     the spool (default $EPIC_SPOOL, then ./spool)\n"
		    "  -c, --config FILE   configuration file (default $EPIC_CONFIG, then the shipped one)\n"
		    "  -h, --help          this help\n"
		    "  -V, --version       print the version\n\n"
		    "Exit: 0 ok, 1 the config was rejected or the caller refused (security.roles),\n"
		    "2 usage, 111 temporary failure (I/O: what went before it stays gone; run it\n"
		    "again).\n", stdout);
	ec_exit(code);
}

typedef struct out {
	int dry_run, quiet;
} out;

static void
on_report(const char *kind, const char *what, void *arg)
{
	const out *o = arg;
	char shown[8192];

	(void)kind;
	if (!o->quiet)
		printf("%s %s\n", o->dry_run ? "would remove" : "removed",
		    ec_escape_controls(what, shown, sizeof shown));
}

static void
on_warn(const char *msg, void *arg)
{
	(void)arg;
	ec_warn("%s", msg);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "spool", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *spool = NULL;
	out o = { 0, 0 };
	ec_retention_opts ro = { 0 };
	json_t *cfg, *counts;
	ec_err e;
	int c;

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "c:hnqs:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'n': o.dry_run = 1; break;
		case 'q': o.quiet = 1; break;
		case 's': spool = optarg; break;
		case 'V': printf("epic-purge %s\n", EC_VERSION); return ec_close_stdout();
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (optind < argc) {
		ec_warn("unexpected argument '%s'", argv[optind]);
		usage(EC_EXIT_USAGE);
	}
	if (!(cfg = ec_config_load(config, &e)))
		ec_die_err(&e);
	ro.spool = ec_spool_root(spool);
	if (ec_role_require(cfg, ro.spool, "purge", &e) < 0)
		ec_die_err(&e);
	ro.cfg = cfg;
	ro.now_ms = ec_now_ms();
	ro.dry_run = o.dry_run;
	ro.report = on_report;
	ro.warn = on_warn;
	ro.arg = &o;
	if (!(counts = json_object()))
		ec_die(EC_EXIT_TEMP, "out of memory");
	if (ec_purge(&ro, counts, &e) < 0) {
		ec_close_stdout();
		ec_die_err(&e);
	}
	json_decref(counts);
	json_decref(cfg);
	return ec_close_stdout();
}
