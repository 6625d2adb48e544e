/*
 * queuelist.c - where things are in the spool's queues, as an operator sees them:
 * every request and task, what state it is in and why (epic status).
 *
 * A request waiting in incoming/ has no task id of its own yet: it is named by its
 * submitter. Its id is computed exactly as the watcher will compute it when it
 * claims the file (ec_claim_request_id over the name and the bytes), which is also
 * the id epic submit printed, so an operator can name a request that no watcher has
 * touched. incoming/ is shared with the spool's group, so every entry there is
 * judged on a descriptor (ec_spool_open: no link followed, no FIFO opened for
 * good) and read through it; what cannot be a request is listed with the reason the
 * watcher will reject it for.
 *
 * hold/ (queue.c) holds held requests as ID.EXT files and held tasks as ID
 * directories; the other states hold task directories (task.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

/* The queues in the order they are listed: waiting first, finished last. */
static const char *const list_order[] = { "incoming", "hold", "active", "deferred", "failed",
	"done", NULL };

/* The extensions a request is kept under. */
static const char *const request_exts[] = { "json", "md", "txt", NULL };

/*
 * Read the request STATE/name (any owner's, judged on its descriptor) into loc: its
 * id as the watcher will compute it, its extension and stat. 0, or -1 with e
 * (EC_EXIT_REJECT: it cannot be a request, or errno ENOENT: gone).
 */
static int
request_at(const char *spool, const char *state, const char *name, ec_queue_loc *loc, ec_err *e)
{
	char rel[NAME_MAX + 16], *buf;
	size_t len;
	int fd;

	memset(loc, 0, sizeof *loc);
	loc->state = state;
	snprintf(loc->name, sizeof loc->name, "%s", name);
	snprintf(rel, sizeof rel, "%s/%s", state, name);
	if ((fd = ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_ANY_OWNER, &loc->st, e)) < 0)
		return -1;
	buf = ec_read_fd(fd, rel, EC_MAX_REQUEST_BYTES, &len, e);
	close(fd);
	if (!buf)
		return -1;
	ec_claim_request_id(name, buf, len, loc->id, sizeof loc->id);
	/* ec_request_ext may point into name, which the caller frees: a static one. */
	loc->ext = request_exts[0];
	for (const char *const *x = request_exts; *x; x++)
		if (!strcmp(*x, ec_request_ext(name, buf, len)))
			loc->ext = *x;
	free(buf);
	return 0;
}

/* Is STATE/ID a task directory of the owner's (never a link)? Fills loc. */
static int
task_at(const char *spool, const char *state, const char *id, ec_queue_loc *loc)
{
	char rel[EC_MAX_ID + 16];
	int fd;

	memset(loc, 0, sizeof *loc);
	snprintf(rel, sizeof rel, "%s/%s", state, id);
	if ((fd = ec_spool_open(spool, rel, O_RDONLY, EC_OPEN_DIR, &loc->st, NULL)) < 0)
		return 0;
	close(fd);
	loc->state = state;
	loc->task = 1;
	snprintf(loc->id, sizeof loc->id, "%s", id);
	snprintf(loc->name, sizeof loc->name, "%s", id);
	return 1;
}

/* The entry names of spool/STATE, sorted, without dot-names (being written, claims,
 * staging). *n gets their count; NULL with *n 0 when the directory is missing;
 * NULL with e on another error. The caller frees each and the array. */
static struct dirent **
names_of(const char *spool, const char *state, int *n, ec_err *e)
{
	struct dirent **v;
	int fd = ec_spool_open(spool, state, O_RDONLY, EC_OPEN_DIR, NULL, e), m, k = 0;

	*n = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			e->code = 0;
		return NULL;
	}
	m = scandirat(fd, ".", &v, NULL, alphasort);
	close(fd);
	if (m < 0) {
		ec_fail(e, ec_errno_is_temp(errno) ? EC_EXIT_TEMP : EC_EXIT_REJECT,
		    "cannot read '%s/%s': %s", spool, state, strerror(errno));
		return NULL;
	}
	for (int i = 0; i < m; i++) {
		if (v[i]->d_name[0] == '.')
			free(v[i]);
		else
			v[k++] = v[i];
	}
	*n = k;
	return v;
}

