/*
 * epic-show - a finished epic for a person at a terminal, in about sixty lines.
 *
 * The last step of the pipeline a person sees: it reads one EpicResponse (a file,
 * a task id, or the newest finished task: ec_result_load) and prints what to act
 * on first (title, the summary, the blocking items by priority, the roadmap
 * phases, costs, risks, gaps) and where the rest is (epic render, epic export).
 * Read-only: it never writes into the spool.
 *
 * Everything printed from the result is outside input and goes through
 * ec_term_clean, so no control character or escape sequence of a title reaches
 * the terminal; colour, width, folding and the pager are term.c's.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ec.h"

#define MAX_BLOCKING 12         /* blocking rows before "and N more" */
#define MAX_PHASES 8            /* roadmap phases before "and N more phases" */
#define LABEL 13                /* width of the labels in Costs */

static const char usage_text[] =
    "usage: epic-show [--spool DIR] [--no-pager] [--color[=WHEN]] [ID | FILE | -]\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nShow a finished epic for a person: the summary, the blocking items by\n"
		    "priority, the roadmap, costs, risks and gaps, in about 60 lines. ID is a\n"
		    "task id, FILE an epic.json; with neither, the newest finished task.\n\n"
		    "  -s, --spool DIR      the spool (default $EPIC_SPOOL, then ./spool)\n"
		    "      --no-pager       never start a pager\n"
		    "      --color[=WHEN]   colour: auto (default: on a terminal, not with\n"
		    "                       NO_COLOR or TERM=dumb), always, never\n"
		    "  -h, --help           this help\n"
		    "  -V, --version        print the version\n\n"
		    "Pager: $EPIC_PAGER, else $PAGER, else less (LESS=FRX), when standard output\n"
		    "is a terminal and the text is longer than the screen.\n\n"
		    "Exit: 0 shown, 1 no such result (or not an EpicResponse), 2 usage,\n"
		    "111 temporary failure (I/O).\n", stdout);
	ec_exit(code);
}

/* The text being built, and how it will be shown. */
typedef struct out {
	ec_buf b;
	int color;
	size_t width;
	size_t col;             /* the column of the line being built (parts) */
} out;

/* A string of the result as a clean line (never NULL: "" when memory ran out,
 * which ec_buf notices later anyway). Caller frees. */
static char *
clean(const json_t *j, const char *path)
{
	char *s = ec_term_clean(ec_json_get_str(j, path, ""));

	return s ? s : calloc(1, 1);
}

/* "2-5" or "3" of a {min, max} range into buf; "?" when there is none. */
static void
range_text(char *buf, size_t cap, const json_t *r)
{
	char a[32], b[32];
	json_t *min = json_object_get(r, "min"), *max = json_object_get(r, "max");

	if (!json_is_number(min) || !json_is_number(max)) {
		snprintf(buf, cap, "?");
		return;
	}
	ec_fmt_number(a, sizeof a, json_number_value(min));
	ec_fmt_number(b, sizeof b, json_number_value(max));
	if (!strcmp(a, b))
		snprintf(buf, cap, "%s", a);
	else
		snprintf(buf, cap, "%s-%s", a, b);
}

/* A whole line: s (clean) cut to the width, in colour code (may be NULL). */
static void
line(out *o, size_t indent, const char *code, const char *s)
{
	for (size_t i = 0; i < indent; i++)
		ec_buf_putc(&o->b, ' ');
	if (code)
		ec_term_sgr(&o->b, o->color, code);
	ec_term_put_cut(&o->b, s, o->width > indent ? o->width - indent : 1);
	if (code)
		ec_term_sgr(&o->b, o->color, "");
	ec_buf_putc(&o->b, '\n');
}

/*
 * A line made of parts that are never split: a part that does not fit after sep
 * starts a new line indented by indent columns. Parts longer than a line are cut.
 * end() closes the line.
 */
