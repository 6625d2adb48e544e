/*
 * epic-checkpoint - a task's WorkflowState, derived from its files.
 *
 * There is no state file to keep in step with reality: a task's state is what its
 * directory holds. Each persona's canonical output, personas/NN-NAME.json, is that
 * persona's checkpoint; plan.json says which personas are planned and in which order;
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
#define TITLE_MAX_CHARS 200     /* TaskStatus.title */

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
		    "                            cache-miss, fallback or verify-removed\n"
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
static const char *const output_statuses[] = { "completed", "failed", "skipped", NULL };

/* The persona name epic.json's events are recorded under. */
static const char aggregate_name[] = "epic-aggregate";

/* One persona of the plan: "03-security-specialist" and its name. */
typedef struct planned {
	char *stem;             /* owned */
	const char *name;       /* points into stem, after "NN-" */
} planned;

/* What a persona's output file says, as far as status needs it. */
typedef struct output {
	int present;            /* the file exists and reads as a PersonaOutput */
	const char *status;     /* persona.status, one of output_statuses */
	char xxh3[17];
	double exec;            /* persona.executionTime */
	int has_exec;           /* 1 a real, 2 an integer */
	long long mtime;        /* milliseconds */
} output;

/* A task directory, loaded. */
typedef struct task {
	char dir[PATH_MAX];     /* as given, without trailing slashes: for messages */
	char real[PATH_MAX];    /* absolute */
	char id[161];
	const char *state;      /* one of task_states */
	json_t *req;            /* epic-request.json, or NULL */
	char mode[16];          /* from the request, else plan.json's, or "" */
	planned *plan;
	size_t nplan;
	int has_plan;           /* plan.json listed the personas */
	ec_events ev;           /* checkpoints.jsonl (events.c) */
} task;

