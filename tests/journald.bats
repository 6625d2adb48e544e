#!/usr/bin/env bats
# Syslog priority prefixes on stderr when, and only when, stderr is the journal:
# systemd sets JOURNAL_STREAM=DEV:INO to the stream it connected (systemd.exec(5)),
# and a line that starts "<N>" is stored with priority N (sd-daemon(3)). Faked here
# with a file whose device and inode are put in JOURNAL_STREAM, driving the real
# watcher (epic-watch --once) and epic-submit on a temporary spool.

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	use_fixture_registry
	fast_watcher_config 0
	ERR="$BATS_TEST_TMPDIR/stderr"
	: >"$ERR"
	# What systemd would put there: st_dev and st_ino of the stream, in decimal.
	JS=$(stat -c '%d:%i' "$ERR")
}

# Run a command with its stderr into $ERR, the stand-in for the journal's stream.
stderr_to_err() { "$@" 2>>"$ERR"; }

# A good request and one that is not JSON at all: one done, one failed.
two_requests() {
	request 1 >good.md
	run -0 epic-submit good.md
	printf '{not json' >"$EPIC_SPOOL/incoming/broken.json"
}

@test "to the journal: information <6>, a failed task <4>, every line prefixed" {
	two_requests
	JOURNAL_STREAM="$JS" run -1 stderr_to_err epic-watch --once
	run cat "$ERR"
	assert_line --regexp '^<6>epic-watch: watching .*/incoming \(2 at a time, once\)$'
	assert_line --regexp '^<6>epic-watch: good-[0-9a-f]{8}: claimed incoming/good-[0-9a-f]{8}\.md$'
	assert_line --regexp '^<6>epic-watch: good-[0-9a-f]{8}: done in [0-9.]+ s$'
	assert_line --regexp '^<4>epic-watch: broken-[0-9a-f]{8}: failed in [0-9.]+ s: '
	assert_line --regexp '^<6>epic-watch: stopped \(peak RSS [0-9]+ KiB\)$'
	run grep -vc '^<[346]>epic-watch: ' "$ERR"
	assert_output 0
}

@test "to the journal: a message before a failing exit is an error, <3>" {
	# A spool under a regular file cannot be created: ec_die_err, exit 1.
	: >"$BATS_TEST_TMPDIR/plain"
	JOURNAL_STREAM="$JS" run -1 stderr_to_err epic-watch --once --spool "$BATS_TEST_TMPDIR/plain/spool"
	run cat "$ERR"
	assert_output --regexp '^<3>epic-watch: .*plain/spool'
	assert_equal "${#lines[@]}" 1
	# Any tool, through ec_die: epic-submit of a file that is not there, exit 1.
	: >"$ERR"
	JOURNAL_STREAM="$JS" run -1 stderr_to_err epic-submit "$BATS_TEST_TMPDIR/missing.md"
	run cat "$ERR"
	assert_output "<3>epic-submit: cannot open '$BATS_TEST_TMPDIR/missing.md': No such file or directory"
}

@test "not the journal: no prefix when JOURNAL_STREAM names another stream, is malformed or unset" {
	local other="$BATS_TEST_TMPDIR/other" js
	: >"$other"
	for js in "$(stat -c '%d:%i' "$other")" "$JS:1" "garbage" "${JS%%:*}:" ""; do
		: >"$ERR"
		JOURNAL_STREAM="$js" run -0 stderr_to_err epic-watch --once
		run cat "$ERR"
		assert_line --regexp '^epic-watch: watching '
		refute_output --regexp '(^|'$'\n'')<[0-9]>'
	done
	# A plain pipe (what cron or a shell gives) with the variable inherited.
	: >"$ERR"
	JOURNAL_STREAM="$JS" run -1 bash -o pipefail -c 'epic-submit "$1" 2>&1 | cat' _ "$BATS_TEST_TMPDIR/missing.md"
	assert_output "epic-submit: cannot open '$BATS_TEST_TMPDIR/missing.md': No such file or directory"
	unset JOURNAL_STREAM
	run -1 epic-submit "$BATS_TEST_TMPDIR/missing.md"
	assert_output "epic-submit: cannot open '$BATS_TEST_TMPDIR/missing.md': No such file or directory"
}

@test "to the journal: a name from incoming/ still cannot forge a line, nor its priority" {
	# A file name carrying a newline and a "<3>" of its own stays on its line, escaped.
	run -0 epic-watch --once
	request 2 >"$EPIC_SPOOL/incoming/x"$'\n''<3>forged.md'
	JOURNAL_STREAM="$JS" run -0 stderr_to_err epic-watch --once
	run cat "$ERR"
	refute_line --regexp '^<3>'
	assert_line --regexp '^<6>epic-watch: x_3_forged-[0-9a-f]{8}: claimed incoming/x\\n<3>forged\.md$'
}
