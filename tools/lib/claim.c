/*
 * claim.c - taking a request out of incoming/: the one place that touches a file a
 * stranger made.
 *
 * incoming/ is writable by the spool's group, and the submitter owns the file it
 * dropped: it may still hold it open for writing, rename another thing over it (a
 * FIFO, a symbolic link) between any two of our steps, or link it elsewhere. So:
 *
 *  1. The entry is opened once, without following a link or blocking (open.c), and
 *     judged on the descriptor; the bytes are read from that descriptor.
 *  2. It is renamed into a claim directory that only the owner can write
 *     (active/.claim.ID.XXXXXX, made by mkdtemp: unguessable, never taken over,
 *     and flock'ed while the claim lasts), and what arrived there must be the
 *     very inode that was judged.
 *  3. A stranger's file is not kept: the bytes that were read (and hashed into the
 *     task id) are written to a file of the owner's, and the stranger's inode is
 *     let go. A request of the owner's own is kept as it is.
 *  4. The claim directory is renamed into active/ID: of several watchers exactly one
 *     wins step 2, and a task directory never appears without its request.
 *
 * What cannot be a request (a FIFO, a link, a directory, a file with two names, one
 * over the size limit, one swapped while being claimed) is rejected for good: moved
 * to failed/ under a fresh id, never opened again, with error.json saying why.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypt.h"

/* A claim directory in tmp/ (where versions before 0.2 made them, without a lock)
 * older than this belongs to a watcher that died mid-claim. */
#define CLAIM_ABANDONED_S 60

/* The requester's label: metadata.requestedBy of a JSON request, else "". */
static void
requester(const char *buf, size_t len, char *who, size_t cap)
{
	json_t *j = ec_json_loadb(buf, len, "request", NULL);

	snprintf(who, cap, "%s", ec_json_get_str(j, "metadata.requestedBy", ""));
	json_decref(j);
}

void
ec_claim_request_id(const char *name, const char *buf, size_t len, char *id, size_t cap)
{
	char hex[17], clean[EC_MAX_NAME + 16], *base = ec_basename_noext(name);
	size_t n;

	/* The task id of a request file: its name when that already ends in the
	 * content's hash (epic submit names files so), else name + hash, as epic run
	 * computes it. */
	ec_xxh3_hex(buf, len, hex);
	if (base && ec_sanitize_name(base, clean, sizeof clean) == 0 && (n = strlen(clean)) > 9 &&
	    clean[n - 9] == '-' && strncmp(clean + n - 8, hex, 8) == 0 && strcmp(clean, base) == 0 &&
	    ec_id_valid(clean))
		snprintf(id, cap, "%s", clean);
	else if (ec_task_id(base ? base : "request", buf, len, id, cap) < 0)
		snprintf(id, cap, "request-%.8s", hex);
	free(base);
}

/* Remove what a claim directory may hold, then the directory. */
static void
remove_claim(int dfd, const char *dir)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dfd);

	if (fd >= 0 && (d = fdopendir(fd))) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(dfd, de->d_name, 0);
		closedir(d);
	} else if (fd >= 0)
		close(fd);
	rmdir(dir);
}

/* Make a claim directory for id: active/.claim.ID.XXXXXX. Its path into dir, an
 * O_RDONLY descriptor holding its lock returned; -1 with e. */
static int
make_claim_dir(const char *spool, const char *id, char *dir, size_t cap, ec_err *e)
{
	int fd;

	if ((size_t)snprintf(dir, cap, "%s/active/.claim.%s.XXXXXX", spool, id) >= cap)
		return ec_fail(e, EC_EXIT_REJECT, "spool path too long '%s'", spool);
	if (!mkdtemp(dir))
		return ec_fail(e, EC_EXIT_TEMP, "cannot create '%s': %s", dir, strerror(errno));
	/* Locked while we hold it: a claim whose lock is free was abandoned by a
	 * watcher that died (the kernel drops the lock), and recovery takes it. */
	if ((fd = ec_spool_open(spool, dir + strlen(spool) + 1, O_RDONLY, EC_OPEN_DIR, NULL, e)) < 0 ||
	    flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (fd >= 0) {
			ec_fail(e, EC_EXIT_TEMP, "cannot lock '%s': %s", dir, strerror(errno));
			close(fd);
		}
		rmdir(dir);
		e->code = EC_EXIT_TEMP;
		return -1;
	}
	return fd;
}

