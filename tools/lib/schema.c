/*
 * schema.c - validate JSON against the project's own schemas/ at run time.
 *
 * The schemas are the one place the contracts (and the config defaults) live; they
 * are embedded into every binary at build time (build/schemas.S), so an installed
 * tool never depends on finding them on disk. This is a deliberately small subset
 * of JSON Schema draft 2020-12 — the keywords schemas/ may use are listed in
 * schemas/README.md — and the tests check the same documents with a full validator
 * (ajv), so the two cannot drift apart unnoticed.
 *
 * Errors name the JSON path of the first wrong field and what was expected:
 * "$.options.excludePersonas[2]: expected a persona name, got \"../x\"".
 */
#include <fcntl.h>
#include <regex.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ec.h"
#include "pattern.h"

struct ec_schema_entry { const char *name; const char *text; };
extern const struct ec_schema_entry ec_schema_index[];   /* build/schemas_index.c */

#define PATHCAP EC_JPATH_CAP

static struct {
	const char *name;
	json_t *doc;
} loaded[32];

const char *
ec_schema_text(const char *name)
{
	for (const struct ec_schema_entry *s = ec_schema_index; s->name; s++)
		if (strcmp(s->name, name) == 0)
			return s->text;
	return NULL;
}

/* The parsed schema NAME (borrowed, cached for the process), or NULL. */
static json_t *
schema_doc(const char *name)
{
	size_t i;
	const char *text;

	for (i = 0; i < sizeof loaded / sizeof *loaded && loaded[i].name; i++)
		if (strcmp(loaded[i].name, name) == 0)
			return loaded[i].doc;
	if (i == sizeof loaded / sizeof *loaded || !(text = ec_schema_text(name)))
		return NULL;
	/* the schemas are ours and well formed: the fast reader takes them */
	if (!(loaded[i].doc = ec_json_fastparse(text, strlen(text))))
		loaded[i].doc = json_loads(text, 0, NULL);
	loaded[i].name = name;
	return loaded[i].doc;
}

/* How deep path p is. Where in the document we are is an ec_jpath, formatted only
 * when there is an error to report: validating is hot. */
static size_t
depth(const ec_jpath *p)
{
	size_t n = 0;
	for (; p; p = p->up)
		n++;
	return n;
}

typedef struct vctx {
	json_t *root;           /* the schema document $refs like "#/..." resolve in */
	ec_err *e;
	char bad[PATHCAP];      /* path of the first error */
	size_t bad_depth;       /* its depth, to pick the most telling alternative */
	int quiet;              /* trying alternatives: note the depth, format nothing */
} vctx;

