/*
 * paths.c - where things are. A tool finds its siblings next to itself and the
 * pipeline data (epic.mk, personas/, epic-creator.yml) either in the checkout it was
 * built in (<bin>/../pipeline: the embedded default, no set-up) or where `make
 * install` put it. EPIC_DATADIR overrides both.
 */
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
