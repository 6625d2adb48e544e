/*
 * pattern.c - the schemas' "pattern" keywords matched without glibc's regex.
 *
 * Every pattern in schemas/ is an anchored POSIX extended regular expression over
 * bytes: ^...$ around literals, bracket classes, groups, alternation and the
 * quantifiers ? * + {m} {m,} {m,n}. glibc compiles a bounded repetition such as
 * [a-z0-9-]{0,62} into 62 copies and builds its DFA on first use: 0.1-0.3 ms per
 * pattern, in every process that checks a document (epic-aggregate's self-check
 * alone paid 1.4 ms). This compiles the same language into a small program for a
 * Pike VM (Thompson's construction, simulated breadth-first: linear in the text
 * times the program, no backtracking), in microseconds. What it does not take (a
 * backslash inside brackets, a POSIX class, an anchor inside, a back-reference) is
 * left to regcomp: the caller falls back. units.bats holds the two to the same
 * answers on every schema pattern and thousands of strings (ec-test patterns).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

enum { I_BYTE, I_SET, I_SPLIT, I_JMP, I_MATCH };

typedef struct inst {
	int op;
	int x, y;               /* SPLIT: both; JMP: x; BYTE: x the byte; SET: x the set */
} inst;

struct ec_pattern {
	inst *code;
	size_t n, cap;
	uint8_t (*sets)[32];    /* byte sets of the bracket expressions and '.' */
	size_t nsets, capsets;
	int bad;
};

/* The parse: an AST node, then code generated from it (a repetition copies its
 * operand's code as often as it needs). */
typedef struct node {
	int kind;               /* 'c' a byte, 's' a set, '.' cat, '|' alt, '*' repeat */
	int byte, set;
	int min, max;           /* repeat; max -1: unbounded */
	struct node **kids;
	size_t nkids;
} node;

typedef struct parser {
	const char *p, *end;
	ec_pattern *pt;
	int depth;
} parser;

static void
node_free(node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n);
}

static node *
mk(int kind)
{
	node *n = calloc(1, sizeof *n);

	if (n)
		n->kind = kind;
	return n;
}

/* Append k to n's children (k is n's either way: freed on failure). */
static int
add_kid(node *n, node *k)
{
	node **v;

	if (!k)
		return -1;
	if (!(v = realloc(n->kids, (n->nkids + 1) * sizeof *v))) {
		node_free(k);
		return -1;
	}
	n->kids = v;
	n->kids[n->nkids++] = k;
	return 0;
}

static int
new_set(ec_pattern *pt)
{
	if (pt->nsets == pt->capsets) {
		size_t cap = pt->capsets ? pt->capsets * 2 : 8;
		uint8_t (*s)[32] = realloc(pt->sets, cap * sizeof *s);
		if (!s)
			return -1;
		pt->sets = s;
		pt->capsets = cap;
	}
	memset(pt->sets[pt->nsets], 0, 32);
	return (int)pt->nsets++;
}

static void
set_add(uint8_t *s, unsigned a, unsigned b)
{
	for (unsigned c = a; c <= b; c++)
		s[c >> 3] |= (uint8_t)(1u << (c & 7));
}

/* A bracket expression after '[': ranges and bytes; NULL for what is left to
 * regcomp (a backslash, a POSIX class, an equivalence or collating element). */
static node *
bracket(parser *ps)
{
	int neg = 0, first = 1, set;
	node *n;

	if (ps->p < ps->end && *ps->p == '^')
		neg = 1, ps->p++;
	if ((set = new_set(ps->pt)) < 0 || !(n = mk('s')))
		return NULL;
	n->set = set;
	while (ps->p < ps->end && (*ps->p != ']' || first)) {
		unsigned a = (unsigned char)*ps->p++, b = a;
		first = 0;
		if (a == '\\' || (a == '[' && ps->p < ps->end && strchr(":=.", *ps->p))) {
			node_free(n);
			return NULL;
		}
		if (ps->end - ps->p >= 2 && ps->p[0] == '-' && ps->p[1] != ']') {
			b = (unsigned char)ps->p[1];
			ps->p += 2;
			if (b < a || b == '\\' || b == '[') {
				node_free(n);
				return NULL;
			}
		}
		set_add(ps->pt->sets[set], a, b);
	}
	if (ps->p >= ps->end) {
		node_free(n);
		return NULL;
	}
	ps->p++;
	if (neg)
		for (int i = 0; i < 32; i++)
			ps->pt->sets[set][i] = (uint8_t)~ps->pt->sets[set][i];
	return n;
}

static node *alternation(parser *ps);

