/*
 * rulesimage.c - a rule base compiled once and kept as an image, so that a
 * persona-run neither parses nor compiles its 150-250 KB rule base again.
 *
 * Building the JSON values of a rule base (even from jsonbin.c's binary) and
 * compiling its groups, terms and conditions cost more than applying it to an
 * epic; both give the same structures every time for the same bytes. The image
 * holds those structures as flat records of indices and offsets, which attaching
 * turns into the engine's own structs in one pass (no parsing, no hashing of
 * strings). What a rule says when it fires (recommendation, insight, signals) stays
 * JSON, one jsonbin value per rule, decoded only for the rules that fire.
 *
 *     "ECRI1\n\0\0"  XXH3-64 of the payload (8 bytes)  payload
 *     payload: 8 u32 counts (string bytes, groups, phrases, terms, conditions,
 *              rules, top-level jsonbin bytes, rule jsonbin bytes), then the
 *              sections in that order: strings (NUL-terminated, the pool ends in
 *              NUL), groups {name, first phrase, phrases}, phrases {text, length},
 *              terms {kind, a, b, c}, conditions {any, n, all, n, none, n: term
 *              ranges}, rules {id, modes, flags, when, answered, json offset,
 *              json length, 0}, the rule base's own fields (jsonbin), the rules'
 *              JSON (jsonbin each).
 *
 * Integers are native (little-endian here), as jsonbin.c's. The image lives in the
 * spool's cache, and its readers do not trust its bounds: the check proves every
 * index and offset in bounds, every string terminated, and the conditions a tree
 * (a condition's sub-conditions come before it, so evaluation cannot loop) no
 * deeper than EC_MAX_JSON_DEPTH; an image that fails is rebuilt from the JSON
 * (fuzz_rules_image). What the check does not prove is that a rule's words are
 * what the rule-base schema allows: images are written only by the spool's owner
 * (no one else can write in cache/), who also writes cache/valid/'s markers that
 * let checked bytes skip the schema; an image's words are trusted as a marker is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rulebase.h"

#define MAGIC "ECRI1\n\0\0"
#define MAGIC_LEN 8
#define HEADER_LEN (MAGIC_LEN + 8)

enum { N_STR, N_GROUP, N_PHRASE, N_TERM, N_COND, N_RULE, N_STEM, N_WORD, N_TOP, N_JSON,
	N_COUNTS };
/* u32 per record of each section */
enum { GROUP_W = 3, PHRASE_W = 4, TERM_W = 4, COND_W = 6, RULE_W = 8, STEM_W = 2 };
#define PHRASE_LITERAL 0x80000000u   /* in a phrase's word count: the first word negates */
enum { RULE_BASELINE = 1, RULE_HAS_ALL = 2 };

/* --- building ---------------------------------------------------------- */

typedef struct u32v {
	uint32_t *v;
	size_t n, cap;
} u32v;

typedef struct build {
	ctx *c;
	ec_buf str, json;
	u32v group, phrase, term, cond, rule, word;
	strtab stems;           /* the phrases' stems, by first appearance */
	int oom;
} build;

static void
push(build *b, u32v *v, const uint32_t *rec, size_t n)
{
	if (v->n + n > v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		uint32_t *p;
		while (cap < v->n + n)
			cap *= 2;
		if (!(p = realloc(v->v, cap * sizeof *p))) {
			b->oom = 1;
			return;
		}
		v->v = p;
		v->cap = cap;
	}
	memcpy(v->v + v->n, rec, n * sizeof *rec);
	v->n += n;
}

/* s[0..n) into the string pool, NUL-terminated: its offset. */
static uint32_t
str(build *b, const char *s, size_t n)
{
	uint32_t off = (uint32_t)b->str.n;

	ec_buf_put(&b->str, s, n);
	ec_buf_putc(&b->str, '\0');
	return off;
}

