#!/usr/bin/env bats
# epic-watch: the reliability properties of the spool, with real watchers, real
# make pipelines and a temporary spool. Nothing lost, nothing done twice.

load test_helper

setup() {
	S="$EPIC_SPOOL"
	mkdir -p "$S/incoming"
	fast_watcher_config 3 performance: '  maxConcurrentEpics: 2'
	REG="$BATS_TEST_TMPDIR/personas"
	cp -r "$ROOT/pipeline/personas" "$REG"
	export EPIC_PERSONA_PATH="$REG"
	WATCHERS=()
}

teardown() {
	for p in "${WATCHERS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${SAVED_QUEUE:-}" ] && echo "$SAVED_QUEUE" > /proc/sys/fs/inotify/max_queued_events
	release_lock
	true
}

executions() { cat "$S"/*/*/checkpoints.jsonl 2>/dev/null | grep -c '"event":"before"' || true; }
stable() {
	spool_cat "$1" | jq -S 'del(.epic.metadata.createdAt, .epic.metadata.completedAt, .epic.metadata.totalExecutionTime)
	    | .epic.personas[].persona.executionTime = 0'
}

@test "epic-watch --help, --version, bad usage" {
	run -0 epic-watch --help
	assert_output --partial "usage: epic-watch"
	run -0 epic-watch --version
	assert_output --regexp '^epic-watch [0-9.]+$'
	run -2 epic-watch --bogus
	run -2 epic-watch -j 0
	run -2 epic-watch extra
}

@test "1: a request dropped while no watcher runs is processed once when it starts" {
	request 1 > "$S/incoming/early.txt"
	sleep 0.1
	run -0 epic-watch --once
	assert_output --partial "claimed incoming/early.txt"
	[ "$(ls "$S/done" | wc -l)" = 1 ]
	[ "$(executions)" = 6 ]
	run -0 epic-watch --once
	[ "$(ls "$S/done" | wc -l)" = 1 ]
	[ "$(executions)" = 6 ] || fail "a second watcher run executed personas again"
	[ -z "$(ls -A "$S/incoming")" ]
}

@test "2: two watchers, 200 requests: each processed exactly once" {
	watcher
	watcher
	for i in $(seq 1 200); do
		request "$i" > "$S/tmp/.r$i" && mv "$S/tmp/.r$i" "$S/incoming/r$i.txt"
	done
	wait_for 200 done 240
	sleep 0.5
	[ "$(ls "$S/done" | wc -l)" = 200 ]
	[ -z "$(ls -A "$S/incoming")" ]
	[ -z "$(ls -A "$S/active")" ]
	[ -z "$(ls -A "$S/failed")" ]
	[ "$(executions)" = 1200 ] || fail "persona executions: $(executions), expected 200 x 6"
	# both watchers did work, and no task was claimed twice
	run -0 bash -c "cat '$BATS_TEST_TMPDIR'/w.*.log | grep -c ': claimed '"
	assert_output 200
	for log in "$BATS_TEST_TMPDIR"/w.*.log; do grep -q ': claimed ' "$log" || fail "$log claimed nothing"; done
}

