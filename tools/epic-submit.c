/*
 * epic-submit - drop one request into the spool, by the Maildir protocol.
 *
 * The request's bytes go to a unique dot-file in spool/tmp/, are fsync'd, and are
 * renamed into spool/incoming/ID.EXT, where the watcher (epic-watch) finds them;
 * incoming/ is then synced, so a request whose id was printed survives a crash.
 * ID is the task id exactly as epic-parse and `epic run` derive it (the base name,
 * sanitised, a dash, 8 hex digits of the XXH3 of the bytes), so the watcher can
 * take the name as the task id, and the same request dropped twice is one task.
 *
 * Deliberately no validation beyond size: the pipeline judges the request, and a
 * submitter needs neither the personas nor the right to read anything in the
 * spool; a member of the spool's group may submit (see ec_spool_init).
 */
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ec.h"

static const char usage_text[] =
    "usage: epic-submit [--spool DIR] [--config FILE] [--name NAME] [FILE | -]\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nDrop a request (EpicRequest JSON, Markdown or plain text) into the spool's\n"
		    "incoming/ for the watcher, and print its task id.\n\n"
		    "  -s, --spool DIR     the spool (default $EPIC_SPOOL, then ./spool)\n"
		    "  -c, --config FILE   configuration file (for security.maxRequestBytes)\n"
		    "  -n, --name NAME     base name of the task id (default: the file's, or 'stdin')\n"
		    "  -h, --help          this help\n"
		    "  -V, --version       print the version\n\n"
		    "Exit: 0 queued (or already waiting), 1 request rejected (empty, too large,\n"
		    "unreadable), 2 usage, 111 temporary failure (nothing was queued: retry).\n", stdout);
	ec_exit(code);
}

/* The submitter's login name, or the numeric uid when it has none. Borrowed. */
static const char *
user_name(void)
{
	static char uid[32];
	struct passwd *pw = getpwuid(getuid());

	if (pw && pw->pw_name && *pw->pw_name)
		return pw->pw_name;
	snprintf(uid, sizeof uid, "%lu", (unsigned long)getuid());
	return uid;
}

/*
 * Append the "submitted" event to log/audit.jsonl with one write: the task id, the
 * file, its size and the submitting user. Not metadata.requestedBy: a person's name
 * is personal data, and the audit log is hash-chained and never edited, so what is
 * in it could not be erased (epic-forget). dup says the same request was already
 * waiting. 0 or -1 (e filled).
 */
static int
audit(const char *spool, const char *id, const char *ext, size_t len, int dup, ec_err *e)
{
	char file[EC_MAX_ID + 32], when[32];
	json_t *ev;
	int r;

	snprintf(file, sizeof file, "incoming/%s.%s", id, ext);
	ec_iso_time(when, sizeof when);
	ev = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "time", when, "event", "submitted",
	    "task", id, "file", file, "bytes", (json_int_t)len, "user", user_name());
	if (!ev)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	if (dup)
		json_object_set_new(ev, "duplicate", json_true());
	r = ec_audit(spool, ev, e);
	json_decref(ev);
	return r;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "name", required_argument, NULL, 'n' },
		{ "spool", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *name = NULL, *spool = NULL, *file, *ext;
	char id[EC_MAX_NAME + 16], clean[EC_MAX_NAME + 1], *buf, *base;
	json_int_t maxreq;
	json_t *cfg;
	size_t len;
	ec_err e;
	int c, r;

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "c:hn:s:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'n': name = optarg; break;
		case 's': spool = optarg; break;
		case 'V': printf("epic-submit %s\n", EC_VERSION); return ec_close_stdout();
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (!(file = ec_operand(argc - optind, argv + optind, "request file")))
		usage(EC_EXIT_USAGE);
	/* A name given on purpose must already be clean: quietly turning "../x" into
	 * "x" would hide a mistake (or an attempt) from the one who made it. */
	if (name && (strlen(name) > EC_MAX_NAME || ec_sanitize_name(name, clean, sizeof clean) < 0 ||
	    strcmp(clean, name) != 0)) {
		ec_warn("invalid name '%s': expected 1 to %d of [A-Za-z0-9._-], "
		    "not starting with '.' or '-'", name, EC_MAX_NAME);
		usage(EC_EXIT_USAGE);
	}

	if (!(cfg = ec_config_load(config, &e)))
		ec_die_err(&e);
	maxreq = ec_json_get_int(cfg, "security.maxRequestBytes", 1 << 20);
	json_decref(cfg);
	if (maxreq <= 0 || (size_t)maxreq > EC_MAX_REQUEST_BYTES)
		maxreq = EC_MAX_REQUEST_BYTES;
	if (!(buf = ec_read_file(file, (size_t)maxreq, &len, &e))) {
		if (strstr(e.msg, "limit"))
			ec_err_prefix(&e, "request too large (security.maxRequestBytes)");
		ec_die_err(&e);
	}
	if (len == 0) {
		free(buf);
		ec_die(EC_EXIT_REJECT, "empty request '%s'", strcmp(file, "-") ? file : "<stdin>");
	}

	/* The id as epic-parse derives it: a file name that is not clean is sanitised. */
	base = name ? strdup(name) : strcmp(file, "-") ? ec_basename_noext(file) : strdup("stdin");
	if (!base || ec_task_id(base, buf, len, id, sizeof id) < 0) {
		free(base);
		free(buf);
		ec_die(EC_EXIT_TEMP, "cannot derive a task id for '%s'", file);
	}
	free(base);
	ext = ec_request_ext(file, buf, len);

	spool = ec_spool_root(spool);
	if (ec_spool_init(spool, &e) < 0 || (r = ec_spool_drop(spool, id, ext, buf, len, &e)) < 0) {
		free(buf);
		ec_die_err(&e);
	}
	/* The request is queued; the audit line is a record, not a condition: a
	 * submitter may be allowed to drop requests and nothing else (log/ is 0700). */
	if (audit(spool, id, ext, len, r == 1, &e) < 0)
		ec_warn("%s (the request is queued without an audit line)", e.msg);
	free(buf);
	printf("%s\n", id);
	return ec_close_stdout();
}
