/*
 * jsonbin.c - a JSON value kept in binary, for what the tools keep for themselves
 * and read back at every start (a rule base as checked and merged: rulesload.c).
 *
 * Jansson's parser spends most of a persona-run's start lexing a 160 KB rule base
 * byte by byte; rebuilding the same values from lengths and counts takes a quarter
 * of the time. The format is private and versioned by its magic:
 *
 *     "ECJB1\n"  XXH3-64 of the payload (8 bytes, little-endian)  payload
 *
 * and a value is one tag byte, then: o (u32 count, then count times u32 key length,
 * key bytes, value), a (u32 count, values), s (u32 length, bytes), i (int64),
 * r (double), t, f, n. Integers are little-endian, as written on this machine.
 * Decoding checks the hash first, then every length against what is left, the
 * nesting against EC_MAX_JSON_DEPTH, and strings and keys as Jansson's parser does
 * (UTF-8, no NUL): a file that was cut or changed is NULL, never read out of bounds,
 * and the caller loads from the source again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

#define MAGIC "ECJB1\n"
#define MAGIC_LEN 6
#define HEADER_LEN (MAGIC_LEN + 8)

static void
put_u32(ec_buf *b, uint32_t v)
{
	unsigned char le[4] = { v & 255, (v >> 8) & 255, (v >> 16) & 255, v >> 24 };
	ec_buf_put(b, (const char *)le, 4);
}

static void
put_u64(ec_buf *b, uint64_t v)
{
	unsigned char le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	ec_buf_put(b, (const char *)le, 8);
}

static void
encode(ec_buf *b, const json_t *j)
{
	const char *k;
	size_t kl, i;
	json_t *v;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		ec_buf_put(b, "o", 1);
		put_u32(b, (uint32_t)json_object_size(j));
		json_object_keylen_foreach((json_t *)j, k, kl, v) {
			put_u32(b, (uint32_t)kl);
			ec_buf_put(b, k, kl);
			encode(b, v);
		}
		break;
	case JSON_ARRAY:
		ec_buf_put(b, "a", 1);
		put_u32(b, (uint32_t)json_array_size(j));
		json_array_foreach(j, i, v)
			encode(b, v);
		break;
	case JSON_STRING:
		ec_buf_put(b, "s", 1);
		put_u32(b, (uint32_t)json_string_length(j));
		ec_buf_put(b, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		ec_buf_put(b, "i", 1);
		put_u64(b, (uint64_t)json_integer_value(j));
		break;
	case JSON_REAL: {
		double d = json_real_value(j);
		uint64_t u;
		memcpy(&u, &d, 8);
		ec_buf_put(b, "r", 1);
		put_u64(b, u);
		break;
	}
	case JSON_TRUE: ec_buf_put(b, "t", 1); break;
	case JSON_FALSE: ec_buf_put(b, "f", 1); break;
	default: ec_buf_put(b, "n", 1); break;
	}
}

char *
ec_jsonbin_encode(const json_t *j, size_t *len)
{
	ec_buf b = { 0 };
	unsigned char *out;
	uint64_t h;

	ec_buf_put(&b, MAGIC, MAGIC_LEN);
	put_u64(&b, 0);         /* the hash, once the payload is there */
	encode(&b, j);
	*len = b.n;             /* ec_buf_take empties b; the payload may hold NULs */
	if (!(out = (unsigned char *)ec_buf_take(&b)))
		return NULL;
	h = ec_xxh3(out + HEADER_LEN, *len - HEADER_LEN);
	for (int i = 0; i < 8; i++)
		out[MAGIC_LEN + i] = (unsigned char)(h >> (8 * i));
	return (char *)out;
}

/* The reader: where it is, where the bytes end. */
typedef struct rd {
	const unsigned char *p, *end;
} rd;

static int
get_u32(rd *r, uint32_t *v)
{
	if (r->end - r->p < 4)
		return -1;
	*v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
	    (uint32_t)r->p[3] << 24;
	r->p += 4;
	return 0;
}

static int
get_u64(rd *r, uint64_t *v)
{
	if (r->end - r->p < 8)
		return -1;
	*v = 0;
	for (int i = 7; i >= 0; i--)
		*v = *v << 8 | r->p[i];
	r->p += 8;
	return 0;
}

static json_t *
decode(rd *r, int depth)
{
	uint32_t n, kl;
	uint64_t u;
	json_t *c, *v;
	double d;

	if (r->p >= r->end || depth > EC_MAX_JSON_DEPTH)
		return NULL;
	switch (*r->p++) {
	case 'o':
		if (get_u32(r, &n) < 0 || !(c = json_object()))
			return NULL;
		while (n--) {
			const char *k;
			if (get_u32(r, &kl) < 0 || (size_t)(r->end - r->p) < kl)
				break;
			k = (const char *)r->p;
			r->p += kl;
			/* as Jansson's parser: no NUL in a key (its lookups stop there) */
			if (memchr(k, 0, kl) || !(v = decode(r, depth + 1)))
				break;
			if (json_object_setn_new(c, k, kl, v) < 0)
				break;
		}
		if (n != UINT32_MAX) {     /* left the loop early */
			json_decref(c);
			return NULL;
		}
		return c;
	case 'a':
		if (get_u32(r, &n) < 0 || !(c = json_array()))
			return NULL;
		while (n--)
			if (!(v = decode(r, depth + 1)) || json_array_append_new(c, v) < 0)
				break;
		if (n != UINT32_MAX) {
			json_decref(c);
			return NULL;
		}
		return c;
	case 's':
		if (get_u32(r, &n) < 0 || (size_t)(r->end - r->p) < n)
			return NULL;
		/* UTF-8 without NUL, as the JSON the tools read */
		if (memchr(r->p, 0, n))
			return NULL;
		v = json_stringn((const char *)r->p, n);
		r->p += n;
		return v;
	case 'i':
		return get_u64(r, &u) < 0 ? NULL : json_integer((json_int_t)u);
	case 'r':
		if (get_u64(r, &u) < 0)
			return NULL;
		memcpy(&d, &u, 8);
		return json_real(d);
	case 't': return json_true();
	case 'f': return json_false();
	case 'n': return json_null();
	}
	return NULL;
}

json_t *
ec_jsonbin_decode(const char *buf, size_t len)
{
	rd r = { (const unsigned char *)buf + HEADER_LEN, (const unsigned char *)buf + len };
	uint64_t h;
	json_t *j;

	if (len < HEADER_LEN + 1 || memcmp(buf, MAGIC, MAGIC_LEN))
		return NULL;
	r.p = (const unsigned char *)buf + MAGIC_LEN;
	if (get_u64(&r, &h) < 0 || h != ec_xxh3(buf + HEADER_LEN, len - HEADER_LEN))
		return NULL;
	if ((j = decode(&r, 0)) && r.p != r.end) {      /* trailing bytes: not ours */
		json_decref(j);
		j = NULL;
	}
	return j;
}
