/*
 * effort.c - effort in person-days and money, both ways: read from the words of a
 * cost ("3-5 days", "2 sprints", "M"), and written for people ("2-5 person-days",
 * "6-9 weeks", "EUR 12,800 - 24,000"), the same way by every tool.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"

/* c is one of the characters in set (never true for NUL). */
static int in_set(int c, const char *set) { return c && strchr(set, c) != NULL; }

size_t
ec_decimal_at(const char *s, double *v)
{
	char buf[64];
	size_t i = 0, n = 0;

	while (ec_is_digit(s[i]) || (s[i] == ',' && i > 0 && ec_is_digit(s[i + 1]) &&
	    ec_is_digit(s[i + 2]) && ec_is_digit(s[i + 3]) &&
	    !ec_is_digit(s[i + 4]))) {
		if (s[i] != ',' && n + 1 < sizeof buf)
			buf[n++] = s[i];
		i++;
	}
	if (i == 0)
		return 0;
	if (s[i] == '.' && ec_is_digit(s[i + 1])) {
		if (n + 1 < sizeof buf)
			buf[n++] = '.';
		for (i++; ec_is_digit(s[i]); i++)
			if (n + 1 < sizeof buf)
				buf[n++] = s[i];
	}
	buf[n] = '\0';
	*v = strtod(buf, NULL);
	return i;
}


static const struct {
	const char *name;
	double days;
} units[] = {
	{ "h", 0.125 }, { "hr", 0.125 }, { "hrs", 0.125 }, { "hour", 0.125 }, { "hours", 0.125 },
	{ "d", 1 }, { "day", 1 }, { "days", 1 }, { "pd", 1 },
	{ "w", 5 }, { "wk", 5 }, { "wks", 5 }, { "week", 5 }, { "weeks", 5 },
	{ "sprint", 10 }, { "sprints", 10 },
	{ "mo", 20 }, { "mos", 20 }, { "month", 20 }, { "months", 20 },
	{ "y", 240 }, { "yr", 240 }, { "yrs", 240 }, { "year", 240 }, { "years", 240 },
};

/* Words in front of a unit that do not change it: "person-days", "man weeks". */
static const char *const unit_qualifiers[] = { "person", "persons", "man", "engineer",
	"engineering", "dev", "developer", "working", "work", "business", "calendar", "staff",
	"team", NULL };

static const struct {
	const char *name;
	double min, max;
} tshirts[] = {
	{ "xs", 0.5, 1 }, { "xsmall", 0.5, 1 }, { "extrasmall", 0.5, 1 },
	{ "s", 1, 3 }, { "small", 1, 3 },
	{ "m", 3, 5 }, { "medium", 3, 5 },
	{ "l", 5, 10 }, { "large", 5, 10 },
	{ "xl", 10, 20 }, { "xlarge", 10, 20 }, { "extralarge", 10, 20 },
	{ "xxl", 20, 40 }, { "xxlarge", 20, 40 },
};

static int
is_qualifier(const char *w)
{
	for (size_t i = 0; unit_qualifiers[i]; i++)
		if (strcmp(w, unit_qualifiers[i]) == 0)
			return 1;
	return 0;
}

/* Days per unit for the unit word at s ("days", "person-months", "man weeks",
 * "h"), or 0 if s does not start with a unit. */
static double
unit_at(const char *s)
{
	char w[48];
	size_t n = 0;
	char *part;

	while (*s == ' ')
		s++;
	for (;;) {
		while ((ec_is_alpha(*s) || *s == '-') && n + 1 < sizeof w)
			w[n++] = (char)ec_lower(*s++);
		w[n] = '\0';
		while (n > 0 && w[n - 1] == '-')
			w[--n] = '\0';
		/* "person days": a qualifier, a space, the unit */
		if (n > 0 && is_qualifier(w) && *s == ' ' && ec_is_alpha(s[1])) {
			w[n++] = '-';
			s++;
			continue;
		}
		break;
	}
	if (n == 0)
		return 0;
	part = strrchr(w, '-');
	if (part) {
		*part = '\0';
		for (char *q = w, *dash; q; q = dash ? dash + 1 : NULL) {
			if ((dash = strchr(q, '-')))
				*dash = '\0';
			if (!is_qualifier(q))
				return 0;
		}
		part++;
	} else
		part = w;
	for (size_t i = 0; i < sizeof units / sizeof *units; i++)
		if (strcmp(part, units[i].name) == 0)
			return units[i].days;
	return 0;
}

/* Is there a currency sign right before s (start of the string is start)? */
static int
currency_before(const char *start, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s > start && in_set(s[-1], "$"))
		return 1;
	if (s - start >= 3 && p[-3] == 0xe2 && p[-2] == 0x82 && p[-1] == 0xac)    /* € */
		return 1;
	if (s - start >= 2 && p[-2] == 0xc2 && (p[-1] == 0xa3 || p[-1] == 0xa5))  /* £ ¥ */
		return 1;
	return 0;
}

