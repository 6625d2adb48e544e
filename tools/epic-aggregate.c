/*
 * epic-aggregate - a normalized request and its persona outputs -> the EpicResponse.
 *
 * The last step of a task's pipeline (epic.json). It reads the request epic-parse
 * wrote and the persona outputs in review order, and makes one EpicResponse out of
 * them: the recommendations deduplicated across personas, an implementation
 * roadmap in dependency order with its critical path, the cost in person-days and
 * money, a risk assessment, the gaps left by personas that failed or were skipped,
 * and a summary. Which personas the review was meant to have, and which of them are
 * required, is the task's plan.json, as epic-parse planned them (computed the same
 * way, plan.c, for a request outside a task).
 *
 * The result depends on the inputs only: no clock (the timestamps come from the
 * task's checkpoints or from the inputs' mtimes), no randomness, and everything
 * without an inherent order is sorted, so the same inputs give the same bytes and
 * make's write-if-changed reruns stay quiet. The result (but for the persona
 * outputs it embeds unchanged) is checked against schemas/epic-response before it
 * is written; a mismatch is a bug (exit 111).
 */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "roadmap.h"

static const char usage_text[] =
    "usage: epic-aggregate [--config FILE] [--checkpoints FILE] [-o FILE] REQUEST\n"
    "                      PERSONA-OUTPUT...\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nAggregate a normalized request (epic-parse) and its persona outputs, in review\n"
		    "order, into the EpicResponse: deduplicated recommendations, roadmap, critical\n"
		    "path, cost breakdown, risk assessment, gaps and summary.\n\n"
		    "  -c, --config FILE       configuration file (costs.dayRate, costs.currency)\n"
		    "      --checkpoints FILE  the task's checkpoints.jsonl: createdAt and completedAt\n"
		    "                          (default: the mtime of the newest input)\n"
		    "  -o, --output FILE       write the EpicResponse to FILE (default stdout)\n"
		    "  -h, --help              this help\n"
		    "  -V, --version           print the version\n\n"
		    "Exit: 0 ok, 1 input rejected, 2 usage, 111 temporary failure.\n", stdout);
	ec_exit(code);
}

/* A persona the review was meant to have, or one that delivered an output anyway. */
typedef struct who {
	char name[72];
	int order, required;
	int enforced;            /* its recommendations become blocking under enforceDevops */
	char skip[96];           /* why the plan skips it, or "" */
	json_t *out;             /* its output (borrowed), or NULL: none was given */
} who;

typedef struct agg {
	json_t *cfg, *request;
	const char *reqname;
	ec_registry reg;
	json_t **outs;           /* the outputs, as given */
	const char **files;
	size_t nout;
	who *w;
	size_t nw;
	ec_roadmap m;            /* the recommendations, merged and phased (roadmap.c) */
	double exec_ms;          /* the personas' logged wall times; < 0: none logged */
} agg;

/* ---- small helpers ---------------------------------------------------------- */

/* A number rounded to the cent, as JSON: an integer when it is one. */
static json_t *
num(double v)
{
	return ec_json_number(ec_round2(v));
}

static json_t *
range(double min, double max)
{
	return json_pack("{s:o, s:o}", "min", num(min), "max", num(max));
}

/* The buffer's string as a new JSON string (NULL when memory ran out); b is emptied. */
static json_t *
sb_json(ec_buf *b)
{
	char *p = ec_buf_take(b);
	json_t *j = p ? json_string(p) : NULL;

	free(p);
	return j;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of an object used as a set, as a new array of strings in byte order. */
static json_t *
sorted_keys(const json_t *set)
{
	size_t n = json_object_size(set), i = 0;
	const char **v = calloc(n ? n : 1, sizeof *v), *k;
	json_t *a = json_array(), *x;

	if (!v || !a) {
		free(v);
		json_decref(a);
		return NULL;
	}
	json_object_foreach((json_t *)set, k, x)
		v[i++] = k;
	qsort(v, n, sizeof *v, cmp_str);
	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	free(v);
	return a;
}

/* ---- inputs ----------------------------------------------------------------- */

/* Load the normalized request; it must be what epic-parse writes. */
static int
load_request(agg *a, const char *file, ec_err *e)
{
	static const char *const set_by_parse[] = { "taskId", "title", "mode", NULL };

	a->reqname = strcmp(file, "-") ? file : "<stdin>";
	if (!(a->request = ec_json_load_valid(file, EC_MAX_REQUEST_BYTES, "epic-request", e)))
		return -1;
	for (const char *const *k = set_by_parse; *k; k++)
		if (!json_object_get(a->request, *k))
			return ec_fail(e, EC_EXIT_REJECT, "%s: $.%s: expected a request normalized by "
			    "epic-parse", a->reqname, *k);
	return 0;
}

/* Load and validate the persona outputs; a persona may speak only once. */
static int
load_outputs(agg *a, char **files, size_t n, ec_err *e)
{
	if (!(a->outs = calloc(n, sizeof *a->outs)) || !(a->files = calloc(n, sizeof *a->files)))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *name = strcmp(files[i], "-") ? files[i] : "<stdin>";
		/* Checked here unless its persona's stamp vouches for it (stamp.c). */
		json_t *o = ec_json_load_valid(files[i], EC_MAX_JSON_BYTES, "persona-output", e);
		if (!o)
			return -1;
		a->outs[a->nout] = o;
		a->files[a->nout++] = name;
		for (size_t k = 0; k < i; k++)
			if (strcmp(ec_json_get_str(o, "persona.name", ""),
			    ec_json_get_str(a->outs[k], "persona.name", "")) == 0)
				return ec_fail(e, EC_EXIT_REJECT, "%s: $.persona.name: '%s' already "
				    "reviewed in '%s': expected one output per persona", name,
				    ec_json_get_str(o, "persona.name", ""), a->files[k]);
	}
	return 0;
}

