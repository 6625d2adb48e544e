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
 * end.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

#define NONE UINT32_MAX
#define PATHCAP EC_JPATH_CAP
#define MAX_MATCHES 3           /* {matches} joins at most this many */
#define NEG_WINDOW 3            /* words before a match that a negation reaches */
#define TITLE_MAX 200           /* characters, the schema's maxLength of a title */

/* Memory for one call: a chain of chunks, all freed at once. */
typedef struct chunk {
	struct chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char mem[];
} chunk;

/* An interning table: byte strings to dense ids 0..n-1 (open addressing). */
typedef struct strtab {
	uint32_t *slot;         /* id + 1, 0 = empty; cap is a power of two */
	size_t cap;
	const char **s;         /* per id: the bytes (in the arena) */
	uint32_t *len, *hash;
	size_t n, idcap;
} strtab;

/* A word of the description. */
typedef struct tok {
	uint32_t off, len;      /* bytes in the description, original spelling */
	uint32_t id;            /* interned stem */
	uint32_t sent, clause;  /* global counters: a new clause also starts each sentence */
	unsigned char neg;      /* a negation word */
} tok;

/*
 * A word or phrase term: its text, and once it is first needed, its stem ids and
 * its occurrences (a term of a rule that never gets that far costs nothing).
 */
typedef struct phrase {
	const char *src;
	size_t srclen;
	uint32_t *ids;
	uint32_t n;
	int literal;            /* starts with a negation word: no negation check */
	int done;
	uint32_t *pos;          /* non-negated occurrences, ascending */
	uint32_t npos;
} phrase;

typedef struct group {
	const char *name;
	phrase *p;
	size_t n;
} group;

enum { T_PHRASE, T_GROUP, T_SIGNAL, T_COND };

struct cond;
typedef struct term {
	int kind;
	phrase ph;
	group *g;
	const char *sig;        /* signal name without "signal:" (and without '*') */
	size_t siglen;
	int prefix;
	struct cond *cond;
} term;

typedef struct cond {
	term *any, *all, *none;
	size_t nany, nall, nnone;
} cond;

typedef struct rule {
	const json_t *j;
	const char *id;
	int modes;
	cond *when;             /* NULL: always fires */
} rule;

/* What a rule's condition matched: text hits and signal names, for placeholders. */
typedef struct hit {
	uint32_t pos, n;
} hit;

typedef struct coll {
	hit *h;
	size_t nh, caph;
	const char **sig;
	size_t ns, caps;
} coll;

typedef struct ctx {
	chunk *arena;
	ec_err *e;
	int oom;
	int checking;           /* ec_rules_load: extra checks, no text */
	/* the text */
	const char *text;
	tok *t;
	size_t nt, capt;
	strtab stems;
	uint32_t *post, *postoff; /* positions of stem s: post[postoff[s]..postoff[s+1]) */
	size_t nsent;
	/* the compiled rule base */
	const json_t *syn;
	group *groups;
	size_t ngroups;
	rule *rules;
	size_t nrules;
	/* signals visible to conditions: upstream, then emitted here */
	const char **sigs;
	size_t nsigs, capsigs;
	strtab ids;             /* recommendation ids: upstream and fired here */
	char *buf;              /* scratch for lowercasing and placeholders */
	size_t bufcap;
} ctx;

static int
oom(ctx *c)
{
	c->oom = 1;
	return ec_fail(c->e, EC_EXIT_TEMP, "out of memory");
}

