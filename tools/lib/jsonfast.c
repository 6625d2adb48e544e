/*
 * jsonfast.c - JSON text in and out fast: well-formed text becomes Jansson values
 * without Jansson's parser, and values become the project's canonical text without
 * Jansson's encoder.
 *
 * Jansson's parser reads a byte at a time through a stream and a string buffer:
 * about 45 MB/s on these machines, so a persona output costs 0.16 ms to read and
 * every tool of a task reads several. This parser scans strings with memchr-like
 * loops and builds the same values in the same order through Jansson's own
 * constructors. It accepts a strict subset of what ec_json_loadb accepts (JSON,
 * any value at the top, no duplicate key, no NUL, valid UTF-8, integers within
 * json_int_t, finite reals, nesting within EC_MAX_JSON_DEPTH) and gives up at
 * anything else, unusual or wrong: the caller then parses with Jansson, which
 * says exactly what and where. So what fails still fails as before, with the same
 * message; fuzz_json_fast holds the two to the same values for every input this
 * one takes.
 *
 * Out, the text is exactly what json_dumps makes with sorted keys, two-space indent
 * (or compact) and EC_JSON_REAL: equal content is equal bytes, and the files the
 * tools wrote before read back the same. Reals are formatted by Jansson itself, one
 * at a time; strings, keys, integers and the layout here, at a few times Jansson's
 * speed (its encoder decodes every string character by character through a
 * callback). fuzz_json_fast holds the two encoders to the same bytes as well.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

typedef struct rd {
	const unsigned char *p, *end;
	char *scratch;          /* an unescaped string, grown as needed */
	size_t cap;
} rd;

static json_t *value(rd *r, int depth);

