#!/usr/bin/env bats
# The spool against a hostile neighbour and a careless operator: one test per
# defect of issue 9, each written to fail on the version before the fix. A member
# of the spool's group may create entries in tmp/ and incoming/ and owns what it
# submits; nothing it does may run a command as the owner, hang the watcher, read
# the owner's files through the spool, or make a rejection look temporary.

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	S="$EPIC_SPOOL"
	fast_watcher_config 2
	WATCHERS=()
}

teardown() {
	for p in "${WATCHERS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${MNT:-}" ] && umount "$MNT" 2>/dev/null
	remove_users
}

# The shared spool of make_users, with a running watcher (as the owner) on it.
shared_spool_with_watcher() {
	make_users
	S="$EPIC_SPOOL"
	cp "$CFG" "$SHARED/watch.yml"
	export EPIC_CONFIG="$SHARED/watch.yml"
	watcher
}

@test "1: a claim directory planted in tmp/ runs nothing: the task is the watcher's own" {
	shared_spool_with_watcher
	local pid=${WATCHERS[0]} id
	request plant > "$SHARED/plant.txt"
	chmod 644 "$SHARED/plant.txt"
	id=$(epic-submit --spool "$BATS_TEST_TMPDIR/scratch" --name plant "$SHARED/plant.txt")
	# The member's trap: a directory of its own with a plan.mk that runs a shell
	# command, a stamp from the future, and the claim's name pointing at it.
	install -d -o "$MEMBER" -m 0755 "$SHARED/evil"
	as "$MEMBER" sh -c 'printf "\$(shell touch %s/PWNED)\n" "$1" > "$1/evil/plan.mk" &&
		touch -d "+1 day" "$1/evil/.parse.stamp"' sh "$SHARED"
	as "$MEMBER" ln -s "$SHARED/evil" "$S/tmp/.claim.$id.$pid"
	as "$MEMBER" epic-submit --name plant - < "$SHARED/plant.txt"
	for _ in $(seq 1 600); do [ -e "$S/done/$id/epic.json" ] && break; sleep 0.1; done
	[ ! -e "$SHARED/PWNED" ] || fail "a submitter's plan.mk ran as the owner"
	[ -d "$S/done/$id" ] && [ ! -L "$S/done/$id" ]
	[ "$(stat -c %u "$S/done/$id" "$S/done/$id/request.txt" | sort -u)" = "$(id -u)" ]
	cmp "$SHARED/plant.txt" "$S/done/$id/request.txt"
	[ ! -e "$SHARED/evil/request.txt" ]
}

@test "1: a symbolic link in a state directory is nobody's task: status, resume and the watcher refuse it" {
	mkdir -p "$S/active" "$BATS_TEST_TMPDIR/elsewhere"
	request link > "$BATS_TEST_TMPDIR/elsewhere/request.txt"
	printf '$(shell touch %s/PWNED)\n' "$BATS_TEST_TMPDIR" > "$BATS_TEST_TMPDIR/elsewhere/plan.mk"
	touch -d '+1 day' "$BATS_TEST_TMPDIR/elsewhere/.parse.stamp"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$S/active/linked-0123abcd"
	run -1 epic resume linked-0123abcd
	assert_output --partial "no task 'linked-0123abcd'"
	run -1 epic status linked-0123abcd
	run -0 epic status
	refute_output --partial linked-0123abcd
	run epic-watch --once
	[ ! -e "$BATS_TEST_TMPDIR/PWNED" ] || fail "make ran in a linked directory"
	[ ! -e "$BATS_TEST_TMPDIR/elsewhere/.lock" ]
}

