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

@test "make install puts the systemd units, sysusers and tmpfiles entries, crontab and its wrapper, hooks and agent-persona examples under PREFIX, pointing at BINDIR" {
	local p="$BATS_TEST_TMPDIR/p" m
	run -0 make -s -C "$ROOT" install PREFIX="$p"
	for u in epic-watch.service epic-watch-nightly.service epic-watch-nightly.timer; do
		assert_file_exist "$p/lib/systemd/system/$u"
		assert_file_exist "$p/share/epic-creator/examples/systemd/$u"
	done
	assert_file_exist "$p/lib/tmpfiles.d/epic-creator.conf"
	assert_file_exist "$p/lib/sysusers.d/epic-creator.conf"
	assert_file_exist "$p/share/epic-creator/examples/systemd/epic-creator.sysusers"
	assert_file_exist "$p/share/epic-creator/examples/systemd/epic-creator.tmpfiles"
	run -0 grep -hx 'SyslogIdentifier=epic-watch' "$p/lib/systemd/system/epic-watch.service" \
		"$p/lib/systemd/system/epic-watch-nightly.service"
	assert_equal "${#lines[@]}" 2
	run -0 grep -h '^ExecStart=' "$p/lib/systemd/system/epic-watch.service" "$p/lib/systemd/system/epic-watch-nightly.service"
	assert_line "ExecStart=$p/bin/epic-watch --spool /var/spool/epic-creator"
	assert_line "ExecStart=$p/bin/epic-watch --spool /var/spool/epic-creator --once"
	run -0 grep -h '^ExecStopPost=' "$p/lib/systemd/system/epic-watch-nightly.service"
	assert_output "ExecStopPost=$p/bin/epic purge --spool /var/spool/epic-creator"
	run -0 grep -c "$p/bin" "$p/share/epic-creator/examples/cron/crontab"
	# cron runs the installed wrapper, which finds the installed tools first
	assert_file_executable "$p/share/epic-creator/examples/cron/epic-nightly"
	run -0 grep -E '^[0-9].* epic-creator ' "$p/share/epic-creator/examples/cron/crontab"
	assert_output --partial " $p/share/epic-creator/examples/cron/epic-nightly /var/spool/epic-creator"
	run -0 grep '^PATH=' "$p/share/epic-creator/examples/cron/epic-nightly"
	assert_output "PATH=$p/bin:\${PATH:-/usr/bin:/bin}"
	run -0 grep -c '^MAILTO=' "$p/share/epic-creator/examples/cron/crontab"
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

@test "systemd accepts the installed sysusers and tmpfiles entries: in a scratch root, the user, then its spool" {
	command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null ||
		skip "systemd-sysusers and systemd-tmpfiles not installed (Debian package systemd)"
	local r="$BATS_TEST_TMPDIR/root" uid
	# Installed as a package would be; both tools find the entries by name in
	# /usr/local/lib/{sysusers,tmpfiles}.d under the root, as they do on a host.
	run -0 make -s -C "$ROOT" install PREFIX=/usr/local DESTDIR="$r"
	run -0 systemd-sysusers --root="$r" --dry-run epic-creator.conf
	assert_line --regexp "^Creating user 'epic-creator' \(epic-creator spool watcher\) with UID [0-9]+ and GID [0-9]+\.\$"
	assert_file_not_exist "$r/etc/passwd"
	# The spool's entry needs the user: without it, tmpfiles refuses.
	run ! systemd-tmpfiles --root="$r" --create epic-creator.conf
	assert_output --partial "Failed to resolve user 'epic-creator'"
	mkdir "$r/etc"
	run -0 systemd-sysusers --root="$r" epic-creator.conf
	run -0 grep '^epic-creator:' "$r/etc/passwd"
	assert_output --regexp '^epic-creator:x:[0-9]+:[0-9]+:epic-creator spool watcher:/var/spool/epic-creator:/usr/sbin/nologin$'
	uid=$(cut -d: -f3 <<<"$output")
	run -0 grep -c '^epic-creator:' "$r/etc/group"
	run -0 systemd-tmpfiles --root="$r" --create epic-creator.conf
	run -0 stat -c '%F %a %u %g' "$r/var/spool/epic-creator"
	assert_output "directory 710 $uid $(grep '^epic-creator:' "$r/etc/group" | cut -d: -f3)"
	# Run again, both change nothing and succeed (a reboot, a reinstall).
	run -0 systemd-sysusers --root="$r" epic-creator.conf
	assert_output ""
	run -0 systemd-tmpfiles --root="$r" --create epic-creator.conf
}
