/*
 * clock.c - time, one way: the wall clock and the monotonic one in milliseconds,
 * and RFC 3339 timestamps (the schemas' date-time) read and written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ec.h"

/*
 * EPIC_NOW, when set, sets the tools' wall clock: an RFC 3339 time or seconds
 * since the epoch, read at the first call, from which the clock then runs on as
 * usual (an offset, not a frozen instant, so timers and durations still work). It
 * exists for tests of what depends on age (retention, cache TTL, health windows)
 * on real files. A value that is neither is ignored.
 */
static long long
offset_ms(long long real)
{
	static int known;
	static long long offset;
	const char *s;

	if (!known) {
		long long fake = -1;
		known = 1;
		if ((s = getenv("EPIC_NOW")) && *s) {
			char *end;
			long long sec = strtoll(s, &end, 10);
			if (!*end && sec >= 0 && sec < 253402300800LL)
				fake = sec * 1000;
			else if (ec_time_parse_ms(s, &fake) < 0)
				fake = -1;
		}
		if (fake >= 0)
			offset = fake - real;
	}
	return offset;
}

long long
ec_now_ms(void)
{
	struct timespec ts;
	long long real;

	clock_gettime(CLOCK_REALTIME, &ts);
	real = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return real + offset_ms(real);
}

long long
ec_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ec_iso_time(char *buf, size_t cap)
{
	char out[32];

	ec_time_format(ec_now_ms(), out);
	snprintf(buf, cap, "%s", out);
}

void
ec_time_format(long long ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, 32 - 19, ".%03dZ", (int)(ms % 1000));
}

/* The value of the n digits at s, or -1 if any is not a digit. */
static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
ec_time_parse(const char *s, long long *sec, long *nsec, char *utc, size_t cap)
{
	struct tm tm;
	int y, mo, d, h, mi, se, off = 0, nfrac;
	long ns = 0, scale = 100000000;
	const char *frac;
	time_t t;

	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	if ((y = digits(s, 4)) < 0 || (mo = digits(s + 5, 2)) < 1 || mo > 12 ||
	    (d = digits(s + 8, 2)) < 1 || d > 31 || (h = digits(s + 11, 2)) < 0 || h > 23 ||
	    (mi = digits(s + 14, 2)) < 0 || mi > 59 || (se = digits(s + 17, 2)) < 0 || se > 60)
		return -1;
	s += 19;
	frac = s;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return -1;
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			ns += (*s - '0') * scale;
	}
	nfrac = (int)(s - frac);
	if (*s == 'Z')
		s++;
	else if (*s == '+' || *s == '-') {
		/* Each part is looked at only once the one before it was there:
		 * "+0" ends the string before s[3]. */
		int oh = digits(s + 1, 2), om = -1;
		if (oh >= 0 && s[3] == ':')
			om = digits(s + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -1;
		off = (oh * 3600 + om * 60) * (*s == '-' ? -1 : 1);
		s += 6;
	} else
		return -1;
	if (*s)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
	tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = se;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*sec = (long long)t - off;
	if (nsec)
		*nsec = ns;
	if (utc) {
		/* The same instant in UTC, the fraction as it was written. */
		t = (time_t)*sec;
		if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
			return -1;
		snprintf(utc, cap, "%04d-%02d-%02dT%02d:%02d:%02d%.*sZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nfrac, frac);
	}
	return 0;
}

int
ec_time_parse_ms(const char *s, long long *ms)
{
	long long sec;
	long ns;

	if (ec_time_parse(s, &sec, &ns, NULL, 0) < 0)
		return -1;
	*ms = sec * 1000 + ns / 1000000;
	return 0;
}
