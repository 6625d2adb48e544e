/*
 * cacheadmin.c - the persona output cache as an operator sees it: every entry
 * judged as a reader would judge it (cache.c), what the tasks recorded of hits and
 * misses, and the moves that prune it (remove, set aside, clear a kept directory).
 *
 * Everything under cache/ is reached through directory descriptors with no
 * symbolic link followed (ec_open_beneath, *at(2) with AT_SYMLINK_NOFOLLOW): a link
 * planted in cache/ is a bad entry, removed or set aside as a link. Nothing is
 * unlinked where it lies: it is renamed to a dot-name first (which readers and
 * scans skip), so a reader that opened it reads on and no scan sees half a purge.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cacheadmin.h"
#include "rulebase.h"
#include "crypt.h"

/* A registered persona's version as persona-run computes what an entry must
 * record: the registration's, '+', the rule base's fingerprint or "command". */
static void
current_version(const ec_persona *p, const char *spool, char *out, size_t cap)
{
	char fp[17] = "";

	if (p->rules_path)
		ec_rules_fingerprint_kept(p->rules_path, spool, fp, NULL, 0, NULL);     /* or "" */
	else
		snprintf(fp, sizeof fp, "command");
	snprintf(out, cap, "%s+%s", p->version, fp);
}

/* The versions of reg's personas, computed once per scan. */
typedef struct versions {
	const ec_registry *reg;
	char (*v)[160];
} versions;

/*
 * Is an entry of persona name with version ver stale? Fresh when it is that
 * persona's version now; a name no registration has is a custom persona of the
 * request's: fresh when its rules were inline ("inline+") or the version is one a
 * registered persona has now (a custom persona that names a registered one).
 */
static int
is_stale(const versions *vs, const char *name, const char *ver)
{
	const ec_registry *reg = vs->reg;

	if (!reg)
		return 0;
	for (size_t i = 0; i < reg->n; i++)
		if (!strcmp(reg->v[i].name, name))
			return strcmp(vs->v[i], ver) != 0;
	if (!strncmp(ver, "inline+", 7))
		return 0;
	for (size_t i = 0; i < reg->n; i++)
		if (!strcmp(vs->v[i], ver))
			return 0;
	return 1;
}

/* Are the first n bytes of s lowercase hex digits (as the keys are written)? */
static int
is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Is name a key's file name: 64 lowercase hex digits and ".json"? */
static int
key_name(const char *name)
{
	return strlen(name) == 69 && is_lower_hex(name, 64) && !strcmp(name + 64, ".json");
}

/* Room for one more entry, zeroed; NULL when memory ran out. */
static ec_centry *
add(ec_cscan *s, const char *shard, const char *name)
{
	ec_centry *ent;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		ec_centry *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return NULL;
		s->v = v, s->cap = cap;
	}
	ent = &s->v[s->n++];
	memset(ent, 0, sizeof *ent);
	snprintf(ent->shard, sizeof ent->shard, "%s", shard);
	snprintf(ent->name, sizeof ent->name, "%s", name);
	snprintf(ent->rel, sizeof ent->rel, *name ? "cache/%s/%s" : "cache/%s", shard, name);
	return ent;
}

/* Mark ent bad, saying why (fmt has one %s, for arg). Returns 0, for judge's returns. */
static int
bad(ec_centry *ent, const char *fmt, const char *arg)
{
	ent->bad = 1;
	snprintf(ent->why, sizeof ent->why, fmt, arg);
	return 0;
}

/* The fields cache.c writes and relies on, with the key the name says; what is
 * wrong into ent (bad), else persona, created, expired and stale. Returns 0. */
