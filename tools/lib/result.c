/*
 * result.c - a finished epic, for the tools a person reads it through (epic-show,
 * epic-render, epic-export, epic-diff): which result a command line names, the
 * recommendations in the order people act on them, and where a cited standard
 * can be read.
 *
 * A result named on the command line is outside input (a file anyone may have
 * edited), so it is checked against schemas/epic-response before any view trusts
 * its shape. A task's result is read through ec_spool_open like every spool file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ec.h"

/* The newest done/ID/epic.json (by its mtime; ties: the greater id) into id; 0, or
 * -1 when there is none. done/ and each result are opened the one way
 * (ec_spool_open): a symbolic link is nobody's result. */
static int
newest_done(const char *spool, char *id, size_t cap)
{
	struct timespec best = { 0, 0 };
	int dfd = ec_spool_open(spool, "done", O_RDONLY, EC_OPEN_DIR, NULL, NULL), found = -1;
	char **names = dfd < 0 ? NULL : ec_dir_names(dfd);

	if (dfd >= 0)
		close(dfd);
	for (size_t i = 0; names && names[i]; i++) {
		char rel[EC_MAX_ID + 32];
		struct stat st;
		int fd;

		if (!ec_id_valid(names[i]))
			continue;
		snprintf(rel, sizeof rel, "done/%s/epic.json", names[i]);
		if ((fd = ec_spool_open(spool, rel, O_RDONLY, 0, &st, NULL)) < 0)
			continue;
		close(fd);
		/* names are sorted: an equal mtime keeps the later (greater) id */
		if (found < 0 || st.st_mtim.tv_sec > best.tv_sec ||
		    (st.st_mtim.tv_sec == best.tv_sec && st.st_mtim.tv_nsec >= best.tv_nsec)) {
			best = st.st_mtim;
			snprintf(id, cap, "%s", names[i]);
			found = 0;
		}
	}
	ec_names_free(names);
	return found;
}

json_t *
ec_result_load(const char *spool, const char *arg, char *name, size_t cap, ec_err *e)
{
	char id[EC_MAX_ID + 1], rel[EC_MAX_ID + 32], dir[PATH_MAX], bad[EC_JPATH_CAP];
	const char *state;
	struct stat st;
	json_t *j;

	if (arg && (!strcmp(arg, "-") || strchr(arg, '/') || stat(arg, &st) == 0)) {
		snprintf(name, cap, "%s", strcmp(arg, "-") ? arg : "<stdin>");
		if (!(j = ec_json_load_file(arg, EC_MAX_JSON_BYTES, e)))
			return NULL;
	} else {
		if (!arg) {
			if (newest_done(spool, id, sizeof id) < 0) {
				ec_fail(e, EC_EXIT_REJECT, "no finished task in '%s/done' (name a task id "
				    "or an epic.json)", spool);
				return NULL;
			}
		} else if (!ec_id_valid(arg)) {
			ec_fail(e, EC_EXIT_REJECT, "'%s': no such file, and not a task id", arg);
			return NULL;
		} else
			snprintf(id, sizeof id, "%s", arg);
		if (!(state = ec_task_find(spool, id, dir, sizeof dir))) {
			ec_fail(e, EC_EXIT_REJECT, "'%s': no such file, and no task '%s' in '%s'",
			    id, id, spool);
			return NULL;
		}
		if (strcmp(state, "done")) {
			ec_fail(e, EC_EXIT_REJECT, "task '%s' is in %s/, not done: it has no result "
			    "yet (epic status %s)", id, state, id);
			return NULL;
		}
		snprintf(rel, sizeof rel, "done/%s/epic.json", id);
		snprintf(name, cap, "%s/%s", spool, rel);
		if (!(j = ec_spool_json(spool, rel, EC_MAX_JSON_BYTES, e)))
			return NULL;
	}
	if (ec_schema_validate("epic-response", j, bad, e) < 0) {
		ec_err_prefix(e, "%s: not an EpicResponse", name);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Reading order: blocking before suggested, then critical first, then by id. */
static int
rec_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int bx = !strcmp(ec_json_get_str(x, "type", ""), "blocking");
	int by = !strcmp(ec_json_get_str(y, "type", ""), "blocking");
	int px = ec_priority_rank(ec_json_get_str(x, "priority", NULL));
	int py = ec_priority_rank(ec_json_get_str(y, "priority", NULL));

	if (bx != by)
		return by - bx;
	if (px != py)
		return py - px;
	return strcmp(ec_json_get_str(x, "id", ""), ec_json_get_str(y, "id", ""));
}

json_t *
ec_result_ordered(const json_t *result)
{
	json_t *recs = ec_json_get(result, "epic.recommendations"), *out = json_array();
	size_t n = json_array_size(recs);
	json_t **v = n ? malloc(n * sizeof *v) : NULL;

	if (!out || (n && !v)) {
		free(v);
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(recs, i);
	if (n)
		qsort(v, n, sizeof *v, rec_cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

json_t *
ec_result_rec(const json_t *result, const char *id)
{
	json_t *recs = ec_json_get(result, "epic.recommendations"), *r;
	size_t i;

	json_array_foreach(recs, i, r)
		if (!strcmp(ec_json_get_str(r, "id", ""), id))
			return r;
	return NULL;
}

/*
 * Is url fit to be written into any markup as a link target: https, and only
 * the characters of RFC 3986 that need no escaping in Jira wiki, Markdown, HTML
 * attributes or CSV? references.json is operators' data: a URL that is not is
 * left out, and the reference cited by name only.
 */
static int
url_plain(const char *url)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-._~:/?#@!$&*+,;=%";
	size_t n = strlen(url);

	return !strncmp(url, "https://", 8) && n > 8 && n < 1000 && strspn(url, ok) == n;
}

/*
 * References are the names the rule bases cite ("WCAG 2.2 SC 1.4.3 Contrast
 * (Minimum)"); pipeline/references.json maps name prefixes to public URLs, the
 * longest prefix winning. It is operators' data, read once, and a broken file
 * only costs the links (every view works without them).
 */
static json_t *references;

const char *
ec_reference_url(const char *ref)
{
	static int loaded;
	const char *best = NULL;
	size_t best_len = 0, i;
	json_t *r;

	if (!loaded) {
		char path[PATH_MAX];
		loaded = 1;
		snprintf(path, sizeof path, "%s/references.json", ec_datadir());
		references = ec_json_load_file(path, 1u << 20, NULL);
		if (!json_is_array(json_object_get(references, "references"))) {
			json_decref(references);
			references = NULL;
		}
	}
	json_array_foreach(json_object_get(references, "references"), i, r) {
		const char *prefix = ec_json_get_str(r, "prefix", NULL);
		const char *url = ec_json_get_str(r, "url", NULL);
		size_t n = prefix ? strlen(prefix) : 0;
		if (n > best_len && url && url_plain(url) && !strncmp(ref, prefix, n)) {
			best = url;
			best_len = n;
		}
	}
	return best;
}
