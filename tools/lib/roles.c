/*
 * roles.c - security.roles: which Unix groups may do what with the spool.
 *
 * Without security.roles nothing here changes anything: the filesystem's modes
 * decide (the owner everything, the spool's group submit-only). With it:
 *
 * Admin commands (hold, release, requeue, delete, purge, forget, key rotate) call
 * ec_role_require first. The spool's owner (the owner of its root) and the members
 * of a group named in roles.admin pass; anyone else is refused, finally (exit 1),
 * and the refusal is audited. A person who is not the owner acts with the owner's
 * rights through sudo (`sudo -u OWNER epic hold ID`): then the process is the
 * owner's and the person is sudo's SUDO_UID, whose groups are looked up by name.
 * Only a process already running as the owner is read that way, so nobody gains
 * anything by setting SUDO_UID himself.
 *
 * The refusal of a caller who may not write log/audit.jsonl (it is the owner's
 * alone) is a drop: one small JSON file written atomically into refused/ (01730,
 * like incoming/: the group may create files, not list or read them). The owner
 * folds the drops into the audit log (ec_roles_fold: the watcher, epic audit,
 * epic health) as "refused" events and removes them. Who refused is the file's
 * owner, read from the descriptor; nothing the file says is taken for an identity.
 * A drop is hostile input: opened the one way (no link, no FIFO), at most
 * DROP_MAX bytes, and anything that is not exactly what ec_role_require writes is
 * recorded as refused with reason "malformed" and removed.
 *
 * View copies (ec_view_publish): when roles.view names a group, a finished task's
 * epic.json and its Markdown report are copied to view/ID/ (02750, the view
 * group's; files 0640), where the group may read them while done/ stays the
 * owner's. They are plaintext copies; purge, forget and delete remove them with
 * the task (ec_view_remove).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "trash.h"
#include "roles.h"

/* A drop is a line of JSON: nothing of ours is longer. */
#define DROP_MAX 1024
/* Drops folded in one call; the rest wait for the next (a flood is slow, not lost). */
#define FOLD_MAX 256
/* Groups of one person we look at. */
#define GROUPS_MAX 1024

/* The commands that need the admin role. */
static const char *const admin_cmds[] = {
	"hold", "release", "requeue", "delete", "purge", "forget", "key-rotate", NULL,
};

/* The spool's owner (of its root). 0, or -1 with e. */
static int
spool_owner(const char *spool, uid_t *owner, ec_err *e)
{
	struct stat st;
	int fd = ec_spool_rootfd(spool, e);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot stat '%s': %s", spool, strerror(errno));
	*owner = st.st_uid;
	return 0;
}

/* The user name of uid into out ("uid N" when it has none). */
static void
user_name(uid_t uid, char *out, size_t cap)
{
	struct passwd *pw = getpwuid(uid);

	if (pw && pw->pw_name)
		snprintf(out, cap, "%s", pw->pw_name);
	else
		snprintf(out, cap, "uid %lu", (unsigned long)uid);
}

/*
 * Who asks: the person (the effective uid, or sudo's SUDO_UID when this process is
 * the owner's and sudo started it) and the person's groups. *sudo says which.
 * Returns the number of groups in gids, or -1 when they cannot be told.
 */
static int
caller(uid_t owner, uid_t *person, int *sudo, gid_t *gids, int cap)
{
	const char *s = getenv("SUDO_UID");
	char *end;
	unsigned long u;
	int n;

	*person = geteuid();
	*sudo = 0;
	if (*person == owner && s && *s) {
		errno = 0;
		u = strtoul(s, &end, 10);
		/* Root, who may become the owner anyway, is taken as the owner. */
		if (!*end && !errno && u > 0 && u < (unsigned long)(uid_t)-1 && (uid_t)u != owner) {
			struct passwd *pw = getpwuid((uid_t)u);
			*person = (uid_t)u;
			*sudo = 1;
			n = cap;
			if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, gids, &n) < 0)
				return -1;
			return n;
		}
	}
	if ((n = getgroups(cap - 1, gids)) < 0)
		return -1;
	gids[n++] = getegid();
	return n;
}

/* "epicadm, ops" from an array of names into out. */
static void
names_of(const json_t *arr, char *out, size_t cap)
{
	size_t i, o = 0;
	json_t *v;

	*out = '\0';
	json_array_foreach(arr, i, v)
		if (o < cap)
			o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", json_string_value(v));
}

