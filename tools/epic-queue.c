/*
 * epic-queue - the spool's queues for an operator, after Postfix's mailq and
 * postsuper and nq's -w: what is waiting, running, deferred, held, done or failed
 * (status), waiting for one task to finish (status --wait), and moving tasks and
 * requests by hand (hold, release, requeue, delete).
 *
 * The front door runs it: `epic status`, `epic hold` ... are `epic-queue status`,
 * `epic-queue hold` ... (with argv[0] "epic", so its messages and usage say
 * "epic"). Where things are and how they move is the library's (queuelist.c,
 * queue.c); this file parses command lines and prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "queue.h"
#include "roles.h"

/* While waiting, the directories are looked at again at least this often, in case
 * an event was missed (a directory replaced, inotify unavailable). */
#define WAIT_RECHECK_MS 2000

/* The subcommands: name, synopsis (after the program's name), what it does. */
static const ec_sub subs[] = {
	{ "status", "[--json] [--spool DIR] [ID]\n"
	    "       %s status --wait [--timeout S] [--spool DIR] ID",
	    "Without ID, list every request and task in every queue: incoming (with the id the\n"
	    "watcher will give it), held, active (running or not), deferred (why, and when it\n"
	    "is tried again), failed (why) and done; a table on a terminal, JSON otherwise.\n"
	    "With ID, the state of that task (epic-checkpoint status), or where the request\n"
	    "waits. With --wait, wait until task ID is done (exit 0) or failed (exit 1).\n\n"
	    "  -J, --json         JSON even on a terminal\n"
	    "  -w, --wait         wait for ID to be done or failed; a request not yet\n"
	    "                     claimed is waited for too\n"
	    "  -t, --timeout S    give up after S seconds (exit 111); default: never\n" },
	{ "hold", "[--spool DIR] ID ...",
	    "Hold a request waiting in incoming/ or a deferred task: move it to hold/, where\n"
	    "no watcher takes it, until it is released.\n" },
	{ "release", "[--spool DIR] ID ...",
	    "Release a held request (back to incoming/) or task (back to deferred/), where\n"
	    "the watcher takes it.\n" },
	{ "requeue", "[--spool DIR] ID ...",
	    "Run a failed, done or deferred task (or one left in active/ that is not\n"
	    "running) again: it goes to deferred/, due now, and the watcher runs it; a\n"
	    "failed or done task starts over with no attempt counted.\n" },
	{ "delete", "[--spool DIR] ID ...",
	    "Delete a request or a task in any state but running: renamed out of its queue\n"
	    "into tmp/ first, then removed.\n" },
	{ NULL, NULL, NULL },
};

/* The subcommand being run (NULL: none yet), for usage. */
static const ec_sub *current;

static void
usage(int code)
{
	ec_usage_exit(ec_sub_usage(subs, current, !code,
	    "The spool's queues: list them, wait for a task, hold, release, requeue\n"
	    "or delete requests and tasks. 'SUBCOMMAND --help' says more.\n",
	    "\n  -s, --spool DIR    the spool (default $EPIC_SPOOL, then ./spool)\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      print the version\n\n"
	    "Exit: 0 ok (--wait: done), 1 no such task, not in a state for this, the\n"
	    "caller refused (security.roles), or (--wait) failed, 2 usage, 111 temporary failure (a running task, I/O,\n"
	    "--wait timed out).\n"), code);
}

/* An id from the command line must be one (ec_id_valid): "../x" is not. */
static void
check_id(const char *id)
{
	if (!ec_id_valid(id)) {
		ec_warn("invalid task id '%s': expected 1 to %d of [A-Za-z0-9._-], not starting "
		    "with '.' or '-'", id, EC_MAX_ID);
		usage(EC_EXIT_USAGE);
	}
}

/* s escaped for a terminal and cut to cap bytes. */
static const char *
shown(const char *s, char *buf, size_t cap)
{
	return ec_escape_controls(s ? s : "", buf, cap);
}

