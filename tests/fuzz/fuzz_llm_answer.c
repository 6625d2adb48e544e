/*
 * fuzz_llm_answer - an LLM API's answer as persona-llm reads it (llm.c): the first
 * byte picks the provider (even: the Anthropic Messages API, odd: OpenAI-compatible
 * Chat Completions), the rest is the HTTP body. The answer is read, the JSON in its
 * text found (extract.c), and the repair turn that would quote it built.
 */
#include "fuzz.h"
#include "llm.h"

FUZZ_SETUP_ONLY()

static int
score(const json_t *o, size_t *items, void *arg)
{
	*items = json_array_size(json_object_get(o, "recommendations"));
	return json_object_get(o, "insights") != NULL;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *provider;
	ec_llm_answer a;
	json_t *resp, *msgs;
	ec_err e;

	if (size < 1)
		return 0;
	provider = data[0] & 1 ? "openai" : "anthropic";
	if (!(resp = ec_json_loadb((const char *)data + 1, size - 1, "answer", &e)))
		return 0;
	(void)ec_llm_error_message(resp);
	if (ec_llm_answer_read(provider, resp, &a, &e) == 0) {
		if (!a.obj && a.text) {
			ec_extract x = { .score = score };
			json_t *o = ec_extract_json(a.text, strlen(a.text), "answer", &x, &e);
			json_decref(o);
		}
		msgs = json_array();
		ec_llm_repair_turn(provider, msgs, &a, "$.x: expected y");
		json_decref(msgs);
		ec_llm_answer_free(&a);
	}
	json_decref(resp);
	return 0;
}
