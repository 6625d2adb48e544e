#!/usr/bin/env bats
# epic-queue (epic status, hold, release, requeue, delete) and the front door's
# help: every queue listed, waiting for a task, and the operator's moves, with the
# real watcher (epic-watch --once, and a running one) on a temporary spool.

load test_helper

REQ="$ROOT/examples/requests"

setup() {
	S="$EPIC_SPOOL"
	cd "$BATS_TEST_TMPDIR"
	# The fixture registry, copied so a test can break a persona and mend it.
	REG="$BATS_TEST_TMPDIR/reg"
	cp -r "$FIX/registry" "$REG"
	export EPIC_PERSONA_PATH="$REG"
	fast_watcher_config 0
	WATCHERS=()
}

teardown() {
	for p in "${WATCHERS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	release_lock
	remove_users
}

# The product owner, a required persona, fails (temporarily) until mend_po.
break_po() {
	cp "$REG/product-owner.json" "$BATS_TEST_TMPDIR/po.good"
	jq '.command = ["/bin/false"] | del(.rules)' "$BATS_TEST_TMPDIR/po.good" > "$REG/product-owner.json"
}
mend_po() { cp "$BATS_TEST_TMPDIR/po.good" "$REG/product-owner.json"; }

# Every directory given is empty (dot-files too).
empty() {
	local d
	for d in "$@"; do
		[ -z "$(ls -A "$d")" ] || fail "$d is not empty: $(ls -A "$d")"
	done
}

# The audit lines of event $1, compact.
audit_of() { jq -c --arg e "$1" 'select(.event == $e) | {event, task, uid, from, to}' "$S/log/audit.jsonl"; }

bin_running() { epic status --json | jq -r --arg id "$1" '.[] | select(.id == $id) | .running'; }

@test "help: epic help, epic help CMD and CMD --help show that command; a mistyped command gets the nearest" {
	run -0 epic help
	for c in run resume status personas submit show render export diff hold release requeue delete watch; do
		assert_line --regexp "^  $c +[a-z]"
	done
	assert_output --partial "Also here (epic-CMD next to epic):"
	assert_output --partial " queue"
	run -0 epic help run
	assert_line --index 0 --partial "usage: epic run [--mode MODE]"
	refute_output --partial "usage: epic resume"
	run -0 epic run --help
	refute_output --partial "usage: epic resume"
	run -0 epic resume --help
	assert_line --index 0 --partial "usage: epic resume"
	refute_output --partial "epic run"
	run -0 epic personas --help
	assert_line --index 0 "usage: epic personas"
	run -0 epic help status
	assert_line --index 0 "usage: epic status [--json] [--spool DIR] [ID]"
	assert_output --partial "--wait"
	run -0 epic hold --help
	assert_line --index 0 "usage: epic hold [--spool DIR] ID ..."
	refute_output --partial "epic release"
	run -0 epic help watch
	assert_line --index 0 --partial "usage: epic-watch"
	run -2 epic stauts
	assert_output "epic: 'stauts' is not an epic command; did you mean 'status'?"
	run -2 epic reqeue x
	assert_output "epic: 'reqeue' is not an epic command; did you mean 'requeue'?"
	run -2 epic frobnicate
	assert_output "epic: 'frobnicate' is not an epic command; see 'epic help'"
	run -2 epic help frobnicate
	run -2 epic ../bin/epic-watch
	run -2 epic run --bogus
	assert_line --index 1 --partial "usage: epic run"
	refute_output --partial "epic resume"
}

@test "usage: ids are checked, options go with their subcommand" {
	run -2 epic hold
	assert_output --partial "hold needs a task id"
	run -2 epic status --wait
	assert_output --partial "--wait needs a task id"
	run -2 epic status --timeout 3 x-0123abcd
	run -2 epic status --wait --timeout soon x-0123abcd
	run -2 epic delete ../x
	assert_output --partial "invalid task id '../x'"
	run -2 epic hold --json x-0123abcd
	run -2 epic-queue frob
	run -0 epic-queue --version
	run -0 epic-queue --help
	assert_output --partial "usage: epic-queue status"
}

