#!/usr/bin/env bats
# A task's event log, checkpoints.jsonl: one writer and one reader (events.c), so
# every tool treats a cut or malformed line the same way.

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	printf 'Let customers pay invoices by card from the billing page, with receipts by email.\n' > req.txt
	epic run -q req.txt > /dev/null
	TASK=$(ls -d "$EPIC_SPOOL"/done/req-*)
	LOG="$TASK/checkpoints.jsonl"
	GOOD=$(wc -l < "$LOG")
}

# The task's persona outputs (not the inputs kept beside them).
outputs() { ls "$TASK"/personas/*.json | grep -v '\.input\.json$\|\.raw\.json$'; }

# The warnings a tool printed about the log, with its name taken off.
warnings() { sed -n 's/^[a-z-]*: //p' <<< "$1" | grep 'checkpoints.jsonl' | sort; }

@test "a malformed line and a cut last line: epic-checkpoint and epic-aggregate skip the same lines, saying the same" {
	echo '{"event":"after","persona":"architect","time":"not a time"}' >> "$LOG"
	printf '{"event":"after","persona":"secur' >> "$LOG"
	run -0 --separate-stderr epic-checkpoint status "$TASK"
	[ "$(jq '.checkpoints | length' <<< "$output")" = "$GOOD" ]
	local from_checkpoint from_aggregate
	from_checkpoint=$(warnings "$stderr")
	[ "$(wc -l <<< "$from_checkpoint")" = 2 ]
	[[ "$from_checkpoint" == *":$((GOOD + 1)): malformed event skipped: \"time\" is not an RFC 3339 timestamp"* ]]
	[[ "$from_checkpoint" == *":$((GOOD + 2)):"*": torn last line skipped: "* ]]
	run -0 --separate-stderr epic-aggregate --checkpoints "$LOG" -o out.json "$TASK/epic-request.json" $(outputs)
	from_aggregate=$(warnings "$stderr")
	[ "$from_aggregate" = "$from_checkpoint" ]
}

@test "the next event glued to a cut line is kept by every reader" {
	printf '{"event":"after","persona":"secur' >> "$LOG"
	epic-checkpoint record -p security-specialist -e retry -a 2 -m 'glued' "$TASK"
	run -0 --separate-stderr epic-checkpoint status "$TASK"
	[ "$(jq '.checkpoints | length' <<< "$output")" = "$((GOOD + 1))" ]
	[[ "$stderr" == *"torn line skipped: "*"; the event appended to it is kept" ]]
	run -0 --separate-stderr epic-aggregate --checkpoints "$LOG" -o out.json "$TASK/epic-request.json" $(outputs)
	[[ "$stderr" == *"torn line skipped: "*"; the event appended to it is kept" ]]
	run -0 jq -r .epic.metadata.completedAt out.json
	[ "$output" = "$(tail -1 "$LOG" | grep -o '"time":"[^"]*"' | cut -d'"' -f4)" ]
}

@test "an event longer than a pipe's atomic write is cut to fit, on a character, with '...'" {
	local long
	long=$(printf 'é%.0s' $(seq 1 3000))
	epic-checkpoint record -p architect -e failed -a 1 -T TIMEOUT -m "$long" "$TASK"
	[ "$(tail -1 "$LOG" | wc -c)" -le 4095 ]
	run -0 jq -r .message <(tail -1 "$LOG")
	[[ "$output" == *"é..." ]]
}
