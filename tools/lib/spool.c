/*
 * spool.c - the spool's places, names and permissions, and the drop protocol.
 *
 * A request's name becomes part of a task id and a directory name, so it is
 * sanitised to [A-Za-z0-9._-] here, once, for every tool. The spool root is found
 * the same way by every tool, so `epic run`, the watcher and the pipeline share
 * one cache and one audit trail.
 *
 * Permissions. The spool belongs to the user the watcher runs as. Its group may be
 * given the right to drop requests and nothing else: tmp/ and incoming/ are
 * write-and-search only for the group (01730: create files, but neither list the
 * directory nor, thanks to the sticky bit, rename or remove another user's file),
 * the root is 0710 (the group may pass through it), and every directory holding
 * results, state or logs is 0700 (hold/ too: a held request is out of its
 * submitter's reach). refused/ is like incoming/ (01730), for the refusals of
 * admin commands under security.roles (roles.c); it is given the root's group
 * when it is created, when the owner may. Modes are set with chmod(2) right after mkdir(2),
 * because the umask would strip the group's write bit, and only on the directory
 * just created: an operator's later chmod is never undone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ec.h"

/* The root's mode: owner all, group may traverse (to reach tmp/ and incoming/). */
#define SPOOL_ROOT_MODE 0710

/* Every state directory and the mode it is created with (see the file header). */
static const struct {
	const char *name;
	mode_t mode;
} state_dirs[] = {
	{ "tmp", 01730 },
	{ "incoming", 01730 },
	{ "active", 0700 },
	{ "done", 0700 },
	{ "failed", 0700 },
	{ "deferred", 0700 },
	{ "hold", 0700 },
	{ "cache", 0700 },
	{ "log", 0700 },
	{ "refused", 01730 },   /* refusals dropped for the owner to audit (roles.c) */
	{ NULL, 0 },
};

const char *
ec_spool_root(const char *opt)
{
	static char root[PATH_MAX];
	const char *env = getenv("EPIC_SPOOL"), *xdg, *home;
	char probe[PATH_MAX + 32];

	if (opt && *opt)
		return opt;
	if (env && *env)
		return env;
	/* Run from a checkout: the checkout's own spool/, whatever the cwd (the
	 * per-task make runs in spool/active/ID and must find the same spool). */
	snprintf(probe, sizeof probe, "%s/../pipeline/epic-creator.yml", ec_bindir());
	if (access(probe, R_OK) == 0) {
		snprintf(probe, sizeof probe, "%s/../spool", ec_bindir());
		if (realpath(probe, root))
			return root;
		snprintf(probe, sizeof probe, "%s/..", ec_bindir());
		if (realpath(probe, root) && strlen(root) + 7 < sizeof root) {
			strcat(root, "/spool");
			return root;
		}
	}
	if ((xdg = getenv("XDG_STATE_HOME")) && *xdg)
		snprintf(root, sizeof root, "%s/epic-creator", xdg);
	else if ((home = getenv("HOME")) && *home)
		snprintf(root, sizeof root, "%s/.local/state/epic-creator", home);
	else
		snprintf(root, sizeof root, "./spool");
	return root;
}

/*
 * Create directory path with exactly mode if it does not exist. A directory that
 * exists is left as it is (its mode may be an operator's choice). Between mkdir and
 * chmod the directory has mode & ~umask, never more than mode, so there is no
 * moment at which it is more open than intended. 0 or -1 (e filled).
 */
static int
mkdir_mode(const char *path, mode_t mode, ec_err *e)
{
	struct stat st;
	int err, seen;

	if (mkdir(path, mode & 0777) == 0) {
		if (chmod(path, mode) < 0)
			return ec_fail(e, EC_EXIT_TEMP, "cannot set the mode of '%s': %s",
			    path, strerror(errno));
		return 0;
	}
	/* mkdir may say EROFS or EACCES about a directory that exists: what counts
	 * is that it does. */
	err = errno;
	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return ec_fail(e, EC_EXIT_REJECT, "cannot use '%s': not a directory", path);
		return 0;
	}
	/* Not even there to be seen (a user outside the spool's group): say so. */
	if ((seen = errno) != ENOENT)
		err = seen;
	return ec_fail(e, ec_errno_is_temp(err) ? EC_EXIT_TEMP : EC_EXIT_REJECT,
	    "cannot %s directory '%s': %s", seen == ENOENT ? "create" : "access", path,
	    strerror(err));
}

