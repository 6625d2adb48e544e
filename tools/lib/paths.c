/*
 * paths.c - where things are. A tool finds its siblings next to itself and the
 * pipeline data (epic.mk, personas/, epic-creator.yml) either in the checkout it was
 * built in (<bin>/../pipeline: the embedded default, no set-up) or where `make
 * install` put it. EPIC_DATADIR overrides both.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ec.h"

#ifndef EC_DATADIR
#define EC_DATADIR "/usr/local/share/epic-creator"
#endif

const char *
ec_bindir(void)
{
	static char dir[PATH_MAX];
	ssize_t n;
	char *s;

	if (*dir)
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof dir - 1);
	if (n <= 0) {
		strcpy(dir, ".");
		return dir;
	}
	dir[n] = '\0';
	if ((s = strrchr(dir, '/')))
		*s = '\0';
	return dir;
}

const char *
ec_datadir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("EPIC_DATADIR");
	char probe[PATH_MAX + 32];

	if (env && *env)
		return env;
	if (*dir)
		return dir;
	snprintf(probe, sizeof probe, "%s/../pipeline/epic-creator.yml", ec_bindir());
	if (access(probe, R_OK) == 0) {
		snprintf(probe, sizeof probe, "%s/../pipeline", ec_bindir());
		if (realpath(probe, dir))
			return dir;
	}
	snprintf(dir, sizeof dir, "%s", EC_DATADIR);
	return dir;
}

char *
ec_abspath(const char *path)
{
	char cwd[PATH_MAX], *out, *w;
	const char *p;
	size_t n;

	if (path[0] == '/')
		cwd[0] = '\0';
	else if (!getcwd(cwd, sizeof cwd))
		return NULL;
	n = strlen(cwd) + strlen(path) + 2;
	if (n > PATH_MAX || !(out = malloc(n + 1)))
		return NULL;
	/* Lexically, component by component: "." goes, ".." takes the last one back. */
	snprintf(out, n + 1, "%s/%s", cwd, path);
	for (p = w = out; *p; ) {
		const char *end;
		size_t len;
		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 1 && p[0] == '.')
			;
		else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (w > out && *--w != '/')
				;
		} else {
			*w++ = '/';
			memmove(w, p, len);
			w += len;
		}
		p += len;
	}
	if (w == out)
		*w++ = '/';
	*w = '\0';
	return out;
}

char *
ec_make_escape(const char *path)
{
	size_t n = strlen(path);
	char *o = malloc(2 * n + 1), *w = o;

	if (!o)
		return NULL;
	for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
		/* make has no escape for these in a prerequisite: '(' starts an archive
		 * member, a backslash before the end or a special character changes
		 * meaning, and a control character ends or bends the line. */
		if ((*s < 0x20 && *s != '\t') || *s == 0x7f || *s == '\\' || *s == '(' || *s == ')') {
			free(o);
			errno = EINVAL;
			return NULL;
		}
		if (*s == '$')
			*w++ = '$';
		else if (strchr(" \t#:;*?[]|", *s))
			*w++ = '\\';
		*w++ = (char)*s;
	}
	*w = '\0';
	return o;
}
