/*
 * normalize.c - any persona output -> a canonical PersonaOutput.
 *
 * A command persona (often an LLM agent) prints what it likes: clean JSON, JSON in
 * prose or in a ```json fence, near-JSON with trailing commas, agent-flavoured field
 * names and enum values, strings full of markup and personal data. ec_normalize()
 * turns that into the one form the rest of the pipeline trusts, or says exactly
 * why it cannot (EC_EXIT_REJECT with a position or a JSON path, so persona-run can
 * retry the persona). It works in four steps:
 *
 *   1. find the JSON: the raw text must be UTF-8 without NUL bytes; every balanced
 *      {...} in it is a candidate; the documented repairs are a leading byte order
 *      mark and trailing commas; the candidate that fits the contract best wins;
 *   2. map it: field aliases and enum values through the tables below, JSON null
 *      as absent, unknown fields dropped, defaults for what is missing;
 *   3. recommendations: ids fixed or assigned, duplicates dropped, dependencies
 *      resolved to ids that exist, costs parsed into effortDays;
 *   4. every string sanitised (control characters, HTML), PII redacted and capped;
 *      then the result is validated against schemas/persona-output.
 *
 * Everything is deterministic and idempotent: the output, normalized again, comes
 * back byte for byte (no step adds anything a second pass would change, and notes
 * in metadata.raw are written only for what a pass really did). persona-normalize(1)
 * documents every table here; keep the two in step.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

/* Size caps, in characters (strings) and items (arrays). */
#define CAP_TITLE       200
#define CAP_DESCRIPTION 4000
#define CAP_INSIGHT     1000
#define CAP_COST        200
#define CAP_REFERENCE   500
#define CAP_CATEGORY    100
#define CAP_SHORT       200     /* metadata.model, metadata.engine */
#define CAP_VERSION     64
#define CAP_MESSAGE     1000
#define CAP_RAW         1024    /* the schema's maxLength of metadata.raw */
#define MAX_RECS        100
#define MAX_INSIGHTS    100
#define MAX_REFERENCES  50
#define MAX_DEPS        50
#define MAX_SIGNALS     100
#define MAX_EFFORT_DAYS EC_MAX_EFFORT_DAYS  /* larger efforts are not believed */
#define NOTE_PATHS      5       /* dropped fields named in metadata.raw */

/* --- small helpers ------------------------------------------------------ */

/* ASCII classes, unlike <ctype.h> safe for any char value and any locale: a byte
 * of a multibyte character (negative as a char) is none of them. */

static int upper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }
/* c is one of the characters in set (never true for NUL). */
static int in_set(int c, const char *set) { return c && strchr(set, c) != NULL; }



static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/*
 * Fold a field name or enum value for comparison: ASCII letters lowercased, digits
 * kept, everything else (spaces, '-', '_', punctuation) dropped, so "Must-Have",
 * "must_have" and "MUST HAVE" are all "musthave". Returns 0, or -1 if it does
 * not fit (then nothing matches it).
 */
static int
fold(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s; s++) {
		if (!ec_is_alnum(*s))
			continue;
		if (n + 1 >= cap)
			return -1;
		out[n++] = (char)ec_lower(*s);
	}
	out[n] = '\0';
	return 0;
}




/* --- the normalizer's state ------------------------------------------------ */

typedef struct nctx {
	const char *name;           /* for messages */
	const ec_norm_opts *o;
	ec_err *e;
	char prefix[8];             /* for new recommendation ids */
	json_t *counts;             /* redactions made by this pass, by kind */
	int oom;
	/* what was done, for metadata.raw: */
	char where[160];            /* where the JSON was found, "" if it was the whole text */
	size_t commas, bom;
	size_t dropped;             /* unknown or superseded fields */
	char dropped_paths[NOTE_PATHS][96];
	size_t sanitized, cut, conf_missing, conf_clamped, conf_string;
	size_t type_default, prio_default, title_from_desc, desc_from_title, cost_default;
	size_t ids_assigned, ids_fixed, dup_recs, recs_over, insights_over, insights_empty;
	size_t deps_dropped, refs_over, effort_bad, signals_bad, status_odd;
	size_t recs_from_strings, redactions_bad, cost_missing, amount_missing, unwrapped;
	char unwrap_key[48];
} nctx;

