/*
 * persona-llm - a command persona that asks an LLM: the Anthropic Messages API or
 * an OpenAI-compatible Chat Completions API (OpenAI, llama.cpp's server, vLLM,
 * Ollama).
 *
 * persona-run starts it as any command persona: the PersonaInput on stdin, the
 * answer (a PersonaOutput) on stdout, EPIC_PERSONA and EPIC_TASK_ID in the
 * environment. persona-run keeps owning the attempt's timeout, the retries of a
 * failed attempt, the fallback and the cache; persona-normalize keeps owning the
 * contract. What is here is what makes one agent call dependable in a batch:
 *
 *  - the settings: the config's llm: section, overridden by the registration's
 *    "llm" object; the API key only from a file of mode 0600 (or a systemd
 *    credential), never in argv, the environment, a log, an output or a message;
 *  - the prompt: pipeline/prompts/NAME.md (else default.md), placeholders filled
 *    from the PersonaInput, the registration and the answer's JSON Schema;
 *  - structured output by the provider's own means, the answer validated against
 *    the PersonaOutput schema, and one repair turn quoting why it did not fit;
 *  - retries of 429, 5xx, timeouts and cut connections with exponential backoff
 *    that honours Retry-After; a spool-wide limit on calls in flight; tokens and
 *    money per call in log/llm-spend.jsonl, on stderr and in the output's
 *    metadata.usage; spend caps per epic and per day, past which no call is made.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "llm.h"

#define BODY_CAP        (8u << 20)      /* bytes of an API answer kept */
#define KEY_MAX         4096
#define RETRY_AFTER_MAX 300             /* seconds of a Retry-After honoured */

static const char usage_text[] =
    "usage: persona-llm [--persona NAME] [--config FILE] [--spool DIR] < PERSONA-INPUT\n"
    "       persona-llm --health [--persona NAME] [--config FILE]\n";

static void
usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	if (!code)
		fputs("\nAsk an LLM (the Anthropic Messages API or an OpenAI-compatible Chat\n"
		    "Completions API) for one persona's review: a PersonaInput on stdin, a\n"
		    "PersonaOutput on stdout. Settings: the config's llm: section, overridden by\n"
		    "the persona registration's \"llm\" object.\n\n"
		    "  -p, --persona NAME  the persona (default $EPIC_PERSONA, then the input's)\n"
		    "  -c, --config FILE   configuration file (default $EPIC_CONFIG)\n"
		    "  -s, --spool DIR     the spool (call slots, spend); default $EPIC_SPOOL\n"
		    "      --health        check the settings, the key file and the prompt (no call)\n"
		    "  -h, --help          this help\n"
		    "  -V, --version       print the version\n\n"
		    "Exit: 0 answered, 1 rejected (an API error other than 429/5xx, a spend cap,\n"
		    "an answer that does not fit after the repair turn), 2 usage, 111 temporary\n"
		    "(network, timeout, 429/5xx after the retries, no call slot free).\n", stdout);
	ec_exit(code);
}

typedef struct llm {
	const char *persona, *provider, *spool, *task;
	json_t *conf;            /* the resolved llm settings */
	json_t *reg;             /* the registration's JSON, or NULL */
	const char *reg_path;
	char *rules_path;        /* the persona's rule base (its own, or the fallback), or NULL */
	json_t *ground;          /* llm.groundWith rules: the rules' recommendations, or NULL */
	char key[KEY_MAX];       /* "" when no key is configured */
	char url[2048];
	long long deadline;      /* ec_mono_ms */
	long long in_tok, out_tok;
	int calls, repaired;
	double cost;
} llm;

/* msg with every occurrence of the key blotted out, in place: belt and braces for
 * anything an API or libcurl says that reaches a log. */
static char *
scrub(const llm *l, char *msg)
{
	size_t kl = strlen(l->key);
	char *p;

	if (kl < 4)
		return msg;
	while ((p = strstr(msg, l->key)))
		memset(p, '*', kl);
	return msg;
}

