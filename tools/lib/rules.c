/*
 * rules.c - the built-in persona engine: one rule base applied to one PersonaInput.
 *
 * The knowledge lives in data (pipeline/personas/rules/NAME.json, format in
 * pipeline/personas/FORMAT.md and persona-rules(5)); this file only knows how to
 * match words, phrases, synonym groups and signals against an epic and how to turn
 * the rules that fire into a PersonaOutput. It runs in-process inside persona-run
 * and as the persona-rules command, so it is library code: it never prints and
 * never exits, and it is deterministic — no clock, no randomness, rule order only.
 *
 * One call: the description is tokenised once into words (lowercased, lightly
 * stemmed, interned to integer ids, with their byte span, sentence and clause),
 * and an inverted index maps each stem to its positions. The rule base is then
 * compiled for this call — every term stemmed once and looked up in the intern
 * table, so a term whose words never occur costs nothing more — and each phrase's
 * occurrences are found through the index on first use and remembered. The cost
 * is proportional to the text plus the terms plus the matches, never their product.
 * Everything the call allocates lives in one arena and a few vectors freed at the
 * end. The text and its index are rulestext.c, compiling the rule base is
 * rulescompile.c (sharing the private rules.h); this file evaluates the rules and
 * writes the PersonaOutput.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rulebase.h"

#define MAX_MATCHES 3           /* {matches} joins at most this many */
#define TITLE_MAX 200           /* characters, the schema's maxLength of a title */
#define MAX_BASELINE 3          /* baseline questions when nothing specific fired */

static int
coll_hit(ctx *c, coll *col, uint32_t pos, uint32_t n)
{
	if (eng_grow(c, &col->h, &col->caph, col->nh + 1, sizeof *col->h) < 0)
		return -1;
	col->h[col->nh].pos = pos;
	col->h[col->nh++].n = n;
	return 0;
}

static void
coll_phrase(ctx *c, coll *col, const phrase *p)
{
	for (uint32_t k = 0; col && k < p->npos; k++)
		coll_hit(c, col, p->pos[k], p->n);
}

/* The visible signal matching t, or NULL. */
static const char *
signal_find(const ctx *c, const term *t)
{
	for (size_t i = 0; i < c->nsigs; i++) {
		const char *s = c->sigs[i];
		if (strncmp(s, t->sig, t->siglen) == 0 && (t->prefix || s[t->siglen] == '\0'))
			return s;
	}
	return NULL;
}

static int cond_eval(ctx *c, const cond *k, coll *col);

/* Does t hold? With col, record what matched (every match, not just the first). */
static int
term_eval(ctx *c, term *t, coll *col)
{
	const char *s;
	int found = 0;

	switch (t->kind) {
	case T_PHRASE:
		eng_phrase_eval(c, &t->ph);
		coll_phrase(c, col, &t->ph);
		return t->ph.npos > 0;
	case T_GROUP:
		for (size_t k = 0; k < t->g->n; k++) {
			eng_phrase_eval(c, &t->g->p[k]);
			if (t->g->p[k].npos) {
				found = 1;
				if (!col)
					break;
				coll_phrase(c, col, &t->g->p[k]);
			}
		}
		return found;
	case T_SIGNAL:
		if (!(s = signal_find(c, t)))
			return 0;
		if (col && eng_grow(c, &col->sig, &col->caps, col->ns + 1, sizeof *col->sig) == 0)
			col->sig[col->ns++] = s;
		return 1;
	case T_COND:
		return cond_eval(c, t->cond, col);
	}
	return 0;
}

/*
 * Does the condition hold? Every clause present must: all terms of `all`, one term
 * of `any`, no term of `none`. With col, what a failing condition matched is taken
 * back, and `none` never records anything.
 */
static int
cond_eval(ctx *c, const cond *k, coll *col)
{
	size_t mh = col ? col->nh : 0, ms = col ? col->ns : 0;
	int ok = 1;

	for (size_t i = 0; ok && i < k->nall; i++)
		ok = term_eval(c, &k->all[i], col);
	if (ok && k->nany) {
		int any = 0;
		for (size_t i = 0; i < k->nany && (col || !any); i++)
			if (term_eval(c, &k->any[i], col))
				any = 1;
		ok = any;
	}
	for (size_t i = 0; ok && i < k->nnone; i++)
		if (term_eval(c, &k->none[i], NULL))
			ok = 0;
	if (!ok && col) {
		col->nh = mh;
		col->ns = ms;
	}
	return ok;
}

