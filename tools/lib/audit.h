/*
 * audit.h - private to epic-audit and its library file (audit.c): the audit
 * log's hash chain read back (epic-audit(1): verify, tail) and cut into rotated
 * files (for retention). ec_audit, which writes a line, is in ec.h: every tool
 * that acts writes one.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include "ec.h"

/* The log and its rotated predecessors, beneath the spool root. */
#define EC_AUDIT_LOG "log/audit.jsonl"
/* The prev of a chain's first line. */
#define EC_AUDIT_ZERO "0000000000000000000000000000000000000000000000000000000000000000"

/* Where a walk of the chain stands, carried from one file to the next. */
typedef struct ec_audit_walk {
	/* out, and carried into the next file: */
	char last[65];          /* SHA-256 of the last line seen ("" before the first) */
	char start[65];         /* prev of the very first line (EC_AUDIT_ZERO: the log's start) */
	long long lines;        /* lines seen in all files */
	/* out, on a break: */
	char why[512];          /* "FILE:LINE: what is wrong" */
	char prevfile[256];     /* the file walked before this one, for messages */
} ec_audit_walk;
/*
 * Walk the first size bytes (-1: all) of the open file fd (name as messages show
 * it), continuing w (zero it before the first file). Each line must be a JSON object ending in a newline
 * whose "prev" is the SHA-256 of the line before it, in this file or at the end of
 * the file walked before; the very first line's prev may be zeros or a hash it
 * continues from (recorded in w->start). Returns 0 intact, 1 broken (w->why names
 * the first broken line), -1 with e (I/O). Does not close fd.
 */
int ec_audit_walk_fd(int fd, const char *name, off_t size, ec_audit_walk *w, ec_err *e);
/* How many bytes of fd the writers have finished: its size read under a shared lock
 * (a line being appended is not half there). -1 if fd is not a regular file. */
off_t ec_audit_size(int fd);
/* The chain's files as they were at one moment (under the log's shared lock, so no
 * rotation or append is half done): the rotated files in order, then the log. */
typedef struct ec_audit_file {
	char name[64];          /* "log/audit.jsonl.3", "log/audit.jsonl" */
	int fd;
	off_t size;             /* the bytes to walk */
} ec_audit_file;
/* Open them into *files (caller frees with ec_audit_files_free). How many (0: no
 * log yet), or -1 with e. */
int ec_audit_files(const char *spool, ec_audit_file **files, ec_err *e);
void ec_audit_files_free(ec_audit_file *files, int n);
/* The rotated files' numbers (audit.jsonl.N) in log/, ascending, into *out (caller
 * frees). Returns how many, or -1 with e. */
int ec_audit_rotated(const char *spool, long **out, ec_err *e);
/*
 * Move the lines of log/audit.jsonl older than older_than_ms (their "time" before
 * now minus it; 0: every complete line) to a new log/audit.jsonl.N (N one past the
 * highest), byte for byte, and keep the rest as log/audit.jsonl, both written
 * atomically and synced, under the log's lock. Only a leading run of old lines
 * moves (the chain's order is kept); the first kept line's prev is the hash of the
 * last moved one, and a writer that finds log/audit.jsonl empty chains to the
 * newest rotated file's last line: verify over .1 ... .N and the log in order, or
 * over the log alone, both pass. A rotation a crash cut short (the moved lines in
 * both files) is finished first, and that is all this call does. Returns the number
 * of lines moved (0: nothing to do, no file made), or -1 with e.
 */
long ec_audit_rotate(const char *spool, long long older_than_ms, ec_err *e);

#endif
