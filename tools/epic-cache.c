/*
 * epic-cache - the persona output cache (spool/cache/) for an operator: what is in
 * it and how well it serves (stats), pruning it (purge), and checking every entry,
 * setting the corrupt ones aside (verify).
 *
 * The front door runs it: `epic cache stats` is `epic-cache stats`. Judging and
 * moving entries is the library's (cacheadmin.c, as cache.c's readers would judge
 * them); this file parses command lines, chooses and prints.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cacheadmin.h"

static const ec_sub subs[] = {
	{ "stats", "[--json] [--config FILE] [--spool DIR]",
	    "What the cache holds: entries and bytes, the oldest and newest, entries per\n"
	    "persona, how many are expired (past the config's coordination.cacheTTL) or\n"
	    "stale (recorded for a persona version that is no longer the registration's),\n"
	    "the hit rate the tasks recorded, and the sizes of cache/valid/ and\n"
	    "cache/rulebases/; a table on a terminal, JSON otherwise.\n\n"
	    "  -J, --json            JSON even on a terminal\n"
	    "  -c, --config FILE     the configuration (its cacheTTL)\n" },
	{ "purge", "[--older-than AGE] [--expired] [--stale] [--all] [--dry-run] [--json]\n"
	    "                        [--config FILE] [--spool DIR]",
	    "Remove the entries that match any of the criteria given (one at least), and\n"
	    "what is not an entry at all (a symbolic link, a name that is no key, what does\n"
	    "not parse). Each entry is renamed away and then unlinked: a reader that has it\n"
	    "open reads on. One audit line says what was removed.\n\n"
	    "  -o, --older-than AGE  created longer ago than AGE: N followed by s, m, h, d\n"
	    "                        or w (7d, 12h)\n"
	    "  -e, --expired         past the TTL in force (coordination.cacheTTL)\n"
	    "  -S, --stale           recorded for another version of its persona, or for a\n"
	    "                        persona that is not registered\n"
	    "  -a, --all             every entry, and cache/valid/ and cache/rulebases/\n"
	    "                        (recomputed when next needed)\n"
	    "  -n, --dry-run         say what would be removed, remove nothing\n"
	    "  -J, --json            JSON even on a terminal\n"
	    "  -c, --config FILE     the configuration (its cacheTTL)\n" },
	{ "verify", "[--json] [--spool DIR]",
	    "Read every entry and check it as a reader would: a regular file, named by a\n"
	    "key (64 hex digits) in the directory of its first two, JSON with the fields\n"
	    "an entry has, recording the key it is named by; and the kept files of\n"
	    "cache/valid/ and cache/rulebases/. Set each one that is not so aside into\n"
	    "cache/corrupt/, naming it and what is wrong on stderr. Exit 1 if any was.\n\n"
	    "  -J, --json            JSON even on a terminal\n" },
	{ NULL, NULL, NULL },
};

static const ec_sub *current;

static void
usage(int code)
{
	ec_usage_exit(ec_sub_usage(subs, current, !code,
	    "The persona output cache: what it holds, pruning it, checking it.\n"
	    "'SUBCOMMAND --help' says more.\n",
	    "\n  -s, --spool DIR       the spool (default $EPIC_SPOOL, then ./spool)\n"
	    "  -h, --help            this help\n"
	    "  -V, --version         print the version\n\n"
	    "Exit: 0 ok, 1 a corrupt entry was found (verify), the configuration or a\n"
	    "registration is wrong, 2 usage, 111 temporary failure (I/O).\n"), code);
}

/* "7d", "12h", "30m", "90s", "2w" (or bare seconds) into seconds; -1 if not one. */
static long long
parse_age(const char *s)
{
	char *end;
	long long n, mul = 1;

	errno = 0;
	if (!ec_is_digit((unsigned char)*s) || ((n = strtoll(s, &end, 10)), errno))
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 7 * 86400; break;
	default: return -1;
	}
	if (*end && end[1])
		return -1;
	return n > EC_MAX_COUNT ? -1 : n * mul;
}

/* The TTL in force: the configuration's coordination.cacheTTL (exits 1 when the
 * configuration is wrong). */
