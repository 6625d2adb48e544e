/*
 * llmbudget.c - what persona-llm shares with every other task and watcher of the
 * spool: the calls in flight and the money spent.
 *
 * Calls in flight: llm/slot.0 .. slot.N-1 in the spool, each held by an flock(2)
 * while a call is in flight. The kernel frees the lock when the holder's
 * descriptor closes, also when it dies, so a crash never leaks a slot, and any
 * number of tasks and watchers together stay under llm.maxConcurrentCalls.
 *
 * Money: log/llm-spend.jsonl, one line per call made (appended with one write, so
 * concurrent writers never interleave), summed by task and by UTC day when a call
 * is about to be made. The caps are checked before a call, not held across it: a
 * few calls already in flight may pass a cap by their own cost.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "llm.h"

#define SPEND_LOG       "log/llm-spend.jsonl"
#define SPEND_MAX       (64u << 20)    /* bytes of the ledger read */
#define SLOT_POLL_MS    50

/* Make spool/dir when missing. */
static int
subdir(const char *spool, const char *dir, ec_err *e)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", spool, dir);
	return ec_mkdir_p(path, 0700, e);
}

int
ec_llm_slot_take(const char *spool, int max, long long deadline, int *fd, ec_err *e)
{
	char rel[64];

	*fd = -1;
	if (max <= 0)
		return 0;
	if (subdir(spool, "llm", e) < 0)
		return -1;
	for (;;) {
		for (int i = 0; i < max; i++) {
			int f;
			snprintf(rel, sizeof rel, "llm/slot.%d", i);
			if ((f = ec_spool_open(spool, rel, O_RDWR | O_CREAT, 0, NULL, e)) < 0)
				return -1;
			if (flock(f, LOCK_EX | LOCK_NB) == 0) {
				*fd = f;
				return 0;
			}
			close(f);
			if (errno != EWOULDBLOCK)
				return ec_fail(e, EC_EXIT_TEMP, "cannot lock '%s/%s': %s", spool, rel,
				    strerror(errno));
		}
		if (ec_mono_ms() >= deadline)
			return ec_fail(e, EC_EXIT_TEMP, "all %d call slots of '%s/llm' stayed busy "
			    "(llm.maxConcurrentCalls)", max, spool);
		usleep((useconds_t)(SLOT_POLL_MS + random() % SLOT_POLL_MS) * 1000);
	}
}

int
ec_llm_spent(const char *spool, const char *task, const char *day, double *by_task,
    double *on_day, ec_err *e)
{
	size_t len;
	ec_err e2;
	char *buf = ec_spool_read(spool, SPEND_LOG, SPEND_MAX, &len, 0, &e2), *p, *nl;

	*by_task = *on_day = 0;
	if (!buf) {
		if (errno == ENOENT)
			return 0;
		if (e)
			*e = e2;
		return -1;
	}
	for (p = buf; (nl = memchr(p, '\n', len - (size_t)(p - buf))); p = nl + 1) {
		json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
		double cost = json_number_value(json_object_get(j, "cost"));
		if (j && cost > 0 && cost < 1e12) {
			if (task && !strcmp(ec_json_get_str(j, "task", ""), task))
				*by_task += cost;
			if (day && !strcmp(ec_json_get_str(j, "day", ""), day))
				*on_day += cost;
		}
		json_decref(j);
	}
	free(buf);
	return 0;
}

int
ec_llm_spend(const char *spool, json_t *call, ec_err *e)
{
	char now[40], *line;
	int rc;

	if (subdir(spool, "log", e) < 0)
		return -1;
	ec_iso_time(now, sizeof now);
	if (!json_object_get(call, "time"))
		json_object_set_new(call, "time", json_string(now));
	if (!(line = ec_json_dumps_line(call)))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	rc = ec_spool_append(spool, SPEND_LOG, line, strlen(line), e);
	free(line);
	return rc;
}
