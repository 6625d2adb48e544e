/*
 * normrecs.c - a PersonaOutput's recommendations: ids fixed or assigned, titles
 * and descriptions filled from each other, duplicates dropped, dependencies
 * resolved to ids that exist, costs parsed into effortDays.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"

/* c is one of the characters in set (never true for NUL). */
static int in_set(int c, const char *set) { return c && strchr(set, c) != NULL; }

/* --- recommendations ---------------------------------------------------------- */

int
norm_id_valid(const char *s)
{
	size_t n = strlen(s), k = 1;

	if (n < 6 || n > 10 || !ec_is_upper(s[0]))
		return 0;
	while (k < n && (ec_is_upper(s[k]) || ec_is_digit(s[k])))
		k++;
	return k >= 2 && k <= 6 && k + 4 == n && s[k] == '-' && ec_is_digit(s[k + 1]) &&
	    ec_is_digit(s[k + 2]) && ec_is_digit(s[k + 3]);
}

/* A prefix usable in an id: [A-Z][A-Z0-9]{1,5}. */
int
norm_prefix_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 6 || !ec_is_upper(s[0]))
		return 0;
	for (size_t k = 1; k < n; k++)
		if (!ec_is_upper(s[k]) && !ec_is_digit(s[k]))
			return 0;
	return 1;
}

/*
 * The id prefix for a persona without one in its registration (idPrefix, which the
 * caller passes): the initials of its dash-separated words uppercased
 * ("data-privacy-officer" DPO); one initial is too short, so a one-word name gives
 * its first three letters ("tester" TES); a prefix must start with a letter (else
 * "P" goes in front) and is at most 6 characters.
 */
void
norm_derive_prefix(const char *persona, char out[8])
{
	char p[16];
	size_t n = 0;

	for (const char *s = persona; *s && n < 6; s++)
		if ((s == persona || s[-1] == '-') && ec_is_alnum(*s))
			p[n++] = (char)ec_upper(*s);
	if (n < 2) {
		n = 0;
		for (const char *s = persona; *s && n < 3; s++)
			if (ec_is_alnum(*s))
				p[n++] = (char)ec_upper(*s);
	}
	p[n] = '\0';
	if (n < 2 || !ec_is_upper(p[0])) {
		snprintf(out, 8, "P%.5s", p);
		if (strlen(out) < 2)
			snprintf(out, 8, "REC");
	} else
		snprintf(out, 8, "%s", p);
}

/* A concern key: dot-separated words of [a-z0-9-], the first starting with a letter,
 * at least two of them, at most CAP_CONCERN bytes (the schema's concernKey). */
static int
concern_valid(const char *s)
{
	size_t words = 0, n = strlen(s);

	if (n > CAP_CONCERN || !ec_is_alpha(*s))
		return 0;
	for (const char *w = s; ; w++) {
		size_t k = strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789-");
		if (k == 0 || *w == '-')
			return 0;
		words++;
		w += k;
		if (!*w)
			return words >= 2;
		if (*w != '.')
			return 0;
	}
}

/*
 * Set obj.concern from what an agent wrote, lowercased and trimmed. A concern that is
 * not a key of the vocabulary's form is dropped (noted in metadata.raw), not
 * rejected: the recommendation is still worth having, only not merged by concern.
 * 0, or -1 out of memory.
 */
static int
concern_set(nctx *c, json_t *obj, const json_t *v, const char *path, const char *key)
{
	char *s;

	if (!json_is_string(v)) {
		norm_drop_field(c, path, key);
		return 0;
	}
	if (!(s = norm_clean(c, json_string_value(v), EC_TEXT_LINE, CAP_CONCERN + 1)))
		return -1;
	for (char *q = s; *q; q++)
		*q = (char)ec_lower(*q);
	if (concern_valid(s))
		json_object_set_new(obj, "concern", json_string(s));
	else
		norm_drop_field(c, path, key);
	free(s);
	return 0;
}