/* "2026-12-03 21:41:45" from an RFC 3339 time (the table's column). */
static void
short_time(const char *iso, char out[20])
{
	snprintf(out, 20, "%.19s", iso ? iso : "");
	if (strlen(out) > 10)
		out[10] = ' ';
}

/* One entry's detail column: what an operator needs to know of it. */
static void
detail(const json_t *j, char *out, size_t cap)
{
	const char *state = ec_json_get_str(j, "state", ""), *name = ec_json_get_str(j, "name", NULL);
	char a[256], b[600], t[20];

	if (!strcmp(state, "incoming") && json_is_null(json_object_get(j, "id")))
		snprintf(out, cap, "not a request, will be rejected: %s",
		    shown(ec_json_get_str(j, "problem", ""), b, sizeof b));
	else if (!strcmp(state, "incoming"))
		snprintf(out, cap, "queued: incoming/%s from uid %lld", shown(name, a, sizeof a),
		    (long long)ec_json_get_int(j, "uid", -1));
	else if (!strcmp(state, "hold"))
		snprintf(out, cap, "held %s (release: back to %s/)", ec_json_get_str(j, "kind", ""),
		    ec_json_get_str(j, "returnsTo", ""));
	else if (!strcmp(state, "active") && ec_json_get_str(j, "slurmJob", NULL))
		snprintf(out, cap, "%s Slurm job %s", ec_json_get_bool(j, "running", 0) ?
		    "running as" : "not running (resumable); last ran as",
		    ec_json_get_str(j, "slurmJob", ""));
	else if (!strcmp(state, "active"))
		snprintf(out, cap, "%s", ec_json_get_bool(j, "running", 0) ? "running" :
		    "not running (resumable: epic resume ID, or the watcher at its next scan)");
	else if (!strcmp(state, "deferred")) {
		short_time(ec_json_get_str(j, "nextAttemptAt", NULL), t);
		snprintf(out, cap, "%lld attempt%s, next %s: %s", (long long)ec_json_get_int(j, "attempts", 0),
		    ec_json_get_int(j, "attempts", 0) == 1 ? "" : "s", *t ? t : "now",
		    shown(ec_json_get_str(j, "reason", "no reason recorded"), b, sizeof b));
	} else if (!strcmp(state, "failed"))
		snprintf(out, cap, "%s", shown(ec_json_get_str(j, "error", "no error.json"), b, sizeof b));
	else
		*out = '\0';
}

/* The list as a table for people: STATE ID MODIFIED DETAIL, aligned. */
static void
print_table(const json_t *arr)
{
	size_t i, w = 2;
	json_t *j;
	char d[1024], t[20];

	json_array_foreach(arr, i, j) {
		size_t n = strlen(ec_json_get_str(j, "id", "-"));
		if (n > w)
			w = n;
	}
	printf("%-8s  %-*s  %-19s  %s\n", "STATE", (int)w, "ID", "MODIFIED (UTC)", "DETAIL");
	json_array_foreach(arr, i, j) {
		detail(j, d, sizeof d);
		short_time(ec_json_get_str(j, "modified", NULL), t);
		if (*d)
			printf("%-8s  %-*s  %-19s  %s\n", ec_json_get_str(j, "state", ""), (int)w,
			    ec_json_get_str(j, "id", "-"), t, d);
		else
			printf("%-8s  %-*s  %s\n", ec_json_get_str(j, "state", ""), (int)w,
			    ec_json_get_str(j, "id", "-"), t);
	}
}

static int
print_json(const json_t *j)
{
	ec_err e;

	if (ec_json_write(NULL, j, 0, &e) < 0) {
		ec_warn("%s", e.msg);
		return EC_EXIT_TEMP;
	}
	return EC_EXIT_OK;
}

/* status without an id: every queue. */
static int
list_all(const char *spool, int json)
{
	ec_err e;
	json_t *arr = ec_queue_list(spool, &e);
	int rc = EC_EXIT_OK;

	if (!arr)
		ec_die_err(&e);
	if (json)
		rc = print_json(arr);
	else
		print_table(arr);
	json_decref(arr);
	return rc ? rc : ec_close_stdout();
}

