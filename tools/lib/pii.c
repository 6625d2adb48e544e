/*
 * pii.c - personal data found and redacted in text from outside (a persona's
 * output, before anything keeps it): e-mail addresses, phone numbers, payment
 * card numbers (Luhn), IBANs (mod 97), US social security numbers and IP
 * addresses become "[redacted:KIND]".
 */
#include <stdlib.h>
#include <string.h>

#include "ec.h"

/* c is one of the characters in set (never true for NUL). */
static int in_set(int c, const char *set) { return c && strchr(set, c) != NULL; }

/*
 * Each finder tries one kind of personal data at position i of s (n bytes) and
 * returns 1 with the span [*a, *b) to redact. They are hand-written scanners with
 * explicit boundaries, tuned so that ordinary numbers in reviews ("5M items",
 * "2,000 per second", "2025", "12.4", "2025-03-01", "p95 150 ms") never match.
 */
typedef int finder(const char *s, size_t n, size_t i, size_t *a, size_t *b);

static int
local_char(int c)
{
	return ec_is_alnum(c) || in_set(c, "._%+-");
}

/* name@domain.tld: a local part of up to 64 characters, a dotted domain whose
 * last label is at least two letters. */
static int
find_email(const char *s, size_t n, size_t i, size_t *a, size_t *b)
{
	size_t j = i, k, last, q;
	int dots = 0;

	if (s[i] != '@')
		return 0;
	while (j > 0 && i - j < 64 && local_char((unsigned char)s[j - 1]))
		j--;
	while (j < i && s[j] == '.')
		j++;
	if (j == i || s[i - 1] == '.')
		return 0;
	for (k = i + 1; k < n && k - i <= 253 && (ec_is_alnum(s[k]) || in_set(s[k], ".-")); k++)
		;
	while (k > i + 1 && (s[k - 1] == '.' || s[k - 1] == '-'))
		k--;
	if (k == i + 1)
		return 0;
	for (q = last = i + 1; q <= k; q++) {
		if (q < k && s[q] != '.')
			continue;
		if (q == last || s[last] == '-' || s[q - 1] == '-')
			return 0;
		if (q < k)
			dots++, last = q + 1;
	}
	if (!dots || k - last < 2)
		return 0;
	for (q = last; q < k; q++)
		if (!ec_is_alpha(s[q]))
			return 0;
	*a = j;
	*b = k;
	return 1;
}

/* Remainder mod 97 of an IBAN's characters, rearranged (the first four last). */
static int
iban_ok(const char *c, size_t n)
{
	unsigned rem = 0;

	for (size_t k = 0; k < n; k++) {
		char ch = c[(k + 4) % n];
		if (ec_is_digit(ch))
			rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
		else
			rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
	}
	return rem == 1;
}

/* An IBAN: country letters, two check digits, up to 30 more letters or digits,
 * compact or in groups separated by single spaces; 15 to 34 characters in all,
 * passing the mod-97 check. The longest valid prefix ending at a group ends. */
static int
find_iban(const char *s, size_t n, size_t i, size_t *a, size_t *b)
{
	char c[34];
	size_t endpos[34], endcnt[34], nends = 0, cnt = 0, k = i;

	if (i + 4 > n || !ec_is_upper(s[i]) || !ec_is_upper(s[i + 1]) ||
	    !ec_is_digit(s[i + 2]) || !ec_is_digit(s[i + 3]))
		return 0;
	if (i > 0 && ec_is_word(s[i - 1]))
		return 0;
	while (k < n && cnt < 34) {
		if (ec_is_upper(s[k]) || ec_is_digit(s[k])) {
			c[cnt++] = s[k++];
			if (cnt >= 15 && (k >= n || !ec_is_word(s[k]))) {
				endpos[nends] = k;
				endcnt[nends++] = cnt;
			}
			continue;
		}
		if (s[k] == ' ' && k + 1 < n && (ec_is_upper(s[k + 1]) || ec_is_digit(s[k + 1]))) {
			k++;
			continue;
		}
		break;
	}
	while (nends-- > 0)
		if (iban_ok(c, endcnt[nends])) {
			*a = i;
			*b = endpos[nends];
			return 1;
		}
	return 0;
}

