/*
 * persona-run - the one way a persona is ever executed.
 *
 * It builds the seed's PersonaInput from the normalized request and the outputs of
 * the earlier personas, looks the persona up in the registry, serves it from the
 * cache when it can, and otherwise runs it: a built-in (rules) persona in-process —
 * no extra process, its output canonical by construction — and a command persona as
 * a child in its own process group, PersonaInput on stdin, stdout captured with a
 * cap, under resource limits and a timeout that kills the whole group. Failed
 * attempts are retried with exponential backoff and jitter; every attempt is an
 * event in the task's checkpoints.jsonl. After the last failure: an expired cache
 * entry, then the registration's fallback persona, then a `failed` output for an
 * optional persona (exit 0, the pipeline goes on) or exit 111 for a required one.
 *
 * The argv of a command persona comes from its registration only, never from the
 * request.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ec.h"
#include "rulebase.h"
#include "llm.h"

#define OUTPUT_CAP      (4u << 20)  /* bytes of a command persona's stdout we keep */
#define HEALTH_TIMEOUT  5           /* seconds a --health probe may take */

static const char usage_text[] =
    "usage: persona-run --persona NAME [--task-dir DIR] [--spool DIR] [--config FILE]\n"
    "                   [--no-cache] [--skip REASON] [--stamp FILE] -o OUT REQUEST\n"
    "                   [EARLIER-OUTPUT ...]\n"
    "       persona-run --health [--persona NAME] [NAME ...]\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nRun one persona on a normalized request (epic-parse's output), given the\n"
		    "outputs of the personas before it, and write its output.\n\n"
		    "  -p, --persona NAME  the persona (registered, or custom in the request)\n"
		    "  -d, --task-dir DIR  the task directory (checkpoints.jsonl, task.log); default .\n"
		    "  -s, --spool DIR     the spool (its cache/); default $EPIC_SPOOL, then ./spool\n"
		    "  -c, --config FILE   configuration file\n"
		    "  -n, --no-cache      neither read nor write the cache\n"
		    "      --skip REASON   write a `skipped` output with REASON and stop\n"
		    "  -o, --output FILE   the output: canonical for a rules persona, raw for a command\n"
		    "      --stamp FILE    after a successful run, write the xxh3 of what was written\n"
		    "                      to FILE (make's stamp; a launcher checks it on resume)\n"
		    "      --health        check that each persona (default: all; or NAME, or\n"
		    "                      --persona NAME) is available: JSON name -> true/false\n"
		    "  -h, --help          this help\n"
		    "  -V, --version       print the version\n\n"
		    "Exit: 0 ok (also: an optional persona failed, its output says so), 1 input\n"
		    "rejected, 2 usage, 111 a required persona failed after its retries.\n", stdout);
	ec_exit(code);
}

/* The seed's ErrorType values. */
#define ET_UNAVAILABLE  "PERSONA_UNAVAILABLE"
#define ET_TIMEOUT      "TIMEOUT"
#define ET_INVALID      "INVALID_INPUT"
#define ET_VALIDATION   "VALIDATION_FAILED"
#define ET_SYSTEM       "SYSTEM_ERROR"

typedef struct run {
	const char *persona;     /* the name this review is known by */
	const char *task_dir;
	const char *spool;
	const char *out;
	int no_cache;
	json_t *cfg, *request;
	ec_registry reg;
	const ec_persona *p;     /* the registration that runs (NULL for inline rules) */
	json_t *inline_rules;    /* borrowed from the request */
	const char *request_path; /* epic-request.json: plan.json is beside it */
	int order, required, timeout;
	int enforced;            /* required and blocking under enforceDevops */
	char rules_fp[17];       /* the registered rule base's fingerprint, or "" */
	char version[160];       /* persona version + rule base fingerprint */
	char task_id[200];
} run;

/* Attempt outcome. */
typedef struct attempt {
	const char *etype;       /* NULL on success */
	char msg[512];
	long long ms;
} attempt;

/*
 * Append one event to the task's checkpoints.jsonl (events.c: one write, so parallel
 * personas never interleave). Failure to record is reported, not fatal: the output
 * file, not the log, is the checkpoint.
 */
static void
record(const run *r, const char *event, int attempt_no, const attempt *a, const char *xxh3)
{
	json_t *ev = json_pack("{s:s, s:s}", "persona", r->persona, "event", event);
	ec_err e;

