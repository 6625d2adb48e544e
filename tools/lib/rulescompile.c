/*
 * rulescompile.c - a rule base compiled for one call: synonym groups, terms,
 * conditions and rules, with the checks a schema cannot express when the rule
 * base is being loaded (ec_rules_loadb).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

/* Fail naming where in the rule base (an ec_jpath, formatted only now). */
static int jfail(ctx *c, const ec_jpath *p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fail with "$.path: message" (EC_EXIT_REJECT). */
static int
jfail(ctx *c, const ec_jpath *p, const char *fmt, ...)
{
	char where[PATHCAP], msg[768];
	va_list ap;

	ec_jpath_format(p, where, sizeof where);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ec_fail(c->e, EC_EXIT_REJECT, "%s: %s", where, msg);
}

/*
 * A word or phrase term, to be stemmed when first needed. When checking a rule
 * base, -1 if the term has no words, naming its path.
 */
static int
phrase_compile(ctx *c, phrase *p, const json_t *j, const ec_jpath *path)
{
	const char *s = json_string_value(j);
	size_t n = json_string_length(j);

	memset(p, 0, sizeof *p);
	p->src = s;
	p->srclen = n;
	if (c->checking && eng_word_start((const unsigned char *)s, 0, n) == n)
		return jfail(c, path, "term '%s' has no words", s);
	return 0;
}

static int
group_cmp(const void *a, const void *b)
{
	return strcmp(((const group *)a)->name, ((const group *)b)->name);
}

/* Compile the synonym groups, sorted by name for lookup. */
int
eng_groups_compile(ctx *c, const json_t *syn)
{
	ec_jpath ps = { NULL, "synonyms", 0 };
	const char *name;
	json_t *arr;
	size_t gi = 0;

	c->syn = syn;
	if (!syn)
		return 0;
	if (!json_is_object(syn))
		return jfail(c, &ps, "expected an object");
	if (!(c->groups = eng_acalloc(c, json_object_size(syn) + 1, sizeof *c->groups)))
		return -1;
	json_object_foreach((json_t *)syn, name, arr) {
		ec_jpath pg = { &ps, name, 0 };
		group *g = &c->groups[gi++];
		size_t k;
		json_t *v;

		if (!json_is_array(arr) || json_array_size(arr) == 0)
			return jfail(c, &pg, "expected a non-empty array of terms");
		g->name = name;
		g->n = json_array_size(arr);
		if (!(g->p = eng_acalloc(c, g->n, sizeof *g->p)))
			return -1;
		json_array_foreach(arr, k, v) {
			ec_jpath pi = { &pg, NULL, k };
			const char *s = json_string_value(v);
			if (!s)
				return jfail(c, &pi, "expected a term");
			if (s[0] == '@' || strncmp(s, "signal:", 7) == 0)
				return jfail(c, &pi, "a synonym is a word or phrase, not '%s'", s);
			if (phrase_compile(c, &g->p[k], v, &pi) < 0)
				return -1;
		}
	}
	c->ngroups = gi;
	qsort(c->groups, c->ngroups, sizeof *c->groups, group_cmp);
	return 0;
}

static int cond_compile(ctx *c, cond **out, const json_t *j, const ec_jpath *path);

static int
term_compile(ctx *c, term *t, const json_t *j, const ec_jpath *path)
{
	const char *s = json_string_value(j);

	memset(t, 0, sizeof *t);
	if (json_is_object(j)) {
		t->kind = T_COND;
		return cond_compile(c, &t->cond, j, path);
	}
	if (!s || !*s)
		return jfail(c, path, "expected a term (a word, a phrase, @group, signal:NAME "
		    "or a condition)");
	if (s[0] == '@') {
		group key = { .name = s + 1 };
		t->kind = T_GROUP;
		t->g = c->ngroups ? bsearch(&key, c->groups, c->ngroups, sizeof *c->groups,
		    group_cmp) : NULL;
		if (!t->g)
			return jfail(c, path, "unknown synonym group '%s'", s);
		return 0;
	}
	if (strncmp(s, "signal:", 7) == 0) {
		const char *star;
		t->kind = T_SIGNAL;
		t->sig = s + 7;
		t->siglen = strlen(t->sig);
		if ((star = strchr(t->sig, '*'))) {
			if (star[1] != '\0')
				return jfail(c, path, "'*' may only end a signal name in '%s'", s);
			t->prefix = 1;
			t->siglen--;
		}
		if (!t->siglen && !t->prefix)
			return jfail(c, path, "empty signal name in '%s'", s);
		return 0;
	}
	t->kind = T_PHRASE;
	return phrase_compile(c, &t->ph, j, path);
}

static int
clause_compile(ctx *c, term **out, size_t *n, const json_t *arr, const ec_jpath *path)
{
	json_t *v;
	size_t k;

	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return jfail(c, path, "expected a non-empty array of terms");
	if (!(*out = eng_acalloc(c, json_array_size(arr), sizeof **out)))
		return -1;
	json_array_foreach(arr, k, v) {
		ec_jpath pi = { path, NULL, k };
		if (term_compile(c, &(*out)[k], v, &pi) < 0)
			return -1;
	}
	*n = json_array_size(arr);
	return 0;
}

static int
cond_compile(ctx *c, cond **out, const json_t *j, const ec_jpath *path)
{
	ec_jpath pany = { path, "any", 0 }, pall = { path, "all", 0 }, pnone = { path, "none", 0 };
	const char *key;
	json_t *v;
	cond *k;

	if (!json_is_object(j) || json_object_size(j) == 0)
		return jfail(c, path, "expected a condition with any, all or none");
	json_object_foreach((json_t *)j, key, v)
		if (strcmp(key, "any") && strcmp(key, "all") && strcmp(key, "none")) {
			ec_jpath pk = { path, key, 0 };
			return jfail(c, &pk, "unknown clause (expected any, all or none)");
		}
	if (!(*out = k = eng_acalloc(c, 1, sizeof *k)))
		return -1;
	if (clause_compile(c, &k->any, &k->nany, json_object_get(j, "any"), &pany) < 0 ||
	    clause_compile(c, &k->all, &k->nall, json_object_get(j, "all"), &pall) < 0)
		return -1;
	return clause_compile(c, &k->none, &k->nnone, json_object_get(j, "none"), &pnone);
}

int
eng_mode_bit(const char *m)
{
	if (!m)
		return 0;
	if (strcmp(m, "mvp") == 0)
		return EC_MODE_MVP;
	if (strcmp(m, "standard") == 0)
		return EC_MODE_STANDARD;
	if (strcmp(m, "enterprise") == 0)
		return EC_MODE_ENTERPRISE;
	return 0;
}

double
eng_num(const json_t *j, double dflt)
{
	return json_is_number(j) ? json_number_value(j) : dflt;
}

/* The answers compiled so far, by concern: each is compiled once, for every rule of
 * that concern. */
typedef struct answers {
	struct { const char *concern; cond *k; } *v;
	size_t n, cap;
} answers;

/* ru->answered: the condition under its concern in the rule base's "answers", if any.
 * Only a rule that can be blocking needs one. 0, or -1 (c->e). */
static int
answer_of(ctx *c, rule *ru, const json_t *all, answers *a)
{
	const json_t *rec = json_object_get(ru->j, "recommendation");
	const char *concern = ec_json_get_str(rec, "concern", NULL);
	const json_t *j;
	size_t i;

	if (!concern || !(j = json_object_get(all, concern)))
		return 0;
	for (i = 0; i < a->n; i++)
		if (!strcmp(a->v[i].concern, concern)) {
			ru->answered = a->v[i].k;
			return 0;
		}
	{
		ec_jpath pa = { NULL, "answers", 0 }, pc = { &pa, concern, 0 };
		if (cond_compile(c, &ru->answered, j, &pc) < 0)
			return -1;
	}
	if (eng_grow(c, &a->v, &a->cap, a->n + 1, sizeof *a->v) < 0)
		return -1;
	a->v[a->n].concern = concern;
	a->v[a->n++].k = ru->answered;
	return 0;
}

/*
 * Compile the rule base's rules. With c->checking, also reject what a schema cannot
 * express: duplicate ids, a dependency on itself, effortDays min > max.
 */
int
eng_rules_compile(ctx *c, const json_t *rb)
{
	const json_t *rules = json_object_get(rb, "rules");
	ec_jpath prules = { NULL, "rules", 0 };
	strtab seen = { 0 };
	answers ans = { 0 };
	json_t *r;
	size_t i;
	int rc = -1;

	if (!json_is_array(rules))
		return jfail(c, &prules, "expected an array of rules");
	c->nrules = json_array_size(rules);
	if (!(c->rules = eng_acalloc(c, c->nrules + 1, sizeof *c->rules)))
		return -1;
	json_array_foreach(rules, i, r) {
		ec_jpath pr = { &prules, NULL, i }, pid = { &pr, "id", 0 };
		ec_jpath pmodes = { &pr, "modes", 0 }, pwhen = { &pr, "when", 0 };
		ec_jpath prec = { &pr, "recommendation", 0 };
		rule *ru = &c->rules[i];
		const json_t *modes = json_object_get(r, "modes"), *when, *rec, *x;
		size_t k;

		if (!json_is_object(r)) {
			jfail(c, &pr, "expected a rule object");
			goto out;
		}
		ru->j = r;
		if (!(ru->id = json_string_value(json_object_get(r, "id")))) {
			jfail(c, &pid, "expected a rule id");
			goto out;
		}
		if (c->checking) {
			size_t before = seen.n;
			eng_st_find(c, &seen, ru->id, strlen(ru->id), 1);
			if (c->oom)
				goto out;
			if (seen.n == before) {
				/* find the first occurrence by scanning: error path only */
				for (size_t q = 0; q < i; q++)
					if (strcmp(c->rules[q].id, ru->id) == 0) {
						jfail(c, &pid, "duplicate rule id '%s' (first at "
						    "$.rules[%zu])", ru->id, q);
						break;
					}
				goto out;
			}
		}
		if (!modes)
			ru->modes = EC_MODE_STANDARD | EC_MODE_ENTERPRISE;
		else if (json_is_array(modes))
			json_array_foreach(modes, k, x) {
				ec_jpath pm = { &pmodes, NULL, k };
				int b = eng_mode_bit(json_string_value(x));
				if (!b) {
					jfail(c, &pm, "expected mvp, standard or enterprise");
					goto out;
				}
				ru->modes |= b;
			}
		else {
			jfail(c, &pmodes, "expected an array of modes");
			goto out;
		}
		ru->baseline = json_is_true(json_object_get(r, "baseline"));
		ru->has_all = json_object_get(json_object_get(r, "when"), "all") != NULL;
		if ((when = json_object_get(r, "when")) && cond_compile(c, &ru->when, when, &pwhen) < 0)
			goto out;
		if (answer_of(c, ru, json_object_get(rb, "answers"), &ans) < 0)
			goto out;
		if (c->checking && (rec = json_object_get(r, "recommendation"))) {
			const json_t *eff = json_object_get(rec, "effortDays");
			ec_jpath peff = { &prec, "effortDays", 0 }, pdeps = { &prec, "dependencies", 0 };
			if (eng_num(json_object_get(eff, "min"), 0) > eng_num(json_object_get(eff, "max"), 0)) {
				jfail(c, &peff, "min is greater than max");
				goto out;
			}
			json_array_foreach(json_object_get(rec, "dependencies"), k, x)
				if (json_is_string(x) && strcmp(json_string_value(x), ru->id) == 0) {
					ec_jpath pd = { &pdeps, NULL, k };
					jfail(c, &pd, "a rule cannot depend on itself");
					goto out;
				}
		}
	}
	/* a rule base checked: every answer compiles, whether a rule uses it or not */
	if (c->checking) {
		const json_t *all = json_object_get(rb, "answers");
		const char *key;
		json_t *j;
		json_object_foreach((json_t *)all, key, j) {
			ec_jpath pa = { NULL, "answers", 0 }, pc = { &pa, key, 0 };
			cond *k;
			if (cond_compile(c, &k, j, &pc) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	eng_st_free(&seen);
	free(ans.v);
	return rc;
}

