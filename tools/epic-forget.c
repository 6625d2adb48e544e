/*
 * epic-forget - the right to erasure (GDPR art. 17): remove every trace of one
 * person's requests, or of one task, from the spool: waiting and held requests,
 * tasks in any state but running, the cache entries of their persona outputs and
 * their lines in log/metrics.jsonl. One audit line records what was erased (counts
 * and task ids), never whose it was.
 *
 * The audit log itself is hash-chained and cannot be edited, so it holds no
 * personal data: the lines the tools write name task ids and Unix uids, not
 * metadata.requestedBy. What goes and how is the library's (retention.c).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "retention.h"
#include "roles.h"

static const char usage_text[] =
    "usage: epic-forget [--dry-run] [--spool DIR] [--config FILE] --requester NAME | --task ID\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nErase a person's requests and tasks (those whose metadata.requestedBy is\n"
		    "exactly NAME), or one task: its request in incoming/ or hold/, its directory\n"
		    "in hold/, deferred/, active/ (not running), done/ or failed/, its cached\n"
		    "persona outputs and its lines in log/metrics.jsonl. Prints what goes.\n\n"
		    "  -r, --requester NAME  the requests with metadata.requestedBy NAME\n"
		    "  -t, --task ID         the task (or waiting request) ID\n"
		    "  -n, --dry-run         print what would go; remove nothing\n"
		    "  -s, --spool DIR       the spool (default $EPIC_SPOOL, then ./spool)\n"
		    "  -c, --config FILE     configuration file (security.roles; default $EPIC_CONFIG)\n"
		    "  -h, --help            this help\n"
		    "  -V, --version         print the version\n\n"
		    "Exit: 0 erased (or nothing to erase), 1 refused (security.roles) or the\n"
		    "config was rejected, 2 usage, 111 temporary failure, or a task was running\n"
		    "and was left: run it again when it has stopped.\n", stdout);
	ec_exit(code);
}

static void
on_report(const char *kind, const char *what, void *arg)
{
	char shown[8192];

	(void)kind;
	printf("%s %s\n", *(const int *)arg ? "would remove" : "removed",
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
		{ "requester", required_argument, NULL, 'r' },
		{ "spool", required_argument, NULL, 's' },
		{ "task", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spool = NULL, *requester = NULL, *task = NULL, *config = NULL;
	ec_retention_opts ro = { 0 };
	json_t *counts, *ids, *cfg;
	int c, dry_run = 0, r;
	ec_err e;

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "c:hnr:s:t:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'n': dry_run = 1; break;
		case 'r': requester = optarg; break;
		case 's': spool = optarg; break;
		case 't': task = optarg; break;
		case 'V': printf("epic-forget %s\n", EC_VERSION); return ec_close_stdout();
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (optind < argc) {
		ec_warn("unexpected argument '%s'", argv[optind]);
		usage(EC_EXIT_USAGE);
	}
	if (!requester == !task) {
		ec_warn("expected one of --requester NAME and --task ID");
		usage(EC_EXIT_USAGE);
	}
	if (requester && !*requester) {
		ec_warn("empty requester name");
		usage(EC_EXIT_USAGE);
	}
	if (task && !ec_id_valid(task)) {
		ec_warn("invalid task id '%s'", task);
		usage(EC_EXIT_USAGE);
	}
	ro.spool = ec_spool_root(spool);
	if (!(cfg = ec_config_load(config, &e)) || ec_role_require(cfg, ro.spool, "forget", &e) < 0)
		ec_die_err(&e);
	json_decref(cfg);
	ro.now_ms = ec_now_ms();
	ro.dry_run = dry_run;
	ro.report = on_report;
	ro.warn = on_warn;
	ro.arg = &dry_run;
	counts = json_object();
	ids = json_array();
	if (!counts || !ids)
		ec_die(EC_EXIT_TEMP, "out of memory");
	if ((r = ec_forget(&ro, requester, task, counts, ids, &e)) < 0) {
		ec_close_stdout();
		ec_die_err(&e);
	}
	if (json_array_size(ids) == 0 && r == 0)
		ec_warn("nothing to erase");
	json_decref(counts);
	json_decref(ids);
	c = ec_close_stdout();
	if (r == 1)
		ec_die(EC_EXIT_TEMP, "a running task was left: run it again when it has stopped");
	return c;
}