/* The UTC day as "2026-12-04". */
static void
today(char out[16])
{
	time_t t = (time_t)(ec_now_ms() / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

/*
 * The API key: llm.keyFile, a path ("~/" is $HOME), or a bare name looked up in
 * $CREDENTIALS_DIRECTORY (a systemd credential). The file must be a regular file
 * of ours (or root's), readable by nobody else. 0, or -1 with e; no key configured
 * is 0 with an empty key (an OpenAI-compatible server on localhost needs none).
 */
static int
read_key(llm *l, ec_err *e)
{
	const char *kf = ec_json_get_str(l->conf, "keyFile", NULL), *cd = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX], *buf;
	struct stat st;
	size_t len;
	int fd;

	l->key[0] = '\0';
	if (!kf || !*kf)
		return strcmp(l->provider, "anthropic") == 0 ? ec_fail(e, EC_EXIT_REJECT,
		    "llm.keyFile: the Anthropic API needs a key file") : 0;
	if (!strchr(kf, '/') && cd && *cd)
		snprintf(path, sizeof path, "%s/%s", cd, kf);
	else if (!strncmp(kf, "~/", 2) && getenv("HOME"))
		snprintf(path, sizeof path, "%s/%s", getenv("HOME"), kf + 2);
	else
		snprintf(path, sizeof path, "%s", kf);
	if ((fd = ec_open_read(path, e)) < 0) {
		ec_err_prefix(e, "llm.keyFile");
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ec_fail(e, EC_EXIT_REJECT, "llm.keyFile '%s': expected a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return ec_fail(e, EC_EXIT_REJECT, "llm.keyFile '%s': mode %04o lets others read "
		    "the key: expected 0600 (chmod 600 '%s')", path, (unsigned)(st.st_mode & 07777), path);
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		close(fd);
		return ec_fail(e, EC_EXIT_REJECT, "llm.keyFile '%s': owned by uid %u, expected "
		    "this user's (uid %u)", path, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	buf = ec_read_fd(fd, path, KEY_MAX - 1, &len, e);
	close(fd);
	if (!buf)
		return -1;
	while (len && ec_is_space((unsigned char)buf[len - 1]))
		len--;
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] <= ' ' || buf[i] == 0x7f) {
			explicit_bzero(buf, len);
			free(buf);
			return ec_fail(e, EC_EXIT_REJECT, "llm.keyFile '%s': expected one key on "
			    "one line (a space or control character is in it)", path);
		}
	if (!len) {
		free(buf);
		return ec_fail(e, EC_EXIT_REJECT, "llm.keyFile '%s': the file is empty", path);
	}
	memcpy(l->key, buf, len + 1);
	explicit_bzero(buf, len);
	free(buf);
	return 0;
}

/*
 * The settings: the config's llm: section with the registration's "llm" object
 * over it. The registration of the persona is found on EPIC_PERSONA_PATH as
 * persona-run finds it; a persona not registered (run by hand) has the config's.
 */
static int
settings(llm *l, const char *config, ec_err *e)
{
	json_t *cfg = ec_config_load(config, e);
	ec_registry reg = { 0 };
	const char *base;
	size_t n;

	if (!cfg)
		return -1;
	if (ec_registry_load(&reg, e) == 0 && ec_registry_configure(&reg, cfg, e) == 0) {
		const ec_persona *p = ec_registry_find(&reg, l->persona);
		if (p) {
			const char *rp = p->rules_path ? p->rules_path : p->fallback_rules;
			l->reg = ec_json_load_file(p->reg_path, EC_MAX_JSON_BYTES, e);
			l->reg_path = l->reg ? strdup(p->reg_path) : NULL;
			l->rules_path = rp ? strdup(rp) : NULL;
		}
	}
	ec_registry_free(&reg);
	l->conf = ec_llm_settings(cfg, l->reg, l->persona);
	json_decref(cfg);
	if (!l->conf)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	l->provider = ec_json_get_str(l->conf, "provider", "anthropic");
	if (strcmp(l->provider, "anthropic") && strcmp(l->provider, "openai"))
		return ec_fail(e, EC_EXIT_REJECT, "llm.provider: expected anthropic or openai, got '%s'",
		    l->provider);
	if (!*ec_json_get_str(l->conf, "model", ""))
		return ec_fail(e, EC_EXIT_REJECT, "llm.model: no model is configured for persona '%s' "
		    "(the config's llm: section or the registration's \"llm\")", l->persona);
	base = ec_json_get_str(l->conf, "baseUrl", ec_llm_default_base(l->provider));
	n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8))
		return ec_fail(e, EC_EXIT_REJECT, "llm.baseUrl '%s': expected an http:// or https:// URL",
		    base);
	snprintf(l->url, sizeof l->url, "%.*s%s", (int)n, base, ec_llm_path(l->provider));
	if (!strcmp(ec_json_get_str(l->conf, "groundWith", "none"), "rules") && !l->rules_path) {
		const char *rb = ec_json_get_str(l->conf, "groundRules", NULL);
		if (!rb)
			return ec_fail(e, EC_EXIT_REJECT, "llm.groundWith: persona '%s' has no rule base to "
			    "ground in (set llm.groundRules)", l->persona);
		l->rules_path = strdup(rb);
	}
	return read_key(l, e);
}

