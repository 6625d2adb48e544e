/*
 * normfield.c - the normalizer's vocabulary: the field names and enum values agents
 * use (folded, see norm_fold()), picking fields out of an object, the one way a
 * string gets into a PersonaOutput (norm_clean()), rejections and cost fields.
 * The tables are documented in persona-normalize(1); keep the two in step.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"

/* --- small helpers ------------------------------------------------------ */

const char *
norm_type_name(const json_t *v)
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
int
norm_fold(const char *s, char *out, size_t cap)
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

/* Fill c->e with "NAME: PATH: message" (EC_EXIT_REJECT); returns NULL. */
json_t *
norm_reject(nctx *c, const char *path, const char *fmt, ...)
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

json_t *
norm_nomem(nctx *c)
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
char *
norm_clean(nctx *c, const char *in, int mode, size_t cap)
{
	int changed = 0;
	char *s = ec_text_sanitize(in, mode, &changed);

	if (!s)
		return norm_nomem(c), NULL;
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
		return norm_nomem(c), NULL;
	}
	return s;
}

/* A cleaned copy of a value for an error message: one line, at most 40 characters,
 * PII redacted (messages go to logs too). */
void
norm_shown(nctx *c, const json_t *v, char *buf, size_t cap)
{
	char *s;

	if (!json_is_string(v)) {
		snprintf(buf, cap, "%s", norm_type_name(v));
		return;
	}
	if (!(s = norm_clean(c, json_string_value(v), EC_TEXT_LINE, 40))) {
		snprintf(buf, cap, "?");
		return;
	}
	snprintf(buf, cap, "'%s'", s);
	ec_utf8_trim(buf);
	free(s);
}

const fspec norm_top_fields[T_N] = {
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

const fspec norm_rec_fields[R_N] = {
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
	{ "concern", { "concern", "concernkey" } },
};

const fspec norm_cost_fields[C_N] = {
	{ "category", { "category", "area" } },
	{ "amount", { "amount", "total", "estimate", "cost", "value" } },
	{ "effortDays", { "effortdays", "effortindays" } },
};

const fspec norm_meta_fields[M_N] = {
	{ "model", { "model", "modelname" } },
	{ "tokens", { "tokens", "tokensused", "totaltokens" } },
	{ "version", { "version" } },
	{ "engine", { "engine" } },
	{ "rulesFired", { "rulesfired" } },
	{ "rulesTotal", { "rulestotal" } },
	{ "redactions", { "redactions" } },
	{ "cacheHit", { "cachehit" } },
	{ "raw", { "raw" } },
	{ "usage", { "usage" } },
	{ "grounding", { "grounding" } },
};

const fspec norm_persona_fields[P_N] = {
	{ "name", { "name" } },
	{ "reviewOrder", { "revieworder", "order" } },
	{ "status", { "status" } },
	{ "executionTime", { "executiontime", "executiontimems", "durationms", "elapsedms" } },
	{ "cached", { "cached" } },
	{ "fallback", { "fallback" } },
	{ "error", { "error" } },
};

const fspec norm_error_fields[E_N] = {
	{ "type", { "type", "kind" } },
	{ "message", { "message", "msg", "detail", "details" } },
	{ "retryCount", { "retrycount", "retries" } },
};

/* Wrapper keys: an object with none of the contract's fields but one of these,
 * holding an object that has them, is unwrapped (one level). */
const char *const norm_wrappers[] = { "output", "result", "response", "data", "review",
	"personaoutput", "answer", NULL };

void
norm_drop_field(nctx *c, const char *path, const char *key)
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
	int folded = norm_fold(k, f, sizeof f) == 0;

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
void
norm_pick(nctx *c, const json_t *obj, const fspec *spec, size_t nspec, json_t **val,
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
				norm_drop_field(c, path, k);
			continue;
		}
		if (r < rank[f]) {
			if (key[f] && path)
				norm_drop_field(c, path, key[f]);
			val[f] = json_is_null(v) ? NULL : v;
			key[f] = k;
			rank[f] = r;
		} else if (path)
			norm_drop_field(c, path, k);
	}
}

