/*
 * epic-watch - the spool daemon: claims requests from incoming/ and runs their
 * task pipelines, at most performance.maxConcurrentEpics at a time.
 *
 * The directory is the truth and inotify events are hints: incoming/ is scanned at
 * start-up (requests dropped while no watcher ran), on IN_Q_OVERFLOW and every
 * watcher.rescanSeconds. A request is claimed by claim.c: judged on a descriptor,
 * renamed into a claim directory only the owner can write, then into active/ID: of
 * several watchers on one spool exactly one wins each rename, so a request is
 * processed once. A task's work is serialised by the flock its launcher holds
 * (task.c), so a task left in active/ by a dead watcher (no live lock) is resumed
 * by the next one.
 *
 * One process runs every task's make itself (no fork per task beyond make), and
 * waits on pidfds: a built-in epic costs make and its tools, nothing more.
 *
 * Outcomes: done/ on success; failed/ with error.json when the input was rejected
 * (exit 1 or 2 of a tool); deferred/ on a temporary failure (exit 111), retried with
 * exponential backoff up to watcher.taskRetries, then failed/. Requests over their
 * submitter's rate (security.rateLimit, per owner of the file in incoming/) wait in
 * deferred/ too; deferred/ is watched as well, for what an operator releases or
 * requeues there (epic-queue), and hold/ is never looked into. Nothing is dropped. Every event is in log/audit.jsonl before the
 * move it records.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ec.h"
#include "retention.h"
#include "health.h"
#include "roles.h"
#include "slurm.h"

/* How soon a due task found locked is looked at again (ms): an operator's move
 * holds the lock for a moment; another launcher's run for longer, and a try costs
 * a flock(2). */
#define LOCKED_RECHECK_MS 250

static const char usage_text[] =
    "usage: epic-watch [--spool DIR] [--config FILE] [--once] [-j N]\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nWatch the spool's incoming/ and review every request dropped there.\n\n"
		    "  -s, --spool DIR    the spool (default $EPIC_SPOOL, then ./spool)\n"
		    "  -c, --config FILE  configuration file (reloaded on SIGHUP)\n"
		    "  -1, --once         process what is there (and arrives meanwhile), then exit\n"
		    "  -j, --jobs N       tasks at once (default performance.maxConcurrentEpics)\n"
		    "  -h, --help         this help\n"
		    "  -V, --version      print the version\n\n"
		    "Signals: TERM/INT stop claiming, let running tasks finish within\n"
		    "watcher.stopGraceSeconds, then stop them (resumable); HUP reloads the config.\n"
		    "Exit: 0 ok, 1 with --once: a request was rejected, 2 usage, 111 with --once: a\n"
		    "task failed temporarily (deferred), or the spool is unusable.\n", stdout);
	ec_exit(code);
}

/* A request seen in incoming/, waiting to be taken. */
typedef struct cand {
	char *name;
	long long not_before;   /* ms: not before this (settling, parse grace) */
	int renamed;            /* arrived by rename (IN_MOVED_TO): complete, no settling */
} cand;

/* A task in deferred/, waiting for its next attempt. */
typedef struct due {
	char id[EC_MAX_ID + 1];
	long long at;           /* epoch ms */
	int attempts;           /* attempts made; 0: waiting for the rate limit, not a retry */
	uid_t uid;              /* its submitter */
} due;

typedef struct running {
	ec_task_job t;
	long long started;      /* ms */
	off_t ckpt_size;        /* checkpoints.jsonl when it started: this run's events follow */
	int retries;            /* attempts already made */
	uid_t uid;              /* its submitter */
	char who[129];          /* metadata.requestedBy: a label */
} running;

typedef struct watch {
	const char *spool, *config_arg;
	json_t *cfg;
	char snapshot[4096];    /* the configuration in force, as the tasks see it */
	ec_task_opts o;
	int once, jobs_max;
	int ino, wakefd[2];
	int wd_deferred;        /* inotify watch of deferred/ (epic requeue, release) */
	int deferred_changed;   /* something moved into deferred/ or was re-timed there */
	long long deferred_recheck;     /* ms: read deferred/ again (a due task was locked), or 0 */
	cand *q;                /* FIFO of candidates */
	size_t qhead, qlen, qcap;
	char **seen;            /* open-addressing set of the names in q */
	size_t seen_cap, seen_n;
	char **ready;           /* task ids to (re)run now: recovered, duplicates */
	size_t nready, ready_cap;
	due *dues;
	size_t ndue, due_cap;
	running *run;
	int nrun;
	ec_ratelimit rate;      /* per submitter (security.rateLimit) */
	long long next_rescan;
	long long next_prom;    /* when watcher.prometheusFile is due again (ms) */
	long long started, next_purge;  /* ms: the daily purge (daily_purge) */
	int n_rejected, n_temp;
} watch;

static volatile sig_atomic_t got_term, got_hup;
static int wake_write_fd = -1;

static void
on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
	if (wake_write_fd >= 0)
		(void)!write(wake_write_fd, "x", 1);
	errno = saved;
}

static long long
cfg_int(const watch *w, const char *key, long long dflt)
{
	return ec_json_get_int(w->cfg, key, dflt);
}

