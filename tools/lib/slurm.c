/*
 * slurm.c - the slurm launcher: a task's make run as a Slurm batch job
 * (performance.launcher: slurm), for a spool that several hosts mount.
 *
 * The watcher claims and locks a task as it always does (claim.c, task.c); only
 * what runs make changes. Instead of forking make it forks a submitter, a small
 * sh pipeline:
 *
 *   sbatch --wait --parsable ... --wrap 'exec make ...'   the job, waited for
 *   | reader: passes the job id on at once, then, once sbatch has returned, asks
 *     scontrol how the job ended (waiting out COMPLETING), and says so
 *
 * Both lines reach the launcher through a pipe, so nothing here blocks it: the
 * pidfd of the submitter wakes the watcher as make's would. The job id goes into
 * the task as slurm.json (epic status shows it; a launcher started later waits for
 * a job still in flight before it submits another one). The job's make writes the
 * task's files on the shared spool exactly as a local make would, so the verdict
 * is read from the task as before; the job's state only says what make could not:
 * TIMEOUT, CANCELLED, NODE_FAIL, PREEMPTED, BOOT_FAIL, DEADLINE, OUT_OF_MEMORY are
 * all temporary (111): the task stays resumable and make picks up where the job
 * stopped, finished personas not re-run (their stamps, stamp.c).
 *
 * sbatch --wait polls slurmctld: every 2 s while the cluster's MinJobAge is 5 s or
 * less, backing off to 32 s otherwise. That is the launcher's latency per task.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slurm.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef RAMFS_MAGIC
#define RAMFS_MAGIC 0x858458f6
#endif

/* sbatch's and scancel's grace: the submitter is ended this long after TERM. */
#define SUBMITTER_STOP_GRACE_MS 3000

/*
 * The submitter, run as sh -c SCRIPT sh SBATCH-ARGS...: sbatch's stdout (the job
 * id, --parsable) and its exit status reach the reader, which says
 * "job ID" at once and "end RC STATE EXITCODE" at the end, or "exit RC" when
 * sbatch submitted nothing (its reason is in task.log, its stderr).
 */
static const char submitter[] =
    "{ sbatch --wait --parsable \"$@\"; echo \"exit $?\"; } | {\n"
    "  IFS= read -r id || exit 0\n"
    "  case $id in exit*) echo \"$id\"; exit 0;; esac\n"
    "  id=${id%%;*}\n"
    "  echo \"job $id\"\n"
    "  rc=1; while IFS= read -r l; do case $l in exit*) rc=${l#exit };; esac; done\n"
    "  i=0; s=\n"
    "  while [ $i -lt 600 ]; do\n"
    "    s=$(scontrol -o show job \"$id\" 2>/dev/null) || { s=; break; }\n"
    "    case $s in *JobState=COMPLETING*) ;; *) break;; esac\n"
    "    i=$((i + 1)); sleep 0.5\n"
    "  done\n"
    "  st=UNKNOWN; ex=-\n"
    "  case $s in *JobState=*) st=${s##*JobState=}; st=${st%% *};; esac\n"
    "  case $s in *ExitCode=*) ex=${s##*ExitCode=}; ex=${ex%% *};; esac\n"
    "  echo \"end $rc $st $ex\"\n"
    "}\n";

