/*
 * rulesload.c - a rule base from a file or bytes: parsed, checked against the
 * schema (once per content with a spool: cache/rulebases/FP.*), the shared vocabulary
 * it names merged in (concepts, discounted sections, quantities, answers), and
 * compiled once so that what the schema cannot say (duplicate ids, unknown groups,
 * min > max) is caught at load, not at the first epic.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdint.h>
#include <time.h>

#include "rules.h"
#include "rulebase.h"

json_t *
ec_rules_load(const char *path, ec_err *e)
{
	size_t len;
	char *buf = ec_read_file(path, EC_MAX_JSON_BYTES, &len, e);
	json_t *rb;

	if (!buf)
		return NULL;
	rb = ec_rules_loadb(buf, len, strcmp(path, "-") ? path : "<stdin>", 0, e);
	free(buf);
	return rb;
}

/*
 * Merge the shared vocabulary a rule base names ("concepts": a file name, looked up
 * in the directory of the rule base at path) into it: each concept becomes a synonym
 * group unless the rule base has its own of that name; discountSections and
 * quantities are copied. trusted: skip the schema (the caller's fingerprint covers
 * the file). 0, or -1 with e (the file named).
 */
static int
concepts_merge(json_t *rb, const char *path, int trusted, ec_err *e)
{
	const char *file = ec_json_get_str(rb, "concepts", NULL), *slash, *k;
	char cpath[PATH_MAX];
	json_t *voc, *syn, *x;
	int n;

	if (!file)
		return 0;
	if (*path == '<' || !(slash = strrchr(path, '/')))
		n = snprintf(cpath, sizeof cpath, "%s", file);
	else
		n = snprintf(cpath, sizeof cpath, "%.*s/%s", (int)(slash - path), path, file);
	if (*path == '<')
		return ec_fail(e, EC_EXIT_REJECT, "$.concepts: '%s' is looked up beside the rule "
		    "base, and %s has no directory", file, path);
	if (n < 0 || (size_t)n >= sizeof cpath)
		return ec_fail(e, EC_EXIT_REJECT, "$.concepts: path too long");
	if (!(voc = ec_json_load_file(cpath, EC_MAX_JSON_BYTES, e)))
		return -1;
	if (!trusted && ec_schema_validate("concepts", voc, NULL, e) < 0) {
		ec_err_prefix(e, "%s", cpath);
		json_decref(voc);
		return -1;
	}
	if (!(syn = json_object_get(rb, "synonyms"))) {
		json_object_set_new(rb, "synonyms", json_object());
		syn = json_object_get(rb, "synonyms");
	}
	json_object_foreach(json_object_get(voc, "concepts"), k, x)
		if (!json_object_get(syn, k))
			json_object_set(syn, k, x);
	if ((x = json_object_get(voc, "discountSections")))
		json_object_set(rb, "discountSections", x);
	if ((x = json_object_get(voc, "quantities")))
		json_object_set(rb, "quantities", x);
	/* the vocabulary's answers, under the rule base's own for a concern both name */
	if ((x = json_object_get(voc, "answers"))) {
		json_t *own = json_object_get(rb, "answers"), *v;
		if (!own) {
			json_object_set_new(rb, "answers", json_object());
			own = json_object_get(rb, "answers");
		}
		json_object_foreach(x, k, v)
			if (!json_object_get(own, k))
				json_object_set(own, k, v);
	}
	json_decref(voc);
	return 0;
}

/*
 * The file name the rule base's "concepts" key holds, into name (cap > 64), found
 * in its text without parsing it (what make and the fingerprint need must not cost
 * a parse): the first "concepts" key whose value is a string a vocabulary may be
 * named (the schema's pattern). 0 when there is none.
 */
static int
named_vocabulary(const char *text, size_t len, char *name, size_t cap)
{
	static const char key[] = "\"concepts\"";
	const char *p = text, *end = text + len;

	while ((p = memmem(p, (size_t)(end - p), key, sizeof key - 1))) {
		const char *v = p + sizeof key - 1, *q;
		p = v;
		while (v < end && strchr(" \t\r\n", *v))
			v++;
		if (v >= end || *v++ != ':')
			continue;
		while (v < end && strchr(" \t\r\n", *v))
			v++;
		if (v >= end || *v++ != '"')
			continue;
		for (q = v; q < end && q - v < 64 && (isalnum((unsigned char)*q) || strchr("._-", *q)); q++)
			;
		if (q < end && *q == '"' && q - v > 5 && !memcmp(q - 5, ".json", 5) &&
		    (size_t)(q - v) < cap && isalnum((unsigned char)*v)) {
			snprintf(name, cap, "%.*s", (int)(q - v), v);
			return 1;
		}
	}
	return 0;
}

/*
 * The shared vocabulary of a rule base (text, len bytes at rules_path) into out:
 * the file its "concepts" key names, else concepts.json, in its directory. 1 when
 * there is one, else 0 and "". What its fingerprint covers and make watches.
 */