static int
judge_json(ec_centry *ent, const json_t *j, const versions *vs, long long ttl, long long now)
{
	static const char *const strs[] = { "key", "version", "upstream", NULL };
	static const char *const ints[] = { "createdAt", "ttl", NULL };
	const json_t *out = json_object_get(j, "output"), *name;
	const char *key, *up;
	char shown[200];

	if (!json_is_object(j))
		return bad(ent, "not a cache entry: %s", "not a JSON object");
	for (const char *const *f = strs; *f; f++)
		if (!json_is_string(json_object_get(j, *f)) || !*json_string_value(json_object_get(j, *f)))
			return bad(ent, "not a cache entry: no string '%s'", *f);
	for (const char *const *f = ints; *f; f++)
		if (!json_is_integer(json_object_get(j, *f)) ||
		    json_integer_value(json_object_get(j, *f)) < 0)
			return bad(ent, "not a cache entry: no count '%s'", *f);
	if (!json_is_object(out))
		return bad(ent, "not a cache entry: no object '%s'", "output");
	name = json_object_get(json_object_get(out, "persona"), "name");
	if (!json_is_string(name) || !ec_persona_name_valid(json_string_value(name)))
		return bad(ent, "not a cache entry: no persona name at '%s'", "output.persona.name");
	key = ec_json_get_str(j, "key", "");
	if (strlen(key) != 64 || strncmp(key, ent->name, 64)) {
		ec_escape_controls(key, shown, sizeof shown);
		return bad(ent, "named for another key: it records '%.80s'", shown);
	}
	up = ec_json_get_str(j, "upstream", "");
	if (strlen(up) != 16 || !is_lower_hex(up, 16))
		return bad(ent, "not a cache entry: 'upstream' is not %s", "16 hex digits");
	snprintf(ent->persona, sizeof ent->persona, "%s", json_string_value(name));
	ent->created = ec_json_get_int(j, "createdAt", 0);
	ent->expired = now >= ent->created + ttl;
	ent->stale = is_stale(vs, ent->persona, ec_json_get_str(j, "version", ""));
	return 0;
}