static void
part(out *o, const char *sep, const char *s, const char *code, size_t indent)
{
	size_t sw = ec_term_cols(sep, strlen(sep)), w = ec_term_cols(s, strlen(s));

	if (o->col > indent && o->col + sw + w > o->width) {
		ec_buf_putc(&o->b, '\n');
		for (size_t i = 0; i < indent; i++)
			ec_buf_putc(&o->b, ' ');
		o->col = indent;
	} else if (o->col > indent) {
		ec_buf_puts(&o->b, sep);
		o->col += sw;
	}
	if (code)
		ec_term_sgr(&o->b, o->color, code);
	o->col += ec_term_put_cut(&o->b, s, o->width > o->col ? o->width - o->col : 1);
	if (code)
		ec_term_sgr(&o->b, o->color, "");
}

/* Start a line of parts with a label (padded to lw columns when lw > 0). */
static void
start(out *o, const char *label, size_t lw, const char *code)
{
	size_t w = ec_term_cols(label, strlen(label));

	if (code)
		ec_term_sgr(&o->b, o->color, code);
	ec_buf_puts(&o->b, label);
	if (code)
		ec_term_sgr(&o->b, o->color, "");
	o->col = w;
	for (; o->col < lw; o->col++)
		ec_buf_putc(&o->b, ' ');
}

static void
end(out *o)
{
	ec_buf_putc(&o->b, '\n');
	o->col = 0;
}

static void
heading(out *o, const char *s)
{
	ec_buf_putc(&o->b, '\n');
	line(o, 0, "1", s);
}

/* The title line, the task line and the summary: counts, cost, critical path, risk. */
static void
show_head(out *o, const json_t *r)
{
	char *title = clean(r, "epic.title"), *id = clean(r, "epic.metadata.taskId");
	char *prio = clean(r, "epic.priority"), *mode = clean(r, "epic.metadata.reviewMode");
	char *status = clean(r, "epic.status"), *cost = clean(r, "summary.estimatedTotalCost");
	const char *cp = ec_json_get_str(r, "epic.criticalPathDuration", NULL);
	char *path = ec_term_clean(cp ? cp : ec_json_get_str(r, "epic.estimatedDuration", "?"));
	const char *overall = ec_json_get_str(r, "epic.riskAssessment.overall", "low");
	char buf[512];

	line(o, 0, "1", *title ? title : "(untitled epic)");
	start(o, "", 0, NULL);
	part(o, "", *id ? id : "(no task id)", "2", 0);
	snprintf(buf, sizeof buf, "%s priority", prio);
	part(o, " \xc2\xb7 ", buf, "2", 0);
	if (*mode) {
		snprintf(buf, sizeof buf, "%s review", mode);
		part(o, " \xc2\xb7 ", buf, "2", 0);
	}
	part(o, " \xc2\xb7 ", status, "2", 0);
	end(o);
	ec_buf_putc(&o->b, '\n');

	start(o, "", 0, NULL);
	snprintf(buf, sizeof buf, "%lld recommendations (%lld blocking, %lld suggested)",
	    (long long)ec_json_get_int(r, "summary.totalRecommendations", 0),
	    (long long)ec_json_get_int(r, "summary.blockingCount", 0),
	    (long long)ec_json_get_int(r, "summary.suggestedCount", 0));
	part(o, "", buf, NULL, 2);
	part(o, " \xc2\xb7 ", cost, NULL, 2);
	snprintf(buf, sizeof buf, "critical path %s", path ? path : "?");
	part(o, " \xc2\xb7 ", buf, NULL, 2);
	snprintf(buf, sizeof buf, "%s risk", ec_priority_name(ec_priority_rank(overall)));
	part(o, " \xc2\xb7 ", buf, ec_term_level_sgr(overall), 2);
	end(o);
	free(title), free(id), free(prio), free(mode), free(status), free(cost), free(path);
}

/* The blocking recommendations, critical first (ec_result_ordered), one a line:
 * id, priority, title cut to fit, effort in person-days. */
