/*
 * term.c - text for a person at a terminal, shared by the views that print to one
 * (epic-show, epic-diff): whether to colour, how wide the screen is, how many
 * columns a piece of UTF-8 takes, cutting and folding lines to the width on
 * character boundaries, outside text made harmless for a terminal, and the pager.
 *
 * The decisions follow git and https://no-color.org: colour only on a terminal,
 * never with NO_COLOR set (non-empty) or TERM=dumb, unless the command line says
 * "always"; a pager only when standard output is a terminal and the text does not
 * fit on the screen, chosen as $EPIC_PAGER, then $PAGER, then less with LESS=FRX.
 * Colour escapes are the caller's: the functions here measure and cut plain text
 * only, so an escape sequence never counts as columns.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ec.h"

#define ELLIPSIS "\xe2\x80\xa6"

int
ec_term_color(const char *when, int fd)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (!when || !strcmp(when, "auto"))
		return isatty(fd) && !(nc && *nc) && !(term && !strcmp(term, "dumb"));
	if (!strcmp(when, "always"))
		return 1;
	if (!strcmp(when, "never"))
		return 0;
	return -1;
}

int
ec_term_width(int fd)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS");
	long w = 0;

	if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		w = ws.ws_col;
	else if (c && *c) {
		char *end;
		errno = 0;
		w = strtol(c, &end, 10);
		if (errno || *end || w <= 0)
			w = 0;
	}
	if (w <= 0)
		w = 80;
	return w < EC_TERM_MIN_WIDTH ? EC_TERM_MIN_WIDTH : w > EC_TERM_MAX_WIDTH ? EC_TERM_MAX_WIDTH : (int)w;
}

int
ec_term_height(int fd)
{
	struct winsize ws;

	if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0)
		return ws.ws_row;
	return 0;
}

/*
 * Columns one code point takes, without a locale (the tools use none): 0 for
 * combining marks and zero-width characters, 2 for the East Asian wide and
 * full-width blocks and the emoji planes, else 1. An approximation of wcwidth(3)
 * that errs on the side of 1; a terminal that disagrees only shifts a line end.
 */
