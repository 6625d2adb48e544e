/*
 * verdict.c - one failure classification: how a tool in a task's pipeline tells
 * the launcher why it failed.
 *
 * make's exit status says only that something failed. So every tool leaves its
 * verdict in the task's error.json when it exits with anything but 0: the tool, its
 * exit code, the seed's ErrorType and the message it printed. The launcher reads it
 * (ec_verdict_class): 1 and 2 mean the input was rejected and a retry would fail
 * the same way (the task goes to failed/); only 111 is temporary. No error.json at
 * all means the tool never got to say (a crash, a kill): temporary.
 *
 * The launcher names the file in $EPIC_ERROR_FILE; it is taken out of the
 * environment of persona commands and hooks (proc.c), whose exit statuses are
 * judged by persona-run, not by the launcher.
 */
#include <stdlib.h>
#include <string.h>

#include "ec.h"

static const char *verdict_path;
static int verdict_path_set;
static const char *verdict_type;

void
ec_verdict_file(const char *path)
{
	verdict_path = path && *path ? path : NULL;
	verdict_path_set = 1;
}

void
ec_verdict_type(const char *type)
{
	verdict_type = type;
}

int
ec_verdict_class(int code)
{
	return code == EC_EXIT_REJECT || code == EC_EXIT_USAGE ? EC_EXIT_REJECT : EC_EXIT_TEMP;
}

int
ec_verdict_write(const char *path, const char *tool, int code, const char *type,
    const char *msg, ec_err *e)
{
	char when[40];
	json_t *j;
	int r;

	ec_iso_time(when, sizeof when);
	j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:b}", "tool", tool, "exitCode", code,
	    "type", type, "message", msg, "time", when, "recoverable",
	    ec_verdict_class(code) == EC_EXIT_TEMP);
	if (!j)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	r = ec_json_write(path, j, EC_W_FSYNC, e);
	json_decref(j);
	return r < 0 ? -1 : 0;
}

int
ec_task_error_write(const char *dir, const char *tool, int code, const char *type,
    const char *msg, ec_err *e)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/error.json", dir);
	return ec_verdict_write(path, tool, code, type, msg, e);
}

void
ec_exit(int code)
{
	const char *path = verdict_path_set ? verdict_path : getenv("EPIC_ERROR_FILE");

	if (code != 0 && path && *path) {
		const char *type = verdict_type ? verdict_type :
		    ec_verdict_class(code) == EC_EXIT_REJECT ? "INVALID_INPUT" : "SYSTEM_ERROR";
		const char *msg = *ec_last_message() ? ec_last_message() : "failed without a message";
		/* Best effort: with the disk full there is no verdict, and the launcher
		 * takes the silence for a temporary failure, which it then is. */
		ec_verdict_write(path, ec_progname, code, type, msg, NULL);
	}
	exit(code);
}
