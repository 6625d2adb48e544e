/*
 * export-github.c - a result as GitHub issues: a POSIX sh script of GitHub CLI
 * (gh) commands that creates them when someone runs it, and the same issues as
 * a JSON array for a program of one's own that speaks the REST API.
 *
 * The script creates the labels (gh label create --force: made or updated),
 * then the epic, then one issue per recommendation, each made a sub-issue of the
 * epic, then the dependencies as "blocked by" relations. gh has no flag for
 * either relation (cli/cli#10298 is open), so they go through `gh api` to the
 * REST endpoints POST /repos/{owner}/{repo}/issues/{n}/sub_issues (sub_issue_id)
 * and POST .../issues/{n}/dependencies/blocked_by (issue_id), which take the
 * issue's REST id, read back with `gh api .../issues/{n} --jq .id`. A relation
 * that cannot be made (GitHub Enterprise Server without the endpoints) is
 * reported and skipped: the issues still name their epic and dependencies.
 *
 * Nothing from the result reaches the shell unquoted: titles and labels are in
 * single quotes (' as '\''), bodies are here-documents with a quoted delimiter
 * that occurs in no body, written to a temporary file for --body-file; the
 * variables the script expands are its own (the repository, issue numbers).
 */
#include <stdlib.h>
#include <string.h>

#include "ec.h"

/*
 * Text as GitHub Markdown: the ASCII punctuation that starts inline markup
 * (\ ` * _ [ ] < > | ~ &) backslash-escaped everywhere; a line's indentation
 * dropped (four spaces would start a code block) and its block marker (# > - +
 * =, "1." "1)") escaped, where a line starts (in b, not only in s); a single LF
 * a hard line break, a blank line a new paragraph; an @ before a name gets a WORD JOINER after it, so no one is
 * mentioned (and notified) by an exported text.
 */
static void
md_text(ec_buf *b, const char *s)
{
	int bol = b->n == 0 || b->p[b->n - 1] == '\n';

	for (const char *p = s; *p; p++) {
		int blank = 0;

		if (bol) {
			bol = 0;
			while (*p == ' ' || *p == '\t')
				p++;
			if (!*p)
				break;
			blank = *p == '\n';
			if (strchr("#>-+=", *p))
				ec_buf_putc(b, '\\');
			else if (ec_is_digit((unsigned char)*p)) {
				const char *q = p;
				while (ec_is_digit((unsigned char)*q))
					q++;
				if (*q == '.' || *q == ')') {
					ec_buf_put(b, p, (size_t)(q - p));
					ec_buf_putc(b, '\\');
					p = q;
				}
			}
		}
		switch (*p) {
		case '\n': {
			const char *q = p + 1;
			while (*q == ' ' || *q == '\t')
				q++;
			ec_buf_puts(b, blank || *q == '\n' || !*q ? "\n" : "\\\n");
			bol = 1;
			break;
		}
		case '\\': case '`': case '*': case '_': case '[': case ']': case '<': case '>':
		case '|': case '~': case '&':
			ec_buf_putc(b, '\\');
			ec_buf_putc(b, *p);
			break;
		case '@':
			ec_buf_putc(b, '@');
			if (ec_is_alnum((unsigned char)p[1]))
				ec_buf_puts(b, "\xE2\x81\xA0");
			break;
		default:
			ec_buf_putc(b, *p);
		}
	}
}

/* [text](url): the text escaped, the url ec_export_url_ok (no space or paren). */
static void
md_link(ec_buf *b, const char *text, const char *url)
{
	ec_buf_putc(b, '[');
	md_text(b, text);
	ec_buf_puts(b, "](");
	ec_buf_puts(b, url);
	ec_buf_putc(b, ')');
}

static const ec_markup md = {
	.text = md_text, .link = md_link,
	.b_open = "**", .b_close = "**", .h_open = "#### ", .h_close = "\n\n",
	.l_open = "", .l_close = "\n", .i_open = "- ", .i_close = "\n",
	.p_open = "", .p_close = "\n\n",
};

/* s in single quotes for sh: ' is written '\''. */
static void
sq(ec_buf *b, const char *s)
{
	ec_buf_putc(b, '\'');
	for (; *s; s++)
		if (*s == '\'')
			ec_buf_puts(b, "'\\''");
		else
			ec_buf_putc(b, *s);
	ec_buf_putc(b, '\'');
}

