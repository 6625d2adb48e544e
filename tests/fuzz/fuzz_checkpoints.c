/*
 * fuzz_checkpoints - a task's checkpoints.jsonl, as every tool reads it (events.c)
 * and state.c makes a WorkflowState of it (the request and plan of
 * tests/fixtures/epic-checkpoint/half).
 */
#include "fuzz.h"

static char dir[PATH_MAX], path[PATH_MAX + 80];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const files[] = { "epic-request.json", "plan.json", "request.json", NULL };

	fuzz_setup(dir, sizeof dir);
	for (const char *const *f = files; *f; f++) {
		char from[PATH_MAX], to[PATH_MAX + 32];
		size_t len;
		char *buf;
		snprintf(from, sizeof from, "%s/tests/fixtures/epic-checkpoint/half/%s", FUZZ_ROOT, *f);
		snprintf(to, sizeof to, "%s/%s", dir, *f);
		if (!(buf = ec_read_file(from, 1 << 20, &len, NULL)))
			abort();
		fuzz_write(to, buf, len);
		free(buf);
	}
	snprintf(path, sizeof path, "%s/checkpoints.jsonl", dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	ec_task_state t = { 0 };
	ec_events evs;
	ec_err e;

	fuzz_write(path, data, size);
	if (ec_events_parse((const char *)data, size, "fuzz", &evs, NULL, NULL, &e) == 0)
		ec_events_free(&evs);
	if (ec_state_load(&t, dir, 0, &e) == 0) {
		json_t *wf = ec_state_workflow(&t, 0, &e);
		if (wf) {
			json_t *st = ec_state_status(&t, wf);
			json_decref(st);
		}
		json_decref(wf);
	}
	ec_state_free(&t);
	return 0;
}