@test "3: kill -9 of the watcher mid-task, restart: the task completes, the same, once" {
	# The reference: the same request through epic run in another spool.
	request 3 > "$BATS_TEST_TMPDIR/r3.txt"
	EPIC_SPOOL="$BATS_TEST_TMPDIR/ref" epic run -q "$BATS_TEST_TMPDIR/r3.txt" > /dev/null
	# A slow persona holds the task mid-way.
	jq '.command = ["/bin/sh", "-c", "sleep 2; exec \"$0\" \"$@\"", "'"$ROOT"'/bin/persona-rules", "--rules", "'"$REG"'/rules/performance-specialist.json"] | del(.rules)' \
		"$REG/performance-specialist.json" > "$BATS_TEST_TMPDIR/p.json"
	# (a command persona that is the rules engine after 2 s: same output, slowly; the
	# plain build, since a sanitizer build cannot live under performance.memoryLimit)
	mv "$BATS_TEST_TMPDIR/p.json" "$REG/performance-specialist.json"
	EPIC_SPOOL="$BATS_TEST_TMPDIR/ref2" epic run -q "$BATS_TEST_TMPDIR/r3.txt" > /dev/null
	cp "$BATS_TEST_TMPDIR/r3.txt" "$S/incoming/r3.txt"
	watcher
	for _ in $(seq 1 100); do
		[ -e "$S/active/"*/personas/03-security-specialist.json ] 2>/dev/null && break
		sleep 0.05
	done
	kill -9 "${WATCHERS[0]}"
	watcher
	wait_for 1 done 60
	id=$(ls "$S/done")
	diff -u <(stable "$BATS_TEST_TMPDIR"/ref2/done/*/epic.json) <(stable "$S/done/$id/epic.json")
	run -0 grep -c '"event":"before"' "$S/done/$id/checkpoints.jsonl"
	assert_output 6
}

@test "4: a burst of files past the inotify queue loses nothing" {
	[ -w /proc/sys/fs/inotify/max_queued_events ] || skip "cannot lower fs.inotify.max_queued_events here"
	SAVED_QUEUE=$(cat /proc/sys/fs/inotify/max_queued_events)
	echo 64 > /proc/sys/fs/inotify/max_queued_events
	watcher
	echo "$SAVED_QUEUE" > /proc/sys/fs/inotify/max_queued_events
	# 2,000 tiny requests (too short to review: each is rejected in one step),
	# renamed in while the watcher is frozen, so its 64-event queue overflows.
	mkdir "$S/tmp/burst"
	for i in $(seq 1 2000); do printf 'tiny %s' "$i" > "$S/tmp/burst/b$i.txt"; done
	kill -STOP "${WATCHERS[0]}"
	mv "$S"/tmp/burst/*.txt "$S/incoming/"
	kill -CONT "${WATCHERS[0]}"
	wait_for 2000 failed 300
	[ -z "$(ls -A "$S/incoming")" ]
	grep -q "inotify queue overflowed; rescanning" "$BATS_TEST_TMPDIR/w.0.log" ||
		fail "the queue never overflowed: the test proved nothing"
}

@test "5: a slow writer is never taken half-way" {
	watcher
	# JSON written in pieces, reopened each time, with gaps longer than the settle time.
	(
		printf '{"description": "Let shop admins upload ' > "$S/incoming/slow.json"
		sleep 0.6
		printf 'product images in bulk, ' >> "$S/incoming/slow.json"
		sleep 0.6
		printf 'with a preview."}' >> "$S/incoming/slow.json"
	)
	# A text file held open while it is written.
	(
		exec 3> "$S/incoming/held.txt"
		printf 'Let customers save ' >&3
		sleep 0.5
		printf 'their card for one-click reorder.\n' >&3
		sleep 0.5
		exec 3>&-
	)
	# A large file copied in.
	{ printf '{"description": "Large: '; head -c 900000 /dev/zero | tr '\0' 'x'; printf '"}'; } > "$BATS_TEST_TMPDIR/large.json"
	cp "$BATS_TEST_TMPDIR/large.json" "$S/incoming/large.json"
	wait_for 2 done 60
	wait_for 1 failed 60
	run -0 bash -c "spool_cat '$S'/done/slow-*/epic-request.json | jq -r .description"
	assert_output "Let shop admins upload product images in bulk, with a preview."
	run -0 bash -c "spool_cat '$S'/done/held-*/epic-request.json | jq -r .description"
	assert_output "Let customers save their card for one-click reorder."
	# the large one is whole, and rejected for its size, not for being cut
	cmp "$BATS_TEST_TMPDIR/large.json" <(spool_cat "$S"/failed/large-*/request.json)
	run -0 bash -c "spool_cat '$S'/failed/large-*/error.json | jq -r .message"
	assert_output --partial "maxDescriptionBytes"
}

@test "6: a malformed request lands in failed/ with its reason; the next good one is processed" {
	printf '{"description": "Oops", "mode": "fast"' > "$S/incoming/bad.json"
	request 6 > "$S/incoming/good.txt"
	sleep 0.1
	run -1 epic-watch --once -j 1
	dir=$(ls -d "$S"/failed/bad-*)
	cmp <(spool_cat "$dir/request.json") <(printf '{"description": "Oops", "mode": "fast"')
	run -0 bash -c "spool_cat '$dir/error.json' | jq -r .message"
	assert_output --partial "request.json:1:38: '}' expected near end of file"
	[ "$(ls "$S/done" | wc -l)" = 1 ]
}

@test "7: SIGTERM during work leaves every task resumable, and a restart finishes them" {
	jq '.command = ["/bin/sh", "-c", "sleep 3; exec \"$0\" \"$@\" # '"$BATS_TEST_TMPDIR"'", "'"$ROOT"'/bin/persona-rules", "--rules", "'"$REG"'/rules/architect.json"] | del(.rules)' \
		"$REG/architect.json" > "$BATS_TEST_TMPDIR/a.json" && mv "$BATS_TEST_TMPDIR/a.json" "$REG/architect.json"
	for i in 1 2 3; do request "7$i" > "$S/incoming/t$i.txt"; done
	watcher
	wait_for 2 active 20
	sleep 0.3
	kill -TERM "${WATCHERS[0]}"
	wait "${WATCHERS[0]}" || true
	grep -q "stopped" "$BATS_TEST_TMPDIR/w.0.log"
	[ "$(ls "$S/done" | wc -l)" = 0 ]
	sleep 0.2
	! pgrep -f "sleep 3; exec.*# $BATS_TEST_TMPDIR" > /dev/null || fail "a persona outlived the watcher's stop"
	# nothing lost: every request is a task in active/ or still in incoming/
	[ $(( $(ls "$S/active" | wc -l) + $(ls "$S/incoming" | wc -l) )) = 3 ]
	run -0 epic-watch --once
	[ "$(ls "$S/done" | wc -l)" = 3 ]
}

@test "8: a full disk is a temporary failure: deferred, retried, nothing lost" {
	mnt="$BATS_TEST_TMPDIR/small"
	mkdir -p "$mnt"
	mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null || skip "cannot mount a tmpfs here"
	export EPIC_SPOOL="$mnt/spool"
	S="$EPIC_SPOOL"
	mkdir -p "$S/incoming"
	request 8 > "$S/incoming/full.txt"
	# Fill the disk so the personas cannot write their outputs.
	head -c 2000000 /dev/zero > "$mnt/filler" 2>/dev/null || true
	run -111 epic-watch --once
	assert_output --partial "deferred"
	[ "$(ls "$S/deferred" | wc -l)" = 1 ]
	[ -e "$S"/deferred/*/request.txt ]
	rm "$mnt/filler"
	sleep 1.1
	run -0 epic-watch --once
	[ "$(ls "$S/done" | wc -l)" = 1 ]
	umount "$mnt"
}

@test "rate limiting: a submitter's excess requests wait in deferred/, none dropped" {
	[ "$(id -u)" = 0 ] || skip "needs root to give files to other uids"
	sed -i '/^security:/,$d' "$CFG"         # encrypted_config's, last: one section
	cat >> "$CFG" <<-YML
	security:
	  rateLimit:
	    perMinute: 60
	    burst: 2
	YML
	encrypted_config "$CFG"
	# Four requests of uid 4242 under four different requestedBy labels (a label
	# is no identity), one of uid 4243, one of the spool's owner (not limited).
	for i in 1 2 3 4; do
		jq -n --arg d "$(request "r$i")" --arg who "name$i" \
			'{description: $d, metadata: {requestedBy: $who}}' > "$S/incoming/a$i.json"
		chown 4242 "$S/incoming/a$i.json"
	done
	request other > "$S/incoming/other.txt"
	chown 4243 "$S/incoming/other.txt"
	request owner > "$S/incoming/owner.txt"
	sleep 0.1
	run -0 epic-watch --once
	[ "$(ls "$S/done" | wc -l)" = 6 ]
	run -0 jq -r 'select(.event == "deferred") | "\(.uid): \(.detail)"' "$S/log/audit.jsonl"
	assert_line --partial "4242: (retry in 1 s): rate limit for uid 4242 (security.rateLimit)"
	[ "${#lines[@]}" = 2 ]
	# Every claim names its submitter by uid; the label (a person's name) is not
	# written to the audit log, which cannot be edited (epic-forget).
	run -0 jq -r 'select(.event == "claimed") | "\(.uid) \(.requestedBy // "-")"' "$S/log/audit.jsonl"
	assert_line "4243 -"
	assert_line "$(id -u) -"
	assert_line "4242 -"
}

@test "the same request dropped again is the same task, rerun incrementally" {
	request 9 > "$S/incoming/again.txt"
	sleep 0.1
	epic-watch --once 2>/dev/null
	request 9 > "$S/incoming/again.txt"
	sleep 0.1
	run -0 epic-watch --once
	assert_output --partial "duplicate"
	[ "$(ls "$S/done" | wc -l)" = 1 ]
	[ "$(executions)" = 6 ]
	[ -z "$(ls -A "$S/incoming")" ]
}

@test "an abandoned claim in tmp/ goes back to incoming/ and is processed" {
	mkdir -p "$S/tmp/.claim.lost-12345678.999"
	request 10 > "$S/tmp/.claim.lost-12345678.999/request.txt"
	touch -d '2 minutes ago' "$S/tmp/.claim.lost-12345678.999"
	run -0 epic-watch --once
	assert_output --partial "recovered"
	[ "$(ls "$S/done" | wc -l)" = 1 ]
}

@test "an abandoned claim in active/ (its lock free) goes back at once; a half-done rejection goes to failed/" {
	mkdir -p "$S/active/.claim.gone-12345678.AbCdEf" "$S/active/.claim.rejected.XyZ123"
	request 12 > "$S/active/.claim.gone-12345678.AbCdEf/.submitted.txt"
	mkfifo "$S/active/.claim.rejected.XyZ123/request.rejected"
	echo '{"message": "a FIFO"}' > "$S/active/.claim.rejected.XyZ123/error.json"
	# A claim whose lock is held belongs to a live watcher: left alone.
	mkdir -p "$S/active/.claim.live-12345678.QwErTy"
	request 13 > "$S/active/.claim.live-12345678.QwErTy/request.txt"
	hold_lock "$S/active/.claim.live-12345678.QwErTy"
	run -0 epic-watch --once
	assert_output --partial "gone-12345678: recovered"
	[ -e "$S"/done/gone-*/request.txt ]
	run -0 jq -r .message "$S"/failed/*/error.json
	assert_output "a FIFO"
	[ -p "$(ls -d "$S"/failed/*)/request.rejected" ]
	[ -e "$S/active/.claim.live-12345678.QwErTy/request.txt" ]
	release_lock
}

@test "metrics and audit logs: one line per persona and per state change" {
	request 11 > "$S/incoming/m.txt"
	sleep 0.1
	epic-watch --once 2>/dev/null
	run -0 jq -r 'select(.event == "after") | .persona' "$S/log/metrics.jsonl"
	[ "${#lines[@]}" = 6 ]
	run -0 jq -r '.event' "$S/log/audit.jsonl"
	assert_line claimed
	assert_line done
}

@test "stale files in tmp/ are cleaned; fresh ones and dot-files in incoming/ are left alone" {
	mkdir -p "$S/tmp"
	echo old > "$S/tmp/.dead-writer.tmp"
	touch -d '2 days ago' "$S/tmp/.dead-writer.tmp"
	echo new > "$S/tmp/.live-writer.tmp"
	echo half > "$S/incoming/.being-written.txt"
	run -0 epic-watch --once
	assert_file_not_exist "$S/tmp/.dead-writer.tmp"
	assert_file_exist "$S/tmp/.live-writer.tmp"
	assert_file_exist "$S/incoming/.being-written.txt"
}

@test "SIGHUP reloads the configuration; a broken one is reported and the old one kept" {
	watcher
	printf 'watcher:\n  settleMs: 50\n  rescanSeconds: 1\nperformance:\n  maxConcurrentPersonas: 1\n' > "$CFG"
	kill -HUP "${WATCHERS[0]}"
	sleep 0.3
	grep -q "configuration reloaded" "$BATS_TEST_TMPDIR/w.0.log"
	printf 'watcher:\n  settleMs: fast\n' > "$CFG"
	kill -HUP "${WATCHERS[0]}"
	sleep 0.3
	grep -q "settleMs: expected an integer.*keeping the configuration in force" "$BATS_TEST_TMPDIR/w.0.log"
	request 12 > "$S/tmp/x" && mv "$S/tmp/x" "$S/incoming/after-hup.txt"
	wait_for 1 done 60
}
