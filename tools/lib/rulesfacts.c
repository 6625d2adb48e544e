/*
 * rulesfacts.c - what the engine knows about a description beyond its words: which
 * parts only say what the epic will NOT do (a "Non-goals" or "Alternatives" section),
 * and which numbers are quantities ("8 s", "99.9 %", "10 uploads a day", "2 M rows").
 * Both are driven by the shared vocabulary (concepts.json: discountSections,
 * quantities), so the C knows no section name and no unit.
 *
 * Discounted words match no rule: "Non-goals: offline mode" must not make anyone
 * advise on offline sync. Quantities become signals quantity:KIND that rules test
 * like any other ("no volumes given" only when there is no quantity:volume).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

#define NAME_MAX_FOLD 64        /* a heading longer than this names no section */
#define LABEL_MAX_WORDS 8       /* "Out of scope for the first release:" */

/* s (n bytes) folded for comparing headings: ASCII letters lowercased, digits
 * kept, everything else dropped ("Non-Goals:" and "non goals" are "nongoals"). */
static void
fold_name(const char *s, size_t n, char out[NAME_MAX_FOLD])
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < NAME_MAX_FOLD; i++)
		if (ec_is_alnum(s[i]))
			out[k++] = (char)ec_lower(s[i]);
	out[k] = '\0';
}

/* Is s (n bytes) one of the section names (a JSON array of strings), or does it start
 * with one followed by more words ("Out of scope for the first release")? */
static int
names_section(const json_t *names, const char *s, size_t n)
{
	char f[NAME_MAX_FOLD], g[NAME_MAX_FOLD];
	size_t i, cut;
	json_t *v;

	for (cut = 1; cut <= n && cut < NAME_MAX_FOLD * 2; cut++) {
		if (cut < n && ec_is_alnum(s[cut - 1]) == ec_is_alnum(s[cut]))
			continue;       /* not the end of a word */
		if (cut < n && !ec_is_alnum(s[cut - 1]))
			continue;
		fold_name(s, cut, f);
		if (!*f)
			continue;
		json_array_foreach(names, i, v) {
			const char *t = json_string_value(v);
			fold_name(t, strlen(t), g);
			if (strcmp(f, g) == 0)
				return 1;
		}
	}
	return 0;
}

enum { L_TEXT, L_BLANK, L_HEADING, L_LABEL, L_INLINE };

/*
 * What kind of line [p, e) is: a Markdown ATX heading (*level 1..6), a label alone
 * on its line ("Non-goals:", "**Out of scope**"; level 7), a label followed by text
 * on the same line ("Out of scope: the mobile app."), blank, or text. *name and
 * *nlen get the heading's or label's text.
 */
static int
line_kind(const char *p, const char *e, int *level, const char **name, size_t *nlen)
{
	const char *q = p, *colon;
	size_t words = 1;
	int hashes = 0;

	while (q < e && (*q == ' ' || *q == '\t'))
		q++;
	while (e > q && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	if (q == e)
		return L_BLANK;
	while (q < e && *q == '#')
		q++, hashes++;
	if (hashes >= 1 && hashes <= 6 && q < e && (*q == ' ' || *q == '\t')) {
		while (q < e && (*q == ' ' || *q == '\t' || *q == '#'))
			q++;
		while (e > q && (e[-1] == '#' || e[-1] == ' '))
			e--;
		*level = hashes, *name = q, *nlen = (size_t)(e - q);
		return L_HEADING;
	}
	q -= hashes;
	/* a label: up to LABEL_MAX_WORDS words, bold or ending in ':' */
	while (q < e && (*q == '*' || *q == '_'))
		q++;
	for (colon = q; colon < e && *colon != ':' && words <= LABEL_MAX_WORDS; colon++)
		if (*colon == ' ')
			words++;
	*level = 7, *name = q;
	if (colon < e && *colon == ':' && words <= LABEL_MAX_WORDS) {
		const char *after = colon + 1;
		*nlen = (size_t)(colon - q);
		while (*nlen > 0 && (q[*nlen - 1] == '*' || q[*nlen - 1] == '_'))
			(*nlen)--;
		while (after < e && (*after == ' ' || *after == '*' || *after == '_'))
			after++;
		return after == e ? L_LABEL : L_INLINE;
	}
	if (e - q >= 2 && (e[-1] == '*' || e[-1] == '_') && q > p && words <= LABEL_MAX_WORDS) {
		while (e > q && (e[-1] == '*' || e[-1] == '_' || e[-1] == ':'))
			e--;
		*nlen = (size_t)(e - q);
		return L_LABEL;
	}
	return L_TEXT;
}

/* Does the line at p start a list item ("- x", "* x", "+ x", "1. x", "2) x")? */
static int
list_item(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (p + 1 < e && (*p == '-' || *p == '*' || *p == '+') && p[1] == ' ')
		return 1;
	while (p < e && ec_is_digit(*p))
		p++;
	return p + 1 < e && (*p == '.' || *p == ')') && p[1] == ' ' && ec_is_digit(p[-1]);
}

/* Mark the words in [a, b) of the text as discounted. */
static void
discount_range(ctx *c, size_t a, size_t b)
{
	for (size_t k = 0; k < c->nt; k++)
		if (c->t[k].off >= a && c->t[k].off < b)
			c->t[k].disc = 1;
}

int
eng_discount(ctx *c, const json_t *names)
{
	const char *text = c->text, *p = text, *end = text + strlen(text);
	size_t start = 0;
	int open = 0, open_level = 0, para = 0, content = 0;

	if (!json_array_size(names))
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
		const char *name;
		size_t nlen = 0;
		int level = 0, kind = line_kind(p, e, &level, &name, &nlen);
		size_t here = (size_t)(p - text);

		/* A list item with a label ("- Cost: too high") is a point of the list it is
		 * in, not a section of its own: it ends no section. Its own text is
		 * discounted when its label names one ("- Out of scope: offline"). */
		if ((kind == L_LABEL || kind == L_INLINE) && list_item(p, e)) {
			if (!open && names_section(names, name, nlen))
				discount_range(c, (size_t)(name + nlen - text), (size_t)(e - text));
			kind = L_TEXT;
		}

		/* where an open section ends */
		if (open && (kind == L_HEADING || kind == L_LABEL || kind == L_INLINE) &&
		    (kind != L_HEADING || level <= open_level || open_level == 7)) {
			discount_range(c, start, here);
			open = 0;
		} else if (open && open_level == 7 && kind == L_TEXT && para && content &&
		    !list_item(p, e)) {
			discount_range(c, start, here);     /* a new paragraph after a label's text */
			open = 0;
		}
		para = kind == L_BLANK;
		content = open && (content || kind == L_TEXT);
		if ((kind == L_HEADING || kind == L_LABEL || kind == L_INLINE) &&
		    names_section(names, name, nlen)) {
			/* the heading itself still says that scope was stated: its words count */
			open = 1;
			content = kind == L_INLINE;
			open_level = kind == L_HEADING ? level : 7;
			start = kind == L_INLINE ? (size_t)(name + nlen - text) + 1 :
			    (size_t)(e - text);
		}
		p = nl ? nl + 1 : end;
	}
	if (open)
		discount_range(c, start, (size_t)(end - text));
	return 0;
}