@test "2: a request swapped for a FIFO or a link, again and again, never hangs the watcher nor reads through the link" {
	shared_spool_with_watcher
	cc -O2 -o "$SHARED/bin/exchange" "$ROOT/tests/tools/exchange.c" || skip "no C compiler"
	echo "TOP-SECRET-4711" > "$SHARED/secret"
	chmod 600 "$SHARED/secret"
	# Five times over, the member drops a FIFO and a link to the owner's secret and
	# swaps each, atomically and as fast as it can, with a request of its own in
	# tmp/, while the watcher claims: the name is a regular file one moment, not
	# the next.
	cat > "$SHARED/swap.sh" <<-'SH'
	#!/bin/sh
	S=$1 SECRET=$2
	for k in 1 2 3 4 5; do
		printf 'Epic fifo %s: let customers pay invoices by card from the billing page.\n' $k > "$S/tmp/.a$k"
		printf 'Epic link %s: let customers pay invoices by card from the billing page.\n' $k > "$S/tmp/.b$k"
		mkfifo "$S/tmp/.fifo$k" && ln -s "$SECRET" "$S/tmp/.link$k"
		mv "$S/tmp/.fifo$k" "$S/incoming/swap-fifo$k.txt" && mv "$S/tmp/.link$k" "$S/incoming/swap-link$k.txt"
		exchange "$S/incoming/swap-fifo$k.txt" "$S/tmp/.a$k" 1 &
		exchange "$S/incoming/swap-link$k.txt" "$S/tmp/.b$k" 1
		wait
	done
	SH
	chmod 755 "$SHARED/swap.sh"
	run -0 as "$MEMBER" "$SHARED/swap.sh" "$S" "$SHARED/secret"
	# The watcher is alive and claims what comes next.
	request after > "$SHARED/after.txt"
	epic-submit --name after "$SHARED/after.txt" >/dev/null
	for _ in $(seq 1 600); do
		ls "$S/done" | grep -q '^after-' && [ -z "$(ls -A "$S/incoming")" ] &&
			[ "$(ls "$S/done" "$S/failed" | grep -c '^swap-')" = 10 ] && break
		sleep 0.1
	done
	ls "$S/done" | grep -q '^after-' || fail "the watcher is stuck: $(tail -3 "$BATS_TEST_TMPDIR/w.0.log")"
	[ -z "$(ls -A "$S/incoming")" ] || fail "left in incoming/: $(ls -A "$S/incoming")"
	# No request is stuck in active/ (a FIFO taken as request.txt would hang
	# its pipeline until the workflow timeout).
	[ "$(ls "$S/done" "$S/failed" | grep -c '^swap-')" = 10 ] ||
		fail "stuck: $(ls -l "$S"/active/*/ 2>&1)"
	# A rejection is final: resuming one runs nothing.
	local rejected
	rejected=$(ls "$S/failed" | grep '^swap-' | head -1)
	if [ -n "$rejected" ]; then
		run -1 epic resume "$rejected"
		assert_output --partial "has no request to run"
		[ -d "$S/failed/$rejected" ]
	fi
	run ! grep -rl "TOP-SECRET-4711" "$S"
	# What was taken while it was a FIFO or a link is kept in failed/ with its
	# reason, never as a request; what was taken as a file was reviewed.
	local f
	for f in "$S"/failed/*/error.json; do
		[ -e "$f" ] || continue
		run -0 jq -r .message "$f"
		assert_output --regexp "is a (FIFO|symbolic link), expected a regular file|was replaced while it was being (claimed|opened)"
		[ -z "$(ls "$(dirname "$f")" | grep '^request\.\(txt\|md\|json\)$')" ]
	done
}

@test "2: a FIFO, a link and a file with two names in incoming/ are kept in failed/, never opened; resuming one runs nothing" {
	mkdir -p "$S/incoming"
	echo "TOP-SECRET-4711" > secret
	mkfifo "$S/incoming/fifo.txt"
	ln -s "$PWD/secret" "$S/incoming/link.txt"
	request twice > "$S/incoming/twice.txt"
	ln "$S/incoming/twice.txt" twice-elsewhere.txt
	run -1 timeout 60 epic-watch --once
	[ -z "$(ls -A "$S/incoming")" ]
	[ "$(ls "$S/failed" | wc -l)" = 3 ]
	run -0 cat "$S"/failed/*/error.json
	assert_output --partial "fifo.txt' is a FIFO, expected a regular file"
	assert_output --partial "link.txt' is a symbolic link, expected a regular file"
	assert_output --partial "twice.txt' has 2 hard links, expected one"
	run ! grep -rl "TOP-SECRET-4711" "$S"
	run -1 epic resume "$(ls "$S/failed" | head -1)"
	assert_output --partial "has no request to run"
	[ "$(ls "$S/failed" | wc -l)" = 3 ]
}