/* Judge the entry name of shard (open as sfd). 0, or 1 when it vanished meanwhile. */
static int
judge(ec_centry *ent, int sfd, const versions *vs, long long ttl, long long now)
{
	struct stat st;
	ec_err e;
	size_t len;
	char *buf;
	json_t *j;
	int fd, line, col, at;

	if (fstatat(sfd, ent->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 1 : bad(ent, "cannot look at it: %s", strerror(errno));
	ent->size = (long long)st.st_size;
	ent->created = (long long)st.st_mtime;
	ent->dev = st.st_dev, ent->ino = st.st_ino;
	if (S_ISLNK(st.st_mode))
		return bad(ent, "%s", "a symbolic link, not an entry");
	if (S_ISDIR(st.st_mode)) {
		ent->dir = 1;
		return bad(ent, "%s", "a directory, not an entry");
	}
	if (!key_name(ent->name))
		return bad(ent, "%s", "not named by a key (64 hex digits and .json)");
	if (strlen(ent->shard) != 2 || strncmp(ent->name, ent->shard, 2))
		return bad(ent, "%s", "in another key's directory (its name's first two digits)");
	if ((fd = ec_open_beneath(sfd, ent->name, O_RDONLY, 0, NULL, &e)) < 0)
		return errno == ENOENT ? 1 : bad(ent, "%s", e.msg);
	buf = ec_read_fd_raw(fd, "", EC_CACHE_ENTRY_MAX, &len, &e);
	if (buf && ec_crypt_sealed(buf, len) && !(buf = ec_crypt_open_fd(fd, ent->rel, buf, &len, &e))) {
		/* Sealed (encryption at rest) and not opened: a missing key is the
		 * operator's to fix, not the entry's fault. */
		close(fd);
		if (e.code == EC_EXIT_TEMP) {
			ent->locked = 1;
			snprintf(ent->why, sizeof ent->why, "%s", e.msg);
			return 0;
		}
		return bad(ent, "%s", "sealed, and fails authentication: altered, cut, or "
		    "moved here from another key's name");
	}
	close(fd);
	if (!buf)
		return bad(ent, "%s", e.code == EC_EXIT_REJECT ? "larger than a reader takes (8 MiB)" :
		    e.msg);
	j = ec_json_loadb(buf, len, "", &e);
	free(buf);
	if (!j) {
		/* ec_json_loadb says ":LINE:COL: reason" for the name "". */
		if (sscanf(e.msg, ":%d:%d: %n", &line, &col, &at) == 2)
			snprintf(ent->why, sizeof ent->why, "not JSON at %d:%d: %s", line, col, e.msg + at);
		else
			snprintf(ent->why, sizeof ent->why, "not JSON: %s", e.msg);
		ent->bad = 1;
		return 0;
	}
	judge_json(ent, j, vs, ttl, now);
	json_decref(j);
	return 0;
}

/* The entries of shard (a directory of cfd) into s. */
static int
scan_shard(ec_cscan *s, int cfd, const char *shard, const versions *vs, long long ttl,
    long long now, ec_err *e)
{
	ec_err e2;
	int sfd = ec_open_beneath(cfd, shard, O_RDONLY, EC_OPEN_DIR, NULL, &e2), dfd;
	struct dirent *de;
	ec_centry *ent;
	DIR *d;

	if (sfd < 0) {
		if (errno == ENOENT) {
			s->skipped++;
			return 0;
		}
		if (!(ent = add(s, shard, "")))
			return ec_fail(e, EC_EXIT_TEMP, "out of memory");
		ent->dir = 1;
		return bad(ent, "%s", e2.msg);
	}
	if ((dfd = dup(sfd)) < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		close(sfd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot read 'cache/%s': %s", shard, strerror(errno));
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!(ent = add(s, shard, de->d_name))) {
			closedir(d);
			close(sfd);
			return ec_fail(e, EC_EXIT_TEMP, "out of memory");
		}
		if (judge(ent, sfd, vs, ttl, now) == 1)
			s->n--, s->skipped++;
	}
	closedir(d);
	close(sfd);
	return 0;
}

int
ec_cache_scan(const char *spool, const ec_registry *reg, long long ttl, long long now,
    ec_cscan *out, ec_err *e)
{
	versions vs = { reg, NULL };
	struct dirent *de;
	int cfd, dfd, r = 0;
	DIR *d;

	memset(out, 0, sizeof *out);
	if ((cfd = ec_spool_open(spool, "cache", O_RDONLY, EC_OPEN_DIR, NULL, e)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (reg && reg->n && !(vs.v = calloc(reg->n, sizeof *vs.v))) {
		close(cfd);
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	}
	for (size_t i = 0; reg && i < reg->n; i++)
		current_version(&reg->v[i], spool, vs.v[i], sizeof vs.v[i]);
	if ((dfd = dup(cfd)) < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		r = ec_fail(e, EC_EXIT_TEMP, "cannot read '%s/cache': %s", spool, strerror(errno));
		goto out;
	}
	while (r == 0 && (de = readdir(d))) {
		const char *n = de->d_name;
		struct stat st;
		ec_centry *ent;
		int shard = strlen(n) == 2 && is_lower_hex(n, 2);
		if (n[0] == '.' || !strcmp(n, "valid") || !strcmp(n, "rulebases") || !strcmp(n, "corrupt"))
			continue;
		if (fstatat(cfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* A directory of another name is someone else's: left alone. */
		if (S_ISDIR(st.st_mode) && !shard)
			continue;
		if (S_ISDIR(st.st_mode)) {
			r = scan_shard(out, cfd, n, &vs, ttl, now, e);
			continue;
		}
		if (!(ent = add(out, n, ""))) {
			r = ec_fail(e, EC_EXIT_TEMP, "out of memory");
			break;
		}
		ent->size = (long long)st.st_size;
		ent->created = (long long)st.st_mtime;
		ent->dev = st.st_dev, ent->ino = st.st_ino;
		bad(ent, "%s", S_ISLNK(st.st_mode) ? "a symbolic link, not a cache directory" :
		    "not a cache directory");
	}
	closedir(d);
out:
	free(vs.v);
	close(cfd);
	return r;
}

void
ec_cscan_free(ec_cscan *s)
{
	free(s->v);
	memset(s, 0, sizeof *s);
}

/* A directory of the spool, rel, open; -1 (errno) when it is not one. */
static int
spool_dir(const char *spool, const char *rel)
{
	ec_err e;

	return ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, &e);
}

/* The directory fd as a DIR (of its own descriptor), or NULL. */
static DIR *
dir_of(int fd)
{
	int d2 = fd >= 0 ? dup(fd) : -1;
	DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;

	if (!d && d2 >= 0)
		close(d2);
	return d;
}

void
ec_cache_dir_usage(const char *spool, const char *dir, long long *files, long long *bytes)
{
	char rel[64];
	struct dirent *de;
	struct stat st;
	int fd;
	DIR *d;

	*files = *bytes = 0;
	snprintf(rel, sizeof rel, "cache/%s", dir);
	if ((fd = spool_dir(spool, rel)) < 0)
		return;
	if ((d = dir_of(fd))) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' && fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(st.st_mode))
				++*files, *bytes += (long long)st.st_size;
		closedir(d);
	}
	close(fd);
}

void
ec_cache_scan_kept(const char *spool, ec_cscan *out)
{
	static const char *const dirs[] = { "valid", "rulebases", NULL };

	for (const char *const *dir = dirs; *dir; dir++) {
		char rel[64];
		struct dirent *de;
		int fd;
		DIR *d;
		snprintf(rel, sizeof rel, "cache/%s", *dir);
		if ((fd = spool_dir(spool, rel)) < 0)
			continue;
		if (!(d = dir_of(fd))) {
			close(fd);
			continue;
		}
		while ((de = readdir(d))) {
			const char *n = de->d_name, *dot = strrchr(n, '.');
			struct stat st;
			ec_centry *ent;
			if (n[0] == '.' || fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (S_ISREG(st.st_mode) && !(!strcmp(*dir, "rulebases") && dot && !strcmp(dot, EC_RULEBASE_IMAGE_EXT)))
				continue;
			if (!(ent = add(out, *dir, n)))
				break;
			ent->size = (long long)st.st_size;
			ent->created = (long long)st.st_mtime;
			ent->dir = S_ISDIR(st.st_mode);
			if (!S_ISREG(st.st_mode)) {
				bad(ent, "%s", S_ISLNK(st.st_mode) ? "a symbolic link, not a kept file" :
				    "not a regular file");
				continue;
			}
			/* A kept rule base must pass the check its readers make, and every
			 * rule in it decode; one that does not is built again by its next
			 * reader, but it is not what was kept. */
			{
				ec_err e;
				size_t len;
				char *buf = NULL;
				int f = ec_open_beneath(fd, n, O_RDONLY, 0, NULL, &e), ok = 0;
				if (f >= 0) {
					buf = ec_read_fd(f, n, EC_RULEBASE_IMAGE_MAX, &len, &e);
					close(f);
				}
				if (buf)
					ok = ec_rules_image_verify(buf, len) == 0;
				free(buf);
				if (ok)
					out->n--;
				else
					bad(ent, "%s", f < 0 ? e.msg : "a kept rule base image that does not decode");
			}
		}
		closedir(d);
		close(fd);
	}
}

/* The hits and misses in one task's checkpoints.jsonl (rel). */
static void
task_hits(const char *spool, const char *rel, long long *hits, long long *misses)
{
	size_t len;
	char *buf = ec_spool_read(spool, rel, EC_EVENTS_MAX_BYTES, &len, 0, NULL);
	ec_events evs;

	if (!buf)
		return;
	if (ec_events_parse(buf, len, rel, &evs, NULL, NULL, NULL) == 0) {
		for (size_t i = 0; i < evs.n; i++) {
			*hits += !strcmp(evs.v[i].event, "cache-hit");
			*misses += !strcmp(evs.v[i].event, "cache-miss");
		}
		ec_events_free(&evs);
	}
	free(buf);
}

void
ec_cache_hits(const char *spool, long long *hits, long long *misses, const char **source)
{
	static const char *const states[] = { "active", "deferred", "hold", "done", "failed", NULL };
	size_t len;
	char *buf, *line, *next;

	*hits = *misses = 0;
	for (const char *const *s = states; *s; s++) {
		struct dirent *de;
		int fd = spool_dir(spool, *s);
		DIR *d = dir_of(fd);
		if (fd >= 0)
			close(fd);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			char rel[EC_MAX_ID + 64];
			if (!ec_id_valid(de->d_name))
				continue;
			snprintf(rel, sizeof rel, "%s/%s/checkpoints.jsonl", *s, de->d_name);
			task_hits(spool, rel, hits, misses);
		}
		closedir(d);
	}
	*source = "checkpoints";
	if (*hits + *misses)
		return;
	*source = "none";
	if (!(buf = ec_spool_read(spool, "log/metrics.jsonl", EC_EVENTS_MAX_BYTES, &len, 0, NULL)))
		return;
	/* The watcher writes a line per persona run: cache-hit, or after (it ran). */
	for (line = buf; line && *line; line = next) {
		json_t *j;
		const char *ev;
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (!(j = json_loads(line, 0, NULL)))
			continue;
		ev = ec_json_get_str(j, "event", "");
		*hits += !strcmp(ev, "cache-hit");
		*misses += !strcmp(ev, "after");
		json_decref(j);
	}
	free(buf);
	if (*hits + *misses)
		*source = "metrics";
}

/* The directory ent lies in (its shard, or cache/ itself), open; -1 with e. */
static int
parent_of(const char *spool, const ec_centry *ent, const char **leaf, ec_err *e)
{
	char rel[NAME_MAX + 16];

	snprintf(rel, sizeof rel, *ent->name ? "cache/%s" : "cache", ent->shard);
	*leaf = *ent->name ? ent->name : ent->shard;
	return ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, e);
}

int
ec_cache_remove(const char *spool, const ec_centry *ent, ec_err *e)
{
	char tmp[NAME_MAX + 1];
	const char *leaf;
	struct stat st;
	int fd, r = 0;

	if (ent->dir)
		return ec_fail(e, EC_EXIT_REJECT, "'%s' is a directory: left for epic cache verify",
		    ent->rel);
	if ((fd = parent_of(spool, ent, &leaf, e)) < 0)
		return errno == ENOENT ? 1 : -1;
	snprintf(tmp, sizeof tmp, ".purge.%ld.%.200s", (long)getpid(), leaf);
	if (renameat(fd, leaf, fd, tmp) < 0)
		r = errno == ENOENT ? 1 : ec_fail(e, EC_EXIT_TEMP, "cannot rename '%s' away: %s", ent->rel,
		    strerror(errno));
	else if (fstatat(fd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 && ent->ino &&
	    (st.st_ino != ent->ino || st.st_dev != ent->dev) &&
	    renameat2(fd, tmp, fd, leaf, RENAME_NOREPLACE) == 0)
		r = 1;  /* written since it was judged: not what was chosen */
	else if (unlinkat(fd, tmp, 0) < 0)
		r = ec_fail(e, EC_EXIT_TEMP, "cannot remove '%s': %s", ent->rel, strerror(errno));
	close(fd);
	return r;
}

int
ec_cache_set_aside(const char *spool, const ec_centry *ent, ec_err *e)
{
	char dest[NAME_MAX + 1];
	const char *leaf;
	int fd, cfd, kfd, r = -1;

	if ((cfd = ec_spool_open(spool, "cache", O_RDONLY, EC_OPEN_DIR, NULL, e)) < 0)
		return -1;
	if (mkdirat(cfd, "corrupt", 0700) < 0 && errno != EEXIST) {
		ec_fail(e, EC_EXIT_TEMP, "cannot make '%s/cache/corrupt': %s", spool, strerror(errno));
		close(cfd);
		return -1;
	}
	kfd = ec_open_beneath(cfd, "corrupt", O_RDONLY, EC_OPEN_DIR, NULL, e);
	close(cfd);
	if (kfd < 0)
		return -1;
	if ((fd = parent_of(spool, ent, &leaf, e)) < 0) {
		close(kfd);
		return errno == ENOENT ? 1 : -1;
	}
	/* Never over what was set aside before: SHARD-NAME, else SHARD-NAME.1, ... */
	for (int k = 0; k < 1000; k++) {
		int n = snprintf(dest, sizeof dest, "%s%s%.200s", ent->shard, *ent->name ? "-" : "",
		    ent->name);
		if (k)
			snprintf(dest + n, sizeof dest - (size_t)n, ".%d", k);
		if (renameat2(fd, leaf, kfd, dest, RENAME_NOREPLACE) == 0) {
			r = 0;
			break;
		}
		if (errno == EEXIST)
			continue;
		r = errno == ENOENT ? 1 : ec_fail(e, EC_EXIT_TEMP, "cannot set '%s' aside: %s", ent->rel,
		    strerror(errno));
		break;
	}
	if (r < 0 && errno == EEXIST)
		ec_fail(e, EC_EXIT_TEMP, "cannot set '%s' aside: cache/corrupt/ is full of its names",
		    ent->rel);
	close(fd);
	close(kfd);
	return r;
}

/* Remove directory name of parent with all it holds, no link followed, at most
 * depth levels down. 0 or -1 (errno). */
static int
rm_tree(int parent, const char *name, int depth, long long *files)
{
	ec_err e;
	struct dirent *de;
	int fd = ec_open_beneath(parent, name, O_RDONLY, EC_OPEN_DIR, NULL, &e), r = 0;
	DIR *d;

	if (fd < 0)
		return -1;
	if (!(d = dir_of(fd))) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			r |= depth > 0 ? rm_tree(fd, de->d_name, depth - 1, files) : -1;
		else if (unlinkat(fd, de->d_name, 0) == 0)
			*files += de->d_name[0] != '.';
		else
			r = -1;
	}
	closedir(d);
	close(fd);
	return unlinkat(parent, name, AT_REMOVEDIR) < 0 ? -1 : r;
}

int
ec_cache_dir_clear(const char *spool, const char *dir, long long *files, ec_err *e)
{
	char tmp[64];
	long long n = 0;
	int cfd, r = 0;

	if (files)
		*files = 0;
	if ((cfd = ec_spool_open(spool, "cache", O_RDONLY, EC_OPEN_DIR, NULL, e)) < 0)
		return errno == ENOENT ? 0 : -1;
	snprintf(tmp, sizeof tmp, ".purge.%ld.%s", (long)getpid(), dir);
	if (renameat(cfd, dir, cfd, tmp) < 0) {
		if (errno != ENOENT)
			r = ec_fail(e, EC_EXIT_TEMP, "cannot rename 'cache/%s' away: %s", dir, strerror(errno));
	} else if (rm_tree(cfd, tmp, 4, &n) < 0)
		r = ec_fail(e, EC_EXIT_TEMP, "cannot remove all of 'cache/%s' (left as 'cache/%s'): %s",
		    dir, tmp, strerror(errno));
	close(cfd);
	if (files)
		*files = n;
	return r;
}
