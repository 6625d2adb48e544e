/*
 * sanitize.c - text from outside made fit to keep and to show: control characters,
 * ANSI escapes and invisible or bidirectional characters out, HTML tags out (their
 * text kept), white space tidied, and a cut on a character boundary.
 */
#include <stdlib.h>
#include <string.h>

#include "ec.h"

/* Skip an ANSI escape sequence at p (p[0] is ESC): CSI "ESC [ ... final" and OSC
 * "ESC ] ... BEL|ESC \\"; any other ESC goes alone. */
static const unsigned char *
skip_escape(const unsigned char *p)
{
	const unsigned char *q;

	if (p[1] == '[') {
		for (q = p + 2; *q >= 0x30 && *q <= 0x3f; q++)
			;
		for (; *q >= 0x20 && *q <= 0x2f; q++)
			;
		return *q >= 0x40 && *q <= 0x7e ? q + 1 : q;
	}
	if (p[1] == ']') {
		for (q = p + 2; *q && q - p < 512; q++) {
			if (*q == 0x07)
				return q + 1;
			if (*q == 0x1b && q[1] == '\\')
				return q + 2;
		}
	}
	return p + 1;
}

/*
 * Pass 1: control characters out. CR LF and lone CR become LF; other C0 controls
 * (not LF or TAB), DEL, C1 controls, ANSI escape sequences, zero-width space, word
 * joiner and invisible operators, bidirectional embeddings/overrides/isolates
 * (U+202A-U+202E, U+2066-U+2069: "Trojan source") and U+FEFF are removed.
 * Returns how many characters were removed.
 */
static size_t
strip_controls(ec_buf *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t removed = 0;

	while (*p) {
		if (*p == '\r') {
			ec_buf_putc(o, '\n');
			p += p[1] == '\n' ? 2 : 1;
			continue;
		}
		if (*p == 0x1b) {
			p = skip_escape(p);
			removed++;
			continue;
		}
		if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) {
			p++, removed++;
			continue;
		}
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			p += 2, removed++;
			continue;
		}
		if ((*p == 0xe2 && p[1] == 0x80 &&
		    (p[2] == 0x8b || (p[2] >= 0xaa && p[2] <= 0xae))) ||
		    (*p == 0xe2 && p[1] == 0x81 && p[2] >= 0xa0 && p[2] <= 0xa9 && p[2] != 0xa5) ||
		    (*p == 0xef && p[1] == 0xbb && p[2] == 0xbf)) {
			p += 3, removed++;
			continue;
		}
		ec_buf_putc(o, (char)*p++);
	}
	return removed;
}

/* t[0..len) runs from '<' to '>' with no other angle bracket inside: is it an
 * HTML/XML tag, comment or declaration ("<b>", "</p>", "<br/>", "<a href=x>",
 * "<!-- x -->", "<?xml?>")? "a < b", "<john@example.com>", "<https://x>" are not. */
static int
is_tag(const char *t, size_t len)
{
	size_t k = 1;

	if (len < 3)
		return 0;
	if (t[1] == '!' || t[1] == '?')
		return 1;
	if (t[k] == '/')
		k++;
	if (!ec_is_alpha(t[k]))
		return 0;
	while (ec_is_alnum(t[k]) || t[k] == '-')
		k++;
	return t[k] == '>' || t[k] == '/' || ec_is_space(t[k]);
}

/* What a removed tag leaves behind: a newline for <br> and for the start and end
 * of a block (paragraph, heading, list, table row, ...), a Markdown bullet for
 * <li>, nothing for the rest (<b>, <span>, </li>, comments). */
static const char *
tag_leaves(const char *t)
{
	static const char *const blocks[] = { "p", "div", "tr", "h1", "h2", "h3", "h4", "h5",
	    "h6", "ul", "ol", "table", "blockquote", "pre", NULL };
	char name[16];
	size_t k = 1, n = 0;
	int closing = 0;

	if (t[k] == '/')
		closing = 1, k++;
	while (ec_is_alnum(t[k]) && n + 1 < sizeof name)
		name[n++] = (char)ec_lower(t[k++]);
	name[n] = '\0';
	if (strcmp(name, "br") == 0)
		return "\n";
	if (strcmp(name, "li") == 0)
		return closing ? "" : "\n- ";
	for (size_t q = 0; blocks[q]; q++)
		if (strcmp(name, blocks[q]) == 0)
			return "\n";
	return "";
}

/*
 * Pass 2: HTML tags out (their text stays; see tag_leaves() for what a tag
 * leaves). Tags are removed on the output side with a stack of the '<' not yet
 * followed by a '>', so a tag that only appears once an inner one is gone
 * ("<<b>i>") goes too and the result holds no tag at all: a second pass changes
 * nothing. Entities (&lt; &amp;) are left as written: decoding them would turn
 * text into markup. Returns the number of tags removed, or -1 without memory.
 */