/* One stemmed word of the phrase being put (eng_phrase_stems). */
static int
put_word(void *arg, const char *stem, size_t n, int neg)
{
	build *b = arg;
	uint32_t *rec = &b->phrase.v[b->phrase.n - PHRASE_W], id;

	if ((rec[3] & ~PHRASE_LITERAL) == 0 && neg)
		rec[3] |= PHRASE_LITERAL;
	if ((id = eng_st_find(b->c, &b->stems, stem, n, 1)) == NONE)
		return -1;
	push(b, &b->word, &id, 1);
	rec[3]++;
	return b->oom ? -1 : 0;
}

/* Phrase p, its words stemmed: its index. */
static uint32_t
put_phrase(build *b, const phrase *p)
{
	uint32_t rec[PHRASE_W] = { str(b, p->src, p->srclen), (uint32_t)p->srclen,
	    (uint32_t)b->word.n, 0 };

	push(b, &b->phrase, rec, PHRASE_W);
	if (b->oom || eng_phrase_stems(b->c, p, put_word, b) < 0)
		b->oom = 1;
	return (uint32_t)(b->phrase.n / PHRASE_W - 1);
}

/* Condition k and, first, the conditions inside it: its index. */
static uint32_t
put_cond(build *b, const cond *k)
{
	const term *cl[3] = { k->any, k->all, k->none };
	size_t ncl[3] = { k->nany, k->nall, k->nnone };
	uint32_t rec[COND_W], *sub = calloc(k->nany + k->nall + k->nnone + 1, sizeof *sub);
	size_t q = 0;

	if (!sub) {
		b->oom = 1;
		return 0;
	}
	for (int i = 0; i < 3; i++)
		for (size_t j = 0; j < ncl[i]; j++, q++)
			if (cl[i][j].kind == T_COND)
				sub[q] = put_cond(b, cl[i][j].cond);
	q = 0;
	for (int i = 0; i < 3; i++) {
		rec[2 * i] = (uint32_t)(b->term.n / TERM_W);
		rec[2 * i + 1] = (uint32_t)ncl[i];
		for (size_t j = 0; j < ncl[i]; j++, q++) {
			const term *t = &cl[i][j];
			uint32_t tr[TERM_W] = { (uint32_t)t->kind, 0, 0, 0 };
			switch (t->kind) {
			case T_PHRASE:
				tr[1] = put_phrase(b, &t->ph);
				break;
			case T_GROUP:
				tr[1] = (uint32_t)(t->g - b->c->groups);
				break;
			case T_SIGNAL:
				tr[1] = str(b, t->sig, strlen(t->sig));
				tr[2] = (uint32_t)t->siglen;
				tr[3] = (uint32_t)t->prefix;
				break;
			default:
				tr[1] = sub[q];
			}
			push(b, &b->term, tr, TERM_W);
		}
	}
	free(sub);
	push(b, &b->cond, rec, COND_W);
	return (uint32_t)(b->cond.n / COND_W - 1);
}

/* A rule base's own fields: everything but what the records hold. */
static json_t *
top_fields(const json_t *rb)
{
	json_t *top = json_copy((json_t *)rb);

	if (top) {
		json_object_del(top, "rules");
		json_object_del(top, "synonyms");
		json_object_del(top, "answers");
	}
	return top;
}

static const build *sort_b;

static int
stem_cmp(const void *x, const void *y)
{
	const strtab *t = &sort_b->stems;
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	size_t n = t->len[a] < t->len[b] ? t->len[a] : t->len[b];
	int d = memcmp(t->s[a], t->s[b], n);

	return d ? d : (t->len[a] > t->len[b]) - (t->len[a] < t->len[b]);
}

/* The stems sorted by their bytes (for the lookup: rulestext.c img_map) into out as
 * (offset, length) records, and every word renumbered to its stem's place. */
