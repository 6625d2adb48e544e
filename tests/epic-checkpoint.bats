#!/usr/bin/env bats
# epic-checkpoint: a task's WorkflowState derived from its files (status, list),
# checkpoint verification (verify) and the event log (record). Task directories are
# built with the real tools: epic-parse writes the request and the plan, persona-rules
# the outputs, and epic-checkpoint record the events, as persona-run does.

load test_helper

setup() {
	use_fixture_registry
	SPOOL=$EPIC_SPOOL
	mkdir -p "$SPOOL/active" "$SPOOL/done" "$SPOOL/failed"
	REQ="$FIX/epic-checkpoint/half/request.json"
	EPIC_FIXTURE="$FIX/schemas/valid/epic-response/two-personas-complete.json"
}

# new_task STATE ID: a claimed task whose request epic-parse has parsed (no persona
# has run yet). Sets TASK.
new_task() {
	TASK=$SPOOL/$1/$2
	mkdir -p "$TASK/personas"
	cp "$REQ" "$TASK/request.json"
	epic-parse --task-id "$2" --plan "$TASK/plan.mk" -o "$TASK/epic-request.json" "$TASK/request.json"
}

# run_persona DIR NN-NAME: what persona-run does for a built-in persona: log the
# attempt, write the PersonaInput and the output (real persona-rules, the fixture
# rule base), log the output's xxh3.
run_persona() {
	local dir=$1 stem=$2 name=${2#*-} order=$((10#${2%%-*}))
	epic-checkpoint record --persona "$name" --event before --attempt 1 "$dir"
	jq --arg n "$name" --argjson o "$order" '{epic: {description, mode,
		previousPersonas: [], accumulatedInsights: {}}, persona: {name: $n, reviewOrder: $o}}' \
		"$dir/epic-request.json" >"$dir/personas/$stem.input.json"
	persona-rules -r "$FIX/registry/rules/empty.json" -o "$dir/personas/$stem.json" \
		"$dir/personas/$stem.input.json"
	epic-checkpoint record --persona "$name" --event after --file "$dir/personas/$stem.json" "$dir"
}

# The planned NN-NAME stems of task DIR, in order.
stems() {
	jq -r '.personas[].output | ltrimstr("personas/") | rtrimstr(".json")' "$1/plan.json"
}

# finished_task ID: every persona run and epic.json written, moved to done/.
finished_task() {
	new_task active "$1"
	for s in $(stems "$TASK"); do run_persona "$TASK" "$s"; done
	cp "$EPIC_FIXTURE" "$TASK/epic.json"
	mv "$TASK" "$SPOOL/done/$1"
	TASK=$SPOOL/done/$1
}

# failed_task ID: two personas done, the required security-specialist failed after
# two attempts; moved to failed/ with error.json.
failed_task() {
	new_task active "$1"
	run_persona "$TASK" 01-product-owner
	run_persona "$TASK" 02-architect
	epic-checkpoint record -p security-specialist -e before -a 1 "$TASK"
	epic-checkpoint record -p security-specialist -e retry -a 1 -T TIMEOUT -d 200000 \
		-m "timed out after 200 s" "$TASK"
	epic-checkpoint record -p security-specialist -e before -a 2 "$TASK"
	epic-checkpoint record -p security-specialist -e failed -a 2 -T INVALID_INPUT \
		-m "the request cannot be reviewed" "$TASK"
	cat >"$TASK/error.json" <<-'EOF'
	{"tool": "persona-run", "reason": "required persona 'security-specialist' failed after 2 attempts",
	 "exitCode": 111, "time": "2026-01-02T03:04:05Z"}
	EOF
	mv "$TASK" "$SPOOL/failed/$1"
	TASK=$SPOOL/failed/$1
}

# A copy of the static half-done fixture (its file times fixed) in active/.
half_task() {
	TASK=$SPOOL/active/notifications-0c1f9a3e
	cp -r "$FIX/epic-checkpoint/half" "$TASK"
	find "$TASK" -exec touch -d 2025-06-30T08:00:00Z {} +
}

# schema_ok NAME FILE: FILE validates against schemas/NAME with Ajv, when installed.
schema_ok() {
	[ -d "$ROOT/tests/node_modules" ] || return 0
	run -0 node "$ROOT/tests/tools/schema-check.mjs" validate "$1" "$2"
}

