/*
 * health.c - the spool's health (epic-health(1)): the seed's HealthCheck computed
 * from what the spool holds and what the watcher logged, and judged against the
 * config's alerts.
 *
 * The figures come from log/metrics.jsonl, where the watcher writes one line per
 * persona event of each task run it finished (after, cache-hit, failed, skipped),
 * all lines of one run with the same "time" and "task" (and interleaved with another
 * watcher's at most within a minute). One run of one persona is the group of its
 * lines there: failed if any line says failed (an optional
 * persona that failed also has an "after" for its empty output), a cache hit if
 * one says cache-hit, else a run whose "after" gives its duration; skipped alone is
 * no run. Cache hits and failures are left out of the response times, so neither
 * the hit rate nor a timeout moves them.
 *
 * The response-time baseline of a persona is the median of its durations over the
 * last 7 days, kept in log/health-baseline.json and recomputed once it is a day
 * old. Levels (documented in epic-health(1)): warning at a threshold, critical at
 * twice it (error rate, queue depth, response time), a persona unavailable for
 * personaUnavailableSeconds is critical when required, a low cache hit rate is
 * never more than a warning.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "health.h"
#include "queue.h"

#define DAY_MS          86400000LL
#define BASELINE_DAYS   7
#define BASELINE_FLOOR  100.0   /* ms: a baseline below counts as this (noise) */
#define MAX_PERSONAS    256
#define RUN_SPREAD_MS   60000           /* a run's lines are logged within this */
#define SEEK_MIN_BYTES  (1 << 20)       /* a smaller log is read whole */
#define SEEK_PROBE      8192            /* bytes read to find a line's time */
#define SEEK_SLACK_MS   (10 * 60 * 1000LL)

enum { ST_OK, ST_WARNING, ST_CRITICAL };
static const char *const st_name[] = { "ok", "warning", "critical" };

/* A baseline as the checks use it: never below BASELINE_FLOOR, so the millisecond
 * noise of the built-in personas never raises an alert. */
static double
floor_ms(double b)
{
	return b > BASELINE_FLOOR ? b : BASELINE_FLOOR;
}

/* One persona's figures: in the window, and its durations for the baseline. */
typedef struct pstat {
	char name[64];
	long runs, fails, hits, timed;
	double sum_ms;
	double *dur;            /* durations of the last BASELINE_DAYS (when collected) */
	size_t ndur, capdur;
} pstat;

/* One persona's lines of one task run (same time, same task) being read. */
typedef struct pitem {
	char key[128];          /* "TIME TASK" */
	long long at;           /* TIME in ms */
	int p;                  /* index into the stats */
	int failed, hit, after;
	double ms;
} pitem;

typedef struct scan {
	pstat v[MAX_PERSONAS];
	int n;
	pitem cur[MAX_PERSONAS];        /* runs whose lines may still come */
	int ncur;
	long long from_ms, base_from_ms;        /* window start; baseline start (0: none) */
} scan;

int
ec_health_duration(const char *s, long long *ms)
{
	char *end;
	double v, unit = 1000;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v <= 0)
		return -1;
	if (*end && end[1])
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': unit = 60e3; break;
	case 'h': unit = 3600e3; break;
	case 'd': unit = 86400e3; break;
	default: return -1;
	}
	v *= unit;
	if (v < 1000 || v > 366 * 86400e3)
		return -1;
	*ms = (long long)v;
	return 0;
}

/* The stats of persona name, added when new; -1 when the table is full. */
static int
stat_of(scan *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return i;
	if (s->n == MAX_PERSONAS)
		return -1;
	snprintf(s->v[s->n].name, sizeof s->v[s->n].name, "%s", name);
	return s->n++;
}

/* Count the runs in cur whose lines are all read: those logged before, when
 * (a run's lines are appended within moments of each other, also by watchers that
 * share the log and interleave), or all of them (when LLONG_MAX). */