@test "3: a request with a long name runs: every id the watcher makes is one epic-parse takes" {
	local name
	name=$(printf 'a%.0s' $(seq 1 70))
	mkdir -p "$S/incoming"
	request long > "$S/incoming/$name.txt"
	sleep 0.1
	run -0 epic-watch --once
	[ "$(ls "$S/done" | wc -l)" = 1 ]
	[ "$(ls "$S/deferred" | wc -l)" = 0 ]
}

@test "3: a pipeline tool's usage error is a rejection on record, never retried as temporary" {
	# The task directory's name is the id epic-parse is given: one that is not an
	# id makes it exit 2, which must land in failed/ with the verdict.
	mkdir -p "$S/active/-x"
	request usage > "$S/active/-x/request.txt"
	run -2 env EPIC_SPOOL="$S" make -s -C "$S/active/-x" -f "$ROOT/pipeline/epic.mk" EPIC_BIN="$BIN"
	run -0 jq -r '.tool, .exitCode, .recoverable' "$S/active/-x/error.json"
	assert_output "epic-parse
2
false"
}

@test "4: an inline rule base with a huge effort is rejected for good (1), with its reason on record" {
	jq -n --arg d "$(request huge)" '{description: $d, options: {customPersonas: {huge: {
	    reviewOrder: 7, rules: {persona: "huge", version: "1.0.0", costCategory: "infrastructure",
	    rules: [{id: "HUG-001", when: {any: ["card"]}, insight: "card",
	      recommendation: {title: "Price it", type: "suggested", priority: "low",
	        description: "d", references: ["ISO 4217"], effortDays: {min: 1e300, max: 1e300}}}]}}}}}' > huge.json
	run -1 epic run -q huge.json
	assert_output --partial "effortDays"
	run -0 jq -r '.exitCode, .recoverable' "$S"/failed/huge-*/error.json
	assert_output "1
false"
}

@test "4: a persona output with an out-of-range number is a clean rejection, not undefined behaviour" {
	printf '{"insights": [], "recommendations": [{"title": "t", "description": "d", "effortDays": {"min": 1e300, "max": 1e308}}], "metadata": {"tokens": 1e300}}' > raw.json
	run -1 persona-normalize --persona security-specialist --order 3 -o out.json raw.json
	[ ! -e out.json ]
}

@test "4: what fuzzing found, kept: each input is a clean rejection by the real tool (no UB, no leak)" {
	# A request with a timeout of 1e21 (cast to an integer before the check) and
	# a persona output whose recommendation is a number (leaked when rejected).
	tail -c +2 "$ROOT/tests/fuzz/regressions/fuzz_request/timeout-1e21" > req.json
	run -1 epic-parse -o out.json req.json
	assert_output --partial '$.options.timeout'
	run -1 persona-normalize --persona security-specialist --order 3 -o out.json \
		"$ROOT/tests/fuzz/regressions/fuzz_normalize/recommendation-a-number"
	assert_output --partial 'expected an object, got a number'
	[ ! -e out.json ]
}

@test "5: epic resume and epic status take only task ids: '../' is a usage error, nothing written" {
	mkdir -p "$BATS_TEST_TMPDIR/elsewhere"
	request x > "$BATS_TEST_TMPDIR/elsewhere/request.txt"
	mkdir -p "$S/active"
	run -2 epic resume ../../elsewhere
	assert_output --partial "invalid task id '../../elsewhere'"
	run -2 epic status ../x
	run -2 epic resume ''
	[ "$(ls -A "$BATS_TEST_TMPDIR/elsewhere")" = request.txt ]
}