/*
 * One line per event on stderr (escaped: a name from incoming/ cannot forge a
 * line), and one in log/audit.jsonl. uid is the submitter's ((uid_t)-1: unknown),
 * who the request's own label (not written). Called before the move the event
 * records. A task that failed or was deferred is a warning (journalctl -p warning
 * lists them), every other event information.
 */
static void
event(const watch *w, const char *id, const char *what, uid_t uid, const char *who,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
event(const watch *w, const char *id, const char *what, uid_t uid, const char *who,
    const char *fmt, ...)
{
	char detail[1024] = "";
	json_t *j;
	va_list ap;
	ec_err e;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof detail, fmt, ap);
		va_end(ap);
	}
	if (!strcmp(what, "failed") || !strcmp(what, "deferred"))
		ec_warn("%s: %s%s%s", id, what, *detail ? " " : "", detail);
	else
		ec_info("%s: %s%s%s", id, what, *detail ? " " : "", detail);
	j = json_pack("{s:s, s:s}", "task", id, "event", what);
	if (*detail)
		json_object_set_new(j, "detail", json_string(detail));
	if (uid != (uid_t)-1)
		json_object_set_new(j, "uid", json_integer((json_int_t)uid));
	/* who (metadata.requestedBy) is a person's name: personal data, which the
	 * audit log (hash-chained, never edited: epic-forget cannot take it out) must
	 * not hold. The task id and the uid identify the request well enough. */
	(void)who;
	if (ec_audit(w->spool, j, &e) < 0)
		ec_warn("%s", e.msg);
	json_decref(j);
}

/* ---- the candidate queue, deduplicated by name ----------------------------- */

static size_t
hash_name(const char *s)
{
	size_t h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/* Find name's slot in the seen set (its own, or the empty one it would take). */
static char **
seen_slot(watch *w, const char *name)
{
	size_t i = hash_name(name) & (w->seen_cap - 1);

	while (w->seen[i] && strcmp(w->seen[i], name) != 0)
		i = (i + 1) & (w->seen_cap - 1);
	return &w->seen[i];
}

static void
seen_remove(watch *w, const char *name)
{
	char **slot = seen_slot(w, name);
	size_t i, j;

	if (!*slot)
		return;
	/* Backward-shift deletion keeps every probe chain intact. */
	i = (size_t)(slot - w->seen);
	free(w->seen[i]);
	w->seen[i] = NULL;
	w->seen_n--;
	for (j = (i + 1) & (w->seen_cap - 1); w->seen[j]; j = (j + 1) & (w->seen_cap - 1)) {
		char *k = w->seen[j];
		w->seen[j] = NULL;
		*seen_slot(w, k) = k;
	}
}

static int
enqueue(watch *w, const char *name, long long not_before, int renamed)
{
	char **slot;

	if (name[0] == '.')
		return 0;       /* dot-files are being written: the Maildir convention */
	if (w->seen_n * 2 >= w->seen_cap) {
		char **old = w->seen;
		size_t oldcap = w->seen_cap;
		w->seen_cap = oldcap ? oldcap * 2 : 1024;
		if (!(w->seen = calloc(w->seen_cap, sizeof *w->seen)))
			return -1;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i])
				*seen_slot(w, old[i]) = old[i];
		free(old);
	}
	slot = seen_slot(w, name);
	if (*slot) {
		if (renamed)    /* what a scan found is now known to be complete */
			for (size_t i = w->qhead; i < w->qhead + w->qlen; i++)
				if (w->q[i].name == *slot)
					w->q[i].renamed = 1;
		return 0;
	}
	if (w->qhead + w->qlen == w->qcap) {
		if (w->qhead > 0) {
			memmove(w->q, w->q + w->qhead, w->qlen * sizeof *w->q);
			w->qhead = 0;
		} else {
			cand *nq = realloc(w->q, (w->qcap = w->qcap ? w->qcap * 2 : 256) * sizeof *nq);
			if (!nq)
				return -1;
			w->q = nq;
		}
	}
	if (!(*slot = strdup(name)))
		return -1;
	w->seen_n++;
	w->q[w->qhead + w->qlen].name = *slot;
	w->q[w->qhead + w->qlen].not_before = not_before;
	w->q[w->qhead + w->qlen].renamed = renamed;
	w->qlen++;
	return 0;
}

/* The directory is the truth: put everything in incoming/ on the queue. */
static void
rescan(watch *w)
{
	ec_err e;
	int fd = ec_spool_open(w->spool, "incoming", O_RDONLY, EC_OPEN_DIR, NULL, &e), n;
	struct dirent **names;

	w->next_rescan = ec_now_ms() + cfg_int(w, "watcher.rescanSeconds", 30) * 1000;
	if (fd < 0) {
		ec_warn("cannot scan incoming/: %s", e.msg);
		return;
	}
	/* Everything but dot-files: what is not a request (a FIFO, a link) is claimed
	 * to be rejected for good, not left to be looked at again and again. */
	if ((n = scandirat(fd, ".", &names, NULL, alphasort)) < 0) {
		ec_warn("cannot scan '%s/incoming': %s", w->spool, strerror(errno));
		close(fd);
		return;
	}
	for (int i = 0; i < n; i++) {
		enqueue(w, names[i]->d_name, 0, 0);
		free(names[i]);
	}
	free(names);
	close(fd);
}

