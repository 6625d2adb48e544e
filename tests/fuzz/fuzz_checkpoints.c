/*
 * fuzz_checkpoints - a task's checkpoints.jsonl, as epic-checkpoint reads it into a
 * WorkflowState (the request and plan of tests/fixtures/epic-checkpoint/half).
 */
#define main epic_checkpoint_main
#include "../../tools/epic-checkpoint.c"
#undef main
#include "fuzz.h"

static char dir[PATH_MAX], path[PATH_MAX + 80];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const files[] = { "epic-request.json", "plan.mk", "request.json", NULL };

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
	task t;
	ec_err e;

	fuzz_write(path, data, size);
	memset(&t, 0, sizeof t);
	if (task_load(&t, dir, 0, &e) == 0) {
		json_t *wf = workflow_state(&t, 0, &e);
		if (wf) {
			json_t *st = task_status(&t, wf);
			json_decref(st);
		}
		json_decref(wf);
	}
	task_free(&t);
	return 0;
}
