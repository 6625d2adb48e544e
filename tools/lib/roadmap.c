/*
 * roadmap.c - from the recommendations of every persona to an implementation
 * roadmap: the same recommendation made twice is merged, dependencies between the
 * merged ones are kept acyclic, and each gets a phase; the critical path is the
 * dependency chain with the most effort. epic-aggregate gives the items and makes
 * the EpicResponse of the result.
 *
 * Deterministic: items are taken in the order given, groups are numbered by their
 * first item, dependencies are sorted by id, ties are broken by position.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roadmap.h"

/* The priorities' names, by rank (EC_RM_*): the one list of them. */
static const char *const priority_names[] = { "low", "medium", "high", "critical" };

int
ec_priority_rank(const char *name)
{
	for (int i = EC_RM_LOW; i <= EC_RM_CRITICAL; i++)
		if (name && !strcmp(name, priority_names[i]))
			return i;
	return EC_RM_LOW;
}

const char *
ec_priority_name(int rank)
{
	return priority_names[rank < EC_RM_LOW || rank > EC_RM_CRITICAL ? EC_RM_LOW : rank];
}

/*
 * A title reduced to what makes two titles the same: ASCII letters lowercased, every
 * run of ASCII punctuation and white space one blank, none at either end; bytes of
 * other characters kept as they are. malloc'd.
 */
static char *
title_key(const char *t)
{
	char *k = malloc(strlen(t) + 1), *o = k;
	int gap = 0;

	if (!k)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
		if (*p >= 0x80 || ec_is_alnum(*p)) {
			if (gap && o > k)
				*o++ = ' ';
			gap = 0;
			*o++ = (char)ec_lower(*p);
		} else
			gap = 1;
	}
	*o = '\0';
	return k;
}

int
ec_roadmap_add(ec_roadmap *m, json_t *rec, const char *persona, int blocking, int prio,
    ec_err *e)
{
	json_t *ef = json_object_get(rec, "effortDays");
	ec_rm_item *t;

	if (m->nit == m->capit) {
		size_t cap = m->capit ? m->capit * 2 : 64;
		ec_rm_item *v = realloc(m->it, cap * sizeof *v);
		if (!v)
			return ec_fail(e, EC_EXIT_TEMP, "out of memory");
		m->it = v, m->capit = cap;
	}
	t = &m->it[m->nit];
	memset(t, 0, sizeof *t);
	t->j = rec;
	t->persona = persona;
	t->id = ec_json_get_str(rec, "id", "");
	t->concern = ec_json_get_str(rec, "concern", NULL);
	t->blocking = blocking;
	t->prio = prio;
	if (ef) {
		t->has_effort = 1;
		t->emin = json_number_value(json_object_get(ef, "min"));
		t->emax = json_number_value(json_object_get(ef, "max"));
	}
	if (!(t->key = title_key(ec_json_get_str(rec, "title", ""))))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	t->parent = m->nit++;
	return 0;
}

const char *
ec_roadmap_id(const ec_roadmap *m, size_t rec)
{
	return m->it[m->r[rec].first].id;
}

static size_t
uf_find(ec_rm_item *it, size_t i)
{
	while (it[i].parent != i) {
		it[i].parent = it[it[i].parent].parent;
		i = it[i].parent;
	}
	return i;
}

/* Merge the groups of i and j; the root is always the earliest item. */
static void
uf_union(ec_rm_item *it, size_t i, size_t j)
{
	i = uf_find(it, i), j = uf_find(it, j);
	if (i < j)
		it[j].parent = i;
	else if (j < i)
		it[i].parent = j;
}

/* Index stored under key in map, or SIZE_MAX; else store i there. */
static size_t
seen(json_t *map, const char *key, size_t i)
{
	json_t *v = json_object_get(map, key);

	if (v)
		return (size_t)json_integer_value(v);
	json_object_set_new(map, key, json_integer((json_int_t)i));
	return SIZE_MAX;
}

static int
add_dep(ec_rm_rec *r, size_t d)
{
	for (size_t i = 0; i < r->ndeps; i++)
		if (r->deps[i] == d)
			return 0;
	if (r->ndeps == r->capdeps) {
		size_t cap = r->capdeps ? r->capdeps * 2 : 4;
		size_t *v = realloc(r->deps, cap * sizeof *v);
		if (!v)
			return -1;
		r->deps = v, r->capdeps = cap;
	}
	r->deps[r->ndeps++] = d;
	return 0;
}

static int
by_rec_id(const void *x, const void *y, void *arg)
{
	const ec_roadmap *m = arg;
	return strcmp(ec_roadmap_id(m, *(const size_t *)x), ec_roadmap_id(m, *(const size_t *)y));
}

/*
 * Merge the items with the same id, the same normalized title or the same concern
 * (two personas asking for one thing in their own words): the merged one
 * keeps the first one's id, title, description and persona, the strongest type and
 * priority, the largest effort at both ends, and the union of references, personas
 * and dependencies (rewritten to the surviving ids; dangling and self dependencies
 * dropped).
 */
