#!/usr/bin/env bats
# epic-audit (epic audit verify, tail, rotate) and the audit log's hash chain:
# real actions on a real spool (submit, the watcher, epic run, hold and release)
# leave a chain that verifies; every kind of tampering is named by its line;
# concurrent writers never fork the chain; rotation keeps it verifiable.

load test_helper

REQ="$ROOT/examples/requests"
LOG=log/audit.jsonl

setup() {
	S="$EPIC_SPOOL"
	cd "$BATS_TEST_TMPDIR"
	use_fixture_registry
	fast_watcher_config 0
}

teardown() {
	remove_users
}

# The SHA-256 of line $1 of file $2 (default the log), without its newline.
line_sha() { sed -n "${1}p" "${2:-$S/$LOG}" | tr -d '\n' | sha256sum | cut -d' ' -f1; }

# Check the chain independently of epic-audit: line 1's prev is $1 (default
# zeros), every other line's prev the SHA-256 of the line before it.
chain_ok() {
	local f="$S/$LOG" want=${1:-$(printf '0%.0s' {1..64})} n i prev
	n=$(wc -l <"$f")
	for ((i = 1; i <= n; i++)); do
		prev=$(sed -n "${i}p" "$f" | jq -r .prev)
		[ "$prev" = "$want" ] || fail "line $i: prev $prev, expected $want"
		want=$(line_sha "$i")
	done
}

# submit_n N: N distinct requests submitted, one audit line each.
submit_n() {
	local i
	for ((i = 1; i <= $1; i++)); do
		request "$i" | epic-submit --name "r$i" - >/dev/null || fail "submit $i failed"
	done
}

@test "usage: --help on stdout, a bad option or subcommand is exit 2 with the synopsis, --version" {
	run -0 epic audit --help
	assert_line --index 0 --partial "usage: epic-audit verify [--spool DIR] [FILE ...]"
	assert_output --partial "Exit: 0 ok, 1 the chain is broken"
	run -0 epic-audit verify --help
	assert_line --index 0 "usage: epic-audit verify [--spool DIR] [FILE ...]"
	run -2 --separate-stderr epic-audit verify --bogus
	[ -z "$output" ]
	[[ "$stderr" == *"usage: epic-audit verify"* ]] || fail "$stderr"
	run -2 epic-audit frob
	assert_line --index 0 "epic-audit: unknown subcommand 'frob'"
	run -2 epic-audit rotate
	assert_line --index 0 "epic-audit: rotate needs --older-than DAYS"
	run -2 epic-audit rotate --older-than -1
	run -2 epic-audit tail extra
	run -0 epic-audit --version
	assert_output --regexp '^epic-audit [0-9]'
	run -0 epic help
	assert_line --regexp '^  audit +the audit log'
}

@test "real actions (submit, watcher, epic run, resume, hold, release, requeue) leave one chain that verifies" {
	local a b c id last
	a=$(request 1 | epic-submit --name one -)
	b=$(request 2 | epic-submit --name two -)
	run -0 epic hold "$b"
	run -0 epic-watch --once
	run -0 epic release "$b"
	run -0 epic-watch --once
	run -0 epic run -q "$REQ/03-file-uploads.txt"
	id=$(jq -r 'select(.event == "run") | .task' "$S/$LOG")
	run -0 epic resume -q "$id"
	run -0 epic requeue "$a"
	# Every action is there, with ids and uids, and the chain holds.
	run -0 jq -r .event "$S/$LOG"
	for c in submitted hold claimed done release run resume requeue; do
		assert_line "$c"
	done
	run -0 jq -c 'select(.event == "run" or .event == "resume" or (.event == "done" and .by)) |
		[.event, .task, .uid, .by]' "$S/$LOG"
	assert_output - <<-END
		["run","$id",$(id -u),"epic run"]
		["done","$id",$(id -u),"epic run"]
		["resume","$id",$(id -u),"epic resume"]
		["done","$id",$(id -u),"epic resume"]
	END
	chain_ok
	last=$(line_sha "$(wc -l <"$S/$LOG")")
	run -0 epic audit verify
	assert_output "$(wc -l <"$S/$LOG") lines, chain intact, last SHA-256 $last"
	run -0 epic audit verify "$S/$LOG"
	assert_output --partial "last SHA-256 $last"
	run -0 epic audit tail -n 2
	assert_output "$(tail -n 2 "$S/$LOG")"
}