static int
put_stems(build *b, u32v *out)
{
	size_t n = b->stems.n;
	uint32_t *order = malloc((n + 1) * sizeof *order), *rank = malloc((n + 1) * sizeof *rank);

	if (!order || !rank) {
		free(order), free(rank);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	sort_b = b;
	qsort(order, n, sizeof *order, stem_cmp);
	for (size_t i = 0; i < n; i++) {
		uint32_t rec[STEM_W] = { str(b, b->stems.s[order[i]], b->stems.len[order[i]]),
		    b->stems.len[order[i]] };
		rank[order[i]] = (uint32_t)i;
		push(b, out, rec, STEM_W);
	}
	for (size_t k = 0; k < b->word.n; k++)
		b->word.v[k] = rank[b->word.v[k]];
	free(order);
	free(rank);
	return 0;
}

/* The image of compiled context c (rb the rule base it was compiled from). */
static char *
serialise(build *b, const json_t *rb, size_t *len)
{
	const ctx *c = b->c;
	uint32_t counts[N_COUNTS];
	u32v stems = { 0 };
	char *topbin = NULL, *out = NULL;
	size_t toplen = 0, off;
	json_t *top;
	uint64_t h;

	for (size_t g = 0; g < c->ngroups; g++) {
		uint32_t rec[GROUP_W] = { str(b, c->groups[g].name, strlen(c->groups[g].name)),
		    (uint32_t)(b->phrase.n / PHRASE_W), (uint32_t)c->groups[g].n };
		push(b, &b->group, rec, GROUP_W);
		for (size_t k = 0; k < c->groups[g].n; k++)
			put_phrase(b, &c->groups[g].p[k]);
	}
	for (size_t i = 0; i < c->nrules && !b->oom; i++) {
		const rule *ru = &c->rules[i];
		uint32_t rec[RULE_W] = { str(b, ru->id, strlen(ru->id)), (uint32_t)ru->modes,
		    (ru->baseline ? RULE_BASELINE : 0) | (ru->has_all ? RULE_HAS_ALL : 0),
		    ru->when ? put_cond(b, ru->when) : NONE, NONE, (uint32_t)b->json.n, 0, 0 };
		size_t jl;
		char *jb = ec_jsonbin_encode(ru->j, &jl);
		/* An answer shared by rules of one concern is kept once per rule: small. */
		if (ru->answered)
			rec[4] = put_cond(b, ru->answered);
		if (!jb) {
			b->oom = 1;
			break;
		}
		ec_buf_put(&b->json, jb, jl);
		free(jb);
		rec[6] = (uint32_t)jl;
		push(b, &b->rule, rec, RULE_W);
	}
	if (put_stems(b, &stems) < 0)
		b->oom = 1;
	if (!b->str.n)
		str(b, "", 0);
	while (b->str.n % 4)
		ec_buf_putc(&b->str, '\0');    /* the records after the pool, 4-aligned */
	if ((top = top_fields(rb)))
		topbin = ec_jsonbin_encode(top, &toplen);
	json_decref(top);
	if (b->oom || b->str.oom || b->json.oom || !topbin)
		goto done;
	counts[N_STR] = (uint32_t)b->str.n;
	counts[N_GROUP] = (uint32_t)(b->group.n / GROUP_W);
	counts[N_PHRASE] = (uint32_t)(b->phrase.n / PHRASE_W);
	counts[N_TERM] = (uint32_t)(b->term.n / TERM_W);
	counts[N_COND] = (uint32_t)(b->cond.n / COND_W);
	counts[N_RULE] = (uint32_t)(b->rule.n / RULE_W);
	counts[N_STEM] = (uint32_t)(stems.n / STEM_W);
	counts[N_WORD] = (uint32_t)b->word.n;
	counts[N_TOP] = (uint32_t)toplen;
	counts[N_JSON] = (uint32_t)b->json.n;
	*len = HEADER_LEN + sizeof counts + b->str.n + 4 * (b->group.n + b->phrase.n +
	    b->term.n + b->cond.n + b->rule.n + stems.n + b->word.n) + toplen + b->json.n;
	if (!(out = malloc(*len)))
		goto done;
	off = HEADER_LEN;
/* (a section may be empty, its vector never allocated: no memcpy from NULL) */
#define PUT(p, n) do { size_t n_ = (n); if (n_) { memcpy(out + off, (p), n_); off += n_; } } while (0)
	PUT(counts, sizeof counts);
	PUT(b->str.p, b->str.n);
	PUT(b->group.v, 4 * b->group.n);
	PUT(b->phrase.v, 4 * b->phrase.n);
	PUT(b->term.v, 4 * b->term.n);
	PUT(b->cond.v, 4 * b->cond.n);
	PUT(b->rule.v, 4 * b->rule.n);
	PUT(stems.v, 4 * stems.n);
	PUT(b->word.v, 4 * b->word.n);
	PUT(topbin, toplen);
	PUT(b->json.p, b->json.n);
#undef PUT
	memcpy(out, MAGIC, MAGIC_LEN);
	h = ec_xxh3(out + HEADER_LEN, *len - HEADER_LEN);
	memcpy(out + MAGIC_LEN, &h, 8);
done:
	free(topbin);
	free(stems.v);
	return out;
}

char *
ec_rules_image_build(const json_t *rb, size_t *len, ec_err *e)
{
	ctx c = { .e = e };
	build b = { .c = &c };
	char *out = NULL;

	if (eng_groups_compile(&c, json_object_get(rb, "synonyms")) == 0 &&
	    eng_rules_compile(&c, rb) == 0 && !(out = serialise(&b, rb, len)))
		ec_fail(e, EC_EXIT_TEMP, "out of memory");
	free(b.str.p);
	free(b.json.p);
	free(b.group.v), free(b.phrase.v), free(b.term.v), free(b.cond.v), free(b.rule.v);
	free(b.word.v);
	eng_st_free(&b.stems);
	eng_ctx_free(&c);
	return out;
}

/* --- reading ----------------------------------------------------------- */

/* The sections of an image, once its bounds are known. */
typedef struct view {
	uint32_t n[N_COUNTS];
	const char *str;
	const uint32_t *group, *phrase, *term, *cond, *rule, *stem, *word;
	const char *top, *json;
} view;

/* Lay out the sections: 0, or -1 when the image is not one (cut, other magic,
 * other hash (unless hashed is set: checked already), counts that do not add up
 * to its length). */
static int
layout(const char *img, size_t len, view *v, int hashed)
{
	const char *p = img + HEADER_LEN + sizeof v->n;
	uint64_t h;
	size_t need = 0;

	if (len < HEADER_LEN + sizeof v->n || memcmp(img, MAGIC, MAGIC_LEN))
		return -1;
	memcpy(&h, img + MAGIC_LEN, 8);
	if (!hashed && h != ec_xxh3(img + HEADER_LEN, len - HEADER_LEN))
		return -1;
	memcpy(v->n, img + HEADER_LEN, sizeof v->n);
	/* each count is below 2^32, so the sum of eight cannot overflow a size_t */
	need = (size_t)v->n[N_STR] + 4 * ((size_t)v->n[N_GROUP] * GROUP_W +
	    (size_t)v->n[N_PHRASE] * PHRASE_W + (size_t)v->n[N_TERM] * TERM_W +
	    (size_t)v->n[N_COND] * COND_W + (size_t)v->n[N_RULE] * RULE_W +
	    (size_t)v->n[N_STEM] * STEM_W + v->n[N_WORD]) + v->n[N_TOP] + v->n[N_JSON];
	if (need != len - HEADER_LEN - sizeof v->n || v->n[N_STR] == 0)
		return -1;
	v->str = p, p += v->n[N_STR];
	v->group = (const uint32_t *)p, p += 4 * (size_t)v->n[N_GROUP] * GROUP_W;
	v->phrase = (const uint32_t *)p, p += 4 * (size_t)v->n[N_PHRASE] * PHRASE_W;
	v->term = (const uint32_t *)p, p += 4 * (size_t)v->n[N_TERM] * TERM_W;
	v->cond = (const uint32_t *)p, p += 4 * (size_t)v->n[N_COND] * COND_W;
	v->rule = (const uint32_t *)p, p += 4 * (size_t)v->n[N_RULE] * RULE_W;
	v->stem = (const uint32_t *)p, p += 4 * (size_t)v->n[N_STEM] * STEM_W;
	v->word = (const uint32_t *)p, p += 4 * (size_t)v->n[N_WORD];
	v->top = p, p += v->n[N_TOP];
	v->json = p;
	return 0;
}

/* A u32 of a record (records may be unaligned: the pool's length is arbitrary). */
static uint32_t
rd32(const uint32_t *base, size_t i)
{
	uint32_t x;

	memcpy(&x, (const char *)base + 4 * i, 4);
	return x;
}

/* A string of the pool at off (it ends at the pool's NUL, if not before). */
static int
str_at(const view *v, uint32_t off)
{
	return off < v->n[N_STR];
}

/* A string of the pool at off of exactly len bytes, NUL-terminated. */
static int
str_ok(const view *v, uint32_t off, uint32_t len)
{
	return off < v->n[N_STR] && len < v->n[N_STR] - off && v->str[off + len] == '\0';
}

/* Is term range [first, first + n) of condition k well formed? depth: of each
 * condition before k. */
static int
range_ok(const view *v, uint32_t first, uint32_t n, uint32_t k, const unsigned char *depth,
    unsigned *d)
{
	if (first > v->n[N_TERM] || n > v->n[N_TERM] - first)
		return 0;
	for (uint32_t t = first; t < first + n; t++) {
		uint32_t kind = rd32(v->term, (size_t)t * TERM_W), a = rd32(v->term, (size_t)t * TERM_W + 1);
		uint32_t b = rd32(v->term, (size_t)t * TERM_W + 2);
		switch (kind) {
		case T_PHRASE:
			if (a >= v->n[N_PHRASE])
				return 0;
			break;
		case T_GROUP:
			if (a >= v->n[N_GROUP])
				return 0;
			break;
		case T_SIGNAL:
			if (!str_at(v, a) || b > strlen(v->str + a))
				return 0;
			break;
		case T_COND:
			if (a >= k)
				return 0;       /* only earlier conditions: a tree */
			if (depth[a] + 1u > *d)
				*d = depth[a] + 1u;
			break;
		default:
			return 0;
		}
	}
	return 1;
}

int
ec_rules_image_check(const char *img, size_t len)
{
	unsigned char *depth;
	view v;
	int ok = 1;

	if (layout(img, len, &v, 0) < 0 || v.str[v.n[N_STR] - 1] != '\0')
		return -1;
	for (uint32_t g = 0; ok && g < v.n[N_GROUP]; g++) {
		uint32_t first = rd32(v.group, (size_t)g * GROUP_W + 1), n = rd32(v.group, (size_t)g * GROUP_W + 2);
		ok = str_at(&v, rd32(v.group, (size_t)g * GROUP_W)) && n > 0 &&
		    first <= v.n[N_PHRASE] && n <= v.n[N_PHRASE] - first;
	}
	for (uint32_t p = 0; ok && p < v.n[N_PHRASE]; p++) {
		const size_t o = (size_t)p * PHRASE_W;
		uint32_t first = rd32(v.phrase, o + 2), n = rd32(v.phrase, o + 3) & ~PHRASE_LITERAL;
		ok = str_ok(&v, rd32(v.phrase, o), rd32(v.phrase, o + 1)) &&
		    first <= v.n[N_WORD] && n <= v.n[N_WORD] - first;
	}
	for (uint32_t w = 0; ok && w < v.n[N_WORD]; w++)
		ok = rd32(v.word, w) < v.n[N_STEM];
	for (uint32_t t = 0; ok && t < v.n[N_STEM]; t++)
		ok = str_ok(&v, rd32(v.stem, (size_t)t * STEM_W), rd32(v.stem, (size_t)t * STEM_W + 1));
	if (!ok || !(depth = calloc(v.n[N_COND] + 1, 1)))
		return -1;
	for (uint32_t k = 0; ok && k < v.n[N_COND]; k++) {
		unsigned d = 1;
		for (int i = 0; ok && i < 3; i++)
			ok = range_ok(&v, rd32(v.cond, (size_t)k * COND_W + 2 * i),
			    rd32(v.cond, (size_t)k * COND_W + 2 * i + 1), k, depth, &d);
		if (d > EC_MAX_JSON_DEPTH)
			ok = 0;
		depth[k] = (unsigned char)d;
	}
	free(depth);
	for (uint32_t r = 0; ok && r < v.n[N_RULE]; r++) {
		const size_t o = (size_t)r * RULE_W;
		uint32_t when = rd32(v.rule, o + 3), ans = rd32(v.rule, o + 4);
		uint32_t joff = rd32(v.rule, o + 5), jlen = rd32(v.rule, o + 6);
		ok = str_at(&v, rd32(v.rule, o)) &&
		    (when == NONE || when < v.n[N_COND]) && (ans == NONE || ans < v.n[N_COND]) &&
		    joff <= v.n[N_JSON] && jlen <= v.n[N_JSON] - joff;
	}
	return ok ? 0 : -1;
}

json_t *
ec_rules_image_top(const char *img, size_t len)
{
	view v;

	return layout(img, len, &v, 1) < 0 ? NULL : ec_jsonbin_decode(v.top, v.n[N_TOP]);
}

/* Phrase i of the image into p: its text, and its words already stemmed. */
static void
attach_phrase(const view *v, uint32_t i, phrase *p)
{
	uint32_t n = rd32(v->phrase, (size_t)i * PHRASE_W + 3);

	p->src = v->str + rd32(v->phrase, (size_t)i * PHRASE_W);
	p->srclen = rd32(v->phrase, (size_t)i * PHRASE_W + 1);
	p->iw = (const unsigned char *)v->word + 4 * (size_t)rd32(v->phrase, (size_t)i * PHRASE_W + 2);
	p->iwn = n & ~PHRASE_LITERAL;
	p->iwlit = !!(n & PHRASE_LITERAL);
}

/* The terms [first, first + n) as the engine's, into *out. */
static int
attach_terms(ctx *c, const view *v, cond *conds, uint32_t first, uint32_t n, term **out,
    size_t *nout)
{
	*out = NULL;
	*nout = n;
	if (!n)
		return 0;
	if (!(*out = eng_acalloc(c, n, sizeof **out)))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		const size_t o = (size_t)(first + i) * TERM_W;
		uint32_t a = rd32(v->term, o + 1), b = rd32(v->term, o + 2);
		term *t = &(*out)[i];
		t->kind = (int)rd32(v->term, o);
		switch (t->kind) {
		case T_PHRASE:
			attach_phrase(v, a, &t->ph);
			break;
		case T_GROUP:
			t->g = &c->groups[a];
			break;
		case T_SIGNAL:
			t->sig = v->str + a;
			t->siglen = b;
			t->prefix = (int)rd32(v->term, o + 3);
			break;
		default:
			t->cond = &conds[a];
		}
	}
	return 0;
}

