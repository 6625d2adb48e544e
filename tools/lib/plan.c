/*
 * plan.c - which personas review a request, in which order, and how: the one
 * computation, done once by epic-parse, which writes it as plan.mk (for make) and
 * plan.json (for persona-run, epic-aggregate and epic-checkpoint, which read it
 * back with ec_plan_load instead of deciding again).
 *
 * Every registered persona (with the config's overrides applied to the registry)
 * and every custom persona of the request is a step. A step is skipped when the
 * request excludes it, the config disables it, or it does not support the mode; a
 * skipped step is never required. Under enforceDevops the persona whose registration
 * says "enforceDevops": true becomes required, and its findings blocking.
 *
 * Under auto selection (options.select "auto", the seed's "dynamic review order based
 * on epic content") each rule-based persona's relevance is what its own rules find
 * to assess in the epic; one that finds nothing is skipped ("irrelevant"), unless
 * it is required, and the rest review most relevant first without breaking a
 * dependency. A command persona cannot be scored: it is kept, and says so.
 */
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "rulebase.h"

const char *
ec_plan_skip_reason(const char *keyword)
{
	if (!strcmp(keyword, "excluded"))
		return "excluded by the request";
	if (!strcmp(keyword, "disabled"))
		return "disabled in the configuration";
	if (!strcmp(keyword, "unsupported-mode"))
		return "does not support this review mode";
	if (!strcmp(keyword, "irrelevant"))
		return "auto selection: nothing in the epic for it to assess";
	return keyword;
}

static int
by_order(const void *a, const void *b)
{
	const ec_plan_step *x = a, *y = b;
	return x->order != y->order ? x->order - y->order : strcmp(x->name, y->name);
}

/* Score a step by its rule base on the request's epic (what persona-run would
 * give it, without earlier personas' words). 0, or -1 with e. */
static int
score(ec_plan_step *s, const json_t *request, ec_err *e)
{
	ec_rulebase *rb;
	json_t *in;
	ec_relevance rel;
	char fp[17];
	int r;

	s->relevance = -1;
	if (!s->p || !s->p->rules_path) {
		snprintf(s->why, sizeof s->why, "not scored: a command persona is always kept");
		return 0;
	}
	/* In a task (EPIC_SPOOL set by the launcher), the fingerprint and the image
	 * persona-run keeps save reading and checking six rule bases again. */
	if (ec_rules_fingerprint_kept(s->p->rules_path, getenv("EPIC_SPOOL"), fp, NULL, 0, e) < 0 ||
	    !(rb = ec_rules_load_kept(s->p->rules_path, fp, getenv("EPIC_SPOOL"), e)))
		return -1;
	in = json_pack("{s:{s:O, s:O, s:{s:O?}}}", "epic", "description",
	    json_object_get(request, "description"), "mode", json_object_get(request, "mode"),
	    "context", "title", json_object_get(request, "title"));
	r = in ? ec_rulebase_relevance(rb, in, &rel, e) : ec_fail(e, EC_EXIT_TEMP, "out of memory");
	json_decref(in);
	ec_rulebase_free(rb);
	if (r < 0)
		return -1;
	s->relevance = rel.score;
	snprintf(s->why, sizeof s->why, "%s", rel.score ? rel.why : "its rules find nothing to assess");
	return 0;
}

/* Whether step t is among s's dependencies (the request's for a custom persona,
 * else the registration's). */
static int
depends_on(const ec_plan_step *s, const ec_plan_step *t)
{
	json_t *x;
	size_t k;

	if (s->deps) {
		json_array_foreach(s->deps, k, x)
			if (!strcmp(json_string_value(x), t->name))
				return 1;
		return 0;
	}
	for (char **d = s->reg_deps; d && *d; d++)
		if (!strcmp(*d, t->name))
			return 1;
	return 0;
}

/* The order of preference among ready steps: the relevance; an unscored step as
 * the least relevant that runs; a skipped one (it does nothing) last. */
static int
rank(const ec_plan_step *s)
{
	return s->skip ? -1 : s->relevance > 0 ? s->relevance : 0;
}

/*
 * Auto selection: score the steps that run, skip the irrelevant ones that may be
 * skipped, and reorder v: each time, of the steps whose dependencies are placed,
 * the most relevant (a tie, or an unscored step: the review order). A cycle, which
 * the registry refuses anyway, leaves the rest in review order. 0, or -1 with e.
 */
