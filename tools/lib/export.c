/*
 * export.c - what every epic-export format shares: the backlog a result becomes
 * (the epic, then one item per recommendation in reading order, each with a
 * stable external id), text from the result made fit for any target, the one
 * CSV field writer (RFC 4180, with the spreadsheet formula guard), the
 * descriptions of the epic and of an item written through a markup (Jira wiki,
 * Markdown, HTML: export-jira.c, export-github.c, export-azure.c), and the plain
 * CSV format.
 *
 * Everything taken from the result is outside input: an edited epic.json may
 * hold any Unicode text. It is cleaned here (control characters replaced, line
 * ends made LF) and then escaped by the markup and by the container (CSV
 * quoting, shell quoting) of each format. Nothing here depends on the clock or
 * on the environment, so the same result always exports to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "export.h"

/* Longest text kept from one field of the result, in characters: an epic's
 * description is its whole request (up to megabytes), and trackers cap a
 * description (Jira Cloud at 32,767 characters). */
#define TEXT_MAX_CHARS 16000

int
ec_export_open(ec_export *x, const json_t *result, ec_err *e)
{
	memset(x, 0, sizeof *x);
	x->result = result;
	x->epic_id = ec_json_get_str(result, "epic.id", "EPIC");
	if (!(x->recs = ec_result_ordered(result)))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	x->n = json_array_size(x->recs);
	if (!(x->ext = calloc(x->n + 1, sizeof *x->ext)))
		goto oom;
	for (size_t i = 0; i <= x->n; i++) {
		const char *id = i ? ec_json_get_str(json_array_get(x->recs, i - 1), "id", "") : NULL;
		size_t len = strlen(x->epic_id) + (id ? strlen(id) + 1 : 0) + 1;
		if (!(x->ext[i] = malloc(len)))
			goto oom;
		snprintf(x->ext[i], len, id ? "%s/%s" : "%s", x->epic_id, id);
	}
	return 0;
oom:
	ec_export_close(x);
	return ec_fail(e, EC_EXIT_TEMP, "out of memory");
}

void
ec_export_close(ec_export *x)
{
	if (x->ext)
		for (size_t i = 0; i <= x->n; i++)
			free(x->ext[i]);
	free(x->ext);
	json_decref(x->recs);
	x->ext = NULL;
	x->recs = NULL;
}

const json_t *
ec_export_rec(const ec_export *x, size_t i)
{
	return i >= 1 && i <= x->n ? json_array_get(x->recs, i - 1) : NULL;
}

size_t
ec_export_find(const ec_export *x, const char *id)
{
	for (size_t i = 1; i <= x->n; i++)
		if (!strcmp(ec_json_get_str(ec_export_rec(x, i), "id", ""), id))
			return i;
	return 0;
}

/*
 * s as text any target can take: CR LF and a lone CR become LF, the characters
 * ec_cp_unsafe names (controls, bidirectional overrides) become U+FFFD, and with
 * one_line LF and TAB become a space (a title is one line). At most max_chars characters (0: the
 * default cap) are kept; a cut text ends in " [...]". malloc'd; NULL without
 * memory.
 */
char *
ec_export_clean(const char *s, int one_line, size_t max_chars)
{
	static const char repl[] = "\xEF\xBF\xBD";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t chars = 0;
	ec_buf b = { 0 };

	if (!max_chars)
		max_chars = TEXT_MAX_CHARS;
	ec_buf_puts(&b, "");
	while (*p) {
		size_t n = ec_utf8_seq(p);
		if (chars++ >= max_chars) {
			ec_buf_puts(&b, " [...]");
			break;
		}
		if (*p == '\r' || *p == '\n' || *p == '\t') {
			if (*p == '\r' && p[1] == '\n')
				p++;
			ec_buf_putc(&b, one_line ? ' ' : *p == '\t' ? '\t' : '\n');
			p++;
		} else if (n == 0) {
			ec_buf_puts(&b, repl);          /* not UTF-8 (Jansson never gives it) */
			p++;
		} else if (ec_cp_unsafe(ec_utf8_cp(p, n))) {
			ec_buf_puts(&b, repl);
			p += n;
		} else {
			ec_buf_put(&b, (const char *)p, n);
			p += n;
		}
	}
	return ec_buf_take(&b);
}

