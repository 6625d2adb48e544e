/*
 * buf.c - a growable string. Running out of memory is sticky (b->oom): a caller
 * builds the whole string and checks once, at ec_buf_take().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

/* Room for more bytes and a NUL; sets oom when there is none. */
static void
grow(ec_buf *b, size_t more)
{
	char *np;
	size_t nc;

	if (b->oom || b->n + more + 1 <= b->cap)
		return;
	nc = b->cap ? b->cap : 64;
	while (nc < b->n + more + 1)
		nc *= 2;
	if (!(np = realloc(b->p, nc))) {
		b->oom = 1;
		return;
	}
	b->p = np;
	b->cap = nc;
}

void
ec_buf_put(ec_buf *b, const char *s, size_t n)
{
	grow(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void
ec_buf_putc(ec_buf *b, char c)
{
	ec_buf_put(b, &c, 1);
}

void
ec_buf_puts(ec_buf *b, const char *s)
{
	ec_buf_put(b, s, strlen(s));
}

void
ec_buf_printf(ec_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	grow(b, (size_t)n);
	if (b->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

char *
ec_buf_take(ec_buf *b)
{
	char *p = b->p;

	if (b->oom) {
		free(p);
		p = NULL;
	} else if (!p)
		p = strdup("");
	*b = (ec_buf){ 0 };
	return p;
}
