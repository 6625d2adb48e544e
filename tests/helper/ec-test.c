/*
 * ec-test - the library's units, driven one at a time from the shell (as git's
 * t/helper): tests/units.bats feeds each a case on standard input or the command
 * line and compares what it prints. Not installed.
 *
 *   ec-test pii                  stdin redacted; then the counts as JSON
 *   ec-test sanitize line|text   stdin sanitized (sanitize.c)
 *   ec-test cut N                stdin cut to N characters
 *   ec-test effort               per line of stdin: "MIN MAX", or "none"
 *   ec-test days MIN MAX         the effort as people read it (and the duration)
 *   ec-test extract              the JSON object an agent's text holds; what it took
 *   ec-test events               checkpoints.jsonl on stdin: events, skipped, torn, end
 *   ec-test yaml                 YAML on stdin as JSON, then where each path is
 *   ec-test schema NAME          the JSON on stdin against schemas/NAME: "valid" or why
 *   ec-test id ID...             per id: "ID valid" or "ID invalid"
 *   ec-test make-escape PATH...  per path: escaped for make, or "refused"
 *   ec-test abspath PATH...      per path: made absolute against the cwd
 *   ec-test utf8                 stdin: the offset of the first byte that is not UTF-8, or -1
 *   ec-test xxh3                 stdin: its XXH3-64 in hex, as stamps and checkpoints hold it
 *   ec-test jsonbin-encode       stdin JSON -> the binary form (jsonbin.c); -decode: back
 *   ec-test nearest S NAME...    the NAME nearest to S (ec_nearest), or "none"
 *   ec-test rules-image FILE     the rule base FILE compiled into its kept image
 *   ec-test rules-image-check    stdin: "ok" when readers would attach the image, else
 *                                "refused" (exit 1); -verify: every rule decodes too
 *   ec-test rules-image-rehash   stdin image with its header hash made right (forgeries)
 *   ec-test patterns             every pattern of the embedded schemas, matched by
 *                                pattern.c and by regcomp on strings of its language,
 *                                near misses and noise: the counts, and each disagreement
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "rulebase.h"
#include "pattern.h"
#include <regex.h>

static char *
input(size_t *len)
{
	ec_err e;
	char *buf = ec_read_file("-", EC_MAX_JSON_BYTES, len, &e);

	if (!buf)
		ec_die_err(&e);
	return buf;
}

static void
print_json(const json_t *j)
{
	char *s = ec_json_dumps_line(j);

	fputs(s ? s : "null\n", stdout);
	free(s);
}

static int
pii(void)
{
	size_t len;
	char *s = input(&len);
	json_t *counts = json_object();

	ec_redact_pii(&s, counts, NULL);
	printf("%s\n", s);
	print_json(counts);
	free(s);
	json_decref(counts);
	return 0;
}

static int
sanitize(const char *mode)
{
	size_t len;
	char *in = input(&len), *s;
	int changed = 0;

	if (!(s = ec_text_sanitize(in, !strcmp(mode, "line") ? EC_TEXT_LINE : EC_TEXT_PARAGRAPHS,
	    &changed)))
		ec_die(EC_EXIT_TEMP, "out of memory");
	printf("%s\n%s\n", s, changed ? "changed" : "unchanged");
	free(in);
	free(s);
	return 0;
}

static int
cut(const char *n)
{
	size_t len;
	char *s = input(&len);

	if (ec_text_cut(&s, (size_t)atoi(n)) < 0)
		ec_die(EC_EXIT_TEMP, "out of memory");
	printf("%s\n", s);
	free(s);
	return 0;
}

static int
effort(void)
{
	size_t len;
	char *buf = input(&len), *line, *save = NULL;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		double a, b;
		char x[32], y[32];
		if (ec_effort_parse(line, &a, &b)) {
			ec_fmt_number(x, sizeof x, a);
			ec_fmt_number(y, sizeof y, b);
			printf("%s %s\n", x, y);
		} else
			printf("none\n");
	}
	free(buf);
	return 0;
}

static int
days(const char *a, const char *b)
{
	char s[96];

	ec_effort_days_text(s, sizeof s, atof(a), atof(b));
	printf("%s\n", s);
	ec_effort_duration_text(s, sizeof s, atof(a), atof(b));
	printf("%s\n", s);
	return 0;
}

/* A candidate's fitness for the extract unit: its number of keys. */
static int
keys(const json_t *obj, size_t *items, void *arg)
{
	(void)arg;
	if (items)
		*items = json_object_size(obj);
	return json_is_object(obj) && json_object_get(obj, "answer") ? 1 : 0;
}

