/*
 * epic-key - the keys of encryption at rest (security.encryptAtRest) for an
 * operator: make the first one (new), see them and what each still seals (list),
 * rotate to a new one and re-seal the spool with it (rotate), and read a sealed file
 * (cat).
 *
 * The front door runs it: `epic key rotate` is `epic-key rotate`. Sealing and the
 * key store are the library's (crypt.c, keys.c); this file walks the spool's places,
 * parses command lines and prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypt.h"
#include "roles.h"

static const ec_sub subs[] = {
	{ "new", "[--spool DIR]",
	    "Make a key (32 random bytes from OpenSSL) in the key directory, mode 0600, and\n"
	    "print its id. The newest key is the one files are sealed with from then on;\n"
	    "make the first one before turning security.encryptAtRest on.\n" },
	{ "list", "[--json] [--spool DIR]",
	    "The keys in the key directory, the current one marked, and how many files of\n"
	    "the spool each one still seals (a key that seals none may be removed).\n\n"
	    "  -J, --json            JSON even on a terminal\n" },
	{ "rotate", "[--dry-run] [--config FILE] [--spool DIR]",
	    "Make a new key and re-seal with it every sealed file in done/, failed/,\n"
	    "deferred/, hold/ and the persona cache, keeping each file's mtime (make's\n"
	    "view of a task does not change); with security.encryptAtRest on, seal the\n"
	    "files there still in clear too. Tasks in active/ are left as they are: the\n"
	    "old keys stay readable, and `list` says when none is used any more. One\n"
	    "audit line says what was done.\n\n"
	    "  -n, --dry-run         count what would be re-sealed, change nothing\n"
	    "  -c, --config FILE     the configuration (its security.encryptAtRest)\n" },
	{ "cat", "FILE...",
	    "Print each file as the tools read it: a sealed one opened (it must be in its\n"
	    "place in the spool: a sealed file is bound to its path), a plain one as is.\n" },
	{ NULL, NULL, NULL },
};

static const ec_sub *current;

static void
usage(int code)
{
	ec_usage_exit(ec_sub_usage(subs, current, !code,
	    "The keys of encryption at rest: make one, list them, rotate, read a sealed file.\n"
	    "The key directory is $EPIC_KEY_DIR, else $CREDENTIALS_DIRECTORY (systemd's\n"
	    "LoadCredential=), else ~/.config/epic-creator/keys. 'SUBCOMMAND --help' says more.\n",
	    "\n  -s, --spool DIR       the spool (default $EPIC_SPOOL, then ./spool)\n"
	    "  -h, --help            this help\n"
	    "  -V, --version         print the version\n\n"
	    "Exit: 0 ok, 1 a file fails authentication or is not readable as asked, 2 usage,\n"
	    "111 temporary failure (a key missing or not private, I/O).\n"), code);
}

/* What a walk of the spool found and did. */
typedef struct walk {
	const char *spool;
	const char *key;        /* rotate: the new key's id; NULL: only count */
	int seal_plain;         /* rotate: seal covered files still in clear */
	int dry;
	json_t *per_key;        /* key id -> files it sealed when met (list) */
	long long resealed, sealed, plain, failed, active;
} walk;

/* Re-seal (or seal) one regular file, rel below the spool, keeping its mtime. */
static void
visit_file(walk *w, const char *rel, int in_active)
{
	char id[EC_KEY_ID_MAX + 1], bind[PATH_MAX], path[PATH_MAX * 2];
	struct stat st;
	size_t len, plen;
	ec_err e;
	char *raw, *plain = NULL;
	int fd, sealed, todo;

	if ((fd = ec_spool_open(w->spool, rel, O_RDONLY, 0, &st, &e)) < 0)
		return;         /* a link, a FIFO, a stranger's: not ours to seal */
	raw = ec_read_fd_raw(fd, rel, EC_MAX_REQUEST_BYTES * 4, &len, &e);
	if (!raw || ec_crypt_binding(rel, fd, bind, sizeof bind) < 0) {
		close(fd);
		free(raw);
		return;
	}
	close(fd);
	sealed = ec_crypt_key_id(raw, len, id) == 0;
	if (sealed) {
		json_t *n = json_object_get(w->per_key, id);
		json_object_set_new(w->per_key, id, json_integer(json_integer_value(n) + 1));
	} else if (ec_crypt_covers(bind))
		w->plain++;
	todo = w->key && (sealed ? strcmp(id, w->key) != 0 : w->seal_plain && ec_crypt_covers(bind));
	if (todo && in_active) {
		w->active++;
		todo = 0;
	}
	if (!todo || w->dry) {
		if (todo)
			sealed ? w->resealed++ : w->sealed++;
		free(raw);
		return;
	}
	snprintf(path, sizeof path, "%s/%s", w->spool, rel);
	if (sealed && !(plain = ec_crypt_open(bind, path, raw, len, &plen, &e))) {
		ec_warn("%s", e.msg);
		w->failed++;
	} else if (ec_write_atomic(path, sealed ? plain : raw, sealed ? plen : len,
	    EC_W_MODE_PRIVATE, &e) < 0) {
		ec_warn("%s", e.msg);
		w->failed++;
	} else {
		struct timespec t[2] = { st.st_atim, st.st_mtim };
		utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW);
		sealed ? w->resealed++ : w->sealed++;
	}
	if (plain)
		ec_wipe_free(plain, plen);
	free(raw);
}

