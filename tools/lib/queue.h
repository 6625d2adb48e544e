/*
 * queue.h - private to epic-queue and its library files (queue.c, queuelist.c):
 * the spool's queues as an operator sees and moves them (epic-queue(1): epic
 * status, hold, release, requeue, delete).
 */
#ifndef QUEUE_H
#define QUEUE_H

#include "ec.h"

/* Where an id is: a task directory STATE/ID, or a request file waiting in
 * incoming/ (under its submitter's name) or held in hold/ (as ID.EXT). */
typedef struct ec_queue_loc {
	const char *state;      /* incoming, hold, active, deferred, done or failed */
	char id[EC_MAX_ID + 1];
	char name[NAME_MAX + 1];        /* its entry in STATE/: ID, or the request's file name */
	const char *ext;        /* a request: json, md or txt (borrowed, static) */
	int task;               /* a task directory (else a request file) */
	struct stat st;         /* the entry, as judged on its descriptor */
} ec_queue_loc;
/* Find id: a task (active/, deferred/, done/, failed/, hold/) first, else a request
 * in hold/ or incoming/ (whose id is computed as the watcher will: ec_claim_request_id).
 * 1 found (loc filled), 0 nowhere, -1 with e (I/O: EC_EXIT_TEMP). */
int ec_queue_locate(const char *spool, const char *id, ec_queue_loc *loc, ec_err *e);
/* Is a claim of id under way (active/.claim.ID.*: between incoming/ and active/)? */
int ec_queue_claiming(const char *spool, const char *id);
/* Is task STATE/ID running: is its lock held? (Probed with a shared lock, released
 * at once.) */
int ec_queue_running(const char *spool, const char *state, const char *id);
/* What an operator sees of one entry: {id, state, modified, ...} and by state the
 * submitter and name (incoming), running (active), attempts, nextAttemptAt and
 * reason (deferred), error (failed), kind and returnsTo (hold). New reference. */
json_t *ec_queue_describe(const char *spool, const ec_queue_loc *loc);
/* Every entry of every queue: incoming, hold, active, deferred, failed, done, each
 * by id. What in incoming/ cannot be a request has id null and a "problem". A
 * missing state directory is an empty queue. New reference, or NULL with e. */
json_t *ec_queue_list(const char *spool, ec_err *e);
/*
 * The operator's moves, for the spool's owner only. Each finds id, writes one
 * audit line (who, what, id, from, to), then makes its one rename(2) within the
 * spool, replacing nothing, and syncs both directories. A task moves only under its
 * lock, taken without waiting: a running task is EC_EXIT_TEMP. was (may be NULL)
 * gets where the entry was. 0, or -1 with e (EC_EXIT_REJECT: no such id, not in a
 * state the move applies to, not the owner; EC_EXIT_TEMP: running, I/O).
 *   hold:    a request in incoming/ or a deferred task into hold/
 *   release: from hold/ back to incoming/ (a request) or deferred/ (a task)
 *   requeue: a failed, done, deferred or idle active task into deferred/, due now
 *   delete:  anything but a running task, renamed into tmp/ and then removed
 */
int ec_queue_hold(const char *spool, const char *id, ec_queue_loc *was, ec_err *e);
int ec_queue_release(const char *spool, const char *id, ec_queue_loc *was, ec_err *e);
int ec_queue_requeue(const char *spool, const char *id, ec_queue_loc *was, ec_err *e);
int ec_queue_delete(const char *spool, const char *id, ec_queue_loc *was, ec_err *e);

#endif