static json_t *reject(nctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fill c->e with "NAME: PATH: message" (EC_EXIT_REJECT); returns NULL. */
static json_t *
reject(nctx *c, const char *path, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ec_utf8_trim(msg);
	if (path)
		ec_fail(c->e, EC_EXIT_REJECT, "%s: %s: %s", c->name, path, msg);
	else
		ec_fail(c->e, EC_EXIT_REJECT, "%s: %s", c->name, msg);
	return NULL;
}

static json_t *
nomem(nctx *c)
{
	c->oom = 1;
	ec_fail(c->e, EC_EXIT_TEMP, "%s: out of memory", c->name);
	return NULL;
}

/*
 * The one way a string gets into the output: controls and tags out, white space
 * tidied, PII redacted, then cut to cap characters. Cutting and redacting repeat
 * until neither changes anything, so a cut can never leave a fragment that a
 * second pass would redact. malloc'd, or NULL without memory (c->oom).
 */
static char *
clean(nctx *c, const char *in, int mode, size_t cap)
{
	int changed = 0;
	char *s = ec_text_sanitize(in, mode, &changed);

	if (!s)
		return nomem(c), NULL;
	if (changed)
		c->sanitized++;
	ec_redact_pii(&s, c->counts, &c->oom);
	if (ec_utf8_chars(s, strlen(s)) > cap) {
		c->cut++;
		do
			if (ec_text_cut(&s, cap) < 0)
				c->oom = 1;
		while (!c->oom && ec_redact_pii(&s, c->counts, &c->oom) > 0);
	}
	if (c->oom) {
		free(s);
		return nomem(c), NULL;
	}
	return s;
}

/* A cleaned copy of a value for an error message: one line, at most 40 characters,
 * PII redacted (messages go to logs too). */
static void
shown(nctx *c, const json_t *v, char *buf, size_t cap)
{
	char *s;

	if (!json_is_string(v)) {
		snprintf(buf, cap, "%s", type_name(v));
		return;
	}
	if (!(s = clean(c, json_string_value(v), EC_TEXT_LINE, 40))) {
		snprintf(buf, cap, "?");
		return;
	}
	snprintf(buf, cap, "'%s'", s);
	ec_utf8_trim(buf);
	free(s);
}

/* --- field names ------------------------------------------------------------- */

/*
 * A field and the names agents use for it. The canonical name matches exactly;
 * the aliases (folded, see fold()) in table order. When several keys name one
 * field, the canonical one wins, then the earliest alias; the others are dropped.
 */
typedef struct fspec {
	const char *canon;
	const char *alias[10];
} fspec;

enum { T_PERSONA, T_INSIGHTS, T_RECS, T_COST, T_CONF, T_SIGNALS, T_META, T_STATUS, T_EXEC,
	T_MODEL, T_TOKENS, T_VERSION, T_N };
static const fspec top_fields[T_N] = {
	{ "persona", { "persona" } },
	{ "insights", { "insights", "insight", "keyinsights", "observations" } },
	{ "recommendations", { "recommendations", "recommendation", "recs" } },
	{ "costAnalysis", { "costanalysis", "cost", "costs", "costestimate" } },
	{ "confidence", { "confidence", "confidencescore", "confidencelevel" } },
	{ "signals", { "signals" } },
	{ "metadata", { "metadata", "meta" } },
	{ "status", { "status" } },
	{ "executionTime", { "executiontime", "executiontimems", "durationms", "elapsedms" } },
	{ "model", { "model" } },
	{ "tokens", { "tokens", "tokensused", "totaltokens" } },
	{ "version", { "version" } },
};

enum { R_ID, R_TITLE, R_TYPE, R_BLOCKING, R_PRIORITY, R_COST, R_DESC, R_DEPS, R_REFS,
	R_EFFORT, R_PERSONA, R_N };
static const fspec rec_fields[R_N] = {
	{ "id", { "id", "recid", "recommendationid", "identifier" } },
	{ "title", { "title", "name", "summary", "headline", "recommendation" } },
	{ "type", { "type", "kind", "necessity", "classification" } },
	{ "blocking", { "blocking", "isblocking" } },
	{ "priority", { "priority", "severity", "urgency", "prio", "importance" } },
	{ "estimatedCost", { "estimatedcost", "cost", "estimate", "effort", "costestimate",
	    "effortestimate" } },
	{ "description", { "description", "details", "detail", "rationale", "desc", "body",
	    "text", "explanation" } },
	{ "dependencies", { "dependencies", "deps", "dependson", "blockedby", "requires" } },
	{ "references", { "references", "refs", "standards", "sources", "links" } },
	{ "effortDays", { "effortdays", "effortindays" } },
	{ "persona", { "persona" } },
};

enum { C_CATEGORY, C_AMOUNT, C_EFFORT, C_N };
static const fspec cost_fields[C_N] = {
	{ "category", { "category", "area" } },
	{ "amount", { "amount", "total", "estimate", "cost", "value" } },
	{ "effortDays", { "effortdays", "effortindays" } },
};

enum { M_MODEL, M_TOKENS, M_VERSION, M_ENGINE, M_FIRED, M_TOTAL, M_REDACT, M_HIT, M_RAW, M_N };
static const fspec meta_fields[M_N] = {
	{ "model", { "model", "modelname" } },
	{ "tokens", { "tokens", "tokensused", "totaltokens" } },
	{ "version", { "version" } },
	{ "engine", { "engine" } },
	{ "rulesFired", { "rulesfired" } },
	{ "rulesTotal", { "rulestotal" } },
	{ "redactions", { "redactions" } },
	{ "cacheHit", { "cachehit" } },
	{ "raw", { "raw" } },
};

enum { P_NAME, P_ORDER, P_STATUS, P_EXEC, P_CACHED, P_FALLBACK, P_ERROR, P_N };
static const fspec persona_fields[P_N] = {
	{ "name", { "name" } },
	{ "reviewOrder", { "revieworder", "order" } },
	{ "status", { "status" } },
	{ "executionTime", { "executiontime", "executiontimems", "durationms", "elapsedms" } },
	{ "cached", { "cached" } },
	{ "fallback", { "fallback" } },
	{ "error", { "error" } },
};

enum { E_TYPE, E_MESSAGE, E_RETRY, E_N };
static const fspec error_fields[E_N] = {
	{ "type", { "type", "kind" } },
	{ "message", { "message", "msg", "detail", "details" } },
	{ "retryCount", { "retrycount", "retries" } },
};

/* Wrapper keys: an object with none of the contract's fields but one of these,
 * holding an object that has them, is unwrapped (one level). */
static const char *const wrappers[] = { "output", "result", "response", "data", "review",
	"personaoutput", "answer", NULL };

static void
drop_field(nctx *c, const char *path, const char *key)
{
	if (c->dropped < NOTE_PATHS) {
		ec_jpath_key(c->dropped_paths[c->dropped], sizeof c->dropped_paths[0], path, key);
		ec_utf8_trim(c->dropped_paths[c->dropped]);
	}
	c->dropped++;
}

/* Which field of spec does key k name? Its rank (0 exact, 1.. alias) in *rank. */
static int
field_of(const fspec *spec, size_t nspec, const char *k, int *rank)
{
	char f[64];
	int folded = fold(k, f, sizeof f) == 0;

	for (size_t i = 0; i < nspec; i++) {
		if (strcmp(k, spec[i].canon) == 0) {
			*rank = 0;
			return (int)i;
		}
		for (size_t j = 0; folded && j < sizeof spec[i].alias / sizeof *spec[i].alias &&
		    spec[i].alias[j]; j++)
			if (strcmp(f, spec[i].alias[j]) == 0) {
				*rank = (int)j + 1;
				return (int)i;
			}
	}
	return -1;
}

/*
 * Pick each field of spec out of obj: val[i] (borrowed, NULL if absent or null)
 * and key[i] (the key as written, for messages). Unknown keys and aliases that
 * lost to a better name are recorded as dropped when path is not NULL.
 */
static void
pick(nctx *c, const json_t *obj, const fspec *spec, size_t nspec, json_t **val,
    const char **key, const char *path)
{
	int rank[16];
	const char *k;
	json_t *v;

	for (size_t i = 0; i < nspec; i++)
		val[i] = NULL, key[i] = NULL, rank[i] = INT_MAX;
	json_object_foreach((json_t *)obj, k, v) {
		int r, f = field_of(spec, nspec, k, &r);
		if (f < 0) {
			if (path)
				drop_field(c, path, k);
			continue;
		}
		if (r < rank[f]) {
			if (key[f] && path)
				drop_field(c, path, key[f]);
			val[f] = json_is_null(v) ? NULL : v;
			key[f] = k;
			rank[f] = r;
		} else if (path)
			drop_field(c, path, k);
	}
}

/* How well does an object fit the PersonaOutput contract? 0: not at all. */
static int
fitness(const json_t *obj, size_t *items, void *arg)
{
	static const int weight[T_N] = { 1, 8, 8, 2, 2, 1, 1, 1, 0, 0, 0, 0 };
	json_t *val[T_N];
	const char *key[T_N];
	int score = 0;

	if (!json_is_object(obj))
		return 0;
	pick(NULL, obj, top_fields, T_N, val, key, NULL);
	for (int i = 0; i < T_N; i++)
		if (key[i])
			score += weight[i];
	if (items)
		*items = json_array_size(val[T_RECS]) + json_array_size(val[T_INSIGHTS]);
	return score;
}

/* --- enum tables -------------------------------------------------------------- */

typedef struct etab {
	const char *value;          /* the contract's value */
	const char *names[16];      /* folded names that mean it */
} etab;

static const etab type_table[] = {
	{ "blocking", { "blocking", "blocker", "blocks", "block", "must", "musthave", "mustdo",
	    "mustfix", "required", "requirement", "mandatory", "essential" } },
	{ "suggested", { "suggested", "suggestion", "suggest", "nicetohave", "optional",
	    "recommended", "recommendation", "should", "shouldhave", "could", "couldhave",
	    "advisory", "improvement", "consider" } },
	{ NULL, { NULL } },
};

static const etab priority_table[] = {
	{ "critical", { "critical", "crit", "blocker", "urgent", "highest", "showstopper", "p0",
	    "sev0", "sev1", "severity1", "s1", "veryhigh" } },
	{ "high", { "high", "important", "major", "hi", "p1", "sev2", "severity2", "s2" } },
	{ "medium", { "medium", "med", "moderate", "normal", "mid", "average", "p2", "sev3",
	    "severity3", "s3" } },
	{ "low", { "low", "minor", "trivial", "lowest", "p3", "p4", "sev4", "severity4", "s4",
	    "info", "informational", "verylow" } },
	{ NULL, { NULL } },
};

static const etab status_table[] = {
	{ "completed", { "completed", "complete", "done", "success", "succeeded", "successful",
	    "ok", "finished" } },
	{ "failed", { "failed", "failure", "fail", "error", "errored" } },
	{ "skipped", { "skipped", "skip", "excluded", "notapplicable", "na", "notrun" } },
	{ NULL, { NULL } },
};

static const etab errtype_table[] = {
	{ "PERSONA_UNAVAILABLE", { "personaunavailable", "unavailable" } },
	{ "TIMEOUT", { "timeout", "timedout" } },
	{ "INVALID_INPUT", { "invalidinput" } },
	{ "VALIDATION_FAILED", { "validationfailed", "invalidoutput" } },
	{ "SYSTEM_ERROR", { "systemerror" } },
	{ "NETWORK_ERROR", { "networkerror", "network" } },
	{ NULL, { NULL } },
};

/* The contract value for s by table t, or NULL. */
static const char *
lookup(const etab *t, const char *s)
{
	char f[64];

	if (fold(s, f, sizeof f) < 0 || !*f)
		return NULL;
	for (; t->value; t++)
		for (size_t j = 0; j < sizeof t->names / sizeof *t->names && t->names[j]; j++)
			if (strcmp(f, t->names[j]) == 0)
				return t->value;
	return NULL;
}

/*
 * Set obj.KEY (the cost text) and obj.effortDays from the given cost value and
 * effortDays: valid effortDays are kept; otherwise they are parsed from the text.
 * Returns 0 or -1 (c->e filled).
 */
static int
cost_fields_set(nctx *c, json_t *obj, const char *textkey, const json_t *text, const char *tpath,
    const json_t *eff, size_t cap, size_t *missing)
{
	json_t *effo = NULL;
	char *s = NULL, num[32];
	double mn, mx;

	if (eff && !(effo = ec_effort_given(eff)))
		c->effort_bad++;
	if (json_is_string(text)) {
		if (!(s = clean(c, json_string_value(text), EC_TEXT_LINE, cap)))
			goto fail;
	} else if (json_is_number(text)) {
		ec_fmt_number(num, sizeof num, json_number_value(text));
		s = strdup(num);
	} else if (text) {
		reject(c, tpath, "expected a string, got %s", type_name(text));
		goto fail;
	}
	if (s && !*s) {
		free(s);
		s = NULL;
	}
	if (!effo && s && ec_effort_parse(s, &mn, &mx)) {
		effo = json_pack("{s:o, s:o}", "min", ec_json_number(mn), "max", ec_json_number(mx));
	}
	if (!s) {
		char days[96];
		if (effo)
			ec_effort_days_text(days, sizeof days, json_number_value(json_object_get(effo, "min")),
			    json_number_value(json_object_get(effo, "max")));
		s = strdup(effo ? days : "unknown");
		(*missing)++;
	}
	if (!s)
		goto oom;
	json_object_set_new(obj, textkey, json_string(s));
	if (effo)
		json_object_set_new(obj, "effortDays", effo);
	free(s);
	return 0;
oom:
	nomem(c);
fail:
	json_decref(effo);
	free(s);
	return -1;
}

/* --- recommendations ---------------------------------------------------------- */

static int
id_valid(const char *s)
{
	size_t n = strlen(s), k = 1;

	if (n < 6 || n > 10 || !ec_is_upper(s[0]))
		return 0;
	while (k < n && (ec_is_upper(s[k]) || ec_is_digit(s[k])))
		k++;
	return k >= 2 && k <= 6 && k + 4 == n && s[k] == '-' && ec_is_digit(s[k + 1]) &&
	    ec_is_digit(s[k + 2]) && ec_is_digit(s[k + 3]);
}

/* A prefix usable in an id: [A-Z][A-Z0-9]{1,5}. */
static int
prefix_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 6 || !ec_is_upper(s[0]))
		return 0;
	for (size_t k = 1; k < n; k++)
		if (!ec_is_upper(s[k]) && !ec_is_digit(s[k]))
			return 0;
	return 1;
}