static long long
config_ttl(const char *cfgpath)
{
	ec_err e;
	json_t *cfg = ec_config_load(cfgpath, &e);
	long long ttl;

	if (!cfg)
		ec_die_err(&e);
	ttl = ec_json_get_int(cfg, "coordination.cacheTTL", 86400);
	json_decref(cfg);
	return ttl;
}

static json_t *
time_or_null(long long sec)
{
	char t[32];

	if (sec < 0)
		return json_null();
	ec_time_format(sec * 1000, t);
	return json_string(t);
}

/* "1.2 KiB" for people. */
static const char *
human(long long b, char out[32])
{
	if (b < 1024)
		snprintf(out, 32, "%lld B", b);
	else if (b < 1024 * 1024)
		snprintf(out, 32, "%.1f KiB", b / 1024.0);
	else
		snprintf(out, 32, "%.1f MiB", b / (1024.0 * 1024));
	return out;
}

static int
print_json(const json_t *j)
{
	ec_err e;

	if (ec_json_write(NULL, j, 0, &e) < 0) {
		ec_warn("%s", e.msg);
		return EC_EXIT_TEMP;
	}
	return EC_EXIT_OK;
}

/* stats: what is in the cache, as JSON (stats_table shows it to people). */
static json_t *
stats(const char *spool, const char *cfgpath)
{
	long long ttl = config_ttl(cfgpath), now = ec_now_ms() / 1000, bytes = 0, oldest = -1,
	    newest = -1, expired = 0, stale = 0, nbad = 0, nlocked = 0, hits, misses, f, b;
	const char *source;
	ec_registry reg = { 0 };
	ec_cscan s;
	ec_err e;
	json_t *per = json_object(), *j;
	int have_reg = ec_registry_load(&reg, &e) == 0;

	if (!have_reg)
		ec_warn("stale entries not judged: %s", e.msg);
	if (ec_cache_scan(spool, have_reg ? &reg : NULL, ttl, now, &s, &e) < 0)
		ec_die_err(&e);
	for (size_t i = 0; i < s.n; i++) {
		const ec_centry *c = &s.v[i];
		json_t *p;
		bytes += c->size;
		if (c->bad) {
			nbad++;
			continue;
		}
		if (c->locked) {        /* counted in entries; its content is unknown */
			if (!nlocked++)
				ec_warn("%s: %s", c->rel, c->why);
			continue;
		}
		if (oldest < 0 || c->created < oldest)
			oldest = c->created;
		if (newest < 0 || c->created > newest)
			newest = c->created;
		expired += c->expired;
		stale += c->stale;
		if (!(p = json_object_get(per, c->persona))) {
			p = json_pack("{s:I, s:I, s:I, s:I}", "entries", (json_int_t)0, "bytes",
			    (json_int_t)0, "expired", (json_int_t)0, "stale", (json_int_t)0);
			json_object_set_new(per, c->persona, p);
		}
		json_object_set_new(p, "entries", json_integer(json_integer_value(json_object_get(p, "entries")) + 1));
		json_object_set_new(p, "bytes", json_integer(json_integer_value(json_object_get(p, "bytes")) + c->size));
		json_object_set_new(p, "expired", json_integer(json_integer_value(json_object_get(p, "expired")) + c->expired));
		json_object_set_new(p, "stale", json_integer(json_integer_value(json_object_get(p, "stale")) + c->stale));
	}
	ec_cache_hits(spool, &hits, &misses, &source);
	j = json_pack("{s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:I, s:o, s:I, s:I, s:o, s:s}",
	    "entries", (json_int_t)s.n, "bytes", (json_int_t)bytes, "bad", (json_int_t)nbad,
	    "oldest", time_or_null(oldest), "newest", time_or_null(newest), "personas", per,
	    "ttl", (json_int_t)ttl, "expired", (json_int_t)expired,
	    "stale", have_reg ? json_integer(stale) : json_null(),
	    "hits", (json_int_t)hits, "misses", (json_int_t)misses,
	    "hitRate", hits + misses ? json_real((double)hits / (double)(hits + misses)) : json_null(),
	    "hitSource", source);
	ec_cache_dir_usage(spool, "valid", &f, &b);
	json_object_set_new(j, "valid", json_pack("{s:I, s:I}", "files", (json_int_t)f, "bytes", (json_int_t)b));
	ec_cache_dir_usage(spool, "rulebases", &f, &b);
	json_object_set_new(j, "rulebases", json_pack("{s:I, s:I}", "files", (json_int_t)f, "bytes", (json_int_t)b));
	ec_cscan_free(&s);
	ec_registry_free(&reg);
	return j;
}

