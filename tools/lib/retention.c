/*
 * retention.c - what leaves the spool for good, by policy (purge: the config's
 * retention: limits) or by a person's right to erasure (forget); epic-purge(1),
 * epic-forget(1).
 *
 * Nothing else in the spool is ever deleted, so these two are careful in the same
 * ways as queue.c's delete, whose code they share (trash.c): every entry is judged
 * on what it is (fstatat without following a link, our own, a valid task id), a
 * task is removed only under its lock, taken without waiting (a running task is
 * left alone), and a directory is renamed out of its queue into tmp/ before it is
 * removed, so a crash never leaves half a task in done/. A cache entry is one file,
 * which one unlinkat removes whole; it is not renamed first.
 *
 * Ages: a task finished when its result was written: the mtime of epic.json (done/)
 * or error.json (failed/), else of the task directory. A cache entry's age is the
 * time since it was written (mtime; atime is unreliable and readers do not touch
 * entries): an entry removed while still in use is only a miss, written again.
 * A metrics line's age is its "time". Ages are measured from ec_now_ms(), so
 * EPIC_NOW ages everything at once in tests.
 *
 * log/metrics.jsonl is rewritten atomically (ec_write_atomic) with the lines that
 * stay. The watcher appends to it without a lock, so the file is read again just
 * before the rewrite and the rewrite starts over if it grew: a line appended in the
 * microseconds between that check and the rename can still be lost, which is
 * acceptable for figures (and never for the audit log, which is not touched here).
 *
 * The audit log is hash-chained and never rewritten: its lines must not hold
 * personal data in the first place (the submitted and claimed events no longer
 * carry requestedBy). Its rotation is ec_audit_rotate's, in audit.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "retention.h"
#include "audit.h"
#include "trash.h"
#include "roles.h"

#define DAY_MS (86400LL * 1000)
#define METRICS_REL "log/metrics.jsonl"
/* persona-llm's ledger of calls and their cost (llmbudget.c): "time" and "task". */
#define SPEND_REL "log/llm-spend.jsonl"
#define METRICS_MAX (512u << 20)

/* ---- small helpers ----------------------------------------------------------- */

static void
count(json_t *counts, const char *kind, json_int_t n)
{
	json_int_t had = json_integer_value(json_object_get(counts, kind));

	json_object_set_new(counts, kind, json_integer(had + n));
}

