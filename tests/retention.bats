#!/usr/bin/env bats
# epic purge (the config's retention: limits) and epic forget (the right to
# erasure), on a temporary spool filled by the real watcher (epic-watch --once, and
# a running one) and epic run; ages by EPIC_NOW and touch -d.

load test_helper

setup() {
	S="$EPIC_SPOOL"
	cd "$BATS_TEST_TMPDIR"
	use_fixture_registry
	fast_watcher_config 0
	WATCHERS=()
}

teardown() {
	for p in "${WATCHERS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	release_lock
	true
}

# Submit a JSON request of requester $2 with text $1, named $3.
drop_json() {
	jq -n --arg d "$1" --arg who "$2" '{description: $d, metadata: {requestedBy: $who}}' |
		epic-submit --name "$3" - >/dev/null
}

# Three done tasks and one failed one, through the real watcher.
make_tasks() {
	epic-submit --name one - <<<"$(request one)" >/dev/null
	epic-submit --name two - <<<"$(request two)" >/dev/null
	epic-submit --name three - <<<"$(request three)" >/dev/null
	printf 'short\n' | epic-submit --name bad - >/dev/null
	sleep 0.1
	run -1 epic-watch --once
	ONE=$(ls "$S/done" | grep '^one-')
	TWO=$(ls "$S/done" | grep '^two-')
	THREE=$(ls "$S/done" | grep '^three-')
	BAD=$(ls "$S/failed" | grep '^bad-')
	[ -n "$ONE" ] && [ -n "$TWO" ] && [ -n "$THREE" ] && [ -n "$BAD" ] ||
		fail "the watcher did not leave the tasks: $(ls -R "$S/done" "$S/failed")"
}

# Everything in the spool but the logs and tmp/, as "mtime path" lines.
snapshot() { (cd "$S" && find . -path ./log -prune -o -path ./tmp -prune -o -print | sort); }

# The last audit line of event $1, compact: .removed (and .tasks, .by).
audit_of() { jq -c --arg e "$1" 'select(.event == $e) | del(.time, .uid, .prev)' "$S/log/audit.jsonl" | tail -1; }

@test "usage: --help on stdout exit 0; a bad option, neither or both selectors, a bad id: exit 2" {
	run -0 epic purge --help
	assert_line --index 0 "usage: epic-purge [--dry-run] [--quiet] [--spool DIR] [--config FILE]"
	run -0 epic-forget --help
	assert_line --index 0 "usage: epic-forget [--dry-run] [--spool DIR] [--config FILE] --requester NAME | --task ID"
	run -2 epic-purge --bogus
	assert_output --partial "usage: epic-purge"
	run -2 epic-purge extra
	run -2 epic-forget
	assert_output --partial "expected one of --requester NAME and --task ID"
	run -2 epic-forget --requester a --task b-12345678
	run -2 epic-forget --task ../etc
	assert_output --partial "invalid task id '../etc'"
	run -2 epic-forget --requester ''
	run -0 epic-purge --version
	assert_output --regexp '^epic-purge [0-9]'
	# a config that is not one is a rejection
	printf 'retention:\n  doneDays: -1\n' >bad.yml
	run -1 epic-purge --config bad.yml
}