# --- usage ---------------------------------------------------------------

@test "--help prints the synopsis of every command on stdout, exit 0" {
	run -0 --separate-stderr epic-checkpoint --help
	assert_line --index 0 "usage: epic-checkpoint status [--brief] DIR"
	assert_output --partial "epic-checkpoint list [--json | --table] [--spool DIR | SPOOL]"
	assert_output --partial "epic-checkpoint verify [--dry-run] DIR"
	assert_output --partial "epic-checkpoint record --persona NAME --event EVENT"
	assert_output --partial "Exit: 0 ok, 1 rejected"
	[ -z "$stderr" ]
	run -0 epic-checkpoint status --help
	assert_line --index 0 --partial "usage: epic-checkpoint"
}

@test "--version names the tool" {
	run -0 epic-checkpoint --version
	assert_output --regexp '^epic-checkpoint [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "usage errors: one line and the synopsis on stderr, exit 2" {
	run -2 --separate-stderr epic-checkpoint
	assert_output ""
	[[ "${stderr_lines[0]}" == "epic-checkpoint: missing command" ]]
	[[ "${stderr_lines[1]}" == "usage: epic-checkpoint status [--brief] DIR" ]]
	run -2 --separate-stderr epic-checkpoint frobnicate
	[[ "${stderr_lines[0]}" == "epic-checkpoint: unknown command 'frobnicate'" ]]
	run -2 --separate-stderr epic-checkpoint --bogus
	[[ "${stderr_lines[0]}" == *"unknown option '--bogus'"* ]]
	run -2 --separate-stderr epic-checkpoint status --bogus .
	[[ "${stderr_lines[0]}" == "epic-checkpoint: unrecognized option '--bogus'" ]]
	[[ "$stderr" == *"usage: epic-checkpoint"* ]]
	run -2 epic-checkpoint status
	assert_output --partial "missing the task directory"
	run -2 epic-checkpoint status a b
	assert_output --partial "too many arguments"
	run -2 epic-checkpoint verify --brief .
	assert_output --partial "'verify' takes no option '--brief'"
	run -2 epic-checkpoint list a --spool b
	assert_output --partial "list takes one spool"
}

@test "record checks its options: events, names, types and numbers (exit 2)" {
	new_task active t1
	run -2 epic-checkpoint record --persona architect "$TASK"
	assert_output --partial -- "--event is required"
	run -2 epic-checkpoint record --event before "$TASK"
	assert_output --partial -- "--persona is required"
	run -2 epic-checkpoint record -p architect -e started "$TASK"
	assert_line --index 0 --partial "invalid --event 'started': expected before, after, retry"
	run -2 epic-checkpoint record -p ../etc -e before "$TASK"
	assert_line --index 0 --partial "invalid --persona '../etc'"
	run -2 epic-checkpoint record -p architect -e failed -T OOPS "$TASK"
	assert_line --index 0 --partial "invalid --error-type 'OOPS'"
	run -2 epic-checkpoint record -p architect -e before -a 0 "$TASK"
	run -2 epic-checkpoint record -p architect -e before -a 1.5 "$TASK"
	run -2 epic-checkpoint record -p architect -e after -d -3 "$TASK"
	run -2 epic-checkpoint record -p architect -e after -x ABCDEF0123456789 "$TASK"
	run -2 epic-checkpoint record -p architect -e after -x 0123456789abcdef -f "$REQ" "$TASK"
	assert_output --partial "exclude each other"
	[ ! -e "$TASK/checkpoints.jsonl" ] || fail "a rejected record wrote something"
}

@test "a DIR that is not a task directory is rejected naming it (exit 1)" {
	mkdir "$BATS_TEST_TMPDIR/empty"
	run -1 epic-checkpoint status "$BATS_TEST_TMPDIR/empty"
	assert_output "epic-checkpoint: not a task directory '$BATS_TEST_TMPDIR/empty': no request, epic-request.json or plan.json in it"
	run -1 epic-checkpoint verify "$BATS_TEST_TMPDIR/nowhere"
	assert_output "epic-checkpoint: not a task directory '$BATS_TEST_TMPDIR/nowhere': No such file or directory"
	run -1 epic-checkpoint record -p architect -e before "$REQ"
	assert_output --partial "not a task directory '$REQ': not a directory"
}