static int vfail(vctx *c, const ec_jpath *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
vfail(vctx *c, const ec_jpath *path, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	c->bad_depth = depth(path);
	if (c->quiet)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ec_jpath_format(path, c->bad, sizeof c->bad);
	return ec_fail(c->e, EC_EXIT_REJECT, "%s: %s", c->bad, msg);
}

/* Resolve a $ref; *root is switched to the referenced document. Borrowed. */
static json_t *
resolve_ref(const char *ref, json_t **root)
{
	char file[128];
	const char *hash = strchr(ref, '#');
	size_t n = hash ? (size_t)(hash - ref) : strlen(ref);
	json_t *cur;

	if (n > 0) {
		const char *slash;
		char name[128];
		if (n >= sizeof file)
			return NULL;
		memcpy(file, ref, n);
		file[n] = '\0';
		slash = strrchr(file, '/');
		snprintf(name, sizeof name, "%s", slash ? slash + 1 : file);
		if (strlen(name) > 12 && strcmp(name + strlen(name) - 12, ".schema.json") == 0)
			name[strlen(name) - 12] = '\0';
		for (const struct ec_schema_entry *s = ec_schema_index; s->name; s++)
			if (strcmp(s->name, name) == 0 && (*root = schema_doc(s->name)))
				goto found;
		return NULL;
	}
found:
	cur = *root;
	if (!hash || !hash[1])
		return cur;
	/* JSON pointer: "#/$defs/name" (no escapes needed in our schemas) */
	for (const char *s = hash + 2; cur && *s; ) {
		const char *sl = strchr(s, '/');
		size_t k = sl ? (size_t)(sl - s) : strlen(s);
		char key[128];
		if (k >= sizeof key)
			return NULL;
		memcpy(key, s, k);
		key[k] = '\0';
		cur = json_object_get(cur, key);
		s += k + (sl ? 1 : 0);
	}
	return cur;
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static int
type_is(const json_t *v, const char *t)
{
	if (!strcmp(t, "object")) return json_is_object(v);
	if (!strcmp(t, "array")) return json_is_array(v);
	if (!strcmp(t, "string")) return json_is_string(v);
	if (!strcmp(t, "integer")) {
		long long n;    /* a whole real; its range is checked before the cast */
		return json_is_integer(v) || (json_is_real(v) &&
		    ec_dbl_to_ll(json_real_value(v), LLONG_MIN, LLONG_MAX, &n) == 0 &&
		    (double)n == json_real_value(v));
	}
	if (!strcmp(t, "number")) return json_is_number(v);
	if (!strcmp(t, "boolean")) return json_is_boolean(v);
	if (!strcmp(t, "null")) return json_is_null(v);
	return 0;
}

/* A short human name for what schema s expects: its description if short, else "". */
static const char *
expect_words(const json_t *s)
{
	const char *d = json_string_value(json_object_get(s, "description"));
	if (d && strlen(d) <= 60 && !strchr(d, '\n') && !strchr(d, '.'))
		return d;
	return NULL;
}

/* A short rendering of a value for messages: strings quoted and cut. */
static void
show(const json_t *v, char *buf, size_t cap)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = strlen(s);
		snprintf(buf, cap, "\"%.*s%s\"", n > 40 ? 40 : (int)n, s, n > 40 ? "..." : "");
	} else if (json_is_number(v) || json_is_boolean(v) || json_is_null(v)) {
		char *t = json_dumps(v, JSON_ENCODE_ANY);
		snprintf(buf, cap, "%s", t ? t : "?");
		free(t);
	} else
		snprintf(buf, cap, "%s", type_name(v));
}


/* Does s match pat? pattern.c's matcher, or regcomp for a pattern it leaves. */
static int
pattern_match(const char *pat, const char *s)
{
	static struct { char *pat; ec_pattern *fast; regex_t re; int ok; } cache[64];
	static size_t ncache;
	size_t i;
	int m;

	for (i = 0; i < ncache; i++)
		if (strcmp(cache[i].pat, pat) == 0)
			break;
	if (i == ncache) {
		if (ncache == sizeof cache / sizeof *cache) {
			i = 0;
			free(cache[0].pat);
			if (cache[0].fast)
				ec_pattern_free(cache[0].fast);
			else if (cache[0].ok)
				regfree(&cache[0].re);
		} else
			ncache++;
		cache[i].pat = strdup(pat);
		cache[i].fast = cache[i].pat ? ec_pattern_compile(pat) : NULL;
		cache[i].ok = cache[i].fast ||
		    regcomp(&cache[i].re, pat, REG_EXTENDED | REG_NOSUB) == 0;
	}
	if (cache[i].fast && (m = ec_pattern_match(cache[i].fast, s)) >= 0)
		return m;
	/* An uncompilable pattern is a defect in schemas/, caught by the tests. */
	return cache[i].ok && !cache[i].fast ? regexec(&cache[i].re, s, 0, NULL, 0) == 0 : 1;
}

static int validate(vctx *c, const json_t *s, const json_t *v, const ec_jpath *path);

/*
 * Try each alternative quietly; count matches. When none matches, the branch whose
 * error went deepest got furthest, so its message is the useful one: that branch is
 * run once more, aloud, to say it. (Formatting messages for every branch that is
 * tried and discarded used to be most of the cost of validating a rule base.)
 */