@test "purge removes exactly what is past its limit, keeps the rest; --dry-run removes nothing" {
	make_tasks
	# one finished 100 days ago (doneDays 90), one 80 days ago; the failed one 40 days
	# ago (failedDays 30); one cache entry written 8 days ago (cacheDays 7), one 6
	touch -d '100 days ago' "$S/done/$ONE/epic.json"
	touch -d '80 days ago' "$S/done/$TWO/epic.json"
	touch -d '40 days ago' "$S/failed/$BAD/error.json"
	local old new
	old=$(find "$S/cache" -path '*/cache/[0-9a-f][0-9a-f]/*.json' | sort | head -1)
	new=$(find "$S/cache" -path '*/cache/[0-9a-f][0-9a-f]/*.json' | sort | tail -1)
	[ "$old" != "$new" ]
	touch -d '8 days ago' "$old"
	touch -d '6 days ago' "$new"
	# a metrics line 400 days old (logDays 365) among the watcher's own
	local nmet
	nmet=$(wc -l <"$S/log/metrics.jsonl")
	[ "$nmet" -gt 0 ]
	jq -cn --arg t "$(date -u -d '400 days ago' +%Y-%m-%dT%H:%M:%S.000Z)" \
		'{time: $t, task: "ancient-00000000", event: "task", status: "done"}' >>"$S/log/metrics.jsonl"
	# persona-llm's ledger: one call as old, one of today (llmbudget.c's lines)
	jq -cn --arg t "$(date -u -d '400 days ago' +%Y-%m-%dT%H:%M:%S.000Z)" \
		'{time: $t, task: "ancient-00000000", persona: "architect", cost: 0.01}' >"$S/log/llm-spend.jsonl"
	jq -cn --arg t "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" \
		'{time: $t, task: "'"$ONE"'", persona: "architect", cost: 0.02}' >>"$S/log/llm-spend.jsonl"
	cp "$S/log/metrics.jsonl" metrics.before
	cp "$S/log/audit.jsonl" audit.before
	snapshot >before

	run -0 epic purge --dry-run
	assert_line "would remove done/$ONE"
	assert_line "would remove failed/$BAD"
	assert_line "would remove ${old#$S/}"
	assert_line "would remove log/metrics.jsonl: 1 lines"
	assert_line "would remove log/llm-spend.jsonl: 1 lines"
	[ "${#lines[@]}" -eq 5 ] || fail "more than expected: $output"
	snapshot >after
	diff -u before after
	cmp metrics.before "$S/log/metrics.jsonl"
	cmp audit.before "$S/log/audit.jsonl"
	assert_file_not_exist "$S/log/purge.last"

	run -0 epic purge
	assert_line "removed done/$ONE"
	[ "${#lines[@]}" -eq 5 ] || fail "more than expected: $output"
	run -0 jq -r .task "$S/log/llm-spend.jsonl"
	assert_output "$ONE"
	assert_file_not_exist "$S/done/$ONE"
	assert_file_not_exist "$S/failed/$BAD"
	assert_file_not_exist "$old"
	assert_file_exist "$S/done/$TWO/epic.json"
	assert_file_exist "$S/done/$THREE/epic.json"
	assert_file_exist "$new"
	run -1 grep ancient "$S/log/metrics.jsonl"
	[ "$(wc -l <"$S/log/metrics.jsonl")" -eq "$nmet" ]
	head -n "$nmet" metrics.before | cmp - "$S/log/metrics.jsonl"
	# nothing left half-removed in tmp/
	run -0 find "$S/tmp" -mindepth 1
	assert_output ""
	# one audit line, counts only; the record for the watcher
	run -0 audit_of purge
	assert_output '{"event":"purge","removed":{"auditLinesRotated":0,"cache":1,"done":1,"failed":1,"metricsLines":1,"rulebases":0,"skippedRunning":0,"spendLines":1,"valid":0}}'
	run -0 jq -r '.removed.done' "$S/log/purge.last"
	assert_output 1
	# a second purge finds nothing
	run -0 epic purge
	assert_output ""
}

@test "purge by EPIC_NOW: days later everything past its limit goes; 0 keeps forever" {
	make_tasks
	fast_watcher_config 0 retention: '  doneDays: 0' '  failedDays: 30' '  cacheDays: 0' '  logDays: 0'
	local nmet; nmet=$(wc -l <"$S/log/metrics.jsonl")
	EPIC_NOW=$(( $(date +%s) + 29 * 86400 )) run -0 epic purge
	assert_output ""
	EPIC_NOW=$(( $(date +%s) + 31 * 86400 )) run -0 epic purge
	assert_output "removed failed/$BAD"
	EPIC_NOW=$(( $(date +%s) + 3650 * 86400 )) run -0 epic purge
	assert_output ""
	[ "$(ls "$S/done" | wc -l)" -eq 3 ]
	[ "$(wc -l <"$S/log/metrics.jsonl")" -eq "$nmet" ]
	# the shipped limits, ten years on: every done task, cache entry and metrics line
	unset EPIC_CONFIG
	EPIC_NOW=$(( $(date +%s) + 3650 * 86400 )) run -0 epic purge
	assert_line "removed done/$ONE"
	assert_line "removed done/$THREE"
	[ "$(ls "$S/done" | wc -l)" -eq 0 ]
	[ "$(find "$S/cache" -type f | wc -l)" -eq 0 ]
	[ "$(wc -l <"$S/log/metrics.jsonl")" -eq 0 ]
	run -0 audit_of purge
	assert_output --partial '"done":3'
}

