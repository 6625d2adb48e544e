/*
 * epic-watch - the spool daemon: claims requests from incoming/ and runs their
 * task pipelines, at most performance.maxConcurrentEpics at a time.
 *
 * The directory is the truth and inotify events are hints: incoming/ is scanned at
 * start-up (requests dropped while no watcher ran), on IN_Q_OVERFLOW and every
 * watcher.rescanSeconds. A request is claimed by rename(2) of the file into a
 * claim directory in tmp/, then of that directory into active/ID: of several
 * watchers on one spool exactly one wins each rename, so a request is processed
 * once. A task's work is serialised by the flock its launcher holds (task.c), so a
 * task left in active/ by a dead watcher (no live lock) is resumed by the next one.
 *
 * One process runs every task's make itself (no fork per task beyond make), and
 * waits on pidfds: a built-in epic costs make and its tools, nothing more.
 *
 * Outcomes: done/ on success; failed/ with error.json when the input was rejected
 * (exit 1); deferred/ with deferred.json on a temporary failure (exit 111), retried
 * with exponential backoff up to watcher.taskRetries, then failed/. Requests over
 * a requester's rate (security.rateLimit, per metadata.requestedBy) wait in
 * deferred/ too. Nothing is dropped.
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
	exit(code);
}

/* A request seen in incoming/, waiting to be taken. */
typedef struct cand {
	char *name;
	long long not_before;   /* ms: not before this (settling, parse grace) */
	int renamed;            /* arrived by rename (IN_MOVED_TO): complete, no settling */
} cand;

/* A task in deferred/, waiting for its next attempt. */
typedef struct due {
	char id[192];
	long long at;           /* epoch ms */
	int rate;               /* waiting for the rate limit (short), not a retry */
} due;

typedef struct bucket {
	char who[129];
	double tokens;
	long long last;         /* ms */
} bucket;

typedef struct running {
	ec_task_job t;
	long long started;      /* ms */
	off_t ckpt_size;        /* checkpoints.jsonl when it started: this run's events follow */
	int retries;            /* attempts already made (from deferred.json) */
	char who[129];
} running;