	if (!ev)
		return;
	if (attempt_no > 0)
		json_object_set_new(ev, "attempt", json_integer(attempt_no));
	if (a && a->etype)
		json_object_set_new(ev, "errorType", json_string(a->etype));
	if (a)
		json_object_set_new(ev, "durationMs", json_integer(a->ms));
	if (xxh3)
		json_object_set_new(ev, "xxh3", json_string(xxh3));
	if (ec_event_append(r->task_dir, ev, a && a->etype ? a->msg : NULL, &e) < 0)
		ec_warn("%s", e.msg);
	json_decref(ev);
}

/* The input path beside the output: NN-NAME.raw.json / NN-NAME.json -> NN-NAME.input.json. */
static void
input_path(const char *out, char *buf, size_t cap)
{
	size_t n = strlen(out);

	if (n > 9 && strcmp(out + n - 9, ".raw.json") == 0)
		n -= 9;
	else if (n > 5 && strcmp(out + n - 5, ".json") == 0)
		n -= 5;
	snprintf(buf, cap, "%.*s.input.json", (int)n, out);
}

/* A new reference: a copy of arr when it is an array, else an empty array. */
static json_t *
json_array_or_copy(const json_t *arr)
{
	return json_is_array(arr) ? json_deep_copy(arr) : json_array();
}

/*
 * The seed's PersonaInput. accumulatedInsights carries, per earlier persona, its
 * insights, signals and a digest of its recommendations: enough for later
 * personas to build on, small enough to hand to an agent. New reference.
 */
static json_t *
build_input(run *r, json_t *const *earlier, size_t nearlier)
{
	json_t *req = r->request, *prev = json_array(), *acc = json_object(), *ctx, *mustAddress, *in;
	size_t i;

	for (i = 0; i < nearlier; i++) {
		json_t *o = earlier[i], *recs = json_array(), *x;
		const char *name = ec_json_get_str(o, "persona.name", NULL);
		size_t k;
		if (!name)
			continue;
		json_array_append_new(prev, json_string(name));
		json_array_foreach(json_object_get(o, "recommendations"), k, x)
			json_array_append_new(recs, json_pack("{s:O?, s:O?, s:O?, s:O?}",
			    "id", json_object_get(x, "id"), "title", json_object_get(x, "title"),
			    "type", json_object_get(x, "type"), "priority", json_object_get(x, "priority")));
		json_object_set_new(acc, name, json_pack("{s:o, s:o, s:o}",
		    "insights", json_array_or_copy(json_object_get(o, "insights")),
		    "signals", json_array_or_copy(json_object_get(o, "signals")),
		    "recommendations", recs));
	}
	ctx = json_pack("{s:O?, s:O?, s:O?}", "title", json_object_get(req, "title"),
	    "taskId", json_object_get(req, "taskId"), "enforceDevops", json_object_get(req, "enforceDevops"));
	if (json_object_get(req, "metadata"))
		json_object_update(ctx, json_object_get(req, "metadata"));
	mustAddress = json_array_or_copy(r->p ? r->p->focus_areas : NULL);
	in = json_pack("{s:{s:O, s:O, s:o, s:o, s:o}, s:{s:s, s:i, s:o}, s:{s:{s:s, s:s}, s:o, s:[]}}",
	    "epic", "description", json_object_get(req, "description"), "mode", json_object_get(req, "mode"),
	    "previousPersonas", prev, "accumulatedInsights", acc, "context", ctx,
	    "persona", "name", r->persona, "reviewOrder", r->order, "focusAreas", json_deep_copy(mustAddress),
	    "requirements", "outputFormat", "schema", "persona-output.schema.json", "format", "json",
	    "mustAddress", mustAddress, "optionalItems");
	/* The plan made this persona's findings blocking (enforceDevops). */
	if (in && r->enforced)
		json_object_set_new(json_object_get(in, "persona"), "enforced", json_true());
	return in;
}

/* The xxh3 of the PersonaInput's upstream part: what earlier personas said, and
 * the context less its taskId, which differs between two tasks of one request and
 * says nothing of the epic: with it no task could be served what another computed. */
static void
upstream_hash(const json_t *input, char out[17])
{
	json_t *ctx = json_deep_copy(ec_json_get(input, "epic.context"));
	json_t *up = json_pack("{s:O?, s:O?, s:o?}",
	    "previousPersonas", ec_json_get(input, "epic.previousPersonas"),
	    "accumulatedInsights", ec_json_get(input, "epic.accumulatedInsights"),
	    "context", ctx);
	char *s;

	json_object_del(ctx, "taskId");
	s = ec_json_dumps_line(up);
	ec_xxh3_hex(s ? s : "", s ? strlen(s) : 0, out);
	free(s);
	json_decref(up);
}

