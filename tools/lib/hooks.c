/*
 * hooks.c - the seed's plugin points (beforePersona, afterPersona,
 * beforeAggregation, afterCompletion) as run-parts directories of filters.
 *
 * <hooks>/<stage>.d/ holds executables, run in name order; each reads the document
 * as JSON on stdin and writes the (possibly changed) document as JSON on stdout.
 * Like run-parts, only names of [A-Za-z0-9_-] count, so editor backups, dot-files
 * and disabled hooks ("x.disabled") are skipped. A stage with no hooks costs one
 * opendir and starts no process.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ec.h"

#define HOOK_TIMEOUT 60             /* seconds a hook may take */
#define HOOK_OUTPUT_CAP (16u << 20)

static int
hook_name(const struct dirent *d)
{
	const char *s = d->d_name;

	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static const char *
hooks_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("EPIC_HOOKS_DIR");

	if (env && *env)
		return env;
	snprintf(dir, sizeof dir, "%s/hooks", ec_datadir());
	return dir;
}

json_t *
ec_hooks_run(const char *stage, json_t *doc, const char *task_id, const char *persona,
    ec_err *e)
{
	char dir[PATH_MAX], path[PATH_MAX * 2], vstage[96], vtask[256], vpersona[128];
	const char *env[] = { vstage, vtask, vpersona, NULL };
	struct dirent **names;
	json_t *cur = json_incref(doc);
	int n;

	snprintf(dir, sizeof dir, "%s/%s.d", hooks_dir(), stage);
	if ((n = scandir(dir, &names, hook_name, alphasort)) < 0)
		return cur;     /* no such stage directory: no hooks */
	snprintf(vstage, sizeof vstage, "EPIC_HOOK_STAGE=%s", stage);
	snprintf(vtask, sizeof vtask, "EPIC_TASK_ID=%s", task_id ? task_id : "");
	snprintf(vpersona, sizeof vpersona, "EPIC_PERSONA=%s", persona ? persona : "");
	for (int i = 0; i < n && cur; i++) {
		char *argv[2] = { path, NULL }, *text;
		ec_proc p = { .argv = argv, .env = env, .timeout = HOOK_TIMEOUT,
		    .out_cap = HOOK_OUTPUT_CAP, .err_fd = -1 };
		json_t *next;

		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		if (access(path, X_OK) != 0)
			continue;
		if (!(text = ec_json_dumps(cur))) {
			json_decref(cur);
			cur = NULL;
			ec_fail(e, EC_EXIT_TEMP, "hook '%s': out of memory", path);
			break;
		}
		p.input = text;
		p.inlen = strlen(text);
		if (ec_proc_run(&p) < 0) {
			ec_fail(e, p.timed_out || p.too_big ? EC_EXIT_TEMP : EC_EXIT_REJECT,
			    "%s hook '%s' failed: %s", stage, path, p.msg);
			next = NULL;
		} else if (!(next = ec_json_loadb(p.out, p.outlen, path, e)))
			ec_err_prefix(e, "%s hook printed invalid JSON", stage);
		else if (!json_is_object(next) && !json_is_array(next)) {
			ec_fail(e, EC_EXIT_REJECT, "%s hook '%s' printed %s, expected the document back",
			    stage, path, json_is_null(next) ? "null" : "a scalar");
			json_decref(next);
			next = NULL;
		}
		free(p.out);
		free(text);
		json_decref(cur);
		cur = next;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return cur;
}
