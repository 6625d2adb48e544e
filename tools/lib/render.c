/*
 * render.c - a finished epic as one document for people (epic render): what the
 * report says and in which order, for both formats.
 *
 * The order is the order a team acts in: the title and the key figures; the
 * blocking items (critical first), then the suggested ones; the roadmap phases; what
 * each persona found; the costs; the risks; the gaps of the review; the cited
 * standards, linked where pipeline/references.json knows where they can be read.
 * The walk only reads the result (schema-checked by ec_result_load) and hands
 * every string to the emitter (render-md.c, render-html.c), which escapes it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "render.h"

/* Shorthands for the emitter's operations. */
#define OPS(r) ((r)->ops)
static void text(rd *r, const char *s) { OPS(r)->text(r, s); }

/* One key figure: label and its value as text. */
static void
fact(rd *r, const char *label, const char *kind, const char *value)
{
	OPS(r)->fact_begin(r, label, kind);
	text(r, value);
	OPS(r)->fact_end(r);
}

/* A persona's name as people read it: "security-specialist" -> "Security
 * specialist", "devops-engineer" -> "DevOps engineer". Into out. */
static void
persona_label(char *out, size_t cap, const char *name)
{
	size_t n = 0;

	if (!strncmp(name, "devops", 6) && (name[6] == '-' || !name[6])) {
		n = (size_t)snprintf(out, cap, "DevOps");
		name += 6;
	}
	for (; *name && n + 1 < cap; name++, n++)
		out[n] = *name == '-' ? ' ' : n == 0 ? (char)ec_upper(*name) : *name;
	out[n] = '\0';
}

/* "2-5 person-days" (an en dash), "3 person-days" when min is max. */
static void
range_text(char *out, size_t cap, const json_t *mm, const char *unit)
{
	char a[40], b[40];

	ec_fmt_number(a, sizeof a, json_number_value(json_object_get(mm, "min")));
	ec_fmt_number(b, sizeof b, json_number_value(json_object_get(mm, "max")));
	if (!strcmp(a, b))
		snprintf(out, cap, "%s %s", a, unit);
	else
		snprintf(out, cap, "%s\xE2\x80\x93%s %s", a, b, unit);
}

/* An amount with thousands separators: 66800 -> "66,800", 1234.5 -> "1,234.5". */
static void
money_amount(char *out, size_t cap, double v)
{
	char num[64], *dot;
	size_t len, intlen, n = 0;

	ec_fmt_number(num, sizeof num, v);
	len = strlen(num);
	dot = strchr(num, '.');
	intlen = dot ? (size_t)(dot - num) : len;
	for (size_t i = 0; i < len && n + 2 < cap; i++) {
		size_t left = intlen - i;
		if (i > 0 && i < intlen && num[i - 1] != '-' && left % 3 == 0)
			out[n++] = ',';
		out[n++] = num[i];
	}
	out[n] = '\0';
}

/* "EUR 66,800-156,000" from a {currency, min, max}. */
static void
money_text(char *out, size_t cap, const json_t *money)
{
	char a[64], b[64];

	money_amount(a, sizeof a, json_number_value(json_object_get(money, "min")));
	money_amount(b, sizeof b, json_number_value(json_object_get(money, "max")));
	snprintf(out, cap, "%s %s%s%s", ec_json_get_str(money, "currency", ""), a,
	    strcmp(a, b) ? "\xE2\x80\x93" : "", strcmp(a, b) ? b : "");
}

/* A recommendation's effort: its effortDays, else its estimatedCost text. */
static void
effort_text(char *out, size_t cap, const json_t *rec)
{
	const json_t *ed = json_object_get(rec, "effortDays");

	if (json_is_object(ed))
		range_text(out, cap, ed, "person-days");
	else
		snprintf(out, cap, "%s", ec_json_get_str(rec, "estimatedCost", "not estimated"));
}

/* A link to recommendation id (its title as the text, or the id), when the result
 * has it; else the text alone. */
static void
rec_ref(rd *r, const char *id, const char *title)
{
	char anchor[300];

	rd_anchor(anchor, sizeof anchor, "rec-", id);
	if (ec_result_rec(r->result, id))
		OPS(r)->xref(r, anchor, title ? title : id);
	else
		text(r, title ? title : id);
}

