/*
 * epic - the front door, git-style: `epic CMD ARGS` runs a built-in command or
 * the program epic-CMD (next to this one, else on $PATH).
 *
 * Built in: run (one request through the whole pipeline, the EpicResponse on
 * stdout, so `epic run - < epic.txt | jq .summary` works), resume, personas and
 * help. status, hold, release, requeue and delete are epic-queue's. A mistyped
 * command is answered with the nearest known one. `epic run` uses the same spool
 * as the watcher, so one-shot runs share the cache and the audit trail, and a
 * request run twice is the same task.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ec.h"
#include "llm.h"
#include "roles.h"

static const char usage_text[] =
    "usage: epic run [--mode MODE] [--select all|auto] [--enforce-devops] [--exclude P,...]\n"
    "                [-o FILE] [--spool DIR] [--config FILE] [-j N] [FILE | -]\n"
    "       epic resume [--spool DIR] [--config FILE] [-o FILE] ID\n"
    "       epic status [--json] [--spool DIR] [--wait [--timeout S]] [ID]\n"
    "       epic hold | release | requeue | delete [--spool DIR] ID ...\n"
    "       epic personas\n"
    "       epic help [CMD]\n"
    "       epic CMD [ARG ...]   (runs epic-CMD)\n";

/* The built-in commands' own usage: synopsis, then what --help adds. */
static const struct {
	const char *name, *synopsis, *help;
} builtins[] = {
	{ "run",
	    "usage: epic run [--mode MODE] [--select all|auto] [--enforce-devops] [--exclude P,...]\n"
	    "                [-o FILE] [--spool DIR] [--config FILE] [-j N] [FILE | -]\n",
	    "\nReview an epic with the six personas and print the EpicResponse.\n\n"
	    "  -m, --mode MODE       mvp, standard or enterprise (overrides the request)\n"
	    "  -S, --select WHICH    all personas, or auto: those the epic gives something\n"
	    "                        to assess, most relevant first (required ones always)\n"
	    "  -D, --enforce-devops  make the DevOps recommendations blocking\n"
	    "  -x, --exclude LIST    comma-separated personas to skip\n"
	    "  -o, --output FILE     write the EpicResponse to FILE (default stdout; on a\n"
	    "                        terminal only where it is: -o - for the JSON there)\n"
	    "  -s, --spool DIR       the spool (default $EPIC_SPOOL, then ./spool)\n"
	    "  -c, --config FILE     configuration file\n"
	    "  -j, --jobs N          personas run side by side (default\n"
	    "                        performance.maxConcurrentPersonas)\n"
	    "  -q, --quiet           no progress on stderr\n"
	    "  -h, --help            this help\n\n"
	    "Exit: 0 done, 1 request rejected (the task is in failed/), 2 usage,\n"
	    "111 temporary failure (the task is kept: epic resume ID).\n" },
	{ "resume",
	    "usage: epic resume [--spool DIR] [--config FILE] [-o FILE] [--quiet] ID\n",
	    "\nRun the kept task ID again from where it stopped (its make pipeline redoes only\n"
	    "what is missing or out of date) and print the EpicResponse.\n\n"
	    "  -o, --output FILE     write the EpicResponse to FILE (default stdout; on a\n"
	    "                        terminal only where it is: -o - for the JSON there)\n"
	    "  -s, --spool DIR       the spool (default $EPIC_SPOOL, then ./spool)\n"
	    "  -c, --config FILE     configuration file\n"
	    "  -q, --quiet           no progress on stderr\n"
	    "  -h, --help            this help\n\n"
	    "Exit: 0 done, 1 rejected or no such task, 2 usage, 111 temporary failure.\n" },
	{ "personas",
	    "usage: epic personas\n",
	    "\nThe registered personas: review order, required or optional, rules or command,\n"
	    "timeout, version and whether it can run; a table on a terminal, JSON otherwise.\n\n"
	    "Exit: 0 ok, 1 a registration or the configuration is wrong, 111 I/O.\n" },
	{ NULL, NULL, NULL },
};

/* Every command, with what it does: `epic help` lists them and a mistyped command
 * is matched against them. Those not built in run epic-NAME. */
