/*
 * hash.c - content fingerprints (XXH3-64: fast, for change detection and task ids)
 * Kept apart from sha256.c so tools that need no SHA-256 do not load libcrypto.
 */
#include <stdio.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ec.h"

uint64_t
ec_xxh3(const void *buf, size_t len)
{
	return XXH3_64bits(buf, len);
}

void
ec_xxh3_hex(const void *buf, size_t len, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits(buf, len));
}

void
ec_xxh3_hex2(const void *a, size_t alen, const void *b, size_t blen, char out[17])
{
	XXH3_state_t st;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, a, alen);
	XXH3_64bits_update(&st, b, blen);
	snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(&st));
}

int
ec_xxh3_hex_valid(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++, n++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return n == 16;
}
