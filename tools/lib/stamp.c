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
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
	if (len && text[len - 1] != '\n')
		bad = 1;        /* cut short */
	for (line = strtok_r(text, "\n", &save); line && !bad; line = strtok_r(NULL, "\n", &save)) {
		char hex[17], *name = line + 18, *buf;
		size_t blen;
		if (strlen(line) < 19 || line[16] != ' ' || line[17] != ' ' || !inside(name)) {
			bad = 1;
			break;
		}
		memcpy(hex, line, 16);
		hex[16] = '\0';
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