int
ec_slurm_configure(ec_task_opts *o, const json_t *cfg, const char *spool, ec_err *e)
{
	const char *l = ec_json_get_str(cfg, "performance.launcher", "local");
	long long mem = ec_parse_size(ec_json_get_str(cfg, "performance.memoryLimit", "0"));
	struct statfs fs;

	if (strcmp(l, "slurm") != 0) {
		o->launcher = EC_LAUNCH_LOCAL;
		return 0;
	}
	/* A job on another node sees the spool only when it is shared: tmpfs never is
	 * (and ramfs neither). */
	if (statfs(spool, &fs) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot statfs the spool '%s': %s", spool,
		    strerror(errno));
	if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)
		return ec_fail(e, EC_EXIT_REJECT, "the spool '%s' is on %s, which only this host "
		    "sees: performance.launcher slurm runs each task on a node of the cluster, "
		    "so the spool must be on a filesystem every node mounts (NFS, Lustre, ...)",
		    spool, fs.f_type == TMPFS_MAGIC ? "tmpfs" : "ramfs");
	o->launcher = EC_LAUNCH_SLURM;
	snprintf(o->partition, sizeof o->partition, "%s",
	    ec_json_get_str(cfg, "performance.slurm.partition", ""));
	snprintf(o->account, sizeof o->account, "%s",
	    ec_json_get_str(cfg, "performance.slurm.account", ""));
	o->mem_mb = mem > 0 ? (mem + (1 << 20) - 1) >> 20 : 0;
	o->leave_jobs = !strcmp(ec_json_get_str(cfg, "performance.slurm.onStop", "cancel"), "leave");
	return 0;
}

/* An absolute path for the job, which starts in another directory on another
 * host; path itself when that fails. Not freed: for a child about to exec. */
static const char *
absolute(const char *path)
{
	char *a = ec_abspath(path);
	return a ? a : path;
}

void
ec_slurm_exec(const ec_task_job *j, const ec_task_opts *o, const char *mk)
{
	static char a[8][PATH_MAX + 32];
	char *argv[24];
	const char *dir = absolute(j->dir);
	int n = 0, t = o->timeout > 0 ? o->timeout : 1800;
	ec_buf w = { 0 };
	char *wrap;

	/* make exactly as the local launcher runs it, the task's directory its cwd. */
	ec_buf_puts(&w, "exec make -rRs --no-print-directory -f ");
	ec_sh_word(&w, absolute(mk));
	ec_buf_printf(&w, " -j%d", o->jobs > 0 ? o->jobs : 1);
	if (!(wrap = ec_buf_take(&w)))
		return;
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = (char *)submitter;
	argv[n++] = "sh";
	snprintf(a[0], sizeof a[0], "--job-name=%s", j->id);
	snprintf(a[1], sizeof a[1], "--chdir=%s", dir);
	snprintf(a[2], sizeof a[2], "--output=%s/task.log", dir);
	/* Whole minutes, rounded up: Slurm's unit. */
	snprintf(a[3], sizeof a[3], "--time=%d", (t + 59) / 60);
	argv[n++] = a[0];
	argv[n++] = a[1];
	argv[n++] = a[2];
	argv[n++] = "--open-mode=append";
	argv[n++] = a[3];
	/* A job that fails is the watcher's to retry, with its backoff and its count
	 * (watcher.taskRetries), never requeued behind its back. */
	argv[n++] = "--no-requeue";
	argv[n++] = "--export=ALL";
	if (o->mem_mb > 0) {
		snprintf(a[4], sizeof a[4], "--mem=%lldM", o->mem_mb);
		argv[n++] = a[4];
	}
	if (o->partition[0]) {
		snprintf(a[5], sizeof a[5], "--partition=%s", o->partition);
		argv[n++] = a[5];
	}
	if (o->account[0]) {
		snprintf(a[6], sizeof a[6], "--account=%s", o->account);
		argv[n++] = a[6];
	}
	argv[n++] = "--wrap";
	argv[n++] = wrap;
	argv[n] = NULL;
	execv("/bin/sh", argv);
}

/* Record the job id in the task: slurm.json, replaced whole. */
static void
record_job(const ec_task_job *j)
{
	char path[PATH_MAX + 16];
	json_t *d = json_pack("{s:s, s:s}", "jobId", j->slurm_job, "jobName", j->id);

	snprintf(path, sizeof path, "%s/slurm.json", j->dir);
	if (d)
		ec_json_write(path, d, EC_W_FSYNC, NULL);
	json_decref(d);
}