/* Every file below rel (a directory), depth levels down. */
static void
visit_dir(walk *w, const char *rel, int depth, int in_active)
{
	char sub[PATH_MAX];
	char **names;
	ec_err e;
	int dfd = ec_spool_open(w->spool, rel, O_RDONLY, EC_OPEN_DIR, NULL, &e);

	if (dfd < 0)
		return;
	names = ec_dir_names(dfd);
	for (size_t i = 0; names && names[i]; i++) {
		struct stat st;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		snprintf(sub, sizeof sub, "%s/%s", rel, names[i]);
		if (S_ISDIR(st.st_mode) && depth > 0)
			visit_dir(w, sub, depth - 1, in_active);
		else if (S_ISREG(st.st_mode))
			visit_file(w, sub, in_active);
	}
	ec_names_free(names);
	close(dfd);
}

/* The places a sealed file may be: task directories (ID/ and ID/personas/) and
 * cache entries (cache/ab/). Dot-names are skipped by ec_dir_names. */
static void
visit_spool(walk *w)
{
	static const char *const states[] = { "done", "failed", "deferred", "hold", "active" };
	char **names;
	int dfd;
	ec_err e;

	for (size_t i = 0; i < sizeof states / sizeof *states; i++)
		visit_dir(w, states[i], 2, !strcmp(states[i], "active"));
	if ((dfd = ec_spool_open(w->spool, "cache", O_RDONLY, EC_OPEN_DIR, NULL, &e)) < 0)
		return;
	names = ec_dir_names(dfd);
	close(dfd);
	for (size_t i = 0; names && names[i]; i++)
		if (strlen(names[i]) == 2 && strspn(names[i], "0123456789abcdef") == 2) {
			char rel[16];
			snprintf(rel, sizeof rel, "cache/%s", names[i]);
			visit_dir(w, rel, 0, 0);
		}
	ec_names_free(names);
}

static int
cmd_new(void)
{
	char id[EC_KEY_ID_MAX + 1];
	ec_err e;

	if (ec_key_new(id, &e) < 0)
		ec_die_err(&e);
	printf("%s\n", id);
	ec_info("made key '%s' in %s; it seals what is written from now on", id, ec_key_dir());
	return ec_close_stdout();
}

static int
cmd_list(const char *spool, int json)
{
	walk w = { .spool = spool, .per_key = json_object() };
	char cur[EC_KEY_ID_MAX + 1] = "";
	unsigned char key[EC_KEY_BYTES];
	char **ids;
	json_t *out = json_array();
	ec_err e;
	int rc = EC_EXIT_OK;

	if (!(ids = ec_key_ids(&e)))
		ec_die_err(&e);
	if (ids[0] && ec_key_current(cur, key, &e) < 0)
		ec_warn("%s", e.msg);
	visit_spool(&w);
	for (size_t i = 0; ids[i]; i++) {
		ec_err ke;
		json_int_t files = json_integer_value(json_object_get(w.per_key, ids[i]));
		int ok = ec_key_get(ids[i], key, &ke) == 0;
		json_array_append_new(out, json_pack("{s:s, s:b, s:I, s:s*}", "id", ids[i],
		    "current", !strcmp(ids[i], cur), "files", files, "problem", ok ? NULL : ke.msg));
		json_object_del(w.per_key, ids[i]);
	}
	/* Files sealed with a key that is not in the directory cannot be read. */
	{
		const char *k;
		json_t *n;
		json_object_foreach(w.per_key, k, n)
			if (json_integer_value(n) > 0) {
				json_array_append_new(out, json_pack("{s:s, s:b, s:O, s:s}", "id", k,
				    "current", 0, "files", n, "problem", "missing from the key directory"));
				rc = EC_EXIT_TEMP;
			}
	}
	if (json) {
		if (ec_json_write(NULL, out, 0, &e) < 0)
			ec_die_err(&e);
	} else {
		size_t i;
		json_t *x;
		printf("%s\n", ec_key_dir());
		json_array_foreach(out, i, x)
			printf("%c %-24s %6lld file%s%s%s\n", json_is_true(json_object_get(x, "current")) ? '*' : ' ',
			    ec_json_get_str(x, "id", ""), (long long)ec_json_get_int(x, "files", 0),
			    ec_json_get_int(x, "files", 0) == 1 ? "" : "s",
			    json_object_get(x, "problem") ? "  " : "", ec_json_get_str(x, "problem", ""));
		if (!json_array_size(out))
			printf("no keys: make one with 'epic key new'\n");
		if (w.plain)
			printf("%lld file%s in clear that encryption would seal\n", w.plain, w.plain == 1 ? "" : "s");
	}
	json_decref(out);
	json_decref(w.per_key);
	ec_names_free(ids);
	return rc ? rc : ec_close_stdout();
}