static void
show_blocking(out *o, const json_t *r)
{
	json_t *all = ec_result_ordered(r), *rec;
	size_t i, n = 0, idw = 2, effw = 0, tw = 0, shown = 0;
	char buf[96];

	json_array_foreach(all, i, rec) {
		if (strcmp(ec_json_get_str(rec, "type", ""), "blocking"))
			continue;
		n++;
		if (n > MAX_BLOCKING)
			continue;
		idw = ec_term_cols(ec_json_get_str(rec, "id", ""), 64) > idw ?
		    ec_term_cols(ec_json_get_str(rec, "id", ""), 64) : idw;
		range_text(buf, sizeof buf, json_object_get(rec, "effortDays"));
		if (strlen(buf) > effw)
			effw = strlen(buf);
		if (ec_term_cols(ec_json_get_str(rec, "title", ""), 4096) > tw)
			tw = ec_term_cols(ec_json_get_str(rec, "title", ""), 4096);
	}
	if (idw > 16)
		idw = 16;
	/* The title column: as wide as the widest title, as far as the screen lets it. */
	if (2 + idw + 2 + 8 + 2 + tw + 2 + effw > o->width)
		tw = o->width > 2 + idw + 2 + 8 + 2 + 2 + effw ? o->width - (2 + idw + 2 + 8 + 2 + 2 + effw) : 1;
	snprintf(buf, sizeof buf, n ? "Blocking, by priority (%zu; effort in person-days)" :
	    "Blocking: none", n);
	heading(o, buf);
	json_array_foreach(all, i, rec) {
		char *id, *title, eff[64];
		const char *prio = ec_json_get_str(rec, "priority", "low");
		size_t used, t;

		if (strcmp(ec_json_get_str(rec, "type", ""), "blocking") || shown == MAX_BLOCKING)
			continue;
		shown++;
		id = clean(rec, "id");
		title = clean(rec, "title");
		range_text(eff, sizeof eff, json_object_get(rec, "effortDays"));
		ec_buf_puts(&o->b, "  ");
		used = 2 + ec_term_put_cut(&o->b, id, idw);
		for (; used < 2 + idw + 2; used++)
			ec_buf_putc(&o->b, ' ');
		ec_term_sgr(&o->b, o->color, ec_term_level_sgr(prio));
		used += ec_term_put_cut(&o->b, prio, 8);
		ec_term_sgr(&o->b, o->color, "");
		for (; used < 2 + idw + 2 + 8 + 2; used++)
			ec_buf_putc(&o->b, ' ');
		for (t = ec_term_put_cut(&o->b, title, tw); t < tw; t++)
			ec_buf_putc(&o->b, ' ');
		ec_buf_printf(&o->b, "  %*s\n", (int)effw, eff);
		free(id);
		free(title);
	}
	if (n > shown) {
		snprintf(buf, sizeof buf, "and %zu more", n - shown);
		line(o, 2, NULL, buf);
	}
	json_decref(all);
}

/* The title of item k of a phase: itemTitles[k] when the result has them, else
 * the recommendation's, else "". Borrowed. */
static const char *
item_title(const json_t *r, const json_t *phase, size_t k)
{
	json_t *t = json_array_get(json_object_get(phase, "itemTitles"), k);
	json_t *rec;

	if (json_is_string(t))
		return json_string_value(t);
	rec = ec_result_rec(r, json_string_value(json_array_get(json_object_get(phase, "items"), k)) ?
	    json_string_value(json_array_get(json_object_get(phase, "items"), k)) : "");
	return ec_json_get_str(rec, "title", "");
}

/* A phase's line: its number, its name without a "Phase N: " prefix (cut so the
 * details fit), the details. */