# --- status --------------------------------------------------------------

@test "status of a half-done task: the expected WorkflowState and TaskStatus" {
	half_task
	run -0 --separate-stderr epic-checkpoint status "$TASK"
	[ -z "$stderr" ] || fail "unexpected warnings: $stderr"
	diff -u "$FIX/epic-checkpoint/half.status.json" <(jq 'del(.metadata.taskDir)' <<<"$output")
	[ "$(jq -r .metadata.taskDir <<<"$output")" = "$TASK" ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/wf.json"
	schema_ok workflow-state "$BATS_TEST_TMPDIR/wf.json"
	run -0 epic-checkpoint status --brief "$TASK"
	diff -u "$FIX/epic-checkpoint/half.brief.json" <(printf '%s\n' "$output")
	schema_ok task-status "$FIX/epic-checkpoint/half.brief.json"
}

@test "status works from inside the task (DIR is .), with an absolute taskDir" {
	half_task
	cd "$TASK"
	run -0 epic-checkpoint status .
	[ "$(jq -r '.metadata.taskDir, .taskId' <<<"$output")" = "$TASK"$'\n'notifications-0c1f9a3e ]
}

@test "status of a fresh task: the request only, nothing planned yet" {
	mkdir -p "$SPOOL/active/fresh-1"
	cp "$REQ" "$SPOOL/active/fresh-1/request.json"
	touch -d 2025-06-30T08:00:00Z "$SPOOL/active/fresh-1/request.json" "$SPOOL/active/fresh-1"
	run -0 --separate-stderr epic-checkpoint status "$SPOOL/active/fresh-1"
	[ -z "$stderr" ]
	run -0 jq -c '[.taskId, .epicId, .currentPersona, .completedPersonas, .personaStates,
		.checkpoints, .errors, .metadata.state, .metadata.createdAt, .metadata.updatedAt]' <<<"$output"
	assert_output '["fresh-1",null,null,[],{},[],[],"active","2025-06-30T08:00:00.000Z","2025-06-30T08:00:00.000Z"]'
	epic-checkpoint status "$SPOOL/active/fresh-1" >"$BATS_TEST_TMPDIR/wf.json"
	schema_ok workflow-state "$BATS_TEST_TMPDIR/wf.json"
	run -0 epic-checkpoint status --brief "$SPOOL/active/fresh-1"
	assert_line '  "progress": 0.0,'
	run -0 jq -c '[.title, .personasTotal, .personasCompleted, has("error")]' <<<"$output"
	assert_output '["",0,0,false]'
}

@test "status of a task that epic-parse has planned: every persona pending, the first current" {
	new_task active planned-1
	run -0 epic-checkpoint status "$TASK"
	run -0 jq -c '[.currentPersona, ([.personaStates[].status] | unique), (.personaStates | keys | length), .metadata.mode]' <<<"$output"
	assert_output '["product-owner",["pending"],6,"standard"]'
}

@test "status of a finished task: all completed, the epic id, progress 1" {
	finished_task done-1
	run -0 --separate-stderr epic-checkpoint status "$TASK"
	[ -z "$stderr" ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/wf.json"
	run -0 jq -c '[.epicId, .currentPersona, (.completedPersonas | length), .metadata.state,
		([.personaStates[] | .status, .attempts] | unique), (.checkpoints | length), .errors]' "$BATS_TEST_TMPDIR/wf.json"
	assert_output "[\"$(jq -r .epic.id "$EPIC_FIXTURE")\",null,6,\"done\",[1,\"completed\"],12,[]]"
	# The recorded xxh3 is the output's, and the state says so.
	run -0 jq -r '[.personaStates["architect"].xxh3, (.checkpoints[] | select(.persona == "architect" and .event == "after") | .xxh3)] | unique | length' "$BATS_TEST_TMPDIR/wf.json"
	assert_output 1
	schema_ok workflow-state "$BATS_TEST_TMPDIR/wf.json"
	run -0 epic-checkpoint status --brief "$TASK"
	assert_line '  "progress": 1.0,'
	run -0 jq -c '[.state, .personasTotal, .personasCompleted, .currentPersona]' <<<"$output"
	assert_output '["done",6,6,null]'
}