/*
 * The id prefix for a persona without one in its registration (idPrefix, which the
 * caller passes): the initials of its dash-separated words uppercased
 * ("data-privacy-officer" DPO); one initial is too short, so a one-word name gives
 * its first three letters ("tester" TES); a prefix must start with a letter (else
 * "P" goes in front) and is at most 6 characters.
 */
static void
derive_prefix(const char *persona, char out[8])
{
	char p[16];
	size_t n = 0;

	for (const char *s = persona; *s && n < 6; s++)
		if ((s == persona || s[-1] == '-') && ec_is_alnum(*s))
			p[n++] = (char)upper(*s);
	if (n < 2) {
		n = 0;
		for (const char *s = persona; *s && n < 3; s++)
			if (ec_is_alnum(*s))
				p[n++] = (char)upper(*s);
	}
	p[n] = '\0';
	if (n < 2 || !ec_is_upper(p[0])) {
		snprintf(out, 8, "P%.5s", p);
		if (strlen(out) < 2)
			snprintf(out, 8, "REC");
	} else
		snprintf(out, 8, "%s", p);
}

/*
 * Make an id of what an agent wrote: "SEC-001" as is; "sec-1", "SEC_01", "SEC 1",
 * "#SEC1", "A11Y-7" fixed; a bare number ("3", 3) gets the persona's prefix, and
 * so does a prefix that cannot be one ("SECURITY-1"). Numbers must be 1..999.
 * Returns 1 with out filled (*fixed = 1 if it changed), or 0: unusable.
 */
static int
fix_id(const json_t *v, const char *prefix, char out[16], int *fixed)
{
	char buf[40], left[40];
	const char *s;
	size_t n, d, ln;
	long num;

	*fixed = 1;
	if (json_is_integer(v)) {
		num = json_integer_value(v) > 999 ? 0 : (long)json_integer_value(v);
		if (num < 1)
			return 0;
		snprintf(out, 16, "%s-%03ld", prefix, num);
		return 1;
	}
	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	while (ec_is_space(*s) || *s == '#')
		s++;
	for (n = 0; *s && n + 1 < sizeof buf; s++)
		buf[n++] = (char)upper(*s);
	while (n > 0 && ec_is_space(buf[n - 1]))
		n--;
	buf[n] = '\0';
	if (*s)
		return 0;
	if (id_valid(buf)) {
		*fixed = strcmp(buf, json_string_value(v)) != 0;
		snprintf(out, 16, "%s", buf);
		return 1;
	}
	for (d = n; d > 0 && ec_is_digit(buf[d - 1]); d--)
		;
	if (d == n)
		return 0;
	while (d < n && buf[d] == '0')
		d++;
	if (d == n || n - d > 3)
		return 0;
	num = strtol(buf + d, NULL, 10);
	/* the prefix: everything before the number and its separator */
	for (ln = d; ln > 0 && buf[ln - 1] == '0'; ln--)
		;
	while (ln > 0 && in_set(buf[ln - 1], "-_ .:/#"))
		ln--;
	memcpy(left, buf, ln);
	left[ln] = '\0';
	snprintf(out, 16, "%s-%03ld", ln && prefix_valid(left) ? left : prefix, num);
	return 1;
}

typedef struct rec {
	json_t *o;              /* the recommendation being built (new reference) */
	char id[16];            /* final id, "" until assigned */
	const json_t *orig_id;  /* the id as given (borrowed), or NULL */
	const json_t *deps;     /* dependencies as given (borrowed), or NULL */
	char deps_path[160];
	char *fold;             /* folded title, for duplicates */
	long same_as;           /* a dropped duplicate: index of the kept one, else -1 */
} rec;

/* The folded form of a title for spotting duplicates: letters and digits only,
 * lowercased; other (non-ASCII) bytes kept. */
static char *
title_fold(const char *t)
{
	char *f = malloc(strlen(t) + 1), *q = f;

	if (!f)
		return NULL;
	for (; *t; t++)
		if (ec_is_alnum(*t))
			*q++ = (char)ec_lower(*t);
		else if ((unsigned char)*t >= 0x80)
			*q++ = *t;
	*q = '\0';
	return f;
}

/* The first line or sentence of a description, as a title. malloc'd. */
static char *
title_from(nctx *c, const char *desc)
{
	const char *end = desc;
	char *t, *s;

	while (ec_is_space(*desc))
		desc++;
	for (end = desc; *end && *end != '\n'; end++)
		if (*end == '.' && (end[1] == ' ' || end[1] == '\n' || !end[1]))
			break;
	if (!(t = strndup(desc, (size_t)(end - desc))))
		return nomem(c), NULL;
	s = clean(c, t, EC_TEXT_LINE, CAP_TITLE);
	free(t);
	return s;
}

/* An array of strings for a field that may also be given as one string. */
static int
string_list(nctx *c, const json_t *v, const char *path, json_t **items)
{
	char p[512];
	size_t i;
	json_t *x;

	*items = NULL;
	if (json_is_string(v) || json_is_integer(v)) {
		*items = json_pack("[O]", v);
		return 0;
	}
	if (!json_is_array(v)) {
		reject(c, path, "expected an array of strings, got %s", type_name(v));
		return -1;
	}
	json_array_foreach(v, i, x) {
		if (!json_is_string(x) && !json_is_integer(x)) {
			ec_jpath_index(p, sizeof p, path, i);
			reject(c, p, "expected a string, got %s", type_name(x));
			return -1;
		}
	}
	*items = json_incref((json_t *)v);
	return 0;
}

/*
 * One recommendation (an object, or a bare string taken as its title and
 * description) into r. Returns 0, or -1 with c->e filled.
 */
