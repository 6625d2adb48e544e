/*
 * persona-rules - the built-in persona engine as a command.
 *
 * Reads one PersonaInput (the epic, its mode and what earlier personas found),
 * applies one persona's rule base (pipeline/personas/rules/NAME.json, format in
 * persona-rules(5)) and writes the PersonaOutput as canonical JSON. persona-run
 * does the same in-process for a task's pipeline; this command is for trying a
 * rule base by hand, for scripts and tests, and for checking rule bases (--check)
 * and listing the registered personas (--list). The engine itself is
 * ec_rules_apply() in tools/lib/rules.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ec.h"

static const char usage_text[] =
    "usage: persona-rules [-r FILE | -p NAME] [-o FILE] [FILE | -]\n"
    "       persona-rules -c FILE...\n"
    "       persona-rules -l\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nApply a persona's rule base to a PersonaInput and write its PersonaOutput.\n\n"
		    "  -r, --rules FILE     the rule base to apply\n"
		    "  -p, --persona NAME   the rule base of registered persona NAME (default: the\n"
		    "                       input's persona.name)\n"
		    "  -o, --output FILE    write the output to FILE atomically (default stdout)\n"
		    "  -c, --check          load and validate the rule bases FILE...\n"
		    "  -l, --list           list the registered personas\n"
		    "      --bench N        apply N times; print the median time on stderr\n"
		    "  -h, --help           this help\n"
		    "  -V, --version        print the version\n\n"
		    "Exit: 0 ok, 1 input rejected, 2 usage, 111 temporary failure.\n", stdout);
	ec_exit(code);
}

/* Is argv0 an executable file, as given or on $PATH? */
static int
executable(const char *argv0)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(argv0, '/'))
		return access(argv0, X_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p; ) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? p : ".", argv0);
		if (access(buf, X_OK) == 0)
			return 1;
		p += n + (colon ? 1 : 0);
	}
	return 0;
}

/*
 * Load a registered persona's rule base, which must say it serves that persona.
 * New reference, or NULL with e filled.
 */
static json_t *
registered_rules(const ec_persona *p, ec_err *e)
{
	json_t *rb = ec_rules_load(p->rules_path, e);
	const char *name = ec_json_get_str(rb, "persona", "");

	if (rb && strcmp(name, p->name) != 0) {
		ec_fail(e, EC_EXIT_REJECT, "%s: $.persona: expected '%s' (the name registered in "
		    "'%s'), got '%s'", p->rules_path, p->name, p->reg_path, name);
		json_decref(rb);
		return NULL;
	}
	return rb;
}

/*
 * --list: one line per registered persona, in review order, tab-separated:
 * name, order, version, modes, and whether it can run ("yes", or "no: why").
 * Returns 0, or 1 when a persona cannot run.
 */
static int
list(void)
{
	ec_registry reg;
	ec_err e;
	int rc = EC_EXIT_OK;

	if (ec_registry_load(&reg, &e) < 0)
		ec_die_err(&e);
	for (size_t i = 0; i < reg.n; i++) {
		const ec_persona *p = &reg.v[i];
		char modes[64] = "", why[sizeof e.msg + 8] = "yes";
		json_t *rb;

		if (p->modes & EC_MODE_MVP)
			strcat(modes, ",mvp");
		if (p->modes & EC_MODE_STANDARD)
			strcat(modes, ",standard");
		if (p->modes & EC_MODE_ENTERPRISE)
			strcat(modes, ",enterprise");
		if (p->rules_path) {
			if (!(rb = registered_rules(p, &e)))
				snprintf(why, sizeof why, "no: %s", e.msg);
			json_decref(rb);
		} else if (!p->command || !p->command[0] || !executable(p->command[0]))
			snprintf(why, sizeof why, "no: command '%s' not found",
			    p->command && p->command[0] ? p->command[0] : "");
		if (strcmp(why, "yes"))
			rc = EC_EXIT_REJECT;
		printf("%s\t%d\t%s\t%s\t%s\n", p->name, p->review_order, p->version,
		    *modes ? modes + 1 : "-", why);
	}
	ec_registry_free(&reg);
	return rc;
}

/* --check: load every rule base; stop at the first that is wrong. */
static int
check(int n, char **files)
{
	ec_err e;
	json_t *rb;

	if (n == 0) {
		ec_warn("--check needs at least one rule base");
		usage(EC_EXIT_USAGE);
	}
	for (int i = 0; i < n; i++) {
		if (!(rb = ec_rules_load(files[i], &e)))
			ec_die_err(&e);
		json_decref(rb);
	}
	return EC_EXIT_OK;
}

