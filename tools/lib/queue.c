/*
 * queue.c - the moves an operator makes in the spool's queues (Postfix's
 * postsuper): hold, release, requeue and delete (epic-queue(1)).
 *
 * Every move is one rename(2) within the spool, which replaces nothing
 * (RENAME_NOREPLACE), is written to the audit log before it is made (audit.c: the
 * log may say a thing twice, it never misses one), and is followed by an fsync of
 * the directory it left and the one it entered, so a move that returned survives
 * a crash. Only the spool's owner moves anything: the files are the owner's.
 *
 * A task is moved only under its lock (task.c's STATE/ID/.lock), taken without
 * waiting and checked to still be where it was found: a task whose lock is held is
 * running and is left alone (EC_EXIT_TEMP), and a launcher that wants the task
 * meanwhile finds it moved and looks again. A request in incoming/ may be a group
 * member's file, which its owner can swap for a link or a FIFO between any two of
 * our steps: it is judged on a descriptor (queuelist.c), and what a rename moved
 * must be the very inode that was judged, else it is put back and nothing is done.
 *
 * hold/ is the owner's alone (0700) and no watcher looks into it. A held request is
 * kept as hold/ID.EXT, a held task as hold/ID, so release knows where each goes
 * back: a file to incoming/ (where the name, which ends in its hash, gives the same
 * id again), a directory to deferred/.
 *
 * Requeue puts a task in deferred/ with deferred.json saying it is due now, which
 * is what the watcher already retries: at start-up, and when anything is moved
 * into deferred/ or re-timed there (epic-watch watches the directory). A task from
 * failed/ or done/ starts over with no attempt counted; a deferred one keeps its
 * count and is only made due now. A done task reruns incrementally (make).
 *
 * Delete renames the entry into tmp/ under a dot-name no tool takes, syncs, and
 * only then removes it (trash.c, shared with epic purge and forget), never
 * following a link: a crash in between leaves nothing
 * half-removed in a queue, and the next delete sweeps what was left.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "trash.h"
#include "roles.h"

/* The operator's uid, named in the audit line. */
static json_int_t
operator_uid(void)
{
	return (json_int_t)geteuid();
}

/* Only the spool's owner may move what is in it. 0, or -1 with e. */
static int
owner_only(const char *spool, const char *what, const char *id, ec_err *e)
{
	struct stat st;
	int fd = ec_spool_rootfd(spool, e);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot stat '%s': %s", spool, strerror(errno));
	if (st.st_uid != geteuid())
		return ec_fail(e, EC_EXIT_REJECT, "cannot %s '%s': only the spool's owner (uid %lu) may",
		    what, id, (unsigned long)st.st_uid);
	return 0;
}

/* Find id for a move, or fail saying it is nowhere. 0 or -1 with e. */
static int
find(const char *spool, const char *id, ec_queue_loc *loc, ec_err *e)
{
	int r;

	if (!ec_id_valid(id))
		return ec_fail(e, EC_EXIT_REJECT, "invalid task id '%s'", id);
	if ((r = ec_queue_locate(spool, id, loc, e)) < 0)
		return -1;
	if (r == 0)
		return ec_fail(e, EC_EXIT_REJECT, "no task '%s' in '%s'", id, spool);
	return 0;
}

/* A state directory of the spool, O_RDONLY (to rename in and to sync). -1 with e. */
static int
state_dir(const char *spool, const char *state, ec_err *e)
{
	int fd = ec_spool_open(spool, state, O_RDONLY, EC_OPEN_DIR, NULL, e);

	if (fd < 0 && e)
		e->code = EC_EXIT_TEMP;
	return fd;
}

/* renameat2 without replacing anything; where the filesystem cannot promise that,
 * a look first and a plain rename (a lost race then needs a second operator).
 * 0 or -1 with errno. */