@test "a rejected epic run: run, then failed, by epic run; the chain holds" {
	: >empty.txt
	run -1 epic run -q empty.txt
	run -0 jq -c '[.event, .by, .uid]' "$S/$LOG"
	assert_output - <<-END
		["run","epic run",$(id -u)]
		["failed","epic run",$(id -u)]
	END
	chain_ok
	run -0 epic audit verify
}

@test "a group member's submit writes no line (log/ is the owner's); the watcher's claim records it by uid" {
	unset EPIC_CONFIG # the test's config is not the member's to read
	make_users
	S="$EPIC_SPOOL"
	run -0 --separate-stderr as "$MEMBER" epic-submit --name member-req - <"$REQ/03-file-uploads.txt"
	local id=$output
	[[ "$stderr" == *"queued without an audit line"* ]] || fail "stderr: $stderr"
	[ "$(wc -l <"$S/$LOG")" -eq 1 ]
	run -0 epic-watch --once
	run -0 jq -c --arg t "$id" 'select(.task == $t and .event == "claimed") | .uid' "$S/$LOG"
	assert_output "$(id -u "$MEMBER")"
	chain_ok
	run -0 epic audit verify --spool "$S"
}

@test "a line never carries an e-mail address or the requester's name (the log is never edited: epic forget could not erase them)" {
	jq '.metadata.requestedBy = "Mara Quell <mara.quell@example.com>, +44 20 7946 0958"' \
		"$REQ/01-checkout-payments.json" >req.json
	run -0 epic-submit req.json
	run -0 epic-watch --once
	run -0 grep -c . "$S/$LOG"
	[ "$output" -ge 2 ]
	run grep -E '@|7946' "$S/$LOG"
	refute_output
	run grep -E 'Mara|Quell' "$S/$LOG"
	refute_output
	run -0 epic audit verify
}

@test "an edited line (one character) breaks the chain at the line after it, named exactly" {
	submit_n 6
	run -0 epic audit verify
	assert_output --regexp '^6 lines, chain intact, last SHA-256 [0-9a-f]{64}$'
	sed -i '3s/"bytes":\([0-9]\)/"bytes":9\1/' "$S/$LOG"
	run -1 epic audit verify
	assert_output "epic-audit: $LOG:4: prev does not match line 3 (edited, deleted or reordered)"
	# Mended, it verifies again; its prev edited instead: the line itself is named.
	sed -i '3s/"bytes":9/"bytes":/' "$S/$LOG"
	run -0 epic audit verify
	local c; c=$(sed -n 5p "$S/$LOG" | jq -r '.prev[0:1]')
	sed -i "5s/\"prev\":\"$c/\"prev\":\"$([ "$c" = a ] && echo b || echo a)/" "$S/$LOG"
	run -1 epic audit verify
	assert_output "epic-audit: $LOG:5: prev does not match line 4 (edited, deleted or reordered)"
}

@test "a deleted line, two reordered lines: the first line out of place is named" {
	submit_n 6
	cp "$S/$LOG" good
	sed -i 3d "$S/$LOG"
	run -1 epic audit verify
	assert_output "epic-audit: $LOG:3: prev does not match line 2 (edited, deleted or reordered)"
	sed -n '1,3p' good >"$S/$LOG"
	sed -n 5p good >>"$S/$LOG"
	sed -n 4p good >>"$S/$LOG"
	sed -n 6p good >>"$S/$LOG"
	run -1 epic audit verify
	assert_output "epic-audit: $LOG:4: prev does not match line 3 (edited, deleted or reordered)"
	# The last line deleted is no break (nothing follows it), but its hash is gone
	# from the summary an operator kept.
	head -n 5 good >"$S/$LOG"
	run -0 epic audit verify
	assert_output "5 lines, chain intact, last SHA-256 $(line_sha 5 good)"
}

