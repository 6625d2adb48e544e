/* fuzz_deferred - a deferred task's deferred.json, as the watcher reads it. */
#define main epic_watch_main
#include "../../tools/epic-watch.c"
#undef main
#include "fuzz.h"

FUZZ_SETUP_ONLY()

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	int attempts;
	long long at;

	deferred_parse((const char *)data, size, &attempts, &at);
	if (attempts < 0 || attempts > 1000 || at < 0)
		abort();
	return 0;
}