static int
cp_cols(unsigned long c)
{
	if ((c >= 0x300 && c <= 0x36F) || (c >= 0x1AB0 && c <= 0x1AFF) ||
	    (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0x200B && c <= 0x200F) ||
	    (c >= 0x20D0 && c <= 0x20FF) || (c >= 0xFE00 && c <= 0xFE0F) ||
	    (c >= 0xFE20 && c <= 0xFE2F) || c == 0x2060 || c == 0xFEFF)
		return 0;
	if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
	    (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
	    (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
	    (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
	    (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
	    (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
	    (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD))
		return 2;
	return 1;
}

/* The length of the character at p (1 for a byte that is not UTF-8) and its columns. */
static size_t
char_at(const char *p, int *cols)
{
	size_t n = ec_utf8_seq((const unsigned char *)p);

	if (n == 0) {
		*cols = 1;
		return 1;
	}
	*cols = cp_cols(ec_utf8_cp((const unsigned char *)p, n));
	return n;
}

size_t
ec_term_cols(const char *s, size_t n)
{
	size_t cols = 0, i = 0;

	while (i < n && s[i]) {
		int w;
		i += char_at(s + i, &w);
		cols += (size_t)w;
	}
	return cols;
}

char *
ec_term_clean(const char *s)
{
	char *r = ec_text_sanitize(s ? s : "", EC_TEXT_LINE, NULL);

	if (!r)
		return NULL;
	ec_utf8_fix(r);
	/* The sanitiser leaves no control character; this is the last line of defence
	 * should it ever change: a terminal must never see one from outside. */
	for (unsigned char *p = (unsigned char *)r; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return r;
}

/* The byte length of the longest prefix of s taking at most cols columns. */
static size_t
prefix_cols(const char *s, size_t cols, size_t *used)
{
	size_t i = 0, u = 0;

	while (s[i]) {
		int w;
		size_t n = char_at(s + i, &w);
		if (u + (size_t)w > cols)
			break;
		u += (size_t)w;
		i += n;
	}
	if (used)
		*used = u;
	return i;
}

size_t
ec_term_put_cut(ec_buf *b, const char *s, size_t cols)
{
	size_t n = strlen(s), total = ec_term_cols(s, n), k, used;

	if (total <= cols) {
		ec_buf_put(b, s, n);
		return total;
	}
	if (cols == 0)
		return 0;
	k = prefix_cols(s, cols - 1, &used);
	while (k > 0 && s[k - 1] == ' ')
		k--, used--;
	ec_buf_put(b, s, k);
	ec_buf_puts(b, ELLIPSIS);
	return used + 1;
}

/* n spaces into b. */
static void
spaces(ec_buf *b, size_t n)
{
	while (n--)
		ec_buf_putc(b, ' ');
}

int
ec_term_put_fold(ec_buf *b, const char *s, size_t at, size_t width, size_t indent)
{
	size_t col = at;
	int lines = 1, fresh = 1;
	const char *p = s;

	if (indent + 2 >= width)
		indent = 0;
	while (*p) {
		const char *w;
		size_t wlen, wcols;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		for (w = p; *p && *p != ' '; p++)
			;
		wlen = (size_t)(p - w);
		wcols = ec_term_cols(w, wlen);
		if (!fresh) {
			if (col + 1 + wcols <= width) {
				ec_buf_putc(b, ' ');
				col++;
			} else {
				ec_buf_putc(b, '\n');
				spaces(b, indent);
				col = indent;
				lines++;
			}
		}
		/* A word longer than a whole line is broken on character boundaries. */
		while (col + wcols > width) {
			size_t used, k = prefix_cols(w, width > col ? width - col : 0, &used);
			if (k == 0 && col == indent) {
				int cw;
				k = char_at(w, &cw);
			}
			ec_buf_put(b, w, k);
			w += k;
			wlen -= k;
			wcols = ec_term_cols(w, wlen);
			ec_buf_putc(b, '\n');
			spaces(b, indent);
			col = indent;
			lines++;
		}
		ec_buf_put(b, w, wlen);
		col += wcols;
		fresh = 0;
	}
	ec_buf_putc(b, '\n');
	return lines;
}

const char *
ec_term_pager(void)
{
	const char *p = getenv("EPIC_PAGER");

	if (!p)
		p = getenv("PAGER");
	if (!p)
		p = "less";
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || !strcmp(p, "cat"))
		return NULL;
	return p;
}

/* Write all of buf to fd; 0, or -1 with errno. */
static int
write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Lines of text (a last line without a newline counts). */
static size_t
count_lines(const char *text, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	return n + (len && text[len - 1] != '\n');
}

/*
 * Run the pager as git does (through sh -c, LESS=FRX and LV=-c unless set) with
 * text on its standard input, and wait for it. A pager that quits before reading
 * everything is the reader's choice, not a failure. Returns 0 when it ran, 1 when
 * it could not be started (sh reports 126 or 127: the caller prints the text
 * itself), -1 with e when no process could be made.
 */
static int
run_pager(const char *pager, const char *text, size_t len, ec_err *e)
{
	struct sigaction ign = { 0 }, old;
	int fds[2], st = 0;
	pid_t pid;

	fflush(stdout);
	if (pipe(fds) < 0)
		return ec_fail(e, EC_EXIT_TEMP, "cannot start the pager '%s': %s", pager, strerror(errno));
	if ((pid = fork()) < 0) {
		int err = errno;
		close(fds[0]);
		close(fds[1]);
		return ec_fail(e, EC_EXIT_TEMP, "cannot start the pager '%s': %s", pager, strerror(err));
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		setenv("LESS", "FRX", 0);
		setenv("LV", "-c", 0);
		execl("/bin/sh", "sh", "-c", pager, (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old);
	write_all(fds[1], text, len);   /* EPIPE: the reader quit early */
	close(fds[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGPIPE, &old, NULL);
	if (WIFEXITED(st) && (WEXITSTATUS(st) == 126 || WEXITSTATUS(st) == 127))
		return 1;
	return 0;
}

int
ec_term_page(const char *text, size_t len, int use_pager, ec_err *e)
{
	const char *pager = use_pager ? ec_term_pager() : NULL;
	int h = pager && isatty(1) ? ec_term_height(1) : 0;
	int r;

	if (pager && h > 0 && count_lines(text, len) > (size_t)h) {
		if ((r = run_pager(pager, text, len, e)) <= 0)
			return r;
	}
	if (fwrite(text, 1, len, stdout) != len)
		return ec_fail(e, EC_EXIT_TEMP, "cannot write to standard output: %s", strerror(errno));
	return 0;
}

const char *
ec_term_level_sgr(const char *level)
{
	switch (ec_priority_rank(level)) {
	case EC_RM_CRITICAL: return "1;31";
	case EC_RM_HIGH: return "31";
	case EC_RM_MEDIUM: return "33";
	default: return "32";
	}
}

void
ec_term_sgr(ec_buf *b, int color, const char *code)
{
	if (color)
		ec_buf_printf(b, "\033[%sm", code);
}