/* A reference: linked when its standard's text can be read online. */
static void
reference(rd *r, const char *ref)
{
	const char *url = ec_reference_url(ref);

	if (url)
		OPS(r)->link(r, url, ref);
	else
		text(r, ref);
}

/* One recommendation: heading, key figures, description, references. */
static void
recommendation(rd *r, const json_t *rec)
{
	const char *id = ec_json_get_str(rec, "id", "");
	const json_t *v;
	char anchor[300], buf[160];
	ec_buf who = { 0 };
	size_t i;

	rd_anchor(anchor, sizeof anchor, "rec-", id);
	OPS(r)->heading(r, anchor, ec_json_get_str(rec, "title", id));
	OPS(r)->facts_begin(r);
	fact(r, "ID", NULL, id);
	fact(r, "Priority", "level", ec_json_get_str(rec, "priority", "unknown"));
	fact(r, "Type", NULL, ec_json_get_str(rec, "type", "unknown"));
	json_array_foreach(json_object_get(rec, "personas"), i, v) {
		persona_label(buf, sizeof buf, json_string_value(v) ? json_string_value(v) : "");
		ec_buf_printf(&who, "%s%s", i ? ", " : "", buf);
	}
	if (!who.n)
		persona_label(buf, sizeof buf, ec_json_get_str(rec, "persona", "unknown")),
		ec_buf_puts(&who, buf);
	fact(r, json_array_size(json_object_get(rec, "personas")) > 1 ? "Personas" : "Persona",
	    NULL, who.p ? who.p : "");
	free(who.p);
	effort_text(buf, sizeof buf, rec);
	fact(r, "Effort", NULL, buf);
	if (json_array_size(v = json_object_get(rec, "dependencies"))) {
		const json_t *d;
		OPS(r)->fact_begin(r, "Depends on", NULL);
		json_array_foreach(v, i, d) {
			if (i)
				text(r, ", ");
			rec_ref(r, json_string_value(d) ? json_string_value(d) : "", NULL);
		}
		OPS(r)->fact_end(r);
	}
	OPS(r)->facts_end(r);
	OPS(r)->para_begin(r, 1);
	text(r, ec_json_get_str(rec, "description", ""));
	OPS(r)->para_end(r);
	if (json_array_size(v = json_object_get(rec, "references"))) {
		const json_t *ref;
		OPS(r)->para_begin(r, 0);
		OPS(r)->strong(r, "References:");
		json_array_foreach(v, i, ref) {
			text(r, i ? "; " : " ");
			reference(r, json_string_value(ref) ? json_string_value(ref) : "");
		}
		OPS(r)->para_end(r);
	}
}

/* A paragraph of our own words. */
static void
para(rd *r, const char *s)
{
	OPS(r)->para_begin(r, 0);
	text(r, s);
	OPS(r)->para_end(r);
}

/* The blocking or the suggested recommendations, in reading order. */
static void
items(rd *r, const json_t *ordered, const char *type)
{
	const json_t *rec;
	size_t i, n = 0;

	json_array_foreach(ordered, i, rec)
		if (!strcmp(ec_json_get_str(rec, "type", ""), type)) {
			recommendation(r, rec);
			n++;
		}
	if (!n)
		para(r, !strcmp(type, "blocking") ? "No blocking items: nothing stands in the way of a "
		    "release." : "No suggested items.");
}

