/*
 * export-azure.c - a result as a CSV file for Azure Boards' work-item import
 * (Boards > Work items > Import Work Items), descriptions in HTML.
 *
 * Columns, as Microsoft documents them (learn.microsoft.com, "Import, update,
 * and export bulk work items with CSV files"): Work Item Type and Title are
 * required; a tree of new items is given by an empty ID column and the title in
 * the column of its level, Title 1 for the parent, Title 2 for the children in
 * the rows below it; Description (an HTML field), Priority (1 to 4) and Tags
 * (separated by semicolons) are plain fields. Only the tree's links can be
 * imported: dependencies are listed in the description.
 *
 * The epic is an Epic and each recommendation a User Story beneath it (the
 * Agile process; --item-type names another, "Product Backlog Item" for Scrum,
 * "Issue" for Basic). The level of Feature is skipped on purpose: the
 * recommendations are a flat list with nothing to group them into features, and
 * Azure Boards accepts a parent that skips a backlog level.
 */
#include <stdlib.h>
#include <string.h>

#include "export.h"

/* Text as HTML: & < > " ' as entities, LF as <br>. */
static void
html_text(ec_buf *b, const char *s)
{
	for (const char *nl; (nl = strchr(s, '\n')); s = nl + 1) {
		char *line = strndup(s, (size_t)(nl - s));
		if (!line) {
			b->oom = 1;
			return;
		}
		ec_html_put(b, line);
		ec_buf_puts(b, "<br>");
		free(line);
	}
	ec_html_put(b, s);
}

/* <a href="url">text</a>; the url is one ec_reference_url gives, its & made &amp;. */
static void
html_link(ec_buf *b, const char *text, const char *url)
{
	ec_buf_puts(b, "<a href=\"");
	html_text(b, url);
	ec_buf_puts(b, "\">");
	html_text(b, text);
	ec_buf_puts(b, "</a>");
}

static const ec_markup html = {
	.text = html_text, .link = html_link,
	.b_open = "<b>", .b_close = "</b>", .h_open = "<h3>", .h_close = "</h3>",
	.l_open = "<ul>", .l_close = "</ul>", .i_open = "<li>", .i_close = "</li>",
	.p_open = "<p>", .p_close = "</p>",
};

/* Azure Boards' Priority: 1 (highest) to 4. */
static const char *
azure_priority(const char *p)
{
	switch (ec_priority_rank(p)) {
	case EC_RM_CRITICAL: return "1";
	case EC_RM_HIGH: return "2";
	case EC_RM_MEDIUM: return "3";
	default: return "4";
	}
}

int
ec_export_azure(const ec_export *x, ec_buf *out)
{
	int col = 0;

	for (const char *const *h = (const char *const[]){ "ID", "Work Item Type", "Title 1",
	    "Title 2", "Description", "Priority", "Tags", NULL }; *h; h++)
		ec_export_csv_field(out, &col, *h);
	ec_export_csv_end(out, &col);
	for (size_t i = 0; i <= x->n; i++) {
		const json_t *rec = ec_export_rec(x, i);
		const char *title = ec_json_get_str(i ? rec : x->result, i ? "title" : "epic.title", "");
		ec_buf d = { 0 }, tags = { 0 };
		char *desc, *tag;

		ec_export_csv_field(out, &col, "");
		ec_export_csv_field(out, &col, i ? (x->item_type ? x->item_type : "User Story") : "Epic");
		if (i)
			ec_export_csv_field(out, &col, "");
		ec_export_csv_text(out, &col, title, 1);
		if (!i)
			ec_export_csv_field(out, &col, "");
		ec_buf_puts(&d, "");
		ec_export_describe(&d, &html, x, i);
		if (!(desc = ec_buf_take(&d)))
			return -1;
		ec_export_csv_field(out, &col, desc);
		free(desc);
		ec_export_csv_field(out, &col, azure_priority(ec_json_get_str(i ? rec : x->result,
		    i ? "priority" : "epic.priority", "")));
		ec_buf_puts(&tags, "epic-creator");
		if (rec) {
			char *personas = ec_export_join(json_object_get(rec, "personas"), "; ");
			ec_buf_printf(&tags, "; %s; %s", ec_json_get_str(rec, "type", ""),
			    personas ? personas : "");
			free(personas);
		}
		if (!(tag = ec_buf_take(&tags)))
			return -1;
		ec_export_csv_text(out, &col, tag, 1);
		free(tag);
		ec_export_csv_end(out, &col);
	}
	return out->oom ? -1 : 0;
}