int
eng_image_attach(ctx *c, const char *img, size_t len)
{
	cond *conds;
	view v;

	/* checked when it was read (ec_rules_image_check): laid out again, not hashed */
	if (layout(img, len, &v, 1) < 0)
		return ec_fail(c->e, EC_EXIT_TEMP, "a kept rule base image does not decode");
	c->ngroups = v.n[N_GROUP];
	c->nrules = v.n[N_RULE];
	c->img_pool = v.str;
	c->img_stems = (const unsigned char *)v.stem;
	c->img_nstems = v.n[N_STEM];
	if (!(c->groups = eng_acalloc(c, c->ngroups + 1, sizeof *c->groups)) ||
	    !(c->rules = eng_acalloc(c, c->nrules + 1, sizeof *c->rules)) ||
	    !(conds = eng_acalloc(c, v.n[N_COND] + 1, sizeof *conds)))
		return -1;
	for (size_t g = 0; g < c->ngroups; g++) {
		group *gr = &c->groups[g];
		uint32_t first = rd32(v.group, g * GROUP_W + 1);
		gr->name = v.str + rd32(v.group, g * GROUP_W);
		gr->n = rd32(v.group, g * GROUP_W + 2);
		if (!(gr->p = eng_acalloc(c, gr->n, sizeof *gr->p)))
			return -1;
		for (size_t k = 0; k < gr->n; k++)
			attach_phrase(&v, (uint32_t)(first + k), &gr->p[k]);
	}
	for (size_t k = 0; k < v.n[N_COND]; k++) {
		cond *d = &conds[k];
		if (attach_terms(c, &v, conds, rd32(v.cond, k * COND_W), rd32(v.cond, k * COND_W + 1),
		    &d->any, &d->nany) < 0 ||
		    attach_terms(c, &v, conds, rd32(v.cond, k * COND_W + 2),
		    rd32(v.cond, k * COND_W + 3), &d->all, &d->nall) < 0 ||
		    attach_terms(c, &v, conds, rd32(v.cond, k * COND_W + 4),
		    rd32(v.cond, k * COND_W + 5), &d->none, &d->nnone) < 0)
			return -1;
	}
	for (size_t i = 0; i < c->nrules; i++) {
		rule *ru = &c->rules[i];
		const size_t o = i * RULE_W;
		uint32_t flags = rd32(v.rule, o + 2), when = rd32(v.rule, o + 3);
		uint32_t ans = rd32(v.rule, o + 4);
		ru->id = v.str + rd32(v.rule, o);
		ru->modes = (int)rd32(v.rule, o + 1);
		ru->baseline = !!(flags & RULE_BASELINE);
		ru->has_all = !!(flags & RULE_HAS_ALL);
		ru->when = when == NONE ? NULL : &conds[when];
		ru->answered = ans == NONE ? NULL : &conds[ans];
		ru->jb = v.json + rd32(v.rule, o + 5);
		ru->jblen = rd32(v.rule, o + 6);
	}
	return 0;
}

