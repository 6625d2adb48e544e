/*
 * roles.h - security.roles (roles.c): the admin commands' gate (epic-queue's
 * moves, epic-purge, epic-forget), the fold of dropped refusals into the audit
 * log (the watcher, epic-audit, epic-health) and the view group's copies of
 * results (the watcher and epic run write them; delete, purge and forget remove
 * them). See epic-queue(1), ROLES.
 */
#ifndef ROLES_H
#define ROLES_H

#include "ec.h"

/*
 * May the caller run admin command `command` (hold, release, requeue, delete,
 * purge, forget, key-rotate) on spool? Without security.roles in cfg: yes (the
 * filesystem decides). With it: the spool's owner and the members of a group of
 * roles.admin may (through sudo: the person sudo names). 0 allowed; -1 with e
 * EC_EXIT_REJECT refused, the refusal recorded (the audit log, or a drop in
 * refused/ for the owner to fold; e says when it could not be), or EC_EXIT_TEMP.
 */
int ec_role_require(const json_t *cfg, const char *spool, const char *command, ec_err *e);
/* For the spool's owner (anyone else: 0, nothing done): fold the refusals dropped
 * in refused/ into the audit log as "refused" events (uid and user from the drop's
 * owner; a bad drop has reason "malformed") and remove them. How many were folded,
 * or -1 with e (the audit log could not be written: the rest stay for next time). */
int ec_roles_fold(const char *spool, ec_err *e);
/* When roles.view names a group: copy done/ID's epic.json and its Markdown report
 * (report.md) to view/ID/ (02750, the group's; files 0640). 1 copied, 0 no view
 * group, -1 with e. */
int ec_view_publish(const char *spool, const json_t *cfg, const char *id, ec_err *e);
/* Remove view/ID (through tmp/, as a delete). 1 removed, 0 there was none, -1 with e. */
int ec_view_remove(const char *spool, const char *id, ec_err *e);

#endif
