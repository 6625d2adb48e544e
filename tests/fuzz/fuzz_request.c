/*
 * fuzz_request - epic-parse's reader of a request: an EpicRequest JSON, a .txt or a
 * .md description. The first byte picks the format; the rest is the request.
 */
#define main epic_parse_main
#include "../../tools/epic-parse.c"
#undef main
#include "fuzz.h"

static req r;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[PATH_MAX];
	ec_err e;

	fuzz_setup(dir, sizeof dir);
	r.file = "fuzz";
	if (!(r.cfg = ec_config_load(NULL, &e)) || ec_registry_load(&r.reg, &e) < 0 ||
	    ec_registry_configure(&r.reg, r.cfg, &e) < 0)
		abort();
	r.reg_loaded = 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const formats[] = { "json", "text", "markdown" };
	char *buf;
	json_t *j;
	ec_err e;

	if (size < 1)
		return 0;
	if (!(buf = malloc(size)))
		return 0;
	memcpy(buf, data + 1, size - 1);
	j = normalize(&r, buf, size - 1, formats[data[0] % 3], &e);
	if (j && ec_schema_validate("epic-request", j, NULL, &e) < 0)
		abort();        /* what the reader accepts, the contract must accept */
	json_decref(j);
	free(buf);
	return 0;
}