/* The labels of item i (0: the epic), appended to the array a. */
static void
item_labels(const ec_export *x, size_t i, json_t *a)
{
	const json_t *rec = ec_export_rec(x, i), *v;
	char prio[48];
	size_t k;

	json_array_append_new(a, json_string("epic-creator"));
	if (!rec)
		json_array_append_new(a, json_string("epic"));
	else
		json_array_append_new(a, json_string(ec_json_get_str(rec, "type", "suggested")));
	snprintf(prio, sizeof prio, "priority:%s", ec_json_get_str(rec ? rec : x->result,
	    rec ? "priority" : "epic.priority", "low"));
	json_array_append_new(a, json_string(prio));
	json_array_foreach(json_object_get(rec, "personas"), k, v)
		json_array_append(a, (json_t *)v);
}

/* The issue of item i as the REST API array's element. New reference. */
static json_t *
issue_json(const ec_export *x, size_t i)
{
	const json_t *rec = ec_export_rec(x, i), *v;
	json_t *o = json_object(), *labels = json_array(), *deps = json_array();
	char *title = ec_export_clean(ec_json_get_str(rec ? rec : x->result,
	    rec ? "title" : "epic.title", ""), 1, 0), *body;
	ec_buf b = { 0 };
	size_t k;

	ec_buf_puts(&b, "");
	ec_export_describe(&b, &md, x, i);
	ec_buf_printf(&b, "<!-- epic-creator: %s -->\n", x->ext[i]);
	body = ec_buf_take(&b);
	if (!o || !labels || !deps || !title || !body) {
		json_decref(o);
		json_decref(labels);
		json_decref(deps);
		free(title);
		free(body);
		return NULL;
	}
	item_labels(x, i, labels);
	json_array_foreach(json_object_get(rec, "dependencies"), k, v) {
		size_t d = ec_export_find(x, json_string_value(v));
		if (d)
			json_array_append_new(deps, json_string(x->ext[d]));
	}
	json_object_set_new(o, "externalId", json_string(x->ext[i]));
	json_object_set_new(o, "title", json_string(title));
	json_object_set_new(o, "body", json_string(body));
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "parent", i ? json_string(x->ext[0]) : json_null());
	json_object_set_new(o, "dependencies", deps);
	free(title);
	free(body);
	return o;
}