/* status ID: a task's own state (epic-checkpoint status, as it always was), or
 * where a request waits. */
static int
status_one(const char *spool, const char *id, int json)
{
	ec_queue_loc loc;
	ec_err e;
	char path[PATH_MAX], d[1024];
	json_t *j;
	int r = ec_queue_locate(spool, id, &loc, &e);

	if (r < 0)
		ec_die_err(&e);
	if (r == 0)
		ec_die(EC_EXIT_REJECT, "no task '%s' in '%s'", id, spool);
	if (loc.task && strcmp(loc.state, "hold")) {
		char *args[5];
		int n = 0;
		snprintf(path, sizeof path, "%s/%s/%s", spool, loc.state, loc.id);
		args[n++] = "epic-checkpoint";
		args[n++] = "status";
		if (!json && isatty(1))
			args[n++] = "--brief";
		args[n++] = path;
		args[n] = NULL;
		snprintf(d, sizeof d, "%s/epic-checkpoint", ec_bindir());
		execv(d, args);
		execvp("epic-checkpoint", args);
		ec_die(EC_EXIT_TEMP, "cannot run epic-checkpoint: %s", strerror(errno));
	}
	j = ec_queue_describe(spool, &loc);
	if (json || !isatty(1))
		r = print_json(j);
	else {
		detail(j, d, sizeof d);
		printf("%s: %s\n", id, d);
		r = EC_EXIT_OK;
	}
	json_decref(j);
	return r ? r : ec_close_stdout();
}

/*
 * status --wait: until task id is done (0) or failed (1), or timeout_ms passes
 * (111; < 0: never). inotify on done/ and failed/ wakes it when a task arrives
 * there, and it looks again every WAIT_RECHECK_MS whatever happens, so a missed
 * event costs seconds, never a hang. An id nowhere, not even being claimed, twice
 * in a row, is gone (deleted): 1.
 */
static int
wait_for(const char *spool, const char *id, long long timeout_ms)
{
	static const char *const watched[] = { "done", "failed", "incoming", NULL };
	long long deadline = timeout_ms >= 0 ? ec_mono_ms() + timeout_ms : -1;
	int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), missing = 0;
	char dir[PATH_MAX];

	/* Watched before the first look, so a move between the two is not missed. */
	for (const char *const *w = watched; ino >= 0 && *w; w++) {
		snprintf(dir, sizeof dir, "%s/%s", spool, *w);
		inotify_add_watch(ino, dir, IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
		    IN_ONLYDIR);
	}
	for (;;) {
		ec_queue_loc loc;
		ec_err e;
		long long left;
		int r = ec_queue_locate(spool, id, &loc, &e), ms = WAIT_RECHECK_MS;

		if (r < 0)
			ec_warn("%s", e.msg);   /* temporary, perhaps: look again */
		else if (r == 0 && !ec_queue_claiming(spool, id)) {
			if (++missing >= 2)
				ec_die(EC_EXIT_REJECT, "no task '%s' in '%s'", id, spool);
			ms = 200;               /* between two renames of a claim? */
		} else if (r == 1) {
			missing = 0;
			if (!strcmp(loc.state, "done"))
				return EC_EXIT_OK;
			if (!strcmp(loc.state, "failed")) {
				json_t *j = ec_queue_describe(spool, &loc);
				ec_warn("task '%s' failed: %s", id, ec_json_get_str(j, "error",
				    "see its error.json"));
				json_decref(j);
				return EC_EXIT_REJECT;
			}
		}
		if (deadline >= 0) {
			if ((left = deadline - ec_mono_ms()) <= 0)
				ec_die(EC_EXIT_TEMP, "timed out waiting for '%s' (%s)", id,
				    r == 1 ? loc.state : "not found");
			if (left < ms)
				ms = (int)left;
		}
		if (ino >= 0) {
			struct pollfd pf = { ino, POLLIN, 0 };
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			if (poll(&pf, 1, ms) > 0)
				while (read(ino, buf, sizeof buf) > 0)
					;
		} else
			poll(NULL, 0, ms);
	}
}

