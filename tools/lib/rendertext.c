/*
 * rendertext.c - text from a result made fit for a document (epic render): what
 * both formats do before their own escaping. Control characters and the Unicode
 * controls that reorder text are replaced, so a report reads as its bytes say;
 * anchors are made of characters no format needs to escape.
 */
#include <stdio.h>

#include "render.h"

void
rd_clean(ec_buf *out, const char *s, int fold)
{
	const unsigned char *p = (const unsigned char *)s;
	int space = 0;

	while (*p) {
		size_t n = ec_utf8_seq(p);
		unsigned long c = n ? ec_utf8_cp(p, n) : 0xFFFD;
		int ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x2028 || c == 0x2029;

		if (!n)
			n = 1;
		if (ws && (fold || c == ' ' || c == '\t')) {
			space = 1;
		} else {
			if (space)
				ec_buf_putc(out, ' ');
			space = 0;
			if (ws) {           /* a line break, kept */
				if (c == '\r' && p[1] == '\n')
					p++;
				ec_buf_putc(out, '\n');
			} else if (ec_cp_unsafe(c))
				ec_buf_puts(out, "\xEF\xBF\xBD");
			else
				ec_buf_put(out, (const char *)p, n);
		}
		p += n;
	}
	if (space)
		ec_buf_putc(out, ' ');
}

void
rd_anchor(char *out, size_t cap, const char *prefix, const char *id)
{
	size_t n = (size_t)snprintf(out, cap, "%s", prefix);

	for (const unsigned char *p = (const unsigned char *)id; *p && n + 4 < cap; p++) {
		if (ec_is_alnum(*p) || *p == '-' || *p == '_')
			out[n++] = (char)*p;
		else
			n += (size_t)snprintf(out + n, cap - n, "_%02X", *p);
	}
	out[n < cap ? n : cap - 1] = '\0';
}
