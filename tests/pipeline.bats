#!/usr/bin/env bats
# The make pipeline end to end: epic run, reruns, rule-base edits, interruptions and
# resume, parallel make, a required persona's failure. Real binaries, real make,
# the shipped personas, a temporary spool.

load test_helper

setup() {
	for t in epic-aggregate persona-run; do [ -x "$BIN/$t" ] || skip "$t not built"; done
	# A private copy of the registry, so tests can edit rule bases.
	REG="$BATS_TEST_TMPDIR/personas"
	cp -r "$ROOT/pipeline/personas" "$REG"
	export EPIC_PERSONA_PATH="$REG"
	REQ="$ROOT/examples/requests/08-product-search.json"
}

# The epic.json of a task without its clock-derived fields: the timestamps and the
# measured execution time, the only fields that may differ between two runs.
stable() {
	spool_cat "$1" | jq -S 'del(.epic.metadata.createdAt, .epic.metadata.completedAt, .epic.metadata.totalExecutionTime)'
}
task_dir() { ls -d "$EPIC_SPOOL"/$1/*/ | head -1; }
PERSONAS="product-owner architect security-specialist performance-specialist accessibility-advocate devops-engineer"
# How many times persona $2 ran in task $1: its "after" events, one per persona-run
# that finished. runs_now DIR keeps every persona's count in n0.
runs() { grep '"event":"after"' "$1/checkpoints.jsonl" | grep -c "\"persona\":\"$2\"" || true; }
runs_now() {
	declare -gA n0
	for p in $PERSONAS; do n0[$p]=$(runs "$1" $p); done
}

@test "epic run reviews an epic: EpicResponse on stdout, the task in done/" {
	run -0 --separate-stderr epic run -q "$REQ"
	run -0 jq -r '.epic.title, .summary.personasCompleted, .epic.status' <<<"$output"
	assert_output $'Product search with facets and autocomplete\n6\ncomplete'
	dir=$(task_dir done)
	for f in epic-request.json plan.mk epic.json checkpoints.jsonl personas/01-product-owner.json personas/06-devops-engineer.json; do
		assert_file_exist "$dir/$f"
	done
	assert_no_temp_files "$dir"
	if [ -d "$ROOT/tests/node_modules" ]; then
		spool_cat "$dir/epic.json" >"$BATS_TEST_TMPDIR/epic.json"
		run -0 node "$ROOT/tests/tools/schema-check.mjs" validate epic-response "$BATS_TEST_TMPDIR/epic.json"
	fi
}

@test "epic run - reads the request from a pipe" {
	run -0 bash -c "epic run -q - < '$ROOT/examples/requests/14-admin-audit-log.txt' | jq -r .summary.personasCompleted"
	assert_output 6
}

@test "a rerun executes no persona and leaves epic.json byte-identical" {
	epic run -q "$REQ" > "$BATS_TEST_TMPDIR/first.json"
	dir=$(task_dir done)
	before=$(grep -c '"event":"before"' "$dir/checkpoints.jsonl")
	cp "$dir/epic.json" "$BATS_TEST_TMPDIR/epic1.json"
	run -0 epic run -q "$REQ"
	after=$(grep -c '"event":"before"' "$dir/checkpoints.jsonl")
	[ "$before" = "$after" ] || fail "persona executions on rerun: $((after - before)), expected 0"
	cmp "$dir/epic.json" "$BATS_TEST_TMPDIR/epic1.json"
}

@test "editing one rule base reruns exactly that persona and the ones after it" {
	epic run -q "$REQ" > /dev/null
	dir=$(task_dir done)
	runs_now "$dir"
	# Change what the performance persona says on this epic.
	jq '.rules |= map(if .insight then .insight += " (edited)" else . end)' \
		"$REG/rules/performance-specialist.json" > "$BATS_TEST_TMPDIR/rb" &&
		mv "$BATS_TEST_TMPDIR/rb" "$REG/rules/performance-specialist.json"
	run -0 epic run -q "$REQ"
	for p in product-owner architect security-specialist; do
		[ "$(runs "$dir" $p)" = "${n0[$p]}" ] || fail "$p was executed again"
	done
	for p in performance-specialist accessibility-advocate devops-engineer; do
		[ "$(runs "$dir" $p)" = "$(( ${n0[$p]} + 1 ))" ] || fail "$p was not executed exactly once more"
	done
	run -0 bash -c "spool_cat '$dir/epic.json' | jq -r '[.epic.personas[] | select(.persona.name == \"performance-specialist\") | .insights[] | select(endswith(\"(edited)\"))] | length > 0'"
	assert_output true
}

@test "a whitespace-only edit of a rule base reruns that persona alone; the next rerun runs none" {
	epic run -q "$REQ" > /dev/null
	dir=$(task_dir done)
	runs_now "$dir"
	cp "$dir/epic.json" "$BATS_TEST_TMPDIR/epic1.json"
	jq . "$REG/rules/performance-specialist.json" > "$BATS_TEST_TMPDIR/rb"
	! cmp -s "$BATS_TEST_TMPDIR/rb" "$REG/rules/performance-specialist.json" || fail "jq . changed no byte"
	mv "$BATS_TEST_TMPDIR/rb" "$REG/rules/performance-specialist.json"
	run -0 epic run -q "$REQ"
	for p in product-owner architect security-specialist accessibility-advocate devops-engineer; do
		[ "$(runs "$dir" $p)" = "${n0[$p]}" ] || fail "$p was executed again"
	done
	[ "$(runs "$dir" performance-specialist)" = "$(( ${n0[performance-specialist]} + 1 ))" ] ||
		fail "performance-specialist was not executed exactly once more"
	cmp "$dir/epic.json" "$BATS_TEST_TMPDIR/epic1.json"
	run -0 epic run -q "$REQ"
	[ "$(runs "$dir" performance-specialist)" = "$(( ${n0[performance-specialist]} + 1 ))" ] ||
		fail "the rerun after the edit executed the persona again"
	if command -v strace >/dev/null; then
		traced -o "$BATS_TEST_TMPDIR/trace" -e trace=execve epic run -q "$REQ" > /dev/null
		run -0 bash -c "awk '{print \$1}' '$BATS_TEST_TMPDIR/trace' | sort -u | wc -l"
		assert_output 2      # epic and make
	fi
}

@test "two cold runs write byte-identical outputs, persona.* included: no clock in what make compares" {
	EPIC_SPOOL="$BATS_TEST_TMPDIR/a" epic run -q "$REQ" > /dev/null
	EPIC_SPOOL="$BATS_TEST_TMPDIR/b" epic run -q "$REQ" > /dev/null
	a=$(ls -d "$BATS_TEST_TMPDIR"/a/done/*/) b=$(ls -d "$BATS_TEST_TMPDIR"/b/done/*/)
	n=0
	cd "$a"
	for f in epic-request.json plan.mk plan.json .parse.stamp personas/*.json personas/.*.stamp; do
		[ -f "$a/$f" ] || fail "no $f"
		# Plaintexts: a sealed file's nonce is new at every write.
		cmp <(spool_cat "$a/$f") <(spool_cat "$b/$f") || fail "$f differs between two runs"
		n=$((n + 1))
	done
	[ "$n" -ge 22 ] || fail "only $n files compared"
	# The wall time is logged, not written into the output.
	run -0 jq -s '[.[] | select(.event == "after") | has("durationMs")] | all and length == 6' "$a/checkpoints.jsonl"
	assert_output true
	run -0 bash -c "spool_cat $(jq -r '.personas[].output' plan.json | tr '\n' ' ') | jq -s '[.[].persona.executionTime] | unique'"
	assert_output "$(jq -n '[0]')"
}

@test "a cold epic syncs at most 8 times: the request, the result, the state renames and its two audit lines" {
	command -v strace >/dev/null || skip "needs strace"
	# Another request first: the spool's log/ and audit.jsonl are made (and their
	# directory synced) once in a spool's life, not once per epic.
	epic run -q - <<<"Let customers download their invoices as PDF from the billing page." >/dev/null
	traced -o "$BATS_TEST_TMPDIR/trace" -e trace=fsync,fdatasync,sync,syncfs,msync \
		epic run -q "$REQ" > /dev/null
	run -0 bash -c "grep -cE '(fsync|fdatasync|sync|syncfs|msync)\\(' '$BATS_TEST_TMPDIR/trace'"
	[ "$output" -le 8 ] || fail "$output syncs per cold epic, expected at most 8"
	[ "$output" -ge 5 ] || fail "$output syncs: the request, epic.json and the move must be synced"
}

@test "a cold epic is ten processes, make starts once: the launcher parses before make" {
	command -v strace >/dev/null || skip "needs strace"
	traced -o "$BATS_TEST_TMPDIR/trace" -e trace=execve epic run -q "$REQ" > /dev/null
	run -0 bash -c "grep -v ENOENT '$BATS_TEST_TMPDIR/trace' | grep -c 'execve(\"[^\"]*/make\"'"
	assert_output 1     # not re-executed after plan.mk is made
	run -0 bash -c "grep -v ENOENT '$BATS_TEST_TMPDIR/trace' | grep -c 'execve(\"[^\"]*/epic-parse\"'"
	assert_output 1     # by the launcher, and make found it done
	run -0 bash -c "awk '/execve\(/ && !/ENOENT/ {print \$1}' '$BATS_TEST_TMPDIR/trace' | sort -u | wc -l"
	assert_output 10
}

