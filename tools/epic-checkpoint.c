/*
 * epic-checkpoint - a task's WorkflowState, derived from its files.
 *
 * There is no state file to keep in step with reality: a task's state is what its
 * directory holds. Each persona's canonical output, personas/NN-NAME.json, is that
 * persona's checkpoint; plan.json says which personas are ec_planned and in which order;
 * checkpoints.jsonl is the append-only log of what happened (persona-run writes a
 * "before" line per attempt, "retry" and "failed" lines with the error, an "after"
 * line with the xxh3 of the bytes it wrote); the name of the directory the task
 * sits in (active/, done/, failed/) is where it is in the spool. From these,
 *
 *   status   prints the seed's WorkflowState (or, --brief, the TaskStatus),
 *   list     prints the TaskStatus of every task in a spool,
 *   verify   recomputes every checkpoint (JSON, schema, xxh3 against the "after"
 *            event) and sets a bad one aside, so that make redoes exactly it,
 *   record   appends one event, as one write(2) under PIPE_BUF, so that parallel
 *            jobs of a `make -j` never interleave their lines.
 *
 * Nothing here rewrites a task's files: verify only renames a corrupt checkpoint
 * to a dot-file beside it (kept for a post-mortem, ignored by make and watchers)
 * and appends a "verify-removed" event.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ec.h"

/* checkpoints.jsonl and a command persona's raw output may outgrow a JSON document. */
#define MAX_LOG_BYTES   (64u << 20)

static const char usage_text[] =
    "usage: epic-checkpoint status [--brief] DIR\n"
    "       epic-checkpoint list [--json | --table] [--spool DIR | SPOOL]\n"
    "       epic-checkpoint verify [--dry-run] DIR\n"
    "       epic-checkpoint record --persona NAME --event EVENT [--attempt N]\n"
    "                       [--error-type TYPE] [--message TEXT] [--duration-ms N]\n"
    "                       [--xxh3 HEX | --file FILE] DIR\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nA task's WorkflowState, derived from the files of its directory\n"
		    "(spool/STATE/ID): persona outputs, plan.json and checkpoints.jsonl.\n\n"
		    "  status DIR       print the WorkflowState (-b, --brief: the TaskStatus)\n"
		    "  list [SPOOL]     the TaskStatus of every task in active/, done/ and failed/,\n"
		    "                   as a JSON array (-j, --json) or a table (-t, --table; the\n"
		    "                   default on a terminal); -s, --spool DIR (default $EPIC_SPOOL)\n"
		    "  verify DIR       check every checkpoint (JSON, schema, xxh3) and set a bad\n"
		    "                   one aside so make redoes it; -n, --dry-run only reports\n"
		    "  record DIR       append one event to DIR/checkpoints.jsonl:\n"
		    "    -p, --persona NAME      the persona\n"
		    "    -e, --event EVENT       before, after, retry, failed, skipped, cache-hit,\n"
		    "                            cache-miss, fallback, verify-removed or llm-call\n"
		    "    -a, --attempt N         the attempt (1, 2, ...)\n"
		    "    -t, --error-type TYPE   PERSONA_UNAVAILABLE, TIMEOUT, INVALID_INPUT,\n"
		    "                            VALIDATION_FAILED, SYSTEM_ERROR or NETWORK_ERROR\n"
		    "    -m, --message TEXT      what happened (cut to fit one line under 4 KiB)\n"
		    "    -d, --duration-ms N     how long it took\n"
		    "    -x, --xxh3 HEX          the xxh3 of the output written (16 hex digits)\n"
		    "    -f, --file FILE         record the xxh3 of FILE\n"
		    "  -h, --help       this help\n"
		    "  -V, --version    print the version\n\n"
		    "Exit: 0 ok, 1 rejected (verify: a checkpoint was removed; the task needs a\n"
		    "rerun), 2 usage, 111 temporary failure.\n", stdout);
	ec_exit(code);
}

/* The spool states a task directory can be in, in the order list prints them. */
static const char *const task_states[] = { "active", "done", "failed", NULL };

