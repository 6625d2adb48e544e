/*
 * extract.c - the JSON object in an agent's text: clean JSON, JSON in prose or in a
 * ```json fence, with a byte order mark or trailing commas, one of several. Every
 * balanced {...} is a candidate; the caller's score says which fits best (score,
 * then the number of items, then the later one: an agent's last word is its
 * answer), and an unwrap callback may take a fitting object out of a wrapper. The
 * work is linear in the text, bounded on hostile input.
 */
#include <stdlib.h>
#include <string.h>

#include "ec.h"

/* c is one of the characters in set (never true for NUL). */
static int in_set(int c, const char *set) { return c && strchr(set, c) != NULL; }

/* The raw text must be UTF-8 without NUL bytes: 0, or -1 naming the first bad byte. */
static int
check_text(const char *raw, size_t len, const char *name, ec_err *e)
{
	const char *nul = memchr(raw, '\0', len);
	long bad = ec_utf8_invalid_at(raw, nul ? (size_t)(nul - raw) : len);
	int line, col;

	if (bad >= 0) {
		ec_line_col(raw, (size_t)bad, &line, &col);
		return ec_fail(e, EC_EXIT_REJECT, "%s:%d:%d: invalid UTF-8: the output must be "
		    "UTF-8 text", name, line, col);
	}
	if (nul) {
		ec_line_col(raw, (size_t)(nul - raw), &line, &col);
		return ec_fail(e, EC_EXIT_REJECT, "%s:%d:%d: NUL byte: the output must be UTF-8 "
		    "text", name, line, col);
	}
	return 0;
}

/*
 * The spans of the '{' in the text, filled as scans discover them. A scan from
 * one '{' meets other '{' outside strings; a scan from those would read the same
 * characters the same way, so their spans are recorded on the way and never
 * scanned again: finding every candidate stays linear even in text with a
 * thousand stray braces before the answer.
 */
typedef struct braces {
	size_t *pos;            /* offsets of the '{', ascending */
	size_t *end;            /* one past the span, 0 = not scanned yet */
	unsigned char *closed;  /* the span ended with its matching '}' */
	size_t n;
	size_t *stack;          /* scan_from's work space */
	size_t stcap;
} braces;

#define MAX_BRACES  (1u << 20)  /* '{' considered as candidate starts */
#define MAX_STACK   4096        /* deeper '{' are scanned on their own */
#define NOT_BRACE   ((size_t)-1)

/* Scan from the i-th '{' to the end of its balanced span (string-aware, '[' and
 * ']' counted), recording the span of every '{' met outside strings. Returns the
 * bytes scanned. */
static size_t
scan_from(const char *s, size_t len, braces *br, size_t i)
{
	size_t sp = 0, j = i, deep = 0, x;
	int instr = 0;

	for (x = br->pos[i]; x < len; x++) {
		char ch = s[x];
		if (instr) {
			if (ch == '\\')
				x++;
			else if (ch == '"')
				instr = 0;
			continue;
		}
		if (ch == '"')
			instr = 1;
		else if (ch == '{' || ch == '[') {
			size_t v = NOT_BRACE;
			if (ch == '{') {
				while (j < br->n && br->pos[j] < x)
					j++;
				if (j < br->n && br->pos[j] == x)
					v = j;
			}
			if (sp == br->stcap) {
				deep++;
				continue;
			}
			br->stack[sp++] = v;
		} else if (ch == '}' || ch == ']') {
			size_t v;
			if (deep) {
				deep--;
				continue;
			}
			v = br->stack[--sp];
			if (v != NOT_BRACE) {
				br->end[v] = x + 1;
				br->closed[v] = ch == '}';
			}
			if (sp == 0)
				return x + 1 - br->pos[i];
		}
	}
	while (sp > 0) {
		size_t v = br->stack[--sp];
		if (v != NOT_BRACE)
			br->end[v] = len, br->closed[v] = 0;
	}
	return len - br->pos[i];
}

/* Blank out the trailing commas (",}" ",]" with only white space between) of
 * s[0..n) outside strings. Returns how many. */
static size_t
blank_trailing_commas(char *s, size_t n)
{
	size_t count = 0;
	int instr = 0;

	for (size_t i = 0; i < n; i++) {
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = 0;
			continue;
		}
		if (s[i] == '"')
			instr = 1;
		else if (s[i] == ',') {
			size_t k = i + 1;
			while (k < n && ec_is_space(s[k]))
				k++;
			if (k < n && (s[k] == '}' || s[k] == ']')) {
				s[i] = ' ';
				count++;
			}
		}
	}
	return count;
}