static const struct {
	const char *name, *what;
} commands[] = {
	{ "run", "review one request with the personas; print the EpicResponse" },
	{ "resume", "run a kept task again from where it stopped" },
	{ "status", "every request and task in every queue; one task; --wait for it" },
	{ "personas", "the registered personas and whether they can run" },
	{ "submit", "drop a request into the spool's incoming/ for the watcher" },
	{ "show", "a finished epic on the terminal, in about sixty lines" },
	{ "render", "a finished epic as one document: Markdown or accessible HTML" },
	{ "export", "a finished epic as a backlog: Jira, GitHub, Azure DevOps, CSV" },
	{ "diff", "what changed between two results" },
	{ "hold", "keep a waiting request or a deferred task from the watcher" },
	{ "release", "give a held request or task back to the watcher" },
	{ "requeue", "run a failed, done or deferred task again" },
	{ "delete", "remove a request or a task that is not running" },
	{ "cache", "the persona output cache: stats, purge, verify" },
	{ "purge", "apply the config's retention: limits: old results, cache, metrics" },
	{ "forget", "erase every trace of one person's requests, or of one task" },
	{ "watch", "the spool daemon: review every request dropped into the spool" },
	{ "audit", "the audit log: verify its hash chain, show its end, rotate it" },
	{ "key", "the keys of encryption at rest: new, list, rotate, cat" },
	{ "health", "is the pipeline healthy? JSON, a Nagios check, Prometheus metrics" },
	{ "help", "this overview, or one command's help" },
	{ NULL, NULL },
};

/* The commands epic-queue runs (`epic status` is `epic-queue status`). */
static const char *const queue_cmds[] = { "status", "hold", "release", "requeue", "delete", NULL };

/* The built-in command whose usage usage() prints (main sets it); NULL: all. */
static const char *help_cmd;

/* Is name an epic-NAME program next to this one (not one of commands[])? */
static int
other_tool(const char *name)
{
	for (size_t i = 0; commands[i].name; i++)
		if (!strcmp(commands[i].name, name))
			return 0;
	return 1;
}

/* The programs epic-NAME next to this one that commands[] does not list, sorted:
 * names into v (cap), their count returned. Each is the caller's to free. */
static size_t
other_tools(char **v, size_t cap)
{
	struct dirent **names;
	char path[PATH_MAX];
	size_t k = 0;
	int n = scandir(ec_bindir(), &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		snprintf(path, sizeof path, "%s/%s", ec_bindir(), nm);
		if (k < cap && !strncmp(nm, "epic-", 5) && nm[5] && !strchr(nm, '.') &&
		    other_tool(nm + 5) && access(path, X_OK) == 0)
			v[k++] = strdup(nm + 5);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	return k;
}

static void
usage(int code)
{
	FILE *f = code ? stderr : stdout;
	char *other[64];
	size_t n;

	for (size_t i = 0; help_cmd && builtins[i].name; i++)
		if (!strcmp(builtins[i].name, help_cmd)) {
			fputs(builtins[i].synopsis, f);
			if (!code)
				fputs(builtins[i].help, f);
			ec_exit(code);
		}
	fputs(usage_text, f);
	if (code)
		ec_exit(code);
	fputs("\nThe front door of epic-creator: review epics with the personas, one at a\n"
	    "time or through the spool and its watcher. 'epic help CMD' or 'epic CMD --help'\n"
	    "tells more of each.\n\nCommands:\n", f);
	for (size_t i = 0; commands[i].name; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].what);
	if ((n = other_tools(other, sizeof other / sizeof *other)) > 0) {
		fputs("\nAlso here (epic-CMD next to epic):\n ", f);
		for (size_t i = 0; i < n; i++) {
			fprintf(f, " %s", other[i]);
			free(other[i]);
		}
		fputc('\n', f);
	}
	fputs("\n  -h, --help            this help\n"
	    "  -V, --version         print the version\n\n"
	    "Exit: 0 ok, 1 input rejected, 2 usage, 111 temporary failure (each command's\n"
	    "page says more).\n", f);
	ec_exit(code);
}

static volatile int stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

typedef struct front {
	const char *spool, *config, *out;
	json_t *cfg;
	int jobs, quiet;
} front;

