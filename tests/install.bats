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