typedef struct watch {
	const char *spool, *config_arg;
	json_t *cfg;
	char snapshot[4096];    /* the configuration in force, as the tasks see it */
	ec_task_opts o;
	int once, jobs_max;
	int ino, wakefd[2];
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
	bucket *buckets;
	size_t nbuckets;
	long long next_rescan;
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

/* One line per event on stderr, and one in log/audit.jsonl. */
static void
event(const watch *w, const char *id, const char *what, const char *who, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
event(const watch *w, const char *id, const char *what, const char *who, const char *fmt, ...)
{
	char detail[1024] = "", when[40], path[PATH_MAX];
	json_t *j;
	char *line;
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof detail, fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "epic-watch: %s: %s%s%s\n", id, what, *detail ? " " : "", detail);
	ec_iso_time(when, sizeof when);
	j = json_pack("{s:s, s:s, s:s}", "time", when, "task", id, "event", what);
	if (*detail)
		json_object_set_new(j, "detail", json_string(detail));
	if (who && *who)
		json_object_set_new(j, "requestedBy", json_string(who));
	snprintf(path, sizeof path, "%s/log/audit.jsonl", w->spool);
	if ((line = ec_json_dumps_line(j)))
		ec_append_line(path, line, strlen(line), NULL);
	free(line);
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
	char dir[PATH_MAX];
	struct dirent **names;
	int n;

	snprintf(dir, sizeof dir, "%s/incoming", w->spool);
	if ((n = scandir(dir, &names, NULL, alphasort)) < 0) {
		ec_warn("cannot scan '%s': %s", dir, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		if (names[i]->d_type == DT_REG || names[i]->d_type == DT_UNKNOWN)
			enqueue(w, names[i]->d_name, 0, 0);
		free(names[i]);
	}
	free(names);
	w->next_rescan = ec_now_ms() + cfg_int(w, "watcher.rescanSeconds", 30) * 1000;
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
add_due(watch *w, const char *id, long long at, int rate)
{
	for (size_t i = 0; i < w->ndue; i++)
		if (strcmp(w->dues[i].id, id) == 0) {
			w->dues[i].at = at;
			w->dues[i].rate = rate;
			return;
		}
	if (w->ndue == w->due_cap) {
		due *nd = realloc(w->dues, (w->due_cap = w->due_cap ? w->due_cap * 2 : 16) * sizeof *nd);
		if (!nd)
			return;
		w->dues = nd;
	}
	snprintf(w->dues[w->ndue].id, sizeof w->dues[w->ndue].id, "%s", id);
	w->dues[w->ndue].rate = rate;
	w->dues[w->ndue++].at = at;
}

/* ---- start-up: stale claims, stale tmp files, crashed tasks, deferred tasks ---- */

/*
 * Clean tmp/. A claim directory (".claim.ID.PID") older than a minute belongs to a
 * watcher that died between its two renames: its request goes back to incoming/,
 * so nothing is lost. Other files older than watcher.tmpMaxAgeHours are a dead
 * writer's leftovers.
 */
static void
clean_tmp(watch *w)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	long long now = (long long)time(NULL), maxage = cfg_int(w, "watcher.tmpMaxAgeHours", 24) * 3600;
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof dir, "%s/tmp", w->spool);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && !strncmp(de->d_name, ".claim.", 7) && now - st.st_mtime > 60) {
			DIR *cd = opendir(path);
			struct dirent *ce;
			char id[256], *dot;
			snprintf(id, sizeof id, "%s", de->d_name + 7);
			if ((dot = strrchr(id, '.')))
				*dot = '\0';            /* drop the pid */
			while (cd && (ce = readdir(cd))) {
				char from[PATH_MAX * 3], to[PATH_MAX * 3];
				if (strncmp(ce->d_name, "request.", 8) != 0)
					continue;
				snprintf(from, sizeof from, "%s/%s", path, ce->d_name);
				snprintf(to, sizeof to, "%s/incoming/%s.%s", w->spool, id, ce->d_name + 8);
				if (rename(from, to) == 0)
					event(w, id, "recovered", NULL, "an abandoned claim went back to incoming/");
			}
			if (cd)
				closedir(cd);
			rmdir(path);
		} else if (S_ISREG(st.st_mode) && now - st.st_mtime > maxage) {
			if (unlink(path) == 0)
				ec_warn("removed stale '%s' (older than watcher.tmpMaxAgeHours)", path);
		}
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

/* Tasks in active/ whose lock nobody holds were left by a dead launcher: resume. */
static void
recover_active(watch *w)
{
	char dir[PATH_MAX], lockp[PATH_MAX * 2];
	struct dirent **names;
	int n;

	snprintf(dir, sizeof dir, "%s/active", w->spool);
	if ((n = scandir(dir, &names, NULL, alphasort)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		int fd;
		if (names[i]->d_name[0] != '.') {
			snprintf(lockp, sizeof lockp, "%s/%s/.lock", dir, names[i]->d_name);
			if ((fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) >= 0) {
				if (!running_task(w, names[i]->d_name) && flock(fd, LOCK_EX | LOCK_NB) == 0) {
					event(w, names[i]->d_name, "resumed", NULL, "left in active/ by a launcher "
					    "that is gone");
					add_ready(w, names[i]->d_name);
				}
				close(fd);
			}
		}
		free(names[i]);
	}
	free(names);
}

/* Deferred tasks and when they are due, from their deferred.json. */
static void
load_deferred(watch *w)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	struct dirent **names;
	int n;

	snprintf(dir, sizeof dir, "%s/deferred", w->spool);
	if ((n = scandir(dir, &names, NULL, alphasort)) < 0)
		return;
	for (int i = 0; i < n; i++) {
		json_t *d;
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/%s/deferred.json", dir, names[i]->d_name);
			d = ec_json_load_file(path, 1 << 16, NULL);
			add_due(w, names[i]->d_name, ec_json_get_int(d, "nextAttemptAt", 0) * 1000,
			    ec_json_get_int(d, "attempts", 0) == 0);
			json_decref(d);
		}
		free(names[i]);
	}
	free(names);
}

/* ---- claiming ------------------------------------------------------------------ */

/* The task id of a request file: its name when that already ends in the content's
 * hash (epic submit names files so), else name + hash, as epic run computes it. */
static void
request_id(const char *base, const char *buf, size_t len, char *id, size_t cap)
{
	char hex[17], clean[EC_MAX_NAME + 16];
	size_t n;

	ec_xxh3_hex(buf, len, hex);
	if (ec_sanitize_name(base, clean, sizeof clean) == 0 && (n = strlen(clean)) > 9 &&
	    clean[n - 9] == '-' && strncmp(clean + n - 8, hex, 8) == 0 && strcmp(clean, base) == 0) {
		snprintf(id, cap, "%s", clean);
		return;
	}
	if (ec_task_id(base, buf, len, id, cap) < 0)
		snprintf(id, cap, "request-%.8s", hex);
}

