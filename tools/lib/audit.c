/*
 * audit.c - the spool's audit log, log/audit.jsonl: one JSON line per thing that
 * happened to a request (submitted, claimed, done, failed, deferred, held, run ...),
 * made tamper-evident as a hash chain.
 *
 * Every line carries "prev": the SHA-256 (hex) of the line before it, its bytes
 * without the newline; the log's first line has 64 zeros. Changing, deleting or
 * reordering a line breaks the chain at the line after it, which epic-audit verify
 * names. (The chain is unkeyed: it shows careless or partial edits, not a rewrite of
 * everything after a line; keep the last hash `verify` prints elsewhere to anchor it.)
 *
 * A writer opens the log, takes an exclusive flock(2) on that descriptor, makes
 * sure the file is still the log (rotation may have replaced it meanwhile), reads
 * the last line by seeking back from the end, and appends with one write(2)
 * (O_APPEND), then fsync(2), then closes, which releases the lock: concurrent
 * writers queue on the lock and never fork the chain. An event is written before
 * the move it records: a crash between the two leaves the event and an unmoved
 * task, which the next launcher finishes and records again. The log may say a thing
 * twice; it never misses one. A line torn by a crash is left as it is (verify names
 * it) and the next line starts on a line of its own, chained to the torn bytes.
 *
 * Rotation (ec_audit_rotate) moves a leading run of old lines, byte for byte, to
 * log/audit.jsonl.N, so the chain runs on from the rotated files into the log.
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
#include <unistd.h>

#include "audit.h"

/* A last line longer than this is not ours: refuse to chain to it blindly. */
#define TAIL_MAX (1L << 20)
/* The largest log ec_audit_rotate reads whole. */
#define ROTATE_MAX ((size_t)1 << 30)

/* The keys whose values are ours (ids, names of states, times, hashes); every other
 * string (detail, requestedBy) is outside text and has personal data redacted. */
static const char *const own_keys[] = {
	"event", "file", "from", "prev", "task", "time", "to", "user", NULL,
};

/*
 * The SHA-256 of the last line of fd (size bytes long) into hex, found by reading
 * back from the end in blocks, so a large log costs one or two reads. *nl says
 * whether the file ends in a newline (else its last line is torn). Returns 1, 0 for
 * an empty file, or -1 with e.
 */
static int
tail_hash(int fd, off_t size, const char *name, char hex[65], int *nl, ec_err *e)
{
	char chunk[4096], c, *line;
	off_t end, pos, start = 0;
	int found = 0;

	*nl = 1;
	if (size == 0)
		return 0;
	if (pread(fd, &c, 1, size - 1) != 1)
		goto ioerr;
	*nl = c == '\n';
	end = pos = *nl ? size - 1 : size;
	while (pos > 0 && !found) {
		size_t n = pos > (off_t)sizeof chunk ? sizeof chunk : (size_t)pos;
		if (pread(fd, chunk, n, pos - (off_t)n) != (ssize_t)n)
			goto ioerr;
		for (size_t i = n; i > 0; i--)
			if (chunk[i - 1] == '\n') {
				start = pos - (off_t)n + (off_t)i;
				found = 1;
				break;
			}
		pos -= (off_t)n;
		if (!found && end - pos > TAIL_MAX)
			return ec_fail(e, EC_EXIT_TEMP, "cannot append to '%s': its last line is "
			    "longer than %ld bytes", name, TAIL_MAX);
	}
	if (!(line = malloc((size_t)(end - start) + 1)))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	if (pread(fd, line, (size_t)(end - start), start) != (ssize_t)(end - start)) {
		free(line);
		goto ioerr;
	}
	ec_sha256_hex(line, (size_t)(end - start), hex);
	free(line);
	return 1;
ioerr:
	return ec_fail(e, EC_EXIT_TEMP, "cannot read '%s': %s", name,
	    errno ? strerror(errno) : "short read");
}

/* Compare longs for qsort. */
static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