static int
in_list(const char *const *list, const char *s)
{
	for (; s && *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

static long long
mtime_ms(const struct stat *st)
{
	return (long long)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}


/* Copy dir into out (cap PATH_MAX) without trailing slashes ("/" stays "/"). */
static void
clean_dir(char *out, const char *dir)
{
	size_t n;

	snprintf(out, PATH_MAX, "%s", *dir ? dir : ".");
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
}

static int
is_regular(const char *path, struct stat *st)
{
	return stat(path, st) == 0 && S_ISREG(st->st_mode);
}

/*
 * Is dir a task directory? It must be a directory holding the request as dropped
 * (request.json, .txt or .md), epic-request.json, plan.json or personas/. Returns 0,
 * or -1 with e filled (EC_EXIT_REJECT naming dir, or EC_EXIT_TEMP on I/O errors).
 */
static int
check_task_dir(const char *dir, ec_err *e)
{
	static const char *const marks[] = {
		"request.json", "request.txt", "request.md", "epic-request.json", "plan.json",
		"personas", NULL
	};
	char p[PATH_MAX];
	struct stat st;

	if (stat(dir, &st) < 0)
		return ec_fail(e, ec_errno_is_temp(errno) ? EC_EXIT_TEMP : EC_EXIT_REJECT,
		    "not a task directory '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ec_fail(e, EC_EXIT_REJECT, "not a task directory '%s': not a directory", dir);
	for (const char *const *m = marks; *m; m++) {
		snprintf(p, sizeof p, "%s/%s", dir, *m);
		if (ec_exists(p))
			return 0;
	}
	return ec_fail(e, EC_EXIT_REJECT, "not a task directory '%s': no request, "
	    "epic-request.json or plan.json in it", dir);
}

/* Report a line of checkpoints.jsonl that is not an event (events.c says which). */
static void
report_line(const char *msg, void *arg)
{
	(void)arg;
	ec_warn("%s", msg);
}

/* Add a planned persona from a "NN-NAME" token: 0, 1 if the token is not one, -1
 * out of memory (e filled). */
static int
plan_add(task *t, const char *tok, size_t n, ec_err *e)
{
	size_t d = 0;
	planned *np;
	char *stem;

	while (d < n && tok[d] >= '0' && tok[d] <= '9')
		d++;
	if (d == 0 || d >= n || tok[d] != '-')
		return 1;
	if (!(stem = strndup(tok, n)))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	if (!ec_persona_name_valid(stem + d + 1)) {
		free(stem);
		return 1;
	}
	if (!(np = realloc(t->plan, (t->nplan + 1) * sizeof *np))) {
		free(stem);
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	}
	t->plan = np;
	t->plan[t->nplan].stem = stem;
	t->plan[t->nplan].name = stem + d + 1;
	t->nplan++;
	return 0;
}

/* scandir filter: NN-NAME.json, not a dot-file, not .input.json or .raw.json. */
static int
output_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	if (d->d_name[0] == '.' || n < 6 || strcmp(d->d_name + n - 5, ".json"))
		return 0;
	if ((n > 11 && !strcmp(d->d_name + n - 11, ".input.json")) ||
	    (n > 9 && !strcmp(d->d_name + n - 9, ".raw.json")))
		return 0;
	return 1;
}

/*
 * The personas the task means to have: its plan.json (epic-parse made it with
 * plan.mk, from the same steps), else the outputs in personas/ (a task from before
 * plan.json). The mode too, when the request does not say.
 */
static int
load_plan(task *t, int warn, ec_err *e)
{
	char path[PATH_MAX + 32];
	json_t *plan, *x;
	size_t i;

	snprintf(path, sizeof path, "%s/plan.json", t->dir);
	if (ec_exists(path)) {
		if (!(plan = ec_json_load_file(path, EC_MAX_JSON_BYTES, e)))
			return -1;
		if (ec_schema_validate("plan", plan, NULL, e) < 0) {
			ec_err_prefix(e, "%s", path);
			json_decref(plan);
			return -1;
		}
		snprintf(t->mode, sizeof t->mode, "%s", ec_json_get_str(plan, "mode", ""));
		t->has_plan = 1;
		json_array_foreach(json_object_get(plan, "personas"), i, x) {
			const char *out = ec_json_get_str(x, "output", "personas/");
			/* "personas/NN-NAME.json": the stem NN-NAME (the schema's pattern). */
			if (plan_add(t, out + 9, strlen(out + 9) - 5, e) < 0) {
				json_decref(plan);
				return -1;
			}
		}
		json_decref(plan);
		return 0;
	}
	{
		struct dirent **names;
		int n;
		(void)warn;
		snprintf(path, sizeof path, "%s/personas", t->dir);
		if ((n = scandir(path, &names, output_file, alphasort)) < 0)
			return errno == ENOENT ? 0 : ec_fail(e, EC_EXIT_TEMP,
			    "cannot read directory '%s': %s", path, strerror(errno));
		for (int k = 0; k < n; k++) {
			if (plan_add(t, names[k]->d_name, strlen(names[k]->d_name) - 5, e) < 0) {
				while (k < n)
					free(names[k++]);
				free(names);
				return -1;
			}
			free(names[k]);
		}
		free(names);
	}
	return 0;
}

/* Read DIR/checkpoints.jsonl into t->ev (events.c), warning of skipped lines. */
static int
read_events(task *t, int warn, ec_err *e)
{
	char path[PATH_MAX + 32];

	ec_events_free(&t->ev);
	snprintf(path, sizeof path, "%s/checkpoints.jsonl", t->dir);
	return ec_events_read(path, &t->ev, warn ? report_line : NULL, NULL, e);
}

static void
task_free(task *t)
{
	ec_events_free(&t->ev);
	for (size_t i = 0; i < t->nplan; i++)
		free(t->plan[i].stem);
	free(t->plan);
	json_decref(t->req);
	memset(t, 0, sizeof *t);
}

/*
 * Load what every subcommand needs of task directory dir: where it is, its id,
 * its request, its plan and its events. Warnings (malformed lines) are printed
 * when warn is set. Returns 0, or -1 with e filled; task_free() in both cases.
 */
static int
task_load(task *t, const char *dir, int warn, ec_err *e)
{
	char path[PATH_MAX + 32], parent[PATH_MAX];
	const char *base, *mode;
	char *slash;

	memset(t, 0, sizeof *t);
	clean_dir(t->dir, dir);
	if (check_task_dir(t->dir, e) < 0)
		return -1;
	if (!realpath(t->dir, t->real))
		return ec_fail(e, EC_EXIT_TEMP, "cannot resolve '%s': %s", t->dir, strerror(errno));
	/* The state is the name of the directory the task sits in. */
	snprintf(parent, sizeof parent, "%s", t->real);
	t->state = "active";
	if ((slash = strrchr(parent, '/')) && slash != parent) {
		*slash = '\0';
		base = strrchr(parent, '/');
		base = base ? base + 1 : parent;
		for (const char *const *s = task_states; *s; s++)
			if (!strcmp(base, *s))
				t->state = *s;
	}
	snprintf(path, sizeof path, "%s/epic-request.json", t->dir);
	if (ec_exists(path)) {
		ec_err re;
		if (!(t->req = ec_json_load_file(path, EC_MAX_JSON_BYTES, &re))) {
			if (re.code == EC_EXIT_TEMP) {
				*e = re;
				return -1;
			}
			if (warn)
				ec_warn("%s", re.msg);
		}
	}
	/* The id: the request's, else the directory's name. */
	if (ec_id_valid(ec_json_get_str(t->req, "taskId", NULL)))
		snprintf(t->id, sizeof t->id, "%s", ec_json_get_str(t->req, "taskId", ""));
	else {
		base = strrchr(t->real, '/');
		base = base && base[1] ? base + 1 : t->real;
		if (ec_id_valid(base))
			snprintf(t->id, sizeof t->id, "%s", base);
		else if (ec_sanitize_name(base, t->id, sizeof t->id) < 0)
			snprintf(t->id, sizeof t->id, "task");
	}
	if (load_plan(t, warn, e) < 0 || read_events(t, warn, e) < 0)
		return -1;
	mode = ec_json_get_str(t->req, "mode", NULL);
	if (mode && ec_mode_bit(mode))
		snprintf(t->mode, sizeof t->mode, "%s", mode);
	if (!ec_mode_bit(t->mode))
		t->mode[0] = '\0';
	return 0;
}

/*
 * Read a persona's output file DIR/personas/STEM.json into o. A missing file is
 * o->present = 0; so is one that is not a readable PersonaOutput (warned about when
 * warn is set: verify is what deals with it). Returns 0, or -1 on I/O errors.
 */
static int
read_output(const task *t, const char *stem, output *o, int warn, ec_err *e)
{
	char path[PATH_MAX + 128];
	struct stat st;
	size_t len;
	json_t *j, *v;
	char *buf;
	ec_err re;

	memset(o, 0, sizeof *o);
	snprintf(path, sizeof path, "%s/personas/%s.json", t->dir, stem);
	if (!is_regular(path, &st))
		return 0;
	if (!(buf = ec_read_file(path, EC_MAX_JSON_BYTES, &len, &re))) {
		if (re.code == EC_EXIT_TEMP) {
			*e = re;
			return -1;
		}
		if (warn)
			ec_warn("%s", re.msg);
		return 0;
	}
	ec_xxh3_hex(buf, len, o->xxh3);
	j = ec_json_loadb(buf, len, path, &re);
	free(buf);
	if (!j) {
		if (warn)
			ec_warn("%s (run 'epic-checkpoint verify')", re.msg);
		return 0;
	}
	for (const char *const *s = output_statuses; *s; s++)
		if (!strcmp(ec_json_get_str(j, "persona.status", ""), *s))
			o->status = *s;
	if (!o->status) {
		if (warn)
			ec_warn("%s: not a PersonaOutput: no persona.status (run 'epic-checkpoint "
			    "verify')", path);
		json_decref(j);
		return 0;
	}
	if ((v = ec_json_get(j, "persona.executionTime")) && json_is_number(v) &&
	    json_number_value(v) >= 0)
		o->exec = json_number_value(v), o->has_exec = json_is_integer(v) ? 2 : 1;
	o->present = 1;
	o->mtime = mtime_ms(&st);
	json_decref(j);
	return 0;
}

/*
 * The fields and events the workflow-state contract allows in a checkpoint, from
 * the embedded schema itself: checkpoints.jsonl carries more (durationMs, cache
 * and verify events) than the contract has room for, and a later, wider contract
 * is picked up without touching this file. Borrowed; NULL if unavailable.
 */
static const json_t *
checkpoint_schema(const char *what)
{
	static json_t *schema;
	static int loaded;
	const char *text;
	ec_err e;

	if (!loaded) {
		loaded = 1;
		if ((text = ec_schema_text("workflow-state")))
			schema = ec_json_loadb(text, strlen(text), "workflow-state", &e);
	}
	if (!schema)
		return NULL;
	if (!strcmp(what, "events"))
		return ec_json_get(schema, "$defs.checkpoint.properties.event.enum");
	return ec_json_get(schema, "$defs.checkpoint.properties");
}

/* The event as the contract's Checkpoint (new reference), or NULL when the
 * contract has no room for this kind of event. */
static json_t *
contract_checkpoint(const ec_event *ev)
{
	const json_t *events = checkpoint_schema("events"), *props = checkpoint_schema("props");
	const char *k;
	json_t *c, *v, *x;
	size_t i;
	int known = !events;

	json_array_foreach(events, i, x)
		if (json_is_string(x) && !strcmp(json_string_value(x), ev->event))
			known = 1;
	if (!known)
		return NULL;
	if (!props)
		return json_deep_copy(ev->j);
	c = json_object();
	json_object_foreach(ev->j, k, v)
		if (json_object_get(props, k))
			json_object_set(c, k, v);
	return c;
}

/* A WorkflowError from a "retry" or "failed" event. New reference. */
static json_t *
event_error(const ec_event *ev)
{
	const char *type = json_string_value(json_object_get(ev->j, "errorType"));
	const char *msg = json_string_value(json_object_get(ev->j, "message"));
	json_int_t attempt = json_integer_value(json_object_get(ev->j, "attempt"));
	json_t *err, *details = json_object(), *v;
	char buf[256];

	if (!type)
		type = "SYSTEM_ERROR";
	if (!msg || !*msg) {
		snprintf(buf, sizeof buf, "persona '%s' %s", ev->persona,
		    !strcmp(ev->event, "retry") ? "failed, retried" : "failed");
		msg = buf;
	}
	err = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I}", "type", type, "persona", ev->persona,
	    "message", msg, "timestamp", ev->time, "recoverable", strcmp(type, "INVALID_INPUT") != 0,
	    "retryCount", (json_int_t)(attempt > 1 ? attempt - 1 : 0));
	if ((v = json_object_get(ev->j, "attempt")))
		json_object_set(details, "attempt", v);
	if ((v = json_object_get(ev->j, "durationMs")))
		json_object_set(details, "durationMs", v);
	if (err && json_object_size(details))
		json_object_set(err, "details", details);
	json_decref(details);
	return err;
}