/* The prompt template: llm.prompt (relative to the registration), else
 * <datadir>/prompts/NAME.md, else <datadir>/prompts/default.md. malloc'd. */
static char *
template(const llm *l, ec_err *e)
{
	char path[PATH_MAX];
	size_t len;

	ec_llm_prompt_path(l->conf, l->reg_path, l->persona, path, sizeof path);
	return ec_read_file(path, 1u << 20, &len, e);
}

/* The standards this persona may cite: llm.standards, else every prefix of
 * references.json, one per line. New reference (a string). */
static json_t *
standards(const llm *l)
{
	json_t *s = json_object_get(l->conf, "standards"), *refs, *x;
	char path[PATH_MAX];
	ec_buf b = { 0 };
	size_t i;
	char *t;

	if (json_is_array(s))
		json_array_foreach(s, i, x)
			ec_buf_printf(&b, "- %s\n", json_string_value(x) ? json_string_value(x) : "");
	else {
		snprintf(path, sizeof path, "%s/references.json", ec_datadir());
		refs = ec_json_load_file(path, EC_MAX_JSON_BYTES, NULL);
		json_array_foreach(json_object_get(refs, "references"), i, x)
			ec_buf_printf(&b, "- %s\n", ec_json_get_str(x, "prefix", ""));
		json_decref(refs);
	}
	t = ec_buf_take(&b);
	s = json_string(t ? t : "");
	free(t);
	return s;
}

/*
 * llm.groundWith rules: the persona's rule base reviews the input first, and what it
 * found goes into the prompt as a checklist the model confirms, drops or adds to.
 * l->ground gets the rules' recommendations. The checklist text (a new string), ""
 * without grounding, or NULL with e.
 */
static json_t *
checklist(llm *l, const json_t *input, ec_err *e)
{
	json_t *rb, *o, *x;
	ec_buf b = { 0 };
	size_t i;
	char *t;

	if (strcmp(ec_json_get_str(l->conf, "groundWith", "none"), "rules"))
		return json_string("");
	if (!(rb = ec_rules_load(l->rules_path, e)))
		return NULL;
	o = ec_rules_apply(rb, input, e);
	json_decref(rb);
	if (!o)
		return NULL;
	l->ground = json_incref(json_object_get(o, "recommendations"));
	json_decref(o);
	ec_buf_puts(&b, "## The checklist: what the rule base found\n\n"
	    "A deterministic rule base reviewed the epic first. Go through each item: keep the "
	    "ones that apply to this epic (with their id, improving the wording and the estimate "
	    "if you can), leave out the ones that do not, and add what the rules missed (with "
	    "ids not used below).\n\n");
	json_array_foreach(l->ground, i, x) {
		json_t *refs = json_object_get(x, "references"), *r;
		size_t k;
		ec_buf_printf(&b, "- %s: %s (%s, %s)", ec_json_get_str(x, "id", "?"),
		    ec_json_get_str(x, "title", ""), ec_json_get_str(x, "type", ""),
		    ec_json_get_str(x, "priority", ""));
		json_array_foreach(refs, k, r)
			ec_buf_printf(&b, "%s%s", k ? "; " : " \xe2\x80\x94 ", json_string_value(r) ? json_string_value(r) : "");
		ec_buf_putc(&b, '\n');
	}
	if (!json_array_size(l->ground))
		ec_buf_puts(&b, "- (the rules found nothing specific)\n");
	t = ec_buf_take(&b);
	o = json_string(t ? t : "");
	free(t);
	return o;
}

/* Which of o's recommendations came from the rules' checklist, which the model added,
 * which of the rules' it dropped: metadata.grounding. */
