#!/usr/bin/env bats
# persona-llm against a fake API server on 127.0.0.1 (tests/fake-llm-server.py):
# both wire formats, what is sent (path, headers, model, schema, prompt), the repair
# turn, retries and Retry-After, timeouts and cut connections, the shared call
# limit, the spend caps, the key kept out of every output and log, and a real
# pipeline run with a persona registered as persona-llm. No network beyond
# localhost.

load test_helper

KEY=sk-test-0123456789-SECRET

setup() {
	command -v python3 >/dev/null || skip "needs python3"
	# libcurl honours proxies from the environment: not for the fake server.
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
	T="$BATS_TEST_TMPDIR"
	printf '%s\n' "$KEY" > "$T/key"
	chmod 600 "$T/key"
	SERVER_PID=
	INPUT="$T/input.json"
	# A real PersonaInput: the security persona's, after product-owner and architect.
	jq '.persona.focusAreas = ["authentication", "payments"]
	    | .persona.name = "security-specialist" | .persona.reviewOrder = 3
	    | .epic.accumulatedInsights = {"architect": {"insights": ["UPSTREAM-INSIGHT: a queue feeds the mailer."],
	        "signals": [], "recommendations": [{"id": "ARC-001", "title": "Outbox for events", "type": "blocking", "priority": "high"}]}}' \
		"$FIX/epic-checkpoint/half/personas/02-architect.input.json" > "$INPUT"
}

