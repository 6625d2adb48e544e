/*
 * trash.h - private to the library files that remove things from the spool
 * (queue.c's delete, retention.c's purge and forget): how an entry leaves the
 * spool for good.
 *
 * An entry is first renamed into tmp/ under a dot-name no tool takes
 * (.trash.LABEL.PID.MS.N), both directories are synced, and only then is it removed,
 * never following a symbolic link: a crash in between leaves nothing half-removed in
 * a queue, and the next removal sweeps what was left.
 */
#ifndef TRASH_H
#define TRASH_H

#include "ec.h"

/* The trash name for attempt i of an entry labelled label (an id, "cache"), into
 * out (NAME_MAX + 1). */
void ec_trash_name(char *out, size_t cap, const char *label, int i);
/*
 * Rename dfd/name (dir, relative to the spool, names dfd in messages) into the
 * spool's tmp/ as a trash name, without replacing anything, sync tmp/ and dfd, then
 * remove it (ec_trash_remove) and sweep earlier leftovers. 0 (removed, or renamed out
 * and left for the next sweep), or -1 with e (EC_EXIT_TEMP; errno ENOENT when the
 * entry was gone already).
 */
int ec_trash_entry(const char *spool, int dfd, const char *dir, const char *name,
    const char *label, ec_err *e);
/* Remove name in directory dfd and everything under it, never following a symbolic
 * link (unlinkat removes the link itself) and never entering a directory that is
 * not ours. 0, or -1 with errno (what could not be removed stays). */
int ec_trash_remove(int dfd, const char *name);
/* Remove what earlier removals left in tmp/ (tmpfd): .trash.* entries of ours. */
void ec_trash_sweep(int tmpfd);

#endif
