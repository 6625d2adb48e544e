/*
 * epic-parse - validate and normalize one epic request; emit the persona plan.
 *
 * The first step of every task: a request as dropped (an EpicRequest JSON, or a
 * plain-text / Markdown description) becomes epic-request.json, a normalized
 * EpicRequest with defaults from the config, a title, a task id and its source
 * recorded; and, with --plan, the persona plan (plan.c) twice from the same steps:
 * plan.mk, the make fragment that lists one target per persona with its
 * prerequisites, and plan.json, which the later tools read instead of deciding
 * again (who is required, timeouts, skips). Everything wrong with a request
 * is rejected here, once, with one line naming the file and the JSON path (exit 1),
 * so no later tool has to second-guess its input. A request never makes the system
 * run a command it names: custom personas are rule bases or registered names only.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ec.h"
#include "rulebase.h"

static const char usage_text[] =
    "usage: epic-parse [--config FILE] [--name NAME] [--task-id ID] [--format FMT]\n"
    "                  [--plan FILE] [--stamp FILE] [--error-file FILE] [-o FILE]\n"
    "                  [FILE | -]\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nValidate and normalize an epic request (EpicRequest JSON, plain text or\n"
		    "Markdown) and write it as canonical JSON; --plan also writes the persona plan.\n\n"
		    "  -c, --config FILE   configuration file (default $EPIC_CONFIG, then the built-in)\n"
		    "  -n, --name NAME     base name for the task id (default: the file's, or 'stdin')\n"
		    "      --task-id ID    use ID as the task id instead of deriving it\n"
		    "  -f, --format FMT    json, text or markdown (default: by extension, then content)\n"
		    "  -p, --plan FILE     write the persona plan: a make fragment to FILE, and\n"
		    "                      plan.json beside it\n"
		    "      --stamp FILE    after a successful run, write the xxh3 of what was written\n"
		    "                      to FILE (make's stamp; a launcher checks it on resume)\n"
		    "  -E, --error-file FILE  on failure, also write the verdict there as JSON\n"
		    "  -o, --output FILE   write the normalized request to FILE (default stdout)\n"
		    "  -h, --help          this help\n"
		    "  -V, --version       print the version\n\n"
		    "Exit: 0 ok, 1 request rejected, 2 usage, 111 temporary failure.\n", stdout);
	ec_exit(code);
}

/* Names that would let a request smuggle in something to execute. */
static const char *const command_keys[] = {
	"command", "argv", "exec", "agentPath", "script", "shell", "cmd", "path", NULL
};

typedef struct req {
	const char *file;       /* for messages */
	const char *config_path; /* the config file in use, or NULL for built-in defaults */
	json_t *cfg;
	ec_registry reg;
	int reg_loaded;
} req;

/*
 * Normalize a description in place: CRLF and CR become LF, control characters other
 * than newline and tab are dropped (counted in *stripped), surrounding white space
 * trimmed. Returns the new length.
 */
static size_t
clean_description(char *s, size_t n, int *stripped)
{
	size_t w = 0, start = 0;

	*stripped = 0;
	for (size_t r = 0; r < n; r++) {
		unsigned char c = (unsigned char)s[r];
		if (c == '\r') {
			s[w++] = '\n';
			if (r + 1 < n && s[r + 1] == '\n')
				r++;
		} else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
			(*stripped)++;
		} else if (c == 0xC2 && r + 1 < n && (unsigned char)s[r + 1] >= 0x80 &&
		    (unsigned char)s[r + 1] <= 0x9F) {
			(*stripped)++;      /* C1 control characters */
			r++;
		} else
			s[w++] = (char)c;
	}
	while (w > 0 && (s[w - 1] == ' ' || s[w - 1] == '\n' || s[w - 1] == '\t'))
		w--;
	while (start < w && (s[start] == ' ' || s[start] == '\n' || s[start] == '\t'))
		start++;
	memmove(s, s + start, w - start);
	s[w - start] = '\0';
	return w - start;
}