/* Append s[0..n) to the scratch string c->buf at *len, NUL-terminated. */
static int
put(ctx *c, size_t *len, const char *s, size_t n)
{
	if (eng_grow(c, &c->buf, &c->bufcap, *len + n + 1, 1) < 0)
		return -1;
	memcpy(c->buf + *len, s, n);
	*len += n;
	c->buf[*len] = '\0';
	return 0;
}

/* Append the epic's text of a hit, whitespace runs as one space. */
static int
put_hit(ctx *c, size_t *len, const hit *h)
{
	const tok *a = &c->t[h->pos], *b = &c->t[h->pos + h->n - 1];
	const char *s = c->text + a->off, *end = c->text + b->off + b->len;

	while (s < end) {
		if (ec_is_space((unsigned char)*s)) {
			while (s < end && ec_is_space((unsigned char)*s))
				s++;
			if (put(c, len, " ", 1) < 0)
				return -1;
		} else if (put(c, len, s++, 1) < 0)
			return -1;
	}
	return 0;
}

static int
hit_cmp(const void *a, const void *b)
{
	const hit *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return x->n > y->n ? -1 : x->n < y->n;     /* the longest first */
}

/* Do two hits read the same, ignoring case and spacing? */
static int
hit_same(const ctx *c, const hit *x, const hit *y)
{
	if (x->n != y->n)
		return 0;
	for (uint32_t k = 0; k < x->n; k++) {
		const tok *a = &c->t[x->pos + k], *b = &c->t[y->pos + k];
		if (a->len != b->len)
			return 0;
		for (uint32_t q = 0; q < a->len; q++) {
			unsigned char p = (unsigned char)c->text[a->off + q];
			unsigned char r = (unsigned char)c->text[b->off + q];
			if (p >= 'A' && p <= 'Z')
				p += 32;
			if (r >= 'A' && r <= 'Z')
				r += 32;
			if (p != r)
				return 0;
		}
	}
	return 1;
}

typedef struct fill {
	const char *mode, *title;
	coll *col;              /* hits sorted by position */
} fill;

/*
 * Expand {match}, {matches}, {mode} and {title} in tmpl into c->buf: {match} is
 * the first text match in the epic, else the first matched signal, else the
 * title; {matches} up to three distinct ones joined by ", ". Other braces stay.
 */