static int
rename_noreplace(int from, const char *fname, int to, const char *tname)
{
	struct stat st;

	if (renameat2(from, fname, to, tname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -1;
	if (fstatat(to, tname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(from, fname, to, tname);
}

/* fsync both directories of a move. 0 or -1 with e. */
static int
sync_both(const char *spool, int from, const char *fstate, int to, const char *tstate, ec_err *e)
{
	if (fsync(to) < 0 && errno != EINVAL)
		return ec_fail(e, EC_EXIT_TEMP, "cannot sync '%s/%s': %s", spool, tstate, strerror(errno));
	if (fsync(from) < 0 && errno != EINVAL)
		return ec_fail(e, EC_EXIT_TEMP, "cannot sync '%s/%s': %s", spool, fstate, strerror(errno));
	return 0;
}

/*
 * Move loc's entry to spool/TO/tname by one rename, then sync both directories. A
 * request taken out of incoming/ must arrive as the inode that was judged, else it
 * is put back and the move fails (EC_EXIT_TEMP: try again). 0 or -1 with e.
 */
static int
move_entry(const char *spool, const ec_queue_loc *loc, const char *to, const char *tname,
    ec_err *e)
{
	int from = -1, dst = -1, r = -1;
	struct stat st;

	if ((from = state_dir(spool, loc->state, e)) < 0 || (dst = state_dir(spool, to, e)) < 0)
		goto out;
	if (rename_noreplace(from, loc->name, dst, tname) < 0) {
		int err = errno;
		if (err == ENOENT)
			ec_fail(e, EC_EXIT_TEMP, "'%s' left %s/ meanwhile (claimed or moved): look again",
			    loc->id, loc->state);
		else if (err == EEXIST || err == ENOTEMPTY)
			ec_fail(e, EC_EXIT_REJECT, "cannot move '%s' to %s/: '%s/%s' exists already",
			    loc->id, to, to, tname);
		else
			ec_fail(e, ec_errno_is_temp(err) ? EC_EXIT_TEMP : EC_EXIT_REJECT,
			    "cannot move '%s' to %s/: %s", loc->id, to, strerror(err));
		goto out;
	}
	/* Only incoming/ is shared; what left it may be taken by a watcher the moment it
	 * arrives in incoming/ again, so the check is on the way out. */
	if (!strcmp(loc->state, "incoming") && (fstatat(dst, tname, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_dev != loc->st.st_dev || st.st_ino != loc->st.st_ino)) {
		/* Its owner put something else under the name: that goes back. */
		if (rename_noreplace(dst, tname, from, loc->name) < 0)
			ec_fail(e, EC_EXIT_TEMP, "'%s' was replaced while it was being moved; what "
			    "replaced it is in '%s/%s/%s'", loc->id, spool, to, tname);
		else
			ec_fail(e, EC_EXIT_TEMP, "'%s' was replaced while it was being moved; left "
			    "where it was", loc->id);
		goto out;
	}
	r = sync_both(spool, from, loc->state, dst, to, e);
out:
	if (from >= 0)
		close(from);
	if (dst >= 0)
		close(dst);
	return r;
}

/*
 * Take task loc's lock without waiting and check that it is still where it was
 * found. The descriptor (closing it releases the lock), or -1 with e (EC_EXIT_TEMP:
 * running, or moved meanwhile).
 */
static int
lock_task(const char *spool, const ec_queue_loc *loc, ec_err *e)
{
	char rel[EC_MAX_ID + 32];
	ec_queue_loc now;
	int fd;

	snprintf(rel, sizeof rel, "%s/%s/.lock", loc->state, loc->id);
	if ((fd = ec_spool_open(spool, rel, O_RDWR | O_CREAT, 0, NULL, e)) < 0) {
		if (errno == ENOENT)
			ec_fail(e, EC_EXIT_TEMP, "task '%s' left %s/ meanwhile: look again", loc->id,
			    loc->state);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "task '%s' is running (its lock is held): try again "
		    "when it has stopped", loc->id);
	}
	if (ec_queue_locate(spool, loc->id, &now, NULL) != 1 || !now.task ||
	    strcmp(now.state, loc->state) != 0) {
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "task '%s' left %s/ meanwhile: look again", loc->id,
		    loc->state);
	}
	return fd;
}

/* The audit line of a move, written before it is made. 0 or -1 with e. */
static int
audit(const char *spool, const char *what, const ec_queue_loc *loc, const char *to, ec_err *e)
{
	char name[NAME_MAX * 4 + 1];
	json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s}", "event", what, "task", loc->id,
	    "uid", operator_uid(), "from", loc->state, "to", to);
	int r;

	if (!loc->task) {
		ec_escape_controls(loc->name, name, sizeof name);
		json_object_set_new(j, "detail", json_sprintf("request %s/%s", loc->state, name));
	}
	r = ec_audit(spool, j, e);
	json_decref(j);
	return r;
}

/*
 * The audit line of a move is written before it is made (audit above), so a move
 * that then fails is said too: one more line, the same event with "failed" and
 * why, so that the log never records a move that did not happen without saying
 * so. Best effort: e (the move's error) is kept as it is.
 */
static void
audit_failed(const char *spool, const char *what, const ec_queue_loc *loc, const ec_err *e)
{
	char why[sizeof e->msg * 4];
	json_t *j;

	ec_escape_controls(e->msg, why, sizeof why);
	j = json_pack("{s:s, s:s, s:I, s:s, s:s}", "event", what, "task", loc->id,
	    "uid", operator_uid(), "result", "failed", "reason", why);
	ec_audit(spool, j, NULL);
	json_decref(j);
}

/* The audit line, then the move; a failed move is said in the log too. */
static int
audited_move(const char *spool, const char *what, const ec_queue_loc *loc, const char *to,
    const char *tname, ec_err *e)
{
	if (audit(spool, what, loc, to, e) < 0)
		return -1;
	if (move_entry(spool, loc, to, tname, e) == 0)
		return 0;
	audit_failed(spool, what, loc, e);
	return -1;
}

int
ec_queue_hold(const char *spool, const char *id, ec_queue_loc *was, ec_err *e)
{
	ec_queue_loc loc;
	char tname[NAME_MAX + 1];
	int lock = -1, r;

	if (owner_only(spool, "hold", id, e) < 0 || find(spool, id, &loc, e) < 0)
		return -1;
	if (was)
		*was = loc;
	if (!strcmp(loc.state, "hold"))
		return ec_fail(e, EC_EXIT_REJECT, "'%s' is held already", id);
	if (strcmp(loc.state, "incoming") && strcmp(loc.state, "deferred"))
		return ec_fail(e, EC_EXIT_REJECT, "cannot hold '%s': it is in %s/; only a request in "
		    "incoming/ or a deferred task can be held", id, loc.state);
	if (ec_spool_init(spool, e) < 0)        /* hold/ in a spool older than it */
		return -1;
	if (loc.task && (lock = lock_task(spool, &loc, e)) < 0)
		return -1;
	/* A request is held under its id, which its name then gives back on release. */
	snprintf(tname, sizeof tname, loc.task ? "%s" : "%s.%s", loc.id, loc.ext);
	r = audited_move(spool, "hold", &loc, "hold", tname, e);
	if (lock >= 0)
		close(lock);
	return r;
}

int
ec_queue_release(const char *spool, const char *id, ec_queue_loc *was, ec_err *e)
{
	ec_queue_loc loc;
	const char *to;
	int lock = -1, r;

	if (owner_only(spool, "release", id, e) < 0 || find(spool, id, &loc, e) < 0)
		return -1;
	if (was)
		*was = loc;
	if (strcmp(loc.state, "hold"))
		return ec_fail(e, EC_EXIT_REJECT, "cannot release '%s': it is not held (it is in %s/)",
		    id, loc.state);
	to = loc.task ? "deferred" : "incoming";
	if (loc.task && (lock = lock_task(spool, &loc, e)) < 0)
		return -1;
	r = audited_move(spool, "release", &loc, to, loc.name, e);
	if (lock >= 0)
		close(lock);
	return r;
}

/* Does task loc hold a request it can run (request.json, .md or .txt of ours)? */
static int
has_request(const char *spool, const ec_queue_loc *loc)
{
	char rel[EC_MAX_ID + 32];

	for (int i = 0; i < 3; i++) {
		static const char *const ext[] = { "json", "md", "txt" };
		int fd;
		snprintf(rel, sizeof rel, "%s/%s/request.%s", loc->state, loc->id, ext[i]);
		if ((fd = ec_spool_open(spool, rel, O_RDONLY, 0, NULL, NULL)) >= 0) {
			close(fd);
			return 1;
		}
	}
	return 0;
}

/*
 * The retry markers (.retry.N.UID, task.c) of the task directory dfd: re-timed to
 * be due now (keep), or removed, so deferred.json is what the watcher reads (a
 * fresh start). 0 or -1 with errno.
 */
static int
retry_markers(int dfd, int keep)
{
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	struct dirent *de;
	int fd = dup(dfd), r = 0;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, ".retry.", 7) &&
		    (keep ? utimensat(dfd, de->d_name, ts, AT_SYMLINK_NOFOLLOW) :
		    unlinkat(dfd, de->d_name, 0)) < 0)
			r = -1;
	closedir(d);
	return r;
}