/*
 * The before-aggregation hooks get the array of outputs and may change it; what
 * comes back must still be valid outputs, one per persona.
 */
static int
hook_outputs(agg *a, ec_err *e)
{
	json_t *arr = json_array(), *h, *o;
	const char *task = ec_json_get_str(a->request, "taskId", NULL);
	size_t i;

	for (i = 0; i < a->nout; i++)
		json_array_append(arr, a->outs[i]);
	h = ec_hooks_run("before-aggregation", arr, task, NULL, e);
	json_decref(arr);
	if (!h)
		return -1;
	if (h == arr || json_array_size(h) == 0) {
		json_decref(h);
		return 0;
	}
	if (!json_is_array(h)) {
		json_decref(h);
		return ec_fail(e, EC_EXIT_TEMP, "before-aggregation hook output: $: expected an array "
		    "of persona outputs");
	}
	json_array_foreach(h, i, o)
		if (ec_schema_validate("persona-output", o, NULL, e) < 0) {
			ec_err_prefix(e, "before-aggregation hook output: [%zu]", i);
			json_decref(h);
			return -1;
		}
	for (i = 0; i < a->nout; i++)
		json_decref(a->outs[i]);
	if (json_array_size(h) > a->nout) {
		json_t **no = realloc(a->outs, json_array_size(h) * sizeof *no);
		const char **nf = realloc(a->files, json_array_size(h) * sizeof *nf);
		if (no)
			a->outs = no;
		if (nf)
			a->files = nf;
		if (!no || !nf) {
			a->nout = 0;
			json_decref(h);
			return ec_fail(e, EC_EXIT_TEMP, "out of memory");
		}
	}
	a->nout = json_array_size(h);
	json_array_foreach(h, i, o) {
		a->outs[i] = json_incref(o);
		a->files[i] = "before-aggregation hook";
	}
	json_decref(h);
	return 0;
}

static who *
find_who(agg *a, const char *name)
{
	for (size_t i = 0; i < a->nw; i++)
		if (strcmp(a->w[i].name, name) == 0)
			return &a->w[i];
	return NULL;
}

/* The area persona reviews, as its registration names it; else its own name. The
 * persona's knowledge (area, gap priority and advice) is in its registration, so a
 * persona added by a file is known here like the six shipped ones. */
static const char *
area_of(const agg *a, const char *persona)
{
	const ec_persona *p = ec_registry_find(&a->reg, persona);

	return p && p->area ? p->area : persona;
}

static int
by_order(const void *x, const void *y)
{
	const who *p = x, *q = y;
	return p->order != q->order ? (p->order > q->order) - (p->order < q->order) :
	    strcmp(p->name, q->name);
}

/*
 * The personas of this review, as epic-parse plans them: every registered persona
 * (required after the configuration's personas.NAME.required; with enforceDevops
 * also the one whose rule base says so; skipped when the request excludes it, the
 * configuration disables it or it does not support the mode), the request's custom
 * personas, and any persona that delivered an output without being planned.
 */
static int
plan(agg *a, ec_err *e)
{
	ec_plan_step *v;
	size_t n, i;

	if (ec_plan_load(strcmp(a->reqname, "<stdin>") ? a->reqname : "-", &a->reg, a->cfg,
	    a->request, &v, &n, e) < 0) {
		ec_err_prefix(e, "%s", a->reqname);
		return -1;
	}
	if (!(a->w = calloc(n + a->nout + 1, sizeof *a->w))) {
		free(v);
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	}
	for (i = 0; i < n; i++) {
		who *w = &a->w[a->nw++];
		snprintf(w->name, sizeof w->name, "%s", v[i].name);
		w->order = v[i].order;
		w->required = v[i].required;
		w->enforced = v[i].enforced;
		if (v[i].skip)
			snprintf(w->skip, sizeof w->skip, "%s", ec_plan_skip_reason(v[i].skip));
	}
	free(v);
	/* An output of a persona the plan does not know still counts. */
	for (i = 0; i < a->nout; i++) {
		const char *pn = ec_json_get_str(a->outs[i], "persona.name", "");
		who *w = find_who(a, pn);
		if (!w) {
			w = &a->w[a->nw++];
			snprintf(w->name, sizeof w->name, "%s", pn);
			w->order = (int)ec_json_get_int(a->outs[i], "persona.reviewOrder", 99);
		}
		w->out = a->outs[i];
	}
	qsort(a->w, a->nw, sizeof *a->w, by_order);
	return 0;
}

static const char *
status_of(const who *w)
{
	return w->out ? ec_json_get_str(w->out, "persona.status", "failed") : NULL;
}

/* ---- the recommendations ------------------------------------------------------- */

/* Every recommendation of the completed outputs, in the order given, into the
 * roadmap (roadmap.c merges, orders and phases them). Under enforceDevops an
 * enforced persona's recommendations are all blocking. */