static int
extract(void)
{
	size_t len;
	char *buf = input(&len);
	ec_extract x = { .score = keys };
	ec_err e;
	json_t *j = ec_extract_json(buf, len, "<stdin>", &x, &e);

	free(buf);
	if (!j)
		ec_die_err(&e);
	print_json(j);
	printf("where: %s\ncommas: %zu\nbom: %d\n", x.where, x.commas, x.bom);
	json_decref(j);
	return 0;
}

static void
report(const char *msg, void *arg)
{
	(void)arg;
	fprintf(stdout, "report: %s\n", msg);
}

static int
events(void)
{
	size_t len;
	char *buf = input(&len);
	ec_events ev;
	ec_err e;

	if (ec_events_parse(buf, len, "<stdin>", &ev, report, NULL, &e) < 0)
		ec_die_err(&e);
	for (size_t i = 0; i < ev.n; i++)
		printf("event: %s %s %lld\n", ev.v[i].persona, ev.v[i].event, ev.v[i].ms);
	printf("skipped: %zu\ntorn: %d\nend: %zu\n", ev.skipped, ev.torn, ev.end);
	ec_events_free(&ev);
	free(buf);
	return 0;
}

static int
yaml(void)
{
	size_t len;
	char *buf = input(&len);
	json_t *lines = NULL, *j;
	ec_err e;

	if (!(j = ec_yaml_loadb(buf, len, "<stdin>", &lines, &e)))
		ec_die_err(&e);
	print_json(j);
	print_json(lines);
	json_decref(j);
	json_decref(lines);
	free(buf);
	return 0;
}

static int
schema(const char *name)
{
	size_t len;
	char *buf = input(&len);
	char bad[512];
	ec_err e;
	json_t *j = ec_json_loadb(buf, len, "<stdin>", &e);

	free(buf);
	if (!j)
		ec_die_err(&e);
	if (!ec_schema_text(name))
		ec_die(EC_EXIT_USAGE, "no schema '%s'", name);
	if (ec_schema_validate(name, j, bad, &e) < 0)
		printf("%s\n", e.msg);
	else
		printf("valid\n");
	json_decref(j);
	return 0;
}

static int
utf8(void)
{
	size_t len;
	char *buf = input(&len);

	printf("%ld\n", ec_utf8_invalid_at(buf, len));
	free(buf);
	return 0;
}

/* stdin JSON -> jsonbin on stdout (encode), or jsonbin -> JSON (decode; exit 1 when
 * the bytes are not a value ec_jsonbin_encode wrote). */
static int
jsonbin(int enc)
{
	size_t len, olen;
	char *buf = input(&len), *out;
	json_t *j;
	ec_err e;

	if (enc) {
		if (!(j = ec_json_loadb(buf, len, "<stdin>", &e)))
			ec_die_err(&e);
		out = ec_jsonbin_encode(j, &olen);
		fwrite(out, 1, olen, stdout);
		free(out);
	} else if ((j = ec_jsonbin_decode(buf, len)))
		ec_json_write(NULL, j, 0, &e);
	free(buf);
	json_decref(j);
	return j ? 0 : 1;
}