/* The first quote that is not JSON's in a structural place (after '{', '[', ','
 * or ':'): a single or curly quote. Its offset, or (size_t)-1; *curly says which. */
static size_t
bad_quote(const char *s, size_t n, int *curly)
{
	char last = 0;
	int instr = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (instr) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				instr = 0;
			continue;
		}
		if (ec_is_space(ch))
			continue;
		if (in_set(last, "{[,:")) {
			if (ch == '\'') {
				*curly = 0;
				return i;
			}
			if (ch == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
			    (unsigned char)s[i + 2] >= 0x98 && (unsigned char)s[i + 2] <= 0x9d) {
				*curly = 1;
				return i;
			}
		}
		if (ch == '"')
			instr = 1;
		last = (char)ch;
	}
	return (size_t)-1;
}

typedef struct cand {
	json_t *j;              /* the parsed object (new reference) or NULL */
	size_t a, b;            /* its span in the raw text */
	size_t commas;          /* trailing commas removed */
	int score;
	size_t items;
	char unwrap[48];        /* the wrapper key it was taken out of, or "" */
} cand;

/* Parse raw[a..b) as one candidate, with the trailing-comma repair when plain
 * parsing fails; k->j is NULL if it still fails. Why it failed is worked out only
 * for the failure that is reported (cand_error), so a transcript full of "{...}"
 * stays linear. */
static void
try_candidate(const char *raw, size_t a, size_t b, cand *k)
{
	char *copy;

	memset(k, 0, sizeof *k);
	k->a = a, k->b = b;
	if ((k->j = ec_json_loadb(raw + a, b - a, "x", NULL)) || !(copy = malloc(b - a)))
		return;
	memcpy(copy, raw + a, b - a);
	if ((k->commas = blank_trailing_commas(copy, b - a)) > 0 &&
	    !(k->j = ec_json_loadb(copy, b - a, "x", NULL)))
		k->commas = 0;
	free(copy);
}

/*
 * Say why candidate k did not parse, as "NAME:LINE:COL: reason" in the raw text's
 * terms: a single or curly quote where JSON has '"', else Jansson's reason (after
 * the trailing-comma repair, so a comma is never what is reported).
 */
static void
cand_error(const char *raw, const cand *k, const char *name, ec_err *e)
{
	int line, col, l2, c2, off = 0, curly;
	size_t q, n = k->b - k->a;
	ec_err e1;
	char *copy;

	if ((q = bad_quote(raw + k->a, n, &curly)) != (size_t)-1) {
		ec_line_col(raw, k->a + q, &line, &col);
		ec_fail(e, EC_EXIT_REJECT, "%s:%d:%d: %s", name, line, col, curly ?
		    "curly quote: JSON needs straight double quotes (not repaired)" :
		    "single-quoted key or string: JSON needs double quotes (not repaired)");
		return;
	}
	snprintf(e1.msg, sizeof e1.msg, "x:1:1: unbalanced braces");
	if ((copy = malloc(n))) {
		memcpy(copy, raw + k->a, n);
		blank_trailing_commas(copy, n);
		json_decref(ec_json_loadb(copy, n, "x", &e1));
		free(copy);
	}
	ec_line_col(raw, k->a, &line, &col);
	if (sscanf(e1.msg, "x:%d:%d: %n", &l2, &c2, &off) == 2 && off > 0) {
		if (l2 == 1)
			c2 += col - 1;
		ec_fail(e, EC_EXIT_REJECT, "%s:%d:%d: %s", name, l2 + line - 1, c2,
		    e1.msg + off);
	} else
		ec_fail(e, EC_EXIT_REJECT, "%s:%d:%d: %s", name, line, col, e1.msg);
}

/* Does the line before offset a (skipping blank lines) open a ``` fence? */
static int
in_fence(const char *raw, size_t a)
{
	size_t e = a, s;

	while (e > 0 && raw[e - 1] != '\n')
		e--;
	for (;;) {
		if (e == 0)
			return 0;
		e--;                                    /* the '\n' ending the previous line */
		for (s = e; s > 0 && raw[s - 1] != '\n'; s--)
			;
		while (s < e && (raw[s] == ' ' || raw[s] == '\t'))
			s++;
		if (s < e && !(e - s == 1 && raw[s] == '\r'))
			return e - s >= 3 && strncmp(raw + s, "```", 3) == 0;
		e = s;
		while (e > 0 && raw[e - 1] != '\n')
			e--;
	}
}