static void
grounding(const llm *l, json_t *o)
{
	json_t *from, *added, *dropped, *x, *y;
	size_t i, k;

	if (!l->ground)
		return;
	from = json_array(), added = json_array(), dropped = json_array();
	json_array_foreach(json_object_get(o, "recommendations"), i, x) {
		int hit = 0;
		json_array_foreach(l->ground, k, y) {
			if (!json_equal(json_object_get(x, "id"), json_object_get(y, "id")))
				continue;
			hit = 1;
			/* A kept item keeps its concern, so the EpicResponse merges it with
			 * the other personas' findings of the same concern. */
			if (!json_object_get(x, "concern") && json_object_get(y, "concern"))
				json_object_set(x, "concern", json_object_get(y, "concern"));
		}
		if (json_is_string(json_object_get(x, "id")))
			json_array_append(hit ? from : added, json_object_get(x, "id"));
	}
	json_array_foreach(l->ground, k, y) {
		int kept = 0;
		json_array_foreach(from, i, x)
			kept |= json_equal(x, json_object_get(y, "id"));
		if (!kept)
			json_array_append(dropped, json_object_get(y, "id"));
	}
	json_object_set_new(json_object_get(o, "metadata"), "grounding", json_pack("{s:s, s:o, s:o, s:o}",
	    "with", "rules", "fromRules", from, "fromModel", added, "dropped", dropped));
}

/* The prompt for input: the template with its placeholders filled. malloc'd. */
static char *
prompt(llm *l, const json_t *input, const json_t *schema, ec_err *e)
{
	char *tmpl = template(l, e), *out, *body, *end;
	json_t *vars, *x, *check;
	ec_buf focus = { 0 };
	const char *mode = ec_json_get_str(input, "epic.mode", "standard");
	size_t i;
	char *f;

	if (!tmpl)
		return NULL;
	json_array_foreach(ec_json_get(input, "persona.focusAreas"), i, x)
		ec_buf_printf(&focus, "- %s\n", json_string_value(x) ? json_string_value(x) : "");
	f = ec_buf_take(&focus);
	/* A leading <!-- comment --> is for the template's editors, not the model. */
	body = tmpl;
	if (!strncmp(body, "<!--", 4) && (end = strstr(body, "-->")))
		body = end + 3 + (end[3] == '\n');
	if (!(check = checklist(l, input, e))) {
		free(f);
		free(tmpl);
		return NULL;
	}
	vars = json_pack("{s:s, s:s, s:s, s:s, s:o, s:O, s:O, s:s, s:s, s:O?, s:O?, s:o}",
	    "persona", l->persona, "role", ec_json_get_str(l->reg, "description", l->persona),
	    "focusAreas", f && *f ? f : "- (none given)\n", "mode", mode,
	    "standards", standards(l), "schema", schema,
	    "upstream", ec_json_get(input, "epic.accumulatedInsights"),
	    "title", ec_json_get_str(input, "epic.context.title", ""),
	    "idPrefix", ec_json_get_str(l->reg, "idPrefix", "REC"),
	    "epic", ec_json_get(input, "epic.description"),
	    "context", ec_json_get(input, "epic.context"), "checklist", check);
	free(f);
	out = vars ? ec_llm_fill(body, vars) : NULL;
	json_decref(vars);
	free(tmpl);
	if (!out)
		ec_fail(e, EC_EXIT_TEMP, "out of memory");
	return out;
}

/* --- HTTP ------------------------------------------------------------------------ */

typedef struct http {
	ec_buf body;
	int over;                /* the answer passed BODY_CAP */
	long retry_after;        /* seconds, or -1 */
} http;

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	http *h = arg;

	if (h->body.n + sz * n > BODY_CAP) {
		h->over = 1;
		return 0;
	}
	ec_buf_put(&h->body, p, sz * n);
	return sz * n;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	http *h = arg;
	size_t len = sz * n;

	if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		char v[32];
		size_t k = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
		long long s;
		char *end;
		memcpy(v, p + 12, k);
		v[k] = '\0';
		errno = 0;
		s = strtoll(v, &end, 10);
		/* Seconds; an HTTP-date is not honoured (the backoff applies). */
		if (!errno && end != v && s >= 0)
			h->retry_after = s > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (long)s;
	}
	return len;
}

/* Outcome of one HTTP exchange. */
enum { XF_OK, XF_RETRY, XF_FAIL };

/*
 * POST body to the API once: 200 with a JSON body is XF_OK (*resp new); 408, 429,
 * 5xx, a timeout or a cut connection XF_RETRY; anything else XF_FAIL. why says what
 * happened, never with the key. *retry_after: the server's, in seconds, or -1.
 */
