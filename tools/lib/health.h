/*
 * health.h - private to epic-health and the watcher's .prom writer (health.c):
 * the spool's health as the seed's HealthCheck, judged against the config's
 * alerts, and written for people, Nagios and Prometheus (epic-health(1)).
 */
#ifndef HEALTH_H
#define HEALTH_H

#include "ec.h"

/* The default window of the figures: 15 minutes. */
#define EC_HEALTH_WINDOW_MS (15 * 60 * 1000LL)

/* A duration "90s", "15m", "2h", "7d" or bare seconds ("30") into milliseconds,
 * from 1 s to 366 days. 0, or -1 if s is not one. */
int ec_health_duration(const char *s, long long *ms);

/*
 * The health of spool under config cfg, over the window_ms before now
 * (ec_now_ms): a HealthCheck (schemas/health-check) with its status and alerts,
 * plus "checks" (each alert as {check, status, message[, persona]}). On the way it
 * keeps log/health-baseline.json (each persona's median response time over 7 days,
 * recomputed when a day old) and log/health-state.json (since when a persona is
 * unavailable), both atomically and best effort: a reader without write access to
 * the spool still gets its answer. A registry that does not load is a critical
 * alert, not an error. New reference, or NULL with e (EC_EXIT_TEMP: the spool
 * cannot be read).
 */
json_t *ec_health_check(const char *spool, const json_t *cfg, long long window_ms, ec_err *e);

/* The check as a Nagios plugin's one line ("EPIC-CREATOR WARNING - ... | perfdata"),
 * malloc'd (NULL: out of memory); *code gets the plugin's exit: 0 OK, 1 WARNING,
 * 2 CRITICAL. cfg gives the thresholds of the perfdata. */
char *ec_health_nagios(const json_t *h, const json_t *cfg, int *code);
/* The check in Prometheus's text exposition format (epic_creator_*), malloc'd. */
char *ec_health_prometheus(const json_t *h);
/* The check for a person at a terminal: a short table, malloc'd. */
char *ec_health_text(const json_t *h);

/* For the watcher: check spool now (the default window) and write the Prometheus
 * text to path atomically (0644, for node exporter's textfile collector). 0 or -1
 * with e. */
int ec_health_write_prometheus(const char *spool, const json_t *cfg, const char *path,
    ec_err *e);

#endif
