/*
 * rulestext.c - the engine's view of a description: an arena for one call, an
 * interning table, a light English stemmer, the tokeniser (words, sentences,
 * clauses, negations) with its inverted index, and a phrase's occurrences in it.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

#define NEG_WINDOW 3            /* words before a match that a negation reaches */

int
eng_oom(ctx *c)
{
	c->oom = 1;
	return ec_fail(c->e, EC_EXIT_TEMP, "out of memory");
}

void *
eng_aalloc(ctx *c, size_t n)
{
	chunk *k = c->arena;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!k || k->cap - k->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		if (!(k = malloc(sizeof *k + cap))) {
			eng_oom(c);
			return NULL;
		}
		k->next = c->arena;
		k->used = 0;
		k->cap = cap;
		c->arena = k;
	}
	p = k->mem + k->used;
	k->used += n;
	return p;
}

void *
eng_acalloc(ctx *c, size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size) {
		eng_oom(c);
		return NULL;
	}
	if ((p = eng_aalloc(c, n * size)))
		memset(p, 0, n * size);
	return p;
}

/* Grow a vector *v of *cap elements of size to hold need; 0 or -1 (out of memory). */
int
eng_grow(ctx *c, void *v, size_t *cap, size_t need, size_t size)
{
	void **vp = v, *nv;
	size_t ncap;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if (!(nv = realloc(*vp, ncap * size)))
		return eng_oom(c);
	*vp = nv;
	*cap = ncap;
	return 0;
}

static uint32_t
fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

static int
st_rehash(ctx *c, strtab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256;
	uint32_t *slot = calloc(cap, sizeof *slot);

	if (!slot)
		return eng_oom(c);
	for (size_t id = 0; id < t->n; id++) {
		size_t i = t->hash[id] & (cap - 1);
		while (slot[i])
			i = (i + 1) & (cap - 1);
		slot[i] = (uint32_t)id + 1;
	}
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
	return 0;
}

/*
 * The id of s[0..n) in t, adding it when add is set. NONE when absent (or, with
 * add, out of memory: c->oom tells).
 */
uint32_t
eng_st_find(ctx *c, strtab *t, const char *s, size_t n, int add)
{
	uint32_t h = fnv1a(s, n);
	size_t i;
	char *copy;

	if (add && (t->n + 1) * 2 > t->cap && st_rehash(c, t) < 0)
		return NONE;
	if (!t->cap)
		return NONE;
	for (i = h & (t->cap - 1); t->slot[i]; i = (i + 1) & (t->cap - 1)) {
		uint32_t v = t->slot[i] - 1;
		if (t->hash[v] == h && t->len[v] == n && memcmp(t->s[v], s, n) == 0)
			return v;
	}
	if (!add)
		return NONE;
	if (t->n + 1 > t->idcap) {
		size_t cap = t->idcap;
		if (eng_grow(c, &t->s, &cap, t->n + 1, sizeof *t->s) < 0)
			return NONE;
		cap = t->idcap;
		if (eng_grow(c, &t->len, &cap, t->n + 1, sizeof *t->len) < 0)
			return NONE;
		cap = t->idcap;
		if (eng_grow(c, &t->hash, &cap, t->n + 1, sizeof *t->hash) < 0)
			return NONE;
		t->idcap = cap;
	}
	if (!(copy = eng_aalloc(c, n + 1)))
		return NONE;
	memcpy(copy, s, n);
	copy[n] = '\0';
	t->s[t->n] = copy;
	t->len[t->n] = (uint32_t)n;
	t->hash[t->n] = h;
	t->slot[i] = (uint32_t)t->n + 1;
	return (uint32_t)t->n++;
}

void
eng_st_free(strtab *t)
{
	free(t->slot);
	free(t->s);
	free(t->len);
	free(t->hash);
}

/*
 * Light stemming: Porter's step 1 (plurals, -ed, -ing, y→i) and step 5a (final e),
 * which is enough to make upload/uploads/uploaded/uploading and store/stored/storing
 * one word and stays predictable for rule authors. Only plain lowercase ASCII words
 * of three letters or more are stemmed; a possessive 's is dropped first. w must
 * have room for one more byte than n. Returns the new length.
 */
static int
cons(const char *b, int i)
{
	switch (b[i]) {
	case 'a': case 'e': case 'i': case 'o': case 'u':
		return 0;
	case 'y':
		return i == 0 ? 1 : !cons(b, i - 1);
	}
	return 1;
}