/* A fresh id for a rejected entry, whose content was never trusted: the name's
 * sanitised base and a hash of the name, its inode and now. */
static void
fresh_id(const char *name, const struct stat *st, int attempt, char *id, size_t cap)
{
	char seed[NAME_MAX + 96], *base = ec_basename_noext(name);
	int n;

	n = snprintf(seed, sizeof seed, "%s/%lu/%lu/%lld/%d", name, (unsigned long)st->st_dev,
	    (unsigned long)st->st_ino, ec_now_ms(), attempt);
	if (ec_task_id(base ? base : "request", seed, (size_t)n, id, cap) < 0)
		snprintf(id, cap, "rejected-%d", attempt);
	free(base);
}

/*
 * Keep what is in claim directory dir (dfd) for good in failed/, with error.json
 * saying why; the task id is fresh. 0, or -1 with e (then the claim stays in
 * active/ as a dot-directory, which recovery returns to incoming/).
 */
static int
reject_claim(const char *spool, const char *name, const struct stat *st, int dfd,
    const char *dir, const char *why, ec_claim *c, ec_err *e)
{
	char dst[PATH_MAX];

	/* why NULL: error.json is there already (a rejection recovery finishes). */
	snprintf(c->why, sizeof c->why, "%s", why ? why : "");
	if (why && ec_task_error_write(dir, ec_progname, EC_EXIT_REJECT, "INVALID_INPUT", why, e) < 0)
		return -1;
	fsync(dfd);
	for (int attempt = 0; attempt < 10; attempt++) {
		fresh_id(name, st, attempt, c->id, sizeof c->id);
		snprintf(dst, sizeof dst, "%s/failed/%s", spool, c->id);
		if (rename(dir, dst) == 0) {
			snprintf(dst, sizeof dst, "%s/failed", spool);
			ec_fsync_dir(dst, NULL);
			return 0;
		}
		if (errno != EEXIST && errno != ENOTEMPTY)
			break;
	}
	return ec_fail(e, EC_EXIT_TEMP, "cannot move '%s' to failed/: %s", dir, strerror(errno));
}

/*
 * incoming/name cannot be a request: take the entry itself (whatever it is; it is
 * never opened) into a claim directory as request.rejected, and reject it.
 */
static int
reject_entry(const char *spool, const char *name, const char *why, ec_claim *c, ec_err *e)
{
	char dir[PATH_MAX], src[PATH_MAX];
	struct stat st = { 0 };
	int dfd, rc;

	snprintf(src, sizeof src, "%s/incoming/%s", spool, name);
	lstat(src, &st);
	if ((dfd = make_claim_dir(spool, "rejected", dir, sizeof dir, e)) < 0)
		return -1;
	if (renameat(AT_FDCWD, src, dfd, "request.rejected") < 0) {
		int err = errno;
		close(dfd);
		rmdir(dir);
		if (err == ENOENT)
			return EC_CLAIM_GONE;
		/* A stranger's directory cannot be moved by anyone but its owner (its ".."
		 * would change): it stays, is never looked into, and is reported again
		 * only at the next rescan. */
		c->retry_at = ec_now_ms() + 30000;
		return ec_fail(e, EC_EXIT_TEMP, "cannot take 'incoming/%s' (%s): %s; left where it is",
		    name, why, strerror(err));
	}
	rc = reject_claim(spool, name, &st, dfd, dir, why, c, e);
	close(dfd);
	return rc < 0 ? -1 : EC_CLAIM_REJECTED;
}