static void
report(const ec_retention_opts *o, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
report(const ec_retention_opts *o, const char *kind, const char *fmt, ...)
{
	char what[PATH_MAX];
	va_list ap;

	if (!o->report)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	o->report(kind, what, o->arg);
}

static void
warn(const ec_retention_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warn(const ec_retention_opts *o, const char *fmt, ...)
{
	char msg[PATH_MAX + 200];
	va_list ap;

	if (!o->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	o->warn(msg, o->arg);
}

/*
 * The spool directory rel and its names (ec_dir_names: sorted, no dot-names, which
 * are temps, claims and trash, to which no retention applies), read in whole before
 * anything is renamed away. The descriptor, with *names (ec_names_free); -2 when rel
 * does not exist (a queue that does not exist is empty); -1 with e (EC_EXIT_TEMP).
 */
static int
listed(const char *spool, const char *rel, char ***names, ec_err *e)
{
	int fd = ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, e);

	*names = NULL;
	if (fd < 0) {
		if (errno == ENOENT)
			return -2;
		if (e)
			e->code = EC_EXIT_TEMP;
		return -1;
	}
	if (!(*names = ec_dir_names(fd))) {
		ec_fail(e, EC_EXIT_TEMP, "cannot read '%s/%s': %s", spool, rel, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Is dfd/name a task directory of ours: a real directory, the effective user's,
 * named by a task id? Else it is warned about (as rel) and left alone. */
static int
is_task_dir(const ec_retention_opts *o, int dfd, const char *state, const char *name,
    struct stat *st)
{
	char shown[NAME_MAX * 4 + 1];

	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (S_ISDIR(st->st_mode) && st->st_uid == geteuid() && ec_id_valid(name))
		return 1;
	ec_escape_controls(name, shown, sizeof shown);
	warn(o, "'%s/%s' is not a task directory of ours: left alone", state, shown);
	return 0;
}

/*
 * Remove task dfd/name (in state) under its lock, taken without waiting. 1 removed,
 * 0 gone meanwhile or unlockable (warned), 2 running (warned), -1 with e.
 */
static int
trash_task(const ec_retention_opts *o, int dfd, const char *state, const char *name, ec_err *e)
{
	int tfd, lock, r;

	if ((tfd = ec_open_beneath(dfd, name, O_RDONLY, EC_OPEN_DIR, NULL, NULL)) < 0)
		return 0;
	lock = ec_open_beneath(tfd, ".lock", O_RDWR | O_CREAT, 0, NULL, NULL);
	close(tfd);
	if (lock < 0) {
		warn(o, "cannot lock '%s/%s': %s: left alone", state, name, strerror(errno));
		return 0;
	}
	if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
		close(lock);
		warn(o, "'%s/%s' is running (its lock is held): left alone", state, name);
		return 2;
	}
	r = ec_trash_entry(o->spool, dfd, state, name, name, e);
	close(lock);
	if (r < 0)
		return errno == ENOENT ? 0 : -1;
	/* A finished task's copy for the view group (security.roles) goes with it. */
	if (!strcmp(state, "done") && ec_view_remove(o->spool, name, NULL) == 1)
		report(o, "view", "view/%s", name);
	return 1;
}

/* ---- log/metrics.jsonl, log/llm-spend.jsonl ------------------------------------ */

/* Which lines stay: keep(j) on each line that is a JSON object; a line that is not
 * one, and a last line without its newline (being written), stay. */
typedef int (*keep_fn)(const json_t *line, void *arg);

/*
 * Rewrite the log rel (log/metrics.jsonl, log/llm-spend.jsonl) without the lines
 * keep refuses (none with dry_run); *dropped gets their number. A missing file has
 * no line. 0 or -1 with e.
 */
static int
rewrite_log(const ec_retention_opts *o, const char *rel, keep_fn keep, void *arg, long *dropped,
    ec_err *e)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", o->spool, rel);
	for (int attempt = 0; attempt < 5; attempt++) {
		struct stat st, now;
		size_t len, at = 0;
		ec_buf out = { 0 };
		char *buf, *kept;
		int fd, r;

		*dropped = 0;
		if ((fd = ec_spool_open(o->spool, rel, O_RDONLY, 0, &st, e)) < 0) {
			if (errno == ENOENT)
				return 0;
			e->code = EC_EXIT_TEMP;
			return -1;
		}
		buf = ec_read_fd(fd, rel, METRICS_MAX, &len, e);
		close(fd);
		if (!buf)
			return -1;
		while (at < len) {
			char *nl = memchr(buf + at, '\n', len - at);
			size_t n = nl ? (size_t)(nl - (buf + at)) + 1 : len - at;
			json_t *j = nl ? ec_json_loadb(buf + at, n - 1, rel, NULL) : NULL;
			if (json_is_object(j) && !keep(j, arg))
				(*dropped)++;
			else
				ec_buf_put(&out, buf + at, n);
			json_decref(j);
			at += n;
		}
		free(buf);
		if (!(kept = ec_buf_take(&out)))
			return ec_fail(e, EC_EXIT_TEMP, "out of memory");
		if (*dropped == 0 || o->dry_run) {
			free(kept);
			return 0;
		}
		/* The watcher may have appended meanwhile: then read it again. */
		if (stat(path, &now) < 0 || now.st_size != st.st_size || now.st_ino != st.st_ino) {
			free(kept);
			continue;
		}
		r = ec_write_atomic(path, kept, strlen(kept), EC_W_FSYNC | EC_W_MODE_PRIVATE, e);
		free(kept);
		return r < 0 ? -1 : 0;
	}
	return ec_fail(e, EC_EXIT_TEMP, "cannot rewrite '%s': it keeps growing: try again", path);
}

/* ---- purge --------------------------------------------------------------------- */

/* The time task dfd/name finished, in ms: the mtime of its result file, else of
 * the directory (dst). */
static long long
finished_ms(int dfd, const char *name, const char *result, const struct stat *dst)
{
	int tfd = ec_open_beneath(dfd, name, O_RDONLY, EC_OPEN_DIR, NULL, NULL);
	const struct stat *use = dst;
	struct stat st;

	if (tfd >= 0 && fstatat(tfd, result, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		use = &st;
	if (tfd >= 0)
		close(tfd);
	return (long long)use->st_mtim.tv_sec * 1000 + use->st_mtim.tv_nsec / 1000000;
}

/* Remove the tasks of state that finished before cutoff. 0 or -1 with e. */
static int
purge_tasks(const ec_retention_opts *o, const char *state, const char *result, long long cutoff,
    json_t *counts, ec_err *e)
{
	int dfd, r = 0;
	char **names;

	if ((dfd = listed(o->spool, state, &names, e)) < 0)
		return dfd == -2 ? 0 : -1;
	for (size_t i = 0; names[i] && r == 0; i++) {
		struct stat st;
		int t;
		if (!is_task_dir(o, dfd, state, names[i], &st) ||
		    finished_ms(dfd, names[i], result, &st) >= cutoff)
			continue;
		t = o->dry_run ? 1 : trash_task(o, dfd, state, names[i], e);
		if (t < 0)
			r = -1;
		else if (t == 1) {
			count(counts, state, 1);
			report(o, state, "%s/%s", state, names[i]);
		} else if (t == 2)
			count(counts, "skippedRunning", 1);
	}
	ec_names_free(names);
	close(dfd);
	return r;
}

/* Remove the regular files of ours in spool directory rel written before cutoff,
 * counted as kind. 0 or -1 with e. */
static int
purge_files(const ec_retention_opts *o, const char *rel, const char *kind, long long cutoff,
    json_t *counts, ec_err *e)
{
	int dfd, r = 0;
	char **names;

	if ((dfd = listed(o->spool, rel, &names, e)) < 0)
		return dfd == -2 ? 0 : -1;
	for (size_t i = 0; names[i]; i++) {
		struct stat st;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_uid != geteuid() ||
		    (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 >= cutoff)
			continue;
		if (!o->dry_run && unlinkat(dfd, names[i], 0) < 0) {
			if (errno == ENOENT)
				continue;
			r = ec_fail(e, EC_EXIT_TEMP, "cannot remove '%s/%s/%s': %s", o->spool, rel,
			    names[i], strerror(errno));
			break;
		}
		count(counts, kind, 1);
		report(o, kind, "%s/%s", rel, names[i]);
	}
	ec_names_free(names);
	close(dfd);
	return r;
}

/* The cache's shards (cache/XX/), cache/valid/ and cache/rulebases/. 0 or -1 with e. */
static int
purge_cache(const ec_retention_opts *o, long long cutoff, json_t *counts, ec_err *e)
{
	char rel[64];
	int dfd, r = 0;
	char **names;

	if ((dfd = listed(o->spool, "cache", &names, e)) < 0)
		return dfd == -2 ? 0 : -1;
	close(dfd);
	for (size_t i = 0; names[i] && r == 0; i++) {
		const char *n = names[i], *kind;
		if (strlen(n) == 2 && ec_is_hex(n[0]) && ec_is_hex(n[1]))
			kind = "cache";
		else if (!strcmp(n, "valid") || !strcmp(n, "rulebases"))
			kind = n;
		else
			continue;
		snprintf(rel, sizeof rel, "cache/%s", n);
		r = purge_files(o, rel, kind, cutoff, counts, e);
	}
	ec_names_free(names);
	return r;
}

static int
keep_recent(const json_t *j, void *arg)
{
	long long ms;

	return ec_time_parse_ms(ec_json_get_str(j, "time", ""), &ms) < 0 ||
	    ms >= *(const long long *)arg;
}

/* One audit line for event, with the counts (and ids); no personal data. */
static int
audit(const ec_retention_opts *o, const char *event, const char *by, json_t *counts,
    json_t *ids, ec_err *e)
{
	json_t *j = json_pack("{s:s, s:I, s:O}", "event", event, "uid", (json_int_t)geteuid(),
	    "removed", counts);
	int r;

	if (!j)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	if (by)
		json_object_set_new(j, "by", json_string(by));
	if (ids)
		json_object_set(j, "tasks", ids);
	r = ec_audit(o->spool, j, e);
	json_decref(j);
	return r;
}

int
ec_purge(const ec_retention_opts *o, json_t *counts, ec_err *e)
{
	long long done = ec_json_get_int(o->cfg, "retention.doneDays", 90);
	long long failed = ec_json_get_int(o->cfg, "retention.failedDays", 30);
	long long logd = ec_json_get_int(o->cfg, "retention.logDays", 365);
	long long cache = ec_json_get_int(o->cfg, "retention.cacheDays", 7);
	long long cutoff;
	static const char *const kinds[] = { "done", "failed", "cache", "valid", "rulebases",
		"metricsLines", "spendLines", "skippedRunning", NULL };
	long dropped = 0;
	char path[PATH_MAX];
	json_t *rec;
	int r;

	for (int i = 0; kinds[i]; i++)
		count(counts, kinds[i], 0);
	if (done > 0 && purge_tasks(o, "done", "epic.json", o->now_ms - done * DAY_MS, counts, e) < 0)
		return -1;
	if (failed > 0 &&
	    purge_tasks(o, "failed", "error.json", o->now_ms - failed * DAY_MS, counts, e) < 0)
		return -1;
	if (cache > 0 && purge_cache(o, o->now_ms - cache * DAY_MS, counts, e) < 0)
		return -1;
	if (logd > 0) {
		cutoff = o->now_ms - logd * DAY_MS;
		if (rewrite_log(o, METRICS_REL, keep_recent, &cutoff, &dropped, e) < 0)
			return -1;
		count(counts, "metricsLines", dropped);
		if (dropped)
			report(o, "metrics", "%s: %ld lines", METRICS_REL, dropped);
		if (rewrite_log(o, SPEND_REL, keep_recent, &cutoff, &dropped, e) < 0)
			return -1;
		count(counts, "spendLines", dropped);
		if (dropped)
			report(o, "spend", "%s: %ld lines", SPEND_REL, dropped);
		/* The audit log is a hash chain: its own library moves the old lines into
		 * a rotated file that keeps the chain verifiable (epic-audit(1)). */
		if (!o->dry_run) {
			long moved = ec_audit_rotate(o->spool, logd * DAY_MS, e);
			if (moved < 0)
				return -1;
			count(counts, "auditLinesRotated", moved);
			if (moved)
				report(o, "audit", "log/audit.jsonl: %ld lines rotated", moved);
		}
	}
	if (o->dry_run)
		return 0;
	if (audit(o, "purge", NULL, counts, NULL, e) < 0)
		return -1;
	/* When it last ran, for the watcher's daily purge. */
	snprintf(path, sizeof path, "%s/%s", o->spool, EC_PURGE_RECORD);
	rec = json_pack("{s:I, s:O}", "timeMs", (json_int_t)o->now_ms, "removed", counts);
	r = rec ? ec_json_write(path, rec, EC_W_MODE_PRIVATE, e) : ec_fail(e, EC_EXIT_TEMP, "out of memory");
	json_decref(rec);
	return r < 0 ? -1 : 0;
}

/* ---- forget -------------------------------------------------------------------- */

typedef struct forget {
	const ec_retention_opts *o;
	const char *requester, *task;
	json_t *counts, *ids;
	json_t *keys;           /* cache keys of the erased tasks (object used as a set) */
	int running;            /* a task was left because it runs */
} forget;

/* Is the request JSON j (may be NULL) the requester's? */
static int
is_requesters(const forget *f, const json_t *j)
{
	const char *rb = ec_json_get_str(j, "metadata.requestedBy", NULL);

	return f->requester && rb && !strcmp(rb, f->requester);
}

/* The spool JSON file rel, any content (a request as dropped may be anything).
 * New reference or NULL. */
static json_t *
read_json(const char *spool, const char *rel)
{
	size_t len;
	char *buf = ec_spool_read(spool, rel, EC_MAX_REQUEST_BYTES, &len, 0, NULL);
	json_t *j = buf ? ec_json_loadb(buf, len, rel, NULL) : NULL;

	free(buf);
	return j;
}

/*
 * Note the cache keys of task STATE/ID's persona outputs, as persona-run made them
 * from its normalized request: one per persona that left an output in personas/.
 */
static void
note_cache_keys(forget *f, const char *state, const char *id)
{
	char rel[EC_MAX_ID + 64], key[65];
	json_t *req;
	char **names;
	int dfd;

	snprintf(rel, sizeof rel, "%s/%s/epic-request.json", state, id);
	if (!(req = read_json(f->o->spool, rel)))
		return;
	snprintf(rel, sizeof rel, "%s/%s/personas", state, id);
	if ((dfd = ec_spool_open(f->o->spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, NULL)) >= 0) {
		if ((names = ec_dir_names(dfd))) {
			for (size_t i = 0; names[i]; i++) {
				const char *n = names[i], *dash = strchr(n, '-'), *dot;
				char persona[72];
				/* NN-NAME.json and its .input.json / .raw.json */
				if (!dash || !ec_is_digit(n[0]) || !(dot = strchr(dash, '.')) ||
				    (size_t)(dot - dash - 1) >= sizeof persona)
					continue;
				snprintf(persona, sizeof persona, "%.*s", (int)(dot - dash - 1), dash + 1);
				if (!ec_persona_name_valid(persona))
					continue;
				ec_cache_key(ec_json_get_str(req, "description", ""),
				    ec_json_get_str(req, "options.cacheKey", NULL), persona,
				    ec_json_get_str(req, "mode", "standard"), key);
				json_object_set_new(f->keys, key, json_true());
			}
			ec_names_free(names);
		}
		close(dfd);
	}
	json_decref(req);
}

/* The id went: counted, reported, recorded once in ids. */
static void
erased(forget *f, const char *kind, const char *state, const char *name, const char *id)
{
	size_t i;
	json_t *v;

	count(f->counts, kind, 1);
	report(f->o, kind, "%s/%s", state, name);
	json_array_foreach(f->ids, i, v)
		if (!strcmp(json_string_value(v), id))
			return;
	json_array_append_new(f->ids, json_string(id));
}

/* The task directories of state that match. 0 or -1 with e. */
static int
forget_tasks(forget *f, const char *state, ec_err *e)
{
	char rel[EC_MAX_ID + 64];
	int dfd, r = 0;
	char **names;

	if ((dfd = listed(f->o->spool, state, &names, e)) < 0)
		return dfd == -2 ? 0 : -1;
	for (size_t i = 0; names[i] && r == 0; i++) {
		const char *id = names[i];
		struct stat st;
		int match, t;
		if (fstatat(dfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;       /* a request file in hold/: forget_requests' */
		if (!is_task_dir(f->o, dfd, state, id, &st))
			continue;
		match = f->task && !strcmp(f->task, id);
		if (!match && f->requester) {
			json_t *j;
			snprintf(rel, sizeof rel, "%s/%s/request.json", state, id);
			j = read_json(f->o->spool, rel);
			match = is_requesters(f, j);
			json_decref(j);
			snprintf(rel, sizeof rel, "%s/%s/epic-request.json", state, id);
			j = match ? NULL : read_json(f->o->spool, rel);
			match = match || is_requesters(f, j);
			json_decref(j);
		}
		if (!match)
			continue;
		note_cache_keys(f, state, id);
		t = f->o->dry_run ? 1 : trash_task(f->o, dfd, state, id, e);
		if (t < 0)
			r = -1;
		else if (t == 1)
			erased(f, state, state, id, id);
		else if (t == 2)
			f->running = 1;
	}
	ec_names_free(names);
	close(dfd);
	return r;
}

/* The request files (NAME.json, .md, .txt) of incoming/ or hold/ that match.
 * 0 or -1 with e. */
static int
forget_requests(forget *f, const char *state, ec_err *e)
{
	int dfd, r = 0;
	char **names;

	if ((dfd = listed(f->o->spool, state, &names, e)) < 0)
		return dfd == -2 ? 0 : -1;
	for (size_t i = 0; names[i] && r == 0; i++) {
		const char *name = names[i], *ext = ec_extension(name);
		char id[EC_MAX_ID + 1];
		size_t len;
		char *buf;
		json_t *j = NULL;
		int fd, match;
		if (strcmp(ext, "json") && strcmp(ext, "md") && strcmp(ext, "txt"))
			continue;
		/* A group member's file in incoming/: judged on its descriptor. */
		if ((fd = ec_open_beneath(dfd, name, O_RDONLY, EC_OPEN_ANY_OWNER, NULL, NULL)) < 0)
			continue;
		buf = ec_read_fd(fd, name, EC_MAX_REQUEST_BYTES, &len, NULL);
		close(fd);
		if (!buf)
			continue;
		ec_claim_request_id(name, buf, len, id, sizeof id);
		if (!strcmp(ext, "json"))
			j = ec_json_loadb(buf, len, name, NULL);
		free(buf);
		match = (f->task && !strcmp(f->task, id)) || is_requesters(f, j);
		json_decref(j);
		if (!match)
			continue;
		if (!f->o->dry_run && ec_trash_entry(f->o->spool, dfd, state, name, id, e) < 0) {
			if (errno != ENOENT)
				r = -1;
			continue;
		}
		erased(f, state, state, name, id);
	}
	ec_names_free(names);
	close(dfd);
	return r;
}

/* The noted cache entries. 0 or -1 with e. */
static int
forget_cache(forget *f, ec_err *e)
{
	const char *key;
	json_t *v;
	char rel[16], name[80];

	json_object_foreach(f->keys, key, v) {
		struct stat st;
		int dfd;
		snprintf(rel, sizeof rel, "cache/%.2s", key);
		snprintf(name, sizeof name, "%s.json", key);
		if ((dfd = ec_spool_open(f->o->spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, NULL)) < 0)
			continue;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
			if (!f->o->dry_run && unlinkat(dfd, name, 0) < 0 && errno != ENOENT) {
				int err = errno;
				close(dfd);
				return ec_fail(e, EC_EXIT_TEMP, "cannot remove '%s/%s/%s': %s",
				    f->o->spool, rel, name, strerror(err));
			}
			count(f->counts, "cache", 1);
			report(f->o, "cache", "%s/%s", rel, name);
		}
		close(dfd);
	}
	return 0;
}

static int
keep_others(const json_t *j, void *arg)
{
	const forget *f = arg;
	const char *task = ec_json_get_str(j, "task", NULL);
	size_t i;
	json_t *v;

	json_array_foreach(f->ids, i, v)
		if (task && !strcmp(task, json_string_value(v)))
			return 0;
	return 1;
}

int
ec_forget(const ec_retention_opts *o, const char *requester, const char *task,
    json_t *counts, json_t *ids, ec_err *e)
{
	static const char *const tasks[] = { "hold", "deferred", "active", "done", "failed", NULL };
	static const char *const kinds[] = { "incoming", "hold", "deferred", "active", "done",
		"failed", "cache", "metricsLines", "spendLines", NULL };
	forget f = { o, requester, task, counts, ids, json_object(), 0 };
	long dropped = 0;
	int r = -1;

	if (!f.keys)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	for (int i = 0; kinds[i]; i++)
		count(counts, kinds[i], 0);
	if (forget_requests(&f, "incoming", e) < 0 || forget_requests(&f, "hold", e) < 0)
		goto out;
	for (int i = 0; tasks[i]; i++)
		if (forget_tasks(&f, tasks[i], e) < 0)
			goto out;
	if (forget_cache(&f, e) < 0 || rewrite_log(o, METRICS_REL, keep_others, &f, &dropped, e) < 0)
		goto out;
	count(counts, "metricsLines", dropped);
	if (dropped)
		report(o, "metrics", "%s: %ld lines", METRICS_REL, dropped);
	if (rewrite_log(o, SPEND_REL, keep_others, &f, &dropped, e) < 0)
		goto out;
	count(counts, "spendLines", dropped);
	if (dropped)
		report(o, "spend", "%s: %ld lines", SPEND_REL, dropped);
	if (!o->dry_run && audit(o, "forget", requester ? "requester" : "task", counts, ids, e) < 0)
		goto out;
	r = f.running ? 1 : 0;
out:
	json_decref(f.keys);
	return r;
}

/*
 * Once every `every` ms (0: never), a running watcher applies the retention:
 * limits by running `epic-purge --quiet` (its own process: the watcher links
 * none of it) and waits for it, at most PURGE_TIMEOUT_S. When it last ran is
 * log/purge.last's, which every epic-purge writes (so an operator's purge counts
 * too); with no record, the first purge is due `every` after the watcher started,
 * so starting one never removes anything at once.
 */
#define PURGE_TIMEOUT_S 3600

int
ec_purge_when_due(const char *spool, const char *config, long long every, long long started,
    long long *next, char *msg, size_t cap)
{
	long long now = ec_now_ms(), last;
	char path[PATH_MAX];
	json_t *rec;

	if (every <= 0 || now < *next)
		return 0;
	rec = ec_spool_json(spool, "log/purge.last", 1 << 16, NULL);
	last = ec_json_get_int(rec, "timeMs", started);
	json_decref(rec);
	if (now < last + every) {
		*next = last + every;
		return 0;
	}
	snprintf(path, sizeof path, "%s/epic-purge", ec_bindir());
	{
		char *argv[] = { path, "--quiet", "--spool", (char *)spool,
			config ? "--config" : NULL, (char *)config, NULL };
		ec_proc p = { .argv = argv, .timeout = PURGE_TIMEOUT_S, .out_cap = 1 << 20,
			.err_fd = -1 };
		if (ec_proc_run(&p) < 0) {
			snprintf(msg, cap, "%s", p.msg);
			*next = now + (every < 3600000 ? every : 3600000);
			return -1;
		}
		free(p.out);
	}
	*next = now + every;
	return 1;
}