static void
add_ready(watch *w, const char *id)
{
	for (size_t i = 0; i < w->nready; i++)
		if (strcmp(w->ready[i], id) == 0)
			return;
	if (w->nready == w->ready_cap) {
		char **nr = realloc(w->ready, (w->ready_cap = w->ready_cap ? w->ready_cap * 2 : 16) *
		    sizeof *nr);
		if (!nr)
			return;
		w->ready = nr;
	}
	w->ready[w->nready++] = strdup(id);
}

static void
add_due(watch *w, const char *id, long long at, int attempts, uid_t uid)
{
	for (size_t i = 0; i < w->ndue; i++)
		if (strcmp(w->dues[i].id, id) == 0) {
			w->dues[i].at = at;
			w->dues[i].attempts = attempts;
			w->dues[i].uid = uid;
			return;
		}
	if (w->ndue == w->due_cap) {
		due *nd = realloc(w->dues, (w->due_cap = w->due_cap ? w->due_cap * 2 : 16) * sizeof *nd);
		if (!nd)
			return;
		w->dues = nd;
	}
	snprintf(w->dues[w->ndue].id, sizeof w->dues[w->ndue].id, "%s", id);
	w->dues[w->ndue].attempts = attempts;
	w->dues[w->ndue].uid = uid;
	w->dues[w->ndue++].at = at;
}

/* ---- start-up: stale claims, stale tmp files, crashed tasks, deferred tasks ---- */

static void
claim_returned(const char *id, void *arg)
{
	event(arg, id, "recovered", (uid_t)-1, NULL, "an abandoned claim went back to incoming/");
}

/*
 * Return abandoned claims to incoming/ (claim.c), and clean tmp/: files older than
 * watcher.tmpMaxAgeHours are a dead writer's leftovers. Only regular files go; a
 * stranger's directory or link there is never followed.
 */
static void
clean_tmp(watch *w)
{
	long long now = (long long)time(NULL), maxage = cfg_int(w, "watcher.tmpMaxAgeHours", 24) * 3600;
	int dfd;
	DIR *d;
	struct dirent *de;

	ec_claim_recover(w->spool, maxage, claim_returned, w);
	if ((dfd = ec_spool_open(w->spool, "tmp", O_RDONLY, EC_OPEN_DIR, NULL, NULL)) < 0)
		return;
	if (!(d = fdopendir(dfd))) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
		    now - st.st_mtime <= maxage)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			ec_info("removed stale '%s/tmp/%s' (older than watcher.tmpMaxAgeHours)", w->spool,
			    de->d_name);
	}
	closedir(d);
}

static int
running_task(const watch *w, const char *id)
{
	for (int i = 0; i < w->nrun; i++)
		if (strcmp(w->run[i].t.id, id) == 0)
			return 1;
	for (size_t i = 0; i < w->nready; i++)
		if (strcmp(w->ready[i], id) == 0)
			return 1;
	return 0;
}

/* The task ids in state/ (dot-names are claims and staging, not tasks), sorted.
 * NULL-terminated (ec_names_free); NULL if the directory cannot be read. */
static char **
task_ids(const watch *w, const char *state)
{
	int dfd = ec_spool_open(w->spool, state, O_RDONLY, EC_OPEN_DIR, NULL, NULL);
	char **ids = dfd < 0 ? NULL : ec_dir_names(dfd);
	size_t n = 0;

	if (dfd >= 0)
		close(dfd);
	for (size_t i = 0; ids && ids[i]; i++) {
		if (ec_id_valid(ids[i]))
			ids[n++] = ids[i];
		else
			free(ids[i]);
	}
	if (ids)
		ids[n] = NULL;
	return ids;
}

/* Tasks in active/ whose lock nobody holds were left by a dead launcher: resume. */
static void
recover_active(watch *w)
{
	char **ids = task_ids(w, "active"), rel[EC_MAX_ID + 16];

	for (char **id = ids; id && *id; id++) {
		int fd;
		if (running_task(w, *id))
			continue;
		snprintf(rel, sizeof rel, "active/%s/.lock", *id);
		if ((fd = ec_spool_open(w->spool, rel, O_RDWR | O_CREAT, 0, NULL, NULL)) < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			event(w, *id, "resumed", (uid_t)-1, NULL, "left in active/ by a launcher that is gone");
			add_ready(w, *id);
		}
		close(fd);
	}
	ec_names_free(ids);
}

/*
 * attempts and the time of the next (ms) from a deferred.json (buf may be NULL);
 * anything missing or out of range counts as 0: a task due now, after no attempt.
 */
static void
deferred_parse(const char *buf, size_t len, int *attempts, long long *at_ms)
{
	json_t *d = buf ? ec_json_loadb(buf, len, "deferred.json", NULL) : NULL;
	long long a = ec_json_get_int(d, "attempts", 0), at = ec_json_get_int(d, "nextAttemptAt", 0);

	*attempts = a >= 0 && a <= 1000 ? (int)a : 0;
	*at_ms = at > 0 && at < (1LL << 40) ? at * 1000 : 0;
	json_decref(d);
}