static void
free_names(struct dirent **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
ec_queue_locate(const char *spool, const char *id, ec_queue_loc *loc, ec_err *e)
{
	static const char *const task_states[] = { "active", "deferred", "done", "failed", "hold",
		NULL };
	struct dirent **v;
	char name[EC_MAX_ID + 8];
	ec_err local;
	int n, found = 0;

	if (!e)
		e = &local;
	if (!ec_id_valid(id))
		return 0;
	for (const char *const *s = task_states; *s; s++)
		if (task_at(spool, *s, id, loc))
			return 1;
	/* A held request is ID.EXT: its name is its id. */
	for (const char *const *x = request_exts; *x; x++) {
		snprintf(name, sizeof name, "%s.%s", id, *x);
		if (request_at(spool, "hold", name, loc, NULL) == 0) {
			snprintf(loc->id, sizeof loc->id, "%s", id);
			return 1;
		}
	}
	/* A waiting request: its id is computed from its name and bytes. */
	e->code = 0;
	if (!(v = names_of(spool, "incoming", &n, e)))
		return e->code ? -1 : 0;
	for (int i = 0; i < n && !found; i++)
		found = request_at(spool, "incoming", v[i]->d_name, loc, NULL) == 0 &&
		    strcmp(loc->id, id) == 0;
	free_names(v, n);
	return found;
}

int
ec_queue_claiming(const char *spool, const char *id)
{
	struct dirent **v;
	char prefix[EC_MAX_ID + 16];
	size_t plen;
	int n, fd, found = 0;

	/* names_of leaves dot-names out; claims are dot-names: read active/ here. */
	if ((fd = ec_spool_open(spool, "active", O_RDONLY, EC_OPEN_DIR, NULL, NULL)) < 0)
		return 0;
	n = scandirat(fd, ".", &v, NULL, NULL);
	close(fd);
	plen = (size_t)snprintf(prefix, sizeof prefix, ".claim.%s.", id);
	for (int i = 0; i < n; i++) {
		found |= strncmp(v[i]->d_name, prefix, plen) == 0;
		free(v[i]);
	}
	if (n >= 0)
		free(v);
	return found;
}

int
ec_queue_running(const char *spool, const char *state, const char *id)
{
	char rel[EC_MAX_ID + 32];
	int fd, running;

	/* No O_CREAT: a task that never ran has no lock file, and looking creates
	 * nothing. The shared lock is dropped at once; a launcher that tries its
	 * exclusive one in that instant retries at its next rescan. */
	snprintf(rel, sizeof rel, "%s/%s/.lock", state, id);
	if ((fd = ec_spool_open(spool, rel, O_RDONLY, 0, NULL, NULL)) < 0)
		return 0;
	running = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return running;
}

/* s as a JSON string: itself when it is UTF-8, else with what is not escaped
 * (ec_escape_controls). New reference. */
static json_t *
safe_string(const char *s)
{
	char esc[NAME_MAX * 4 + 1];
	json_t *j = json_string(s);

	return j ? j : json_string(ec_escape_controls(s, esc, sizeof esc));
}

/* The modification time of st as RFC 3339 UTC. */
static json_t *
mtime_of(const struct stat *st)
{
	char when[32];

	ec_time_format((long long)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000, when);
	return json_string(when);
}

/* What a deferred task waits for: attempts, when, why, from its retry marker
 * (task.c) and deferred.json, as the watcher reads them. */
static void
describe_deferred(const char *spool, const ec_queue_loc *loc, json_t *j)
{
	char rel[EC_MAX_ID + 32], when[32];
	json_t *d;
	int attempts = 0;
	uid_t uid;
	long long due = 0;

	snprintf(rel, sizeof rel, "%s/%s/deferred.json", loc->state, loc->id);
	d = ec_spool_json(spool, rel, 1 << 16, NULL);
	if (ec_task_retry_read(spool, loc->state, loc->id, &attempts, &uid, &due) < 0) {
		long long a = ec_json_get_int(d, "attempts", 0), at = ec_json_get_int(d, "nextAttemptAt", 0);
		attempts = a >= 0 && a <= 1000 ? (int)a : 0;
		due = at > 0 && at < (1LL << 40) ? at * 1000 : 0;
	}
	json_object_set_new(j, "attempts", json_integer(attempts));
	if (due > 0) {
		ec_time_format(due, when);
		json_object_set_new(j, "nextAttemptAt", json_string(when));
	}
	if (json_is_string(json_object_get(d, "reason")))
		json_object_set(j, "reason", json_object_get(d, "reason"));
	json_decref(d);
}

json_t *
ec_queue_describe(const char *spool, const ec_queue_loc *loc)
{
	json_t *j = json_pack("{s:s, s:s, s:o}", "id", loc->id, "state", loc->state,
	    "modified", mtime_of(&loc->st));
	char rel[EC_MAX_ID + 32];

	if (!loc->task) {
		json_object_set_new(j, "name", safe_string(loc->name));
		json_object_set_new(j, "uid", json_integer((json_int_t)loc->st.st_uid));
		json_object_set_new(j, "bytes", json_integer((json_int_t)loc->st.st_size));
	}
	if (loc->task) {
		/* The Slurm job that runs or ran it (slurm.c), with the slurm launcher. */
		json_t *sj;
		snprintf(rel, sizeof rel, "%s/%s/slurm.json", loc->state, loc->id);
		if ((sj = ec_spool_json(spool, rel, 1 << 12, NULL))) {
			if (json_is_string(json_object_get(sj, "jobId")))
				json_object_set(j, "slurmJob", json_object_get(sj, "jobId"));
			json_decref(sj);
		}
	}
	if (!strcmp(loc->state, "hold")) {
		json_object_set_new(j, "kind", json_string(loc->task ? "task" : "request"));
		json_object_set_new(j, "returnsTo", json_string(loc->task ? "deferred" : "incoming"));
		if (loc->task)
			describe_deferred(spool, loc, j);
	} else if (!strcmp(loc->state, "active"))
		json_object_set_new(j, "running", json_boolean(ec_queue_running(spool, "active", loc->id)));
	else if (!strcmp(loc->state, "deferred"))
		describe_deferred(spool, loc, j);
	else if (!strcmp(loc->state, "failed")) {
		json_t *err;
		snprintf(rel, sizeof rel, "failed/%s/error.json", loc->id);
		if ((err = ec_spool_json(spool, rel, 1 << 20, NULL))) {
			if (json_is_string(json_object_get(err, "message")))
				json_object_set(j, "error", json_object_get(err, "message"));
			if (json_is_string(json_object_get(err, "type")))
				json_object_set(j, "errorType", json_object_get(err, "type"));
			json_decref(err);
		}
	}
	return j;
}

/* Append to arr an entry of incoming/ (or hold/, a held request). */
static void
list_request(const char *spool, const char *state, const char *name, json_t *arr)
{
	ec_queue_loc loc;
	ec_err e;

	if (request_at(spool, state, name, &loc, &e) == 0) {
		if (!strcmp(state, "hold")) {    /* its name is its id */
			char *base = ec_basename_noext(name);
			if (base && ec_id_valid(base))
				snprintf(loc.id, sizeof loc.id, "%s", base);
			free(base);
		}
		json_array_append_new(arr, ec_queue_describe(spool, &loc));
	} else if (errno != ENOENT) {   /* gone meanwhile (claimed): not listed */
		struct stat st = { 0 };
		json_t *j;
		int fd = ec_spool_rootfd(spool, NULL);
		char rel[NAME_MAX + 16];
		snprintf(rel, sizeof rel, "%s/%s", state, name);
		fstatat(fd, rel, &st, AT_SYMLINK_NOFOLLOW);
		j = json_pack("{s:n, s:s, s:o, s:o, s:o}", "id", "state", state, "name",
		    safe_string(name), "modified", mtime_of(&st), "problem", safe_string(e.msg));
		json_object_set_new(j, "uid", json_integer((json_int_t)st.st_uid));
		json_array_append_new(arr, j);
	}
}

/* Entries' order within a queue: by id (null last), then name. */
static int
cmp_entry(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *ix = json_string_value(json_object_get(x, "id"));
	const char *iy = json_string_value(json_object_get(y, "id"));
	int c = 0;

	if (ix && iy)
		c = strcmp(ix, iy);
	else if (ix || iy)
		c = ix ? -1 : 1;        /* what is no request last */
	return c ? c : strcmp(ec_json_get_str(x, "name", ""), ec_json_get_str(y, "name", ""));
}

json_t *
ec_queue_list(const char *spool, ec_err *e)
{
	json_t *all = json_array();

	for (const char *const *s = list_order; *s; s++) {
		json_t *q = json_array(), **v;
		struct dirent **names;
		ec_queue_loc loc;
		size_t i, n;
		int m;

		e->code = 0;
		if (!(names = names_of(spool, *s, &m, e)) && e->code) {
			json_decref(q);
			json_decref(all);
			return NULL;
		}
		for (int k = 0; k < m; k++) {
			const char *name = names[k]->d_name;
			struct stat st;
			int rootfd = ec_spool_rootfd(spool, NULL);
			char rel[NAME_MAX + 16];
			snprintf(rel, sizeof rel, "%s/%s", *s, name);
			/* hold/ has both kinds: a directory is a task, anything else a request. */
			if (!strcmp(*s, "incoming") || (!strcmp(*s, "hold") &&
			    fstatat(rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)))
				list_request(spool, *s, name, q);
			else if (ec_id_valid(name) && task_at(spool, *s, name, &loc))
				json_array_append_new(q, ec_queue_describe(spool, &loc));
		}
		free_names(names, m);
		/* Sorted by id: incoming/ is sorted by the submitters' names. */
		n = json_array_size(q);
		if (n > 1 && (v = malloc(n * sizeof *v))) {
			for (i = 0; i < n; i++)
				v[i] = json_array_get(q, i);
			qsort(v, n, sizeof *v, cmp_entry);
			for (i = 0; i < n; i++)
				json_array_append(all, v[i]);
			free(v);
		} else
			json_array_extend(all, q);
		json_decref(q);
	}
	return all;
}