@test "6: epic-parse --task-id takes only task ids (exit 2), never writes them raw" {
	request p > p.txt
	local bad
	for bad in '../..' '$$$' '' $'a\nb' '.hidden' '-dash' "$(printf 'x%.0s' $(seq 1 74))"; do
		run -2 epic-parse --task-id "$bad" -o out.json --plan plan.mk p.txt
		[ ! -e out.json ] && [ ! -e plan.mk ]
	done
	run -0 epic-parse --task-id "$(printf 'x%.0s' $(seq 1 73))" -o out.json p.txt
}

@test "7: a newline in a file name in incoming/ cannot forge a line of the watcher's log" {
	mkdir -p "$S/incoming"
	request nl > "$S/incoming/$(printf 'evil\nepic-watch: forged-0123abcd: done in 0.001 s\n.txt')"
	sleep 0.1
	run -0 --separate-stderr epic-watch --once
	local line
	while IFS= read -r line; do
		[[ "$line" == "epic-watch: "* ]] || fail "a line not of the watcher's: $line"
		[[ "$line" != "epic-watch: forged-"* ]] || fail "a forged line: $line"
	done <<< "$stderr"
	[[ "$stderr" == *'evil\nepic-watch: forged-0123abcd'* ]]
	[ "$(ls "$S/done" | wc -l)" = 1 ]
}

@test "8: a spool path with a space, a '\$' and a '#' works for epic run and the watcher" {
	export EPIC_SPOOL="$BATS_TEST_TMPDIR/my spool \$HOME #1"
	S="$EPIC_SPOOL"
	request space > space.txt
	run -0 epic run -q space.txt
	run -0 jq -r .summary.personasCompleted <<< "$output"
	[ "$output" -ge 1 ]
	mkdir -p "$S/incoming"
	request watched > "$S/incoming/watched.txt"
	sleep 0.1
	run -0 epic-watch --once
	[ "$(ls "$S/done" | wc -l)" = 2 ]
	[ ! -e "$BATS_TEST_TMPDIR/my spool" ] || [ -d "$S" ]
}

@test "9: on a full disk the attempt count survives: retries stop after watcher.taskRetries" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	MNT="$BATS_TEST_TMPDIR/small"
	mkdir -p "$MNT"
	mount -t tmpfs -o size=2m tmpfs "$MNT" || { MNT=; skip "cannot mount a tmpfs"; }
	export EPIC_SPOOL="$MNT/spool"
	S="$EPIC_SPOOL"
	mkdir -p "$S/incoming"
	request full > "$S/incoming/full.txt"
	head -c 4000000 /dev/zero > "$MNT/filler" 2>/dev/null || true
	run -111 epic-watch --once
	[ -e "$S"/deferred/full-*/.retry.1.* ]
	# The message names no directory the task has left.
	refute_output --partial "/active/"
	sleep 1.1
	run -111 epic-watch --once
	[ -e "$S"/deferred/full-*/.retry.2.* ]
	sleep 2.1
	run -111 epic-watch --once
	assert_output --partial "after 3 attempts"
	[ "$(ls "$S/failed" | wc -l)" = 1 ]
	[ "$(ls "$S/deferred" | wc -l)" = 0 ]
	[ -e "$S"/failed/full-*/request.txt ]
}