/* The persona name epic.json's events are recorded under. */
static const char aggregate_name[] = "epic-aggregate";

/* Report a malformed file of a task (state.c, events.c say what and where). */
static void
report_line(const char *msg, void *arg)
{
	(void)arg;
	ec_warn("%s", msg);
}

/* Print j canonically on stdout. Returns the exit code. */
static int
print_json(const json_t *j)
{
	ec_err e;

	if (ec_json_write(NULL, j, 0, &e) < 0) {
		ec_warn("%s", e.msg);
		return EC_EXIT_TEMP;
	}
	return ec_close_stdout();
}

static int
cmd_status(const char *dir, int brief)
{
	json_t *wf, *out;
	char bad[512];
	ec_task_state t = { .report = report_line };
	ec_err e;
	int rc;

	if (ec_state_load(&t, dir, 1, &e) < 0 || !(wf = ec_state_workflow(&t, 1, &e))) {
		ec_state_free(&t);
		ec_die_err(&e);
	}
	out = brief ? ec_state_status(&t, wf) : json_incref(wf);
	/* The contract is the promise: never print a document that breaks it. */
	if (!out || ec_schema_validate(brief ? "task-status" : "workflow-state", out, bad, &e) < 0) {
		if (!out)
			ec_fail(&e, EC_EXIT_TEMP, "out of memory");
		ec_err_prefix(&e, "cannot derive the state of '%s'", t.dir);
		ec_state_free(&t);
		ec_die_err(&e);
	}
	rc = print_json(out);
	json_decref(out);
	json_decref(wf);
	ec_state_free(&t);
	return rc;
}

static int
cmp_status(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;

	return strcmp(ec_json_get_str(x, "taskId", ""), ec_json_get_str(y, "taskId", ""));
}

/* The rows of list --table, aligned; the title is last and not padded. */
static void
print_table(json_t *const *v, size_t n)
{
	static const char *const head[] = { "STATE", "TASK", "DONE", "CURRENT", "UPDATED", "TITLE" };
	char (*cell)[5][200] = calloc(n + 1, sizeof *cell);
	int w[5] = { 0 };

	if (!cell)
		return;
	for (int c = 0; c < 5; c++)
		snprintf(cell[0][c], sizeof cell[0][c], "%s", head[c]);
	for (size_t i = 0; i < n; i++) {
		const char *cur = ec_json_get_str(v[i], "currentPersona", "-");
		snprintf(cell[i + 1][0], 200, "%s", ec_json_get_str(v[i], "state", ""));
		snprintf(cell[i + 1][1], 200, "%s", ec_json_get_str(v[i], "taskId", ""));
		snprintf(cell[i + 1][2], 200, "%lld/%lld",
		    (long long)ec_json_get_int(v[i], "personasCompleted", 0),
		    (long long)ec_json_get_int(v[i], "personasTotal", 0));
		snprintf(cell[i + 1][3], 200, "%s", cur);
		snprintf(cell[i + 1][4], 200, "%.19s", ec_json_get_str(v[i], "updatedAt", ""));
		if (cell[i + 1][4][10] == 'T')
			cell[i + 1][4][10] = ' ';
	}
	for (size_t i = 0; i <= n; i++)
		for (int c = 0; c < 5; c++)
			if ((int)strlen(cell[i][c]) > w[c])
				w[c] = (int)strlen(cell[i][c]);
	for (size_t i = 0; i <= n; i++) {
		const char *title = i ? ec_json_get_str(v[i - 1], "title", "") : head[5];
		const char *err = i ? ec_json_get_str(v[i - 1], "error.type", NULL) : NULL;
		for (int c = 0; c < 5; c++)
			printf("%-*s  ", w[c], cell[i][c]);
		if (err)
			printf("[%s] ", err);
		printf("%s\n", title);
	}
	free(cell);
}

/*
 * list: the TaskStatus of every task directory in SPOOL/{active,done,failed}, sorted
 * by state, then task id. A task that vanishes while being read (claimed, moved)
 * is left out; one that cannot be read is warned about and makes the exit 111.
 */