/* hold, release, requeue, delete: each id in turn; the worst outcome is the exit. */
static int
move_all(const char *spool, const char *op, char **ids, int n)
{
	static const struct {
		const char *op;
		int (*fn)(const char *, const char *, ec_queue_loc *, ec_err *);
		const char *to;
	} ops[] = {
		{ "hold", ec_queue_hold, "hold/" },
		{ "release", ec_queue_release, NULL },
		{ "requeue", ec_queue_requeue, "deferred/" },
		{ "delete", ec_queue_delete, "deleted" },
	};
	int rc = EC_EXIT_OK;
	size_t k = 0;

	while (strcmp(ops[k].op, op))
		k++;
	for (int i = 0; i < n; i++) {
		ec_queue_loc was;
		ec_err e;
		if (ops[k].fn(spool, ids[i], &was, &e) < 0) {
			ec_warn("%s", e.msg);
			if (rc != EC_EXIT_TEMP)
				rc = e.code;
			continue;
		}
		printf("%s: %s/ -> %s\n", ids[i], was.state, ops[k].to ? ops[k].to :
		    was.task ? "deferred/" : "incoming/");
	}
	return rc ? rc : ec_close_stdout();
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'J' },
		{ "spool", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spool = NULL, *cmd;
	long long timeout_ms = -1;
	int c, json = 0, wait = 0, status;

	ec_setprogname(argv[0]);
	cmd = argc > 1 ? argv[1] : NULL;
	/* list and wait are status and status --wait. */
	if (cmd && !strcmp(cmd, "list"))
		cmd = "status";
	else if (cmd && !strcmp(cmd, "wait"))
		cmd = "status", wait = 1;
	current = ec_sub_main(subs, cmd, usage);
	status = !strcmp(cmd, "status");
	argc--, argv++;
	while ((c = getopt_long(argc, argv, status ? "hJs:t:Vw" : "hs:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(EC_EXIT_OK); break;
		case 'J': json = 1; break;
		case 's': spool = optarg; break;
		case 't': {
			char *end;
			double s = strtod(optarg, &end);
			if (end == optarg || *end || !isfinite(s) || s < 0 || s > 1e9) {
				ec_warn("--timeout takes seconds (a number of at least 0), not '%s'", optarg);
				usage(EC_EXIT_USAGE);
			}
			timeout_ms = (long long)(s * 1000);
			break;
		}
		case 'V': printf("epic-queue %s\n", EC_VERSION); return EC_EXIT_OK;
		case 'w': wait = 1; break;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (!status && (json || wait || timeout_ms >= 0)) {
		ec_warn("--json, --wait and --timeout go with status, not %s", cmd);
		usage(EC_EXIT_USAGE);
	}
	spool = ec_spool_root(spool);
	argc -= optind, argv += optind;
	if (status) {
		if (argc > 1 || (wait && argc != 1) || (timeout_ms >= 0 && !wait)) {
			ec_warn(wait && argc == 0 ? "--wait needs a task id" : timeout_ms >= 0 && !wait ?
			    "--timeout goes with --wait" : "too many arguments: expected one task id");
			usage(EC_EXIT_USAGE);
		}
		if (argc == 0)
			return list_all(spool, json || !isatty(1));
		check_id(argv[0]);
		return wait ? wait_for(spool, argv[0], timeout_ms) : status_one(spool, argv[0], json);
	}
	if (argc == 0) {
		ec_warn("%s needs a task id", cmd);
		usage(EC_EXIT_USAGE);
	}
	for (int i = 0; i < argc; i++)
		check_id(argv[i]);
	/* The moves are admin commands: security.roles may refuse the caller. */
	{
		ec_err e;
		json_t *cfg = ec_config_load(NULL, &e);
		if (!cfg || ec_role_require(cfg, spool, cmd, &e) < 0)
			ec_die_err(&e);
		json_decref(cfg);
	}
	return move_all(spool, cmd, argv, argc);
}