/* Cut s (len n) to at most max characters on a word boundary, adding an ellipsis. */
static char *
trim_title(const char *s, size_t n)
{
	size_t chars = 0, i, cut = 0, lastspace = 0;
	char *t;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (chars == EC_TITLE_MAX)
				break;
			chars++;
		}
		if (s[i] == ' ')
			lastspace = i;
	}
	if (i == n) {
		if (!(t = malloc(n + 1)))
			return NULL;
		memcpy(t, s, n);
		t[n] = '\0';
		return t;
	}
	cut = lastspace > 0 ? lastspace : i;
	while (cut > 0 && strchr(" ,;:-", s[cut - 1]))
		cut--;
	if (!(t = malloc(cut + 4)))
		return NULL;
	memcpy(t, s, cut);
	memcpy(t + cut, "\xe2\x80\xa6", 4);   /* U+2026 HORIZONTAL ELLIPSIS */
	return t;
}

/* Headings that name a section of a document, never what the document is about. */
static const char *const section_names[] = {
	"abstract", "summary", "overview", "background", "introduction", "motivation",
	"context", "description", "problem", "problem statement", "the problem", "goals",
	"goal", "non-goals", "non goals", "tl;dr", "tldr", "proposal", "details",
	"user story", "user stories", "story", "requirements", "scope", "out of scope",
	"why", "what", "current state", "current situation", "solution",
	"proposed solution", "approach", "design", "implementation", "alternatives",
	"alternatives considered", "open questions", "questions", "acceptance criteria",
	"risks", "timeline", "notes", "success metrics", "rollout", "testing",
	"dependencies", "impact", "user impact", "history", NULL
};

/* Is the heading text h (n bytes) only a section's name, such as "Abstract:"? */
static int
is_section_name(const char *h, size_t n)
{
	char low[32];
	size_t k = 0;

	while (n > 0 && (h[n - 1] == ':' || h[n - 1] == ' '))
		n--;
	if (n >= sizeof low)
		return 0;
	for (; k < n; k++)
		low[k] = (char)ec_lower(h[k]);
	low[k] = '\0';
	return ec_in_list(section_names, low);
}

/*
 * The text of line (up to nl, or the end) if it is a Markdown ATX heading, with its
 * level in *level; NULL otherwise. *n gets the text's length, closing #s dropped.
 */
static const char *
atx_heading(const char *line, const char *nl, int *level, size_t *n)
{
	const char *p = line;
	int hashes = 0;

	while (*p == ' ' && p - line < 3)
		p++;
	while (*p == '#')
		p++, hashes++;
	if (hashes < 1 || hashes > 6 || (*p != ' ' && *p != '\t'))
		return NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	*n = nl ? (size_t)(nl - p) : strlen(p);
	while (*n > 0 && (p[*n - 1] == '#' || p[*n - 1] == ' ' || p[*n - 1] == '\r'))
		(*n)--;
	*level = hashes;
	return *n ? p : NULL;
}

/*
 * A title from the description, as a reader would name the document: the first
 * line when it is a "Title: ..." line, else the first Markdown ATX heading (any
 * level) unless it only names a section ("## Abstract", "Goals"), else the first
 * level-one heading that does not, else the first sentence of the first line of text
 * (up to ". ", "! ", "? " or the end of the line). Cut to EC_TITLE_MAX characters on
 * a word boundary. Caller frees.
 */
static char *
extract_title(const char *d)
{
	const char *line, *nl, *h, *end;
	int level, seen_heading = 0;
	size_t n;

	line = d + strspn(d, " \t\r\n");
	nl = strchr(line, '\n');
	n = nl ? (size_t)(nl - line) : strlen(line);
	while (n > 0 && line[n - 1] == '\r')
		n--;
	if (n > 6 && strncasecmp(line, "title:", 6) == 0 && strspn(line + 6, " \t") < n - 6)
		return trim_title(line + 6, n - 6);
	for (line = d; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if ((h = atx_heading(line, nl, &level, &n))) {
			if ((!seen_heading || level == 1) && !is_section_name(h, n))
				return trim_title(h, n);
			seen_heading = 1;
		}
		if (!nl)
			break;
	}
	/* The first line of text that is not a heading. */
	for (line = d; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (strspn(line, " \t\r") < (nl ? (size_t)(nl - line) : strlen(line)) &&
		    !atx_heading(line, nl, &level, &n))
			break;
		if (!nl) {
			line += strlen(line);
			break;
		}
	}
	if (!*line)
		line = d;
	while (*line == ' ' || *line == '\t')
		line++;
	for (end = line; *end && *end != '\n' && *end != '\r'; end++)
		if ((*end == '.' || *end == '!' || *end == '?') &&
		    (end[1] == ' ' || end[1] == '\n' || end[1] == '\r' || end[1] == '\0')) {
			end++;
			if (end[-1] == '.')
				end--;  /* a title has no final period */
			break;
		}
	return trim_title(line, (size_t)(end - line));
}