/*
 * One CSV field (RFC 4180), preceded by a comma unless it is the row's first:
 * quoted when it holds a comma, a quote, CR or LF (quotes doubled). A field
 * that starts with = + - @ TAB or CR is a formula to a spreadsheet (CSV
 * injection); it gets a leading apostrophe, which spreadsheets take as "text".
 */
void
ec_export_csv_field(ec_buf *b, int *col, const char *s)
{
	const char *p;

	if ((*col)++)
		ec_buf_putc(b, ',');
	s = s ? s : "";
	if (!strpbrk(s, ",\"\r\n") && !strchr("=+-@\t\r", *s ? *s : 'x')) {
		ec_buf_puts(b, s);
		return;
	}
	ec_buf_putc(b, '"');
	if (*s && strchr("=+-@\t\r", *s))
		ec_buf_putc(b, '\'');
	for (p = s; *p; p++) {
		if (*p == '"')
			ec_buf_putc(b, '"');
		ec_buf_putc(b, *p);
	}
	ec_buf_putc(b, '"');
}

/* The same for text from the result: cleaned first (ec_export_clean). */
void
ec_export_csv_text(ec_buf *b, int *col, const char *s, int one_line)
{
	char *c = ec_export_clean(s, one_line, 0);

	if (!c)
		b->oom = 1;
	ec_export_csv_field(b, col, c ? c : "");
	free(c);
}

/* The end of a CSV record: CRLF, as RFC 4180 asks. */
void
ec_export_csv_end(ec_buf *b, int *col)
{
	ec_buf_puts(b, "\r\n");
	*col = 0;
}

/* --- descriptions, through a markup --------------------------------------- */

/* Text from the result (cleaned, escaped by the markup); a list item's value is
 * one line (max: characters kept, 0 the default cap). */
static void
mtext_line(ec_buf *b, const ec_markup *m, const char *s, size_t max, int one_line)
{
	char *c = ec_export_clean(s, one_line, max);

	if (!c) {
		b->oom = 1;
		return;
	}
	m->text(b, c);
	free(c);
}

static void
mtext(ec_buf *b, const ec_markup *m, const char *s, size_t max)
{
	mtext_line(b, m, s, max, max != 0);
}

/* One "<b>label</b> value" list item; label is ours (no escaping needed). */
static void
item(ec_buf *b, const ec_markup *m, const char *label, const char *value)
{
	ec_buf_puts(b, m->i_open);
	ec_buf_puts(b, m->b_open);
	ec_buf_puts(b, label);
	ec_buf_puts(b, m->b_close);
	ec_buf_putc(b, ' ');
	mtext(b, m, value, 400);
	ec_buf_puts(b, m->i_close);
}

static void
heading(ec_buf *b, const ec_markup *m, const char *h)
{
	ec_buf_puts(b, m->h_open);
	ec_buf_puts(b, h);
	ec_buf_puts(b, m->h_close);
}

/* A {min,max} person-days range as text: "2-5 person-days", "1 person-day". */
static void
range_days(char *out, size_t cap, const json_t *r)
{
	char lo[32], hi[32];
	double min = json_number_value(json_object_get(r, "min"));
	double max = json_number_value(json_object_get(r, "max"));

	ec_fmt_number(lo, sizeof lo, min);
	ec_fmt_number(hi, sizeof hi, max);
	if (min == max)
		snprintf(out, cap, "%s person-day%s", lo, min == 1 ? "" : "s");
	else
		snprintf(out, cap, "%s-%s person-days", lo, hi);
}

/* The strings of a JSON array joined by sep. malloc'd ("" for none). */
static char *
join(const json_t *a, const char *sep)
{
	ec_buf b = { 0 };
	json_t *v;
	size_t i;

	ec_buf_puts(&b, "");
	json_array_foreach(a, i, v) {
		if (i)
			ec_buf_puts(&b, sep);
		ec_buf_puts(&b, json_is_string(v) ? json_string_value(v) : "");
	}
	return ec_buf_take(&b);
}

char *
ec_export_join(const json_t *a, const char *sep)
{
	return join(a, sep);
}