/* Deferred tasks and when they are due: the retry marker, else (a task deferred
 * by an older version) deferred.json. */
static void
load_deferred(watch *w)
{
	char **ids = task_ids(w, "deferred"), rel[EC_MAX_ID + 32];

	for (char **id = ids; id && *id; id++) {
		int attempts = 0;
		uid_t uid = geteuid();
		long long at = 0;
		if (ec_task_retry_read(w->spool, "deferred", *id, &attempts, &uid, &at) < 0) {
			size_t len;
			char *buf;
			snprintf(rel, sizeof rel, "deferred/%s/deferred.json", *id);
			buf = ec_spool_read(w->spool, rel, 1 << 16, &len, 0, NULL);
			deferred_parse(buf, len, &attempts, &at);
			free(buf);
		}
		add_due(w, *id, at, attempts, uid);
	}
	ec_names_free(ids);
}

/* Read deferred/ again: the directory is the truth. An operator moves tasks in and
 * out (epic release, requeue, hold) and re-times them, and a task that could not
 * be started when it was due (its lock held a moment) is due again. */
static void
reload_deferred(watch *w)
{
	w->deferred_changed = 0;
	w->ndue = 0;
	load_deferred(w);
}

/* ---- rate limit ------------------------------------------------------------------ */

/*
 * Take one token for submitter uid: 0, or ms until there is one. Keyed by who
 * really submitted (the owner of the file in incoming/), never by what a request
 * says of itself; the spool's owner is the operator and is not limited.
 */
static long long
take_token(watch *w, uid_t uid)
{
	json_t *pm = ec_json_get(w->cfg, "security.rateLimit.perMinute");

	if (uid == geteuid() || uid == (uid_t)-1)
		return 0;
	return ec_ratelimit_take(&w->rate, uid, json_is_number(pm) ? json_number_value(pm) : 60,
	    (double)cfg_int(w, "security.rateLimit.burst", 20), ec_now_ms());
}

/* ---- running tasks ---------------------------------------------------------------- */

/*
 * Move an active task to deferred/ with why and when: the retry state first (it
 * must outlive a full disk), deferred.json for people, the audit event, then the
 * move. attempts 0 is a wait for the rate limit.
 */
static void
defer(watch *w, const char *id, uid_t uid, const char *who, int attempts, long long delay_ms,
    const char *why)
{
	char from[PATH_MAX], to[PATH_MAX], path[PATH_MAX + 32];
	long long at = ec_now_ms() + delay_ms;
	json_t *d;
	ec_err e;

	if (ec_task_retry_write(w->spool, id, attempts, uid, at, &e) < 0)
		ec_warn("%s; the retry count may be lost", e.msg);
	snprintf(from, sizeof from, "%s/active/%s", w->spool, id);
	snprintf(to, sizeof to, "%s/deferred/%s", w->spool, id);
	snprintf(path, sizeof path, "%s/deferred.json", from);
	d = json_pack("{s:i, s:I, s:s, s:I}", "attempts", attempts, "nextAttemptAt",
	    (json_int_t)((at + 999) / 1000), "reason", why, "uid", (json_int_t)uid);
	ec_json_write(path, d, EC_W_FSYNC, NULL);
	json_decref(d);
	event(w, id, "deferred", uid, who, "(retry in %lld s): %s", (delay_ms + 999) / 1000, why);
	if (rename(from, to) < 0) {
		ec_warn("%s: cannot move to deferred/: %s", id, strerror(errno));
		return;
	}
	snprintf(to, sizeof to, "%s/deferred", w->spool);
	ec_fsync_dir(to, NULL);
	add_due(w, id, at, attempts, uid);
}

/* Start the task's pipeline in a free slot: 1 started, 0 its lock is held by
 * another process, -1 it could not start (said why). */
static int
start(watch *w, const char *id, uid_t uid, const char *who, int retries)
{
	running *r = &w->run[w->nrun];
	char rel[EC_MAX_ID + 32];
	struct stat st;
	ec_err e;
	int fd;

	if (ec_task_start(id, &w->o, &r->t, &e) < 0) {
		if (e.code == EC_EXIT_TEMP && strstr(e.msg, "locked"))
			return 0;   /* another launcher has it */
		ec_warn("%s", e.msg);
		return -1;
	}
	r->started = ec_now_ms();
	r->retries = retries;
	r->uid = uid;
	snprintf(r->who, sizeof r->who, "%s", who ? who : "");
	snprintf(rel, sizeof rel, "%s/%s/checkpoints.jsonl", r->t.state, id);
	r->ckpt_size = 0;
	if ((fd = ec_spool_open(w->spool, rel, O_RDONLY, 0, &st, NULL)) >= 0) {
		r->ckpt_size = st.st_size;
		close(fd);
	}
	w->nrun++;
	return 1;
}

/*
 * Take the request incoming/name (claim.c) and start it, or defer it for its
 * submitter's rate. Returns 1 when the candidate is finished with, 0 to look at it
 * again later (*retry_at).
 */