json_t *
ec_extract_json(const char *raw, size_t len, const char *name, ec_extract *x, ec_err *e)
{
	size_t start = 0, end = len, budget, p, i, nq = 0, ncand = 0, best_i = 0, skip = 0;
	cand best = { 0 }, worst = { 0 }, k;
	braces br = { 0 };
	json_t *found = NULL;
	int have_best = 0, have_fail = 0, line, col;

	x->bom = 0, x->commas = 0, *x->where = *x->unwrap_key = '\0';
	if (check_text(raw, len, name, e) < 0)
		return NULL;
	if (len >= 3 && memcmp(raw, "\xef\xbb\xbf", 3) == 0)
		start = 3, x->bom = 1;
	while (start < len && ec_is_space(raw[start]))
		start++;
	while (end > start && ec_is_space(raw[end - 1]))
		end--;
	if (start == end) {
		ec_fail(e, EC_EXIT_REJECT, "%s: empty output", name);
		return NULL;
	}
	if (raw[start] == '[') {
		ec_err e1;
		json_t *j = ec_json_loadb(raw + start, end - start, "x", &e1);
		if (json_is_array(j)) {
			json_decref(j);
			ec_fail(e, EC_EXIT_REJECT, "%s: $: expected an object, got an array", name);
			return NULL;
		}
		json_decref(j);
	}
	/* the '{' that may start a candidate */
	for (p = start; p < end && br.n < MAX_BRACES; p++)
		br.n += raw[p] == '{';
	br.pos = calloc(br.n + 1, sizeof *br.pos);
	br.end = calloc(br.n + 1, sizeof *br.end);
	br.closed = calloc(br.n + 1, 1);
	br.stcap = MAX_STACK;
	br.stack = malloc(br.stcap * sizeof *br.stack);
	if (!br.pos || !br.end || !br.closed || !br.stack) {
		ec_fail(e, EC_EXIT_TEMP, "%s: out of memory", name);
		goto done;
	}
	for (p = start, i = 0; p < end && i < br.n; p++)
		if (raw[p] == '{')
			br.pos[i++] = p;
	/* bound the work on hostile text: at most 64 passes over it */
	budget = 64 * len + 65536;
	for (i = 0; i < br.n; i++) {
		size_t b;
		int closed;
		p = br.pos[i];
		if (p < skip)
			continue;
		if (!br.end[i]) {
			size_t cost = scan_from(raw, end, &br, i);
			if (cost > budget)
				break;
			budget -= cost;
		}
		b = br.end[i];
		closed = br.closed[i];
		if (closed)
			try_candidate(raw, p, b, &k);
		else {
			memset(&k, 0, sizeof k);
			k.a = p, k.b = b;
		}
		nq++;
		if (!k.j) {
			if (!have_fail || k.b - k.a > worst.b - worst.a)
				worst = k, have_fail = 1;
			continue;
		}
		if ((k.score = x->score(k.j, &k.items, x->arg)) == 0) {
			/* not ours: maybe a wrapper, else look inside it for one that is */
			json_t *inner = x->unwrap ? x->unwrap(k.j, k.unwrap, sizeof k.unwrap, x->arg) : NULL;
			json_incref(inner);
			json_decref(k.j);
			if (!(k.j = inner))
				continue;
			k.score = x->score(k.j, &k.items, x->arg);
		}
		ncand++;
		if (!have_best || k.score > best.score ||
		    (k.score == best.score && k.items >= best.items)) {
			json_decref(best.j);
			best = k;
			best_i = ncand;
			have_best = 1;
		} else
			json_decref(k.j);
		skip = b;
	}
	if (!have_best) {
		if (have_fail)
			cand_error(raw, &worst, name, e);
		else if (nq)
			ec_fail(e, EC_EXIT_REJECT, "%s: $: no PersonaOutput in the output: no JSON object "
			    "has insights, recommendations or another PersonaOutput field", name);
		else
			ec_fail(e, EC_EXIT_REJECT, "%s: no JSON object found", name);
		goto done;
	}
	x->commas = best.commas;
	snprintf(x->unwrap_key, sizeof x->unwrap_key, "%s", best.unwrap);
	if (best.a != start || best.b != end || ncand > 1) {
		ec_line_col(raw, best.a, &line, &col);
		if (in_fence(raw, best.a))
			snprintf(x->where, sizeof x->where,
			    "JSON taken from a ``` fence at line %d", line);
		else
			snprintf(x->where, sizeof x->where, "JSON taken from prose at line %d", line);
		if (ncand > 1)
			snprintf(x->where + strlen(x->where), sizeof x->where - strlen(x->where),
			    " (object %zu of %zu candidates)", best_i, ncand);
	}
	found = best.j;
done:
	free(br.pos);
	free(br.end);
	free(br.closed);
	free(br.stack);
	return found;
}