static void
skip_ws(rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

static int
hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * A string after its opening quote: *s and *n the bytes (in the input when it has
 * no escape, else in r->scratch), *ascii whether all are below 0x80. 0, or -1.
 */
static int
string(rd *r, const char **s, size_t *n, int *ascii)
{
	const unsigned char *start = r->p, *q = r->p;
	size_t len = 0;
	int hi = 0;

	/* the common case: no escape */
	while (q < r->end && *q != '"' && *q != '\\' && *q >= 0x20)
		hi |= *q++ & 0x80;
	if (q >= r->end || *q < 0x20)
		return -1;
	if (*q == '"') {
		*s = (const char *)start;
		*n = (size_t)(q - start);
		*ascii = !hi;
		r->p = q + 1;
		return 0;
	}
	/* escapes: unescape into scratch */
	len = (size_t)(q - start);
	if (r->cap < (size_t)(r->end - start) + 1) {
		char *p = realloc(r->scratch, (size_t)(r->end - start) + 1);
		if (!p)
			return -1;
		r->scratch = p;
		r->cap = (size_t)(r->end - start) + 1;
	}
	memcpy(r->scratch, start, len);
	while (q < r->end && *q != '"') {
		unsigned u, lo;
		if (*q < 0x20)
			return -1;
		if (*q != '\\') {
			hi |= *q & 0x80;
			r->scratch[len++] = (char)*q++;
			continue;
		}
		if (++q >= r->end)
			return -1;
		switch (*q++) {
		case '"': r->scratch[len++] = '"'; break;
		case '\\': r->scratch[len++] = '\\'; break;
		case '/': r->scratch[len++] = '/'; break;
		case 'b': r->scratch[len++] = '\b'; break;
		case 'f': r->scratch[len++] = '\f'; break;
		case 'n': r->scratch[len++] = '\n'; break;
		case 'r': r->scratch[len++] = '\r'; break;
		case 't': r->scratch[len++] = '\t'; break;
		case 'u':
			if (r->end - q < 4 || hex4(q, &u) < 0 || u == 0)
				return -1;
			q += 4;
			if (u >= 0xDC00 && u <= 0xDFFF)
				return -1;
			if (u >= 0xD800 && u <= 0xDBFF) {
				if (r->end - q < 6 || q[0] != '\\' || q[1] != 'u' || hex4(q + 2, &lo) < 0 ||
				    lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				q += 6;
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
			}
			hi = 1;
			if (u < 0x80)
				r->scratch[len++] = (char)u;
			else if (u < 0x800) {
				r->scratch[len++] = (char)(0xC0 | u >> 6);
				r->scratch[len++] = (char)(0x80 | (u & 0x3F));
			} else if (u < 0x10000) {
				r->scratch[len++] = (char)(0xE0 | u >> 12);
				r->scratch[len++] = (char)(0x80 | ((u >> 6) & 0x3F));
				r->scratch[len++] = (char)(0x80 | (u & 0x3F));
			} else {
				r->scratch[len++] = (char)(0xF0 | u >> 18);
				r->scratch[len++] = (char)(0x80 | ((u >> 12) & 0x3F));
				r->scratch[len++] = (char)(0x80 | ((u >> 6) & 0x3F));
				r->scratch[len++] = (char)(0x80 | (u & 0x3F));
			}
			break;
		default:
			return -1;
		}
	}
	if (q >= r->end)
		return -1;
	r->p = q + 1;
	*s = r->scratch;
	*n = len;
	*ascii = !hi;
	return 0;
}

/* A string value: Jansson checks the UTF-8 of what is not plain ASCII. */
static json_t *
string_value(const char *s, size_t n, int ascii)
{
	return ascii ? json_stringn_nocheck(s, n) : json_stringn(s, n);
}

/* A number as JSON writes it; what Jansson's strtoll or strtod would refuse (out of
 * range) is left to Jansson. */
static json_t *
number(rd *r)
{
	const unsigned char *p = r->p, *start = p;
	char tmp[64], *end;
	int real = 0;

	if (p < r->end && *p == '-')
		p++;
	if (p >= r->end)
		return NULL;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (p < r->end && *p == '.') {
		real = 1;
		if (++p >= r->end || *p < '0' || *p > '9')
			return NULL;
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < r->end && (*p == 'e' || *p == 'E')) {
		real = 1;
		if (++p < r->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= r->end || *p < '0' || *p > '9')
			return NULL;
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	}
	if ((size_t)(p - start) >= sizeof tmp)
		return NULL;
	memcpy(tmp, start, (size_t)(p - start));
	tmp[p - start] = '\0';
	r->p = p;
	errno = 0;
	if (!real) {
		long long v = strtoll(tmp, &end, 10);
		return errno || *end ? NULL : json_integer((json_int_t)v);
	} else {
		double d = strtod(tmp, &end);
		return errno || *end || !isfinite(d) ? NULL : json_real(d);
	}
}

static json_t *
object(rd *r, int depth)
{
	json_t *o = json_object(), *v;
	const char *k;
	size_t kn;
	int ascii;

	if (!o)
		return NULL;
	skip_ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return o;
	}
	for (;;) {
		char key[256], *heap = NULL;
		const char *kz;
		if (r->p >= r->end || *r->p++ != '"' || string(r, &k, &kn, &ascii) < 0)
			goto fail;
		/* the key copied (on the stack when short): an escaped one is in r->scratch,
		 * which parsing the value may overwrite before the key is set */
		if (kn < sizeof key) {
			memcpy(key, k, kn);
			key[kn] = '\0';
			kz = key;
		} else if ((heap = malloc(kn + 1))) {
			memcpy(heap, k, kn);
			heap[kn] = '\0';
			kz = heap;
		} else
			goto fail;
		if (json_object_getn(o, kz, kn)) {
			free(heap);
			goto fail;      /* a duplicate key: Jansson says where */
		}
		skip_ws(r);
		if (r->p >= r->end || *r->p++ != ':') {
			free(heap);
			goto fail;
		}
		skip_ws(r);
		/* Jansson checks the UTF-8 of a key that is not plain ASCII */
		if (!(v = value(r, depth)) || (ascii ? json_object_setn_new_nocheck(o, kz, kn, v) :
		    json_object_setn_new(o, kz, kn, v)) < 0) {
			free(heap);
			goto fail;
		}
		free(heap);
		skip_ws(r);
		if (r->p >= r->end)
			goto fail;
		if (*r->p == '}') {
			r->p++;
			return o;
		}
		if (*r->p++ != ',')
			goto fail;
		skip_ws(r);
	}
fail:
	json_decref(o);
	return NULL;
}

static json_t *
array(rd *r, int depth)
{
	json_t *a = json_array(), *v;

	if (!a)
		return NULL;
	skip_ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return a;
	}
	for (;;) {
		if (!(v = value(r, depth)) || json_array_append_new(a, v) < 0)
			break;
		skip_ws(r);
		if (r->p >= r->end)
			break;
		if (*r->p == ']') {
			r->p++;
			return a;
		}
		if (*r->p++ != ',')
			break;
		skip_ws(r);
	}
	json_decref(a);
	return NULL;
}

static json_t *
literal(rd *r, const char *word, json_t *v)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n))
		return NULL;
	r->p += n;
	return v;
}

