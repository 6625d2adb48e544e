/*
 * json.c - JSON in and out with Jansson, the project's way.
 *
 * In: duplicate keys rejected, NUL bytes rejected, nesting bounded, and every error
 * carries "name:line:col". Out: sorted keys and two-space indent, so equal content
 * is equal bytes — the hashes, the diffs and make's incremental reruns rely on it.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"


/* Deepest nesting of arrays/objects in buf, skipping strings; stops early past max. */
static int
nesting_depth(const char *buf, size_t len, int max, size_t *where)
{
	int depth = 0, deepest = 0, instr = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (instr) {
			if (c == '\\')
				i++;
			else if (c == '"')
				instr = 0;
			continue;
		}
		if (c == '"')
			instr = 1;
		else if (c == '[' || c == '{') {
			if (++depth > deepest)
				deepest = depth;
			if (deepest > max) {
				*where = i;
				return deepest;
			}
		} else if (c == ']' || c == '}')
			depth--;
	}
	return deepest;
}

json_t *
ec_json_loadb(const char *buf, size_t len, const char *name, ec_err *e)
{
	json_error_t je;
	json_t *j;
	size_t where = 0;
	int line, col;

	/* Well-formed text, the common case, fast (jsonfast.c); anything else is
	 * Jansson's to judge and name. */
	if ((j = ec_json_fastparse(buf, len)))
		return j;
	/* Jansson recurses on nesting; bound it before parsing so hostile input
	 * cannot exhaust the stack, and report where it went too deep. */
	if (nesting_depth(buf, len, EC_MAX_JSON_DEPTH, &where) > EC_MAX_JSON_DEPTH) {
		ec_line_col(buf, where, &line, &col);
		ec_fail(e, EC_EXIT_REJECT, "%s:%d:%d: nesting deeper than %d levels", name,
		    line, col, EC_MAX_JSON_DEPTH);
		return NULL;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!j) {
		/* Jansson counts columns in bytes and reports the column of the last
		 * character read; recompute it in characters from the byte position. */
		if (je.position > 0 && (size_t)je.position <= len)
			ec_line_col(buf, (size_t)je.position - 1, &line, &col);
		else
			line = je.line, col = je.column;
		if (je.line <= 0)
			line = 1, col = 1;
		/* Say what is wrong in JSON's terms, not in Jansson's flag names. */
		char *flag = strstr(je.text, " without JSON_ALLOW_NUL");
		if (flag)
			*flag = '\0';
		ec_fail(e, EC_EXIT_REJECT, "%s:%d:%d: %s", name, line, col, je.text);
		return NULL;
	}
	return j;
}

json_t *
ec_json_load_file(const char *path, size_t max, ec_err *e)
{
	size_t len;
	char *buf = ec_read_file(path, max, &len, e);
	json_t *j;

	if (!buf)
		return NULL;
	j = ec_json_loadb(buf, len, strcmp(path, "-") ? path : "<stdin>", e);
	free(buf);
	return j;
}

char *
ec_json_dumps(const json_t *j)
{
	size_t n;

	return ec_json_fastdump(j, 2, &n);
}

char *
ec_json_dumps_line(const json_t *j)
{
	size_t n;

	return ec_json_fastdump(j, -1, &n);
}

int
ec_json_write(const char *path, const json_t *j, int flags, ec_err *e)
{
	char *s = ec_json_dumps(j);
	int r;

	if (!s)
		return ec_fail(e, EC_EXIT_TEMP, "cannot encode JSON for '%s': out of memory",
		    path ? path : "-");
	r = ec_write_output(path, s, strlen(s), flags, e);
	free(s);
	return r;
}

/* Does key need quoting in a JSON path ($.a vs $["a b"])? */
static int
plain_key(const char *k)
{
	if (!*k || (*k >= '0' && *k <= '9'))
		return 0;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		    (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
			return 0;
	return 1;
}

void
ec_jpath_key(char *buf, size_t cap, const char *base, const char *key)
{
	if (plain_key(key))
		snprintf(buf, cap, "%s.%s", base, key);
	else
		snprintf(buf, cap, "%s[\"%s\"]", base, key);
}

void
ec_jpath_index(char *buf, size_t cap, const char *base, size_t i)
{
	snprintf(buf, cap, "%s[%zu]", base, i);
}

void
ec_jpath_format(const ec_jpath *p, char *buf, size_t cap)
{
	char up[EC_JPATH_CAP];

	if (!p) {
		snprintf(buf, cap, "$");
		return;
	}
	ec_jpath_format(p->up, up, sizeof up);
	if (p->key)
		ec_jpath_key(buf, cap, up, p->key);
	else
		ec_jpath_index(buf, cap, up, p->index);
}

json_t *
ec_json_get(const json_t *root, const char *dotted)
{
	char key[256];
	const char *s = dotted;
	json_t *cur = (json_t *)root;

	while (cur && *s) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		if (n >= sizeof key || !json_is_object(cur))
			return NULL;
		memcpy(key, s, n);
		key[n] = '\0';
		cur = json_object_get(cur, key);
		s += n + (dot ? 1 : 0);
	}
	return cur;
}

const char *
ec_json_get_str(const json_t *root, const char *dotted, const char *dflt)
{
	json_t *v = ec_json_get(root, dotted);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

json_int_t
ec_json_get_int(const json_t *root, const char *dotted, json_int_t dflt)
{
	json_t *v = ec_json_get(root, dotted);
	long long r;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v) && ec_dbl_to_ll(json_real_value(v), LLONG_MIN / 2, LLONG_MAX / 2, &r) == 0)
		return (json_int_t)r;
	return dflt;
}

int
ec_json_get_bool(const json_t *root, const char *dotted, int dflt)
{
	json_t *v = ec_json_get(root, dotted);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

int
ec_dbl_to_ll(double v, long long lo, long long hi, long long *out)
{
	/* NaN fails both comparisons; the bounds are compared as doubles, before any
	 * cast. 9.2e18 is the largest power of ten below 2^63. */
	if (!(v >= (double)lo && v <= (double)hi) || v >= 9.2e18 || v <= -9.2e18)
		return -1;
	*out = (long long)v;
	return 0;
}

double
ec_round2(double v)
{
	long long n;

	if (!(v > -1e13 && v < 1e13) ||
	    ec_dbl_to_ll(v * 100 + (v < 0 ? -0.5 : 0.5), LLONG_MIN, LLONG_MAX, &n) < 0)
		return v;
	return (double)n / 100;
}

/* Is v a whole number that prints exactly as one (|v| < 9e15)? */
static int
whole(double v, long long *n)
{
	return v > -9e15 && v < 9e15 && ec_dbl_to_ll(v, LLONG_MIN, LLONG_MAX, n) == 0 && (double)*n == v;
}

json_t *
ec_json_number(double v)
{
	long long n;

	return whole(v, &n) ? json_integer((json_int_t)n) : json_real(v);
}

void
ec_fmt_number(char *buf, size_t cap, double v)
{
	long long n;

	if (whole(v, &n))
		snprintf(buf, cap, "%lld", n);
	else
		snprintf(buf, cap, "%.10g", v);
}

void
ec_line_col(const char *buf, size_t off, int *line, int *col)
{
	*line = 1, *col = 1;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n')
			(*line)++, *col = 1;
		else if (((unsigned char)buf[i] & 0xC0) != 0x80)
			(*col)++;
	}
}