int
ec_audit_rotated(const char *spool, long **out, ec_err *e)
{
	int fd = ec_spool_open(spool, "log", O_RDONLY, EC_OPEN_DIR, NULL, e);
	size_t n = 0, cap = 0;
	struct dirent *d;
	long *v = NULL;
	DIR *dir;

	*out = NULL;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot read '%s/log': %s", spool, strerror(errno));
	}
	while ((d = readdir(dir))) {
		const char *p = d->d_name + sizeof "audit.jsonl." - 1;
		char *endp;
		long k;

		/* audit.jsonl.N, N decimal without a leading zero: a name from the spool. */
		if (strncmp(d->d_name, "audit.jsonl.", sizeof "audit.jsonl." - 1) != 0 ||
		    *p < '1' || *p > '9')
			continue;
		errno = 0;
		k = strtol(p, &endp, 10);
		if (*endp || errno)
			continue;
		if (n == cap) {
			long *nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof *v);
			if (!nv) {
				free(v);
				closedir(dir);
				return ec_fail(e, EC_EXIT_TEMP, "out of memory");
			}
			v = nv;
		}
		v[n++] = k;
	}
	closedir(dir);
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_long);
	*out = v;
	return (int)n;
}

/* The hash a new chain starts from: the last line of the newest rotated file, or
 * zeros when there is none (or it is empty). 0 or -1 with e. */
static int
chain_start(const char *spool, char hex[65], ec_err *e)
{
	char rel[64], name[PATH_MAX + 64];
	struct stat st;
	long *v;
	int n, fd, nl, r;

	strcpy(hex, EC_AUDIT_ZERO);
	if ((n = ec_audit_rotated(spool, &v, e)) <= 0)
		return n;
	snprintf(rel, sizeof rel, "%s.%ld", EC_AUDIT_LOG, v[n - 1]);
	free(v);
	snprintf(name, sizeof name, "%s/%s", spool, rel);
	if ((fd = ec_spool_open(spool, rel, O_RDONLY, 0, &st, e)) < 0)
		return -1;
	r = tail_hash(fd, st.st_size, name, hex, &nl, e);
	close(fd);
	return r < 0 ? -1 : 0;
}

/*
 * Open the log (creating it if create) and take its lock: an exclusive flock on
 * the descriptor, held until it is closed. A rotation may have replaced the file
 * while we waited; then the lock is on a file nobody appends to any more, and we
 * open the new one. The descriptor (O_RDWR | O_APPEND), st its fstat under the lock,
 * or -1 with e (errno ENOENT: no log and !create).
 */