int
ec_spool_init(const char *root, ec_err *e)
{
	char p[PATH_MAX], *slash;
	size_t n = strlen(root);

	if (n == 0 || n >= sizeof p - 16)
		return ec_fail(e, EC_EXIT_REJECT, "bad spool path '%s'", root);
	/* The root's parents are ordinary directories (mkdir -p); the root itself gets
	 * its own mode. Trailing slashes are not part of the name. */
	memcpy(p, root, n + 1);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	if (!ec_exists(p)) {
		if ((slash = strrchr(p, '/')) && slash != p) {
			*slash = '\0';
			if (ec_mkdir_p(p, 0755, e) < 0)
				return -1;
			*slash = '/';
		}
		if (mkdir_mode(p, SPOOL_ROOT_MODE, e) < 0)
			return -1;
	}
	for (size_t i = 0; state_dirs[i].name; i++) {
		struct stat rst;
		int made;
		snprintf(p + n, sizeof p - n, "/%s", state_dirs[i].name);
		made = !ec_exists(p);
		if (mkdir_mode(p, state_dirs[i].mode, e) < 0)
			return -1;
		/* refused/ goes to whom the root goes: the group that may drop (best effort:
		 * an owner outside that group leaves it to the operator's chgrp). */
		if (made && !strcmp(state_dirs[i].name, "refused")) {
			p[n] = '\0';
			if (stat(p, &rst) == 0) {
				snprintf(p + n, sizeof p - n, "/refused");
				if (chown(p, (uid_t)-1, rst.st_gid) == 0)
					chmod(p, state_dirs[i].mode);
			}
		}
	}
	return 0;
}

int
ec_id_valid(const char *id)
{
	size_t n = id ? strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") : 0;

	return id && n > 0 && id[n] == '\0' && n <= EC_MAX_ID && id[0] != '.' && id[0] != '-';
}

const char *
ec_request_ext(const char *name, const char *buf, size_t len)
{
	const char *ext = strcmp(name, "-") ? ec_extension(name) : "";
	size_t i = 0;

	if (!strcmp(ext, "json") || !strcmp(ext, "md") || !strcmp(ext, "txt"))
		return ext;
	if (!strcmp(ext, "markdown"))
		return "md";
	if (!strcmp(ext, "text"))
		return "txt";
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	return i < len && (buf[i] == '{' || buf[i] == '[') ? "json" : i < len && buf[i] == '#' ? "md" : "txt";
}

/* Write all of len bytes. 0 or -1 with errno. */
static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Make the rename into incoming/ durable. The directory is fsync'd when we may read
 * it; a submitter who only belongs to the spool's group may not (incoming/ is not
 * readable for the group), and then the whole filesystem is synced through the
 * request's own descriptor, which is slower but just as durable. 0 or -1 (errno).
 */
static int
sync_incoming(const char *spool, int fd)
{
	int dfd = ec_spool_open(spool, "incoming", O_RDONLY, EC_OPEN_DIR | EC_OPEN_ANY_OWNER,
	    NULL, NULL);

	if (dfd < 0)
		return errno == EACCES ? syncfs(fd) : -1;
	if (fsync(dfd) < 0 && errno != EINVAL) {
		int err = errno;
		close(dfd);
		errno = err;
		return -1;
	}
	return close(dfd);
}

