/*
 * task.c - one task through the per-task pipeline: create, lock, run make, move.
 *
 * A task is a directory, spool/STATE/ID, and moves between states by rename(2) of
 * the whole directory: atomic, visible with ls, and of several launchers exactly
 * one wins. Work inside it is serialised by flock(2) on ID/.lock, a lock the kernel
 * drops when its holder dies, so a crashed launcher never leaves a stale lock (no
 * pid files). The lock file travels with the directory, so a waiter that gets the
 * lock after the holder moved the task finds it again by id.
 *
 * How a run ended is read from the task, not from make's exit status: a tool that
 * rejects the task's input (epic-parse) or gives up on it (persona-run, for a
 * required persona) writes error.json with its exit code, so the launcher can tell a
 * rejection (failed/, exit 1) from a temporary failure (stays active, exit 111).
 * Used by `epic run` and by the watcher alike. With the slurm launcher (the
 * watcher's performance.launcher) the same make runs as a Slurm job (slurm.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slurm.h"

/* make gets this long after SIGTERM to stop its recipes before SIGKILL. */
#define MAKE_STOP_GRACE_MS 3000

static const char *const task_states[] = { "active", "done", "failed", "deferred", NULL };

const char *
ec_task_find(const char *spool, const char *id, char *dir, size_t cap)
{
	if (!ec_id_valid(id))
		return NULL;
	for (const char *const *s = task_states; *s; s++) {
		char rel[EC_MAX_ID + 16];
		int fd;
		/* A task directory is a real directory of the owner's: a symbolic link or
		 * a stranger's directory is nobody's task. */
		snprintf(rel, sizeof rel, "%s/%s", *s, id);
		if ((fd = ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, NULL)) >= 0) {
			close(fd);
			snprintf(dir, cap, "%s/%s", spool, rel);
			return *s;
		}
	}
	return NULL;
}

/* Remove a staging directory and the one file that may be in it. */
static void
remove_staging(const char *dir, const char *file)
{
	if (file)
		unlink(file);
	rmdir(dir);
}

int
ec_task_create(const char *spool, const char *id, const char *ext, const void *buf,
    size_t len, ec_err *e)
{
	char tmp[PATH_MAX], file[PATH_MAX + 32], dst[PATH_MAX], where[PATH_MAX];

	if (!ec_id_valid(id))
		return ec_fail(e, EC_EXIT_REJECT, "invalid task id '%s'", id);
	if (ec_spool_init(spool, e) < 0)
		return -1;
	if (ec_task_find(spool, id, where, sizeof where))
		return 1;
	/* Build the task where only the owner may write (active/, 0700) under a name
	 * nobody can guess or take first (mkdtemp), and rename it into place whole:
	 * nobody ever sees a task directory without its request. */
	/* The id is in the name: a sealed file is bound to the task it will be (crypt.c). */
	if ((size_t)snprintf(tmp, sizeof tmp, "%s/active/.new.%s.XXXXXX", spool, id) >= sizeof tmp)
		return ec_fail(e, EC_EXIT_REJECT, "spool path too long '%s'", spool);
	if (!mkdtemp(tmp))
		return ec_fail(e, EC_EXIT_TEMP, "cannot create a directory in '%s/active': %s",
		    spool, strerror(errno));
	snprintf(file, sizeof file, "%s/request.%s", tmp, ext);
	snprintf(dst, sizeof dst, "%s/active/%s", spool, id);
	{
		/* Kept redacted when security.redactRequests says so (pii.c). */
		size_t klen;
		char *kept = ec_redact_request(buf, len, ext, &klen);
		int rc = ec_write_atomic(file, kept ? kept : buf, kept ? klen : len, EC_W_FSYNC, e);
		free(kept);
		if (rc < 0) {
			remove_staging(tmp, file);
			return -1;
		}
	}
	if (rename(tmp, dst) < 0) {
		int err = errno;
		remove_staging(tmp, file);
		if (err == EEXIST || err == ENOTEMPTY)  /* someone else created it */
			return 1;
		return ec_fail(e, EC_EXIT_TEMP, "cannot create task '%s': %s", dst, strerror(err));
	}
	snprintf(dst, sizeof dst, "%s/active", spool);
	return ec_fsync_dir(dst, e) < 0 ? -1 : 0;
}