/* --- quantities ----------------------------------------------------------------- */

/* A unit of a quantity kind, measured once per call. */
typedef struct unit {
	const char *u, *kind;
	size_t n;
	int exact;              /* has a capital: matched as written ("M" is not "m") */
	char first;             /* its first byte, lowercased unless exact */
} unit;

/* Does the text at s start with unit u (ignoring ASCII case unless u has a capital),
 * ending there at a word boundary? Returns the bytes matched, or 0. */
static size_t
unit_at(const char *s, const char *end, const unit *u)
{
	size_t k;

	if ((size_t)(end - s) < u->n || (u->exact ? *s : ec_lower(*s)) != u->first)
		return 0;
	for (k = 0; k < u->n; k++)
		if (u->exact ? s[k] != u->u[k] : ec_lower(s[k]) != ec_lower(u->u[k]))
			return 0;
	if (s + u->n < end && ec_is_alnum(s[u->n]) && ec_is_alnum(u->u[u->n - 1]))
		return 0;
	return u->n;
}

/* The quantity kind whose unit starts at s, or NULL. */
static const char *
kind_at(const unit *units, size_t n, const char *s, const char *end)
{
	for (size_t i = 0; i < n; i++)
		if (unit_at(s, end, &units[i]))
			return units[i].kind;
	return NULL;
}

/* Make quantity:KIND visible to the rules, once per kind. */
static int
quantity_signal(ctx *c, const char *kind)
{
	size_t n = strlen(kind) + sizeof "quantity:";
	char *s;

	for (size_t i = 0; i < c->nsigs; i++)
		if (strncmp(c->sigs[i], "quantity:", 9) == 0 && strcmp(c->sigs[i] + 9, kind) == 0)
			return 0;
	if (!(s = eng_aalloc(c, n)) ||
	    eng_grow(c, &c->sigs, &c->capsigs, c->nsigs + 1, sizeof *c->sigs) < 0)
		return -1;
	snprintf(s, n, "quantity:%s", kind);
	c->sigs[c->nsigs++] = s;
	return 0;
}

int
eng_quantities(ctx *c, const json_t *kinds)
{
	const char *s = c->text, *end = s + strlen(s), *p = s, *kname;
	json_t *list, *v;
	unit *units;
	size_t nu = 0, i;
	int rc = -1;

	if (!json_object_size((json_t *)kinds))
		return 0;
	json_object_foreach((json_t *)kinds, kname, list)
		nu += json_array_size(list);
	if (!(units = calloc(nu + 1, sizeof *units)))
		return eng_oom(c);
	nu = 0;
	json_object_foreach((json_t *)kinds, kname, list)
		json_array_foreach(list, i, v) {
			unit *u = &units[nu];
			if (!(u->u = json_string_value(v)) || !(u->n = strlen(u->u)))
				continue;
			u->kind = kname;
			for (size_t k = 0; k < u->n; k++)
				u->exact |= ec_is_upper(u->u[k]);
			u->first = u->exact ? u->u[0] : (char)ec_lower(u->u[0]);
			nu++;
		}
	while (p < end) {
		const char *q, *kind;
		int words;
		if (!ec_is_digit(*p) || (p > s && (ec_is_alpha(p[-1]) || ec_is_digit(p[-1])))) {
			p++;
			continue;
		}
		/* a number, "1,200", "99.9", a range "1-3", "1–3", "1 to 3" */
		for (q = p; q < end && (ec_is_digit(*q) || ((*q == '.' || *q == ',') &&
		    q + 1 < end && ec_is_digit(q[1]))); q++)
			;
		p = q;
		if (q < end && ec_is_alpha(*q) && (kind = kind_at(units, nu, q, end))) {
			if (quantity_signal(c, kind) < 0)    /* "8s", "200ms", "2M" */
				goto out;
			continue;
		}
		/* the unit, maybe after a space and one noun: "10 uploads a day" */
		for (words = 0; words < 2 && q < end; words++) {
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			if (q < end && (kind = kind_at(units, nu, q, end))) {
				if (quantity_signal(c, kind) < 0)
					goto out;
				break;
			}
			while (q < end && (ec_is_alpha(*q) || *q == '-'))
				q++;
		}
	}
	rc = 0;
out:
	free(units);
	return rc;
}
