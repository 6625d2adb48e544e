/*
 * stamp.c - make's stamps, which also say what they stamped.
 *
 * A tool that make runs through the stamp idiom (epic.mk) writes its outputs only
 * when their bytes change and touches its stamp every time it runs, so make sees it
 * done without an unchanged output's mtime moving (which would rerun every persona
 * after it). The stamp holds one "XXH3  NAME" line for each output it stands for,
 * NAME relative to the task directory.
 *
 * The outputs themselves are written atomically but not synced: only the request,
 * the result and the spool's state renames are (see epic-watch(1)). After a power
 * loss an output can be empty or stale under its real name. So before a launcher
 * starts make on a task it checks every stamp against its outputs
 * (ec_stamps_check), and removes a stamp that does not match, with the outputs that
 * do not: make then redoes exactly those steps, and nothing torn is ever read.
 *
 * The same record lets a later tool of the task trust what an earlier one wrote
 * (ec_json_load_valid): bytes a stamp vouches for were checked by the tool that
 * wrote them (epic-parse, the engine, persona-normalize), so they are not checked
 * against their schema again at every hop. What comes from outside (a request as
 * dropped, a registration, a rule base, a command persona's raw answer, the config)
 * has no stamp and is always checked. Only the task's owner can write in a task
 * directory (active/ and done/ are 0700), and a stamp must be the owner's too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ec.h"

/* A stamp lists a handful of outputs: more than this is not one of ours. */
#define STAMP_MAX_BYTES 4096

int
ec_stamp_write(const char *stamp, const char *const *files, size_t n, ec_err *e)
{
	ec_buf b = { 0 };
	char hex[17], *text;
	int r;

	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *buf = ec_read_file(files[i], EC_MAX_JSON_BYTES, &len, e);
		if (!buf) {
			free(ec_buf_take(&b));
			return -1;
		}
		ec_xxh3_hex(buf, len, hex);
		free(buf);
		ec_buf_printf(&b, "%s  %s\n", hex, files[i]);
	}
	if (!(text = ec_buf_take(&b)) && n)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	r = ec_write_atomic(stamp, text ? text : "", text ? strlen(text) : 0, 0, e);
	free(text);
	return r < 0 ? -1 : 0;
}

/* The name a stamp's line "XXH3  NAME" holds (its hash into hex), or NULL when the
 * line is not one. */
static const char *
stamp_line(const char *line, char hex[17])
{
	if (strlen(line) < 19 || line[16] != ' ' || line[17] != ' ')
		return NULL;
	memcpy(hex, line, 16);
	hex[16] = '\0';
	return line + 18;
}

/* Is name a plain path inside the task directory (no '/' first, no "..")? */
static int
inside(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/' || strlen(name) > 200)
		return 0;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '\\')
			return 0;
	for (p = name; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return 0;
	return 1;
}

/*
 * Check one stamp, rel (spool-relative); task is "STATE/ID". 1 if it was removed
 * (with the outputs that did not match), 0 if it holds.
 */
static int
check_stamp(const char *spool, const char *task, const char *rel)
{
	char *text, *line, *save = NULL, path[EC_MAX_ID + 512];
	size_t len;
	int bad = 0;

	if (!(text = ec_spool_read(spool, rel, STAMP_MAX_BYTES, &len, 0, NULL)))
		return 0;       /* gone, or not a file of ours: make judges it */
	if (!len || text[len - 1] != '\n')
		bad = 1;        /* cut short, or emptied by a power loss: vouches for nothing */
	for (line = strtok_r(text, "\n", &save); line && !bad; line = strtok_r(NULL, "\n", &save)) {
		char hex[17], *buf;
		const char *name = stamp_line(line, hex);
		size_t blen;
		if (!name || !inside(name)) {
			bad = 1;
			break;
		}
		snprintf(path, sizeof path, "%s/%s", task, name);
		if (!(buf = ec_spool_read(spool, path, EC_MAX_JSON_BYTES, &blen, 0, NULL))) {
			bad = 1;
			break;
		}
		{
			char now[17];
			ec_xxh3_hex(buf, blen, now);
			free(buf);
			if (strcmp(now, hex)) {
				/* Derived bytes that are not what was made: redone, never read. */
				snprintf(path, sizeof path, "%s/%s/%s", spool, task, name);
				unlink(path);
				bad = 1;
			}
		}
	}
	free(text);
	if (bad) {
		snprintf(path, sizeof path, "%s/%s", spool, rel);
		unlink(path);
	}
	return bad;
}

int
ec_stamps_check(const char *spool, const char *state, const char *id)
{
	char task[EC_MAX_ID + 32], rel[EC_MAX_ID + 320];
	struct dirent *d;
	int fd, removed;
	DIR *dir;

	snprintf(task, sizeof task, "%s/%s", state, id);
	snprintf(rel, sizeof rel, "%s/.parse.stamp", task);
	removed = check_stamp(spool, task, rel);
	snprintf(rel, sizeof rel, "%s/personas", task);
	if ((fd = ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, NULL)) < 0)
		return removed;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return removed;
	}
	while ((d = readdir(dir))) {
		size_t n = strlen(d->d_name);
		if (d->d_name[0] != '.' || n < 8 || n > 200 || strcmp(d->d_name + n - 6, ".stamp"))
			continue;
		snprintf(rel, sizeof rel, "%s/personas/%s", task, d->d_name);
		removed += check_stamp(spool, task, rel);
	}
	closedir(dir);
	return removed;
}

/* Does the stamp at spath list a file named base (its last component) with hex? */
static int
stamp_lists(const char *spath, const char *base, const char *hex)
{
	char *text, *line, *save = NULL;
	size_t len;
	int found = 0;

	if (!(text = ec_read_own_file(spath, STAMP_MAX_BYTES, &len)))
		return 0;
	for (line = strtok_r(text, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save)) {
		char at[17];
		const char *name = stamp_line(line, at), *b;
		if (!name)
			break;
		b = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
		found = !strcmp(b, base) && !strcmp(at, hex);
	}
	free(text);
	return found;
}

int
ec_stamp_vouches(const char *path, const void *buf, size_t len)
{
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path, *dot;
	char hex[17], spath[PATH_MAX];
	int dl = slash ? (int)(slash - path) + 1 : 0;

	if (!strcmp(path, "-") || !*base)
		return 0;
	ec_xxh3_hex(buf, len, hex);
	/* A persona's own stamp, personas/.NN-NAME.stamp for personas/NN-NAME.json. */
	if ((dot = strrchr(base, '.')) && dot > base &&
	    snprintf(spath, sizeof spath, "%.*s.%.*s.stamp", dl, path, (int)(dot - base), base) <
	    (int)sizeof spath && stamp_lists(spath, base, hex))
		return 1;
	/* epic-parse's, for the normalized request and the plan. */
	return snprintf(spath, sizeof spath, "%.*s.parse.stamp", dl, path) < (int)sizeof spath &&
	    stamp_lists(spath, base, hex);
}

json_t *
ec_json_load_valid(const char *path, size_t max, const char *schema, ec_err *e)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	size_t len;
	char *buf = ec_read_file(path, max, &len, e);
	json_t *j;

	if (!buf)
		return NULL;
	j = ec_json_loadb(buf, len, name, e);
	if (j && !ec_stamp_vouches(path, buf, len) && ec_schema_validate(schema, j, NULL, e) < 0) {
		ec_err_prefix(e, "%s", name);
		json_decref(j);
		j = NULL;
	}
	free(buf);
	return j;
}
