/*
 * llm.c - the wire formats of the two LLM APIs persona-llm speaks, and its prompt.
 *
 * The Anthropic Messages API (POST /v1/messages; x-api-key and anthropic-version
 * headers; the system prompt apart from the messages; structured output by one
 * tool the model is made to call, tool_choice {"type": "tool"}, whose input_schema
 * is the answer's schema) and the OpenAI-compatible Chat Completions API (POST
 * /chat/completions under a base URL ending in /v1; Authorization: Bearer; the
 * system prompt as the first message; structured output by response_format
 * {"type": "json_schema"}), which OpenAI, llama.cpp's server, vLLM and Ollama
 * serve. The headers are the tool's (they carry the key); here are only bodies.
 */
#include <string.h>
#include <stdlib.h>

#include "llm.h"

const char *
ec_llm_path(const char *provider)
{
	return strcmp(provider, "openai") == 0 ? "/chat/completions" : "/v1/messages";
}

const char *
ec_llm_default_base(const char *provider)
{
	return strcmp(provider, "openai") == 0 ? "https://api.openai.com/v1" : "https://api.anthropic.com";
}

json_t *
ec_llm_request(const char *provider, const json_t *conf, const char *system,
    const json_t *messages, const json_t *schema)
{
	json_t *body = json_object();
	json_t *t = json_object_get(conf, "temperature");

	json_object_set_new(body, "model", json_string(ec_json_get_str(conf, "model", "")));
	json_object_set_new(body, "max_tokens", json_integer(ec_json_get_int(conf, "maxTokens", 4096)));
	if (json_is_number(t))
		json_object_set_new(body, "temperature", json_real(json_number_value(t)));
	if (strcmp(provider, "openai") == 0) {
		json_t *msgs = json_pack("[{s:s, s:s}]", "role", "system", "content", system);
		json_array_extend(msgs, (json_t *)messages);
		json_object_set_new(body, "messages", msgs);
		json_object_set_new(body, "response_format", json_pack("{s:s, s:{s:s, s:O, s:b}}",
		    "type", "json_schema", "json_schema", "name", EC_LLM_TOOL, "schema", schema,
		    "strict", 0));
	} else {
		json_object_set_new(body, "system", json_string(system));
		json_object_set_new(body, "messages", json_deep_copy(messages));
		json_object_set_new(body, "tools", json_pack("[{s:s, s:s, s:O}]", "name", EC_LLM_TOOL,
		    "description", "Record your review of the epic: insights, recommendations, "
		    "cost analysis, confidence and signals.", "input_schema", schema));
		json_object_set_new(body, "tool_choice", json_pack("{s:s, s:s}", "type", "tool",
		    "name", EC_LLM_TOOL));
	}
	return body;
}

/* A count of tokens from a usage object: a whole number 0..EC_MAX_COUNT, else 0. */
static long long
count(const json_t *usage, const char *key)
{
	long long n;
	const json_t *v = json_object_get(usage, key);

	if (!json_is_number(v) || ec_dbl_to_ll(json_number_value(v), 0, EC_MAX_COUNT, &n) < 0)
		return 0;
	return n;
}