static int
auto_select(ec_plan_step *v, size_t n, const json_t *request, ec_err *e)
{
	ec_plan_step *sorted = calloc(n + 1, sizeof *v);
	char *placed = calloc(n + 1, 1);
	size_t i, k, m;

	if (!sorted || !placed) {
		free(sorted), free(placed);
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	}
	for (i = 0; i < n; i++) {
		ec_plan_step *s = &v[i];
		if (s->skip) {
			s->relevance = -1;
			continue;
		}
		if (score(s, request, e) < 0) {
			ec_err_prefix(e, "persona '%s'", s->name);
			free(sorted), free(placed);
			return -1;
		}
		if (s->relevance == 0 && !s->required) {
			s->skip = "irrelevant";
			s->kind = "skip";
			s->enforced = 0;
		}
	}
	for (m = 0; m < n; m++) {
		size_t pick = n;
		for (i = 0; i < n; i++) {
			int ready = !placed[i];
			for (k = 0; ready && k < n; k++)
				ready = k == i || placed[k] || !depends_on(&v[i], &v[k]);
			if (ready && (pick == n || rank(&v[i]) > rank(&v[pick])))
				pick = i;   /* v is in review order: the first of equals stays */
		}
		for (i = 0; pick == n && i < n; i++)
			if (!placed[i])
				pick = i;
		placed[pick] = 1;
		sorted[m] = v[pick];
	}
	memcpy(v, sorted, n * sizeof *v);
	free(sorted);
	free(placed);
	return 0;
}

int
ec_plan_auto(const json_t *request)
{
	return !strcmp(ec_json_get_str(request, "options.select", "all"), "auto");
}