static void
phase_line(out *o, json_int_t num, const char *name, const char *details)
{
	char pre[48];
	size_t dw = ec_term_cols(details, strlen(details)), used;
	int n;

	snprintf(pre, sizeof pre, "Phase %lld:%n", (long long)num, &n);
	if (!strncmp(name, pre, (size_t)n))
		for (name += n; *name == ' '; name++)
			;
	snprintf(pre, sizeof pre, "  %lld  ", (long long)num);
	ec_buf_puts(&o->b, pre);
	used = strlen(pre);
	ec_term_sgr(&o->b, o->color, "1");
	used += ec_term_put_cut(&o->b, name, o->width > used + dw ? o->width - used - dw :
	    o->width > used ? 1 : 0);
	ec_term_sgr(&o->b, o->color, "");
	ec_term_put_cut(&o->b, details, o->width > used ? o->width - used : 0);
	ec_buf_putc(&o->b, '\n');
}

/* The roadmap: each phase with its duration and effort, and the titles of its first
 * few items (fewer when there are many phases, so the whole fits a screen). */
static void
show_roadmap(out *o, const json_t *r)
{
	json_t *phases = ec_json_get(r, "epic.implementationRoadmap"), *ph;
	size_t n = json_array_size(phases), per = n <= 4 ? 3 : n <= 6 ? 2 : 1, i;
	char buf[160];

	snprintf(buf, sizeof buf, n == 1 ? "Roadmap: %zu phase" : "Roadmap: %zu phases", n);
	heading(o, buf);
	json_array_foreach(phases, i, ph) {
		json_t *items = json_object_get(ph, "items");
		size_t ni = json_array_size(items), k;
		char *name, *dur, eff[64];

		if (i == MAX_PHASES) {
			snprintf(buf, sizeof buf, "and %zu more phases", n - i);
			line(o, 2, NULL, buf);
			break;
		}
		name = clean(ph, "name");
		dur = clean(ph, "duration");
		range_text(eff, sizeof eff, json_object_get(ph, "effortDays"));
		snprintf(buf, sizeof buf, " (%s, %s person-days, %zu item%s)", dur, eff, ni,
		    ni == 1 ? "" : "s");
		phase_line(o, ec_json_get_int(ph, "phase", (json_int_t)i + 1), name, buf);
		for (k = 0; k < ni && k < per; k++) {
			char *id = ec_term_clean(json_string_value(json_array_get(items, k)));
			char *t = ec_term_clean(item_title(r, ph, k));
			size_t used = 4;
			ec_buf_puts(&o->b, "    ");
			ec_term_sgr(&o->b, o->color, "2");
			used += ec_term_put_cut(&o->b, id ? id : "", o->width > 8 ? o->width - 8 : 1);
			ec_term_sgr(&o->b, o->color, "");
			ec_buf_putc(&o->b, ' ');
			ec_term_put_cut(&o->b, t ? t : "", o->width > used + 1 ? o->width - used - 1 : 1);
			ec_buf_putc(&o->b, '\n');
			free(id);
			free(t);
		}
		if (ni > per) {
			snprintf(buf, sizeof buf, "and %zu more", ni - per);
			line(o, 4, NULL, buf);
		}
		free(name);
		free(dur);
	}
}

/* One Costs line: label, then "name min-max" parts for each member of obj, in
 * the order given by keys (NULL: the object's own order). */
static void
cost_line(out *o, const char *label, const json_t *obj, const char *const *keys)
{
	const char *k;
	json_t *v;
	int any = 0;

	start(o, label, LABEL + 2, NULL);
	if (keys) {
		for (; *keys; keys++)
			if ((v = json_object_get(obj, *keys))) {
				char buf[160], rt[64];
				range_text(rt, sizeof rt, v);
				snprintf(buf, sizeof buf, "%s %s", *keys, rt);
				part(o, " \xc2\xb7 ", buf, NULL, LABEL + 2);
				any = 1;
			}
	} else {
		json_object_foreach((json_t *)obj, k, v) {
			char buf[200], rt[64], *name = ec_term_clean(k);
			range_text(rt, sizeof rt, v);
			snprintf(buf, sizeof buf, "%s %s", name ? name : "", rt);
			part(o, " \xc2\xb7 ", buf, NULL, LABEL + 2);
			free(name);
			any = 1;
		}
	}
	if (!any)
		part(o, "", "none", NULL, LABEL + 2);
	end(o);
}

