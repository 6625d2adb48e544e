/* fuzz_config - the configuration file: YAML, the config schema, defaults. */
#include "fuzz.h"

FUZZ_SETUP_ONLY()

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	ec_err e;
	json_t *c = ec_config_loadb((const char *)data, size, "fuzz.yml", &e);

	if (c) {
		/* What the tools then read from it. */
		ec_parse_size(ec_json_get_str(c, "performance.memoryLimit", "1GB"));
		ec_json_get_int(c, "coordination.workflowTimeout", 0);
	}
	json_decref(c);
	return 0;
}
