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
 * Used by `epic run` and by the watcher alike.
 */
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

#include "ec.h"

/* make gets this long after SIGTERM to stop its recipes before SIGKILL. */
#define MAKE_STOP_GRACE_MS 3000

static const char *const task_states[] = { "active", "done", "failed", "deferred", NULL };

long long
ec_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ec_iso_time(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

int
ec_task_error_write(const char *dir, const char *tool, int code, const char *type,
    const char *msg, ec_err *e)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/error.json", dir);
	return ec_task_error_write_file(path, tool, code, type, msg, e);
}

int
ec_task_error_write_file(const char *path, const char *tool, int code, const char *type,
    const char *msg, ec_err *e)
{
	char when[40];
	json_t *j;
	int r;

	ec_iso_time(when, sizeof when);
	j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:b}", "tool", tool, "exitCode", code,
	    "type", type, "message", msg, "time", when, "recoverable", code != EC_EXIT_REJECT);
	if (!j)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	r = ec_json_write(path, j, EC_W_FSYNC, e);
	json_decref(j);
	return r < 0 ? -1 : 0;
}

const char *
ec_task_find(const char *spool, const char *id, char *dir, size_t cap)
{
	for (const char *const *s = task_states; *s; s++) {
		struct stat st;
		snprintf(dir, cap, "%s/%s/%s", spool, *s, id);
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return *s;
	}
	return NULL;
}