static const char *
request_ext(const char *name, const char *buf, size_t len)
{
	const char *e = ec_extension(name);
	size_t i = 0;

	if (!strcmp(e, "json") || !strcmp(e, "md") || !strcmp(e, "txt"))
		return e;
	if (!strcmp(e, "markdown"))
		return "md";
	while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r'))
		i++;
	return i < len && buf[i] == '{' ? "json" : "txt";
}

/* Read at most cap bytes of a request (a larger one is judged by the pipeline). */
static char *
read_prefix(const char *path, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	ssize_t r;

	*len = 0;
	if (fd < 0 || !(buf = malloc(cap + 1))) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (*len < cap && (r = read(fd, buf + *len, cap - *len)) > 0)
		*len += (size_t)r;
	close(fd);
	buf[*len] = '\0';
	return buf;
}

/* Is the request at path the same bytes as the task's stored request? */
static int
same_request(const char *taskdir, const char *ext, const char *buf, size_t len)
{
	char path[PATH_MAX * 2];
	size_t n;
	char *cur;
	int same;

	snprintf(path, sizeof path, "%s/request.%s", taskdir, ext);
	if (!(cur = read_prefix(path, len + 1, &n)))
		return 0;
	same = n == len && memcmp(cur, buf, len) == 0;
	free(cur);
	return same;
}

/* The requester, for rate limiting and the audit log: metadata.requestedBy. */
static void
requester(const char *buf, size_t len, char *who, size_t cap)
{
	json_t *j = json_loadb(buf, len, 0, NULL);
	snprintf(who, cap, "%s", ec_json_get_str(j, "metadata.requestedBy", ""));
	json_decref(j);
}

/* Take one token from who's bucket; 0 ok, else ms until one is there. */
static long long
take_token(watch *w, const char *who)
{
	double per_min = (double)ec_json_get_int(w->cfg, "security.rateLimit.perMinute", 60);
	double burst = (double)cfg_int(w, "security.rateLimit.burst", 20);
	long long now = ec_now_ms();
	bucket *b = NULL;

	if (json_is_real(ec_json_get(w->cfg, "security.rateLimit.perMinute")))
		per_min = json_real_value(ec_json_get(w->cfg, "security.rateLimit.perMinute"));
	if (!*who || per_min <= 0)
		return 0;       /* anonymous requests are not limited per requester */
	for (size_t i = 0; i < w->nbuckets; i++)
		if (!strcmp(w->buckets[i].who, who))
			b = &w->buckets[i];
	if (!b) {
		bucket *nb = realloc(w->buckets, (w->nbuckets + 1) * sizeof *nb);
		if (!nb)
			return 0;
		w->buckets = nb;
		b = &w->buckets[w->nbuckets++];
		snprintf(b->who, sizeof b->who, "%s", who);
		b->tokens = burst;
		b->last = now;
	}
	b->tokens += (double)(now - b->last) * per_min / 60000.0;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last = now;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return 0;
	}
	return (long long)((1 - b->tokens) * 60000.0 / per_min) + 1;
}

/* Move an active task to deferred/ with why and when. */
static void
defer(watch *w, const char *id, const char *who, int attempts, long long delay_ms, const char *why)
{
	char from[PATH_MAX], to[PATH_MAX], path[PATH_MAX + 32];
	long long at = ec_now_ms() + delay_ms;
	json_t *d;

	snprintf(from, sizeof from, "%s/active/%s", w->spool, id);
	snprintf(to, sizeof to, "%s/deferred/%s", w->spool, id);
	snprintf(path, sizeof path, "%s/deferred.json", from);
	d = json_pack("{s:i, s:I, s:s}", "attempts", attempts, "nextAttemptAt",
	    (json_int_t)((at + 999) / 1000), "reason", why);
	ec_json_write(path, d, EC_W_FSYNC, NULL);
	json_decref(d);
	if (rename(from, to) < 0) {
		ec_warn("%s: cannot move to deferred/: %s", id, strerror(errno));
		return;
	}
	add_due(w, id, at, attempts == 0);
	event(w, id, "deferred", who, "(retry in %lld s): %s", (delay_ms + 999) / 1000, why);
}

