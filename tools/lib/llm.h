/*
 * llm.h - what persona-llm needs of the library: an LLM API's wire formats and the
 * prompt (llm.c), and the calls in flight and the money spent, shared by every
 * task and watcher through the spool (llmbudget.c). No HTTP here: the tool owns
 * the transfer (libcurl), so only it links libcurl.
 */
#ifndef EC_LLM_H
#define EC_LLM_H

#include "ec.h"

/* llm.c: the two providers' wire formats. provider is "anthropic" or "openai". */

/* The path under llm.baseUrl a provider's API answers on: "/v1/messages" for the
 * Anthropic Messages API (baseUrl https://api.anthropic.com), "/chat/completions"
 * for the OpenAI-compatible API (baseUrl https://api.openai.com/v1). Borrowed. */
const char *ec_llm_path(const char *provider);
/* The default baseUrl of a provider. Borrowed. */
const char *ec_llm_default_base(const char *provider);
/*
 * The body of one call: conf (the resolved llm settings: model, maxTokens,
 * temperature), the system prompt, the conversation so far (messages, borrowed:
 * user and assistant turns in the provider's own form) and the JSON Schema the
 * answer must fit, asked for by the provider's own means: a tool the model must
 * call (Anthropic) or a json_schema response format (OpenAI). New reference.
 */
json_t *ec_llm_request(const char *provider, const json_t *conf, const char *system,
    const json_t *messages, const json_t *schema);
/* The tool / response format name the answer is asked under. */
#define EC_LLM_TOOL "persona_review"

/* What an answer holds. */
typedef struct ec_llm_answer {
	json_t *obj;            /* the JSON object answered (tool input, or parsed content), or NULL */
	char *text;             /* the text answered when it was not a JSON object (malloc'd), or NULL */
	json_t *assistant;      /* the assistant's turn, to send back with a repair request */
	char tool_id[128];      /* Anthropic: the tool_use id a repair's tool_result answers */
	long long in_tok, out_tok;
	char stop[32];          /* why the model stopped (end_turn, max_tokens, length, ...) */
} ec_llm_answer;
/* Read a provider's 200 answer (resp, borrowed) into a. 0, or -1 with e
 * (EC_EXIT_TEMP: not an answer of that API). ec_llm_answer_free frees a. */
int ec_llm_answer_read(const char *provider, const json_t *resp, ec_llm_answer *a, ec_err *e);
void ec_llm_answer_free(ec_llm_answer *a);
/* The message of an API's error body ({"error": {"message": ...}}), or NULL. Borrowed. */
const char *ec_llm_error_message(const json_t *resp);
/* Append to messages the assistant's answer a and the user's repair request, which
 * quotes why the answer did not fit (a tool_result marked is_error for Anthropic). */
int ec_llm_repair_turn(const char *provider, json_t *messages, const ec_llm_answer *a,
    const char *why);
/* The schema the model answers: PersonaOutput less what the tool fills in itself
 * (persona, metadata). New reference, or NULL. */
json_t *ec_llm_answer_schema(void);
/* tmpl with every {{name}} replaced by vars.name (a string, or a value written as
 * JSON); a placeholder vars does not have is left as it is. malloc'd, or NULL. */
char *ec_llm_fill(const char *tmpl, const json_t *vars);

/* The settings persona-llm asks with for persona name: the config's llm:, then the
 * registration's "llm" (reg may be NULL), then the config's personas.NAME.llm, each
 * over the one before. New reference. */
json_t *ec_llm_settings(const json_t *cfg, const json_t *reg, const char *name);
/* The prompt template of these settings into out: llm.prompt (relative to the
 * registration reg_path, which may be NULL), else <datadir>/prompts/NAME.md, else
 * <datadir>/prompts/default.md. */
void ec_llm_prompt_path(const json_t *conf, const char *reg_path, const char *name, char *out,
    size_t cap);

/* llmbudget.c: calls in flight and money spent, across the spool. */

/*
 * Take one of max call slots of the spool (llm/slot.N, each held by an flock on
 * it while a call is in flight), waiting until deadline (ec_mono_ms) for one to
 * be free. *fd gets the held slot (-1 when max is 0: no limit). 0, or -1 with e
 * (EC_EXIT_TEMP: none free in time, or I/O). Closing *fd frees the slot, also when
 * the process dies.
 */
int ec_llm_slot_take(const char *spool, int max, long long deadline, int *fd, ec_err *e);
/* The money spent (log/llm-spend.jsonl) by task and on day ("2026-12-04", UTC). */
int ec_llm_spent(const char *spool, const char *task, const char *day, double *by_task,
    double *on_day, ec_err *e);
/* Record one call (an object: task, persona, day, provider, model, tokens, cost)
 * as a line of log/llm-spend.jsonl; "time" is added. 0 or -1 with e. */
int ec_llm_spend(const char *spool, json_t *call, ec_err *e);

#endif