static void
flush(scan *s, long long before)
{
	int kept = 0;

	for (int i = 0; i < s->ncur; i++) {
		pitem *it = &s->cur[i];
		pstat *p = &s->v[it->p];
		if (it->at >= before) {
			s->cur[kept++] = *it;
			continue;
		}
		if (!it->failed && !it->hit && !it->after)
			continue;               /* skipped: no run */
		if (it->at >= s->from_ms) {
			p->runs++;
			if (it->failed)
				p->fails++;
			else if (it->hit)
				p->hits++;
			else if (it->ms >= 0) {
				p->timed++;
				p->sum_ms += it->ms;
			}
		}
		if (s->base_from_ms && it->at >= s->base_from_ms && !it->failed && !it->hit &&
		    it->ms >= 0) {
			if (p->ndur == p->capdur) {
				size_t cap = p->capdur ? p->capdur * 2 : 64;
				double *d = realloc(p->dur, cap * sizeof *d);
				if (!d)
					continue;
				p->dur = d, p->capdur = cap;
			}
			p->dur[p->ndur++] = it->ms;
		}
	}
	s->ncur = kept;
}

/* One line of metrics.jsonl. A line that is not what the watcher writes is
 * passed over: the figures are a view, not a verdict on the log. */
static void
line(scan *s, const char *buf, size_t len)
{
	json_t *j = json_loadb(buf, len, 0, NULL), *d;
	const char *when, *task, *persona, *ev;
	char key[256];
	long long ms;
	int p, k;

	if (!j)
		return;
	when = json_string_value(json_object_get(j, "time"));
	task = json_string_value(json_object_get(j, "task"));
	persona = json_string_value(json_object_get(j, "persona"));
	ev = json_string_value(json_object_get(j, "event"));
	if (!when || !task || !persona || !ev || !ec_persona_name_valid(persona) ||
	    ec_time_parse_ms(when, &ms) < 0 || ms < (s->base_from_ms ? s->base_from_ms : s->from_ms))
		goto out;
	snprintf(key, sizeof key, "%s %s", when, task);
	if ((p = stat_of(s, persona)) < 0)
		goto out;
	for (k = 0; k < s->ncur && (s->cur[k].p != p || strcmp(s->cur[k].key, key)); k++)
		;
	if (k == s->ncur) {
		flush(s, ms - RUN_SPREAD_MS);
		if (s->ncur == MAX_PERSONAS)
			flush(s, LLONG_MAX);
		k = s->ncur++;
		s->cur[k] = (pitem){ .at = ms, .p = p, .ms = -1 };
		snprintf(s->cur[k].key, sizeof s->cur[k].key, "%s", key);
	}
	if (!strcmp(ev, "failed"))
		s->cur[k].failed = 1;
	else if (!strcmp(ev, "cache-hit"))
		s->cur[k].hit = 1;
	else if (!strcmp(ev, "after")) {
		s->cur[k].after = 1;
		d = json_object_get(j, "durationMs");
		if (json_is_number(d) && json_number_value(d) >= 0 && json_number_value(d) < 1e12)
			s->cur[k].ms = json_number_value(d);
	}
out:
	json_decref(j);
}

/* The time of the first whole line at or after offset at, or -1 (none, not one). */
static long long
time_after(int fd, off_t at)
{
	char buf[SEEK_PROBE + 1], *nl, *t;
	ssize_t n = pread(fd, buf, SEEK_PROBE, at);
	long long ms;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (!(nl = strchr(buf, '\n')) || !(t = strstr(nl, "\"time\":\"")))
		return -1;
	t += 8;
	if (!strchr(t, '"'))
		return -1;
	*strchr(t, '"') = '\0';
	return ec_time_parse_ms(t, &ms) == 0 ? ms : -1;
}

/*
 * Where to start reading a large log for lines from from_ms on: the log is
 * appended to in time order (a run's lines when it ends; SEEK_SLACK_MS allows for
 * watchers that append at once), so a binary search on byte offsets finds the
 * place without reading what came before. A probe that finds no time moves left:
 * at worst more is read, never less. Returns an offset at a line start or 0.
 */
static off_t
seek_start(int fd, off_t size, long long from_ms)
{
	off_t lo = 0, hi = size;
	char c;

	while (hi - lo > SEEK_PROBE) {
		off_t mid = lo + (hi - lo) / 2;
		long long t = time_after(fd, mid);
		if (t >= 0 && t < from_ms - SEEK_SLACK_MS)
			lo = mid;
		else
			hi = mid;
	}
	/* Back to the start of the line lo is in. */
	while (lo > 0 && pread(fd, &c, 1, lo - 1) == 1 && c != '\n')
		lo--;
	return lo;
}

/* Read log/metrics.jsonl into s (from where the window or the baseline needs it).
 * A missing log is no data. 0 or -1 with e. */
