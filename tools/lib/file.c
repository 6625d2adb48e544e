/*
 * file.c - bounded reads and atomic, durable writes.
 *
 * Every file the tools put in the spool goes through ec_write_atomic(): a dot-temp
 * in the target's directory (watchers skip dot-files), all bytes written, fsync,
 * rename(2) over the target, fsync of the directory. A crash at any point leaves
 * either the old file or the new one, plus at worst a stray dot-temp; never a
 * half-written file under the real name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypt.h"

static int
errcode(int err)
{
	return ec_errno_is_temp(err) ? EC_EXIT_TEMP : EC_EXIT_REJECT;
}

char *
ec_read_fd_raw(int fd, const char *name, size_t max, size_t *len, ec_err *e)
{
	size_t cap = 8192, n = 0;
	char *buf;
	struct stat st;

	if (fstat(fd, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			ec_fail(e, EC_EXIT_REJECT, "cannot read '%s': is a directory", name);
			return NULL;
		}
		if (S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
			ec_fail(e, EC_EXIT_REJECT, "'%s': %lld bytes exceeds the limit of %zu bytes",
			    name, (long long)st.st_size, max);
			return NULL;
		}
		if (S_ISREG(st.st_mode) && (size_t)st.st_size + 1 > cap)
			cap = (size_t)st.st_size + 1;
	}
	if (!(buf = malloc(cap)))
		goto nomem;
	for (;;) {
		ssize_t r;
		if (n + 1 >= cap) {
			char *nb;
			cap *= 2;
			if (!(nb = realloc(buf, cap)))
				goto nomem;
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ec_fail(e, EC_EXIT_TEMP, "cannot read '%s': %s", name, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			ec_fail(e, EC_EXIT_REJECT, "'%s': more than the limit of %zu bytes", name, max);
			goto fail;
		}
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
nomem:
	ec_fail(e, EC_EXIT_TEMP, "cannot read '%s': out of memory", name);
fail:
	free(buf);
	return NULL;
}

char *
ec_read_fd(int fd, const char *name, size_t max, size_t *len, ec_err *e)
{
	size_t n;
	char *buf = ec_read_fd_raw(fd, name, max, &n, e);

	/* A sealed file is opened here, for every reader (crypt.c). */
	if (buf && !(buf = ec_crypt_open_fd(fd, name, buf, &n, e)))
		return NULL;
	if (buf && len)
		*len = n;
	return buf;
}

char *
ec_read_file(const char *path, size_t max, size_t *len, ec_err *e)
{
	int fd;
	char *buf;

	if (strcmp(path, "-") == 0)
		return ec_read_fd(0, "<stdin>", max, len, e);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		ec_fail(e, errno == ENOENT || errno == ENOTDIR ? EC_EXIT_REJECT : errcode(errno),
		    "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	buf = ec_read_fd(fd, path, max, len, e);
	close(fd);
	return buf;
}

char *
ec_read_own_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
		buf = ec_read_fd(fd, path, max, len, NULL);
	close(fd);
	return buf;
}

/* Split path into its directory (malloc'd, "." if none). */
static char *
dirname_of(const char *path)
{
	const char *s = strrchr(path, '/');
	char *d;

	if (!s)
		return strdup(".");
	if (s == path)
		return strdup("/");
	if (!(d = malloc((size_t)(s - path) + 1)))
		return NULL;
	memcpy(d, path, (size_t)(s - path));
	d[s - path] = '\0';
	return d;
}

int
ec_fsync_dir(const char *dir, ec_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot open directory '%s': %s", dir, strerror(errno));
	if (fsync(fd) < 0 && errno != EINVAL) {
		int err = errno;
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot sync directory '%s': %s", dir, strerror(err));
	}
	close(fd);
	return 0;
}

/*
 * Does path hold exactly buf, and in the form it would be written now (sealed when
 * bind is not NULL, plain when it is)? Read without more than the bytes that form
 * can take, plus one.
 */
static int
same_content(const char *path, const void *buf, size_t len, const char *bind)
{
	size_t want = bind ? len + 512 : len, n = 0;
	struct stat st;
	int fd, same = 0;
	char *cur;
	ssize_t r;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > want ||
	    (!bind && (size_t)st.st_size != len))
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if ((cur = malloc(want + 1))) {
		while (n < want + 1 && (r = read(fd, cur + n, want + 1 - n)) > 0)
			n += (size_t)r;
		if (!bind)
			same = !ec_crypt_sealed(cur, n) && n == len && memcmp(cur, buf, len) == 0;
		else if (ec_crypt_sealed(cur, n)) {
			size_t pn;
			char *plain = ec_crypt_open(bind, path, cur, n, &pn, NULL);
			same = plain && pn == len && memcmp(plain, buf, len) == 0;
			free(plain);
		}
		free(cur);
	}
	close(fd);
	return same;
}

/* Write all of buf to fd, retrying short writes. 0 or -1 with errno. */
static int
write_all(int fd, const char *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

/*
 * A target that exists and is not a regular file (/dev/null, /dev/stdout, a FIFO)
 * is written straight through: renaming over it would replace the device node.
 */
static int
write_through(const char *path, const void *buf, size_t len, ec_err *e)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;

	if (fd < 0 || write_all(fd, buf, len) < 0) {
		err = errno;
		if (fd >= 0)
			close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot write '%s': %s", path, strerror(err));
	}
	close(fd);
	return 0;
}

