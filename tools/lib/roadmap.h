/*
 * roadmap.h - the roadmap roadmap.c builds for epic-aggregate: recommendations
 * merged, ordered and phased (the priority ranks every view uses are in ec.h).
 */
#ifndef EC_ROADMAP_H
#define EC_ROADMAP_H

#include "ec.h"

typedef struct ec_rm_item {     /* a recommendation as one persona made it */
	json_t *j;              /* borrowed */
	const char *persona, *id;
	const char *concern;    /* its concern key, or NULL (borrowed from j) */
	char *key;              /* the normalized title */
	int blocking, prio, has_effort;
	double emin, emax;
	size_t parent;          /* union-find: the first item it is merged with */
	size_t group;           /* its merged recommendation */
} ec_rm_item;
typedef struct ec_rm_rec {      /* a merged recommendation */
	size_t first;           /* its first item: id, title, description, persona */
	const char *concern;    /* the first concern key among its items, or NULL */
	int blocking, prio, has_effort;
	int must;               /* blocking or critical, or a must depends on it */
	int level, phase;
	double emin, emax;
	size_t *deps, ndeps, capdeps;   /* recs it depends on, sorted by id */
	json_t *refs;           /* set of references (object keys), new reference */
	json_t *personas;       /* array of names, new reference */
} ec_rm_rec;
typedef struct ec_roadmap {     /* zero-initialise it */
	ec_rm_item *it;
	size_t nit, capit;
	ec_rm_rec *r;
	size_t nr;
	size_t *topo;           /* rec indexes, every dependency before its dependents */
	json_t *warnings;       /* the dependency cycles broken, as sentences */
	double cp_min, cp_max;  /* effort along the critical path */
	int nphases;
} ec_roadmap;
/* Add recommendation rec (borrowed; its id, title, effortDays, references and
 * dependencies are read) of persona, blocking or not, with priority prio (EC_RM_*). */
int ec_roadmap_add(ec_roadmap *m, json_t *rec, const char *persona, int blocking, int prio,
    ec_err *e);
/* Merge the same recommendation made twice (by id, normalized title or concern), break
 * dependency cycles, order, phase and find the critical path. 0 or -1 with e. */
int ec_roadmap_build(ec_roadmap *m, ec_err *e);
/* The id of merged recommendation rec. */
const char *ec_roadmap_id(const ec_roadmap *m, size_t rec);
void ec_roadmap_free(ec_roadmap *m);

#endif