@test "status of a failed task: the persona it stopped at, every error, and why" {
	failed_task failed-1
	run -0 --separate-stderr epic-checkpoint status "$TASK"
	[ -z "$stderr" ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/wf.json"
	run -0 jq -c '[.currentPersona, .completedPersonas, .personaStates["security-specialist"],
		.metadata.state]' "$BATS_TEST_TMPDIR/wf.json"
	assert_output '["security-specialist",["product-owner","architect"],{"attempts":2,"status":"failed","updatedAt":'"$(jq '.errors[1].timestamp' "$BATS_TEST_TMPDIR/wf.json")"'},"failed"]'
	run -0 jq -c '.errors[] | [.type, .persona, .recoverable, .retryCount, .message]' "$BATS_TEST_TMPDIR/wf.json"
	assert_line --index 0 '["TIMEOUT","security-specialist",true,0,"timed out after 200 s"]'
	assert_line --index 1 '["INVALID_INPUT","security-specialist",false,1,"the request cannot be reviewed"]'
	assert_line --index 2 '["SYSTEM_ERROR",null,true,0,"persona-run: required persona '"'security-specialist'"' failed after 2 attempts"]'
	run -0 jq -c '.errors[0].details' "$BATS_TEST_TMPDIR/wf.json"
	assert_output '{"attempt":1,"durationMs":200000}'
	schema_ok workflow-state "$BATS_TEST_TMPDIR/wf.json"
	run -0 epic-checkpoint status --brief "$TASK"
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/ts.json"
	run -0 jq -c '[.state, .currentPersona, .progress, .error]' "$BATS_TEST_TMPDIR/ts.json"
	assert_output '["failed","security-specialist",0.5,{"message":"persona-run: required persona '"'security-specialist'"' failed after 2 attempts","type":"SYSTEM_ERROR"}]'
	schema_ok task-status "$BATS_TEST_TMPDIR/ts.json"
}

@test "a task in failed/ without error.json reports its last logged error" {
	failed_task failed-2
	rm "$TASK/error.json"
	run -0 epic-checkpoint status --brief "$TASK"
	run -0 jq -c .error <<<"$output"
	assert_output '{"message":"the request cannot be reviewed","type":"INVALID_INPUT"}'
}

@test "a persona whose run was cut short is running in active/, pending elsewhere" {
	new_task active cut-1
	epic-checkpoint record -p product-owner -e before -a 1 "$TASK"
	run -0 jq -r '.personaStates["product-owner"].status' <(epic-checkpoint status "$TASK")
	assert_output running
	mv "$TASK" "$SPOOL/done/cut-1"
	run -0 jq -r '.personaStates["product-owner"].status' <(epic-checkpoint status "$SPOOL/done/cut-1")
	assert_output pending
}

@test "optional personas that failed or were skipped are done: the pipeline went on" {
	new_task active opt-1
	for s in 01-product-owner 02-architect 03-security-specialist 06-devops-engineer; do
		run_persona "$TASK" "$s"
	done
	jq '.persona.status = "failed" | .persona.error = {type: "TIMEOUT", message: "too slow"}' \
		"$TASK/personas/06-devops-engineer.json" >"$TASK/personas/04-performance-specialist.json"
	jq '.persona.status = "skipped"' "$TASK/personas/06-devops-engineer.json" \
		>"$TASK/personas/05-accessibility-advocate.json"
	run -0 epic-checkpoint status --brief "$TASK"
	assert_line '  "progress": 1.0,'
	run -0 jq -c '[.currentPersona, .personasCompleted]' <<<"$output"
	assert_output '[null,4]'
}

@test "cache, fallback and verify events are listed with the others" {
	half_task
	run -0 grep -c cache-miss "$TASK/checkpoints.jsonl"
	run -0 jq -r '[.checkpoints[].event] | unique | join(" ")' <(epic-checkpoint status "$TASK")
	assert_output "after before cache-miss retry"
}

