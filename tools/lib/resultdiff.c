/*
 * resultdiff.c - what changed between two results (EpicResponses), as the JSON
 * document epic-diff prints with --json; its shape is documented in epic-diff(1)
 * and stable, so keep it additive.
 *
 * Compared is what a person decides on: the recommendations (by id, then by the
 * same concern of the same persona for ids only one side has, so a renumbered
 * recommendation is one change, not a removal and an addition), the costs, the
 * risks and the roadmap's shape. Metadata (times, task id, versions) is not, so
 * two runs of the same request are equal. Lists are sorted by id or key, so the
 * document does not depend on the order of the results' arrays.
 */
#include <stdlib.h>
#include <string.h>

#include "ec.h"

/* The fields of a recommendation that count. */
static const char *const rec_fields[] = { "title", "type", "priority", "effortDays", NULL };

/* Are two values of a field equal (numbers by value: 3 and 3.0 are)? */
static int
same(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (!a || !b)
		return a == b;
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, k, v)
			if (!same(v, json_object_get(b, k)))
				return 0;
		return 1;
	}
	return json_equal(a, b);
}

/* {"a": a, "b": b} (copies; null for an absent value). New reference. */
static json_t *
pair(const json_t *a, const json_t *b)
{
	return json_pack("{s:O, s:O}", "a", a ? (json_t *)a : json_null(),
	    "b", b ? (json_t *)b : json_null());
}

/* A recommendation as an added or removed entry. New reference. */
static json_t *
rec_entry(const json_t *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(ec_json_get_str(r, "id", "")));
	json_object_set_new(o, "persona", json_string(ec_json_get_str(r, "persona", "")));
	for (size_t i = 0; rec_fields[i]; i++) {
		json_t *v = json_object_get(r, rec_fields[i]);
		json_object_set(o, rec_fields[i], v ? v : json_null());
	}
	return o;
}

/* The changes between a (from A) and b (from B), matched by how ("id" or
 * "concern"): a changed entry, or NULL when they are the same. New reference. */
static json_t *
rec_changes(const json_t *a, const json_t *b, const char *how)
{
	json_t *ch = json_object(), *o;
	const char *ida = ec_json_get_str(a, "id", ""), *idb = ec_json_get_str(b, "id", "");
	const char *concern = ec_json_get_str(b, "concern", NULL);

	if (strcmp(ida, idb))
		json_object_set_new(ch, "id", json_pack("{s:s, s:s}", "a", ida, "b", idb));
	for (size_t i = 0; rec_fields[i]; i++) {
		json_t *va = json_object_get(a, rec_fields[i]), *vb = json_object_get(b, rec_fields[i]);
		if (!same(va, vb))
			json_object_set_new(ch, rec_fields[i], pair(va, vb));
	}
	if (!json_object_size(ch)) {
		json_decref(ch);
		return NULL;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", idb, "idA", ida, "matchedBy", how,
	    "persona", ec_json_get_str(b, "persona", ""), "title", ec_json_get_str(b, "title", ""),
	    "changes", ch);
	json_object_set_new(o, "concern", concern ? json_string(concern) : json_null());
	return o;
}

/* The persona+concern key of r into buf, or "" when it has no concern. */
static void
concern_key(const json_t *r, char *buf, size_t cap)
{
	const char *c = ec_json_get_str(r, "concern", NULL);

	if (!c || !*c)
		*buf = '\0';
	else
		snprintf(buf, cap, "%s\x1f%s", ec_json_get_str(r, "persona", ""), c);
}

/* How many of the recommendations in v (n of them, NULL = taken) have key. */
static size_t
count_key(json_t **v, size_t n, const char *key, size_t *at)
{
	size_t c = 0;
	char k[512];

	for (size_t i = 0; i < n; i++) {
		if (!v[i])
			continue;
		concern_key(v[i], k, sizeof k);
		if (!strcmp(k, key)) {
			c++;
			*at = i;
		}
	}
	return c;
}

/* Order entries by id, so the output is the same whatever the results' order. */
static int
by_id(const void *x, const void *y)
{
	return strcmp(ec_json_get_str(*(json_t *const *)x, "id", ""),
	    ec_json_get_str(*(json_t *const *)y, "id", ""));
}

/* Append the recommendations of v (n, NULL = taken) to arr as entries, by id. */
static void
append_sorted(json_t *arr, json_t **v, size_t n, json_t *(*entry)(const json_t *))
{
	json_t **s = calloc(n ? n : 1, sizeof *s);
	size_t m = 0;

	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		if (v[i])
			s[m++] = v[i];
	qsort(s, m, sizeof *s, by_id);
	for (size_t i = 0; i < m; i++)
		json_array_append_new(arr, entry(s[i]));
	free(s);
}