static int
is_registered(req *r, const char *name)
{
	return r->reg_loaded && ec_registry_find(&r->reg, name) != NULL;
}

/*
 * Checks a schema cannot express: no command anywhere in a custom persona, names
 * that refer to registered personas, inline rule bases that are valid rule bases.
 */
static int
check_personas(req *r, json_t *request, ec_err *e)
{
	json_t *opts = json_object_get(request, "options"), *x, *cp, *dep;
	const char *name;
	char path[512];
	size_t i;

	cp = json_object_get(opts, "customPersonas");
	json_object_foreach(cp, name, x) {
		char base[256];
		ec_jpath_key(base, sizeof base, "$.options.customPersonas", name);
		if (!json_is_object(x))
			continue;       /* the schema says what is wrong with it */
		for (const char *const *k = command_keys; *k; k++)
			if (json_object_get(x, *k)) {
				ec_jpath_key(path, sizeof path, base, *k);
				return ec_fail(e, EC_EXIT_REJECT, "%s: %s: a request cannot name a command; "
				    "custom personas are rule bases or registered persona names", r->file, path);
			}
	}
	if (ec_schema_validate("epic-request", request, NULL, e) < 0) {
		ec_err_prefix(e, "%s", r->file);
		return -1;
	}
	json_array_foreach(json_object_get(opts, "excludePersonas"), i, x) {
		const ec_persona *p = r->reg_loaded ? ec_registry_find(&r->reg, json_string_value(x)) : NULL;
		snprintf(path, sizeof path, "$.options.excludePersonas[%zu]", i);
		if (!p && !json_object_get(cp, json_string_value(x)))
			return ec_fail(e, EC_EXIT_REJECT, "%s: %s: expected a registered persona, got \"%s\"",
			    r->file, path, json_string_value(x));
		if (p && p->required)
			return ec_fail(e, EC_EXIT_REJECT, "%s: %s: '%s' is a required persona and cannot be "
			    "excluded", r->file, path, p->name);
	}
	json_object_foreach(cp, name, x) {
		char base[256];
		const char *ref = json_string_value(json_object_get(x, "persona"));
		ec_jpath_key(base, sizeof base, "$.options.customPersonas", name);
		if (is_registered(r, name))
			return ec_fail(e, EC_EXIT_REJECT, "%s: %s: the name of a registered persona; "
			    "choose another name", r->file, base);
		if (ref && !is_registered(r, ref))
			return ec_fail(e, EC_EXIT_REJECT, "%s: %s.persona: expected a registered persona, "
			    "got \"%s\"", r->file, base, ref);
		if (json_object_get(x, "rules")) {
			if (ec_schema_validate("rule-base", json_object_get(x, "rules"), NULL, e) < 0) {
				/* Re-root the rule base's "$..." path under the request's. */
				char msg[sizeof e->msg];
				snprintf(msg, sizeof msg, "%s", e->msg[0] == '$' ? e->msg + 1 : e->msg);
				return ec_fail(e, EC_EXIT_REJECT, "%s: %s.rules%s", r->file, base, msg);
			}
			/* A file beside the rule base: a request has no directory to name. */
			if (json_object_get(json_object_get(x, "rules"), "concepts"))
				return ec_fail(e, EC_EXIT_REJECT, "%s: %s.rules.concepts: not allowed in a "
				    "request (an inline rule base has no directory to look it up in)",
				    r->file, base);
		}
		if (json_is_integer(json_object_get(x, "reviewOrder"))) {
			int order = (int)json_integer_value(json_object_get(x, "reviewOrder"));
			const char *other = NULL, *n2;
			json_t *y;
			for (i = 0; i < r->reg.n && !other; i++)
				if (r->reg.v[i].review_order == order)
					other = r->reg.v[i].name;
			json_object_foreach(cp, n2, y)
				if (!other && y != x && strcmp(n2, name) < 0 &&
				    ec_json_get_int(y, "reviewOrder", -1) == order)
					other = n2;
			if (other)
				return ec_fail(e, EC_EXIT_REJECT, "%s: %s.reviewOrder: %d is already used by '%s'",
				    r->file, base, order, other);
		}
		json_array_foreach(json_object_get(x, "dependencies"), i, dep) {
			const char *d = json_string_value(dep);
			if (!is_registered(r, d) && !json_object_get(json_object_get(opts, "customPersonas"), d))
				return ec_fail(e, EC_EXIT_REJECT, "%s: %s.dependencies[%zu]: unknown persona '%s'",
				    r->file, base, i, d);
		}
	}
	return 0;
}