int
ec_plan_compute(const ec_registry *reg, const json_t *cfg, const json_t *request,
    ec_plan_step **out, size_t *nout, ec_err *e)
{
	json_t *opts = json_object_get(request, "options"), *x;
	json_t *excl = json_object_get(opts, "excludePersonas");
	json_t *custom = json_object_get(opts, "customPersonas");
	json_t *cfgp = json_object_get(cfg, "personas");
	const char *mode = ec_json_get_str(request, "mode", "standard"), *name;
	int enforce = json_is_true(json_object_get(request, "enforceDevops"));
	size_t n = 0, i, k;
	ec_plan_step *v = calloc(reg->n + json_object_size(custom) + 1, sizeof *v);

	if (!v)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	for (i = 0; i < reg->n; i++) {
		const ec_persona *p = &reg->v[i];
		ec_plan_step *s = &v[n++];
		snprintf(s->name, sizeof s->name, "%s", p->name);
		s->p = p;
		s->relevance = -1;
		s->order = p->review_order;
		s->required = p->required;
		s->timeout = p->timeout;
		s->kind = p->rules_path ? "rules" : "command";
		s->id_prefix = p->id_prefix;
		s->reg_deps = p->deps;
		if (enforce && p->enforce_devops)
			s->enforced = s->required = 1;
		json_array_foreach(excl, k, x)
			if (strcmp(json_string_value(x), p->name) == 0)
				s->skip = "excluded";
		if (json_is_false(json_object_get(json_object_get(cfgp, p->name), "enabled")))
			s->skip = "disabled";
		if (!(p->modes & ec_mode_bit(mode)))
			s->skip = "unsupported-mode";
		if (s->skip) {
			s->kind = "skip";
			s->required = s->enforced = 0;
		}
	}
	json_object_foreach(custom, name, x) {
		const ec_persona *p = ec_registry_find(reg, ec_json_get_str(x, "persona", ""));
		ec_plan_step *s = &v[n++];
		snprintf(s->name, sizeof s->name, "%s", name);
		s->p = p;
		s->relevance = -1;
		s->order = (int)ec_json_get_int(x, "reviewOrder", p ? p->review_order : 99);
		s->required = ec_json_get_bool(x, "required", 0);
		s->timeout = p ? p->timeout : (int)ec_json_get_int(cfg, "coordination.defaultTimeout", 300);
		s->kind = p ? (p->rules_path ? "rules" : "command") : "inline";
		s->id_prefix = p ? p->id_prefix : NULL;
		s->deps = json_object_get(x, "dependencies");
		if (!s->deps && p)
			s->reg_deps = p->deps;
	}
	/* The timeout of one attempt: the request's, else the config's (applied to the
	 * registry), else the registration's. */
	if (ec_json_get_int(request, "options.timeout", 0) > 0)
		for (i = 0; i < n; i++)
			v[i].timeout = (int)ec_json_get_int(request, "options.timeout", 0);
	qsort(v, n, sizeof *v, by_order);
	for (i = 1; i < n; i++)
		if (v[i].order == v[i - 1].order) {
			ec_fail(e, EC_EXIT_REJECT, "$.options.customPersonas: '%s' and '%s' both have "
			    "reviewOrder %d", v[i - 1].name, v[i].name, v[i].order);
			free(v);
			return -1;
		}
	if (ec_plan_auto(request) && auto_select(v, n, request, e) < 0) {
		free(v);
		return -1;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* The static keyword for s (what a step's kind or skip may be), or NULL. */
static const char *
keyword(const char *s, const char *const *list)
{
	for (; s && *list; list++)
		if (!strcmp(s, *list))
			return *list;
	return NULL;
}

static const char *const kinds[] = { "rules", "command", "inline", "skip", NULL };
static const char *const skips[] = { "excluded", "disabled", "unsupported-mode", "irrelevant",
	NULL };

json_t *
ec_plan_json(const ec_plan_step *v, size_t n, const json_t *request)
{
	json_t *steps = json_array(), *plan;

	for (size_t i = 0; i < n; i++) {
		const ec_plan_step *s = &v[i];
		json_t *deps = json_array(), *x, *st;
		char out[96];
		size_t k;
		if (s->deps)
			json_array_foreach(s->deps, k, x)
				json_array_append(deps, x);
		else
			for (char **d = s->reg_deps; d && *d; d++)
				json_array_append_new(deps, json_string(*d));
		snprintf(out, sizeof out, "personas/%02d-%s.json", s->order, s->name);
		st = json_pack("{s:s, s:i, s:s, s:b, s:b, s:i, s:s, s:o}", "name", s->name,
		    "reviewOrder", s->order, "kind", s->kind, "required", s->required, "enforced",
		    s->enforced, "timeout", s->timeout, "output", out, "dependencies", deps);
		if (s->skip)
			json_object_set_new(st, "skip", json_string(s->skip));
		if (s->id_prefix)
			json_object_set_new(st, "idPrefix", json_string(s->id_prefix));
		if (s->relevance >= 0)
			json_object_set_new(st, "relevance", json_integer(s->relevance));
		if (s->why[0])
			json_object_set_new(st, "why", json_string(s->why));
		json_array_append_new(steps, st);
	}
	plan = json_pack("{s:s, s:s, s:o}", "taskId", ec_json_get_str(request, "taskId", "task"),
	    "mode", ec_json_get_str(request, "mode", "standard"), "personas", steps);
	if (ec_plan_auto(request))
		json_object_set_new(plan, "select", json_string("auto"));
	return plan;
}

/* The steps of a plan already checked against its schema. */
static int
plan_steps(const json_t *plan, const ec_registry *reg, ec_plan_step **out, size_t *nout,
    ec_err *e)
{
	json_t *steps = json_object_get(plan, "personas"), *x;
	size_t n = json_array_size(steps), i;
	ec_plan_step *v;

	if (!(v = calloc(n + 1, sizeof *v)))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	json_array_foreach(steps, i, x) {
		ec_plan_step *s = &v[i];
		snprintf(s->name, sizeof s->name, "%s", ec_json_get_str(x, "name", ""));
		s->order = (int)ec_json_get_int(x, "reviewOrder", 99);
		s->required = ec_json_get_bool(x, "required", 0);
		s->enforced = ec_json_get_bool(x, "enforced", 0);
		s->timeout = (int)ec_json_get_int(x, "timeout", 300);
		s->kind = keyword(ec_json_get_str(x, "kind", NULL), kinds);
		s->skip = keyword(ec_json_get_str(x, "skip", NULL), skips);
		s->relevance = (int)ec_json_get_int(x, "relevance", -1);
		snprintf(s->why, sizeof s->why, "%s", ec_json_get_str(x, "why", ""));
		s->p = reg ? ec_registry_find(reg, s->name) : NULL;
		s->id_prefix = s->p ? s->p->id_prefix : NULL;
	}
	*out = v;
	*nout = n;
	return 0;
}

int
ec_plan_from_json(const json_t *plan, const ec_registry *reg, ec_plan_step **out, size_t *nout,
    ec_err *e)
{
	if (ec_schema_validate("plan", plan, NULL, e) < 0)
		return -1;
	return plan_steps(plan, reg, out, nout, e);
}

int
ec_plan_load(const char *request_path, const ec_registry *reg, const json_t *cfg,
    const json_t *request, ec_plan_step **out, size_t *nout, ec_err *e)
{
	char path[4096];
	const char *slash = strrchr(request_path, '/');
	json_t *plan;
	int r;

	/* plan.json beside the normalized request: a task's, made with it by epic-parse. */
	if (strcmp(request_path, "-") != 0) {
		snprintf(path, sizeof path, "%.*s%splan.json", slash ? (int)(slash - request_path) : 0,
		    request_path, slash ? "/" : "");
		if (ec_exists(path)) {
			/* Checked unless epic-parse's stamp vouches for it (stamp.c). */
			if (!(plan = ec_json_load_valid(path, EC_MAX_JSON_BYTES, "plan", e)))
				return -1;
			if (strcmp(ec_json_get_str(plan, "taskId", ""), ec_json_get_str(request, "taskId", "")) == 0) {
				r = plan_steps(plan, reg, out, nout, e);
				if (r < 0)
					ec_err_prefix(e, "%s", path);
				json_decref(plan);
				return r;
			}
			json_decref(plan);      /* another request's: decide for this one */
		}
	}
	if (!reg)
		return ec_fail(e, EC_EXIT_REJECT, "%s: no plan.json beside it", request_path);
	return ec_plan_compute(reg, cfg, request, out, nout, e);
}