/* The recommendations part: {"added", "removed", "changed"}. New reference. */
static json_t *
diff_recs(const json_t *ra, const json_t *rb)
{
	json_t *a = ec_json_get(ra, "epic.recommendations"), *b = ec_json_get(rb, "epic.recommendations");
	size_t na = json_array_size(a), nb = json_array_size(b), i, j;
	json_t **oa = calloc(na ? na : 1, sizeof *oa), **ob = calloc(nb ? nb : 1, sizeof *ob);
	json_t *changed = json_array(), *added = json_array(), *removed = json_array(), *x;

	if (!oa || !ob) {
		free(oa);
		free(ob);
		return NULL;
	}
	/* By id first; what is left over on either side goes to the fallback. */
	for (i = 0; i < nb; i++)
		ob[i] = json_array_get(b, i);
	for (i = 0; i < na; i++) {
		json_t *r = json_array_get(a, i), *m = NULL;
		const char *id = ec_json_get_str(r, "id", "");
		for (j = 0; j < nb && !m; j++)
			if (ob[j] && !strcmp(ec_json_get_str(ob[j], "id", ""), id)) {
				m = ob[j];
				ob[j] = NULL;
			}
		if (!m)
			oa[i] = r;
		else if ((x = rec_changes(r, m, "id")))
			json_array_append_new(changed, x);
	}
	/* The fallback: the same concern of the same persona, one on each side. */
	for (i = 0; i < na; i++) {
		char key[512];
		size_t at_a = 0, at_b = 0;
		if (!oa[i])
			continue;
		concern_key(oa[i], key, sizeof key);
		if (!*key || count_key(oa, na, key, &at_a) != 1 || count_key(ob, nb, key, &at_b) != 1)
			continue;
		if ((x = rec_changes(oa[i], ob[at_b], "concern")))
			json_array_append_new(changed, x);
		oa[i] = ob[at_b] = NULL;
	}
	append_sorted(removed, oa, na, rec_entry);
	append_sorted(added, ob, nb, rec_entry);
	free(oa);
	free(ob);
	{
		size_t n = json_array_size(changed);
		json_t **v = calloc(n ? n : 1, sizeof *v), *sorted = json_array();
		json_array_foreach(changed, i, x)
			v[i] = x;
		if (v)
			qsort(v, n, sizeof *v, by_id);
		for (i = 0; v && i < n; i++)
			json_array_append(sorted, v[i]);
		free(v);
		json_decref(changed);
		changed = sorted;
	}
	return json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed, "changed", changed);
}

/* {min, max} of b minus a (to the cent). New reference. */
static json_t *
delta(const json_t *a, const json_t *b)
{
	double d[2];
	const char *k[2] = { "min", "max" };

	for (int i = 0; i < 2; i++)
		d[i] = ec_round2(json_number_value(json_object_get(b, k[i])) -
		    json_number_value(json_object_get(a, k[i])));
	return json_pack("{s:o, s:o}", "min", ec_json_number(d[0]), "max", ec_json_number(d[1]));
}

/* A range compared: {"a", "b", "delta", "changed"}, with ranges that may be absent. */
static json_t *
range_cmp(const json_t *a, const json_t *b, int with_changed)
{
	json_t *o = pair(a, b);
	int eq = same(a, b);

	json_object_set_new(o, "delta", delta(a, b));
	if (with_changed)
		json_object_set_new(o, "changed", json_boolean(!eq));
	return o;
}

/* The cost part. *n counts the differences. New reference. */
static json_t *
diff_cost(const json_t *ra, const json_t *rb, size_t *n)
{
	const json_t *ca = ec_json_get(ra, "epic.totalCostBreakdown");
	const json_t *cb = ec_json_get(rb, "epic.totalCostBreakdown");
	json_t *ma = json_object_get(ca, "money"), *mb = json_object_get(cb, "money");
	json_t *pa = json_object_get(ca, "byPersona"), *pb = json_object_get(cb, "byPersona");
	json_t *eff, *money, *per = json_object(), *v;
	json_t *ra2 = json_pack("{s:O, s:O}", "min", json_object_get(ma, "min"), "max", json_object_get(ma, "max"));
	json_t *rb2 = json_pack("{s:O, s:O}", "min", json_object_get(mb, "min"), "max", json_object_get(mb, "max"));
	const char *k;
	int mchanged;

	eff = range_cmp(json_object_get(ca, "effortDays"), json_object_get(cb, "effortDays"), 1);
	*n += json_is_true(json_object_get(eff, "changed"));
	mchanged = !same(ma, mb);
	money = pair(ra2, rb2);
	json_object_set_new(money, "delta", delta(ra2, rb2));
	json_object_set_new(money, "currency", pair(json_object_get(ma, "currency"),
	    json_object_get(mb, "currency")));
	json_object_set_new(money, "changed", json_boolean(mchanged));
	*n += mchanged;
	json_decref(ra2);
	json_decref(rb2);
	json_object_foreach(pa, k, v)
		if (!same(v, json_object_get(pb, k)))
			json_object_set_new(per, k, range_cmp(v, json_object_get(pb, k), 0));
	json_object_foreach(pb, k, v)
		if (!json_object_get(pa, k))
			json_object_set_new(per, k, range_cmp(NULL, v, 0));
	*n += json_object_size(per);
	return json_pack("{s:o, s:o, s:o}", "effortDays", eff, "money", money, "byPersona", per);
}

