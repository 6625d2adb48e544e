/* fuzz_normalize - any persona output (an agent's prose, fences, near-JSON) to a
 * canonical PersonaOutput. */
#include "fuzz.h"

FUZZ_SETUP_ONLY()

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	ec_norm_opts o = { "security-specialist", 3, "1.0.0", NULL };
	ec_err e;
	json_t *out = ec_normalize((const char *)data, size, "fuzz", &o, &e);

	if (out && ec_schema_validate("persona-output", out, NULL, &e) < 0)
		abort();                /* normalized means it meets the contract */
	json_decref(out);
	return 0;
}