/* Load the config once; the options that default from it. */
static void
front_init(front *f)
{
	ec_err e;

	f->spool = ec_spool_root(f->spool);
	if (!(f->cfg = ec_config_load(f->config, &e)))
		ec_die_err(&e);
	f->config = ec_config_path(f->config);
	if (f->jobs <= 0)
		f->jobs = (int)ec_json_get_int(f->cfg, "performance.maxConcurrentPersonas", 3);
}

/* A task id from the command line must be one (ec_id_valid): "../x" is not. */
static void
check_id(const char *id)
{
	if (!ec_id_valid(id)) {
		ec_warn("invalid task id '%s': expected 1 to %d of [A-Za-z0-9._-], not starting "
		    "with '.' or '-'", id, EC_MAX_ID);
		usage(EC_EXIT_USAGE);
	}
}

/* -o FILE must be writable before the pipeline runs, not found wanting after it. */
static void
check_output(const char *out)
{
	struct stat st;
	char *dir;
	const char *slash;
	int ok;

	if (!out || !strcmp(out, "-"))
		return;
	if (stat(out, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			ec_die(EC_EXIT_USAGE, "cannot write '%s': is a directory", out);
		if (access(out, W_OK) != 0)
			ec_die(EC_EXIT_USAGE, "cannot write '%s': %s", out, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return;     /* /dev/stdout, a FIFO: written through */
	}
	slash = strrchr(out, '/');
	dir = slash ? strndup(out, slash == out ? 1 : (size_t)(slash - out)) : strdup(".");
	ok = dir && access(dir, W_OK) == 0;
	if (!ok)
		ec_die(EC_EXIT_USAGE, "cannot write '%s': %s", out, dir ? strerror(errno) : "out of memory");
	free(dir);
}

/*
 * The one line that says where a finished task's result is and how to read it:
 * "done: SPOOL/done/ID/epic.json (N recommendations, B blocking) — epic show ID",
 * with --spool when the spool is not the one epic show finds by itself. Written
 * to fp (stdout on a terminal instead of the JSON, else stderr after the
 * progress). Everything in it is escaped for the terminal.
 */
static void
say_done(FILE *fp, const front *f, const char *id, const char *buf, size_t len)
{
	json_t *res = ec_json_loadb(buf, len, "epic.json", NULL);
	char path[PATH_MAX + 64], esc[4 * (PATH_MAX + 64)], spool[2 * PATH_MAX], hint[2 * PATH_MAX + 32];
	long long n = ec_json_get_int(res, "summary.totalRecommendations", -1);
	long long b = ec_json_get_int(res, "summary.blockingCount", 0);

	snprintf(path, sizeof path, "%s/done/%s/epic.json", f->spool, id);
	ec_escape_controls(path, esc, sizeof esc);
	hint[0] = '\0';
	if (strcmp(f->spool, ec_spool_root(NULL)) != 0) {
		ec_buf w = { 0 };
		char *word;
		ec_sh_word(&w, f->spool);
		word = ec_buf_take(&w);
		snprintf(hint, sizeof hint, " --spool %s", word ? word : "?");
		free(word);
		ec_escape_controls(hint, spool, sizeof spool);
		snprintf(hint, sizeof hint, "%s", spool);
	}
	if (n >= 0)
		fprintf(fp, "done: %s (%lld recommendation%s, %lld blocking) \u2014 epic show%s %s\n",
		    esc, n, n == 1 ? "" : "s", b, hint, id);
	else
		fprintf(fp, "done: %s \u2014 epic show%s %s\n", esc, hint, id);
	fflush(fp);
	json_decref(res);
}

/*
 * Run the task and report: the EpicResponse on success (on stdout unless -o, but
 * on a terminal only the line that says where it is: nobody reads 100 KB of JSON
 * there), one line otherwise. With progress on, the same line ends the progress.
 */
/* One audit line of a one-shot run, with ids and states only (no request text):
 * "run" or "resume" before the task runs, "done", "failed" or "stopped" (kept, to
 * resume) after, by "epic run" or "epic resume". A line that cannot be written is a
 * warning: the run is not undone for it. */
static void
audit_run(const front *f, const char *id, const char *event, const char *cmd)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:s}", "event", event, "task", id,
	    "uid", (json_int_t)getuid(), "by", cmd);
	ec_err e;

	if (j && ec_audit(f->spool, j, &e) < 0)
		ec_warn("%s", e.msg);
	json_decref(j);
}

