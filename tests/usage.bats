#!/usr/bin/env bats
# Mistakes on the command line are usage errors, said in one line, with nothing made
# in the spool; a person at a terminal sees what is happening. epic run's --exclude,
# an empty or a terminal standard input, epic resume of no task, persona-run
# --health of an unknown name, the progress line and the done line on a real
# pseudo-terminal (script(1), util-linux), and make demo's last lines.

load test_helper

setup() {
	REQ="$ROOT/examples/requests/08-product-search.json"
	TXT="$ROOT/examples/requests/14-admin-audit-log.txt"
	PERSONAS='product-owner, architect, security-specialist, performance-specialist, accessibility-advocate, devops-engineer'
}

# No task anywhere in the spool: active/, done/, failed/ and deferred/ are empty or
# do not exist.
assert_no_task() {
	local left
	left=$(find "$EPIC_SPOOL"/active "$EPIC_SPOOL"/done "$EPIC_SPOOL"/failed "$EPIC_SPOOL"/deferred \
		-mindepth 1 -maxdepth 1 2>/dev/null || true)
	[ -z "$left" ] || fail "a task was made: $left"
}

# Run "$@" on a pseudo-terminal (stdin, stdout and stderr all on it); what the
# terminal got is in $output, with \r kept. Standard input comes from $PTY_IN.
on_tty() {
	command -v script >/dev/null || skip "needs script(1) (bsdutils)"
	local cmd
	printf -v cmd '%q ' "$@"
	run script -qfec "$cmd" /dev/null < "${PTY_IN:-/dev/null}"
}

@test "ec_nearest: the name, a prefix or a word of it, within a third of what was typed" {
	run -0 ec-test nearest securty product-owner architect security-specialist performance-specialist
	assert_output security-specialist
	run -0 ec-test nearest archtiect product-owner architect security-specialist
	assert_output architect
	run -0 ec-test nearest OWNER product-owner architect
	assert_output product-owner
	run -0 ec-test nearest stauts run resume status personas
	assert_output status
	run -0 ec-test nearest resme run resume status
	assert_output resume
	run -0 ec-test nearest zzzz product-owner architect
	assert_output none
	run -0 ec-test nearest ux product-owner architect
	assert_output none
	run -0 ec-test nearest '' product-owner
	assert_output none
}

@test "--exclude of an unknown persona: exit 2, one line with the nearest name first, no task" {
	run -2 epic run -q --exclude securty "$REQ"
	assert_output "epic: unknown persona 'securty' in --exclude: did you mean 'security-specialist'? registered: security-specialist, product-owner, architect, performance-specialist, accessibility-advocate, devops-engineer"
	run -2 epic run -q --exclude accessibility-advocate,zzz "$TXT"
	assert_output "epic: unknown persona 'zzz' in --exclude: registered: $PERSONAS"
	run -2 epic run -q --exclude ../x "$TXT"
	assert_output --partial "epic: unknown persona '../x' in --exclude"
	assert_no_task
}

@test "--exclude of a required persona: exit 2, saying where it is required, no task" {
	run -2 epic run -q --exclude product-owner "$REQ"
	assert_output "epic: cannot exclude 'product-owner': it is required (by its registration $ROOT/pipeline/personas/product-owner.json; personas.product-owner.required: false in the config changes that)"
	printf 'personas:\n  devops-engineer:\n    required: true\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -2 epic run -q --config "$BATS_TEST_TMPDIR/c.yml" --exclude devops-engineer "$TXT"
	assert_output "epic: cannot exclude 'devops-engineer': it is required (personas.devops-engineer.required in $BATS_TEST_TMPDIR/c.yml)"
	assert_no_task
	# Made optional by the config, it can be excluded.
	printf 'personas:\n  security-specialist:\n    required: false\n' > "$BATS_TEST_TMPDIR/opt.yml"
	run -0 --separate-stderr epic run -q --config "$BATS_TEST_TMPDIR/opt.yml" --exclude security-specialist "$TXT"
	run -0 jq -r '.summary.personasSkipped | join(",")' <<<"$output"
	assert_output security-specialist
}