/* A PersonaOutput that carries no review: skipped or failed. New reference. */
static json_t *
empty_output(const run *r, const char *status, const char *etype, const char *msg, int retries)
{
	json_t *o = json_pack("{s:{s:s, s:i, s:s, s:I}, s:[], s:[], s:{s:s, s:s}, s:f, s:{s:s, s:i, s:s}}",
	    "persona", "name", r->persona, "reviewOrder", r->order, "status", status,
	    "executionTime", (json_int_t)0, "insights", "recommendations",
	    "costAnalysis", "category", r->persona, "amount", "0 person-days",
	    "confidence", 0.0, "metadata", "model", "none", "tokens", 0, "version",
	    r->p && r->p->version ? r->p->version : "0");
	json_t *err = json_pack("{s:s, s:s}", "type", etype, "message", msg);
	if (retries >= 0)
		json_object_set_new(err, "retryCount", json_integer(retries));
	json_object_set_new(json_object_get(o, "persona"), "error", err);
	return o;
}

/*
 * Load the registered rule base, checked, merged and compiled once per content
 * (rulesload.c), and once per process: a retry does not load it again. What is
 * loaded stays until the process exits (reachable from kept[], so leak checkers do
 * not count it). Borrowed.
 */
static const ec_rulebase *
load_rules(const run *r, const ec_persona *p, ec_err *e)
{
	static struct { const ec_persona *p; ec_rulebase *rb; } kept[4];
	ec_rulebase *rb;
	json_t *j;
	size_t i;

	for (i = 0; i < sizeof kept / sizeof *kept && kept[i].p; i++)
		if (kept[i].p == p)
			return kept[i].rb;
	if (p != r->p || !*r->rules_fp) {
		/* a fallback persona: rare */
		if (!(j = ec_rules_load(p->rules_path, e)))
			return NULL;
		rb = ec_rulebase_of(j);
		json_decref(j);
		if (!rb)
			ec_fail(e, EC_EXIT_TEMP, "out of memory");
	} else
		rb = ec_rules_load_kept(p->rules_path, r->rules_fp, r->spool, e);
	/* kept until exit: a retry or a fallback applies it again */
	if (rb && i < sizeof kept / sizeof *kept) {
		kept[i].p = p;
		kept[i].rb = rb;
	}
	return rb;
}

/* Apply the rule base in-process. */
static json_t *
run_rules(const run *r, const ec_persona *p, const json_t *input, attempt *a)
{
	ec_err e;
	const ec_rulebase *rb = NULL;
	ec_rulebase *inl = NULL;
	json_t *o = NULL;
	long long t0;

	if (p)
		rb = load_rules(r, p, &e);
	else if (ec_schema_validate("rule-base", r->inline_rules, NULL, &e) == 0 &&
	    !(rb = inl = ec_rulebase_of(r->inline_rules)))
		ec_fail(&e, EC_EXIT_TEMP, "out of memory");
	if (!rb) {
		a->etype = ET_UNAVAILABLE;
		snprintf(a->msg, sizeof a->msg, "%s", e.msg);
		return NULL;
	}
	/* Time the review itself, not the loading (the attempt's durationMs). */
	t0 = ec_mono_ms();
	o = ec_rulebase_apply(rb, input, &e);
	a->ms = ec_mono_ms() - t0;
	ec_rulebase_free(inl);
	if (!o) {
		a->etype = ET_SYSTEM;
		snprintf(a->msg, sizeof a->msg, "%s", e.msg);
	}
	return o;
}

/*
 * A failed command's last words: the last line it wrote to the task's log (fd, from
 * offset start on), so the attempt's message, the gap and error.json say why
 * ("spend cap reached: ...") and not only that it exited 1. "" when it said nothing.
 */
static void
last_words(int fd, off_t start, char *out, size_t cap)
{
	char buf[1024], *nl;
	off_t end = lseek(fd, 0, SEEK_END);
	size_t n = end > start ? (size_t)(end - start < (off_t)sizeof buf - 1 ? end - start :
	    (off_t)sizeof buf - 1) : 0;
	ssize_t got = n ? pread(fd, buf, n, end - (off_t)n) : 0;

	out[0] = '\0';
	if (got <= 0)
		return;
	buf[got] = '\0';
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
		buf[--got] = '\0';
	nl = strrchr(buf, '\n');
	snprintf(out, cap, "%s", nl ? nl + 1 : buf);
	ec_utf8_fix(out);
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
}

/*
 * Run a command persona: argv with the PersonaInput on stdin, its stdout into *out,
 * stderr to the task's log, under the persona's timeout and the configured
 * resource limits. 0 when it exited 0 in time; -1 with the attempt filled.
 */
