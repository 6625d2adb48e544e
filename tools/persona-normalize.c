/*
 * persona-normalize - any persona's raw output -> a canonical PersonaOutput.
 *
 * The second half of a command persona's chain in the task pipeline:
 * persona-run writes personas/NN-NAME.raw.json (whatever the agent printed), and
 * this tool makes personas/NN-NAME.json of it, the persona's checkpoint: JSON
 * found in prose or a fence, names and enums mapped, ids assigned, duplicates
 * dropped, costs parsed, strings sanitised, PII redacted, the contract checked.
 * What cannot be made into a PersonaOutput is rejected with exit 1 and one line
 * naming the file and the position or JSON path, and nothing is written, so
 * persona-run can retry the persona. The work is ec_normalize() in
 * tools/lib/normalize.c; persona-normalize(1) documents its tables.
 */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

static const char usage_text[] =
    "usage: persona-normalize -p NAME [-n ORDER] [-P VERSION] [-i PREFIX] [-o FILE]\n"
    "                         [--stamp FILE] [FILE | -]\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nNormalize a persona's raw output (JSON, or text with JSON in it) into a\n"
		    "canonical PersonaOutput and write it as canonical JSON.\n\n"
		    "  -p, --persona NAME          the persona (persona.name; id prefix)\n"
		    "  -n, --order N               persona.reviewOrder (default: the registration's)\n"
		    "  -P, --persona-version V     metadata.version when the output has none\n"
		    "                              (default: the registration's)\n"
		    "  -i, --id-prefix PREFIX      prefix of new recommendation ids (default: from\n"
		    "                              the persona name, e.g. SEC)\n"
		    "  -o, --output FILE           write to FILE atomically (default stdout)\n"
		    "      --stamp FILE            after writing, put the output's xxh3 in FILE\n"
		    "                              (make's stamp; a launcher checks it on resume)\n"
		    "  -h, --help                  this help\n"
		    "  -V, --version               print the version\n\n"
		    "Exit: 0 ok, 1 output rejected, 2 usage, 111 temporary failure.\n", stdout);
	ec_exit(code);
}

/* A persona name as the contract has it: [a-z0-9][a-z0-9-]{0,62}. */
static int
persona_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 && *s != '-' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int
prefix_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 2 && n <= 6 && *s >= 'A' && *s <= 'Z' &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n;
}

/*
 * Take what the command line left open (review order, version, id prefix) from the
 * persona's registration. Without --order the persona must be registered (exit 2 if not; a
 * broken registry is exit 1 or 111, as ec_registry_load says). With --order a
 * registry that cannot be loaded only costs the version default.
 */