static int
expand(ctx *c, const char *tmpl, const fill *f)
{
	size_t len = 0;

	if (put(c, &len, "", 0) < 0)
		return -1;
	for (const char *s = tmpl; *s; ) {
		const char *brace = strchr(s, '{');
		int r = 0;
		if (!brace)
			return put(c, &len, s, strlen(s));
		if (put(c, &len, s, (size_t)(brace - s)) < 0)
			return -1;
		s = brace;
		if (strncmp(s, "{match}", 7) == 0 || strncmp(s, "{matches}", 9) == 0) {
			int many = s[6] == 'e';
			size_t shown = 0, idx[MAX_MATCHES];
			s += many ? 9 : 7;
			if (f->col->nh) {
				/* the longest of overlapping hits (they come first), distinct in
				 * spelling */
				uint32_t end = 0;
				for (size_t i = 0; i < f->col->nh && shown < (many ? MAX_MATCHES : 1); i++) {
					const hit *h = &f->col->h[i];
					size_t q;
					if (i > 0 && h->pos < end)
						continue;
					end = h->pos + h->n;
					for (q = 0; q < shown && !hit_same(c, &f->col->h[idx[q]], h); q++)
						;
					if (q < shown)
						continue;
					if ((shown && put(c, &len, ", ", 2) < 0) || put_hit(c, &len, h) < 0)
						return -1;
					idx[shown++] = i;
				}
			} else if (f->col->ns) {
				for (size_t i = 0; i < f->col->ns && shown < (many ? MAX_MATCHES : 1); i++) {
					size_t q;
					for (q = 0; q < i && strcmp(f->col->sig[q], f->col->sig[i]); q++)
						;
					if (q < i)
						continue;
					if ((shown++ && put(c, &len, ", ", 2) < 0) ||
					    put(c, &len, f->col->sig[i], strlen(f->col->sig[i])) < 0)
						return -1;
				}
			} else
				r = put(c, &len, f->title, strlen(f->title));
		} else if (strncmp(s, "{mode}", 6) == 0) {
			s += 6;
			r = put(c, &len, f->mode, strlen(f->mode));
		} else if (strncmp(s, "{title}", 7) == 0) {
			s += 7;
			r = put(c, &len, f->title, strlen(f->title));
		} else
			r = put(c, &len, s++, 1);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Cut a UTF-8 string in c->buf to at most max characters. */
static void
cut_chars(ctx *c, size_t max)
{
	c->buf[ec_utf8_prefix(c->buf, max, (size_t)-1)] = '\0';
}

/* "N-M person-days" (effort.c). */
static json_t *
person_days(double min, double max)
{
	char s[160];

	ec_effort_days_text(s, sizeof s, min, max);
	return json_string(s);
}

/* Append s to the string array a unless it is there: 0 added, 1 there, -1 no memory. */
static int
add_unique(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return 1;
	return json_array_append_new(a, json_string(s));
}

/* Make the visible signals: everything upstream personas emitted, in input order. */
static int
upstream(ctx *c, const json_t *acc)
{
	const char *name;
	json_t *f, *v, *r;
	size_t i;

	json_object_foreach((json_t *)acc, name, f) {
		json_array_foreach(json_object_get(f, "signals"), i, v) {
			if (!json_is_string(v))
				continue;
			if (eng_grow(c, &c->sigs, &c->capsigs, c->nsigs + 1, sizeof *c->sigs) < 0)
				return -1;
			c->sigs[c->nsigs++] = json_string_value(v);
		}
		json_array_foreach(json_object_get(f, "recommendations"), i, r) {
			const char *id = json_string_value(json_object_get(r, "id"));
			if (!id)
				continue;
			eng_st_find(c, &c->ids, id, strlen(id), 1);
			if (c->oom)
				return -1;
		}
	}
	return 0;
}

/* Add a rule's signals to the visible ones and to the output's. */
static int
emit_signals(ctx *c, const json_t *sigs, json_t *out)
{
	size_t i, k;
	json_t *v;

	json_array_foreach(sigs, i, v) {
		const char *s = json_string_value(v);
		if (!s)
			continue;
		if (add_unique(out, s) < 0)
			return eng_oom(c);
		for (k = 0; k < c->nsigs && strcmp(c->sigs[k], s); k++)
			;
		if (k < c->nsigs)
			continue;
		if (eng_grow(c, &c->sigs, &c->capsigs, c->nsigs + 1, sizeof *c->sigs) < 0)
			return -1;
		c->sigs[c->nsigs++] = s;
	}
	return 0;
}

/*
 * Whether condition k holds: decided first, short-circuiting; then, if it does, what
 * it matched is collected into col, in text order, for the placeholders. 1, 0, or -1
 * out of memory.
 */
static int
holds(ctx *c, const cond *k, coll *col)
{
	if (!cond_eval(c, k, NULL))
		return c->oom ? -1 : 0;
	col->nh = col->ns = 0;
	cond_eval(c, k, col);
	if (c->oom)
		return -1;
	if (col->nh > 1)
		qsort(col->h, col->nh, sizeof *col->h, hit_cmp);
	return 1;
}

/*
 * Whether the epic answers rule ru's concern (its "answers" condition holds): then
 * *answer is the words that answer it (malloc'd), else NULL. 0, or -1 out of memory.
 */
static int
answered(ctx *c, const rule *ru, const fill *f, char **answer)
{
	coll col = { 0 };
	fill af = { f->mode, f->title, &col };
	int rc = 0;

	*answer = NULL;
	if ((rc = holds(c, ru->answered, &col)) > 0)
		rc = expand(c, "{match}", &af) < 0 ? -1 : (*answer = strdup(c->buf)) ? 0 : eng_oom(c);
	free(col.h);
	free(col.sig);
	return rc;
}

/* The recommendation of a fired rule, without dependencies (pruned at the end). */
static json_t *
make_rec(ctx *c, const rule *ru, const json_t *rec, const fill *f, int force_blocking,
    double *min, double *max)
{
	const json_t *eff = json_object_get(rec, "effortDays");
	const json_t *refs = json_object_get(rec, "references");
	/* a baseline question is a question: never blocking, even when enforced */
	const char *type = ru->baseline ? "suggested" : force_blocking ? "blocking" :
	    ec_json_get_str(rec, "type", "suggested");
	char *answer = NULL;
	json_t *o;

	*min = eng_num(json_object_get(eff, "min"), 0);
	*max = eng_num(json_object_get(eff, "max"), *min);
	/* Answering the review closes it: what the epic already gives is not blocking. */
	if (!force_blocking && ru->answered && !strcmp(type, "blocking")) {
		if (answered(c, ru, f, &answer) < 0)
			return NULL;
		if (answer)
			type = "suggested";
	}
	if (!(o = json_object())) {
		free(answer);
		return NULL;
	}
	json_object_set_new(o, "id", json_string(ru->id));
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "priority", json_string(ec_json_get_str(rec, "priority", "medium")));
	if (expand(c, ec_json_get_str(rec, "title", ru->id), f) < 0)
		goto fail;
	cut_chars(c, TITLE_MAX);
	json_object_set_new(o, "title", json_string(c->buf));
	if (expand(c, ec_json_get_str(rec, "description", ""), f) < 0)
		goto fail;
	if (answer) {
		ec_buf b = { 0 };
		char *d;
		ec_buf_printf(&b, "%s The epic already speaks to this (\"%s\"): check that it "
		    "covers the above.", *c->buf ? c->buf : ru->id, answer);
		if (!(d = ec_buf_take(&b)))
			goto fail;
		json_object_set_new(o, "description", json_string(d));
		free(d);
	} else
		json_object_set_new(o, "description", json_string(*c->buf ? c->buf : ru->id));
	json_object_set_new(o, "references", json_is_array(refs) ? json_deep_copy(refs) :
	    json_array());
	if (eff) {
		json_t *e = json_object();
		json_object_set_new(e, "min", ec_json_number(*min));
		json_object_set_new(e, "max", ec_json_number(*max));
		json_object_set_new(o, "effortDays", e);
	}
	json_object_set_new(o, "estimatedCost", person_days(*min, *max));
	if (json_is_string(json_object_get(rec, "concern")))
		json_object_set(o, "concern", json_object_get(rec, "concern"));
	free(answer);
	return o;
fail:
	free(answer);
	json_decref(o);
	return NULL;
}

/*
 * Confidence: the share of the epic's sentences in which a fired rule matched
 * text, mapped to 0.35..0.95, minus up to 0.25 for a description shorter than 120
 * words; kept within 0.05..0.95 and rounded to two decimals.
 */
static double
confidence(const ctx *c, const unsigned char *covered)
{
	size_t n = 0;
	double share, conf;

	for (size_t i = 0; i < c->nsent; i++)
		n += covered[i];
	share = c->nsent ? (double)n / (double)c->nsent : 0;
	conf = 0.35 + 0.60 * share;
	if (c->nt < 120)
		conf -= 0.25 * (double)(120 - c->nt) / 120.0;
	if (conf < 0.05)
		conf = 0.05;
	if (conf > 0.95)
		conf = 0.95;
	return ec_round2(conf);
}

void
eng_ctx_free(ctx *c)
{
	while (c->arena) {
		chunk *k = c->arena->next;
		free(c->arena);
		c->arena = k;
	}
	free(c->t);
	eng_st_free(&c->stems);
	eng_st_free(&c->words);
	free(c->wordinfo);
	eng_st_free(&c->ids);
	free(c->sigs);
	free(c->buf);
	for (size_t i = 0; i < c->nowned; i++)
		json_decref(c->owned[i]);
	free(c->owned);
}

/* A recommendation that fired, before the volume is calibrated. */
typedef struct cand {
	const rule *ru;
	json_t *r;              /* new reference; NULL once given away or folded */
	double mn, mx;          /* its effort */
	int score;              /* how specific it is: higher is kept first */
	size_t order;           /* rule order, the tie-break */
	int kept;               /* calibrate: within the volume */
} cand;

/* What firing a rule adds to, besides its recommendation. */
typedef struct fset {
	json_t *fired, *signals, *insights;
	unsigned char *covered; /* per sentence: a fired rule matched text in it */
} fset;

/*
 * How specific a fired recommendation is: its priority and type, how much evidence
 * its condition found (distinct text matches and signals, a few of each) and whether
 * it needed several things at once ("all"). Generic advice triggered by one word
 * ranks below advice the epic gave several reasons for.
 */
static int
specificity(const rule *ru, const json_t *rec, const coll *col, int blocking)
{
	int score = 2 * ec_priority_rank(ec_json_get_str(rec, "priority", "medium"));

	score += blocking ? 3 : 0;
	score += col->nh < 3 ? (int)col->nh : 3;
	score += col->ns < 2 ? (int)col->ns : 2;
	return score + (ru->has_all ? 2 : 0);
}

/*
 * Fire rule ru if its condition holds: its signals and insight are added to fs, the
 * sentences its text matches are marked covered, and its recommendation (if any) is
 * made into *cd (cd->r stays NULL otherwise). 0, or -1 (c->e or c->oom).
 */
static int
fire(ctx *c, const rule *ru, const fill *f, int force, fset *fs, cand *cd)
{
	const json_t *rj, *rec;
	const char *ins;
	coll *col = f->col;
	int dup, held;

	memset(cd, 0, sizeof *cd);
	col->nh = col->ns = 0;
	if (ru->when && (held = holds(c, ru->when, col)) <= 0)
		return held;
	if (!(rj = eng_rule_json(c, ru)))
		return -1;
	rec = json_object_get(rj, "recommendation");
	ins = json_string_value(json_object_get(rj, "insight"));
	for (size_t k = 0; k < col->nh; k++)
		fs->covered[c->t[col->h[k].pos].sent] = 1;
	/* a repeated id (a rule base that skipped ec_rules_load) fires once */
	if ((dup = add_unique(fs->fired, ru->id)) < 0)
		return eng_oom(c);
	if (dup)
		return 0;
	if (emit_signals(c, json_object_get(rj, "signals"), fs->signals) < 0)
		return -1;
	if (ins) {
		if (expand(c, ins, f) < 0)
			return -1;
		if (*c->buf && add_unique(fs->insights, c->buf) < 0)
			return eng_oom(c);
	}
	if (json_is_object(rec)) {
		if (!(cd->r = make_rec(c, ru, rec, f, force, &cd->mn, &cd->mx)))
			return eng_oom(c);
		cd->ru = ru;
		cd->order = (size_t)(ru - c->rules);
		cd->score = specificity(ru, rec, col, !strcmp(ec_json_get_str(cd->r, "type", ""),
		    "blocking"));
	}
	return 0;
}

static int
by_specificity(const void *x, const void *y)
{
	const cand *p = *(const cand *const *)x, *q = *(const cand *const *)y;

	if (p->score != q->score)
		return q->score - p->score;
	return (p->order > q->order) - (p->order < q->order);
}

/*
 * Keep at most the rule base's volume for this mode ("volume": {"standard": 6}) of
 * the candidates, the most specific ones, one per concern before any second one of
 * a concern; the others are folded into one insight,
 * "Also consider: TITLE; TITLE." (no padding: fewer is fewer). Without a volume,
 * everything is kept. 0, or -1 out of memory.
 */
static int
calibrate(ctx *c, const json_t *rb, const char *mode, cand *v, size_t n, json_t *insights)
{
	json_int_t cap = ec_json_get_int(json_object_get(rb, "volume"), mode, 0);
	cand **order;
	ec_buf b = { 0 };
	size_t keep, cut;
	char *s;

	if (cap <= 0 || n <= (size_t)cap)
		return 0;
	if (!(order = malloc(n * sizeof *order)))
		return -1;
	for (size_t i = 0; i < n; i++)
		order[i] = &v[i];
	qsort(order, n, sizeof *order, by_specificity);
	/* Keep the most specific of each concern first: two answers to one question
	 * take a place a different question should have. Then, room left, the rest in
	 * order of specificity. */
	keep = 0;
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n && keep < (size_t)cap; i++) {
			const char *ci = ec_json_get_str(order[i]->r, "concern", NULL);
			int repeat = 0;
			if (order[i]->kept)
				continue;
			for (size_t k = 0; pass == 0 && ci && k < n && !repeat; k++)
				repeat = order[k]->kept &&
				    !strcmp(ec_json_get_str(order[k]->r, "concern", ""), ci);
			if (!repeat) {
				order[i]->kept = 1;
				keep++;
			}
		}
	/* the folded ones in rule order, for a stable text */
	for (size_t i = 0; i < n; i++)
		if (!order[i]->kept)
			order[i]->score = INT32_MIN;
	for (size_t i = 0; i < n; i++) {
		if (v[i].score != INT32_MIN)
			continue;
		ec_buf_printf(&b, b.n ? "; %s" : "Also consider: %s",
		    ec_json_get_str(v[i].r, "title", v[i].ru->id));
		json_decref(v[i].r);
		v[i].r = NULL;
	}
	free(order);
	if (!(s = ec_buf_take(&b)))
		return -1;
	/* cut on a character, leaving room for the full stop */
	cut = ec_utf8_prefix(s, TITLE_MAX * 5 - 1, strlen(s));
	ec_buf_printf(&b, "%.*s.", (int)cut, s);
	free(s);
	if (!(s = ec_buf_take(&b)))
		return -1;
	cut = add_unique(insights, s) < 0 ? (size_t)-1 : 0;
	free(s);
	return cut ? -1 : 0;
}