static int
recommendations(agg *a, ec_err *e)
{
	int enforce = json_is_true(json_object_get(a->request, "enforceDevops"));
	size_t i, k;
	json_t *x;

	for (i = 0; i < a->nout; i++) {
		const char *pn = ec_json_get_str(a->outs[i], "persona.name", "");
		const who *w = find_who(a, pn);
		if (strcmp(ec_json_get_str(a->outs[i], "persona.status", ""), "completed"))
			continue;
		json_array_foreach(json_object_get(a->outs[i], "recommendations"), k, x)
			if (ec_roadmap_add(&a->m, x, pn, !strcmp(ec_json_get_str(x, "type", ""), "blocking") ||
			    (enforce && w && w->enforced), ec_priority_rank(ec_json_get_str(x, "priority", "low")), e) < 0)
				return -1;
	}
	return ec_roadmap_build(&a->m, e);
}


/*
 * The description of merged recommendation i: the first one's, followed by what the
 * others merged into it asked for in their own words, "Also: TITLE (persona); ...",
 * so a merge by concern loses no request. New reference (NULL without memory).
 */
static json_t *
merged_description(const agg *a, size_t i)
{
	const ec_rm_rec *r = &a->m.r[i];
	const json_t *first = a->m.it[r->first].j;
	ec_buf b = { 0 };
	size_t n = 0;

	ec_buf_puts(&b, ec_json_get_str(first, "description", ""));
	for (size_t k = r->first + 1; k < a->m.nit; k++) {
		const ec_rm_item *t = &a->m.it[k];
		if (t->group != i || !strcmp(t->key, a->m.it[r->first].key))
			continue;
		ec_buf_printf(&b, n++ ? "; %s (%s)" : " Also: %s (%s)",
		    ec_json_get_str(t->j, "title", ""), t->persona);
	}
	if (n)
		ec_buf_puts(&b, ".");
	return sb_json(&b);
}
/* ---- the parts of the response ---------------------------------------------- */

static json_t *
recommendation(const agg *a, size_t i)
{
	const ec_rm_rec *r = &a->m.r[i];
	const ec_rm_item *t = &a->m.it[r->first];
	json_t *j = json_object(), *deps = json_array();
	char cost[128];

	for (size_t k = 0; k < r->ndeps; k++)
		json_array_append_new(deps, json_string(ec_roadmap_id(&a->m, r->deps[k])));
	/* The first one's words for the cost, unless the merge changed the effort. */
	if (r->has_effort && (!t->has_effort || t->emin != r->emin || t->emax != r->emax))
		ec_effort_days_text(cost, sizeof cost, r->emin, r->emax);
	else
		snprintf(cost, sizeof cost, "%s", ec_json_get_str(t->j, "estimatedCost", "unknown"));
	json_object_set_new(j, "id", json_string(t->id));
	json_object_set(j, "title", json_object_get(t->j, "title"));
	json_object_set_new(j, "description", merged_description(a, i));
	json_object_set_new(j, "type", json_string(r->blocking ? "blocking" : "suggested"));
	json_object_set_new(j, "priority", json_string(ec_priority_name(r->prio)));
	json_object_set_new(j, "estimatedCost", json_string(cost));
	json_object_set_new(j, "dependencies", deps);
	json_object_set_new(j, "references", sorted_keys(r->refs));
	if (r->has_effort)
		json_object_set_new(j, "effortDays", range(r->emin, r->emax));
	if (r->concern)
		json_object_set_new(j, "concern", json_string(r->concern));
	json_object_set_new(j, "persona", json_string(t->persona));
	json_object_set(j, "personas", r->personas);
	return j;
}

/* Blocking first, then by priority, then in the order of the recommendations. */
static int
by_urgency(const void *x, const void *y, void *arg)
{
	const agg *a = arg;
	const ec_rm_rec *p = &a->m.r[*(const size_t *)x], *q = &a->m.r[*(const size_t *)y];
	if (p->blocking != q->blocking)
		return q->blocking - p->blocking;
	if (p->prio != q->prio)
		return q->prio - p->prio;
	return (*(const size_t *)x > *(const size_t *)y) - (*(const size_t *)x < *(const size_t *)y);
}

static json_t *
roadmap(agg *a)
{
	json_t *rm = json_array();
	size_t *v = malloc((a->m.nr ? a->m.nr : 1) * sizeof *v);
	int mustmax = 0;

	if (!v || !rm) {
		free(v);
		json_decref(rm);
		return NULL;
	}
	for (size_t i = 0; i < a->m.nr; i++)
		if (a->m.r[i].must && a->m.r[i].phase > mustmax)
			mustmax = a->m.r[i].phase;
	for (int ph = 1; ph <= a->m.nphases; ph++) {
		size_t n = 0;
		double smin = 0, smax = 0, lmin = 0, lmax = 0;
		char name[128], dur[64];
		json_t *items = json_array(), *titles = json_array();
		for (size_t i = 0; i < a->m.nr; i++)
			if (a->m.r[i].phase == ph)
				v[n++] = i;
		qsort_r(v, n, sizeof *v, by_urgency, a);
		for (size_t k = 0; k < n; k++) {
			const ec_rm_rec *r = &a->m.r[v[k]];
			json_array_append_new(items, json_string(ec_roadmap_id(&a->m, v[k])));
			json_array_append(titles, json_object_get(a->m.it[r->first].j, "title"));
			smin += r->emin, smax += r->emax;
			if (r->emin > lmin)
				lmin = r->emin;
			if (r->emax > lmax)
				lmax = r->emax;
		}
		if (ph == 1 && mustmax > 0)
			snprintf(name, sizeof name, "Phase 1: Foundations and blockers");
		else if (ph <= mustmax)
			snprintf(name, sizeof name, "Phase %d: Blockers that build on phase %d", ph, ph - 1);
		else if (ph == mustmax + 1)
			snprintf(name, sizeof name, "Phase %d: Recommended improvements", ph);
		else
			snprintf(name, sizeof name, "Phase %d: Improvements that build on phase %d", ph, ph - 1);
		ec_effort_duration_text(dur, sizeof dur, lmin, lmax);
		json_array_append_new(rm, json_pack("{s:i, s:s, s:o, s:o, s:o, s:s}", "phase", ph,
		    "name", name, "items", items, "itemTitles", titles, "effortDays", range(smin, smax),
		    "duration", dur));
	}
	free(v);
	return rm;
}

