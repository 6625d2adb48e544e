/*
 * cache.c - the persona output cache under spool/cache/.
 *
 * Key: SHA-256 of "normalized description:persona:mode" (the seed's key), or of
 * "cacheKey:persona:mode" when the request brings its own key. Entries are sharded
 * by the key's first two hex digits (cache/ab/abcdef....json) so no directory grows
 * without bound, and written atomically: concurrent writers of one key both rename
 * complete files, and the last one wins, which is harmless because both hold an
 * output for the same input.
 *
 * An entry records the persona version and an XXH3 of the PersonaInput's upstream
 * part; a different version or upstream is a miss, so a rule-base edit or a changed
 * earlier review never serves a stale answer as fresh.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

#define CACHE_ENTRY_MAX (8u << 20)

void
ec_cache_key(const char *description, const char *cache_key, const char *persona,
    const char *mode, char out[65])
{
	size_t n = strlen(cache_key ? cache_key : description);
	size_t cap = n + strlen(persona) + strlen(mode) + 3, w = 0;
	char *buf = malloc(cap);
	const unsigned char *s = (const unsigned char *)(cache_key ? cache_key : description);
	int space = 0;

	if (!buf) {
		memset(out, '0', 64);
		out[64] = '\0';
		return;
	}
	if (cache_key) {
		memcpy(buf, cache_key, n);
		w = n;
	} else {
		/* The seed's normalization: lowercase, trimmed; and white space collapsed,
		 * so re-wrapping a description does not miss the cache. */
		while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
			s++;
		for (; *s; s++) {
			if (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') {
				space = 1;
				continue;
			}
			if (space && w)
				buf[w++] = ' ';
			space = 0;
			buf[w++] = (char)ec_lower(*s);
		}
	}
	w += (size_t)snprintf(buf + w, cap - w, ":%s:%s", persona, mode);
	ec_sha256_hex(buf, w, out);
	free(buf);
}

static void
entry_path(char *out, size_t cap, const char *spool, const char *key)
{
	snprintf(out, cap, "%s/cache/%.2s/%s.json", spool, key, key);
}

json_t *
ec_cache_get(const char *spool, const char *key, const char *version,
    const char *upstream, long long ttl, long long now, int *expired)
{
	char rel[128];
	size_t len;
	char *buf;
	json_t *entry, *out = NULL;

	snprintf(rel, sizeof rel, "cache/%.2s/%s.json", key, key);
	if (!(buf = ec_spool_read(spool, rel, CACHE_ENTRY_MAX, &len, 0, NULL)))
		return NULL;
	entry = ec_json_loadb(buf, len, rel, NULL);
	free(buf);
	if (!entry)
		return NULL;
	if (strcmp(ec_json_get_str(entry, "version", ""), version) == 0 &&
	    strcmp(ec_json_get_str(entry, "upstream", ""), upstream) == 0 &&
	    json_is_object(json_object_get(entry, "output"))) {
		/* The TTL in force now, not the one the entry was written under: an
		 * operator who shortens cacheTTL means it for what is already cached. */
		long long created = ec_json_get_int(entry, "createdAt", 0);
		if (expired)
			*expired = now >= created + ttl;
		out = json_incref(json_object_get(entry, "output"));
	}
	json_decref(entry);
	return out;
}

int
ec_cache_put(const char *spool, const char *key, const char *version,
    const char *upstream, long long ttl, long long now, const json_t *output, ec_err *e)
{
	char path[PATH_MAX], dir[PATH_MAX];
	json_t *entry;
	int r;

	snprintf(dir, sizeof dir, "%s/cache/%.2s", spool, key);
	if (ec_mkdir_p(dir, 0755, e) < 0)
		return -1;
	entry_path(path, sizeof path, spool, key);
	entry = json_pack("{s:s, s:s, s:s, s:I, s:I, s:O}", "key", key, "version", version,
	    "upstream", upstream, "createdAt", (json_int_t)now, "ttl", (json_int_t)ttl,
	    "output", output);
	if (!entry)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	/* Not fsync'd: a cache entry lost in a crash is only a miss. */
	r = ec_json_write(path, entry, 0, e);
	json_decref(entry);
	return r < 0 ? -1 : 0;
}
