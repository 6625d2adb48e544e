/*
 * err.c - exit codes, the error struct, and the few printing helpers main() uses.
 *
 * Library functions report failure through ec_fail(), which fills an ec_err and
 * returns -1, so a caller writes `return ec_fail(e, EC_EXIT_TEMP, "...")`. Only the
 * ec_warn/ec_info/ec_die family prints, and only main() calls it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ec.h"

const char *ec_progname = "epic";

void
ec_setprogname(const char *argv0)
{
	const char *s = strrchr(argv0, '/');
	ec_progname = s ? s + 1 : argv0;
}

int
ec_fail(ec_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

void
ec_err_prefix(ec_err *e, const char *fmt, ...)
{
	char pre[512], old[sizeof e->msg];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
}

/* The last message printed, for the verdict (verdict.c). */
static char last_msg[1024];

char *
ec_escape_controls(const char *s, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (cap == 0)
		return out;
	while (*p && o + 1 < cap) {
		char esc[8] = "";
		size_t n = 1;
		if (*p == '\n')
			strcpy(esc, "\\n");
		else if (*p == '\t')
			strcpy(esc, "\\t");
		else if (*p == '\r')
			strcpy(esc, "\\r");
		else if (*p < 0x20 || *p == 0x7f)
			snprintf(esc, sizeof esc, "\\x%02x", *p);
		else if (*p >= 0x80) {
			/* A well-formed UTF-8 sequence passes, but not the C1 controls
			 * (U+0080-U+009F), which some terminals obey. */
			n = ec_utf8_seq(p);
			if (n == 0 || (n == 2 && *p == 0xc2 && p[1] < 0xa0)) {
				snprintf(esc, sizeof esc, "\\x%02x", *p);
				n = 1;
			}
		}
		if (*esc) {
			size_t l = strlen(esc);
			if (o + l + 1 > cap)
				break;
			memcpy(out + o, esc, l);
			o += l;
		} else {
			if (o + n + 1 > cap)
				break;
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	out[o] = '\0';
	return out;
}

const char *
ec_last_message(void)
{
	return last_msg;
}

/*
 * Is standard error the journal? systemd says so by setting JOURNAL_STREAM to
 * the device and inode of the stream it connected (systemd.exec(5)); a child
 * whose stderr was redirected elsewhere inherits the variable, so it counts
 * only while stderr is still that very stream. Asked at every line: a tool may
 * redirect its stderr after it started, and a message is rare.
 */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (!js || sscanf(js, "%llu:%llu%n", &dev, &ino, &n) != 2 || js[n] != '\0')
		return 0;
	return fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/*
 * Print one escaped line "prog: msg", and keep msg as the verdict unless it is
 * only information. To the journal the line starts with its syslog priority,
 * "<3>" (error: the tool is about to exit with failure), "<4>" (warning) or "<6>"
 * (information), which journald takes off and stores as the entry's priority
 * (sd-daemon(3)); a terminal or a file never sees the prefix.
 */
enum { PRIO_ERR = 3, PRIO_WARNING = 4, PRIO_INFO = 6 };

static void
say(int prio, const char *msg)
{
	char line[sizeof last_msg * 4], pre[8] = "";

	if (prio != PRIO_INFO)
		snprintf(last_msg, sizeof last_msg, "%s", msg);
	if (stderr_is_journal())
		snprintf(pre, sizeof pre, "<%d>", prio);
	ec_escape_controls(msg, line, sizeof line);
	fprintf(stderr, "%s%s: %s\n", pre, ec_progname, line);
}

/* say() the formatted message. */
static void
vsay(int prio, const char *fmt, va_list ap)
{
	char msg[sizeof last_msg];

	vsnprintf(msg, sizeof msg, fmt, ap);
	say(prio, msg);
}

void
ec_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(PRIO_WARNING, fmt, ap);
	va_end(ap);
}

void
ec_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(PRIO_INFO, fmt, ap);
	va_end(ap);
}

void
ec_die_err(const ec_err *e)
{
	say(PRIO_ERR, e->msg);
	ec_exit(e->code ? e->code : EC_EXIT_TEMP);
}

const char *
ec_operand(int argc, char *const argv[], const char *what)
{
	if (argc > 1) {
		ec_warn("too many arguments: expected one %s", what);
		return NULL;
	}
	return argc == 1 ? argv[0] : "-";
}

void
ec_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(PRIO_ERR, fmt, ap);
	va_end(ap);
	ec_exit(code);
}

void
ec_usage_exit(char *text, int code)
{
	fputs(text ? text : "out of memory\n", code ? stderr : stdout);
	free(text);
	ec_exit(code);
}

void
ec_version_exit(void)
{
	printf("%s %s\n", ec_progname, EC_VERSION);
	ec_exit(ec_close_stdout());
}

const ec_sub *
ec_sub_main(const ec_sub *subs, const char *arg, void (*usage)(int))
{
	const ec_sub *sub;

	if (arg && (!strcmp(arg, "-h") || !strcmp(arg, "--help")))
		usage(EC_EXIT_OK);
	if (arg && (!strcmp(arg, "-V") || !strcmp(arg, "--version")))
		ec_version_exit();
	if (arg && (sub = ec_sub_find(subs, arg)))
		return sub;
	if (arg)
		ec_warn("unknown subcommand '%s'", arg);
	usage(EC_EXIT_USAGE);
	ec_exit(EC_EXIT_USAGE);
}

int
ec_close_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		if (errno == EPIPE)
			return EC_EXIT_OK;
		ec_warn("cannot write standard output: %s", strerror(errno));
		return EC_EXIT_TEMP;
	}
	return EC_EXIT_OK;
}

int
ec_errno_is_temp(int err)
{
	switch (err) {
	case ENOSPC: case EDQUOT: case EIO: case EAGAIN: case EINTR: case ENOMEM:
	case EMFILE: case ENFILE: case EROFS: case EBUSY: case ETIMEDOUT: case EACCES:
	case EPERM:
		return 1;
	}
	return 0;
}
