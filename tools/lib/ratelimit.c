/*
 * ratelimit.c - a token bucket per submitter (security.rateLimit): burst tokens,
 * refilled at perMinute a minute. A bucket that has refilled is the same as none
 * and is dropped, so the table holds only the submitters still being held back.
 */
#include <limits.h>
#include <stdlib.h>

#include "ec.h"

long long
ec_ratelimit_take(ec_ratelimit *r, uid_t uid, double per_min, double burst, long long now)
{
	ec_bucket *b = NULL;
	long long wait;

	if (!(per_min > 0))
		return 0;                       /* 0: no limit */
	for (size_t i = 0; i < r->n; ) {
		ec_bucket *x = &r->v[i];
		x->tokens += (double)(now - x->last) * per_min / 60000.0;
		x->last = now;
		if (x->tokens >= burst && x->uid != uid) {
			*x = r->v[--r->n];      /* full again: forget it */
			continue;
		}
		if (x->tokens > burst)
			x->tokens = burst;
		if (x->uid == uid)
			b = x;
		i++;
	}
	if (!b) {
		ec_bucket *nb = realloc(r->v, (r->n + 1) * sizeof *nb);
		if (!nb)
			return 0;               /* out of memory: let it through */
		r->v = nb;
		b = &r->v[r->n++];
		*b = (ec_bucket){ uid, burst, now };
	}
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return 0;
	}
	/* A rate of 1e-300 a minute is a wait longer than any clock: cap it (a day). */
	if (ec_dbl_to_ll((1 - b->tokens) * 60000.0 / per_min, 0, 86400000, &wait) < 0)
		wait = 86400000;
	return wait + 1;
}

void
ec_ratelimit_free(ec_ratelimit *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}