/* Porter's m: the number of vowel-consonant sequences in b[0..j]. */
static int
measure(const char *b, int j)
{
	int n = 0, i = 0;

	while (i <= j && cons(b, i))
		i++;
	for (;;) {
		while (i <= j && !cons(b, i))
			i++;
		if (i > j)
			return n;
		while (i <= j && cons(b, i))
			i++;
		n++;
		if (i > j)
			return n;
	}
}

static int
vowel_in(const char *b, int j)
{
	for (int i = 0; i <= j; i++)
		if (!cons(b, i))
			return 1;
	return 0;
}

static int
cvc(const char *b, int i)
{
	if (i < 2 || !cons(b, i) || cons(b, i - 1) || !cons(b, i - 2))
		return 0;
	return b[i] != 'w' && b[i] != 'x' && b[i] != 'y';
}

static int
ends_n(const char *b, int k, const char *s, int n)
{
	return k + 1 >= n && memcmp(b + k + 1 - n, s, (size_t)n) == 0;
}

/* Does b[0..k] end in the string literal s? */
#define ends(b, k, s) ends_n((b), (k), (s), (int)sizeof(s) - 1)

static size_t
stem(char *b, size_t n)
{
	int k;

	if (n > 2 && b[n - 2] == '\'' && b[n - 1] == 's')
		n -= 2;
	if (n < 3)
		return n;
	for (size_t i = 0; i < n; i++)
		if (b[i] < 'a' || b[i] > 'z')
			return n;
	k = (int)n - 1;
	/* step 1a: plurals ("us" kept whole: status, virus) */
	if (ends(b, k, "sses") || ends(b, k, "ies"))
		k -= 2;
	else if (b[k] == 's' && b[k - 1] != 's' && b[k - 1] != 'u')
		k--;
	/* step 1b: -eed, -ed, -ing */
	if (ends(b, k, "eed")) {
		if (measure(b, k - 3) > 0)
			k--;
	} else if ((ends(b, k, "ed") && vowel_in(b, k - 2)) ||
	    (ends(b, k, "ing") && vowel_in(b, k - 3))) {
		k -= ends(b, k, "ed") ? 2 : 3;
		if (ends(b, k, "at") || ends(b, k, "bl") || ends(b, k, "iz"))
			b[++k] = 'e';
		else if (k > 0 && b[k] == b[k - 1] && cons(b, k) &&
		    b[k] != 'l' && b[k] != 's' && b[k] != 'z')
			k--;
		else if (measure(b, k) == 1 && cvc(b, k))
			b[++k] = 'e';
	}
	/* step 1c: y after a vowel-bearing stem */
	if (k > 0 && b[k] == 'y' && vowel_in(b, k - 1))
		b[k] = 'i';
	/* step 5a: final e */
	if (k > 0 && b[k] == 'e') {
		int m = measure(b, k - 1);
		if (m > 1 || (m == 1 && !cvc(b, k - 1)))
			k--;
	}
	return (size_t)k + 1;
}

/*
 * Length of the UTF-8 sequence at s[i] if it is punctuation or a symbol (which
 * separates words like ASCII punctuation does), else 0: Latin-1 punctuation and
 * symbols (U+0080-U+00BF, ×, ÷), General Punctuation and the symbol blocks
 * (U+2000-U+2FFF), CJK punctuation, the BOM and emoji. Other non-ASCII is a letter.
 */
static size_t
utf8_sep(const unsigned char *s, size_t i, size_t n)
{
	unsigned char b = s[i];
	size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;

	if (i + len > n)
		return 0;
	if (b == 0xC2 || (b == 0xC3 && (s[i + 1] == 0x97 || s[i + 1] == 0xB7)))
		return 2;
	if (b == 0xE2 || (b == 0xE3 && s[i + 1] == 0x80) ||
	    (b == 0xEF && s[i + 1] == 0xBB && s[i + 2] == 0xBF))
		return 3;
	if (b == 0xF0 && s[i + 1] == 0x9F)
		return 4;
	return 0;
}

/* Is s[i] the start of a right single quotation mark, used as an apostrophe? */
static int
curly_apos(const unsigned char *s, size_t i, size_t n)
{
	return i + 2 < n && s[i] == 0xE2 && s[i + 1] == 0x80 && s[i + 2] == 0x99;
}