/* Does the task in state/id hold exactly buf (the request as kept) as its request?
 * It may be sealed on disk: a few dozen bytes more. */
static int
same_request(const char *spool, const char *state, const char *id, const char *ext,
    const char *buf, size_t len)
{
	char rel[EC_MAX_ID + 32];
	size_t n;
	char *cur;
	int same;

	snprintf(rel, sizeof rel, "%s/%s/request.%s", state, id, ext);
	cur = ec_spool_read(spool, rel, len + 256, &n, 0, NULL);
	same = cur && n == len && memcmp(cur, buf, len) == 0;
	free(cur);
	return same;
}

/*
 * Put the request the descriptor-checked st says it is into the claim directory
 * (dfd) as request.EXT: the owner's file is kept; a stranger's is replaced by a
 * copy of the bytes that were read (buf), and so is any request that is kept
 * otherwise than it came (redacted: anew; sealed: the file layer writes it). The
 * entry arrived as staged. 0 or -1 (e).
 */
static int
settle_request(int dfd, const char *dir, const char *staged, const char *ext,
    const struct stat *st, const char *buf, size_t len, int anew, ec_err *e)
{
	char final[32], path[PATH_MAX + 40];

	snprintf(final, sizeof final, "request.%s", ext);
	if (st->st_uid == geteuid() && !anew && !ec_crypt_on()) {
		if (renameat(dfd, staged, dfd, final) < 0)
			return ec_fail(e, EC_EXIT_TEMP, "cannot rename in '%s': %s", dir, strerror(errno));
		if (fsync(dfd) < 0 && errno != EINVAL)
			return ec_fail(e, EC_EXIT_TEMP, "cannot sync '%s': %s", dir, strerror(errno));
		return 0;
	}
	snprintf(path, sizeof path, "%s/%s", dir, final);
	if (ec_write_atomic(path, buf, len, EC_W_FSYNC, e) < 0)
		return -1;
	unlinkat(dfd, staged, 0);
	return 0;
}

