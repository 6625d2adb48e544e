/*
 * audit.c - the spool's audit log, log/audit.jsonl: one JSON line per thing that
 * happened to a request (submitted, claimed, done, failed, deferred, ...).
 *
 * Lines are appended with one write(2) (O_APPEND), so concurrent writers never
 * interleave, and an event is written before the move it records: a crash between
 * the two leaves the event and an unmoved task, which the next launcher finishes
 * and records again. The log may say a thing twice; it never misses one.
 */
#include <stdlib.h>
#include <string.h>

#include "ec.h"

int
ec_audit(const char *spool, json_t *ev, ec_err *e)
{
	char when[40], *line;
	int r;

	if (!json_object_get(ev, "time")) {
		ec_iso_time(when, sizeof when);
		json_object_set_new(ev, "time", json_string(when));
	}
	if (!(line = ec_json_dumps_line(ev)))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	r = ec_spool_append(spool, "log/audit.jsonl", line, strlen(line), e);
	free(line);
	return r;
}
