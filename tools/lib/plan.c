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
 */
#include <stdlib.h>
#include <string.h>

#include "ec.h"

const char *
ec_plan_skip_reason(const char *keyword)
{
	if (!strcmp(keyword, "excluded"))
		return "excluded by the request";
	if (!strcmp(keyword, "disabled"))
		return "disabled in the configuration";
	if (!strcmp(keyword, "unsupported-mode"))
		return "does not support this review mode";
	return keyword;
}

static int
by_order(const void *a, const void *b)
{
	const ec_plan_step *x = a, *y = b;
	return x->order != y->order ? x->order - y->order : strcmp(x->name, y->name);
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
static const char *const skips[] = { "excluded", "disabled", "unsupported-mode", NULL };

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
		json_array_append_new(steps, st);
	}
	plan = json_pack("{s:s, s:s, s:o}", "taskId", ec_json_get_str(request, "taskId", "task"),
	    "mode", ec_json_get_str(request, "mode", "standard"), "personas", steps);
	return plan;
}

int
ec_plan_from_json(const json_t *plan, const ec_registry *reg, ec_plan_step **out, size_t *nout,
    ec_err *e)
{
	json_t *steps = json_object_get(plan, "personas"), *x;
	size_t n = json_array_size(steps), i;
	ec_plan_step *v;

	if (ec_schema_validate("plan", plan, NULL, e) < 0)
		return -1;
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
		s->p = reg ? ec_registry_find(reg, s->name) : NULL;
		s->id_prefix = s->p ? s->p->id_prefix : NULL;
	}
	*out = v;
	*nout = n;
	return 0;
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
			if (!(plan = ec_json_load_file(path, EC_MAX_JSON_BYTES, e)))
				return -1;
			if (strcmp(ec_json_get_str(plan, "taskId", ""), ec_json_get_str(request, "taskId", "")) == 0) {
				r = ec_plan_from_json(plan, reg, out, nout, e);
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
