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