/* path escaped for plan.mk (ec_make_escape); NULL with e filled when make cannot
 * take it. */
static char *
mk_escape(const char *path, ec_err *e)
{
	char *esc = ec_make_escape(path);

	if (!esc)
		ec_fail(e, errno == EINVAL ? EC_EXIT_REJECT : EC_EXIT_TEMP, errno == EINVAL ?
		    "cannot name '%s' in plan.mk: make cannot take a control character, '\\', "
		    "'(' or ')' in a file name" : "out of memory", path);
	return esc;
}

static const ec_plan_step *
find_step(const ec_plan_step *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* Mark in seen[] every step s depends on, directly or not. */
static void
mark_deps(const ec_plan_step *v, size_t n, const ec_plan_step *s, char *seen)
{
	for (size_t i = 0; ; i++) {
		const char *name = s->deps ? json_string_value(json_array_get(s->deps, i)) :
		    s->reg_deps ? s->reg_deps[i] : NULL;
		const ec_plan_step *d;
		if (!name)
			break;
		if ((d = find_step(v, n, name)) && !seen[d - v]) {
			seen[d - v] = 1;
			mark_deps(v, n, d, seen);
		}
	}
}

/*
 * The output files of every persona s builds on — its dependencies and theirs, in
 * review order — each preceded by a space, into out. A persona receives the
 * cumulative output of all the personas before it in its chain, not only the last.
 * Dependencies come from the request for a custom persona, else the registration.
 */
static int
dep_targets(const ec_plan_step *v, size_t n, const ec_plan_step *s, char *out, size_t cap)
{
	char *seen = calloc(n ? n : 1, 1);
	size_t len = 0;

	if (!seen)
		return -1;
	*out = '\0';
	mark_deps(v, n, s, seen);
	for (size_t i = 0; i < n && len < cap; i++)   /* v is sorted by review order */
		if (seen[i])
			len += (size_t)snprintf(out + len, cap - len, " personas/%02d-%s.json",
			    v[i].order, v[i].name);
	free(seen);
	return len < cap ? 0 : -1;
}

/* " RULES [VOCABULARY]", escaped for make, onto b: a rule base and the shared
 * vocabulary beside it, which its rules read too. 0, or -1 with e. */
static int
emit_rules_sources(ec_buf *b, const char *rules_path, ec_err *e)
{
	/* The vocabulary it names, as the fingerprint's memo (rulebase.h) remembers it:
	 * finding it otherwise reads the whole rule base. */
	char voc[4096], fp[17];
	const char *files[2] = { rules_path, ec_rules_fingerprint_kept(rules_path,
	    ec_spool_root(NULL), fp, voc, sizeof voc, NULL) == 0 && *voc ? voc : NULL };

	for (int k = 0; k < 2 && files[k]; k++) {
		char *esc = mk_escape(files[k], e);
		if (!esc)
			return -1;
		ec_buf_printf(b, " %s", esc);
		free(esc);
	}
	return 0;
}

/* The file name beside plan.mk (plan.json, config.json) into buf. */
static void
beside_plan(const char *plan_mk, const char *name, char *buf, size_t cap)
{
	const char *slash = strrchr(plan_mk, '/');

	snprintf(buf, cap, "%.*s%s%s", slash ? (int)(slash - plan_mk) : 0, plan_mk,
	    slash ? "/" : "", name);
}

/*
 * Write plan.mk: one target per persona (personas/NN-NAME.json) with target-specific
 * variables the pipeline's recipes use, and prerequisites that make a persona rerun
 * exactly when its registration, its rule base or an output it depends on changes;
 * then plan.json beside it, the same steps for the tools.
 */
static int
write_plan(req *r, const json_t *request, const char *out, ec_err *e)
{
	size_t n = 0, i;
	ec_plan_step *v = NULL;
	ec_buf b = { 0 };
	char *esc, *text;
	int rc, auto_select = ec_plan_auto(request);

#define EMIT(...) ec_buf_printf(&b, __VA_ARGS__)

	if (ec_plan_compute(&r->reg, r->cfg, request, &v, &n, e) < 0) {
		ec_err_prefix(e, "%s", r->file);
		goto fail;
	}

	EMIT("# plan.mk - the persona plan for make, generated by epic-parse %s with plan.json\n"
	    "# from the same steps; do not edit. make remakes both when the request, the\n"
	    "# registry or the config changes.\n", EC_VERSION);
	EMIT("EPIC_OUTPUTS :=");
	for (i = 0; i < n; i++)
		EMIT(" personas/%02d-%s.json", v[i].order, v[i].name);
	/* What the plan is made from: the registrations, the directories they are in
	 * (a persona added or removed changes its directory), and the config. */
	EMIT("\nEPIC_PLAN_SOURCES :=");
	for (i = 0; i < r->reg.n; i++) {
		const char *path = r->reg.v[i].reg_path, *slash = strrchr(path, '/');
		int seen = 0;
		if (!(esc = mk_escape(path, e)))
			goto fail;
		EMIT(" %s", esc);
		free(esc);
		for (size_t k = 0; k < i && slash; k++) {
			const char *o = r->reg.v[k].reg_path, *os = strrchr(o, '/');
			seen |= os && os - o == slash - path && strncmp(o, path, (size_t)(slash - path)) == 0;
		}
		if (slash && !seen) {
			char *dir = strndup(path, (size_t)(slash - path));
			esc = dir ? mk_escape(dir, e) : NULL;
			free(dir);
			if (!esc)
				goto fail;
			EMIT(" %s", esc);
			free(esc);
		}
	}
	/* Under auto selection the plan also depends on what the rule bases find. */
	for (i = 0; auto_select && i < r->reg.n; i++)
		if (r->reg.v[i].rules_path && emit_rules_sources(&b, r->reg.v[i].rules_path, e) < 0)
			goto fail;
	if (r->config_path) {
		if (!(esc = mk_escape(r->config_path, e)))
			goto fail;
		EMIT(" %s", esc);
		free(esc);
	}
	EMIT("\n");
	for (i = 0; i < n; i++) {
		const ec_plan_step *s = &v[i];
		char t[128], deps[2048];
		/* The output stands on its stamp (the stamp idiom, epic.mk); a missing
		 * output forces its stamp's recipe. */
		EMIT("\npersonas/%02d-%s.json: personas/.%02d-%s.stamp ;\n", s->order, s->name,
		    s->order, s->name);
		snprintf(t, sizeof t, "personas/.%02d-%s.stamp", s->order, s->name);
		EMIT("%s: PERSONA := %s\n", t, s->name);
		EMIT("%s: PERSONA_ORDER := %d\n", t, s->order);
		EMIT("%s: PERSONA_KIND := %s\n", t, s->kind);
		if (s->id_prefix && !strcmp(s->kind, "command"))
			EMIT("%s: PERSONA_PREFIX := %s\n", t, s->id_prefix);
		if (s->skip)
			EMIT("%s: PERSONA_SKIP := %s\n", t, s->skip);
		if (dep_targets(v, n, s, deps, sizeof deps) < 0) {
			ec_fail(e, EC_EXIT_REJECT, "%s: too many dependencies for '%s'", r->file, s->name);
			goto fail;
		}
		EMIT("%s: PERSONA_DEPS :=%s\n", t, deps);
		EMIT("%s: epic-request.json%s", t, deps);
		/* The registration, the rule base and its vocabulary are prerequisites: edit
		 * one and exactly this persona and those after it rerun. */
		if (s->p) {
			if (!(esc = mk_escape(s->p->reg_path, e)))
				goto fail;
			EMIT(" %s", esc);
			free(esc);
		}
		if (s->p && s->p->rules_path && emit_rules_sources(&b, s->p->rules_path, e) < 0)
			goto fail;
		EMIT(" $(if $(wildcard personas/%02d-%s.json),,FORCE)\n", s->order, s->name);
	}
	if (!(text = ec_buf_take(&b))) {
		free(v);
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	}
	rc = ec_write_atomic(out, text, strlen(text), EC_W_IFCHANGED, e);
	free(text);
	/* plan.json beside plan.mk, from the same steps: what the tools read. */
	if (rc >= 0) {
		char jpath[4096];
		json_t *pj = ec_plan_json(v, n, request);
		beside_plan(out, "plan.json", jpath, sizeof jpath);
		rc = pj ? ec_json_write(jpath, pj, EC_W_IFCHANGED, e) :
		    ec_fail(e, EC_EXIT_TEMP, "out of memory");
		json_decref(pj);
	}
	/* config.json beside it: the config resolved once for the task (checked,
	 * defaults filled), which the later tools read as it is (config.c). */
	if (rc >= 0) {
		char cpath[4096];
		beside_plan(out, "config.json", cpath, sizeof cpath);
		rc = ec_json_write(cpath, r->cfg, EC_W_IFCHANGED, e);
	}
	free(v);
	return rc < 0 ? -1 : 0;
fail:
	free(v);
	free(ec_buf_take(&b));
	return -1;
#undef EMIT
}

/* The format of a request: forced, else what ec_request_ext says of it. */
static const char *
detect_format(const char *file, const char *forced, const char *buf, size_t len)
{
	const char *ext = forced ? NULL : ec_request_ext(file, buf, len);

	return forced ? forced : !strcmp(ext, "json") ? "json" : !strcmp(ext, "md") ? "markdown" : "text";
}

/*
 * Parse and normalize the request in buf (len bytes, raw as dropped). Returns the
 * normalized EpicRequest (new reference) or NULL with e filled.
 */
static json_t *
normalize(req *r, char *buf, size_t len, const char *format, ec_err *e)
{
	json_t *request;
	const char *desc;
	char *d, *title;
	size_t dlen;
	long bad;
	int stripped = 0, line, col;
	json_int_t maxdesc = ec_json_get_int(r->cfg, "security.maxDescriptionBytes", 65536);

	if (len == 0) {
		ec_fail(e, EC_EXIT_REJECT, "%s: empty request: expected a description or an EpicRequest",
		    r->file);
		return NULL;
	}
	if (memchr(buf, '\0', len)) {
		size_t off = (size_t)((char *)memchr(buf, '\0', len) - buf);
		ec_line_col(buf, off, &line, &col);
		ec_fail(e, EC_EXIT_REJECT, "%s:%d:%d: NUL byte: expected text", r->file, line, col);
		return NULL;
	}
	if ((bad = ec_utf8_invalid_at(buf, len)) >= 0) {
		ec_line_col(buf, (size_t)bad, &line, &col);
		ec_fail(e, EC_EXIT_REJECT, "%s:%d:%d: invalid UTF-8: expected UTF-8 text", r->file, line, col);
		return NULL;
	}
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		buf += 3, len -= 3;     /* a byte order mark says nothing in UTF-8 */
	if (!strcmp(format, "json")) {
		if (!(request = ec_json_loadb(buf, len, r->file, e)))
			return NULL;
		if (!json_is_object(request)) {
			ec_fail(e, EC_EXIT_REJECT, "%s: $: expected an object (an EpicRequest), got %s",
			    r->file, json_is_array(request) ? "an array" : "a scalar");
			json_decref(request);
			return NULL;
		}
		for (const char *const *k = (const char *const[]){ "taskId", "source", NULL }; *k; k++)
			if (json_object_get(request, *k)) {
				ec_fail(e, EC_EXIT_REJECT, "%s: $.%s: set by epic-parse, not accepted in a request",
				    r->file, *k);
				json_decref(request);
				return NULL;
			}
	} else {
		request = json_object();
		json_object_set_new(request, "description", json_stringn(buf, len));
	}
	if (check_personas(r, request, e) < 0)
		goto fail;
	desc = json_string_value(json_object_get(request, "description"));
	dlen = json_string_length(json_object_get(request, "description"));
	if (memchr(desc, '\0', dlen)) {
		ec_fail(e, EC_EXIT_REJECT, "%s: $.description: NUL character: expected text", r->file);
		goto fail;
	}
	if (!(d = strndup(desc, dlen)))
		goto nomem;
	dlen = clean_description(d, dlen, &stripped);
	if (dlen == 0) {
		ec_fail(e, EC_EXIT_REJECT, "%s: $.description: only white space: expected a description",
		    r->file);
		free(d);
		goto fail;
	}
	if (dlen < EC_MIN_DESCRIPTION) {
		ec_fail(e, EC_EXIT_REJECT, "%s: $.description: %zu bytes: expected at least %d bytes of text",
		    r->file, dlen, EC_MIN_DESCRIPTION);
		free(d);
		goto fail;
	}
	if ((json_int_t)dlen > maxdesc) {
		ec_fail(e, EC_EXIT_REJECT, "%s: $.description: %zu bytes: expected at most %lld bytes "
		    "(security.maxDescriptionBytes)", r->file, dlen, (long long)maxdesc);
		free(d);
		goto fail;
	}
	if (stripped)
		ec_warn("%s: stripped %d control character%s from the description", r->file, stripped,
		    stripped == 1 ? "" : "s");
	json_object_set_new(request, "description", json_stringn(d, dlen));
	if (!json_object_get(request, "mode"))
		json_object_set_new(request, "mode",
		    json_string(ec_json_get_str(r->cfg, "coordination.defaultMode", "standard")));
	if (ec_schema_apply_defaults("epic-request", request, e) < 0) {
		free(d);
		goto fail;
	}
	if (!ec_json_get(request, "options.select") &&
	    !strcmp(ec_json_get_str(r->cfg, "coordination.defaultSelect", "all"), "auto"))
		json_object_set_new(json_object_get(request, "options"), "select", json_string("auto"));
	if (json_is_string(json_object_get(request, "title"))) {
		int s2;
		char *t = strdup(json_string_value(json_object_get(request, "title")));
		size_t tl = t ? clean_description(t, strlen(t), &s2) : 0;
		title = t && tl ? trim_title(t, tl) : extract_title(d);
		free(t);
	} else
		title = extract_title(d);
	free(d);
	if (!title)
		goto nomem;
	json_object_set_new(request, "title", json_string(title));
	free(title);
	return request;
nomem:
	ec_fail(e, EC_EXIT_TEMP, "out of memory");
fail:
	json_decref(request);
	return NULL;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "error-file", required_argument, NULL, 'E' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "name", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "plan", required_argument, NULL, 'p' },
		{ "stamp", required_argument, NULL, 'S' },
		{ "task-id", required_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *format = NULL, *name = NULL, *out = NULL, *plan = NULL;
	const char *task_id = NULL, *file, *stamp = NULL;
	char id[EC_MAX_NAME + 16], hex[17];
	req r = { 0 };
	json_t *request, *source;
	ec_err e;
	size_t len;
	json_int_t maxreq;
	char *buf, *base;
	int c;

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "c:E:f:hn:o:p:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'E': ec_verdict_file(optarg); break;
		case 'f':
			if (strcmp(optarg, "json") && strcmp(optarg, "text") && strcmp(optarg, "markdown")) {
				ec_warn("unknown format '%s': expected json, text or markdown", optarg);
				usage(EC_EXIT_USAGE);
			}
			format = optarg;
			break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'n': name = optarg; break;
		case 'o': out = optarg; break;
		case 'p': plan = optarg; break;
		case 'S': stamp = optarg; break;
		case 'T': task_id = optarg; break;
		case 'V': printf("epic-parse %s\n", EC_VERSION); return EC_EXIT_OK;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (!(file = ec_operand(argc - optind, argv + optind, "request file")))
		usage(EC_EXIT_USAGE);
	if (task_id && !ec_id_valid(task_id)) {
		ec_warn("invalid task id '%s': expected 1 to %d of [A-Za-z0-9._-], not starting "
		    "with '.' or '-'", task_id, EC_MAX_ID);
		usage(EC_EXIT_USAGE);
	}
	r.file = strcmp(file, "-") ? file : "<stdin>";
	r.config_path = ec_config_path(config);
	if (!(r.cfg = ec_config_load(config, &e)))
		ec_die_err(&e);
	/* The registry is needed to check persona names and for the plan; without it
	 * nothing can run, so a broken registry is the operator's to fix: exit 1. */
	if (ec_registry_load(&r.reg, &e) < 0 || ec_registry_configure(&r.reg, r.cfg, &e) < 0)
		ec_die_err(&e);
	r.reg_loaded = 1;
	maxreq = ec_json_get_int(r.cfg, "security.maxRequestBytes", 1 << 20);
	if ((size_t)maxreq > EC_MAX_REQUEST_BYTES)
		maxreq = EC_MAX_REQUEST_BYTES;
	if (!(buf = ec_read_file(file, (size_t)maxreq, &len, &e))) {
		if (strstr(e.msg, "limit"))
			ec_err_prefix(&e, "request too large (security.maxRequestBytes)");
		ec_die_err(&e);
	}
	format = detect_format(file, format, buf, len);
	if (!(request = normalize(&r, buf, len, format, &e)))
		ec_die_err(&e);

	base = name ? strdup(name) : strcmp(file, "-") ? ec_basename_noext(file) : strdup("stdin");
	if (task_id)
		snprintf(id, sizeof id, "%s", task_id);
	else if (ec_task_id(base ? base : "request", buf, len, id, sizeof id) < 0)
		ec_die_err(&(ec_err){ EC_EXIT_REJECT, "cannot derive a task id" });
	ec_xxh3_hex(buf, len, hex);
	json_object_set_new(request, "taskId", json_string(id));
	source = json_pack("{s:s, s:s, s:I, s:s}", "name", base ? base : "stdin", "format", format,
	    "bytes", (json_int_t)len, "xxh3", hex);
	json_object_set_new(request, "source", source);
	free(base);
	free(buf);

	if (plan && write_plan(&r, request, plan, &e) < 0)
		ec_die_err(&e);
	/* Not synced: all of it is remade from the request, and the stamp below says
	 * what was written, so a launcher can tell after a power loss (stamp.c). */
	if (ec_json_write(out, request, EC_W_IFCHANGED, &e) < 0)
		ec_die_err(&e);
	/* The stamp says "parsed at this time" even when nothing changed, so make's
	 * next run sees its prerequisites up to date (the stamp idiom of epic.mk). */
	if (stamp) {
		char jpath[4096], cpath[4096];
		const char *files[4];
		size_t nf = 0;
		if (strcmp(out, "-"))
			files[nf++] = out;
		if (plan) {
			beside_plan(plan, "plan.json", jpath, sizeof jpath);
			beside_plan(plan, "config.json", cpath, sizeof cpath);
			files[nf++] = plan;
			files[nf++] = jpath;
			files[nf++] = cpath;
		}
		if (ec_stamp_write(stamp, files, nf, &e) < 0)
			ec_die_err(&e);
	}
	json_decref(request);
	json_decref(r.cfg);
	ec_registry_free(&r.reg);
	ec_exit(ec_close_stdout());
}