const json_t *
eng_rule_json(ctx *c, const rule *ru)
{
	rule *w = &c->rules[ru - c->rules];
	json_t *j;

	if (w->j || !w->jb)
		return w->j;
	if (eng_grow(c, &c->owned, &c->capowned, c->nowned + 1, sizeof *c->owned) < 0)
		return NULL;
	if (!(j = ec_jsonbin_decode(w->jb, w->jblen))) {
		ec_fail(c->e, EC_EXIT_TEMP, "rule %s of a kept rule base image does not decode "
		    "(epic cache verify sets it aside)", w->id);
		return NULL;
	}
	c->owned[c->nowned++] = j;
	return w->j = j;
}

int
ec_rules_image_verify(const char *img, size_t len)
{
	view v;

	if (ec_rules_image_check(img, len) < 0 || layout(img, len, &v, 1) < 0)
		return -1;
	for (uint32_t r = 0; r < v.n[N_RULE]; r++) {
		json_t *j = ec_jsonbin_decode(v.json + rd32(v.rule, (size_t)r * RULE_W + 5),
		    rd32(v.rule, (size_t)r * RULE_W + 6));
		if (!j)
			return -1;
		json_decref(j);
	}
	{
		json_t *top = ec_jsonbin_decode(v.top, v.n[N_TOP]);
		if (!top)
			return -1;
		json_decref(top);
	}
	return 0;
}