@test "a torn last line in checkpoints.jsonl is skipped with a warning, not fatal" {
	half_task
	printf '{"attempt":1,"event":"after","persona":"secur' >>"$TASK/checkpoints.jsonl"
	run -0 --separate-stderr epic-checkpoint status "$TASK"
	[ "$stderr" = "epic-checkpoint: $TASK/checkpoints.jsonl:9:45: torn last line skipped: premature end of input near '\"secur'" ]
	[ "$(jq '.checkpoints | length' <<<"$output")" = 8 ]
	# The next event is appended to the torn line, and found there.
	epic-checkpoint record -p security-specialist -e failed -a 1 -T TIMEOUT -m 'late {"x' "$TASK"
	run -0 --separate-stderr epic-checkpoint status "$TASK"
	[[ "$stderr" == "epic-checkpoint: $TASK/checkpoints.jsonl:9:"*": torn line skipped: "*"; the event appended to it is kept" ]] ||
		fail "unexpected warning: $stderr"
	run -0 jq -c '[(.checkpoints | length), .personaStates["security-specialist"].status, .errors[-1].message]' <<<"$output"
	assert_output '[9,"failed","late {\"x"]'
}

@test "malformed event lines are skipped and named; the rest is used" {
	half_task
	{
		echo 'not json at all'
		echo '{"event":"before","persona":"Bad Name","time":"2025-06-30T08:15:00Z"}'
		echo '{"event":"exploded","persona":"architect","time":"2025-06-30T08:15:00Z"}'
		echo '{"event":"before","persona":"architect","time":"yesterday"}'
		echo '{"event":"after","persona":"architect","time":"2025-06-30T08:15:00Z","xxh3":"XYZ"}'
		echo '{"event":"before","persona":"architect","time":"2025-06-30T08:15:00Z","attempt":0}'
		echo '[1, 2]'
		echo ''
		echo '{"event":"before","persona":"performance-specialist","time":"2025-06-30T10:15:00+02:00","extra":1}'
	} >>"$TASK/checkpoints.jsonl"
	touch -d 2025-06-30T08:00:00Z "$TASK/checkpoints.jsonl"
	run -0 --separate-stderr epic-checkpoint status "$TASK"
	[ "${#stderr_lines[@]}" = 6 ] || fail "expected 5 warnings and a count: $stderr"
	[[ "${stderr_lines[0]}" == "epic-checkpoint: $TASK/checkpoints.jsonl:9:3: malformed event skipped: invalid token near 'not'" ]]
	[[ "${stderr_lines[1]}" == *"checkpoints.jsonl:10: malformed event skipped: \"persona\" is not a persona name" ]]
	[[ "${stderr_lines[2]}" == *":11: malformed event skipped: \"event\" is not a known event" ]]
	[[ "${stderr_lines[3]}" == *":12: malformed event skipped: \"time\" is not an RFC 3339 timestamp" ]]
	[[ "${stderr_lines[5]}" == *"checkpoints.jsonl: 2 more malformed lines skipped" ]]
	run -0 jq -c '[.checkpoints[-1], .personaStates["performance-specialist"].status, .metadata.updatedAt]' <<<"$output"
	assert_output '[{"event":"before","persona":"performance-specialist","time":"2025-06-30T10:15:00+02:00"},"running","2025-06-30T08:15:00.000Z"]'
}

# --- list ----------------------------------------------------------------