static void *
aalloc(ctx *c, size_t n)
{
	chunk *k = c->arena;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!k || k->cap - k->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		if (!(k = malloc(sizeof *k + cap))) {
			oom(c);
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

static void *
acalloc(ctx *c, size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size) {
		oom(c);
		return NULL;
	}
	if ((p = aalloc(c, n * size)))
		memset(p, 0, n * size);
	return p;
}

/* Grow a vector *v of *cap elements of size to hold need; 0 or -1 (out of memory). */
static int
grow(ctx *c, void *v, size_t *cap, size_t need, size_t size)
{
	void **vp = v, *nv;
	size_t ncap;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if (!(nv = realloc(*vp, ncap * size)))
		return oom(c);
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
		return oom(c);
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
static uint32_t
st_find(ctx *c, strtab *t, const char *s, size_t n, int add)
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
		if (grow(c, &t->s, &cap, t->n + 1, sizeof *t->s) < 0)
			return NONE;
		cap = t->idcap;
		if (grow(c, &t->len, &cap, t->n + 1, sizeof *t->len) < 0)
			return NONE;
		cap = t->idcap;
		if (grow(c, &t->hash, &cap, t->n + 1, sizeof *t->hash) < 0)
			return NONE;
		t->idcap = cap;
	}
	if (!(copy = aalloc(c, n + 1)))
		return NONE;
	memcpy(copy, s, n);
	copy[n] = '\0';
	t->s[t->n] = copy;
	t->len[t->n] = (uint32_t)n;
	t->hash[t->n] = h;
	t->slot[i] = (uint32_t)t->n + 1;
	return (uint32_t)t->n++;
}

static void
st_free(strtab *t)
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
static size_t
word_start(const unsigned char *s, size_t i, size_t n)
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

	if (grow(c, &c->buf, &c->bufcap, n + 2, 1) < 0)
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
static int
tokenise(ctx *c, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = word_start(s, 0, n), prev_end = 0, prev_start = 0;
	uint32_t sent = 0, clause = 0;
	size_t nids;

	c->text = text;
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
		if (grow(c, &c->t, &c->capt, c->nt + 1, sizeof *c->t) < 0)
			return -1;
		t = &c->t[c->nt++];
		t->off = (uint32_t)i;
		t->len = (uint32_t)(end - i);
		t->sent = sent;
		t->clause = clause;
		t->neg = (unsigned char)is_negation(c->buf, (size_t)raw);
		t->id = st_find(c, &c->stems, c->buf, stem(c->buf, (size_t)raw), 1);
		if (c->oom)
			return -1;
		prev_start = i;
		prev_end = end;
		i = word_start(s, end, n);
	}
	c->nsent = c->nt ? c->t[c->nt - 1].sent + 1 : 0;

	/* the inverted index, by counting sort: positions ascend within each stem */
	nids = c->stems.n;
	if (!(c->postoff = acalloc(c, nids + 1, sizeof *c->postoff)) ||
	    !(c->post = acalloc(c, c->nt ? c->nt : 1, sizeof *c->post)))
		return -1;
	for (size_t k = 0; k < c->nt; k++)
		c->postoff[c->t[k].id + 1]++;
	for (size_t k = 0; k < nids; k++)
		c->postoff[k + 1] += c->postoff[k];
	{
		uint32_t *fill = calloc(nids ? nids : 1, sizeof *fill);
		if (!fill)
			return oom(c);
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

static int phrase_words(ctx *c, phrase *p);

/* Occurrences of p in the text, computed once per call. */
static void
phrase_eval(ctx *c, phrase *p)
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
	if (!(p->pos = aalloc(c, (hi - lo) * sizeof *p->pos + 1)))
		return;
	for (uint32_t q = lo; q < hi; q++) {
		uint32_t i = c->post[q], k;
		if (i + p->n > c->nt || c->t[i + p->n - 1].clause != c->t[i].clause)
			continue;
		for (k = 1; k < p->n && c->t[i + k].id == p->ids[k]; k++)
			;
		if (k < p->n)
			continue;
		if (!p->literal && negated(c, i))
			continue;
		p->pos[p->npos++] = i;
	}
}

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
 * Stem each word of a phrase once and look it up among the description's stems
 * (NONE if absent: the phrase cannot match). 0, or -1 out of memory.
 */