static int
read_metrics(const char *spool, scan *s, ec_err *e)
{
	ec_err e2;
	struct stat st;
	int fd = ec_spool_open(spool, "log/metrics.jsonl", O_RDONLY, EC_OPEN_ANY_OWNER, &st, &e2);
	FILE *f;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	off_t at = 0;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*e = e2;
		return -1;
	}
	if (st.st_size > SEEK_MIN_BYTES)
		at = seek_start(fd, st.st_size, s->base_from_ms ? s->base_from_ms : s->from_ms);
	if (lseek(fd, at, SEEK_SET) < 0 || !(f = fdopen(fd, "r"))) {
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot read '%s/log/metrics.jsonl': %s", spool,
		    strerror(errno));
	}
	while ((n = getline(&buf, &cap, f)) > 0)
		line(s, buf, (size_t)n);
	flush(s, LLONG_MAX);
	n = ferror(f);
	free(buf);
	fclose(f);
	if (n)
		return ec_fail(e, EC_EXIT_TEMP, "cannot read '%s/log/metrics.jsonl': I/O error", spool);
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* A spool log file of ours as JSON, or NULL (missing, unreadable, not JSON). */
static json_t *
log_json(const char *spool, const char *rel)
{
	size_t len;
	char *buf = ec_spool_read(spool, rel, 1 << 20, &len, EC_OPEN_ANY_OWNER, NULL);
	json_t *j = buf ? json_loadb(buf, len, 0, NULL) : NULL;

	free(buf);
	return json_is_object(j) ? j : (json_decref(j), NULL);
}

/* Write j to the spool file rel atomically, unsynced (recomputable), best effort. */
static void
log_write(const char *spool, const char *rel, const json_t *j)
{
	char path[PATH_MAX], *text = ec_json_dumps(j);

	snprintf(path, sizeof path, "%s/%s", spool, rel);
	if (text)
		ec_write_atomic(path, text, strlen(text), EC_W_IFCHANGED, NULL);
	free(text);
}

/* The baseline kept in log/health-baseline.json when it is less than a day old
 * (and not from the future), else NULL: then the caller collects durations. */
static json_t *
baseline_kept(const char *spool, long long now)
{
	json_t *b = log_json(spool, "log/health-baseline.json");
	long long at;

	if (b && json_is_object(json_object_get(b, "medianMs")) &&
	    ec_time_parse_ms(ec_json_get_str(b, "computedAt", ""), &at) == 0 &&
	    at <= now + DAY_MS && now - at < DAY_MS)
		return b;
	json_decref(b);
	return NULL;
}

/* The baseline from the durations collected in s, written for the next checks. */
static json_t *
baseline_make(const char *spool, scan *s, long long now)
{
	json_t *med = json_object(), *cnt = json_object(), *b;
	char when[32];

	for (int i = 0; i < s->n; i++) {
		pstat *p = &s->v[i];
		double m;
		if (!p->ndur)
			continue;
		qsort(p->dur, p->ndur, sizeof *p->dur, cmp_double);
		m = p->ndur % 2 ? p->dur[p->ndur / 2] :
		    (p->dur[p->ndur / 2 - 1] + p->dur[p->ndur / 2]) / 2;
		json_object_set_new(med, p->name, ec_json_number(m));
		json_object_set_new(cnt, p->name, json_integer((json_int_t)p->ndur));
	}
	ec_time_format(now, when);
	b = json_pack("{s:s, s:i, s:o, s:o}", "computedAt", when, "days", BASELINE_DAYS,
	    "medianMs", med, "samples", cnt);
	log_write(spool, "log/health-baseline.json", b);
	return b;
}

