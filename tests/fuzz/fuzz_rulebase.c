/* fuzz_rulebase - a rule base (a request's inline custom persona, a registration's
 * file): loaded, checked, and applied to a fixed PersonaInput. */
#include "fuzz.h"

static json_t *input;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[PATH_MAX];
	ec_err e;

	fuzz_setup(dir, sizeof dir);
	input = json_pack("{s:{s:s, s:s, s:s, s:s}, s:s, s:[], s:{}}",
	    "request", "description", "Customers pay invoices by card; admins upload 2 GB videos "
	    "and export every user's personal data as CSV every 5 minutes.", "title", "Fuzz",
	    "mode", "enterprise", "taskId", "fuzz-00000000", "persona", "fuzzed",
	    "previousOutputs", "context");
	if (!input)
		abort();
	(void)e;
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	ec_err e;
	json_t *rb = ec_rules_loadb((const char *)data, size, "fuzz", 0, &e), *out;

	if (rb && (out = ec_rules_apply(rb, input, &e))) {
		if (ec_schema_validate("persona-output", out, NULL, &e) < 0)
			abort();        /* the engine's output must meet the contract */
		json_decref(out);
	}
	json_decref(rb);
	return 0;
}