static int
one_rec(nctx *c, const json_t *in, const char *path, rec *r)
{
	json_t *val[R_N], *refs = NULL, *refsout, *x;
	const char *key[R_N];
	char p[512], show[192], *title = NULL, *desc = NULL;
	const char *type = NULL, *prio = NULL;
	size_t i;

	memset(r, 0, sizeof *r);
	r->same_as = -1;
	if (!(r->o = json_object()))
		return nomem(c), -1;
	if (json_is_string(in)) {
		c->recs_from_strings++;
		memset(val, 0, sizeof val);
		memset(key, 0, sizeof key);
		val[R_DESC] = (json_t *)in;
		key[R_DESC] = "";
	} else if (!json_is_object(in)) {
		reject(c, path, "expected an object, got %s", type_name(in));
		goto fail;
	} else
		pick(c, in, rec_fields, R_N, val, key, path);

	/* title and description: each stands in for the other when missing */
	if (val[R_TITLE] && !json_is_string(val[R_TITLE])) {
		ec_jpath_key(p, sizeof p, path, key[R_TITLE]);
		reject(c, p, "expected a string, got %s", type_name(val[R_TITLE]));
		goto fail;
	}
	if (val[R_DESC] && !json_is_string(val[R_DESC])) {
		ec_jpath_key(p, sizeof p, path, key[R_DESC]);
		reject(c, p, "expected a string, got %s", type_name(val[R_DESC]));
		goto fail;
	}
	if (val[R_TITLE] && !(title = clean(c, json_string_value(val[R_TITLE]), EC_TEXT_LINE,
	    CAP_TITLE)))
		goto fail;
	if (val[R_DESC] && !(desc = clean(c, json_string_value(val[R_DESC]), EC_TEXT_PARAGRAPHS,
	    CAP_DESCRIPTION)))
		goto fail;
	if (title && !*title)
		free(title), title = NULL;
	if (desc && !*desc)
		free(desc), desc = NULL;
	if (!title && !desc) {
		reject(c, path, "a recommendation needs a title or a description");
		goto fail;
	}
	if (!title) {
		if (!(title = title_from(c, desc)))
			goto fail;
		if (!json_is_string(in))
			c->title_from_desc++;
	}
	if (!desc) {
		if (!(desc = strdup(title)))
			goto oom;
		c->desc_from_title++;
	}
	json_object_set_new(r->o, "title", json_string(title));
	json_object_set_new(r->o, "description", json_string(desc));
	r->fold = title_fold(title);
	free(title), title = NULL;
	free(desc), desc = NULL;
	if (!r->fold)
		goto oom;

	/* type: the table, or "blocking": true|false, else suggested */
	if (val[R_TYPE]) {
		ec_jpath_key(p, sizeof p, path, key[R_TYPE]);
		if (!json_is_string(val[R_TYPE])) {
			reject(c, p, "expected a string, got %s", type_name(val[R_TYPE]));
			goto fail;
		}
		if (!(type = lookup(type_table, json_string_value(val[R_TYPE])))) {
			shown(c, val[R_TYPE], show, sizeof show);
			reject(c, p, "unknown type %s (expected blocking or suggested, or a name "
			    "for them listed in persona-normalize(1))", show);
			goto fail;
		}
	} else if (val[R_BLOCKING]) {
		ec_jpath_key(p, sizeof p, path, key[R_BLOCKING]);
		if (!json_is_boolean(val[R_BLOCKING])) {
			reject(c, p, "expected a boolean, got %s", type_name(val[R_BLOCKING]));
			goto fail;
		}
		type = json_is_true(val[R_BLOCKING]) ? "blocking" : "suggested";
	} else {
		type = "suggested";
		c->type_default++;
	}
	json_object_set_new(r->o, "type", json_string(type));

	if (val[R_PRIORITY]) {
		ec_jpath_key(p, sizeof p, path, key[R_PRIORITY]);
		if (!json_is_string(val[R_PRIORITY])) {
			reject(c, p, "expected a string, got %s", type_name(val[R_PRIORITY]));
			goto fail;
		}
		if (!(prio = lookup(priority_table, json_string_value(val[R_PRIORITY])))) {
			shown(c, val[R_PRIORITY], show, sizeof show);
			reject(c, p, "unknown priority %s (expected critical, high, medium or low, "
			    "or a name for them listed in persona-normalize(1))", show);
			goto fail;
		}
	} else {
		prio = "medium";
		c->prio_default++;
	}
	json_object_set_new(r->o, "priority", json_string(prio));

	ec_jpath_key(p, sizeof p, path, key[R_COST] ? key[R_COST] : "estimatedCost");
	if (cost_fields_set(c, r->o, "estimatedCost", val[R_COST], p, val[R_EFFORT], CAP_COST,
	    &c->cost_default) < 0)
		goto fail;

	if (val[R_REFS]) {
		ec_jpath_key(p, sizeof p, path, key[R_REFS]);
		if (string_list(c, val[R_REFS], p, &refs) < 0)
			goto fail;
		if (!(refsout = json_array()))
			goto oom;
		json_object_set_new(r->o, "references", refsout);
		json_array_foreach(refs, i, x) {
			char *s, num[32];
			if (json_array_size(refsout) == MAX_REFERENCES) {
				c->refs_over++;
				break;
			}
			if (json_is_integer(x))
				snprintf(num, sizeof num, "%lld", (long long)json_integer_value(x));
			if (!(s = clean(c, json_is_integer(x) ? num : json_string_value(x),
			    EC_TEXT_LINE, CAP_REFERENCE)))
				goto fail;
			if (*s)
				json_array_append_new(refsout, json_string(s));
			free(s);
		}
		json_decref(refs), refs = NULL;
	}
	if (val[R_PERSONA]) {
		char *s;
		ec_jpath_key(p, sizeof p, path, key[R_PERSONA]);
		if (!json_is_string(val[R_PERSONA]) ||
		    !(s = clean(c, json_string_value(val[R_PERSONA]), EC_TEXT_LINE, 63))) {
			if (!c->oom)
				reject(c, p, "expected a persona name, got %s",
				    type_name(val[R_PERSONA]));
			goto fail;
		}
		for (char *q = s; *q; q++)
			*q = (char)ec_lower(*q);
		if (!ec_is_alnum(*s) ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s)) {
			shown(c, val[R_PERSONA], show, sizeof show);
			free(s);
			reject(c, p, "expected a persona name, got %s", show);
			goto fail;
		}
		json_object_set_new(r->o, "persona", json_string(s));
		free(s);
	}
	r->orig_id = val[R_ID];
	r->deps = val[R_DEPS];
	ec_jpath_key(r->deps_path, sizeof r->deps_path, path,
	    key[R_DEPS] ? key[R_DEPS] : "dependencies");
	if (r->deps && !json_is_array(r->deps) && !json_is_string(r->deps) &&
	    !json_is_integer(r->deps)) {
		reject(c, r->deps_path, "expected an array of recommendation ids, got %s",
		    type_name(r->deps));
		goto fail;
	}
	if (json_is_array(r->deps))
		json_array_foreach(r->deps, i, x)
			if (!json_is_string(x) && !json_is_integer(x)) {
				ec_jpath_index(p, sizeof p, r->deps_path, i);
				reject(c, p, "expected a recommendation id, got %s", type_name(x));
				goto fail;
			}
	if (r->orig_id && !json_is_string(r->orig_id) && !json_is_integer(r->orig_id)) {
		ec_jpath_key(p, sizeof p, path, key[R_ID]);
		reject(c, p, "expected a recommendation id, got %s", type_name(r->orig_id));
		goto fail;
	}
	return 0;
oom:
	nomem(c);
fail:
	free(title);
	free(desc);
	json_decref(refs);
	json_decref(r->o);
	free(r->fold);
	r->o = NULL, r->fold = NULL;
	return -1;
}

static void
recs_free(rec *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(v[i].o);
		free(v[i].fold);
	}
	free(v);
}

/*
 * Which kept recommendation does dependency d name? First an id exactly as a
 * recommendation wrote its own, then the fixed form of d; a kept recommendation
 * before a dropped duplicate, which stands for the one it duplicated. Index or -1.
 */
static long
dep_target(const rec *v, size_t n, const json_t *d, const char *prefix)
{
	char id[16];
	int fixed;

	for (int pass = 0; pass < 2 && json_is_string(d); pass++)
		for (size_t i = 0; i < n; i++)
			if ((v[i].same_as < 0) == (pass == 0) && json_is_string(v[i].orig_id) &&
			    strcmp(json_string_value(v[i].orig_id), json_string_value(d)) == 0)
				return pass ? v[i].same_as : (long)i;
	if (!fix_id(d, prefix, id, &fixed))
		return -1;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++)
			if ((v[i].same_as < 0) == (pass == 0) && strcmp(v[i].id, id) == 0)
				return pass ? v[i].same_as : (long)i;
	return -1;
}

/*
 * All recommendations: each normalized, duplicates (same id, or same folded
 * title) dropped keeping the first, at most MAX_RECS kept (the rest is not read),
 * missing ids assigned after the highest number in use with the prefix,
 * dependencies resolved to kept ids. New array, or NULL with c->e filled.
 */
