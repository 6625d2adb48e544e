/*
 * epic-render - a finished epic as one document a team reads: Markdown to paste into
 * a planning document, or a self-contained HTML page to open in a browser or print.
 *
 * The result is named as for every view of a finished epic (ec_result_load): an
 * epic.json file, "-" for standard input, a task id (its done/ID/epic.json in the
 * spool), or nothing for the most recently finished task. It is checked against the
 * EpicResponse schema before anything is rendered. The document goes to standard
 * output or, with -o, atomically to a file (a reader never sees half a report).
 * What the report holds, and in which order, is render.c's; the formats are
 * render-md.c's and render-html.c's.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

static const char usage_text[] =
    "usage: epic-render [--format md|html] [-o FILE] [--spool DIR] [ID | FILE | -]\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nRender a finished epic (an EpicResponse) as one document: the key figures,\n"
		    "blocking then suggested items, roadmap, personas, costs, risks, gaps and\n"
		    "references. The result is FILE (- for stdin), the task ID's epic.json in the\n"
		    "spool's done/, or without either the most recently finished task.\n\n"
		    "  -f, --format FMT    md (CommonMark, the default) or html (one self-contained,\n"
		    "                      accessible page)\n"
		    "  -o, --output FILE   write FILE atomically instead of standard output\n"
		    "  -s, --spool DIR     the spool (default $EPIC_SPOOL, then ./spool)\n"
		    "  -h, --help          this help\n"
		    "  -V, --version       print the version\n\n"
		    "Exit: 0 rendered, 1 rejected (no such file or task, not finished, not an\n"
		    "EpicResponse), 2 usage, 111 temporary failure (I/O).\n", stdout);
	ec_exit(code);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ "spool", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format = "md", *output = NULL, *spool = NULL, *arg;
	char name[4096], *doc;
	json_t *result;
	ec_err e;
	int c;

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "f:ho:s:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'o': output = optarg; break;
		case 's': spool = optarg; break;
		case 'V': printf("epic-render %s\n", EC_VERSION); return ec_close_stdout();
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (strcmp(format, "md") && strcmp(format, "html")) {
		ec_warn("unknown format '%s': expected md or html", format);
		usage(EC_EXIT_USAGE);
	}
	if (!(arg = ec_operand(argc - optind, argv + optind, "result")))
		usage(EC_EXIT_USAGE);
	if (output && !*output) {
		ec_warn("empty output file name");
		usage(EC_EXIT_USAGE);
	}

	/* No operand at all means the newest finished task; "-" is standard input. */
	if (!(result = ec_result_load(ec_spool_root(spool), optind < argc ? arg : NULL, name,
	    sizeof name, &e)))
		ec_die_err(&e);
	doc = !strcmp(format, "html") ? ec_render_html(result, &e) : ec_render_md(result, &e);
	json_decref(result);
	if (!doc)
		ec_die_err(&e);
	if (ec_write_output(output, doc, strlen(doc), 0, &e) < 0) {
		free(doc);
		ec_die_err(&e);
	}
	free(doc);
	return output && strcmp(output, "-") ? EC_EXIT_OK : ec_close_stdout();
}