static void
add_range(json_t *obj, const char *key, double min, double max)
{
	json_t *r = json_object_get(obj, key);
	double a = r ? json_number_value(json_object_get(r, "min")) : 0;
	double b = r ? json_number_value(json_object_get(r, "max")) : 0;

	json_object_set_new(obj, key, range(a + min, b + max));
}

/*
 * Effort and money. Each merged recommendation counts once, for the persona that
 * made it first, so the breakdowns by persona, by type and by priority each add up
 * to the total. Every completed persona appears, with 0 if it found nothing.
 */
/*
 * What the agent personas' calls to LLM APIs cost (their metadata.usage, persona-llm),
 * summed: money (in the currency of the configured token prices), calls and tokens,
 * and money by persona. NULL (no such line) when no persona asked an LLM. New
 * reference.
 */
static json_t *
api_spend(const agg *a)
{
	json_t *bp = json_object(), *u;
	double cost = 0;
	json_int_t calls = 0, in = 0, out = 0;
	int any = 0;

	for (size_t i = 0; i < a->nout; i++) {
		if (!json_is_object(u = ec_json_get(a->outs[i], "metadata.usage")))
			continue;
		any = 1;
		cost += json_number_value(json_object_get(u, "cost"));
		calls += json_integer_value(json_object_get(u, "calls"));
		in += json_integer_value(json_object_get(u, "inputTokens"));
		out += json_integer_value(json_object_get(u, "outputTokens"));
		json_object_set_new(bp, ec_json_get_str(a->outs[i], "persona.name", "?"),
		    ec_json_number(ec_round2(json_number_value(json_object_get(u, "cost")) * 100) / 100));
	}
	if (!any) {
		json_decref(bp);
		return NULL;
	}
	/* to a hundredth of a cent: one call costs less than a cent */
	return json_pack("{s:o, s:I, s:I, s:I, s:o}", "amount", ec_json_number(ec_round2(cost * 100) / 100),
	    "calls", calls, "inputTokens", in, "outputTokens", out, "byPersona", bp);
}

static json_t *
costs(agg *a, double rate, const char *cur, double *tmin, double *tmax)
{
	json_t *bp = json_object(), *bt = json_object(), *bpr = json_object();
	double min = 0, max = 0;

	for (size_t i = 0; i < a->nout; i++)
		if (!strcmp(ec_json_get_str(a->outs[i], "persona.status", ""), "completed"))
			add_range(bp, ec_json_get_str(a->outs[i], "persona.name", ""), 0, 0);
	add_range(bt, "blocking", 0, 0);
	add_range(bt, "suggested", 0, 0);
	for (int p = 0; p < 4; p++)
		add_range(bpr, ec_priority_name(p), 0, 0);
	for (size_t i = 0; i < a->m.nr; i++) {
		const ec_rm_rec *r = &a->m.r[i];
		min += r->emin, max += r->emax;
		add_range(bp, a->m.it[r->first].persona, r->emin, r->emax);
		add_range(bt, r->blocking ? "blocking" : "suggested", r->emin, r->emax);
		add_range(bpr, ec_priority_name(r->prio), r->emin, r->emax);
	}
	*tmin = ec_round2(min), *tmax = ec_round2(max);
	return json_pack("{s:o, s:{s:o, s:o, s:s}, s:o, s:o, s:o, s:o*}", "effortDays", range(min, max),
	    "money", "min", num(ec_round2(min) * rate), "max", num(ec_round2(max) * rate), "currency", cur,
	    "byPersona", bp, "byType", bt, "byPriority", bpr, "apiSpend", api_spend(a));
}

/* One gap per planned persona without a completed review, in review order. */
static json_t *
gaps(const agg *a)
{
	json_t *g = json_array();

	for (size_t i = 0; i < a->nw; i++) {
		const who *w = &a->w[i];
		const char *st = status_of(w);
		char reason[512];
		if (st && !strcmp(st, "completed"))
			continue;
		if (st) {
			const char *type = ec_json_get_str(w->out, "persona.error.type", NULL);
			const char *msg = ec_json_get_str(w->out, "persona.error.message", NULL);
			if (type && msg && strcmp(st, "failed") == 0)
				snprintf(reason, sizeof reason, "%s: %s", type, msg);
			else
				snprintf(reason, sizeof reason, "%s", msg ? msg : w->skip[0] ? w->skip :
				    !strcmp(st, "failed") ? "failed without a reason given" : "skipped without a reason given");
		} else if (w->skip[0])
			snprintf(reason, sizeof reason, "%s", w->skip);
		else
			snprintf(reason, sizeof reason, "no output: the persona did not run or its output was not given");
		json_array_append_new(g, json_pack("{s:s, s:s, s:s}", "persona", w->name, "status",
		    st && !strcmp(st, "skipped") ? "skipped" : !st && w->skip[0] ? "skipped" : "failed",
		    "reason", reason));
	}
	return g;
}

typedef struct risk {
	int level;
	const char *area;
	json_t *j;
} risk;