/* The roadmap: each phase, its duration and effort, its items by title. */
static void
roadmap(rd *r)
{
	const json_t *phases = ec_json_get(r->result, "epic.implementationRoadmap"), *ph;
	size_t i, k;

	if (!json_array_size(phases))
		para(r, "No roadmap: there is nothing to schedule.");
	json_array_foreach(phases, i, ph) {
		const json_t *ids = json_object_get(ph, "items"), *titles = json_object_get(ph, "itemTitles");
		const json_t *idv;
		char anchor[64], buf[160];

		snprintf(anchor, sizeof anchor, "phase-%zu", i + 1);
		OPS(r)->heading(r, anchor, ec_json_get_str(ph, "name", "Phase"));
		OPS(r)->facts_begin(r);
		fact(r, "Duration", NULL, ec_json_get_str(ph, "duration", "unknown"));
		range_text(buf, sizeof buf, json_object_get(ph, "effortDays"), "person-days");
		fact(r, "Effort", NULL, buf);
		snprintf(buf, sizeof buf, "%zu", json_array_size(ids));
		fact(r, "Items", NULL, buf);
		OPS(r)->facts_end(r);
		if (!json_array_size(ids))
			continue;
		OPS(r)->list_begin(r);
		json_array_foreach(ids, k, idv) {
			const char *id = json_string_value(idv) ? json_string_value(idv) : "";
			const json_t *rec = ec_result_rec(r->result, id);
			const char *title = json_string_value(json_array_get(titles, k));

			if (!title)
				title = rec ? ec_json_get_str(rec, "title", id) : id;
			OPS(r)->item_begin(r);
			rec_ref(r, id, title);
			if (rec) {
				effort_text(buf, sizeof buf, rec);
				text(r, " (");
				text(r, id);
				text(r, ", ");
				text(r, buf);
				if (!strcmp(ec_json_get_str(rec, "type", ""), "blocking"))
					text(r, ", blocking");
				text(r, ")");
			} else if (strcmp(title, id)) {
				text(r, " (");
				text(r, id);
				text(r, ")");
			}
			OPS(r)->item_end(r);
		}
		OPS(r)->list_end(r);
	}
}

/* The gap the review recorded for persona name, or NULL. */
static const json_t *
gap_of(const json_t *result, const char *name)
{
	const json_t *g;
	size_t i;

	json_array_foreach(ec_json_get(result, "epic.gaps"), i, g)
		if (!strcmp(ec_json_get_str(g, "persona", ""), name))
			return g;
	return NULL;
}

/* Each persona: status, confidence, effort, insights, recommendations. */
static void
personas(rd *r)
{
	const json_t *p;
	size_t i, k;

	json_array_foreach(ec_json_get(r->result, "epic.personas"), i, p) {
		const char *name = ec_json_get_str(p, "persona.name", "unknown");
		const json_t *v, *gap = gap_of(r->result, name);
		const json_t *ed = ec_json_get(p, "costAnalysis.effortDays");
		char anchor[300], buf[160];

		rd_anchor(anchor, sizeof anchor, "persona-", name);
		persona_label(buf, sizeof buf, name);
		OPS(r)->heading(r, anchor, buf);
		OPS(r)->facts_begin(r);
		fact(r, "Status", NULL, ec_json_get_str(p, "persona.status", "unknown"));
		if (gap)
			fact(r, "Reason", NULL, ec_json_get_str(gap, "reason", ""));
		snprintf(buf, sizeof buf, "%.0f%%", 100 * json_number_value(json_object_get(p, "confidence")));
		fact(r, "Confidence", NULL, buf);
		if (json_is_object(ed))
			range_text(buf, sizeof buf, ed, "person-days");
		else
			snprintf(buf, sizeof buf, "%s", ec_json_get_str(p, "costAnalysis.amount", "not estimated"));
		fact(r, "Effort", NULL, buf);
		OPS(r)->facts_end(r);
		if (json_array_size(v = json_object_get(p, "insights"))) {
			const json_t *s;
			OPS(r)->para_begin(r, 0);
			OPS(r)->strong(r, "Insights");
			OPS(r)->para_end(r);
			OPS(r)->list_begin(r);
			json_array_foreach(v, k, s) {
				OPS(r)->item_begin(r);
				text(r, json_string_value(s) ? json_string_value(s) : "");
				OPS(r)->item_end(r);
			}
			OPS(r)->list_end(r);
		}
		if (json_array_size(v = json_object_get(p, "recommendations"))) {
			const json_t *rec;
			OPS(r)->para_begin(r, 0);
			OPS(r)->strong(r, "Recommendations");
			OPS(r)->para_end(r);
			OPS(r)->list_begin(r);
			json_array_foreach(v, k, rec) {
				const char *id = ec_json_get_str(rec, "id", "");
				OPS(r)->item_begin(r);
				/* Type and priority as the review settled them (merging may
				 * have raised them), when the merged one kept this id. */
				const json_t *m = ec_result_rec(r->result, id);
				rec_ref(r, id, ec_json_get_str(rec, "title", id));
				text(r, " (");
				text(r, id);
				if (m) {
					text(r, ", ");
					text(r, ec_json_get_str(m, "type", ""));
					text(r, ", ");
					text(r, ec_json_get_str(m, "priority", ""));
				}
				text(r, ")");
				OPS(r)->item_end(r);
			}
			OPS(r)->list_end(r);
		}
	}
}