static int
run_child(const run *r, char *const argv[], const char *input, size_t inlen, int timeout_s,
    char **out, size_t *outlen, attempt *a)
{
	char logpath[PATH_MAX], persona[128], task[256], mode[32], tmo[32], words[300] = "";
	off_t start;
	const char *env[] = { persona, task, mode, tmo, NULL };
	ec_proc p = {
		.argv = argv, .env = env, .input = input, .inlen = inlen, .timeout = timeout_s,
		.out_cap = OUTPUT_CAP, .err_fd = -1,
		.mem_limit = ec_parse_size(ec_json_get_str(r->cfg, "performance.memoryLimit", "0")),
		.cpu_limit = ec_json_get_int(r->cfg, "performance.cpuTimeLimit", 0),
	};
	int rc;

	snprintf(persona, sizeof persona, "EPIC_PERSONA=%s", r->persona);
	snprintf(task, sizeof task, "EPIC_TASK_ID=%s", r->task_id);
	snprintf(mode, sizeof mode, "EPIC_MODE=%s", ec_json_get_str(r->request, "mode", "standard"));
	snprintf(tmo, sizeof tmo, "EPIC_TIMEOUT=%d", timeout_s);
	snprintf(logpath, sizeof logpath, "%s/task.log", r->task_dir);
	p.err_fd = open(logpath, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	start = p.err_fd >= 0 ? lseek(p.err_fd, 0, SEEK_END) : -1;
	rc = ec_proc_run(&p);
	if (rc != 0 && start >= 0)
		last_words(p.err_fd, start, words, sizeof words);
	if (p.err_fd >= 0)
		close(p.err_fd);
	if (rc == 0) {
		*out = p.out;
		*outlen = p.outlen;
		return 0;
	}
	*out = NULL;
	a->etype = p.timed_out ? ET_TIMEOUT : p.too_big ? ET_VALIDATION :
	    p.status == 127 ? ET_UNAVAILABLE : ET_SYSTEM;
	snprintf(a->msg, sizeof a->msg, "%s%s%s", p.msg, words[0] ? ": " : "", words);
	return -1;
}

/*
 * One attempt of persona p. For a command persona, *raw gets its stdout and the
 * return is its normalization (a failure to normalize is a failed attempt).
 */
static json_t *
attempt_once(const run *r, const ec_persona *p, const json_t *input, const char *input_text,
    char **raw, size_t *rawlen, attempt *a)
{
	json_t *o = NULL;
	long long t0 = ec_mono_ms();
	char *text = NULL;

	a->etype = NULL;
	a->msg[0] = '\0';
	a->ms = -1;
	*raw = NULL;
	if (!p || p->rules_path)
		o = run_rules(r, p, input, a);
	else if (!input_text && !(input_text = text = ec_json_dumps(input))) {
		a->etype = ET_SYSTEM;
		snprintf(a->msg, sizeof a->msg, "out of memory");
	} else if (run_child(r, p->command, input_text, strlen(input_text),
	    r->timeout, raw, rawlen, a) == 0) {
		ec_norm_opts no = { r->persona, r->order, p->version, NULL };
		ec_err e;
		if (!(o = ec_normalize(*raw, *rawlen, "output", &no, &e))) {
			a->etype = ET_VALIDATION;
			snprintf(a->msg, sizeof a->msg, "%s", e.msg);
		}
	}
	/* The time is the attempt's, logged with it in checkpoints.jsonl; it never
	 * goes into the output, whose bytes must be a function of its inputs alone
	 * (make compares them: a clock in them would rerun every later persona). */
	if (a->ms < 0)
		a->ms = ec_mono_ms() - t0;
	free(text);
	return o;
}

/* Backoff before attempt k+1: base * 2^(k-1), plus up to 25 % jitter. */
static void
backoff(const run *r, int k)
{
	long long base = ec_json_get_int(r->cfg, "coordination.retryBackoffMs", 1000), ms;
	ms = base << (k - 1 > 20 ? 20 : k - 1);
	if (ms > 0)
		ms += (long long)(random() % (ms / 4 + 1));
	usleep((useconds_t)(ms * 1000 > 600000000LL ? 600000000LL : ms * 1000));
}

static int
write_output(const run *r, const json_t *o, const char *raw, size_t rawlen, ec_err *e)
{
	/* A command persona's raw output is what persona-normalize reads; when the
	 * output did not come from the command (cache, fallback, failure) the canonical
	 * JSON stands in for it: it normalizes to itself. */
	if (raw)
		return ec_write_atomic(r->out, raw, rawlen, EC_W_IFCHANGED, e) < 0 ? -1 : 0;
	return ec_json_write(r->out, o, EC_W_IFCHANGED, e) < 0 ? -1 : 0;
}

static void
hash_of(const json_t *o, const char *raw, size_t rawlen, char out[17])
{
	char *s = raw ? NULL : ec_json_dumps(o);
	if (raw)
		ec_xxh3_hex(raw, rawlen, out);
	else
		ec_xxh3_hex(s ? s : "", s ? strlen(s) : 0, out);
	free(s);
}

/* Does p ask an LLM through persona-llm? */
static int
is_llm(const ec_persona *p)
{
	const char *prog = p->command && p->command[0] ? strrchr(p->command[0], '/') : NULL;

	prog = prog ? prog + 1 : p->command ? p->command[0] : "";
	return strcmp(prog, "persona-llm") == 0;
}

/* Identify what runs for r->persona: a registration, or a custom persona. */
static int
resolve(run *r, ec_err *e)
{
	json_t *custom = ec_json_get(r->request, "options.customPersonas");
	json_t *c = json_object_get(custom, r->persona);
	const char *rb_text;
	char fp[17] = "inline";

	if (c) {
		const char *ref = json_string_value(json_object_get(c, "persona"));
		if (ref) {
			if (!(r->p = ec_registry_find(&r->reg, ref)))
				return ec_fail(e, EC_EXIT_REJECT, "custom persona '%s': no persona '%s' is registered",
				    r->persona, ref);
		} else
			r->inline_rules = json_object_get(c, "rules");
	} else if (!(r->p = ec_registry_find(&r->reg, r->persona)))
		return ec_fail(e, EC_EXIT_REJECT, "no persona '%s' is registered or in the request", r->persona);
	/* Order, required (enforceDevops included) and timeout are the plan's: read from
	 * the task's plan.json, not decided again. */
	{
		ec_plan_step *steps;
		size_t n, i;
		if (ec_plan_load(r->request_path, &r->reg, r->cfg, r->request, &steps, &n, e) < 0)
			return -1;
		for (i = 0; i < n && strcmp(steps[i].name, r->persona); i++)
			;
		if (i == n) {
			free(steps);
			return ec_fail(e, EC_EXIT_REJECT, "persona '%s' is not in the plan of '%s'",
			    r->persona, r->request_path);
		}
		r->order = steps[i].order;
		r->required = steps[i].required;
		r->enforced = steps[i].enforced;
		r->timeout = steps[i].timeout;
		free(steps);
	}
	/* The version a cache entry must match: the registration's, plus a fingerprint of
	 * the rule base, so editing rules without bumping the version still invalidates. */
	if (r->p && r->p->rules_path) {
		/* its bytes are read only if no image is kept for them (load_rules) */
		if (ec_rules_fingerprint_kept(r->p->rules_path, r->spool, fp, NULL, 0, NULL) == 0)
			memcpy(r->rules_fp, fp, sizeof fp);
	} else if (r->inline_rules && (rb_text = ec_json_dumps(r->inline_rules))) {
		ec_xxh3_hex(rb_text, strlen(rb_text), fp);
		free((char *)rb_text);
	} else if (r->p && is_llm(r->p)) {
		/* An agent: what it asks with (the settings, the prompt template) is its
		 * version too, so another model or prompt is a cache miss. */
		json_t *reg = ec_json_load_file(r->p->reg_path, EC_MAX_JSON_BYTES, NULL);
		json_t *conf = ec_llm_settings(r->cfg, reg, r->persona);
		char path[PATH_MAX], *s = conf ? ec_json_dumps(conf) : NULL, *t;
		size_t tl = 0;
		ec_buf b = { 0 };
		ec_llm_prompt_path(conf, r->p->reg_path, r->persona, path, sizeof path);
		t = ec_read_file(path, 1u << 20, &tl, NULL);
		ec_buf_puts(&b, s ? s : "");
		ec_buf_put(&b, t ? t : "", tl);
		if ((rb_text = ec_buf_take(&b))) {
			ec_xxh3_hex(rb_text, strlen(rb_text), fp);
			free((char *)rb_text);
		}
		free(s);
		free(t);
		json_decref(conf);
		json_decref(reg);
	} else if (r->p)
		snprintf(fp, sizeof fp, "command");
	snprintf(r->version, sizeof r->version, "%s+%s", r->p ? r->p->version : "inline", fp);
	return 0;
}

/*
 * A name given to --health that no registration has is the caller's mistake, not
 * an unavailable persona: exit 1 with the registered names, the nearest to it
 * first, before anything is checked.
 */
static void
check_registered(const run *r, char **names, int n)
{
	const char **cand = calloc(r->reg.n + 1, sizeof *cand);
	char list[2048];

	if (!cand)
		ec_die(EC_EXIT_TEMP, "out of memory");
	for (size_t i = 0; i < r->reg.n; i++)
		cand[i] = r->reg.v[i].name;
	for (int k = 0; k < n; k++) {
		int first, o = 0;
		if (ec_registry_find(&r->reg, names[k]))
			continue;
		first = ec_nearest(names[k], cand, r->reg.n);
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < r->reg.n && o < (int)sizeof list; i++)
				if ((pass == 0) == ((int)i == first))
					o += snprintf(list + o, sizeof list - (size_t)o, "%s%s", o ? ", " : "",
					    cand[i]);
		free(cand);
		ec_die(EC_EXIT_REJECT, "no persona '%s' is registered (registered: %s)", names[k],
		    r->reg.n ? list : "none");
	}
	free(cand);
}