static int
phrase_words(ctx *c, phrase *p)
{
	const unsigned char *u = (const unsigned char *)p->src;
	size_t n = p->srclen, i, cnt = 0;

	for (i = word_start(u, 0, n); i < n; i = word_start(u, word_end(u, i, n), n))
		cnt++;
	if (!cnt || !(p->ids = aalloc(c, cnt * sizeof *p->ids)))
		return cnt ? -1 : 0;
	for (i = word_start(u, 0, n); i < n; i = word_start(u, i, n)) {
		size_t end = word_end(u, i, n);
		long raw = fold(c, p->src + i, end - i);
		if (raw < 0)
			return -1;
		if (p->n == 0)
			p->literal = is_negation(c->buf, (size_t)raw);
		p->ids[p->n++] = st_find(c, &c->stems, c->buf, stem(c->buf, (size_t)raw), 0);
		i = end;
	}
	return 0;
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
	if (c->checking && word_start((const unsigned char *)s, 0, n) == n)
		return jfail(c, path, "term '%s' has no words", s);
	return 0;
}

static int
group_cmp(const void *a, const void *b)
{
	return strcmp(((const group *)a)->name, ((const group *)b)->name);
}

/* Compile the synonym groups, sorted by name for lookup. */
static int
groups_compile(ctx *c, const json_t *syn)
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
	if (!(c->groups = acalloc(c, json_object_size(syn) + 1, sizeof *c->groups)))
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
		if (!(g->p = acalloc(c, g->n, sizeof *g->p)))
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
	if (!(*out = acalloc(c, json_array_size(arr), sizeof **out)))
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
	if (!(*out = k = acalloc(c, 1, sizeof *k)))
		return -1;
	if (clause_compile(c, &k->any, &k->nany, json_object_get(j, "any"), &pany) < 0 ||
	    clause_compile(c, &k->all, &k->nall, json_object_get(j, "all"), &pall) < 0)
		return -1;
	return clause_compile(c, &k->none, &k->nnone, json_object_get(j, "none"), &pnone);
}

static int
mode_bit(const char *m)
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

static double
num(const json_t *j, double dflt)
{
	return json_is_number(j) ? json_number_value(j) : dflt;
}

/*
 * Compile the rule base's rules. With c->checking, also reject what a schema cannot
 * express: duplicate ids, a dependency on itself, effortDays min > max.
 */