static int
vocabulary(const char *rules_path, const char *text, size_t len, char *out, size_t cap)
{
	const char *slash = strrchr(rules_path, '/');
	char name[80] = "concepts.json";
	int n;

	named_vocabulary(text, len, name, sizeof name);
	n = snprintf(out, cap, "%.*s/%s", slash ? (int)(slash - rules_path) : 1,
	    slash ? rules_path : ".", name);
	if (n < 0 || (size_t)n >= cap || !ec_exists(out)) {
		*out = '\0';
		return 0;
	}
	return 1;
}

/*
 * The fingerprint of a registered rule base: XXH3 of its bytes followed by those of
 * the shared vocabulary beside it, which its rules use too, so editing either
 * invalidates a cached review and the schema verdict kept for them.
 */
static int
fingerprint(const char *path, const char *text, size_t len, char fp[17], char *voc_path,
    size_t cap)
{
	char *voc;
	size_t vlen;

	if (!vocabulary(path, text, len, voc_path, cap) ||
	    !(voc = ec_read_file(voc_path, EC_MAX_JSON_BYTES, &vlen, NULL))) {
		ec_xxh3_hex(text, len, fp);
		return 0;
	}
	ec_xxh3_hex2(text, len, voc, vlen, fp);
	free(voc);
	return 1;       /* with the vocabulary at voc_path */
}

/*
 * A file as its fingerprint's memo sees it: where it is and when it last changed.
 * Changing a file's bytes changes its ctime (the owner may set mtime back, not
 * ctime), and a file copied or renamed into place is another inode.
 */
static int
file_state(const char *path, char *out, size_t cap, time_t *changed)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	snprintf(out, cap, "%ju %ju %jd %lld.%09ld %lld.%09ld", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino, (intmax_t)st.st_size, (long long)st.st_mtim.tv_sec,
	    st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	*changed = st.st_ctim.tv_sec > st.st_mtim.tv_sec ? st.st_ctim.tv_sec : st.st_mtim.tv_sec;
	return 0;
}

/*
 * A file's timestamps tick coarsely (a few ms): two writes in one tick, of the
 * same size, look alike. So only a file left alone for this long is remembered
 * by its state, as git trusts only index entries older than the index.
 */
#define FP_SETTLED_SECONDS 2

/*
 * The fingerprint the memo got holds, into fp, if what it remembers of the
 * vocabulary is still so ("FP STATE-OF-THE-VOCABULARY /VOCABULARY-PATH\n"); and
 * the vocabulary's path into voc. 1, or 0 when it does not hold.
 */
static int
memo_holds(char *got, size_t glen, char fp[17], char *voc, size_t cap)
{
	char state[160], *vpath, *nl = memchr(got, '\n', glen);
	time_t changed;

	if (!nl || glen < 18 || got[16] != ' ')
		return 0;
	*nl = '\0';
	if (!(vpath = strstr(got + 17, " /")))
		return 0;
	*vpath++ = '\0';
	if (file_state(vpath, state, sizeof state, &changed) < 0 || strcmp(got + 17, state))
		return 0;
	memcpy(fp, got, 16);
	fp[16] = '\0';
	if (voc)
		snprintf(voc, cap, "%s", vpath);
	return 1;
}

int
ec_rules_fingerprint_kept(const char *path, const char *spool, char fp[17], char *voc, size_t cap,
    ec_err *e)
{
	char state[160], vstate[160], key[17], rel[64] = "", voc_path[PATH_MAX], memo[PATH_MAX + 220];
	char *text, *got;
	size_t len, glen;
	time_t now = time(NULL), changed = now, vchanged;
	int have_voc, kept;

	/* A file that cannot be looked at is read below, which says why it failed. */
	if (spool && file_state(path, state, sizeof state, &changed) == 0) {
		char *key_text = NULL;
		if (asprintf(&key_text, "%s\n%s", path, state) >= 0) {
			ec_xxh3_hex(key_text, strlen(key_text), key);
			snprintf(rel, sizeof rel, "cache/valid/rulebase-fp.%s", key);
		}
		free(key_text);
		if (*rel && (got = ec_spool_read(spool, rel, sizeof memo, &glen, 0, NULL))) {
			kept = memo_holds(got, glen, fp, voc, cap);
			free(got);
			if (kept)
				return 0;
		}
	}
	if (!(text = ec_read_file(path, EC_MAX_JSON_BYTES, &len, e)))
		return -1;
	have_voc = fingerprint(path, text, len, fp, voc_path, sizeof voc_path);
	free(text);
	if (voc)
		snprintf(voc, cap, "%s", have_voc ? voc_path : "");
	/* Kept only with a vocabulary (one added beside a rule base without one later
	 * would change its fingerprint, and nothing here would notice). */
	if (*rel && have_voc && changed + FP_SETTLED_SECONDS <= now && voc_path[0] == '/' &&
	    file_state(voc_path, vstate, sizeof vstate, &vchanged) == 0 &&
	    vchanged + FP_SETTLED_SECONDS <= now) {
		int n = snprintf(memo, sizeof memo, "%s %s %s\n", fp, vstate, voc_path);
		if (n > 0 && (size_t)n < sizeof memo)
			ec_spool_keep(spool, rel, memo, (size_t)n);
	}
	return 0;
}