@test "after a power loss tore unsynced outputs, resume checks the stamps and redoes exactly those" {
	epic run -q "$REQ" > /dev/null
	ref=$(task_dir done)
	id=$(basename "$ref")
	stable "$ref/epic.json" > "$BATS_TEST_TMPDIR/ref.json"
	# What a power loss can leave of a renamed but unsynced file: its name, no bytes,
	# and a modification time newer than everything make compares it with.
	mv "$ref" "$EPIC_SPOOL/active/$id"
	dir="$EPIC_SPOOL/active/$id"
	rm "$dir/epic.json"
	: > "$dir/personas/04-performance-specialist.json"
	touch -d '+2 seconds' "$dir/personas/04-performance-specialist.json"
	before=$(grep -c '"event":"after"' "$dir/checkpoints.jsonl")
	run -0 --separate-stderr epic resume "$id"
	assert_equal "$stderr" "epic: $id: 1 step redone: its output did not match the xxh3 in its stamp (an interrupted write)"
	diff -u "$BATS_TEST_TMPDIR/ref.json" <(stable "$EPIC_SPOOL/done/$id/epic.json")
	after=$(grep -c '"event":"after"' "$EPIC_SPOOL/done/$id/checkpoints.jsonl")
	# The torn persona and, since its file is new, the two after it.
	[ $((after - before)) = 3 ] || fail "$((after - before)) personas rerun, expected 3"
	# A stamp emptied by a power loss vouches for nothing: its persona runs again.
	dir="$EPIC_SPOOL/done/$id"
	before=$(grep -c '"event":"after"' "$dir/checkpoints.jsonl")
	: > "$dir/personas/.06-devops-engineer.stamp"
	run -0 --separate-stderr epic run -q "$REQ"
	[[ $stderr == *"1 step redone"* ]] || fail "no word of the emptied stamp: $stderr"
	[ $(( $(grep -c '"event":"after"' "$dir/checkpoints.jsonl") - before )) = 1 ] || fail "expected one persona rerun"
	# A torn normalized request: epic-parse runs again.
	dir="$EPIC_SPOOL/done/$id"
	: > "$dir/epic-request.json"
	touch -d '+4 seconds' "$dir/epic-request.json"
	run -0 --separate-stderr epic run -q "$REQ"
	[[ $stderr == *"1 step redone"* ]] || fail "no word of the torn request: $stderr"
	run -0 bash -c "spool_cat '$dir/epic-request.json' | jq -r .taskId"
	assert_output "$id"
	diff -u "$BATS_TEST_TMPDIR/ref.json" <(stable "$dir/epic.json")
}