/* text as a JSON object when it is exactly one (whitespace around it allowed). */
static json_t *
as_object(const char *text)
{
	json_t *j = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;

	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

int
ec_llm_answer_read(const char *provider, const json_t *resp, ec_llm_answer *a, ec_err *e)
{
	ec_buf text = { 0 };
	const json_t *usage = json_object_get(resp, "usage");
	const char *stop;

	memset(a, 0, sizeof *a);
	if (!json_is_object(resp))
		return ec_fail(e, EC_EXIT_TEMP, "the answer is not a JSON object");
	if (strcmp(provider, "openai") == 0) {
		const json_t *msg = ec_json_get(json_array_get(json_object_get(resp, "choices"), 0), "message");
		const json_t *content = json_object_get(msg, "content");
		if (!json_is_object(msg))
			return ec_fail(e, EC_EXIT_TEMP, "$.choices[0].message: expected an object");
		if (!json_is_string(content))
			return ec_fail(e, EC_EXIT_TEMP, "$.choices[0].message.content: expected a string%s",
			    json_object_get(msg, "refusal") ? " (the model refused)" : "");
		stop = ec_json_get_str(json_array_get(json_object_get(resp, "choices"), 0),
		    "finish_reason", "");
		a->in_tok = count(usage, "prompt_tokens");
		a->out_tok = count(usage, "completion_tokens");
		ec_buf_puts(&text, json_string_value(content));
		a->assistant = json_pack("{s:s, s:O}", "role", "assistant", "content", content);
	} else {
		const json_t *content = json_object_get(resp, "content"), *b;
		size_t i;
		if (!json_is_array(content))
			return ec_fail(e, EC_EXIT_TEMP, "$.content: expected an array of content blocks");
		json_array_foreach(content, i, b) {
			const char *type = ec_json_get_str(b, "type", "");
			if (!strcmp(type, "tool_use") && !a->obj && json_is_object(json_object_get(b, "input"))) {
				a->obj = json_incref(json_object_get(b, "input"));
				snprintf(a->tool_id, sizeof a->tool_id, "%s", ec_json_get_str(b, "id", ""));
			} else if (!strcmp(type, "text"))
				ec_buf_puts(&text, ec_json_get_str(b, "text", ""));
		}
		stop = ec_json_get_str(resp, "stop_reason", "");
		a->in_tok = count(usage, "input_tokens");
		a->out_tok = count(usage, "output_tokens");
		a->assistant = json_pack("{s:s, s:O}", "role", "assistant", "content", content);
	}
	snprintf(a->stop, sizeof a->stop, "%s", stop ? stop : "");
	a->text = ec_buf_take(&text);
	if (!a->obj)
		a->obj = as_object(a->text);
	if (!a->text || !a->assistant) {
		ec_llm_answer_free(a);
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	}
	return 0;
}

void
ec_llm_answer_free(ec_llm_answer *a)
{
	json_decref(a->obj);
	json_decref(a->assistant);
	free(a->text);
	memset(a, 0, sizeof *a);
}

const char *
ec_llm_error_message(const json_t *resp)
{
	const json_t *err = json_object_get(resp, "error");

	if (json_is_string(err))
		return json_string_value(err);
	return ec_json_get_str(err, "message", NULL);
}

int
ec_llm_repair_turn(const char *provider, json_t *messages, const ec_llm_answer *a, const char *why)
{
	char msg[2048];

	snprintf(msg, sizeof msg, "Your answer does not fit the required JSON Schema: %s. "
	    "Answer again with the whole review, corrected, %s.", why,
	    strcmp(provider, "openai") == 0 ? "as one JSON object and nothing else" :
	    "by calling the tool " EC_LLM_TOOL);
	if (json_array_append(messages, a->assistant) < 0)
		return -1;
	if (strcmp(provider, "openai") != 0 && a->tool_id[0])
		return json_array_append_new(messages, json_pack("{s:s, s:[{s:s, s:s, s:b, s:s}]}",
		    "role", "user", "content", "type", "tool_result", "tool_use_id", a->tool_id,
		    "is_error", 1, "content", msg));
	return json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "user", "content", msg));
}

json_t *
ec_llm_answer_schema(void)
{
	const char *text = ec_schema_text("persona-output");
	json_t *s = text ? json_loads(text, 0, NULL) : NULL, *req, *keep;
	size_t i;

	if (!s)
		return NULL;
	json_object_del(s, "$schema");
	json_object_del(s, "$id");
	json_object_del(json_object_get(s, "properties"), "persona");
	json_object_del(json_object_get(s, "properties"), "metadata");
	req = json_object_get(s, "required");
	keep = json_array();
	for (i = 0; i < json_array_size(req); i++) {
		const char *k = json_string_value(json_array_get(req, i));
		if (k && strcmp(k, "persona") && strcmp(k, "metadata"))
			json_array_append(keep, json_array_get(req, i));
	}
	json_object_set_new(s, "required", keep);
	json_object_set_new(s, "description", json_string("One persona's review of an epic."));
	return s;
}

char *
ec_llm_fill(const char *tmpl, const json_t *vars)
{
	ec_buf b = { 0 };
	const char *p = tmpl, *open, *close;

	while ((open = strstr(p, "{{")) && (close = strstr(open + 2, "}}"))) {
		char name[64];
		size_t n = (size_t)(close - open - 2);
		const json_t *v = NULL;
		ec_buf_put(&b, p, (size_t)(open - p));
		if (n < sizeof name) {
			memcpy(name, open + 2, n);
			name[n] = '\0';
			v = json_object_get(vars, name);
		}
		if (json_is_string(v))
			ec_buf_puts(&b, json_string_value(v));
		else if (v) {
			char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
			ec_buf_puts(&b, s ? s : "");
			free(s);
		} else
			ec_buf_put(&b, open, (size_t)(close + 2 - open));
		p = close + 2;
	}
	ec_buf_puts(&b, p);
	return ec_buf_take(&b);
}

json_t *
ec_llm_settings(const json_t *cfg, const json_t *reg, const char *name)
{
	json_t *conf = json_deep_copy(json_object_get(cfg, "llm"));

	if (!conf && !(conf = json_object()))
		return NULL;
	json_object_update(conf, json_object_get(reg, "llm"));
	json_object_update(conf, json_object_get(json_object_get(json_object_get(cfg, "personas"),
	    name), "llm"));
	return conf;
}

void
ec_llm_prompt_path(const json_t *conf, const char *reg_path, const char *name, char *out,
    size_t cap)
{
	const char *p = ec_json_get_str(conf, "prompt", NULL);

	if (p && *p != '/' && reg_path) {
		const char *slash = strrchr(reg_path, '/');
		snprintf(out, cap, "%.*s/%s", slash ? (int)(slash - reg_path) : 1,
		    slash ? reg_path : ".", p);
	} else if (p)
		snprintf(out, cap, "%s", p);
	else {
		snprintf(out, cap, "%s/prompts/%s.md", ec_datadir(), name);
		if (!ec_exists(out))
			snprintf(out, cap, "%s/prompts/default.md", ec_datadir());
	}
}