static int
post(llm *l, const char *body, json_t **resp, const char **etype, char *why, size_t cap,
    long *retry_after)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hd = NULL;
	char line[KEY_MAX + 64], errbuf[CURL_ERROR_SIZE] = "";
	http h = { .retry_after = -1 };
	long status = 0, tmo = (long)ec_json_get_int(l->conf, "timeoutSeconds", 120);
	long long left = (l->deadline - ec_mono_ms()) / 1000;
	CURLcode rc;
	int out = XF_FAIL;
	char *text;

	*resp = NULL;
	*retry_after = -1;
	*etype = "SYSTEM_ERROR";
	/* A call ends before persona-run's timeout would kill it: it says why then. */
	if (left < tmo)
		tmo = left > 1 ? (long)left : 1;
	if (!c) {
		snprintf(why, cap, "cannot start libcurl");
		return XF_RETRY;
	}
	hd = curl_slist_append(hd, "content-type: application/json");
	hd = curl_slist_append(hd, "Expect:");
	if (strcmp(l->provider, "openai") == 0) {
		if (l->key[0]) {
			snprintf(line, sizeof line, "Authorization: Bearer %s", l->key);
			hd = curl_slist_append(hd, line);
		}
	} else {
		snprintf(line, sizeof line, "x-api-key: %s", l->key);
		hd = curl_slist_append(hd, line);
		hd = curl_slist_append(hd, "anthropic-version: 2023-06-01");
	}
	explicit_bzero(line, sizeof line);
	curl_easy_setopt(c, CURLOPT_URL, l->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, tmo > 0 ? tmo : 120L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "persona-llm/" EC_VERSION);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	text = ec_buf_take(&h.body);
	*retry_after = h.retry_after;
	if (rc != CURLE_OK) {
		*etype = rc == CURLE_OPERATION_TIMEDOUT ? "TIMEOUT" : "NETWORK_ERROR";
		snprintf(why, cap, "%s: %s", l->url, h.over ? "the answer is larger than 8 MiB" :
		    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		out = h.over ? XF_FAIL : rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT ||
		    rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
		    rc == CURLE_PARTIAL_FILE || rc == CURLE_COULDNT_RESOLVE_HOST ? XF_RETRY : XF_FAIL;
	} else {
		json_t *j = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
		const char *m = ec_json_get_str(json_object_get(j, "error"), "message",
		    json_is_string(json_object_get(j, "error")) ? json_string_value(json_object_get(j, "error")) : NULL);
		if (status == 200 && json_is_object(j)) {
			*resp = j;
			j = NULL;
			out = XF_OK;
		} else {
			snprintf(why, cap, "%s: HTTP %ld%s%.300s", l->url, status, m ? ": " : "",
			    m ? m : status == 200 ? " with a body that is not a JSON object" : "");
			*etype = status == 429 || status >= 500 ? "PERSONA_UNAVAILABLE" : "INVALID_INPUT";
			out = status == 200 || status == 408 || status == 429 || status >= 500 ? XF_RETRY : XF_FAIL;
		}
		json_decref(j);
	}
	free(text);
	scrub(l, why);
	return out;
}

/* Refuse the call when a spend cap is reached: 0 go on, -1 with e (EC_EXIT_REJECT). */
static int
within_caps(llm *l, ec_err *e)
{
	double cap_epic = json_number_value(json_object_get(l->conf, "maxCostPerEpic"));
	double cap_day = json_number_value(json_object_get(l->conf, "maxCostPerDay"));
	double by_task, on_day;
	char day[16];

	if (cap_epic <= 0 && cap_day <= 0)
		return 0;
	today(day);
	if (ec_llm_spent(l->spool, l->task, day, &by_task, &on_day, e) < 0)
		return -1;
	if (cap_epic > 0 && l->task && by_task >= cap_epic)
		return ec_fail(e, EC_EXIT_REJECT, "spend cap reached: %.4f spent on task '%s', "
		    "llm.maxCostPerEpic is %.4f; no call made", by_task, l->task, cap_epic);
	if (cap_day > 0 && on_day >= cap_day)
		return ec_fail(e, EC_EXIT_REJECT, "spend cap reached: %.4f spent on %s (UTC), "
		    "llm.maxCostPerDay is %.4f; no call made", on_day, day, cap_day);
	return 0;
}