int
ec_claim_take(const char *spool, const char *name, const ec_claim_opts *o, ec_claim *c,
    ec_err *e)
{
	char rel[NAME_MAX + 16], dir[PATH_MAX], dst[PATH_MAX], why[600], staged[32];
	struct stat st, now_st;
	long long now = ec_now_ms(), age;
	size_t len = 0, klen;
	char *buf = NULL, *kept;
	int fd, dfd = -1, rc;

	memset(c, 0, sizeof *c);
	c->ext = "txt";
	/* Dot-files are still being written (the Maildir convention). */
	if (name[0] == '.' || strchr(name, '/') || strlen(name) > NAME_MAX)
		return EC_CLAIM_GONE;
	snprintf(rel, sizeof rel, "incoming/%s", name);
	if ((fd = ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_ANY_OWNER, &st, e)) < 0) {
		if (errno == ENOENT)
			return EC_CLAIM_GONE;           /* another watcher took it */
		if (e->code == EC_EXIT_REJECT)
			return reject_entry(spool, name, e->msg, c, e);
		c->retry_at = now + 1000;
		return -1;
	}
	c->uid = st.st_uid;
	age = now - ((long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
	if (!o->renamed && age < o->settle_ms) {
		close(fd);
		c->retry_at = now + o->settle_ms - age;
		return EC_CLAIM_LATER;                  /* a writer may still be at it */
	}
	buf = ec_read_fd(fd, rel, EC_MAX_REQUEST_BYTES, &len, e);
	close(fd);
	if (!buf) {
		if (e->code == EC_EXIT_REJECT)
			return reject_entry(spool, name, e->msg, c, e);
		c->retry_at = now + 1000;
		return -1;
	}
	c->ext = ec_request_ext(name, buf, len);
	if (!strcmp(c->ext, "json")) {
		json_t *j = ec_json_loadb(buf, len, "request", NULL);
		if (!j && age < o->grace_ms) {
			free(buf);
			c->retry_at = now + 200;
			return EC_CLAIM_LATER;          /* not complete yet? judged after the grace */
		}
		json_decref(j);
		requester(buf, len, c->who, sizeof c->who);
	}
	ec_claim_request_id(name, buf, len, c->id, sizeof c->id);

	if ((dfd = make_claim_dir(spool, c->id, dir, sizeof dir, e)) < 0) {
		free(buf);
		c->retry_at = now + 1000;
		return -1;
	}
	/* Staged under a name that says its extension, for recovery (return_claim). */
	snprintf(staged, sizeof staged, ".submitted.%s", c->ext);
	snprintf(dst, sizeof dst, "%s/incoming/%s", spool, name);
	if (renameat(AT_FDCWD, dst, dfd, staged) < 0) {
		int err = errno;
		close(dfd);
		rmdir(dir);
		free(buf);
		if (err == ENOENT)
			return EC_CLAIM_GONE;           /* another watcher won */
		c->retry_at = now + 1000;
		return ec_fail(e, EC_EXIT_TEMP, "cannot claim 'incoming/%s': %s", name, strerror(err));
	}
	/* The name may have been pointed at something else since we judged it: only
	 * the inode we read may go on. */
	if (fstatat(dfd, staged, &now_st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    now_st.st_dev != st.st_dev || now_st.st_ino != st.st_ino) {
		free(buf);
		renameat(dfd, staged, dfd, "request.rejected");
		rc = reject_claim(spool, name, &now_st, dfd, dir, "the request was replaced while "
		    "it was being claimed", c, e);
		close(dfd);
		return rc < 0 ? -1 : EC_CLAIM_REJECTED;
	}
	/* From here on the request is as it is kept (security.redactRequests). */
	if ((kept = ec_redact_request(buf, len, c->ext, &klen))) {
		free(buf);
		buf = kept, len = klen;
	}
	if (settle_request(dfd, dir, staged, c->ext, &st, buf, len, kept != NULL, e) < 0) {
		/* The request is safe in the claim directory; recovery returns it. */
		free(buf);
		close(dfd);
		c->retry_at = now + 1000;
		return -1;
	}
	/* The same bytes again are the same task. */
	if ((c->state = ec_task_find(spool, c->id, dst, sizeof dst))) {
		if (same_request(spool, c->state, c->id, c->ext, buf, len)) {
			free(buf);
			remove_claim(dfd, dir);
			close(dfd);
			return EC_CLAIM_DUPLICATE;
		}
		snprintf(why, sizeof why, "another request has the task id '%s' (%s/)", c->id, c->state);
		free(buf);
		rc = reject_claim(spool, name, &st, dfd, dir, why, c, e);
		close(dfd);
		return rc < 0 ? -1 : EC_CLAIM_REJECTED;
	}
	free(buf);
	snprintf(dst, sizeof dst, "%s/active/%s", spool, c->id);
	if (rename(dir, dst) < 0) {
		int err = errno;
		close(dfd);
		c->retry_at = now + 1000;
		return ec_fail(e, EC_EXIT_TEMP, "cannot move '%s' to active/: %s; left for recovery",
		    dir, strerror(err));
	}
	close(dfd);
	snprintf(dst, sizeof dst, "%s/active", spool);
	if (ec_fsync_dir(dst, e) < 0)
		return -1;
	return EC_CLAIM_NEW;
}

/*
 * The claim directory dir (dfd open) was abandoned: return its request to
 * incoming/ID.EXT, where ID comes from the directory's name (".claim.ID.XXXXXX").
 * Requests are never dropped: a request already waiting under that name holds the
 * same bytes (the id is their hash), and then ours goes. A rejection that was not
 * yet moved (request.rejected, error.json) goes to failed/ as it is.
 */
static int
return_claim(const char *spool, const char *dirname, int dfd, const char *dir)
{
	char id[NAME_MAX + 1], to[PATH_MAX], *dot;
	DIR *d;
	struct dirent *de;
	struct stat st;
	int fd = dup(dfd), returned = 0;

	snprintf(id, sizeof id, "%s", dirname + 7);
	if ((dot = strrchr(id, '.')))
		*dot = '\0';                            /* drop the random part */
	if (!ec_id_valid(id) || fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		const char *ext = !strncmp(de->d_name, "request.", 8) ? de->d_name + 8 :
		    !strncmp(de->d_name, ".submitted.", 11) ? de->d_name + 11 : NULL;
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' && n > 4 && !strcmp(de->d_name + n - 4, ".tmp")) {
			unlinkat(dfd, de->d_name, 0);   /* a write that never finished */
			continue;
		}
		if (!ext || (strcmp(ext, "json") && strcmp(ext, "md") && strcmp(ext, "txt")))
			continue;
		snprintf(to, sizeof to, "%s/incoming/%s.%s", spool, id, ext);
		if (renameat2(dfd, de->d_name, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
			returned++;
		else if (errno == EEXIST)
			unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno == ENOTEMPTY && fstat(dfd, &st) == 0) {
		ec_claim c;
		reject_claim(spool, dirname, &st, dfd, dir, faccessat(dfd, "error.json", F_OK,
		    AT_SYMLINK_NOFOLLOW) == 0 ? NULL : "abandoned while it was being rejected", &c, NULL);
	}
	return returned;
}

int
ec_claim_recover(const char *spool, long long max_age_s,
    void (*returned)(const char *id, void *arg), void *arg)
{
	static const char *const places[] = { "active", "tmp", NULL };
	long long now = (long long)time(NULL);
	int n = 0;

	for (const char *const *place = places; *place; place++) {
		char dir[PATH_MAX], sub[PATH_MAX + NAME_MAX + 2];
		DIR *d;
		struct dirent *de;
		int pfd = ec_spool_open(spool, *place, O_RDONLY, EC_OPEN_DIR, NULL, NULL);

		if (pfd < 0 || !(d = fdopendir(pfd))) {
			if (pfd >= 0)
				close(pfd);
			continue;
		}
		snprintf(dir, sizeof dir, "%s/%s", spool, *place);
		while ((de = readdir(d))) {
			struct stat st;
			int dfd, claim = !strncmp(de->d_name, ".claim.", 7);
			/* tmp/ held claims before they moved to active/; a stranger's
			 * directory there is not ours to touch (the open refuses it). */
			if (!claim && !(strncmp(de->d_name, ".new.", 5) == 0 && !strcmp(*place, "active")))
				continue;
			dfd = ec_open_beneath(pfd, de->d_name, O_RDONLY, EC_OPEN_DIR, &st, NULL);
			if (dfd < 0)
				continue;
			snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
			/* A claim in active/ is abandoned when nobody holds its lock; one in
			 * tmp/ (made by an older version, which took no lock) when it is old. */
			if (claim && (strcmp(*place, "active") ? now - st.st_mtime > CLAIM_ABANDONED_S :
			    flock(dfd, LOCK_EX | LOCK_NB) == 0)) {
				int r = return_claim(spool, de->d_name, dfd, sub);
				if (r > 0 && returned) {
					char id[NAME_MAX + 1], *dot;
					snprintf(id, sizeof id, "%s", de->d_name + 7);
					if ((dot = strrchr(id, '.')))
						*dot = '\0';
					returned(id, arg);
				}
				n += r;
			} else if (!claim && now - st.st_mtime > max_age_s)
				remove_claim(dfd, sub);         /* an epic run that died creating a task */
			close(dfd);
		}
		closedir(d);
	}
	return n;
}
