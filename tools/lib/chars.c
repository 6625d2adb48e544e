/*
 * chars.c - what text is: UTF-8 validity and byte order marks, for every reader of
 * outside text (requests, the config, persona outputs), so each says the same
 * thing about the same bytes.
 */
#include <string.h>

#include "ec.h"

long
ec_utf8_invalid_at(const char *buf, size_t n)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min;
		unsigned long cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			need = 1, cp = c & 0x1F, min = 0x80;
		else if ((c & 0xF0) == 0xE0)
			need = 2, cp = c & 0x0F, min = 0x800;
		else if ((c & 0xF8) == 0xF0)
			need = 3, cp = c & 0x07, min = 0x10000;
		else
			return (long)i;
		for (unsigned k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xC0) != 0x80)
				return (long)i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* Overlong forms, surrogates and code points past Unicode are not UTF-8. */
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return (long)i;
		i += need + 1;
	}
	return -1;
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