/* One row of an effort table: the key (a persona's label with labels) and its
 * {min, max}. */
static void
effort_row(rd *r, const char *key, const json_t *mm, int labels)
{
	char a[160], b[40];

	if (labels)
		persona_label(a, sizeof a, key);
	else
		snprintf(a, sizeof a, "%s", key);
	OPS(r)->row_begin(r);
	OPS(r)->cell_begin(r), text(r, a), OPS(r)->cell_end(r);
	ec_fmt_number(b, sizeof b, json_number_value(json_object_get(mm, "min")));
	OPS(r)->cell_begin(r), text(r, b), OPS(r)->cell_end(r);
	ec_fmt_number(b, sizeof b, json_number_value(json_object_get(mm, "max")));
	OPS(r)->cell_begin(r), text(r, b), OPS(r)->cell_end(r);
	OPS(r)->row_end(r);
}

/* One table of {min, max} person-days by key: the keys of order first (NULL:
 * none), in that order, then the others as the object has them. */
static void
effort_table(rd *r, const char *caption, const char *head, const json_t *by,
    const char *const *order, int labels)
{
	const char *heads[] = { head, "Minimum (person-days)", "Maximum (person-days)" };
	const char *key;
	const json_t *mm;

	OPS(r)->table_begin(r, caption, heads, 3);
	for (size_t i = 0; order && order[i]; i++)
		if ((mm = json_object_get(by, order[i])))
			effort_row(r, order[i], mm, labels);
	json_object_foreach((json_t *)by, key, mm)
		if (!order || !ec_in_list(order, key))
			effort_row(r, key, mm, labels);
	OPS(r)->table_end(r);
}

/* The costs: totals, then person-days by persona, priority and type. */
static void
costs(rd *r)
{
	static const char *const prio[] = { "critical", "high", "medium", "low", NULL };
	static const char *const type[] = { "blocking", "suggested", NULL };
	const json_t *c = ec_json_get(r->result, "epic.totalCostBreakdown");
	char buf[200];

	OPS(r)->facts_begin(r);
	range_text(buf, sizeof buf, json_object_get(c, "effortDays"), "person-days");
	fact(r, "Total effort", NULL, buf);
	money_text(buf, sizeof buf, json_object_get(c, "money"));
	fact(r, "Money", NULL, buf);
	fact(r, "Budget", NULL, ec_json_get_str(r->result, "epic.budget", ""));
	if (json_is_object(json_object_get(c, "apiSpend"))) {
		/* What the agent personas' LLM calls cost, in the prices' currency. */
		const json_t *a = json_object_get(c, "apiSpend");
		snprintf(buf, sizeof buf, "%.4f in %lld calls (%lld tokens in, %lld out)",
		    json_number_value(json_object_get(a, "amount")),
		    (long long)json_integer_value(json_object_get(a, "calls")),
		    (long long)json_integer_value(json_object_get(a, "inputTokens")),
		    (long long)json_integer_value(json_object_get(a, "outputTokens")));
		fact(r, "API spend", NULL, buf);
	}
	OPS(r)->facts_end(r);
	effort_table(r, "Effort by persona", "Persona", json_object_get(c, "byPersona"), NULL, 1);
	/* jansson keeps keys in insertion order: with sorted keys from the JSON the
	 * persona table is alphabetical; priorities and types go by their own order. */
	effort_table(r, "Effort by priority", "Priority", json_object_get(c, "byPriority"), prio, 0);
	effort_table(r, "Effort by type", "Type", json_object_get(c, "byType"), type, 0);
}

/* Risks sorted by level, critical first; stable otherwise. */
static int
risk_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int d = ec_priority_rank(ec_json_get_str(y, "level", NULL)) -
	    ec_priority_rank(ec_json_get_str(x, "level", NULL));

	return d ? d : (x < y ? -1 : x > y);
}

