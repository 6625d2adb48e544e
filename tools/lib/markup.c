/*
 * markup.c - text from outside written into a document or a script so that it
 * stays text: HTML, Markdown (CommonMark and GitHub's), and sh. One escaper per
 * language, used by every tool that writes one (epic-render, epic-export, epic,
 * epic-show), so a fix to one reaches all. The text is expected clean already
 * (no controls: ec_cp_unsafe); these only neutralise the language's own syntax.
 */
#include <string.h>

#include "ec.h"

void
ec_html_put(ec_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': ec_buf_puts(b, "&amp;"); break;
		case '<': ec_buf_puts(b, "&lt;"); break;
		case '>': ec_buf_puts(b, "&gt;"); break;
		case '"': ec_buf_puts(b, "&quot;"); break;
		case '\'': ec_buf_puts(b, "&#39;"); break;
		default: ec_buf_putc(b, *s);
		}
	}
}

/*
 * What starts a block at the beginning of a line and is not escaped anyway (#, >
 * and * are, everywhere): a list marker "-" or "+" before a blank or the end, a
 * thematic break or setext underline ("--", "=="), an ordered list item ("12. ",
 * "3)"). Its marker is escaped; at a real line start (indent) the indentation
 * before it is dropped (four spaces would start a code block). Returns where
 * the rest of the line starts.
 */
static const char *
md_line_start(ec_buf *b, const char *p, int indent)
{
	const char *q;

	while (indent && (*p == ' ' || *p == '\t'))
		p++;
	if (*p && strchr("-+=", *p) && (!p[1] || p[1] == ' ' || p[1] == '\t' || p[1] == '\n' ||
	    p[1] == *p || *p == '='))
		ec_buf_putc(b, '\\');
	for (q = p; ec_is_digit((unsigned char)*q) && q - p < 10; q++)
		;
	if (q > p && (*q == '.' || *q == ')') &&
	    (!q[1] || q[1] == ' ' || q[1] == '\t' || q[1] == '\n')) {
		ec_buf_put(b, p, (size_t)(q - p));
		ec_buf_putc(b, '\\');
		p = q;
	}
	return p;
}

void
ec_md_put(ec_buf *b, const char *s)
{
	/* At a line start of b, or at the start of s, which may begin a list item's
	 * or a heading's content after "- " or "# ". */
	int bol = b->n == 0 || b->p[b->n - 1] == '\n';

	if (!bol && !*(s = md_line_start(b, s, 0)))
		return;
	for (const char *p = s; *p; p++) {
		if (bol) {
			bol = 0;
			if (!*(p = md_line_start(b, p, 1)))
				break;
		}
		switch (*p) {
		case '\n': {
			/* A single line break stays one (a hard break); a blank line, or
			 * the end, ends the paragraph. */
			const char *q = p + 1;
			int blank = b->n == 0 || b->p[b->n - 1] == '\n';
			while (*q == ' ' || *q == '\t')
				q++;
			ec_buf_puts(b, blank || *q == '\n' || !*q ? "\n" : "\\\n");
			bol = 1;
			break;
		}
		case '\\': case '`': case '*': case '_': case '[': case ']': case '<': case '>':
		case '|': case '~': case '&': case '#': case '!':
			ec_buf_putc(b, '\\');
			ec_buf_putc(b, *p);
			break;
		case '@':
			/* "@name" would mention (and notify) somebody where the text is
			 * pasted on GitHub: a WORD JOINER after the @ keeps it text. */
			ec_buf_putc(b, '@');
			if (ec_is_alnum((unsigned char)p[1]))
				ec_buf_puts(b, "\xE2\x81\xA0");
			break;
		default:
			ec_buf_putc(b, *p);
		}
	}
}

void
ec_sh_quote(ec_buf *b, const char *s)
{
	ec_buf_putc(b, '\'');
	for (; *s; s++)
		if (*s == '\'')
			ec_buf_puts(b, "'\\''");
		else
			ec_buf_putc(b, *s);
	ec_buf_putc(b, '\'');
}

void
ec_sh_word(ec_buf *b, const char *s)
{
	int plain = *s != '\0';

	for (const char *c = s; plain && *c; c++)
		plain = ec_is_alnum((unsigned char)*c) || strchr("/._-+:,@%=", *c) != NULL;
	if (plain)
		ec_buf_puts(b, s);
	else
		ec_sh_quote(b, s);
}