/* End of the word starting at s[i] (a word character). */
static size_t
word_end(const unsigned char *s, size_t i, size_t n)
{
	while (i < n) {
		unsigned char b = s[i];
		if (ec_is_alnum(b))
			i++;
		else if (b == '\'' && i + 1 < n && ec_is_alpha(s[i + 1]))
			i++;
		else if (curly_apos(s, i, n) && i + 3 < n && ec_is_alpha(s[i + 3]))
			i += 3;
		else if (b < 0x80)
			break;
		else if (b >= 0xC0 && utf8_sep(s, i, n))
			break;
		else
			i++;
	}
	return i;
}

/* Start of the next word at or after i, or n. */
size_t
eng_word_start(const unsigned char *s, size_t i, size_t n)
{
	while (i < n) {
		unsigned char b = s[i];
		size_t k;
		if (ec_is_alnum(b))
			return i;
		if (b < 0x80)
			i++;
		else if (b >= 0xC0 && (k = utf8_sep(s, i, n)))
			i += k;
		else
			return i;
	}
	return n;
}

/*
 * Lowercase s[0..n) into c->buf (ASCII folded, ’ as ') and return the length, or
 * -1 (out of memory). The caller stems it in place.
 */
static long
fold(ctx *c, const char *s, size_t n)
{
	size_t j = 0;

	if (eng_grow(c, &c->buf, &c->bufcap, n + 2, 1) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)s[i];
		if (curly_apos((const unsigned char *)s, i, n)) {
			c->buf[j++] = '\'';
			i += 2;
		} else
			c->buf[j++] = (char)ec_lower(b);
	}
	c->buf[j] = '\0';
	return (long)j;
}

static const char *const negations[] = {
	"no", "not", "without", "never", "none", "don't", "doesn't", "won't", "isn't",
	"aren't", "nor", NULL
};

static int
is_negation(const char *w, size_t n)
{
	for (const char *const *p = negations; *p; p++)
		if (strlen(*p) == n && memcmp(*p, w, n) == 0)
			return 1;
	return 0;
}

enum { B_NONE, B_CLAUSE, B_SENT };

/*
 * The boundary between the word ending at a and the word starting at b: a sentence
 * ends at . ! ? followed by a space (not after an abbreviation such as "e.g."), at
 * a blank line, and at a line break unless the next line continues the sentence in
 * lowercase; a clause ends at , ; : ( ) [ ] { }, a dash between spaces, – and —.
 * Commas and colons between digits (3,000 and 03:00) separate nothing.
 */
static int
boundary(const unsigned char *s, size_t a, size_t b, size_t n, size_t prev_start)
{
	int br = B_NONE, nl = 0, other = 0;

	for (size_t i = a; i < b; i++) {
		unsigned char ch = s[i];
		int next_space = i + 1 >= n || ec_is_space(s[i + 1]) || s[i + 1] == '"' ||
		    s[i + 1] == ')' || s[i + 1] == '\'';
		switch (ch) {
		case '.':
			/* "e.g. x": a one-letter word right after a dot */
			if (i == a && a - prev_start == 1 && prev_start > 0 && s[prev_start - 1] == '.')
				break;
			/* fall through */
		case '!': case '?':
			if (next_space)
				return B_SENT;
			break;
		case '\n':
			nl++;
			break;
		case ',': case ':':
			if (b - a == 1 && a > 0 && b < n && s[a - 1] >= '0' && s[a - 1] <= '9' &&
			    s[b] >= '0' && s[b] <= '9')
				break;
			br = B_CLAUSE;
			break;
		case ';': case '(': case ')': case '[': case ']': case '{': case '}':
			br = B_CLAUSE;
			break;
		case '-':
			if ((i > a && ec_is_space(s[i - 1])) || (i + 1 < b && ec_is_space(s[i + 1])))
				br = B_CLAUSE;
			if (nl)
				other = 1;
			break;
		case 0xE2:
			if (i + 2 < n && s[i + 1] == 0x80 && (s[i + 2] == 0x93 || s[i + 2] == 0x94))
				br = B_CLAUSE;
			if (nl)
				other = 1;
			break;
		default:
			if (nl && !ec_is_space(ch))
				other = 1;
		}
	}
	if (nl >= 2)
		return B_SENT;
	if (nl == 1) {
		/* a hard-wrapped line goes on in lowercase with nothing in between */
		if (!other && b < n && s[b] >= 'a' && s[b] <= 'z')
			return br;
		return B_SENT;
	}
	return br;
}