@test "a running task is never removed, by purge nor forget; the next run takes it" {
	make_tasks
	touch -d '100 days ago' "$S/done/$ONE/epic.json"
	hold_lock "$S/done/$ONE/.lock"
	run -0 epic purge
	assert_output --partial "'done/$ONE' is running (its lock is held): left alone"
	refute_output --partial "removed done/$ONE"
	assert_file_exist "$S/done/$ONE/epic.json"
	run -0 audit_of purge
	assert_output --partial '"skippedRunning":1'
	run -111 epic forget --task "$ONE"
	assert_output --partial "is running"
	assert_file_exist "$S/done/$ONE/epic.json"
	release_lock
	run -0 epic purge
	assert_output "removed done/$ONE"
}

@test "links are never followed: a link planted in done/, cache/ or inside a task stays, its target too" {
	make_tasks
	mkdir -p outside/dir
	echo keep >outside/dir/file
	echo keep >outside/entry.json
	ln -s "$PWD/outside/dir" "$S/done/evil-12345678"
	touch -h -d '1000 days ago' "$S/done/evil-12345678"
	ln -s "$PWD/outside/entry.json" "$S/cache/ab/$(printf 'a%.0s' {1..62})bb.json" 2>/dev/null ||
		{ mkdir -p "$S/cache/ab"; ln -s "$PWD/outside/entry.json" "$S/cache/ab/abbb.json"; }
	# a link inside an old task: the link goes with the task, the target stays
	ln -s "$PWD/outside/dir" "$S/done/$ONE/personas/link"
	EPIC_NOW=$(( $(date +%s) + 3650 * 86400 )) run -0 epic purge
	assert_output --partial "'done/evil-12345678' is not a task directory of ours: left alone"
	assert_output --partial "removed done/$ONE"
	assert [ -L "$S/done/evil-12345678" ]
	assert_file_exist outside/dir/file
	assert_file_exist outside/entry.json
	[ "$(find "$S/cache/ab" -type l | wc -l)" -eq 1 ]
}

@test "forget --requester erases every trace: requests, tasks, cache entries, metrics lines; the others' stay" {
	local who="Zoë Q. Forgetme-Tester" words="The purple elephant audits invoices at midnight in Reykjavik"
	# hers: one done, one failed (rejected: no such mode), one still waiting; and another
	# person's done task
	drop_json "$words. Let customers upload receipts and pay by card at checkout." "$who" hers
	jq -n --arg d "$words" --arg who "$who" \
		'{description: $d, mode: "nonsense", metadata: {requestedBy: $who}}' |
		epic-submit --name hersbad - >/dev/null
	drop_json "$(request other). Let admins export reports." "Someone Else" theirs
	sleep 0.1
	run -1 epic-watch --once
	[ "$(ls "$S/done" | wc -l)" -eq 2 ]
	[ "$(ls "$S/failed" | wc -l)" -eq 1 ]
	drop_json "$words, again, waiting in the queue for the watcher." "$who" later
	local theirs cache_before
	theirs=$(ls "$S/done" | grep '^theirs-')
	cache_before=$(find "$S/cache" -path '*/cache/[0-9a-f][0-9a-f]/*' -type f | wc -l)
	[ "$cache_before" -eq 12 ]     # six personas each, two different descriptions
	grep -rlF "$words" "$S" >/dev/null
	grep -q "theirs-" "$S/log/metrics.jsonl"

	run -0 epic forget --requester "$who" --dry-run
	assert_output --partial "would remove done/hers-"
	[ -n "$(grep -rlF "$words" "$S")" ]

	run -0 epic forget --requester "$who"
	assert_line --regexp "^removed done/hers-[0-9a-f]{8}$"
	assert_line --regexp "^removed failed/hersbad-[0-9a-f]{8}$"
	assert_line --regexp "^removed incoming/later-[0-9a-f]{8}\.json$"
	refute_output --partial "$who"
	# nothing of hers anywhere in the spool: not her name, not her words
	run -1 grep -rlF "$who" "$S"
	run -1 grep -rlF "Forgetme" "$S"
	run -1 grep -rlF "purple elephant" "$S"
	run -1 grep -rl "hers" "$S/log/metrics.jsonl"
	# the other person's task and cache entries are whole
	assert_file_exist "$S/done/$theirs/epic.json"
	[ "$(find "$S/cache" -path '*/cache/[0-9a-f][0-9a-f]/*' -type f | wc -l)" -eq 6 ]
	grep -q "$theirs" "$S/log/metrics.jsonl"
	# the audit line says what went, not whose
	run -0 audit_of forget
	assert_output --regexp '"by":"requester"'
	assert_output --partial '"cache":6,"deferred":0,"done":1,"failed":1,"hold":0,"incoming":1'
	run -0 jq -r 'select(.event == "forget") | .tasks | length' "$S/log/audit.jsonl"
	assert_output 3
	run -0 epic forget --requester "$who"
	assert_output --partial "nothing to erase"
}