/*
 * The error of a task in failed/: error.json, written by whoever moved the task
 * there. Read leniently, as its writers differ: "type" or "errorType" (an ErrorType;
 * else INVALID_INPUT when "exitCode" is 1, SYSTEM_ERROR otherwise), "message" or
 * "reason", "tool", "persona", "time" or "timestamp". A WorkflowError, new
 * reference, or NULL when there is no error.json.
 */
static json_t *
task_error(const task *t, int warn)
{
	char path[PATH_MAX + 32], msg[1024], ts[32];
	const char *type, *text, *tool, *persona, *when;
	struct stat st;
	json_t *j, *err;
	long long ms;
	ec_err e;

	snprintf(path, sizeof path, "%s/error.json", t->dir);
	if (!is_regular(path, &st))
		return NULL;
	if (!(j = ec_json_load_file(path, EC_MAX_JSON_BYTES, &e)) && warn)
		ec_warn("%s", e.msg);
	type = ec_json_get_str(j, "type", ec_json_get_str(j, "errorType", NULL));
	if (!ec_error_type_valid(type))
		type = ec_json_get_int(j, "exitCode", 0) == EC_EXIT_REJECT ? "INVALID_INPUT" : "SYSTEM_ERROR";
	text = ec_json_get_str(j, "message", ec_json_get_str(j, "reason", NULL));
	tool = ec_json_get_str(j, "tool", NULL);
	if (!text || !*text)
		snprintf(msg, sizeof msg, "the task failed (%s)", j ? "error.json gives no reason" :
		    "error.json is unreadable");
	else if (tool && *tool && strncmp(text, tool, strlen(tool)))
		snprintf(msg, sizeof msg, "%s: %s", tool, text);
	else
		snprintf(msg, sizeof msg, "%s", text);
	when = ec_json_get_str(j, "time", ec_json_get_str(j, "timestamp", NULL));
	if (!when || ec_time_parse_ms(when, &ms) < 0) {
		ec_time_format(mtime_ms(&st), ts);
		when = ts;
	}
	err = json_pack("{s:s, s:s, s:s, s:b, s:i}", "type", type, "message", msg,
	    "timestamp", when, "recoverable", strcmp(type, "INVALID_INPUT") != 0, "retryCount", 0);
	persona = ec_json_get_str(j, "persona", NULL);
	if (err && ec_persona_name_valid(persona))
		json_object_set_new(err, "persona", json_string(persona));
	json_decref(j);
	return err;
}

