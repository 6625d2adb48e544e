/*
 * progress.c - one task's progress for a person at a terminal, drawn on stderr by
 * `epic run` and `epic resume` (ec_task_opts.progress, which they set only when
 * stderr is a terminal; the watcher never does).
 *
 * It is one line, rewritten in place ("\r" and clear to the end of the line):
 *
 *     [3/6] security-specialist  2.1 s
 *
 * personas done of the plan's total, the one running now (and how many more run
 * beside it), the time since the launcher started. Everything comes from the
 * task's own files, as any reader could see them: plan.json for the total, once
 * epic-parse has written it, and the before/after events of checkpoints.jsonl,
 * read incrementally from where the last look stopped (a torn last line is read
 * again next time). A retry or a failure is worth a line of its own, which scrolls
 * up above the status line. Events of an earlier run of the same task count: a
 * resumed task starts where it was.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ec.h"

/* The status line is redrawn at most this often (it holds a clock). */
#define REDRAW_MS 100

/* The task's file name in the spool, "STATE/ID/name", into rel. */
static void
rel_of(const ec_task_job *j, const char *name, char *rel, size_t cap)
{
	snprintf(rel, cap, "%s/%s/%s", j->state, j->id, name);
}

/* Clear the status line, if one is drawn, so that a whole line can be written. */
static void
clear_line(ec_task_job *j)
{
	if (j->progress_drawn)
		fputs("\r\033[K", stderr);
	j->progress_drawn = 0;
}

/* How many personas plan.json plans (skipped ones too: they are done when their
 * `skipped` event is written), or 0 while there is no plan yet. */
static int
plan_total(const char *spool, const ec_task_job *j)
{
	char rel[EC_MAX_ID + 32];
	json_t *plan;
	int n;

	rel_of(j, "plan.json", rel, sizeof rel);
	if (!(plan = ec_spool_json(spool, rel, 1 << 20, NULL)))
		return 0;
	n = (int)json_array_size(json_object_get(plan, "personas"));
	json_decref(plan);
	return n;
}

/* Take in the new events of checkpoints.jsonl: who runs, who is done; a retry or a
 * failure is printed as a line of its own. */
static void
read_events(const char *spool, ec_task_job *j)
{
	char rel[EC_MAX_ID + 32];
	ec_events evs;
	size_t len;
	char *buf;
	int fd;

	rel_of(j, "checkpoints.jsonl", rel, sizeof rel);
	if ((fd = ec_spool_open(spool, rel, O_RDONLY, 0, NULL, NULL)) < 0)
		return;
	buf = lseek(fd, j->progress_off, SEEK_SET) == j->progress_off ?
	    ec_read_fd(fd, rel, EC_EVENTS_MAX_BYTES, &len, NULL) : NULL;
	close(fd);
	if (!buf || ec_events_parse(buf, len, rel, &evs, NULL, NULL, NULL) < 0) {
		free(buf);
		return;
	}
	for (size_t i = 0; i < evs.n; i++) {
		const char *what = evs.v[i].event, *who = evs.v[i].persona;
		json_t *was = json_object_get(j->progress_seen, who);
		int done = was && !strcmp(json_string_value(was), "done");
		if (!strcmp(what, "after") || !strcmp(what, "skipped"))
			json_object_set_new(j->progress_seen, who, json_string("done"));
		else if ((!strcmp(what, "before") || !strcmp(what, "cache-hit")) && !done)
			json_object_set_new(j->progress_seen, who, json_string("running"));
		if (!strcmp(what, "retry") || !strcmp(what, "failed")) {
			if (!strcmp(what, "failed") && !done)
				json_object_set_new(j->progress_seen, who, json_string("failed"));
			clear_line(j);
			/* ec_warn: a persona's message is outside text, escaped. */
			ec_warn("%s: %s %s: %s", j->id, who, what,
			    ec_json_get_str(evs.v[i].j, "message", ""));
		}
	}
	j->progress_off += (off_t)evs.end;
	ec_events_free(&evs);
	free(buf);
}

/* The status line's text, at most cols - 1 columns (no wrap: "\r" must reach its
 * start), into out. */
static void
status_text(const ec_task_job *j, long long ms, int cols, char *out, size_t cap)
{
	const char *name, *first = NULL, *v;
	char what[160], esc[640], clock[32];
	json_t *state;
	int done = 0, running = 0;
	size_t room;

	json_object_foreach(j->progress_seen, name, state) {
		v = json_string_value(state);
		done += !strcmp(v, "done");
		if (!strcmp(v, "running") && running++ == 0)
			first = name;
	}
	if (first && running > 1)
		snprintf(what, sizeof what, "%s +%d", first, running - 1);
	else if (first)
		snprintf(what, sizeof what, "%s", first);
	else if (j->progress_total == 0)
		snprintf(what, sizeof what, "parsing the request");
	else if (done >= j->progress_total)
		snprintf(what, sizeof what, "aggregating");
	else
		what[0] = '\0';
	ec_escape_controls(what, esc, sizeof esc);
	if (ms < 60000)
		snprintf(clock, sizeof clock, "%.1f s", (double)ms / 1000);
	else
		snprintf(clock, sizeof clock, "%lld min %02lld s", ms / 60000, ms / 1000 % 60);
	if (j->progress_total)
		snprintf(out, cap, "[%d/%d] %s%s%s", done, j->progress_total, esc, *esc ? "  " : "", clock);
	else
		snprintf(out, cap, "[%d/?] %s  %s", done, esc, clock);
	/* Persona names are ASCII; a custom one escaped is too. */
	room = cols > 1 ? (size_t)cols - 1 : 0;
	if (room && strlen(out) > room)
		out[room] = '\0';
}

void
ec_progress_update(const char *spool, ec_task_job *j)
{
	struct winsize ws;
	long long now = ec_mono_ms();
	char line[800];

	if (!j->progress_seen) {
		if (!(j->progress_seen = json_object()))
			return;
		j->progress_t0 = now;
	}
	if (!j->progress_total)
		j->progress_total = plan_total(spool, j);
	read_events(spool, j);
	if (j->progress_drawn && now - j->progress_last < REDRAW_MS)
		return;
	status_text(j, now - j->progress_t0,
	    ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80, line, sizeof line);
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	j->progress_drawn = 1;
	j->progress_last = now;
}

void
ec_progress_end(ec_task_job *j)
{
	clear_line(j);
	fflush(stderr);
	json_decref(j->progress_seen);
	j->progress_seen = NULL;
}