static int
by_risk(const void *x, const void *y)
{
	const risk *p = x, *q = y;
	int c;
	if (p->level != q->level)
		return q->level - p->level;
	if ((c = strcmp(p->area, q->area)))
		return c;
	return strcmp(json_string_value(json_object_get(p->j, "source")),
	    json_string_value(json_object_get(q->j, "source")));
}

/* Fill r with a risk of area from source, the buffers' texts as its description and
 * mitigation (emptied). 0, or -1 out of memory. */
static int
risk_set(risk *r, int level, const char *area, const char *source, ec_buf *d, ec_buf *m)
{
	r->level = level;
	r->area = area;
	r->j = json_pack("{s:s, s:s, s:s, s:o*, s:o*}", "area", area, "level", ec_priority_name(level),
	    "source", source, "description", sb_json(d), "mitigation", sb_json(m));
	return r->j ? 0 : -1;
}

/*
 * The risk assessment: for each area with blocking or critical recommendations one
 * risk (critical when one of them is blocking and critical, high when one is
 * blocking and high or only critical, medium otherwise), naming the worst of them
 * and the roadmap phases that resolve them; and one risk per gap, as serious as the
 * missing review (its registration's gapPriority; at least high for a required
 * persona). The overall level is the highest of them, low when there are none.
 */
static json_t *
risks(agg *a, json_t *gapv)
{
	const char *task = ec_json_get_str(a->request, "taskId", "");
	risk *v = calloc(a->m.nr + json_array_size(gapv) + 1, sizeof *v);
	size_t *ids = malloc((a->m.nr ? a->m.nr : 1) * sizeof *ids), nv = 0, i, k;
	json_t *list = json_array(), *g;
	int overall = EC_RM_LOW;

	if (!v || !ids || !list)
		goto nomem;
	for (i = 0; i < a->m.nr; i++) {
		const char *persona = a->m.it[a->m.r[i].first].persona, *area;
		size_t n = 0, ncrit = 0, nblock = 0;
		int level = EC_RM_MEDIUM, pmin = 0, pmax = 0;
		double emin = 0, emax = 0;
		ec_buf d = { 0 }, m = { 0 };
		if (!(a->m.r[i].blocking == 1 || a->m.r[i].prio == EC_RM_CRITICAL))
			continue;
		area = area_of(a, persona);
		for (k = 0; k < nv; k++)
			if (!strcmp(v[k].area, area))
				break;
		if (k < nv)
			continue;       /* this area is done */
		for (k = i; k < a->m.nr; k++) {
			const ec_rm_rec *r = &a->m.r[k];
			const char *p2 = a->m.it[r->first].persona;
			if (!(r->blocking == 1 || r->prio == EC_RM_CRITICAL) || strcmp(area_of(a, p2), area))
				continue;
			ids[n++] = k;
			ncrit += r->prio == EC_RM_CRITICAL;
			nblock += r->blocking == 1;
			if (r->blocking == 1 && r->prio == EC_RM_CRITICAL)
				level = EC_RM_CRITICAL;
			else if ((r->blocking == 1 && r->prio == EC_RM_HIGH) || r->prio == EC_RM_CRITICAL)
				level = level < EC_RM_HIGH ? EC_RM_HIGH : level;
			emin += r->emin, emax += r->emax;
			if (!pmin || r->phase < pmin)
				pmin = r->phase;
			if (r->phase > pmax)
				pmax = r->phase;
		}
		qsort_r(ids, n, sizeof *ids, by_urgency, a);
		if (nblock == n && ncrit)
			ec_buf_printf(&d, "%zu blocking recommendation%s open, %zu critical: ", n, n == 1 ? "" : "s", ncrit);
		else if (nblock == n)
			ec_buf_printf(&d, "%zu blocking recommendation%s open: ", n, n == 1 ? "" : "s");
		else
			ec_buf_printf(&d, "%zu critical or blocking recommendation%s open (%zu blocking, %zu critical): ",
			    n, n == 1 ? "" : "s", nblock, ncrit);
		for (k = 0; k < n && k < 3; k++)
			ec_buf_printf(&d, "%s%s (%s)", k ? "; " : "", ec_roadmap_id(&a->m, ids[k]),
			    ec_json_get_str(a->m.it[a->m.r[ids[k]].first].j, "title", ""));
		if (n > 3)
			ec_buf_printf(&d, "; and %zu more", n - 3);
		ec_buf_printf(&m, "Resolve ");
		for (k = 0; k < n; k++)
			ec_buf_printf(&m, "%s%s", k == 0 ? "" : k + 1 == n ? " and " : ", ", ec_roadmap_id(&a->m, ids[k]));
		{
			char days[96], ph[64];
			ec_effort_days_text(days, sizeof days, emin, emax);
			if (pmin == pmax)
				snprintf(ph, sizeof ph, "roadmap phase %d", pmin);
			else
				snprintf(ph, sizeof ph, "roadmap phases %d-%d", pmin, pmax);
			ec_buf_printf(&m, " before release (%s, %s) and make %s release criteria", ph, days,
			    n == 1 ? "it one of the" : "them");
		}
		if (risk_set(&v[nv++], level, area, persona, &d, &m) < 0)
			goto nomem;
	}
	json_array_foreach(gapv, i, g) {
		const char *pn = ec_json_get_str(g, "persona", ""), *st = ec_json_get_str(g, "status", "");
		const ec_persona *reg = ec_registry_find(&a->reg, pn);
		const who *w = find_who(a, pn);
		const char *area = area_of(a, pn);
		int level = reg ? ec_priority_rank(reg->gap_priority) : EC_RM_LOW;
		ec_buf d = { 0 }, m = { 0 };
		if (w && w->required && level < EC_RM_HIGH)
			level = EC_RM_HIGH;
		if (!strcmp(st, "skipped") || (w && w->out))
			ec_buf_printf(&d, "No %s review: %s %s (%s)", area, pn,
			    !strcmp(st, "skipped") ? "was skipped" : "failed", ec_json_get_str(g, "reason", ""));
		else
			ec_buf_printf(&d, "No %s review: %s did not run or its output was not given", area, pn);
		if (!strcmp(st, "skipped"))
			ec_buf_printf(&m, "Include %s in the review, or ", pn);
		else
			ec_buf_printf(&m, "Rerun the review with 'epic resume %s' once %s is available; until then ",
			    task, pn);
		if (reg && reg->gap_advice)
			ec_buf_printf(&m, "%s", reg->gap_advice);
		else
			ec_buf_printf(&m, "review what %s covers by hand before work starts", pn);
		if (risk_set(&v[nv++], level, area, pn, &d, &m) < 0)
			goto nomem;
	}
	qsort(v, nv, sizeof *v, by_risk);
	for (i = 0; i < nv; i++) {
		if (v[i].level > overall)
			overall = v[i].level;
		json_array_append_new(list, v[i].j);
	}
	free(v);
	free(ids);
	return json_pack("{s:s, s:o}", "overall", ec_priority_name(overall), "risks", list);
nomem:
	for (i = 0; v && i < nv; i++)
		json_decref(v[i].j);
	free(v);
	free(ids);
	json_decref(list);
	return NULL;
}