static int
alternatives(vctx *c, const json_t *arr, const json_t *v, const ec_jpath *path, int one)
{
	size_t i, matches = 0, best_depth = 0, best = 0;
	json_t *sub, *root = c->root;

	c->quiet++;
	json_array_foreach(arr, i, sub) {
		c->bad_depth = 0;
		if (validate(c, sub, v, path) == 0)
			matches++;
		else if (c->bad_depth >= best_depth) {
			best_depth = c->bad_depth;
			best = i;
		}
		c->root = root;
	}
	c->quiet--;
	if (matches == 0) {
		int r = 0;
		if (!c->quiet)
			r = validate(c, json_array_get(arr, best), v, path);
		c->root = root;
		c->bad_depth = best_depth;
		return r < 0 || c->quiet ? -1 : vfail(c, path, "matches none of the allowed forms");
	}
	if (one && matches > 1)
		return vfail(c, path, "matches more than one of the allowed forms");
	return 0;
}

static int
validate_object(vctx *c, const json_t *s, const json_t *v, const ec_jpath *path)
{
	json_t *props = json_object_get(s, "properties");
	json_t *addl = json_object_get(s, "additionalProperties");
	json_t *names = json_object_get(s, "propertyNames");
	json_t *req = json_object_get(s, "required");
	json_t *sub, *x;
	const char *k;
	size_t i;

	if ((x = json_object_get(s, "minProperties")) && json_object_size(v) < (size_t)json_integer_value(x))
		return vfail(c, path, "expected at least %lld fields", (long long)json_integer_value(x));
	json_object_foreach((json_t *)v, k, sub) {
		json_t *ps = props ? json_object_get(props, k) : NULL;
		ec_jpath here = { path, k, 0 };
		const ec_jpath *p = &here;
		if (names) {
			json_t *ks = json_string(k);
			int r = validate(c, names, ks, p);
			json_decref(ks);
			if (r < 0)
				return -1;
		}
		if (ps) {
			if (validate(c, ps, sub, p) < 0)
				return -1;
		} else if (json_is_false(addl)) {
			char allowed[400] = "";
			const char *pk;
			json_t *pv;
			size_t n = 0;
			json_object_foreach(props, pk, pv) {
				(void)pv;
				n += (size_t)snprintf(allowed + n, n < sizeof allowed ? sizeof allowed - n : 0,
				    "%s%s", n ? ", " : "", pk);
			}
			if (*allowed)
				return vfail(c, p, "unknown field (expected one of: %s)", allowed);
			return vfail(c, p, "unknown field");
		} else if (json_is_object(addl)) {
			if (validate(c, addl, sub, p) < 0)
				return -1;
		}
	}
	json_array_foreach(req, i, x) {
		if (!json_object_get(v, json_string_value(x))) {
			ec_jpath here = { path, json_string_value(x), 0 };
			return vfail(c, &here, "required field is missing");
		}
	}
	return 0;
}

static int
validate_array(vctx *c, const json_t *s, const json_t *v, const ec_jpath *path)
{
	json_t *items = json_object_get(s, "items"), *x, *sub;
	size_t i, n = json_array_size(v);
	int unique = json_is_true(json_object_get(s, "uniqueItems"));

	if ((x = json_object_get(s, "minItems")) && n < (size_t)json_integer_value(x))
		return vfail(c, path, "expected at least %lld items, got %zu",
		    (long long)json_integer_value(x), n);
	if ((x = json_object_get(s, "maxItems")) && n > (size_t)json_integer_value(x))
		return vfail(c, path, "expected at most %lld items, got %zu",
		    (long long)json_integer_value(x), n);
	json_array_foreach(v, i, sub) {
		ec_jpath here = { path, NULL, i };
		if (items && validate(c, items, sub, &here) < 0)
			return -1;
		if (unique)
			for (size_t j = 0; j < i; j++)
				if (json_equal(json_array_get(v, j), sub))
					return vfail(c, &here, "duplicate of item [%zu]", j);
	}
	return 0;
}