/*
 * A persona always says something: when no rule gave an insight, the rule base's
 * quietInsight, or a plain sentence that it found nothing specific to assess.
 */
static int
quiet_insight(ctx *c, const json_t *rb, const char *mode, const char *title, json_t *insights)
{
	const char *q = ec_json_get_str(rb, "quietInsight", NULL);
	fill f = { mode, title, NULL };
	coll none = { 0 };

	f.col = &none;
	if (!q) {
		char s[300];
		snprintf(s, sizeof s, "Nothing in %s calls for specific %s advice: the epic does "
		    "not describe what this review assesses.", title,
		    ec_json_get_str(rb, "costCategory", "further"));
		return add_unique(insights, s) < 0 ? -1 : 0;
	}
	if (expand(c, q, &f) < 0)
		return -1;
	return add_unique(insights, c->buf) < 0 ? -1 : 0;
}

/*
 * Check what the engine is given and compile the rule base against the epic into c:
 * the text, its discounted sections and quantities, the synonyms, the rules and what
 * earlier personas said. 0, or -1 with c->e (prefixed with the rule base) or c->oom.
 */
static int
prepare(ctx *c, const ec_rulebase *r, const json_t *input, const char *desc, int mbit)
{
	const json_t *rb = r->top;

	if (!desc)
		return ec_fail(c->e, EC_EXIT_REJECT, "$.epic.description: expected a string");
	if (!mbit)
		return ec_fail(c->e, EC_EXIT_REJECT, "$.epic.mode: expected mvp, standard or enterprise");
	if (!json_is_object(rb))
		return ec_fail(c->e, EC_EXIT_REJECT, "rule base: expected an object");
	if (eng_tokenise(c, desc, strlen(desc)) < 0 ||
	    eng_discount(c, json_object_get(rb, "discountSections")) < 0 ||
	    eng_quantities(c, json_object_get(rb, "quantities")) < 0 ||
	    (r->image ? eng_image_attach(c, r->image, r->image_len) :
	    eng_groups_compile(c, json_object_get(r->json, "synonyms")) < 0 ? -1 :
	    eng_rules_compile(c, r->json)) < 0 ||
	    upstream(c, ec_json_get(input, "epic.accumulatedInsights")) < 0) {
		if (!c->oom)
			ec_err_prefix(c->e, "rule base '%s'", ec_json_get_str(rb, "persona", "?"));
		return -1;
	}
	return 0;
}