/* A here-document delimiter that is no line of body. */
static void
delimiter(const char *body, char *out, size_t cap)
{
	for (int k = 0;; k++) {
		size_t n;
		const char *p;
		int clash = 0;

		snprintf(out, cap, k ? "EPIC_EXPORT_BODY_%d" : "EPIC_EXPORT_BODY", k);
		n = strlen(out);
		for (p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
			if (!strncmp(p, out, n) && (p[n] == '\n' || !p[n]))
				clash = 1;
		if (!clash)
			return;
	}
}

static const char script_head[] =
    "#\n"
    "# usage: sh FILE OWNER/REPO   (or: GH_REPO=OWNER/REPO sh FILE)\n"
    "#\n"
    "# Needs the GitHub CLI, logged in (gh auth status). Creates the labels, the\n"
    "# epic, one issue per recommendation (a sub-issue of the epic), then the\n"
    "# \"blocked by\" dependencies. It stops at the first issue gh cannot create;\n"
    "# the issues made so far are listed on stderr. Running it twice makes the\n"
    "# issues twice. Generated by epic-export, which itself sends nothing.\n"
    "set -eu\n"
    "repo=${1:-${GH_REPO:-}}\n"
    "case $repo in\n"
    "?*/?*) ;;\n"
    "*) echo \"usage: $0 OWNER/REPO (or set GH_REPO)\" >&2; exit 2 ;;\n"
    "esac\n"
    "tmp=$(mktemp -d \"${TMPDIR:-/tmp}/epic-export.XXXXXX\")\n"
    "trap 'rm -rf \"$tmp\"' EXIT\n"
    "trap 'exit 1' HUP INT TERM\n"
    "\n"
    "# The issue number at the end of the URL gh issue create prints.\n"
    "number() {\n"
    "\tn=$(printf '%s\\n' \"$1\" | sed -n '$s|.*/issues/\\([0-9][0-9]*\\)$|\\1|p')\n"
    "\tif [ -z \"$n\" ]; then\n"
    "\t\techo \"epic-export: gh issue create printed no issue URL: $1\" >&2\n"
    "\t\texit 1\n"
    "\tfi\n"
    "\tprintf '%s\\n' \"$n\"\n"
    "}\n"
    "# A relation (sub-issue, blocked by) through the REST API; one that fails is\n"
    "# reported and skipped.\n"
    "relate() {\n"
    "\tgh api --method POST \"$@\" >/dev/null ||\n"
    "\t\techo \"epic-export: could not relate ($1); continuing\" >&2\n"
    "}\n\n";

int
ec_export_github(const ec_export *x, ec_buf *script, ec_buf *jsonout)
{
	json_t *all = json_array(), *seen = json_object(), *it;
	size_t i, k;
	char delim[64];
	int rc = -1;

	if (!all || !seen)
		goto out;
	for (i = 0; i <= x->n; i++) {
		if (!(it = issue_json(x, i)) || json_array_append_new(all, it) < 0)
			goto out;
	}
	ec_buf_printf(script, "#!/bin/sh\n# GitHub issues for the epic %s: %zu issues.\n",
	    x->epic_id, x->n + 1);
	ec_buf_puts(script, script_head);

	/* The labels, each once, in the order first used. */
	json_array_foreach(all, i, it) {
		json_t *l;
		json_array_foreach(json_object_get(it, "labels"), k, l) {
			const char *name = json_string_value(l), *color = "C5DEF5", *what;
			if (json_object_get(seen, name))
				continue;
			json_object_set_new(seen, name, json_true());
			what = "Persona of epic-creator that raised it";
			if (!strcmp(name, "epic-creator"))
				color = "5319E7", what = "Created by epic-creator";
			else if (!strcmp(name, "epic"))
				color = "3E4B9E", what = "An epic reviewed by epic-creator";
			else if (!strcmp(name, "blocking"))
				color = "B60205", what = "Must be resolved before the epic ships";
			else if (!strcmp(name, "suggested"))
				color = "0E8A16", what = "Worth doing; not required to ship";
			else if (!strncmp(name, "priority:", 9))
				color = "FBCA04", what = "Priority given by epic-creator";
			ec_buf_puts(script, "gh label create ");
			sq(script, name);
			ec_buf_printf(script, " --repo \"$repo\" --force --color %s --description ", color);
			sq(script, what);
			ec_buf_puts(script, " >/dev/null\n");
		}
	}

	json_array_foreach(all, i, it) {
		const char *body = ec_json_get_str(it, "body", "");
		json_t *l;

		delimiter(body, delim, sizeof delim);
		ec_buf_printf(script, "\n# %s\ncat >\"$tmp/body\" <<'%s'\n", x->ext[i], delim);
		ec_buf_puts(script, body);
		ec_buf_printf(script, "%s\nurl=$(gh issue create --repo \"$repo\" --title ", delim);
		sq(script, ec_json_get_str(it, "title", ""));
		json_array_foreach(json_object_get(it, "labels"), k, l) {
			ec_buf_puts(script, " --label ");
			sq(script, json_string_value(l));
		}
		ec_buf_printf(script, " --body-file \"$tmp/body\")\nn%zu=$(number \"$url\")\n", i);
		ec_buf_printf(script, "id%zu=$(gh api \"repos/$repo/issues/$n%zu\" --jq .id)\n", i, i);
		ec_buf_puts(script, "printf '%s #%s\\n' ");
		sq(script, x->ext[i]);
		ec_buf_printf(script, " \"$n%zu\" >&2\n", i);
		if (i)
			ec_buf_printf(script, "relate \"repos/$repo/issues/$n0/sub_issues\" "
			    "-F \"sub_issue_id=$id%zu\"\n", i);
	}

	ec_buf_puts(script, "\n# Dependencies: an issue is blocked by the ones it depends on.\n");
	for (i = 1; i <= x->n; i++) {
		json_t *v;
		json_array_foreach(json_object_get(ec_export_rec(x, i), "dependencies"), k, v) {
			size_t d = ec_export_find(x, json_string_value(v));
			if (d)
				ec_buf_printf(script, "relate \"repos/$repo/issues/$n%zu/dependencies/"
				    "blocked_by\" -F \"issue_id=$id%zu\"\n", i, d);
		}
	}
	ec_buf_printf(script, "printf 'epic-export: %zu issues created in %%s (the epic is #%%s)\\n' "
	    "\"$repo\" \"$n0\" >&2\n", x->n + 1);

	if (jsonout) {
		char *s = ec_json_dumps(all);
		if (!s)
			goto out;
		ec_buf_puts(jsonout, s);
		free(s);
	}
	rc = script->oom || (jsonout && jsonout->oom) ? -1 : 0;
out:
	json_decref(all);
	json_decref(seen);
	return rc;
}