/* Move the task directory from one state to another; the path is updated. */
static int
move_task(const char *spool, const char *id, const char *to, char *dir, size_t cap, ec_err *e)
{
	char dst[PATH_MAX], parent[PATH_MAX];

	snprintf(dst, sizeof dst, "%s/%s/%s", spool, to, id);
	if (strcmp(dir, dst) == 0)
		return 0;
	if (rename(dir, dst) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot move '%s' to %s/: %s", dir, to, strerror(errno));
	snprintf(parent, sizeof parent, "%s/%s", spool, to);
	ec_fsync_dir(parent, NULL);
	snprintf(dir, cap, "%s", dst);
	return 0;
}

/* The task's file name in the spool, "STATE/ID/name", into rel. */
static void
task_rel(const ec_task_job *j, const char *name, char *rel, size_t cap)
{
	snprintf(rel, cap, "%s/%s/%s", j->state, j->id, name);
}

/* path made absolute (ec_abspath), or path itself when that fails. Not freed:
 * for a child about to exec. */
static const char *
abs_or(const char *path)
{
	char *a = ec_abspath(path);
	return a ? a : path;
}

/*
 * In a child about to exec make or a tool of the pipeline: its output to the task's
 * log, and the environment epic.mk expects. Paths reach make through the
 * environment, never through make syntax: the tools' directory first on PATH, the
 * spool, the config, and where a tool's verdict goes.
 */
static void
pipeline_child(const ec_task_job *j, const ec_task_opts *o, const char *errp, int logfd)
{
	const char *path = getenv("PATH");
	char *newpath = malloc(strlen(ec_bindir()) + (path ? strlen(path) : 0) + 2);

	setpgid(0, 0);
	dup2(logfd, 1);
	dup2(logfd, 2);
	if (newpath) {
		sprintf(newpath, "%s%s%s", ec_bindir(), path ? ":" : "", path ? path : "");
		setenv("PATH", newpath, 1);
	}
	/* make runs in the task's directory: a relative path the user gave would mean
	 * something else there. */
	setenv("EPIC_BIN", "", 1);
	setenv("EPIC_SPOOL", abs_or(o->spool), 1);
	setenv("EPIC_ERROR_FILE", abs_or(errp), 1);
	if (o->config)
		setenv("EPIC_CONFIG", abs_or(o->config), 1);
	else
		unsetenv("EPIC_CONFIG");
	/* make, and every tool it runs, hold the task's lock too: a launcher that dies
	 * (kill -9) leaves it held until the last of them is gone, so no other launcher
	 * resumes a task that is still being worked on. */
	fcntl(j->lock_fd, F_SETFD, 0);
}

/* Is name in the task a regular file of ours (ec_spool_open: no link, no FIFO)? */
static int
task_has(const char *spool, const ec_task_job *j, const char *name)
{
	char rel[EC_MAX_ID + 32];
	int fd;

	task_rel(j, name, rel, sizeof rel);
	if ((fd = ec_spool_open(spool, rel, O_RDONLY, 0, NULL, NULL)) < 0)
		return 0;
	close(fd);
	return 1;
}

/* The task's request (request.json, .md or .txt, the order epic.mk takes them in),
 * or NULL when it holds none. */
static const char *
request_of(const char *spool, const ec_task_job *j)
{
	static const char *const names[] = { "request.json", "request.md", "request.txt", NULL };

	for (const char *const *n = names; *n; n++)
		if (task_has(spool, j, *n))
			return *n;
	return NULL;
}

/*
 * The request of a task never parsed (no plan.mk yet), or NULL. Such a task starts
 * with epic-parse run by the launcher itself, with exactly the arguments of
 * epic.mk's .parse.stamp recipe, and make after it: make then finds plan.mk made
 * and does not re-execute itself after making it (a second start of make, ~2.5 ms
 * of a cold epic), and the process count stays the same. How the parse ended is
 * make's to judge: after a failure there is no stamp, so make runs the recipe
 * again and fails the same way, leaving error.json.
 */
static const char *
unparsed_request(const char *spool, const ec_task_job *j)
{
	return task_has(spool, j, "plan.mk") ? NULL : request_of(spool, j);
}

/*
 * Start the task's next process in j->dir, in a process group of its own: epic-parse
 * for a task never parsed (j->parsing), else make. The workflow timeout runs from
 * the first.
 */
static int
start_next(ec_task_job *j, const ec_task_opts *o, ec_err *e)
{
	char mk[PATH_MAX], jobs[32], rel[EC_MAX_ID + 32], errp[PATH_MAX];
	/* A Slurm job is make alone: it parses the request itself (.parse.stamp). */
	const char *req = j->parsing || j->slurm ? NULL : unparsed_request(o->spool, j);
	int logfd, first = !j->parsing, out[2] = { -1, -1 };

	snprintf(mk, sizeof mk, "%s/epic.mk", ec_datadir());
	snprintf(jobs, sizeof jobs, "-j%d", o->jobs > 0 ? o->jobs : 1);
	snprintf(errp, sizeof errp, "%s/error.json", j->dir);
	if (first)
		unlink(errp);   /* a new run; the old verdict no longer stands */
	task_rel(j, "task.log", rel, sizeof rel);
	if ((logfd = ec_spool_open(o->spool, rel, O_WRONLY | O_APPEND | O_CREAT, 0, NULL, e)) < 0)
		return -1;
	if (j->slurm && pipe2(out, O_CLOEXEC) < 0) {
		close(logfd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot create a pipe: %s", strerror(errno));
	}
	if ((j->pid = fork()) < 0) {
		close(logfd);
		if (out[0] >= 0)
			close(out[0]), close(out[1]);
		return ec_fail(e, EC_EXIT_TEMP, "cannot fork: %s", strerror(errno));
	}
	if (j->pid == 0) {
		/* -rR here and not only in epic.mk: make sets up its built-in rules and
		 * variables before it reads a makefile, a third of its start-up. */
		char *argv[] = { "make", "-rRs", "--no-print-directory", "-C", j->dir, "-f", mk,
		    jobs, NULL };
		char *pargv[] = { "epic-parse", "--task-id", j->id, "--stamp", ".parse.stamp",
		    "--plan", "plan.mk", "-o", "epic-request.json", (char *)req, NULL };
		pipeline_child(j, o, errp, logfd);
		if (j->slurm) {
			dup2(out[1], 1);
			ec_slurm_exec(j, o, mk);
			dprintf(2, "epic: cannot run sh for sbatch: %s\n", strerror(errno));
			_exit(127);
		}
		if (req && chdir(j->dir) == 0)
			execvp(pargv[0], pargv);
		else if (!req)
			execvp("make", argv);
		dprintf(2, "epic: cannot run %s: %s\n", req ? "epic-parse" : "make", strerror(errno));
		_exit(127);
	}
	setpgid(j->pid, j->pid);
	close(logfd);
	if (j->slurm) {
		close(out[1]);
		j->slurm_fd = out[0];
		fcntl(j->slurm_fd, F_SETFL, O_NONBLOCK);
	}
	j->parsing = req != NULL;
	/* A pidfd becomes readable the moment the child exits: launchers poll on it. */
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	if (first) {
		j->deadline = (long long)time(NULL) + (o->timeout > 0 ? o->timeout : 1800);
		j->timeout = o->timeout > 0 ? o->timeout : 1800;
		/* A job's --time runs from its start, which may be hours after it is
		 * queued: Slurm keeps the time, not the launcher. */
		if (j->slurm)
			j->deadline = LLONG_MAX;
	}
	return 0;
}

int
ec_task_start(const char *id, const ec_task_opts *o, ec_task_job *j, ec_err *e)
{
	char lockp[EC_MAX_ID + 32];
	const char *state;

	memset(j, 0, sizeof *j);
	j->lock_fd = j->pidfd = j->slurm_fd = -1;
	j->slurm = o->launcher == EC_LAUNCH_SLURM;
	j->slurm_leave = o->leave_jobs;
	snprintf(j->id, sizeof j->id, "%s", id);
	if (ec_spool_init(o->spool, e) < 0)
		return -1;
	for (;;) {
		if (!(state = ec_task_find(o->spool, id, j->dir, sizeof j->dir)))
			return ec_fail(e, EC_EXIT_REJECT, "no task '%s' in '%s'", id, o->spool);
		j->state = state;
		task_rel(j, ".lock", lockp, sizeof lockp);
		if ((j->lock_fd = ec_spool_open(o->spool, lockp, O_RDWR | O_CREAT, 0, NULL, e)) < 0) {
			if (errno == ENOENT)
				continue;       /* moved under us: look again */
			return -1;
		}
		if (flock(j->lock_fd, o->nowait ? LOCK_EX | LOCK_NB : LOCK_EX) < 0) {
			close(j->lock_fd);
			j->lock_fd = -1;
			return ec_fail(e, EC_EXIT_TEMP, "task '%s' is locked by another process", id);
		}
		/* Still where we found it? Else the holder moved it: start over. */
		{
			char again[PATH_MAX];
			const char *now = ec_task_find(o->spool, id, again, sizeof again);
			if (now && strcmp(now, state) == 0)
				break;
		}
		close(j->lock_fd);
	}
	/* What was rejected when it was claimed (a FIFO, a link: request.rejected) has
	 * no request to run, and never will. */
	if (!request_of(o->spool, j)) {
		ec_fail(e, EC_EXIT_REJECT, "task '%s' has no request to run (see its error.json)", id);
		goto fail;
	}
	/* The job a stopped launcher left running (performance.slurm.onStop: leave),
	 * or one still completing, has the task still: no second job beside it. */
	if (ec_slurm_busy(o->spool, j, e))
		goto fail;
	if (strcmp(state, "failed") == 0 || strcmp(state, "deferred") == 0) {
		if (move_task(o->spool, id, "active", j->dir, sizeof j->dir, e) < 0)
			goto fail;
		j->state = "active";
	}
	/* Steps' outputs are not synced (stamp.c): what a power loss tore is redone. */
	{
		int torn = ec_stamps_check(o->spool, j->state, id);
		if (torn)
			ec_warn("%s: %d step%s redone: %s did not match the xxh3 in %s stamp%s "
			    "(an interrupted write)", id, torn, torn == 1 ? "" : "s",
			    torn == 1 ? "its output" : "their outputs", torn == 1 ? "its" : "their",
			    torn == 1 ? "" : "s");
	}
	if (start_next(j, o, e) < 0)
		goto fail;
	return 0;
fail:
	close(j->lock_fd);
	j->lock_fd = -1;
	return -1;
}

int
ec_task_poll(ec_task_job *j, const ec_task_opts *o)
{
	pid_t w;

	if (j->slurm)
		ec_slurm_read(j, 0);
	w = waitpid(j->pid, &j->status, WNOHANG);
	if (j->slurm && w == j->pid)
		ec_slurm_read(j, 1);
	if (o->progress)
		ec_progress_update(o->spool, j);
	if (w == j->pid || (w < 0 && errno != EINTR)) {
		/* The launcher's epic-parse has ended: make next, whatever its status. */
		if (j->parsing && w == j->pid) {
			ec_err e;
			if (j->pidfd >= 0)
				close(j->pidfd);
			j->pidfd = -1;
			if (start_next(j, o, &e) == 0)
				return 0;
			if (o->progress)
				ec_progress_end(j);
			ec_warn("%s: %s", j->id, e.msg);
			j->status = 127 << 8;
		}
		j->exited = 1;
	} else if ((long long)time(NULL) >= j->deadline) {
		ec_proc_kill_group(j->pid, &j->status, MAKE_STOP_GRACE_MS);
		j->exited = j->timed_out = 1;
	} else
		return 0;
	/* What follows (the verdict, the result) starts on a clean line. */
	if (o->progress)
		ec_progress_end(j);
	return 1;
}

void
ec_task_stop(ec_task_job *j)
{
	if (!j->exited) {
		if (j->slurm) {
			/* The job id, if not read yet: sbatch prints it once it has
			 * submitted, so a job being submitted now is not missed (a bounded
			 * wait, slurm.c). */
			ec_slurm_read(j, 0);
			if (!j->slurm_job[0])
				ec_slurm_read(j, 2);
			ec_slurm_stop(j);
		} else
			ec_proc_kill_group(j->pid, &j->status, MAKE_STOP_GRACE_MS);
		j->exited = j->stopped = 1;
	}
}

int
ec_task_verdict(ec_task_job *j, const ec_task_opts *o, ec_err *e)
{
	char rel[EC_MAX_ID + 32];
	json_t *err;

	if (j->pidfd >= 0)
		close(j->pidfd);
	j->pidfd = -1;
	if (j->slurm) {
		int rc;
		if (j->slurm_fd >= 0)
			close(j->slurm_fd);
		j->slurm_fd = -1;
		if ((rc = ec_slurm_verdict(j, e)) >= 0)
			return rc;
	}
	if (j->timed_out) {
		char msg[160];
		snprintf(msg, sizeof msg, "the task did not finish within %d s "
		    "(coordination.workflowTimeout); stopped, resumable", j->timeout);
		ec_task_error_write(j->dir, "epic", EC_EXIT_TEMP, "TIMEOUT", msg, NULL);
		ec_fail(e, EC_EXIT_TEMP, "%s: %s", j->id, msg);
		return EC_EXIT_TEMP;
	}
	if (j->stopped) {
		ec_fail(e, EC_EXIT_TEMP, "%s: stopped; resumable", j->id);
		return EC_EXIT_TEMP;
	}
	if (WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0)
		return 0;
	/* What the failing tool said (verdict.c), if it got to say anything. */
	task_rel(j, "error.json", rel, sizeof rel);
	if ((err = ec_spool_json(o->spool, rel, 1 << 20, NULL))) {
		int code = ec_verdict_class((int)ec_json_get_int(err, "exitCode", EC_EXIT_TEMP));
		ec_fail(e, code, "%s: %s", j->id, ec_json_get_str(err, "message", "failed"));
		json_decref(err);
		return code;
	}
	ec_task_error_write(j->dir, "make", EC_EXIT_TEMP, "SYSTEM_ERROR",
	    "the pipeline failed without saying why; see task.log", NULL);
	ec_fail(e, EC_EXIT_TEMP, "%s: the pipeline failed without saying why; see task.log "
	    "in the task's directory", j->id);
	return EC_EXIT_TEMP;
}

int
ec_task_settle(ec_task_job *j, const ec_task_opts *o, int rc, ec_err *e)
{
	if (rc == 0) {
		if (strcmp(j->state, "done") != 0 &&
		    move_task(o->spool, j->id, "done", j->dir, sizeof j->dir, e) < 0)
			rc = EC_EXIT_TEMP;
		else
			j->state = "done";
	} else if (rc == EC_EXIT_REJECT &&
	    move_task(o->spool, j->id, "failed", j->dir, sizeof j->dir, NULL) == 0)
		j->state = "failed";
	close(j->lock_fd);      /* releases the lock */
	j->lock_fd = -1;
	return rc;
}

int
ec_task_finish(ec_task_job *j, const ec_task_opts *o, ec_err *e)
{
	return ec_task_settle(j, o, ec_task_verdict(j, o, e), e);
}

int
ec_task_run(const char *id, const ec_task_opts *o, char *dir, size_t cap, ec_err *e)
{
	ec_task_job j;
	int rc;

	if (ec_task_start(id, o, &j, e) < 0) {
		snprintf(dir, cap, "%s", j.dir);
		return e->code;
	}
	while (!ec_task_poll(&j, o)) {
		if (o->stop && *o->stop)
			ec_task_stop(&j);
		else if (j.pidfd >= 0) {
			struct pollfd pf = { j.pidfd, POLLIN, 0 };
			poll(&pf, 1, 100);
		} else
			usleep(5000);   /* kernels before 5.3: no pidfd */
	}
	rc = ec_task_finish(&j, o, e);
	snprintf(dir, cap, "%s", j.dir);
	return rc;
}

/*
 * The retry state of a deferred task.
 *
 * How many attempts a task has had, who submitted it and when it is due again must
 * survive a full disk and a kill: a lost count would retry at once, for ever. So
 * they are not data in a file but an empty file's name and time: STATE/ID/.retry.N.UID,
 * whose mtime is when attempt N+1 is due. It is created once and afterwards only
 * renamed and re-timed, which needs no free block. deferred.json says the same for
 * people, when it can be written.
 */

/* The marker's name in the task directory dfd into name (cap), or -1 if none. */
static int
retry_find(int dfd, char *name, size_t cap, int *attempts, uid_t *uid)
{
	int fd = dup(dfd), found = -1;
	DIR *d;
	struct dirent *de;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		unsigned long n, u;
		char tail;
		if (sscanf(de->d_name, ".retry.%lu.%lu%c", &n, &u, &tail) == 2 && n < 1000) {
			snprintf(name, cap, "%s", de->d_name);
			*attempts = (int)n;
			*uid = (uid_t)u;
			found = 0;
			break;
		}
	}
	closedir(d);
	return found;
}

int
ec_task_retry_read(const char *spool, const char *state, const char *id, int *attempts,
    uid_t *uid, long long *due_ms)
{
	char rel[EC_MAX_ID + 16], name[64];
	struct stat st;
	int dfd, r;

	snprintf(rel, sizeof rel, "%s/%s", state, id);
	if ((dfd = ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, NULL)) < 0)
		return -1;
	r = retry_find(dfd, name, sizeof name, attempts, uid);
	if (r == 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		*due_ms = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	else
		r = -1;
	close(dfd);
	return r;
}

int
ec_task_retry_write(const char *spool, const char *id, int attempts, uid_t uid, long long due_ms,
    ec_err *e)
{
	char rel[EC_MAX_ID + 16], old[64], name[64];
	struct timespec ts[2] = { { 0, UTIME_NOW }, { due_ms / 1000, (due_ms % 1000) * 1000000 } };
	int dfd, a, r = 0, fd;
	uid_t u;

	snprintf(rel, sizeof rel, "active/%s", id);
	if ((dfd = ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, e)) < 0)
		return -1;
	snprintf(name, sizeof name, ".retry.%d.%lu", attempts, (unsigned long)uid);
	if (retry_find(dfd, old, sizeof old, &a, &u) == 0) {
		if (strcmp(old, name) != 0 && renameat(dfd, old, dfd, name) < 0)
			r = ec_fail(e, EC_EXIT_TEMP, "cannot rename '%s/%s/%s': %s", spool, rel, old,
			    strerror(errno));
	} else if ((fd = ec_open_beneath(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0, NULL, e)) >= 0)
		close(fd);
	else
		r = -1;
	if (r == 0 && (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (fsync(dfd) < 0 && errno != EINVAL)))
		r = ec_fail(e, EC_EXIT_TEMP, "cannot record the retry of '%s': %s", id, strerror(errno));
	close(dfd);
	return r;
}