/* The rule base to apply: --rules, else the registered persona's (new reference). */
static json_t *
rule_base(const char *rules, const char *persona, const json_t *input, ec_err *e)
{
	ec_registry reg;
	const ec_persona *p;
	json_t *rb;

	if (rules)
		return ec_rules_load(rules, e);
	if (!persona)
		persona = ec_json_get_str(input, "persona.name", "");
	if (ec_registry_load(&reg, e) < 0)
		return NULL;
	if (!(p = ec_registry_find(&reg, persona))) {
		ec_fail(e, EC_EXIT_REJECT, "unknown persona '%s'", persona);
		rb = NULL;
	} else if (!p->rules_path) {
		ec_fail(e, EC_EXIT_REJECT, "persona '%s' is a command persona, not a rule base",
		    persona);
		rb = NULL;
	} else
		rb = registered_rules(p, e);
	ec_registry_free(&reg);
	return rb;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* --bench: apply n times and print the median wall time of one application. */
static void
bench(const json_t *rb, const json_t *input, long n)
{
	double *t = calloc((size_t)n, sizeof *t);
	struct timespec a, b;
	ec_err e;

	if (!t)
		ec_die(EC_EXIT_TEMP, "out of memory");
	for (long i = 0; i < n; i++) {
		json_t *out;
		clock_gettime(CLOCK_MONOTONIC, &a);
		out = ec_rules_apply(rb, input, &e);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (!out)
			ec_die_err(&e);
		json_decref(out);
		t[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
	}
	qsort(t, (size_t)n, sizeof *t, cmp_double);
	ec_warn("%s: median %.1f us, min %.1f us over %ld runs",
	    ec_json_get_str(input, "persona.name", "?"), t[n / 2], t[0], n);
	free(t);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "bench", required_argument, NULL, 'B' },
		{ "check", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "list", no_argument, NULL, 'l' },
		{ "output", required_argument, NULL, 'o' },
		{ "persona", required_argument, NULL, 'p' },
		{ "rules", required_argument, NULL, 'r' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *persona = NULL, *rules = NULL, *file, *name;
	json_t *input, *rb, *output;
	long nbench = 0;
	int c, cflag = 0, lflag = 0;
	char *end;
	ec_err e;

	ec_setprogname(argv[0]);
	argv[0] = (char *)ec_progname;     /* getopt's messages say "persona-rules: " */
	while ((c = getopt_long(argc, argv, "chlo:p:r:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'B':
			errno = 0;
			nbench = strtol(optarg, &end, 10);
			if (errno || *end || nbench < 1 || nbench > 10000000) {
				ec_warn("invalid --bench count '%s': expected 1 to 10000000", optarg);
				usage(EC_EXIT_USAGE);
			}
			break;
		case 'c': cflag = 1; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'l': lflag = 1; break;
		case 'o': out = optarg; break;
		case 'p': persona = optarg; break;
		case 'r': rules = optarg; break;
		case 'V': printf("persona-rules %s\n", EC_VERSION); return EC_EXIT_OK;
		default: usage(EC_EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (cflag + lflag > 1 || ((cflag || lflag) && (rules || persona || out || nbench))) {
		ec_warn("--check and --list go alone");
		usage(EC_EXIT_USAGE);
	}
	if (rules && persona) {
		ec_warn("--rules and --persona exclude each other");
		usage(EC_EXIT_USAGE);
	}
	if (cflag)
		return check(argc, argv);
	if (lflag) {
		if (argc > 0) {
			ec_warn("--list takes no arguments");
			usage(EC_EXIT_USAGE);
		}
		c = list();
		return c ? c : ec_close_stdout();
	}
	if (!(file = ec_operand(argc, argv, "input file")))
		usage(EC_EXIT_USAGE);
	name = strcmp(file, "-") ? file : "<stdin>";

	if (!(input = ec_json_load_file(file, EC_MAX_JSON_BYTES, &e)))
		ec_die_err(&e);
	if (ec_schema_validate("persona-input", input, NULL, &e) < 0) {
		ec_err_prefix(&e, "%s", name);
		ec_die_err(&e);
	}
	if (!(rb = rule_base(rules, persona, input, &e)))
		ec_die_err(&e);
	if (nbench)
		bench(rb, input, nbench);
	if (!(output = ec_rules_apply(rb, input, &e))) {
		ec_err_prefix(&e, "%s", name);
		ec_die_err(&e);
	}
	if (ec_json_write(out, output, EC_W_FSYNC | EC_W_IFCHANGED, &e) < 0)
		ec_die_err(&e);
	json_decref(output);
	json_decref(rb);
	json_decref(input);
	return out && strcmp(out, "-") ? EC_EXIT_OK : ec_close_stdout();
}
