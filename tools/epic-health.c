/*
 * epic-health - is the pipeline healthy? The seed's HealthCheck of a spool:
 * persona availability, response times and error rates per persona, the cache hit
 * rate, active workflows, the queue and the spool's disk, checked against the
 * config's alerts (`epic health`).
 *
 * For a person (a table on a terminal), for scripts (JSON), for Nagios or Icinga
 * (--nagios: one line and the plugin exit codes) and for Prometheus (--prometheus,
 * with -o into node exporter's textfile collector directory; the watcher can write
 * that file itself, see watcher.prometheusFile). The computation is the library's
 * (health.c); this file parses the command line and prints.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "health.h"
#include "roles.h"

/* Nagios plugin exit codes: the one exception to the house codes, for --nagios. */
enum { NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN };

static const char synopsis[] =
    "usage: epic-health [--spool DIR] [--config FILE] [--window DURATION]\n"
    "                   [--json | --nagios | --prometheus] [-o FILE]\n";

/* --nagios is on the command line: every failure is UNKNOWN (3), as the plugin
 * guidelines want, usage errors included. */
static int nagios;

static void
usage(int code)
{
	FILE *f = code ? stderr : stdout;

	fputs(synopsis, f);
	if (!code)
		fputs("\nThe health of the spool, checked against the config's alerts: persona\n"
		    "availability, average response time and error rate per persona, cache hit\n"
		    "rate, active workflows, queue depth and age, disk free. A table on a\n"
		    "terminal, JSON (schemas/health-check) otherwise.\n\n"
		    "  -s, --spool DIR       the spool (default $EPIC_SPOOL, then ./spool)\n"
		    "  -c, --config FILE     the config (default $EPIC_CONFIG, then the shipped one)\n"
		    "  -w, --window DURATION figures over the last DURATION: 90s, 15m, 2h, 1d\n"
		    "                        (default 15m)\n"
		    "  -J, --json            JSON even on a terminal\n"
		    "  -n, --nagios          one Nagios plugin line with perfdata; exit 0 OK,\n"
		    "                        1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
		    "  -p, --prometheus      Prometheus text exposition format (epic_creator_*)\n"
		    "  -o, --output FILE     write to FILE atomically instead of stdout\n"
		    "  -h, --help            this help\n"
		    "  -V, --version         print the version\n\n"
		    "Exit: 0 checked (whatever the status), 1 the config was rejected or there is\n"
		    "no spool, 2 usage, 111 temporary failure (I/O); with --nagios the plugin\n"
		    "codes 0-3 instead.\n", f);
	ec_exit(code && nagios ? NAGIOS_UNKNOWN : code);
}

/* A failure after the options: as the house says, or as a Nagios UNKNOWN line. */
static void
fail(const ec_err *e)
{
	if (nagios) {
		printf("EPIC-CREATOR UNKNOWN - %s\n", e->msg);
		fflush(stdout);
		ec_warn("%s", e->msg);
		ec_exit(NAGIOS_UNKNOWN);
	}
	ec_die_err(e);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'J' },
		{ "nagios", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "spool", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "window", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spool = NULL, *config = NULL, *out = NULL;
	long long window = EC_HEALTH_WINDOW_MS;
	int c, json = 0, prom = 0, code = EC_EXIT_OK;
	char *text;
	json_t *cfg, *h;
	ec_err e;

	ec_setprogname(argv[0]);
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		nagios |= !strcmp(argv[i], "--nagios") || !strcmp(argv[i], "-n");
	while ((c = getopt_long(argc, argv, "c:hJno:ps:Vw:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'J': json = 1; break;
		case 'n': nagios = 2; break;
		case 'o': out = optarg; break;
		case 'p': prom = 1; break;
		case 's': spool = optarg; break;
		case 'V': printf("epic-health %s\n", EC_VERSION); return EC_EXIT_OK;
		case 'w':
			if (ec_health_duration(optarg, &window) < 0) {
				ec_warn("--window takes a duration of 1s to 366d (90s, 15m, 2h, 1d), not '%s'",
				    optarg);
				usage(EC_EXIT_USAGE);
			}
			break;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (json + (nagios == 2) + prom > 1) {
		ec_warn("--json, --nagios and --prometheus exclude each other");
		usage(EC_EXIT_USAGE);
	}
	if (optind < argc) {
		ec_warn("unexpected argument '%s'", argv[optind]);
		usage(EC_EXIT_USAGE);
	}
	nagios = nagios == 2;
	if (!(cfg = ec_config_load(config, &e)))
		fail(&e);
	spool = ec_spool_root(spool);
	if (ec_roles_fold(spool, &e) < 0)       /* refusals of security.roles, into the log */
		ec_warn("%s", e.msg);
	if (!(h = ec_health_check(spool, cfg, window, &e)))
		fail(&e);
	if (nagios)
		text = ec_health_nagios(h, cfg, &code);
	else if (prom)
		text = ec_health_prometheus(h);
	else if (json || out || !isatty(1))
		text = ec_json_dumps(h);
	else
		text = ec_health_text(h);
	json_decref(h);
	json_decref(cfg);
	if (!text) {
		e = (ec_err){ .code = EC_EXIT_TEMP };
		snprintf(e.msg, sizeof e.msg, "out of memory");
		fail(&e);
	}
	if (ec_write_output(out, text, strlen(text), 0, &e) < 0) {
		free(text);
		fail(&e);
	}
	free(text);
	if (!out && ec_close_stdout() != 0) {
		e = (ec_err){ .code = EC_EXIT_TEMP };
		snprintf(e.msg, sizeof e.msg, "cannot write the standard output");
		fail(&e);
	}
	ec_exit(code);
}
