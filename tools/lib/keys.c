/*
 * keys.c - the keys that encryption at rest uses (security.encryptAtRest).
 *
 * A key is a file NAME.key in the key directory: 64 hex digits (32 bytes for
 * AES-256), a newline allowed, a regular file of the caller's that nobody else may
 * read (no group or other bits) - the same rule OpenSSH applies to a private key.
 * The key directory is $EPIC_KEY_DIR, else $CREDENTIALS_DIRECTORY (a systemd unit's
 * LoadCredential=, read-only and private to the service), else
 * $XDG_CONFIG_HOME/epic-creator/keys (~/.config/epic-creator/keys): never the config
 * file (readable by the spool's group) and never the command line (visible in ps).
 *
 * The current key, the one new files are sealed with, is the greatest name in the
 * directory; `epic key rotate` makes a greater one (k + the UTC time). Older keys
 * stay readable for as long as their files are there, so files sealed with them
 * open until rotate has re-sealed them.
 *
 * Every fault of the key store (missing, unreadable, world-readable, malformed) is
 * EC_EXIT_TEMP: the operator can fix it and the request is not to blame, so a task
 * is deferred, never failed for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypt.h"

#define KEYS_MAX 16

static struct {
	char id[EC_KEY_ID_MAX + 1];
	unsigned char key[EC_KEY_BYTES];
} loaded[KEYS_MAX];
static int nloaded;

const char *
ec_key_dir(void)
{
	static char dir[PATH_MAX];
	const char *s;

	if ((s = getenv("EPIC_KEY_DIR")) && *s)
		return s;
	if ((s = getenv("CREDENTIALS_DIRECTORY")) && *s)
		return s;
	if ((s = getenv("XDG_CONFIG_HOME")) && *s)
		snprintf(dir, sizeof dir, "%s/epic-creator/keys", s);
	else if ((s = getenv("HOME")) && *s)
		snprintf(dir, sizeof dir, "%s/.config/epic-creator/keys", s);
	else
		return NULL;
	return dir;
}

int
ec_key_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > EC_KEY_ID_MAX)
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return 0;
	return 1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read DIR/ID.key into key: the file checked on its descriptor, then its text. */
static int
read_key(const char *dir, const char *id, unsigned char key[EC_KEY_BYTES], ec_err *e)
{
	char path[PATH_MAX], text[2 * EC_KEY_BYTES + 2];
	struct stat st;
	ssize_t n;
	int fd, bad = 0;

	snprintf(path, sizeof path, "%s/%s.key", dir, id);
	if ((fd = ec_open_key_file(path, 0, &st, e)) < 0)
		return -1;
	if (st.st_mode & 077) {
		close(fd);
		return ec_fail(e, EC_EXIT_TEMP, "key file '%s': mode %03o lets others read it; "
		    "expected 0600 or 0400 (chmod 600 it)", path, (unsigned)(st.st_mode & 0777));
	}
	n = read(fd, text, sizeof text);
	close(fd);
	if (n < 2 * EC_KEY_BYTES || (n == sizeof text && text[sizeof text - 1] != '\n') ||
	    (n > 2 * EC_KEY_BYTES && text[2 * EC_KEY_BYTES] != '\n'))
		bad = 1;
	for (int i = 0; !bad && i < EC_KEY_BYTES; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			bad = 1;
		else
			key[i] = (unsigned char)(hi << 4 | lo);
	}
	explicit_bzero(text, sizeof text);
	if (bad)
		return ec_fail(e, EC_EXIT_TEMP, "key file '%s': expected %d hexadecimal digits "
		    "and a newline", path, 2 * EC_KEY_BYTES);
	return 0;
}

int
ec_key_get(const char *id, unsigned char key[EC_KEY_BYTES], ec_err *e)
{
	const char *dir = ec_key_dir();

	for (int i = 0; i < nloaded; i++)
		if (!strcmp(loaded[i].id, id)) {
			memcpy(key, loaded[i].key, EC_KEY_BYTES);
			return 0;
		}
	if (!ec_key_id_ok(id))
		return ec_fail(e, EC_EXIT_REJECT, "key id '%.40s': expected 1 to %d of "
		    "[A-Za-z0-9_-]", id, EC_KEY_ID_MAX);
	if (!dir)
		return ec_fail(e, EC_EXIT_TEMP, "no key directory: set EPIC_KEY_DIR or HOME");
	if (read_key(dir, id, key, e) < 0)
		return -1;
	if (nloaded < KEYS_MAX) {
		snprintf(loaded[nloaded].id, sizeof loaded[nloaded].id, "%s", id);
		memcpy(loaded[nloaded++].key, key, EC_KEY_BYTES);
	}
	return 0;
}