@test "--exclude of a registered optional persona or of the request's custom persona runs" {
	run -0 --separate-stderr epic run -q --exclude devops-engineer,accessibility-advocate "$TXT"
	run -0 jq -r '.summary.personasSkipped | sort | join(",")' <<<"$output"
	assert_output accessibility-advocate,devops-engineer
	jq '.options.customPersonas = {"brand": {"persona": "architect", "reviewOrder": 9}}' "$REQ" > "$BATS_TEST_TMPDIR/custom.json"
	run -0 --separate-stderr epic run -q --exclude brand "$BATS_TEST_TMPDIR/custom.json"
}

@test "the same mistakes in a request file's own excludePersonas reject the request (exit 1, failed/)" {
	jq '.options.excludePersonas = ["securty"]' "$REQ" > "$BATS_TEST_TMPDIR/bad.json"
	run -1 epic run -q "$BATS_TEST_TMPDIR/bad.json"
	assert_output --partial '$.options.excludePersonas[0]: expected a registered persona, got "securty"'
	assert_output --partial "the request and the reason are in '$EPIC_SPOOL/failed/bad-"
	jq '.options.excludePersonas = ["product-owner"]' "$REQ" > "$BATS_TEST_TMPDIR/req.json"
	run -1 epic run -q "$BATS_TEST_TMPDIR/req.json"
	assert_output --partial "'product-owner' is a required persona and cannot be excluded"
	run -0 bash -c "ls '$EPIC_SPOOL/failed' | wc -l"
	assert_output 2
}

@test "an empty standard input is a usage error and no task; an empty file is a rejected request" {
	run -2 epic run -q - < /dev/null
	assert_output "epic: empty request on standard input"
	run -2 epic run -q <<<$' \n\t  \n'
	assert_output "epic: empty request on standard input"
	assert_no_task
	: > "$BATS_TEST_TMPDIR/empty.txt"
	run -1 epic run -q "$BATS_TEST_TMPDIR/empty.txt"
	assert_output --partial "empty request: expected a description or an EpicRequest"
	assert_dir_exist "$EPIC_SPOOL"/failed/empty-*
}

@test "on a terminal, epic run without a file says it reads the epic from standard input" {
	# Not a terminal: no such line.
	run -2 epic run -q < /dev/null
	refute_output --partial "reading the epic"
	on_tty epic run -q
	[ "$status" -eq 2 ] || fail "exit $status: $output"
	assert_output --partial $'epic: reading the epic from standard input (end with Ctrl-D; epic run --help for more)\r\nepic: empty request on standard input'
	cp "$TXT" "$BATS_TEST_TMPDIR/in.txt"
	PTY_IN="$BATS_TEST_TMPDIR/in.txt" on_tty epic run -q -
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_output --partial "epic: reading the epic from standard input"
	assert_output --regexp "done: $EPIC_SPOOL/done/stdin-[0-9a-f]{8}/epic.json"
}

@test "epic resume of an id that is no task says only that, exit 1" {
	run -1 --separate-stderr epic resume nosuch-task
	assert_equal "$stderr" "epic: no task 'nosuch-task' in '$EPIC_SPOOL'"
	assert_equal "$output" ""
	run -2 epic resume ../x
}

@test "persona-run --health NAME, --health --persona NAME; an unregistered name is exit 1 naming the registered" {
	run -0 --separate-stderr persona-run --health architect
	assert_equal "$(jq -c . <<<"$output")" '{"architect":true}'
	run -0 --separate-stderr persona-run --health --persona security-specialist
	assert_equal "$(jq -c . <<<"$output")" '{"security-specialist":true}'
	run -1 --separate-stderr persona-run --health --persona securty
	assert_equal "$stderr" "persona-run: no persona 'securty' is registered (registered: security-specialist, product-owner, architect, performance-specialist, accessibility-advocate, devops-engineer)"
	assert_equal "$output" ""
	run -1 --separate-stderr persona-run --health architect nope
	assert_equal "$stderr" "persona-run: no persona 'nope' is registered (registered: $PERSONAS)"
	assert_equal "$output" ""
}

