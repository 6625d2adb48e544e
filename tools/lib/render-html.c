/*
 * render-html.c - the report as one self-contained HTML page (epic render --format
 * html): inline CSS, no script, no outside resource, printable, and itself
 * accessible (WCAG 2.2 AA: a language, one h1 and levels in order, header, nav, main
 * and footer landmarks, a table of contents, captioned tables with scoped headers,
 * contrast of at least 4.5:1, a visible focus, levels written as words and not
 * shown by colour alone).
 *
 * Everything from the result is escaped (& < > " ') after rd_clean, so no title can
 * open a tag or leave an attribute; links go only to https URLs and to anchors made
 * by rd_anchor.
 */
#include <stdlib.h>
#include <string.h>

#include "render.h"

static const char css[] =
    ":root{--ink:#1b2330;--muted:#4a5568;--line:#d5dbe3;--band:#12324f;--accent:#0b5cad;"
    "--paper:#ffffff;--soft:#f3f6f9}\n"
    "*{box-sizing:border-box}\n"
    "html{font-size:100%}\n"
    "body{margin:0;color:var(--ink);background:var(--paper);font:1rem/1.55 system-ui,-apple-system,"
    "\"Segoe UI\",Roboto,\"Noto Sans\",\"DejaVu Sans\",sans-serif}\n"
    "a{color:var(--accent);text-decoration:underline;text-underline-offset:2px}\n"
    "a:hover{text-decoration-thickness:2px}\n"
    "a:focus-visible{outline:3px solid #b45309;outline-offset:2px;border-radius:2px}\n"
    ".skip{position:absolute;left:-999rem;top:0;background:#fff;color:var(--accent);padding:.5rem 1rem}\n"
    ".skip:focus{left:1rem;top:1rem;z-index:2}\n"
    "header{background:var(--band);color:#fff;padding:2rem 1.5rem 1.5rem}\n"
    "header .inner,.layout,footer .inner{max-width:80rem;margin:0 auto}\n"
    ".kicker{margin:0 0 .25rem;text-transform:uppercase;letter-spacing:.08em;font-size:.8rem;"
    "color:#d9e6f2}\n"
    "h1{margin:0 0 1.25rem;font-size:2rem;line-height:1.2;max-width:60rem}\n"
    "header dl{display:flex;flex-wrap:wrap;gap:.75rem;margin:0 0 .75rem}\n"
    "header dl div{background:rgba(255,255,255,.1);border:1px solid rgba(255,255,255,.25);"
    "border-radius:.5rem;padding:.5rem .9rem;min-width:9rem}\n"
    "header dt{font-size:.78rem;text-transform:uppercase;letter-spacing:.05em;color:#d9e6f2}\n"
    "header dd{margin:0;font-weight:600;font-size:1.05rem}\n"
    "header dl+dl div{padding:.3rem .7rem;min-width:0}\n"
    "header dl+dl dd{font-size:.9rem;font-weight:500}\n"
    ".layout{display:grid;grid-template-columns:15rem minmax(0,1fr);gap:2.5rem;padding:1.5rem}\n"
    "nav{position:sticky;top:1rem;align-self:start;font-size:.95rem}\n"
    "nav h2{font-size:.85rem;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);"
    "margin:.5rem 0}\n"
    "nav ol{list-style:none;margin:0;padding:0;border-left:3px solid var(--line)}\n"
    "nav li a{display:block;padding:.3rem .75rem;text-decoration:none;color:var(--ink)}\n"
    "nav li a:hover{text-decoration:underline}\n"
    "main{min-width:0}\n"
    "main section{margin-bottom:2.5rem}\n"
    "h2{font-size:1.5rem;margin:1rem 0 1rem;padding-bottom:.3rem;border-bottom:2px solid var(--line)}\n"
    "h3{font-size:1.15rem;margin:0 0 .5rem;line-height:1.3}\n"
    ".card{border:1px solid var(--line);border-left:4px solid var(--accent);border-radius:.4rem;"
    "padding:1rem 1.25rem;margin:0 0 1rem;background:var(--paper)}\n"
    "main dl{display:flex;flex-wrap:wrap;gap:.25rem 1.5rem;margin:0 0 .6rem;font-size:.92rem}\n"
    "main dl div{display:flex;gap:.4rem}\n"
    "main dt{color:var(--muted)}\n"
    "main dt::after{content:\":\"}\n"
    "main dd{margin:0;font-weight:600}\n"
    "p{margin:0 0 .75rem}\n"
    ".pre{white-space:pre-line}\n"
    "ul{margin:0 0 1rem;padding-left:1.4rem}\n"
    "li{margin:.15rem 0}\n"
    ".lvl{display:inline-block;padding:0 .5rem;border-radius:999px;color:#fff;font-weight:700;"
    "font-size:.85em;letter-spacing:.02em;print-color-adjust:exact;-webkit-print-color-adjust:exact}\n"
    ".lvl-critical{background:#9b1c1c}.lvl-high{background:#9a3412}"
    ".lvl-medium{background:#6b4e00}.lvl-low{background:#166534}\n"
    "header .lvl{border:1px solid #fff}\n"
    "table{border-collapse:collapse;width:100%;margin:0 0 1.5rem;font-size:.92rem}\n"
    "caption{text-align:left;font-weight:700;padding:.25rem 0 .5rem}\n"
    "th,td{border:1px solid var(--line);padding:.45rem .6rem;text-align:left;vertical-align:top}\n"
    "thead th{background:var(--soft)}\n"
    "td:nth-child(n+2):not(:nth-last-child(-n+3)){white-space:nowrap}\n"
    "footer{border-top:1px solid var(--line);color:var(--muted);font-size:.88rem;padding:1rem 1.5rem 2rem}\n"
    "@media (max-width:60rem){.layout{grid-template-columns:1fr}nav{position:static}}\n"
    "@media print{body{font-size:10.5pt}header{background:none;color:#000;padding:0 0 1rem;"
    "border-bottom:2px solid #000}.kicker,header dt{color:#333}header dl div{border-color:#999;"
    "background:none}.layout{display:block;padding:0}nav,.skip{display:none}.card{break-inside:avoid;"
    "border-left-color:#000}h2,h3{break-after:avoid}tr{break-inside:avoid}"
    "main a[href^=\"https:\"]::after{content:\" <\" attr(href) \">\";font-size:.8em;color:#333;"
    "word-break:break-all}a{color:#000}}\n";