/* Record one alert: in checks and alerts, and raise *worst. */
static void
alert(json_t *h, int *worst, int level, const char *check, const char *persona,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void
alert(json_t *h, int *worst, int level, const char *check, const char *persona,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *c;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c = json_pack("{s:s, s:s, s:s}", "check", check, "status", st_name[level], "message", msg);
	if (persona)
		json_object_set_new(c, "persona", json_string(persona));
	json_array_append_new(json_object_get(h, "checks"), c);
	json_array_append_new(json_object_get(h, "alerts"), json_string(msg));
	if (level > *worst)
		*worst = level;
}

/* Availability of each registered persona, and since when one is not (kept in
 * log/health-state.json across checks). */
static void
check_personas(const char *spool, const json_t *cfg, json_t *h, long long now, int *worst)
{
	ec_registry reg;
	ec_err e;
	json_t *av = json_object_get(h, "personaAvailability");
	json_t *state = log_json(spool, "log/health-state.json"), *since, *nsince = json_object();
	long long limit = ec_json_get_int(cfg, "alerts.personaUnavailableSeconds", 300);

	since = state ? json_object_get(state, "unavailableSince") : NULL;
	if (ec_registry_load(&reg, &e) < 0 || ec_registry_configure(&reg, cfg, &e) < 0) {
		alert(h, worst, ST_CRITICAL, "registry", NULL, "the persona registry does not load: %s",
		    e.msg);
		json_decref(state);
		json_decref(nsince);
		return;
	}
	for (size_t i = 0; i < reg.n; i++) {
		const ec_persona *p = &reg.v[i];
		const char *was = json_string_value(json_object_get(since, p->name));
		long long at = now, secs;
		char iso[32];
		int ok = ec_persona_available(p);
		json_object_set_new(av, p->name, json_boolean(ok));
		if (ok)
			continue;
		if (was && ec_time_parse_ms(was, &at) == 0 && at <= now)
			json_object_set_new(nsince, p->name, json_string(was));
		else {
			at = now;
			ec_time_format(now, iso);
			json_object_set_new(nsince, p->name, json_string(iso));
		}
		secs = (now - at) / 1000;
		alert(h, worst, secs >= limit && p->required ? ST_CRITICAL : ST_WARNING, "availability",
		    p->name, "%s persona %s unavailable for %lld s (limit %lld s)",
		    p->required ? "required" : "optional", p->name, secs, limit);
	}
	ec_registry_free(&reg);
	if (!state || !json_equal(since, nsince)) {
		json_t *ns = json_pack("{s:O}", "unavailableSince", nsince);
		log_write(spool, "log/health-state.json", ns);
		json_decref(ns);
	}
	json_decref(nsince);
	json_decref(state);
}

/* The figures and alerts of the runs in the window. */
static void
check_runs(scan *s, const json_t *cfg, const json_t *base, json_t *h, int *worst)
{
	double thr = json_number_value(ec_json_get(cfg, "alerts.errorRate"));
	double factor = json_number_value(ec_json_get(cfg, "alerts.responseTimeFactor"));
	double hmin = json_number_value(ec_json_get(cfg, "alerts.cacheHitRateMin"));
	json_t *avg = json_object_get(h, "averageResponseTime"), *err = json_object_get(h, "errorRate");
	json_t *runs = json_object_get(h, "personaRuns"), *bl = json_object_get(h, "responseTimeBaseline");
	long total = 0, hits = 0;

	if (!ec_json_get(cfg, "alerts.errorRate"))
		thr = 0.1;
	if (!ec_json_get(cfg, "alerts.responseTimeFactor"))
		factor = 2;
	if (!ec_json_get(cfg, "alerts.cacheHitRateMin"))
		hmin = 0.5;
	for (int i = 0; i < s->n; i++) {
		pstat *p = &s->v[i];
		json_t *m = json_object_get(json_object_get(base, "medianMs"), p->name);
		if (!json_is_number(m) || !(json_number_value(m) >= 0 && json_number_value(m) < 1e12))
			m = NULL;       /* not what baseline_make writes: no baseline */
		if (json_is_number(m))
			json_object_set_new(bl, p->name, ec_json_number(ec_round2(json_number_value(m))));
		if (!p->runs)
			continue;
		total += p->runs, hits += p->hits;
		json_object_set_new(runs, p->name, json_integer(p->runs));
		double rate = (double)p->fails / (double)p->runs;
		json_object_set_new(err, p->name, ec_json_number(ec_round2(rate * 100) / 100));
		if (rate > thr)
			alert(h, worst, rate > 2 * thr ? ST_CRITICAL : ST_WARNING, "errorRate", p->name,
			    "error rate of %s %.0f%% (%ld of %ld runs; limit %.0f%%)", p->name,
			    rate * 100, p->fails, p->runs, thr * 100);
		if (p->timed) {
			double a = p->sum_ms / (double)p->timed;
			json_object_set_new(avg, p->name, ec_json_number(ec_round2(a)));
			if (json_is_number(m)) {
				double b = floor_ms(json_number_value(m));
				if (a > factor * b)
					alert(h, worst, a > 2 * factor * b ? ST_CRITICAL : ST_WARNING,
					    "responseTime", p->name, "average response time of %s %.0f ms "
					    "(%.1f times its baseline of %.0f ms; limit %g times)", p->name,
					    a, a / b, b, factor);
			}
		}
	}
	json_object_set_new(h, "cacheHitRate", ec_json_number(total ?
	    ec_round2((double)hits / (double)total * 100) / 100 : 0));
	if (total && (double)hits / (double)total < hmin)
		alert(h, worst, ST_WARNING, "cacheHitRate", NULL, "cache hit rate %.0f%% (minimum %.0f%%)",
		    (double)hits / (double)total * 100, hmin * 100);
}

/* Entries of the spool directory state: how many (tasks: directories with a task
 * id; running only, when running), and the oldest one's mtime into *oldest. */
static int
count_dir(const char *spool, const char *state, int tasks, int running, long long *oldest,
    ec_err *e)
{
	int fd = ec_spool_open(spool, state, O_RDONLY | O_DIRECTORY, EC_OPEN_DIR | EC_OPEN_ANY_OWNER,
	    NULL, e);
	DIR *d;
	struct dirent *de;
	int n = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot read '%s/%s': %s", spool, state, strerror(errno));
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (tasks ? !S_ISDIR(st.st_mode) || !ec_id_valid(de->d_name) : !S_ISREG(st.st_mode))
			continue;
		if (running && !ec_queue_running(spool, state, de->d_name))
			continue;
		n++;
		if (oldest) {
			long long ms = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
			if (!*oldest || ms < *oldest)
				*oldest = ms;
		}
	}
	closedir(d);
	return n;
}