/* The newest modification time of the task's own files (dot-files excluded). */
static long long
newest_mtime(const task *t)
{
	static const char *const subdirs[] = { "", "/personas", NULL };
	char path[PATH_MAX + 300];
	long long newest = 0;
	struct stat st;

	for (const char *const *sd = subdirs; *sd; sd++) {
		DIR *d;
		struct dirent *de;
		snprintf(path, sizeof path, "%s%s", t->dir, *sd);
		if (!(d = opendir(path)))
			continue;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s%s/%s", t->dir, *sd, de->d_name);
			if (is_regular(path, &st) && mtime_ms(&st) > newest)
				newest = mtime_ms(&st);
		}
		closedir(d);
	}
	if (!newest && stat(t->dir, &st) == 0)
		newest = mtime_ms(&st);
	return newest;
}

/* When the task was created, if it has no events: the request's mtime. */
static long long
request_mtime(const task *t)
{
	static const char *const names[] = {
		"request.json", "request.txt", "request.md", "epic-request.json", "", NULL
	};
	char path[PATH_MAX + 32];
	struct stat st;

	for (const char *const *n = names; *n; n++) {
		snprintf(path, sizeof path, "%s/%s", t->dir, *n);
		if (stat(path, &st) == 0)
			return mtime_ms(&st);
	}
	return 0;
}