/* The stats for people: a few lines, then one per persona. */
static void
stats_table(const json_t *j)
{
	char h[32], t[20];
	const char *k;
	json_t *p;

	char st[24] = "?";

	if (json_is_integer(json_object_get(j, "stale")))
		snprintf(st, sizeof st, "%lld", (long long)ec_json_get_int(j, "stale", 0));
	printf("%-12s%lld (%lld expired, %s stale, %lld bad), %s\n", "entries",
	    (long long)ec_json_get_int(j, "entries", 0), (long long)ec_json_get_int(j, "expired", 0),
	    st, (long long)ec_json_get_int(j, "bad", 0), human(ec_json_get_int(j, "bytes", 0), h));
	snprintf(t, sizeof t, "%.19s", ec_json_get_str(j, "oldest", "-"));
	printf("%-12s%s\n", "oldest", t);
	snprintf(t, sizeof t, "%.19s", ec_json_get_str(j, "newest", "-"));
	printf("%-12s%s\n", "newest", t);
	printf("%-12s%lld s\n", "ttl", (long long)ec_json_get_int(j, "ttl", 0));
	if (json_is_real(json_object_get(j, "hitRate")))
		printf("%-12s%.0f%% (%lld hits, %lld misses, from %s)\n", "hit rate",
		    100 * json_real_value(json_object_get(j, "hitRate")), (long long)ec_json_get_int(j, "hits", 0),
		    (long long)ec_json_get_int(j, "misses", 0), ec_json_get_str(j, "hitSource", ""));
	else
		printf("%-12s-\n", "hit rate");
	printf("%-12s%lld files, %s\n", "valid/", (long long)ec_json_get_int(j, "valid.files", 0),
	    human(ec_json_get_int(j, "valid.bytes", 0), h));
	printf("%-12s%lld files, %s\n", "rulebases/", (long long)ec_json_get_int(j, "rulebases.files", 0),
	    human(ec_json_get_int(j, "rulebases.bytes", 0), h));
	if (!json_object_size(json_object_get(j, "personas")))
		return;
	printf("\n%-24s %8s %10s %8s %6s\n", "PERSONA", "ENTRIES", "BYTES", "EXPIRED", "STALE");
	json_object_foreach(json_object_get(j, "personas"), k, p)
		printf("%-24s %8lld %10s %8lld %6lld\n", k, (long long)ec_json_get_int(p, "entries", 0),
		    human(ec_json_get_int(p, "bytes", 0), h), (long long)ec_json_get_int(p, "expired", 0),
		    (long long)ec_json_get_int(p, "stale", 0));
}

/* What purge removes. */
typedef struct criteria {
	long long older;        /* seconds, or -1 */
	const char *older_text;
	int expired, stale, all, dry;
} criteria;

/* Why entry c goes under cr, or NULL when it stays. */
static const char *
chosen(const ec_centry *c, const criteria *cr, long long now)
{
	if (c->bad)
		return c->dir ? NULL : "bad";
	if (c->locked)          /* sealed with a key we lack: only its age is known */
		return cr->all ? "all" : cr->older >= 0 && now - c->created > cr->older ? "older" : NULL;
	if (cr->all)
		return "all";
	if (cr->older >= 0 && now - c->created > cr->older)
		return "older";
	if (cr->expired && c->expired)
		return "expired";
	if (cr->stale && c->stale)
		return "stale";
	return NULL;
}