/* --health: each persona (or the named ones) is available? A rule base loads, a
 * command answers its own --health with exit 0. */
static int
health(run *r, char **names, int n)
{
	int bad = 0;
	json_t *res = json_object();
	ec_err e;

	check_registered(r, names, n);
	for (size_t i = 0; i < r->reg.n; i++) {
		const ec_persona *p = &r->reg.v[i];
		int want = n == 0, ok = 0;
		for (int k = 0; k < n; k++)
			want |= strcmp(names[k], p->name) == 0;
		if (!want)
			continue;
		if (p->rules_path) {
			json_t *rb = ec_rules_load(p->rules_path, &e);
			ok = rb != NULL;
			if (!ok)
				ec_warn("%s: %s", p->name, e.msg);
			json_decref(rb);
		} else {
			size_t argc = 0, len;
			char **argv, **cmd = p->command, *out;
			attempt a = { 0 };
			while (cmd[argc])
				argc++;
			argv = calloc(argc + 2, sizeof *argv);
			memcpy(argv, cmd, argc * sizeof *argv);
			argv[argc] = "--health";
			r->persona = p->name;
			ok = run_child(r, argv, "", 0, HEALTH_TIMEOUT, &out, &len, &a) == 0;
			if (!ok)
				ec_warn("%s: %s", p->name, a.msg);
			else
				free(out);
			free(argv);
		}
		json_object_set_new(res, p->name, json_boolean(ok));
		bad += !ok;
	}
	ec_json_write(NULL, res, 0, &e);
	json_decref(res);
	return bad ? EC_EXIT_TEMP : EC_EXIT_OK;
}