static json_t *
recommendations(nctx *c, const json_t *in, const char *key)
{
	char path[160], p[512];
	rec *v = NULL;
	size_t n = 0, total, kept = 0, i;
	json_t *out = NULL, *single = NULL;
	int maxnum = 0;

	ec_jpath_key(path, sizeof path, "$", key ? key : "recommendations");
	if (!in)
		return json_array();
	if (json_is_object(in) || json_is_string(in))
		in = single = json_pack("[O]", in);
	else if (!json_is_array(in))
		return reject(c, path, "expected an array of recommendations, got %s",
		    type_name(in));
	total = json_array_size(in);
	if (!(v = calloc(total ? total : 1, sizeof *v)))
		goto oom;
	for (i = 0; i < total && kept < MAX_RECS; i++, n++) {
		rec *r = &v[n];
		int fixed = 0;
		nctx saved = *c;
		json_t *counts = json_deep_copy(c->counts);
		if (!counts)
			goto oom;
		if (single)
			snprintf(p, sizeof p, "%s", path);
		else
			ec_jpath_index(p, sizeof p, path, i);
		if (one_rec(c, json_array_get(in, i), p, r) < 0) {
			json_decref(counts);
			goto fail;
		}
		if (r->orig_id && fix_id(r->orig_id, c->prefix, r->id, &fixed))
			c->ids_fixed += (size_t)fixed;
		else if (r->orig_id)
			c->ids_fixed++;
		for (size_t j = 0; j < n; j++) {
			if (v[j].same_as >= 0)
				continue;
			if ((r->id[0] && strcmp(v[j].id, r->id) == 0) ||
			    strcmp(v[j].fold, r->fold) == 0) {
				r->same_as = (long)j;
				break;
			}
		}
		if (r->same_as >= 0) {
			/* a duplicate leaves no trace but the count of duplicates: its
			 * notes and redactions are not in the output */
			*c = saved;
			json_object_clear(c->counts);
			json_object_update(c->counts, counts);
			json_decref(counts);
			c->dup_recs++;
			json_decref(r->o);
			r->o = NULL;
			continue;
		}
		json_decref(counts);
		kept++;
	}
	if (i < total)
		c->recs_over += total - i;
	/* highest number in use with the prefix */
	for (i = 0; i < n; i++) {
		size_t pl = strlen(c->prefix);
		if (v[i].same_as < 0 && strncmp(v[i].id, c->prefix, pl) == 0 &&
		    v[i].id[pl] == '-') {
			int num = atoi(v[i].id + pl + 1);
			if (num > maxnum)
				maxnum = num;
		}
	}
	for (i = 0; i < n; i++) {
		if (v[i].same_as >= 0 || v[i].id[0])
			continue;
		if (maxnum < 999)
			maxnum++;
		else {
			/* past 999: the lowest free number */
			for (int k = 1; k <= 999; k++) {
				char id[16];
				size_t j;
				snprintf(id, sizeof id, "%s-%03d", c->prefix, k);
				for (j = 0; j < n && strcmp(v[j].id, id) != 0; j++)
					;
				if (j == n) {
					snprintf(v[i].id, sizeof v[i].id, "%s", id);
					break;
				}
			}
			c->ids_assigned++;
			continue;
		}
		snprintf(v[i].id, sizeof v[i].id, "%s-%03d", c->prefix, maxnum);
		c->ids_assigned++;
	}
	if (!(out = json_array()))
		goto oom;
	for (i = 0; i < n; i++)
		if (v[i].same_as < 0)
			json_object_set_new(v[i].o, "id", json_string(v[i].id));
	for (i = 0; i < n; i++) {
		json_t *deps, *dl = NULL, *d;
		size_t k;
		if (v[i].same_as < 0 && !json_object_get(v[i].o, "id"))
			goto oom;
		if (v[i].same_as >= 0)
			continue;
		if (!(deps = json_array()))
			goto oom;
		json_object_set_new(v[i].o, "dependencies", deps);
		if (v[i].deps) {
			dl = json_is_array(v[i].deps) ? json_incref((json_t *)v[i].deps) : json_array();
			if (json_is_string(v[i].deps)) {
				/* "SEC-001, SEC-002": split on commas, semicolons and white space */
				char *cp = strdup(json_string_value(v[i].deps)), *tok, *save = NULL;
				if (!cp) {
					json_decref(dl);
					goto oom;
				}
				for (tok = strtok_r(cp, ",; \t\n", &save); tok;
				    tok = strtok_r(NULL, ",; \t\n", &save))
					json_array_append_new(dl, json_string(tok));
				free(cp);
			} else if (json_is_integer(v[i].deps))
				json_array_append(dl, (json_t *)v[i].deps);
		}
		json_array_foreach(dl, k, d) {
			long t = dep_target(v, n, d, c->prefix);
			json_t *id;
			size_t q;
			if (t < 0 || t == (long)i) {
				c->deps_dropped++;
				continue;
			}
			id = json_object_get(v[t].o, "id");
			for (q = 0; q < json_array_size(deps) &&
			    !json_equal(json_array_get(deps, q), id); q++)
				;
			if (q < json_array_size(deps))
				continue;
			if (json_array_size(deps) == MAX_DEPS) {
				c->deps_dropped++;
				continue;
			}
			json_array_append(deps, id);
		}
		json_decref(dl);
		json_array_append(out, v[i].o);
	}
	recs_free(v, n);
	json_decref(single);
	return out;
oom:
	nomem(c);
fail:
	json_decref(out);
	recs_free(v, n);
	json_decref(single);
	return NULL;
}

/* --- the other parts -------------------------------------------------------------- */

static json_t *
insights(nctx *c, const json_t *in, const char *key)
{
	char path[160], p[512];
	json_t *out, *items, *x;
	size_t i;

	ec_jpath_key(path, sizeof path, "$", key ? key : "insights");
	if (!(out = json_array()))
		return nomem(c);
	if (!in)
		return out;
	if (json_is_string(in))
		items = json_pack("[O]", in);
	else if (json_is_array(in))
		items = json_incref((json_t *)in);
	else {
		json_decref(out);
		return reject(c, path, "expected an array of strings, got %s", type_name(in));
	}
	json_array_foreach(items, i, x) {
		char *s;
		if (json_array_size(out) == MAX_INSIGHTS) {
			c->insights_over += json_array_size(items) - i;
			break;
		}
		if (!json_is_string(x)) {
			ec_jpath_index(p, sizeof p, path, i);
			json_decref(out), json_decref(items);
			return reject(c, p, "expected a string, got %s", type_name(x));
		}
		if (!(s = clean(c, json_string_value(x), EC_TEXT_PARAGRAPHS, CAP_INSIGHT))) {
			json_decref(out), json_decref(items);
			return NULL;
		}
		if (*s)
			json_array_append_new(out, json_string(s));
		else
			c->insights_empty++;
		free(s);
	}
	json_decref(items);
	return out;
}

/* A signal "kind:name" in [a-z0-9] and [a-z0-9*-]; lowercased and trimmed. */
static int
signal_ok(const char *s)
{
	const char *colon = strchr(s, ':');

	if (!colon || colon == s || !colon[1])
		return 0;
	for (const char *q = s; q < colon; q++)
		if (!ec_is_digit(*q) && !(*q >= 'a' && *q <= 'z'))
			return 0;
	for (const char *q = colon + 1; *q; q++)
		if (!ec_is_digit(*q) && !(*q >= 'a' && *q <= 'z') && *q != '*' && *q != '-')
			return 0;
	return 1;
}

static json_t *
signals(nctx *c, const json_t *in, const char *key)
{
	char path[160], p[512];
	json_t *out, *items, *x;
	size_t i, q;

	ec_jpath_key(path, sizeof path, "$", key);
	if (json_is_string(in))
		items = json_pack("[O]", in);
	else if (json_is_array(in))
		items = json_incref((json_t *)in);
	else
		return reject(c, path, "expected an array of signals, got %s", type_name(in));
	if (!(out = json_array())) {
		json_decref(items);
		return nomem(c);
	}
	json_array_foreach(items, i, x) {
		char *s;
		if (!json_is_string(x)) {
			ec_jpath_index(p, sizeof p, path, i);
			json_decref(out), json_decref(items);
			return reject(c, p, "expected a string, got %s", type_name(x));
		}
		if (!(s = clean(c, json_string_value(x), EC_TEXT_LINE, 128))) {
			json_decref(out), json_decref(items);
			return NULL;
		}
		for (char *t = s; *t; t++)
			*t = (char)ec_lower(*t);
		/* a signal that carried PII is not a signal any more */
		if (!signal_ok(s) || strstr(s, "[redacted:")) {
			c->signals_bad++;
			free(s);
			continue;
		}
		for (q = 0; q < json_array_size(out) &&
		    strcmp(json_string_value(json_array_get(out, q)), s); q++)
			;
		if (q == json_array_size(out) && q < MAX_SIGNALS)
			json_array_append_new(out, json_string(s));
		else
			c->signals_bad++;
		free(s);
	}
	json_decref(items);
	return out;
}