@test "list: the TaskStatus of every task, sorted by state then task id" {
	half_task
	mkdir -p "$SPOOL/active/fresh-1" "$SPOOL/active/.claiming" "$SPOOL/active/junk"
	cp "$REQ" "$SPOOL/active/fresh-1/request.json"
	touch "$SPOOL/active/junk/notes.txt"
	finished_task done-b
	finished_task done-a
	failed_task failed-1
	run -0 --separate-stderr epic-checkpoint list --json
	[ "$stderr" = "epic-checkpoint: not a task directory '$SPOOL/active/junk': no request, epic-request.json or plan.json in it" ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/list.json"
	run -0 jq -r '.[] | "\(.state) \(.taskId) \(.personasCompleted)/\(.personasTotal) \(.currentPersona)"' "$BATS_TEST_TMPDIR/list.json"
	assert_output "active fresh-1 0/0 null
active notifications-0c1f9a3e 2/6 security-specialist
done done-a 6/6 null
done done-b 6/6 null
failed failed-1 2/6 security-specialist"
	if [ -d "$ROOT/tests/node_modules" ]; then
		for i in 0 1 2 3 4; do
			jq ".[$i]" "$BATS_TEST_TMPDIR/list.json" >"$BATS_TEST_TMPDIR/ts$i.json"
			schema_ok task-status "$BATS_TEST_TMPDIR/ts$i.json"
		done
	fi
	# The same spool named three ways.
	run -0 --separate-stderr epic-checkpoint list --json "$SPOOL"
	diff -u "$BATS_TEST_TMPDIR/list.json" <(printf '%s\n' "$output")
	EPIC_SPOOL=/nonexistent run -0 --separate-stderr epic-checkpoint list --spool "$SPOOL"
	diff -u "$BATS_TEST_TMPDIR/list.json" <(printf '%s\n' "$output")
}

@test "list --table: an aligned table, one row per task" {
	half_task
	failed_task failed-1
	run -0 epic-checkpoint list --table
	assert_line --index 0 --regexp '^STATE +TASK +DONE +CURRENT +UPDATED +TITLE$'
	assert_line --index 1 --regexp '^active +notifications-0c1f9a3e +2/6 +security-specialist +2025-06-30 08:14:03 +Unified notifications with user preferences$'
	assert_line --index 2 --regexp '^failed +failed-1 +2/6 +security-specialist +[0-9-]+ [0-9:]+ +\[SYSTEM_ERROR\] Unified notifications'
	[ "${#lines[@]}" = 3 ]
	# Columns line up: TASK starts at the same place on every line.
	[ "$(printf '%s\n' "${lines[@]}" | awk '{ print index($0, $2) }' | sort -u | wc -l)" = 1 ]
}

@test "list of an empty spool is [], of a missing one an error (exit 1)" {
	run -0 epic-checkpoint list
	assert_output "[]"
	run -1 epic-checkpoint list "$BATS_TEST_TMPDIR/nospool"
	assert_output "epic-checkpoint: no spool at '$BATS_TEST_TMPDIR/nospool': No such file or directory"
}

# --- verify --------------------------------------------------------------

@test "verify of an intact task: exit 0, silent, nothing removed or logged" {
	finished_task ok-1
	cp "$TASK/checkpoints.jsonl" "$BATS_TEST_TMPDIR/before.jsonl"
	run -0 --separate-stderr epic-checkpoint verify "$TASK"
	assert_output ""
	[ -z "$stderr" ]
	cmp "$TASK/checkpoints.jsonl" "$BATS_TEST_TMPDIR/before.jsonl"
	assert_no_temp_files "$TASK"
	[ "$(ls "$TASK/personas"/*.json | wc -l)" = 12 ]
	half_task
	run -0 epic-checkpoint verify "$TASK"
}

@test "verify: a truncated output is reported, set aside, logged; make redoes exactly it" {
	finished_task trunc-1
	f=$TASK/personas/03-security-specialist.json
	truncate -s 200 "$f"
	cp "$f" "$BATS_TEST_TMPDIR/truncated"
	run -1 --separate-stderr epic-checkpoint verify "$TASK"
	[[ "$stderr" =~ ^"epic-checkpoint: $f: truncated JSON at "[0-9]+:[0-9]+"; removed, kept as $TASK/personas/.corrupt.03-security-specialist.json."[0-9]{8}T[0-9]{6}Z$ ]] ||
		fail "unexpected report: $stderr"
	[ "${#stderr_lines[@]}" = 1 ]
	assert_file_not_exist "$f"
	cmp "$BATS_TEST_TMPDIR/truncated" "$TASK"/personas/.corrupt.03-security-specialist.json.*
	run -0 jq -c 'select(.event == "verify-removed") | [.persona, (.xxh3 | length)]' "$TASK/checkpoints.jsonl"
	assert_output '["security-specialist",16]'
	run -0 jq -r 'select(.event == "verify-removed") | .message' "$TASK/checkpoints.jsonl"
	assert_output --regexp '^truncated JSON at [0-9]+:[0-9]+ \(personas/03-security-specialist.json, kept as \.corrupt\.03-security-specialist\.json\.[0-9T]+Z\)$'
	# The state shows what is to be redone; redoing it makes the task whole again.
	run -0 jq -c '[.currentPersona, .personaStates["security-specialist"].status]' <(epic-checkpoint status "$TASK")
	assert_output '["security-specialist","pending"]'
	run_persona "$TASK" 03-security-specialist
	run -0 epic-checkpoint verify "$TASK"
	run -0 epic-checkpoint status --brief "$TASK"
	assert_line '  "progress": 1.0,'
}

@test "verify: a flipped byte is a hash mismatch, even though the JSON is valid" {
	finished_task flip-1
	f=$TASK/personas/02-architect.json
	off=$(grep -bo 'always says this' "$f" | cut -d: -f1)
	printf 'A' | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
	jq -e . "$f" >/dev/null
	run -1 epic-checkpoint verify "$TASK"
	assert_output --regexp "^epic-checkpoint: $f: xxh3 [0-9a-f]{16} does not match [0-9a-f]{16} recorded at [0-9T:.-]+Z; removed, kept as "
	assert_file_not_exist "$f"
	[ "$(grep -c verify-removed "$TASK/checkpoints.jsonl")" = 1 ]
	# Only that persona: the others are intact.
	run -0 jq -c '[.personaStates[] | .status] | group_by(.) | map([.[0], length])' <(epic-checkpoint status "$TASK")
	assert_output '[["completed",5],["pending",1]]'
}

@test "verify: an output that is not a PersonaOutput is removed" {
	finished_task schema-1
	f=$TASK/personas/05-accessibility-advocate.json
	jq '.persona.status = "done-ish"' "$f" >"$BATS_TEST_TMPDIR/x" && cp "$BATS_TEST_TMPDIR/x" "$f"
	epic-checkpoint record -p accessibility-advocate -e after -f "$f" "$TASK"
	run -1 epic-checkpoint verify "$TASK"
	assert_output --partial "$f: not a valid persona-output: \$.persona.status:"
}

@test "verify: a corrupt epic.json is removed, logged for epic-aggregate" {
	finished_task epic-1
	jq 'del(.summary)' "$TASK/epic.json" >"$BATS_TEST_TMPDIR/x" && cp "$BATS_TEST_TMPDIR/x" "$TASK/epic.json"
	run -1 epic-checkpoint verify "$TASK"
	assert_output --partial "$TASK/epic.json: not a valid epic-response: "
	assert_file_not_exist "$TASK/epic.json"
	ls "$TASK"/.corrupt.epic.json.*
	run -0 jq -r 'select(.event == "verify-removed") | .persona' "$TASK/checkpoints.jsonl"
	assert_output epic-aggregate
	run -0 jq .epicId <(epic-checkpoint status "$TASK")
	assert_output null
	# truncated, too
	cp "$EPIC_FIXTURE" "$TASK/epic.json"
	head -c 100 "$EPIC_FIXTURE" >"$TASK/epic.json"
	run -1 epic-checkpoint verify "$TASK"
	assert_output --regexp "epic.json: truncated JSON at [0-9]+:[0-9]+; removed"
}

@test "verify --dry-run reports, removes and logs nothing, and exits as verify would" {
	finished_task dry-1
	printf '' >"$TASK/personas/01-product-owner.json"
	cp "$TASK/checkpoints.jsonl" "$BATS_TEST_TMPDIR/before.jsonl"
	run -1 epic-checkpoint verify --dry-run "$TASK"
	assert_output "epic-checkpoint: $TASK/personas/01-product-owner.json: truncated JSON: empty file; would be removed"
	assert_file_exist "$TASK/personas/01-product-owner.json"
	cmp "$TASK/checkpoints.jsonl" "$BATS_TEST_TMPDIR/before.jsonl"
}

@test "verify: a command persona's after event records its raw output, which is as good" {
	new_task active cmd-1
	run_persona "$TASK" 01-product-owner
	raw=$TASK/personas/04-performance-specialist.raw.json
	printf 'Here is my review:\n```json\n{"insights": []}\n```\n' >"$raw"
	epic-checkpoint record -p performance-specialist -e after -f "$raw" "$TASK"
	cp "$TASK/personas/01-product-owner.json" "$TASK/personas/04-performance-specialist.json"
	run -0 epic-checkpoint verify "$TASK"
	# An output that matches neither is still caught.
	echo ' ' >>"$raw"
	run -1 epic-checkpoint verify "$TASK"
	assert_output --partial "04-performance-specialist.json: xxh3"
}

@test "verify ignores inputs, raw outputs and dot-files, and stale outputs outside the plan need only be valid" {
	finished_task ign-1
	echo 'not json' >"$TASK/personas/.03-security-specialist.json.123.tmp"
	echo 'not json' >"$TASK/personas/03-security-specialist.raw.json"
	echo 'not json' >"$TASK/personas/03-security-specialist.input.json"
	cp "$TASK/personas/01-product-owner.json" "$TASK/personas/07-product-owner.json"
	run -0 epic-checkpoint verify "$TASK"
}

# --- record --------------------------------------------------------------

@test "record appends one canonical line, stamped with the time" {
	new_task active rec-1
	run -0 epic-checkpoint record --persona architect --event retry --attempt 2 \
		--error-type NETWORK_ERROR --message "connection reset" --duration-ms 12.5 "$TASK"
	assert_output ""
	run -0 cat "$TASK/checkpoints.jsonl"
	assert_output --regexp '^\{"attempt":2,"durationMs":12.5,"errorType":"NETWORK_ERROR","event":"retry","message":"connection reset","persona":"architect","time":"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"\}$'
	# --file records the XXH3-64 of a file; of nothing, the well-known value.
	epic-checkpoint record -p architect -e after -f /dev/null "$TASK"
	run -0 jq -r 'select(.event == "after") | .xxh3' "$TASK/checkpoints.jsonl"
	assert_output 2d06800538d394c2
}

@test "record: 20 parallel writers x 50 events give exactly 1000 well-formed lines" {
	new_task active par-1
	msg=$(printf 'm%.0s' {1..300})
	for w in $(seq 1 20); do
		(
			for i in $(seq 1 50); do
				epic-checkpoint record -p "writer-$w" -e before -a "$i" -m "$w:$i:$msg" "$TASK" || exit 1
			done
		) &
	done
	wait
	[ "$(wc -l <"$TASK/checkpoints.jsonl")" = 1000 ] || fail "$(wc -l <"$TASK/checkpoints.jsonl") lines"
	run -0 jq -s -c '[length, (group_by(.persona) | map(length) | unique),
		(map(select(. as $e | .message | startswith("\($e.persona | ltrimstr("writer-")):\($e.attempt):"))) | length)]' \
		"$TASK/checkpoints.jsonl"
	assert_output '[1000,[50],1000]'
	run -0 --separate-stderr epic-checkpoint status "$TASK"
	[ -z "$stderr" ]
}