/* Account for one answered call (ms long): the ledger, stderr, and the task's
 * checkpoints.jsonl when it runs in a task (persona-run's child, in the task's
 * directory). */
static void
account(llm *l, const ec_llm_answer *a, long long ms)
{
	double cost = (double)a->in_tok / 1e6 * json_number_value(json_object_get(l->conf, "pricePerMillionInput")) +
	    (double)a->out_tok / 1e6 * json_number_value(json_object_get(l->conf, "pricePerMillionOutput"));
	char day[16];
	json_t *call;
	char *line;
	ec_err e;

	l->in_tok += a->in_tok;
	l->out_tok += a->out_tok;
	l->cost += cost;
	today(day);
	call = json_pack("{s:s?, s:s, s:s, s:s, s:s, s:I, s:I, s:f}", "task", l->task,
	    "persona", l->persona, "day", day, "provider", l->provider,
	    "model", ec_json_get_str(l->conf, "model", ""), "inputTokens", (json_int_t)a->in_tok,
	    "outputTokens", (json_int_t)a->out_tok, "cost", cost);
	if (!call)
		return;
	if (ec_llm_spend(l->spool, call, &e) < 0)
		ec_warn("%s", e.msg);
	json_object_del(call, "time");
	if (getenv("EPIC_TASK_ID") && ec_exists("checkpoints.jsonl")) {
		json_t *ev = json_pack("{s:s, s:s, s:I, s:{s:s, s:s, s:I, s:I, s:f}}", "persona", l->persona,
		    "event", "llm-call", "durationMs", (json_int_t)(ms < 0 ? 0 : ms), "usage",
		    "provider", l->provider, "model", ec_json_get_str(l->conf, "model", ""),
		    "inputTokens", (json_int_t)a->in_tok, "outputTokens", (json_int_t)a->out_tok, "cost", cost);
		if (ev && ec_event_append(".", ev, NULL, &e) < 0)
			ec_warn("%s", e.msg);
		json_decref(ev);
	}
	if ((line = ec_json_dumps_line(call))) {
		line[strlen(line) - 1] = '\0';
		ec_info("call %s", line);
		free(line);
	}
	json_decref(call);
}

/*
 * One call with its retries: messages so far in, the answer out. 0, or -1 with e
 * (EC_EXIT_TEMP after the retries, EC_EXIT_REJECT for a refused request or cap).
 */
static int
call(llm *l, const char *system, const json_t *messages, const json_t *schema,
    ec_llm_answer *a, ec_err *e)
{
	json_t *req = ec_llm_request(l->provider, l->conf, system, messages, schema), *resp;
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL, why[600];
	int maxr = (int)ec_json_get_int(l->conf, "maxRetries", 3), slots;
	long long base = ec_json_get_int(l->conf, "retryBackoffMs", 1000);
	const char *etype = NULL;

	json_decref(req);
	if (!body)
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	slots = (int)ec_json_get_int(l->conf, "maxConcurrentCalls", 4);
	for (int k = 0;; k++) {
		long ra;
		long long wait, t0;
		int fd, x;
		if (within_caps(l, e) < 0)
			break;
		if (ec_llm_slot_take(l->spool, slots, l->deadline, &fd, e) < 0)
			break;
		t0 = ec_mono_ms();
		x = post(l, body, &resp, &etype, why, sizeof why, &ra);
		if (fd >= 0)
			close(fd);
		l->calls++;
		if (x == XF_OK) {
			int rc = ec_llm_answer_read(l->provider, resp, a, e);
			json_decref(resp);
			if (rc == 0) {
				account(l, a, ec_mono_ms() - t0);
				free(body);
				return 0;
			}
			snprintf(why, sizeof why, "%s: %s", l->url, e->msg);
			x = XF_RETRY;
		}
		if (x == XF_FAIL || k >= maxr) {
			ec_fail(e, x == XF_FAIL ? EC_EXIT_REJECT : EC_EXIT_TEMP, "%s%s", why,
			    x == XF_FAIL ? "" : " (retries exhausted)");
			break;
		}
		wait = ra >= 0 ? ra * 1000LL : base << (k > 16 ? 16 : k);
		if (ra < 0 && wait > 0)
			wait += random() % (wait / 4 + 1);
		if (ec_mono_ms() + wait >= l->deadline) {
			ec_fail(e, EC_EXIT_TEMP, "%s; no time left for a retry in %lld ms", why, wait);
			break;
		}
		ec_info("%s; retry %d in %lld ms%s", why, k + 1, wait, ra >= 0 ? " (Retry-After)" : "");
		usleep((useconds_t)(wait * 1000));
	}
	free(body);
	return -1;
}