static int
validate(vctx *c, const json_t *s, const json_t *v, const ec_jpath *path)
{
	json_t *x, *root = c->root;
	char shown[96];
	size_t i;

	if (json_is_true(s))
		return 0;
	if ((x = json_object_get(s, "$ref"))) {
		json_t *target = resolve_ref(json_string_value(x), &c->root);
		int r;
		if (!target)
			return vfail(c, path, "schema error: cannot resolve $ref %s", json_string_value(x));
		r = validate(c, target, v, path);
		c->root = root;
		if (r < 0)
			return -1;
	}
	if ((x = json_object_get(s, "type"))) {
		int ok = 0;
		if (json_is_string(x))
			ok = type_is(v, json_string_value(x));
		else
			for (i = 0; i < json_array_size(x) && !ok; i++)
				ok = type_is(v, json_string_value(json_array_get(x, i)));
		if (!ok) {
			const char *words = expect_words(s);
			if (words)
				return vfail(c, path, "expected %s, got %s", words, type_name(v));
			if (json_is_string(x))
				return vfail(c, path, "expected %s %s, got %s",
				    strchr("aeiou", json_string_value(x)[0]) ? "an" : "a",
				    json_string_value(x), type_name(v));
			return vfail(c, path, "expected another type, got %s", type_name(v));
		}
	}
	if ((x = json_object_get(s, "enum"))) {
		int ok = 0;
		char list[300] = "";
		size_t n = 0;
		json_t *ev;
		json_array_foreach(x, i, ev) {
			char one[64];
			if (json_equal(ev, v))
				ok = 1;
			show(ev, one, sizeof one);
			n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
			    n ? ", " : "", json_is_string(ev) ? json_string_value(ev) : one);
		}
		if (!ok) {
			show(v, shown, sizeof shown);
			return vfail(c, path, "expected one of %s, got %s", list, shown);
		}
	}
	if ((x = json_object_get(s, "const")) && !json_equal(x, v)) {
		show(x, shown, sizeof shown);
		return vfail(c, path, "expected %s", shown);
	}
	if (json_is_string(v)) {
		const char *str = json_string_value(v);
		size_t n = ec_utf8_chars(str, strlen(str));
		if ((x = json_object_get(s, "minLength")) && n < (size_t)json_integer_value(x))
			return vfail(c, path, n == 0 ? "expected a non-empty string" :
			    "expected at least %lld characters", (long long)json_integer_value(x));
		if ((x = json_object_get(s, "maxLength")) && n > (size_t)json_integer_value(x))
			return vfail(c, path, "expected at most %lld characters, got %zu",
			    (long long)json_integer_value(x), n);
		if ((x = json_object_get(s, "pattern")) && !pattern_match(json_string_value(x), str)) {
			const char *words = expect_words(s);
			show(v, shown, sizeof shown);
			if (words)
				return vfail(c, path, "expected %s, got %s", words, shown);
			return vfail(c, path, "expected a string matching /%s/, got %s",
			    json_string_value(x), shown);
		}
	}
	if (json_is_number(v)) {
		double d = json_number_value(v);
		if ((x = json_object_get(s, "minimum")) && d < json_number_value(x))
			return vfail(c, path, "expected a number >= %g, got %g", json_number_value(x), d);
		if ((x = json_object_get(s, "exclusiveMinimum")) && d <= json_number_value(x))
			return vfail(c, path, "expected a number > %g, got %g", json_number_value(x), d);
		if ((x = json_object_get(s, "maximum")) && d > json_number_value(x))
			return vfail(c, path, "expected a number <= %g, got %g", json_number_value(x), d);
	}
	if (json_is_object(v) && validate_object(c, s, v, path) < 0)
		return -1;
	if (json_is_array(v) && validate_array(c, s, v, path) < 0)
		return -1;
	if ((x = json_object_get(s, "allOf"))) {
		json_t *sub;
		json_array_foreach(x, i, sub)
			if (validate(c, sub, v, path) < 0)
				return -1;
	}
	if ((x = json_object_get(s, "anyOf")) && alternatives(c, x, v, path, 0) < 0)
		return -1;
	if ((x = json_object_get(s, "oneOf")) && alternatives(c, x, v, path, 1) < 0)
		return -1;
	if ((x = json_object_get(s, "not"))) {
		int r;
		c->quiet++;
		r = validate(c, x, v, path);
		c->quiet--;
		c->root = root;
		if (r == 0) {
			const char *words = expect_words(s);
			return vfail(c, path, "%s is not allowed here", words ? words : "this value");
		}
	}
	return 0;
}

