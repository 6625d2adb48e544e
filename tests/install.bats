#!/usr/bin/env bats
# make install: PREFIX and DESTDIR honoured; the installed tools find their data.

load test_helper

@test "make install puts binaries, man pages, pipeline data and schemas under DESTDIR/PREFIX" {
	dest="$BATS_TEST_TMPDIR/dest"
	run -0 make -s -C "$ROOT" install PREFIX=/opt/ec DESTDIR="$dest"
	for t in epic epic-parse persona-rules persona-run; do
		assert_file_executable "$dest/opt/ec/bin/$t"
	done
	assert_file_exist "$dest/opt/ec/share/man/man1/epic-parse.1"
	assert_file_exist "$dest/opt/ec/share/man/man5/persona-rules.5"
	assert_file_exist "$dest/opt/ec/share/epic-creator/epic.mk"
	assert_file_exist "$dest/opt/ec/share/epic-creator/epic-creator.yml"
	assert_file_exist "$dest/opt/ec/share/epic-creator/personas/security-specialist.json"
	assert_file_exist "$dest/opt/ec/share/epic-creator/schemas/epic-request.schema.json"
	# The staged tools, pointed at their staged data, run a whole epic.
	export EPIC_DATADIR="$dest/opt/ec/share/epic-creator"
	run -0 "$dest/opt/ec/bin/epic" personas
	run -0 bash -c "'$dest/opt/ec/bin/epic' run -q '$ROOT/examples/requests/14-admin-audit-log.txt' | jq -r .epic.status"
	assert_output --regexp '^(complete|partial)$'
}

@test "make install puts the systemd units, tmpfiles entry, crontab, hooks and agent-persona examples under PREFIX, pointing at BINDIR" {
	local p="$BATS_TEST_TMPDIR/p" m
	run -0 make -s -C "$ROOT" install PREFIX="$p"
	for u in epic-watch.service epic-watch-nightly.service epic-watch-nightly.timer; do
		assert_file_exist "$p/lib/systemd/system/$u"
		assert_file_exist "$p/share/epic-creator/examples/systemd/$u"
	done
	assert_file_exist "$p/lib/tmpfiles.d/epic-creator.conf"
	run -0 grep -h '^ExecStart=' "$p/lib/systemd/system/epic-watch.service" "$p/lib/systemd/system/epic-watch-nightly.service"
	assert_line "ExecStart=$p/bin/epic-watch --spool /var/spool/epic-creator"
	assert_line "ExecStart=$p/bin/epic-watch --spool /var/spool/epic-creator --once"
	run -0 grep -h '^ExecStopPost=' "$p/lib/systemd/system/epic-watch-nightly.service"
	assert_output "ExecStopPost=$p/bin/epic purge --spool /var/spool/epic-creator"
	run -0 grep -c "$p/bin" "$p/share/epic-creator/examples/cron/crontab"
	assert_file_executable "$p/share/epic-creator/examples/personas/agent-persona"
	assert_file_exist "$p/share/epic-creator/examples/personas/agent-persona.json.example"
	assert_file_executable "$p/share/epic-creator/examples/hooks/after-completion.d/90-notify"
	assert_file_executable "$p/share/epic-creator/examples/hooks/after-persona.d/50-company-policy"
	# every man page in the tree is installed
	for m in "$ROOT"/man/*.[157]; do
		assert_file_exist "$p/share/man/man${m##*.}/${m##*/}"
	done
	# systemd itself accepts the installed units (and finds the man pages they cite)
	command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed (Debian package systemd)"
	MANPATH="$p/share/man" run -0 systemd-analyze verify "$p"/lib/systemd/system/*.service "$p"/lib/systemd/system/*.timer
	assert_output ""
}
