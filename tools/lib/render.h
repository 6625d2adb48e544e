/*
 * render.h - private to the report renderer (render.c, render-md.c, render-html.c,
 * rendertext.c).
 *
 * render.c walks an EpicResponse once, in the report's order, and says what the
 * document holds through a table of operations (headings, key figures, lists,
 * tables, links); render-md.c and render-html.c each implement the table for their
 * format. So both formats carry the same content in the same order, and only the
 * two emitters know about escaping.
 *
 * Every string an operation receives may come from the result (outside input):
 * the emitter escapes all of it for its format. Text has already been cleaned by
 * rd_clean (no control character, no bidirectional override, valid UTF-8).
 */
#ifndef RENDER_H
#define RENDER_H

#include "ec.h"

typedef struct rd rd;

typedef struct rd_ops {
	/* The document around everything: title (the h1), the language. */
	void (*begin)(rd *r, const char *title);
	void (*end)(rd *r);
	/* The table of contents: anchors and titles of the sections, n of them. */
	void (*toc)(rd *r, const char *const *anchors, const char *const *titles, size_t n);
	/* A level-2 section (the previous one ends), a level-3 heading. */
	void (*section)(rd *r, const char *anchor, const char *title);
	void (*heading)(rd *r, const char *anchor, const char *title);
	/* Key figures: a run of label/value pairs. kind, when not NULL, says the value
	 * is a level ("critical", "high", ...) a format may mark up (never by colour
	 * alone: the word is always written). */
	void (*facts_begin)(rd *r);
	void (*fact_begin)(rd *r, const char *label, const char *kind);
	void (*fact_end)(rd *r);
	void (*facts_end)(rd *r);
	/* A paragraph; keep says its newlines are kept as line breaks. */
	void (*para_begin)(rd *r, int keep);
	void (*para_end)(rd *r);
	/* Inline: text, the same strong, a link to an https URL, a link to an anchor of
	 * the document (formats without anchors write the text only). */
	void (*text)(rd *r, const char *s);
	void (*strong)(rd *r, const char *s);
	void (*link)(rd *r, const char *url, const char *s);
	void (*xref)(rd *r, const char *anchor, const char *s);
	/* A bulleted list of one-line items. */
	void (*list_begin)(rd *r);
	void (*item_begin)(rd *r);
	void (*item_end)(rd *r);
	void (*list_end)(rd *r);
	/* A table: its caption and n column heads; each row's first cell heads the row. */
	void (*table_begin)(rd *r, const char *caption, const char *const *heads, size_t n);
	void (*row_begin)(rd *r);
	void (*cell_begin)(rd *r);
	void (*cell_end)(rd *r);
	void (*row_end)(rd *r);
	void (*table_end)(rd *r);
	/* The closing line: what made the document, from what (plain text). */
	void (*footer)(rd *r, const char *s);
} rd_ops;

struct rd {
	ec_buf b;               /* the document */
	const rd_ops *ops;
	const json_t *result;   /* borrowed */
	int n;                  /* the emitter's counter (facts or cells so far) */
	int keep;               /* in a paragraph that keeps its newlines */
	int level;              /* the next text is a level (rd_ops.fact_begin's kind) */
	int card, section;      /* the emitter has a card, a section open */
};

/* s cleaned for a document: control characters, bidirectional controls and bytes
 * that are not UTF-8 become U+FFFD, CR LF and CR become LF, a tab a space; with
 * fold, every run of white space (newlines too) is one space and the ends are
 * trimmed. Appended to out. */
void rd_clean(ec_buf *out, const char *s, int fold);
/* Walk result with ops into r->b. 0, or -1 when memory ran out. */
int rd_render(rd *r);
/* An anchor for an id from the result: "rec-" and its letters, digits, '-' and
 * '_' (anything else as _XX), into out. */
void rd_anchor(char *out, size_t cap, const char *prefix, const char *id);

#endif