/* Report a line of checkpoints.jsonl that is not an event. */
static void
report_line(const char *msg, void *arg)
{
	(void)arg;
	ec_warn("%s", msg);
}

/*
 * createdAt and completedAt: the earliest and the latest "time" in the checkpoints
 * file when one is given, exists and holds any (written in UTC); else both the mtime
 * of the newest input file, to the second. *exec: the sum over the personas of the
 * durationMs of each one's latest "after" event (persona-run logs its wall time
 * there, never in the output), or -1 when none is logged.
 */
static int
timestamps(const char *ckpt, char **files, size_t nfiles, char *created,
    char *completed, size_t cap, double *exec, ec_err *e)
{
	long long lo_s = 0, hi_s = 0;
	long lo_n = 0, hi_n = 0;
	int any = 0;

	*exec = -1;

	/* No checkpoints file yet is no checkpoint yet: fall back to the inputs. Lines
	 * that are not events are skipped as every reader skips them (events.c). */
	if (ckpt) {
		ec_events evs;
		json_t *last = json_object(), *v;
		const char *k;
		if (ec_events_read(ckpt, &evs, report_line, NULL, e) < 0) {
			json_decref(last);
			return -1;
		}
		for (size_t i = 0; i < evs.n; i++) {
			long long s;
			long ns;
			char utc[96];
			if (!strcmp(evs.v[i].event, "after") &&
			    (v = json_object_get(evs.v[i].j, "durationMs")))
				json_object_set(last, evs.v[i].persona, v);
			if (ec_time_parse(evs.v[i].time, &s, &ns, utc, sizeof utc) < 0)
				continue;       /* past year 9999 in UTC: not a time to print */
			if (!any || s < lo_s || (s == lo_s && ns < lo_n))
				lo_s = s, lo_n = ns, snprintf(created, cap, "%s", utc);
			if (!any || s > hi_s || (s == hi_s && ns > hi_n))
				hi_s = s, hi_n = ns, snprintf(completed, cap, "%s", utc);
			any = 1;
		}
		ec_events_free(&evs);
		json_object_foreach(last, k, v)
			*exec = (*exec < 0 ? 0 : *exec) + json_number_value(v);
		json_decref(last);
	}
	if (!any) {
		time_t newest = 0;
		struct tm tm;
		struct stat st;
		for (size_t i = 0; i < nfiles; i++)
			if (strcmp(files[i], "-") && stat(files[i], &st) == 0 && st.st_mtime > newest)
				newest = st.st_mtime;
		if (newest == 0)
			newest = time(NULL);    /* only standard input: nothing else to go by */
		gmtime_r(&newest, &tm);
		strftime(created, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(completed, cap, "%s", created);
	}
	return 0;
}

/* Tool and rule base versions: "epic-aggregate", each engine seen, each persona. */
static json_t *
tool_versions(const agg *a)
{
	json_t *seen = json_object(), *tv = json_object(), *set, *x;
	const char *k;

	json_object_set_new(tv, "epic-aggregate", json_string(EC_VERSION));
	for (size_t i = 0; i < a->nout; i++) {
		const char *engine = ec_json_get_str(a->outs[i], "metadata.engine", NULL);
		const char *pn = ec_json_get_str(a->outs[i], "persona.name", "");
		char name[256];
		if (engine && *engine) {
			const char *sp = strrchr(engine, ' ');
			snprintf(name, sizeof name, "%.*s", sp ? (int)(sp - engine) : (int)strlen(engine), engine);
			if (!(set = json_object_get(seen, name)))
				json_object_set_new(seen, name, set = json_object());
			json_object_set(set, sp && sp[1] ? sp + 1 : "unknown", json_true());
		}
		if (!(set = json_object_get(seen, pn)))
			json_object_set_new(seen, pn, set = json_object());
		json_object_set(set, ec_json_get_str(a->outs[i], "metadata.version", "unknown"), json_true());
	}
	/* More than one version of a name: all of them, sorted, comma-separated. */
	json_object_foreach(seen, k, set) {
		json_t *vs = sorted_keys(set);
		ec_buf b = { 0 };
		size_t i;
		json_array_foreach(vs, i, x)
			ec_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(x));
		if (strcmp(k, "epic-aggregate"))
			json_object_set_new(tv, k, sb_json(&b));
		else
			free(ec_buf_take(&b));
		json_decref(vs);
	}
	json_decref(seen);
	return tv;
}

