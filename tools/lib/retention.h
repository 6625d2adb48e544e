/*
 * retention.h - private to epic-purge, epic-forget and their library file
 * retention.c: what the config's retention: limits remove (purge) and what a
 * person's right to erasure removes (forget). See epic-purge(1), epic-forget(1).
 */
#ifndef RETENTION_H
#define RETENTION_H

#include "ec.h"

/* The record of the last purge, log/purge.last: {"time": ms, "removed": {...}}. */
#define EC_PURGE_RECORD "log/purge.last"

typedef struct ec_retention_opts {
	const char *spool;
	const json_t *cfg;      /* the config (retention.*), borrowed */
	long long now_ms;       /* ec_now_ms(): ages are measured from here */
	int dry_run;            /* find and report, remove nothing, write nothing */
	/* Hears about each entry that goes (or would go): its kind (done, failed,
	 * cache, valid, rulebases, metrics, incoming, hold, deferred, active) and what
	 * (a path relative to the spool, or "log/metrics.jsonl: N lines"). May be NULL. */
	void (*report)(const char *kind, const char *what, void *arg);
	/* Hears about what is left alone and why (a running task, a link in done/).
	 * May be NULL. */
	void (*warn)(const char *msg, void *arg);
	void *arg;
} ec_retention_opts;

/*
 * Apply the retention: limits: remove done/ and failed/ tasks finished longer ago
 * than doneDays / failedDays (finished: the mtime of epic.json / error.json, else of
 * the task directory), cache entries (cache/XX/, cache/valid/, cache/rulebases/)
 * written longer ago than cacheDays, and the lines of log/metrics.jsonl older than
 * logDays; 0 keeps forever. A running task (its lock held) and what is not a task
 * of ours (a link, a stranger's directory) are left alone and warned about. Adds
 * kind -> count to counts (an object). Without dry_run, writes one audit line
 * ("purge": the counts) and log/purge.last. 0, or -1 with e (EC_EXIT_TEMP: I/O;
 * what was removed before the failure stays removed).
 */
int ec_purge(const ec_retention_opts *o, json_t *counts, ec_err *e);

/*
 * Erase every trace of the requests of requester (metadata.requestedBy, exactly)
 * or of the task with id task (one of the two is NULL): the request files in
 * incoming/ and hold/, the tasks in hold/, deferred/, active/ (not running), done/
 * and failed/, the cache entries of their persona outputs and their lines in
 * log/metrics.jsonl. Adds kind -> count to counts and the erased task ids to ids
 * (an array). Without dry_run, writes one audit line ("forget": the counts and
 * ids, never the requester). Returns 0 when everything found was erased, 1 when a
 * running task was left (warned: try again), -1 with e.
 */
int ec_forget(const ec_retention_opts *o, const char *requester, const char *task,
    json_t *counts, json_t *ids, ec_err *e);

/* For a running watcher: run epic-purge (--spool spool, --config config when not
 * NULL) when every ms (0: never) have passed since the last purge log/purge.last
 * records (else since started), and set *next to when to ask again. 1 purged, 0
 * not due, -1 the purge failed (msg says why; asked again within the hour). */
int ec_purge_when_due(const char *spool, const char *config, long long every, long long started,
    long long *next, char *msg, size_t cap);

#endif
