/*
 * epic-export - a finished epic as a backlog a tracker can import: a Jira Cloud
 * CSV, a script of GitHub CLI commands (and a JSON array for the REST API), an
 * Azure Boards CSV, or a plain CSV for a spreadsheet.
 *
 * The epic becomes one item (an Epic), each of its recommendations one item
 * beneath it, in reading order (blocking first, then by priority), with a stable
 * external id (EPIC-162df74c9f8f/SEC-040), labels, the priority on the tracker's
 * scale and the dependencies as links. The formats live in tools/lib/export*.c;
 * this file reads the command line and the result and writes what they make.
 * Nothing is sent anywhere: the GitHub script does that when someone runs it.
 */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

static const char usage_text[] =
    "usage: epic-export --to jira-csv|github|azure-csv|csv [-o FILE] [--json FILE]\n"
    "                   [--item-type TYPE] [--spool DIR] [ID | FILE | -]\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nExport a finished epic (a task id, an epic.json, - for stdin; default the\n"
		    "newest finished task) as a backlog: the epic and one item per recommendation.\n\n"
		    "  -t, --to FORMAT       jira-csv   Jira Cloud CSV import (wiki markup)\n"
		    "                        github     a sh script of gh commands (Markdown)\n"
		    "                        azure-csv  Azure Boards work-item CSV import (HTML)\n"
		    "                        csv        plain CSV, one row per recommendation\n"
		    "  -o, --output FILE     write there (atomically) instead of stdout\n"
		    "  -j, --json FILE       github: also the issues as a JSON array for the REST API\n"
		    "  -i, --item-type TYPE  jira-csv, azure-csv: the items' type (default Story,\n"
		    "                        User Story)\n"
		    "  -s, --spool DIR       the spool (default $EPIC_SPOOL, then ./spool)\n"
		    "  -h, --help            this help\n"
		    "  -V, --version         print the version\n\n"
		    "Exit: 0 written, 1 the result was rejected (not found, not an EpicResponse),\n"
		    "2 usage, 111 temporary failure (I/O).\n", stdout);
	ec_exit(code);
}

enum { TO_NONE, TO_JIRA, TO_GITHUB, TO_AZURE, TO_CSV };

/* Write buf to path ("-" or NULL: stdout), or die with the error. */
static void
write_out(const char *path, char *buf)
{
	ec_err e;

	if (!buf)
		ec_die(EC_EXIT_TEMP, "out of memory");
	if (ec_write_output(path, buf, strlen(buf), 0, &e) < 0) {
		free(buf);
		ec_die_err(&e);
	}
	free(buf);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "item-type", required_argument, NULL, 'i' },
		{ "json", required_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "spool", required_argument, NULL, 's' },
		{ "to", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL, *jsonpath = NULL, *spool = NULL, *item_type = NULL, *arg = NULL;
	char name[PATH_MAX + 64];
	ec_buf out = { 0 }, js = { 0 };
	ec_export x;
	json_t *result;
	ec_err e;
	int c, to = TO_NONE, rc;

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "hi:j:o:s:t:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(EC_EXIT_OK); break;
		case 'i': item_type = optarg; break;
		case 'j': jsonpath = optarg; break;
		case 'o': output = optarg; break;
		case 's': spool = optarg; break;
		case 't':
			to = !strcmp(optarg, "jira-csv") ? TO_JIRA : !strcmp(optarg, "github") ? TO_GITHUB :
			    !strcmp(optarg, "azure-csv") ? TO_AZURE : !strcmp(optarg, "csv") ? TO_CSV : -1;
			if (to < 0) {
				ec_warn("unknown format '%s': expected jira-csv, github, azure-csv or csv",
				    optarg);
				usage(EC_EXIT_USAGE);
			}
			break;
		case 'V': printf("epic-export %s\n", EC_VERSION); return ec_close_stdout();
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (to == TO_NONE) {
		ec_warn("no format: name one with --to");
		usage(EC_EXIT_USAGE);
	}
	if (jsonpath && to != TO_GITHUB) {
		ec_warn("--json goes with --to github only");
		usage(EC_EXIT_USAGE);
	}
	if (item_type && (to == TO_GITHUB || to == TO_CSV)) {
		ec_warn("--item-type goes with --to jira-csv or azure-csv only");
		usage(EC_EXIT_USAGE);
	}
	if (item_type && (!*item_type || strlen(item_type) > 64 || strpbrk(item_type, "\r\n\t"))) {
		ec_warn("invalid item type '%s': expected 1 to 64 characters on one line", item_type);
		usage(EC_EXIT_USAGE);
	}
	if (jsonpath && output && strcmp(output, "-") && !strcmp(jsonpath, output)) {
		ec_warn("--json and --output name the same file '%s'", output);
		usage(EC_EXIT_USAGE);
	}
	if (optind < argc && !(arg = ec_operand(argc - optind, argv + optind, "result")))
		usage(EC_EXIT_USAGE);

	spool = ec_spool_root(spool);
	if (!(result = ec_result_load(spool, arg, name, sizeof name, &e)))
		ec_die_err(&e);
	if (ec_export_open(&x, result, &e) < 0)
		ec_die_err(&e);
	x.item_type = item_type;
	ec_buf_puts(&out, "");
	ec_buf_puts(&js, "");
	switch (to) {
	case TO_JIRA: rc = ec_export_jira(&x, &out); break;
	case TO_GITHUB: rc = ec_export_github(&x, &out, jsonpath ? &js : NULL); break;
	case TO_AZURE: rc = ec_export_azure(&x, &out); break;
	default: rc = ec_export_csv(&x, &out); break;
	}
	ec_export_close(&x);
	json_decref(result);
	if (rc < 0)
		ec_die(EC_EXIT_TEMP, "out of memory");
	if (jsonpath)
		write_out(jsonpath, ec_buf_take(&js));
	else
		free(ec_buf_take(&js));
	write_out(output, ec_buf_take(&out));
	return ec_close_stdout();
}
