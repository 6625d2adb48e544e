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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "rulebase.h"

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
	    "events|yaml|schema NAME|utf8|xxh3|jsonbin-encode|jsonbin-decode|rules-image FILE|rules-image-check|rules-image-verify|rules-image-rehash|nearest S NAME...|id ID...|make-escape PATH...|abspath PATH...\n");
	return EC_EXIT_USAGE;
}