/* Costs in person-days and money: the total, by persona, type and priority. */
static void
show_costs(out *o, const json_t *r)
{
	static const char *const prios[] = { "critical", "high", "medium", "low", NULL };
	static const char *const types[] = { "blocking", "suggested", NULL };
	const json_t *c = ec_json_get(r, "epic.totalCostBreakdown");
	char rt[64], money[160], buf[256];
	const char *cur = ec_json_get_str(c, "money.currency", "");

	heading(o, "Costs (person-days)");
	range_text(rt, sizeof rt, json_object_get(c, "effortDays"));
	ec_budget_text(money, sizeof money, cur,
	    json_number_value(ec_json_get(c, "money.min")),
	    json_number_value(ec_json_get(c, "money.max")));
	start(o, "  total", LABEL + 2, NULL);
	snprintf(buf, sizeof buf, "%s person-days", rt);
	part(o, "", buf, NULL, LABEL + 2);
	part(o, " \xc2\xb7 ", money, NULL, LABEL + 2);
	end(o);
	cost_line(o, "  by persona", json_object_get(c, "byPersona"), NULL);
	cost_line(o, "  by type", json_object_get(c, "byType"), types);
	cost_line(o, "  by priority", json_object_get(c, "byPriority"), prios);
	if (json_is_object(json_object_get(c, "apiSpend"))) {
		const json_t *a = json_object_get(c, "apiSpend");
		start(o, "  API spend", LABEL + 2, NULL);
		snprintf(buf, sizeof buf, "%.4f in %lld calls, %lld + %lld tokens",
		    json_number_value(json_object_get(a, "amount")),
		    (long long)json_integer_value(json_object_get(a, "calls")),
		    (long long)json_integer_value(json_object_get(a, "inputTokens")),
		    (long long)json_integer_value(json_object_get(a, "outputTokens")));
		part(o, "", buf, NULL, LABEL + 2);
		end(o);
	}
}

/* One line per risk area: level, area, description cut to the width. */
static void
show_risks(out *o, const json_t *r)
{
	json_t *risks = ec_json_get(r, "epic.riskAssessment.risks"), *k;
	const char *overall = ec_json_get_str(r, "epic.riskAssessment.overall", "low");
	size_t i, aw = 4;

	ec_buf_putc(&o->b, '\n');
	ec_term_sgr(&o->b, o->color, "1");
	ec_buf_puts(&o->b, "Risks: overall ");
	ec_term_sgr(&o->b, o->color, "");
	ec_term_sgr(&o->b, o->color, ec_term_level_sgr(overall));
	ec_buf_puts(&o->b, ec_priority_name(ec_priority_rank(overall)));
	ec_term_sgr(&o->b, o->color, "");
	ec_buf_putc(&o->b, '\n');
	json_array_foreach(risks, i, k) {
		size_t w = ec_term_cols(ec_json_get_str(k, "area", ""), 1024);
		if (w > aw)
			aw = w;
	}
	if (aw > 16)
		aw = 16;
	json_array_foreach(risks, i, k) {
		const char *lv = ec_json_get_str(k, "level", "low");
		char *area = clean(k, "area"), *d = clean(k, "description");
		size_t used = 2;

		ec_buf_puts(&o->b, "  ");
		ec_term_sgr(&o->b, o->color, ec_term_level_sgr(lv));
		used += ec_term_put_cut(&o->b, ec_priority_name(ec_priority_rank(lv)), 8);
		ec_term_sgr(&o->b, o->color, "");
		for (; used < 12; used++)
			ec_buf_putc(&o->b, ' ');
		used += ec_term_put_cut(&o->b, area, aw);
		for (; used < 12 + aw + 2; used++)
			ec_buf_putc(&o->b, ' ');
		ec_term_put_cut(&o->b, d, o->width > used ? o->width - used : 1);
		ec_buf_putc(&o->b, '\n');
		free(area);
		free(d);
	}
	if (!json_array_size(risks))
		line(o, 2, NULL, "no risk found");
}