/* The description of the epic: its text, a summary and the roadmap. */
static void
describe_epic(ec_buf *b, const ec_markup *m, const ec_export *x)
{
	const json_t *r = x->result, *phases = ec_json_get(r, "epic.implementationRoadmap"), *ph;
	const char *s;
	char buf[512];
	size_t i;

	ec_buf_puts(b, m->p_open);
	mtext(b, m, ec_json_get_str(r, "epic.description", ""), 0);
	ec_buf_puts(b, m->p_close);
	heading(b, m, "Summary");
	ec_buf_puts(b, m->l_open);
	item(b, m, "External id:", x->ext[0]);
	item(b, m, "Priority:", ec_json_get_str(r, "epic.priority", ""));
	if ((s = ec_json_get_str(r, "epic.estimatedDuration", NULL)))
		item(b, m, "Estimated duration:", s);
	if ((s = ec_json_get_str(r, "epic.criticalPathDuration", NULL)))
		item(b, m, "Critical path:", s);
	if ((s = ec_json_get_str(r, "epic.budget", NULL)))
		item(b, m, "Budget:", s);
	if ((s = ec_json_get_str(r, "summary.estimatedTotalCost", NULL)))
		item(b, m, "Estimated total cost:", s);
	snprintf(buf, sizeof buf, "%lld (%lld blocking, %lld suggested)",
	    (long long)ec_json_get_int(r, "summary.totalRecommendations", (json_int_t)x->n),
	    (long long)ec_json_get_int(r, "summary.blockingCount", 0),
	    (long long)ec_json_get_int(r, "summary.suggestedCount", 0));
	item(b, m, "Recommendations:", buf);
	if ((s = ec_json_get_str(r, "epic.riskAssessment.overall", NULL)))
		item(b, m, "Overall risk:", s);
	if ((s = ec_json_get_str(r, "epic.metadata.taskId", NULL)))
		item(b, m, "Task:", s);
	ec_buf_puts(b, m->l_close);
	if (json_array_size(phases)) {
		heading(b, m, "Roadmap");
		ec_buf_puts(b, m->l_open);
		json_array_foreach(phases, i, ph) {
			char days[96], *ids = join(json_object_get(ph, "items"), ", ");
			range_days(days, sizeof days, json_object_get(ph, "effortDays"));
			ec_buf_puts(b, m->i_open);
			ec_buf_puts(b, m->b_open);
			mtext(b, m, ec_json_get_str(ph, "name", ""), 200);
			ec_buf_puts(b, m->b_close);
			snprintf(buf, sizeof buf, " (%s, %s): ", ec_json_get_str(ph, "duration", "?"), days);
			mtext(b, m, buf, 0);
			mtext(b, m, ids ? ids : "", 0);
			if (!ids)
				b->oom = 1;
			free(ids);
			ec_buf_puts(b, m->i_close);
		}
		ec_buf_puts(b, m->l_close);
	}
}

/* The description of item i (1..n): what to do, its facts, its references. */
static void
describe_rec(ec_buf *b, const ec_markup *m, const ec_export *x, size_t i)
{
	const json_t *rec = ec_export_rec(x, i), *deps = json_object_get(rec, "dependencies");
	const json_t *refs = json_object_get(rec, "references"), *v;
	const char *type = ec_json_get_str(rec, "type", ""), *s;
	char buf[256], *ps;
	size_t k;

	ec_buf_puts(b, m->p_open);
	mtext(b, m, ec_json_get_str(rec, "description", ""), 0);
	ec_buf_puts(b, m->p_close);
	heading(b, m, "Details");
	ec_buf_puts(b, m->l_open);
	item(b, m, "External id:", x->ext[i]);
	snprintf(buf, sizeof buf, "%s%s", type, !strcmp(type, "blocking") ?
	    " (must be resolved before the epic ships)" : " (worth doing; not required to ship)");
	item(b, m, "Type:", buf);
	item(b, m, "Priority:", ec_json_get_str(rec, "priority", ""));
	if ((v = json_object_get(rec, "effortDays"))) {
		range_days(buf, sizeof buf, v);
		item(b, m, "Effort:", buf);
	}
	item(b, m, "Estimated cost:", ec_json_get_str(rec, "estimatedCost", ""));
	if ((ps = join(json_object_get(rec, "personas"), ", "))) {
		item(b, m, json_array_size(json_object_get(rec, "personas")) > 1 ? "Personas:" :
		    "Persona:", ps);
		free(ps);
	} else
		b->oom = 1;
	if ((s = ec_json_get_str(rec, "concern", NULL)))
		item(b, m, "Concern:", s);
	ec_buf_puts(b, m->i_open);
	ec_buf_puts(b, m->b_open);
	ec_buf_puts(b, "Epic:");
	ec_buf_puts(b, m->b_close);
	ec_buf_putc(b, ' ');
	mtext(b, m, x->epic_id, 0);
	mtext(b, m, " ", 0);
	mtext(b, m, ec_json_get_str(x->result, "epic.title", ""), 300);
	ec_buf_puts(b, m->i_close);
	ec_buf_puts(b, m->l_close);
	if (json_array_size(deps)) {
		heading(b, m, "Depends on");
		ec_buf_puts(b, m->l_open);
		json_array_foreach(deps, k, v) {
			size_t d = ec_export_find(x, json_string_value(v));
			ec_buf_puts(b, m->i_open);
			mtext(b, m, d ? x->ext[d] : json_string_value(v), 0);
			if (d) {
				mtext(b, m, ": ", 0);
				mtext(b, m, ec_json_get_str(ec_export_rec(x, d), "title", ""), 300);
			}
			ec_buf_puts(b, m->i_close);
		}
		ec_buf_puts(b, m->l_close);
	}
	if (json_array_size(refs)) {
		heading(b, m, "References");
		ec_buf_puts(b, m->l_open);
		json_array_foreach(refs, k, v) {
			const char *ref = json_string_value(v), *url = ec_reference_url(ref);
			char *c = ec_export_clean(ref, 1, 300);
			ec_buf_puts(b, m->i_open);
			if (!c)
				b->oom = 1;
			else if (url)
				m->link(b, c, url);
			else
				m->text(b, c);
			free(c);
			ec_buf_puts(b, m->i_close);
		}
		ec_buf_puts(b, m->l_close);
	}
}