/* The XXH3 of standard input, as the tools record it (stamps, checkpoints). */
static int
xxh3(void)
{
	size_t len;
	char *buf = input(&len), hex[17];

	ec_xxh3_hex(buf, len, hex);
	printf("%s\n", hex);
	free(buf);
	return 0;
}

/* A kept rule base image (rulesimage.c): built from a file, checked, re-hashed. */
static int
rules_image(const char *cmd, const char *path)
{
	size_t len;
	char *buf, *out;
	json_t *rb;
	ec_err e;
	int ok;

	if (path) {
		if (!(rb = ec_rules_load(path, &e)) || !(out = ec_rules_image_build(rb, &len, &e)))
			ec_die_err(&e);
		fwrite(out, 1, len, stdout);
		free(out);
		json_decref(rb);
		return 0;
	}
	buf = input(&len);
	if (!strcmp(cmd, "rules-image-rehash")) {
		uint64_t h = len >= 16 ? ec_xxh3(buf + 16, len - 16) : 0;
		if (len >= 16)
			memcpy(buf + 8, &h, 8);
		fwrite(buf, 1, len, stdout);
		free(buf);
		return 0;
	}
	ok = (!strcmp(cmd, "rules-image-verify") ? ec_rules_image_verify(buf, len) :
	    ec_rules_image_check(buf, len)) == 0;
	printf("%s\n", ok ? "ok" : "refused");
	free(buf);
	return !ok;
}

/* The "pattern" strings anywhere in schema s, into v (up to cap). */
static size_t
collect(const json_t *s, const char **v, size_t n, size_t cap)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_object(s)) {
		if (json_is_string(x = json_object_get(s, "pattern")) && n < cap)
			v[n++] = json_string_value(x);
		json_object_foreach((json_t *)s, k, x)
			n = collect(x, v, n, cap);
	} else if (json_is_array(s))
		json_array_foreach(s, i, x)
			n = collect(x, v, n, cap);
	return n;
}

/* pattern.c against regcomp: exit 1 on any disagreement, or a schema pattern
 * pattern.c leaves to regcomp (then the schemas gained a construct to add). */
static int
patterns(void)
{
	static const char *names[] = { "concepts", "config", "epic-request", "epic-response",
	    "health-check", "persona-input", "persona-output", "persona-registration", "plan",
	    "rule-base", "task-status", "workflow-state", NULL };
	static const char noise[] = "aZ09.-_:+/ @#\xc3\xa9\n{}[]()$^*";
	const char *pats[512];
	json_t *docs[sizeof names / sizeof *names] = { 0 };
	size_t np = 0, strings = 0, bad = 0, left = 0, nd = 0;
	unsigned long seed = 42;

	/* the patterns' strings live in the schema documents: kept until the end */
	for (const char **n = names; *n; n++) {
		const char *text = ec_schema_text(*n);
		docs[nd] = text ? json_loads(text, 0, NULL) : NULL;
		np = collect(docs[nd++], pats, np, sizeof pats / sizeof *pats);
	}
	for (size_t i = 0; i < np; i++) {
		ec_pattern *pt = ec_pattern_compile(pats[i]);
		regex_t re;
		char buf[512];
		if (!pt) {
			printf("left to regcomp: %s\n", pats[i]);
			left++;
			continue;
		}
		if (regcomp(&re, pats[i], REG_EXTENDED | REG_NOSUB)) {
			printf("regcomp refuses: %s\n", pats[i]);
			bad++;
			ec_pattern_free(pt);
			continue;
		}
		for (int k = 0; k < 3000; k++) {
			size_t len;
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			if (k % 3 == 2 || ec_pattern_sample(pt, &seed, buf, sizeof buf - 2) < 0) {
				/* noise of the pattern's own bytes and some others */
				size_t n = (seed >> 33) % 40;
				for (size_t j = 0; j < n; j++) {
					seed = seed * 6364136223846793005UL + 1442695040888963407UL;
					buf[j] = (seed >> 40) % 2 ? pats[i][(seed >> 20) % strlen(pats[i])] :
					    noise[(seed >> 20) % (sizeof noise - 1)];
				}
				buf[n] = '\0';
			} else if (k % 3 == 1 && (len = strlen(buf)) > 0) {
				/* a near miss: one byte changed, dropped or doubled */
				size_t at = (seed >> 33) % len;
				switch ((seed >> 50) % 3) {
				case 0: buf[at] = noise[(seed >> 20) % (sizeof noise - 1)]; break;
				case 1: memmove(buf + at, buf + at + 1, len - at); break;
				default: memmove(buf + at + 1, buf + at, len - at + 1);
				}
			}
			strings++;
			if (ec_pattern_match(pt, buf) != (regexec(&re, buf, 0, NULL, 0) == 0)) {
				printf("disagree: %s on \"%s\"\n", pats[i], buf);
				bad++;
			}
		}
		regfree(&re);
		ec_pattern_free(pt);
	}
	printf("patterns %zu strings %zu disagreements %zu left to regcomp %zu\n", np, strings,
	    bad, left);
	for (size_t i = 0; i < nd; i++)
		json_decref(docs[i]);
	return bad || left || np == 0;
}