@test "a stamp naming a file outside its task is not followed: the stamp goes, the file stays" {
	epic run -q "$REQ" > /dev/null
	dir=$(task_dir done)
	echo keep > "$BATS_TEST_TMPDIR/victim"
	printf '0000000000000000  ../../../victim\n' > "$dir/personas/.02-architect.stamp"
	printf '0000000000000000  %s\n' "$BATS_TEST_TMPDIR/victim" > "$dir/personas/.03-security-specialist.stamp"
	run -0 --separate-stderr epic run -q "$REQ"
	[[ $stderr == *"2 steps redone"* ]] || fail "expected the two bad stamps redone: $stderr"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/victim")" keep
	assert_equal "$(cat "$dir/personas/.02-architect.stamp")" "$(ec-test xxh3 < "$dir/personas/02-architect.json")  personas/02-architect.json"
}

@test "registrations and the config are checked once per content; changed bytes are checked again" {
	epic run -q "$REQ" > /dev/null
	run -0 bash -c "ls '$EPIC_SPOOL/cache/valid' | grep -c '^persona-registration\.'"
	assert_output 6
	# A kept pass never covers other bytes: a registration made invalid is refused.
	cp "$REG/architect.json" "$BATS_TEST_TMPDIR/architect.json"
	jq '.timeout = "soon"' "$BATS_TEST_TMPDIR/architect.json" > "$REG/architect.json"
	run -1 --separate-stderr epic run -q "$ROOT/examples/requests/04-notifications.json"
	[[ $stderr == *"architect.json"*"timeout"* ]] || fail "the bad registration was not named: $stderr"
	# Put back, its pass is kept still: nothing to check again.
	cp "$BATS_TEST_TMPDIR/architect.json" "$REG/architect.json"
	n=$(ls "$EPIC_SPOOL/cache/valid" | wc -l)
	run -0 epic run -q "$ROOT/examples/requests/04-notifications.json"
	assert_equal "$(ls "$EPIC_SPOOL/cache/valid" | wc -l)" "$n"
	# The config is resolved once per content too, and a bad one is never kept.
	run -0 bash -c "ls '$EPIC_SPOOL/cache/valid' | grep -c '^config-resolved\.'"
	assert_output 1
	printf 'coordination:\n  maxRetries: lots\n' > "$BATS_TEST_TMPDIR/bad.yml"
	run -1 --separate-stderr epic run -q --config "$BATS_TEST_TMPDIR/bad.yml" "$ROOT/examples/requests/03-file-uploads.txt"
	[[ $stderr == *"bad.yml:2:"*"maxRetries"* ]] || fail "the bad config was not named: $stderr"
	run -1 --separate-stderr epic run -q --config "$BATS_TEST_TMPDIR/bad.yml" "$ROOT/examples/requests/03-file-uploads.txt"
	[[ $stderr == *"bad.yml:2:"*"maxRetries"* ]] || fail "the bad config passed the second time: $stderr"
	printf 'coordination:\n  maxRetries: 1\n' > "$BATS_TEST_TMPDIR/good.yml"
	run -0 epic run -q --config "$BATS_TEST_TMPDIR/good.yml" "$ROOT/examples/requests/03-file-uploads.txt"
	run -0 bash -c "ls '$EPIC_SPOOL/cache/valid' | grep -c '^config-resolved\.'"
	assert_output 2
	run -0 jq .coordination.maxRetries "$EPIC_SPOOL/done/$(ls "$EPIC_SPOOL/done" | grep file-uploads)/config.json"
	assert_output 1
}