/* confidence: a number, "0.8", "80%", or high/medium/low; clamped to 0..1. */
static int
confidence(nctx *c, const json_t *in, const char *key, double *out)
{
	char path[160], show[192];
	double v;

	ec_jpath_key(path, sizeof path, "$", key ? key : "confidence");
	if (!in) {
		c->conf_missing++;
		*out = 0.5;
		return 0;
	}
	if (json_is_number(in))
		v = json_number_value(in);
	else if (json_is_string(in)) {
		const char *s = json_string_value(in);
		size_t k;
		char f[32];
		while (ec_is_space(*s))
			s++;
		c->conf_string++;
		if (fold(s, f, sizeof f) == 0 &&
		    (!strcmp(f, "high") || !strcmp(f, "medium") || !strcmp(f, "low"))) {
			v = f[0] == 'h' ? 0.8 : f[0] == 'm' ? 0.5 : 0.2;
		} else if ((k = ec_decimal_at(s, &v)) > 0 && !memchr(s, ',', k)) {
			s += k;
			while (ec_is_space(*s))
				s++;
			if (*s == '%')
				v /= 100, s++;
			while (ec_is_space(*s))
				s++;
			if (*s)
				goto bad;
		} else
			goto bad;
	} else {
		reject(c, path, "expected a number from 0 to 1 or a percentage, got %s",
		    type_name(in));
		return -1;
	}
	if (v < 0 || v > 1) {
		c->conf_clamped++;
		v = v < 0 ? 0 : 1;
	}
	*out = v;
	return 0;
bad:
	shown(c, in, show, sizeof show);
	reject(c, path, "expected a number from 0 to 1 or a percentage, got %s", show);
	return -1;
}