@test "a truncated last line, a forged line with a wrong prev or none: named by number" {
	submit_n 5
	cp "$S/$LOG" good
	truncate -s -20 "$S/$LOG"
	run -1 epic audit verify
	assert_output "epic-audit: $LOG:5: truncated: no newline at its end"
	# Cut and a newline put back: not JSON any more.
	{ head -c -21 good; echo; } >"$S/$LOG"
	run -1 epic audit verify
	assert_output --regexp "^epic-audit: $LOG:5: not a JSON object: "
	cp good "$S/$LOG"
	jq -c '.task = "forged-00000000" | .prev = "'"$(printf 'ab%.0s' {1..32})"'"' <(tail -n 1 good) >>"$S/$LOG"
	run -1 epic audit verify
	assert_output "epic-audit: $LOG:6: prev does not match line 5 (edited, deleted or reordered)"
	cp good "$S/$LOG"
	echo '{"event":"done","task":"forged-00000000"}' >>"$S/$LOG"
	run -1 epic audit verify
	assert_output "epic-audit: $LOG:6: no prev, or not a SHA-256 (a line written outside the chain)"
}

@test "after a torn last line the next line starts on its own, chained to the torn bytes" {
	submit_n 3
	printf '{"event":"subm' >>"$S/$LOG"
	submit_n 1
	[ "$(wc -l <"$S/$LOG")" -eq 5 ]
	[ "$(sed -n 5p "$S/$LOG" | jq -r .prev)" = "$(line_sha 4)" ]
	run -1 epic audit verify
	assert_output --regexp "^epic-audit: $LOG:4: not a JSON object"
}

@test "concurrent writers (submit, hold, release in 4 loops) never fork the chain" {
	local k
	for k in 1 2 3 4; do
		(
			for i in 1 2 3 4 5 6 7 8; do
				id=$(request "$k.$i" | epic-submit --name "w$k-$i" -) || exit 1
				epic hold "$id" >/dev/null && epic release "$id" >/dev/null || exit 1
			done
		) &
	done
	wait
	# 4 loops x 8 x (submitted, hold, release)
	[ "$(wc -l <"$S/$LOG")" -eq 96 ]
	chain_ok
	run -0 epic audit verify
	assert_output --regexp '^96 lines, chain intact'
	[ "$(jq -r .prev "$S/$LOG" | sort | uniq -d)" = "" ]
}

@test "rotation and verify while writers append: no line lost, no false break, one chain" {
	local pids=() k i bad=0
	for k in 1 2 3; do
		(
			for i in 1 2 3 4 5 6 7 8; do
				request "$k.$i" | epic-submit --name "c$k-$i" - >/dev/null || exit 1
			done
		) &
		pids+=($!)
	done
	for i in 1 2 3 4 5 6; do
		epic audit rotate --older-than 0 >/dev/null || bad=1
		epic audit verify >/dev/null || bad=1
	done
	for k in "${pids[@]}"; do wait "$k"; done
	[ "$bad" -eq 0 ] || fail "a rotate or a verify failed while writers appended"
	[ "$(cat "$S"/log/audit.jsonl* | wc -l)" -eq 24 ]
	run -0 epic audit verify
	assert_output --regexp '^24 lines, chain intact'
	[ "$(cat "$S"/log/audit.jsonl.* | wc -l)" -gt 0 ]
}

@test "a writer waits for the log's lock (flock on the log), and follows a log replaced meanwhile" {
	submit_n 2
	# The lock held for a second: the submit waits for it.
	flock -x "$S/$LOG" sleep 1 &
	sleep 0.2
	request 9 | epic-submit --name late - >/dev/null &
	local w=$!
	sleep 0.4
	[ "$(wc -l <"$S/$LOG")" -eq 2 ] || fail "appended under another's lock"
	wait "$w"
	[ "$(wc -l <"$S/$LOG")" -eq 3 ]
	chain_ok
	# The holder replaces the log, as rotation does, before it lets go: the waiting
	# writer appends to the new file, not to the one it first opened.
	flock -x "$S/$LOG" sh -c "sleep 1; cp '$S/$LOG' '$S/log/.new'; mv '$S/log/.new' '$S/$LOG'" &
	local h=$!
	sleep 0.2
	request 10 | epic-submit --name later - >/dev/null
	wait "$h"
	[ "$(wc -l <"$S/$LOG")" -eq 4 ]
	chain_ok
	run -0 epic audit verify
	assert_output --regexp '^4 lines, chain intact'
}