static void
from_registry(const char *persona, int *order, char **version, char **prefix)
{
	ec_registry reg;
	const ec_persona *p;
	ec_err e;

	if (ec_registry_load(&reg, &e) < 0) {
		if (*order < 0)
			ec_die_err(&e);
		return;
	}
	if (!(p = ec_registry_find(&reg, persona))) {
		ec_registry_free(&reg);
		if (*order < 0) {
			ec_warn("persona '%s' is not registered: give its review order with --order",
			    persona);
			usage(EC_EXIT_USAGE);
		}
		return;
	}
	if (*order < 0)
		*order = p->review_order;
	if ((!*version && p->version && !(*version = strdup(p->version))) ||
	    (!*prefix && p->id_prefix && !(*prefix = strdup(p->id_prefix))))
		ec_die(EC_EXIT_TEMP, "out of memory");
	ec_registry_free(&reg);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "card 1, email 2" (kinds sorted) from metadata.redactions, and their total. */
static size_t
redaction_summary(const json_t *out, char *buf, size_t cap)
{
	const json_t *red = ec_json_get(out, "metadata.redactions");
	const char *k, *keys[64];
	json_t *v;
	size_t total = 0, n = 0, nk = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)red, k, v)
		if (nk < sizeof keys / sizeof *keys)
			keys[nk++] = k;
	qsort(keys, nk, sizeof *keys, cmp_str);
	for (size_t i = 0; i < nk; i++) {
		json_int_t c = json_integer_value(json_object_get(red, keys[i]));
		total += (size_t)c;
		if (n < cap)
			n += (size_t)snprintf(buf + n, cap - n, "%s%s %lld", n ? ", " : "", keys[i],
			    (long long)c);
	}
	return total;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "id-prefix", required_argument, NULL, 'i' },
		{ "order", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "persona", required_argument, NULL, 'p' },
		{ "persona-version", required_argument, NULL, 'P' },
		{ "stamp", required_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *persona = NULL, *prefix = NULL, *stamp = NULL, *file, *name;
	char *version = NULL, *reg_prefix = NULL, *buf, summary[256], *end;
	ec_norm_opts o;
	json_t *j;
	ec_err e;
	size_t len, total;
	long order = -1;
	int c, iorder;

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "hi:n:o:P:p:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(EC_EXIT_OK); break;
		case 'i':
			if (!prefix_ok(optarg)) {
				ec_warn("invalid id prefix '%s': expected 2 to 6 of A-Z and 0-9, "
				    "starting with a letter", optarg);
				usage(EC_EXIT_USAGE);
			}
			prefix = optarg;
			break;
		case 'n':
			order = strtol(optarg, &end, 10);
			if (!*optarg || *end || order < 1 || order > 99) {
				ec_warn("invalid review order '%s': expected 1 to 99", optarg);
				usage(EC_EXIT_USAGE);
			}
			break;
		case 'o': out = optarg; break;
		case 'P':
			if (!*optarg) {
				ec_warn("empty persona version");
				usage(EC_EXIT_USAGE);
			}
			free(version);
			if (!(version = strdup(optarg)))
				ec_die(EC_EXIT_TEMP, "out of memory");
			break;
		case 'p':
			if (!persona_name_ok(optarg)) {
				ec_warn("invalid persona name '%s': expected [a-z0-9][a-z0-9-]*", optarg);
				usage(EC_EXIT_USAGE);
			}
			persona = optarg;
			break;
		case 'S': stamp = optarg; break;
		case 'V': printf("persona-normalize %s\n", EC_VERSION); return EC_EXIT_OK;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (!persona) {
		ec_warn("missing --persona NAME");
		usage(EC_EXIT_USAGE);
	}
	if (!(file = ec_operand(argc - optind, argv + optind, "raw output file")))
		usage(EC_EXIT_USAGE);
	name = strcmp(file, "-") ? file : "<stdin>";

	iorder = (int)order;
	if (iorder < 0 || !version || !prefix)
		from_registry(persona, &iorder, &version, &reg_prefix);
	if (!(buf = ec_read_file(file, EC_MAX_JSON_BYTES, &len, &e)))
		ec_die_err(&e);
	o.persona = persona;
	o.review_order = iorder;
	o.version = version;
	o.id_prefix = prefix ? prefix : reg_prefix;
	j = ec_normalize(buf, len, name, &o, &e);
	free(buf);
	free(version);
	free(reg_prefix);
	if (!j)
		ec_die_err(&e);
	/* Redactions are worth a line in the task log: someone's personal data
	 * reached an agent's answer. */
	if ((total = redaction_summary(j, summary, sizeof summary)) > 0)
		ec_warn("%s: %zu PII %s redacted (%s)", name, total, total == 1 ? "item" : "items",
		    summary);
	/* Not synced: remade from the raw output, and checked against the stamp on
	 * resume (stamp.c). */
	if (ec_json_write(out, j, EC_W_IFCHANGED, &e) < 0 ||
	    (stamp && out && strcmp(out, "-") &&
	    ec_stamp_write(stamp, (const char *const[]){ out }, 1, &e) < 0)) {
		json_decref(j);
		ec_die_err(&e);
	}
	json_decref(j);
	ec_exit(ec_close_stdout());
}