/* Queue depth (incoming/ and deferred/), its oldest entry, active workflows, disk. */
static int
check_spool(const char *spool, const json_t *cfg, json_t *h, long long now, int *worst, ec_err *e)
{
	long long oldest = 0, qmax = ec_json_get_int(cfg, "alerts.queueDepthMax", 100);
	int in = count_dir(spool, "incoming", 0, 0, &oldest, e), def, act;
	struct statvfs vfs;

	if (in < 0 || (def = count_dir(spool, "deferred", 1, 0, &oldest, e)) < 0 ||
	    (act = count_dir(spool, "active", 1, 1, NULL, e)) < 0)
		return -1;
	json_object_set_new(h, "queueDepth", json_integer(in + def));
	json_object_set_new(h, "activeWorkflows", json_integer(act));
	json_object_set_new(h, "oldestQueuedSeconds",
	    json_integer(oldest && now > oldest ? (now - oldest) / 1000 : 0));
	if (in + def > qmax)
		alert(h, worst, in + def > 2 * qmax ? ST_CRITICAL : ST_WARNING, "queueDepth", NULL,
		    "queue depth %d (limit %lld)", in + def, qmax);
	if (statvfs(spool, &vfs) == 0) {
		json_object_set_new(h, "diskFreeBytes",
		    json_integer((json_int_t)((unsigned long long)vfs.f_bavail * vfs.f_frsize)));
		json_object_set_new(h, "diskFreeRatio", ec_json_number(vfs.f_blocks ?
		    ec_round2((double)vfs.f_bavail / (double)vfs.f_blocks * 100) / 100 : 0));
	}
	return 0;
}

