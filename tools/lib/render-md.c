/*
 * render-md.c - the report as CommonMark (epic render --format md), to paste into
 * a planning document, a wiki or an issue.
 *
 * Text from the result stays text: every character CommonMark (and GitHub's
 * dialect) could read as markup is backslash-escaped, a leading one that would
 * start a block ("#", ">", "-", "+", "=", "1.") too, and newlines are folded, so a
 * title like "*x* [y](javascript:z) <b>" reads literally and a "|" never splits a
 * table cell. Links are written only to https URLs made of plain URL characters.
 */
#include <stdlib.h>
#include <string.h>

#include "render.h"

/* Append cleaned, folded s escaped for Markdown inline text. */
static void
md_escape(ec_buf *b, const char *raw)
{
	ec_buf t = { 0 };

	rd_clean(&t, raw, 1);
	ec_md_put(b, t.p ? t.p : "");
	if (t.oom)
		b->oom = 1;
	free(t.p);
}

static void md_begin(rd *r, const char *title)
{
	ec_buf_puts(&r->b, "# ");
	md_escape(&r->b, title);
	ec_buf_puts(&r->b, "\n\n");
}
static void md_end(rd *r) { (void)r; }
/* Markdown has no anchors of its own (a viewer may make some): no table of
 * contents, and cross references are plain text. */
static void md_toc(rd *r, const char *const *a, const char *const *t, size_t n) { (void)r, (void)a, (void)t, (void)n; }
static void md_section(rd *r, const char *anchor, const char *title)
{
	ec_buf_puts(&r->b, "## ");
	md_escape(&r->b, title);
	ec_buf_puts(&r->b, "\n\n");
}
static void md_heading(rd *r, const char *anchor, const char *title)
{
	ec_buf_puts(&r->b, "### ");
	md_escape(&r->b, title);
	ec_buf_puts(&r->b, "\n\n");
}
/* Key figures: one line, "**Label:** value · **Label:** value". */
static void md_facts_begin(rd *r) { r->n = 0; }
static void md_fact_begin(rd *r, const char *label, const char *kind)
{
	ec_buf_puts(&r->b, r->n++ ? " \xC2\xB7 **" : "**");
	md_escape(&r->b, label);
	ec_buf_puts(&r->b, ":** ");
}
static void md_fact_end(rd *r) { (void)r; }
static void md_facts_end(rd *r) { ec_buf_puts(&r->b, "\n\n"); }
static void md_para_begin(rd *r, int keep) { (void)r, (void)keep; }
static void md_para_end(rd *r) { ec_buf_puts(&r->b, "\n\n"); }
static void md_text(rd *r, const char *s) { md_escape(&r->b, s); }
static void md_strong(rd *r, const char *s)
{
	ec_buf_puts(&r->b, "**");
	md_escape(&r->b, s);
	ec_buf_puts(&r->b, "**");
}
static void md_link(rd *r, const char *url, const char *s)
{
	ec_buf_putc(&r->b, '[');
	md_escape(&r->b, s);
	ec_buf_printf(&r->b, "](%s)", url);
}
static void md_xref(rd *r, const char *anchor, const char *s) { md_escape(&r->b, s); }
static void md_list_begin(rd *r) { (void)r; }
static void md_item_begin(rd *r) { ec_buf_puts(&r->b, "- "); }
static void md_item_end(rd *r) { ec_buf_putc(&r->b, '\n'); }
static void md_list_end(rd *r) { ec_buf_putc(&r->b, '\n'); }
/* A GitHub-style table under its caption in bold; cells are one line each and
 * their "|" escaped (md_escape), so none can end early. */
static void md_table_begin(rd *r, const char *caption, const char *const *heads, size_t n)
{
	md_strong(r, caption);
	ec_buf_puts(&r->b, "\n\n|");
	for (size_t i = 0; i < n; i++) {
		ec_buf_putc(&r->b, ' ');
		md_escape(&r->b, heads[i]);
		ec_buf_puts(&r->b, " |");
	}
	ec_buf_puts(&r->b, "\n|");
	for (size_t i = 0; i < n; i++)
		ec_buf_puts(&r->b, " --- |");
	ec_buf_putc(&r->b, '\n');
}
static void md_row_begin(rd *r) { ec_buf_putc(&r->b, '|'); }
static void md_cell_begin(rd *r) { ec_buf_putc(&r->b, ' '); }
static void md_cell_end(rd *r) { ec_buf_puts(&r->b, " |"); }
static void md_row_end(rd *r) { ec_buf_putc(&r->b, '\n'); }
static void md_table_end(rd *r) { ec_buf_putc(&r->b, '\n'); }
static void md_footer(rd *r, const char *s)
{
	ec_buf_puts(&r->b, "---\n\n*");
	md_escape(&r->b, s);
	ec_buf_puts(&r->b, "*\n");
}

static const rd_ops md_ops = {
	md_begin, md_end, md_toc, md_section, md_heading, md_facts_begin, md_fact_begin,
	md_fact_end, md_facts_end, md_para_begin, md_para_end, md_text, md_strong, md_link,
	md_xref, md_list_begin, md_item_begin, md_item_end, md_list_end, md_table_begin,
	md_row_begin, md_cell_begin, md_cell_end, md_row_end, md_table_end, md_footer,
};

char *
ec_render_md(const json_t *result, ec_err *e)
{
	rd r = { .ops = &md_ops, .result = result };

	if (rd_render(&r) < 0) {
		free(r.b.p);
		ec_fail(e, EC_EXIT_TEMP, "out of memory");
		return NULL;
	}
	return ec_buf_take(&r.b);
}