@test "an interrupted task resumes to the same epic.json, without redoing finished personas" {
	epic run -q "$REQ" > /dev/null
	ref=$(task_dir done)
	stable "$ref/epic.json" > "$BATS_TEST_TMPDIR/ref.json"
	for stage in plan.mk personas/02-architect.json personas/05-accessibility-advocate.json; do
		export EPIC_SPOOL="$BATS_TEST_TMPDIR/spool-$(basename $stage)"
		id=$(basename "$ref")
		mkdir -p "$EPIC_SPOOL/active/$id"
		cp "$REQ" "$EPIC_SPOOL/active/$id/request.json"
		# Stop after this stage, as a kill would.
		make -s -C "$EPIC_SPOOL/active/$id" -f "$ROOT/pipeline/epic.mk" "$stage" EPIC_BIN="$BIN" EPIC_SPOOL_DIR="$EPIC_SPOOL"
		before=$(grep -c '"event":"before"' "$EPIC_SPOOL/active/$id/checkpoints.jsonl" 2>/dev/null || echo 0)
		run -0 epic resume -q "$id"
		diff -u "$BATS_TEST_TMPDIR/ref.json" <(stable "$EPIC_SPOOL/done/$id/epic.json") || fail "resumed after $stage: differs"
		after=$(grep -c '"event":"before"' "$EPIC_SPOOL/done/$id/checkpoints.jsonl")
		[ $((after - before)) -le 6 ] || fail "more persona runs than personas after $stage"
	done
}