@test "10: kill -9 of the watcher right after a task's move to done/ never loses its done event" {
	command -v strace >/dev/null || skip "needs strace"
	strace -o /dev/null -e trace=fsync -e inject=fsync:delay_exit=1 true 2>/dev/null ||
		skip "strace cannot inject here"
	mkdir -p "$S/incoming" "$S/done"
	local i before sp
	for i in 1 2 3; do request "k$i" > "$S/incoming/k$i.txt"; done
	# Each of the watcher's own fsyncs takes 300 ms, so a kill -9 the moment a task
	# shows in done/ lands between the move and whatever comes after it.
	for i in 1 2 3; do
		before=$(ls "$S/done" | wc -l)
		strace -o /dev/null -e trace=fsync -e inject=fsync:delay_exit=300000 \
			"$BIN/epic-watch" 2>>"$BATS_TEST_TMPDIR/kill.log" &
		sp=$!
		for _ in $(seq 1 1000); do [ "$(ls "$S/done" | wc -l)" -gt "$before" ] && break; sleep 0.01; done
		pkill -9 -P "$sp"
		wait "$sp" 2>/dev/null || true
	done
	run -0 epic-watch --once
	[ "$(ls "$S/done" | wc -l)" = 3 ]
	local id
	for id in $(ls "$S/done"); do
		[ -n "$(jq -c --arg t "$id" 'select(.task == $t and .event == "done")' "$S/log/audit.jsonl")" ] ||
			fail "no done event for $id"
	done
}

@test "11: the configuration snapshot is the owner's alone" {
	shared_spool_with_watcher
	[ "$(stat -c %a "$S/.config-in-force.json")" = 600 ]
	run ! as "$MEMBER" cat "$S/.config-in-force.json"
	assert_output --partial "Permission denied"
}

@test "12: a config in UTF-16 is named as not UTF-8" {
	printf '\xff\xfec\x00o\x00' > utf16.yml
	run -1 epic-parse -c utf16.yml - <<< "$(request c)"
	assert_output "epic-parse: utf16.yml: not UTF-8 (a UTF-16 byte order mark): expected a UTF-8 YAML file"
	printf 'coordination:\n  defaultMode: "st\xe9"\n' > latin1.yml
	run -1 epic-parse -c latin1.yml - <<< "$(request c)"
	assert_output "epic-parse: latin1.yml:2:19: not UTF-8: expected a UTF-8 YAML file"
}

@test "14: relative paths are the caller's: a profile by relative path, -o checked before the run" {
	cd "$ROOT"
	request rel > "$BATS_TEST_TMPDIR/rel.txt"
	run -0 epic run -q -c pipeline/profiles/parallel.yml -j3 "$BATS_TEST_TMPDIR/rel.txt"
	run -0 jq -r .summary.personasCompleted <<< "$output"
	cd "$BATS_TEST_TMPDIR"
	request out > out.txt
	run -2 epic run -q -o /nonexistent/dir/epic.json out.txt
	assert_output "epic: cannot write '/nonexistent/dir/epic.json': No such file or directory"
	[ -z "$(ls "$S/active" "$S/done" 2>/dev/null | grep -v ':' | grep out-)" ]
	mkdir sub
	run -0 epic run -q -o sub/epic.json out.txt
	jq -e .summary sub/epic.json >/dev/null
}

@test "a persona command's own exit never passes for the pipeline's verdict" {
	# An optional command persona that is one of our tools failing with exit 2: it
	# must not leave error.json in the task (the environment variable is not passed
	# on), so the task completes without it.
	local reg="$BATS_TEST_TMPDIR/personas"
	cp -r "$ROOT/pipeline/personas" "$reg"
	jq -n --arg bin "$BIN/epic-parse" '{name: "parser-persona", reviewOrder: 7, required: false,
	    timeout: 10, supportedModes: ["mvp", "standard", "enterprise"], version: "1.0.0",
	    command: [$bin, "--task-id", "../x"]}' > "$reg/parser-persona.json"
	export EPIC_PERSONA_PATH="$reg"
	cat > "$CFG" <<-YML
	coordination:
	  maxRetries: 0
	YML
	request cmd > cmd.txt
	run -0 epic run -q cmd.txt
	run -0 jq -r '.epic.personas[] | select(.persona.name == "parser-persona") | .persona.status' <<< "$output"
	assert_output failed
}
