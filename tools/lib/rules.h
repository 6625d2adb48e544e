/*
 * rules.h - private to the built-in persona engine (rules.c, rulestext.c,
 * rulescompile.c): the call's state, the compiled rule base and the functions the
 * parts share. Nothing else includes it; ec.h has ec_rules_apply().
 */
#ifndef RULES_H
#define RULES_H

#include <stdint.h>

#include "ec.h"

#define NONE UINT32_MAX
#define PATHCAP EC_JPATH_CAP

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
	unsigned char disc;     /* in a section saying what the epic will not do */
} tok;

/*
 * A word or phrase term: its text, and once it is first needed, its stem ids and
 * its occurrences (a term of a rule that never gets that far costs nothing).
 */
/* Laid out small: an image attaches thousands (a term holds one), and what a
 * persona-run writes it pays for in fresh pages. */
typedef struct phrase {
	const char *src;
	uint32_t *ids;
	uint32_t *pos;          /* non-negated occurrences, ascending */
	/* from a kept image: its words already stemmed, as the image's stem ids
	 * (iwn of them, u32 each, maybe unaligned), and whether the first negates */
	const unsigned char *iw;
	uint32_t srclen;
	uint32_t n;
	uint32_t npos;
	uint32_t iwn;
	unsigned char literal;  /* starts with a negation word: no negation check */
	unsigned char done;
	unsigned char iwlit;
} phrase;

typedef struct group {
	const char *name;
	phrase *p;
	size_t n;
} group;

enum { T_PHRASE, T_GROUP, T_SIGNAL, T_COND };

struct cond;
typedef struct term {
	int kind;               /* which one of the union it is */
	union {
		phrase ph;
		group *g;
		struct {
			const char *sig;        /* signal name without "signal:" (and '*') */
			size_t siglen;
			int prefix;
		};
		struct cond *cond;
	};
} term;

typedef struct cond {
	term *any, *all, *none;
	size_t nany, nall, nnone;
} cond;

typedef struct rule {
	const json_t *j;        /* the rule as written; from an image, once it fires
	                         * (eng_rule_json) */
	const char *jb;         /* from an image: j in jsonbin, jblen bytes */
	size_t jblen;
	const char *id;
	int modes;
	int baseline;           /* a baseline question: only when nothing specific fired */
	int has_all;            /* its condition has an "all" clause: more specific */
	cond *when;             /* NULL: always fires */
	cond *answered;         /* its concern's answer: when it holds, blocking becomes
	                         * suggested (the epic gives what it asks for); or NULL */
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
	strtab words;           /* a rule base's words as written, once each */
	struct wordinfo {
		uint32_t stem;  /* its stem's id in stems, or NONE */
		int neg;        /* a negation word */
	} *wordinfo;            /* per id of words */
	size_t capwordinfo;
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
	json_t **owned;         /* rules' JSON decoded from an image, freed with c */
	size_t nowned, capowned;
	/* an image's stems (sorted; offset and length pairs into its pool), and once a
	 * phrase needs it, each one's id among the description's stems (or NONE) */
	const char *img_pool;
	const unsigned char *img_stems;
	uint32_t img_nstems;
	uint32_t *img_map;
} ctx;

/* rulestext.c */
int eng_oom(ctx *c);
void *eng_aalloc(ctx *c, size_t n);
void *eng_acalloc(ctx *c, size_t n, size_t size);
int eng_grow(ctx *c, void *v, size_t *cap, size_t need, size_t size);
uint32_t eng_st_find(ctx *c, strtab *t, const char *s, size_t n, int add);
void eng_st_free(strtab *t);
size_t eng_word_start(const unsigned char *s, size_t i, size_t n);
int eng_tokenise(ctx *c, const char *text, size_t n);
void eng_phrase_eval(ctx *c, phrase *p);
/* The words of phrase p, folded and stemmed as matching does: fn(arg, stem, len,
 * negation) for each, in order (building an image). 0, or -1 (fn's, or c->oom). */
int eng_phrase_stems(ctx *c, const phrase *p,
    int (*fn)(void *arg, const char *stem, size_t n, int neg), void *arg);

/* rulesfacts.c */
/* Mark the words under a heading or label named in names (discountSections) as
 * discounted: they match no rule. 0 (cannot fail). */
int eng_discount(ctx *c, const json_t *names);
/* Emit quantity:KIND for each number followed by a unit of KIND (quantities). 0 or
 * -1 out of memory. */
int eng_quantities(ctx *c, const json_t *kinds);

/* rules.c */
/* Free what the engine allocated for one epic (the context itself is the caller's). */
void eng_ctx_free(ctx *c);

/* rulescompile.c */
int eng_groups_compile(ctx *c, const json_t *syn);
int eng_rules_compile(ctx *c, const json_t *rb);
int eng_mode_bit(const char *m);
double eng_num(const json_t *j, double dflt);

/* rulesimage.c */
/* The compiled rule base of an image (checked: ec_rules_image_check) into c. 0, or
 * -1 (c->e or c->oom). */
int eng_image_attach(ctx *c, const char *img, size_t len);
/* Rule ru as written: its JSON, decoded from the image on first use. NULL with c->e
 * (or c->oom) when it does not decode. */
const json_t *eng_rule_json(ctx *c, const rule *ru);

#endif