int
ec_write_atomic(const char *path, const void *buf, size_t len, int flags, ec_err *e)
{
	char *dir = NULL, tmp[PATH_MAX], real[PATH_MAX], bind[PATH_MAX], *sealed = NULL;
	const char *base, *sealing = NULL;
	struct stat st;
	int fd = -1, err;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return ec_fail(e, EC_EXIT_REJECT, "cannot write '%s': is a directory", path);
		return write_through(path, buf, len, e);
	}
	/* Through a symbolic link, replace the file it points to, not the link. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && realpath(path, real))
		path = real;
	/* A covered file is sealed while encryption is on (crypt.c), and only then. */
	if (ec_crypt_on() && ec_crypt_binding(path, -1, bind, sizeof bind) == 0 &&
	    ec_crypt_covers(bind))
		sealing = bind;
	if ((flags & EC_W_IFCHANGED) && same_content(path, buf, len, sealing))
		return 1;
	if (sealing && !(buf = sealed = ec_crypt_seal(sealing, buf, len, &len, e)))
		return -1;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!(dir = dirname_of(path))) {
		free(sealed);
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, base, (long)getpid()) >= sizeof tmp) {
		free(dir);
		free(sealed);
		return ec_fail(e, EC_EXIT_REJECT, "path too long '%s'", path);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    (flags & EC_W_MODE_PRIVATE) ? 0600 : (flags & EC_W_MODE_GROUP) ? 0640 : 0644);
	if (fd < 0 || ((flags & EC_W_MODE_GROUP) && fchmod(fd, 0640) < 0) || write_all(fd, buf, len) < 0)
		goto fail;
	if ((flags & EC_W_FSYNC) && fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(sealed);
	if ((flags & EC_W_FSYNC) && ec_fsync_dir(dir, e) < 0) {
		free(dir);
		return -1;
	}
	free(dir);
	return 0;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(dir);
	free(sealed);
	return ec_fail(e, EC_EXIT_TEMP, "cannot write '%s': %s", path, strerror(err));
}

int
ec_write_output(const char *path, const void *buf, size_t len, int flags, ec_err *e)
{
	if (!path || strcmp(path, "-") == 0) {
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
			return ec_fail(e, EC_EXIT_TEMP, "cannot write standard output: %s", strerror(errno));
		return 0;
	}
	return ec_write_atomic(path, buf, len, flags, e);
}

int
ec_mkdir_p(const char *path, unsigned mode, ec_err *e)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof buf)
		return ec_fail(e, EC_EXIT_REJECT, "path too long '%s'", path);
	memcpy(buf, path, n + 1);
	for (char *s = buf + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return ec_fail(e, EC_EXIT_TEMP, "cannot create directory '%s': %s",
				    buf, strerror(errno));
			*s = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int
ec_append_fd(int fd, const char *name, const char *line, size_t len, ec_err *e)
{
	ssize_t w;

	/* One write(2) with O_APPEND: concurrent appenders never interleave a line
	 * (for regular files on local filesystems, and lines under PIPE_BUF anywhere). */
	w = write(fd, line, len);
	if (w != (ssize_t)len) {
		int err = w < 0 ? errno : EIO;
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot append to '%s': %s", name, strerror(err));
	}
	if (close(fd) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot append to '%s': %s", name, strerror(errno));
	return 0;
}

int
ec_open_read(const char *path, ec_err *e)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : fcntl(0, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return ec_fail(e, errno == ENOENT || !ec_errno_is_temp(errno) ? EC_EXIT_REJECT :
		    EC_EXIT_TEMP, "cannot open '%s': %s", path, strerror(errno));
	return fd;
}

int
ec_append_line(const char *path, const char *line, size_t len, ec_err *e)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot open '%s': %s", path, strerror(errno));
	return ec_append_fd(fd, path, line, len, e);
}

int
ec_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

char *
ec_basename_noext(const char *path)
{
	const char *b = strrchr(path, '/');
	const char *dot;
	char *r;

	b = b ? b + 1 : path;
	dot = strrchr(b, '.');
	if (!dot || dot == b)
		return strdup(b);
	if (!(r = malloc((size_t)(dot - b) + 1)))
		return NULL;
	memcpy(r, b, (size_t)(dot - b));
	r[dot - b] = '\0';
	return r;
}

const char *
ec_extension(const char *path)
{
	const char *b = strrchr(path, '/');
	const char *dot;

	b = b ? b + 1 : path;
	dot = strrchr(b, '.');
	return dot && dot != b ? dot + 1 : "";
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
ec_dir_names(int dfd)
{
	int fd = dup(dfd);
	size_t n = 0, cap = 16;
	char **v = malloc(cap * sizeof *v);
	struct dirent *de;
	DIR *d;

	if (fd < 0 || !v || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		free(v);
		return NULL;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n + 1 >= cap) {
			char **nv = realloc(v, (cap *= 2) * sizeof *v);
			if (!nv)
				break;
			v = nv;
		}
		if (!(v[n] = strdup(de->d_name)))
			break;
		n++;
	}
	v[n] = NULL;
	closedir(d);
	qsort(v, n, sizeof *v, cmp_name);
	return v;
}

void
ec_names_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}