/*
 * A registered rule base's bytes, loaded. Checking its rules against the schema,
 * reading the shared vocabulary, merging it in and compiling cost several times
 * more than applying them, so with a spool the result is kept per fingerprint
 * (which covers both files): cache/rulebases/FP.c1 (EC_RULEBASE_IMAGE_EXT) holds the rule
 * base compiled (rulesimage.c), which the engine attaches without parsing. The same
 * bytes are checked once; an edited file, or a kept image that fails its check, is
 * loaded and kept again.
 */

ec_rulebase *
ec_rulebase_of(json_t *rb)
{
	ec_rulebase *r = calloc(1, sizeof *r);

	if (r)
		r->json = r->top = json_incref(rb);
	return r;
}

void
ec_rulebase_free(ec_rulebase *r)
{
	if (!r)
		return;
	if (r->top != r->json)
		json_decref(r->top);
	json_decref(r->json);
	if (r->image_mapped)
		munmap(r->image, r->image_len);
	else
		free(r->image);
	free(r);
}

/* The image kept at rel, checked, as a rule base; NULL when there is none fit. */
static ec_rulebase *
kept_image(const char *spool, const char *rel)
{
	ec_rulebase *r;
	size_t len = 0;
	ec_err e = { 0 };
	char *img = ec_spool_map(spool, rel, EC_RULEBASE_IMAGE_MAX, &len, &e);
	int mapped = img != NULL;

	if (!img && e.code == 0)        /* sealed (encryption at rest): read it */
		img = ec_spool_read(spool, rel, EC_RULEBASE_IMAGE_MAX, &len, 0, NULL);
	if (!img)
		return NULL;
	if (ec_rules_image_check(img, len) == 0 && (r = calloc(1, sizeof *r))) {
		if ((r->top = ec_rules_image_top(img, len))) {
			r->image = img;
			r->image_len = len;
			r->image_mapped = mapped;
			return r;
		}
		free(r);
	}
	if (mapped)
		munmap(img, len);
	else
		free(img);
	return NULL;
}

ec_rulebase *
ec_rules_load_kept(const char *path, const char *fp, const char *spool, ec_err *e)
{
	char rel[64], dir[PATH_MAX], mark[PATH_MAX + 64], voc[PATH_MAX], *img, *text, now_fp[17];
	ec_rulebase *r;
	size_t ilen, len;
	json_t *rb;

	if (spool) {
		snprintf(rel, sizeof rel, "cache/rulebases/%s%s", fp, EC_RULEBASE_IMAGE_EXT);
		if ((r = kept_image(spool, rel)))
			return r;
	}
	/* The bytes read now must still be the ones fp is of (ec_rules_fingerprint_kept
	 * did not read them), or an image of other rules would be kept under it. */
	if (!(text = ec_read_file(path, EC_MAX_JSON_BYTES, &len, e)))
		return NULL;
	fingerprint(path, text, len, now_fp, voc, sizeof voc);
	if (strcmp(now_fp, fp)) {
		free(text);
		return ec_fail(e, EC_EXIT_TEMP, "%s: changed while it was being read; run again",
		    path), NULL;
	}
	rb = ec_rules_loadb(text, len, path, 0, e);
	free(text);
	if (!rb)
		return NULL;
	if (spool && (img = ec_rules_image_build(rb, &ilen, e))) {
		snprintf(dir, sizeof dir, "%s/cache/rulebases", spool);
		snprintf(mark, sizeof mark, "%s/%s", spool, rel);
		if (ec_mkdir_p(dir, 0755, NULL) == 0)
			ec_write_atomic(mark, img, ilen, 0, NULL);
		free(img);
	}
	r = ec_rulebase_of(rb);
	json_decref(rb);
	if (!r)
		ec_fail(e, EC_EXIT_TEMP, "out of memory");
	return r;
}

json_t *
ec_rules_loadb(const char *buf, size_t len, const char *name, int trusted, ec_err *e)
{
	ctx c = { .e = e, .checking = 1 };
	json_t *rb = ec_json_loadb(buf, len, name, e);

	if (!rb)
		return NULL;
	if ((!trusted && ec_schema_validate("rule-base", rb, NULL, e) < 0) ||
	    concepts_merge(rb, name, trusted, e) < 0 ||
	    eng_groups_compile(&c, json_object_get(rb, "synonyms")) < 0 ||
	    eng_rules_compile(&c, rb) < 0) {
		if (!c.oom)
			ec_err_prefix(e, "%s", name);
		json_decref(rb);
		rb = NULL;
	}
	eng_ctx_free(&c);
	return rb;
}