json_t *
ec_health_check(const char *spool, const json_t *cfg, long long window_ms, ec_err *e)
{
	long long now = ec_now_ms();
	scan *s = calloc(1, sizeof *s);
	json_t *h, *base;
	char when[32];
	int worst = ST_OK;

	if (!s)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory"), NULL;
	/* No spool is no answer (UNKNOWN to Nagios), not an empty healthy one. */
	if (ec_spool_rootfd(spool, e) < 0) {
		free(s);
		return NULL;
	}
	ec_time_format(now, when);
	h = json_pack("{s:{}, s:{}, s:{}, s:{}, s:{}, s:[], s:[], s:s, s:I}", "personaAvailability",
	    "averageResponseTime", "errorRate", "personaRuns", "responseTimeBaseline", "alerts",
	    "checks", "checkedAt", when, "windowSeconds", (json_int_t)(window_ms / 1000));
	s->from_ms = now - window_ms;
	if (!(base = baseline_kept(spool, now)))
		s->base_from_ms = now - BASELINE_DAYS * DAY_MS;
	if (s->base_from_ms > s->from_ms)
		s->base_from_ms = s->from_ms;
	if (read_metrics(spool, s, e) < 0 || check_spool(spool, cfg, h, now, &worst, e) < 0) {
		json_decref(h);
		h = NULL;
		goto out;
	}
	if (!base)
		base = baseline_make(spool, s, now);
	check_personas(spool, cfg, h, now, &worst);
	check_runs(s, cfg, base, h, &worst);
	json_object_set_new(h, "status", json_string(st_name[worst]));
out:
	for (int i = 0; i < s->n; i++)
		free(s->v[i].dur);
	free(s);
	json_decref(base);
	return h;
}

/* The level of status name s: 0, 1, 2 (Nagios's OK, WARNING, CRITICAL). */
static int
level_of(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (s && !strcmp(s, st_name[i]))
			return i;
	return ST_CRITICAL;
}

/* A number the way both Nagios and Prometheus read it: an integer as one, else
 * with up to 9 significant digits. */
static void
put_num(ec_buf *b, double v)
{
	long long ll;

	if (ec_dbl_to_ll(v, -(1LL << 53), 1LL << 53, &ll) == 0 && (double)ll == v)
		ec_buf_printf(b, "%lld", ll);
	else
		ec_buf_printf(b, "%.9g", v);
}

/* Alert text made fit for a plugin's first line: no '|' (it starts the perfdata)
 * and no line breaks. */
static void
put_plain(ec_buf *b, const char *s)
{
	for (; *s; s++)
		ec_buf_putc(b, *s == '|' ? '/' : (unsigned char)*s < 0x20 ? ' ' : *s);
}

/* One perfdata item: 'label'=value[uom];warn;crit;min;max (empty parts allowed). */
static void
perf(ec_buf *b, const char *label, double v, const char *uom, const char *warn,
    const char *crit, const char *range)
{
	ec_buf_printf(b, " '%s'=", label);
	put_num(b, v);
	ec_buf_printf(b, "%s;%s;%s;%s", uom, warn, crit, range);
}

char *
ec_health_nagios(const json_t *h, const json_t *cfg, int *code)
{
	static const char *const word[] = { "OK", "WARNING", "CRITICAL" };
	ec_buf b = { 0 };
	const json_t *alerts = json_object_get(h, "alerts"), *v;
	const char *name;
	double thr = ec_json_get(cfg, "alerts.errorRate") ?
	    json_number_value(ec_json_get(cfg, "alerts.errorRate")) : 0.1;
	double factor = ec_json_get(cfg, "alerts.responseTimeFactor") ?
	    json_number_value(ec_json_get(cfg, "alerts.responseTimeFactor")) : 2;
	double hmin = ec_json_get(cfg, "alerts.cacheHitRateMin") ?
	    json_number_value(ec_json_get(cfg, "alerts.cacheHitRateMin")) : 0.5;
	long long qmax = ec_json_get_int(cfg, "alerts.queueDepthMax", 100);
	char w[64], c[64], lbl[128];
	size_t i, up = 0;

	*code = level_of(json_string_value(json_object_get(h, "status")));
	ec_buf_printf(&b, "EPIC-CREATOR %s - ", word[*code]);
	if (json_array_size(alerts)) {
		json_array_foreach(alerts, i, v) {
			if (i)
				ec_buf_puts(&b, "; ");
			put_plain(&b, json_string_value(v));
		}
	} else {
		json_object_foreach((json_t *)json_object_get(h, "personaAvailability"), name, v)
			up += json_is_true(v);
		ec_buf_printf(&b, "%zu personas available, queue depth %lld, %lld active workflows", up,
		    (long long)ec_json_get_int(h, "queueDepth", 0),
		    (long long)ec_json_get_int(h, "activeWorkflows", 0));
	}
	ec_buf_puts(&b, " |");
	snprintf(w, sizeof w, "%lld", qmax);
	snprintf(c, sizeof c, "%lld", 2 * qmax);
	perf(&b, "queue_depth", (double)ec_json_get_int(h, "queueDepth", 0), "", w, c, "0;");
	perf(&b, "oldest_queued", (double)ec_json_get_int(h, "oldestQueuedSeconds", 0), "s", "", "", "0;");
	perf(&b, "active_workflows", (double)ec_json_get_int(h, "activeWorkflows", 0), "", "", "", "0;");
	snprintf(w, sizeof w, "%g:", hmin);
	perf(&b, "cache_hit_rate", json_number_value(json_object_get(h, "cacheHitRate")), "", w, "",
	    "0;1");
	json_object_foreach((json_t *)json_object_get(h, "errorRate"), name, v) {
		snprintf(lbl, sizeof lbl, "%s_error_rate", name);
		snprintf(w, sizeof w, "%g", thr);
		snprintf(c, sizeof c, "%g", 2 * thr);
		perf(&b, lbl, json_number_value(v), "", w, c, "0;1");
	}
	json_object_foreach((json_t *)json_object_get(h, "averageResponseTime"), name, v) {
		const json_t *m = json_object_get(json_object_get(h, "responseTimeBaseline"), name);
		*w = *c = '\0';
		if (json_is_number(m)) {
			double base = floor_ms(json_number_value(m));
			snprintf(w, sizeof w, "%.0f", factor * base);
			snprintf(c, sizeof c, "%.0f", 2 * factor * base);
		}
		snprintf(lbl, sizeof lbl, "%s_response_time", name);
		perf(&b, lbl, json_number_value(v), "ms", w, c, "0;");
	}
	ec_buf_putc(&b, '\n');
	return ec_buf_take(&b);
}

