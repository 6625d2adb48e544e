/*
 * proc.c - run a child as a filter: input on its stdin, its stdout captured, under
 * a timeout that really fires.
 *
 * The child gets its own process group, so a timeout kills it and everything it
 * started (TERM, a grace period, then KILL): no orphan outlives its run. stdin and
 * stdout are served together with poll(2), so a child that answers before reading
 * all its input cannot deadlock us, and one that never reads cannot make us block.
 * Used for command personas (persona-run) and hooks.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ec.h"

#define KILL_GRACE_MS 2000

/* The process group of the child being run, for the signal handler below. */
static volatile sig_atomic_t current_pgid;

/*
 * The child runs in a process group of its own, so a signal to ours (make's, when a
 * workflow timeout or a stop kills the pipeline) would not reach it: pass the end
 * on, then die of the same signal.
 */
static void
on_fatal_signal(int sig)
{
	if (current_pgid > 0)
		kill(-(pid_t)current_pgid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

void
ec_proc_forward_signals(void)
{
	struct sigaction sa = { .sa_handler = on_fatal_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* Wait for pid up to ms milliseconds; 1 if it was reaped (status in *st). */
static int
wait_for(pid_t pid, int *st, long long ms)
{
	long long end = ec_mono_ms() + ms;

	for (;;) {
		pid_t w = waitpid(pid, st, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return 1;
		if (ec_mono_ms() >= end)
			return 0;
		usleep(2000);
	}
}

void
ec_proc_kill_group(pid_t pid, int *st, long long grace_ms)
{
	kill(-pid, SIGTERM);
	if (!wait_for(pid, st, grace_ms)) {
		kill(-pid, SIGKILL);
		waitpid(pid, st, 0);
	}
	kill(-pid, SIGKILL);    /* grandchildren that outlived the leader */
}

static void
limit(int res, long long v)
{
	struct rlimit rl = { (rlim_t)v, (rlim_t)v };
	if (v > 0)
		setrlimit(res, &rl);
}

static int
fail(ec_proc *p, const char *why)
{
	snprintf(p->msg, sizeof p->msg, "cannot start '%s': %s", p->argv[0], why);
	return -1;
}

int
ec_proc_run(ec_proc *p)
{
	int in[2], op[2], st = 0, reaped = 0;
	long long deadline = ec_mono_ms() + (long long)p->timeout * 1000, exited_at = 0;
	size_t off = 0, cap = 65536, n = 0;
	char *buf = malloc(cap);
	pid_t pid;

	p->out = NULL;
	p->outlen = 0;
	p->status = -1;
	p->timed_out = p->too_big = 0;
	p->msg[0] = '\0';
	if (!buf || pipe2(in, O_CLOEXEC) < 0) {
		free(buf);
		return fail(p, strerror(errno));
	}
	if (pipe2(op, O_CLOEXEC) < 0) {
		close(in[0]), close(in[1]);
		free(buf);
		return fail(p, strerror(errno));
	}
	if ((pid = fork()) < 0) {
		close(in[0]), close(in[1]), close(op[0]), close(op[1]);
		free(buf);
		return fail(p, strerror(errno));
	}
	if (pid == 0) {
		setpgid(0, 0);
		dup2(in[0], 0);
		dup2(op[1], 1);
		if (p->err_fd >= 0)
			dup2(p->err_fd, 2);
		for (const char *const *e = p->env; e && *e; e++)
			putenv((char *)*e);
		/* A persona or a hook is judged by its caller: its own exit must never
		 * pass for the pipeline's verdict (verdict.c). */
		unsetenv("EPIC_ERROR_FILE");
		signal(SIGPIPE, SIG_DFL);
		/* The limits last: putenv may allocate, and under a sanitizer's reserved
		 * address space any allocation after RLIMIT_AS fails. */
		limit(RLIMIT_AS, p->mem_limit);
		limit(RLIMIT_CPU, p->cpu_limit);
		execvp(p->argv[0], p->argv);
		dprintf(2, "%s: cannot run '%s': %s\n", ec_progname, p->argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);      /* both sides, so the group exists before any kill */
	current_pgid = pid;
	close(in[0]);
	close(op[1]);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (p->inlen == 0)
		close(in[1]), in[1] = -1;
	for (;;) {
		struct pollfd pf[2];
		int np = 0;
		long long left = deadline - ec_mono_ms();
		if (left <= 0) {
			ec_proc_kill_group(pid, &st, KILL_GRACE_MS);
			p->timed_out = 1;
			snprintf(p->msg, sizeof p->msg, "timed out after %d s; process group killed", p->timeout);
			goto out;
		}
		if (op[0] >= 0)
			pf[np++] = (struct pollfd){ op[0], POLLIN, 0 };
		if (in[1] >= 0)
			pf[np++] = (struct pollfd){ in[1], POLLOUT, 0 };
		if (np == 0)
			break;
		/* Once the leader has exited, whatever still holds stdout open is a stray
		 * grandchild: give it a moment, then stop waiting for it. */
		if (!reaped && waitpid(pid, &st, WNOHANG) == pid)
			reaped = 1, exited_at = ec_mono_ms();
		if (reaped && ec_mono_ms() - exited_at > 200)
			break;
		if (poll(pf, (nfds_t)np, reaped ? 50 : left > 100 ? 100 : (int)left) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < np; k++) {
			if (pf[k].fd == op[0] && (pf[k].revents & (POLLIN | POLLHUP | POLLERR))) {
				ssize_t got;
				if (n + 4096 > cap) {
					char *nb;
					if (n >= p->out_cap) {
						ec_proc_kill_group(pid, &st, KILL_GRACE_MS);
						snprintf(p->msg, sizeof p->msg, "output larger than %zu bytes", p->out_cap);
						p->too_big = 1;
						goto out;
					}
					cap = cap * 2 > p->out_cap + 4097 ? p->out_cap + 4097 : cap * 2;
					if (!(nb = realloc(buf, cap))) {
						ec_proc_kill_group(pid, &st, KILL_GRACE_MS);
						snprintf(p->msg, sizeof p->msg, "out of memory");
						goto out;
					}
					buf = nb;
				}
				got = read(op[0], buf + n, cap - n - 1);
				if (got > 0)
					n += (size_t)got;
				else if (got == 0 || errno != EINTR) {
					close(op[0]);
					op[0] = -1;
				}
			} else if (pf[k].fd == in[1] && (pf[k].revents & (POLLOUT | POLLERR | POLLHUP))) {
				ssize_t w = write(in[1], p->input + off, p->inlen - off);
				if (w > 0)
					off += (size_t)w;
				/* A child that does not read all its input is its business. */
				if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == p->inlen) {
					close(in[1]);
					in[1] = -1;
				}
			}
		}
	}
	if (!reaped) {
		long long left = deadline - ec_mono_ms();
		if (!wait_for(pid, &st, left > 0 ? left : 0)) {
			ec_proc_kill_group(pid, &st, KILL_GRACE_MS);
			p->timed_out = 1;
			snprintf(p->msg, sizeof p->msg, "timed out after %d s; process group killed", p->timeout);
			goto out;
		}
	}
	kill(-pid, SIGKILL);    /* nothing of the child outlives its run */
	if (WIFSIGNALED(st)) {
		p->status = -WTERMSIG(st);
		snprintf(p->msg, sizeof p->msg, "killed by signal %d (%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
		goto out;
	}
	p->status = WEXITSTATUS(st);
	if (p->status != 0) {
		snprintf(p->msg, sizeof p->msg, p->status == 127 ? "cannot run '%s' (exit 127)" :
		    "'%s' exited with status %d", p->argv[0], p->status);
		goto out;
	}
	buf[n] = '\0';
	p->out = buf;
	p->outlen = n;
	buf = NULL;
out:
	current_pgid = 0;
	if (in[1] >= 0)
		close(in[1]);
	if (op[0] >= 0)
		close(op[0]);
	free(buf);
	return p->out ? 0 : -1;
}