/* epic.json's epic.id, or JSON null (warned about when unreadable). New reference. */
static json_t *
epic_id(const task *t, int warn)
{
	char path[PATH_MAX + 32];
	const char *id;
	json_t *j, *r = NULL;
	size_t n;
	ec_err e;

	snprintf(path, sizeof path, "%s/epic.json", t->dir);
	if (!ec_exists(path))
		return json_null();
	if (!(j = ec_json_load_file(path, EC_MAX_JSON_BYTES, &e))) {
		if (warn)
			ec_warn("%s (run 'epic-checkpoint verify')", e.msg);
		return json_null();
	}
	id = ec_json_get_str(j, "epic.id", "");
	n = strlen(id);
	if (n >= 13 && n <= 21 && !strncmp(id, "EPIC-", 5) &&
	    strspn(id + 5, "0123456789abcdef") == n - 5)
		r = json_string(id);
	json_decref(j);
	return r ? r : json_null();
}

/*
 * Derive the WorkflowState of a loaded task (see the file header and the man page
 * for the rules). Returns a new reference, or NULL with e filled on I/O errors.
 */
static json_t *
workflow_state(const task *t, int warn, ec_err *e)
{
	json_t *wf, *completed, *states, *checkpoints, *errors, *meta, *c, *err;
	const char *current = NULL;
	long long first = 0, last = 0, newest;
	char ts[32];
	int active = !strcmp(t->state, "active");

	completed = json_array();
	states = json_object();
	checkpoints = json_array();
	errors = json_array();
	meta = json_object();
	for (size_t i = 0; i < t->nplan; i++) {
		const planned *p = &t->plan[i];
		const ec_event *lastev = NULL;
		const char *status;
		json_int_t attempts = 0;
		json_t *ps;
		output o;

		if (read_output(t, p->stem, &o, warn, e) < 0)
			goto fail;
		for (size_t k = 0; k < t->ev.n; k++) {
			if (strcmp(t->ev.v[k].persona, p->name))
				continue;
			lastev = &t->ev.v[k];
			if (!strcmp(lastev->event, "before"))
				attempts++;
		}
		if (o.present)
			status = o.status;
		else if (!lastev)
			status = "pending";
		else if (in_list((const char *const[]){ "before", "retry", "cache-hit",
		    "cache-miss", "fallback", NULL }, lastev->event))
			/* Only an active task runs anything: elsewhere it was cut short. */
			status = active ? "running" : "pending";
		else if (!strcmp(lastev->event, "failed") || !strcmp(lastev->event, "skipped"))
			status = lastev->event;
		else
			status = "pending";      /* "after" or "verify-removed": the file is gone */
		if (!o.present && !current)
			current = p->name;
		if (o.present && !strcmp(o.status, "completed"))
			json_array_append_new(completed, json_string(p->name));
		ps = json_pack("{s:s, s:I}", "status", status, "attempts", attempts);
		if (o.present) {
			json_object_set_new(ps, "xxh3", json_string(o.xxh3));
			if (o.has_exec)
				json_object_set_new(ps, "executionTime", o.has_exec == 2 ?
				    json_integer((json_int_t)o.exec) : json_real(o.exec));
		}
		if (lastev)
			json_object_set_new(ps, "updatedAt", json_string(lastev->time));
		else if (o.present) {
			ec_time_format(o.mtime, ts);
			json_object_set_new(ps, "updatedAt", json_string(ts));
		}
		json_object_set_new(states, p->name, ps);
	}
	for (size_t k = 0; k < t->ev.n; k++) {
		const ec_event *ev = &t->ev.v[k];
		if ((c = contract_checkpoint(ev)))
			json_array_append_new(checkpoints, c);
		if (!strcmp(ev->event, "retry") || !strcmp(ev->event, "failed"))
			if ((err = event_error(ev)))
				json_array_append_new(errors, err);
		if (!first || ev->ms < first)
			first = ev->ms;
		if (ev->ms > last)
			last = ev->ms;
	}
	if ((err = task_error(t, warn)))
		json_array_append_new(errors, err);

	json_object_set_new(meta, "state", json_string(t->state));
	if (*t->mode)
		json_object_set_new(meta, "mode", json_string(t->mode));
	ec_time_format(first ? first : request_mtime(t), ts);
	json_object_set_new(meta, "createdAt", json_string(ts));
	newest = newest_mtime(t);
	ec_time_format(last > newest ? last : newest, ts);
	json_object_set_new(meta, "updatedAt", json_string(ts));
	json_object_set_new(meta, "taskDir", json_string(t->real));

	wf = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "taskId", t->id, "epicId", epic_id(t, warn),
	    "currentPersona", current ? json_string(current) : json_null(),
	    "completedPersonas", completed, "personaStates", states,
	    "checkpoints", checkpoints, "errors", errors, "metadata", meta);
	if (!wf)
		ec_fail(e, EC_EXIT_TEMP, "cannot build the state of '%s': out of memory", t->dir);
	return wf;