/*
 * Make task loc (locked) due now: deferred.json says so (attempts kept for a
 * deferred task, none for any other), and the retry markers agree. 0 or -1 with e.
 */
static int
make_due(const char *spool, const ec_queue_loc *loc, ec_err *e)
{
	char rel[EC_MAX_ID + 16], path[PATH_MAX + EC_MAX_ID + 32], why[64];
	int keep = !strcmp(loc->state, "deferred"), dfd, attempts = 0, r;
	long long due;
	uid_t uid = geteuid();
	json_t *d;

	if (keep && ec_task_retry_read(spool, loc->state, loc->id, &attempts, &uid, &due) < 0) {
		snprintf(rel, sizeof rel, "%s/%s/deferred.json", loc->state, loc->id);
		d = ec_spool_json(spool, rel, 1 << 16, NULL);
		attempts = (int)ec_json_get_int(d, "attempts", 0);
		attempts = attempts >= 0 && attempts <= 1000 ? attempts : 0;
		json_decref(d);
	}
	snprintf(rel, sizeof rel, "%s/%s", loc->state, loc->id);
	if ((dfd = ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, e)) < 0)
		return -1;
	snprintf(why, sizeof why, "requeued by uid %lu", (unsigned long)geteuid());
	snprintf(path, sizeof path, "%s/%s/deferred.json", spool, rel);
	d = json_pack("{s:i, s:I, s:s, s:I}", "attempts", attempts, "nextAttemptAt",
	    (json_int_t)(ec_now_ms() / 1000), "reason", why, "uid", (json_int_t)uid);
	r = ec_json_write(path, d, EC_W_FSYNC, e) < 0 ? -1 : 0;
	json_decref(d);
	if (r == 0 && retry_markers(dfd, keep) < 0)
		r = ec_fail(e, EC_EXIT_TEMP, "cannot reset the retry state of '%s': %s", loc->id,
		    strerror(errno));
	if (r == 0 && fsync(dfd) < 0 && errno != EINVAL)
		r = ec_fail(e, EC_EXIT_TEMP, "cannot sync '%s/%s': %s", spool, rel, strerror(errno));
	close(dfd);
	return r;
}

