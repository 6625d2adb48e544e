/*
 * config.c - the configuration file (pipeline/epic-creator.yml by default).
 *
 * YAML in, validated against schemas/config.schema.json, defaults filled from the
 * same schema: the schema is the one place the keys, their types, ranges and
 * defaults are written down. An unknown key or a bad value is an error naming the
 * file:line:col and the key path, never a silent fallback. The result is kept per
 * content in the spool's cache/valid/ (in binary, jsonbin.c), and a task's tools
 * read the task's config.json, which epic-parse resolved and stamped, as it is.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "crypt.h"

#define CONFIG_MAX_BYTES (1u << 20)

/* "line:col" of the longest prefix of path present in lines, or NULL. */
static const char *
where(const json_t *lines, const char *path)
{
	char p[512];

	snprintf(p, sizeof p, "%s", path);
	for (;;) {
		const char *lc = json_string_value(json_object_get(lines, p));
		char *cut;
		if (lc)
			return lc;
		cut = strrchr(p, '.');
		{
			char *br = strrchr(p, '[');
			if (br && (!cut || br > cut))
				cut = br;
		}
		if (!cut || cut == p + 1)
			return NULL;
		*cut = '\0';
	}
}

const char *
ec_config_path(const char *opt)
{
	static char dflt[4096];
	const char *env = getenv("EPIC_CONFIG");

	if (opt)
		return opt;
	if (env && *env)
		return env;
	snprintf(dflt, sizeof dflt, "%s/epic-creator.yml", ec_datadir());
	/* No default file at all (a bare install) means all defaults. */
	return ec_exists(dflt) ? dflt : NULL;
}

/*
 * The config resolved from these bytes (checked, defaults filled), as kept in the
 * spool's cache/valid/ by an earlier process, or NULL. The name holds the XXH3 of
 * the config schema (which also gives the defaults) and of the bytes.
 */
static void
kept_name(const char *buf, size_t len, char *rel, size_t cap)
{
	const char *schema = ec_schema_text("config");
	char sh[17], dh[17];

	ec_xxh3_hex(schema ? schema : "", schema ? strlen(schema) : 0, sh);
	ec_xxh3_hex(buf, len, dh);
	snprintf(rel, cap, "cache/valid/config-resolved.%s.%s", sh, dh);
}

static json_t *
kept_config(const char *buf, size_t len)
{
	char rel[200], *kept;
	size_t klen;
	json_t *cfg;

	kept_name(buf, len, rel, sizeof rel);
	if (!(kept = ec_spool_read(ec_spool_root(NULL), rel, CONFIG_MAX_BYTES * 4, &klen, 0, NULL)))
		return NULL;
	cfg = ec_jsonbin_decode(kept, klen);
	free(kept);
	return cfg;
}

/* Keep the resolved config (ec_spool_keep). */
static void
keep_config(const char *buf, size_t len, const json_t *cfg)
{
	char rel[200], *bin;
	size_t blen;

	kept_name(buf, len, rel, sizeof rel);
	if ((bin = ec_jsonbin_encode(cfg, &blen)))
		ec_spool_keep(ec_spool_root(NULL), rel, bin, blen);
	free(bin);
}

/* The process seals what it writes (crypt.c) and redacts the requests it keeps
 * (pii.c) as the config it read says. */
static json_t *
protection(json_t *cfg)
{
	json_t *sec = json_object_get(cfg, "security");

	ec_crypt_enable(json_is_true(json_object_get(sec, "encryptAtRest")));
	ec_pii_redact_requests(json_is_true(json_object_get(sec, "redactRequests")));
	return cfg;
}

json_t *
ec_config_loadb(const char *buf, size_t len, const char *name, ec_err *e)
{
	char bad[512];
	json_t *cfg, *lines = NULL;

	/* Every tool of a task starts by reading the config: resolved once per content. */
	if ((cfg = kept_config(buf, len)))
		return protection(cfg);
	if (!(cfg = ec_yaml_loadb(buf, len, name, &lines, e)))
		return NULL;
	if (json_is_null(cfg)) {
		json_decref(cfg);
		cfg = json_object();
	}
	if (ec_schema_validate("config", cfg, bad, e) < 0) {
		const char *lc = lines ? where(lines, bad) : NULL;
		ec_err_prefix(e, "%s%s%s", name, lc ? ":" : "", lc ? lc : "");
		json_decref(lines);
		json_decref(cfg);
		return NULL;
	}
	/* View copies are results in clear: they cannot be kept in a spool that
	 * promises nothing of a request is (epic-key(1), epic-queue(1) ROLES). */
	if (json_is_true(json_object_get(json_object_get(cfg, "security"), "encryptAtRest")) &&
	    json_object_get(json_object_get(json_object_get(cfg, "security"), "roles"), "view")) {
		const char *lc = lines ? where(lines, "$.security.roles.view") : NULL;
		ec_fail(e, EC_EXIT_REJECT, "%s%s%s: security.roles.view: view copies are results "
		    "in clear, which security.encryptAtRest forbids; set one of them", name,
		    lc ? ":" : "", lc ? lc : "");
		json_decref(lines);
		json_decref(cfg);
		return NULL;
	}
	json_decref(lines);
	ec_schema_apply_defaults("config", cfg, e);
	keep_config(buf, len, cfg);
	return protection(cfg);
}

json_t *
ec_config_load(const char *path, ec_err *e)
{
	json_t *cfg;
	size_t len;
	char *buf;

	if (!(path = ec_config_path(path))) {
		cfg = json_object();
		ec_schema_apply_defaults("config", cfg, e);
		return protection(cfg);
	}
	if (!(buf = ec_read_file(path, CONFIG_MAX_BYTES, &len, e))) {
		ec_err_prefix(e, "config");
		return NULL;
	}
	/* A task's config.json, which epic-parse resolved (checked, defaults filled)
	 * and stamped: read as it is, not resolved again by every tool (stamp.c). */
	if (ec_stamp_vouches(path, buf, len)) {
		if ((cfg = ec_json_loadb(buf, len, path, e)))
			protection(cfg);
	} else
		cfg = ec_config_loadb(buf, len, path, e);
	free(buf);
	return cfg;
}

long long
ec_parse_size(const char *s)
{
	char *end;
	long long v, mul = 1;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	v = strtoll(s, &end, 10);
	while (*end == ' ')
		end++;
	/* K, M, G, T are binary multiples, with or without "i" and "B": "1GB" is what
	 * operators write for a memory limit and what they mean is 1 GiB. */
	switch (toupper((unsigned char)*end)) {
	case 'K': mul = 1LL << 10; end++; break;
	case 'M': mul = 1LL << 20; end++; break;
	case 'G': mul = 1LL << 30; end++; break;
	case 'T': mul = 1LL << 40; end++; break;
	}
	if (*end == 'i')
		end++;
	if (toupper((unsigned char)*end) == 'B')
		end++;
	if (*end || v > LLONG_MAX / mul)
		return -1;      /* strtoll saturated, or the multiple would overflow */
	return v * mul;
}
