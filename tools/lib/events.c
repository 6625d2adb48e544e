/*
 * events.c - a task's event log, checkpoints.jsonl: one writer and one reader, so
 * every tool sees the same events in it.
 *
 * Writers append one JSON object per line, with one write(2) of at most PIPE_BUF
 * bytes (O_APPEND), so concurrent writers (personas under make -j) never
 * interleave. A crash can still leave a line cut short; the next append then
 * starts on the same line. Readers apply one policy to that:
 *  - a last line without its newline is being written or was cut by a crash: it is
 *    not read, not counted, and a reader that follows the file (progress, metrics)
 *    starts there next time (ec_events.end);
 *  - a complete line that is not an event is skipped and counted, and reported
 *    for the first few; but an event appended to a cut line (glued to its end) is
 *    kept.
 * An event is an object with a persona name, a known event, an RFC 3339 time, and
 * optional attempt, errorType, message, durationMs and xxh3 of the right types
 * (and, for llm-call, what persona-llm's call to an LLM API cost: usage).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

/* Complete lines that are not events are reported this often at most. */
#define MAX_REPORTS 5

static const char *const event_names[] = {
	"before", "after", "retry", "failed", "skipped", "cache-hit", "cache-miss",
	"fallback", "verify-removed", "llm-call", NULL
};
static const char *const error_types[] = {
	"PERSONA_UNAVAILABLE", "TIMEOUT", "INVALID_INPUT", "VALIDATION_FAILED",
	"SYSTEM_ERROR", "NETWORK_ERROR", NULL
};

int
ec_event_name_valid(const char *s)
{
	return ec_in_list(event_names, s);
}

int
ec_error_type_valid(const char *s)
{
	return ec_in_list(error_types, s);
}

/* Say why into why, return -1. */
static int
reason(char *why, size_t cap, const char *msg)
{
	snprintf(why, cap, "%s", msg);
	return -1;
}

int
ec_event_check(const json_t *j, char *why, size_t cap)
{
	const json_t *v;
	long long ms;

	if (!json_is_object(j))
		return reason(why, cap, "not a JSON object");
	if (!ec_persona_name_valid(json_string_value(json_object_get(j, "persona"))))
		return reason(why, cap, "\"persona\" is not a persona name");
	if (!ec_event_name_valid(json_string_value(json_object_get(j, "event"))))
		return reason(why, cap, "\"event\" is not a known event");
	v = json_object_get(j, "time");
	if (!json_is_string(v) || ec_time_parse_ms(json_string_value(v), &ms) < 0)
		return reason(why, cap, "\"time\" is not an RFC 3339 timestamp");
	if ((v = json_object_get(j, "attempt")) && (!json_is_integer(v) || json_integer_value(v) < 1))
		return reason(why, cap, "\"attempt\" is not an integer >= 1");
	if ((v = json_object_get(j, "errorType")) && !ec_error_type_valid(json_string_value(v)))
		return reason(why, cap, "\"errorType\" is not an error type");
	if ((v = json_object_get(j, "message")) && !json_is_string(v))
		return reason(why, cap, "\"message\" is not a string");
	if ((v = json_object_get(j, "durationMs")) && (!json_is_number(v) || json_number_value(v) < 0))
		return reason(why, cap, "\"durationMs\" is not a number >= 0");
	if ((v = json_object_get(j, "xxh3")) && !ec_xxh3_hex_valid(json_string_value(v)))
		return reason(why, cap, "\"xxh3\" is not 16 lowercase hex digits");
	return 0;
}

/* An event appended to a cut line: the first "{" in p[0..n) after the start from
 * which an event parses. New reference, or NULL. */
static json_t *
glued_event(const char *p, size_t n)
{
	char why[256];
	json_t *j;

	if (n > 65536)
		return NULL;
	for (const char *q = p + 1; (q = memmem(q, n - (size_t)(q - p), "{\"", 2)); q++) {
		if ((j = ec_json_loadb(q, n - (size_t)(q - p), "", NULL))) {
			if (ec_event_check(j, why, sizeof why) == 0)
				return j;
			json_decref(j);
		}
	}
	return NULL;
}

/* Keep j (a checked event, owned from now on) in out. 0 or -1 (out of memory). */
static int
keep(ec_events *out, json_t *j, size_t *cap)
{
	ec_event *ev;

	if (out->n == *cap) {
		ec_event *nv = realloc(out->v, (*cap = *cap ? *cap * 2 : 64) * sizeof *nv);
		if (!nv) {
			json_decref(j);
			return -1;
		}
		out->v = nv;
	}
	ev = &out->v[out->n++];
	ev->j = j;
	ev->persona = json_string_value(json_object_get(j, "persona"));
	ev->event = json_string_value(json_object_get(j, "event"));
	ev->time = json_string_value(json_object_get(j, "time"));
	ec_time_parse_ms(ev->time, &ev->ms);
	return 0;
}

/*
 * Judge one line p[0..n) (lineno; complete: it ended in a newline): keep its
 * event, or the one glued to it, and say in msg why it was skipped ("" if not).
 * 0, or -1 (out of memory).
 */