/*
 * Make an id of what an agent wrote: "SEC-001" as is; "sec-1", "SEC_01", "SEC 1",
 * "#SEC1", "A11Y-7" fixed; a bare number ("3", 3) gets the persona's prefix, and
 * so does a prefix that cannot be one ("SECURITY-1"). Numbers must be 1..999.
 * Returns 1 with out filled (*fixed = 1 if it changed), or 0: unusable.
 */
static int
fix_id(const json_t *v, const char *prefix, char out[16], int *fixed)
{
	char buf[40], left[40];
	const char *s;
	size_t n, d, ln;
	long num;

	*fixed = 1;
	if (json_is_integer(v)) {
		num = json_integer_value(v) > 999 ? 0 : (long)json_integer_value(v);
		if (num < 1)
			return 0;
		snprintf(out, 16, "%s-%03ld", prefix, num);
		return 1;
	}
	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	while (ec_is_space(*s) || *s == '#')
		s++;
	for (n = 0; *s && n + 1 < sizeof buf; s++)
		buf[n++] = (char)ec_upper(*s);
	while (n > 0 && ec_is_space(buf[n - 1]))
		n--;
	buf[n] = '\0';
	if (*s)
		return 0;
	if (norm_id_valid(buf)) {
		*fixed = strcmp(buf, json_string_value(v)) != 0;
		snprintf(out, 16, "%s", buf);
		return 1;
	}
	for (d = n; d > 0 && ec_is_digit(buf[d - 1]); d--)
		;
	if (d == n)
		return 0;
	while (d < n && buf[d] == '0')
		d++;
	if (d == n || n - d > 3)
		return 0;
	num = strtol(buf + d, NULL, 10);
	/* the prefix: everything before the number and its separator */
	for (ln = d; ln > 0 && buf[ln - 1] == '0'; ln--)
		;
	while (ln > 0 && in_set(buf[ln - 1], "-_ .:/#"))
		ln--;
	memcpy(left, buf, ln);
	left[ln] = '\0';
	snprintf(out, 16, "%s-%03ld", ln && norm_prefix_valid(left) ? left : prefix, num);
	return 1;
}

typedef struct rec {
	json_t *o;              /* the recommendation being built (new reference) */
	char id[16];            /* final id, "" until assigned */
	const json_t *orig_id;  /* the id as given (borrowed), or NULL */
	const json_t *deps;     /* dependencies as given (borrowed), or NULL */
	char deps_path[160];
	char *fold;             /* folded title, for duplicates */
	long same_as;           /* a dropped duplicate: index of the kept one, else -1 */
} rec;

/* The folded form of a title for spotting duplicates: letters and digits only,
 * lowercased; other (non-ASCII) bytes kept. */
static char *
title_fold(const char *t)
{
	char *f = malloc(strlen(t) + 1), *q = f;

	if (!f)
		return NULL;
	for (; *t; t++)
		if (ec_is_alnum(*t))
			*q++ = (char)ec_lower(*t);
		else if ((unsigned char)*t >= 0x80)
			*q++ = *t;
	*q = '\0';
	return f;
}

/* The first line or sentence of a description, as a title. malloc'd. */
static char *
title_from(nctx *c, const char *desc)
{
	const char *end = desc;
	char *t, *s;

	while (ec_is_space(*desc))
		desc++;
	for (end = desc; *end && *end != '\n'; end++)
		if (*end == '.' && (end[1] == ' ' || end[1] == '\n' || !end[1]))
			break;
	if (!(t = strndup(desc, (size_t)(end - desc))))
		return norm_nomem(c), NULL;
	s = norm_clean(c, t, EC_TEXT_LINE, CAP_TITLE);
	free(t);
	return s;
}