/* The score of an object found in an answer's text, as a review. */
static int
score(const json_t *o, size_t *items, void *arg)
{
	static const char *const keys[] = { "insights", "recommendations", "costAnalysis", "confidence" };
	int s = 0;

	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		s += json_object_get(o, keys[i]) != NULL;
	*items = json_array_size(json_object_get(o, "recommendations"));
	return s;
}

/*
 * The PersonaOutput an answer makes: the model's review with what the tool knows
 * filled in (persona, metadata). New reference, or NULL with why (the answer holds
 * no JSON object at all).
 */
static json_t *
output_of(llm *l, const json_t *input, const ec_llm_answer *a, char *why, size_t cap)
{
	json_t *o = a->obj ? json_deep_copy(a->obj) : NULL;

	if (!o && a->text) {
		ec_extract x = { .score = score };
		ec_err e;
		if (!(o = ec_extract_json(a->text, strlen(a->text), "answer", &x, &e))) {
			snprintf(why, cap, "no JSON object in the answer (%s)", e.msg);
			return NULL;
		}
	}
	if (!o) {
		snprintf(why, cap, "an empty answer");
		return NULL;
	}
	json_object_set_new(o, "persona", json_pack("{s:s, s:O, s:s, s:i}", "name", l->persona,
	    "reviewOrder", ec_json_get(input, "persona.reviewOrder"), "status", "completed",
	    "executionTime", 0));
	json_object_set_new(o, "metadata", json_pack("{s:s, s:I, s:s, s:s, s:{s:s, s:I, s:I, s:f, s:i, s:b}}",
	    "model", ec_json_get_str(l->conf, "model", ""), "tokens", (json_int_t)(l->in_tok + l->out_tok),
	    "version", ec_json_get_str(l->reg, "version", "llm"), "engine", "persona-llm " EC_VERSION,
	    "usage", "provider", l->provider, "inputTokens", (json_int_t)l->in_tok,
	    "outputTokens", (json_int_t)l->out_tok, "cost", ec_round2(l->cost * 100) / 100,
	    "calls", l->calls, "repaired", l->repaired));
	grounding(l, o);
	return o;
}

