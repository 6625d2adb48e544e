/*
 * open.c - the one way to open something in the spool.
 *
 * The spool is shared with people who are not its owner: members of its group may
 * create entries in tmp/ and incoming/, and a submitter owns the request it drops
 * and may rename, replace or hard-link things there while the watcher looks. So
 * every open of a spool entry goes through ec_spool_open(): the path is walked one
 * component at a time from a directory descriptor, no component may be a symbolic
 * link, the last one is opened O_NONBLOCK (a FIFO cannot hang us) and then judged
 * on the descriptor, never by name: a regular file with one link (or a directory),
 * owned by us unless the caller says a stranger may own it (a waiting request).
 * What is checked is what is read: callers read through the descriptor they got.
 *
 * Paths are relative to the spool root ("active/ID/.lock"); the root itself is the
 * operator's choice and may be reached through symbolic links. Its descriptor is
 * kept for the life of the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypt.h"

/* What st is, in words, for messages: "a symbolic link", "a FIFO", ... */
static const char *
kind_of(mode_t m)
{
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a file";
}

int
ec_spool_rootfd(const char *spool, ec_err *e)
{
	static int fd = -1;
	static char path[PATH_MAX];
	struct stat st;
	int nfd;

	if (fd >= 0 && strcmp(path, spool) == 0)
		return fd;
	if (strlen(spool) >= sizeof path)
		return ec_fail(e, EC_EXIT_REJECT, "spool path too long '%s'", spool);
	/* O_PATH: members of the group may only search the root (0710), not read it. */
	if ((nfd = open(spool, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(nfd, &st) < 0) {
		int err = errno;
		if (nfd >= 0)
			close(nfd);
		errno = err;
		return ec_fail(e, ec_errno_is_temp(err) ? EC_EXIT_TEMP : EC_EXIT_REJECT,
		    "cannot open the spool '%s': %s", spool, strerror(err));
	}
	if (fd >= 0)
		close(fd);
	fd = nfd;
	snprintf(path, sizeof path, "%s", spool);
	return fd;
}

/* Judge the opened entry on its descriptor. 0, or -1 with e and errno. */
static int
judge(int fd, const char *shown, int how, struct stat *st, ec_err *e)
{
	if (fstat(fd, st) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot stat '%s': %s", shown, strerror(errno));
	if ((how & EC_OPEN_DIR) ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
		errno = (how & EC_OPEN_DIR) ? ENOTDIR : EINVAL;
		return ec_fail(e, EC_EXIT_REJECT, "'%s' is %s, expected %s", shown,
		    kind_of(st->st_mode), (how & EC_OPEN_DIR) ? "a directory" : "a regular file");
	}
	/* A second name could be anywhere: a file of ours linked where a stranger put
	 * it, or a request its writer still holds elsewhere. */
	if (!(how & EC_OPEN_DIR) && st->st_nlink != 1) {
		errno = EMLINK;
		return ec_fail(e, EC_EXIT_REJECT, "'%s' has %lu hard links, expected one",
		    shown, (unsigned long)st->st_nlink);
	}
	if (!(how & EC_OPEN_ANY_OWNER) && st->st_uid != geteuid()) {
		errno = EPERM;
		return ec_fail(e, EC_EXIT_REJECT, "'%s' belongs to uid %lu, expected the spool's "
		    "owner (uid %lu)", shown, (unsigned long)st->st_uid, (unsigned long)geteuid());
	}
	return 0;
}

/* Fill e for a failed openat of dirfd/name (shown in messages); errno is kept. */
static int
open_failed(int dirfd, const char *name, const char *shown, int how, ec_err *e)
{
	int err = errno;
	const char *want = (how & EC_OPEN_DIR) ? "a directory" : "a regular file";
	struct stat st;

	/* O_NOFOLLOW on a link is ELOOP; O_DIRECTORY on anything else ENOTDIR; a
	 * socket is ENXIO. The entry may have changed again since: say what the
	 * error means when a second look disagrees. */
	if (err == ELOOP)
		ec_fail(e, EC_EXIT_REJECT, "'%s' is a symbolic link, expected %s", shown, want);
	else if (err == ENOTDIR || err == ENXIO) {
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    ((how & EC_OPEN_DIR) ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
			ec_fail(e, EC_EXIT_REJECT, "'%s' is %s, expected %s", shown, kind_of(st.st_mode), want);
		else
			ec_fail(e, EC_EXIT_REJECT, "'%s' was replaced while it was being opened", shown);
	} else
		ec_fail(e, err == ENOENT || err == ENAMETOOLONG ? EC_EXIT_REJECT :
		    ec_errno_is_temp(err) ? EC_EXIT_TEMP : EC_EXIT_REJECT,
		    "cannot open '%s': %s", shown, strerror(err));
	errno = err;
	return -1;
}

/* ec_open_beneath, with messages naming prefix + rel (the spool's path and a '/'). */
static int
open_beneath(int dirfd, const char *prefix, const char *rel, int oflags, int how,
    struct stat *st, ec_err *e)
{
	char comp[NAME_MAX + 1], full[PATH_MAX + NAME_MAX];
	const char *p = rel, *slash;
	struct stat stbuf;
	int fd = dirfd, nfd;

	if (!st)
		st = &stbuf;
	snprintf(full, sizeof full, "%s%s", prefix, rel);
	if (*rel == '\0' || *rel == '/') {
		errno = EINVAL;
		return ec_fail(e, EC_EXIT_REJECT, "'%s': expected a path inside the spool", rel);
	}
	/* Every directory on the way, without following a link: O_PATH|O_NOFOLLOW|
	 * O_DIRECTORY fails with ENOTDIR on a symbolic link. */
	while ((slash = strchr(p, '/'))) {
		size_t n = (size_t)(slash - p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p = slash + 1;
			continue;
		}
		if (n > NAME_MAX || (n == 2 && p[0] == '.' && p[1] == '.')) {
			if (fd != dirfd)
				close(fd);
			errno = n > NAME_MAX ? ENAMETOOLONG : EINVAL;
			return ec_fail(e, EC_EXIT_REJECT, "'%s': expected a path inside the spool", rel);
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			char shown[PATH_MAX + NAME_MAX];
			snprintf(shown, sizeof shown, "%s%.*s", prefix, (int)(slash - rel), rel);
			open_failed(fd, comp, shown, EC_OPEN_DIR, e);
			if (fd != dirfd) {
				int err = errno;
				close(fd);
				errno = err;
			}
			return -1;
		}
		if (fd != dirfd)
			close(fd);
		fd = nfd;
		p = slash + 1;
	}
	if (*p == '\0' || !strcmp(p, "..")) {
		if (fd != dirfd)
			close(fd);
		errno = EINVAL;
		return ec_fail(e, EC_EXIT_REJECT, "'%s': expected a path inside the spool", rel);
	}
	/* New files are the owner's alone; a directory is opened to be read or synced,
	 * or (O_PATH) only to be passed through, where we may not read it. */
	if (how & EC_OPEN_DIR)
		oflags = (oflags & O_PATH) | (oflags & O_PATH ? 0 : O_RDONLY) | O_DIRECTORY;
	nfd = openat(fd, p, oflags | O_NOFOLLOW | (oflags & O_PATH ? 0 : O_NONBLOCK | O_NOCTTY) |
	    O_CLOEXEC, 0600);
	if (nfd < 0)
		open_failed(fd, p, full, how, e);
	if (fd != dirfd) {
		int err = errno;
		close(fd);
		errno = err;
	}
	if (nfd < 0)
		return -1;
	if (judge(nfd, full, how, st, e) < 0) {
		int err = errno;
		close(nfd);
		errno = err;
		return -1;
	}
	/* Reads and writes of a regular file never block anyway; clear the flag so
	 * nothing downstream is surprised by it. */
	if (!(how & EC_OPEN_DIR))
		fcntl(nfd, F_SETFL, fcntl(nfd, F_GETFL) & ~O_NONBLOCK);
	return nfd;
}

int
ec_open_beneath(int dirfd, const char *rel, int oflags, int how, struct stat *st, ec_err *e)
{
	return open_beneath(dirfd, "", rel, oflags, how, st, e);
}

int
ec_spool_open(const char *spool, const char *rel, int oflags, int how, struct stat *st, ec_err *e)
{
	char prefix[PATH_MAX + 1];
	int root = ec_spool_rootfd(spool, e);

	snprintf(prefix, sizeof prefix, "%s/", spool);
	return root < 0 ? -1 : open_beneath(root, prefix, rel, oflags, how, st, e);
}

char *
ec_spool_read(const char *spool, const char *rel, size_t max, size_t *len, int how, ec_err *e)
{
	int fd = ec_spool_open(spool, rel, O_RDONLY, how, NULL, e);
	char name[PATH_MAX + NAME_MAX], *buf;

	if (fd < 0)
		return NULL;
	snprintf(name, sizeof name, "%s/%s", spool, rel);
	buf = ec_read_fd(fd, name, max, len, e);
	close(fd);
	return buf;
}

/*
 * Mapped, not read: a kept image (cache/rulebases/) is read by six processes per
 * epic, and copying it into fresh memory cost more than using it. The file is the
 * owner's with one link (ec_spool_open), and the owner replaces it only by rename,
 * so the mapping's bytes do not change or shrink under the reader. A sealed file is
 * not mapped (NULL with e->code 0): the caller reads it instead (ec_read_fd).
 */
void *
ec_spool_map(const char *spool, const char *rel, size_t max, size_t *len, ec_err *e)
{
	struct stat st;
	int fd = ec_spool_open(spool, rel, O_RDONLY, 0, &st, e);
	void *m;

	if (fd < 0)
		return NULL;
	if (st.st_size <= 0 || (size_t)st.st_size > max) {
		close(fd);
		return ec_fail(e, EC_EXIT_REJECT, "%s/%s: expected 1 to %zu bytes", spool, rel,
		    max), NULL;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return ec_fail(e, EC_EXIT_TEMP, "%s/%s: cannot map: %s", spool, rel,
		    strerror(errno)), NULL;
	if (ec_crypt_sealed(m, (size_t)st.st_size)) {
		munmap(m, (size_t)st.st_size);
		if (e)
			e->code = 0;
		return NULL;
	}
	*len = (size_t)st.st_size;
	return m;
}

json_t *
ec_spool_json(const char *spool, const char *rel, size_t max, ec_err *e)
{
	size_t len;
	char *buf = ec_spool_read(spool, rel, max, &len, 0, e);
	json_t *j;

	if (!buf)
		return NULL;
	j = ec_json_loadb(buf, len, rel, e);
	if (!j)
		ec_err_prefix(e, "%s", spool);
	free(buf);
	return j;
}

int
ec_spool_append(const char *spool, const char *rel, const char *line, size_t len, ec_err *e)
{
	int fd = ec_spool_open(spool, rel, O_WRONLY | O_APPEND | O_CREAT, 0, NULL, e);

	return fd < 0 ? -1 : ec_append_fd(fd, rel, line, len, e);
}

int
ec_open_key_file(const char *path, int how, struct stat *st, ec_err *e)
{
	int dir = how & EC_OPEN_DIR;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
	    (dir ? O_DIRECTORY : 0));
	struct stat own;

	if (!st)
		st = &own;
	if (fd < 0) {
		int err = errno;
		/* A key store that is not there or not right is the operator's to fix,
		 * never the request's fault: temporary, whatever errno says. */
		ec_fail(e, EC_EXIT_TEMP, "%s '%s': %s", dir ? "key directory" : "key file", path,
		    err == ELOOP ? "is a symbolic link" : err == ENOENT ?
		    (dir ? "missing (make a key with 'epic key new')" : "missing") : strerror(err));
		errno = err;
		return -1;
	}
	if (fstat(fd, st) < 0 || (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))) {
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "'%s': expected %s", path,
		    dir ? "a directory" : "a regular file");
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}