/* An array of strings for a field that may also be given as one string. */
static int
string_list(nctx *c, const json_t *v, const char *path, json_t **items)
{
	char p[512];
	size_t i;
	json_t *x;

	*items = NULL;
	if (json_is_string(v) || json_is_integer(v)) {
		*items = json_pack("[O]", v);
		return 0;
	}
	if (!json_is_array(v)) {
		norm_reject(c, path, "expected an array of strings, got %s", norm_type_name(v));
		return -1;
	}
	json_array_foreach(v, i, x) {
		if (!json_is_string(x) && !json_is_integer(x)) {
			ec_jpath_index(p, sizeof p, path, i);
			norm_reject(c, p, "expected a string, got %s", norm_type_name(x));
			return -1;
		}
	}
	*items = json_incref((json_t *)v);
	return 0;
}

/*
 * One recommendation (an object, or a bare string taken as its title and
 * description) into r. Returns 0, or -1 with c->e filled.
 */
static int
one_rec(nctx *c, const json_t *in, const char *path, rec *r)
{
	json_t *val[R_N], *refs = NULL, *refsout, *x;
	const char *key[R_N];
	char p[512], show[192], *title = NULL, *desc = NULL;
	const char *type = NULL, *prio = NULL;
	size_t i;

	memset(r, 0, sizeof *r);
	r->same_as = -1;
	if (!(r->o = json_object()))
		return norm_nomem(c), -1;
	if (json_is_string(in)) {
		c->recs_from_strings++;
		memset(val, 0, sizeof val);
		memset(key, 0, sizeof key);
		val[R_DESC] = (json_t *)in;
		key[R_DESC] = "";
	} else if (!json_is_object(in)) {
		norm_reject(c, path, "expected an object, got %s", norm_type_name(in));
		goto fail;
	} else
		norm_pick(c, in, norm_rec_fields, R_N, val, key, path);

	/* title and description: each stands in for the other when missing */
	if (val[R_TITLE] && !json_is_string(val[R_TITLE])) {
		ec_jpath_key(p, sizeof p, path, key[R_TITLE]);
		norm_reject(c, p, "expected a string, got %s", norm_type_name(val[R_TITLE]));
		goto fail;
	}
	if (val[R_DESC] && !json_is_string(val[R_DESC])) {
		ec_jpath_key(p, sizeof p, path, key[R_DESC]);
		norm_reject(c, p, "expected a string, got %s", norm_type_name(val[R_DESC]));
		goto fail;
	}
	if (val[R_TITLE] && !(title = norm_clean(c, json_string_value(val[R_TITLE]), EC_TEXT_LINE,
	    CAP_TITLE)))
		goto fail;
	if (val[R_DESC] && !(desc = norm_clean(c, json_string_value(val[R_DESC]), EC_TEXT_PARAGRAPHS,
	    CAP_DESCRIPTION)))
		goto fail;
	if (title && !*title)
		free(title), title = NULL;
	if (desc && !*desc)
		free(desc), desc = NULL;
	if (!title && !desc) {
		norm_reject(c, path, "a recommendation needs a title or a description");
		goto fail;
	}
	if (!title) {
		if (!(title = title_from(c, desc)))
			goto fail;
		if (!json_is_string(in))
			c->title_from_desc++;
	}
	if (!desc) {
		if (!(desc = strdup(title)))
			goto oom;
		c->desc_from_title++;
	}
	json_object_set_new(r->o, "title", json_string(title));
	json_object_set_new(r->o, "description", json_string(desc));
	r->fold = title_fold(title);
	free(title), title = NULL;
	free(desc), desc = NULL;
	if (!r->fold)
		goto oom;

	/* type: the table, or "blocking": true|false, else suggested */
	if (val[R_TYPE]) {
		ec_jpath_key(p, sizeof p, path, key[R_TYPE]);
		if (!json_is_string(val[R_TYPE])) {
			norm_reject(c, p, "expected a string, got %s", norm_type_name(val[R_TYPE]));
			goto fail;
		}
		if (!(type = norm_lookup(norm_type_table, json_string_value(val[R_TYPE])))) {
			norm_shown(c, val[R_TYPE], show, sizeof show);
			norm_reject(c, p, "unknown type %s (expected blocking or suggested, or a name "
			    "for them listed in persona-normalize(1))", show);
			goto fail;
		}
	} else if (val[R_BLOCKING]) {
		ec_jpath_key(p, sizeof p, path, key[R_BLOCKING]);
		if (!json_is_boolean(val[R_BLOCKING])) {
			norm_reject(c, p, "expected a boolean, got %s", norm_type_name(val[R_BLOCKING]));
			goto fail;
		}
		type = json_is_true(val[R_BLOCKING]) ? "blocking" : "suggested";
	} else {
		type = "suggested";
		c->type_default++;
	}
	json_object_set_new(r->o, "type", json_string(type));

	if (val[R_PRIORITY]) {
		ec_jpath_key(p, sizeof p, path, key[R_PRIORITY]);
		if (!json_is_string(val[R_PRIORITY])) {
			norm_reject(c, p, "expected a string, got %s", norm_type_name(val[R_PRIORITY]));
			goto fail;
		}
		if (!(prio = norm_lookup(norm_priority_table, json_string_value(val[R_PRIORITY])))) {
			norm_shown(c, val[R_PRIORITY], show, sizeof show);
			norm_reject(c, p, "unknown priority %s (expected critical, high, medium or low, "
			    "or a name for them listed in persona-normalize(1))", show);
			goto fail;
		}
	} else {
		prio = "medium";
		c->prio_default++;
	}
	json_object_set_new(r->o, "priority", json_string(prio));

	ec_jpath_key(p, sizeof p, path, key[R_COST] ? key[R_COST] : "estimatedCost");
	if (norm_cost_fields_set(c, r->o, "estimatedCost", val[R_COST], p, val[R_EFFORT], CAP_COST,
	    &c->cost_default) < 0)
		goto fail;

	if (val[R_REFS]) {
		ec_jpath_key(p, sizeof p, path, key[R_REFS]);
		if (string_list(c, val[R_REFS], p, &refs) < 0)
			goto fail;
		if (!(refsout = json_array()))
			goto oom;
		json_object_set_new(r->o, "references", refsout);
		json_array_foreach(refs, i, x) {
			char *s, num[32];
			if (json_array_size(refsout) == MAX_REFERENCES) {
				c->refs_over++;
				break;
			}
			if (json_is_integer(x))
				snprintf(num, sizeof num, "%lld", (long long)json_integer_value(x));
			if (!(s = norm_clean(c, json_is_integer(x) ? num : json_string_value(x),
			    EC_TEXT_LINE, CAP_REFERENCE)))
				goto fail;
			if (*s)
				json_array_append_new(refsout, json_string(s));
			free(s);
		}
		json_decref(refs), refs = NULL;
	}
	if (val[R_PERSONA]) {
		char *s;
		ec_jpath_key(p, sizeof p, path, key[R_PERSONA]);
		if (!json_is_string(val[R_PERSONA]) ||
		    !(s = norm_clean(c, json_string_value(val[R_PERSONA]), EC_TEXT_LINE, 63))) {
			if (!c->oom)
				norm_reject(c, p, "expected a persona name, got %s",
				    norm_type_name(val[R_PERSONA]));
			goto fail;
		}
		for (char *q = s; *q; q++)
			*q = (char)ec_lower(*q);
		if (!ec_is_alnum(*s) ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s)) {
			norm_shown(c, val[R_PERSONA], show, sizeof show);
			free(s);
			norm_reject(c, p, "expected a persona name, got %s", show);
			goto fail;
		}
		json_object_set_new(r->o, "persona", json_string(s));
		free(s);
	}
	if (val[R_CONCERN] && concern_set(c, r->o, val[R_CONCERN], path, key[R_CONCERN]) < 0)
		goto fail;
	r->orig_id = val[R_ID];
	r->deps = val[R_DEPS];
	ec_jpath_key(r->deps_path, sizeof r->deps_path, path,
	    key[R_DEPS] ? key[R_DEPS] : "dependencies");
	if (r->deps && !json_is_array(r->deps) && !json_is_string(r->deps) &&
	    !json_is_integer(r->deps)) {
		norm_reject(c, r->deps_path, "expected an array of recommendation ids, got %s",
		    norm_type_name(r->deps));
		goto fail;
	}
	if (json_is_array(r->deps))
		json_array_foreach(r->deps, i, x)
			if (!json_is_string(x) && !json_is_integer(x)) {
				ec_jpath_index(p, sizeof p, r->deps_path, i);
				norm_reject(c, p, "expected a recommendation id, got %s", norm_type_name(x));
				goto fail;
			}
	if (r->orig_id && !json_is_string(r->orig_id) && !json_is_integer(r->orig_id)) {
		ec_jpath_key(p, sizeof p, path, key[R_ID]);
		norm_reject(c, p, "expected a recommendation id, got %s", norm_type_name(r->orig_id));
		goto fail;
	}
	return 0;
