/*
 * chars.c - what text is: UTF-8 sequences, counts and cuts, and byte order marks,
 * for every reader and writer of outside text (requests, the config, persona
 * outputs, events), so each says the same thing about the same bytes. The ASCII
 * classes are inline in ec.h.
 */
#include <string.h>

#include "ec.h"

size_t
ec_utf8_seq(const unsigned char *s)
{
	size_t need;
	unsigned long cp, min;

	if (s[0] < 0x80)
		return s[0] ? 1 : 0;
	if ((s[0] & 0xE0) == 0xC0)
		need = 1, cp = s[0] & 0x1F, min = 0x80;
	else if ((s[0] & 0xF0) == 0xE0)
		need = 2, cp = s[0] & 0x0F, min = 0x800;
	else if ((s[0] & 0xF8) == 0xF0)
		need = 3, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (size_t k = 1; k <= need; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3F);
	}
	/* Overlong forms, surrogates and code points past Unicode are not UTF-8. */
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need + 1;
}

long
ec_utf8_invalid_at(const char *buf, size_t n)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;

	while (i < n) {
		size_t k;
		if (s[i] < 0x80) {      /* NUL included: buf is counted, not terminated */
			i++;
			continue;
		}
		/* A sequence cut by the end of buf is not UTF-8 (ec_utf8_seq would read on). */
		k = s[i] >= 0xF0 ? 4 : s[i] >= 0xE0 ? 3 : 2;
		if (i + k > n || (k = ec_utf8_seq(s + i)) == 0)
			return (long)i;
		i += k;
	}
	return -1;
}

size_t
ec_utf8_chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

size_t
ec_utf8_prefix(const char *s, size_t max_chars, size_t max_bytes)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t bytes = 0, chars = 0, n;

	while (chars < max_chars && (n = ec_utf8_seq(p + bytes)) > 0 && bytes + n <= max_bytes)
		bytes += n, chars++;
	return bytes;
}

void
ec_utf8_fix(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = ec_utf8_seq(p);
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

void
ec_utf8_trim(char *s)
{
	size_t n = strlen(s), j = n, len;
	unsigned char lead;

	while (j > 0 && n - j < 4 && ((unsigned char)s[j - 1] & 0xC0) == 0x80)
		j--;
	if (j == 0 || (lead = (unsigned char)s[j - 1]) < 0xC0)
		return;
	len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
	if (n - (j - 1) < len)
		s[j - 1] = '\0';
}

const char *
ec_bom_name(const char *buf, size_t n)
{
	const unsigned char *s = (const unsigned char *)buf;

	if (n >= 4 && ((s[0] == 0xFF && s[1] == 0xFE && s[2] == 0 && s[3] == 0) ||
	    (s[0] == 0 && s[1] == 0 && s[2] == 0xFE && s[3] == 0xFF)))
		return "a UTF-32 byte order mark";
	if (n >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) || (s[0] == 0xFE && s[1] == 0xFF)))
		return "a UTF-16 byte order mark";
	return NULL;
}

int
ec_in_list(const char *const *list, const char *s)
{
	for (; s && *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* Longest name ec_nearest compares; longer strings are never "near". */
#define NEAR_MAX 64

/*
 * The optimal string alignment distance (Levenshtein plus the transposition of two
 * neighbours, case folded) between s and t, and through *prefix the least distance
 * between s and any prefix of t: "securty" is 1 from a prefix of
 * "security-specialist" though 12 from the whole. -1 when either is too long.
 */
static int
osa(const char *s, size_t m, const char *t, size_t n, int *prefix)
{
	int d[NEAR_MAX + 1][NEAR_MAX + 1];

	if (m > NEAR_MAX || n > NEAR_MAX)
		return -1;
	for (size_t i = 0; i <= m; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= n; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= m; i++)
		for (size_t j = 1; j <= n; j++) {
			int cost = ec_lower((unsigned char)s[i - 1]) != ec_lower((unsigned char)t[j - 1]);
			int v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && ec_lower((unsigned char)s[i - 1]) == ec_lower((unsigned char)t[j - 2]) &&
			    ec_lower((unsigned char)s[i - 2]) == ec_lower((unsigned char)t[j - 1]) &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	*prefix = d[m][0];
	for (size_t j = 1; j <= n; j++)
		if (d[m][j] < *prefix)
			*prefix = d[m][j];
	return d[m][n];
}

/*
 * How far s is from name, for a "did you mean": the least distance to the name,
 * to a prefix of it, or to one of its '-' or '_' separated words (so "owner" finds
 * "product-owner"). *whole gets the distance to the whole name, the tie-breaker.
 */
static int
near_score(const char *s, size_t m, const char *name, int *whole)
{
	int best, p, w;
	const char *word = name;

	if ((*whole = osa(s, m, name, strlen(name), &best)) < 0)
		return -1;
	for (const char *c = name;; c++) {
		if (*c == '-' || *c == '_' || !*c) {
			if (c > word && word != name && (w = osa(s, m, word, (size_t)(c - word), &p)) >= 0 &&
			    w < best)
				best = w;
			if (!*c)
				break;
			word = c + 1;
		}
	}
	return best;
}

int
ec_nearest(const char *s, const char *const *names, size_t n)
{
	size_t m = s ? strlen(s) : 0;
	/* A third of what was typed may be wrong: none of one or two letters, one of
	 * three or four, two of five to seven, at most three. */
	int limit = m < 3 ? 0 : m < 5 ? 1 : m < 8 ? 2 : 3, best = -1, best_score = 0, best_whole = 0;

	if (m == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int whole, score;
		if (!names[i] || (score = near_score(s, m, names[i], &whole)) < 0 || score > limit)
			continue;
		if (best < 0 || score < best_score || (score == best_score && whole < best_whole)) {
			best = (int)i;
			best_score = score;
			best_whole = whole;
		}
	}
	return best;
}

unsigned long
ec_utf8_cp(const unsigned char *s, size_t n)
{
	unsigned long c = n == 1 ? s[0] : n == 2 ? s[0] & 0x1F : n == 3 ? s[0] & 0x0F : s[0] & 0x07;

	for (size_t i = 1; i < n; i++)
		c = (c << 6) | (s[i] & 0x3F);
	return c;
}

int
ec_cp_unsafe(unsigned long c)
{
	return (c < 0x20 && c != '\n' && c != '\t' && c != '\r') || (c >= 0x7F && c <= 0x9F) ||
	    (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0x200E ||
	    c == 0x200F || c == 0x061C;
}