@test "forget --task: one held request or one task; --dry-run removes nothing" {
	make_tasks
	epic-submit --name waiting - <<<"$(request waiting)" >"$BATS_TEST_TMPDIR/id"
	local id; id=$(cat "$BATS_TEST_TMPDIR/id")
	run -0 epic hold "$id"
	snapshot >before
	run -0 epic forget --task "$id" --dry-run
	assert_output "would remove hold/$id.txt"
	snapshot >after
	diff -u before after
	run -0 epic forget --task "$id"
	assert_output "removed hold/$id.txt"
	assert_file_not_exist "$S/hold/$id.txt"
	echo '{"time":"2026-01-01T00:00:00.000Z","task":"'"$TWO"'","persona":"architect","cost":0.5}' >"$S/log/llm-spend.jsonl"
	echo '{"time":"2026-01-01T00:00:00.000Z","task":"'"$ONE"'","persona":"architect","cost":0.5}' >>"$S/log/llm-spend.jsonl"
	run -0 epic forget --task "$TWO"
	assert_line "removed done/$TWO"
	assert_line "removed log/llm-spend.jsonl: 1 lines"
	run -0 jq -r .task "$S/log/llm-spend.jsonl"
	assert_output "$ONE"
	assert_file_not_exist "$S/done/$TWO"
	assert_file_exist "$S/done/$ONE/epic.json"
	run -0 audit_of forget
	assert_output --partial "\"tasks\":[\"$TWO\"]"
	assert_output --partial '"by":"task"'
}

@test "a running watcher purges once every watcher.purgeHours, counted from log/purge.last" {
	make_tasks
	touch -d '100 days ago' "$S/done/$ONE/epic.json"
	# the last purge was 25 hours ago
	jq -n --argjson t $(( ($(date +%s) - 25 * 3600) * 1000 )) '{timeMs: $t, removed: {}}' \
		>"$S/log/purge.last"
	watcher
	for _ in $(seq 1 100); do [ -e "$S/done/$ONE" ] || break; sleep 0.1; done
	assert_file_not_exist "$S/done/$ONE"
	assert_file_exist "$S/done/$TWO/epic.json"
	run -0 audit_of purge
	assert_output --partial '"done":1'
	grep -q "purged" "$BATS_TEST_TMPDIR/w.0.log"
	# done for the day: another old task waits for the next one
	touch -d '100 days ago' "$S/done/$TWO/epic.json"
	sleep 2.5
	assert_file_exist "$S/done/$TWO/epic.json"
	[ "$(grep -c '"event":"purge"' "$S/log/audit.jsonl")" -eq 1 ]
}

@test "a fresh watcher with no purge record does not purge at once; purgeHours 0 never" {
	make_tasks
	touch -d '100 days ago' "$S/done/$ONE/epic.json"
	watcher
	sleep 2.5
	assert_file_exist "$S/done/$ONE/epic.json"
	kill "${WATCHERS[0]}"
	fast_watcher_config 0 'retention: {}'
	sed -i 's/^watcher:$/watcher:\n  purgeHours: 0/' "$CFG"
	jq -n '{timeMs: 0, removed: {}}' >"$S/log/purge.last"
	watcher
	sleep 2.5
	assert_file_exist "$S/done/$ONE/epic.json"
	run -1 grep -q '"event":"purge"' "$S/log/audit.jsonl"
}

@test "purge rotates the audit lines older than logDays out of audit.jsonl, and the chain still verifies" {
	printf 'retention:\n  logDays: 30\n' >"$BATS_TEST_TMPDIR/ret.yml"
	EPIC_NOW=2026-01-01T00:00:00Z run -0 epic submit "$ROOT/examples/requests/04-notifications.json"
	EPIC_NOW=2026-01-01T00:00:10Z run -0 epic hold 04-notifications-5f15b28c
	EPIC_NOW=2026-03-01T00:00:00Z run -0 epic release 04-notifications-5f15b28c
	EPIC_NOW=2026-03-02T00:00:00Z run -0 epic purge --config "$BATS_TEST_TMPDIR/ret.yml"
	# the two January lines moved to the rotated file, the rest stayed, in order
	run -0 jq -r .event "$S/log/audit.jsonl.1"
	assert_output $'submitted\nhold'
	run -0 jq -r .event "$S/log/audit.jsonl"
	assert_output $'release\npurge'
	run -0 jq -r '.removed.auditLinesRotated' "$S/log/purge.last"
	assert_output 2
	run -0 epic audit verify --spool "$S"
}
