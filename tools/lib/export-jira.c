/*
 * export-jira.c - a result as a CSV file for Jira Cloud's CSV importer
 * (System > External system import > CSV), descriptions in Jira wiki markup.
 *
 * Columns, as Atlassian documents them (support.atlassian.com, "Import data
 * from a CSV file" and the knowledge-base article "CSV import Parent-child
 * mapping"): Summary (required), Issue Type, Description, Priority, Labels
 * (repeated: one column per label, the importer's way to give a field several
 * values), Issue ID (a number unique in the file) and Parent (the parent's
 * Issue ID; the Epic Link field is deprecated since April 2024), with parents in
 * rows above their children, and "Inward issue link (Blocks)" (the name Jira's
 * own export gives the issues that block one: map it to the link type Blocks).
 * External ID is ours: map it to a text field, or leave it unmapped (it is in
 * every description too).
 */
#include <stdlib.h>
#include <string.h>

#include "export.h"

/*
 * Text in Jira wiki markup: what could start markup is escaped with a
 * backslash: always { } [ ] | ! # (macros, links, tables, images, lists), the
 * inline markers * _ - + ^ ~ ? unless they sit inside a word (so "2-5" and
 * "person-days" stay as written), and the "h1." and "bq." of a line's start. A
 * backslash itself would escape what follows (and two make a line break), so
 * it is written as the entity &#92;. LF stays a line break.
 */
static void
wiki_text(ec_buf *b, const char *s)
{
	int bol = b->n == 0 || b->p[b->n - 1] == '\n';

	for (const char *p = s; *p; p++) {
		char c = *p;
		if (bol && ((c == 'h' && p[1] >= '1' && p[1] <= '6' && p[2] == '.') ||
		    (c == 'b' && p[1] == 'q' && p[2] == '.'))) {
			ec_buf_put(b, p, 2);
			ec_buf_puts(b, "\\.");
			p += 2;
			bol = 0;
			continue;
		}
		bol = c == '\n';
		switch (c) {
		case '{': case '}': case '[': case ']': case '|': case '!': case '#':
			ec_buf_putc(b, '\\');
			ec_buf_putc(b, c);
			break;
		case '\\':
			ec_buf_puts(b, "&#92;");
			break;
		case '*': case '_': case '-': case '+': case '^': case '~': case '?':
			if (!(p > s && ec_is_alnum((unsigned char)p[-1]) && ec_is_alnum((unsigned char)p[1])))
				ec_buf_putc(b, '\\');
			ec_buf_putc(b, c);
			break;
		default:
			ec_buf_putc(b, c);
		}
	}
}

/* [text|url]: the text escaped (no | or ] left to end it), the url checked. */
static void
wiki_link(ec_buf *b, const char *text, const char *url)
{
	ec_buf_putc(b, '[');
	wiki_text(b, text);
	ec_buf_putc(b, '|');
	ec_buf_puts(b, url);
	ec_buf_putc(b, ']');
}

static const ec_markup wiki = {
	.text = wiki_text, .link = wiki_link,
	.b_open = "*", .b_close = "*", .h_open = "h4. ", .h_close = "\n",
	.l_open = "", .l_close = "\n", .i_open = "* ", .i_close = "\n",
	.p_open = "", .p_close = "\n\n",
};

/* Jira's default priority scheme. */
static const char *
jira_priority(const char *p)
{
	switch (ec_priority_rank(p)) {
	case EC_RM_CRITICAL: return "Highest";
	case EC_RM_HIGH: return "High";
	case EC_RM_MEDIUM: return "Medium";
	default: return "Low";
	}
}

/* The labels of item i (0: the epic): epic-creator, then blocking or suggested
 * and the personas (names are [a-z0-9-]: valid Jira labels). */
static size_t
labels(const ec_export *x, size_t i, const char **out, size_t cap)
{
	const json_t *rec = ec_export_rec(x, i), *v;
	size_t n = 0, k;

	out[n++] = "epic-creator";
	if (!rec)
		return n;
	out[n++] = ec_json_get_str(rec, "type", "suggested");
	json_array_foreach(json_object_get(rec, "personas"), k, v)
		if (n < cap && json_is_string(v))
			out[n++] = json_string_value(v);
	return n;
}

int
ec_export_jira(const ec_export *x, ec_buf *out)
{
	size_t nlab = 1, ndep = 0;
	const char *lab[72];
	int col = 0;

	for (size_t i = 1; i <= x->n; i++) {
		size_t l = labels(x, i, lab, 72), d = json_array_size(json_object_get(ec_export_rec(x, i),
		    "dependencies"));
		nlab = l > nlab ? l : nlab;
		ndep = d > ndep ? d : ndep;
	}
	for (const char *const *h = (const char *const[]){ "Issue ID", "Issue Type", "Summary",
	    "Description", "Priority", "Parent", "External ID", NULL }; *h; h++)
		ec_export_csv_field(out, &col, *h);
	for (size_t k = 0; k < nlab; k++)
		ec_export_csv_field(out, &col, "Labels");
	for (size_t k = 0; k < ndep; k++)
		ec_export_csv_field(out, &col, "Inward issue link (Blocks)");
	ec_export_csv_end(out, &col);

	for (size_t i = 0; i <= x->n; i++) {
		const json_t *rec = ec_export_rec(x, i), *deps = json_object_get(rec, "dependencies"), *v;
		size_t l = labels(x, i, lab, 72), k, put = 0;
		char num[32];
		ec_buf d = { 0 };
		char *desc;

		snprintf(num, sizeof num, "%zu", i + 1);
		ec_export_csv_field(out, &col, num);
		ec_export_csv_field(out, &col, i ? (x->item_type ? x->item_type : "Story") : "Epic");
		ec_export_csv_text(out, &col, ec_json_get_str(i ? rec : x->result,
		    i ? "title" : "epic.title", ""), 1);
		ec_buf_puts(&d, "");
		ec_export_describe(&d, &wiki, x, i);
		if (!(desc = ec_buf_take(&d)))
			return -1;
		ec_export_csv_field(out, &col, desc);
		free(desc);
		ec_export_csv_field(out, &col, jira_priority(ec_json_get_str(i ? rec : x->result,
		    i ? "priority" : "epic.priority", "")));
		ec_export_csv_field(out, &col, i ? "1" : "");
		ec_export_csv_field(out, &col, x->ext[i]);
		for (k = 0; k < nlab; k++)
			ec_export_csv_field(out, &col, k < l ? lab[k] : "");
		json_array_foreach(deps, k, v) {
			size_t dep = ec_export_find(x, json_string_value(v));
			if (dep) {
				snprintf(num, sizeof num, "%zu", dep + 1);
				ec_export_csv_field(out, &col, num);
				put++;
			}
		}
		for (; put < ndep; put++)
			ec_export_csv_field(out, &col, "");
		ec_export_csv_end(out, &col);
	}
	return out->oom ? -1 : 0;
}