/* The level of each risk area of r, as an object area -> level. New reference. */
static json_t *
areas_of(const json_t *r)
{
	json_t *o = json_object(), *k;
	size_t i;

	json_array_foreach(ec_json_get(r, "epic.riskAssessment.risks"), i, k)
		if (!json_object_get(o, ec_json_get_str(k, "area", "")))
			json_object_set_new(o, ec_json_get_str(k, "area", ""),
			    json_string(ec_json_get_str(k, "level", "low")));
	return o;
}

/* The risk part. New reference. */
static json_t *
diff_risk(const json_t *ra, const json_t *rb, size_t *n)
{
	json_t *oa = ec_json_get(ra, "epic.riskAssessment.overall");
	json_t *ob = ec_json_get(rb, "epic.riskAssessment.overall");
	json_t *aa = areas_of(ra), *ab = areas_of(rb), *areas = json_object(), *overall, *v;
	const char *k;
	int ch = !same(oa, ob);

	overall = pair(oa, ob);
	json_object_set_new(overall, "changed", json_boolean(ch));
	*n += ch;
	json_object_foreach(aa, k, v)
		if (!same(v, json_object_get(ab, k)))
			json_object_set_new(areas, k, pair(v, json_object_get(ab, k)));
	json_object_foreach(ab, k, v)
		if (!json_object_get(aa, k))
			json_object_set_new(areas, k, pair(NULL, v));
	*n += json_object_size(areas);
	json_decref(aa);
	json_decref(ab);
	return json_pack("{s:o, s:o}", "overall", overall, "areas", areas);
}

/* The critical path's duration: criticalPathDuration when the result has it, else
 * estimatedDuration (which is the critical path). Borrowed. */
static json_t *
critical_path(const json_t *r)
{
	json_t *v = ec_json_get(r, "epic.criticalPathDuration");

	return json_is_string(v) ? v : ec_json_get(r, "epic.estimatedDuration");
}

/* The roadmap part. New reference. */
static json_t *
diff_roadmap(const json_t *ra, const json_t *rb, size_t *n)
{
	size_t pa = json_array_size(ec_json_get(ra, "epic.implementationRoadmap"));
	size_t pb = json_array_size(ec_json_get(rb, "epic.implementationRoadmap"));
	json_t *ca = critical_path(ra), *cb = critical_path(rb);
	json_t *phases = json_pack("{s:I, s:I, s:b}", "a", (json_int_t)pa, "b", (json_int_t)pb,
	    "changed", pa != pb);
	json_t *cp = pair(ca, cb);

	json_object_set_new(cp, "changed", json_boolean(!same(ca, cb)));
	*n += (pa != pb) + !same(ca, cb);
	return json_pack("{s:o, s:o}", "phases", phases, "criticalPath", cp);
}

/* Who a side is: the name it was read as, its task id and title. New reference. */
static json_t *
side(const json_t *r, const char *name)
{
	return json_pack("{s:s, s:s, s:s}", "name", name,
	    "taskId", ec_json_get_str(r, "epic.metadata.taskId", ""),
	    "title", ec_json_get_str(r, "epic.title", ""));
}

json_t *
ec_result_diff(const json_t *ra, const char *na, const json_t *rb, const char *nb)
{
	size_t n = 0;
	json_t *recs = diff_recs(ra, rb), *d;

	if (!recs)
		return NULL;
	n += json_array_size(json_object_get(recs, "added")) +
	    json_array_size(json_object_get(recs, "removed")) +
	    json_array_size(json_object_get(recs, "changed"));
	d = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "a", side(ra, na), "b", side(rb, nb),
	    "recommendations", recs, "cost", diff_cost(ra, rb, &n), "risk", diff_risk(ra, rb, &n),
	    "roadmap", diff_roadmap(ra, rb, &n));
	if (d) {
		json_object_set_new(d, "differences", json_integer((json_int_t)n));
		json_object_set_new(d, "equal", json_boolean(n == 0));
	}
	return d;
}