/* One line of the submitter's. */
static void
said(ec_task_job *j, const char *l)
{
	if (!strncmp(l, "job ", 4) && !j->slurm_job[0]) {
		size_t k = strspn(l + 4, "0123456789_");
		if (k > 0 && k < sizeof j->slurm_job && l[4 + k] == '\0') {
			memcpy(j->slurm_job, l + 4, k);
			j->slurm_job[k] = '\0';
			record_job(j);
		}
	} else if (!strncmp(l, "end ", 4) || !strncmp(l, "exit ", 5))
		snprintf(j->slurm_end, sizeof j->slurm_end, "%s", l);
}

void
ec_slurm_read(ec_task_job *j, int final)
{
	char buf[256];
	ssize_t n;
	long long until = ec_mono_ms() + SUBMITTER_STOP_GRACE_MS;

	if (j->slurm_fd < 0)
		return;
	for (;;) {
		if ((n = read(j->slurm_fd, buf, sizeof buf)) > 0) {
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == '\n') {
					j->slurm_line[j->slurm_len] = '\0';
					said(j, j->slurm_line);
					j->slurm_len = 0;
				} else if (j->slurm_len + 1 < sizeof j->slurm_line)
					j->slurm_line[j->slurm_len++] = buf[i];
			}
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			close(j->slurm_fd);
			j->slurm_fd = -1;
			return;
		}
		/* Ended: what it wrote last is read to the end, but not for ever (a
		 * descendant that kept the pipe open). */
		if (!final || ec_mono_ms() >= until || (final == 2 && j->slurm_job[0]))
			return;
		{
			struct pollfd pf = { j->slurm_fd, POLLIN, 0 };
			poll(&pf, 1, 100);
		}
	}
}

/* A Slurm command run through sh, its stderr with its stdout (its errors are the
 * launcher's to judge, not to print): status, and the output into out. */
static int
slurm_cmd(const char *cmd, const char *id, char *out, size_t cap)
{
	char script[64];
	char *argv[] = { "sh", "-c", script, "sh", (char *)id, NULL };
	ec_proc p = { .argv = argv, .timeout = 30, .out_cap = 1 << 16, .err_fd = -1 };

	snprintf(script, sizeof script, "exec %s \"$1\" 2>&1", cmd);
	ec_proc_run(&p);
	snprintf(out, cap, "%s", p.out ? p.out : p.msg);
	free(p.out);
	return p.status;
}

/* How scontrol describes job id, one line, into out; -1 when it fails, *gone when
 * because Slurm knows no such job (long purged). */
static int
job_line(const char *id, char *out, size_t cap, int *gone)
{
	int st = slurm_cmd("scontrol -o show job", id, out, cap);

	/* No scontrol here (a host without Slurm): nothing to ask, nothing in flight. */
	*gone = st == 127 || (st != 0 && strstr(out, "Invalid job id") != NULL);
	return st == 0 ? 0 : -1;
}

/* The value of "Key=" in scontrol's line, up to a space, into out. */
static void
field(const char *line, const char *key, char *out, size_t cap)
{
	const char *s = strstr(line, key);
	size_t n;

	*out = '\0';
	if (!s)
		return;
	s += strlen(key);
	n = strcspn(s, " \n");
	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
}

