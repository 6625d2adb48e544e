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
 *   2. map it: field aliases and enum values through the tables (normfield.c),
 *      JSON null as absent, unknown fields dropped, defaults for what is missing
 *      (normparts.c);
 *   3. recommendations (normrecs.c): ids fixed or assigned, duplicates dropped,
 *      dependencies resolved to ids that exist, costs parsed into effortDays;
 *   4. every string sanitised (control characters, HTML), PII redacted and capped;
 *      then the result is validated against schemas/persona-output.
 *
 * Everything is deterministic and idempotent: the output, normalized again, comes
 * back byte for byte (no step adds anything a second pass would change, and notes
 * in metadata.raw are written only for what a pass really did). persona-normalize(1)
 * documents every table; keep the two in step.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"

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
		norm_pick(c, in, norm_meta_fields, M_N, val, k, path);
	else if (in)
		return norm_reject(c, path, "expected an object, got %s", norm_type_name(in));
	if (!(out = json_object()))
		return norm_nomem(c);
	model = val[M_MODEL] ? val[M_MODEL] : top_val[T_MODEL];
	tokens = val[M_TOKENS] ? val[M_TOKENS] : top_val[T_TOKENS];
	version = val[M_VERSION] ? val[M_VERSION] : top_val[T_VERSION];
	if (model && norm_set_string(c, out, "model", model, field_path(p, sizeof p, path,
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
				snprintf(got, sizeof got, "%s", norm_type_name(tokens));
			norm_reject(c, field_path(p, sizeof p, path, val[M_TOKENS] ? k[M_TOKENS] : NULL,
			    top_key[T_TOKENS]), "expected a whole number >= 0, got %s", got);
			goto fail;
		}
		json_object_set_new(out, "tokens", json_integer((json_int_t)ntok));
	} else
		json_object_set_new(out, "tokens", json_integer(0));
	if (version && norm_set_string(c, out, "version", version, field_path(p, sizeof p, path,
	    val[M_VERSION] ? k[M_VERSION] : NULL, top_key[T_VERSION]), CAP_VERSION) < 0)
		goto fail;
	if (!json_object_get(out, "version"))
		json_object_set_new(out, "version", json_string(c->o->version && *c->o->version ?
		    c->o->version : "unknown"));
	if (val[M_ENGINE]) {
		ec_jpath_key(p, sizeof p, path, k[M_ENGINE]);
		if (norm_set_string(c, out, "engine", val[M_ENGINE], p, CAP_SHORT) < 0)
			goto fail;
	}
	if (val[M_FIRED]) {
		json_t *f = json_array();
		size_t i;
		ec_jpath_key(p, sizeof p, path, k[M_FIRED]);
		if (!json_is_array(val[M_FIRED])) {
			json_decref(f);
			norm_reject(c, p, "expected an array of recommendation ids, got %s",
			    norm_type_name(val[M_FIRED]));
			goto fail;
		}
		json_array_foreach(val[M_FIRED], i, x) {
			size_t q;
			if (!json_is_string(x) || !norm_id_valid(json_string_value(x)))
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
			norm_reject(c, p, "expected a whole number >= 0, got %s",
			    norm_type_name(val[M_TOTAL]));
			goto fail;
		}
		json_object_set(out, "rulesTotal", val[M_TOTAL]);
	}
	if (val[M_HIT]) {
		ec_jpath_key(p, sizeof p, path, k[M_HIT]);
		if (!json_is_boolean(val[M_HIT])) {
			norm_reject(c, p, "expected a boolean, got %s", norm_type_name(val[M_HIT]));
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
			norm_reject(c, p, "expected an object, got %s", norm_type_name(val[M_REDACT]));
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
			norm_reject(c, p, "expected a string, got %s", norm_type_name(val[M_RAW]));
			goto fail;
		}
	}
	/* usage and grounding: an agent's accounting and what it took from the rules
	 * (persona-llm), kept when they are what the contract says, else dropped with a
	 * note */
	for (int f = M_USAGE; f <= M_GROUND; f++) {
		ec_err ue;
		json_t *probe;
		if (!val[f])
			continue;
		probe = json_pack("{s:{s:s, s:i, s:s, s:i}, s:[], s:[], s:{s:s, s:s}, s:i, "
		    "s:{s:s, s:i, s:s, s:O}}", "persona", "name", "x", "reviewOrder", 1, "status",
		    "completed", "executionTime", 0, "insights", "recommendations", "costAnalysis",
		    "category", "x", "amount", "0", "confidence", 0, "metadata", "model", "x", "tokens", 0,
		    "version", "x", norm_meta_fields[f].canon, val[f]);
		if (probe && ec_schema_validate("persona-output", probe, NULL, &ue) == 0)
			json_object_set(out, norm_meta_fields[f].canon, val[f]);
		else
			norm_drop_field(c, path, k[f]);
		json_decref(probe);
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
			char *t = norm_clean(c, s, EC_TEXT_LINE, CAP_RAW);
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
	norm_nomem(c);
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
	for (size_t w = 0; norm_wrappers[w]; w++) {
		json_object_foreach((json_t *)obj, wk, wv) {
			char f[64];
			if (norm_fold(wk, f, sizeof f) == 0 && strcmp(f, norm_wrappers[w]) == 0 &&
			    norm_fitness(wv, NULL, NULL) > 0) {
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

	norm_pick(c, in, norm_top_fields, T_N, val, key, "$");
	if (!(out = json_object()))
		return norm_nomem(c);
	/* the order matters only for the notes and counts; metadata comes last so
	 * its raw note sees everything */
	if (!(x = norm_persona(c, (const json_t **)val, key)))
		goto fail;
	json_object_set_new(out, "persona", x);
	if (!(x = norm_insights(c, val[T_INSIGHTS], key[T_INSIGHTS])))
		goto fail;
	json_object_set_new(out, "insights", x);
	if (!(x = norm_recommendations(c, val[T_RECS], key[T_RECS])))
		goto fail;
	json_object_set_new(out, "recommendations", x);
	if (!(x = norm_cost_analysis(c, val[T_COST], key[T_COST])))
		goto fail;
	json_object_set_new(out, "costAnalysis", x);
	if (norm_confidence(c, val[T_CONF], key[T_CONF], &conf) < 0)
		goto fail;
	json_object_set_new(out, "confidence", json_real(conf));
	if (val[T_SIGNALS]) {
		if (!(x = norm_signals(c, val[T_SIGNALS], key[T_SIGNALS])))
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
	ec_extract x = { .score = norm_fitness, .unwrap = unwrap };
	json_t *in, *out;
	ec_err ve;
	const char *pn;

	memset(&c, 0, sizeof c);
	c.name = name ? name : "output";
	c.o = o;
	c.e = e;
	if (!o || !(pn = o->persona) || !*pn || strlen(pn) > 63 || !ec_is_alnum(*pn) ||
	    strspn(pn, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(pn) || ec_is_upper(*pn))
		return norm_reject(&c, NULL, "invalid persona name '%s'",
		    o && o->persona ? o->persona : "");
	if (o->review_order < 1 || o->review_order > 99)
		return norm_reject(&c, NULL, "invalid review order %d: expected 1 to 99",
		    o->review_order);
	if (o->id_prefix) {
		if (!norm_prefix_valid(o->id_prefix))
			return norm_reject(&c, NULL,
			    "invalid id prefix '%s': expected [A-Z][A-Z0-9]{1,5}", o->id_prefix);
		snprintf(c.prefix, sizeof c.prefix, "%s", o->id_prefix);
	} else
		norm_derive_prefix(pn, c.prefix);
	if (len > EC_MAX_JSON_BYTES)
		return norm_reject(&c, NULL, "%zu bytes exceeds the limit of %u bytes", len,
		    EC_MAX_JSON_BYTES);
	if (!(c.counts = json_object()))
		return norm_nomem(&c);
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
		return norm_reject(&c, NULL, "%s", ve.msg);
	}
	return out;
}