static int
lock_log(const char *spool, int create, struct stat *st, ec_err *e)
{
	char name[PATH_MAX + 32];
	int root = ec_spool_rootfd(spool, e);

	snprintf(name, sizeof name, "%s/%s", spool, EC_AUDIT_LOG);
	if (root < 0)
		return -1;
	for (int tries = 0; tries < 1000; tries++) {
		struct stat now;
		int fd = ec_spool_open(spool, EC_AUDIT_LOG, O_RDWR | O_APPEND | (create ? O_CREAT : 0),
		    0, NULL, e);

		if (fd < 0)
			return -1;
		while (flock(fd, LOCK_EX) < 0)
			if (errno != EINTR) {
				int err = errno;
				close(fd);
				return ec_fail(e, EC_EXIT_TEMP, "cannot lock '%s': %s", name, strerror(err));
			}
		if (fstat(fd, st) < 0) {
			int err = errno;
			close(fd);
			return ec_fail(e, EC_EXIT_TEMP, "cannot stat '%s': %s", name, strerror(err));
		}
		if (fstatat(root, EC_AUDIT_LOG, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now.st_dev == st->st_dev && now.st_ino == st->st_ino)
			return fd;
		close(fd);      /* replaced meanwhile: the new one */
	}
	return ec_fail(e, EC_EXIT_TEMP, "cannot lock '%s': it keeps being replaced", name);
}

/* Write all of buf to fd (O_APPEND: one write(2) in practice). 0 or -1 with errno. */
static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Redact personal data in ev's outside strings (see own_keys), so a line never
 * carries an e-mail address or a phone number. */
static void
redact(json_t *ev)
{
	const char *k;
	json_t *v;

	json_object_foreach(ev, k, v) {
		char *s;
		if (!json_is_string(v) || ec_in_list(own_keys, k) || !(s = strdup(json_string_value(v))))
			continue;
		if (ec_redact_pii(&s, NULL, NULL) > 0)
			json_string_set(v, s);
		free(s);
	}
}

int
ec_audit(const char *spool, json_t *ev, ec_err *e)
{
	char when[40], hex[65], name[PATH_MAX + 32], *line;
	const char *sudo;
	struct stat st;
	int fd, nl, r;

	if (!json_object_get(ev, "time")) {
		ec_iso_time(when, sizeof when);
		json_object_set_new(ev, "time", json_string(when));
	}
	/* Run through sudo (an admin acting as the spool's owner, security.roles): who
	 * it was, as sudo says. */
	if ((sudo = getenv("SUDO_UID")) && *sudo && strspn(sudo, "0123456789") == strlen(sudo) &&
	    strlen(sudo) < 11 && !json_object_get(ev, "sudoUid"))
		json_object_set_new(ev, "sudoUid", json_integer(strtoll(sudo, NULL, 10)));
	redact(ev);
	snprintf(name, sizeof name, "%s/%s", spool, EC_AUDIT_LOG);
	if ((fd = lock_log(spool, 1, &st, e)) < 0)
		return -1;
	r = tail_hash(fd, st.st_size, name, hex, &nl, e);
	if (r == 0)
		r = chain_start(spool, hex, e);
	if (r < 0) {
		close(fd);
		return -1;
	}
	json_object_set_new(ev, "prev", json_string(hex));
	line = ec_json_dumps_line(ev);
	json_object_del(ev, "prev");
	if (!line) {
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	}
	/* After a torn line, start on a line of our own (one write: never interleaved). */
	if (!nl) {
		char *l2 = malloc(strlen(line) + 2);
		if (l2) {
			l2[0] = '\n';
			strcpy(l2 + 1, line);
		}
		free(line);
		if (!(line = l2)) {
			close(fd);
			return ec_fail(e, EC_EXIT_TEMP, "out of memory");
		}
	}
	if (write_all(fd, line, strlen(line)) < 0 || fsync(fd) < 0) {
		int err = errno;
		free(line);
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot append to '%s': %s", name, strerror(err));
	}
	free(line);
	/* A new log's name must survive a crash as well as its line. */
	if (st.st_size == 0) {
		char dir[PATH_MAX + 8];
		snprintf(dir, sizeof dir, "%s/log", spool);
		if (ec_fsync_dir(dir, e) < 0) {
			close(fd);
			return -1;
		}
	}
	if (close(fd) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot append to '%s': %s", name, strerror(errno));
	return 0;
}

off_t
ec_audit_size(int fd)
{
	struct stat st;
	int locked = flock(fd, LOCK_SH) == 0, r = fstat(fd, &st);

	if (locked)
		flock(fd, LOCK_UN);
	return r == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
}

void
ec_audit_files_free(ec_audit_file *files, int n)
{
	for (int i = 0; i < n; i++)
		if (files[i].fd >= 0)
			close(files[i].fd);
	free(files);
}

int
ec_audit_files(const char *spool, ec_audit_file **files, ec_err *e)
{
	int root = ec_spool_rootfd(spool, e), log = -1, n = 0, k, tries;
	ec_audit_file *v = NULL;
	struct stat st, now;
	long *num = NULL;

	*files = NULL;
	if (root < 0)
		return errno == ENOENT ? 0 : -1;
	/* The log, locked shared and still the log: no rotation can start meanwhile. */
	for (tries = 0; tries < 1000; tries++) {
		if ((log = ec_spool_open(spool, EC_AUDIT_LOG, O_RDONLY, 0, NULL, e)) < 0) {
			if (errno != ENOENT)
				return -1;
			break;  /* no log: the rotated files alone, if any */
		}
		while (flock(log, LOCK_SH) < 0 && errno == EINTR)
			;
		if (fstat(log, &st) == 0 && fstatat(root, EC_AUDIT_LOG, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now.st_dev == st.st_dev && now.st_ino == st.st_ino)
			break;
		close(log);
		log = -1;
	}
	if ((k = ec_audit_rotated(spool, &num, e)) < 0 ||
	    !(v = calloc((size_t)k + 1, sizeof *v))) {
		if (k >= 0)
			ec_fail(e, EC_EXIT_TEMP, "out of memory");
		goto fail;
	}
	for (; n < k; n++) {
		snprintf(v[n].name, sizeof v[n].name, "%s.%ld", EC_AUDIT_LOG, num[n]);
		if ((v[n].fd = ec_spool_open(spool, v[n].name, O_RDONLY, 0, &now, e)) < 0)
			goto fail;
		v[n].size = now.st_size;
	}
	if (log >= 0) {
		snprintf(v[n].name, sizeof v[n].name, "%s", EC_AUDIT_LOG);
		v[n].fd = log;
		v[n++].size = st.st_size;
		flock(log, LOCK_UN);
		log = -1;
	}
	free(num);
	*files = v;
	return n;
fail:
	if (log >= 0)
		close(log);
	free(num);
	ec_audit_files_free(v, n);
	return -1;
}

int
ec_audit_walk_fd(int fd, const char *name, off_t size, ec_audit_walk *w, ec_err *e)
{
	int dfd = dup(fd), r = 0;
	char *line = NULL;
	size_t cap = 0;
	long long ln = 0;
	off_t done = 0;
	ssize_t n;
	FILE *f;

	if (dfd < 0 || !(f = fdopen(dfd, "r"))) {
		if (dfd >= 0)
			close(dfd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot read '%s': %s", name, strerror(errno));
	}
	while (r == 0 && (size < 0 || done < size) && (n = getline(&line, &cap, f)) > 0) {
		const char *prev;
		json_error_t je;
		json_t *j;

		/* What was appended after the snapshot is left for the next walk. */
		if (size >= 0 && done + n > size)
			n = (ssize_t)(size - done);
		done += n;
		ln++;
		if (line[n - 1] != '\n') {
			snprintf(w->why, sizeof w->why, "%s:%lld: truncated: no newline at its end",
			    name, ln);
			r = 1;
			break;
		}
		line[--n] = '\0';
		if (!(j = json_loadb(line, (size_t)n, 0, &je)) || !json_is_object(j)) {
			snprintf(w->why, sizeof w->why, "%s:%lld: not a JSON object%s%s", name, ln,
			    j ? "" : ": ", j ? "" : je.text);
			json_decref(j);
			r = 1;
			break;
		}
		prev = json_string_value(json_object_get(j, "prev"));
		if (!prev || strlen(prev) != 64 || strspn(prev, "0123456789abcdef") != 64)
			snprintf(w->why, sizeof w->why, "%s:%lld: no prev, or not a SHA-256 (a line "
			    "written outside the chain)", name, ln), r = 1;
		else if (!*w->last && !w->lines)
			snprintf(w->start, sizeof w->start, "%s", prev);
		else if (strcmp(prev, w->last) != 0) {
			if (ln == 1)
				snprintf(w->why, sizeof w->why, "%s:1: prev does not match the last "
				    "line of %s (a file missing, or out of order)", name,
				    *w->prevfile ? w->prevfile : "the file before");
			else
				snprintf(w->why, sizeof w->why, "%s:%lld: prev does not match line %lld "
				    "(edited, deleted or reordered)", name, ln, ln - 1);
			r = 1;
		}
		json_decref(j);
		if (r)
			break;
		ec_sha256_hex(line, (size_t)n, w->last);
		w->lines++;
	}
	if (r == 0 && ferror(f))
		r = ec_fail(e, EC_EXIT_TEMP, "cannot read '%s': %s", name, strerror(errno));
	free(line);
	fclose(f);
	snprintf(w->prevfile, sizeof w->prevfile, "%s", name);
	return r;
}

/*
 * A rotation a crash cut short leaves the moved lines both in the newest rotated
 * file and at the head of the log (buf, len bytes). An intact chain never starts
 * the log with the rotated file's bytes (its first line would have to hash to its
 * own last line), so when it does, finish the rotation: drop them from the log.
 * Returns the lines dropped (0: nothing to finish), or -1 with e.
 */
static long
finish_interrupted(const char *spool, const char *name, const char *buf, size_t len, ec_err *e)
{
	char rel[64], *old;
	size_t olen;
	long *v, lines = 0;
	int n = ec_audit_rotated(spool, &v, e);

	if (n <= 0)
		return n;
	snprintf(rel, sizeof rel, "%s.%ld", EC_AUDIT_LOG, v[n - 1]);
	free(v);
	if (!(old = ec_spool_read(spool, rel, ROTATE_MAX, &olen, 0, e)))
		return -1;
	if (olen > 0 && olen <= len && !memcmp(old, buf, olen) && old[olen - 1] == '\n') {
		for (size_t i = 0; i < olen; i++)
			lines += old[i] == '\n';
		if (ec_write_atomic(name, buf + olen, len - olen, EC_W_FSYNC | EC_W_MODE_PRIVATE, e) < 0)
			lines = -1;
	}
	free(old);
	return lines;
}

long
ec_audit_rotate(const char *spool, long long older_than_ms, ec_err *e)
{
	char name[PATH_MAX + 32], path[PATH_MAX + 64], *buf;
	long long cutoff = older_than_ms > 0 ? ec_now_ms() - older_than_ms : LLONG_MAX;
	size_t len, moved = 0, at = 0;
	long count = 0, *v, next;
	struct stat st;
	int fd, n;

	snprintf(name, sizeof name, "%s/%s", spool, EC_AUDIT_LOG);
	if ((fd = lock_log(spool, 0, &st, e)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!(buf = ec_read_fd(fd, name, ROTATE_MAX, &len, e))) {
		close(fd);
		return -1;
	}
	if ((count = finish_interrupted(spool, name, buf, len, e)) != 0) {
		free(buf);
		close(fd);
		return count;
	}
	/* The leading run of complete lines whose time is before the cutoff. */
	while (at < len) {
		char *nl = memchr(buf + at, '\n', len - at);
		long long ms;
		json_t *j;
		int old;

		if (!nl)
			break;
		j = json_loadb(buf + at, (size_t)(nl - (buf + at)), 0, NULL);
		old = j && ec_time_parse_ms(json_string_value(json_object_get(j, "time")) ?
		    json_string_value(json_object_get(j, "time")) : "", &ms) == 0 && ms < cutoff;
		json_decref(j);
		if (!old)
			break;
		at = (size_t)(nl - buf) + 1;
		moved = at;
		count++;
	}
	if (count == 0) {
		free(buf);
		close(fd);
		return 0;
	}
	if ((n = ec_audit_rotated(spool, &v, e)) < 0) {
		free(buf);
		close(fd);
		return -1;
	}
	next = n ? v[n - 1] + 1 : 1;
	free(v);
	/* The rotated file first: a crash between the two leaves the moved lines in both
	 * files (verify then breaks at the log's line 1), never in neither; the next
	 * rotation finishes the job (finish_interrupted). */
	snprintf(path, sizeof path, "%s.%ld", name, next);
	if (ec_write_atomic(path, buf, moved, EC_W_FSYNC | EC_W_MODE_PRIVATE, e) < 0 ||
	    ec_write_atomic(name, buf + moved, len - moved, EC_W_FSYNC | EC_W_MODE_PRIVATE, e) < 0) {
		free(buf);
		close(fd);
		return -1;
	}
	free(buf);
	close(fd);      /* writers waiting on the old file find the new one */
	return count;
}
