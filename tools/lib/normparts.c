/*
 * normparts.c - the parts of a PersonaOutput besides its recommendations and
 * metadata: insights, signals, confidence, costAnalysis and persona.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"

/* --- the other parts -------------------------------------------------------------- */

json_t *
norm_insights(nctx *c, const json_t *in, const char *key)
{
	char path[160], p[512];
	json_t *out, *items, *x;
	size_t i;

	ec_jpath_key(path, sizeof path, "$", key ? key : "insights");
	if (!(out = json_array()))
		return norm_nomem(c);
	if (!in)
		return out;
	if (json_is_string(in))
		items = json_pack("[O]", in);
	else if (json_is_array(in))
		items = json_incref((json_t *)in);
	else {
		json_decref(out);
		return norm_reject(c, path, "expected an array of strings, got %s", norm_type_name(in));
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
			return norm_reject(c, p, "expected a string, got %s", norm_type_name(x));
		}
		if (!(s = norm_clean(c, json_string_value(x), EC_TEXT_PARAGRAPHS, CAP_INSIGHT))) {
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

json_t *
norm_signals(nctx *c, const json_t *in, const char *key)
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
		return norm_reject(c, path, "expected an array of signals, got %s", norm_type_name(in));
	if (!(out = json_array())) {
		json_decref(items);
		return norm_nomem(c);
	}
	json_array_foreach(items, i, x) {
		char *s;
		if (!json_is_string(x)) {
			ec_jpath_index(p, sizeof p, path, i);
			json_decref(out), json_decref(items);
			return norm_reject(c, p, "expected a string, got %s", norm_type_name(x));
		}
		if (!(s = norm_clean(c, json_string_value(x), EC_TEXT_LINE, 128))) {
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
int
norm_confidence(nctx *c, const json_t *in, const char *key, double *out)
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
		if (norm_fold(s, f, sizeof f) == 0 &&
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
		norm_reject(c, path, "expected a number from 0 to 1 or a percentage, got %s",
		    norm_type_name(in));
		return -1;
	}
	if (v < 0 || v > 1) {
		c->conf_clamped++;
		v = v < 0 ? 0 : 1;
	}
	*out = v;
	return 0;
bad:
	norm_shown(c, in, show, sizeof show);
	norm_reject(c, path, "expected a number from 0 to 1 or a percentage, got %s", show);
	return -1;
}

json_t *
norm_cost_analysis(nctx *c, const json_t *in, const char *key)
{
	char path[160], p[512];
	json_t *out, *val[C_N];
	const char *k[C_N];
	char *cat = NULL;

	ec_jpath_key(path, sizeof path, "$", key ? key : "costAnalysis");
	if (!(out = json_object()))
		return norm_nomem(c);
	memset(val, 0, sizeof val);
	memset(k, 0, sizeof k);
	if (!in)
		;
	else if (json_is_string(in) || json_is_number(in))
		val[C_AMOUNT] = (json_t *)in, k[C_AMOUNT] = "";
	else if (json_is_object(in))
		norm_pick(c, in, norm_cost_fields, C_N, val, k, path);
	else {
		json_decref(out);
		return norm_reject(c, path, "expected an object, got %s", norm_type_name(in));
	}
	if (val[C_CATEGORY]) {
		ec_jpath_key(p, sizeof p, path, k[C_CATEGORY]);
		if (!json_is_string(val[C_CATEGORY])) {
			json_decref(out);
			return norm_reject(c, p, "expected a string, got %s",
			    norm_type_name(val[C_CATEGORY]));
		}
		if (!(cat = norm_clean(c, json_string_value(val[C_CATEGORY]), EC_TEXT_LINE, CAP_CATEGORY))) {
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
	if (norm_cost_fields_set(c, out, "amount", val[C_AMOUNT], p, val[C_EFFORT], CAP_COST,
	    in ? &c->amount_missing : &c->cost_missing) < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* A string field: cleaned copy set into obj, or rejected when not a string. */
int
norm_set_string(nctx *c, json_t *obj, const char *name, const json_t *v, const char *path, size_t cap)
{
	char *s;

	if (!json_is_string(v)) {
		norm_reject(c, path, "expected a string, got %s", norm_type_name(v));
		return -1;
	}
	if (!(s = norm_clean(c, json_string_value(v), EC_TEXT_LINE, cap)))
		return -1;
	if (*s)
		json_object_set_new(obj, name, json_string(s));
	free(s);
	return 0;
}

json_t *
norm_persona(nctx *c, const json_t *top_val[], const char *top_key[])
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
		norm_pick(c, in, norm_persona_fields, P_N, val, k, path);
	else if (in && !json_is_string(in))
		return norm_reject(c, path, "expected an object, got %s", norm_type_name(in));
	if (!(out = json_object()))
		return norm_nomem(c);
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
			return norm_reject(c, p, "expected a string, got %s", norm_type_name(st));
		}
		if (!(status = norm_lookup(norm_status_table, json_string_value(st)))) {
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
			return norm_reject(c, p, "expected a boolean, got %s", norm_type_name(val[P_CACHED]));
		}
		json_object_set(out, "cached", val[P_CACHED]);
	}
	if (val[P_FALLBACK]) {
		ec_jpath_key(p, sizeof p, path, k[P_FALLBACK]);
		if (norm_set_string(c, out, "fallback", val[P_FALLBACK], p, CAP_VERSION) < 0) {
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
			norm_pick(c, val[P_ERROR], norm_error_fields, E_N, ev, ek, p);
		else {
			json_decref(out);
			return norm_reject(c, p, "expected an object, got %s", norm_type_name(val[P_ERROR]));
		}
		if (json_is_string(ev[E_TYPE]))
			etype = norm_lookup(norm_errtype_table, json_string_value(ev[E_TYPE]));
		if (json_is_string(ev[E_MESSAGE]) &&
		    !(msg = norm_clean(c, json_string_value(ev[E_MESSAGE]), EC_TEXT_PARAGRAPHS, CAP_MESSAGE))) {
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