static int
run_task(front *f, const char *id, const char *cmd)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct sigaction sa = { .sa_handler = on_signal };
	ec_task_opts o = {
		.spool = f->spool, .config = f->config, .jobs = f->jobs,
		.timeout = (int)ec_json_get_int(f->cfg, "coordination.workflowTimeout", 1800),
		.progress = !f->quiet && isatty(2), .stop = &stop_requested,
	};
	int to_terminal = !f->out && isatty(1);
	ec_err e;
	size_t len;
	char *buf;
	int rc;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	audit_run(f, id, strcmp(cmd, "epic resume") ? "run" : "resume", cmd);
	rc = ec_task_run(id, &o, dir, sizeof dir, &e);
	audit_run(f, id, rc == 0 ? "done" : rc == EC_EXIT_TEMP ? "stopped" : "failed", cmd);
	if (rc != 0) {
		ec_warn("%s", e.msg);
		if (rc == EC_EXIT_TEMP && *dir)
			ec_warn("the task is kept in '%s'; resume it with: epic resume %s", dir, id);
		else if (rc == EC_EXIT_REJECT && *dir)
			ec_warn("the request and the reason are in '%s'", dir);
		return rc;
	}
	if (ec_view_publish(f->spool, f->cfg, id, &e) < 0)
		ec_warn("%s: no view copy: %s", id, e.msg);
	snprintf(path, sizeof path, "done/%s/epic.json", id);
	if (!(buf = ec_spool_read(f->spool, path, EC_MAX_JSON_BYTES, &len, 0, &e)) ||
	    (!to_terminal && ec_write_output(f->out, buf, len, EC_W_FSYNC, &e) < 0)) {
		free(buf);
		ec_die_err(&e);
	}
	if (to_terminal)
		say_done(stdout, f, id, buf, len);
	else if (o.progress)
		say_done(stderr, f, id, buf, len);
	free(buf);
	return EC_EXIT_OK;
}

/* What the command line overrides in the request. */
typedef struct overrides {
	const char *mode, *exclude, *select;
	int enforce;
} overrides;

/*
 * "registered: a, b, ..." into out: the registered personas, the one at index
 * first (the nearest to what was typed) before the others, which keep the review
 * order.
 */
static void
registered_list(const ec_registry *reg, int first, char *out, size_t cap)
{
	size_t o = 0;

	o += (size_t)snprintf(out, cap, "registered:");
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < reg->n && o < cap; i++)
			if ((pass == 0) == ((int)i == first))
				o += (size_t)snprintf(out + o, cap - o, "%s %s", o > 11 ? "," : "",
				    reg->v[i].name);
}

/*
 * --exclude names personas: each must be registered (or a custom persona of the
 * request) and not required, per the registry and the config, as epic-parse will
 * check. A mistake there is the command line's, so it is a usage error (exit 2)
 * said in one line with the nearest name, before anything is made in the spool;
 * the same mistake inside a request file stays that request's rejection.
 * 0, or the exit code with the line in msg (cap bytes).
 */