static int
merge(ec_roadmap *m, ec_err *e)
{
	json_t *byid = json_object(), *bykey = json_object(), *bycon = json_object(), *x, *d;
	size_t n = m->nit, i, k, *gidx = NULL;

	if (!byid || !bykey || !bycon || !(gidx = malloc((n ? n : 1) * sizeof *gidx)) ||
	    !(m->r = calloc(n ? n : 1, sizeof *m->r)))
		goto nomem;
	for (i = 0; i < n; i++) {
		size_t j;
		if ((j = seen(byid, m->it[i].id, i)) != SIZE_MAX)
			uf_union(m->it, i, j);
		if (m->it[i].key[0] && (j = seen(bykey, m->it[i].key, i)) != SIZE_MAX)
			uf_union(m->it, i, j);
		if (m->it[i].concern && (j = seen(bycon, m->it[i].concern, i)) != SIZE_MAX)
			uf_union(m->it, i, j);
		gidx[i] = SIZE_MAX;
	}
	/* Roots are the earliest items, so groups are numbered by first appearance. */
	for (i = 0; i < n; i++) {
		ec_rm_item *t = &m->it[i];
		size_t root = uf_find(m->it, i);
		ec_rm_rec *r;
		if (gidx[root] == SIZE_MAX) {
			gidx[root] = m->nr;
			r = &m->r[m->nr++];
			r->first = i;
			r->emin = t->emin, r->emax = t->emax, r->has_effort = t->has_effort;
			if (!(r->refs = json_object()) || !(r->personas = json_array()))
				goto nomem;
		}
		t->group = gidx[root];
		r = &m->r[t->group];
		if (!r->concern)
			r->concern = t->concern;
		if (t->blocking > r->blocking)
			r->blocking = t->blocking;
		if (t->prio > r->prio)
			r->prio = t->prio;
		if (t->has_effort) {
			if (!r->has_effort || t->emin > r->emin)
				r->emin = t->emin;
			if (!r->has_effort || t->emax > r->emax)
				r->emax = t->emax;
			r->has_effort = 1;
		}
		json_array_foreach(json_object_get(t->j, "references"), k, x)
			json_object_set(r->refs, json_string_value(x), json_true());
		json_array_foreach(r->personas, k, x)
			if (!strcmp(json_string_value(x), t->persona))
				break;
		if (k == json_array_size(r->personas))
			json_array_append_new(r->personas, json_string(t->persona));
	}
	/* Every id of a group now answers for the group's surviving recommendation. */
	for (i = 0; i < n; i++)
		json_object_set_new(byid, m->it[i].id, json_integer((json_int_t)m->it[i].group));
	for (i = 0; i < n; i++)
		json_array_foreach(json_object_get(m->it[i].j, "dependencies"), k, d) {
			json_t *g = json_object_get(byid, json_string_value(d));
			if (g && (size_t)json_integer_value(g) != m->it[i].group &&
			    add_dep(&m->r[m->it[i].group], (size_t)json_integer_value(g)) < 0)
				goto nomem;
		}
	for (i = 0; i < m->nr; i++)
		if (m->r[i].ndeps > 1)
			qsort_r(m->r[i].deps, m->r[i].ndeps, sizeof *m->r[i].deps, by_rec_id, m);
	free(gidx);
	json_decref(byid);
	json_decref(bykey);
	json_decref(bycon);
	return 0;
nomem:
	free(gidx);
	json_decref(byid);
	json_decref(bykey);
	json_decref(bycon);
	return ec_fail(e, EC_EXIT_TEMP, "out of memory");
}

/* Report a cycle into m->warnings: "warning: dependency cycle A -> B -> A: ...". */
static int
warn_cycle(ec_roadmap *m, const size_t *stack, size_t from, size_t top, size_t v, size_t d)
{
	ec_buf b = { 0 };
	char *s;

	ec_buf_printf(&b, "warning: dependency cycle");
	for (size_t p = from; p < top; p++)
		ec_buf_printf(&b, " %s ->", ec_roadmap_id(m, stack[p]));
	ec_buf_printf(&b, " %s: dropped the dependency of %s on %s", ec_roadmap_id(m, d),
	    ec_roadmap_id(m, v), ec_roadmap_id(m, d));
	if (!(s = ec_buf_take(&b)))
		return -1;
	if (json_array_append_new(m->warnings, json_string(s)) < 0) {
		free(s);
		return -1;
	}
	free(s);
	return 0;
}

/*
 * Depth-first search over the dependencies, from the recommendations in order and
 * their dependencies in id order; a dependency on a recommendation still on the
 * search path closes a cycle: it is reported (m->warnings) and dropped. What is
 * left is acyclic, and the order in which the search finishes the recommendations
 * is a topological order (m->topo: every dependency before its dependents).
 */