/*
 * The epic's priority when the request gives none: critical with a blocking
 * critical recommendation; high with three or more blocking ones or any critical
 * one; low with no blocking one and at most three in all; medium otherwise.
 */
static const char *
derive_priority(const agg *a)
{
	size_t blocking = 0, crit = 0, bcrit = 0;

	for (size_t i = 0; i < a->m.nr; i++) {
		blocking += a->m.r[i].blocking == 1;
		crit += a->m.r[i].prio == EC_RM_CRITICAL;
		bcrit += a->m.r[i].blocking == 1 && a->m.r[i].prio == EC_RM_CRITICAL;
	}
	if (bcrit)
		return "critical";
	if (blocking >= 3 || crit)
		return "high";
	if (blocking == 0 && a->m.nr <= 3)
		return "low";
	return "medium";
}

/* Build the whole EpicResponse. New reference, or NULL with e filled. */
static json_t *
response(agg *a, const char *created, const char *completed, ec_err *e)
{
	json_t *q = a->request, *recs = json_array(), *personas = json_array(), *gapv, *rm, *cost, *riskv;
	json_t *skipped = json_array(), *g, *resp;
	/* The request's own currency and day rate win over the config's (schema doc). */
	const char *cur = ec_json_get_str(a->request, "metadata.currency",
	    ec_json_get_str(a->cfg, "costs.currency", "EUR"));
	json_t *ratej = ec_json_get(a->request, "metadata.dayRate");
	double rate, tmin, tmax, exec = 0;
	const char *status = "complete";
	size_t i, completed_n = 0, blocking = 0;
	char hex[17], id[32], dur[64], budget[128], total[256], days[96];

	if (!json_is_number(ratej))
		ratej = ec_json_get(a->cfg, "costs.dayRate");
	rate = json_is_number(ratej) ? json_number_value(ratej) : 800;
	for (i = 0; i < a->m.nr; i++) {
		json_array_append_new(recs, recommendation(a, i));
		blocking += a->m.r[i].blocking == 1;
	}
	for (i = 0; i < a->nout; i++) {
		json_array_append(personas, a->outs[i]);
		exec += json_number_value(ec_json_get(a->outs[i], "persona.executionTime"));
		completed_n += !strcmp(ec_json_get_str(a->outs[i], "persona.status", ""), "completed");
	}
	if (a->exec_ms >= 0)
		exec = a->exec_ms;      /* measured and logged, rather than what outputs say */
	gapv = gaps(a);
	json_array_foreach(gapv, i, g)
		json_array_append(skipped, json_object_get(g, "persona"));
	if (json_array_size(gapv))
		status = "partial";
	for (i = 0; i < a->nw; i++) {
		const char *st = status_of(&a->w[i]);
		if (a->w[i].required && (!st || strcmp(st, "completed")))
			status = "failed";
	}
	if (completed_n == 0)
		status = "failed";
	rm = roadmap(a);
	cost = costs(a, rate, cur, &tmin, &tmax);
	riskv = risks(a, gapv);
	ec_xxh3_hex(json_string_value(json_object_get(q, "taskId")),
	    json_string_length(json_object_get(q, "taskId")), hex);
	snprintf(id, sizeof id, "EPIC-%.12s", hex);
	ec_effort_duration_text(dur, sizeof dur, a->m.cp_min, a->m.cp_max);
	ec_budget_text(budget, sizeof budget, cur, ec_round2(tmin * rate), ec_round2(tmax * rate));
	ec_effort_days_text(days, sizeof days, tmin, tmax);
	snprintf(total, sizeof total, "%s (%s)", days, budget);
	resp = json_pack("{s:{s:s, s:O, s:O, s:s, s:s, s:s, s:s, s:s,"
	    " s:{s:s, s:s, s:O, s:b, s:o, s:O, s:o},"
	    " s:o, s:o*, s:o*, s:o*, s:o, s:o},"
	    " s:{s:I, s:I, s:I, s:s, s:I, s:o}}",
	    "epic",
	    "id", id,
	    "title", json_object_get(q, "title"),
	    "description", json_object_get(q, "description"),
	    "priority", ec_json_get_str(q, "metadata.priority", derive_priority(a)),
	    "estimatedDuration", dur,
	    "criticalPathDuration", dur,
	    "budget", budget,
	    "status", status,
	    "metadata",
	    "createdAt", created,
	    "completedAt", completed,
	    "reviewMode", json_object_get(q, "mode"),
	    "devopsEnforced", json_is_true(json_object_get(q, "enforceDevops")),
	    "totalExecutionTime", num(exec),
	    "taskId", json_object_get(q, "taskId"),
	    "toolVersions", tool_versions(a),
	    "personas", personas,
	    "implementationRoadmap", rm,
	    "totalCostBreakdown", cost,
	    "riskAssessment", riskv,
	    "recommendations", recs,
	    "gaps", gapv,
	    "summary",
	    "totalRecommendations", (json_int_t)a->m.nr,
	    "blockingCount", (json_int_t)blocking,
	    "suggestedCount", (json_int_t)(a->m.nr - blocking),
	    "estimatedTotalCost", total,
	    "personasCompleted", (json_int_t)completed_n,
	    "personasSkipped", skipped);
	if (!resp)
		ec_fail(e, EC_EXIT_TEMP, "out of memory");
	return resp;
}