static node *
atom(parser *ps)
{
	char c = *ps->p++;
	node *n = NULL;

	switch (c) {
	case '(':
		if (++ps->depth > 32 || !(n = alternation(ps)) || ps->p >= ps->end || *ps->p != ')') {
			node_free(n);
			return NULL;
		}
		ps->p++;
		ps->depth--;
		return n;
	case '[':
		return bracket(ps);
	case '.':
		if (!(n = mk('s')) || (n->set = new_set(ps->pt)) < 0) {
			node_free(n);
			return NULL;
		}
		set_add(ps->pt->sets[n->set], 1, 255);     /* any byte but NUL (REG_NEWLINE off) */
		return n;
	case '\\':
		/* an escaped punctuation byte stands for itself; \1, \w and the like do not */
		if (ps->p >= ps->end || !strchr(".[]()*+?{}|^$\\/-", *ps->p))
			return NULL;
		c = *ps->p++;
		break;
	case '^': case '$': case ')': case '|': case '*': case '+': case '?': case '{': case '}':
		return NULL;
	}
	if (!(n = mk('c')))
		return NULL;
	n->byte = (unsigned char)c;
	return n;
}

/* {m}, {m,} or {m,n} after '{': 0, or -1. */
static int
bounds(parser *ps, int *min, int *max)
{
	char *e;
	long a, b;

	a = strtol(ps->p, &e, 10);
	if (e == ps->p || a < 0 || a > 255)
		return -1;
	ps->p = e;
	if (*ps->p == '}') {
		ps->p++;
		*min = *max = (int)a;
		return 0;
	}
	if (*ps->p++ != ',')
		return -1;
	if (*ps->p == '}') {
		ps->p++;
		*min = (int)a, *max = -1;
		return 0;
	}
	b = strtol(ps->p, &e, 10);
	if (e == ps->p || b < a || b > 255 || *e != '}')
		return -1;
	ps->p = e + 1;
	*min = (int)a, *max = (int)b;
	return 0;
}

static node *
sequence(parser *ps)
{
	node *cat = mk('.');

	if (!cat)
		return NULL;
	while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')' &&
	    !(*ps->p == '$' && ps->p + 1 == ps->end)) {
		node *a = atom(ps), *r;
		while (a && ps->p < ps->end && strchr("?*+{", *ps->p)) {
			char q = *ps->p++;
			if (!(r = mk('*'))) {
				node_free(a);
				a = NULL;
				break;
			}
			r->min = q == '+' ? 1 : 0;
			r->max = q == '?' ? 1 : -1;
			if (q == '{' && bounds(ps, &r->min, &r->max) < 0) {
				node_free(r);
				node_free(a);
				a = NULL;
				break;
			}
			if (add_kid(r, a) < 0) {        /* a freed */
				a = NULL;
				node_free(r);
				break;
			}
			a = r;
		}
		if (add_kid(cat, a) < 0) {
			node_free(cat);
			return NULL;
		}
	}
	return cat;
}

static node *
alternation(parser *ps)
{
	node *alt = mk('|');

	if (!alt)
		return NULL;
	for (;;) {
		if (add_kid(alt, sequence(ps)) < 0) {
			node_free(alt);
			return NULL;
		}
		if (ps->p >= ps->end || *ps->p != '|')
			return alt;
		ps->p++;
	}
}

/* The largest program: a pattern that needs more is left to regcomp. */
#define MAX_CODE 65536

/* Append an instruction: its index, or -1 (pt->bad set: too large, out of memory). */
static int
emit(ec_pattern *pt, int op, int x, int y)
{
	if (pt->bad)
		return -1;
	if (pt->n == pt->cap) {
		size_t cap = pt->cap ? pt->cap * 2 : 64;
		inst *c = cap <= MAX_CODE ? realloc(pt->code, cap * sizeof *c) : NULL;
		if (!c) {
			pt->bad = 1;
			return -1;
		}
		pt->code = c;
		pt->cap = cap;
	}
	pt->code[pt->n] = (inst){ op, x, y };
	return (int)pt->n++;
}

static void
gen(ec_pattern *pt, const node *n)
{
	int s, j, at;

	if (pt->bad)
		return;
	switch (n->kind) {
	case 'c':
		emit(pt, I_BYTE, n->byte, 0);
		return;
	case 's':
		emit(pt, I_SET, n->set, 0);
		return;
	case '.':
		for (size_t i = 0; i < n->nkids; i++)
			gen(pt, n->kids[i]);
		return;
	case '|': {
		/* SPLIT to each alternative but the last; each ends with a JMP past all */
		int jumps[64];
		size_t nj = 0;
		if (n->nkids > 64) {
			pt->bad = 1;
			return;
		}
		for (size_t i = 0; i + 1 < n->nkids; i++) {
			if ((s = emit(pt, I_SPLIT, 0, 0)) < 0)
				return;
			pt->code[s].x = (int)pt->n;
			gen(pt, n->kids[i]);
			if ((j = emit(pt, I_JMP, 0, 0)) < 0)
				return;
			jumps[nj++] = j;
			pt->code[s].y = (int)pt->n;
		}
		gen(pt, n->kids[n->nkids - 1]);
		for (size_t i = 0; i < nj && !pt->bad; i++)
			pt->code[jumps[i]].x = (int)pt->n;
		return;
	}
	default:        /* repeat: min copies, then a loop or max - min optional copies */
		for (int i = 0; i < n->min; i++)
			gen(pt, n->kids[0]);
		if (n->max < 0) {
			if ((at = emit(pt, I_SPLIT, 0, 0)) < 0)
				return;
			pt->code[at].x = (int)pt->n;
			gen(pt, n->kids[0]);
			if (emit(pt, I_JMP, at, 0) < 0)
				return;
			pt->code[at].y = (int)pt->n;
			return;
		}
		{
			int splits[256];
			int k = n->max - n->min;
			for (int i = 0; i < k; i++) {
				if ((splits[i] = emit(pt, I_SPLIT, 0, 0)) < 0)
					return;
				pt->code[splits[i]].x = (int)pt->n;
				gen(pt, n->kids[0]);
			}
			for (int i = 0; i < k && !pt->bad; i++)
				pt->code[splits[i]].y = (int)pt->n;
		}
	}
}