static int
rules_compile(ctx *c, const json_t *rb)
{
	const json_t *rules = json_object_get(rb, "rules");
	ec_jpath prules = { NULL, "rules", 0 };
	strtab seen = { 0 };
	json_t *r;
	size_t i;
	int rc = -1;

	if (!json_is_array(rules))
		return jfail(c, &prules, "expected an array of rules");
	c->nrules = json_array_size(rules);
	if (!(c->rules = acalloc(c, c->nrules + 1, sizeof *c->rules)))
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
			st_find(c, &seen, ru->id, strlen(ru->id), 1);
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
				int b = mode_bit(json_string_value(x));
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
		if ((when = json_object_get(r, "when")) && cond_compile(c, &ru->when, when, &pwhen) < 0)
			goto out;
		if (c->checking && (rec = json_object_get(r, "recommendation"))) {
			const json_t *eff = json_object_get(rec, "effortDays");
			ec_jpath peff = { &prec, "effortDays", 0 }, pdeps = { &prec, "dependencies", 0 };
			if (num(json_object_get(eff, "min"), 0) > num(json_object_get(eff, "max"), 0)) {
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
	rc = 0;
out:
	st_free(&seen);
	return rc;
}

static int
coll_hit(ctx *c, coll *col, uint32_t pos, uint32_t n)
{
	if (grow(c, &col->h, &col->caph, col->nh + 1, sizeof *col->h) < 0)
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
		phrase_eval(c, &t->ph);
		coll_phrase(c, col, &t->ph);
		return t->ph.npos > 0;
	case T_GROUP:
		for (size_t k = 0; k < t->g->n; k++) {
			phrase_eval(c, &t->g->p[k]);
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
		if (col && grow(c, &col->sig, &col->caps, col->ns + 1, sizeof *col->sig) == 0)
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
	if (grow(c, &c->buf, &c->bufcap, *len + n + 1, 1) < 0)
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
			if (grow(c, &c->sigs, &c->capsigs, c->nsigs + 1, sizeof *c->sigs) < 0)
				return -1;
			c->sigs[c->nsigs++] = json_string_value(v);
		}
		json_array_foreach(json_object_get(f, "recommendations"), i, r) {
			const char *id = json_string_value(json_object_get(r, "id"));
			if (!id)
				continue;
			st_find(c, &c->ids, id, strlen(id), 1);
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
			return oom(c);
		for (k = 0; k < c->nsigs && strcmp(c->sigs[k], s); k++)
			;
		if (k < c->nsigs)
			continue;
		if (grow(c, &c->sigs, &c->capsigs, c->nsigs + 1, sizeof *c->sigs) < 0)
			return -1;
		c->sigs[c->nsigs++] = s;
	}
	return 0;
}

/* The recommendation of a fired rule, without dependencies (pruned at the end). */
static json_t *
make_rec(ctx *c, const rule *ru, const json_t *rec, const fill *f, int force_blocking,
    double *min, double *max)
{
	const json_t *eff = json_object_get(rec, "effortDays");
	const json_t *refs = json_object_get(rec, "references");
	json_t *o = json_object();

	*min = num(json_object_get(eff, "min"), 0);
	*max = num(json_object_get(eff, "max"), *min);
	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_string(ru->id));
	json_object_set_new(o, "type", json_string(force_blocking ? "blocking" :
	    ec_json_get_str(rec, "type", "suggested")));
	json_object_set_new(o, "priority", json_string(ec_json_get_str(rec, "priority", "medium")));
	if (expand(c, ec_json_get_str(rec, "title", ru->id), f) < 0)
		goto fail;
	cut_chars(c, TITLE_MAX);
	json_object_set_new(o, "title", json_string(c->buf));
	if (expand(c, ec_json_get_str(rec, "description", ""), f) < 0)
		goto fail;
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
	return o;
fail:
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

static void
ctx_free(ctx *c)
{
	while (c->arena) {
		chunk *k = c->arena->next;
		free(c->arena);
		c->arena = k;
	}
	free(c->t);
	st_free(&c->stems);
	st_free(&c->ids);
	free(c->sigs);
	free(c->buf);
}

json_t *
ec_rules_apply(const json_t *rb, const json_t *input, ec_err *e)
{
	ctx c = { .e = e };
	const char *desc = ec_json_get_str(input, "epic.description", NULL);
	const char *mode = ec_json_get_str(input, "epic.mode", "standard");
	const char *title = ec_json_get_str(input, "epic.context.title", NULL);
	int mbit = mode_bit(mode);
	/* The plan (persona-run) says whether this persona's findings are blocking. */
	int force = ec_json_get_bool(input, "persona.enforced", 0);
	json_t *out = NULL, *insights = NULL, *recs = NULL, *signals = NULL, *fired = NULL;
	json_t *pj, *cost, *meta, *eff;
	json_t **recv = NULL;
	const rule **recr = NULL;
	unsigned char *covered = NULL;
	coll col = { 0 };
	double tmin = 0, tmax = 0;
	size_t nrec = 0;
	int dup;

	if (!desc) {
		ec_fail(e, EC_EXIT_REJECT, "$.epic.description: expected a string");
		return NULL;
	}
	if (!mbit) {
		ec_fail(e, EC_EXIT_REJECT, "$.epic.mode: expected mvp, standard or enterprise");
		return NULL;
	}
	if (!json_is_object(rb)) {
		ec_fail(e, EC_EXIT_REJECT, "rule base: expected an object");
		return NULL;
	}
	if (!title || !*title)
		title = "this epic";

	if (tokenise(&c, desc, strlen(desc)) < 0 ||
	    groups_compile(&c, json_object_get(rb, "synonyms")) < 0 ||
	    rules_compile(&c, rb) < 0 ||
	    upstream(&c, ec_json_get(input, "epic.accumulatedInsights")) < 0) {
		if (!c.oom)
			ec_err_prefix(e, "rule base '%s'", ec_json_get_str(rb, "persona", "?"));
		goto fail;
	}
	out = json_object();
	insights = json_array();
	recs = json_array();
	signals = json_array();
	fired = json_array();
	covered = calloc(c.nsent + 1, 1);
	recv = calloc(c.nrules + 1, sizeof *recv);
	recr = calloc(c.nrules + 1, sizeof *recr);
	if (!out || !insights || !recs || !signals || !fired || !covered || !recv || !recr) {
		json_decref(insights), json_decref(recs), json_decref(signals), json_decref(fired);
		oom(&c);
		goto fail;
	}
	json_object_set_new(out, "insights", insights);
	json_object_set_new(out, "recommendations", recs);
	json_object_set_new(out, "signals", signals);

	for (size_t i = 0; i < c.nrules; i++) {
		const rule *ru = &c.rules[i];
		const json_t *rec = json_object_get(ru->j, "recommendation");
		const char *ins = json_string_value(json_object_get(ru->j, "insight"));
		fill f = { mode, title, &col };

		if (!(ru->modes & mbit))
			continue;
		/* decide first, short-circuiting; then collect what matched for the text */
		if (ru->when && !cond_eval(&c, ru->when, NULL))
			continue;
		col.nh = col.ns = 0;
		if (ru->when)
			cond_eval(&c, ru->when, &col);
		if (c.oom)
			goto fail;
		if (col.nh > 1)
			qsort(col.h, col.nh, sizeof *col.h, hit_cmp);
		for (size_t k = 0; k < col.nh; k++)
			covered[c.t[col.h[k].pos].sent] = 1;
		/* a repeated id (a rule base that skipped ec_rules_load) fires once */
		if ((dup = add_unique(fired, ru->id)) < 0)
			goto nomem;
		if (dup)
			continue;
		if (emit_signals(&c, json_object_get(ru->j, "signals"), signals) < 0)
			goto fail;
		if (ins) {
			if (expand(&c, ins, &f) < 0)
				goto fail;
			if (*c.buf && add_unique(insights, c.buf) < 0)
				goto nomem;
		}
		if (json_is_object(rec)) {
			double mn, mx;
			json_t *r;
			if (!(r = make_rec(&c, ru, rec, &f, force, &mn, &mx)))
				goto nomem;
			if (json_array_append_new(recs, r) < 0)
				goto nomem;
			st_find(&c, &c.ids, ru->id, strlen(ru->id), 1);
			if (c.oom)
				goto fail;
			recv[nrec] = r;
			recr[nrec++] = ru;
			tmin += mn;
			tmax += mx;
		}
	}

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
			    st_find(&c, &c.ids, id, strlen(id), 0) != NONE && add_unique(d, id) < 0) {
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

	free(covered);
	free(recv);
	free(recr);
	free(col.h);
	free(col.sig);
	ctx_free(&c);
	return out;
nomem:
	oom(&c);
fail:
	json_decref(fired);
	json_decref(out);
	free(covered);
	free(recv);
	free(recr);
	free(col.h);
	free(col.sig);
	ctx_free(&c);
	return NULL;
}

json_t *
ec_rules_load(const char *path, ec_err *e)
{
	size_t len;
	char *buf = ec_read_file(path, EC_MAX_JSON_BYTES, &len, e);
	json_t *rb;

	if (!buf)
		return NULL;
	rb = ec_rules_loadb(buf, len, strcmp(path, "-") ? path : "<stdin>", 0, e);
	free(buf);
	return rb;
}

json_t *
ec_rules_loadb(const char *buf, size_t len, const char *name, int trusted, ec_err *e)
{
	ctx c = { .e = e, .checking = 1 };
	json_t *rb = ec_json_loadb(buf, len, name, e);

	if (!rb)
		return NULL;
	if ((!trusted && ec_schema_validate("rule-base", rb, NULL, e) < 0) ||
	    groups_compile(&c, json_object_get(rb, "synonyms")) < 0 ||
	    rules_compile(&c, rb) < 0) {
		if (!c.oom)
			ec_err_prefix(e, "%s", name);
		json_decref(rb);
		rb = NULL;
	}
	ctx_free(&c);
	return rb;
}