/*
 * Fire the mode's rules that are baseline questions (baseline 1) or are not (0), in
 * rule order, until max candidates are in cands (*n so far). 0, or -1.
 */
static int
fire_rules(ctx *c, const fill *f, int mbit, int baseline, int force, fset *fs, cand *cands,
    size_t *n, size_t max)
{
	for (size_t i = 0; i < c->nrules && *n < max; i++) {
		const rule *ru = &c->rules[i];
		if (ru->baseline != baseline || !(ru->modes & mbit))
			continue;
		if (fire(c, ru, f, force, fs, &cands[*n]) < 0)
			return -1;
		*n += cands[*n].r != NULL;
	}
	return 0;
}

/*
 * How much the epic gives a rule base to assess (auto selection, plan.c): the
 * specific recommendations it would make in the mode (baseline questions and
 * insights do not count), and the titles of the most specific few, for the plan to
 * show why. 0, or -1 with e.
 */
int
ec_rules_relevance(const json_t *rb, const json_t *input, ec_relevance *rel, ec_err *e)
{
	ec_rulebase r = { .json = (json_t *)rb, .top = (json_t *)rb };

	return ec_rulebase_relevance(&r, input, rel, e);
}

int
ec_rulebase_relevance(const ec_rulebase *rb, const json_t *input, ec_relevance *rel,
    ec_err *e)
{
	ctx c = { .e = e };
	const char *mode = ec_json_get_str(input, "epic.mode", "standard");
	int mbit = eng_mode_bit(mode), rc = -1;
	json_t *fired = json_array(), *signals = json_array(), *insights = json_array();
	unsigned char *covered = NULL;
	coll col = { 0 };
	fill f = { mode, "this epic", &col };
	cand *cands = NULL, **order = NULL;
	size_t n = 0;
	fset fs;

	memset(rel, 0, sizeof *rel);
	if (prepare(&c, rb, input, ec_json_get_str(input, "epic.description", NULL), mbit) < 0)
		goto done;
	if (!fired || !signals || !insights || !(covered = calloc(c.nsent + 1, 1)) ||
	    !(cands = calloc(c.nrules + 1, sizeof *cands)) ||
	    !(order = calloc(c.nrules + 1, sizeof *order))) {
		eng_oom(&c);
		goto done;
	}
	fs = (fset){ fired, signals, insights, covered };
	if (fire_rules(&c, &f, mbit, 0, 0, &fs, cands, &n, c.nrules) < 0)
		goto done;
	rel->score = (int)n;
	/* the three most specific, in rule order among equals, as the volume ranks them */
	for (size_t k = 0; k < n; k++)
		order[k] = &cands[k];
	qsort(order, n, sizeof *order, by_specificity);
	for (size_t k = 0; k < n && k < 3; k++)
		snprintf(rel->why + strlen(rel->why), sizeof rel->why - strlen(rel->why), "%s%s",
		    k ? "; " : "", ec_json_get_str(order[k]->r, "title", order[k]->ru->id));
	rc = 0;
done:
	for (size_t k = 0; k < n; k++)
		json_decref(cands[k].r);
	free(cands);
	free(order);
	json_decref(fired), json_decref(signals), json_decref(insights);
	free(covered);
	free(col.h);
	free(col.sig);
	eng_ctx_free(&c);
	return rc;
}