/* The review: a call, the answer checked, one repair turn. New reference or NULL. */
static json_t *
review(llm *l, const json_t *input, ec_err *e)
{
	json_t *schema = ec_llm_answer_schema(), *msgs, *o = NULL;
	char *user, why[1200], system[512];
	ec_llm_answer a;

	if (!schema)
		return ec_fail(e, EC_EXIT_TEMP, "the PersonaOutput schema is not embedded"), NULL;
	if (!(user = prompt(l, input, schema, e))) {
		json_decref(schema);
		return NULL;
	}
	snprintf(system, sizeof system, "You are the %s of a review panel. You review one epic "
	    "and record your review in the required JSON structure, nothing else.", l->persona);
	msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", user);
	free(user);
	for (int turn = 0; turn < 2; turn++) {
		ec_err ve;
		char bad[512];
		if (call(l, system, msgs, schema, &a, e) < 0) {
			json_decref(o);
			o = NULL;
			break;
		}
		json_decref(o);
		if ((o = output_of(l, input, &a, why, sizeof why)) &&
		    ec_schema_validate("persona-output", o, bad, &ve) == 0) {
			ec_llm_answer_free(&a);
			break;
		}
		if (o)
			snprintf(why, sizeof why, "%s", ve.msg);
		if (!strcmp(a.stop, "max_tokens") || !strcmp(a.stop, "length")) {
			/* Cut short: say so, in the repair turn and in the message. */
			size_t n = strlen(why);
			snprintf(why + n, sizeof why - n, " (the answer was cut off at llm.maxTokens, %lld)",
			    (long long)ec_json_get_int(l->conf, "maxTokens", 4096));
		}
		if (turn == 0) {
			ec_info("the answer does not fit: %s; asking once more", why);
			l->repaired = 1;
			ec_llm_repair_turn(l->provider, msgs, &a, why);
			ec_llm_answer_free(&a);
			continue;
		}
		ec_llm_answer_free(&a);
		/* Still not the contract: the normalizer may make one of it, else give up. */
		if (o) {
			char *raw = ec_json_dumps(o);
			ec_norm_opts no = { l->persona, (int)ec_json_get_int(input, "persona.reviewOrder", 1),
			    ec_json_get_str(l->reg, "version", "llm"), ec_json_get_str(l->reg, "idPrefix", NULL) };
			json_t *n = raw ? ec_normalize(raw, strlen(raw), "answer", &no, &ve) : NULL;
			free(raw);
			json_decref(o);
			if ((o = n)) {
				ec_warn("the answer did not fit after the repair turn (%s); normalized", why);
				break;
			}
		}
		ec_fail(e, EC_EXIT_REJECT, "the answer does not fit the PersonaOutput schema after "
		    "a repair turn: %s", why);
		break;
	}
	json_decref(msgs);
	json_decref(schema);
	return o;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "health", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ "persona", required_argument, NULL, 'p' },
		{ "spool", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *spool = NULL;
	llm l = { 0 };
	json_t *input = NULL, *o;
	int c, health = 0;
	long long tmo;
	ec_err e = { 0 };

	ec_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "c:hp:s:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'H': health = 1; break;
		case 'h': usage(EC_EXIT_OK); break;
		case 'p': l.persona = optarg; break;
		case 's': spool = optarg; break;
		case 'V': printf("persona-llm %s\n", EC_VERSION); return EC_EXIT_OK;
		default: usage(EC_EXIT_USAGE);
		}
	}
	if (optind < argc) {
		ec_warn("unexpected argument '%s': the input is read from standard input", argv[optind]);
		usage(EC_EXIT_USAGE);
	}
	if (!l.persona)
		l.persona = getenv("EPIC_PERSONA");
	if (!health) {
		size_t len;
		char *buf = ec_read_file("-", EC_MAX_JSON_BYTES, &len, &e);
		if (!buf || !(input = ec_json_loadb(buf, len, "stdin", &e)) ||
		    ec_schema_validate("persona-input", input, NULL, &e) < 0) {
			if (buf && input)
				ec_err_prefix(&e, "stdin");
			ec_die_err(&e);
		}
		free(buf);
		if (!l.persona)
			l.persona = ec_json_get_str(input, "persona.name", NULL);
	}
	if (!l.persona || !ec_persona_name_valid(l.persona)) {
		ec_warn("no persona: give --persona NAME or set EPIC_PERSONA");
		usage(EC_EXIT_USAGE);
	}
	if (settings(&l, config, &e) < 0)
		ec_die_err(&e);
	if (health) {
		char *t = template(&l, &e);
		if (!t)
			ec_die_err(&e);
		free(t);
		ec_exit(EC_EXIT_OK);
	}
	l.spool = ec_spool_root(spool);
	l.task = getenv("EPIC_TASK_ID");
	if (!l.task || !*l.task)
		l.task = ec_json_get_str(input, "epic.context.taskId", NULL);
	/* persona-run kills the attempt at EPIC_TIMEOUT: no retry is started that
	 * could not end before it. */
	tmo = getenv("EPIC_TIMEOUT") ? atoll(getenv("EPIC_TIMEOUT")) : 0;
	l.deadline = ec_mono_ms() + (tmo > 0 ? tmo * 1000 : 3600 * 1000LL);
	srandom((unsigned)(getpid() ^ time(NULL)));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	o = review(&l, input, &e);
	curl_global_cleanup();
	explicit_bzero(l.key, sizeof l.key);
	if (!o)
		ec_die_err(&e);
	{
		char *line;
		json_t *u = json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:i, s:b}", "persona", l.persona,
		    "provider", l.provider, "model", ec_json_get_str(l.conf, "model", ""),
		    "inputTokens", (json_int_t)l.in_tok, "outputTokens", (json_int_t)l.out_tok,
		    "cost", l.cost, "calls", l.calls, "repaired", l.repaired);
		if (u && (line = ec_json_dumps_line(u))) {
			line[strlen(line) - 1] = '\0';
			ec_info("usage %s", line);
			free(line);
		}
		json_decref(u);
	}
	if (ec_json_write(NULL, o, 0, &e) < 0)
		ec_die_err(&e);
	json_decref(o);
	json_decref(input);
	json_decref(l.conf);
	json_decref(l.reg);
	json_decref(l.ground);
	free(l.rules_path);
	free((char *)l.reg_path);
	ec_exit(ec_close_stdout());
}
