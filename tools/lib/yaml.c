/*
 * yaml.c - the config file's YAML, turned into JSON so one validator (schema.c)
 * checks it. Only the plain subset a config needs: mappings, sequences, scalars.
 * Plain scalars are typed (null, true/false, integers, decimals); quoted ones are
 * always strings. Anchors, aliases and tags are refused rather than half-supported.
 * A side table maps every JSON path to its "line:col", so a schema error about
 * "$.performance.memoryLimit" can name the line an operator must edit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "ec.h"

typedef struct yctx {
	yaml_parser_t p;
	const char *name;
	json_t *lines;
	ec_err *e;
	int depth;
} yctx;

static int
yfail(yctx *c, const yaml_mark_t *m, const char *what)
{
	return ec_fail(c->e, EC_EXIT_REJECT, "%s:%zu:%zu: %s", c->name, m->line + 1,
	    m->column + 1, what);
}

static int
next(yctx *c, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&c->p, ev)) {
		const yaml_mark_t *m = &c->p.problem_mark;
		char msg[256];
		snprintf(msg, sizeof msg, "%s%s%s", c->p.problem ? c->p.problem : "syntax error",
		    c->p.context ? " " : "", c->p.context ? c->p.context : "");
		return yfail(c, m, msg);
	}
	return 0;
}

static void
note_line(yctx *c, const char *path, const yaml_mark_t *m)
{
	char lc[48];
	if (!c->lines)
		return;
	snprintf(lc, sizeof lc, "%zu:%zu", m->line + 1, m->column + 1);
	json_object_set_new(c->lines, path, json_string(lc));
}

/* The digits at *s, and past them; how many. */
static size_t
digits(const char **s)
{
	const char *p = *s;

	while (**s >= '0' && **s <= '9')
		(*s)++;
	return (size_t)(*s - p);
}

/* Is s an integer, ^[-+]?[0-9]+$ (tested by hand: a regcomp per scalar cost the
 * config's load half its time, in every tool)? */
static int
is_integer(const char *s)
{
	s += *s == '-' || *s == '+';
	return digits(&s) > 0 && !*s;
}

/* Is s a float, ^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ? */
static int
is_float(const char *s)
{
	size_t whole;

	s += *s == '-' || *s == '+';
	whole = digits(&s);
	if (*s++ != '.' || digits(&s) + whole == 0)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		s += *s == '-' || *s == '+';
		if (!digits(&s))
			return 0;
	}
	return !*s;
}

static json_t *
scalar(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, ev->data.scalar.length);
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (is_integer(s)) {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		if (errno == 0)
			return json_integer(v);
	}
	if (is_float(s))
		return json_real(strtod(s, NULL));
	return json_stringn(s, ev->data.scalar.length);
}

static json_t *node(yctx *c, yaml_event_t *ev, const char *path);

static json_t *
mapping(yctx *c, const char *path)
{
	json_t *obj = json_object();
	yaml_event_t ev;
	char p[512];

	for (;;) {
		json_t *v;
		char *key;
		yaml_mark_t km;
		if (next(c, &ev) < 0)
			goto fail;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return obj;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			yfail(c, &ev.start_mark, "expected a plain key");
			yaml_event_delete(&ev);
			goto fail;
		}
		key = strdup((const char *)ev.data.scalar.value);
		km = ev.start_mark;
		yaml_event_delete(&ev);
		if (!key)
			goto fail;
		ec_jpath_key(p, sizeof p, path, key);
		if (json_object_get(obj, key)) {
			char msg[300];
			snprintf(msg, sizeof msg, "duplicate key '%s'", key);
			yfail(c, &km, msg);
			free(key);
			goto fail;
		}
		note_line(c, p, &km);
		if (next(c, &ev) < 0) {
			free(key);
			goto fail;
		}
		v = node(c, &ev, p);
		yaml_event_delete(&ev);
		if (!v) {
			free(key);
			goto fail;
		}
		json_object_set_new(obj, key, v);
		free(key);
	}
fail:
	json_decref(obj);
	return NULL;
}

static json_t *
sequence(yctx *c, const char *path)
{
	json_t *arr = json_array();
	yaml_event_t ev;
	char p[512];

	for (;;) {
		json_t *v;
		if (next(c, &ev) < 0)
			goto fail;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return arr;
		}
		ec_jpath_index(p, sizeof p, path, json_array_size(arr));
		note_line(c, p, &ev.start_mark);
		v = node(c, &ev, p);
		yaml_event_delete(&ev);
		if (!v)
			goto fail;
		json_array_append_new(arr, v);
	}
fail:
	json_decref(arr);
	return NULL;
}

/* Build the JSON for the node that starts with ev (which the caller deletes). */
static json_t *
node(yctx *c, yaml_event_t *ev, const char *path)
{
	json_t *r = NULL;

	if (++c->depth > EC_MAX_JSON_DEPTH) {
		yfail(c, &ev->start_mark, "nesting too deep");
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor || (ev->data.scalar.tag && ev->data.scalar.tag[0] == '!'))
			yfail(c, &ev->start_mark, "anchors and tags are not supported");
		else
			r = scalar(ev);
		break;
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor)
			yfail(c, &ev->start_mark, "anchors are not supported");
		else
			r = mapping(c, path);
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor)
			yfail(c, &ev->start_mark, "anchors are not supported");
		else
			r = sequence(c, path);
		break;
	case YAML_ALIAS_EVENT:
		yfail(c, &ev->start_mark, "aliases are not supported");
		break;
	default:
		yfail(c, &ev->start_mark, "unexpected YAML event");
	}
	c->depth--;
	return r;
}

json_t *
ec_yaml_loadb(const char *buf, size_t len, const char *name, json_t **lines, ec_err *e)
{
	yctx c = { .name = name, .e = e };
	yaml_event_t ev;
	json_t *root = NULL;
	int done = 0;

	/* libyaml reads UTF-16 too, and would make a string of the whole file: say
	 * what the file really is instead. */
	if (ec_bom_name(buf, len)) {
		ec_fail(e, EC_EXIT_REJECT, "%s: not UTF-8 (%s): expected a UTF-8 YAML file", name,
		    ec_bom_name(buf, len));
		return NULL;
	}
	{
		const char *nul = memchr(buf, '\0', len);
		long bad = ec_utf8_invalid_at(buf, nul ? (size_t)(nul - buf) : len);
		int line, col;
		if (bad >= 0 || nul) {
			ec_line_col(buf, bad >= 0 ? (size_t)bad : (size_t)(nul - buf), &line, &col);
			ec_fail(e, EC_EXIT_REJECT, "%s:%d:%d: %s: expected a UTF-8 YAML file", name, line,
			    col, bad >= 0 ? "not UTF-8" : "a NUL byte");
			return NULL;
		}
	}
	if (!yaml_parser_initialize(&c.p)) {
		ec_fail(e, EC_EXIT_TEMP, "%s: cannot initialise the YAML parser", name);
		return NULL;
	}
	yaml_parser_set_input_string(&c.p, (const unsigned char *)buf, len);
	if (lines)
		c.lines = *lines = json_object();
	while (!done) {
		if (next(&c, &ev) < 0)
			goto fail;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (root) {
				yfail(&c, &ev.start_mark, "more than one YAML document");
				yaml_event_delete(&ev);
				goto fail;
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			if (!(root = node(&c, &ev, "$"))) {
				yaml_event_delete(&ev);
				goto fail;
			}
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&c.p);
	return root ? root : json_object();
fail:
	yaml_parser_delete(&c.p);
	json_decref(root);
	if (lines) {
		json_decref(*lines);
		*lines = NULL;
	}
	return NULL;
}