int
ec_queue_requeue(const char *spool, const char *id, ec_queue_loc *was, ec_err *e)
{
	ec_queue_loc loc;
	int lock, r;

	if (owner_only(spool, "requeue", id, e) < 0 || find(spool, id, &loc, e) < 0)
		return -1;
	if (was)
		*was = loc;
	if (!loc.task)
		return ec_fail(e, EC_EXIT_REJECT, "cannot requeue '%s': it is a request %s, not a task "
		    "that ran", id, !strcmp(loc.state, "hold") ? "held (release it)" :
		    "waiting in incoming/");
	if (!strcmp(loc.state, "hold"))
		return ec_fail(e, EC_EXIT_REJECT, "cannot requeue '%s': it is held (release it)", id);
	if ((lock = lock_task(spool, &loc, e)) < 0)
		return -1;
	if (!has_request(spool, &loc)) {
		close(lock);
		return ec_fail(e, EC_EXIT_REJECT, "cannot requeue '%s': it has no request to run (it "
		    "was rejected when it was claimed: see its error.json)", id);
	}
	if ((r = make_due(spool, &loc, e)) == 0 && (r = audit(spool, "requeue", &loc, "deferred", e)) == 0) {
		if (strcmp(loc.state, "deferred"))
			r = move_entry(spool, &loc, "deferred", loc.id, e);
		else {
			/* Already in deferred/: re-timing the directory tells a running watcher
			 * (IN_ATTRIB) to read its due time again. */
			int dfd = state_dir(spool, "deferred", e);
			struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
			if (dfd < 0 || utimensat(dfd, loc.id, now, AT_SYMLINK_NOFOLLOW) < 0)
				r = ec_fail(e, EC_EXIT_TEMP, "cannot touch '%s/deferred/%s': %s", spool,
				    loc.id, strerror(errno));
			if (dfd >= 0)
				close(dfd);
		}
		if (r < 0)
			audit_failed(spool, "requeue", &loc, e);
	}
	close(lock);
	return r;
}

int
ec_queue_delete(const char *spool, const char *id, ec_queue_loc *was, ec_err *e)
{
	ec_queue_loc loc;
	char tname[NAME_MAX + 1];
	int lock = -1, tmpfd = -1, r = -1;

	if (owner_only(spool, "delete", id, e) < 0 || find(spool, id, &loc, e) < 0)
		return -1;
	if (was)
		*was = loc;
	if (loc.task && (lock = lock_task(spool, &loc, e)) < 0)
		return -1;
	if (audit(spool, "delete", &loc, "deleted", e) < 0)
		goto out;
	/* Out of the queue first, in one rename, under a name no other delete takes. */
	for (int i = 0; ; i++) {
		ec_trash_name(tname, sizeof tname, loc.id, i);
		if (move_entry(spool, &loc, "tmp", tname, e) == 0)
			break;
		if (e->code != EC_EXIT_REJECT || i == 9 || !strstr(e->msg, "exists already")) {
			audit_failed(spool, "delete", &loc, e);
			goto out;
		}
	}
	r = 0;
	if (loc.task && !strcmp(loc.state, "done"))
		ec_view_remove(spool, loc.id, NULL);    /* the view group's copy goes too */
	if ((tmpfd = state_dir(spool, "tmp", NULL)) < 0)
		goto out;               /* out of every queue: the next delete sweeps it */
	ec_trash_remove(tmpfd, tname);
	ec_trash_sweep(tmpfd);
out:
	if (tmpfd >= 0)
		close(tmpfd);
	if (lock >= 0)
		close(lock);
	return r;
}