static int
purge(const char *spool, const char *cfgpath, const criteria *cr, int json)
{
	long long ttl = config_ttl(cfgpath), now = ec_now_ms() / 1000, bytes = 0, removed = 0,
	    vf = 0, vb, rf = 0, rb;
	ec_registry reg = { 0 };
	ec_cscan s;
	ec_err e;
	json_t *list = json_array(), *out;
	int rc = EC_EXIT_OK;
	char crit[128];

	if (cr->stale && ec_registry_load(&reg, &e) < 0)
		ec_die_err(&e);
	if (ec_cache_scan(spool, cr->stale ? &reg : NULL, ttl, now, &s, &e) < 0)
		ec_die_err(&e);
	for (size_t i = 0; i < s.n; i++) {
		const char *why = chosen(&s.v[i], cr, now);
		if (!why)
			continue;
		json_array_append_new(list, json_pack("{s:s, s:s, s:I}", "path", s.v[i].rel, "reason", why,
		    "bytes", (json_int_t)s.v[i].size));
		removed++, bytes += s.v[i].size;
	}
	if (cr->all) {
		ec_cache_dir_usage(spool, "valid", &vf, &vb);
		ec_cache_dir_usage(spool, "rulebases", &rf, &rb);
	}
	snprintf(crit, sizeof crit, "%s%s%s%s%s", cr->older >= 0 ? "--older-than " : "",
	    cr->older >= 0 ? cr->older_text : "", cr->expired ? " --expired" : "",
	    cr->stale ? " --stale" : "", cr->all ? " --all" : "");
	if (!cr->dry) {
		/* Written before what it records: a crash between leaves an audit line
		 * for entries still there, never a removal unrecorded. */
		json_t *ev = json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:I}", "event", "cache-purge",
		    "uid", (json_int_t)geteuid(), "criteria", crit[0] == ' ' ? crit + 1 : crit,
		    "removed", (json_int_t)removed, "bytes", (json_int_t)bytes, "valid", (json_int_t)vf,
		    "rulebases", (json_int_t)rf);
		if (ec_audit(spool, ev, &e) < 0)
			ec_die_err(&e);
		json_decref(ev);
		for (size_t i = 0; i < s.n; i++)
			if (chosen(&s.v[i], cr, now) && ec_cache_remove(spool, &s.v[i], &e) < 0) {
				ec_warn("%s", e.msg);
				rc = EC_EXIT_TEMP;
			}
		if (cr->all && (ec_cache_dir_clear(spool, "valid", &vf, &e) < 0 ||
		    ec_cache_dir_clear(spool, "rulebases", &rf, &e) < 0)) {
			ec_warn("%s", e.msg);
			rc = EC_EXIT_TEMP;
		}
	}
	out = json_pack("{s:b, s:I, s:I, s:I, s:I, s:o}", "dryRun", cr->dry, "removed", (json_int_t)removed,
	    "bytes", (json_int_t)bytes, "valid", (json_int_t)vf, "rulebases", (json_int_t)rf, "entries", list);
	if (json) {
		int r = print_json(out);
		rc = rc ? rc : r;
	} else {
		size_t i;
		json_t *x;
		char h[32], shown[600];
		json_array_foreach(list, i, x)
			printf("%s %s (%s)\n", cr->dry ? "would remove" : "removed",
			    ec_escape_controls(ec_json_get_str(x, "path", ""), shown, sizeof shown),
			    ec_json_get_str(x, "reason", ""));
		printf("%s %lld entr%s, %s%s\n", cr->dry ? "would remove" : "removed", removed,
		    removed == 1 ? "y" : "ies", human(bytes, h), cr->all ? ", and cache/valid/ and cache/rulebases/" : "");
	}
	json_decref(out);
	ec_cscan_free(&s);
	ec_registry_free(&reg);
	return rc ? rc : ec_close_stdout();
}

