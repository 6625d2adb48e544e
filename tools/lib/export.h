/*
 * export.h - private to epic-export and its library files (export.c, export-jira.c,
 * export-github.c, export-azure.c): a finished epic as a tracker's import file.
 *
 * Text from the result is outside input: ec_export_clean makes it fit for any
 * target, each markup escapes it (markup.c), each container (CSV, shell) quotes
 * it. Nothing depends on the clock: the same result always exports to the same
 * bytes.
 */
#ifndef EXPORT_H
#define EXPORT_H

#include "ec.h"

typedef struct ec_export {
	const json_t *result;   /* borrowed, schema-checked (ec_result_load) */
	json_t *recs;           /* the recommendations in reading order (owned) */
	size_t n;               /* how many */
	const char *epic_id;    /* "EPIC-162df74c9f8f" (borrowed) */
	char **ext;             /* external ids: [0] the epic's, [i] item i's "EPIC-.../SEC-040" */
	const char *item_type;  /* the items' issue or work-item type; NULL: the format's own */
} ec_export;
/* The backlog of result: 0, or -1 with e (out of memory). ec_export_close frees. */
int ec_export_open(ec_export *x, const json_t *result, ec_err *e);
void ec_export_close(ec_export *x);
/* Item i's recommendation (i from 1 to n), or NULL. Borrowed. */
const json_t *ec_export_rec(const ec_export *x, size_t i);
/* The item (1..n) of the recommendation with this id, 0 when there is none. */
size_t ec_export_find(const ec_export *x, const char *id);
/* s with CR LF made LF, what ec_cp_unsafe names made U+FFFD, LF and TAB made a space
 * when one_line, cut to max_chars characters (0: 16000) ending " [...]".
 * malloc'd; NULL without memory. */
char *ec_export_clean(const char *s, int one_line, size_t max_chars);
/* The strings of array a joined by sep. malloc'd; NULL without memory. */
char *ec_export_join(const json_t *a, const char *sep);
/* The one CSV writer (RFC 4180): a field, preceded by a comma unless *col is 0,
 * quoted when it holds , " CR or LF; one starting with = + - @ TAB or CR (a
 * spreadsheet formula) gets a leading '. _text cleans s first. _end: CRLF. */
void ec_export_csv_field(ec_buf *b, int *col, const char *s);
void ec_export_csv_text(ec_buf *b, int *col, const char *s, int one_line);
void ec_export_csv_end(ec_buf *b, int *col);
/* A markup a description is written in: text() escapes cleaned text (LF kept as
 * the markup's line break), link() writes a link to an ec_reference_url url, the
 * strings open and close a bold label, a small heading, a list, a list item, a
 * paragraph. */
typedef struct ec_markup {
	void (*text)(ec_buf *b, const char *s);
	void (*link)(ec_buf *b, const char *text, const char *url);
	const char *b_open, *b_close, *h_open, *h_close, *l_open, *l_close;
	const char *i_open, *i_close, *p_open, *p_close;
} ec_markup;
/* The description of item i in markup m: i 0 is the epic (its text, summary and
 * roadmap), else the recommendation (its text, facts, dependencies, references). */
void ec_export_describe(ec_buf *b, const ec_markup *m, const ec_export *x, size_t i);
/* The formats, appended to out; 0, or -1 when memory ran out. */
int ec_export_csv(const ec_export *x, ec_buf *out);     /* plain CSV, one row per item */
int ec_export_jira(const ec_export *x, ec_buf *out);    /* Jira Cloud CSV import */
int ec_export_azure(const ec_export *x, ec_buf *out);   /* Azure DevOps work-item CSV */
/* A POSIX sh script of gh commands; json, if not NULL, gets the REST API array. */
int ec_export_github(const ec_export *x, ec_buf *script, ec_buf *json);

#endif