/*
 * Does position i continue a code written in groups ("DE89 3704 0044 ...", "AB12-
 * 3456")? Walking back over groups joined by single spaces or dashes, is there one
 * that mixes letters and digits? Then the digits at i are part of it (a near-miss
 * IBAN, a licence key) and not a card or phone number of their own.
 */
static int
in_code(const char *s, size_t i)
{
	size_t q = i;

	while (q >= 2 && i - q < 48 && in_set(s[q - 1], " -") && ec_is_alnum(s[q - 2])) {
		int letters = 0, digits = 0;
		for (q--; q > 0 && ec_is_alnum(s[q - 1]); q--)
			ec_is_digit(s[q - 1]) ? digits++ : letters++;
		if (letters && digits)
			return 1;
	}
	return 0;
}

static int
luhn(const int *d, int n)
{
	int sum = 0;

	for (int k = 0; k < n; k++) {
		int v = d[n - 1 - k];
		if (k & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

/* A card number: 13 to 19 digits, single spaces or dashes allowed between them,
 * passing the Luhn check (all zeros is not a card). */
static int
find_card(const char *s, size_t n, size_t i, size_t *a, size_t *b)
{
	int d[20], nd = 0, nonzero = 0;
	size_t k = i, last = i;

	if (!ec_is_digit(s[i]))
		return 0;
	if (i > 0 && (ec_is_word(s[i - 1]) || in_set(s[i - 1], "+.,")))
		return 0;
	if (in_code(s, i))
		return 0;
	while (k < n) {
		if (ec_is_digit(s[k])) {
			if (nd == 20)
				return 0;
			nonzero |= s[k] != '0';
			d[nd++] = s[k] - '0';
			last = ++k;
			continue;
		}
		if ((s[k] == ' ' || s[k] == '-') && k + 1 < n && ec_is_digit(s[k + 1])) {
			k++;
			continue;
		}
		break;
	}
	if (last < n && (ec_is_word(s[last]) ||
	    ((s[last] == '.' || s[last] == ',') && last + 1 < n && ec_is_digit(s[last + 1]))))
		return 0;
	if (nd < 13 || nd > 19 || !nonzero || !luhn(d, nd))
		return 0;
	*a = i;
	*b = last;
	return 1;
}

static int
digits_at(const char *s, size_t n, size_t k, size_t count)
{
	if (k + count > n)
		return 0;
	for (size_t q = 0; q < count; q++)
		if (!ec_is_digit(s[k + q]))
			return 0;
	return 1;
}

static int
num_at(const char *s, size_t k, size_t count)
{
	int v = 0;

	for (size_t q = 0; q < count; q++)
		v = v * 10 + (s[k + q] - '0');
	return v;
}

/* A US social security number, ###-##-####, without the never-issued area
 * numbers 000, 666 and 900-999, group 00 or serial 0000. */
static int
find_ssn(const char *s, size_t n, size_t i, size_t *a, size_t *b)
{
	int area, group, serial;

	if (!digits_at(s, n, i, 3) || i + 11 > n || s[i + 3] != '-' || !digits_at(s, n, i + 4, 2) ||
	    s[i + 6] != '-' || !digits_at(s, n, i + 7, 4))
		return 0;
	if (i > 0 && (ec_is_word(s[i - 1]) || s[i - 1] == '-'))
		return 0;
	if (i + 11 < n && (ec_is_word(s[i + 11]) ||
	    (in_set(s[i + 11], "-.") && i + 12 < n && ec_is_digit(s[i + 12]))))
		return 0;
	area = num_at(s, i, 3);
	group = num_at(s, i + 4, 2);
	serial = num_at(s, i + 7, 4);
	if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
		return 0;
	*a = i;
	*b = i + 11;
	return 1;
}

/* Four dotted decimal octets at i (no leading zeros); *end after them. */
static int
parse_ipv4(const char *s, size_t n, size_t i, size_t *end, unsigned oct[4])
{
	size_t k = i;

	for (int p = 0; p < 4; p++) {
		size_t st;
		unsigned v = 0;
		if (p > 0) {
			if (k >= n || s[k] != '.')
				return 0;
			k++;
		}
		for (st = k; k < n && ec_is_digit(s[k]) && k - st < 3; k++)
			v = v * 10 + (unsigned)(s[k] - '0');
		if (k == st || (k < n && ec_is_digit(s[k])) || (s[st] == '0' && k - st > 1) || v > 255)
			return 0;
		oct[p] = v;
	}
	*end = k;
	return 1;
}

/* A CIDR suffix "/N" (N <= max) at k: the position after it, or k. */
static size_t
cidr(const char *s, size_t n, size_t k, unsigned max)
{
	size_t q = k + 1;
	unsigned v = 0;

	if (k >= n || s[k] != '/' || q >= n || !ec_is_digit(s[q]))
		return k;
	for (; q < n && ec_is_digit(s[q]) && q - k <= 3; q++)
		v = v * 10 + (unsigned)(s[q] - '0');
	if (v > max || (q < n && ec_is_word(s[q])))
		return k;
	return q;
}

/* An IPv4 address (with its /prefix, if any). Addresses that identify no host
 * are left alone: 0.0.0.0, loopback 127.0.0.0/8, 255.255.255.255. */
static int
find_ipv4(const char *s, size_t n, size_t i, size_t *a, size_t *b)
{
	unsigned o[4];
	size_t k;

	if (!ec_is_digit(s[i]) || (i > 0 && (ec_is_word(s[i - 1]) || s[i - 1] == '.')))
		return 0;
	if (!parse_ipv4(s, n, i, &k, o))
		return 0;
	if (k < n && (ec_is_word(s[k]) || (s[k] == '.' && k + 1 < n && ec_is_digit(s[k + 1]))))
		return 0;
	if ((o[0] | o[1] | o[2] | o[3]) == 0 || o[0] == 127 || (o[0] & o[1] & o[2] & o[3]) == 255)
		return 0;
	*a = i;
	*b = cidr(s, n, k, 32);
	return 1;
}

/* Is s[0..len) an IPv6 address? *groups gets the number of 16-bit groups written
 * and *longest the longest group in hex digits. */
static int
valid_ipv6(const char *s, size_t len, int *groups, int *longest)
{
	size_t k = 0;
	int g = 0, dc = 0, lg = 0;

	if (len >= 2 && s[0] == ':' && s[1] == ':')
		dc = 1, k = 2;
	else if (len > 0 && s[0] == ':')
		return 0;
	while (k < len) {
		size_t st = k, end;
		unsigned o[4];
		while (k < len && ec_is_hex(s[k]) && k - st < 5)
			k++;
		if (k < len && s[k] == '.') {
			if (!parse_ipv4(s, len, st, &end, o) || end != len)
				return 0;
			g += 2, lg = 4;
			break;
		}
		if (k == st || k - st > 4)
			return 0;
		g++;
		if ((int)(k - st) > lg)
			lg = (int)(k - st);
		if (k == len)
			break;
		if (s[k++] != ':' || k == len)
			return 0;
		if (s[k] == ':') {
			if (dc)
				return 0;
			dc = 1;
			k++;
		}
	}
	if (dc ? g > 7 : g != 8)
		return 0;
	*groups = g;
	*longest = lg;
	return 1;
}

/* An IPv6 address (with its /prefix): full or with "::", an embedded IPv4 tail
 * allowed. To keep "a::b"-like code out, at least two groups and one group of two
 * or more digits are required (so "::" and "::1" are never redacted). */
static int
find_ipv6(const char *s, size_t n, size_t i, size_t *a, size_t *b)
{
	size_t k;
	int g, lg;

	if (!(ec_is_hex(s[i]) || s[i] == ':'))
		return 0;
	if (i > 0 && (ec_is_word(s[i - 1]) || s[i - 1] == ':' || s[i - 1] == '.'))
		return 0;
	for (k = i; k < n && k - i < 64 && (ec_is_hex(s[k]) || s[k] == ':' || s[k] == '.'); k++)
		;
	if (k < n && ec_is_word(s[k]))
		return 0;
	while (k > i && s[k - 1] == '.')
		k--;
	if (k > i + 1 && s[k - 1] == ':' && s[k - 2] != ':')
		k--;
	if (k - i < 3 || !memchr(s + i, ':', k - i) || !valid_ipv6(s + i, k - i, &g, &lg) ||
	    g < 2 || lg < 2)
		return 0;
	*a = i;
	*b = cidr(s, n, k, 128);
	return 1;
}

/* A phone number may not start right after a letter, digit or number punctuation. */
static int
phone_before(const char *s, size_t i)
{
	return i == 0 || !(ec_is_word(s[i - 1]) || in_set(s[i - 1], ".,+-/") || in_code(s, i));
}

/* ... nor go on as a word or a longer number. */
static int
phone_after(const char *s, size_t n, size_t k)
{
	if (k >= n)
		return 1;
	if (ec_is_word(s[k]))
		return 0;
	return !(in_set(s[k], "-./,") && k + 1 < n && ec_is_digit(s[k + 1]));
}

/* International: '+', a country code, 9 to 15 digits in groups separated by one
 * space, '-', '.' or '/', a parenthesised group like "(0)" allowed. */
static int
find_phone_intl(const char *s, size_t n, size_t i, size_t *a, size_t *b)
{
	size_t k = i + 1, end;
	int nd = 0;

	if (s[i] != '+' || (i > 0 && (ec_is_word(s[i - 1]) || s[i - 1] == '+')))
		return 0;
	if (k >= n || !ec_is_digit(s[k]) || s[k] == '0')
		return 0;
	end = k;
	for (;;) {
		size_t q = k;
		if (nd > 16)
			return 0;
		if (k < n && ec_is_digit(s[k])) {
			nd++;
			end = ++k;
			continue;
		}
		if (q < n && in_set(s[q], " -./"))
			q++;
		if (q < n && s[q] == '(') {
			size_t r = q + 1;
			int pd = 0;
			while (r < n && ec_is_digit(s[r]) && pd < 5)
				r++, pd++;
			if (pd == 0 || r >= n || s[r] != ')')
				break;
			nd += pd;
			end = k = r + 1;
			if (k < n && s[k] == ' ' && k + 1 < n && ec_is_digit(s[k + 1]))
				k++;
			continue;
		}
		if (q > k && q < n && ec_is_digit(s[q])) {
			k = q;
			continue;
		}
		break;
	}
	if (nd < 9 || nd > 16 || !phone_after(s, n, end))
		return 0;
	*a = i;
	*b = end;
	return 1;
}

/* Three digits NXX (N = 2-9), the North American area code and exchange shape. */
static int
nxx_at(const char *s, size_t n, size_t k)
{
	return digits_at(s, n, k, 3) && s[k] >= '2';
}

/* North American: (NXX) NXX-XXXX, NXX-NXX-XXXX, NXX.NXX.XXXX or NXX NXX XXXX (one
 * separator throughout), optionally after "1 " or "1-". */
static int
find_phone_na(const char *s, size_t n, size_t i, size_t *a, size_t *b)
{
	size_t k = i;
	char sep = 0;

	if (!phone_before(s, i))
		return 0;
	if (s[k] == '1' && k + 1 < n && in_set(s[k + 1], " -.") && k + 2 < n &&
	    (s[k + 2] == '(' || ec_is_digit(s[k + 2])))
		k += 2;
	if (k < n && s[k] == '(') {
		if (!nxx_at(s, n, k + 1) || k + 4 >= n || s[k + 4] != ')')
			return 0;
		k += 5;
		if (k < n && s[k] == ' ')
			k++;
	} else {
		if (!nxx_at(s, n, k) || k + 3 >= n || !in_set(s[k + 3], " -."))
			return 0;
		sep = s[k + 3];
		k += 4;
	}
	if (!nxx_at(s, n, k) || k + 3 >= n || !in_set(s[k + 3], " -.") || (sep && s[k + 3] != sep))
		return 0;
	k += 4;
	if (!digits_at(s, n, k, 4) || !phone_after(s, n, k + 4))
		return 0;
	*a = i;
	*b = k + 4;
	return 1;
}

/* National with a trunk prefix: starts with 0 (or 00 for abroad) and a non-zero
 * digit, optionally "(0xx)", then groups of two or more digits separated by one
 * kind of separator (space, '-', '.' or '/'); 9 to 15 digits in all. A bare run of
 * digits counts only in this form ("0612345678"). */
static int
find_phone_trunk(const char *s, size_t n, size_t i, size_t *a, size_t *b)
{
	size_t k = i;
	int nd = 0, paren = 0;
	char sep = 0;

	if (!phone_before(s, i))
		return 0;
	if (s[k] == '(')
		paren = 1, k++;
	if (k + 1 >= n || s[k] != '0' || !ec_is_digit(s[k + 1]))
		return 0;
	if (s[k + 1] == '0' && !(k + 2 < n && s[k + 2] >= '1' && s[k + 2] <= '9'))
		return 0;
	while (k < n && ec_is_digit(s[k]) && nd <= 15)
		k++, nd++;
	if (paren) {
		if (k >= n || s[k] != ')')
			return 0;
		k++;
		if (k < n && s[k] == ' ')
			k++;
		if (!digits_at(s, n, k, 2))
			return 0;
		while (k < n && ec_is_digit(s[k]) && nd <= 15)
			k++, nd++;
	}
	while (nd <= 15 && k + 2 < n && in_set(s[k], " -./") && (!sep || s[k] == sep) &&
	    digits_at(s, n, k + 1, 2)) {
		sep = s[k++];
		while (k < n && ec_is_digit(s[k]) && nd <= 15)
			k++, nd++;
	}
	if (nd < 9 || nd > 15 || !phone_after(s, n, k))
		return 0;
	*a = i;
	*b = k;
	return 1;
}

/* The detectors in priority order: an earlier kind wins where spans overlap (an
 * IBAN's digits are not also a card, an email's digits not a phone). */
static const struct {
	finder *find;
	const char *kind;
} finders[] = {
	{ find_email, "email" },
	{ find_iban, "iban" },
	{ find_card, "card" },
	{ find_ssn, "ssn" },
	{ find_ipv6, "ip" },
	{ find_ipv4, "ip" },
	{ find_phone_intl, "phone" },
	{ find_phone_na, "phone" },
	{ find_phone_trunk, "phone" },
};
#define NFINDERS (sizeof finders / sizeof *finders)

typedef struct span {
	size_t a, b;
	const char *kind;
} span;

static int
span_cmp(const void *x, const void *y)
{
	const span *p = x, *q = y;

	return p->a < q->a ? -1 : p->a > q->a;
}

static void
count_kind(json_t *counts, const char *kind)
{
	json_t *v;

	if (!counts)
		return;
	v = json_object_get(counts, kind);
	json_object_set_new(counts, kind,
	    json_integer((json_is_integer(v) ? json_integer_value(v) : 0) + 1));
}

size_t
ec_redact_pii(char **sp, json_t *counts, int *oom)
{
	const char *s = *sp;
	size_t n = strlen(s), nv = 0, cap = 0, prev;
	unsigned char *taken;
	span *v = NULL, *nvp;
	ec_buf o = { 0 };
	char *r;
	int lost = 0;

	if (n == 0)
		return 0;
	if (!oom)
		oom = &lost;
	if (!(taken = calloc(n, 1))) {
		*oom = 1;
		goto lost;
	}
	for (size_t f = 0; f < NFINDERS; f++) {
		for (size_t i = 0; i < n; ) {
			size_t a, b, q;
			if (!finders[f].find(s, n, i, &a, &b)) {
				i++;
				continue;
			}
			for (q = a; q < b && !taken[q]; q++)
				;
			if (q < b) {
				i++;
				continue;
			}
			if (nv == cap) {
				cap = cap ? cap * 2 : 8;
				if (!(nvp = realloc(v, cap * sizeof *v))) {
					free(v);
					free(taken);
					*oom = 1;
					goto lost;
				}
				v = nvp;
			}
			v[nv].a = a, v[nv].b = b, v[nv].kind = finders[f].kind;
			nv++;
			memset(taken + a, 1, b - a);
			i = b > i ? b : i + 1;
		}
	}
	free(taken);
	if (nv == 0)
		return 0;
	qsort(v, nv, sizeof *v, span_cmp);
	prev = 0;
	for (size_t k = 0; k < nv; k++) {
		ec_buf_put(&o, s + prev, v[k].a - prev);
		ec_buf_puts(&o, "[redacted:");
		ec_buf_puts(&o, v[k].kind);
		ec_buf_putc(&o, ']');
		prev = v[k].b;
	}
	ec_buf_put(&o, s + prev, n - prev);
	if (!(r = ec_buf_take(&o))) {
		free(v);
		*oom = 1;
		goto lost;
	}
	for (size_t k = 0; k < nv; k++)
		count_kind(counts, v[k].kind);
	free(v);
	free(*sp);
	*sp = r;
	return nv;
lost:
	/* Without memory to rewrite it, the only safe answer for a caller that cannot
	 * be told is to keep nothing: an empty string leaks no PII. */
	if (oom == &lost)
		**sp = '\0';
	return 0;
}

/* security.redactRequests, as the config the process read says (config.c). */
static int redact_requests;

void
ec_pii_redact_requests(int on)
{
	redact_requests = on;
}

/* Redact every string below j (object values, array items; not keys). */
static size_t
redact_tree(json_t *j, int *oom)
{
	size_t n = 0, i;
	const char *k;
	json_t *v;

	if (json_is_string(j)) {
		char *s = strdup(json_string_value(j));
		size_t r;
		if (!s) {
			*oom = 1;
			return 0;
		}
		if ((r = ec_redact_pii(&s, NULL, oom)) > 0)
			json_string_set(j, s);
		free(s);
		return r;
	}
	if (json_is_object(j))
		json_object_foreach(j, k, v)
			n += redact_tree(v, oom);
	else if (json_is_array(j))
		json_array_foreach(j, i, v)
			n += redact_tree(v, oom);
	return n;
}

char *
ec_redact_request(const char *buf, size_t len, const char *ext, size_t *outlen)
{
	size_t n = 0;
	int oom = 0;
	char *s = NULL;

	if (!redact_requests || memchr(buf, '\0', len))
		return NULL;
	if (!strcmp(ext, "json")) {
		/* Redacted value by value, so the request stays JSON; one that does not
		 * parse is kept as it came, for epic-parse to reject with its position. */
		json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		if (j && (n = redact_tree(j, &oom)) > 0 && !oom)
			s = ec_json_dumps(j);
		json_decref(j);
	} else if ((s = strndup(buf, len)) && ((n = ec_redact_pii(&s, NULL, &oom)) == 0 || oom)) {
		free(s);
		s = NULL;
	}
	if (s)
		*outlen = strlen(s);
	return s;
}