@test "rotation: old lines move byte for byte; rotated files in order, and the log alone, verify" {
	EPIC_NOW=2026-01-01T00:00:00Z submit_n 3
	EPIC_NOW=2026-03-01T00:00:00Z submit_n 2 # the same requests: duplicates, still lines
	cp "$S/$LOG" whole
	EPIC_NOW=2026-03-02T00:00:00Z run -0 epic audit rotate --older-than 30
	assert_output "3 lines moved to $LOG.1"
	diff -u <(head -n 3 whole) "$S/$LOG.1"
	diff -u <(tail -n 2 whole) "$S/$LOG"
	[ "$(stat -c %a "$S/$LOG.1")" = 600 ]
	EPIC_NOW=2026-03-02T00:00:00Z run -0 epic audit rotate --older-than 30
	assert_output "nothing to rotate"
	# The spool's chain: .1, then the log.
	run -0 epic audit verify
	assert_output "5 lines, chain intact, last SHA-256 $(line_sha 2)"
	# The log alone: it continues the rotated file's last line.
	run -0 epic audit verify "$S/$LOG"
	assert_output "2 lines, chain intact, last SHA-256 $(line_sha 2); it continues SHA-256 $(line_sha 3 "$S/$LOG.1") (lines before it rotated away)"
	run -0 epic audit verify "$S/$LOG.1" "$S/$LOG"
	run -1 epic audit verify "$S/$LOG" "$S/$LOG.1"
	assert_output "epic-audit: $S/$LOG.1:1: prev does not match the last line of $S/$LOG (a file missing, or out of order)"
	# The log grown past the rotated file: all of it is walked.
	submit_n 2
	run -0 epic audit verify
	assert_output "7 lines, chain intact, last SHA-256 $(line_sha 4)"
	# Everything rotated: the empty log's next line chains to the newest rotated file.
	run -0 epic audit rotate --older-than 0
	assert_output "4 lines moved to $LOG.2"
	[ ! -s "$S/$LOG" ]
	run -0 epic audit verify
	assert_output --regexp '^7 lines, chain intact'
	submit_n 1
	[ "$(jq -r .prev "$S/$LOG")" = "$(line_sha 4 "$S/$LOG.2")" ]
	run -0 epic audit verify
	assert_output "8 lines, chain intact, last SHA-256 $(line_sha 1)"
	# A rotated file edited breaks the spool's chain there.
	sed -i '2s/"bytes":/"bytes":1/' "$S/$LOG.1"
	run -1 epic audit verify
	assert_output "epic-audit: $LOG.1:3: prev does not match line 2 (edited, deleted or reordered)"
	# The oldest rotated file removed (retention): the chain runs from .2, and says so.
	rm "$S/$LOG.1"
	run -0 epic audit verify
	assert_output "5 lines, chain intact, last SHA-256 $(line_sha 1); it continues SHA-256 $(line_sha 3 whole) (lines before it rotated away)"
}

@test "a rotation cut short by a crash (lines in both files): verify names it, the next rotate finishes it" {
	submit_n 5
	cp "$S/$LOG" whole
	# As if the crash came between writing log/audit.jsonl.1 and replacing the log.
	head -n 3 whole >"$S/$LOG.1"
	run -1 epic audit verify
	assert_output "epic-audit: $LOG:1: prev does not match the last line of $LOG.1 (a file missing, or out of order)"
	run -0 epic audit rotate --older-than 36500
	assert_output "3 lines moved to $LOG.1"
	diff -u <(tail -n 2 whole) "$S/$LOG"
	run -0 epic audit verify
	assert_output "5 lines, chain intact, last SHA-256 $(line_sha 5 whole)"
	# Nothing more to finish, nothing old enough: nothing happens.
	run -0 epic audit rotate --older-than 36500
	assert_output "nothing to rotate"
	diff -u <(tail -n 2 whole) "$S/$LOG"
}

@test "verify of a file that cannot be read: exit 1 missing, 111 on an I/O error" {
	run -1 epic audit verify nosuch.jsonl
	assert_output "epic-audit: cannot open 'nosuch.jsonl': No such file or directory"
	run -111 epic audit verify /
	assert_output --partial "epic-audit: cannot read '/'"
	# No log yet is an empty chain.
	run -0 epic audit verify
	assert_output "0 lines, chain intact (empty)"
}