static int
one_line(const char *p, size_t n, const char *name, size_t lineno, int complete, ec_events *out,
    size_t *cap, char *msg, size_t msgcap)
{
	char why[256];
	json_t *j, *glued = NULL;
	ec_err le;
	int col = 1, off = 0;

	*msg = '\0';
	if (!(j = ec_json_loadb(p, n, "", &le))) {
		/* le.msg is ":1:COL: reason": say which column of which line. */
		if (sscanf(le.msg, ":%*d:%d: %n", &col, &off) < 1 || off == 0)
			col = 1, off = 0;
		if (complete && (glued = glued_event(p, n)) && keep(out, glued, cap) < 0)
			return -1;
		snprintf(msg, msgcap, "%s:%zu:%d: %s skipped: %s%s", name, lineno, col,
		    !complete ? "torn last line" : glued ? "torn line" : "malformed event",
		    le.msg + off, glued ? "; the event appended to it is kept" : "");
		return 0;
	}
	if (ec_event_check(j, why, sizeof why) < 0) {
		snprintf(msg, msgcap, "%s:%zu: %s skipped: %s", name, lineno,
		    complete ? "malformed event" : "torn last line", why);
		json_decref(j);
		return 0;
	}
	if (!complete) {
		/* A whole event, but its newline never came: the next append would be glued
		 * to it; every reader leaves it, as it leaves any torn line. */
		snprintf(msg, msgcap, "%s:%zu: torn last line skipped: no newline at its end", name, lineno);
		json_decref(j);
		return 0;
	}
	return keep(out, j, cap);
}

/* Is p[0..n) only blanks? (buf need not end in a NUL.) */
static int
blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

int
ec_events_parse(const char *buf, size_t len, const char *name, ec_events *out,
    void (*report)(const char *msg, void *arg), void *arg, ec_err *e)
{
	const char *p = buf, *end = buf + len, *nl;
	size_t lineno = 0, cap = 0;
	char msg[768];

	memset(out, 0, sizeof *out);
	for (; p < end; p = nl ? nl + 1 : end) {
		size_t n;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		if (nl)
			out->end = (size_t)(nl + 1 - buf);
		else
			out->torn = 1;
		if (blank(p, n))
			continue;
		if (one_line(p, n, name, lineno, nl != NULL, out, &cap, msg, sizeof msg) < 0) {
			ec_events_free(out);
			return ec_fail(e, EC_EXIT_TEMP, "cannot read '%s': out of memory", name);
		}
		if (*msg && out->skipped++ < MAX_REPORTS && report)
			report(msg, arg);
	}
	if (out->skipped > MAX_REPORTS && report) {
		snprintf(msg, sizeof msg, "%s: %zu more malformed lines skipped", name,
		    out->skipped - MAX_REPORTS);
		report(msg, arg);
	}
	return 0;
}

int
ec_events_read(const char *path, ec_events *out, void (*report)(const char *msg, void *arg),
    void *arg, ec_err *e)
{
	size_t len;
	char *buf;
	int r;

	memset(out, 0, sizeof *out);
	if (!ec_exists(path))
		return 0;               /* no event yet */
	if (!(buf = ec_read_file(path, EC_EVENTS_MAX_BYTES, &len, e)))
		return -1;
	r = ec_events_parse(buf, len, path, out, report, arg, e);
	free(buf);
	return r;
}

void
ec_events_free(ec_events *ev)
{
	for (size_t i = 0; i < ev->n; i++)
		json_decref(ev->v[i].j);
	free(ev->v);
	memset(ev, 0, sizeof *ev);
}

int
ec_event_append(const char *dir, json_t *ev, const char *msg, ec_err *e)
{
	char ts[32], path[PATH_MAX + 32], *line = NULL, *cut = NULL, *fixed = NULL;
	size_t keep;
	int r;

	/* JSON must be UTF-8; a message need not be (a file name, a program's words). */
	if (msg) {
		if (!(fixed = strdup(msg)))
			return ec_fail(e, EC_EXIT_TEMP, "out of memory");
		ec_utf8_fix(fixed);
		msg = fixed;
	}
	keep = msg ? strlen(msg) : 0;
	ec_time_format(ec_now_ms(), ts);
	json_object_set_new(ev, "time", json_string(ts));
	/* A message is cut (on a character, with "...") until the line fits one write. */
	for (;;) {
		if (msg) {
			free(cut);
			if (!(cut = malloc(keep + 4))) {
				free(fixed);
				return ec_fail(e, EC_EXIT_TEMP, "out of memory");
			}
			memcpy(cut, msg, keep);
			strcpy(cut + keep, keep < strlen(msg) ? "..." : "");
			json_object_set_new(ev, "message", json_string(cut));
		}
		if (!(line = ec_json_dumps_line(ev))) {
			free(cut);
			free(fixed);
			return ec_fail(e, EC_EXIT_TEMP, "cannot encode the event: out of memory");
		}
		if (strlen(line) <= EC_EVENT_LINE_MAX || !msg || keep == 0)
			break;
		/* Every byte cut from the message shortens the line by at least one. */
		keep = ec_utf8_prefix(msg, (size_t)-1, keep > strlen(line) - EC_EVENT_LINE_MAX + 3 ?
		    keep - (strlen(line) - EC_EVENT_LINE_MAX + 3) : 0);
		free(line);
	}
	free(cut);
	free(fixed);
	if (strlen(line) > EC_EVENT_LINE_MAX) {
		free(line);
		return ec_fail(e, EC_EXIT_REJECT, "event longer than %d bytes", EC_EVENT_LINE_MAX);
	}
	snprintf(path, sizeof path, "%s/checkpoints.jsonl", dir);
	r = ec_append_line(path, line, strlen(line), e);
	free(line);
	return r;
}
