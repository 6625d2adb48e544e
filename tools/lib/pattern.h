/*
 * pattern.h - the schemas' "pattern" keywords, matched (pattern.c): for schema.c
 * and the tests that hold the matcher to regcomp's answers.
 */
#ifndef EC_PATTERN_H
#define EC_PATTERN_H

#include "ec.h"

typedef struct ec_pattern ec_pattern;
/* An anchored POSIX extended regular expression (^...$) compiled, or NULL when it
 * is not one this takes (then regcomp is the judge). */
ec_pattern *ec_pattern_compile(const char *re);
/* Does all of s match? 1 or 0; -1 out of memory. */
int ec_pattern_match(const ec_pattern *pt, const char *s);
void ec_pattern_free(ec_pattern *pt);
/* A string of the pattern's language into out (a random walk; seed advances), for
 * the tests: 0, or -1 when the walk did not end within cap bytes. */
int ec_pattern_sample(const ec_pattern *pt, unsigned long *seed, char *out, size_t cap);

#endif