int
main(int argc, char *argv[])
{
	const char *cmd = argc > 1 ? argv[1] : "";

	ec_setprogname(argv[0]);
	if (!strcmp(cmd, "pii"))
		return pii();
	if (!strcmp(cmd, "sanitize") && argc == 3)
		return sanitize(argv[2]);
	if (!strcmp(cmd, "cut") && argc == 3)
		return cut(argv[2]);
	if (!strcmp(cmd, "effort"))
		return effort();
	if (!strcmp(cmd, "days") && argc == 4)
		return days(argv[2], argv[3]);
	if (!strcmp(cmd, "extract"))
		return extract();
	if (!strcmp(cmd, "events"))
		return events();
	if (!strcmp(cmd, "yaml"))
		return yaml();
	if (!strcmp(cmd, "schema") && argc == 3)
		return schema(argv[2]);
	if (!strcmp(cmd, "utf8"))
		return utf8();
	if (!strcmp(cmd, "xxh3"))
		return xxh3();
	if (!strcmp(cmd, "jsonbin-encode") || !strcmp(cmd, "jsonbin-decode"))
		return jsonbin(cmd[8] == 'e');
	if (!strcmp(cmd, "rules-image") && argc == 3)
		return rules_image(cmd, argv[2]);
	if (!strncmp(cmd, "rules-image-", 12) && argc == 2)
		return rules_image(cmd, NULL);
	if (!strcmp(cmd, "patterns"))
		return patterns();
	if (!strcmp(cmd, "nearest") && argc >= 3) {
		int i = ec_nearest(argv[2], (const char *const *)argv + 3, (size_t)(argc - 3));
		printf("%s\n", i < 0 ? "none" : argv[3 + i]);
		return 0;
	}
	if (!strcmp(cmd, "id") || !strcmp(cmd, "make-escape") || !strcmp(cmd, "abspath")) {
		for (int i = 2; i < argc; i++) {
			if (cmd[0] == 'i')
				printf("%s %s\n", argv[i], ec_id_valid(argv[i]) ? "valid" : "invalid");
			else {
				char *r = cmd[0] == 'm' ? ec_make_escape(argv[i]) : ec_abspath(argv[i]);
				printf("%s\n", r ? r : "refused");
				free(r);
			}
		}
		return 0;
	}
	fprintf(stderr, "usage: ec-test pii|sanitize line|text|cut N|effort|days MIN MAX|extract|"
	    "events|yaml|schema NAME|utf8|xxh3|jsonbin-encode|jsonbin-decode|rules-image FILE|rules-image-check|rules-image-verify|rules-image-rehash|patterns|nearest S NAME...|id ID...|make-escape PATH...|abspath PATH...\n");
	return EC_EXIT_USAGE;
}