@test "progress on a terminal: one line rewritten in place, n/6 and the persona running, then the done line" {
	# Each persona takes 0.4 s (an after-persona hook), one at a time.
	export EPIC_HOOKS_DIR="$BATS_TEST_TMPDIR/hooks"
	mkdir -p "$EPIC_HOOKS_DIR/after-persona.d"
	printf '#!/bin/sh\nsleep 0.4; exec cat\n' > "$EPIC_HOOKS_DIR/after-persona.d/10-slow"
	chmod +x "$EPIC_HOOKS_DIR/after-persona.d/10-slow"
	on_tty epic run -j1 "$REQ"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	# Every redraw starts with \r and a clear to the end of the line: no newline
	# between them, and no JSON on the terminal.
	frames=$(printf '%s' "$output" | tr '\r' '\n' | sed -n 's/^\x1b\[K//p')
	refute_output --partial '"epic"'
	seq=$(sed -n 's/^\[\([0-9]\)\/6\] \([a-z-]*\)  [0-9.]* s$/\1 \2/p' <<<"$frames" | uniq | tr '\n' ,)
	# (the aggregation may end before the next redraw, 0.1 s)
	assert_equal "${seq%6 aggregating,}" "0 product-owner,1 architect,2 security-specialist,3 performance-specialist,4 accessibility-advocate,5 devops-engineer,"
	id=$(basename "$EPIC_SPOOL"/done/*)
	read -r n b < <(jq -r '"\(.summary.totalRecommendations) \(.summary.blockingCount)"' "$EPIC_SPOOL/done/$id/epic.json")
	# The last line: the progress cleared, then where the result is, once.
	last=$(printf '%s' "$output" | tr '\r' '\n' | grep -v '^$' | tail -1)
	assert_equal "$last" $'\e[K'"done: $EPIC_SPOOL/done/$id/epic.json ($n recommendations, $b blocking) — epic show $id"
	[ "$(grep -c 'done: ' <<<"$output")" = 1 ] || fail "the done line twice"
	# The elapsed time grows.
	run -0 bash -c "tr '\r' '\n' <<<'$frames' | sed -n 's/.*  \([0-9.]*\) s$/\1/p' | tail -1"
	[ "${output%.*}" -ge 2 ] || fail "elapsed at the end: $output s"
}

@test "stdout not a terminal: the JSON there, the progress and the done line on the terminal" {
	on_tty bash -c "epic run '$TXT' > '$BATS_TEST_TMPDIR/out.json'"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	id=$(basename "$EPIC_SPOOL"/done/*)
	assert_output --partial $'\r\e[K'
	assert_output --partial "done: $EPIC_SPOOL/done/$id/epic.json ("
	cmp "$BATS_TEST_TMPDIR/out.json" "$EPIC_SPOOL/done/$id/epic.json"
}

@test "stderr not a terminal: no progress at all; -q: none on a terminal either" {
	run -0 bash -c "epic run '$TXT' 2>'$BATS_TEST_TMPDIR/err' | jq -r .summary.personasCompleted"
	assert_output 6
	assert_file_empty "$BATS_TEST_TMPDIR/err"
	on_tty bash -c "epic run -q '$TXT' > /dev/null"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_output ""
	# -q with stdout on the terminal: only the done line, the command's output.
	on_tty epic run -q "$TXT"
	assert_output --regexp $'^done: [^\r]*/epic.json \\([0-9]+ recommendations, [0-9]+ blocking\\) — epic show [^ ]+\r$'
	# -o - asks for the JSON on the terminal all the same.
	on_tty epic run -q -o - "$TXT"
	assert_output --partial '"epic": {'
	refute_output --partial 'done: '
}

@test "the done line names --spool when the spool is not the one epic show finds" {
	mkdir "$BATS_TEST_TMPDIR/my spool"
	on_tty epic run -q --spool "$BATS_TEST_TMPDIR/my spool/s" "$TXT"
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	assert_output --regexp "— epic show --spool '$BATS_TEST_TMPDIR/my spool/s' 14-admin-audit-log-[0-9a-f]{8}"
	# The same task resumed: the same line.
	id=$(basename "$BATS_TEST_TMPDIR/my spool/s"/done/*)
	on_tty epic resume -q --spool "$BATS_TEST_TMPDIR/my spool/s" "$id"
	assert_output --partial "— epic show --spool '$BATS_TEST_TMPDIR/my spool/s' $id"
}

@test "make demo ends with where the results are and the epic show command" {
	[ -x "$BIN/epic" ] && [ "$BIN" = "$ROOT/bin" ] || skip "demo.sh runs the checkout's bin/"
	run -0 bash "$ROOT/examples/demo.sh"
	assert_line --index -2 "demo: the results are in $EPIC_SPOOL/done/ID/epic.json; read one with:"
	id=$(tail -1 <<<"$output" | sed -n 's/.* show //p')
	assert_file_exist "$EPIC_SPOOL/done/$id/epic.json"
}