static int
by_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
ec_key_ids(ec_err *e)
{
	const char *dir = ec_key_dir();
	char **names, **ids;
	size_t n = 0;
	int dfd;

	if (!dir) {
		ec_fail(e, EC_EXIT_TEMP, "no key directory: set EPIC_KEY_DIR or HOME");
		return NULL;
	}
	if ((dfd = ec_open_key_file(dir, EC_OPEN_DIR, NULL, e)) < 0)
		return NULL;
	names = ec_dir_names(dfd);
	close(dfd);
	if (!names) {
		ec_fail(e, EC_EXIT_TEMP, "cannot list key directory '%s': %s", dir, strerror(errno));
		return NULL;
	}
	/* Keep the NAME of each NAME.key, in the sorted order ec_dir_names gives. */
	ids = names;
	for (size_t i = 0; names[i]; i++) {
		size_t len = strlen(names[i]);
		if (len > 4 && !strcmp(names[i] + len - 4, ".key")) {
			names[i][len - 4] = '\0';
			if (ec_key_id_ok(names[i])) {
				ids[n++] = names[i];
				continue;
			}
		}
		free(names[i]);
	}
	ids[n] = NULL;
	/* Sorted by id, not by file name: "k1-2" is after "k1", "k1-2.key" before "k1.key". */
	qsort(ids, n, sizeof *ids, by_id);
	return ids;
}

int
ec_key_current(char id[EC_KEY_ID_MAX + 1], unsigned char key[EC_KEY_BYTES], ec_err *e)
{
	static char cur[EC_KEY_ID_MAX + 1];
	char **ids;
	size_t n = 0;

	if (!*cur) {
		if (!(ids = ec_key_ids(e)))
			return -1;
		while (ids[n])
			n++;
		if (n)
			snprintf(cur, sizeof cur, "%s", ids[n - 1]);
		ec_names_free(ids);
		if (!n)
			return ec_fail(e, EC_EXIT_TEMP, "no key in '%s': make one with 'epic key new'",
			    ec_key_dir());
	}
	snprintf(id, EC_KEY_ID_MAX + 1, "%s", cur);
	return ec_key_get(cur, key, e);
}

int
ec_key_new(char id[EC_KEY_ID_MAX + 1], ec_err *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char key[EC_KEY_BYTES];
	char text[2 * EC_KEY_BYTES + 2], path[PATH_MAX], stamp[32];
	const char *dir = ec_key_dir();
	char **ids;
	int rc;

	if (!dir)
		return ec_fail(e, EC_EXIT_TEMP, "no key directory: set EPIC_KEY_DIR or HOME");
	if (ec_mkdir_p(dir, 0700, e) < 0)
		return -1;
	if (!(ids = ec_key_ids(e)))
		return -1;
	/* k + the UTC time sorts after every key made before; a name already taken (two
	 * in one second, or a clock set back) gets a suffix that still sorts last. */
	{
		char iso[32], *o = stamp;
		ec_time_format(ec_now_ms(), iso);      /* 2026-12-04T16:45:01.120Z */
		for (const char *p = iso; *p && *p != '.'; p++)
			if (*p != '-' && *p != ':')
				*o++ = *p;
		*o = '\0';
	}
	snprintf(id, EC_KEY_ID_MAX + 1, "k%s", stamp);
	for (size_t i = 0; ids[i]; i++)
		if (strcmp(ids[i], id) >= 0)
			snprintf(id, EC_KEY_ID_MAX + 1, "%s-%zu", ids[i], i + 1);
	ec_names_free(ids);
	if (ec_random_bytes(key, sizeof key, e) < 0)
		return -1;
	for (int i = 0; i < EC_KEY_BYTES; i++) {
		text[2 * i] = hex[key[i] >> 4];
		text[2 * i + 1] = hex[key[i] & 15];
	}
	text[2 * EC_KEY_BYTES] = '\n';
	snprintf(path, sizeof path, "%s/%s.key", dir, id);
	rc = ec_write_atomic(path, text, 2 * EC_KEY_BYTES + 1, EC_W_FSYNC | EC_W_MODE_PRIVATE, e);
	explicit_bzero(text, sizeof text);
	explicit_bzero(key, sizeof key);
	return rc < 0 ? -1 : 0;
}