static void
risks(rd *r)
{
	static const char *const heads[] = { "Area", "Level", "Description", "Mitigation", "Raised by" };
	const json_t *list = ec_json_get(r->result, "epic.riskAssessment.risks");
	size_t n = json_array_size(list);
	const json_t **v = n ? malloc(n * sizeof *v) : NULL;

	OPS(r)->facts_begin(r);
	fact(r, "Overall risk", "level", ec_json_get_str(r->result, "epic.riskAssessment.overall", "unknown"));
	OPS(r)->facts_end(r);
	if (!n || !v) {
		if (n)
			r->b.oom = 1;
		else
			para(r, "No risks were recorded.");
		free(v);
		return;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(list, i);
	/* Pointer order is array order for the tie-break: the array is contiguous. */
	qsort(v, n, sizeof *v, risk_cmp);
	OPS(r)->table_begin(r, "Risks, the most severe first", heads, 5);
	for (size_t i = 0; i < n; i++) {
		char label[160];
		OPS(r)->row_begin(r);
		OPS(r)->cell_begin(r), text(r, ec_json_get_str(v[i], "area", "")), OPS(r)->cell_end(r);
		OPS(r)->cell_begin(r), text(r, ec_json_get_str(v[i], "level", "")), OPS(r)->cell_end(r);
		OPS(r)->cell_begin(r), text(r, ec_json_get_str(v[i], "description", "")), OPS(r)->cell_end(r);
		OPS(r)->cell_begin(r), text(r, ec_json_get_str(v[i], "mitigation", "")), OPS(r)->cell_end(r);
		persona_label(label, sizeof label, ec_json_get_str(v[i], "source", ""));
		OPS(r)->cell_begin(r), text(r, label), OPS(r)->cell_end(r);
		OPS(r)->row_end(r);
	}
	OPS(r)->table_end(r);
	free(v);
}

static void
gaps(rd *r)
{
	const json_t *list = ec_json_get(r->result, "epic.gaps"), *g;
	size_t i;

	if (!json_array_size(list)) {
		para(r, "None: every planned persona completed its review.");
		return;
	}
	OPS(r)->list_begin(r);
	json_array_foreach(list, i, g) {
		char label[160];
		persona_label(label, sizeof label, ec_json_get_str(g, "persona", ""));
		OPS(r)->item_begin(r);
		OPS(r)->strong(r, label);
		text(r, ": ");
		text(r, ec_json_get_str(g, "status", ""));
		text(r, " \xE2\x80\x94 ");
		text(r, ec_json_get_str(g, "reason", ""));
		OPS(r)->item_end(r);
	}
	OPS(r)->list_end(r);
}

/* qsort of C strings. */
static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every standard cited, once, sorted, with the recommendations citing it. */
static void
references(rd *r)
{
	json_t *cited = json_object(), *ids;
	const json_t *rec, *ref;
	const char *key;
	size_t i, k, n = 0;
	const char **keys;

	if (!cited) {
		r->b.oom = 1;
		return;
	}
	json_array_foreach(ec_json_get(r->result, "epic.recommendations"), i, rec)
		json_array_foreach(json_object_get(rec, "references"), k, ref) {
			const char *s = json_string_value(ref);
			if (!s)
				continue;
			if (!(ids = json_object_get(cited, s)))
				json_object_set_new(cited, s, ids = json_array());
			json_array_append(ids, json_object_get(rec, "id"));
		}
	if (!json_object_size(cited)) {
		para(r, "No standards were cited.");
		json_decref(cited);
		return;
	}
	if (!(keys = malloc(json_object_size(cited) * sizeof *keys))) {
		r->b.oom = 1;
		json_decref(cited);
		return;
	}
	json_object_foreach(cited, key, ids)
		keys[n++] = key;
	qsort(keys, n, sizeof *keys, str_cmp);
	OPS(r)->list_begin(r);
	for (i = 0; i < n; i++) {
		const json_t *id;
		OPS(r)->item_begin(r);
		reference(r, keys[i]);
		text(r, " \xE2\x80\x94 cited by ");
		json_array_foreach(json_object_get(cited, keys[i]), k, id) {
			if (k)
				text(r, ", ");
			rec_ref(r, json_string_value(id) ? json_string_value(id) : "", NULL);
		}
		OPS(r)->item_end(r);
	}
	OPS(r)->list_end(r);
	free(keys);
	json_decref(cited);
}

/* The sections, in order: anchors and titles (the table of contents). */
static const char *const sec_anchor[] = {
	"blocking", "suggested", "roadmap", "personas", "costs", "risks", "gaps", "references",
};
static const char *const sec_title[] = {
	"Blocking items", "Suggested items", "Roadmap", "Personas", "Costs", "Risks",
	"Gaps in the review", "References",
};
#define NSEC (sizeof sec_anchor / sizeof *sec_anchor)

/* An RFC 3339 time as people read it, "2026-12-04 03:13 UTC"; s itself when it
 * is not one. */
static const char *
when(char *out, size_t cap, const char *s)
{
	long long ms;
	time_t t;
	struct tm tm;

	if (ec_time_parse_ms(s, &ms) < 0)
		return s;
	t = (time_t)(ms / 1000);
	if (!gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm))
		return s;
	return out;
}