static int
cmd_list(const char *spool, int table)
{
	json_t **v = NULL, *arr;
	size_t n = 0, cap = 0;
	int rc = EC_EXIT_OK;
	struct stat st;
	char path[PATH_MAX], rel[NAME_MAX + 16];
	int ok, fd;

	if (stat(spool, &st) < 0)
		ec_die(ec_errno_is_temp(errno) ? EC_EXIT_TEMP : EC_EXIT_REJECT,
		    "no spool at '%s': %s", spool, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		ec_die(EC_EXIT_REJECT, "no spool at '%s': not a directory", spool);
	for (const char *const *state = task_states; *state; state++) {
		struct dirent **names;
		size_t first = n;
		int m;

		snprintf(path, sizeof path, "%s/%s", spool, *state);
		if ((m = scandir(path, &names, NULL, alphasort)) < 0) {
			if (errno != ENOENT) {
				ec_warn("cannot read directory '%s': %s", path, strerror(errno));
				rc = EC_EXIT_TEMP;
			}
			continue;
		}
		for (int i = 0; i < m; i++) {
			json_t *wf, *ts;
			ec_task_state t = { .report = report_line };
			ec_err e;

			snprintf(path, sizeof path, "%s/%s/%s", spool, *state, names[i]->d_name);
			snprintf(rel, sizeof rel, "%s/%s", *state, names[i]->d_name);
			ok = ec_id_valid(names[i]->d_name);
			free(names[i]);
			/* A task is a real directory of the owner's, as for ec_task_find: a
			 * link or a stranger's directory is nobody's task. */
			if (!ok || (fd = ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, NULL)) < 0)
				continue;
			close(fd);
			if (ec_state_load(&t, path, 1, &e) < 0 || !(wf = ec_state_workflow(&t, 1, &e))) {
				if (ec_exists(path)) {
					ec_warn("%s", e.msg);
					if (e.code == EC_EXIT_TEMP)
						rc = EC_EXIT_TEMP;
				}
				ec_state_free(&t);
				continue;
			}
			ts = ec_state_status(&t, wf);
			json_decref(wf);
			ec_state_free(&t);
			if (!ts)
				continue;
			if (n == cap) {
				json_t **nv;
				cap = cap ? cap * 2 : 64;
				if (!(nv = realloc(v, cap * sizeof *nv)))
					ec_die(EC_EXIT_TEMP, "out of memory");
				v = nv;
			}
			v[n++] = ts;
		}
		free(names);
		if (n > first)
			qsort(v + first, n - first, sizeof *v, cmp_status);
	}
	if (table)
		print_table(v, n);
	else {
		arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append(arr, v[i]);
		if (print_json(arr) != EC_EXIT_OK)
			rc = EC_EXIT_TEMP;
		json_decref(arr);
	}
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
	if (table && ec_close_stdout() != EC_EXIT_OK)
		rc = EC_EXIT_TEMP;
	return rc;
}

/*
 * Set a corrupt checkpoint aside: rename DIR/[personas/]NAME to .corrupt.NAME.TIME
 * beside it (a dot-file: make, the watchers and list ignore it, and the bytes stay
 * for a post-mortem), unless it changed since it was read (then it is left alone
 * and 111 returned: verify again). The new name goes to aside.
 */