/* Write a refusal drop into refused/: a dot-temp of ours, then renamed. 0 or -1 with e. */
static int
drop_refusal(const char *spool, const char *command, ec_err *e)
{
	char tmp[96], name[96], when[40], line[256];
	int dfd, fd = -1, n;

	ec_iso_time(when, sizeof when);
	n = snprintf(line, sizeof line, "{\"command\":\"%s\",\"time\":\"%s\"}\n", command, when);
	if ((dfd = ec_spool_open(spool, "refused", O_PATH, EC_OPEN_DIR | EC_OPEN_ANY_OWNER, NULL, e)) < 0)
		return -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		snprintf(tmp, sizeof tmp, ".%lld.%ld.%d.tmp", ec_now_ms(), (long)getpid(), i);
		if ((fd = ec_open_beneath(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0, NULL, e)) < 0 &&
		    errno != EEXIST)
			break;
	}
	if (fd < 0) {
		close(dfd);
		return -1;
	}
	snprintf(name, sizeof name, "%s", tmp + 1);
	strcpy(name + strlen(name) - 4, ".json");
	/* 0644: the owner, another user, must read it; nobody else can reach it. */
	if (fchmod(fd, 0644) < 0 || write(fd, line, (size_t)n) != n || close(fd) < 0 ||
	    renameat(dfd, tmp, dfd, name) < 0) {
		int err = errno;
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot write '%s/refused/%s': %s", spool, name,
		    strerror(err));
	}
	close(dfd);
	return 0;
}

/* The "refused" event: person, their name, and the command or why it is malformed. */
static json_t *
refused_event(uid_t uid, const char *command, const char *reason)
{
	char user[64];
	json_t *j;

	user_name(uid, user, sizeof user);
	j = json_pack("{s:s, s:I, s:o}", "event", "refused", "uid", (json_int_t)uid, "user",
	    getpwuid(uid) ? json_string(user) : json_null());
	if (j && command)
		json_object_set_new(j, "command", json_string(command));
	if (j && reason)
		json_object_set_new(j, "reason", json_string(reason));
	return j;
}

int
ec_role_require(const json_t *cfg, const char *spool, const char *command, ec_err *e)
{
	const json_t *roles = ec_json_get(cfg, "security.roles"), *admin;
	gid_t gids[GROUPS_MAX];
	char user[64], groups[512];
	uid_t owner, person;
	int n, sudo, r;
	size_t i;
	json_t *v, *ev;
	ec_err de;

	if (!json_is_object(roles))
		return 0;       /* no roles: the filesystem decides */
	if (!ec_in_list(admin_cmds, command))
		return ec_fail(e, EC_EXIT_REJECT, "'%s' is not an admin command", command);
	if (spool_owner(spool, &owner, e) < 0)
		return -1;
	n = caller(owner, &person, &sudo, gids, GROUPS_MAX);
	if (person == owner)
		return 0;
	admin = json_object_get(roles, "admin");
	json_array_foreach(admin, i, v) {
		struct group *g = getgrnam(json_string_value(v));
		for (int k = 0; g && k < n; k++)
			if (gids[k] == g->gr_gid)
				return 0;
	}
	/* Refused: recorded first, in the log when this process may write it (the
	 * owner's, through sudo), else as a drop for the owner to fold in. */
	if (geteuid() == owner) {
		ev = refused_event(person, command, NULL);
		if (ev)
			json_object_set_new(ev, "by", json_string("sudo"));
		r = ev ? ec_audit(spool, ev, &de) : ec_fail(&de, EC_EXIT_TEMP, "out of memory");
		json_decref(ev);
	} else
		r = drop_refusal(spool, command, &de);
	user_name(person, user, sizeof user);
	names_of(admin, groups, sizeof groups);
	return ec_fail(e, EC_EXIT_REJECT, "%s refused: user '%s' (uid %lu) is neither the spool's "
	    "owner nor in an admin group of security.roles (admin: %s)%s%s", command, user,
	    (unsigned long)person, *groups ? groups : "none",
	    r < 0 ? "; the refusal could not be recorded: " : "", r < 0 ? de.msg : "");
}

/* Is the drop buf exactly {"command": an admin command, "time": an RFC 3339 time}?
 * The command (borrowed from j) or NULL. */
static const char *
drop_command(json_t *j)
{
	const char *c = json_string_value(json_object_get(j, "command"));
	const char *t = json_string_value(json_object_get(j, "time"));
	long long sec;

	if (!json_is_object(j) || json_object_size(j) != 2 || !ec_in_list(admin_cmds, c) || !t ||
	    ec_time_parse(t, &sec, NULL, NULL, 0) < 0)
		return NULL;
	return c;
}

/*
 * Fold the drop dfd/name: read it the one way, audit it, remove it. What cannot be
 * removed (a stranger's directory with something in it) is renamed to a dot-name,
 * which no fold looks at again. 0, or -1 with e (the audit failed: the drop stays).
 */
static int
fold_one(const char *spool, int dfd, const char *name, ec_err *e)
{
	const char *command = NULL;
	struct stat st;
	json_t *j = NULL, *ev;
	char *buf = NULL, aside[NAME_MAX + 1];
	size_t len;
	int fd, r;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;       /* gone */
	if ((fd = ec_open_beneath(dfd, name, O_RDONLY, EC_OPEN_ANY_OWNER, &st, NULL)) >= 0) {
		buf = ec_read_fd(fd, name, DROP_MAX, &len, NULL);
		close(fd);
	}
	if (buf && (j = ec_json_loadb(buf, len, name, NULL)))
		command = drop_command(j);
	ev = refused_event(st.st_uid, command, command ? NULL : "malformed");
	if (ev && command)
		json_object_set(ev, "refusedAt", json_object_get(j, "time"));
	r = ev ? ec_audit(spool, ev, e) : ec_fail(e, EC_EXIT_TEMP, "out of memory");
	json_decref(ev);
	json_decref(j);
	free(buf);
	if (r < 0)
		return -1;
	if (unlinkat(dfd, name, 0) < 0 && ec_trash_remove(dfd, name) < 0 && errno != ENOENT) {
		snprintf(aside, sizeof aside, ".bad.%.*s", NAME_MAX - 5, name);
		renameat(dfd, name, dfd, aside);
	}
	return 0;
}

