#!/usr/bin/env bats
# epic-show (epic show): a finished epic on a terminal, on real results of the
# example epics: length and width, the blocking items in priority order, colour
# only when wanted, hostile text neutralised, the pager only when wanted, which
# result an operand names, read-only.

load test_helper

REQ="$ROOT/examples/requests"

# Real results of a few examples, made once for the file in their own spool.
setup_file() {
	export RES="$BATS_FILE_TMPDIR/res" RSPOOL="$BATS_FILE_TMPDIR/spool"
	example_results "$RES" "$RSPOOL"
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	unset EPIC_PAGER PAGER NO_COLOR
	export COLUMNS=80 TERM=xterm
}

# A pager that records that it ran, and what it was given.
make_pager() {
	PAGER_LOG="$BATS_TEST_TMPDIR/pager.log"
	cat >"$BATS_TEST_TMPDIR/pager" <<-EOS
	#!/bin/sh
	echo "ran LESS=\$LESS" >>"$PAGER_LOG"
	cat >"$BATS_TEST_TMPDIR/paged"
	EOS
	chmod +x "$BATS_TEST_TMPDIR/pager"
}

# on_tty ROWS CMD...: run CMD on a real terminal of ROWS lines and 80 columns
# (script(1) from bsdutils); its output in $BATS_TEST_TMPDIR/tty.out.
on_tty() {
	command -v script >/dev/null || skip "needs script(1) from bsdutils"
	local rows=$1 cmd
	shift
	printf -v cmd '%q ' "$@"
	script -qec "stty rows $rows cols 80; $cmd" /dev/null >"$BATS_TEST_TMPDIR/tty.out"
}

@test "epic-show --help prints usage on stdout and exits 0" {
	run -0 epic-show --help
	assert_output --partial "usage: epic-show [--spool DIR] [--no-pager] [--color[=WHEN]] [ID | FILE | -]"
	assert_output --partial "Exit: 0 shown"
}

@test "epic-show --version names the tool" {
	run -0 epic-show --version
	assert_output --regexp '^epic-show [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "a bad option, a bad --color and two operands are usage errors (exit 2)" {
	run -2 --separate-stderr epic-show --frobnicate
	assert_output ""
	[[ "$stderr" == *"usage: epic-show"* ]]
	run -2 epic-show --color=sometimes "$RES/01-checkout-payments.json"
	assert_output --partial "invalid --color 'sometimes'"
	run -2 epic-show "$RES/01-checkout-payments.json" "$RES/02-enterprise-sso.json"
	assert_output --partial "too many arguments"
}

