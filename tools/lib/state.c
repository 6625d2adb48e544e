/*
 * state.c - a task's state, derived from its files, never stored: its WorkflowState
 * (schemas/workflow-state) and TaskStatus (schemas/task-status). Each persona's
 * output is that persona's checkpoint, plan.json says which personas are planned,
 * checkpoints.jsonl (events.c) what happened when, error.json why it failed and
 * epic.json the result. epic-checkpoint prints it; nothing here prints: what is
 * wrong with a file goes to the caller's report function.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ec.h"

/* The spool states a task directory can be in. */
static const char *const task_states[] = { "active", "done", "failed", NULL };
static const char *const output_statuses[] = { "completed", "failed", "skipped", NULL };
#define TITLE_MAX_CHARS 200     /* TaskStatus.title */

/* What a persona's output file says, as far as status needs it. */
typedef struct output {
	int present;            /* the file exists and reads as a PersonaOutput */
	const char *status;     /* persona.status, one of output_statuses */
	char xxh3[17];
	double exec;            /* the logged durationMs, else persona.executionTime */
	int has_exec;           /* 1 a real, 2 an integer */
	long long mtime;        /* milliseconds */
} output;


/* Report a problem with a file of the task to the caller, when warn is set. */
static void say(const ec_task_state *t, int warn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
say(const ec_task_state *t, int warn, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!warn || !t->report)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t->report(msg, t->arg);
}

static long long
mtime_ms(const struct stat *st)
{
	return (long long)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}


/* Copy dir into out (cap PATH_MAX) without trailing slashes ("/" stays "/"). */
void
ec_state_clean_dir(char *out, const char *dir)
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
int
ec_state_check_dir(const char *dir, ec_err *e)
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


/* Add a ec_planned persona from a "NN-NAME" token: 0, 1 if the token is not one, -1
 * out of memory (e filled). */
static int
plan_add(ec_task_state *t, const char *tok, size_t n, ec_err *e)
{
	size_t d = 0;
	ec_planned *np;
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

int
ec_state_output_file(const struct dirent *d)
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
load_plan(ec_task_state *t, int warn, ec_err *e)
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
		if ((n = scandir(path, &names, ec_state_output_file, alphasort)) < 0)
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
int
ec_state_read_events(ec_task_state *t, int warn, ec_err *e)
{
	char path[PATH_MAX + 32];

	ec_events_free(&t->ev);
	snprintf(path, sizeof path, "%s/checkpoints.jsonl", t->dir);
	return ec_events_read(path, &t->ev, warn ? t->report : NULL, t->arg, e);
}

void
ec_state_free(ec_task_state *t)
{
	ec_events_free(&t->ev);
	for (size_t i = 0; i < t->nplan; i++)
		free(t->plan[i].stem);
	free(t->plan);
	json_decref(t->req);
	{
		void (*report)(const char *, void *) = t->report;
		void *arg = t->arg;
		memset(t, 0, sizeof *t);
		t->report = report, t->arg = arg;       /* the caller's, kept */
	}
}

int
ec_state_load(ec_task_state *t, const char *dir, int warn, ec_err *e)
{
	char path[PATH_MAX + 32], parent[PATH_MAX];
	const char *base, *mode;
	char *slash;
	void (*report)(const char *, void *) = t->report;
	void *arg = t->arg;

	memset(t, 0, sizeof *t);
	t->report = report, t->arg = arg;
	ec_state_clean_dir(t->dir, dir);
	if (ec_state_check_dir(t->dir, e) < 0)
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
			say(t, warn, "%s", re.msg);
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
	if (load_plan(t, warn, e) < 0 || ec_state_read_events(t, warn, e) < 0)
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
read_output(const ec_task_state *t, const char *stem, output *o, int warn, ec_err *e)
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
		say(t, warn, "%s", re.msg);
		return 0;
	}
	ec_xxh3_hex(buf, len, o->xxh3);
	j = ec_json_loadb(buf, len, path, &re);
	free(buf);
	if (!j) {
		say(t, warn, "%s (run 'epic-checkpoint verify')", re.msg);
		return 0;
	}
	for (const char *const *s = output_statuses; *s; s++)
		if (!strcmp(ec_json_get_str(j, "persona.status", ""), *s))
			o->status = *s;
	if (!o->status) {
		say(t, warn, "%s: not a PersonaOutput: no persona.status (run 'epic-checkpoint "
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
task_error(const ec_task_state *t, int warn)
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
	if (!(j = ec_json_load_file(path, EC_MAX_JSON_BYTES, &e)))
		say(t, warn, "%s", e.msg);
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
newest_mtime(const ec_task_state *t)
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
request_mtime(const ec_task_state *t)
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
epic_id(const ec_task_state *t, int warn)
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
		say(t, warn, "%s (run 'epic-checkpoint verify')", e.msg);
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
json_t *
ec_state_workflow(const ec_task_state *t, int warn, ec_err *e)
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
		const ec_planned *p = &t->plan[i];
		const ec_event *lastev = NULL;
		const char *status;
		json_int_t attempts = 0;
		json_t *ps;
		output o;

		if (read_output(t, p->stem, &o, warn, e) < 0)
			goto fail;
		for (size_t k = 0; k < t->ev.n; k++) {
			const json_t *ms;
			if (strcmp(t->ev.v[k].persona, p->name))
				continue;
			lastev = &t->ev.v[k];
			if (!strcmp(lastev->event, "before"))
				attempts++;
			/* The measured time is logged, never in the output (persona-run). */
			if (o.present && !strcmp(lastev->event, "after") &&
			    (ms = json_object_get(lastev->j, "durationMs")) && json_is_number(ms))
				o.exec = json_number_value(ms), o.has_exec = json_is_integer(ms) ? 2 : 1;
		}
		if (o.present)
			status = o.status;
		else if (!lastev)
			status = "pending";
		else if (ec_in_list((const char *const[]){ "before", "retry", "cache-hit",
		    "cache-miss", "fallback", "llm-call", NULL }, lastev->event))
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
json_t *
ec_state_status(const ec_task_state *t, const json_t *wf)
{
	const json_t *states = json_object_get(wf, "personaStates"), *ps, *v;
	const char *k, *title = ec_json_get_str(t->req, "title", "");
	json_int_t total = (json_int_t)json_object_size(states), done = 0;
	json_t *st, *errors;
	double progress;

	json_object_foreach((json_t *)states, k, ps)
		if (ec_in_list(output_statuses, ec_json_get_str(ps, "status", "")))
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
	/* The Slurm job that runs or ran it (slurm.c), with the slurm launcher. */
	{
		char path[PATH_MAX + 16];
		json_t *sj;
		snprintf(path, sizeof path, "%s/slurm.json", t->dir);
		if (st && (sj = ec_json_load_file(path, 1 << 12, NULL))) {
			if (json_is_string(json_object_get(sj, "jobId")))
				json_object_set(st, "slurmJob", json_object_get(sj, "jobId"));
			json_decref(sj);
		}
	}
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