static int
claim(watch *w, const char *name, int renamed, long long *retry_at)
{
	ec_claim_opts co = { cfg_int(w, "watcher.settleMs", 300), cfg_int(w, "watcher.parseGraceMs", 2000),
	    renamed };
	ec_claim c;
	ec_err e;
	long long wait;

	switch (ec_claim_take(w->spool, name, &co, &c, &e)) {
	case EC_CLAIM_LATER:
		*retry_at = c.retry_at;
		return 0;
	case EC_CLAIM_GONE:
		return 1;
	case EC_CLAIM_DUPLICATE:
		event(w, c.id, "duplicate", c.uid, c.who, "of the task in %s/; rerun incrementally", c.state);
		if (strcmp(c.state, "deferred") != 0)
			add_ready(w, c.id);
		return 1;
	case EC_CLAIM_REJECTED:
		w->n_rejected++;
		event(w, c.id, "failed", c.uid, c.who, "incoming/%s: %s", name, c.why);
		return 1;
	case EC_CLAIM_NEW:
		break;
	default:
		ec_warn("%s", e.msg);
		*retry_at = c.retry_at ? c.retry_at : ec_now_ms() + 1000;
		return 0;
	}
	event(w, c.id, "claimed", c.uid, c.who, "incoming/%s", name);
	if ((wait = take_token(w, c.uid)) > 0) {
		char why[200];
		snprintf(why, sizeof why, "rate limit for uid %lu (security.rateLimit)", (unsigned long)c.uid);
		defer(w, c.id, c.uid, c.who, 0, wait, why);
		return 1;
	}
	start(w, c.id, c.uid, c.who, 0);
	return 1;
}

/* The requester's label of a task (for the audit log): from its normalized
 * request, else from a JSON request not yet parsed. */
static void
task_label(const watch *w, const char *state, const char *id, char *who, size_t cap)
{
	char rel[EC_MAX_ID + 32];
	json_t *d;

	snprintf(rel, sizeof rel, "%s/%s/epic-request.json", state, id);
	if (!(d = ec_spool_json(w->spool, rel, EC_MAX_JSON_BYTES, NULL))) {
		snprintf(rel, sizeof rel, "%s/%s/request.json", state, id);
		d = ec_spool_json(w->spool, rel, EC_MAX_REQUEST_BYTES, NULL);
	}
	snprintf(who, cap, "%s", ec_json_get_str(d, "metadata.requestedBy", ""));
	json_decref(d);
}

/* Fill free slots: ready tasks first (recovered, duplicates), then due deferred
 * tasks, then the queue. */
static void
fill(watch *w)
{
	long long now = ec_now_ms();
	size_t n;

	while (w->nrun < w->jobs_max && w->nready > 0) {
		char *id = w->ready[0];
		memmove(w->ready, w->ready + 1, --w->nready * sizeof *w->ready);
		start(w, id, (uid_t)-1, NULL, 0);
		free(id);
	}
	for (size_t i = 0; i < w->ndue && w->nrun < w->jobs_max; ) {
		if (w->dues[i].at <= now) {
			due d = w->dues[i];
			char who[129];
			long long wait;
			w->dues[i] = w->dues[--w->ndue];
			task_label(w, "deferred", d.id, who, sizeof who);
			if (d.attempts == 0 && (wait = take_token(w, d.uid)) > 0) {
				add_due(w, d.id, now + wait, 0, d.uid);
				continue;
			}
			/* Locked: an operator's move (epic requeue re-times the task while it
			 * holds the lock) or another launcher. Look again soon rather than at
			 * the next rescan, minutes away: the directory says whether it is
			 * still deferred and due then. */
			if (start(w, d.id, d.uid, who, d.attempts) == 0 && !w->deferred_recheck)
				w->deferred_recheck = now + LOCKED_RECHECK_MS;
		} else
			i++;
	}
	n = w->qlen;
	while (w->nrun < w->jobs_max && n-- > 0 && w->qlen > 0) {
		cand c = w->q[w->qhead];
		long long retry_at = 0;
		w->qhead++, w->qlen--;
		if (c.not_before > now || !claim(w, c.name, c.renamed, &retry_at)) {
			/* not yet: back of the queue, still marked as seen */
			if (w->qhead + w->qlen == w->qcap) {
				memmove(w->q, w->q + w->qhead, w->qlen * sizeof *w->q);
				w->qhead = 0;
			}
			if (retry_at)
				c.not_before = retry_at;
			w->q[w->qhead + w->qlen++] = c;
			continue;
		}
		seen_remove(w, c.name);
	}
}