static int
set_aside(const char *path, const struct stat *was, char *aside, size_t cap, ec_err *e)
{
	const char *base = strrchr(path, '/');
	char stamp[32], dir[PATH_MAX];
	struct stat now;
	time_t t = time(NULL);
	struct tm tm;
	size_t dl;

	base = base ? base + 1 : path;
	dl = (size_t)(base - path);
	snprintf(dir, sizeof dir, "%.*s", dl ? (int)dl - 1 : 1, dl ? path : ".");
	if (stat(path, &now) < 0 || now.st_ino != was->st_ino || now.st_dev != was->st_dev ||
	    now.st_size != was->st_size || now.st_mtim.tv_sec != was->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != was->st_mtim.tv_nsec)
		return ec_fail(e, EC_EXIT_TEMP, "'%s' changed while being verified: left alone", path);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 0; ; i++) {
		if (i == 0)
			snprintf(aside, cap, "%.*s.corrupt.%s.%s", (int)dl, path, base, stamp);
		else
			snprintf(aside, cap, "%.*s.corrupt.%s.%s.%d", (int)dl, path, base, stamp, i);
		if (!ec_exists(aside))
			break;
		if (i == 1000)
			return ec_fail(e, EC_EXIT_TEMP, "cannot set '%s' aside: too many copies", path);
	}
	if (rename(path, aside) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot set '%s' aside: %s", path, strerror(errno));
	return ec_fsync_dir(dir, e);
}

/* The xxh3 of the latest "after" event of persona since its latest "verify-removed",
 * and that event's time; NULL if there is none. Borrowed from t. */
static const char *
recorded_xxh3(const ec_task_state *t, const char *persona, const char **when)
{
	const char *h = NULL;

	for (size_t k = 0; k < t->ev.n; k++) {
		if (strcmp(t->ev.v[k].persona, persona))
			continue;
		if (!strcmp(t->ev.v[k].event, "verify-removed"))
			h = NULL;
		else if (!strcmp(t->ev.v[k].event, "after") &&
		    json_object_get(t->ev.v[k].j, "xxh3")) {
			h = json_string_value(json_object_get(t->ev.v[k].j, "xxh3"));
			*when = t->ev.v[k].time;
		}
	}
	return h;
}

/* Does file path hold bytes with xxh3 hex? */
static int
file_has_xxh3(const char *path, const char *hex)
{
	char h[17], *buf;
	size_t len;

	if (!ec_exists(path) || !(buf = ec_read_file(path, MAX_LOG_BYTES, &len, NULL)))
		return 0;
	ec_xxh3_hex(buf, len, h);
	free(buf);
	return !strcmp(h, hex);
}

/*
 * Check one checkpoint file: JSON, the schema, and (when hash_of is a persona
 * name) its xxh3 against the latest "after" event. On a problem, fill why and
 * return 1; 0 if it is good; -1 with e filled on I/O errors. *st and xxh3 get the
 * file's stat and hash.
 */
