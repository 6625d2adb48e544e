/*
 * plan.c - which personas review a request, in which order, and how: the one
 * computation behind epic-parse's plan.mk and epic-aggregate's verdict on what is
 * missing, so the two can never disagree.
 *
 * Every registered persona (with the config's overrides applied to the registry)
 * and every custom persona of the request is a step. A step is skipped when the
 * request excludes it, the config disables it, or it does not support the mode; a
 * skipped step is never required. Under enforceDevops the persona whose rule base
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
		s->reg_deps = p->deps;
		if (enforce && p->rules_path && ec_rules_enforce_devops(p->rules_path))
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
		s->deps = json_object_get(x, "dependencies");
		if (!s->deps && p)
			s->reg_deps = p->deps;
	}
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