teardown() {
	[ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true
}

# serve SCRIPT: start the fake server with that script; PORT, LOG set.
serve() {
	LOG="$T/requests.jsonl"
	rm -f "$LOG" "$LOG.max" "$T/port"
	python3 "$ROOT/tests/fake-llm-server.py" --port-file "$T/port" --log "$LOG" --script "$1" &
	SERVER_PID=$!
	# up to 30 s: a cold python3 on a loaded machine (CI) took more than 5
	for _ in $(seq 600); do [ -s "$T/port" ] && break; sleep 0.05; done
	[ -s "$T/port" ] || fail "the fake server did not start"
	PORT=$(cat "$T/port")
}

# config PROVIDER [more YAML lines]: the config file, EPIC_CONFIG.
config() {
	local base="http://127.0.0.1:$PORT"
	[ "$1" = openai ] && base="$base/v1"
	{
		printf 'llm:\n  provider: %s\n  baseUrl: %s\n  model: test-model-1\n' "$1" "$base"
		printf '  keyFile: %s\n  retryBackoffMs: 10\n  timeoutSeconds: 5\n' "$T/key"
		printf '  pricePerMillionInput: 3\n  pricePerMillionOutput: 15\n'
		shift
		for l in "$@"; do printf '  %s\n' "$l"; done
		# No address-space limit on the agent: under make check-asan, persona-llm is
		# an ASan build, which reserves terabytes of it.
		printf 'performance:\n  memoryLimit: "0"\n'
	} > "$T/c.yml"
	export EPIC_CONFIG="$T/c.yml"
}

requests() { [ -f "$LOG" ] && wc -l < "$LOG" || echo 0; }

# The key must be nowhere: not in these files, not in the output.
refute_key() {
	local f
	for f in "$@"; do
		[ -e "$f" ] || continue
		if grep -rqF -- "$KEY" "$f"; then fail "the key is in $f"; fi
	done
}

@test "persona-llm --help and --version; bad usage exits 2" {
	run -0 persona-llm --help
	assert_output --partial "usage: persona-llm"
	run -0 persona-llm --version
	assert_output --regexp '^persona-llm [0-9.]+$'
	run -2 persona-llm --bogus
	run -2 persona-llm some-file
	assert_output --partial "standard input"
}

@test "anthropic: the Messages API with the key, the version header, a forced tool and the prompt" {
	serve good
	config anthropic
	run -0 --separate-stderr persona-llm --persona security-specialist < "$INPUT"
	echo "$output" > "$T/out.json"
	# What came back is a PersonaOutput as the contract says, with the usage.
	run -0 persona-normalize --persona security-specialist --order 3 "$T/out.json"
	run -0 jq -r '.persona.name, .persona.status, .metadata.model, .metadata.tokens,
	    .metadata.usage.provider, .metadata.usage.calls, .metadata.usage.cost,
	    .recommendations[0].title' "$T/out.json"
	assert_output $'security-specialist\ncompleted\ntest-model-1\n1500\nanthropic\n1\n0.0081\nTokenize card data with the payment provider'
	# What was sent.
	run -0 jq -r '.path, .headers["x-api-key"], .headers["anthropic-version"], .body.model,
	    .body.max_tokens, .body.tool_choice.type, .body.tool_choice.name, .body.tools[0].name,
	    (.body.tools[0].input_schema.required | join(",")),
	    (.body.tools[0].input_schema.properties | has("persona")), .body.messages[0].role,
	    (.headers | has("Authorization"))' "$LOG"
	assert_output "$(printf '%s\n' /v1/messages "$KEY" 2023-06-01 test-model-1 4096 tool persona_review \
		persona_review insights,recommendations,costAnalysis,confidence false user false)"
	# The prompt: the persona's role, focus, mode, the upstream insight, the schema.
	run -0 jq -r '.body.messages[0].content' "$LOG"
	assert_output --partial "You are the **security-specialist**"
	assert_output --partial "- authentication"
	assert_output --partial "**standard** mode"
	assert_output --partial "UPSTREAM-INSIGHT: a queue feeds the mailer."
	assert_output --partial "OWASP ASVS"
	assert_output --partial '"recommendationId"'
	refute_output --partial "{{"
	# Tokens and money: on stderr and in the spool's ledger; the key in neither.
	assert_equal "$(grep -c '^persona-llm: call {' <<< "$stderr")" 1
	run -0 jq -r '.persona, .inputTokens, .outputTokens, .cost, .model' "$EPIC_SPOOL/log/llm-spend.jsonl"
	assert_output $'security-specialist\n1200\n300\n0.0081\ntest-model-1'
	refute_key "$T/out.json" "$EPIC_SPOOL"
	[[ "$stderr" != *"$KEY"* ]] || fail "the key is on stderr"
}

@test "openai: Chat Completions with a bearer key, a system message and a json_schema response format" {
	serve good
	config openai
	run -0 --separate-stderr persona-llm --persona security-specialist < "$INPUT"
	run -0 jq -r '.metadata.usage.provider, .metadata.tokens, .insights[0]' <<< "$output"
	assert_output $'openai\n1500\nPayment data crosses a trust boundary at the checkout.'
	run -0 jq -r '.path, .headers.Authorization, .body.model, .body.messages[0].role,
	    .body.messages[1].role, .body.response_format.type, .body.response_format.json_schema.name,
	    (.body.response_format.json_schema.schema.properties | has("recommendations")),
	    (.headers | has("x-api-key"))' "$LOG"
	assert_output "$(printf '%s\n' /v1/chat/completions "Bearer $KEY" test-model-1 system user json_schema \
		persona_review true false)"
}

@test "openai: a local server needs no key, and none is sent" {
	serve good
	config openai
	sed -i '/keyFile/d' "$T/c.yml"
	run -0 persona-llm --persona security-specialist < "$INPUT"
	run -0 jq '.headers | has("Authorization")' "$LOG"
	assert_output false
	# The Anthropic API does need one: refused before any call.
	config anthropic
	sed -i '/keyFile/d' "$T/c.yml"
	run -1 persona-llm --persona security-specialist < "$INPUT"
	assert_output --partial "llm.keyFile: the Anthropic API needs a key file"
	assert_equal "$(requests)" 1
}

@test "an answer in prose around a JSON fence is taken from the fence (both providers)" {
	for p in anthropic openai; do
		serve prose
		config "$p"
		run -0 --separate-stderr persona-llm --persona security-specialist < "$INPUT"
		run -0 jq -r '.recommendations[0].id, .metadata.usage.repaired' <<< "$output"
		assert_output $'SEC-001\nfalse'
		kill "$SERVER_PID"
	done
}

@test "an answer that does not fit gets one repair turn quoting why (anthropic: a tool_result)" {
	serve invalid,good
	config anthropic
	run -0 --separate-stderr persona-llm --persona security-specialist < "$INPUT"
	run -0 jq -r '.metadata.usage.calls, .metadata.usage.repaired, .metadata.tokens, .recommendations[0].priority' <<< "$output"
	assert_output $'2\ntrue\n3000\nhigh'
	assert_equal "$(requests)" 2
	run -0 jq -rs '.[1].body.messages | length, .[1].role, .[1].content[0].type,
	    .[2].role, .[2].content[0].type, .[2].content[0].tool_use_id, .[2].content[0].is_error' "$LOG"
	assert_output $'3\nassistant\ntool_use\nuser\ntool_result\ntoolu_01\ntrue'
	run -0 jq -rs '.[1].body.messages[2].content[0].content' "$LOG"
	assert_output --partial '$.recommendations[0]'
	assert_output --partial "does not fit the required JSON Schema"
	# Both calls are paid for.
	assert_equal "$(wc -l < "$EPIC_SPOOL/log/llm-spend.jsonl")" 2
}

@test "openai: the repair turn is the assistant's answer and a user message" {
	serve invalid,good
	config openai
	run -0 persona-llm --persona security-specialist < "$INPUT"
	run -0 jq -rs '.[1].body.messages | length, .[2].role, .[3].role' "$LOG"
	assert_output $'4\nassistant\nuser'
	run -0 jq -rs '.[1].body.messages[3].content' "$LOG"
	assert_output --partial '$.recommendations[0]'
}

@test "still not fitting after the repair: normalized when it can be, else rejected" {
	serve invalid
	config anthropic
	run -0 --separate-stderr persona-llm --persona security-specialist < "$INPUT"
	assert_equal "$(requests)" 2
	[[ "$stderr" == *"did not fit after the repair turn"*"normalized"* ]] || fail "no warning: $stderr"
	run -0 jq -r '.recommendations[0].priority, .recommendations[0].dependencies | tostring' <<< "$output"
	kill "$SERVER_PID"
	serve notjson
	config anthropic
	run -1 persona-llm --persona security-specialist < "$INPUT"
	assert_output --partial "after a repair turn: no JSON object in the answer"
	assert_equal "$(requests)" 2
	# An answer cut off at maxTokens says so.
	kill "$SERVER_PID"
	serve cutoff
	config openai maxTokens:\ 64
	run -1 persona-llm --persona security-specialist < "$INPUT"
	assert_output --partial "(the answer was cut off at llm.maxTokens, 64)"
	run -0 jq -rs '.[1].body.messages[3].content' "$LOG"
	assert_output --partial "cut off at llm.maxTokens"
}

@test "429 is retried after the server's Retry-After, 500 with backoff" {
	serve 429,good
	config anthropic
	run -0 --separate-stderr persona-llm --persona security-specialist < "$INPUT"
	assert_equal "$(requests)" 2
	[[ "$stderr" == *"HTTP 429: rate limited; retry 1 in 1000 ms (Retry-After)"* ]] || fail "$stderr"
	kill "$SERVER_PID"
	serve 500,500,good
	config openai
	run -0 --separate-stderr persona-llm --persona security-specialist < "$INPUT"
	assert_equal "$(requests)" 3
	[[ "$stderr" == *"HTTP 500: internal error; retry 2 in "* ]] || fail "$stderr"
	[[ "$stderr" != *"Retry-After"* ]] || fail "$stderr"
}

@test "5xx after the retries is temporary (111); another 4xx is final (1), the key blotted out" {
	serve 500
	config anthropic maxRetries:\ 2
	run -111 persona-llm --persona security-specialist < "$INPUT"
	assert_output --partial "HTTP 500: internal error (retries exhausted)"
	assert_equal "$(requests)" 3
	kill "$SERVER_PID"
	# A server that quotes the key back in its error: the message never shows it.
	serve 401echo
	config anthropic
	run -1 persona-llm --persona security-specialist < "$INPUT"
	assert_output --partial "HTTP 401: invalid key ****"
	[[ "$output" != *"$KEY"* ]] || fail "the key is in the message"
	assert_equal "$(requests)" 1
}

@test "a server that hangs past the timeout, or cuts the connection, is retried" {
	serve hang
	config anthropic timeoutSeconds:\ 1 maxRetries:\ 1
	sed -i '/timeoutSeconds: 5/d' "$T/c.yml"
	run -111 persona-llm --persona security-specialist < "$INPUT"
	assert_output --partial "timed out"
	assert_equal "$(requests)" 2
	# A call never outlives EPIC_TIMEOUT (persona-run's kill): it ends, saying why.
	config anthropic timeoutSeconds:\ 300 maxRetries:\ 0
	sed -i '/timeoutSeconds: 5/d' "$T/c.yml"
	EPIC_TIMEOUT=1 run -111 timeout 60 persona-llm --persona security-specialist < "$INPUT"
	assert_output --partial "timed out"
	kill "$SERVER_PID"
	serve cut,good
	config openai
	run -0 --separate-stderr persona-llm --persona security-specialist < "$INPUT"
	assert_equal "$(requests)" 2
	[[ "$stderr" == *"retry 1 in"* ]] || fail "$stderr"
}

@test "the key file must be ours and 0600; a systemd credential is read from CREDENTIALS_DIRECTORY" {
	serve good
	config anthropic
	chmod 644 "$T/key"
	run -1 persona-llm --persona security-specialist < "$INPUT"
	assert_output --partial "mode 0644 lets others read the key: expected 0600"
	[[ "$output" != *"$KEY"* ]] || fail "the key is in the message"
	assert_equal "$(requests)" 0
	chmod 600 "$T/key"
	mkdir -m 700 "$T/creds"
	printf '%s' "$KEY" > "$T/creds/llm-key"
	chmod 400 "$T/creds/llm-key"
	sed -i 's|keyFile: .*|keyFile: llm-key|' "$T/c.yml"
	CREDENTIALS_DIRECTORY="$T/creds" run -0 persona-llm --persona security-specialist < "$INPUT"
	run -0 jq -r '.headers["x-api-key"]' "$LOG"
	assert_output "$KEY"
	run -1 persona-llm --persona security-specialist < "$INPUT"
	assert_output --partial "llm.keyFile"
}

@test "spend caps: past the epic's or the day's cap no call is made (exit 1)" {
	serve good
	config anthropic maxCostPerEpic:\ 0.01
	run -0 persona-llm --persona security-specialist < "$INPUT"
	# 0.0081 spent; the next call would pass 0.01 only by its own cost: allowed.
	run -0 persona-llm --persona security-specialist < "$INPUT"
	assert_equal "$(requests)" 2
	run -1 persona-llm --persona security-specialist < "$INPUT"
	assert_output --regexp "spend cap reached: 0\.0162 spent on task '[^']+', llm.maxCostPerEpic is 0\.0100; no call made"
	assert_equal "$(requests)" 2
	# Another task of the same day goes on, until the day's cap.
	EPIC_TASK_ID=other-task run -0 persona-llm --persona security-specialist < "$INPUT"
	config anthropic maxCostPerDay:\ 0.02
	EPIC_TASK_ID=third-task run -1 persona-llm --persona security-specialist < "$INPUT"
	assert_output --partial "llm.maxCostPerDay is 0.0200; no call made"
	assert_equal "$(requests)" 3
}

@test "llm.maxConcurrentCalls is one limit for every process of the spool" {
	serve slow
	config anthropic maxConcurrentCalls:\ 1
	persona-llm --persona security-specialist < "$INPUT" > "$T/a.json" 2>/dev/null &
	a=$!
	persona-llm --persona security-specialist < "$INPUT" > "$T/b.json" 2>/dev/null &
	b=$!
	persona-llm --persona security-specialist < "$INPUT" > "$T/c.json" 2>/dev/null
	wait "$a" "$b"
	assert_equal "$(requests)" 3
	assert_equal "$(cat "$LOG.max")" 1
	run -0 jq -s 'map(.metadata.usage.calls) | add' "$T/a.json" "$T/b.json" "$T/c.json"
	assert_output 3
	# Without the limit the same three calls overlap.
	kill "$SERVER_PID"
	serve slow
	config anthropic maxConcurrentCalls:\ 0
	pids=()
	for i in 1 2 3; do
		persona-llm --persona security-specialist < "$INPUT" > /dev/null 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	[ "$(cat "$LOG.max")" -gt 1 ] || fail "calls never overlapped without a limit"
}

@test "--health checks settings, key and prompt without calling" {
	serve good
	config anthropic
	run -0 persona-llm --health --persona security-specialist
	EPIC_PERSONA=architect run -0 persona-llm --health
	chmod 644 "$T/key"
	run -1 persona-llm --health --persona security-specialist
	assert_output --partial "expected 0600"
	chmod 600 "$T/key"
	sed -i '/model:/d' "$T/c.yml"
	run -1 persona-llm --health --persona security-specialist
	assert_output --partial "llm.model: no model is configured for persona 'security-specialist'"
	assert_equal "$(requests)" 0
}

# reg_llm NAME [fallback]: register NAME (in a copy of the shipped registry) as a
# persona-llm persona, its model and prompt overridden in the registration.
reg_llm() {
	jq --arg fb "${2:-}" 'del(.rules) | .command = ["persona-llm"] | .version = "llm-1"
	    | .llm = {"model": "reg-model-7"} | if $fb != "" then .fallback = $fb else . end' \
		"$REG/$1.json" > "$REG/$1.json.new"
	mv "$REG/$1.json.new" "$REG/$1.json"
}

@test "a pipeline run: security-specialist as persona-llm through persona-run and the normalizer" {
	serve good
	config anthropic
	REG="$T/reg"
	mkdir -p "$REG"
	cp -r "$ROOT"/pipeline/personas/. "$REG/"
	export EPIC_PERSONA_PATH="$REG"
	reg_llm security-specialist
	run -0 --separate-stderr epic run -q "$ROOT/examples/requests/01-checkout-payments.json"
	echo "$output" > "$T/epic.json"
	id=$(ls "$EPIC_SPOOL/done")
	task="$EPIC_SPOOL/done/$id"
	run -0 jq -r '.persona.name, .metadata.model, .metadata.usage.provider, .metadata.engine,
	    .recommendations[0].title' "$task/personas/03-security-specialist.json"
	assert_output $'security-specialist\nreg-model-7\nanthropic\npersona-llm 0.1.0\nTokenize card data with the payment provider'
	# The registration's model won over the config's; the earlier personas' findings
	# were in the prompt; the call was made once, for this task.
	run -0 jq -r '.body.model' "$LOG"
	assert_output reg-model-7
	run -0 jq -r '.body.messages[0].content' "$LOG"
	assert_output --partial '"architect"'
	run -0 jq -r .task "$EPIC_SPOOL/log/llm-spend.jsonl"
	assert_output "$id"
	run -0 jq -r '[.epic.recommendations[] | select(.title == "Tokenize card data with the payment provider")] | length' "$T/epic.json"
	assert_output 1
	run -0 jq -r '.summary.personasCompleted' "$T/epic.json"
	assert_output 6
	# Tokens and money: per call in checkpoints.jsonl, summed as the API spend.
	run -0 jq -rs 'map(select(.event == "llm-call")) | .[0].persona, .[0].usage.model, .[0].usage.cost, length' "$task/checkpoints.jsonl"
	assert_output $'security-specialist\nreg-model-7\n0.0081\n1'
	run -0 jq -c '.epic.totalCostBreakdown.apiSpend' "$T/epic.json"
	assert_output '{"amount":0.0081,"byPersona":{"security-specialist":0.0081},"calls":1,"inputTokens":1200,"outputTokens":300}'
	run -0 epic show "$T/epic.json"
	assert_output --partial "API spend"
	assert_output --partial "0.0081 in 1 calls, 1200 + 300 tokens"
	run -0 epic render "$T/epic.json"
	assert_output --partial "0.0081 in 1 calls (1200 tokens in, 300 out)"
	run -0 epic-checkpoint status "$task"
	run -0 jq -r '.checkpoints | map(select(.event == "llm-call")) | length' <<< "$output"
	assert_output 1
	# The call is in task.log (persona-llm's stderr); the key is nowhere in the spool.
	run -0 grep -c '^persona-llm: call {' "$task/task.log"
	assert_output 1
	refute_key "$EPIC_SPOOL" "$T/epic.json"
}

@test "a pipeline run past the spend cap: no call, the fallback persona answers" {
	serve good
	config anthropic maxCostPerDay:\ 0.001
	printf 'coordination:\n  maxRetries: 1\n' >> "$T/c.yml"
	printf 'personas:\n  security-rules:\n    enabled: false\n' >> "$T/c.yml"
	REG="$T/reg"
	mkdir -p "$REG"
	cp -r "$ROOT"/pipeline/personas/. "$REG/"
	export EPIC_PERSONA_PATH="$REG"
	jq '.name = "security-rules" | .reviewOrder = 7 | .required = false | .rules = "rules/security-specialist.json"' \
		"$REG/security-specialist.json" > "$REG/security-rules.json"
	reg_llm security-specialist security-rules
	mkdir -p "$EPIC_SPOOL/log"
	echo '{"cost": 5, "day": "'"$(date -u +%F)"'", "task": "earlier"}' > "$EPIC_SPOOL/log/llm-spend.jsonl"
	run -0 --separate-stderr epic run -q "$ROOT/examples/requests/01-checkout-payments.json"
	task="$EPIC_SPOOL/done/$(ls "$EPIC_SPOOL/done")"
	run -0 jq -r '.persona.status, .persona.fallback' "$task/personas/03-security-specialist.json"
	assert_output $'completed\npersona:security-rules'
	assert_equal "$(requests)" 0
	run -0 grep -c "spend cap reached" "$task/task.log"
	# The attempt's event says why it failed, not only that it exited 1.
	run -0 jq -rs 'map(select(.persona == "security-specialist" and .event == "failed")) | .[0].message' "$task/checkpoints.jsonl"
	assert_output --regexp "^'persona-llm' exited with status 1: persona-llm: spend cap reached: 5\.0000 spent on [0-9-]+ \(UTC\), llm.maxCostPerDay is 0\.0010; no call made$"
}

@test "an agent profile: the config's personas.NAME.llm makes a rules persona an agent, its rules the fallback" {
	serve good
	config anthropic
	printf 'personas:\n  security-specialist:\n    llm:\n      model: profile-model-3\n' >> "$T/c.yml"
	run -0 epic personas
	run -0 jq -c '.[] | select(.name == "security-specialist") | [.kind, .llm.provider, .llm.model, .fallback]' <<< "$output"
	assert_output '["command","anthropic","profile-model-3","rules"]'
	run -0 --separate-stderr epic run -q "$ROOT/examples/requests/01-checkout-payments.json"
	task="$EPIC_SPOOL/done/$(ls "$EPIC_SPOOL/done")"
	run -0 jq -r '.metadata.model, .metadata.engine, .persona.fallback // "none"' "$task/personas/03-security-specialist.json"
	assert_output $'profile-model-3\npersona-llm 0.1.0\nnone'
	run -0 jq -r '.metadata.engine' "$task/personas/02-architect.json"
	assert_output "persona-rules 0.1.0"
	assert_equal "$(requests)" 1
	# The API fails for good: the persona's own rules answer, and say so.
	kill "$SERVER_PID"
	serve 500
	config anthropic maxRetries:\ 0
	printf 'coordination:\n  maxRetries: 1\npersonas:\n  security-specialist:\n    llm: {}\n' >> "$T/c.yml"
	run -0 --separate-stderr epic run -q "$ROOT/examples/requests/04-notifications.json"
	task="$EPIC_SPOOL/done/$(ls -t "$EPIC_SPOOL/done" | head -1)"
	run -0 jq -r '.persona.status, .persona.fallback, .metadata.engine, (.recommendations | length > 0)' \
		"$task/personas/03-security-specialist.json"
	assert_output $'completed\nrules\npersona-rules 0.1.0\ntrue'
	assert_equal "$(requests)" 1
	run -0 grep -c '"event":"fallback"' "$task/checkpoints.jsonl"
}

@test "the Claude and local-server profiles load; the Claude one wants its key file" {
	run -0 persona-llm --health --config "$ROOT/pipeline/profiles/local-llm.yml" --persona architect
	HOME="$T" run -1 persona-llm --health --config "$ROOT/pipeline/profiles/claude.yml" --persona architect
	assert_output --partial "'$T/.config/epic-creator/anthropic.key'"
	mkdir -p "$T/.config/epic-creator"
	cp "$T/key" "$T/.config/epic-creator/anthropic.key"
	HOME="$T" run -0 persona-llm --health --config "$ROOT/pipeline/profiles/claude.yml" --persona architect
	# persona-run --health asks persona-llm --health (no call is made); the
	# address-space limit lifted as in config() (an ASan build cannot live under it).
	cd "$T"
	{ cat "$ROOT/pipeline/profiles/claude.yml"; printf 'performance:\n  memoryLimit: "0"\n'; } > "$T/claude.yml"
	HOME="$T" EPIC_CONFIG="$T/claude.yml" run -0 persona-run --health security-specialist
	assert_output --partial '"security-specialist": true'
	HOME=/nonexistent EPIC_CONFIG="$T/claude.yml" run -111 persona-run --health security-specialist
	assert_output --partial "anthropic.key"
	for prof in claude local-llm; do
		EPIC_CONFIG="$ROOT/pipeline/profiles/$prof.yml" run -0 epic personas
		run -0 jq -r '[.[] | select(.llm and .fallback == "rules")] | length' <<< "$output"
		assert_output 6
	done
}

@test "llm.groundWith rules: the rules' findings are a checklist in the prompt; the output says what came from where" {
	serve ground
	config openai groundWith:\ rules
	jq '.epic.description = "Customers pay by card at checkout; we keep card numbers for one-click buying and they log in with a password."' \
		"$INPUT" > "$T/in2.json"
	persona-rules -p security-specialist < "$T/in2.json" | jq -c '[.recommendations[].id]' > "$T/ids"
	[ "$(jq length "$T/ids")" -ge 2 ] || fail "the rules found too little to test with: $(cat "$T/ids")"
	run -0 --separate-stderr persona-llm --persona security-specialist < "$T/in2.json"
	echo "$output" > "$T/out.json"
	run -0 jq -c --argjson ids "$(cat "$T/ids")" '.metadata.grounding |
	    [.with, .fromRules == $ids[0:1], .dropped == $ids[1:], .fromModel]' "$T/out.json"
	assert_output '["rules",true,true,["SEC-901"]]'
	# The item kept from the rules keeps the rules' concern.
	want=$(persona-rules -p security-specialist < "$T/in2.json" | jq -r '.recommendations[0].concern')
	[ "$want" != null ] || fail "the rules' first item has no concern"
	run -0 jq -r '.recommendations[0].concern' "$T/out.json"
	assert_output "$want"
	# The checklist is in the prompt: every rules item, by id.
	run -0 jq -r '.body.messages[1].content' "$LOG"
	assert_output --partial "## The checklist: what the rule base found"
	for id in $(jq -r '.[]' "$T/ids"); do assert_output --partial "- $id: "; done
	# persona-normalize keeps it.
	run -0 persona-normalize -p security-specialist "$T/out.json"
	run -0 jq -r '.metadata.grounding.fromModel[0]' <<< "$output"
	assert_output SEC-901
	# Without groundWith: no checklist, no grounding.
	config openai
	run -0 --separate-stderr persona-llm --persona security-specialist < "$T/in2.json"
	run -0 jq -r '.metadata | has("grounding")' <<< "$output"
	assert_output false
	run -0 jq -rs '.[1].body.messages[1].content' "$LOG"
	refute_output --partial "checklist"
	refute_output --partial "{{"
}

@test "the cache serves an agent's review again, until its model or prompt changes" {
	serve good
	config anthropic
	printf 'personas:\n  security-specialist:\n    llm: {}\n' >> "$T/c.yml"
	for n in a b; do cp "$ROOT/examples/requests/01-checkout-payments.json" "$T/$n.json"; done
	run -0 --separate-stderr epic run -q "$T/a.json"
	run -0 --separate-stderr epic run -q "$T/b.json"
	assert_equal "$(requests)" 1
	sed -i 's/model: test-model-1/model: test-model-2/' "$T/c.yml"
	cp "$T/a.json" "$T/c.json"
	run -0 --separate-stderr epic run -q "$T/c.json"
	assert_equal "$(requests)" 2
	run -0 jq -r '.body.model' <(tail -1 "$LOG")
	assert_output test-model-2
	# Another prompt template is another version too.
	mkdir -p "$T/prompts"
	echo 'Review {{epic}} as {{persona}}.' > "$T/prompts/mine.md"
	sed -i 's|    llm: {}|    llm: {prompt: '"$T"'/prompts/mine.md}|' "$T/c.yml"
	cp "$T/a.json" "$T/d.json"
	run -0 --separate-stderr epic run -q "$T/d.json"
	assert_equal "$(requests)" 3
	run -0 jq -r '.body.messages[0].content' <(tail -1 "$LOG")
	assert_output --partial "as security-specialist."
}

@test "two tasks at once, every persona an agent: the calls in flight stay under llm.maxConcurrentCalls" {
	serve slow
	# One slot: without the limit the two tasks' calls would overlap.
	config openai maxConcurrentCalls:\ 1
	printf 'personas:\n' >> "$T/c.yml"
	for p in product-owner architect security-specialist performance-specialist accessibility-advocate devops-engineer; do
		printf '  %s:\n    llm: {}\n' "$p" >> "$T/c.yml"
	done
	epic run -q "$ROOT/examples/requests/01-checkout-payments.json" > "$T/a.json" 2> "$T/a.err" &
	a=$!
	epic run -q "$ROOT/examples/requests/04-notifications.json" > "$T/b.json" 2> "$T/b.err" &
	b=$!
	wait "$a" || fail "task a: $(cat "$T/a.err")"
	wait "$b" || fail "task b: $(cat "$T/b.err")"
	assert_equal "$(requests)" 12
	assert_equal "$(cat "$LOG.max")" 1
	run -0 jq -s 'map(.epic.totalCostBreakdown.apiSpend.calls) | add' "$T/a.json" "$T/b.json"
	assert_output 12
}