/* Tokenise the description into c->t, interning stems; then build the index. */
int
eng_tokenise(ctx *c, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = eng_word_start(s, 0, n), prev_end = 0, prev_start = 0;
	uint32_t sent = 0, clause = 0;
	size_t nids;

	c->text = text;
	/* Count the words first, so the tokens take exactly their room: a doubling
	 * vector reserves up to twice that, megabytes on a large request. */
	{
		size_t words = 0;
		for (size_t k = i; k < n; k = eng_word_start(s, word_end(s, k, n), n))
			words++;
		if (words > c->capt) {
			tok *nt = realloc(c->t, words * sizeof *c->t);
			if (!nt)
				return eng_oom(c);
			c->t = nt;
			c->capt = words;
		}
	}
	while (i < n) {
		size_t end = word_end(s, i, n);
		long raw;
		tok *t;

		if (c->nt > 0) {
			int br = boundary(s, prev_end, i, n, prev_start);
			if (br == B_SENT)
				sent++, clause++;
			else if (br == B_CLAUSE)
				clause++;
		}
		if ((raw = fold(c, text + i, end - i)) < 0)
			return -1;
		if (raw == 3 && memcmp(c->buf, "but", 3) == 0 && c->nt > 0 &&
		    c->t[c->nt - 1].clause == clause)
			clause++;
		if (eng_grow(c, &c->t, &c->capt, c->nt + 1, sizeof *c->t) < 0)
			return -1;
		t = &c->t[c->nt++];
		t->off = (uint32_t)i;
		t->len = (uint32_t)(end - i);
		t->sent = sent;
		t->clause = clause;
		t->neg = (unsigned char)is_negation(c->buf, (size_t)raw);
		t->disc = 0;
		t->id = eng_st_find(c, &c->stems, c->buf, stem(c->buf, (size_t)raw), 1);
		if (c->oom)
			return -1;
		prev_start = i;
		prev_end = end;
		i = eng_word_start(s, end, n);
	}
	c->nsent = c->nt ? c->t[c->nt - 1].sent + 1 : 0;

	/* the inverted index, by counting sort: positions ascend within each stem */
	nids = c->stems.n;
	if (!(c->postoff = eng_acalloc(c, nids + 1, sizeof *c->postoff)) ||
	    !(c->post = eng_acalloc(c, c->nt ? c->nt : 1, sizeof *c->post)))
		return -1;
	for (size_t k = 0; k < c->nt; k++)
		c->postoff[c->t[k].id + 1]++;
	for (size_t k = 0; k < nids; k++)
		c->postoff[k + 1] += c->postoff[k];
	{
		uint32_t *fill = calloc(nids ? nids : 1, sizeof *fill);
		if (!fill)
			return eng_oom(c);
		for (size_t k = 0; k < c->nt; k++) {
			uint32_t id = c->t[k].id;
			c->post[c->postoff[id] + fill[id]++] = (uint32_t)k;
		}
		free(fill);
	}
	return 0;
}

/* Was a match starting at word i negated, within its clause, by a word before it? */
static int
negated(const ctx *c, size_t i)
{
	for (size_t k = 1; k <= NEG_WINDOW && k <= i; k++) {
		if (c->t[i - k].clause != c->t[i].clause)
			return 0;
		if (c->t[i - k].neg)
			return 1;
	}
	return 0;
}

/*
 * What the rule base's word w[0..n), as written, is: its stem's id among the
 * description's (NONE: absent) and whether it is a negation; NULL out of memory.
 * A rule base says the same words again and again (thousands of phrases, a third as
 * many distinct words): each is folded and stemmed once per call and remembered.
 */
static const struct wordinfo *
word_info(ctx *c, const char *w, size_t n)
{
	size_t before = c->words.n;
	uint32_t id = eng_st_find(c, &c->words, w, n, 1);
	struct wordinfo *wi;
	long raw;

	if (c->oom)
		return NULL;
	if (c->words.n == before)
		return &c->wordinfo[id];
	if (eng_grow(c, &c->wordinfo, &c->capwordinfo, c->words.n, sizeof *c->wordinfo) < 0 ||
	    (raw = fold(c, w, n)) < 0)
		return NULL;
	wi = &c->wordinfo[id];
	wi->neg = is_negation(c->buf, (size_t)raw);
	wi->stem = eng_st_find(c, &c->stems, c->buf, stem(c->buf, (size_t)raw), 0);
	return wi;
}

/*
 * Stem each word of a phrase once and look it up among the description's stems
 * (NONE if absent: the phrase cannot match). 0, or -1 out of memory.
 */