@test "record keeps a line under PIPE_BUF: a long message is cut on a character boundary" {
	new_task active long-1
	long=$(printf 'é%.0s' {1..5000})
	epic-checkpoint record -p architect -e failed -T SYSTEM_ERROR -m "$long" "$TASK"
	n=$(wc -c <"$TASK/checkpoints.jsonl")
	[ "$n" -le 4095 ] && [ "$n" -ge 4000 ] || fail "line of $n bytes"
	run -0 jq -r '.message | endswith("é...")' "$TASK/checkpoints.jsonl"
	assert_output true
	# Bytes that are not UTF-8 become '?', so the line stays JSON.
	epic-checkpoint record -p architect -e failed -m $'bad \xff\xfe byte' "$TASK"
	run -0 jq -r 'select(.message | startswith("bad")) | .message' "$TASK/checkpoints.jsonl"
	assert_output "bad ?? byte"
}

@test "record on a full disk is a temporary failure (exit 111)" {
	[ -e /dev/full ] || skip "no /dev/full"
	new_task active full-1
	ln -s /dev/full "$TASK/checkpoints.jsonl"
	run -111 epic-checkpoint record -p architect -e before "$TASK"
	assert_output "epic-checkpoint: cannot append to '$TASK/checkpoints.jsonl': No space left on device"
}