@test "status lists every queue: incoming with the id submit printed, held, active, deferred, failed, done" {
	local queued held done failed deferred idle
	epic run -q "$REQ/01-checkout-payments.json" > /dev/null
	done=$(ls "$S/done")
	run -1 epic run -q - <<< "too short"
	failed=$(ls "$S/failed")
	# A deferred task, as the watcher leaves one after a temporary failure.
	break_po
	fast_watcher_config 3
	deferred=$(epic-submit "$REQ/02-enterprise-sso.md")
	run -111 epic-watch --once
	[ -d "$S/deferred/$deferred" ]
	mend_po
	cp -r "$S/done/$done" "$S/active/idle-0123abcd"     # left by a launcher that died
	held=$(epic-submit "$REQ/03-file-uploads.txt")
	run -0 epic hold "$held"
	queued=$(epic-submit "$REQ/04-notifications.json")
	request x > "$S/incoming/by hand.txt"

	run -0 --separate-stderr epic status
	run -0 jq -r '.[] | "\(.state) \(.id)"' <<< "$output"
	byhand=$(epic-queue status --json | jq -r '.[] | select(.name == "by hand.txt") | .id')
	[[ "$byhand" =~ ^by_hand-[0-9a-f]{8}$ ]] || fail "id of 'by hand.txt': $byhand"
	assert_output "$(printf '%s\n' "incoming $byhand" "incoming $queued" "hold $held" \
		"active idle-0123abcd" "deferred $deferred" "failed $failed" "done $done" | sort -s -k1,1 |
		awk 'BEGIN{o["incoming"]=1;o["hold"]=2;o["active"]=3;o["deferred"]=4;o["failed"]=5;o["done"]=6}
		{print o[$1], $0}' | sort -k1,1n -k3,3 | cut -d' ' -f2-)"
	run -0 bash -c "epic status | jq -c '.[] | select(.state == \"deferred\") | {attempts, reason}'"
	assert_output --partial '"attempts":1,"reason":"required persona '"'product-owner'"' failed'
	run -0 bash -c "epic status | jq -r '.[] | select(.state == \"deferred\") | .nextAttemptAt'"
	assert_output --regexp '^20[0-9-]+T[0-9:.]+Z$'
	run -0 bash -c "epic status | jq -r '.[] | select(.state == \"failed\") | .error'"
	assert_output --partial "description"
	run -0 bash -c "epic status | jq -c '.[] | select(.state == \"active\") | .running'"
	assert_output false
	run -0 bash -c "epic status | jq -c '.[] | select(.state == \"hold\") | [.kind, .returnsTo]'"
	assert_output '["request","incoming"]'
	run -0 bash -c "epic status | jq -r '.[] | select(.id == \"$queued\") | .name'"
	assert_output "$queued.json"
	# On a terminal: a table, one line per entry and a header.
	run -0 script -qec "epic status" /dev/null
	assert_line --index 0 --regexp '^STATE +ID +MODIFIED \(UTC\) +DETAIL'
	assert_line --partial "queued: incoming/$queued.json from uid $(id -u)"
	assert_line --partial "held request (release: back to incoming/)"
	assert_line --partial "1 attempt, next "
	[ "${#lines[@]}" = 8 ]
	# --json on a terminal is JSON.
	run -0 script -qec "epic status --json" /dev/null
	assert_line --index 0 --regexp '^\[\s*$'
}

@test "status ID: a task as epic-checkpoint shows it; a request not yet claimed is queued; unknown is 1" {
	local id
	epic run -q "$REQ/01-checkout-payments.json" > /dev/null
	run -0 epic status "$(ls "$S/done")"
	run -0 jq -r '.taskId // .id' <<< "$output"
	assert_output "$(ls "$S/done")"
	id=$(epic-submit "$REQ/02-enterprise-sso.md")
	run -0 epic status "$id"
	run -0 jq -r '.state, .id, .name' <<< "$output"
	assert_output "$(printf 'incoming\n%s\n%s.md' "$id" "$id")"
	run -0 script -qec "epic status $id" /dev/null
	assert_output --partial "$id: queued: incoming/$id.md"
	run -1 epic status nothing-0123abcd
	assert_output "epic: no task 'nothing-0123abcd' in '$S'"
}

