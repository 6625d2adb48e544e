/*
 * norm.h - private to the normalizer (normalize.c, normfield.c, normrecs.c,
 * normparts.c): its state, size caps, field and enum tables and the functions the
 * parts share. Nothing outside those files includes it; ec.h has ec_normalize().
 */
#ifndef NORM_H
#define NORM_H

#include "ec.h"

/* Size caps, in characters (strings) and items (arrays). */
#define CAP_TITLE       200
#define CAP_DESCRIPTION 4000
#define CAP_INSIGHT     1000
#define CAP_COST        200
#define CAP_REFERENCE   500
#define CAP_CATEGORY    100
#define CAP_SHORT       200     /* metadata.model, metadata.engine */
#define CAP_VERSION     64
#define CAP_MESSAGE     1000
#define CAP_CONCERN     80      /* the schema's maxLength of a concern key */
#define CAP_RAW         1024    /* the schema's maxLength of metadata.raw */
#define MAX_RECS        100
#define MAX_INSIGHTS    100
#define MAX_REFERENCES  50
#define MAX_DEPS        50
#define MAX_SIGNALS     100
#define MAX_EFFORT_DAYS EC_MAX_EFFORT_DAYS  /* larger efforts are not believed */
#define NOTE_PATHS      5       /* dropped fields named in metadata.raw */

/* --- the normalizer's state ------------------------------------------------ */

typedef struct nctx {
	const char *name;           /* for messages */
	const ec_norm_opts *o;
	ec_err *e;
	char prefix[8];             /* for new recommendation ids */
	json_t *counts;             /* redactions made by this pass, by kind */
	int oom;
	/* what was done, for metadata.raw: */
	char where[160];            /* where the JSON was found, "" if it was the whole text */
	size_t commas, bom;
	size_t dropped;             /* unknown or superseded fields */
	char dropped_paths[NOTE_PATHS][96];
	size_t sanitized, cut, conf_missing, conf_clamped, conf_string;
	size_t type_default, prio_default, title_from_desc, desc_from_title, cost_default;
	size_t ids_assigned, ids_fixed, dup_recs, recs_over, insights_over, insights_empty;
	size_t deps_dropped, refs_over, effort_bad, signals_bad, status_odd;
	size_t recs_from_strings, redactions_bad, cost_missing, amount_missing, unwrapped;
	char unwrap_key[48];
} nctx;

/*
 * A field and the names agents use for it. The canonical name matches exactly;
 * the aliases (folded, see norm_fold()) in table order. When several keys name one
 * field, the canonical one wins, then the earliest alias; the others are dropped.
 */
typedef struct fspec {
	const char *canon;
	const char *alias[10];
} fspec;

enum { T_PERSONA, T_INSIGHTS, T_RECS, T_COST, T_CONF, T_SIGNALS, T_META, T_STATUS, T_EXEC,
	T_MODEL, T_TOKENS, T_VERSION, T_N };
enum { R_ID, R_TITLE, R_TYPE, R_BLOCKING, R_PRIORITY, R_COST, R_DESC, R_DEPS, R_REFS,
	R_EFFORT, R_PERSONA, R_CONCERN, R_N };
enum { C_CATEGORY, C_AMOUNT, C_EFFORT, C_N };
enum { M_MODEL, M_TOKENS, M_VERSION, M_ENGINE, M_FIRED, M_TOTAL, M_REDACT, M_HIT, M_RAW, M_USAGE, M_GROUND, M_N };
enum { P_NAME, P_ORDER, P_STATUS, P_EXEC, P_CACHED, P_FALLBACK, P_ERROR, P_N };
enum { E_TYPE, E_MESSAGE, E_RETRY, E_N };

extern const fspec norm_top_fields[T_N], norm_rec_fields[R_N], norm_cost_fields[C_N],
	norm_meta_fields[M_N], norm_persona_fields[P_N], norm_error_fields[E_N];
/* Wrapper keys (folded): {"output": {...}} holding a PersonaOutput is unwrapped. */
extern const char *const norm_wrappers[];

typedef struct etab {
	const char *value;          /* the contract's value */
	const char *names[16];      /* folded names that mean it */
} etab;

extern const etab norm_type_table[], norm_priority_table[], norm_status_table[],
	norm_errtype_table[];

/* normfield.c */
const char *norm_type_name(const json_t *v);
int norm_fold(const char *s, char *out, size_t cap);
json_t *norm_reject(nctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
json_t *norm_nomem(nctx *c);
char *norm_clean(nctx *c, const char *in, int mode, size_t cap);
/* Record key of the object at path as dropped, for metadata.raw. */
void norm_drop_field(nctx *c, const char *path, const char *key);
void norm_shown(nctx *c, const json_t *v, char *buf, size_t cap);
void norm_pick(nctx *c, const json_t *obj, const fspec *spec, size_t nspec, json_t **val,
    const char **key, const char *path);
int norm_fitness(const json_t *obj, size_t *items, void *arg);
const char *norm_lookup(const etab *t, const char *s);
int norm_cost_fields_set(nctx *c, json_t *obj, const char *textkey, const json_t *text,
    const char *tpath, const json_t *eff, size_t cap, size_t *missing);

/* normrecs.c */
int norm_id_valid(const char *s);
int norm_prefix_valid(const char *s);
void norm_derive_prefix(const char *persona, char out[8]);
json_t *norm_recommendations(nctx *c, const json_t *in, const char *key);

/* normparts.c */
json_t *norm_insights(nctx *c, const json_t *in, const char *key);
json_t *norm_signals(nctx *c, const json_t *in, const char *key);
int norm_confidence(nctx *c, const json_t *in, const char *key, double *out);
json_t *norm_cost_analysis(nctx *c, const json_t *in, const char *key);
int norm_set_string(nctx *c, json_t *obj, const char *name, const json_t *v, const char *path,
    size_t cap);
json_t *norm_persona(nctx *c, const json_t *top_val[], const char *top_key[]);

#endif