oom:
	norm_nomem(c);
fail:
	free(title);
	free(desc);
	json_decref(refs);
	json_decref(r->o);
	free(r->fold);
	r->o = NULL, r->fold = NULL;
	return -1;
}

static void
recs_free(rec *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(v[i].o);
		free(v[i].fold);
	}
	free(v);
}

/*
 * Which kept recommendation does dependency d name? First an id exactly as a
 * recommendation wrote its own, then the fixed form of d; a kept recommendation
 * before a dropped duplicate, which stands for the one it duplicated. Index or -1.
 */
static long
dep_target(const rec *v, size_t n, const json_t *d, const char *prefix)
{
	char id[16];
	int fixed;

	for (int pass = 0; pass < 2 && json_is_string(d); pass++)
		for (size_t i = 0; i < n; i++)
			if ((v[i].same_as < 0) == (pass == 0) && json_is_string(v[i].orig_id) &&
			    strcmp(json_string_value(v[i].orig_id), json_string_value(d)) == 0)
				return pass ? v[i].same_as : (long)i;
	if (!fix_id(d, prefix, id, &fixed))
		return -1;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++)
			if ((v[i].same_as < 0) == (pass == 0) && strcmp(v[i].id, id) == 0)
				return pass ? v[i].same_as : (long)i;
	return -1;
}