static int
verify(const char *spool, int json)
{
	ec_cscan s;
	ec_err e;
	json_t *list = json_array(), *out;
	long long nbad = 0;
	int rc = EC_EXIT_OK;

	/* The TTL and versions play no part: verify judges form, not freshness. */
	if (ec_cache_scan(spool, NULL, 0, 0, &s, &e) < 0)
		ec_die_err(&e);
	ec_cache_scan_kept(spool, &s);
	for (size_t i = 0; i < s.n; i++) {
		nbad += s.v[i].bad;
		if (s.v[i].locked) {    /* not judged, never set aside: the key is missing */
			ec_warn("%s: %s", s.v[i].rel, s.v[i].why);
			rc = EC_EXIT_TEMP;
		}
	}
	if (nbad) {
		json_t *ev = json_pack("{s:s, s:I, s:I, s:I}", "event", "cache-verify", "uid",
		    (json_int_t)geteuid(), "checked", (json_int_t)s.n, "corrupt", (json_int_t)nbad);
		if (ec_audit(spool, ev, &e) < 0)
			ec_die_err(&e);
		json_decref(ev);
	}
	for (size_t i = 0; i < s.n; i++) {
		const ec_centry *c = &s.v[i];
		int r;
		if (!c->bad)
			continue;
		ec_warn("%s: %s", c->rel, c->why);
		if ((r = ec_cache_set_aside(spool, c, &e)) < 0) {
			ec_warn("%s", e.msg);
			rc = EC_EXIT_TEMP;
			continue;
		}
		json_array_append_new(list, json_pack("{s:s, s:s}", "path", c->rel, "problem", c->why));
	}
	out = json_pack("{s:I, s:I, s:o}", "checked", (json_int_t)s.n, "corrupt", (json_int_t)nbad,
	    "setAside", list);
	if (json) {
		int r = print_json(out);
		rc = rc ? rc : r;
	} else
		printf("checked %zu, %lld corrupt%s\n", s.n, nbad, nbad ? ", set aside into cache/corrupt/" : "");
	json_decref(out);
	ec_cscan_free(&s);
	if (!rc && nbad)
		rc = EC_EXIT_REJECT;
	if (ec_close_stdout())
		return EC_EXIT_TEMP;
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "expired", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'J' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "spool", required_argument, NULL, 's' },
		{ "stale", no_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spool = NULL, *cfgpath = NULL, *cmd;
	criteria cr = { .older = -1 };
	int c, json = 0;

	ec_setprogname(argv[0]);
	cmd = argc > 1 ? argv[1] : NULL;
	current = ec_sub_main(subs, cmd, usage);
	argc--, argv++;
	while ((c = getopt_long(argc, argv, !strcmp(cmd, "purge") ? "ac:ehJno:s:SV" :
	    !strcmp(cmd, "stats") ? "c:hJs:V" : "hJs:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': cr.all = 1; break;
		case 'c': cfgpath = optarg; break;
		case 'e': cr.expired = 1; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'J': json = 1; break;
		case 'n': cr.dry = 1; break;
		case 'o':
			if ((cr.older = parse_age(optarg)) < 0) {
				ec_warn("--older-than takes an age such as 7d or 12h, not '%s'", optarg);
				usage(EC_EXIT_USAGE);
			}
			cr.older_text = optarg;
			break;
		case 's': spool = optarg; break;
		case 'S': cr.stale = 1; break;
		case 'V': printf("epic-cache %s\n", EC_VERSION); return EC_EXIT_OK;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (optind < argc) {
		ec_warn("unexpected argument '%s'", argv[optind]);
		usage(EC_EXIT_USAGE);
	}
	/* Options of another subcommand: getopt_long takes long names of any. */
	if ((strcmp(cmd, "purge") && (cr.all || cr.expired || cr.stale || cr.dry || cr.older >= 0)) ||
	    (!strcmp(cmd, "verify") && cfgpath)) {
		ec_warn("an option of another subcommand given to %s", cmd);
		usage(EC_EXIT_USAGE);
	}
	spool = ec_spool_root(spool);
	json |= !isatty(STDOUT_FILENO);
	if (!strcmp(cmd, "stats")) {
		json_t *j = stats(spool, cfgpath);
		int rc = EC_EXIT_OK;
		if (json)
			rc = print_json(j);
		else
			stats_table(j);
		json_decref(j);
		return rc ? rc : ec_close_stdout();
	}
	if (!strcmp(cmd, "purge")) {
		if (!cr.all && !cr.expired && !cr.stale && cr.older < 0) {
			ec_warn("purge needs what to remove: --older-than AGE, --expired, --stale or --all");
			usage(EC_EXIT_USAGE);
		}
		return purge(spool, cfgpath, &cr, json);
	}
	return verify(spool, json);
}