/* A Prometheus metric family's HELP and TYPE lines. */
static void
family(ec_buf *b, const char *name, const char *help)
{
	ec_buf_printf(b, "# HELP epic_creator_%s %s\n# TYPE epic_creator_%s gauge\n", name, help, name);
}

/* A gauge with one sample. */
static void
gauge(ec_buf *b, const char *name, const char *help, double v)
{
	family(b, name, help);
	ec_buf_printf(b, "epic_creator_%s ", name);
	put_num(b, v);
	ec_buf_putc(b, '\n');
}

/* A gauge with a sample per persona, from object o (scaled), when it has any. */
static void
per_persona(ec_buf *b, const json_t *o, const char *name, const char *help, double scale)
{
	const char *k;
	json_t *v;

	if (!json_object_size(o))
		return;
	family(b, name, help);
	json_object_foreach((json_t *)o, k, v) {
		/* Persona names are [a-z0-9-]: nothing in a label value to escape. */
		ec_buf_printf(b, "epic_creator_%s{persona=\"%s\"} ", name, k);
		put_num(b, json_is_boolean(v) ? json_is_true(v) : json_number_value(v) * scale);
		ec_buf_putc(b, '\n');
	}
}

char *
ec_health_prometheus(const json_t *h)
{
	ec_buf b = { 0 };
	long long at = 0;

	gauge(&b, "health_status", "Overall health of epic-creator: 0 ok, 1 warning, 2 critical.",
	    level_of(json_string_value(json_object_get(h, "status"))));
	gauge(&b, "health_alerts", "Alert conditions that hold now.",
	    (double)json_array_size(json_object_get(h, "alerts")));
	ec_time_parse_ms(ec_json_get_str(h, "checkedAt", ""), &at);
	gauge(&b, "health_checked_timestamp_seconds", "When the health was checked, in seconds since the epoch.",
	    (double)(at / 1000));
	gauge(&b, "health_window_seconds", "The window of the per-persona figures.",
	    (double)ec_json_get_int(h, "windowSeconds", 0));
	per_persona(&b, json_object_get(h, "personaAvailability"), "persona_up",
	    "Whether a registered persona is available (1) or not (0).", 1);
	per_persona(&b, json_object_get(h, "personaRuns"), "persona_runs",
	    "Persona runs finished in the window.", 1);
	per_persona(&b, json_object_get(h, "errorRate"), "persona_error_ratio",
	    "Share of a persona's runs in the window that failed.", 1);
	per_persona(&b, json_object_get(h, "averageResponseTime"), "persona_response_time_seconds",
	    "Average response time of a persona in the window (cache hits and failures left out).", 0.001);
	per_persona(&b, json_object_get(h, "responseTimeBaseline"), "persona_response_time_baseline_seconds",
	    "Median response time of a persona over the last 7 days.", 0.001);
	gauge(&b, "cache_hit_ratio", "Share of persona runs in the window served from the cache.",
	    json_number_value(json_object_get(h, "cacheHitRate")));
	gauge(&b, "active_workflows", "Tasks in active/ whose pipeline is running.",
	    (double)ec_json_get_int(h, "activeWorkflows", 0));
	gauge(&b, "queue_depth", "Requests waiting in incoming/ and deferred/.",
	    (double)ec_json_get_int(h, "queueDepth", 0));
	gauge(&b, "queue_oldest_age_seconds", "Age of the oldest waiting request or deferred task.",
	    (double)ec_json_get_int(h, "oldestQueuedSeconds", 0));
	if (json_object_get(h, "diskFreeBytes")) {
		gauge(&b, "spool_free_bytes", "Space free for the spool's owner on its filesystem.",
		    (double)ec_json_get_int(h, "diskFreeBytes", 0));
		gauge(&b, "spool_free_ratio", "Share of the spool's filesystem free for its owner.",
		    json_number_value(json_object_get(h, "diskFreeRatio")));
	}
	return ec_buf_take(&b);
}

