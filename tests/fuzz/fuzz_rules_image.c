/*
 * fuzz_rules_image - a compiled rule base kept in the spool's cache
 * (cache/rulebases/FP.c1, rulesimage.c), as persona-run attaches it. The input is
 * the payload: the harness puts the magic and the payload's hash in front, so the
 * image gets past its integrity check and every count, index, offset, string and
 * the condition tree are checked by ec_rules_image_check. An image the check lets
 * through is applied to a fixed PersonaInput: it must not crash, loop, or read or
 * write out of bounds. (Whether a forged rule's words meet the contract is not the
 * check's to prove: the spool's owner writes images, as it writes cache/valid/'s
 * markers; see rulesimage.c.)
 */
#include "fuzz.h"
#include "rulebase.h"

static json_t *input;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[PATH_MAX];

	(void)argc, (void)argv;
	fuzz_setup(dir, sizeof dir);
	input = json_pack("{s:{s:s, s:s, s:{s:s}, s:{}}, s:{s:s, s:i}}",
	    "epic", "description", "Customers pay invoices by card; admins upload 2 GB videos "
	    "and export every user's personal data as CSV every 5 minutes. Single sign-on "
	    "with SAML; the page must load fast on mobile.", "mode", "enterprise", "context",
	    "title", "Fuzz", "accumulatedInsights", "persona", "name", "fuzzed", "reviewOrder", 1);
	if (!input)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	ec_rulebase r = { 0 };
	uint64_t h = ec_xxh3(data, size);
	json_t *out;
	ec_err e;

	if (!(r.image = malloc(size + 16)))
		return 0;
	memcpy(r.image, "ECRI1\n\0\0", 8);
	memcpy(r.image + 8, &h, 8);
	memcpy(r.image + 16, data, size);
	r.image_len = size + 16;
	if (ec_rules_image_check(r.image, r.image_len) == 0 &&
	    (r.top = ec_rules_image_top(r.image, r.image_len))) {
		out = ec_rulebase_apply(&r, input, &e);
		json_decref(out);
		json_decref(r.top);
	}
	free(r.image);
	return 0;
}
