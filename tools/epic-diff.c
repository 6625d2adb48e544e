/*
 * epic-diff - what changed between two results of the same or a revised epic.
 *
 * Two EpicResponses (each a file, "-" or a task id: ec_result_load) are compared
 * on what a person decides on: the recommendations (added, removed, changed in
 * priority, type, effortDays or title), the costs (total effort and money, effort
 * per persona), the risks (overall and per area) and the roadmap (phase count,
 * critical path). Metadata (timestamps, task id, tool versions, execution times)
 * is not compared, so two runs of the same request are equal. This is the seed's
 * "run both versions and compare outputs".
 *
 * Recommendations are matched by id; an id that only one side has is matched on
 * the other side by the same concern of the same persona when that pairs exactly
 * one with one, so a renumbered recommendation shows as changed (its id among the
 * changes, matchedBy "concern"), not as removed and added.
 *
 * Exit as diff(1) does: 0 equal, 1 different, 2 trouble (usage, a result that
 * cannot be read, is not an EpicResponse, or names no finished task); 111 an I/O
 * failure. The JSON shape (--json) is documented in epic-diff(1) and stable.
 * Read-only: it never writes into the spool.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ec.h"

enum { DIFF_EQUAL = 0, DIFF_DIFFERENT = 1, DIFF_TROUBLE = 2 };

static const char usage_text[] =
    "usage: epic-diff [--json] [--spool DIR] [--no-pager] [--color[=WHEN]] A B\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nCompare two results (each a task id, an epic.json or -): recommendations\n"
		    "added, removed or changed (priority, type, effortDays, title), cost, risk and\n"
		    "roadmap. Metadata (times, task id) is not compared.\n\n"
		    "  -j, --json           the differences as JSON (shape: epic-diff(1))\n"
		    "  -s, --spool DIR      the spool (default $EPIC_SPOOL, then ./spool)\n"
		    "      --no-pager       never start a pager\n"
		    "      --color[=WHEN]   colour: auto (default), always, never\n"
		    "  -h, --help           this help\n"
		    "  -V, --version        print the version\n\n"
		    "Exit (as diff): 0 equal, 1 different, 2 trouble (usage, unreadable result,\n"
		    "not an EpicResponse, unknown task), 111 temporary failure (I/O).\n", stdout);
	ec_exit(code);
}

typedef struct out {
	ec_buf b;
	int color;
	size_t width;
} out;

/* A value for text: a string (cleaned), a range "2-5", a number, or "none".
 * into buf. */
static void
value_text(char *buf, size_t cap, const json_t *v)
{
	if (json_is_string(v)) {
		char *c = ec_term_clean(json_string_value(v));
		snprintf(buf, cap, "%s", c ? c : "");
		free(c);
	} else if (json_is_object(v) && json_is_number(json_object_get(v, "min"))) {
		char a[32], b[32];
		ec_fmt_number(a, sizeof a, json_number_value(json_object_get(v, "min")));
		ec_fmt_number(b, sizeof b, json_number_value(json_object_get(v, "max")));
		if (!strcmp(a, b))
			snprintf(buf, cap, "%s", a);
		else
			snprintf(buf, cap, "%s-%s", a, b);
	} else if (json_is_number(v))
		ec_fmt_number(buf, cap, json_number_value(v));
	else
		snprintf(buf, cap, "none");
	ec_utf8_trim(buf);
}

/* One entry line: a coloured mark, then text (plain; cleaned) folded to the width
 * with continuation lines under the text. */
static void
entry(out *o, const char *mark, const char *code, const char *text)
{
	ec_buf_puts(&o->b, "  ");
	ec_term_sgr(&o->b, o->color, code);
	ec_buf_puts(&o->b, mark);
	ec_term_sgr(&o->b, o->color, "");
	ec_buf_putc(&o->b, ' ');
	ec_term_put_fold(&o->b, text, 4, o->width, 6);
}

static void
heading(out *o, const char *s)
{
	ec_term_sgr(&o->b, o->color, "1");
	ec_term_put_cut(&o->b, s, o->width);
	ec_term_sgr(&o->b, o->color, "");
	ec_buf_putc(&o->b, '\n');
}

/* "A -> B" of two values into buf (for a field called what, "" for none). */
static void
change_text(ec_buf *t, const char *what, const json_t *a, const json_t *b)
{
	char va[512], vb[512];

	char *w = ec_term_clean(what);

	value_text(va, sizeof va, a);
	value_text(vb, sizeof vb, b);
	if (w && *w)
		ec_buf_printf(t, "%s ", w);
	free(w);
	if (!strcmp(what, "title"))
		ec_buf_printf(t, "\"%s\" -> \"%s\"", va, vb);
	else
		ec_buf_printf(t, "%s -> %s", va, vb);
}