fail:
	json_decref(completed);
	json_decref(states);
	json_decref(checkpoints);
	json_decref(errors);
	json_decref(meta);
	return NULL;
}

/* The TaskStatus of a task, from its WorkflowState. New reference. */
static json_t *
task_status(const task *t, const json_t *wf)
{
	const json_t *states = json_object_get(wf, "personaStates"), *ps, *v;
	const char *k, *title = ec_json_get_str(t->req, "title", "");
	json_int_t total = (json_int_t)json_object_size(states), done = 0;
	json_t *st, *errors;
	double progress;

	json_object_foreach((json_t *)states, k, ps)
		if (in_list(output_statuses, ec_json_get_str(ps, "status", "")))
			done++;
	progress = total ? (double)done / (double)total : !strcmp(t->state, "done");
	st = json_pack("{s:s, s:s, s:s%, s:I, s:I, s:O, s:f, s:O}",
	    "taskId", t->id, "state", t->state,
	    "title", title, ec_utf8_prefix(title, TITLE_MAX_CHARS, (size_t)-1),
	    "personasTotal", total,
	    "personasCompleted", (json_int_t)json_array_size(json_object_get(wf, "completedPersonas")),
	    "currentPersona", json_object_get(wf, "currentPersona"),
	    "progress", progress,
	    "updatedAt", ec_json_get(wf, "metadata.updatedAt"));
	/* A failed task says why: error.json's error, else the last error logged. */
	errors = json_object_get(wf, "errors");
	if (st && !strcmp(t->state, "failed")) {
		v = json_array_get(errors, json_array_size(errors) - 1);
		if (v)
			json_object_set_new(st, "error", json_pack("{s:O, s:O}",
			    "type", json_object_get(v, "type"), "message", json_object_get(v, "message")));
		else
			json_object_set_new(st, "error", json_pack("{s:s, s:s}", "type", "SYSTEM_ERROR",
			    "message", "the task is in failed/ and says nothing about why"));
	}
	return st;
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
	task t;
	ec_err e;
	int rc;

	if (task_load(&t, dir, 1, &e) < 0 || !(wf = workflow_state(&t, 1, &e))) {
		task_free(&t);
		ec_die_err(&e);
	}
	out = brief ? task_status(&t, wf) : json_incref(wf);
	/* The contract is the promise: never print a document that breaks it. */
	if (!out || ec_schema_validate(brief ? "task-status" : "workflow-state", out, bad, &e) < 0) {
		if (!out)
			ec_fail(&e, EC_EXIT_TEMP, "out of memory");
		ec_err_prefix(&e, "cannot derive the state of '%s'", t.dir);
		task_free(&t);
		ec_die_err(&e);
	}
	rc = print_json(out);
	json_decref(out);
	json_decref(wf);
	task_free(&t);
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
			task t;
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
			if (task_load(&t, path, 1, &e) < 0 || !(wf = workflow_state(&t, 1, &e))) {
				if (ec_exists(path)) {
					ec_warn("%s", e.msg);
					if (e.code == EC_EXIT_TEMP)
						rc = EC_EXIT_TEMP;
				}
				task_free(&t);
				continue;
			}
			ts = task_status(&t, wf);
			json_decref(wf);
			task_free(&t);
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
	    now.st_size != was->st_size || mtime_ms(&now) != mtime_ms(was))
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
recorded_xxh3(const task *t, const char *persona, const char **when)
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
check_file(task *t, const char *path, const char *schema, const planned *p,
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
	if (read_events(t, 0, e) < 0)
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
	task t;
	ec_err e;

	if (task_load(&t, dir, 1, &e) < 0) {
		task_free(&t);
		ec_die_err(&e);
	}
	snprintf(path, sizeof path, "%s/personas", t.dir);
	if ((n = scandir(path, &names, output_file, alphasort)) < 0) {
		if (errno != ENOENT) {
			ec_warn("cannot read directory '%s': %s", path, strerror(errno));
			rc = EC_EXIT_TEMP;
		}
		n = 0;
		names = NULL;
	}
	/* The outputs, then epic.json (index n). */
	for (int i = 0; i <= n; i++) {
		const planned *p = NULL;
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
	task_free(&t);
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

	clean_dir(tdir, dir);
	if (check_task_dir(tdir, &e) < 0)
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
				    "cache-hit, cache-miss, fallback or verify-removed");
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