@test "every example fits in 70 lines of at most 80 columns, off a terminal" {
	local f n w
	for f in "$RES"/*.json; do
		epic-show "$f" >out.txt
		n=$(wc -l <out.txt)
		w=$(LC_ALL=C.UTF-8 wc -L <out.txt)
		[ "$n" -ge 30 ] && [ "$n" -le 70 ] || fail "$f: $n lines"
		[ "$w" -le 80 ] || fail "$f: a line of $w columns"
	done
}

@test "COLUMNS sets the width off a terminal: nothing wider than 40 columns" {
	COLUMNS=40 run -0 epic-show "$RES/13-patient-appointments-hipaa.json"
	[ "$(printf '%s\n' "$output" | LC_ALL=C.UTF-8 wc -L)" -le 40 ]
	assert_output --partial "Blocking, by priority"
}

@test "the summary, the sections and the last line are there" {
	run -0 epic-show "$RES/01-checkout-payments.json"
	assert_line --index 0 "Checkout redesign: card payments, saved cards and one-click reorder"
	assert_output --partial "51 recommendations (17 blocking, 34 suggested)"
	assert_output --partial "83.5-195 person-days (EUR 66,800 - 156,000)"
	assert_output --partial "critical path 2-4 weeks"
	assert_output --partial "critical risk"
	assert_output --partial "Roadmap: 5 phases"
	assert_output --partial "  1  Foundations and blockers (1-2 weeks, 23-52 person-days, 11 items)"
	assert_output --partial "and 9 more"
	assert_output --partial "  by persona   accessibility-advocate 13-34"
	assert_output --partial "Risks: overall critical"
	assert_output --regexp "  high      security       1 blocking recommendation open"
	assert_output --partial "Gaps: none"
	assert_line --index $((${#lines[@]} - 2)) --partial "epic render --format html"
	assert_output --partial "epic export"
}

@test "the blocking items are listed by priority, critical first, as the result orders them" {
	local f want got
	for f in "$RES/01-checkout-payments.json" "$RES/13-patient-appointments-hipaa.json" \
		"$RES/10-postgres-16-upgrade.json"; do
		want=$(jq -r '[.epic.recommendations[] | select(.type == "blocking")
			| {id, r: ({"critical": 0, "high": 1, "medium": 2, "low": 3}[.priority])}]
			| sort_by(.r, .id) | .[:12][] | .id' "$f")
		got=$(epic-show "$f" | sed -n '/^Blocking, by priority/,/^$/p' |
			awk 'NR > 1 && $1 != "and" && NF { print $1 }')
		[ -n "$got" ] && [ "$got" = "$want" ] || fail "$f: got [$got], want [$want]"
	done
	run -0 epic-show "$RES/13-patient-appointments-hipaa.json"
	assert_output --partial "and 7 more"
}

@test "a gap is shown with its persona, status and reason" {
	run -0 epic-show "$RES/12-ticket-summarisation-llm.json"
	assert_output --partial "accessibility-advocate skipped: excluded by the request"
}

@test "no escape byte off a terminal, nor with NO_COLOR or TERM=dumb on one" {
	run -0 epic-show "$RES/01-checkout-payments.json"
	[[ "$output" != *$'\e'* ]]
	on_tty 200 epic-show "$RES/01-checkout-payments.json"
	grep -q $'\e\\[1m' "$BATS_TEST_TMPDIR/tty.out" || fail "no colour on a terminal"
	NO_COLOR=1 on_tty 200 epic-show "$RES/01-checkout-payments.json"
	! grep -q $'\e' "$BATS_TEST_TMPDIR/tty.out" || fail "colour with NO_COLOR"
	TERM=dumb on_tty 200 epic-show "$RES/01-checkout-payments.json"
	! grep -q $'\e' "$BATS_TEST_TMPDIR/tty.out" || fail "colour with TERM=dumb"
	on_tty 200 epic-show --color=never "$RES/01-checkout-payments.json"
	! grep -q $'\e' "$BATS_TEST_TMPDIR/tty.out" || fail "colour with --color=never"
}

@test "--color=always colours even off a terminal and with NO_COLOR" {
	NO_COLOR=1 run -0 epic-show --color=always "$RES/01-checkout-payments.json"
	[[ "$output" == *$'\e[1;31mcritical\e[m'* ]]
	run -0 epic-show --color "$RES/01-checkout-payments.json"
	[[ "$output" == *$'\e[1m'* ]]
}

@test "hostile titles are neutralised: no escape sequence, control character or extra line" {
	jq '.epic.title = "Evil\u001b]0;pwned\u0007 title\u001b[2J\nsecond\rline\u009b31m\u202eend"
		| .epic.recommendations |= map(if .type == "blocking"
			then .title = "\u001b[31mRED\u001b[0m\nforged line\u0008\u0007" else . end)
		| .epic.riskAssessment.risks[0].description = "risk\u001b[1A\u001b[2Kup"
		| .epic.gaps = [{"persona": "architect", "status": "failed",
			"reason": "time\u001b[8mout\u001b]8;;http://x\u001b\\"}]' \
		"$RES/01-checkout-payments.json" >hostile.json
	for c in never always; do
		run -0 epic-show --color=$c hostile.json
		local plain bad
		# Our own colour (SGR) is the only escape allowed.
		plain=$(printf '%s\n' "$output" | sed 's/\x1b\[[0-9;]*m//g')
		bad=$(printf '%s' "$plain" | LC_ALL=C tr -d '\n\t\040-\176\200-\377' | wc -c)
		[ "$bad" -eq 0 ] || fail "control characters got through (--color=$c)"
		[[ "$plain" != *$'\e'* ]] || fail "an escape sequence got through (--color=$c)"
		[[ "$plain" != *$'\xc2\x9b'* && "$plain" != *$'\xe2\x80\xae'* ]] ||
			fail "a C1 control or bidi override got through"
	done
	run -0 epic-show --color=never hostile.json
	assert_line --index 0 "Evil title second line31mend"
	assert_output --partial "RED forged line"
	refute_line "forged line"
	assert_output --partial "architecture   riskup"
	assert_output --partial "architect failed: timeout"
}

@test "the pager runs on a terminal when the text is longer than the screen" {
	make_pager
	EPIC_PAGER="$BATS_TEST_TMPDIR/pager" on_tty 20 epic-show "$RES/01-checkout-payments.json"
	run cat "$PAGER_LOG"
	assert_output "ran LESS=FRX"
	grep -q "Blocking, by priority" "$BATS_TEST_TMPDIR/paged"
}

@test "PAGER is the pager when EPIC_PAGER is unset; a set LESS is kept" {
	make_pager
	PAGER="$BATS_TEST_TMPDIR/pager" LESS=R on_tty 20 epic-show "$RES/01-checkout-payments.json"
	run cat "$PAGER_LOG"
	assert_output "ran LESS=R"
}

@test "no pager off a terminal, on a tall screen, with --no-pager, or when it is cat or empty" {
	make_pager
	EPIC_PAGER="$BATS_TEST_TMPDIR/pager" run -0 epic-show "$RES/01-checkout-payments.json"
	assert_output --partial "Blocking, by priority"
	EPIC_PAGER="$BATS_TEST_TMPDIR/pager" on_tty 200 epic-show "$RES/01-checkout-payments.json"
	grep -q "Blocking, by priority" "$BATS_TEST_TMPDIR/tty.out"
	EPIC_PAGER="$BATS_TEST_TMPDIR/pager" on_tty 20 epic-show --no-pager "$RES/01-checkout-payments.json"
	grep -q "Blocking, by priority" "$BATS_TEST_TMPDIR/tty.out"
	EPIC_PAGER=cat PAGER="$BATS_TEST_TMPDIR/pager" on_tty 20 epic-show "$RES/01-checkout-payments.json"
	EPIC_PAGER= PAGER="$BATS_TEST_TMPDIR/pager" on_tty 20 epic-show "$RES/01-checkout-payments.json"
	grep -q "Blocking, by priority" "$BATS_TEST_TMPDIR/tty.out"
	assert_file_not_exist "$PAGER_LOG"
}

@test "a pager that cannot be started leaves the text printed" {
	EPIC_PAGER="$BATS_TEST_TMPDIR/no-such-pager" on_tty 20 epic-show "$RES/01-checkout-payments.json"
	grep -q "Blocking, by priority" "$BATS_TEST_TMPDIR/tty.out"
}

@test "a task id, the newest finished task, standard input: the same result" {
	local id
	mkdir -p "$EPIC_SPOOL"
	epic run -q "$REQ/14-admin-audit-log.txt" >/dev/null
	epic run -q "$REQ/07-manager-dashboards.txt" >a.json
	id=$(jq -r .epic.metadata.taskId a.json)
	run -0 epic-show "$id"
	assert_line --index 0 "Analytics dashboards for managers"
	assert_output --partial "epic render --format html $id"
	run -0 epic show
	assert_line --index 0 "Analytics dashboards for managers"
	run -0 epic-show - <a.json
	assert_line --index 0 "Analytics dashboards for managers"
}

@test "no such task, an unfinished spool, a file that is not an EpicResponse: exit 1" {
	run -1 epic-show no-such-task-0123abcd
	assert_output --partial "no such file, and no task 'no-such-task-0123abcd'"
	run -1 epic-show --spool "$BATS_TEST_TMPDIR/empty"
	assert_output --partial "no finished task"
	echo '{"summary": {}}' >bad.json
	run -1 epic-show bad.json
	assert_output --partial "bad.json: not an EpicResponse"
	echo 'not json' >bad.json
	run -1 epic-show bad.json
	assert_output --regexp "bad.json:1:[0-9]+:"
}

@test "a write error on standard output is a temporary failure (111)" {
	[ -w /dev/full ] || skip "needs /dev/full"
	run -111 bash -c 'epic-show "$1" >/dev/full' _ "$RES/01-checkout-payments.json"
	assert_output --partial "cannot write standard output"
}

@test "epic-show only reads: the spool is the same after it" {
	local before
	before=$(cd "$RSPOOL" && find . -printf '%p %s %T@ %m\n' | sort)
	epic-show --spool "$RSPOOL" >/dev/null
	epic-show --spool "$RSPOOL" "$(ls "$RSPOOL/done" | head -n 1)" >/dev/null
	[ "$(cd "$RSPOOL" && find . -printf '%p %s %T@ %m\n' | sort)" = "$before" ]
}