/* Added and removed recommendations: id, priority, type, title, effort. */
static void
text_rec(out *o, const char *mark, const char *code, const json_t *r)
{
	ec_buf t = { 0 };
	char id[128], pr[64], ty[64], ti[512], ef[64];
	char *s;

	value_text(id, sizeof id, json_object_get(r, "id"));
	value_text(pr, sizeof pr, json_object_get(r, "priority"));
	value_text(ty, sizeof ty, json_object_get(r, "type"));
	value_text(ti, sizeof ti, json_object_get(r, "title"));
	value_text(ef, sizeof ef, json_object_get(r, "effortDays"));
	ec_buf_printf(&t, "%s %s %s: %s (%s person-days)", id, pr, ty, ti, ef);
	if ((s = ec_buf_take(&t)))
		entry(o, mark, code, s);
	free(s);
}

/* A changed recommendation: its id (and how it was matched when renumbered), then
 * each change. */
static void
text_changed(out *o, const json_t *c)
{
	const json_t *ch = json_object_get(c, "changes"), *f;
	const char *k;
	ec_buf t = { 0 };
	char id[128], v[512];
	const char *sep = ": ";
	char *s;

	value_text(id, sizeof id, json_object_get(c, "id"));
	ec_buf_puts(&t, id);
	if (!strcmp(ec_json_get_str(c, "matchedBy", ""), "concern")) {
		value_text(v, sizeof v, json_object_get(c, "idA"));
		ec_buf_printf(&t, " (was %s; renumbered, matched by concern ", v);
		value_text(v, sizeof v, json_object_get(c, "concern"));
		ec_buf_printf(&t, "'%s' of ", v);
		value_text(v, sizeof v, json_object_get(c, "persona"));
		ec_buf_printf(&t, "%s)", v);
	}
	json_object_foreach((json_t *)ch, k, f) {
		if (!strcmp(k, "id"))
			continue;       /* said above */
		ec_buf_puts(&t, sep);
		change_text(&t, !strcmp(k, "effortDays") ? "effort" : k, json_object_get(f, "a"),
		    json_object_get(f, "b"));
		sep = "; ";
	}
	if ((s = ec_buf_take(&t)))
		entry(o, "~", "33", s);
	free(s);
}

/* A line of a section: "what a -> b" with an optional suffix. */
static void
text_change(out *o, const char *what, const json_t *a, const json_t *b, const char *suffix)
{
	ec_buf t = { 0 };
	char *s;

	change_text(&t, what, a, b);
	if (suffix)
		ec_buf_puts(&t, suffix);
	if ((s = ec_buf_take(&t)))
		entry(o, "~", "33", s);
	free(s);
}

/* The comparison d as text for a person (nothing when equal). malloc'd. */
static char *
text(const json_t *d, int color, size_t width)
{
	out o = { { 0 }, color, width };
	const json_t *recs = json_object_get(d, "recommendations"), *x;
	const json_t *cost = json_object_get(d, "cost"), *risk = json_object_get(d, "risk");
	const json_t *rm = json_object_get(d, "roadmap");
	char buf[1200], v[512];
	const char *k;
	size_t i;

	if (json_is_true(json_object_get(d, "equal")))
		return calloc(1, 1);
	for (int s = 0; s < 2; s++) {
		const json_t *sd = json_object_get(d, s ? "b" : "a");
		char *t = ec_term_clean(ec_json_get_str(sd, "title", ""));
		value_text(v, sizeof v, json_object_get(sd, "name"));
		ec_term_sgr(&o.b, o.color, "1");
		ec_buf_puts(&o.b, s ? "+++ b: " : "--- a: ");
		ec_term_sgr(&o.b, o.color, "");
		snprintf(buf, sizeof buf, "%s (%s)", v, t ? t : "");
		ec_term_put_cut(&o.b, buf, width > 7 ? width - 7 : 1);
		ec_buf_putc(&o.b, '\n');
		free(t);
	}
	if (json_array_size(json_object_get(recs, "added")) +
	    json_array_size(json_object_get(recs, "removed")) +
	    json_array_size(json_object_get(recs, "changed"))) {
		snprintf(buf, sizeof buf, "Recommendations: %zu added, %zu removed, %zu changed",
		    json_array_size(json_object_get(recs, "added")),
		    json_array_size(json_object_get(recs, "removed")),
		    json_array_size(json_object_get(recs, "changed")));
		heading(&o, buf);
		json_array_foreach(json_object_get(recs, "added"), i, x)
			text_rec(&o, "+", "32", x);
		json_array_foreach(json_object_get(recs, "removed"), i, x)
			text_rec(&o, "-", "31", x);
		json_array_foreach(json_object_get(recs, "changed"), i, x)
			text_changed(&o, x);
	}
	if (json_is_true(ec_json_get(cost, "effortDays.changed")) ||
	    json_is_true(ec_json_get(cost, "money.changed")) ||
	    json_object_size(json_object_get(cost, "byPersona"))) {
		const json_t *e = json_object_get(cost, "effortDays"), *m = json_object_get(cost, "money");
		heading(&o, "Costs (person-days)");
		if (json_is_true(json_object_get(e, "changed"))) {
			char dmin[32], dmax[32];
			ec_fmt_number(dmin, sizeof dmin, json_number_value(ec_json_get(e, "delta.min")));
			ec_fmt_number(dmax, sizeof dmax, json_number_value(ec_json_get(e, "delta.max")));
			snprintf(buf, sizeof buf, " (%s%s to %s%s)", dmin[0] == '-' ? "" : "+", dmin,
			    dmax[0] == '-' ? "" : "+", dmax);
			text_change(&o, "total effort", json_object_get(e, "a"), json_object_get(e, "b"), buf);
		}
		if (json_is_true(json_object_get(m, "changed"))) {
			char ca[32], cb[32];
			value_text(ca, sizeof ca, ec_json_get(m, "currency.a"));
			value_text(cb, sizeof cb, ec_json_get(m, "currency.b"));
			snprintf(buf, sizeof buf, "money (%s -> %s)", ca, cb);
			text_change(&o, strcmp(ca, cb) ? buf : ca, json_object_get(m, "a"),
			    json_object_get(m, "b"), NULL);
		}
		json_object_foreach((json_t *)json_object_get(cost, "byPersona"), k, x)
			text_change(&o, k, json_object_get(x, "a"), json_object_get(x, "b"), NULL);
	}
	if (json_is_true(ec_json_get(risk, "overall.changed")) ||
	    json_object_size(json_object_get(risk, "areas"))) {
		heading(&o, "Risks");
		if (json_is_true(ec_json_get(risk, "overall.changed")))
			text_change(&o, "overall", ec_json_get(risk, "overall.a"),
			    ec_json_get(risk, "overall.b"), NULL);
		json_object_foreach((json_t *)json_object_get(risk, "areas"), k, x) {
			char *c = ec_term_clean(k);
			text_change(&o, c ? c : "", json_object_get(x, "a"), json_object_get(x, "b"), NULL);
			free(c);
		}
	}
	if (json_is_true(ec_json_get(rm, "phases.changed")) ||
	    json_is_true(ec_json_get(rm, "criticalPath.changed"))) {
		heading(&o, "Roadmap");
		if (json_is_true(ec_json_get(rm, "phases.changed")))
			text_change(&o, "phases", ec_json_get(rm, "phases.a"), ec_json_get(rm, "phases.b"), NULL);
		if (json_is_true(ec_json_get(rm, "criticalPath.changed")))
			text_change(&o, "critical path", ec_json_get(rm, "criticalPath.a"),
			    ec_json_get(rm, "criticalPath.b"), NULL);
	}
	return ec_buf_take(&o.b);
}