@test "status --wait: done 0, failed 1, timeout 111, unknown 1; a request not yet claimed is waited for" {
	local id t0
	epic run -q "$REQ/01-checkout-payments.json" > /dev/null
	run -0 epic status --wait "$(ls "$S/done")"
	run -1 epic run -q - <<< "too short"
	run -1 epic status --wait "$(ls "$S/failed")"
	assert_output --partial "failed: "
	run -1 epic status --wait nothing-0123abcd
	assert_output --partial "no task 'nothing-0123abcd'"
	id=$(epic-submit "$REQ/02-enterprise-sso.md")
	t0=$(date +%s%N)
	run -111 epic status --wait --timeout 0.5 "$id"
	assert_output --partial "timed out waiting for '$id' (incoming)"
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ]
	# The waiter sleeps (inotify, a modest recheck), it does not spin.
	epic status --wait --timeout 30 "$id" & local waiter=$!
	sleep 1
	local ticks
	ticks=$(awk '{print $14 + $15}' "/proc/$waiter/stat")
	[ "$ticks" -lt 20 ] || fail "the waiter used $ticks ticks of CPU in a second"
	(sleep 0.3 && epic-watch --once 2>/dev/null) &
	local rc=0
	wait "$waiter" || rc=$?
	[ "$rc" = 0 ] || fail "the waiter exited $rc"
	[ -d "$S/done/$id" ]
}

@test "hold: a held request is not claimed by a running watcher nor by --once; release gives it back" {
	local id
	id=$(epic-submit "$REQ/02-enterprise-sso.md")
	run -0 epic hold "$id"
	assert_output "$id: incoming/ -> hold/"
	[ -f "$S/hold/$id.md" ]
	[ -z "$(ls "$S/incoming")" ]
	[ "$(stat -c %a "$S/hold")" = 700 ]
	run -1 epic hold "$id"
	assert_output --partial "is held already"
	run -0 epic-watch --once
	[ -f "$S/hold/$id.md" ]
	watcher
	sleep 1.5       # more than a rescan
	[ -f "$S/hold/$id.md" ] || fail "the watcher took a held request"
	empty "$S/active" "$S/done"
	run -0 epic release "$id"
	assert_output "$id: hold/ -> incoming/"
	run -0 epic status --wait --timeout 30 "$id"
	[ -d "$S/done/$id" ]
	run -0 audit_of hold
	assert_output "{\"event\":\"hold\",\"task\":\"$id\",\"uid\":$(id -u),\"from\":\"incoming\",\"to\":\"hold\"}"
	run -0 audit_of release
	assert_output "{\"event\":\"release\",\"task\":\"$id\",\"uid\":$(id -u),\"from\":\"hold\",\"to\":\"incoming\"}"
	run -1 epic release "$id"
	assert_output --partial "it is not held (it is in done/)"
}

@test "hold a deferred task: no watcher runs it; release puts it back in deferred/ and a running watcher runs it" {
	local id
	break_po
	fast_watcher_config 3
	id=$(epic-submit "$REQ/02-enterprise-sso.md")
	run -111 epic-watch --once
	[ -d "$S/deferred/$id" ]
	run -0 epic hold "$id"
	assert_output "$id: deferred/ -> hold/"
	mend_po
	sleep 1.2               # its retry is due now
	run -0 epic-watch --once
	[ -d "$S/hold/$id" ] || fail "the watcher ran a held task"
	run -0 bash -c "epic status | jq -c '.[] | [.state, .kind, .returnsTo, .attempts]'"
	assert_output '["hold","task","deferred",1]'
	watcher
	run -0 epic release "$id"
	assert_output "$id: hold/ -> deferred/"
	run -0 epic status --wait --timeout 30 "$id"
	[ -d "$S/done/$id" ]
}