ec_pattern *
ec_pattern_compile(const char *re)
{
	size_t len = strlen(re);
	parser ps = { re, re + len, NULL, 0 };
	ec_pattern *pt;
	node *root;

	/* anchored at both ends, and no anchor or escape at the end to misread */
	if (len < 2 || re[0] != '^' || re[len - 1] != '$' || (len >= 3 && re[len - 2] == '\\'))
		return NULL;
	if (!(pt = calloc(1, sizeof *pt)))
		return NULL;
	ps.pt = pt;
	ps.p++;
	root = alternation(&ps);
	if (!root || ps.p != ps.end - 1) {
		node_free(root);
		ec_pattern_free(pt);
		return NULL;
	}
	gen(pt, root);
	node_free(root);
	emit(pt, I_MATCH, 0, 0);
	if (pt->bad) {
		ec_pattern_free(pt);
		return NULL;
	}
	return pt;
}

void
ec_pattern_free(ec_pattern *pt)
{
	if (pt) {
		free(pt->code);
		free(pt->sets);
		free(pt);
	}
}

/* Add thread pc, and what it reaches without reading, to list l, once per step.
 * stack holds 2n + 1: each instruction is pushed at most once per edge into it. */
static void
add(const ec_pattern *pt, int *l, size_t *nl, unsigned *mark, unsigned gen_, int pc,
    int *stack)
{
	size_t sp = 0;

	stack[sp++] = pc;
	while (sp) {
		pc = stack[--sp];
		if (mark[pc] == gen_)
			continue;
		mark[pc] = gen_;
		switch (pt->code[pc].op) {
		case I_JMP:
			stack[sp++] = pt->code[pc].x;
			break;
		case I_SPLIT:
			stack[sp++] = pt->code[pc].y;
			stack[sp++] = pt->code[pc].x;
			break;
		default:
			l[(*nl)++] = pc;
		}
	}
}

int
ec_pattern_match(const ec_pattern *pt, const char *s)
{
	size_t n = pt->n, ncur = 0, nnext = 0;
	int *cur = malloc((4 * n + 1) * sizeof *cur), *next, *t, *stack;
	unsigned *mark = calloc(n, sizeof *mark), gen_ = 1;
	int matched = 0;

	if (!cur || !mark) {
		free(cur);
		free(mark);
		return -1;
	}
	next = cur + n;
	stack = cur + 2 * n;
	add(pt, cur, &ncur, mark, gen_, 0, stack);
	for (const unsigned char *p = (const unsigned char *)s; ; p++) {
		if (!*p) {
			for (size_t i = 0; i < ncur; i++)
				if (pt->code[cur[i]].op == I_MATCH)
					matched = 1;
			break;
		}
		gen_++;
		nnext = 0;
		for (size_t i = 0; i < ncur; i++) {
			const inst *in = &pt->code[cur[i]];
			if ((in->op == I_BYTE && in->x == *p) ||
			    (in->op == I_SET && (pt->sets[in->x][*p >> 3] >> (*p & 7) & 1)))
				add(pt, next, &nnext, mark, gen_, cur[i] + 1, stack);
		}
		t = cur, cur = next, next = t;
		ncur = nnext;
		if (!ncur)
			break;
	}
	free(cur < next ? cur : next);
	free(mark);
	return matched;
}

int
ec_pattern_sample(const ec_pattern *pt, unsigned long *seed, char *out, size_t cap)
{
	size_t n = 0;
	int pc = 0;

	for (int steps = 0; steps < 100000 && cap; steps++) {
		const inst *in = &pt->code[pc];
		*seed = *seed * 6364136223846793005UL + 1442695040888963407UL;
		switch (in->op) {
		case I_MATCH:
			out[n] = '\0';
			return 0;
		case I_JMP:
			pc = in->x;
			break;
		case I_SPLIT:
			pc = (*seed >> 33) % 3 ? in->x : in->y;
			break;
		case I_BYTE:
			if (n + 1 >= cap)
				return -1;
			out[n++] = (char)in->x;
			pc++;
			break;
		default: {
			/* a member of the set, from a random start */
			unsigned start = (unsigned)(*seed >> 40) & 255, b;
			for (b = 0; b < 256; b++) {
				unsigned c = (start + b) & 255;
				if (c && pt->sets[in->x][c >> 3] >> (c & 7) & 1)
					break;
			}
			if (b == 256 || n + 1 >= cap)
				return -1;
			out[n++] = (char)((start + b) & 255);
			pc++;
		}
		}
	}
	return -1;
}