char *
ec_health_text(const json_t *h)
{
	ec_buf b = { 0 };
	const char *name;
	json_t *v, *a;
	size_t i;

	ec_buf_printf(&b, "status: %s (checked %s, figures of the last %lld s)\n\n",
	    ec_json_get_str(h, "status", "?"), ec_json_get_str(h, "checkedAt", ""),
	    (long long)ec_json_get_int(h, "windowSeconds", 0));
	ec_buf_printf(&b, "%-28s %-9s %6s %7s %10s %10s\n", "PERSONA", "AVAILABLE", "RUNS", "ERRORS",
	    "AVG MS", "BASE MS");
	json_object_foreach((json_t *)json_object_get(h, "personaAvailability"), name, v) {
		json_t *avg = json_object_get(json_object_get(h, "averageResponseTime"), name);
		json_t *bl = json_object_get(json_object_get(h, "responseTimeBaseline"), name);
		json_t *er = json_object_get(json_object_get(h, "errorRate"), name);
		char s1[32] = "-", s2[32] = "-", s3[32] = "-";
		if (avg)
			snprintf(s1, sizeof s1, "%.1f", json_number_value(avg));
		if (bl)
			snprintf(s2, sizeof s2, "%.1f", json_number_value(bl));
		if (er)
			snprintf(s3, sizeof s3, "%.0f%%", json_number_value(er) * 100);
		ec_buf_printf(&b, "%-28s %-9s %6lld %7s %10s %10s\n", name, json_is_true(v) ? "yes" : "NO",
		    (long long)ec_json_get_int(json_object_get(h, "personaRuns"), name, 0), s3, s1, s2);
	}
	ec_buf_printf(&b, "\ncache hit rate %.0f%%, %lld active workflow(s), queue depth %lld "
	    "(oldest %lld s), spool disk free %.1f GiB (%.0f%%)\n",
	    json_number_value(json_object_get(h, "cacheHitRate")) * 100,
	    (long long)ec_json_get_int(h, "activeWorkflows", 0), (long long)ec_json_get_int(h, "queueDepth", 0),
	    (long long)ec_json_get_int(h, "oldestQueuedSeconds", 0),
	    (double)ec_json_get_int(h, "diskFreeBytes", 0) / 1073741824.0,
	    json_number_value(json_object_get(h, "diskFreeRatio")) * 100);
	json_array_foreach(json_object_get(h, "checks"), i, a) {
		char esc[600];
		ec_buf_printf(&b, "%s%s: %s\n", i ? "" : "\n", ec_json_get_str(a, "status", ""),
		    ec_escape_controls(ec_json_get_str(a, "message", ""), esc, sizeof esc));
	}
	return ec_buf_take(&b);
}

int
ec_health_write_prometheus(const char *spool, const json_t *cfg, const char *path, ec_err *e)
{
	json_t *h = ec_health_check(spool, cfg, EC_HEALTH_WINDOW_MS, e);
	char *text;
	int rc;

	if (!h)
		return -1;
	text = ec_health_prometheus(h);
	json_decref(h);
	if (!text)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	rc = ec_write_atomic(path, text, strlen(text), 0, e);
	free(text);
	return rc < 0 ? -1 : 0;
}