/* Personas that did not contribute, and why. */
static void
show_gaps(out *o, const json_t *r)
{
	json_t *gaps = ec_json_get(r, "epic.gaps"), *g;
	size_t i;

	if (!json_array_size(gaps)) {
		heading(o, "Gaps: none (every persona contributed)");
		return;
	}
	heading(o, "Gaps");
	json_array_foreach(gaps, i, g) {
		char *p = clean(g, "persona"), *s = clean(g, "status"), *why = clean(g, "reason");
		start(o, "  ", 0, NULL);
		part(o, "", p, NULL, 4);
		part(o, " ", s, "33", 4);
		part(o, ": ", why, NULL, 4);
		end(o);
		free(p), free(s), free(why);
	}
}

/* The last line: where the rest is. what names the result as the user can give it
 * again (a task id, or the file, quoted for a shell when it needs it). */
static void
show_more(out *o, const json_t *r, const char *arg, int is_file)
{
	const char *id = ec_json_get_str(r, "epic.metadata.taskId", NULL);
	char *what, buf[600];

	if (is_file || !id) {
		char *c = ec_term_clean(arg ? arg : "-");
		ec_buf w = { 0 };
		ec_sh_word(&w, c ? c : "");
		free(c);
		what = ec_buf_take(&w);
	} else
		what = ec_term_clean(id);
	ec_buf_putc(&o->b, '\n');
	start(o, "The rest:", 0, "1");
	snprintf(buf, sizeof buf, "epic render --format html %s", what ? what : "");
	part(o, " ", buf, "36", 2);
	snprintf(buf, sizeof buf, "epic export --to jira-csv|github|azure-csv|csv %s", what ? what : "");
	part(o, " \xc2\xb7 ", buf, "36", 2);
	end(o);
	free(what);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "color", optional_argument, NULL, 'C' },
		{ "colour", optional_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-pager", no_argument, NULL, 'P' },
		{ "spool", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spool = NULL, *when = "auto", *arg = NULL;
	char name[PATH_MAX + 64], *text;
	int c, no_pager = 0, is_file;
	out o = { { 0 }, 0, 80, 0 };
	json_t *r;
	ec_err e;

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "hs:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'C': when = optarg ? optarg : "always"; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'P': no_pager = 1; break;
		case 's': spool = optarg; break;
		case 'V': printf("epic-show %s\n", EC_VERSION); return ec_close_stdout();
		default: usage(EC_EXIT_USAGE);
		}
	}
	if ((o.color = ec_term_color(when, 1)) < 0) {
		ec_warn("invalid --color '%s': expected auto, always or never", when);
		usage(EC_EXIT_USAGE);
	}
	if (argc - optind > 1) {
		ec_warn("too many arguments: expected one task id or file");
		usage(EC_EXIT_USAGE);
	}
	if (argc - optind == 1)
		arg = argv[optind];
	o.width = (size_t)ec_term_width(1);

	spool = ec_spool_root(spool);
	if (!(r = ec_result_load(spool, arg, name, sizeof name, &e)))
		ec_die_err(&e);
	is_file = arg && (!strcmp(arg, "-") || !strcmp(name, arg));

	show_head(&o, r);
	show_blocking(&o, r);
	show_roadmap(&o, r);
	show_costs(&o, r);
	show_risks(&o, r);
	show_gaps(&o, r);
	show_more(&o, r, arg, is_file);
	json_decref(r);

	if (!(text = ec_buf_take(&o.b)))
		ec_die(EC_EXIT_TEMP, "out of memory");
	if (ec_term_page(text, strlen(text), !no_pager, &e) < 0) {
		free(text);
		ec_die_err(&e);
	}
	free(text);
	return ec_close_stdout();
}