@test "requeue: a failed task runs again with the real watcher and is done; a done one reruns; a deferred one is due now" {
	local id other
	break_po
	id=$(epic-submit "$REQ/02-enterprise-sso.md")
	run -111 epic-watch --once
	[ -d "$S/failed/$id" ]
	run -1 epic requeue "$id-x"
	mend_po
	run -0 epic requeue "$id"
	assert_output "$id: failed/ -> deferred/"
	run -0 bash -c "spool_cat '$S/deferred/$id/deferred.json' | jq -c '{attempts, reason}'"
	assert_output "{\"attempts\":0,\"reason\":\"requeued by uid $(id -u)\"}"
	run -0 epic-watch --once
	assert_output --partial "$id: done"
	[ -d "$S/done/$id" ]
	run -0 audit_of requeue
	assert_output "{\"event\":\"requeue\",\"task\":\"$id\",\"uid\":$(id -u),\"from\":\"failed\",\"to\":\"deferred\"}"
	# A done task reruns (incrementally: nothing changed, nothing recomputed).
	run -0 epic requeue "$id"
	assert_output "$id: done/ -> deferred/"
	run -0 epic-watch --once
	assert_output --partial "$id: done"
	# A deferred task, due in a minute, is made due now; a running watcher hears of it.
	break_po
	printf '%s\n' watcher: '  taskRetries: 3' '  taskRetryDelay: 60' '  rescanSeconds: 600' > "$CFG"
	other=$(epic-submit "$REQ/03-file-uploads.txt")
	run -111 epic-watch --once
	[ -d "$S/deferred/$other" ]
	mend_po
	watcher
	sleep 0.3
	[ -d "$S/deferred/$other" ]
	run -0 epic requeue "$other"
	assert_output "$other: deferred/ -> deferred/"
	run -0 epic status --wait --timeout 20 "$other"
	# What cannot be requeued.
	kill -9 "${WATCHERS[@]}"
	run -0 epic-submit --name waiting "$REQ/04-notifications.json"
	run -1 epic requeue "$output"
	assert_output --partial "it is a request waiting in incoming/"
}

@test "a deferred task made due while its lock is held (as epic requeue holds it) starts when the lock goes, not at the next rescan" {
	local other marker
	break_po
	printf '%s\n' watcher: '  taskRetries: 3' '  taskRetryDelay: 60' '  rescanSeconds: 600' > "$CFG"
	encrypted_config "$CFG"
	other=$(epic-submit "$REQ/03-file-uploads.txt")
	run -111 epic-watch --once
	[ -d "$S/deferred/$other" ]
	mend_po
	watcher
	# Made due now, and the watcher told (IN_ATTRIB), while the lock is held: what
	# epic requeue does, where the watcher may look before requeue lets go.
	hold_lock "$S/deferred/$other/.lock"
	marker=$(find "$S/deferred/$other" -maxdepth 1 -name '.retry.*' | head -n 1)
	[ -n "$marker" ]
	touch "$marker" "$S/deferred/$other"
	sleep 1
	[ -d "$S/deferred/$other" ]
	release_lock
	# Before, the watcher dropped it until its next rescan (600 s here).
	run -0 epic status --wait --timeout 20 "$other"
	[ -d "$S/done/$other" ]
}

@test "requeue refuses a task with no request (rejected when it was claimed); nothing moves" {
	mkfifo "$S/incoming/pipe.json" 2>/dev/null || { mkdir -p "$S/incoming"; mkfifo "$S/incoming/pipe.json"; }
	run -1 epic-watch --once
	id=$(ls "$S/failed")
	run -1 epic requeue "$id"
	assert_output --partial "has no request to run"
	[ -d "$S/failed/$id" ]
}

@test "a running task (its lock held) is not held, requeued nor deleted: 111, nothing moved" {
	epic run -q "$REQ/01-checkout-payments.json" > /dev/null
	id=$(ls "$S/done")
	mv "$S/done/$id" "$S/active/$id"
	hold_lock "$S/active/$id/.lock"
	[ "$(bin_running "$id")" = true ]
	run -111 epic requeue "$id"
	assert_output --partial "is running (its lock is held)"
	run -111 epic delete "$id"
	run -1 epic hold "$id"
	[ -d "$S/active/$id" ]
	release_lock
	[ "$(bin_running "$id")" = false ]
	run -0 epic requeue "$id"
	assert_output "$id: active/ -> deferred/"
}