static json_t *
cost_analysis(nctx *c, const json_t *in, const char *key)
{
	char path[160], p[512];
	json_t *out, *val[C_N];
	const char *k[C_N];
	char *cat = NULL;

	ec_jpath_key(path, sizeof path, "$", key ? key : "costAnalysis");
	if (!(out = json_object()))
		return nomem(c);
	memset(val, 0, sizeof val);
	memset(k, 0, sizeof k);
	if (!in)
		;
	else if (json_is_string(in) || json_is_number(in))
		val[C_AMOUNT] = (json_t *)in, k[C_AMOUNT] = "";
	else if (json_is_object(in))
		pick(c, in, cost_fields, C_N, val, k, path);
	else {
		json_decref(out);
		return reject(c, path, "expected an object, got %s", type_name(in));
	}
	if (val[C_CATEGORY]) {
		ec_jpath_key(p, sizeof p, path, k[C_CATEGORY]);
		if (!json_is_string(val[C_CATEGORY])) {
			json_decref(out);
			return reject(c, p, "expected a string, got %s",
			    type_name(val[C_CATEGORY]));
		}
		if (!(cat = clean(c, json_string_value(val[C_CATEGORY]), EC_TEXT_LINE, CAP_CATEGORY))) {
			json_decref(out);
			return NULL;
		}
	}
	json_object_set_new(out, "category", json_string(cat && *cat ? cat : "general"));
	free(cat);
	if (k[C_AMOUNT] && *k[C_AMOUNT])
		ec_jpath_key(p, sizeof p, path, k[C_AMOUNT]);
	else
		snprintf(p, sizeof p, "%s", path);
	if (cost_fields_set(c, out, "amount", val[C_AMOUNT], p, val[C_EFFORT], CAP_COST,
	    in ? &c->amount_missing : &c->cost_missing) < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* A string field: cleaned copy set into obj, or rejected when not a string. */
static int
set_string(nctx *c, json_t *obj, const char *name, const json_t *v, const char *path, size_t cap)
{
	char *s;

	if (!json_is_string(v)) {
		reject(c, path, "expected a string, got %s", type_name(v));
		return -1;
	}
	if (!(s = clean(c, json_string_value(v), EC_TEXT_LINE, cap)))
		return -1;
	if (*s)
		json_object_set_new(obj, name, json_string(s));
	free(s);
	return 0;
}

static json_t *
persona(nctx *c, const json_t *top_val[], const char *top_key[])
{
	json_t *out, *val[P_N];
	const json_t *st, *ex;
	const char *k[P_N];
	const json_t *in = top_val[T_PERSONA];
	char path[160], p[512];
	const char *status = "completed";

	ec_jpath_key(path, sizeof path, "$", top_key[T_PERSONA] ? top_key[T_PERSONA] : "persona");
	memset(val, 0, sizeof val);
	memset(k, 0, sizeof k);
	if (json_is_object(in))
		pick(c, in, persona_fields, P_N, val, k, path);
	else if (in && !json_is_string(in))
		return reject(c, path, "expected an object, got %s", type_name(in));
	if (!(out = json_object()))
		return nomem(c);
	json_object_set_new(out, "name", json_string(c->o->persona));
	json_object_set_new(out, "reviewOrder", json_integer(c->o->review_order));

	st = val[P_STATUS] ? val[P_STATUS] : top_val[T_STATUS];
	if (st) {
		if (val[P_STATUS])
			ec_jpath_key(p, sizeof p, path, k[P_STATUS]);
		else
			ec_jpath_key(p, sizeof p, "$", top_key[T_STATUS]);
		if (!json_is_string(st)) {
			json_decref(out);
			return reject(c, p, "expected a string, got %s", type_name(st));
		}
		if (!(status = lookup(status_table, json_string_value(st)))) {
			status = "completed";
			c->status_odd++;
		}
	}
	json_object_set_new(out, "status", json_string(status));
	ex = val[P_EXEC] ? val[P_EXEC] : top_val[T_EXEC];
	json_object_set_new(out, "executionTime", json_is_number(ex) && json_number_value(ex) >= 0 ?
	    ec_json_number(json_number_value(ex)) : json_integer(0));
	if (val[P_CACHED]) {
		ec_jpath_key(p, sizeof p, path, k[P_CACHED]);
		if (!json_is_boolean(val[P_CACHED])) {
			json_decref(out);
			return reject(c, p, "expected a boolean, got %s", type_name(val[P_CACHED]));
		}
		json_object_set(out, "cached", val[P_CACHED]);
	}
	if (val[P_FALLBACK]) {
		ec_jpath_key(p, sizeof p, path, k[P_FALLBACK]);
		if (set_string(c, out, "fallback", val[P_FALLBACK], p, CAP_VERSION) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	if (val[P_ERROR]) {
		json_t *ev[E_N], *err;
		const char *ek[E_N], *etype = NULL;
		char *msg = NULL;
		ec_jpath_key(p, sizeof p, path, k[P_ERROR]);
		memset(ev, 0, sizeof ev);
		memset(ek, 0, sizeof ek);
		if (json_is_string(val[P_ERROR]))
			ev[E_MESSAGE] = val[P_ERROR];
		else if (json_is_object(val[P_ERROR]))
			pick(c, val[P_ERROR], error_fields, E_N, ev, ek, p);
		else {
			json_decref(out);
			return reject(c, p, "expected an object, got %s", type_name(val[P_ERROR]));
		}
		if (json_is_string(ev[E_TYPE]))
			etype = lookup(errtype_table, json_string_value(ev[E_TYPE]));
		if (json_is_string(ev[E_MESSAGE]) &&
		    !(msg = clean(c, json_string_value(ev[E_MESSAGE]), EC_TEXT_PARAGRAPHS, CAP_MESSAGE))) {
			json_decref(out);
			return NULL;
		}
		err = json_pack("{s:s, s:s}", "type", etype ? etype : "SYSTEM_ERROR", "message",
		    msg && *msg ? msg : "unknown error");
		free(msg);
		if (json_is_integer(ev[E_RETRY]) && json_integer_value(ev[E_RETRY]) >= 0)
			json_object_set(err, "retryCount", ev[E_RETRY]);
		json_object_set_new(out, "error", err);
	}
	return out;
}

/* --- metadata.raw ------------------------------------------------------------------ */

static void
note(ec_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
note(ec_buf *b, const char *fmt, ...)
{
	char s[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s, sizeof s, fmt, ap);
	va_end(ap);
	ec_utf8_trim(s);
	if (b->n)
		ec_buf_puts(b, "; ");
	ec_buf_puts(b, s);
}

static const char *
plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* What this pass did, as short notes; "" when it changed nothing of substance. */
static void
notes(nctx *c, ec_buf *b)
{
	if (*c->where)
		note(b, "%s", c->where);
	if (c->unwrapped)
		note(b, "unwrapped from $.%s", c->unwrap_key);
	if (c->bom)
		note(b, "removed a byte order mark");
	if (c->commas)
		note(b, "removed %zu trailing %s", c->commas, plural(c->commas, "comma", "commas"));
	if (c->conf_missing)
		note(b, "confidence missing: 0.5 assumed");
	if (c->conf_clamped)
		note(b, "confidence clamped to 0..1");
	else if (c->conf_string)
		note(b, "confidence given as text");
	if (c->status_odd)
		note(b, "unknown status taken as completed");
	if (c->cost_missing)
		note(b, "costAnalysis missing");
	else if (c->amount_missing)
		note(b, "costAnalysis amount missing");
	if (c->recs_from_strings)
		note(b, "%zu %s given as plain text", c->recs_from_strings,
		    plural(c->recs_from_strings, "recommendation", "recommendations"));
	if (c->type_default)
		note(b, "type missing in %zu: suggested assumed", c->type_default);
	if (c->prio_default)
		note(b, "priority missing in %zu: medium assumed", c->prio_default);
	if (c->title_from_desc)
		note(b, "%zu %s taken from the description", c->title_from_desc,
		    plural(c->title_from_desc, "title", "titles"));
	if (c->desc_from_title)
		note(b, "%zu %s taken from the title", c->desc_from_title,
		    plural(c->desc_from_title, "description", "descriptions"));
	if (c->ids_fixed)
		note(b, "fixed %zu malformed %s", c->ids_fixed, plural(c->ids_fixed, "id", "ids"));
	if (c->ids_assigned)
		note(b, "assigned %zu %s", c->ids_assigned, plural(c->ids_assigned, "id", "ids"));
	if (c->dup_recs)
		note(b, "dropped %zu duplicate %s", c->dup_recs,
		    plural(c->dup_recs, "recommendation", "recommendations"));
	if (c->recs_over)
		note(b, "dropped %zu recommendations over the limit of %d", c->recs_over, MAX_RECS);
	if (c->deps_dropped)
		note(b, "dropped %zu %s on unknown ids or on itself", c->deps_dropped,
		    plural(c->deps_dropped, "dependency", "dependencies"));
	if (c->cost_default)
		note(b, "estimated cost missing in %zu", c->cost_default);
	if (c->effort_bad)
		note(b, "dropped %zu invalid effortDays", c->effort_bad);
	if (c->insights_empty)
		note(b, "dropped %zu empty %s", c->insights_empty,
		    plural(c->insights_empty, "insight", "insights"));
	if (c->insights_over)
		note(b, "dropped %zu insights over the limit of %d", c->insights_over,
		    MAX_INSIGHTS);
	if (c->refs_over)
		note(b, "references cut to %d in %zu", MAX_REFERENCES, c->refs_over);
	if (c->signals_bad)
		note(b, "dropped %zu invalid, repeated or surplus %s", c->signals_bad,
		    plural(c->signals_bad, "signal", "signals"));
	if (c->redactions_bad)
		note(b, "dropped %zu invalid redaction %s", c->redactions_bad,
		    plural(c->redactions_bad, "count", "counts"));
	if (c->sanitized)
		note(b, "removed control characters or markup from %zu %s", c->sanitized,
		    plural(c->sanitized, "string", "strings"));
	if (c->cut)
		note(b, "cut %zu %s to the size limit", c->cut,
		    plural(c->cut, "string", "strings"));
	if (c->dropped) {
		ec_buf l = { 0 };
		for (size_t i = 0; i < c->dropped && i < NOTE_PATHS; i++) {
			if (i)
				ec_buf_puts(&l, ", ");
			ec_buf_puts(&l, c->dropped_paths[i]);
		}
		if (c->dropped > NOTE_PATHS)
			ec_buf_puts(&l, ", ...");
		note(b, "dropped %zu unknown or repeated %s: %s", c->dropped,
		    plural(c->dropped, "field", "fields"), l.p ? l.p : "");
		free(l.p);
	}
}

/* The path of a metadata field given in metadata (key) or at the top (topkey). */
static const char *
field_path(char *buf, size_t cap, const char *path, const char *key, const char *topkey)
{
	if (key)
		ec_jpath_key(buf, cap, path, key);
	else
		ec_jpath_key(buf, cap, "$", topkey);
	return buf;
}

static json_t *
metadata(nctx *c, const json_t *top_val[], const char *top_key[])
{
	json_t *out, *val[M_N], *red, *x;
	const char *k[M_N], *rk;
	const json_t *in = top_val[T_META];
	char path[160], p[512];
	const json_t *model, *tokens, *version;

	ec_jpath_key(path, sizeof path, "$", top_key[T_META] ? top_key[T_META] : "metadata");
	memset(val, 0, sizeof val);
	memset(k, 0, sizeof k);
	if (json_is_object(in))
		pick(c, in, meta_fields, M_N, val, k, path);
	else if (in)
		return reject(c, path, "expected an object, got %s", type_name(in));
	if (!(out = json_object()))
		return nomem(c);
	model = val[M_MODEL] ? val[M_MODEL] : top_val[T_MODEL];
	tokens = val[M_TOKENS] ? val[M_TOKENS] : top_val[T_TOKENS];
	version = val[M_VERSION] ? val[M_VERSION] : top_val[T_VERSION];
	if (model && set_string(c, out, "model", model, field_path(p, sizeof p, path,
	    val[M_MODEL] ? k[M_MODEL] : NULL, top_key[T_MODEL]), CAP_SHORT) < 0)
		goto fail;
	if (!json_object_get(out, "model"))
		json_object_set_new(out, "model", json_string("unknown"));
	if (tokens) {
		long long ntok = 0;
		if (!json_is_number(tokens) ||
		    ec_dbl_to_ll(json_number_value(tokens), 0, EC_MAX_COUNT, &ntok) < 0 ||
		    (double)ntok != json_number_value(tokens)) {
			char got[48];
			if (json_is_number(tokens))
				snprintf(got, sizeof got, "%g", json_number_value(tokens));
			else
				snprintf(got, sizeof got, "%s", type_name(tokens));
			reject(c, field_path(p, sizeof p, path, val[M_TOKENS] ? k[M_TOKENS] : NULL,
			    top_key[T_TOKENS]), "expected a whole number >= 0, got %s", got);
			goto fail;
		}
		json_object_set_new(out, "tokens", json_integer((json_int_t)ntok));
	} else
		json_object_set_new(out, "tokens", json_integer(0));
	if (version && set_string(c, out, "version", version, field_path(p, sizeof p, path,
	    val[M_VERSION] ? k[M_VERSION] : NULL, top_key[T_VERSION]), CAP_VERSION) < 0)
		goto fail;
	if (!json_object_get(out, "version"))
		json_object_set_new(out, "version", json_string(c->o->version && *c->o->version ?
		    c->o->version : "unknown"));
	if (val[M_ENGINE]) {
		ec_jpath_key(p, sizeof p, path, k[M_ENGINE]);
		if (set_string(c, out, "engine", val[M_ENGINE], p, CAP_SHORT) < 0)
			goto fail;
	}
	if (val[M_FIRED]) {
		json_t *f = json_array();
		size_t i;
		ec_jpath_key(p, sizeof p, path, k[M_FIRED]);
		if (!json_is_array(val[M_FIRED])) {
			json_decref(f);
			reject(c, p, "expected an array of recommendation ids, got %s",
			    type_name(val[M_FIRED]));
			goto fail;
		}
		json_array_foreach(val[M_FIRED], i, x) {
			size_t q;
			if (!json_is_string(x) || !id_valid(json_string_value(x)))
				continue;
			for (q = 0; q < json_array_size(f) && !json_equal(json_array_get(f, q), x);
			    q++)
				;
			if (q == json_array_size(f))
				json_array_append(f, x);
		}
		json_object_set_new(out, "rulesFired", f);
	}
	if (val[M_TOTAL]) {
		ec_jpath_key(p, sizeof p, path, k[M_TOTAL]);
		if (!json_is_integer(val[M_TOTAL]) || json_integer_value(val[M_TOTAL]) < 0) {
			reject(c, p, "expected a whole number >= 0, got %s",
			    type_name(val[M_TOTAL]));
			goto fail;
		}
		json_object_set(out, "rulesTotal", val[M_TOTAL]);
	}
	if (val[M_HIT]) {
		ec_jpath_key(p, sizeof p, path, k[M_HIT]);
		if (!json_is_boolean(val[M_HIT])) {
			reject(c, p, "expected a boolean, got %s", type_name(val[M_HIT]));
			goto fail;
		}
		json_object_set(out, "cacheHit", val[M_HIT]);
	}
	/* redactions: the ones recorded before plus this pass's */
	if (!(red = json_object()))
		goto oom;
	if (val[M_REDACT]) {
		ec_jpath_key(p, sizeof p, path, k[M_REDACT]);
		if (!json_is_object(val[M_REDACT])) {
			json_decref(red);
			reject(c, p, "expected an object, got %s", type_name(val[M_REDACT]));
			goto fail;
		}
		json_object_foreach(val[M_REDACT], rk, x) {
			size_t kl = strlen(rk);
			if (!json_is_integer(x) || json_integer_value(x) < 0 || kl < 1 || kl > 32 ||
			    !(rk[0] >= 'a' && rk[0] <= 'z') ||
			    strspn(rk, "abcdefghijklmnopqrstuvwxyz0123456789_-") != kl) {
				c->redactions_bad++;
				continue;
			}
			if (json_integer_value(x) > 0)
				json_object_set(red, rk, x);
		}
	}
	if (val[M_RAW]) {
		ec_jpath_key(p, sizeof p, path, k[M_RAW]);
		if (!json_is_string(val[M_RAW])) {
			json_decref(red);
			reject(c, p, "expected a string, got %s", type_name(val[M_RAW]));
			goto fail;
		}
	}
	{
		/* raw: what was there, then the notes of this pass; cleaned last, so
		 * its own redactions count too */
		ec_buf b = { 0 };
		char *s;
		const char *old = val[M_RAW] ? json_string_value(val[M_RAW]) : "";
		ec_buf_puts(&b, old);
		{
			ec_buf nb = { 0 };
			notes(c, &nb);
			if (nb.n) {
				if (b.n)
					ec_buf_puts(&b, "; ");
				ec_buf_puts(&b, nb.p);
			}
			free(nb.p);
		}
		if (!(s = ec_buf_take(&b))) {
			json_decref(red);
			goto oom;
		}
		if (*s) {
			char *t = clean(c, s, EC_TEXT_LINE, CAP_RAW);
			free(s);
			if (!t) {
				json_decref(red);
				goto fail;
			}
			if (*t)
				json_object_set_new(out, "raw", json_string(t));
			free(t);
		} else
			free(s);
	}
	json_object_foreach(c->counts, rk, x) {
		json_int_t before = json_integer_value(json_object_get(red, rk));  /* 0 if none */
		json_object_set_new(red, rk, json_integer(before + json_integer_value(x)));
	}
	if (json_object_size(red))
		json_object_set_new(out, "redactions", red);
	else
		json_decref(red);
	return out;
oom:
	nomem(c);
fail:
	json_decref(out);
	return NULL;
}

/* --- finding the JSON (extract.c) -------------------------------------------------- */

/* The PersonaOutput inside a wrapper object ({"output": {...}}), borrowed, with the
 * wrapper's key in key; or NULL. */
static json_t *
unwrap(const json_t *obj, char *key, size_t cap, void *arg)
{
	const char *wk;
	json_t *wv;

	if (!json_is_object(obj))
		return NULL;
	for (size_t w = 0; wrappers[w]; w++) {
		json_object_foreach((json_t *)obj, wk, wv) {
			char f[64];
			if (fold(wk, f, sizeof f) == 0 && strcmp(f, wrappers[w]) == 0 &&
			    fitness(wv, NULL, NULL) > 0) {
				snprintf(key, cap, "%s", wk);
				ec_utf8_trim(key);
				return wv;
			}
		}
	}
	return NULL;
}

/* --- the whole ------------------------------------------------------------------------ */

static json_t *
build(nctx *c, const json_t *in)
{
	json_t *val[T_N], *out, *x;
	const char *key[T_N];
	double conf;

	pick(c, in, top_fields, T_N, val, key, "$");
	if (!(out = json_object()))
		return nomem(c);
	/* the order matters only for the notes and counts; metadata comes last so
	 * its raw note sees everything */
	if (!(x = persona(c, (const json_t **)val, key)))
		goto fail;
	json_object_set_new(out, "persona", x);
	if (!(x = insights(c, val[T_INSIGHTS], key[T_INSIGHTS])))
		goto fail;
	json_object_set_new(out, "insights", x);
	if (!(x = recommendations(c, val[T_RECS], key[T_RECS])))
		goto fail;
	json_object_set_new(out, "recommendations", x);
	if (!(x = cost_analysis(c, val[T_COST], key[T_COST])))
		goto fail;
	json_object_set_new(out, "costAnalysis", x);
	if (confidence(c, val[T_CONF], key[T_CONF], &conf) < 0)
		goto fail;
	json_object_set_new(out, "confidence", json_real(conf));
	if (val[T_SIGNALS]) {
		if (!(x = signals(c, val[T_SIGNALS], key[T_SIGNALS])))
			goto fail;
		json_object_set_new(out, "signals", x);
	}
	if (!(x = metadata(c, (const json_t **)val, key)))
		goto fail;
	json_object_set_new(out, "metadata", x);
	return out;
fail:
	json_decref(out);
	return NULL;
}

json_t *
ec_normalize(const char *raw, size_t len, const char *name, const ec_norm_opts *o, ec_err *e)
{
	nctx c;
	ec_extract x = { .score = fitness, .unwrap = unwrap };
	json_t *in, *out;
	ec_err ve;
	const char *pn;

	memset(&c, 0, sizeof c);
	c.name = name ? name : "output";
	c.o = o;
	c.e = e;
	if (!o || !(pn = o->persona) || !*pn || strlen(pn) > 63 || !ec_is_alnum(*pn) ||
	    strspn(pn, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(pn) || ec_is_upper(*pn))
		return reject(&c, NULL, "invalid persona name '%s'",
		    o && o->persona ? o->persona : "");
	if (o->review_order < 1 || o->review_order > 99)
		return reject(&c, NULL, "invalid review order %d: expected 1 to 99",
		    o->review_order);
	if (o->id_prefix) {
		if (!prefix_valid(o->id_prefix))
			return reject(&c, NULL,
			    "invalid id prefix '%s': expected [A-Z][A-Z0-9]{1,5}", o->id_prefix);
		snprintf(c.prefix, sizeof c.prefix, "%s", o->id_prefix);
	} else
		derive_prefix(pn, c.prefix);
	if (len > EC_MAX_JSON_BYTES)
		return reject(&c, NULL, "%zu bytes exceeds the limit of %u bytes", len,
		    EC_MAX_JSON_BYTES);
	if (!(c.counts = json_object()))
		return nomem(&c);
	if (!(in = ec_extract_json(raw, len, c.name, &x, e))) {
		json_decref(c.counts);
		return NULL;
	}
	/* What finding it took, for metadata.raw. */
	c.bom = (size_t)x.bom;
	c.commas = x.commas;
	c.unwrapped = *x.unwrap_key != '\0';
	snprintf(c.where, sizeof c.where, "%s", x.where);
	snprintf(c.unwrap_key, sizeof c.unwrap_key, "%s", x.unwrap_key);
	out = build(&c, in);
	json_decref(in);
	json_decref(c.counts);
	if (!out)
		return NULL;
	if (ec_schema_validate("persona-output", out, NULL, &ve) < 0) {
		json_decref(out);
		if (ve.code == EC_EXIT_TEMP) {
			ec_fail(e, EC_EXIT_TEMP, "%s: %s", c.name, ve.msg);
			return NULL;
		}
		return reject(&c, NULL, "%s", ve.msg);
	}
	return out;
}