static int
break_cycles(ec_roadmap *m, ec_err *e)
{
	size_t n = m->nr, top = 0, nt = 0;
	size_t *stack = malloc((n ? n : 1) * sizeof *stack), *next = malloc((n ? n : 1) * sizeof *next);
	size_t *pos = malloc((n ? n : 1) * sizeof *pos);
	char *state = calloc(n ? n : 1, 1);

	m->topo = malloc((n ? n : 1) * sizeof *m->topo);
	if (!stack || !next || !pos || !state || !m->topo)
		goto nomem;
	for (size_t s = 0; s < n; s++) {
		if (state[s])
			continue;
		state[s] = 1, pos[s] = 0, stack[0] = s, next[0] = 0, top = 1;
		while (top > 0) {
			size_t v = stack[top - 1], k = next[top - 1]++;
			ec_rm_rec *r = &m->r[v];
			if (k < r->ndeps) {
				size_t d = r->deps[k];
				if (state[d] == 1) {
					if (warn_cycle(m, stack, pos[d], top, v, d) < 0)
						goto nomem;
					memmove(&r->deps[k], &r->deps[k + 1], (r->ndeps - k - 1) * sizeof *r->deps);
					r->ndeps--;
					next[top - 1]--;
				} else if (state[d] == 0) {
					state[d] = 1, pos[d] = top;
					stack[top] = d, next[top] = 0, top++;
				}
			} else {
				state[v] = 2;
				m->topo[nt++] = v;
				top--;
			}
		}
	}
	free(stack), free(next), free(pos), free(state);
	return 0;
nomem:
	free(stack), free(next), free(pos), free(state);
	return ec_fail(e, EC_EXIT_TEMP, "out of memory");
}

/*
 * Phases and the critical path. A recommendation is a "must" when it is blocking
 * or critical, or when a must depends on it; musts come first. Within the musts,
 * and then within the rest, a recommendation's layer is one more than the deepest
 * of its dependencies in the same band (1 without any): phase = layer for the
 * musts, the musts' last phase + layer for the rest. The critical path is the
 * dependency chain with the largest sum of effortDays.max (ties: the larger sum of
 * min, then the earlier recommendation).
 */
static int
schedule(ec_roadmap *m, ec_err *e)
{
	size_t n = m->nr, i, k, end = SIZE_MAX;
	double *best = malloc((n ? n : 1) * sizeof *best), *bmin = malloc((n ? n : 1) * sizeof *bmin);
	size_t *pred = malloc((n ? n : 1) * sizeof *pred);
	int mustmax = 0, shouldmax = 0;

	if (!best || !bmin || !pred) {
		free(best), free(bmin), free(pred);
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	}
	for (i = 0; i < n; i++)
		m->r[i].must = m->r[i].blocking || m->r[i].prio == EC_RM_CRITICAL;
	for (i = n; i-- > 0; ) {
		ec_rm_rec *r = &m->r[m->topo[i]];
		if (r->must)
			for (k = 0; k < r->ndeps; k++)
				m->r[r->deps[k]].must = 1;
	}
	for (i = 0; i < n; i++) {
		size_t v = m->topo[i];
		ec_rm_rec *r = &m->r[v];
		r->level = 1;
		best[v] = r->emax, bmin[v] = r->emin, pred[v] = SIZE_MAX;
		for (k = 0; k < r->ndeps; k++) {
			size_t d = r->deps[k];
			if (m->r[d].must == r->must && m->r[d].level + 1 > r->level)
				r->level = m->r[d].level + 1;
			if (pred[v] == SIZE_MAX || best[d] > best[pred[v]] ||
			    (best[d] == best[pred[v]] && (bmin[d] > bmin[pred[v]] ||
			    (bmin[d] == bmin[pred[v]] && d < pred[v]))))
				pred[v] = d;
		}
		if (pred[v] != SIZE_MAX)
			best[v] += best[pred[v]], bmin[v] += bmin[pred[v]];
		if (r->must && r->level > mustmax)
			mustmax = r->level;
		if (!r->must && r->level > shouldmax)
			shouldmax = r->level;
	}
	for (i = 0; i < n; i++) {
		m->r[i].phase = m->r[i].must ? m->r[i].level : mustmax + m->r[i].level;
		if (end == SIZE_MAX || best[i] > best[end] || (best[i] == best[end] && bmin[i] > bmin[end]))
			end = i;
	}
	m->nphases = mustmax + shouldmax;
	if (end != SIZE_MAX)
		m->cp_min = bmin[end], m->cp_max = best[end];
	free(best), free(bmin), free(pred);
	return 0;
}

int
ec_roadmap_build(ec_roadmap *m, ec_err *e)
{
	if (!m->warnings && !(m->warnings = json_array()))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	if (merge(m, e) < 0 || break_cycles(m, e) < 0 || schedule(m, e) < 0)
		return -1;
	return 0;
}

void
ec_roadmap_free(ec_roadmap *m)
{
	for (size_t i = 0; i < m->nit; i++)
		free(m->it[i].key);
	for (size_t i = 0; i < m->nr; i++) {
		free(m->r[i].deps);
		json_decref(m->r[i].refs);
		json_decref(m->r[i].personas);
	}
	free(m->it);
	free(m->r);
	free(m->topo);
	json_decref(m->warnings);
	memset(m, 0, sizeof *m);
}