int
ec_slurm_busy(const char *spool, const ec_task_job *j, ec_err *e)
{
	static const char *const ended[] = { "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED",
		"NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", NULL };
	char rel[EC_MAX_ID + 32], id[32], line[8192], st[64];
	json_t *d;
	int gone;

	snprintf(rel, sizeof rel, "%s/%s/slurm.json", j->state, j->id);
	if (!(d = ec_spool_json(spool, rel, 1 << 12, NULL)))
		return 0;
	snprintf(id, sizeof id, "%s", ec_json_get_str(d, "jobId", ""));
	json_decref(d);
	if (!id[0] || strspn(id, "0123456789_") != strlen(id))
		return 0;
	if (job_line(id, line, sizeof line, &gone) < 0) {
		if (gone)
			return 0;
		ec_fail(e, EC_EXIT_TEMP, "task '%s': cannot ask Slurm whether its job %s is still "
		    "in flight (scontrol failed); it is left alone", j->id, id);
		return 1;
	}
	field(line, "JobState=", st, sizeof st);
	for (const char *const *s = ended; *s; s++)
		if (!strcmp(st, *s))
			return 0;
	ec_fail(e, EC_EXIT_TEMP, "task '%s' is locked by its Slurm job %s (%s): left to it",
	    j->id, id, st[0] ? st : "state unknown");
	return 1;
}

int
ec_slurm_verdict(ec_task_job *j, ec_err *e)
{
	char st[40] = "", ex[40] = "", msg[256];
	int rc = -1, code = 0, sig = 0;

	if (j->stopped) {
		return ec_fail(e, EC_EXIT_TEMP, "%s: stopped; Slurm job %s %s; resumable", j->id,
		    j->slurm_job[0] ? j->slurm_job : "(not yet submitted)",
		    j->slurm_leave ? "left running" : "cancelled"), EC_EXIT_TEMP;
	}
	if (!strncmp(j->slurm_end, "exit ", 5) || !j->slurm_job[0]) {
		snprintf(msg, sizeof msg, "sbatch submitted no job (%s); see task.log",
		    j->slurm_end[0] ? j->slurm_end : "it said nothing");
		ec_task_error_write(j->dir, "epic", EC_EXIT_TEMP, "SYSTEM_ERROR", msg, NULL);
		ec_fail(e, EC_EXIT_TEMP, "%s: %s", j->id, msg);
		return EC_EXIT_TEMP;
	}
	if (sscanf(j->slurm_end, "end %d %39s %39s", &rc, st, ex) != 3) {
		ec_fail(e, EC_EXIT_TEMP, "%s: Slurm job %s: the submitter ended without saying "
		    "how the job did; resumable", j->id, j->slurm_job);
		return EC_EXIT_TEMP;
	}
	if (sscanf(ex, "%d:%d", &code, &sig) != 2)
		code = rc, sig = 0;
	if (!strcmp(st, "COMPLETED") || !strcmp(st, "FAILED") || !strcmp(st, "UNKNOWN")) {
		/* make's own exit, judged with the task's verdict file as a local make's;
		 * UNKNOWN (the record purged): sbatch's exit, which is the job's. */
		if (!strcmp(st, "UNKNOWN"))
			code = rc, sig = 0;
		j->status = sig ? sig : (code & 0xff) << 8;
		return -1;
	}
	if (!strcmp(st, "TIMEOUT")) {
		snprintf(msg, sizeof msg, "Slurm job %s did not finish within its --time of %d min "
		    "(coordination.workflowTimeout): TIMEOUT; stopped, resumable", j->slurm_job,
		    ((j->timeout > 0 ? j->timeout : 1800) + 59) / 60);
		ec_task_error_write(j->dir, "epic", EC_EXIT_TEMP, "TIMEOUT", msg, NULL);
	} else
		snprintf(msg, sizeof msg, "Slurm job %s ended %s; resumable", j->slurm_job, st);
	ec_fail(e, EC_EXIT_TEMP, "%s: %s", j->id, msg);
	return EC_EXIT_TEMP;
}

void
ec_slurm_stop(ec_task_job *j)
{
	if (!j->slurm_leave && j->slurm_job[0]) {
		char out[1024];
		slurm_cmd("scancel", j->slurm_job, out, sizeof out);
	}
	/* sbatch --wait leaves the job as it is when it ends. */
	ec_proc_kill_group(j->pid, &j->status, SUBMITTER_STOP_GRACE_MS);
}