/* How well does an object fit the PersonaOutput contract? 0: not at all. */
int
norm_fitness(const json_t *obj, size_t *items, void *arg)
{
	static const int weight[T_N] = { 1, 8, 8, 2, 2, 1, 1, 1, 0, 0, 0, 0 };
	json_t *val[T_N];
	const char *key[T_N];
	int score = 0;

	if (!json_is_object(obj))
		return 0;
	norm_pick(NULL, obj, norm_top_fields, T_N, val, key, NULL);
	for (int i = 0; i < T_N; i++)
		if (key[i])
			score += weight[i];
	if (items)
		*items = json_array_size(val[T_RECS]) + json_array_size(val[T_INSIGHTS]);
	return score;
}

const etab norm_type_table[] = {
	{ "blocking", { "blocking", "blocker", "blocks", "block", "must", "musthave", "mustdo",
	    "mustfix", "required", "requirement", "mandatory", "essential" } },
	{ "suggested", { "suggested", "suggestion", "suggest", "nicetohave", "optional",
	    "recommended", "recommendation", "should", "shouldhave", "could", "couldhave",
	    "advisory", "improvement", "consider" } },
	{ NULL, { NULL } },
};

const etab norm_priority_table[] = {
	{ "critical", { "critical", "crit", "blocker", "urgent", "highest", "showstopper", "p0",
	    "sev0", "sev1", "severity1", "s1", "veryhigh" } },
	{ "high", { "high", "important", "major", "hi", "p1", "sev2", "severity2", "s2" } },
	{ "medium", { "medium", "med", "moderate", "normal", "mid", "average", "p2", "sev3",
	    "severity3", "s3" } },
	{ "low", { "low", "minor", "trivial", "lowest", "p3", "p4", "sev4", "severity4", "s4",
	    "info", "informational", "verylow" } },
	{ NULL, { NULL } },
};

const etab norm_status_table[] = {
	{ "completed", { "completed", "complete", "done", "success", "succeeded", "successful",
	    "ok", "finished" } },
	{ "failed", { "failed", "failure", "fail", "error", "errored" } },
	{ "skipped", { "skipped", "skip", "excluded", "notapplicable", "na", "notrun" } },
	{ NULL, { NULL } },
};

const etab norm_errtype_table[] = {
	{ "PERSONA_UNAVAILABLE", { "personaunavailable", "unavailable" } },
	{ "TIMEOUT", { "timeout", "timedout" } },
	{ "INVALID_INPUT", { "invalidinput" } },
	{ "VALIDATION_FAILED", { "validationfailed", "invalidoutput" } },
	{ "SYSTEM_ERROR", { "systemerror" } },
	{ "NETWORK_ERROR", { "networkerror", "network" } },
	{ NULL, { NULL } },
};

/* The contract value for s by table t, or NULL. */
const char *
norm_lookup(const etab *t, const char *s)
{
	char f[64];

	if (norm_fold(s, f, sizeof f) < 0 || !*f)
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
int
norm_cost_fields_set(nctx *c, json_t *obj, const char *textkey, const json_t *text, const char *tpath,
    const json_t *eff, size_t cap, size_t *missing)
{
	json_t *effo = NULL;
	char *s = NULL, num[32];
	double mn, mx;

	if (eff && !(effo = ec_effort_given(eff)))
		c->effort_bad++;
	if (json_is_string(text)) {
		if (!(s = norm_clean(c, json_string_value(text), EC_TEXT_LINE, cap)))
			goto fail;
	} else if (json_is_number(text)) {
		ec_fmt_number(num, sizeof num, json_number_value(text));
		s = strdup(num);
	} else if (text) {
		norm_reject(c, tpath, "expected a string, got %s", norm_type_name(text));
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
	norm_nomem(c);
fail:
	json_decref(effo);
	free(s);
	return -1;
}
