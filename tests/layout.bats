#!/usr/bin/env bats
# The house rules that keep a class of defect from being written again (issue 9):
# each fact has one home in tools/lib/, and these greps fail the suite when code
# elsewhere starts doing the same thing its own way.

load test_helper

# only_in PATTERN...: fail naming every line of $output (grep -n output) that
# matches none of the shell patterns.
only_in() {
	local line pat bad="" ok
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		ok=0
		for pat in "$@"; do
			# shellcheck disable=SC2254
			case $line in $pat) ok=1 ;; esac
		done
		[ "$ok" = 1 ] || bad="$bad"$'\n'"$line"
	done <<< "$output"
	[ -z "$bad" ] || fail "not where it belongs:$bad"
}

@test "files are opened only in open.c (the spool) and file.c (paths a caller names)" {
	cd "$ROOT"
	# persona-run opens task.log in the task directory it was given.
	run grep -nE '(^|[^_a-z])(open|openat|fopen)\(' tools/*.c tools/lib/*.c
	only_in 'tools/lib/open.c:*' 'tools/lib/file.c:*' 'tools/persona-run.c:*p.err_fd = open(logpath*'
}

@test "one id rule: only ec_id_valid spells out what a task id may hold" {
	cd "$ROOT"
	run grep -lF '0123456789._-' tools/*.c tools/lib/*.c
	assert_output "tools/lib/spool.c"
	run grep -c 'ec_id_valid' tools/epic.c tools/epic-parse.c tools/lib/task.c tools/lib/claim.c
	refute_output --partial ':0'
}

@test "one verdict: every tool exits through ec_exit, never exit() of its own" {
	cd "$ROOT"
	run grep -nE '(^|[^_a-z])exit\(' tools/*.c
	refute_output
}

@test "the spool's logs are written through one function each, escaped on stderr" {
	cd "$ROOT"
	# A name from outside reaches stderr only through ec_warn (err.c escapes it), or
	# as the progress line progress.c redraws on a terminal (escaped where it is made).
	run grep -nE 'fprintf\(stderr' tools/*.c tools/lib/*.c
	only_in 'tools/lib/err.c:*' 'tools/lib/progress.c:*fprintf(stderr, "*", line);'
}

@test "the library stays in small files, each named in ec.h's list of concerns (issue 10)" {
	cd "$ROOT"
	local f bad=""
	# ec.h opens with one sentence per file: a reader finds a fact's home there.
	for f in tools/lib/*.c; do
		sed -n '1,/^ \*\/$/p' tools/lib/ec.h | tr '\n' ' ' | grep -qE "[ (]${f#tools/lib/}[ ,)]" ||
			bad="$bad ${f#tools/lib/}"
	done
	[ -z "$bad" ] || fail "not in ec.h's list:$bad"
	# about a thousand lines is where a file stops having one job
	run bash -c "wc -l tools/*.c tools/lib/*.c tools/lib/*.h | awk '\$2 != \"total\" && \$1 > 1100'"
	refute_output
}
