/*
 * trash.c - how an entry leaves the spool for good (see trash.h): renamed into
 * tmp/ first, synced, then removed without following a link. Shared by queue.c's
 * delete and retention.c's purge and forget.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "trash.h"

/* Deepest directory a removal descends into (a task has personas/ and no more). */
#define TRASH_MAX_DEPTH 8

void
ec_trash_name(char *out, size_t cap, const char *label, int i)
{
	snprintf(out, cap, ".trash.%s.%ld.%lld.%d", label, (long)getpid(), ec_now_ms(), i);
}

static int
remove_tree(int dfd, const char *name, int depth)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0);
	if (depth > TRASH_MAX_DEPTH || st.st_uid != geteuid()) {
		errno = EPERM;
		return -1;
	}
	if ((fd = ec_open_beneath(dfd, name, O_RDONLY, EC_OPEN_DIR, NULL, NULL)) < 0)
		return -1;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    remove_tree(fd, de->d_name, depth + 1) < 0)
			r = -1;
	closedir(d);
	return r < 0 ? -1 : unlinkat(dfd, name, AT_REMOVEDIR);
}

int
ec_trash_remove(int dfd, const char *name)
{
	return remove_tree(dfd, name, 0);
}

void
ec_trash_sweep(int tmpfd)
{
	int fd = dup(tmpfd);
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, ".trash.", 7) &&
		    fstatat(tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == geteuid())
			remove_tree(tmpfd, de->d_name, 0);
	closedir(d);
}

int
ec_trash_entry(const char *spool, int dfd, const char *dir, const char *name,
    const char *label, ec_err *e)
{
	char tname[NAME_MAX + 1];
	int tmpfd, r = -1;

	if ((tmpfd = ec_spool_open(spool, "tmp", O_RDONLY, EC_OPEN_DIR, NULL, e)) < 0) {
		if (e)
			e->code = EC_EXIT_TEMP;
		return -1;
	}
	for (int i = 0; i < 10; i++) {
		ec_trash_name(tname, sizeof tname, label, i);
		if (renameat2(dfd, name, tmpfd, tname, RENAME_NOREPLACE) == 0) {
			r = 0;
			break;
		}
		if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
			/* No RENAME_NOREPLACE here: the name is unique to this process. */
			if (renameat(dfd, name, tmpfd, tname) == 0) {
				r = 0;
				break;
			}
		}
		if (errno != EEXIST)
			break;
	}
	if (r < 0) {
		int err = errno;
		ec_fail(e, EC_EXIT_TEMP, "cannot remove '%s/%s/%s': %s", spool, dir, name,
		    strerror(err));
		close(tmpfd);
		errno = err;
		return -1;
	}
	/* Out of its queue now. A sync that fails costs at most a rename a crash
	 * undoes, and the next purge or forget makes it again. */
	(void)!fsync(tmpfd);
	(void)!fsync(dfd);
	ec_trash_remove(tmpfd, tname);
	ec_trash_sweep(tmpfd);
	close(tmpfd);
	return 0;
}