@test "kill -9 of make in the middle of a slow persona, then resume: the same epic.json" {
	epic run -q "$REQ" > /dev/null
	ref=$(task_dir done)
	stable "$ref/epic.json" > "$BATS_TEST_TMPDIR/ref.json"
	id=$(basename "$ref")
	export EPIC_SPOOL="$BATS_TEST_TMPDIR/spool-kill"
	mkdir -p "$EPIC_SPOOL/active/$id"
	cp "$REQ" "$EPIC_SPOOL/active/$id/request.json"
	# Run make in the background and kill it as soon as the architect is done,
	# wherever the next persona is at that moment.
	( cd "$EPIC_SPOOL/active/$id" && exec make -s -f "$ROOT/pipeline/epic.mk" EPIC_BIN="$BIN" EPIC_SPOOL_DIR="$EPIC_SPOOL" ) &
	pid=$!
	for _ in $(seq 1 500); do
		[ -e "$EPIC_SPOOL/active/$id/personas/02-architect.json" ] && break
		sleep 0.01
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	run -0 epic resume -q "$id"
	diff -u "$BATS_TEST_TMPDIR/ref.json" <(stable "$EPIC_SPOOL/done/$id/epic.json")
	assert_no_temp_files "$EPIC_SPOOL/done/$id"
}

@test "make -j3 with the parallel profile gives the same result as -j1" {
	export EPIC_CONFIG="$ROOT/pipeline/profiles/parallel.yml"
	epic run -q -j1 "$REQ" > /dev/null
	stable "$(task_dir done)/epic.json" > "$BATS_TEST_TMPDIR/j1.json"
	export EPIC_SPOOL="$BATS_TEST_TMPDIR/spool-j3"
	epic run -q -j3 "$REQ" > /dev/null
	diff -u "$BATS_TEST_TMPDIR/j1.json" <(stable "$(task_dir done)/epic.json")
}

@test "a required persona's failure exits 111 and leaves a resumable task" {
	cat > "$REG/security-specialist.json" <<JSON
{ "name": "security-specialist", "reviewOrder": 3, "required": true, "timeout": 5,
  "dependencies": ["architect"], "supportedModes": ["mvp", "standard", "enterprise"],
  "version": "9", "command": ["/bin/false"] }
JSON
	printf 'coordination:\n  maxRetries: 2\n  retryBackoffMs: 10\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -111 epic run -q --config "$BATS_TEST_TMPDIR/c.yml" "$REQ"
	assert_output --partial "required persona 'security-specialist' failed after 2 attempts"
	assert_output --partial "epic resume"
	dir=$(task_dir active)
	assert_file_exist "$dir/error.json"
	assert_file_exist "$dir/personas/02-architect.json"
	assert_file_not_exist "$dir/personas/04-performance-specialist.json"
	# Fix the persona, resume: done.
	cp "$ROOT/pipeline/personas/security-specialist.json" "$REG/"
	run -0 epic resume -q --config "$BATS_TEST_TMPDIR/c.yml" "$(basename "$dir")"
	assert_file_exist "$EPIC_SPOOL/done/$(basename "$dir")/epic.json"
	assert_file_not_exist "$EPIC_SPOOL/done/$(basename "$dir")/error.json"
}

