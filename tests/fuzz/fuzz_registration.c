/*
 * fuzz_registration - a persona registration, read by the registry from a
 * directory on EPIC_PERSONA_PATH beside the shipped rule bases.
 */
#include "fuzz.h"

static char dir[PATH_MAX], path[PATH_MAX + 80];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char link[PATH_MAX + 16];

	fuzz_setup(dir, sizeof dir);
	snprintf(link, sizeof link, "%s/rules", dir);
	if (symlink(FUZZ_DATADIR "/personas/rules", link) < 0)
		abort();
	setenv("EPIC_PERSONA_PATH", dir, 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	ec_registry reg;
	ec_err e;

	/* The registry wants the file named after the persona: name it so when the
	 * bytes say a name a file may have. */
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	const char *name = ec_json_get_str(j, "name", "fuzzed");
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name) || !*name ||
	    strlen(name) > 63)
		name = "fuzzed";
	snprintf(path, sizeof path, "%s/%s.json", dir, name);
	fuzz_write(path, data, size);
	json_decref(j);
	if (ec_registry_load(&reg, &e) == 0) {
		json_t *cfg = ec_config_load(NULL, &e);
		if (cfg && ec_registry_configure(&reg, cfg, &e) == 0) {
			ec_plan_step *steps = NULL;
			size_t n;
			json_t *req = json_pack("{s:s, s:s}", "description", "Fuzz the plan.", "mode", "standard");
			if (ec_plan_compute(&reg, cfg, req, &steps, &n, &e) == 0)
				free(steps);
			json_decref(req);
		}
		json_decref(cfg);
		ec_registry_free(&reg);
	}
	unlink(path);
	return 0;
}