int
ec_effort_parse(const char *s, double *mn, double *mx)
{
	double a, b, d;
	char w[64];
	size_t n = 0;
	int digits = 0;

	for (const char *p = s; *p; p++) {
		const char *q, *r;
		size_t k;
		if (!ec_is_digit(*p))
			continue;
		digits = 1;
		if ((p > s && (ec_is_alnum(p[-1]) || p[-1] == '.' || p[-1] == ',')) ||
		    currency_before(s, p))
			continue;
		if (!(k = ec_decimal_at(p, &a)))
			continue;
		b = a;
		q = p + k;
		r = q;
		while (*r == ' ')
			r++;
		if (*r == '-' || strncmp(r, "\xe2\x80\x93", 3) == 0 ||   /* en dash */
		    strncmp(r, "\xe2\x80\x94", 3) == 0 || strncmp(r, "to ", 3) == 0) {
			size_t k2;
			r += *r == '-' ? 1 : (*r == 't' ? 2 : 3);
			while (*r == ' ')
				r++;
			if (ec_is_digit(*r) && (k2 = ec_decimal_at(r, &b)))
				q = r + k2;
			else
				b = a;
		}
		if ((d = unit_at(q)) > 0) {
			if (b < a) {
				double t = a;
				a = b, b = t;
			}
			a = ec_round2(a * d), b = ec_round2(b * d);
			if (b > EC_MAX_EFFORT_DAYS)
				return 0;
			*mn = a, *mx = b;
			return 1;
		}
		p += k - 1;
	}
	if (digits)
		return 0;
	/* t-shirt: the words of s without "t-shirt", "size" */
	for (const char *p = s; *p; ) {
		char word[32];
		size_t wn = 0;
		while (*p && !ec_is_alpha(*p))
			p++;
		while (ec_is_alpha(*p)) {
			if (wn + 1 < sizeof word)
				word[wn++] = (char)ec_lower(*p);
			p++;
		}
		word[wn] = '\0';
		if (!wn || !strcmp(word, "t") || !strcmp(word, "shirt") ||
		    !strcmp(word, "tshirt") || !strcmp(word, "size") || !strcmp(word, "sized"))
			continue;
		if (n + wn + 1 >= sizeof w)
			return 0;
		memcpy(w + n, word, wn);
		n += wn;
	}
	w[n] = '\0';
	for (size_t i = 0; n && i < sizeof tshirts / sizeof *tshirts; i++)
		if (strcmp(w, tshirts[i].name) == 0) {
			*mn = tshirts[i].min, *mx = tshirts[i].max;
			return 1;
		}
	return 0;
}

json_t *
ec_effort_given(const json_t *v)
{
	double a, b;

	if (json_is_number(v)) {
		a = b = json_number_value(v);
	} else if (json_is_object(v) && json_is_number(json_object_get(v, "min")) &&
	    json_is_number(json_object_get(v, "max"))) {
		a = json_number_value(json_object_get(v, "min"));
		b = json_number_value(json_object_get(v, "max"));
	} else
		return NULL;
	if (a < 0 || b < 0 || a > b || b > EC_MAX_EFFORT_DAYS)
		return NULL;
	return json_pack("{s:o, s:o}", "min", ec_json_number(a), "max", ec_json_number(b));
}

void
ec_effort_days_text(char *buf, size_t cap, double min, double max)
{
	char a[48], b[48];

	ec_fmt_number(a, sizeof a, ec_round2(min));
	ec_fmt_number(b, sizeof b, ec_round2(max));
	if (strcmp(a, b) == 0)
		snprintf(buf, cap, "%s person-day%s", a, strcmp(a, "1") ? "s" : "");
	else
		snprintf(buf, cap, "%s-%s person-days", a, b);
}

/* v rounded up to a whole number (v itself when too large to be anything else). */
static double
up_to_whole(double v)
{
	long long n;

	if (ec_dbl_to_ll(v, LLONG_MIN / 2, LLONG_MAX / 2, &n) < 0)
		return v;
	return (double)n < v ? (double)(n + 1) : (double)n;
}

void
ec_effort_duration_text(char *buf, size_t cap, double min, double max)
{
	char a[48], b[48];
	const char *unit = "day";

	if (max >= 10)
		min = up_to_whole(min / 5), max = up_to_whole(max / 5), unit = "week";
	ec_fmt_number(a, sizeof a, ec_round2(min));
	ec_fmt_number(b, sizeof b, ec_round2(max));
	if (strcmp(a, b) == 0)
		snprintf(buf, cap, "%s %s%s", a, unit, strcmp(a, "1") ? "s" : "");
	else if (min == 0)
		snprintf(buf, cap, "up to %s %ss", b, unit);
	else
		snprintf(buf, cap, "%s-%s %ss", a, b, unit);
}

void
ec_money_text(char *buf, size_t cap, double v)
{
	char digits[32];
	long long n;
	size_t len, i, o = 0;

	if (ec_dbl_to_ll(v + 0.5, 0, LLONG_MAX, &n) < 0)
		n = v > 0 ? LLONG_MAX : 0;
	snprintf(digits, sizeof digits, "%lld", n);
	len = strlen(digits);
	for (i = 0; i < len && o + 2 < cap; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

void
ec_budget_text(char *buf, size_t cap, const char *currency, double min, double max)
{
	char a[48], b[48];

	ec_money_text(a, sizeof a, min);
	ec_money_text(b, sizeof b, max);
	if (strcmp(a, b) == 0)
		snprintf(buf, cap, "%s %s", currency, a);
	else
		snprintf(buf, cap, "%s %s - %s", currency, a, b);
}