void
ec_export_describe(ec_buf *b, const ec_markup *m, const ec_export *x, size_t i)
{
	if (i == 0)
		describe_epic(b, m, x);
	else
		describe_rec(b, m, x, i);
}

/* --- the plain CSV ----------------------------------------------------------- */

static const char *const csv_head[] = {
	"ID", "External ID", "Title", "Type", "Priority", "Personas", "Effort Min Days",
	"Effort Max Days", "Estimated Cost", "Dependencies", "References", "Description", NULL
};

/*
 * One row per recommendation, every field flat, for a spreadsheet: lists
 * (personas, dependencies, references) joined by ";", effort as two numbers.
 */
int
ec_export_csv(const ec_export *x, ec_buf *out)
{
	int col = 0;

	for (size_t k = 0; csv_head[k]; k++)
		ec_export_csv_field(out, &col, csv_head[k]);
	ec_export_csv_end(out, &col);
	for (size_t i = 1; i <= x->n; i++) {
		const json_t *rec = ec_export_rec(x, i), *eff = json_object_get(rec, "effortDays");
		char lo[32] = "", hi[32] = "", *personas, *deps, *refs;

		if (eff) {
			ec_fmt_number(lo, sizeof lo, json_number_value(json_object_get(eff, "min")));
			ec_fmt_number(hi, sizeof hi, json_number_value(json_object_get(eff, "max")));
		}
		personas = join(json_object_get(rec, "personas"), ";");
		deps = join(json_object_get(rec, "dependencies"), ";");
		refs = join(json_object_get(rec, "references"), ";");
		ec_export_csv_text(out, &col, ec_json_get_str(rec, "id", ""), 1);
		ec_export_csv_text(out, &col, x->ext[i], 1);
		ec_export_csv_text(out, &col, ec_json_get_str(rec, "title", ""), 1);
		ec_export_csv_text(out, &col, ec_json_get_str(rec, "type", ""), 1);
		ec_export_csv_text(out, &col, ec_json_get_str(rec, "priority", ""), 1);
		ec_export_csv_text(out, &col, personas, 1);
		ec_export_csv_field(out, &col, lo);
		ec_export_csv_field(out, &col, hi);
		ec_export_csv_text(out, &col, ec_json_get_str(rec, "estimatedCost", ""), 1);
		ec_export_csv_text(out, &col, deps, 1);
		ec_export_csv_text(out, &col, refs, 1);
		ec_export_csv_text(out, &col, ec_json_get_str(rec, "description", ""), 0);
		ec_export_csv_end(out, &col);
		if (!personas || !deps || !refs)
			out->oom = 1;
		free(personas);
		free(deps);
		free(refs);
	}
	return out->oom ? -1 : 0;
}