static json_t *
value(rd *r, int depth)
{
	const char *s;
	size_t n;
	int ascii;

	if (r->p >= r->end)
		return NULL;
	switch (*r->p) {
	case '{':
		if (depth >= EC_MAX_JSON_DEPTH)
			return NULL;
		r->p++;
		return object(r, depth + 1);
	case '[':
		if (depth >= EC_MAX_JSON_DEPTH)
			return NULL;
		r->p++;
		return array(r, depth + 1);
	case '"':
		r->p++;
		return string(r, &s, &n, &ascii) < 0 ? NULL : string_value(s, n, ascii);
	case 't':
		return literal(r, "true", json_true());
	case 'f':
		return literal(r, "false", json_false());
	case 'n':
		return literal(r, "null", json_null());
	default:
		return number(r);
	}
}

json_t *
ec_json_fastparse(const char *buf, size_t len)
{
	rd r = { (const unsigned char *)buf, (const unsigned char *)buf + len, NULL, 0 };
	json_t *j;

	skip_ws(&r);
	j = value(&r, 0);
	skip_ws(&r);
	if (j && r.p != r.end) {
		json_decref(j);
		j = NULL;
	}
	free(r.scratch);
	return j;
}

/* --- out --------------------------------------------------------------- */

static void
put_string(ec_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0;

	ec_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc;
		char u[7];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		ec_buf_put(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			u[6] = '\0';
			esc = u;
		}
		ec_buf_puts(b, esc);
	}
	ec_buf_put(b, s + run, n - run);
	ec_buf_putc(b, '"');
}

typedef struct kv {
	const char *k;
	size_t n;
	json_t *v;
} kv;

static int
kv_cmp(const void *x, const void *y)
{
	const kv *a = x, *b = y;
	int d = memcmp(a->k, b->k, a->n < b->n ? a->n : b->n);

	return d ? d : (a->n > b->n) - (a->n < b->n);
}

static void
newline(ec_buf *b, int indent, int level)
{
	static const char spaces[] = "                                                                ";
	size_t n = (size_t)indent * (size_t)level, k;

	if (indent < 0)
		return;
	ec_buf_putc(b, '\n');
	for (; n; n -= k) {
		k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
		ec_buf_put(b, spaces, k);
	}
}

/* j as text into b: indent spaces per level, or compact (-1). -1 out of memory. */
static int
dump(ec_buf *b, const json_t *j, int indent, int level)
{
	char num[40];

	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(j), i = 0, kl;
		const char *k;
		json_t *v;
		kv *v_;
		if (!n) {
			ec_buf_puts(b, "{}");
			return 0;
		}
		if (!(v_ = malloc(n * sizeof *v_)))
			return -1;
		json_object_keylen_foreach((json_t *)j, k, kl, v)
			v_[i++] = (kv){ k, kl, v };
		qsort(v_, n, sizeof *v_, kv_cmp);
		ec_buf_putc(b, '{');
		for (i = 0; i < n; i++) {
			if (i)
				ec_buf_putc(b, ',');
			newline(b, indent, level + 1);
			put_string(b, v_[i].k, v_[i].n);
			ec_buf_puts(b, indent < 0 ? ":" : ": ");
			if (dump(b, v_[i].v, indent, level + 1) < 0) {
				free(v_);
				return -1;
			}
		}
		free(v_);
		newline(b, indent, level);
		ec_buf_putc(b, '}');
		return 0;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		if (!n) {
			ec_buf_puts(b, "[]");
			return 0;
		}
		ec_buf_putc(b, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				ec_buf_putc(b, ',');
			newline(b, indent, level + 1);
			if (dump(b, json_array_get(j, i), indent, level + 1) < 0)
				return -1;
		}
		newline(b, indent, level);
		ec_buf_putc(b, ']');
		return 0;
	}
	case JSON_STRING:
		put_string(b, json_string_value(j), json_string_length(j));
		return 0;
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		ec_buf_puts(b, num);
		return 0;
	case JSON_REAL: {
		/* Jansson's own formatting (precision, ".0", the exponent's form) */
		char *t = json_dumps(j, JSON_ENCODE_ANY | EC_JSON_REAL);
		if (!t)
			return -1;
		ec_buf_puts(b, t);
		free(t);
		return 0;
	}
	case JSON_TRUE:
		ec_buf_puts(b, "true");
		return 0;
	case JSON_FALSE:
		ec_buf_puts(b, "false");
		return 0;
	default:
		ec_buf_puts(b, "null");
		return 0;
	}
}

char *
ec_json_fastdump(const json_t *j, int indent, size_t *len)
{
	ec_buf b = { 0 };
	char *s;

	if (!j || dump(&b, j, indent, 0) < 0) {
		free(b.p);
		return NULL;
	}
	ec_buf_putc(&b, '\n');
	*len = b.n;
	s = ec_buf_take(&b);
	return s;
}