/* Load one side, or exit: 2 for a result that is not there or not one, 111 for I/O. */
static json_t *
load(const char *spool, const char *arg, char *name, size_t cap)
{
	ec_err e;
	json_t *r = ec_result_load(spool, arg, name, cap, &e);

	if (!r) {
		ec_warn("%s", e.msg);
		ec_exit(e.code == EC_EXIT_TEMP ? EC_EXIT_TEMP : DIFF_TROUBLE);
	}
	return r;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "color", optional_argument, NULL, 'C' },
		{ "colour", optional_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-pager", no_argument, NULL, 'P' },
		{ "spool", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spool = NULL, *when = "auto";
	char na[PATH_MAX + 64], nb[PATH_MAX + 64], *txt;
	int c, json = 0, no_pager = 0, color, equal;
	json_t *ra, *rb, *d;
	ec_err e;

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "hjs:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'C': when = optarg ? optarg : "always"; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'j': json = 1; break;
		case 'P': no_pager = 1; break;
		case 's': spool = optarg; break;
		case 'V': printf("epic-diff %s\n", EC_VERSION); return ec_close_stdout();
		default: usage(EC_EXIT_USAGE);
		}
	}
	if ((color = ec_term_color(when, 1)) < 0) {
		ec_warn("invalid --color '%s': expected auto, always or never", when);
		usage(EC_EXIT_USAGE);
	}
	if (argc - optind != 2) {
		ec_warn("expected two results (task ids or files), got %d", argc - optind);
		usage(EC_EXIT_USAGE);
	}
	if (!strcmp(argv[optind], "-") && !strcmp(argv[optind + 1], "-")) {
		ec_warn("only one of the results can be standard input");
		usage(EC_EXIT_USAGE);
	}
	spool = ec_spool_root(spool);
	ra = load(spool, argv[optind], na, sizeof na);
	rb = load(spool, argv[optind + 1], nb, sizeof nb);
	if (!(d = ec_result_diff(ra, na, rb, nb)))
		ec_die(EC_EXIT_TEMP, "out of memory");
	equal = json_is_true(json_object_get(d, "equal"));
	json_decref(ra);
	json_decref(rb);

	txt = json ? ec_json_dumps(d) : text(d, color, (size_t)ec_term_width(1));
	json_decref(d);
	if (!txt)
		ec_die(EC_EXIT_TEMP, "out of memory");
	if (ec_term_page(txt, strlen(txt), !json && !no_pager, &e) < 0) {
		free(txt);
		ec_die_err(&e);
	}
	free(txt);
	if ((c = ec_close_stdout()) != EC_EXIT_OK)
		return c;
	return equal ? DIFF_EQUAL : DIFF_DIFFERENT;
}