@test "a rejected request exits 1 and lands in failed/ with its bytes and the reason" {
	printf 'Too short' > "$BATS_TEST_TMPDIR/bad.txt"
	run -1 epic run -q "$BATS_TEST_TMPDIR/bad.txt"
	assert_output --partial "expected at least 10 bytes"
	dir=$(task_dir failed)
	cmp <(spool_cat "$dir/request.txt") "$BATS_TEST_TMPDIR/bad.txt"
	run -0 bash -c "spool_cat '$dir/error.json' | jq -r '.exitCode, .tool'"
	assert_output $'1\nepic-parse'
}

@test "--mode, --enforce-devops and --exclude override the request" {
	run -0 --separate-stderr epic run -q --mode mvp --enforce-devops --exclude accessibility-advocate "$REQ"
	run -0 jq -r '.epic.metadata.reviewMode, .epic.metadata.devopsEnforced, (.summary.personasSkipped | join(","))' <<<"$output"
	assert_output $'mvp\ntrue\naccessibility-advocate'
	run -2 epic run --mode fast "$REQ"
}

@test "epic --help, --version, an unknown command, epic personas, epic status" {
	run -0 epic --help
	assert_output --partial "usage: epic run"
	run -0 epic --version
	assert_output --regexp '^epic [0-9.]+$'
	run -2 epic frobnicate
	assert_output --partial "'frobnicate' is not an epic command"
	run -0 epic personas
	run -0 jq -r '.[] | "\(.name) \(.available)"' <<<"$output"
	assert_line --index 0 "product-owner true"
	assert_line --index 5 "devops-engineer true"
	jq '.command = ["/nonexistent/agent"] | del(.rules)' "$REG/devops-engineer.json" > "$BATS_TEST_TMPDIR/d.json"
	mv "$BATS_TEST_TMPDIR/d.json" "$REG/devops-engineer.json"
	run -0 bash -c "epic personas | jq -r '.[5].available'"
	assert_output false
	epic run -q "$REQ" > /dev/null
	run -0 epic status
}

@test "the workflow timeout stops a slow task, keeps it resumable, and says so" {
	cat > "$REG/performance-specialist.json" <<JSON
{ "name": "performance-specialist", "reviewOrder": 4, "required": false, "timeout": 60,
  "dependencies": ["security-specialist"], "supportedModes": ["mvp", "standard", "enterprise"],
  "version": "slow", "command": ["/bin/sleep", "29.$$"] }
JSON
	printf 'coordination:\n  workflowTimeout: 1\n' > "$BATS_TEST_TMPDIR/c.yml"
	start=$(date +%s)
	run -111 epic run -q --config "$BATS_TEST_TMPDIR/c.yml" "$REQ"
	assert_output --partial "did not finish within 1 s (coordination.workflowTimeout)"
	[ $(( $(date +%s) - start )) -lt 20 ] || fail "the timeout did not stop the task"
	dir=$(task_dir active)
	run -0 jq -r '.type, .exitCode' "$dir/error.json"
	assert_output $'TIMEOUT\n111'
	! pgrep -f "/bin/sleep 29.$$" >/dev/null || fail "the slow persona outlived the workflow timeout"
	cp "$ROOT/pipeline/personas/performance-specialist.json" "$REG/"
	run -0 epic resume -q "$(basename "$dir")"
}