/* A u32 of an image (maybe unaligned). */
static uint32_t
img32(const unsigned char *p, size_t i)
{
	uint32_t x;

	memcpy(&x, p + 4 * i, 4);
	return x;
}

/* The image's stem ids -> the description's, once per call: each of the
 * description's stems looked up among the image's sorted ones. 0, or -1. */
static int
img_map(ctx *c)
{
	if (!(c->img_map = eng_aalloc(c, ((size_t)c->img_nstems + 1) * sizeof *c->img_map)))
		return -1;
	memset(c->img_map, 0xff, ((size_t)c->img_nstems + 1) * sizeof *c->img_map);
	for (size_t id = 0; id < c->stems.n; id++) {
		const char *s = c->stems.s[id];
		size_t n = c->stems.len[id], lo = 0, hi = c->img_nstems;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const char *t = c->img_pool + img32(c->img_stems, 2 * mid);
			size_t tn = img32(c->img_stems, 2 * mid + 1);
			int d = memcmp(t, s, tn < n ? tn : n);
			if (!d)
				d = (tn > n) - (tn < n);
			if (d < 0)
				lo = mid + 1;
			else if (d > 0)
				hi = mid;
			else {
				c->img_map[mid] = (uint32_t)id;
				break;
			}
		}
	}
	return 0;
}

static int
phrase_words(ctx *c, phrase *p)
{
	const unsigned char *u = (const unsigned char *)p->src;
	size_t n = p->srclen, i;

	if (p->iw) {
		/* stemmed when the image was built: only looked up in this description */
		if ((!c->img_map && img_map(c) < 0) ||
		    !(p->ids = eng_aalloc(c, ((size_t)p->iwn + 1) * sizeof *p->ids)))
			return -1;
		for (uint32_t k = 0; k < p->iwn; k++) {
			uint32_t s = img32(p->iw, k);
			p->ids[k] = s < c->img_nstems ? c->img_map[s] : NONE;
		}
		p->n = p->iwn;
		p->literal = p->iwlit;
		return 0;
	}

	/* words are separated by at least one byte: at most (n + 1) / 2 of them */
	if (!(p->ids = eng_aalloc(c, (n / 2 + 1) * sizeof *p->ids)))
		return -1;
	for (i = eng_word_start(u, 0, n); i < n; i = eng_word_start(u, i, n)) {
		size_t end = word_end(u, i, n);
		const struct wordinfo *wi = word_info(c, p->src + i, end - i);
		if (!wi)
			return -1;
		if (p->n == 0)
			p->literal = wi->neg;
		p->ids[p->n++] = wi->stem;
		i = end;
	}
	return 0;
}

int
eng_phrase_stems(ctx *c, const phrase *p,
    int (*fn)(void *arg, const char *stem, size_t n, int neg), void *arg)
{
	const unsigned char *u = (const unsigned char *)p->src;
	size_t n = p->srclen, i;

	for (i = eng_word_start(u, 0, n); i < n; i = eng_word_start(u, i, n)) {
		size_t end = word_end(u, i, n);
		long raw = fold(c, p->src + i, end - i);
		int neg;
		if (raw < 0)
			return -1;
		neg = is_negation(c->buf, (size_t)raw);
		if (fn(arg, c->buf, stem(c->buf, (size_t)raw), neg) < 0)
			return -1;
		i = end;
	}
	return 0;
}

/* Occurrences of p in the text, computed once per call. */
void
eng_phrase_eval(ctx *c, phrase *p)
{
	uint32_t first, lo, hi;

	if (p->done)
		return;
	p->done = 1;
	if (!c->postoff || phrase_words(c, p) < 0 || !p->n)
		return;
	for (uint32_t k = 0; k < p->n; k++)
		if (p->ids[k] == NONE)
			return;
	first = p->ids[0];
	lo = c->postoff[first];
	hi = c->postoff[first + 1];
	if (!(p->pos = eng_aalloc(c, (hi - lo) * sizeof *p->pos + 1)))
		return;
	for (uint32_t q = lo; q < hi; q++) {
		uint32_t i = c->post[q], k;
		if (i + p->n > c->nt || c->t[i + p->n - 1].clause != c->t[i].clause)
			continue;
		for (k = 1; k < p->n && c->t[i + k].id == p->ids[k]; k++)
			;
		if (k < p->n)
			continue;
		if (c->t[i].disc || (!p->literal && negated(c, i)))
			continue;
		p->pos[p->npos++] = i;
	}
}