int
ec_roles_fold(const char *spool, ec_err *e)
{
	uid_t owner;
	char **names;
	int dfd, n = 0;

	if (spool_owner(spool, &owner, NULL) < 0 || owner != geteuid())
		return 0;       /* the owner's job */
	if ((dfd = ec_spool_open(spool, "refused", O_RDONLY, EC_OPEN_DIR, NULL, e)) < 0)
		return errno == ENOENT ? 0 : -1;
	/* One fold at a time (the watcher, epic audit, epic health): a drop is
	 * recorded once. Another fold under way does this one's work. */
	if (flock(dfd, LOCK_EX | LOCK_NB) < 0) {
		close(dfd);
		return 0;
	}
	if (!(names = ec_dir_names(dfd))) {
		close(dfd);
		return ec_fail(e, EC_EXIT_TEMP, "cannot read '%s/refused': %s", spool, strerror(errno));
	}
	for (size_t i = 0; names[i] && n < FOLD_MAX; i++, n++)
		if (fold_one(spool, dfd, names[i], e) < 0) {
			n = -1;
			break;
		}
	ec_names_free(names);
	close(dfd);
	return n;
}

/* ---- view copies ---------------------------------------------------------------- */

/* Make spool/rel a directory of group gid, mode 02750, if it is not one. 0 or -1 with e. */
static int
view_dir(const char *spool, const char *rel, gid_t gid, ec_err *e)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/%s", spool, rel);
	if (mkdir(path, 0700) == 0) {
		if (chown(path, (uid_t)-1, gid) < 0 || chmod(path, 02750) < 0)
			return ec_fail(e, EC_EXIT_TEMP, "cannot give '%s' to the view group: %s "
			    "(the spool's owner must be a member of it)", path, strerror(errno));
	} else if (errno != EEXIST)
		return ec_fail(e, EC_EXIT_TEMP, "cannot create '%s': %s", path, strerror(errno));
	/* Ours and a real directory, not a link planted there. */
	if ((fd = ec_spool_open(spool, rel, O_PATH, EC_OPEN_DIR, NULL, e)) < 0)
		return -1;
	close(fd);
	return 0;
}

int
ec_view_publish(const char *spool, const json_t *cfg, const char *id, ec_err *e)
{
	const char *group = json_string_value(json_array_get(ec_json_get(cfg, "security.roles.view"), 0));
	char rel[EC_MAX_ID + 32], path[PATH_MAX], *buf, *md;
	struct group *g;
	json_t *result;
	size_t len;
	int r;

	if (!group)
		return 0;
	if (!(g = getgrnam(group)))
		return ec_fail(e, EC_EXIT_REJECT, "security.roles.view: no group '%s'", group);
	snprintf(rel, sizeof rel, "view/%s", id);
	if (!ec_id_valid(id) || view_dir(spool, "view", g->gr_gid, e) < 0 ||
	    view_dir(spool, rel, g->gr_gid, e) < 0)
		return -1;
	snprintf(path, sizeof path, "done/%s/epic.json", id);
	if (!(buf = ec_spool_read(spool, path, EC_MAX_JSON_BYTES, &len, 0, e)))
		return -1;
	snprintf(path, sizeof path, "%s/%s/epic.json", spool, rel);
	r = ec_write_atomic(path, buf, len, EC_W_MODE_GROUP, e);
	/* The report from the same bytes, checked as every view checks a result. */
	result = r < 0 ? NULL : ec_json_loadb(buf, len, path, e);
	free(buf);
	if (!result || ec_schema_validate("epic-response", result, NULL, e) < 0) {
		json_decref(result);
		return -1;
	}
	md = ec_render_md(result, e);
	json_decref(result);
	if (!md)
		return -1;
	snprintf(path, sizeof path, "%s/%s/report.md", spool, rel);
	r = ec_write_atomic(path, md, strlen(md), EC_W_MODE_GROUP, e);
	free(md);
	return r < 0 ? -1 : 1;
}

int
ec_view_remove(const char *spool, const char *id, ec_err *e)
{
	struct stat st;
	int dfd, r = 0;

	if ((dfd = ec_spool_open(spool, "view", O_RDONLY, EC_OPEN_DIR, NULL, NULL)) < 0)
		return 0;       /* no view copies */
	if (ec_id_valid(id) && fstatat(dfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		r = ec_trash_entry(spool, dfd, "view", id, id, e) < 0 && errno != ENOENT ? -1 : 1;
	close(dfd);
	return r;
}