static long
strip_tags(ec_buf *o, const char *s)
{
	size_t *st = NULL, ns = 0, cap = 0;
	long removed = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '<') {
			if (ns == cap) {
				size_t *nst;
				cap = cap ? cap * 2 : 16;
				if (!(nst = realloc(st, cap * sizeof *st))) {
					free(st);
					return -1;
				}
				st = nst;
			}
			st[ns++] = o->n;
			ec_buf_putc(o, '<');
			continue;
		}
		ec_buf_putc(o, *p);
		if (*p != '>' || ns == 0 || o->oom)
			continue;
		if (is_tag(o->p + st[ns - 1], o->n - st[ns - 1])) {
			const char *leaves = tag_leaves(o->p + st[ns - 1]);
			o->n = st[--ns];
			o->p[o->n] = '\0';
			ec_buf_puts(o, leaves);
			removed++;
		} else
			ns = 0;
	}
	free(st);
	return removed;
}


/*
 * Pass 3: white space. Text is trimmed and runs of three or more newlines become
 * two. A title is one line: white space collapsed to single spaces, then a leading
 * Markdown heading mark ("## ") and emphasis wrapping the whole title ("**x**",
 * "__x__", "*x*", "_x_", "`x`") are taken off, repeatedly. Other Markdown stays:
 * it is the format of the rendered reports, and '*' means other things too.
 */
static char *
tidy_space(const char *s, int mode)
{
	ec_buf o = { 0 };
	const char *p = s;
	size_t nl = 0;
	char *r, *st, *en;
	int changed;

	while (ec_is_space(*p))
		p++;
	for (; *p; p++) {
		if (mode == EC_TEXT_LINE && ec_is_space(*p)) {
			while (ec_is_space(p[1]))
				p++;
			if (p[1])
				ec_buf_putc(&o, ' ');
			continue;
		}
		if (*p == '\n') {
			if (++nl <= 2)
				ec_buf_putc(&o, '\n');
			continue;
		}
		if (*p != ' ' && *p != '\t')
			nl = 0;
		ec_buf_putc(&o, *p);
	}
	if (!(r = ec_buf_take(&o)))
		return NULL;
	st = r;
	en = r + strlen(r);
	do {
		static const char *const marks[] = { "**", "__", "*", "_", "`", NULL };
		changed = 0;
		while (en > st && ec_is_space(en[-1]))
			en--;
		while (st < en && ec_is_space(*st))
			st++;
		if (mode != EC_TEXT_LINE)
			break;
		if (*st == '#') {
			char *h = st;
			while (h < en && *h == '#')
				h++;
			if (h == en || *h == ' ') {
				st = h;
				changed = 1;
				continue;
			}
		}
		for (size_t m = 0; marks[m]; m++) {
			size_t ml = strlen(marks[m]);
			if ((size_t)(en - st) >= 2 * ml + 1 && strncmp(st, marks[m], ml) == 0 &&
			    strncmp(en - ml, marks[m], ml) == 0 && !ec_is_space(st[ml]) &&
			    !ec_is_space(en[-(long)ml - 1])) {
				st += ml;
				en -= ml;
				changed = 1;
				break;
			}
		}
	} while (changed);
	memmove(r, st, (size_t)(en - st));
	r[en - st] = '\0';
	return r;
}

int
ec_text_cut(char **sp, size_t cap)
{
	char *s = *sp, *ns;
	size_t n = strlen(s), chars = 0, k;

	if (ec_utf8_chars(s, n) <= cap)
		return 0;
	for (k = 0; k < n; k++)
		if (((unsigned char)s[k] & 0xC0) != 0x80 && chars++ == cap - 1)
			break;
	while (k > 0 && ec_is_space(s[k - 1]))
		k--;
	if (!(ns = realloc(s, k + 4)))
		return -1;
	memcpy(ns + k, "\xe2\x80\xa6", 4);
	*sp = ns;
	return 0;
}

char *
ec_text_sanitize(const char *in, int mode, int *changed)
{
	ec_buf a = { 0 }, b = { 0 };
	size_t ctl;
	long tags;
	char *s;

	ctl = strip_controls(&a, in);
	if (a.oom) {
		free(a.p);
		return NULL;
	}
	tags = strip_tags(&b, a.p ? a.p : "");
	free(a.p);
	if (tags < 0 || b.oom) {
		free(b.p);
		return NULL;
	}
	if (changed)
		*changed = ctl || tags;
	s = tidy_space(b.p ? b.p : "", mode);
	free(b.p);
	return s;
}