static int
check_file(ec_task_state *t, const char *path, const char *schema, const ec_planned *p,
    char *why, size_t cap, struct stat *st, char xxh3[17], ec_err *e)
{
	const char *rec, *when = "";
	char bad[512], raw[PATH_MAX + 128];
	size_t len, skip;
	json_t *j;
	char *buf;
	ec_err re;
	int line, col, off = 0;

	if (stat(path, st) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot stat '%s': %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return 0;
	if (!(buf = ec_read_file(path, EC_MAX_JSON_BYTES, &len, &re))) {
		if (re.code == EC_EXIT_TEMP) {
			*e = re;
			return -1;
		}
		snprintf(why, cap, "%s", re.msg);
		return 1;
	}
	ec_xxh3_hex(buf, len, xxh3);
	skip = strspn(buf, " \t\r\n");
	if (skip == len) {
		free(buf);
		snprintf(why, cap, len ? "truncated JSON: only white space" : "truncated JSON: empty file");
		return 1;
	}
	j = ec_json_loadb(buf, len, path, &re);
	free(buf);
	if (!j) {
		const char *m = re.msg + strlen(path) + 1;
		if (sscanf(m, "%d:%d: %n", &line, &col, &off) < 2 || off == 0)
			line = col = 1, off = 0;
		if (strstr(m + off, "end of file") || strstr(m + off, "premature end of input"))
			snprintf(why, cap, "truncated JSON at %d:%d", line, col);
		else
			snprintf(why, cap, "invalid JSON at %d:%d: %s", line, col, m + off);
		return 1;
	}
	if (ec_schema_validate(schema, j, bad, &re) < 0) {
		json_decref(j);
		snprintf(why, cap, "not a valid %s: %s", schema, re.msg);
		return 1;
	}
	json_decref(j);
	if (!p || !(rec = recorded_xxh3(t, p->name, &when)) || !strcmp(rec, xxh3))
		return 0;
	/* A command persona's "after" event records its raw output, from which the
	 * canonical one is made: the raw file matching is as good. */
	snprintf(raw, sizeof raw, "%s/personas/%s.raw.json", t->dir, p->stem);
	if (file_has_xxh3(raw, rec))
		return 0;
	/* The writer renames first, then logs: the event may have just arrived. */
	if (ec_state_read_events(t, 0, e) < 0)
		return -1;
	if (!(rec = recorded_xxh3(t, p->name, &when)) || !strcmp(rec, xxh3) || file_has_xxh3(raw, rec))
		return 0;
	snprintf(why, cap, "xxh3 %s does not match %s recorded at %s", xxh3, rec, when);
	return 1;
}

/*
 * verify: check every checkpoint of the task; set each bad one aside and log a
 * "verify-removed" event for it, so that make redoes exactly that persona (and
 * epic-aggregate for epic.json). Returns 0 all good, 1 something was (or, with
 * dry_run, would be) removed, 111 on I/O errors.
 */
static int
cmd_verify(const char *dir, int dry_run)
{
	char path[PATH_MAX + 300], aside[PATH_MAX + 400], why[1400], xxh3[17], other[300];
	struct dirent **names;
	int n, removed = 0, rc = EC_EXIT_OK;
	ec_task_state t = { .report = report_line };
	ec_err e;

	if (ec_state_load(&t, dir, 1, &e) < 0) {
		ec_state_free(&t);
		ec_die_err(&e);
	}
	snprintf(path, sizeof path, "%s/personas", t.dir);
	if ((n = scandir(path, &names, ec_state_output_file, alphasort)) < 0) {
		if (errno != ENOENT) {
			ec_warn("cannot read directory '%s': %s", path, strerror(errno));
			rc = EC_EXIT_TEMP;
		}
		n = 0;
		names = NULL;
	}
	/* The outputs, then epic.json (index n). */
	for (int i = 0; i <= n; i++) {
		const ec_planned *p = NULL;
		const char *persona = aggregate_name, *rel;
		struct stat st;
		json_t *ev;
		int r;

		if (i < n) {
			size_t sl = strlen(names[i]->d_name) - 5;
			for (size_t k = 0; k < t.nplan; k++)
				if (strlen(t.plan[k].stem) == sl && !strncmp(t.plan[k].stem, names[i]->d_name, sl))
					p = &t.plan[k];
			snprintf(path, sizeof path, "%s/personas/%s", t.dir, names[i]->d_name);
			free(names[i]);
			r = check_file(&t, path, "persona-output", p, why, sizeof why, &st, xxh3, &e);
			if (p)
				persona = p->name;
			else {
				/* Not in the plan: NN-NAME.json still names its persona. */
				const char *b = strrchr(path, '/') + 1;
				b += strspn(b, "0123456789");
				b += *b == '-';
				snprintf(other, sizeof other, "%.*s", (int)strlen(b) - 5, b);
				persona = ec_persona_name_valid(other) ? other : "unknown";
			}
		} else {
			snprintf(path, sizeof path, "%s/epic.json", t.dir);
			if (!ec_exists(path))
				break;
			r = check_file(&t, path, "epic-response", NULL, why, sizeof why, &st, xxh3, &e);
		}
		if (r < 0) {
			ec_warn("%s", e.msg);
			rc = EC_EXIT_TEMP;
			continue;
		}
		if (r == 0)
			continue;
		removed++;
		if (dry_run) {
			ec_warn("%s: %s; would be removed", path, why);
			continue;
		}
		if (set_aside(path, &st, aside, sizeof aside, &e) < 0) {
			ec_warn("%s: %s; %s", path, why, e.msg);
			rc = EC_EXIT_TEMP;
			continue;
		}
		ec_warn("%s: %s; removed, kept as %s", path, why, aside);
		rel = path + strlen(t.dir) + 1;
		ev = json_pack("{s:s, s:s, s:s}", "persona", persona, "event", "verify-removed",
		    "xxh3", xxh3);
		snprintf(why + strlen(why), sizeof why - strlen(why), " (%s, kept as %s)", rel,
		    strrchr(aside, '/') ? strrchr(aside, '/') + 1 : aside);
		ec_utf8_fix(why);          /* file names need not be UTF-8; JSON must */
		if (!ev)
			ec_fail(&e, EC_EXIT_TEMP, "out of memory");
		if (!ev || ec_event_append(t.dir, ev, why, &e) < 0) {
			ec_warn("cannot log the removal of '%s': %s", path, e.msg);
			rc = EC_EXIT_TEMP;
		}
		json_decref(ev);
	}
	free(names);
	ec_state_free(&t);
	if (rc == EC_EXIT_OK && removed)
		rc = EC_EXIT_REJECT;
	return rc;
}

/* Parse a non-negative number for --attempt / --duration-ms; -1 if it is not one. */
static double
parse_number(const char *s, int integer)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || *end || d < 0 || d > 1e15 || d != d || (integer && d != (long long)d))
		return -1;
	return d;
}