/* The key figures under the title: the summary line, then the epic's particulars. */
static void
summary(rd *r)
{
	const json_t *res = r->result, *skipped = ec_json_get(res, "summary.personasSkipped");
	const char *cp = ec_json_get_str(res, "epic.criticalPathDuration", NULL);
	char buf[256];

	OPS(r)->facts_begin(r);
	snprintf(buf, sizeof buf, "%lld (%lld blocking, %lld suggested)",
	    (long long)ec_json_get_int(res, "summary.totalRecommendations", 0),
	    (long long)ec_json_get_int(res, "summary.blockingCount", 0),
	    (long long)ec_json_get_int(res, "summary.suggestedCount", 0));
	fact(r, "Recommendations", NULL, buf);
	fact(r, "Total cost", NULL, ec_json_get_str(res, "summary.estimatedTotalCost", ""));
	fact(r, "Critical path", NULL, cp ? cp : ec_json_get_str(res, "epic.estimatedDuration", ""));
	fact(r, "Overall risk", "level", ec_json_get_str(res, "epic.riskAssessment.overall", "unknown"));
	OPS(r)->facts_end(r);

	OPS(r)->facts_begin(r);
	fact(r, "Priority", "level", ec_json_get_str(res, "epic.priority", "unknown"));
	fact(r, "Status", NULL, ec_json_get_str(res, "epic.status", "unknown"));
	fact(r, "Review mode", NULL, ec_json_get_str(res, "epic.metadata.reviewMode", "unknown"));
	snprintf(buf, sizeof buf, "%lld completed, %zu skipped",
	    (long long)ec_json_get_int(res, "summary.personasCompleted", 0), json_array_size(skipped));
	fact(r, "Personas", NULL, buf);
	fact(r, "Epic", NULL, ec_json_get_str(res, "epic.id", ""));
	if (ec_json_get_str(res, "epic.metadata.taskId", NULL))
		fact(r, "Task", NULL, ec_json_get_str(res, "epic.metadata.taskId", ""));
	fact(r, "Reviewed", NULL, when(buf, sizeof buf, ec_json_get_str(res, "epic.metadata.completedAt", "")));
	OPS(r)->facts_end(r);
}

int
rd_render(rd *r)
{
	json_t *ordered = ec_result_ordered(r->result);
	ec_buf foot = { 0 };
	char *s;

	if (!ordered)
		return -1;
	OPS(r)->begin(r, ec_json_get_str(r->result, "epic.title", "Epic review"));
	summary(r);
	OPS(r)->toc(r, sec_anchor, sec_title, NSEC);
	for (size_t i = 0; i < NSEC; i++) {
		OPS(r)->section(r, sec_anchor[i], sec_title[i]);
		switch (i) {
		case 0: items(r, ordered, "blocking"); break;
		case 1: items(r, ordered, "suggested"); break;
		case 2: roadmap(r); break;
		case 3: personas(r); break;
		case 4: costs(r); break;
		case 5: risks(r); break;
		case 6: gaps(r); break;
		case 7: references(r); break;
		}
	}
	json_decref(ordered);
	ec_buf_printf(&foot, "Generated by epic-render %s from epic %s", EC_VERSION,
	    ec_json_get_str(r->result, "epic.id", ""));
	ec_buf_printf(&foot, ", reviewed %s to %s.", ec_json_get_str(r->result, "epic.metadata.createdAt", ""),
	    ec_json_get_str(r->result, "epic.metadata.completedAt", ""));
	if (!(s = ec_buf_take(&foot)))
		return -1;
	OPS(r)->footer(r, s);
	free(s);
	OPS(r)->end(r);
	return r->b.oom ? -1 : 0;
}