/* Start the task's pipeline in a free slot. */
static void
start(watch *w, const char *id, const char *who, int retries)
{
	running *r = &w->run[w->nrun];
	char ckpt[PATH_MAX + 32];
	struct stat st;
	ec_err e;

	if (ec_task_start(id, &w->o, &r->t, &e) < 0) {
		if (e.code == EC_EXIT_TEMP && strstr(e.msg, "locked"))
			return;     /* another launcher has it */
		ec_warn("%s", e.msg);
		return;
	}
	r->started = ec_now_ms();
	r->retries = retries;
	snprintf(r->who, sizeof r->who, "%s", who ? who : "");
	snprintf(ckpt, sizeof ckpt, "%s/checkpoints.jsonl", r->t.dir);
	r->ckpt_size = stat(ckpt, &st) == 0 ? st.st_size : 0;
	w->nrun++;
}

/*
 * Take the request incoming/name: claim it by rename, make or find its task, and
 * start it (or defer it for the rate limit). Returns 1 when the candidate is
 * finished with, 0 to look at it again later (*retry_at).
 */
static int
claim(watch *w, const char *name, int renamed, long long *retry_at)
{
	char src[PATH_MAX], claimdir[PATH_MAX], file[PATH_MAX + 64], dst[PATH_MAX], where[PATH_MAX];
	char id[EC_MAX_NAME + 32], who[129] = "", *base, *buf;
	const char *ext, *state;
	long long now = ec_now_ms(), age, wait;
	struct stat st;
	size_t len;

	snprintf(src, sizeof src, "%s/incoming/%s", w->spool, name);
	if (lstat(src, &st) < 0 || !S_ISREG(st.st_mode))
		return 1;       /* gone (another watcher took it) or not a file */
	age = now - ((long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
	if (!renamed && age < cfg_int(w, "watcher.settleMs", 300)) {
		*retry_at = now + cfg_int(w, "watcher.settleMs", 300) - age;
		return 0;       /* a writer may still be at it */
	}
	if (!(buf = read_prefix(src, EC_MAX_REQUEST_BYTES, &len)))
		return 1;
	ext = request_ext(name, buf, len);
	if (!strcmp(ext, "json")) {
		json_t *j = json_loadb(buf, len, 0, NULL);
		if (!j && age < cfg_int(w, "watcher.parseGraceMs", 2000)) {
			free(buf);
			*retry_at = now + 200;
			return 0;   /* not complete yet? judged after the grace period */
		}
		json_decref(j);
		requester(buf, len, who, sizeof who);
	}
	base = ec_basename_noext(name);
	request_id(base ? base : "request", buf, len, id, sizeof id);
	free(base);
	snprintf(claimdir, sizeof claimdir, "%s/tmp/.claim.%s.%ld", w->spool, id, (long)getpid());
	snprintf(file, sizeof file, "%s/request.%s", claimdir, ext);
	if (mkdir(claimdir, 0700) < 0 && errno != EEXIST) {
		ec_warn("cannot create '%s': %s", claimdir, strerror(errno));
		free(buf);
		*retry_at = now + 1000;
		return 0;
	}
	if (rename(src, file) < 0) {
		int lost = errno == ENOENT;
		rmdir(claimdir);
		free(buf);
		if (!lost) {
			ec_warn("cannot claim '%s': %s", src, strerror(errno));
			*retry_at = now + 1000;
			return 0;
		}
		return 1;       /* another watcher won */
	}
	/* The request is ours. The same bytes again are the same task. */
	if ((state = ec_task_find(w->spool, id, where, sizeof where))) {
		if (same_request(where, ext, buf, len)) {
			unlink(file);
			rmdir(claimdir);
			event(w, id, "duplicate", who, "of the task in %s/; rerun incrementally", state);
			if (strcmp(state, "deferred") != 0)
				add_ready(w, id);
			free(buf);
			return 1;
		}
	}
	snprintf(dst, sizeof dst, "%s/active/%s", w->spool, id);
	if (rename(claimdir, dst) < 0) {
		ec_warn("cannot move '%s' to active/: %s; left in tmp/", claimdir, strerror(errno));
		free(buf);
		return 1;
	}
	event(w, id, "claimed", who, "incoming/%s", name);
	free(buf);
	if ((wait = take_token(w, who)) > 0) {
		char why[200];
		snprintf(why, sizeof why, "rate limit for requestedBy '%s' (security.rateLimit)", who);
		defer(w, id, who, 0, wait, why);
		return 1;
	}
	start(w, id, who, 0);
	return 1;
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
		start(w, id, NULL, 0);
		free(id);
	}
	for (size_t i = 0; i < w->ndue && w->nrun < w->jobs_max; ) {
		if (w->dues[i].at <= now) {
			char id[192], path[PATH_MAX + 256], who[129] = "";
			json_t *d;
			int attempts;
			long long wait;
			snprintf(id, sizeof id, "%s", w->dues[i].id);
			w->dues[i] = w->dues[--w->ndue];
			snprintf(path, sizeof path, "%s/deferred/%s/deferred.json", w->spool, id);
			d = ec_json_load_file(path, 1 << 16, NULL);
			attempts = (int)ec_json_get_int(d, "attempts", 0);
			json_decref(d);
			snprintf(path, sizeof path, "%s/deferred/%s/epic-request.json", w->spool, id);
			if ((d = ec_json_load_file(path, EC_MAX_JSON_BYTES, NULL)))
				snprintf(who, sizeof who, "%s", ec_json_get_str(d, "metadata.requestedBy", ""));
			json_decref(d);
			if (attempts == 0 && !*who) {
				/* rate-limited before it was parsed: read the request itself */
				for (const char *const *e = (const char *const[]){ "json", NULL }; *e; e++) {
					size_t len;
					char *buf;
					snprintf(path, sizeof path, "%s/deferred/%s/request.%s", w->spool, id, *e);
					if ((buf = read_prefix(path, EC_MAX_REQUEST_BYTES, &len))) {
						requester(buf, len, who, sizeof who);
						free(buf);
					}
				}
			}
			if (attempts == 0 && (wait = take_token(w, who)) > 0) {
				add_due(w, id, now + wait, 1);
				continue;
			}
			start(w, id, who, attempts);
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
	char path[PATH_MAX + 32], mpath[PATH_MAX], when[40], *buf, *line;
	long long dur = ec_now_ms() - r->started;
	size_t len;
	json_t *j;

	ec_iso_time(when, sizeof when);
	snprintf(mpath, sizeof mpath, "%s/log/metrics.jsonl", w->spool);
	snprintf(path, sizeof path, "%s/checkpoints.jsonl", r->t.dir);
	if ((buf = ec_read_file(path, 64u << 20, &len, NULL))) {
		/* The events of this run: from where the file ended when it started. */
		char *s = buf + ((size_t)r->ckpt_size <= len ? (size_t)r->ckpt_size : len), *nl;
		for (; (nl = strchr(s, '\n')); s = nl + 1) {
			json_t *ev;
			const char *what;
			*nl = '\0';
			if (!(ev = json_loads(s, 0, NULL)))
				continue;
			what = ec_json_get_str(ev, "event", "");
			if (!strcmp(what, "after") || !strcmp(what, "cache-hit") || !strcmp(what, "failed") ||
			    !strcmp(what, "skipped")) {
				j = json_pack("{s:s, s:s, s:s, s:s, s:b}", "time", when, "task", r->t.id,
				    "persona", ec_json_get_str(ev, "persona", "?"), "event", what,
				    "cacheHit", !strcmp(what, "cache-hit"));
				if (json_object_get(ev, "durationMs"))
					json_object_set(j, "durationMs", json_object_get(ev, "durationMs"));
				if ((line = ec_json_dumps_line(j)))
					ec_append_line(mpath, line, strlen(line), NULL);
				free(line);
				json_decref(j);
			}
			json_decref(ev);
		}
		free(buf);
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "time", when, "task", r->t.id, "event", "task",
	    "status", status, "durationMs", (json_int_t)dur);
	if ((line = ec_json_dumps_line(j)))
		ec_append_line(mpath, line, strlen(line), NULL);
	free(line);
	json_decref(j);
}

/* A task's make has ended: classify, move, log, and defer or fail it. */
static void
finish(watch *w, int i)
{
	running *r = &w->run[i];
	double secs = (double)(ec_now_ms() - r->started) / 1000.0;
	size_t idlen = strlen(r->t.id);
	ec_err e;
	int rc = ec_task_finish(&r->t, &w->o, &e);

	/* The event names the task already. */
	if (rc != 0 && strncmp(e.msg, r->t.id, idlen) == 0 && e.msg[idlen] == ':')
		memmove(e.msg, e.msg + idlen + 2, strlen(e.msg + idlen + 2) + 1);

	if (rc == 0) {
		metrics(w, r, "done");
		event(w, r->t.id, "done", r->who, "in %.3f s", secs);
	} else if (rc == EC_EXIT_REJECT) {
		metrics(w, r, "failed");
		w->n_rejected++;
		event(w, r->t.id, "failed", r->who, "in %.3f s: %s", secs, e.msg);
	} else if (got_term) {
		metrics(w, r, "stopped");
		event(w, r->t.id, "stopped", r->who, "resumable: %s", e.msg);
	} else {
		int attempts = r->retries + 1;
		metrics(w, r, "deferred");
		if (attempts > cfg_int(w, "watcher.taskRetries", 5)) {
			char from[PATH_MAX], to[PATH_MAX];
			snprintf(from, sizeof from, "%s/active/%s", w->spool, r->t.id);
			snprintf(to, sizeof to, "%s/failed/%s", w->spool, r->t.id);
			rename(from, to);
			w->n_temp++;
			event(w, r->t.id, "failed", r->who, "after %d attempts: %s", attempts, e.msg);
		} else {
			long long delay = cfg_int(w, "watcher.taskRetryDelay", 60) * 1000LL << (attempts - 1);
			w->n_temp++;
			defer(w, r->t.id, r->who, attempts, delay, e.msg);
		}
	}
	w->run[i] = w->run[--w->nrun];
}

static void
load_config(watch *w)
{
	ec_err e;
	json_t *c = ec_config_load(w->config_arg, &e);

	if (!c) {
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
	if (ec_json_write(w->snapshot, c, EC_W_FSYNC | EC_W_IFCHANGED, &e) < 0) {
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
			} else if (ev->len > 0)
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
	free(w->buckets);
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
	watch w = { .ino = -1 };
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
	clean_tmp(&w);
	recover_active(&w);
	load_deferred(&w);
	rescan(&w);
	fprintf(stderr, "epic-watch: watching %s (%d at a time%s)\n", dir, w.jobs_max,
	    w.once ? ", once" : "");

	for (;;) {
		struct pollfd pf[2 + 64];
		int np = 0, timeout = 1000;
		long long now;

		if (got_hup) {
			got_hup = 0;
			load_config(&w);
			ec_warn("configuration reloaded");
		}
		if (got_term && !stop_at) {
			stop_at = ec_now_ms() + cfg_int(&w, "watcher.stopGraceSeconds", 30) * 1000;
			ec_warn("stopping: no more claims; %d running task%s get %lld s", w.nrun,
			    w.nrun == 1 ? "" : "s", cfg_int(&w, "watcher.stopGraceSeconds", 30));
		}
		if (!got_term)
			fill(&w);
		now = ec_now_ms();
		if (got_term && now >= stop_at)
			for (int i = 0; i < w.nrun; i++)
				ec_task_stop(&w.run[i].t);
		for (int i = 0; i < w.nrun; i++)
			if (ec_task_poll(&w.run[i].t, &w.o)) {
				finish(&w, i);
				i = -1;         /* the array changed: start over */
			}
		if (got_term && w.nrun == 0)
			break;
		if (w.once && !got_term && w.nrun == 0 && w.nready == 0) {
			/* Waits for the rate limit are short and part of this run; retries
			 * after failures are left for the next one. */
			int due_now = 0;
			for (size_t i = 0; i < w.ndue; i++)
				due_now |= w.dues[i].at <= now || w.dues[i].rate;
			if (w.qlen == 0 && !due_now) {
				rescan(&w);     /* anything that arrived unannounced? */
				if (w.qlen == 0)
					break;
			}
		}
		if (!got_term && now >= w.next_rescan) {
			rescan(&w);
			recover_active(&w);     /* tasks whose launcher died since */
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
		if (w.nready > 0 && w.nrun < w.jobs_max)
			timeout = 0;
		if (got_term)
			timeout = 100;
		if (poll(pf, (nfds_t)np, timeout) > 0) {
			if (pf[0].revents & POLLIN)
				read_events(&w);
			if (pf[1].revents & POLLIN) {
				char drain[64];
				while (read(w.wakefd[0], drain, sizeof drain) > 0)
					;
			}
		}
	}
	{
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		fprintf(stderr, "epic-watch: stopped (peak RSS %ld KiB)\n", ru.ru_maxrss);
	}
	c = w.once && w.n_rejected ? EC_EXIT_REJECT : w.once && w.n_temp ? EC_EXIT_TEMP : EC_EXIT_OK;
	watch_free(&w);
	return c;
}