static int
check_exclude(const front *f, const json_t *req, const char *list, char *msg, size_t cap)
{
	json_t *custom = json_object_get(json_object_get(req, "options"), "customPersonas");
	char *copy, *tok, *save = NULL, names[2048];
	const char **cand;
	ec_registry reg;
	ec_err e;

	*msg = '\0';
	if (ec_registry_load(&reg, &e) < 0) {
		snprintf(msg, cap, "%s", e.msg);
		return e.code;
	}
	if (ec_registry_configure(&reg, f->cfg, &e) < 0) {
		ec_registry_free(&reg);
		snprintf(msg, cap, "%s", e.msg);
		return e.code;
	}
	copy = strdup(list);
	cand = calloc(reg.n + 1, sizeof *cand);
	if (!copy || !cand) {
		free(copy);
		free(cand);
		ec_registry_free(&reg);
		snprintf(msg, cap, "out of memory");
		return EC_EXIT_TEMP;
	}
	for (size_t i = 0; i < reg.n; i++)
		cand[i] = reg.v[i].name;
	for (tok = strtok_r(copy, ",", &save); tok && !*msg;
	    tok = strtok_r(NULL, ",", &save)) {
		const ec_persona *p = ec_registry_find(&reg, tok);
		json_t *pc;
		int k;
		if (!p && json_object_get(custom, tok))
			continue;       /* epic-parse judges the request's own personas */
		if (!p) {
			k = ec_nearest(tok, cand, reg.n);
			registered_list(&reg, k, names, sizeof names);
			if (k >= 0)
				snprintf(msg, cap, "unknown persona '%s' in --exclude: did you mean "
				    "'%s'? %s", tok, cand[k], names);
			else
				snprintf(msg, cap, "unknown persona '%s' in --exclude: %s", tok, names);
		} else if (p->required) {
			pc = json_object_get(json_object_get(f->cfg, "personas"), p->name);
			if (f->config && json_is_true(json_object_get(pc, "required")))
				snprintf(msg, cap, "cannot exclude '%s': it is required "
				    "(personas.%s.required in %s)", p->name, p->name, f->config);
			else
				snprintf(msg, cap, "cannot exclude '%s': it is required (by its "
				    "registration %s; personas.%s.required: false in the config changes "
				    "that)", p->name, p->reg_path, p->name);
		}
	}
	free(cand);
	free(copy);
	ec_registry_free(&reg);
	return *msg ? EC_EXIT_USAGE : 0;
}

/* Apply the command line's overrides to the request, which becomes JSON. */
static char *
override(const front *f, char *buf, size_t *len, const char *file, const overrides *o,
    const char **ext)
{
	json_t *req, *opts;
	ec_err e;
	char *out, msg[4096];
	int rc;

	if (!strcmp(*ext, "json")) {
		if (!(req = ec_json_loadb(buf, *len, strcmp(file, "-") ? file : "<stdin>", &e)))
			ec_die_err(&e);
		if (!json_is_object(req))
			ec_die(EC_EXIT_REJECT, "%s: $: expected an object (an EpicRequest)", file);
	} else
		req = json_pack("{s:s%}", "description", buf, *len);
	if (o->exclude && (rc = check_exclude(f, req, o->exclude, msg, sizeof msg))) {
		json_decref(req);
		free(buf);
		ec_die(rc, "%s", msg);
	}
	if (o->mode)
		json_object_set_new(req, "mode", json_string(o->mode));
	if (o->enforce)
		json_object_set_new(req, "enforceDevops", json_true());
	if (!json_is_object(opts = json_object_get(req, "options")) && (o->exclude || o->select))
		json_object_set_new(req, "options", opts = json_object());
	if (o->exclude) {
		json_t *list = json_array();
		char *copy = strdup(o->exclude), *tok, *save = NULL;
		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			json_array_append_new(list, json_string(tok));
		free(copy);
		json_object_set_new(opts, "excludePersonas", list);
	}
	if (o->select)
		json_object_set_new(opts, "select", json_string(o->select));
	out = ec_json_dumps(req);
	json_decref(req);
	free(buf);
	*len = strlen(out);
	*ext = "json";
	return out;
}

/*
 * The request's bytes from file, or from standard input for "-". A person at a
 * terminal is told that it is waiting for the epic there; an empty standard input
 * (nothing, or only white space: an early Ctrl-D, a forgotten redirection) is a
 * usage error with nothing made in the spool. An empty *file* is a request, and is
 * rejected like any other bad one (failed/, exit 1), as the watcher would.
 */
static char *
read_request(const char *file, size_t *len, ec_err *e)
{
	char *buf;
	size_t i;

	if (strcmp(file, "-") != 0)
		return ec_read_file(file, EC_MAX_REQUEST_BYTES, len, e);
	if (isatty(0))
		ec_warn("reading the epic from standard input (end with Ctrl-D; epic run --help for more)");
	if (!(buf = ec_read_file("-", EC_MAX_REQUEST_BYTES, len, e)))
		return NULL;
	for (i = 0; i < *len && ec_is_space((unsigned char)buf[i]); i++)
		;
	if (i == *len) {
		free(buf);
		ec_fail(e, EC_EXIT_USAGE, "empty request on standard input");
		return NULL;
	}
	return buf;
}

