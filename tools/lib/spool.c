/*
 * spool.c - the spool's places and names.
 *
 * A request's name becomes part of a task id and a directory name, so it is
 * sanitised to [A-Za-z0-9._-] here, once, for every tool. The spool root is found
 * the same way by every tool, so `epic run`, the watcher and the pipeline share
 * one cache and one audit trail.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ec.h"

static const char *const state_dirs[] = {
	"tmp", "incoming", "active", "done", "failed", "deferred", "cache", "log", NULL
};

const char *
ec_spool_root(const char *opt)
{
	static char root[PATH_MAX];
	const char *env = getenv("EPIC_SPOOL"), *xdg, *home;
	char probe[PATH_MAX + 32];

	if (opt && *opt)
		return opt;
	if (env && *env)
		return env;
	/* Run from a checkout: the checkout's own spool/, whatever the cwd (the
	 * per-task make runs in spool/active/ID and must find the same spool). */
	snprintf(probe, sizeof probe, "%s/../pipeline/epic-creator.yml", ec_bindir());
	if (access(probe, R_OK) == 0) {
		snprintf(probe, sizeof probe, "%s/../spool", ec_bindir());
		if (realpath(probe, root))
			return root;
		snprintf(probe, sizeof probe, "%s/..", ec_bindir());
		if (realpath(probe, root) && strlen(root) + 7 < sizeof root) {
			strcat(root, "/spool");
			return root;
		}
	}
	if ((xdg = getenv("XDG_STATE_HOME")) && *xdg)
		snprintf(root, sizeof root, "%s/epic-creator", xdg);
	else if ((home = getenv("HOME")) && *home)
		snprintf(root, sizeof root, "%s/.local/state/epic-creator", home);
	else
		snprintf(root, sizeof root, "./spool");
	return root;
}

int
ec_spool_init(const char *root, ec_err *e)
{
	char p[PATH_MAX];

	for (const char *const *d = state_dirs; *d; d++) {
		if ((size_t)snprintf(p, sizeof p, "%s/%s", root, *d) >= sizeof p)
			return ec_fail(e, EC_EXIT_REJECT, "spool path too long '%s'", root);
		if (ec_mkdir_p(p, 0755, e) < 0)
			return -1;
	}
	return 0;
}

int
ec_sanitize_name(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	int last_sub = 0;

	if (cap == 0)
		return -1;
	for (const unsigned char *s = (const unsigned char *)in; *s && n + 1 < cap && n < EC_MAX_NAME; s++) {
		int ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-';
		/* No leading dots (hidden, "..") or dashes (option-like). */
		if (n == 0 && (*s == '.' || *s == '-' || !ok))
			continue;
		if (ok) {
			out[n++] = (char)*s;
			last_sub = 0;
		} else if (!last_sub) {
			out[n++] = '_';
			last_sub = 1;
		}
	}
	while (n > 0 && (out[n - 1] == '_' || out[n - 1] == '.' || out[n - 1] == '-'))
		n--;
	out[n] = '\0';
	return n ? 0 : -1;
}

int
ec_task_id(const char *base, const void *content, size_t len, char *out, size_t cap)
{
	char name[EC_MAX_NAME + 1], hex[17];

	if (ec_sanitize_name(base, name, sizeof name) < 0)
		snprintf(name, sizeof name, "request");
	ec_xxh3_hex(content, len, hex);
	return (size_t)snprintf(out, cap, "%s-%.8s", name, hex) < cap ? 0 : -1;
}