/* Serve from the cache, or run with retries and the fallbacks. */
static int
execute(run *r, const json_t *input, ec_err *e)
{
	/* The input as text is what a command persona reads; a rules persona needs
	 * none (a megabyte on a large request). */
	char key[65], up[17], xx[17], *raw = NULL;
	char *input_text = r->p && !r->p->rules_path ? ec_json_dumps(input) : NULL;
	long long now = ec_now_ms() / 1000, t0 = ec_mono_ms();
	int maxr = (int)ec_json_get_int(r->cfg, "coordination.maxRetries", 3), k, expired = 0;
	int use_cache = !r->no_cache && !ec_json_get_bool(r->request, "options.noCache", 0);
	long long ttl = ec_json_get_int(r->cfg, "coordination.cacheTTL", 86400);
	json_t *o = NULL, *cached = NULL;
	size_t rawlen = 0;
	attempt a = { 0 };

	ec_cache_key(ec_json_get_str(r->request, "description", ""),
	    ec_json_get_str(r->request, "options.cacheKey", NULL), r->persona,
	    ec_json_get_str(r->request, "mode", "standard"), key);
	upstream_hash(input, up);
	/* A hit is written exactly as the miss was: the output is a function of the
	 * input, whoever computed it, so a resumed task ends byte-identical. Hits and
	 * misses are told apart in checkpoints.jsonl. */
	if (use_cache && (cached = ec_cache_get(r->spool, key, r->version, up, ttl, now, &expired)) && !expired) {
		record(r, "cache-hit", 0, NULL, NULL);
		o = cached;
		goto done;
	}
	if (maxr < 1)
		maxr = 1;
	for (k = 1; k <= maxr; k++) {
		record(r, "before", k, NULL, NULL);
		if ((o = attempt_once(r, r->p, input, input_text, &raw, &rawlen, &a)))
			break;
		free(raw);
		raw = NULL;
		record(r, k < maxr ? "retry" : "failed", k, &a, NULL);
		/* A rule base that does not load will not load on a retry either. */
		if ((!r->p || r->p->rules_path) && a.etype && strcmp(a.etype, ET_UNAVAILABLE) == 0)
			break;
		if (k < maxr)
			backoff(r, k);
	}
	if (o) {
		if (use_cache)
		record(r, "cache-miss", 0, NULL, NULL);
	if (use_cache && ec_cache_put(r->spool, key, r->version, up, ttl, now, o, e) < 0)
			ec_warn("cache: %s", e->msg);
		json_decref(cached);
		goto done;
	}
	/* Every attempt failed: the seed's recovery strategies, in order. */
	if (cached) {
		o = cached;
		json_object_set_new(json_object_get(o, "persona"), "fallback", json_string("stale-cache"));
		json_object_set_new(json_object_get(o, "persona"), "cached", json_true());
		record(r, "fallback", 0, &a, NULL);
		goto done;
	}
	if (r->p && r->p->fallback) {
		const ec_persona *fb = ec_registry_find(&r->reg, r->p->fallback);
		attempt fa = { 0 };
		record(r, "before", 0, NULL, NULL);
		if (fb && (o = attempt_once(r, fb, input, input_text, &raw, &rawlen, &fa))) {
			char note[128];
			snprintf(note, sizeof note, "persona:%s", fb->name);
			json_object_set_new(json_object_get(o, "persona"), "fallback", json_string(note));
			free(raw);
			raw = NULL;     /* the canonical output stands in: it says who answered */
			record(r, "fallback", 0, &fa, NULL);
			goto done;
		}
		free(raw);
		raw = NULL;
		record(r, "failed", 0, &fa, NULL);
	}
	if (r->p && r->p->fallback_rules) {
		/* An agent made of a rules persona (an agent profile): its rules answer. */
		ec_persona fb = *r->p;
		attempt fa = { 0 };
		fb.rules_path = r->p->fallback_rules;
		fb.command = NULL;
		record(r, "before", 0, NULL, NULL);
		if ((o = attempt_once(r, &fb, input, input_text, &raw, &rawlen, &fa))) {
			json_object_set_new(json_object_get(o, "persona"), "fallback", json_string("rules"));
			free(raw);
			raw = NULL;
			record(r, "fallback", 0, &fa, NULL);
			goto done;
		}
		free(raw);
		raw = NULL;
		record(r, "failed", 0, &fa, NULL);
	}
	if (r->required) {
		free(input_text);
		return ec_fail(e, EC_EXIT_TEMP, "required persona '%s' failed after %d attempt%s: %s: %s",
		    r->persona, maxr, maxr == 1 ? "" : "s", a.etype, a.msg);
	}
	o = empty_output(r, "failed", a.etype ? a.etype : ET_SYSTEM, a.msg, maxr - 1);
done:
	free(input_text);
	/* after-persona hooks see every output, cached or fresh; what they return must
	 * still be a PersonaOutput, and stands in for a command persona's raw answer. */
	{
		json_t *h = ec_hooks_run("after-persona", o, r->task_id, r->persona, e);
		if (!h || (h != o && ec_schema_validate("persona-output", h, NULL, e) < 0)) {
			if (h)
				ec_err_prefix(e, "after-persona hook output");
			e->code = EC_EXIT_TEMP;
			json_decref(h);
			json_decref(o);
			free(raw);
			return -1;
		}
		if (h != o) {
			free(raw);
			raw = NULL;
		}
		json_decref(o);
		o = h;
	}
	hash_of(o, raw, rawlen, xx);
	if (write_output(r, o, raw, rawlen, e) < 0) {
		free(raw);
		json_decref(o);
		return -1;
	}
	a = (attempt){ .ms = ec_mono_ms() - t0 };     /* the persona's wall time, logged */
	record(r, "after", 0, &a, xx);
	free(raw);
	json_decref(o);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "health", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-cache", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "persona", required_argument, NULL, 'p' },
		{ "skip", required_argument, NULL, 'S' },
		{ "spool", required_argument, NULL, 's' },
		{ "stamp", required_argument, NULL, 'T' },
		{ "task-dir", required_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	run r = { .task_dir = "." };
	const char *config = NULL, *skip = NULL, *spool = NULL, *stamp = NULL;
	json_t **earlier = NULL, *input;
	char inpath[PATH_MAX];
	int c, do_health = 0, rc;
	ec_err e;

	ec_setprogname(argv[0]);
	/* A persona that exits without reading all of its input must not kill us with
	 * SIGPIPE: the write fails with EPIPE instead, and its answer still counts. */
	signal(SIGPIPE, SIG_IGN);
	ec_proc_forward_signals();
	while ((c = getopt_long(argc, argv, "c:d:hno:p:s:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': r.task_dir = optarg; break;
		case 'H': do_health = 1; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'n': r.no_cache = 1; break;
		case 'o': r.out = optarg; break;
		case 'p': r.persona = optarg; break;
		case 'S': skip = optarg; break;
		case 's': spool = optarg; break;
		case 'T': stamp = optarg; break;
		case 'V': printf("persona-run %s\n", EC_VERSION); return EC_EXIT_OK;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (!(r.cfg = ec_config_load(config, &e)))
		ec_die_err(&e);
	if (ec_registry_load(&r.reg, &e) < 0 || ec_registry_configure(&r.reg, r.cfg, &e) < 0)
		ec_die_err(&e);
	if (do_health) {
		/* --health NAME ..., and --health --persona NAME the same. */
		int n = argc - optind;
		char **names = calloc((size_t)n + 2, sizeof *names);
		if (!names)
			ec_die(EC_EXIT_TEMP, "out of memory");
		memcpy(names, argv + optind, (size_t)n * sizeof *names);
		if (r.persona)
			names[n++] = (char *)r.persona;
		rc = health(&r, names, n);
		free(names);
		json_decref(r.cfg);
		ec_registry_free(&r.reg);
		ec_exit(rc ? rc : ec_close_stdout());
	}
	if (!r.persona || !r.out || optind >= argc) {
		ec_warn("%s", !r.persona ? "--persona is required" : !r.out ? "-o is required" :
		    "a request file is required");
		usage(EC_EXIT_USAGE);
	}
	r.spool = ec_spool_root(spool);
	srandom((unsigned)(getpid() ^ time(NULL)));
	/* What epic-parse wrote and stamped is not checked again (stamp.c). */
	if (!(r.request = ec_json_load_valid(argv[optind], EC_MAX_REQUEST_BYTES, "epic-request", &e)))
		ec_die_err(&e);
	if (!json_object_get(r.request, "taskId")) {
		ec_fail(&e, EC_EXIT_REJECT, "$.taskId: expected a request normalized by epic-parse");
		ec_err_prefix(&e, "%s", argv[optind]);
		ec_die_err(&e);
	}
	snprintf(r.task_id, sizeof r.task_id, "%s", ec_json_get_str(r.request, "taskId", "task"));
	r.request_path = argv[optind];
	if (resolve(&r, &e) < 0)
		ec_die_err(&e);
	earlier = calloc((size_t)(argc - optind), sizeof *earlier);
	for (int i = optind + 1; i < argc; i++) {
		if (!(earlier[i - optind - 1] = ec_json_load_valid(argv[i], EC_MAX_JSON_BYTES,
		    "persona-output", &e)))
			ec_die_err(&e);
	}
	{
		/* personas/ is created on first use: no mkdir process in the pipeline. */
		char *dir = strdup(r.out), *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if (ec_mkdir_p(dir, 0755, &e) < 0)
				ec_die_err(&e);
		}
		free(dir);
	}
	input = NULL;
	if (skip) {
		json_t *o = empty_output(&r, "skipped", ET_UNAVAILABLE, ec_plan_skip_reason(skip), -1);
		char xx[17];
		hash_of(o, NULL, 0, xx);
		if (ec_json_write(r.out, o, EC_W_IFCHANGED, &e) < 0)
			ec_die_err(&e);
		record(&r, "skipped", 0, NULL, xx);
		json_decref(o);
		goto done;
	}
	input = build_input(&r, earlier, (size_t)(argc - optind - 1));
	{
		json_t *h = ec_hooks_run("before-persona", input, r.task_id, r.persona, &e);
		if (!h || (h != input && ec_schema_validate("persona-input", h, NULL, &e) < 0)) {
			if (h)
				ec_err_prefix(&e, "before-persona hook output");
			e.code = EC_EXIT_TEMP;
			ec_die_err(&e);
		}
		json_decref(input);
		input = h;
	}
	input_path(r.out, inpath, sizeof inpath);
	/* The input is for inspection: atomic, but not worth an fsync. */
	if (strcmp(r.out, "-") && ec_json_write(inpath, input, EC_W_IFCHANGED, &e) < 0)
		ec_die_err(&e);
	rc = execute(&r, input, &e);
	if (rc < 0) {
		/* The launcher reads the verdict from the task, not from make's status. */
		ec_verdict_type(e.code == EC_EXIT_REJECT ? "INVALID_INPUT" : "PERSONA_UNAVAILABLE");
		ec_die_err(&e);
	}
done:
	if (stamp && ec_stamp_write(stamp, (const char *const[]){ r.out }, 1, &e) < 0)
		ec_die_err(&e);
	for (int i = 0; i < argc - optind - 1; i++)
		json_decref(earlier[i]);
	free(earlier);
	json_decref(input);
	json_decref(r.request);
	json_decref(r.cfg);
	ec_registry_free(&r.reg);
	ec_exit(ec_close_stdout());
}