/* The rank of a recommendation's urgency: blocking first, then priority. */
static int
urgency(const json_t *r)
{
	return (!strcmp(ec_json_get_str(r, "type", ""), "blocking") ? 10 : 0) +
	    ec_priority_rank(ec_json_get_str(r, "priority", "medium"));
}

/*
 * The insight of a persona whose rules found things but said nothing general: which
 * finding is the most pressing (the first of the most urgent, in rule order).
 */
static int
pressing_insight(const json_t *rb, const char *title, json_t *const *recv, size_t n,
    json_t *insights)
{
	char s[400];
	size_t best = 0;

	for (size_t i = 1; i < n; i++)
		if (urgency(recv[i]) > urgency(recv[best]))
			best = i;
	if (n == 0)
		return 0;
	snprintf(s, sizeof s, "%zu %s finding%s for %s; the most pressing: %s.", n,
	    ec_json_get_str(rb, "costCategory", "review"), n == 1 ? "" : "s", title,
	    ec_json_get_str(recv[best], "title", "?"));
	return add_unique(insights, s) < 0 ? -1 : 0;
}

json_t *
ec_rules_apply(const json_t *rb, const json_t *input, ec_err *e)
{
	ec_rulebase r = { .json = (json_t *)rb, .top = (json_t *)rb };

	return ec_rulebase_apply(&r, input, e);
}

