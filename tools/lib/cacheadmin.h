/*
 * cacheadmin.h - private to epic-cache and cacheadmin.c: the persona output cache
 * (spool/cache/, cache.c) as an operator sees, prunes and checks it (epic-cache(1):
 * epic cache stats, purge, verify).
 */
#ifndef CACHEADMIN_H
#define CACHEADMIN_H

#include "ec.h"

/* The largest entry a reader takes (cache.c reads no more). */
#define EC_CACHE_ENTRY_MAX (8u << 20)

/* One thing found in cache/: an entry of a shard (cache/ab/KEY.json), or, with
 * name "", something at the top that should be a shard and is not. */
typedef struct ec_centry {
	char shard[NAME_MAX + 1];       /* its name in cache/ (outside input: escape it) */
	char name[NAME_MAX + 1];        /* its name in the shard, or "" */
	char rel[2 * NAME_MAX + 16];    /* "cache/SHARD/NAME", for messages */
	long long size;                 /* bytes (lstat) */
	dev_t dev;                      /* the file judged (lstat), so a removal can */
	ino_t ino;                      /* tell it from one written since */
	long long created;              /* createdAt, seconds; the mtime when unreadable */
	int bad;                        /* not a sound entry: why says what is wrong */
	int dir;                        /* a directory (a bad one: never purged, only set aside) */
	int locked;                     /* sealed with a key we do not have (why says): not
	                                 * judged, never set aside (crypt.c) */
	int expired;                    /* sound and now >= created + the TTL in force */
	int stale;                      /* sound and its version is not its persona's now */
	char persona[72];               /* output.persona.name ("" when unknown) */
	char why[320];
} ec_centry;

typedef struct ec_cscan {
	ec_centry *v;
	size_t n, cap;
	size_t skipped;                 /* vanished while looked at (a concurrent purge) */
} ec_cscan;

/*
 * Every entry of the cache of spool, each read and judged as ec_cache_get would
 * (a regular file of ours, not through a symbolic link, at most EC_CACHE_ENTRY_MAX,
 * JSON with the fields cache.c writes, named by the key it records, in the shard of
 * its first two hex digits), expired against ttl at now (seconds), stale against
 * reg (NULL: none is judged stale). The directories valid/, rulebases/ and corrupt/
 * and dot-files (temporaries) are not entries. A spool without cache/ has none.
 * 0, or -1 with e (I/O: EC_EXIT_TEMP). Free with ec_cscan_free.
 */
int ec_cache_scan(const char *spool, const ec_registry *reg, long long ttl, long long now,
    ec_cscan *out, ec_err *e);
void ec_cscan_free(ec_cscan *s);

/* Files and bytes under cache/DIR (valid, rulebases), symbolic links not followed. */
void ec_cache_dir_usage(const char *spool, const char *dir, long long *files, long long *bytes);

/*
 * Cache hits and misses as recorded: the cache-hit and cache-miss events of every
 * task's checkpoints.jsonl, or, when no task has any, log/metrics.jsonl's cache-hit
 * and after lines. *source gets "checkpoints", "metrics" or "none" (static).
 */
void ec_cache_hits(const char *spool, long long *hits, long long *misses, const char **source);

/*
 * Remove entry ent: renamed to a dot-name in its directory first (readers skip those;
 * one that has it open reads on), then unlinked; a symbolic link is removed, never
 * followed. What was renamed is the file judged, or, when a writer replaced it since,
 * that newer file is put back (unless a newer still is there) and 1 returned. A bad
 * directory is not removed (EC_EXIT_REJECT). 0, 1 already gone or replaced, or -1
 * with e.
 */
int ec_cache_remove(const char *spool, const ec_centry *ent, ec_err *e);
/* Set ent aside into cache/corrupt/ (made if need be) by rename, under
 * "SHARD-NAME" or a free variant of it. 0, 1 already gone, or -1 with e. */
int ec_cache_set_aside(const char *spool, const ec_centry *ent, ec_err *e);
/* Empty cache/DIR (valid, rulebases): renamed to a dot-name, then removed with what
 * it holds, nothing followed. Recomputed on demand by the tools that keep them.
 * Files removed into *files (may be NULL). 0 or -1 with e. */
int ec_cache_dir_clear(const char *spool, const char *dir, long long *files, ec_err *e);
/* The kept files of cache/valid/ and cache/rulebases/ that are not regular files, or
 * (rulebases/, the .b1 files) do not decode, as entries (shard "valid"/"rulebases") into out. */
void ec_cache_scan_kept(const char *spool, ec_cscan *out);

#endif