static void
agg_free(agg *a)
{
	for (size_t i = 0; i < a->nout; i++)
		json_decref(a->outs[i]);
	ec_roadmap_free(&a->m);
	free(a->outs), free(a->files), free(a->w);
	json_decref(a->cfg);
	json_decref(a->request);
	ec_registry_free(&a->reg);
}

/*
 * The result as this tool made it, against the EpicResponse schema: all of it but
 * the persona outputs it embeds (half the work), which were checked, or vouched for
 * by their stamps, as they were read, and are embedded unchanged. Only with
 * EPIC_SELF_CHECK=1, as the test suite runs: it is a check of this program, not of
 * its input, and it cost a millisecond of every epic (a third of this tool's own
 * work), while every reader of an epic.json checks it at its door anyway
 * (ec_result_load, epic-checkpoint verify).
 */
static int
self_check(const json_t *resp, char *bad, ec_err *e)
{
	const char *on = getenv("EPIC_SELF_CHECK");
	json_t *shallow, *epic;
	int r;

	if (!on || strcmp(on, "1"))
		return 0;
	shallow = json_copy((json_t *)resp);
	epic = json_copy(json_object_get(resp, "epic"));
	if (!shallow || !epic) {
		json_decref(shallow);
		json_decref(epic);
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	}
	json_object_set_new(epic, "personas", json_array());
	json_object_set_new(shallow, "epic", epic);
	r = ec_schema_validate("epic-response", shallow, bad, e);
	json_decref(shallow);
	return r;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "checkpoints", required_argument, NULL, 'k' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *ckpt = NULL, *out = NULL;
	char created[64], completed[64], bad[512];
	agg a = { 0 };
	json_t *resp, *x;
	ec_err e;
	size_t i;
	int c, stdin_used = 0;

	ec_setprogname(argv[0]);
	ec_proc_forward_signals();      /* hooks run in process groups of their own */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:ho:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'k': ckpt = optarg; break;
		case 'o': out = optarg; break;
		case 'V': printf("epic-aggregate %s\n", EC_VERSION); return EC_EXIT_OK;
		case ':':
			ec_warn("option '%s' needs an argument", argv[optind - 1]);
			usage(EC_EXIT_USAGE);
			break;
		default:
			if (optopt)
				ec_warn("unknown option '-%c'", optopt);
			else
				ec_warn("unknown option '%s'", argv[optind - 1]);
			usage(EC_EXIT_USAGE);
		}
	}
	if (argc - optind < 2) {
		ec_warn(argc - optind < 1 ? "missing the request and the persona outputs" :
		    "missing the persona outputs");
		usage(EC_EXIT_USAGE);
	}
	for (i = (size_t)optind; i < (size_t)argc; i++)
		if (strcmp(argv[i], "-") == 0 && stdin_used++) {
			ec_warn("standard input ('-') named more than once");
			usage(EC_EXIT_USAGE);
		}

	if (!(a.m.warnings = json_array()))
		ec_die(EC_EXIT_TEMP, "out of memory");
	if (!(a.cfg = ec_config_load(config, &e)))
		ec_die_err(&e);
	/* The registry says which personas the review was meant to have and which of
	 * them are required; without it no status can be given. */
	if (ec_registry_load(&a.reg, &e) < 0 || ec_registry_configure(&a.reg, a.cfg, &e) < 0 ||
	    load_request(&a, argv[optind], &e) < 0 ||
	    load_outputs(&a, argv + optind + 1, (size_t)(argc - optind - 1), &e) < 0 ||
	    hook_outputs(&a, &e) < 0 || plan(&a, &e) < 0 || recommendations(&a, &e) < 0 ||
	    timestamps(ckpt, argv + optind, (size_t)(argc - optind), created, completed,
	    sizeof created, &a.exec_ms, &e) < 0) {
		agg_free(&a);
		ec_die_err(&e);
	}
	json_array_foreach(a.m.warnings, i, x)
		ec_warn("%s", json_string_value(x));
	if (!(resp = response(&a, created, completed, &e))) {
		agg_free(&a);
		ec_die_err(&e);
	}
	/* An invalid result is a bug here, never the input's fault: say so, write nothing. */
	if (self_check(resp, bad, &e) < 0) {
		json_decref(resp);
		agg_free(&a);
		ec_die(EC_EXIT_TEMP, "internal error: the result does not match the EpicResponse schema: %s",
		    e.msg);
	}
	/* after-completion hooks (notifications, exports): a failing one is reported and
	 * the result kept, since the review itself is done. */
	{
		json_t *h = ec_hooks_run("after-completion", resp, ec_json_get_str(a.request, "taskId", NULL),
		    NULL, &e);
		if (!h)
			ec_warn("%s (the result is kept)", e.msg);
		else if (h != resp && ec_schema_validate("epic-response", h, NULL, &e) < 0) {
			ec_warn("after-completion hook output: %s (the result is kept)", e.msg);
			json_decref(h);
		} else {
			json_decref(resp);
			resp = h;
		}
	}
	if (ec_json_write(out, resp, EC_W_FSYNC | EC_W_IFCHANGED, &e) < 0) {
		json_decref(resp);
		agg_free(&a);
		ec_die_err(&e);
	}
	json_decref(resp);
	agg_free(&a);
	ec_exit(ec_close_stdout());
}