int
ec_spool_drop(const char *root, const char *id, const char *ext, const void *buf,
    size_t len, ec_err *e)
{
	char tmp[NAME_MAX + 1], dst[NAME_MAX + 1];
	struct stat st;
	int tfd = -1, ifd = -1, fd = -1, err, r;

	/* The id and extension become a file name: nothing but a clean name will do. */
	if (!ec_id_valid(id) || (strcmp(ext, "json") && strcmp(ext, "md") && strcmp(ext, "txt")))
		return ec_fail(e, EC_EXIT_REJECT, "bad request name '%s.%s'", id, ext);
	snprintf(dst, sizeof dst, "%s.%s", id, ext);
	/* O_PATH: a member of the group may search tmp/ and incoming/, not read them.
	 * Both are the owner's; the spool's group may only add entries. */
	if ((tfd = ec_spool_open(root, "tmp", O_PATH, EC_OPEN_DIR | EC_OPEN_ANY_OWNER, NULL, e)) < 0 ||
	    (ifd = ec_spool_open(root, "incoming", O_PATH, EC_OPEN_DIR | EC_OPEN_ANY_OWNER, NULL, e)) < 0) {
		if (tfd >= 0)
			close(tfd);
		e->code = EC_EXIT_TEMP;
		return -1;
	}
	/* Already waiting (the same bytes, as the name says): nothing to write. */
	if (fstatat(ifd, dst, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		r = 1;
		goto out;
	}
	/* A unique dot-name in tmp/: the watcher never looks in tmp/, and O_EXCL
	 * guarantees that a stale file of a dead writer with our pid (or anything a
	 * stranger put there, a link included) is never reused. */
	for (int i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(tmp, sizeof tmp, ".%s.%ld.tmp", id, (long)getpid());
		else
			snprintf(tmp, sizeof tmp, ".%s.%ld-%d.tmp", id, (long)getpid(), i);
		if ((fd = ec_open_beneath(tfd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0, NULL, e)) >= 0 ||
		    errno != EEXIST)
			break;
	}
	if (fd < 0) {
		r = ec_fail(e, EC_EXIT_TEMP, "cannot create '%s/tmp/%s': %s", root, tmp, strerror(errno));
		goto out;
	}
	/* 0644 whatever the umask: the watcher may be another user and must read the
	 * request. Nobody else can reach it: incoming/ is not searchable by others,
	 * and the group cannot list it (a name holds a hash of the bytes). */
	if (fchmod(fd, 0644) < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0)
		goto fail;
	/* Never replace a waiting request: it may be another user's (the sticky bit
	 * would refuse anyway) and holds the same bytes. A filesystem without
	 * RENAME_NOREPLACE gets a plain rename; the check above makes that safe enough,
	 * as a lost race only replaces a file with itself. */
	if (renameat2(tfd, tmp, ifd, dst, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST) {
			unlinkat(tfd, tmp, 0);
			r = 1;
			goto out;
		}
		if ((errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) ||
		    renameat(tfd, tmp, ifd, dst) < 0)
			goto fail;
	}
	/* From here on the request is in incoming/ and the watcher may take it at any
	 * moment: a failure leaves it there (a retry finds it and writes nothing). */
	if (sync_incoming(root, fd) < 0) {
		r = ec_fail(e, EC_EXIT_TEMP, "cannot sync directory '%s/incoming': %s", root,
		    strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = ec_fail(e, EC_EXIT_TEMP, "cannot write '%s/incoming/%s': %s", root, dst,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	r = 0;
	goto out;
fail:
	err = errno;
	unlinkat(tfd, tmp, 0);
	r = ec_fail(e, EC_EXIT_TEMP, "cannot write '%s/incoming/%s': %s", root, dst, strerror(err));
out:
	if (fd >= 0)
		close(fd);
	close(tfd);
	close(ifd);
	return r;
}

int
ec_sanitize_name(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	int last_sub = 0;

	if (cap == 0)
		return -1;
	for (const unsigned char *s = (const unsigned char *)in; *s && n + 1 < cap && n < EC_MAX_NAME; s++) {
		int ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-';
		/* No leading dots (hidden, "..") or dashes (option-like). */
		if (n == 0 && (*s == '.' || *s == '-' || !ok))
			continue;
		if (ok) {
			out[n++] = (char)*s;
			last_sub = 0;
		} else if (!last_sub) {
			out[n++] = '_';
			last_sub = 1;
		}
	}
	while (n > 0 && (out[n - 1] == '_' || out[n - 1] == '.' || out[n - 1] == '-'))
		n--;
	out[n] = '\0';
	return n ? 0 : -1;
}

int
ec_task_id(const char *base, const void *content, size_t len, char *out, size_t cap)
{
	char name[EC_MAX_NAME + 1], hex[17];

	if (ec_sanitize_name(base, name, sizeof name) < 0)
		snprintf(name, sizeof name, "request");
	ec_xxh3_hex(content, len, hex);
	return (size_t)snprintf(out, cap, "%s-%.8s", name, hex) < cap ? 0 : -1;
}

void
ec_spool_keep(const char *spool, const char *rel, const void *buf, size_t len)
{
	char path[PATH_MAX + 256], *slash;

	snprintf(path, sizeof path, "%s/cache", spool);
	if (!ec_exists(path))
		return;
	snprintf(path, sizeof path, "%s/%s", spool, rel);
	if (!(slash = strrchr(path, '/')))
		return;
	*slash = '\0';
	if (ec_mkdir_p(path, 0755, NULL) < 0)
		return;
	*slash = '/';
	ec_write_atomic(path, buf, len, 0, NULL);
}