json_t *
ec_rulebase_apply(const ec_rulebase *r, const json_t *input, ec_err *e)
{
	const json_t *rb = r->top;
	ctx c = { .e = e };
	const char *desc = ec_json_get_str(input, "epic.description", NULL);
	const char *mode = ec_json_get_str(input, "epic.mode", "standard");
	const char *title = ec_json_get_str(input, "epic.context.title", NULL);
	int mbit = eng_mode_bit(mode);
	/* The plan (persona-run) says whether this persona's findings are blocking. */
	int force = ec_json_get_bool(input, "persona.enforced", 0);
	json_t *out = NULL, *insights = NULL, *recs = NULL, *signals = NULL, *fired = NULL;
	json_t *pj, *cost, *meta, *eff;
	json_t **recv = NULL;
	const rule **recr = NULL;
	unsigned char *covered = NULL;
	coll col = { 0 };
	cand *cands = NULL;
	fset fs;
	fill f;
	double tmin = 0, tmax = 0;
	size_t nrec = 0, ncand = 0;
	int quiet;

	if (!title || !*title)
		title = "this epic";
	if (prepare(&c, r, input, desc, mbit) < 0)
		goto fail;
	out = json_object();
	insights = json_array();
	recs = json_array();
	signals = json_array();
	fired = json_array();
	covered = calloc(c.nsent + 1, 1);
	recv = calloc(c.nrules + 1, sizeof *recv);
	recr = calloc(c.nrules + 1, sizeof *recr);
	cands = calloc(c.nrules + 1, sizeof *cands);
	if (!out || !insights || !recs || !signals || !fired || !covered || !recv || !recr ||
	    !cands) {
		json_decref(insights), json_decref(recs), json_decref(signals), json_decref(fired);
		eng_oom(&c);
		goto fail;
	}
	json_object_set_new(out, "insights", insights);
	json_object_set_new(out, "recommendations", recs);
	json_object_set_new(out, "signals", signals);
	fs = (fset){ fired, signals, insights, covered };

	f = (fill){ mode, title, &col };
	if (fire_rules(&c, &f, mbit, 0, force, &fs, cands, &ncand, c.nrules) < 0)
		goto fail;
	/* Nothing specific: up to MAX_BASELINE baseline questions, never blocking. */
	quiet = ncand == 0;
	if (quiet && fire_rules(&c, &f, mbit, 1, 0, &fs, cands, &ncand, MAX_BASELINE) < 0)
		goto fail;
	if (!quiet && calibrate(&c, rb, mode, cands, ncand, insights) < 0)
		goto nomem;
	for (size_t i = 0; i < ncand; i++) {
		if (!cands[i].r)
			continue;       /* folded into "also consider" */
		if (json_array_append_new(recs, cands[i].r) < 0) {
			cands[i].r = NULL;
			goto nomem;
		}
		eng_st_find(&c, &c.ids, cands[i].ru->id, strlen(cands[i].ru->id), 1);
		if (c.oom)
			goto fail;
		recv[nrec] = cands[i].r;
		recr[nrec++] = cands[i].ru;
		cands[i].r = NULL;
		tmin += cands[i].mn;
		tmax += cands[i].mx;
	}
	/* Never silent: nothing specific, the quiet insight; findings but no insight of a
	 * rule's, the most pressing finding named (the quiet sentence would be false). */
	if (json_array_size(insights) == 0 &&
	    (quiet ? quiet_insight(&c, rb, mode, title, insights) :
	    pressing_insight(rb, title, recv, nrec, insights)) < 0)
		goto nomem;

	/* dependencies: only ids that exist here or upstream, so none dangles */
	for (size_t q = 0; q < nrec; q++) {
		const json_t *deps = ec_json_get(recr[q]->j, "recommendation.dependencies");
		json_t *d = json_array(), *v;
		size_t k;
		if (!d)
			goto nomem;
		json_array_foreach(deps, k, v) {
			const char *id = json_string_value(v);
			if (id && strcmp(id, recr[q]->id) &&
			    eng_st_find(&c, &c.ids, id, strlen(id), 0) != NONE && add_unique(d, id) < 0) {
				json_decref(d);
				goto nomem;
			}
		}
		json_object_set_new(recv[q], "dependencies", d);
	}

	tmin = ec_round2(tmin);
	tmax = ec_round2(tmax);
	pj = json_object();
	cost = json_object();
	meta = json_object();
	eff = json_object();
	if (!pj || !cost || !meta || !eff) {
		json_decref(pj), json_decref(cost), json_decref(meta), json_decref(eff);
		goto nomem;
	}
	json_object_set_new(pj, "name", json_string(ec_json_get_str(input, "persona.name",
	    ec_json_get_str(rb, "persona", "unknown"))));
	json_object_set_new(pj, "reviewOrder", json_integer(ec_json_get_int(input,
	    "persona.reviewOrder", 1)));
	json_object_set_new(pj, "status", json_string("completed"));
	json_object_set_new(pj, "executionTime", json_integer(0));
	json_object_set_new(out, "persona", pj);

	json_object_set_new(eff, "min", ec_json_number(tmin));
	json_object_set_new(eff, "max", ec_json_number(tmax));
	json_object_set_new(cost, "category", json_string(ec_json_get_str(rb, "costCategory",
	    "general")));
	json_object_set_new(cost, "amount", person_days(tmin, tmax));
	json_object_set_new(cost, "effortDays", eff);
	json_object_set_new(out, "costAnalysis", cost);

	json_object_set_new(out, "confidence", json_real(confidence(&c, covered)));

	json_object_set_new(meta, "model", json_string("rules"));
	json_object_set_new(meta, "tokens", json_integer(0));
	json_object_set_new(meta, "version", json_string(ec_json_get_str(rb, "version", "0")));
	json_object_set_new(meta, "engine", json_string("persona-rules " EC_VERSION));
	json_object_set_new(meta, "rulesFired", fired);
	fired = NULL;
	json_object_set_new(meta, "rulesTotal", json_integer((json_int_t)c.nrules));
	json_object_set_new(out, "metadata", meta);
	goto done;
nomem:
	eng_oom(&c);
fail:
	json_decref(fired);
	json_decref(out);
	out = NULL;
done:
	for (size_t i = 0; cands && i < ncand; i++)
		json_decref(cands[i].r);
	free(cands);
	free(covered);
	free(recv);
	free(recr);
	free(col.h);
	free(col.sig);
	eng_ctx_free(&c);
	return out;
}