@test "delete: a request, a held one, a done, failed and deferred task; renamed out first, nothing left" {
	local q h d f
	epic run -q "$REQ/01-checkout-payments.json" > /dev/null
	d=$(ls "$S/done")
	run -1 epic run -q - <<< "too short"
	f=$(ls "$S/failed")
	q=$(epic-submit "$REQ/02-enterprise-sso.md")
	h=$(epic-submit "$REQ/03-file-uploads.txt")
	epic hold "$h"
	run -0 epic delete "$q" "$h" "$d" "$f"
	assert_line "$q: incoming/ -> deleted"
	assert_line "$h: hold/ -> deleted"
	assert_line "$d: done/ -> deleted"
	assert_line "$f: failed/ -> deleted"
	empty "$S/incoming" "$S/hold" "$S/done" "$S/failed" "$S/tmp"
	run -1 epic delete "$d"
	assert_output --partial "no task '$d'"
	run -0 audit_of delete
	[ "${#lines[@]}" = 4 ]
	assert_line "{\"event\":\"delete\",\"task\":\"$d\",\"uid\":$(id -u),\"from\":\"done\",\"to\":\"deleted\"}"
	# What a crash left in tmp/ between the rename and the removal is swept.
	mkdir -p "$S/tmp/.trash.old-0123abcd.1.2.0/personas"
	touch "$S/tmp/.trash.old-0123abcd.1.2.0/personas/x.json"
	break_po
	fast_watcher_config 3
	id=$(epic-submit "$REQ/04-notifications.json")
	run -111 epic-watch --once
	run -0 epic delete "$id"
	assert_output "$id: deferred/ -> deleted"
	empty "$S/deferred" "$S/tmp"
	# A partial failure: the others still go, the exit says so.
	q=$(epic-submit "$REQ/05-offline-field-inspections.md")
	run -1 epic delete nothing-0123abcd "$q"
	assert_line "$q: incoming/ -> deleted"
}

@test "links are never followed: a link in incoming/ or a state directory is nobody's task; delete leaves the target" {
	mkdir -p "$S/incoming" "$S/done" elsewhere
	request 1 > elsewhere/target.txt
	epic run -q elsewhere/target.txt > /dev/null
	ln -s "$BATS_TEST_TMPDIR/elsewhere/target.txt" "$S/incoming/evil.txt"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$S/done/linked-0123abcd"
	run -0 bash -c "epic status | jq -c '.[] | select(.name == \"evil.txt\") | [.id, .state]'"
	assert_output '[null,"incoming"]'
	run -0 bash -c "epic status | jq -r '.[] | select(.name == \"evil.txt\") | .problem'"
	assert_output --partial "symbolic link"
	run -1 epic delete linked-0123abcd
	assert_output --partial "no task 'linked-0123abcd'"
	run -1 epic hold "target-$(request 1 | head -c0)00000000"
	[ -f elsewhere/target.txt ] && [ -L "$S/done/linked-0123abcd" ] && [ -L "$S/incoming/evil.txt" ]
}

@test "a group member's request: the owner holds, releases and deletes it safely; the member may not" {
	unset EPIC_CONFIG
	make_users
	cp "$BIN/epic-queue" "$SHARED/bin/"
	chmod 0755 "$SHARED/bin/epic-queue"
	id=$(as "$MEMBER" epic-submit "$ROOT/examples/requests/03-file-uploads.txt")
	[ "$(stat -c %U "$EPIC_SPOOL/incoming/$id.txt")" = "$MEMBER" ]
	run -1 as "$MEMBER" epic-queue hold "$id"
	assert_output --partial "only the spool's owner (uid $(id -u)) may"
	run -1 as "$MEMBER" epic-queue delete "$id"
	[ -f "$EPIC_SPOOL/incoming/$id.txt" ]
	run -0 epic hold "$id"
	[ -f "$EPIC_SPOOL/hold/$id.txt" ]
	run -1 as "$MEMBER" cat "$EPIC_SPOOL/hold/$id.txt"
	run -0 epic release "$id"
	run -0 epic delete "$id"
	[ -z "$(ls -A "$EPIC_SPOOL/incoming" | grep -v "$(cat "$SHARED/owner-id")")" ]
}

@test "a move that fails after its audit line is said in the log too: the same event, failed, and why" {
	run -0 epic submit "$REQ/04-notifications.json"
	id=$output
	run -0 epic hold "$id"
	# the same request submitted again while the first is held: release finds it taken
	run -0 epic submit "$REQ/04-notifications.json"
	run -1 --separate-stderr epic release "$id"
	assert_equal "$stderr" "epic: cannot move '$id' to incoming/: 'incoming/$id.json' exists already"
	run -0 jq -c 'select(.event == "release") | {result, to}' "$S/log/audit.jsonl"
	assert_output $'{"result":null,"to":"incoming"}\n{"result":"failed","to":null}'
	[ -f "$S/hold/$id.json" ] && [ -f "$S/incoming/$id.json" ]
	run -0 epic audit verify
}