static int
cmd_record(const char *dir, json_t *ev, const char *msg, const char *file)
{
	char hex[17], *buf, tdir[PATH_MAX];
	size_t len;
	ec_err e;

	ec_state_clean_dir(tdir, dir);
	if (ec_state_check_dir(tdir, &e) < 0)
		ec_die_err(&e);
	if (file) {
		if (!(buf = ec_read_file(file, MAX_LOG_BYTES, &len, &e)))
			ec_die_err(&e);
		ec_xxh3_hex(buf, len, hex);
		free(buf);
		json_object_set_new(ev, "xxh3", json_string(hex));
	}
	if (ec_event_append(tdir, ev, msg, &e) < 0)
		ec_die_err(&e);
	return EC_EXIT_OK;
}

/* A bad value for an option: one line, the usage, exit 2. */
static void
bad_value(const char *opt, const char *val, const char *expected)
{
	ec_warn("invalid %s '%s': expected %s", opt, val, expected);
	usage(EC_EXIT_USAGE);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "attempt", required_argument, NULL, 'a' },
		{ "brief", no_argument, NULL, 'b' },
		{ "duration-ms", required_argument, NULL, 'd' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "event", required_argument, NULL, 'e' },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "message", required_argument, NULL, 'm' },
		{ "persona", required_argument, NULL, 'p' },
		{ "spool", required_argument, NULL, 's' },
		{ "table", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "xxh3", required_argument, NULL, 'x' },
		{ "error-type", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	/* Which options each command takes. */
	static const struct { const char *name, *opts; } cmds[] = {
		{ "status", "b" }, { "list", "jst" }, { "verify", "n" },
		{ "record", "adefmpTx" }, { NULL, NULL },
	};
	const char *cmd, *allowed = NULL, *spool = NULL, *persona = NULL, *evname = NULL;
	const char *msg = NULL, *file = NULL, *xxh3 = NULL, *etype = NULL;
	double attempt = 0, duration = -1;
	int c, brief = 0, dry = 0, table = -1;
	json_t *ev;

	ec_setprogname(argv[0]);
	if (argc < 2) {
		ec_warn("missing command");
		usage(EC_EXIT_USAGE);
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help"))
		usage(EC_EXIT_OK);
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("epic-checkpoint %s\n", EC_VERSION);
		return ec_close_stdout();
	}
	for (int i = 0; cmds[i].name; i++)
		if (!strcmp(cmd, cmds[i].name))
			allowed = cmds[i].opts;
	if (!allowed) {
		if (*cmd == '-')
			ec_warn("unknown option '%s': expected a command first", cmd);
		else
			ec_warn("unknown command '%s'", cmd);
		usage(EC_EXIT_USAGE);
	}
	argv[1] = (char *)ec_progname;    /* getopt's messages say "epic-checkpoint: " */
	argc--, argv++;
	while ((c = getopt_long(argc, argv, "a:bd:e:f:hjm:np:s:tT:Vx:", longopts, NULL)) != -1) {
		if (c == 'h')
			usage(EC_EXIT_OK);
		if (c == 'V') {
			printf("epic-checkpoint %s\n", EC_VERSION);
			return ec_close_stdout();
		}
		if (c == '?' || !strchr(allowed, c)) {
			if (c != '?')
				ec_warn("'%s' takes no option '%s'", cmd, argv[optind - 1]);
			usage(EC_EXIT_USAGE);
		}
		switch (c) {
		case 'a':
			if ((attempt = parse_number(optarg, 1)) < 1)
				bad_value("--attempt", optarg, "an integer >= 1");
			break;
		case 'b': brief = 1; break;
		case 'd':
			if ((duration = parse_number(optarg, 0)) < 0)
				bad_value("--duration-ms", optarg, "a number of milliseconds >= 0");
			break;
		case 'e':
			if (!ec_event_name_valid(optarg))
				bad_value("--event", optarg, "before, after, retry, failed, skipped, "
				    "cache-hit, cache-miss, fallback, verify-removed or llm-call");
			evname = optarg;
			break;
		case 'f': file = optarg; break;
		case 'j': table = 0; break;
		case 'm': msg = optarg; break;
		case 'n': dry = 1; break;
		case 'p':
			if (!ec_persona_name_valid(optarg))
				bad_value("--persona", optarg, "a persona name ([a-z0-9][a-z0-9-]*)");
			persona = optarg;
			break;
		case 's': spool = optarg; break;
		case 't': table = 1; break;
		case 'T':
			if (!ec_error_type_valid(optarg))
				bad_value("--error-type", optarg, "PERSONA_UNAVAILABLE, TIMEOUT, "
				    "INVALID_INPUT, VALIDATION_FAILED, SYSTEM_ERROR or NETWORK_ERROR");
			etype = optarg;
			break;
		case 'x':
			if (!ec_xxh3_hex_valid(optarg))
				bad_value("--xxh3", optarg, "16 lowercase hex digits");
			xxh3 = optarg;
			break;
		}
	}
	argc -= optind;
	argv += optind;

	if (!strcmp(cmd, "list")) {
		if (argc > 1 || (argc == 1 && spool)) {
			ec_warn("list takes one spool, as SPOOL or --spool DIR");
			usage(EC_EXIT_USAGE);
		}
		if (table < 0)
			table = isatty(STDOUT_FILENO);
		return cmd_list(ec_spool_root(argc ? argv[0] : spool), table);
	}
	if (argc != 1) {
		ec_warn(argc ? "too many arguments: expected one task directory" :
		    "missing the task directory");
		usage(EC_EXIT_USAGE);
	}
	if (!strcmp(cmd, "status"))
		return cmd_status(argv[0], brief);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(argv[0], dry);

	if (!persona || !evname) {
		ec_warn("%s is required", !persona ? "--persona" : "--event");
		usage(EC_EXIT_USAGE);
	}
	if (xxh3 && file) {
		ec_warn("--xxh3 and --file exclude each other");
		usage(EC_EXIT_USAGE);
	}
	ev = json_pack("{s:s, s:s}", "persona", persona, "event", evname);
	if (!ev)
		ec_die(EC_EXIT_TEMP, "out of memory");
	if (attempt >= 1)
		json_object_set_new(ev, "attempt", json_integer((json_int_t)attempt));
	if (etype)
		json_object_set_new(ev, "errorType", json_string(etype));
	if (duration >= 0)
		json_object_set_new(ev, "durationMs", duration == (long long)duration ?
		    json_integer((json_int_t)duration) : json_real(duration));
	if (xxh3)
		json_object_set_new(ev, "xxh3", json_string(xxh3));
	c = cmd_record(argv[0], ev, msg, file);
	json_decref(ev);
	return c;
}