/* Append s escaped for HTML text and attribute values (cleaned first; folded
 * unless keep). */
static void
html_escape(ec_buf *b, const char *raw, int keep)
{
	ec_buf t = { 0 };

	rd_clean(&t, raw, !keep);
	ec_html_put(b, t.p ? t.p : "");
	if (t.oom)
		b->oom = 1;
	free(t.p);
}

/* Close what is open: the card (a recommendation, a phase, a persona), then with
 * all set the section. */
static void
html_close(rd *r, int all)
{
	if (r->card)
		ec_buf_puts(&r->b, "</div>\n");
	r->card = 0;
	if (all && r->section)
		ec_buf_puts(&r->b, "</section>\n");
	if (all)
		r->section = 0;
}

static void
html_begin(rd *r, const char *title)
{
	ec_buf_puts(&r->b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	html_escape(&r->b, title, 0);
	ec_buf_printf(&r->b, " \xE2\x80\x94 epic review</title>\n<meta name=\"generator\" "
	    "content=\"epic-render %s\">\n<style>\n%s</style>\n</head>\n<body>\n"
	    "<a class=\"skip\" href=\"#main\">Skip to the report</a>\n"
	    "<header>\n<div class=\"inner\">\n<p class=\"kicker\">Epic review</p>\n<h1>", EC_VERSION, css);
	html_escape(&r->b, title, 0);
	ec_buf_puts(&r->b, "</h1>\n");
}

static void html_end(rd *r) { ec_buf_puts(&r->b, "</body>\n</html>\n"); }

/* The table of contents ends the header and opens main, beside it. */
static void
html_toc(rd *r, const char *const *anchors, const char *const *titles, size_t n)
{
	ec_buf_puts(&r->b, "</div>\n</header>\n<div class=\"layout\">\n"
	    "<nav aria-labelledby=\"toc\">\n<h2 id=\"toc\">Contents</h2>\n<ol>\n");
	for (size_t i = 0; i < n; i++) {
		ec_buf_printf(&r->b, "<li><a href=\"#%s\">", anchors[i]);
		html_escape(&r->b, titles[i], 0);
		ec_buf_puts(&r->b, "</a></li>\n");
	}
	ec_buf_puts(&r->b, "</ol>\n</nav>\n<main id=\"main\">\n");
}

static void
html_section(rd *r, const char *anchor, const char *title)
{
	html_close(r, 1);
	ec_buf_printf(&r->b, "<section aria-labelledby=\"%s\">\n<h2 id=\"%s\">", anchor, anchor);
	html_escape(&r->b, title, 0);
	ec_buf_puts(&r->b, "</h2>\n");
	r->section = 1;
}

static void
html_heading(rd *r, const char *anchor, const char *title)
{
	html_close(r, 0);
	ec_buf_printf(&r->b, "<div class=\"card\">\n<h3 id=\"%s\">", anchor);
	html_escape(&r->b, title, 0);
	ec_buf_puts(&r->b, "</h3>\n");
	r->card = 1;
}

static void html_facts_begin(rd *r) { ec_buf_puts(&r->b, "<dl>\n"); }
static void
html_fact_begin(rd *r, const char *label, const char *kind)
{
	ec_buf_puts(&r->b, "<div><dt>");
	html_escape(&r->b, label, 0);
	ec_buf_puts(&r->b, "</dt><dd>");
	r->level = kind != NULL;
}
static void html_fact_end(rd *r) { ec_buf_puts(&r->b, "</dd></div>\n"); r->level = 0; }
static void html_facts_end(rd *r) { ec_buf_puts(&r->b, "</dl>\n"); }
static void
html_para_begin(rd *r, int keep)
{
	ec_buf_puts(&r->b, keep ? "<p class=\"pre\">" : "<p>");
	r->keep = keep;
}
static void html_para_end(rd *r) { ec_buf_puts(&r->b, "</p>\n"); r->keep = 0; }

/* Text; a level (after fact_begin with a kind) is a badge whose class is one of
 * ours, chosen by the word, which is always written too. */
static void
html_text(rd *r, const char *s)
{
	if (r->level) {
		int rank = ec_priority_rank(s);
		const char *name = ec_priority_name(rank);
		r->level = 0;
		if (!strcmp(s, name)) {
			ec_buf_printf(&r->b, "<span class=\"lvl lvl-%s\">", name);
			html_escape(&r->b, s, 0);
			ec_buf_puts(&r->b, "</span>");
			return;
		}
	}
	html_escape(&r->b, s, r->keep);
}
static void
html_strong(rd *r, const char *s)
{
	ec_buf_puts(&r->b, "<strong>");
	html_escape(&r->b, s, 0);
	ec_buf_puts(&r->b, "</strong>");
}
static void
html_link(rd *r, const char *url, const char *s)
{
	ec_buf_puts(&r->b, "<a href=\"");
	html_escape(&r->b, url, 0);
	ec_buf_puts(&r->b, "\">");
	html_escape(&r->b, s, 0);
	ec_buf_puts(&r->b, "</a>");
}
static void
html_xref(rd *r, const char *anchor, const char *s)
{
	ec_buf_puts(&r->b, "<a href=\"#");
	html_escape(&r->b, anchor, 0);
	ec_buf_puts(&r->b, "\">");
	html_escape(&r->b, s, 0);
	ec_buf_puts(&r->b, "</a>");
}
static void html_list_begin(rd *r) { ec_buf_puts(&r->b, "<ul>\n"); }
static void html_item_begin(rd *r) { ec_buf_puts(&r->b, "<li>"); }
static void html_item_end(rd *r) { ec_buf_puts(&r->b, "</li>\n"); }
static void html_list_end(rd *r) { ec_buf_puts(&r->b, "</ul>\n"); }
static void
html_table_begin(rd *r, const char *caption, const char *const *heads, size_t n)
{
	html_close(r, 0);
	ec_buf_puts(&r->b, "<table>\n<caption>");
	html_escape(&r->b, caption, 0);
	ec_buf_puts(&r->b, "</caption>\n<thead><tr>");
	for (size_t i = 0; i < n; i++) {
		ec_buf_puts(&r->b, "<th scope=\"col\">");
		html_escape(&r->b, heads[i], 0);
		ec_buf_puts(&r->b, "</th>");
	}
	ec_buf_puts(&r->b, "</tr></thead>\n<tbody>\n");
}
static void html_row_begin(rd *r) { ec_buf_puts(&r->b, "<tr>"); r->n = 0; }
static void html_cell_begin(rd *r) { ec_buf_puts(&r->b, r->n ? "<td>" : "<th scope=\"row\">"); }
static void html_cell_end(rd *r) { ec_buf_puts(&r->b, r->n++ ? "</td>" : "</th>"); }
static void html_row_end(rd *r) { ec_buf_puts(&r->b, "</tr>\n"); }
static void html_table_end(rd *r) { ec_buf_puts(&r->b, "</tbody>\n</table>\n"); }
static void
html_footer(rd *r, const char *s)
{
	html_close(r, 1);
	ec_buf_puts(&r->b, "</main>\n</div>\n<footer>\n<div class=\"inner\"><p>");
	html_escape(&r->b, s, 0);
	ec_buf_puts(&r->b, "</p></div>\n</footer>\n");
}

static const rd_ops html_ops = {
	html_begin, html_end, html_toc, html_section, html_heading, html_facts_begin,
	html_fact_begin, html_fact_end, html_facts_end, html_para_begin, html_para_end,
	html_text, html_strong, html_link, html_xref, html_list_begin, html_item_begin,
	html_item_end, html_list_end, html_table_begin, html_row_begin, html_cell_begin,
	html_cell_end, html_row_end, html_table_end, html_footer,
};

char *
ec_render_html(const json_t *result, ec_err *e)
{
	rd r = { .ops = &html_ops, .result = result };

	if (rd_render(&r) < 0) {
		free(r.b.p);
		ec_fail(e, EC_EXIT_TEMP, "out of memory");
		return NULL;
	}
	return ec_buf_take(&r.b);
}