int
ec_schema_validate(const char *name, const json_t *doc, char *bad_path, ec_err *e)
{
	vctx c = { .e = e };
	json_t *s = schema_doc(name);

	if (!s)
		return ec_fail(e, EC_EXIT_TEMP, "no embedded schema '%s'", name);
	c.root = s;
	if (validate(&c, s, doc, NULL) < 0) {
		if (bad_path)
			snprintf(bad_path, PATHCAP, "%s", c.bad);
		return -1;
	}
	return 0;
}

/*
 * cache/valid/ of the spool, opened once per process (a registry is a dozen
 * markers). A marker is a fact about bytes ("these are valid under this schema"):
 * one read through a directory purged since (epic cache purge) is still true, and
 * one missed there is checked again and kept anew by its path. -1 without one.
 */
static int
valid_dir(const char *spool)
{
	static int fd = -1;
	static char *of;

	if (fd >= 0 && of && !strcmp(of, spool))
		return fd;
	if (fd >= 0)
		close(fd);
	free(of);
	of = strdup(spool);
	return fd = ec_spool_open(spool, "cache/valid", O_PATH, EC_OPEN_DIR, NULL, NULL);
}

int
ec_schema_validate_kept(const char *name, const json_t *doc, const void *bytes, size_t len,
    char *bad_path, ec_err *e)
{
	const char *spool = ec_spool_root(NULL), *text = ec_schema_text(name);
	/* the schema's hash, once per process (the registry asks for each file) */
	static const char *hashed;
	static char sh[17];
	char rel[200], dh[17];
	int fd, vd;

	if (!text)
		return ec_schema_validate(name, doc, bad_path, e);
	if (hashed != text) {
		ec_xxh3_hex(text, strlen(text), sh);
		hashed = text;
	}
	ec_xxh3_hex(bytes, len, dh);
	snprintf(rel, sizeof rel, "cache/valid/%s.%s.%s", name, sh, dh);
	if ((vd = valid_dir(spool)) >= 0 &&
	    (fd = ec_open_beneath(vd, strrchr(rel, '/') + 1, O_RDONLY, 0, NULL, NULL)) >= 0) {
		close(fd);
		return 0;
	}
	if (ec_schema_validate(name, doc, bad_path, e) < 0)
		return -1;
	ec_spool_keep(spool, rel, "", 0);
	return 0;
}

/* Walk schema s beside doc, filling defaults of absent properties. */
static void
defaults(json_t *root, const json_t *s, json_t *doc)
{
	json_t *props, *ps, *x;
	const char *k;

	if ((x = json_object_get(s, "$ref"))) {
		json_t *r = root, *t = resolve_ref(json_string_value(x), &r);
		if (t)
			defaults(r, t, doc);
	}
	if (!json_is_object(doc) || !(props = json_object_get(s, "properties")))
		return;
	json_object_foreach(props, k, ps) {
		json_t *cur = json_object_get(doc, k), *d = json_object_get(ps, "default");
		if (!cur && d) {
			json_object_set_new(doc, k, json_deep_copy(d));
			cur = json_object_get(doc, k);
		}
		if (cur && json_is_object(cur))
			defaults(root, ps, cur);
	}
}

int
ec_schema_apply_defaults(const char *name, json_t *doc, ec_err *e)
{
	json_t *s = schema_doc(name);

	if (!s)
		return ec_fail(e, EC_EXIT_TEMP, "no embedded schema '%s'", name);
	defaults(s, s, doc);
	return 0;
}