static int
cmd_rotate(const char *spool, const char *cfgpath, int dry)
{
	walk w = { .spool = spool, .per_key = json_object(), .dry = dry };
	char id[EC_KEY_ID_MAX + 1] = "(new)";
	ec_err e;
	json_t *cfg = ec_config_load(cfgpath, &e), *ev;
	int rootfd;

	if (!cfg || ec_role_require(cfg, spool, "key-rotate", &e) < 0)
		ec_die_err(&e);
	w.seal_plain = ec_crypt_on();
	json_decref(cfg);
	if (!dry && ec_key_new(id, &e) < 0)
		ec_die_err(&e);
	w.key = id;
	/* Writes seal from here on, with the new key, whatever the config says: a
	 * sealed file is re-sealed, never written back in clear. */
	ec_crypt_enable(1);
	if (!dry) {
		ev = json_pack("{s:s, s:I, s:s}", "event", "key-rotate", "uid", (json_int_t)geteuid(),
		    "key", id);
		if (ec_audit(spool, ev, &e) < 0)
			ec_die_err(&e);
		json_decref(ev);
	}
	visit_spool(&w);
	/* One sync for all: until it is done the old key opens every file anyway. */
	if (!dry && (rootfd = ec_spool_open(spool, "done", O_RDONLY, EC_OPEN_DIR, NULL, &e)) >= 0) {
		if (syncfs(rootfd) < 0)
			ec_warn("cannot sync the spool: %s", strerror(errno));
		close(rootfd);
	}
	printf("%s key %s: %lld file%s re-sealed, %lld sealed that were in clear, %lld in "
	    "active/ left for later%s\n", dry ? "would make" : "made", id, w.resealed,
	    w.resealed == 1 ? "" : "s", w.sealed, w.active, w.failed ? "" : "");
	if (w.failed)
		ec_warn("%lld file%s could not be re-sealed (named above); their keys stay needed",
		    w.failed, w.failed == 1 ? "" : "s");
	json_decref(w.per_key);
	if (ec_close_stdout())
		return EC_EXIT_TEMP;
	return w.failed ? EC_EXIT_TEMP : EC_EXIT_OK;
}

static int
cmd_cat(int argc, char **argv)
{
	int rc = EC_EXIT_OK;

	for (int i = 0; i < argc; i++) {
		ec_err e;
		size_t len;
		char *buf = ec_read_file(argv[i], EC_MAX_REQUEST_BYTES * 4, &len, &e);
		if (!buf) {
			ec_warn("%s", e.msg);
			if (rc != EC_EXIT_TEMP)
				rc = e.code;
			continue;
		}
		if (fwrite(buf, 1, len, stdout) != len)
			rc = EC_EXIT_TEMP;
		ec_wipe_free(buf, len);
	}
	if (ec_close_stdout())
		return EC_EXIT_TEMP;
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'J' },
		{ "spool", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spool = NULL, *cfgpath = NULL, *cmd;
	int c, json = 0, dry = 0;

	ec_setprogname(argv[0]);
	cmd = argc > 1 ? argv[1] : NULL;
	current = ec_sub_main(subs, cmd, usage);
	argc--, argv++;
	while ((c = getopt_long(argc, argv, !strcmp(cmd, "rotate") ? "c:hns:V" :
	    !strcmp(cmd, "list") ? "hJs:V" : !strcmp(cmd, "new") ? "hs:V" : "hV",
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'J': json = 1; break;
		case 'n': dry = 1; break;
		case 's': spool = optarg; break;
		case 'V': printf("epic-key %s\n", EC_VERSION); return EC_EXIT_OK;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if ((strcmp(cmd, "rotate") && (dry || cfgpath)) || (strcmp(cmd, "list") && json) ||
	    (!strcmp(cmd, "cat") && spool)) {
		ec_warn("an option of another subcommand given to %s", cmd);
		usage(EC_EXIT_USAGE);
	}
	if (!strcmp(cmd, "cat")) {
		if (optind >= argc) {
			ec_warn("cat needs at least one FILE");
			usage(EC_EXIT_USAGE);
		}
		return cmd_cat(argc - optind, argv + optind);
	}
	if (optind < argc) {
		ec_warn("unexpected argument '%s'", argv[optind]);
		usage(EC_EXIT_USAGE);
	}
	if (!strcmp(cmd, "new"))
		return cmd_new();
	spool = ec_spool_root(spool);
	if (!strcmp(cmd, "list"))
		return cmd_list(spool, json | !isatty(STDOUT_FILENO));
	return cmd_rotate(spool, cfgpath, dry);
}