static int
cmd_run(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "enforce-devops", no_argument, NULL, 'D' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "mode", required_argument, NULL, 'm' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "select", required_argument, NULL, 'S' },
		{ "spool", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	front f = { 0 };
	overrides o = { 0 };
	const char *file, *ext;
	char id[EC_MAX_NAME + 16], *buf, *base;
	int c;
	size_t len;
	ec_err e;

	while ((c = getopt_long(argc, argv, "c:Dhj:m:o:qS:s:x:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': f.config = optarg; break;
		case 'D': o.enforce = 1; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'j': f.jobs = atoi(optarg); break;
		case 'm':
			if (!ec_mode_bit(optarg)) {
				ec_warn("unknown mode '%s': expected mvp, standard or enterprise", optarg);
				usage(EC_EXIT_USAGE);
			}
			o.mode = optarg;
			break;
		case 'o': f.out = optarg; break;
		case 'q': f.quiet = 1; break;
		case 'S':
			if (strcmp(optarg, "all") && strcmp(optarg, "auto")) {
				ec_warn("unknown selection '%s': expected all or auto", optarg);
				usage(EC_EXIT_USAGE);
			}
			o.select = optarg;
			break;
		case 's': f.spool = optarg; break;
		case 'x': o.exclude = optarg; break;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (!(file = ec_operand(argc - optind, argv + optind, "request file")))
		usage(EC_EXIT_USAGE);
	check_output(f.out);
	front_init(&f);
	if (!(buf = read_request(file, &len, &e)))
		ec_die_err(&e);
	ext = ec_request_ext(file, buf, len);
	if (o.mode || o.enforce || o.exclude || o.select)
		buf = override(&f, buf, &len, file, &o, &ext);
	base = strcmp(file, "-") ? ec_basename_noext(file) : strdup("stdin");
	if (ec_task_id(base, buf, len, id, sizeof id) < 0)
		ec_die(EC_EXIT_REJECT, "%s: cannot derive a task id", file);
	free(base);
	if (ec_task_create(f.spool, id, ext, buf, len, &e) < 0)
		ec_die_err(&e);
	free(buf);
	c = run_task(&f, id, "epic run");
	json_decref(f.cfg);
	return c;
}

static int
cmd_resume(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "spool", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	front f = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "c:ho:qs:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': f.config = optarg; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'o': f.out = optarg; break;
		case 'q': f.quiet = 1; break;
		case 's': f.spool = optarg; break;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (argc - optind != 1) {
		ec_warn("resume needs exactly one task id");
		usage(EC_EXIT_USAGE);
	}
	check_id(argv[optind]);
	check_output(f.out);
	front_init(&f);
	{
		/* Not a task: that one line, and no hint about resuming or where it is. */
		char dir[PATH_MAX];
		if (!ec_task_find(f.spool, argv[optind], dir, sizeof dir))
			ec_die(EC_EXIT_REJECT, "no task '%s' in '%s'", argv[optind], f.spool);
	}
	c = run_task(&f, argv[optind], "epic resume");
	json_decref(f.cfg);
	return c;
}

/* Run epic-queue CMD with the rest of argv (argv[0] is CMD): status, hold,
 * release, requeue and delete are its. Its messages say "epic". */
static int
exec_queue(int argc, char *argv[])
{
	char path[PATH_MAX], **args = calloc((size_t)argc + 2, sizeof *args);

	if (!args)
		ec_die(EC_EXIT_TEMP, "out of memory");
	args[0] = "epic";
	memcpy(args + 1, argv, (size_t)argc * sizeof *args);
	snprintf(path, sizeof path, "%s/epic-queue", ec_bindir());
	execv(path, args);
	execvp("epic-queue", args);
	ec_die(EC_EXIT_TEMP, "cannot run epic-queue: %s", strerror(errno));
}

/* epic status: epic-queue status, which lists the queues, shows one task (with
 * epic-checkpoint status, as before) or waits for it. */
static int
cmd_status(int argc, char *argv[])
{
	return exec_queue(argc, argv);
}

/* The optimal string alignment distance of a and b (edits, adjacent swaps
 * counting one), for suggesting a command; capped at 9 for long strings. */
static int
edit_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	int d[24][24];

	if (n > 22 || m > 22)
		return 9;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			int cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

/*
 * name is no command: say so, with the nearest known one when it is close (one
 * edit for a short name, two from five letters on, and less than half the
 * candidate), and exit 2.
 */
static void __attribute__((noreturn))
unknown_command(const char *name)
{
	char *other[64];
	size_t n = other_tools(other, sizeof other / sizeof *other);
	const char *best = NULL;
	int bestd = 99, limit = strlen(name) >= 5 ? 2 : 1;

	for (size_t i = 0; commands[i].name; i++) {
		int d = edit_distance(name, commands[i].name);
		if (d < bestd && d * 2 < (int)strlen(commands[i].name))
			best = commands[i].name, bestd = d;
	}
	for (size_t i = 0; i < n; i++) {
		int d = edit_distance(name, other[i]);
		if (d < bestd && d * 2 < (int)strlen(other[i]))
			best = other[i], bestd = d;
	}
	if (best && bestd <= limit)
		ec_warn("'%s' is not an epic command; did you mean '%s'?", name, best);
	else
		ec_warn("'%s' is not an epic command; see 'epic help'", name);
	for (size_t i = 0; i < n; i++)
		free(other[i]);
	ec_exit(EC_EXIT_USAGE);
}

/* Run epic-NAME with argv (argv[0] is NAME), from our own directory first, else
 * on PATH; a name that is none is unknown_command. */
static int
exec_command(const char *name, char *argv[])
{
	char path[PATH_MAX], prog[PATH_MAX];
	size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-");

	/* A command is a plain name: never a path, never an option. */
	if (n == 0 || name[n] != '\0' || name[0] == '-' || n > 64)
		unknown_command(name);
	snprintf(path, sizeof path, "%s/epic-%s", ec_bindir(), name);
	snprintf(prog, sizeof prog, "epic-%s", name);
	argv[0] = path;
	execv(path, argv);
	argv[0] = prog;
	execvp(prog, argv);
	unknown_command(name);
}

/* epic help [CMD]: the overview, a built-in's own usage, or CMD --help. */
static int
cmd_help(int argc, char *argv[])
{
	char *args[3] = { NULL, "--help", NULL };

	if (argc == 0)
		usage(EC_EXIT_OK);
	if (argc > 1) {
		ec_warn("help takes one command");
		usage(EC_EXIT_USAGE);
	}
	for (size_t i = 0; builtins[i].name; i++)
		if (!strcmp(builtins[i].name, argv[0])) {
			help_cmd = argv[0];
			usage(EC_EXIT_OK);
		}
	args[0] = argv[0];
	if (ec_in_list(queue_cmds, argv[0]))
		return exec_queue(2, args);
	return exec_command(argv[0], args);
}

/* For a persona that asks an LLM (persona-llm): the provider and model it asks,
 * settled as persona-llm settles them (the config's llm:, the registration's llm,
 * the config's personas.NAME.llm), into llm (an object) and desc ("anthropic
 * claude-..."). 0 when p is not such a persona. */
static int
llm_of(const ec_persona *p, const json_t *cfg, json_t *llm, char *desc, size_t cap)
{
	const char *prog = p->command && p->command[0] ? strrchr(p->command[0], '/') : NULL;
	json_t *reg, *conf;

	prog = prog ? prog + 1 : p->command ? p->command[0] : NULL;
	if (!prog || strcmp(prog, "persona-llm"))
		return 0;
	reg = ec_json_load_file(p->reg_path, EC_MAX_JSON_BYTES, NULL);
	conf = ec_llm_settings(cfg, reg, p->name);
	json_decref(reg);
	json_object_update(llm, conf);
	json_decref(conf);
	snprintf(desc, cap, "%s %s", ec_json_get_str(llm, "provider", "anthropic"),
	    ec_json_get_str(llm, "model", "(no model)"));
	return 1;
}

/* The registered personas: a table on a terminal, JSON otherwise. */
static int
cmd_personas(void)
{
	ec_registry reg;
	json_t *cfg, *arr = json_array();
	ec_err e;

	if (!(cfg = ec_config_load(NULL, &e)) || ec_registry_load(&reg, &e) < 0 ||
	    ec_registry_configure(&reg, cfg, &e) < 0)
		ec_die_err(&e);
	for (size_t i = 0; i < reg.n; i++) {
		const ec_persona *p = &reg.v[i];
		json_t *deps = json_array(), *modes = json_array();
		for (char **d = p->deps; d && *d; d++)
			json_array_append_new(deps, json_string(*d));
		if (p->modes & EC_MODE_MVP) json_array_append_new(modes, json_string("mvp"));
		if (p->modes & EC_MODE_STANDARD) json_array_append_new(modes, json_string("standard"));
		if (p->modes & EC_MODE_ENTERPRISE) json_array_append_new(modes, json_string("enterprise"));
		int ok = ec_persona_available(p);
		json_t *llm = json_object(), *row;
		char desc[300] = "";
		int agent = llm_of(p, cfg, llm, desc, sizeof desc);
		row = json_pack("{s:s, s:i, s:b, s:i, s:s, s:s, s:o, s:o, s:s, s:b}",
		    "name", p->name, "reviewOrder", p->review_order, "required", p->required,
		    "timeout", p->timeout, "version", p->version, "kind", p->rules_path ? "rules" : "command",
		    "dependencies", deps, "supportedModes", modes, "registration", p->reg_path,
		    "available", ok);
		if (agent && row) {
			json_object_set_new(row, "llm", json_pack("{s:s, s:s}", "provider",
			    ec_json_get_str(llm, "provider", "anthropic"), "model", ec_json_get_str(llm, "model", "")));
			if (p->fallback_rules)
				json_object_set_new(row, "fallback", json_string("rules"));
		}
		json_decref(llm);
		json_array_append_new(arr, row);
		if (isatty(1))
			printf("%2d  %-24s %-8s %-8s %5ds  v%-8s %s%s%s%s\n", p->review_order, p->name,
			    p->required ? "required" : "optional", p->rules_path ? "rules" : agent ? "agent" : "command",
			    p->timeout, p->version, ok ? "available" : "UNAVAILABLE", agent ? "  " : "", desc,
			    p->fallback_rules ? " (rules as fallback)" : "");
	}
	if (!isatty(1) && ec_json_write(NULL, arr, 0, &e) < 0)
		ec_die_err(&e);
	json_decref(arr);
	json_decref(cfg);
	ec_registry_free(&reg);
	return ec_close_stdout();
}

int
main(int argc, char *argv[])
{
	const char *cmd;

	ec_setprogname("epic");
	if (argc < 2)
		usage(EC_EXIT_USAGE);
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help"))
		usage(EC_EXIT_OK);
	if (!strcmp(cmd, "help"))
		return cmd_help(argc - 2, argv + 2);
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("epic %s\n", EC_VERSION);
		return EC_EXIT_OK;
	}
	if (cmd[0] == '-') {
		ec_warn("unknown option '%s'", cmd);
		usage(EC_EXIT_USAGE);
	}
	if (!strcmp(cmd, "run") || !strcmp(cmd, "resume")) {
		int rc;
		help_cmd = cmd;         /* their --help and usage errors: their own usage */
		rc = cmd[0] == 'r' && cmd[1] == 'u' ? cmd_run(argc - 1, argv + 1) :
		    cmd_resume(argc - 1, argv + 1);
		return rc ? rc : ec_close_stdout();
	}
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	if (ec_in_list(queue_cmds, cmd))
		return exec_queue(argc - 1, argv + 1);
	if (!strcmp(cmd, "personas")) {
		help_cmd = cmd;
		if (argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")))
			usage(EC_EXIT_OK);
		if (argc > 2) {
			ec_warn("unexpected argument '%s'", argv[2]);
			usage(EC_EXIT_USAGE);
		}
		return cmd_personas();
	}
	return exec_command(cmd, argv + 1);
}
