/*
 * fuzz_json_fast - the fast JSON reader and writer (jsonfast.c) against Jansson's,
 * on any bytes. Reading: what the fast reader takes, Jansson must take too (with
 * duplicate keys rejected, any value at the top), as the same values in the same
 * order, reals to the last bit; what it declines is Jansson's to judge, so only
 * agreement is checked. Writing: whatever Jansson reads, the fast writer must write
 * to the same bytes as json_dumps, indented and compact. Numbers, escapes,
 * surrogates, control characters, UTF-8 and nesting are where they could differ.
 */
#include "fuzz.h"

FUZZ_SETUP_ONLY()

/* ec_json_fastdump(j) is json_dumps(j) and a newline, in both layouts. */
static void
same_text(const json_t *j)
{
	for (int compact = 0; compact < 2; compact++) {
		size_t n;
		char *x = ec_json_fastdump(j, compact ? -1 : 2, &n);
		char *y = json_dumps(j, JSON_SORT_KEYS | JSON_ENCODE_ANY | EC_JSON_REAL |
		    (compact ? JSON_COMPACT : JSON_INDENT(2)));
		if (!x || !y || n != strlen(y) + 1 || memcmp(x, y, n - 1) || x[n - 1] != '\n')
			abort();
		free(x);
		free(y);
	}
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	json_t *f = ec_json_fastparse((const char *)data, size), *j;
	json_error_t je;
	char *x, *y;

	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (j)
		same_text(j);
	if (!f) {
		json_decref(j);
		return 0;
	}
	if (!j)
		abort();        /* taken fast, refused by Jansson */
	x = json_dumps(f, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	y = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	if (!x || !y || strcmp(x, y))
		abort();        /* different values, or another key order */
	free(x);
	free(y);
	json_decref(f);
	json_decref(j);
	return 0;
}