/* This run's per-persona figures, appended to log/metrics.jsonl. */
static void
metrics(const watch *w, const running *r, const char *status)
{
	char rel[EC_MAX_ID + 32], when[40], *buf, *line;
	long long dur = ec_now_ms() - r->started;
	size_t len;
	json_t *j;

	ec_iso_time(when, sizeof when);
	snprintf(rel, sizeof rel, "%s/%s/checkpoints.jsonl", r->t.state, r->t.id);
	if ((buf = ec_spool_read(w->spool, rel, EC_EVENTS_MAX_BYTES, &len, 0, NULL))) {
		/* The events of this run: from where the file ended when it started. */
		size_t from = (size_t)r->ckpt_size <= len ? (size_t)r->ckpt_size : len;
		ec_events evs;
		if (ec_events_parse(buf + from, len - from, rel, &evs, NULL, NULL, NULL) == 0) {
			for (size_t i = 0; i < evs.n; i++) {
				const char *what = evs.v[i].event;
				json_t *took = json_object_get(evs.v[i].j, "durationMs");
				if (strcmp(what, "after") && strcmp(what, "cache-hit") && strcmp(what, "failed") &&
				    strcmp(what, "skipped"))
					continue;
				j = json_pack("{s:s, s:s, s:s, s:s, s:b}", "time", when, "task", r->t.id,
				    "persona", evs.v[i].persona, "event", what, "cacheHit",
				    !strcmp(what, "cache-hit"));
				if (took)
					json_object_set(j, "durationMs", took);
				if ((line = ec_json_dumps_line(j)))
					ec_spool_append(w->spool, "log/metrics.jsonl", line, strlen(line), NULL);
				free(line);
				json_decref(j);
			}
			ec_events_free(&evs);
		}
		free(buf);
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "time", when, "task", r->t.id, "event", "task",
	    "status", status, "durationMs", (json_int_t)dur);
	if ((line = ec_json_dumps_line(j)))
		ec_spool_append(w->spool, "log/metrics.jsonl", line, strlen(line), NULL);
	free(line);
	json_decref(j);
}

/* watcher.prometheusFile, when configured: epic health's metrics written there at
 * most once a minute (force: now, at the end of a --once run). A failure is said
 * once per attempt and never stops the watcher. */
static void
prometheus(watch *w, int force)
{
	const char *path = ec_json_get_str(w->cfg, "watcher.prometheusFile", NULL);
	long long now = ec_now_ms();
	ec_err e;

	if (!path || (!force && now < w->next_prom))
		return;
	w->next_prom = now + 60000;
	if (ec_health_write_prometheus(w->spool, w->cfg, path, &e) < 0)
		ec_warn("cannot write the metrics to '%s': %s", path, e.msg);
}

/* The refusals of admin commands dropped in refused/ (security.roles), into the
 * audit log. */
static void
fold_refusals(watch *w)
{
	ec_err e;

	if (ec_roles_fold(w->spool, &e) < 0)
		ec_warn("%s", e.msg);
}

/* The daily purge, when it is due (retention.c says when and runs it). */
static void
daily_purge(watch *w)
{
	long long every = cfg_int(w, "watcher.purgeHours", 24) * 3600 * 1000;
	char msg[512];

	if (w->once)
		return;         /* the nightly unit and the crontab run epic purge after it */
	switch (ec_purge_when_due(w->spool, w->config_arg, every, w->started, &w->next_purge,
	    msg, sizeof msg)) {
	case 1: ec_info("purged (retention:, every %lld h)", every / 3600000); break;
	case -1: ec_warn("purge failed: %s (tried again in an hour)", msg); break;
	}
}

/*
 * A task's make has ended: its verdict, the audit event, then the move (done/,
 * failed/), or a deferral for a temporary failure, or failed/ after the last retry.
 */
static void
finish(watch *w, int i)
{
	running *r = &w->run[i];
	double secs = (double)(ec_now_ms() - r->started) / 1000.0;
	size_t idlen = strlen(r->t.id);
	ec_err e;
	int rc = ec_task_verdict(&r->t, &w->o, &e);

	/* The event names the task already. */
	if (rc != 0 && strncmp(e.msg, r->t.id, idlen) == 0 && e.msg[idlen] == ':')
		memmove(e.msg, e.msg + idlen + 2, strlen(e.msg + idlen + 2) + 1);

	if (rc == 0) {
		metrics(w, r, "done");
		event(w, r->t.id, "done", r->uid, r->who, "in %.3f s", secs);
	} else if (rc == EC_EXIT_REJECT) {
		metrics(w, r, "failed");
		w->n_rejected++;
		event(w, r->t.id, "failed", r->uid, r->who, "in %.3f s: %s", secs, e.msg);
	} else
		metrics(w, r, got_term ? "stopped" : "deferred");
	/* A temporary failure is deferred while the task is still locked, so no other
	 * watcher resumes it between the two. */
	if (rc == EC_EXIT_TEMP && got_term)
		event(w, r->t.id, "stopped", r->uid, r->who, "resumable: %s", e.msg);
	else if (rc == EC_EXIT_TEMP) {
		int attempts = r->retries + 1;
		if (attempts > cfg_int(w, "watcher.taskRetries", 5)) {
			char from[PATH_MAX], to[PATH_MAX];
			w->n_temp++;
			event(w, r->t.id, "failed", r->uid, r->who, "after %d attempts: %s", attempts, e.msg);
			snprintf(from, sizeof from, "%s/active/%s", w->spool, r->t.id);
			snprintf(to, sizeof to, "%s/failed/%s", w->spool, r->t.id);
			if (rename(from, to) < 0)
				ec_warn("%s: cannot move to failed/: %s", r->t.id, strerror(errno));
		} else {
			/* Doubled each time, up to a week: taskRetries may be 100, and no
			 * shift may run past 63 bits. */
			long long delay = cfg_int(w, "watcher.taskRetryDelay", 60) * 1000LL;
			for (int k = 1; k < attempts && delay < 7 * 86400000LL; k++)
				delay *= 2;
			w->n_temp++;
			defer(w, r->t.id, r->uid, r->who, attempts, delay, e.msg);
		}
	}
	if (ec_task_settle(&r->t, &w->o, rc, &e) == EC_EXIT_TEMP && rc == 0)
		ec_warn("%s", e.msg);           /* done, but not moved: the next run moves it */
	else if (rc == 0 && ec_view_publish(w->spool, w->cfg, r->t.id, &e) < 0)
		ec_warn("%s: no view copy: %s", r->t.id, e.msg);
	w->run[i] = w->run[--w->nrun];
}

