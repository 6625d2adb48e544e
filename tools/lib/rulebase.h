/*
 * rulebase.h - a registered rule base ready to apply: as JSON, or as the compiled
 * image kept for its fingerprint in the spool's cache (rulesload.c, rulesimage.c).
 * For persona-run and the plan; ec.h has the JSON-only ec_rules_apply().
 */
#ifndef RULEBASE_H
#define RULEBASE_H

#include "ec.h"

/* The largest kept image read back (a rule base of EC_MAX_JSON_BYTES, its terms twice). */
#define EC_RULEBASE_IMAGE_MAX (2 * EC_MAX_JSON_BYTES)
/* The kept image's name: cache/rulebases/FINGERPRINT EC_RULEBASE_IMAGE_EXT (a new
 * name when what is kept changes, so an old spool's images are simply not read). */
#define EC_RULEBASE_IMAGE_EXT ".c1"

typedef struct ec_rulebase {
	json_t *json;           /* the whole rule base, checked and merged; or NULL */
	json_t *top;            /* its own fields (json itself, or the image's) */
	char *image;            /* the compiled image (rulesimage.c), or NULL */
	size_t image_len;
	int image_mapped;       /* image is mapped (ec_spool_map), not malloc'd */
} ec_rulebase;

/*
 * Load the registered rule base at path, of fingerprint fp (ec_rules_fingerprint_kept).
 * With a spool, it is checked, merged with its vocabulary and compiled once per
 * fingerprint, and kept so in cache/rulebases/ (EC_RULEBASE_IMAGE_EXT); later loads
 * map that image and neither read the rule base nor parse nor compile. Read, it must
 * still have fingerprint fp (111 if it changed meanwhile). NULL with e when it does
 * not load.
 */
ec_rulebase *ec_rules_load_kept(const char *path, const char *fp, const char *spool, ec_err *e);
/*
 * The fingerprint of the rule base at path (absolute, as registered): the XXH3 of
 * its bytes and of the shared vocabulary beside it (the file its "concepts" key
 * names, else concepts.json), its version for the cache. Not read when the spool's
 * cache/valid/ remembers it for the files as they are now (device, inode, size,
 * mtime and ctime of both, unchanged for some seconds). voc, if not NULL, gets the
 * vocabulary's path ("" without one). 0, or -1 with e when it cannot be read.
 */
int ec_rules_fingerprint_kept(const char *path, const char *spool, char fp[17], char *voc,
    size_t cap, ec_err *e);
/* A rule base already loaded as JSON (borrowed: it must outlive the result). */
ec_rulebase *ec_rulebase_of(json_t *rb);
void ec_rulebase_free(ec_rulebase *r);
/* ec_rules_apply and ec_rules_relevance of a loaded rule base: the same results
 * whichever form it is in. */
json_t *ec_rulebase_apply(const ec_rulebase *r, const json_t *input, ec_err *e);
int ec_rulebase_relevance(const ec_rulebase *r, const json_t *input, ec_relevance *rel,
    ec_err *e);

/* rulesimage.c */
/* The compiled image of a checked rule base (malloc'd, *len bytes), or NULL with e. */
char *ec_rules_image_build(const json_t *rb, size_t *len, ec_err *e);
/* 0 when img is an image whose every index, offset and string is in bounds and whose
 * conditions form a tree (safe to attach), else -1. */
int ec_rules_image_check(const char *img, size_t len);
/* The same, and every rule's JSON and the top-level fields decode (epic cache verify). */
int ec_rules_image_verify(const char *img, size_t len);
/* The rule base's own fields kept in a checked image (new reference), or NULL. */
json_t *ec_rules_image_top(const char *img, size_t len);

#endif
