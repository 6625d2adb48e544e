#!/usr/bin/env bats
# examples/cron/epic-nightly, the wrapper the example crontab runs: silent when
# the night went well, the failure and the run's last lines on its output (which
# cron mails) and a non-zero exit when it did not. Driven with the real watcher on
# a temporary spool, the wrapper's tool directory set as `make install` sets it.

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	# The fixture registry, copied so a test can break a persona.
	REG="$BATS_TEST_TMPDIR/reg"
	cp -r "$FIX/registry" "$REG"
	export EPIC_PERSONA_PATH="$REG"
	fast_watcher_config 0
	# The tools under test in a directory of their own, where a test may add a fake
	# epic-purge; the wrapper with that directory in place of /usr/local/bin.
	TOOLS="$BATS_TEST_TMPDIR/tools"
	mkdir "$TOOLS"
	ln -s "$BIN"/* "$TOOLS"/
	rm -f "$TOOLS/epic-purge"
	W="$BATS_TEST_TMPDIR/epic-nightly"
	sed "s|/usr/local/bin|$TOOLS|g" "$ROOT/examples/cron/epic-nightly" >"$W"
	chmod +x "$W"
	LOG="$EPIC_SPOOL/log/nightly.log"
}

# nightly ARGS: the wrapper as cron starts it: a short PATH without the tools,
# no terminal; stdout and stderr both in $output (cron mails both).
nightly() {
	env PATH=/usr/bin:/bin "$W" "$@" </dev/null
}

@test "a night that went well prints nothing and exits 0; the log has the run" {
	request 1 >good.md
	run -0 epic-submit good.md
	id=$output
	run -0 nightly
	assert_output ""
	assert_file_exist "$EPIC_SPOOL/done/$id/epic.json"
	run -0 cat "$LOG"
	assert_line --regexp "^== .* epic-nightly: epic-watch --once on $EPIC_SPOOL\$"
	assert_line --regexp "^epic-watch: $id: done in [0-9.]+ s\$"
	assert_line --regexp '^== .* epic-nightly: exit 0$'
	# A night with nothing to do is silent too, and appends to the same log.
	run -0 nightly
	assert_output ""
	run -0 grep -c 'exit 0$' "$LOG"
	assert_output 2
}

@test "a rejected request: the failure and the run's last lines on stdout, exit 1" {
	request 1 >good.md
	run -0 epic-submit good.md
	printf '{not json' >"$EPIC_SPOOL/incoming/broken.json"
	run -1 nightly
	assert_line --index 0 "epic-nightly: the nightly run on '$EPIC_SPOOL' failed (exit 1); its last lines follow, all of them are in '$LOG'"
	assert_line --regexp '^epic-watch: broken-[0-9a-f]{8}: failed in [0-9.]+ s: '
	assert_line --regexp '^== .* epic-nightly: exit 1$'
	run -0 grep -c 'failed in' "$LOG"
	assert_output 1
	# EPIC_NIGHTLY_LINES bounds the mail: the heading, a blank line, the last 2 lines.
	printf '{not json' >"$EPIC_SPOOL/incoming/broken2.json"
	EPIC_NIGHTLY_LINES=2 run -1 nightly
	assert_equal "${#lines[@]}" 3
	assert_line --index 2 --regexp '^== .* epic-nightly: exit 1$'
}

@test "a task that fails temporarily: mailed, exit 111, the task waits in deferred/" {
	fast_watcher_config 1
	jq '.command = ["/bin/false"] | del(.rules)' "$FIX/registry/product-owner.json" >"$REG/product-owner.json"
	request 1 >good.md
	run -0 epic-submit good.md
	id=$output
	run -111 nightly
	assert_line --index 0 --partial "failed (exit 111)"
	assert_line --regexp "^epic-watch: $id: deferred \(retry in [0-9]+ s\): "
	assert [ -d "$EPIC_SPOOL/deferred/$id" ]
}

@test "a spool that cannot be written: the run's output on stdout all the same, non-zero exit" {
	: >"$BATS_TEST_TMPDIR/plain"
	local spool="$BATS_TEST_TMPDIR/plain/spool"
	run nightly "$spool"
	assert [ "$status" -ne 0 ]
	assert_line --index 0 "epic-nightly: cannot append to '$spool/log/nightly.log'; this run's output follows"
	assert_line --regexp "^epic-watch: .*plain/spool"
	assert_line --regexp '^== .* epic-nightly: exit [1-9][0-9]*$'
}

@test "the previous night still running: this one is skipped, and says so" {
	request 1 >good.md
	run -0 epic-submit good.md
	# The lock taken here, on an open file of this shell's own, as a running night holds it.
	mkdir -p "$EPIC_SPOOL/log"
	exec 8>>"$EPIC_SPOOL/log/nightly.lock"
	flock -n 8
	run -111 nightly
	assert_output "epic-nightly: skipped: the previous nightly run on '$EPIC_SPOOL' still holds log/nightly.lock"
	# nothing was claimed
	run -0 ls "$EPIC_SPOOL/incoming"
	assert_output --regexp '^good-[0-9a-f]{8}\.md$'
	exec 8>&-
	run -0 nightly
	assert_output ""
}

@test "epic-purge, when installed, runs after the watcher; a failing purge is mailed" {
	cat >"$TOOLS/epic-purge" <<-EOF
	#!/bin/sh
	echo "purge \$* EPIC_SPOOL=\$EPIC_SPOOL" >>"$BATS_TEST_TMPDIR/purge.calls"
	[ ! -e "$BATS_TEST_TMPDIR/purge.fails" ] && exit 0
	echo "epic-purge: cannot remove 'done/x': Read-only file system" >&2
	exit 111
	EOF
	chmod +x "$TOOLS/epic-purge"
	run -0 nightly
	assert_output ""
	run -0 cat "$BATS_TEST_TMPDIR/purge.calls"
	assert_output "purge --spool $EPIC_SPOOL EPIC_SPOOL=$EPIC_SPOOL"
	run -0 grep -n 'epic-nightly:' "$LOG"
	assert_line --index 0 --regexp '^1:== .*epic-watch --once'
	assert_line --index 1 --regexp '^[0-9]+:== .*epic-nightly: epic-purge$'
	touch "$BATS_TEST_TMPDIR/purge.fails"
	run -111 nightly
	assert_line --index 0 --partial "failed (exit 111)"
	assert_line "epic-purge: cannot remove 'done/x': Read-only file system"
}