static void
load_config(watch *w)
{
	ec_err e;
	json_t *c = ec_config_load(w->config_arg, &e);

	if (!c || ec_slurm_configure(&w->o, c, w->spool, &e) < 0) {
		json_decref(c);
		if (!w->cfg)
			ec_die_err(&e);
		ec_warn("%s; keeping the configuration in force", e.msg);
		return;
	}
	json_decref(w->cfg);
	w->cfg = c;
	w->o.timeout = (int)cfg_int(w, "coordination.workflowTimeout", 1800);
	w->o.jobs = (int)cfg_int(w, "performance.maxConcurrentPersonas", 3);
	/* The tasks read the configuration too. They get a snapshot of the one in force
	 * (JSON is YAML), so a broken edit followed by SIGHUP breaks nothing: the file
	 * is taken only once it loads. */
	snprintf(w->snapshot, sizeof w->snapshot, "%s/.config-in-force.json", w->spool);
	/* Private: the root is passable for the spool's group (0710), and a name
	 * anyone can guess is no secret. */
	if (ec_json_write(w->snapshot, c, EC_W_FSYNC | EC_W_IFCHANGED | EC_W_MODE_PRIVATE, &e) < 0) {
		ec_warn("%s; the tasks read '%s' directly", e.msg, w->config_arg ? w->config_arg : "the default");
		w->o.config = w->config_arg;
	} else
		w->o.config = w->snapshot;
}

/* Read inotify events: a name to look at, or an overflow to rescan for. */
static void
read_events(watch *w)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(w->ino, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n; ) {
			struct inotify_event *ev = (struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				ec_warn("inotify queue overflowed; rescanning incoming/");
				rescan(w);
				w->deferred_changed = 1;
			} else if (ev->wd == w->wd_deferred)
				w->deferred_changed = 1;
			else if (ev->len > 0)
				enqueue(w, ev->name, 0, (ev->mask & IN_MOVED_TO) != 0);
			p += sizeof *ev + ev->len;
		}
	}
}