/*
 * All recommendations: each normalized, duplicates (same id, or same folded
 * title) dropped keeping the first, at most MAX_RECS kept (the rest is not read),
 * missing ids assigned after the highest number in use with the prefix,
 * dependencies resolved to kept ids. New array, or NULL with c->e filled.
 */
json_t *
norm_recommendations(nctx *c, const json_t *in, const char *key)
{
	char path[160], p[512];
	rec *v = NULL;
	size_t n = 0, total, kept = 0, i;
	json_t *out = NULL, *single = NULL;
	int maxnum = 0;

	ec_jpath_key(path, sizeof path, "$", key ? key : "recommendations");
	if (!in)
		return json_array();
	if (json_is_object(in) || json_is_string(in))
		in = single = json_pack("[O]", in);
	else if (!json_is_array(in))
		return norm_reject(c, path, "expected an array of recommendations, got %s",
		    norm_type_name(in));
	total = json_array_size(in);
	if (!(v = calloc(total ? total : 1, sizeof *v)))
		goto oom;
	for (i = 0; i < total && kept < MAX_RECS; i++, n++) {
		rec *r = &v[n];
		int fixed = 0;
		nctx saved = *c;
		json_t *counts = json_deep_copy(c->counts);
		if (!counts)
			goto oom;
		if (single)
			snprintf(p, sizeof p, "%s", path);
		else
			ec_jpath_index(p, sizeof p, path, i);
		if (one_rec(c, json_array_get(in, i), p, r) < 0) {
			json_decref(counts);
			goto fail;
		}
		if (r->orig_id && fix_id(r->orig_id, c->prefix, r->id, &fixed))
			c->ids_fixed += (size_t)fixed;
		else if (r->orig_id)
			c->ids_fixed++;
		for (size_t j = 0; j < n; j++) {
			if (v[j].same_as >= 0)
				continue;
			if ((r->id[0] && strcmp(v[j].id, r->id) == 0) ||
			    strcmp(v[j].fold, r->fold) == 0) {
				r->same_as = (long)j;
				break;
			}
		}
		if (r->same_as >= 0) {
			/* a duplicate leaves no trace but the count of duplicates: its
			 * notes and redactions are not in the output */
			*c = saved;
			json_object_clear(c->counts);
			json_object_update(c->counts, counts);
			json_decref(counts);
			c->dup_recs++;
			json_decref(r->o);
			r->o = NULL;
			continue;
		}
		json_decref(counts);
		kept++;
	}
	if (i < total)
		c->recs_over += total - i;
	/* highest number in use with the prefix */
	for (i = 0; i < n; i++) {
		size_t pl = strlen(c->prefix);
		if (v[i].same_as < 0 && strncmp(v[i].id, c->prefix, pl) == 0 &&
		    v[i].id[pl] == '-') {
			int num = atoi(v[i].id + pl + 1);
			if (num > maxnum)
				maxnum = num;
		}
	}
	for (i = 0; i < n; i++) {
		if (v[i].same_as >= 0 || v[i].id[0])
			continue;
		if (maxnum < 999)
			maxnum++;
		else {
			/* past 999: the lowest free number */
			for (int k = 1; k <= 999; k++) {
				char id[16];
				size_t j;
				snprintf(id, sizeof id, "%s-%03d", c->prefix, k);
				for (j = 0; j < n && strcmp(v[j].id, id) != 0; j++)
					;
				if (j == n) {
					snprintf(v[i].id, sizeof v[i].id, "%s", id);
					break;
				}
			}
			c->ids_assigned++;
			continue;
		}
		snprintf(v[i].id, sizeof v[i].id, "%s-%03d", c->prefix, maxnum);
		c->ids_assigned++;
	}
	if (!(out = json_array()))
		goto oom;
	for (i = 0; i < n; i++)
		if (v[i].same_as < 0)
			json_object_set_new(v[i].o, "id", json_string(v[i].id));
	for (i = 0; i < n; i++) {
		json_t *deps, *dl = NULL, *d;
		size_t k;
		if (v[i].same_as < 0 && !json_object_get(v[i].o, "id"))
			goto oom;
		if (v[i].same_as >= 0)
			continue;
		if (!(deps = json_array()))
			goto oom;
		json_object_set_new(v[i].o, "dependencies", deps);
		if (v[i].deps) {
			dl = json_is_array(v[i].deps) ? json_incref((json_t *)v[i].deps) : json_array();
			if (json_is_string(v[i].deps)) {
				/* "SEC-001, SEC-002": split on commas, semicolons and white space */
				char *cp = strdup(json_string_value(v[i].deps)), *tok, *save = NULL;
				if (!cp) {
					json_decref(dl);
					goto oom;
				}
				for (tok = strtok_r(cp, ",; \t\n", &save); tok;
				    tok = strtok_r(NULL, ",; \t\n", &save))
					json_array_append_new(dl, json_string(tok));
				free(cp);
			} else if (json_is_integer(v[i].deps))
				json_array_append(dl, (json_t *)v[i].deps);
		}
		json_array_foreach(dl, k, d) {
			long t = dep_target(v, n, d, c->prefix);
			json_t *id;
			size_t q;
			if (t < 0 || t == (long)i) {
				c->deps_dropped++;
				continue;
			}
			id = json_object_get(v[t].o, "id");
			for (q = 0; q < json_array_size(deps) &&
			    !json_equal(json_array_get(deps, q), id); q++)
				;
			if (q < json_array_size(deps))
				continue;
			if (json_array_size(deps) == MAX_DEPS) {
				c->deps_dropped++;
				continue;
			}
			json_array_append(deps, id);
		}
		json_decref(dl);
		json_array_append(out, v[i].o);
	}
	recs_free(v, n);
	json_decref(single);
	return out;
oom:
	norm_nomem(c);
fail:
	json_decref(out);
	recs_free(v, n);
	json_decref(single);
	return NULL;
}

