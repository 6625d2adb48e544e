/*
 * err.c - exit codes, the error struct, and the few printing helpers main() uses.
 *
 * Library functions report failure through ec_fail(), which fills an ec_err and
 * returns -1, so a caller writes `return ec_fail(e, EC_EXIT_TEMP, "...")`. Only the
 * ec_warn/ec_die family prints, and only main() calls it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void
ec_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ec_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
ec_die_err(const ec_err *e)
{
	fprintf(stderr, "%s: %s\n", ec_progname, e->msg);
	exit(e->code ? e->code : EC_EXIT_TEMP);
}

void
ec_die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ec_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
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