static void
watch_free(watch *w)
{
	for (size_t i = 0; i < w->seen_cap; i++)
		free(w->seen[i]);
	free(w->seen);
	free(w->q);
	for (size_t i = 0; i < w->nready; i++)
		free(w->ready[i]);
	free(w->ready);
	free(w->dues);
	free(w->run);
	ec_ratelimit_free(&w->rate);
	json_decref(w->cfg);
	if (w->ino >= 0)
		close(w->ino);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "once", no_argument, NULL, '1' },
		{ "spool", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	watch w = { .ino = -1, .wd_deferred = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	char dir[PATH_MAX];
	long long stop_at = 0;
	ec_err e;
	int c, jobs = 0;

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "1c:hj:s:V", longopts, NULL)) != -1) {
		switch (c) {
		case '1': w.once = 1; break;
		case 'c': w.config_arg = optarg; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'j':
			if ((jobs = atoi(optarg)) < 1) {
				ec_warn("-j takes a whole number of at least 1, not '%s'", optarg);
				usage(EC_EXIT_USAGE);
			}
			break;
		case 's': w.spool = optarg; break;
		case 'V': printf("epic-watch %s\n", EC_VERSION); return EC_EXIT_OK;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (optind < argc) {
		ec_warn("unexpected argument '%s'", argv[optind]);
		usage(EC_EXIT_USAGE);
	}
	w.spool = ec_spool_root(w.spool);
	if (ec_spool_init(w.spool, &e) < 0)
		ec_die_err(&e);
	/* The watcher is the service, whoever started it: its daily epic-purge is not
	 * judged as a sudo caller's (security.roles). */
	unsetenv("SUDO_UID");
	w.config_arg = ec_config_path(w.config_arg);
	load_config(&w);
	w.o.spool = w.spool;
	w.o.nowait = 1;
	w.jobs_max = jobs ? jobs : (int)cfg_int(&w, "performance.maxConcurrentEpics", 2);
	if (!(w.run = calloc((size_t)w.jobs_max, sizeof *w.run)))
		ec_die(EC_EXIT_TEMP, "out of memory");
	/* Signals wake the poll through a pipe; children get the default dispositions
	 * back when they exec (handlers do not survive exec). */
	if (pipe2(w.wakefd, O_CLOEXEC | O_NONBLOCK) < 0)
		ec_die(EC_EXIT_TEMP, "cannot create a pipe: %s", strerror(errno));
	wake_write_fd = w.wakefd[1];
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Watch before the first scan, so nothing dropped in between is missed. */
	snprintf(dir, sizeof dir, "%s/incoming", w.spool);
	if ((w.ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
	    inotify_add_watch(w.ino, dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
		ec_die(EC_EXIT_TEMP, "cannot watch '%s': %s", dir, strerror(errno));
	/* deferred/ too: what an operator moves there is due without waiting for the
	 * next rescan. Without it the rescan still finds it. */
	{
		char ddir[PATH_MAX];
		snprintf(ddir, sizeof ddir, "%s/deferred", w.spool);
		if ((w.wd_deferred = inotify_add_watch(w.ino, ddir, IN_MOVED_TO | IN_MOVED_FROM |
		    IN_ATTRIB | IN_ONLYDIR)) < 0)
			ec_warn("cannot watch '%s': %s; it is read at every rescan", ddir, strerror(errno));
	}
	w.started = ec_now_ms();
	clean_tmp(&w);
	recover_active(&w);
	load_deferred(&w);
	rescan(&w);
	fold_refusals(&w);
	ec_info("watching %s (%d at a time%s)", dir, w.jobs_max,
	    w.once ? ", once" : "");

	for (;;) {
		struct pollfd pf[2 + 64];
		int np = 0, timeout = 1000, ended = 0;
		long long now;

		if (got_hup) {
			got_hup = 0;
			load_config(&w);
			ec_info("configuration reloaded");
		}
		if (got_term && !stop_at) {
			stop_at = ec_now_ms() + cfg_int(&w, "watcher.stopGraceSeconds", 30) * 1000;
			ec_info("stopping: no more claims; %d running task%s get %lld s", w.nrun,
			    w.nrun == 1 ? "" : "s", cfg_int(&w, "watcher.stopGraceSeconds", 30));
		}
		if (w.deferred_recheck && ec_now_ms() >= w.deferred_recheck) {
			w.deferred_recheck = 0;
			reload_deferred(&w);
		}
		if (!got_term)
			fill(&w);
		prometheus(&w, 0);
		now = ec_now_ms();
		if (got_term && now >= stop_at)
			for (int i = 0; i < w.nrun; i++)
				ec_task_stop(&w.run[i].t);
		for (int i = 0; i < w.nrun; i++)
			if (ec_task_poll(&w.run[i].t, &w.o)) {
				finish(&w, i);
				i = -1;         /* the array changed: start over */
				ended = 1;
			}
		/* A slot freed: refill it now, not after the next poll's timeout (up to
		 * 100 ms with work queued, which left the second slot idle). */
		if (ended && !got_term)
			fill(&w);
		if (got_term && w.nrun == 0)
			break;
		if (w.once && !got_term && w.nrun == 0 && w.nready == 0) {
			/* Waits for the rate limit are short and part of this run; retries
			 * after failures are left for the next one. */
			int due_now = 0;
			for (size_t i = 0; i < w.ndue; i++)
				due_now |= w.dues[i].at <= now || w.dues[i].attempts == 0;
			if (w.qlen == 0 && !due_now) {
				rescan(&w);     /* anything that arrived unannounced? */
				if (w.qlen == 0)
					break;
			}
		}
		if (!got_term && now >= w.next_rescan) {
			rescan(&w);
			recover_active(&w);     /* tasks whose launcher died since */
			reload_deferred(&w);
			ec_claim_recover(w.spool, cfg_int(&w, "watcher.tmpMaxAgeHours", 24) * 3600,
			    claim_returned, &w);
			daily_purge(&w);
			fold_refusals(&w);
		}
		/* Sleep until an event, a signal, a task's end, or the next thing due. */
		pf[np++] = (struct pollfd){ w.ino, POLLIN, 0 };
		pf[np++] = (struct pollfd){ w.wakefd[0], POLLIN, 0 };
		for (int i = 0; i < w.nrun && np < (int)(sizeof pf / sizeof *pf); i++)
			if (w.run[i].t.pidfd >= 0)
				pf[np++] = (struct pollfd){ w.run[i].t.pidfd, POLLIN, 0 };
		if (w.qlen > 0 && w.nrun < w.jobs_max)
			timeout = 100;
		for (size_t i = 0; i < w.ndue; i++)
			if (w.dues[i].at - now < timeout)
				timeout = w.dues[i].at > now ? (int)(w.dues[i].at - now) : 0;
		if (w.deferred_recheck && w.deferred_recheck - now < timeout)
			timeout = w.deferred_recheck > now ? (int)(w.deferred_recheck - now) : 0;
		if (w.nready > 0 && w.nrun < w.jobs_max)
			timeout = 0;
		if (got_term)
			timeout = 100;
		if (poll(pf, (nfds_t)np, timeout) > 0) {
			if (pf[0].revents & POLLIN)
				read_events(&w);
			if (w.deferred_changed)
				reload_deferred(&w);
			if (pf[1].revents & POLLIN) {
				char drain[64];
				while (read(w.wakefd[0], drain, sizeof drain) > 0)
					;
			}
		}
	}
	if (w.once)
		prometheus(&w, 1);
	{
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		ec_info("stopped (peak RSS %ld KiB)", ru.ru_maxrss);
	}
	c = w.once && w.n_rejected ? EC_EXIT_REJECT : w.once && w.n_temp ? EC_EXIT_TEMP : EC_EXIT_OK;
	watch_free(&w);
	return c;
}
