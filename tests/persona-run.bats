#!/usr/bin/env bats
# persona-run: PersonaInput, in-process rules, command personas with timeouts,
# retries, fallbacks, and the cache. Real processes, a temporary task and spool.

load test_helper

setup() {
	REG="$BATS_TEST_TMPDIR/reg"
	STATE="$BATS_TEST_TMPDIR/state"
	TASK="$BATS_TEST_TMPDIR/task"
	mkdir -p "$REG" "$STATE" "$TASK/personas"
	cp "$FIX"/registry/*.json "$REG/"
	cp -r "$FIX/registry/rules" "$REG/"
	export EPIC_PERSONA_PATH="$REG"
	# Fast retries: the backoff base is 10 ms in the tests.
	printf 'coordination:\n  maxRetries: 3\n  retryBackoffMs: 10\n' > "$BATS_TEST_TMPDIR/c.yml"
	export EPIC_CONFIG="$BATS_TEST_TMPDIR/c.yml"
	epic-parse --task-id t1 -o "$TASK/epic-request.json" "$ROOT/examples/requests/04-notifications.json"
	cd "$TASK"
}

# agent NAME MODE [required] [timeout] [fallback]: register a fake-agent persona as
# NAME (replacing the fixture registration of that name).
agent() {
	local fb=""
	[ -n "${5:-}" ] && fb=", \"fallback\": \"$5\""
	cat > "$REG/$1.json" <<JSON
{ "name": "$1", "reviewOrder": $(jq .reviewOrder "$FIX/registry/$1.json"), "required": ${3:-false},
  "timeout": ${4:-10}, "dependencies": [], "supportedModes": ["mvp", "standard", "enterprise"],
  "version": "${VERSION:-1.0.0}", "command": ["$FIX/persona-run/fake-agent", "$2", "$STATE"]$fb }
JSON
}

# Is pid a live process? A zombie (killed, not yet reaped by init) is not.
alive() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

calls() { [ -f "$STATE/calls" ] && wc -l < "$STATE/calls" || echo 0; }

@test "persona-run --help and --version; bad usage exits 2" {
	run -0 persona-run --help
	assert_output --partial "usage: persona-run"
	run -0 persona-run --version
	assert_output --regexp '^persona-run [0-9.]+$'
	run -2 persona-run --bogus
	run -2 persona-run -o out.json epic-request.json
	assert_output --partial -- "--persona is required"
	run -2 persona-run --persona architect epic-request.json
	assert_output --partial -- "-o is required"
}

@test "a rules persona runs in-process and writes a canonical output and its input" {
	run -0 persona-run --persona product-owner -o personas/01-product-owner.json epic-request.json
	run -0 jq -r '.persona.name, .persona.status, .metadata.engine' personas/01-product-owner.json
	assert_output $'product-owner\ncompleted\npersona-rules 0.1.0'
	assert_file_exist personas/01-product-owner.input.json
	run -0 jq -r '.epic.mode, .persona.reviewOrder, (.epic.previousPersonas|length)' personas/01-product-owner.input.json
	assert_output $'standard\n1\n0'
	assert_no_temp_files "$TASK"
}

@test "--stamp records the output's xxh3; the output carries no clock and the wall time is logged" {
	run -0 persona-run --persona product-owner --stamp personas/.01-product-owner.stamp \
		-o personas/01-product-owner.json epic-request.json
	want="$(ec-test xxh3 < personas/01-product-owner.json)  personas/01-product-owner.json"
	assert_equal "$(cat personas/.01-product-owner.stamp)" "$want"
	run -0 jq .persona.executionTime personas/01-product-owner.json
	assert_output 0
	run -0 jq -s '[.[] | select(.event == "after")] | length == 1 and (.[0].durationMs | type) == "number"' checkpoints.jsonl
	assert_output true
	# A rerun that changes no byte leaves the output alone and touches the stamp.
	touch -d '-1 hour' personas/01-product-owner.json personas/.01-product-owner.stamp
	run -0 persona-run --no-cache --persona product-owner --stamp personas/.01-product-owner.stamp \
		-o personas/01-product-owner.json epic-request.json
	[ personas/.01-product-owner.stamp -nt personas/01-product-owner.json ] || fail "stamp not touched or output rewritten"
	assert_equal "$(cat personas/.01-product-owner.stamp)" "$want"
}

# image_patch FILE PYTHON: run PYTHON on the kept image's bytes (b: a bytearray; the
# sections as rulesimage.c lays them out: pool at P with n[0] bytes, then the
# records), then make its header hash right again, as a forger with write access
# to the cache would.
image_patch() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
path, code = sys.argv[1], sys.argv[2]
b = bytearray(open(path, 'rb').read())
n = struct.unpack_from('<10I', b, 16)
P = 56
G = P + n[0]; PH = G + 12 * n[1]; T = PH + 16 * n[2]; C = T + 16 * n[3]; R = C + 24 * n[4]
exec(code)
open(path, 'wb').write(b)
PY
	ec-test rules-image-rehash < "$1" > "$1.tmp" && mv "$1.tmp" "$1"
}

@test "a rule base is checked, merged and compiled once per content, kept in the spool, and the kept image gives the same output" {
	cp -r "$ROOT/pipeline/personas" "$BATS_TEST_TMPDIR/shipped"
	export EPIC_PERSONA_PATH="$BATS_TEST_TMPDIR/shipped"
	run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/a.json" epic-request.json
	run -0 bash -c "ls '$EPIC_SPOOL'/cache/rulebases/*.c1 | wc -l"
	assert_output 1
	kept=$(ls "$EPIC_SPOOL"/cache/rulebases/*.c1)
	run -0 ec-test rules-image-verify < "$kept"
	# The image is what the second run reads, and gives the same bytes as the JSON.
	run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/b.json" epic-request.json
	cmp "$BATS_TEST_TMPDIR/a.json" "$BATS_TEST_TMPDIR/b.json"
	image_patch "$kept" 'b[P:G] = b[P:G].replace(b"PO-0", b"PQ-0")'
	run -0 ec-test rules-image-check < "$kept"
	run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/c.json" epic-request.json
	run -0 jq -r '[.recommendations[].id | select(startswith("PQ-"))] | length > 0' "$BATS_TEST_TMPDIR/c.json"
	assert_output true
	# An image cut short, with a byte changed, or forged with a right hash but an
	# index out of bounds, a condition that contains itself, or a string without its
	# end, is refused, compiled again from the rule base, and replaced.
	head -c 5000 "$kept" > "$BATS_TEST_TMPDIR/cut" && cp "$BATS_TEST_TMPDIR/cut" "$kept"
	run -1 ec-test rules-image-check < "$kept"
	run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/c.json" epic-request.json
	cmp "$BATS_TEST_TMPDIR/a.json" "$BATS_TEST_TMPDIR/c.json"
	printf 'X' | dd of="$kept" bs=1 seek=3000 conv=notrunc status=none
	run -1 ec-test rules-image-check < "$kept"
	# forged: a group index out of bounds; a condition inside itself; the pool's
	# last string without its end; a rule's condition out of bounds; a phrase of
	# 2^32 - 1 bytes (found by fuzz_rules_image)
	for forge in 'struct.pack_into("<II", b, T, 1, 0xffffffff)' \
		'struct.pack_into("<I", b, PH + 4, 0xffffffff)' \
		'struct.pack_into("<II", b, T, 3, n[4] - 1)' \
		'b[G - 1] = 65' \
		'struct.pack_into("<I", b, R + 12, n[4] + 7)'; do
		image_patch "$kept" "$forge"
		run -1 ec-test rules-image-check < "$kept"
		run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/c.json" epic-request.json
		cmp "$BATS_TEST_TMPDIR/a.json" "$BATS_TEST_TMPDIR/c.json"
		run -0 ec-test rules-image-verify < "$kept"
	done
	# Editing the rule base is a new fingerprint: a new kept image.
	jq '.version = "9.9.9"' "$EPIC_PERSONA_PATH/rules/product-owner.json" > "$BATS_TEST_TMPDIR/rb"
	mv "$BATS_TEST_TMPDIR/rb" "$EPIC_PERSONA_PATH/rules/product-owner.json"
	run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/d.json" epic-request.json
	run -0 bash -c "ls '$EPIC_SPOOL'/cache/rulebases/*.c1 | wc -l"
	assert_output 2
}

@test "a settled rule base's fingerprint is remembered by its file's state, and an edit in place of the same size is seen" {
	cp -r "$ROOT/pipeline/personas" "$BATS_TEST_TMPDIR/shipped"
	export EPIC_PERSONA_PATH="$BATS_TEST_TMPDIR/shipped"
	rb="$EPIC_PERSONA_PATH/rules/product-owner.json"
	# Just written: not remembered (two writes in one timestamp tick look alike).
	run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/a.json" epic-request.json
	run -0 bash -c "ls '$EPIC_SPOOL'/cache/valid/ 2>/dev/null | grep -c '^rulebase-fp[.]' || true"
	assert_output 0
	sleep 3
	run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/a.json" epic-request.json
	run -0 bash -c "ls '$EPIC_SPOOL'/cache/valid/ | grep -c '^rulebase-fp[.]'"
	assert_output 1
	# Remembered: the next run reads neither the rule base nor its vocabulary.
	if command -v strace > /dev/null; then
		traced -e trace=openat -o "$BATS_TEST_TMPDIR/trace" persona-run --no-cache \
			--persona product-owner -o "$BATS_TEST_TMPDIR/b.json" epic-request.json
		run grep -cE 'rules/(product-owner|concepts)[.]json"' "$BATS_TEST_TMPDIR/trace"
		assert_output 0
		cmp "$BATS_TEST_TMPDIR/a.json" "$BATS_TEST_TMPDIR/b.json"
	fi
	# The same number of bytes, one title changed in place (mtime set back too): a
	# new fingerprint, a new image, and the new title in the output.
	id=$(jq -r '.recommendations[0].id' "$BATS_TEST_TMPDIR/a.json")
	title=$(jq -r --arg id "$id" '.rules[] | select(.id == $id) | .recommendation.title' "$rb")
	new=$(printf '%s' "$title" | tr 'a-z' 'A-Z')
	python3 - "$rb" "$title" "$new" <<'PY'
import os, sys
p, old, new = sys.argv[1:]
st = os.stat(p)
b = open(p, "rb").read()
assert len(old.encode()) == len(new.encode()) and b.count(old.encode()) >= 1
with open(p, "r+b") as f:
    f.write(b.replace(old.encode(), new.encode()))
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
	run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/c.json" epic-request.json
	run -0 jq -r --arg id "$id" '.recommendations[] | select(.id == $id) | .title' "$BATS_TEST_TMPDIR/c.json"
	assert_output "$new"
	run -0 bash -c "ls '$EPIC_SPOOL'/cache/rulebases/*.c1 | wc -l"
	assert_output 2
	# The shared vocabulary is the fingerprint's too.
	sleep 3
	run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/c.json" epic-request.json
	printf ' ' >> "$EPIC_PERSONA_PATH/rules/concepts.json"
	run -0 persona-run --no-cache --persona product-owner -o "$BATS_TEST_TMPDIR/d.json" epic-request.json
	run -0 bash -c "ls '$EPIC_SPOOL'/cache/rulebases/*.c1 | wc -l"
	assert_output 3
}

@test "every shipped persona gives the same bytes from its kept image as from its JSON, on every example" {
	cp -r "$ROOT/pipeline/personas" "$BATS_TEST_TMPDIR/shipped"
	export EPIC_PERSONA_PATH="$BATS_TEST_TMPDIR/shipped"
	for req in "$ROOT"/examples/requests/*; do
		epic-parse --task-id t2 -o epic-request.json "$req"
		for p in product-owner architect security-specialist performance-specialist \
			accessibility-advocate devops-engineer; do
			# persona-rules applies the JSON (no spool, no image); persona-run the image
			# once the first run kept it.
			run -0 persona-run --no-cache --persona $p -o "$BATS_TEST_TMPDIR/run.json" epic-request.json
			run -0 persona-rules -o "$BATS_TEST_TMPDIR/rules.json" "$BATS_TEST_TMPDIR/run.input.json"
			cmp "$BATS_TEST_TMPDIR/run.json" "$BATS_TEST_TMPDIR/rules.json" ||
				fail "$p on $(basename "$req"): the image's output differs from the JSON's"
		done
	done
	run -0 bash -c "ls '$EPIC_SPOOL'/cache/rulebases/*.c1 | wc -l"
	assert_output 6
}

@test "the PersonaInput accumulates the earlier personas' insights, signals and recommendations" {
	run -0 persona-run --persona product-owner -o personas/01-product-owner.json epic-request.json
	run -0 persona-run --persona architect -o personas/02-architect.json epic-request.json personas/01-product-owner.json
	run -0 jq -c '.epic.previousPersonas, (.epic.accumulatedInsights["product-owner"] | keys)' personas/02-architect.input.json
	assert_output $'["product-owner"]\n["insights","recommendations","signals"]'
	run -0 jq -r '.epic.context.taskId, .epic.context.title' personas/02-architect.input.json
	assert_line --index 0 t1
}

@test "a command persona gets the PersonaInput on stdin and the EPIC_* environment" {
	agent performance-specialist env
	run -0 persona-run --persona performance-specialist -o personas/04-p.raw.json epic-request.json
	run -0 grep -o 'persona=performance-specialist task=t1 mode=standard timeout=10' personas/04-p.raw.json
	[ "$(calls)" = 1 ]
}

@test "a second run of the same input is a cache hit: zero executions, same bytes" {
	agent performance-specialist ok
	run -0 persona-run --persona performance-specialist -o personas/04-p.raw.json epic-request.json
	cp personas/04-p.raw.json "$BATS_TEST_TMPDIR/first.json"
	run -0 persona-run --persona performance-specialist -o personas/04-p.raw.json epic-request.json
	[ "$(calls)" = 1 ] || fail "persona executions: $(calls), expected 1"
	run -0 grep -c '"event":"cache-hit"' checkpoints.jsonl
	assert_output 1
	# rules personas too
	run -0 persona-run --persona product-owner -o personas/01.json epic-request.json
	cp personas/01.json "$BATS_TEST_TMPDIR/po.json"
	run -0 persona-run --persona product-owner -o personas/01.json epic-request.json
	cmp personas/01.json "$BATS_TEST_TMPDIR/po.json"
	run -0 grep -c '"persona":"product-owner","time":.*' checkpoints.jsonl
	run -0 bash -c "grep '\"persona\":\"product-owner\"' checkpoints.jsonl | grep -c cache-hit"
	assert_output 1
}

@test "--no-cache and options.noCache bypass the cache" {
	agent performance-specialist ok
	persona-run --persona performance-specialist -o personas/04.raw.json epic-request.json
	run -0 persona-run --no-cache --persona performance-specialist -o personas/04.raw.json epic-request.json
	[ "$(calls)" = 2 ]
	jq '.options.noCache = true' epic-request.json > r2.json
	run -0 persona-run --persona performance-specialist -o personas/04.raw.json r2.json
	[ "$(calls)" = 3 ]
}

@test "a persona version bump is a cache miss" {
	agent performance-specialist ok
	persona-run --persona performance-specialist -o personas/04.raw.json epic-request.json
	VERSION=1.1.0 agent performance-specialist ok
	run -0 persona-run --persona performance-specialist -o personas/04.raw.json epic-request.json
	[ "$(calls)" = 2 ] || fail "persona executions: $(calls), expected 2 after a version bump"
}

@test "an edited rule base is a cache miss even without a version bump" {
	persona-run --persona product-owner -o personas/01.json epic-request.json
	sed -i 's/it always says this/it now says that/' "$REG/rules/empty.json"
	run -0 persona-run --persona product-owner -o personas/01.json epic-request.json
	run -0 jq -r '.insights[0]' personas/01.json
	assert_output "A test rule base: it now says that."
}

@test "a rule base's vocabulary, whatever its name, is in its fingerprint and in the plan's prerequisites" {
	cp "$FIX/persona-rules/facts/facts.json" "$FIX/persona-rules/facts/vocabulary.json" "$REG/rules/"
	jq '.rules = "rules/facts.json"' "$FIX/registry/product-owner.json" > "$REG/product-owner.json"
	run -0 epic-parse --task-id t1 --plan plan.mk -o epic-request.json "$ROOT/examples/requests/04-notifications.json"
	run -0 grep -c "^personas/.01-product-owner.stamp: .*rules/vocabulary.json" plan.mk
	persona-run --persona product-owner -o personas/01.json epic-request.json
	jq '.concepts += {"added": ["added words"]}' "$REG/rules/vocabulary.json" > "$BATS_TEST_TMPDIR/v" &&
		mv "$BATS_TEST_TMPDIR/v" "$REG/rules/vocabulary.json"
	run -0 persona-run --persona product-owner -o personas/01.json epic-request.json
	run -0 jq -s '[.[] | select(.persona == "product-owner") | .event] | map(select(. == "cache-hit")) | length' checkpoints.jsonl
	assert_output 0
}

@test "a changed upstream review is a cache miss" {
	persona-run --persona product-owner -o personas/01.json epic-request.json
	persona-run --persona architect -o personas/02.json epic-request.json personas/01.json
	jq '.insights += ["something new"]' personas/01.json > personas/01b.json
	persona-run --persona architect -o personas/02.json epic-request.json personas/01b.json
	run -0 bash -c "grep '\"persona\":\"architect\"' checkpoints.jsonl | grep -c cache-miss"
	assert_output 2
}

@test "an expired entry is not served as fresh" {
	printf 'coordination:\n  cacheTTL: 0\n  retryBackoffMs: 10\n' > "$BATS_TEST_TMPDIR/c.yml"
	agent performance-specialist ok
	persona-run --persona performance-specialist -o personas/04.raw.json epic-request.json
	persona-run --persona performance-specialist -o personas/04.raw.json epic-request.json
	[ "$(calls)" = 2 ]
}

@test "a hanging persona is killed at its timeout, with its children" {
	agent performance-specialist hang false 1
	printf 'coordination:\n  maxRetries: 1\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -0 persona-run --persona performance-specialist -o personas/04.raw.json epic-request.json
	run -0 jq -r '.persona.status, .persona.error.type' personas/04.raw.json
	assert_output $'failed\nTIMEOUT'
	read -r leader child < "$STATE/pids"
	sleep 0.2
	alive "$leader" && fail "the persona ($leader) survived its timeout"
	alive "$child" && fail "the persona's child ($child) survived its timeout"
	run -0 grep -c '"errorType":"TIMEOUT"' checkpoints.jsonl
	assert_output 1
}

@test "a flaky persona succeeds on retry, each attempt recorded" {
	agent performance-specialist flaky
	echo 2 > "$STATE/fail-times"
	run -0 persona-run --persona performance-specialist -o personas/04.raw.json epic-request.json
	[ "$(calls)" = 3 ]
	run -0 grep -c '"event":"retry"' checkpoints.jsonl
	assert_output 2
	run -0 grep -c '"errorType":"SYSTEM_ERROR"' checkpoints.jsonl
	assert_output 2
	run -0 grep -o 'third time lucky' personas/04.raw.json
}

@test "retries back off exponentially" {
	agent performance-specialist flaky
	echo 9 > "$STATE/fail-times"
	printf 'coordination:\n  maxRetries: 4\n  retryBackoffMs: 100\n' > "$BATS_TEST_TMPDIR/c.yml"
	start=$(date +%s%N)
	run -0 persona-run --persona performance-specialist -o personas/04.raw.json epic-request.json
	elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$(calls)" = 4 ]
	# 100 + 200 + 400 ms of backoff at the least: a floor, not a speed limit.
	[ "$elapsed" -ge 700 ] || fail "retries took ${elapsed} ms, less than the 700 ms of backoff"
}

@test "a required persona's final failure exits 111 and says why" {
	agent security-specialist crash true
	run -111 persona-run --persona security-specialist -o personas/03.raw.json epic-request.json
	assert_output --partial "required persona 'security-specialist' failed after 3 attempts: SYSTEM_ERROR: killed by signal 11"
	assert_file_not_exist personas/03.raw.json
	[ "$(calls)" = 3 ]
}

@test "an optional persona's failure yields a failed output and exit 0" {
	agent devops-engineer garbage
	run -0 persona-run --persona devops-engineer -o personas/06.raw.json epic-request.json
	run -0 jq -r '.persona.status, .persona.error.type, .persona.error.retryCount' personas/06.raw.json
	assert_output $'failed\nVALIDATION_FAILED\n2'
}

@test "output larger than the cap is a failed attempt, not a memory blow-up" {
	agent devops-engineer huge
	printf 'coordination:\n  maxRetries: 1\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -0 persona-run --persona devops-engineer -o personas/06.raw.json epic-request.json
	run -0 jq -r '.persona.error.message' personas/06.raw.json
	assert_output --partial "output larger than"
}

@test "after the retries, an expired cache entry serves, marked stale-cache" {
	agent performance-specialist ok
	persona-run --persona performance-specialist -o personas/04.raw.json epic-request.json
	printf 'coordination:\n  cacheTTL: 0\n  retryBackoffMs: 10\n' > "$BATS_TEST_TMPDIR/c.yml"
	agent performance-specialist crash
	run -0 persona-run --persona performance-specialist -o personas/04.raw.json epic-request.json
	run -0 jq -r '.persona.fallback, .persona.status' personas/04.raw.json
	assert_output $'stale-cache\ncompleted'
}

@test "then the registration's fallback persona answers" {
	agent performance-specialist crash false 10 architect
	run -0 persona-run --no-cache --persona performance-specialist -o personas/04.raw.json epic-request.json
	run -0 jq -r '.persona.name, .persona.fallback, .persona.status' personas/04.raw.json
	assert_output $'performance-specialist\npersona:architect\ncompleted'
}

@test "--skip writes a skipped output with the reason" {
	run -0 persona-run --persona accessibility-advocate --skip "excluded by the request" -o personas/05.json epic-request.json
	run -0 jq -r '.persona.status, .persona.error.message' personas/05.json
	assert_output $'skipped\nexcluded by the request'
}

@test "an unknown persona, a request not from epic-parse, a bad earlier output: exit 1" {
	run -1 persona-run --persona nobody -o out.json epic-request.json
	assert_output --partial "no persona 'nobody' is registered"
	run -1 persona-run --persona architect -o out.json "$ROOT/examples/requests/04-notifications.json"
	assert_output --partial "expected a request normalized by epic-parse"
	echo '{"persona": 3}' > bad.json
	run -1 persona-run --persona architect -o out.json epic-request.json bad.json
	assert_output --partial "bad.json: \$.persona: expected an object"
	assert_file_not_exist out.json
}

@test "the argv comes from the registration, never from the request" {
	jq '.options.customPersonas = {"evil": {"command": ["/bin/touch", "'"$STATE"'/pwned"], "reviewOrder": 9}}' \
		epic-request.json > evil.json
	run -1 persona-run --persona evil -o out.json evil.json
	assert_file_not_exist "$STATE/pwned"
}

@test "a custom persona from the request runs its inline rule base" {
	jq '.options.customPersonas = {"brand": {"reviewOrder": 9, "rules": {"persona": "brand", "version": "1", "costCategory": "brand", "rules": [{"id": "BRD-001", "when": {"any": ["email"]}, "insight": "Brand review of {match} templates."}]}}}' \
		epic-request.json > custom.json
	run -0 persona-run --persona brand -o personas/09-brand.json custom.json
	run -0 jq -r '.insights[0], .persona.reviewOrder' personas/09-brand.json
	assert_output --regexp $'^Brand review of [Ee]mails? templates\.\n9$'
}

@test "--health reports each persona's availability" {
	agent performance-specialist ok
	run -0 persona-run --health
	run -0 jq -r '.["performance-specialist"], .["product-owner"]' <<<"$output"
	assert_output $'true\ntrue'
	cat > "$REG/devops-engineer.json" <<JSON
{ "name": "devops-engineer", "reviewOrder": 6, "required": false, "timeout": 10, "dependencies": [],
  "supportedModes": ["mvp"], "version": "1", "command": ["/nonexistent/agent"] }
JSON
	run -111 persona-run --health devops-engineer
	assert_output --partial '"devops-engineer": false'
}

@test "a full disk is a temporary failure (exit 111)" {
	run -111 persona-run --persona product-owner -o /dev/full epic-request.json
}

@test "the example agent persona builds a prompt, calls the LLM command and normalizes" {
	cat > "$REG/devops-engineer.json" <<JSON
{ "name": "devops-engineer", "reviewOrder": 6, "required": false, "timeout": 10, "dependencies": [],
  "supportedModes": ["mvp", "standard", "enterprise"], "version": "agent-1",
  "focusAreas": ["rollback", "monitoring"], "command": ["$ROOT/examples/personas/agent-persona"],
  "idPrefix": "OPS" }
JSON
	# A stand-in LLM: it keeps the prompt and answers with fenced JSON in prose.
	export EPIC_LLM_COMMAND="cat > '$STATE/prompt'; printf 'Sure.\n\`\`\`json\n{\"insights\": [\"Roll back fast.\"], \"recommendations\": [{\"title\": \"Add a rollback runbook\", \"type\": \"Blocking\", \"priority\": \"HIGH\", \"estimatedCost\": \"2-3 days\", \"description\": \"Write it.\", \"dependencies\": []}], \"costAnalysis\": {\"category\": \"ops\", \"amount\": \"2-3 days\"}, \"confidence\": 0.8}\n\`\`\`\n'"
	run -0 persona-run --persona devops-engineer -o personas/06.raw.json epic-request.json
	run -0 grep -c 'You are the devops-engineer reviewing an epic in standard mode. Focus on: rollback, monitoring.' "$STATE/prompt"
	run -0 persona-normalize --persona devops-engineer -o personas/06.json personas/06.raw.json
	run -0 jq -r '.recommendations[0].type, .recommendations[0].priority, .recommendations[0].id' personas/06.json
	assert_output $'blocking\nhigh\nOPS-001'
	unset EPIC_LLM_COMMAND
	run -0 persona-run --no-cache --persona devops-engineer -o personas/06.raw.json epic-request.json
	run -0 jq -r '.persona.status' personas/06.raw.json
	assert_output failed
}

@test "a persona that answers without reading its input is fine (no SIGPIPE)" {
	agent performance-specialist noread
	# An input far larger than a pipe buffer, so the write really fails.
	head -c 200000 /dev/zero | tr '\0' 'a' > big.txt
	jq --rawfile d big.txt '.description = $d' epic-request.json > big.json
	run -0 persona-run --persona performance-specialist -o personas/04.raw.json big.json
	run -0 grep -c 'did not read' personas/04.raw.json
}

@test "a relative program path in a registration is relative to the registration file" {
	cp "$FIX/persona-run/fake-agent" "$REG/local-agent"
	cat > "$REG/performance-specialist.json" <<JSON
{ "name": "performance-specialist", "reviewOrder": 4, "required": false, "timeout": 10,
  "dependencies": [], "supportedModes": ["mvp", "standard", "enterprise"], "version": "1",
  "command": ["./local-agent", "ok", "$STATE"] }
JSON
	cd "$BATS_TEST_TMPDIR"   # not the registration's directory
	run -0 persona-run --persona performance-specialist -d "$TASK" -o "$TASK/personas/04.raw.json" "$TASK/epic-request.json"
	[ "$(calls)" = 1 ]
	run -0 persona-run --health performance-specialist
	run -0 bash -c "epic personas | jq -r '.[] | select(.name == \"performance-specialist\") | .available'"
	assert_output true
}