int
ec_task_create(const char *spool, const char *id, const char *ext, const void *buf,
    size_t len, ec_err *e)
{
	char tmp[PATH_MAX], file[PATH_MAX + 32], dst[PATH_MAX], where[PATH_MAX];

	if (ec_spool_init(spool, e) < 0)
		return -1;
	if (ec_task_find(spool, id, where, sizeof where))
		return 1;
	/* Build the task in tmp/ and rename it into active/ whole: nobody ever sees a
	 * task directory without its request. */
	snprintf(tmp, sizeof tmp, "%s/tmp/.%s.%ld", spool, id, (long)getpid());
	snprintf(file, sizeof file, "%s/request.%s", tmp, ext);
	snprintf(dst, sizeof dst, "%s/active/%s", spool, id);
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return ec_fail(e, EC_EXIT_TEMP, "cannot create '%s': %s", tmp, strerror(errno));
	if (ec_write_atomic(file, buf, len, EC_W_FSYNC, e) < 0)
		goto fail;
	if (rename(tmp, dst) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {   /* someone else created it */
			unlink(file);
			rmdir(tmp);
			return 1;
		}
		ec_fail(e, EC_EXIT_TEMP, "cannot create task '%s': %s", dst, strerror(errno));
		goto fail;
	}
	snprintf(dst, sizeof dst, "%s/active", spool);
	return ec_fsync_dir(dst, e) < 0 ? -1 : 0;
fail:
	unlink(file);
	rmdir(tmp);
	return -1;
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

/* Print progress from new lines of checkpoints.jsonl since *off. */
static void
progress(const char *dir, const char *id, off_t *off)
{
	char path[PATH_MAX], buf[8192];
	int fd;
	ssize_t n;

	snprintf(path, sizeof path, "%s/checkpoints.jsonl", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while ((n = pread(fd, buf, sizeof buf - 1, *off)) > 0) {
		char *line = buf, *nl;
		buf[n] = '\0';
		while ((nl = strchr(line, '\n'))) {
			json_t *ev;
			*nl = '\0';
			if ((ev = json_loads(line, 0, NULL))) {
				const char *what = ec_json_get_str(ev, "event", "");
				const char *who = ec_json_get_str(ev, "persona", "?");
				if (!strcmp(what, "after") || !strcmp(what, "skipped"))
					fprintf(stderr, "epic: %s: %s %s\n", id, who,
					    !strcmp(what, "after") ? "done" : "skipped");
				else if (!strcmp(what, "retry") || !strcmp(what, "failed"))
					fprintf(stderr, "epic: %s: %s %s: %s\n", id, who, what,
					    ec_json_get_str(ev, "message", ""));
				json_decref(ev);
			}
			*off += (off_t)(nl - line) + 1;
			line = nl + 1;
		}
		if (line == buf)
			break;      /* a partial last line: read it next time */
	}
	close(fd);
}

/* Start make on the task in j->dir, in a process group of its own. */
static int
start_make(ec_task_job *j, const ec_task_opts *o, ec_err *e)
{
	char mk[PATH_MAX], bin[PATH_MAX + 16], jobs[32], logp[PATH_MAX], errp[PATH_MAX];
	char spoolv[PATH_MAX + 32], cfgv[PATH_MAX + 32];
	int logfd;

	snprintf(mk, sizeof mk, "%s/epic.mk", ec_datadir());
	snprintf(bin, sizeof bin, "EPIC_BIN=%s", ec_bindir());
	snprintf(spoolv, sizeof spoolv, "EPIC_SPOOL_DIR=%s", o->spool);
	snprintf(cfgv, sizeof cfgv, "EPIC_CONFIG_FILE=%s", o->config ? o->config : "");
	snprintf(jobs, sizeof jobs, "-j%d", o->jobs > 0 ? o->jobs : 1);
	snprintf(logp, sizeof logp, "%s/task.log", j->dir);
	snprintf(errp, sizeof errp, "%s/error.json", j->dir);
	unlink(errp);   /* a new run; the old verdict no longer stands */
	if ((logfd = open(logp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot open '%s': %s", logp, strerror(errno));
	if ((j->pid = fork()) < 0) {
		close(logfd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot fork: %s", strerror(errno));
	}
	if (j->pid == 0) {
		char *argv[] = { "make", "-s", "--no-print-directory", "-C", j->dir, "-f", mk,
		    jobs, bin, spoolv, o->config ? cfgv : NULL, NULL };
		setpgid(0, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		/* make, and every tool it runs, hold the task's lock too: a launcher that
		 * dies (kill -9) leaves it held until the last of them is gone, so no
		 * other launcher resumes a task that is still being worked on. */
		fcntl(j->lock_fd, F_SETFD, 0);
		execvp("make", argv);
		dprintf(2, "epic: cannot run make: %s\n", strerror(errno));
		_exit(127);
	}
	setpgid(j->pid, j->pid);
	close(logfd);
	/* A pidfd becomes readable the moment make exits: launchers poll on it. */
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	j->deadline = (long long)time(NULL) + (o->timeout > 0 ? o->timeout : 1800);
	j->timeout = o->timeout > 0 ? o->timeout : 1800;
	return 0;
}

int
ec_task_start(const char *id, const ec_task_opts *o, ec_task_job *j, ec_err *e)
{
	char lockp[PATH_MAX];
	const char *state;

	memset(j, 0, sizeof *j);
	j->lock_fd = j->pidfd = -1;
	snprintf(j->id, sizeof j->id, "%s", id);
	if (ec_spool_init(o->spool, e) < 0)
		return -1;
	for (;;) {
		if (!(state = ec_task_find(o->spool, id, j->dir, sizeof j->dir)))
			return ec_fail(e, EC_EXIT_REJECT, "no task '%s' in '%s'", id, o->spool);
		snprintf(lockp, sizeof lockp, "%s/.lock", j->dir);
		if ((j->lock_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
			if (errno == ENOENT)
				continue;       /* moved under us: look again */
			return ec_fail(e, EC_EXIT_TEMP, "cannot open '%s': %s", lockp, strerror(errno));
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
	j->state = state;
	if ((strcmp(state, "failed") == 0 || strcmp(state, "deferred") == 0) &&
	    move_task(o->spool, id, "active", j->dir, sizeof j->dir, e) < 0)
		goto fail;
	if (start_make(j, o, e) < 0)
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
	pid_t w = waitpid(j->pid, &j->status, WNOHANG);

	if (o->progress)
		progress(j->dir, j->id, &j->progress_off);
	if (w == j->pid || (w < 0 && errno != EINTR)) {
		j->exited = 1;
		return 1;
	}
	if ((long long)time(NULL) >= j->deadline) {
		ec_proc_kill_group(j->pid, &j->status, MAKE_STOP_GRACE_MS);
		j->exited = j->timed_out = 1;
		return 1;
	}
	return 0;
}

void
ec_task_stop(ec_task_job *j)
{
	if (!j->exited) {
		ec_proc_kill_group(j->pid, &j->status, MAKE_STOP_GRACE_MS);
		j->exited = j->stopped = 1;
	}
}

/* How the run ended: 0 done, else -1 with e->code the classification. */
static int
classify(ec_task_job *j, ec_err *e)
{
	char errp[PATH_MAX];
	json_t *err;

	if (j->timed_out) {
		char msg[160];
		snprintf(msg, sizeof msg, "the task did not finish within %d s "
		    "(coordination.workflowTimeout); stopped, resumable", j->timeout);
		ec_task_error_write(j->dir, "epic", EC_EXIT_TEMP, "TIMEOUT", msg, NULL);
		return ec_fail(e, EC_EXIT_TEMP, "%s: %s", j->id, msg);
	}
	if (j->stopped)
		return ec_fail(e, EC_EXIT_TEMP, "%s: stopped; resumable", j->id);
	if (WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0)
		return 0;
	/* What the failing tool said, if it said anything. */
	snprintf(errp, sizeof errp, "%s/error.json", j->dir);
	if ((err = ec_json_load_file(errp, 1 << 20, NULL))) {
		int code = (int)ec_json_get_int(err, "exitCode", EC_EXIT_TEMP);
		ec_fail(e, code == EC_EXIT_REJECT ? EC_EXIT_REJECT : EC_EXIT_TEMP, "%s: %s",
		    j->id, ec_json_get_str(err, "message", "failed"));
		json_decref(err);
		return -1;
	}
	ec_task_error_write(j->dir, "make", EC_EXIT_TEMP, "SYSTEM_ERROR",
	    "the pipeline failed without saying why; see task.log", NULL);
	return ec_fail(e, EC_EXIT_TEMP, "%s: the pipeline failed; see %s/task.log", j->id, j->dir);
}

int
ec_task_finish(ec_task_job *j, const ec_task_opts *o, ec_err *e)
{
	int rc = classify(j, e) == 0 ? 0 : e->code;

	if (j->pidfd >= 0)
		close(j->pidfd);
	j->pidfd = -1;
	if (rc == 0) {
		if (strcmp(j->state, "done") != 0 &&
		    move_task(o->spool, j->id, "done", j->dir, sizeof j->dir, e) < 0)
			rc = EC_EXIT_TEMP;
	} else if (rc == EC_EXIT_REJECT)
		move_task(o->spool, j->id, "failed", j->dir, sizeof j->dir, NULL);
	close(j->lock_fd);      /* releases the lock */
	j->lock_fd = -1;
	return rc;
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
