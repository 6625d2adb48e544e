#!/usr/bin/env bats
# The spool's permissions: the modes of a new spool, an operator's modes kept, and
# the model they serve: members of the spool's group can drop requests (epic submit)
# but not list waiting requests or read anyone's results.

load test_helper

REQ="$ROOT/examples/requests"

setup() {
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	remove_users
}

# "MODE NAME" for the spool root and each state directory, as stat prints them.
modes() {
	(cd "$1" && stat -c '%a %n' . tmp incoming active done failed deferred cache log refused)
}

EXPECTED_MODES='710 .
1730 tmp
1730 incoming
700 active
700 done
700 failed
700 deferred
700 cache
700 log
1730 refused'

@test "a new spool gets its modes whatever the umask" {
	local m
	for m in 022 077 000; do
		(umask "$m" && epic-submit --spool "spool$m" "$REQ/02-enterprise-sso.md" >/dev/null)
		run -0 modes "spool$m"
		assert_output "$EXPECTED_MODES"
	done
}

@test "the root's missing parents are created as ordinary directories" {
	(umask 022 && epic-submit --spool "a/b/spool/" "$REQ/02-enterprise-sso.md" >/dev/null)
	[ "$(stat -c %a a a/b)" = "$(printf '755\n755')" ]
	run -0 modes a/b/spool
	assert_output "$EXPECTED_MODES"
}

@test "an existing directory keeps its mode; only the missing ones are created" {
	mkdir -m 0755 spool
	mkdir -m 0750 spool/done spool/log
	mkdir -m 0733 spool/incoming
	chmod 0733 spool/incoming
	epic-submit --spool spool "$REQ/02-enterprise-sso.md" >/dev/null
	run -0 modes spool
	assert_output '755 .
1730 tmp
733 incoming
700 active
750 done
700 failed
700 deferred
700 cache
750 log
1730 refused'
	# And a second use changes nothing either.
	chmod 0711 spool/tmp
	epic-submit --spool spool "$REQ/03-file-uploads.txt" >/dev/null
	[ "$(stat -c %a spool/tmp)" = 711 ]
}

@test "a file where a state directory belongs is an error naming it" {
	mkdir spool
	: >spool/incoming
	run -1 epic-submit --spool spool "$REQ/02-enterprise-sso.md"
	assert_output "epic-submit: cannot use 'spool/incoming': not a directory"
}

@test "a member of the spool's group can submit; the request is theirs and readable by the watcher" {
	make_users
	run -0 --separate-stderr as "$MEMBER" sh -c 'umask 077; exec epic-submit --name member-req -' \
		<"$REQ/03-file-uploads.txt"
	assert_output --regexp '^member-req-[0-9a-f]{8}$'
	local f="$EPIC_SPOOL/incoming/$output.txt"
	cmp "$REQ/03-file-uploads.txt" "$f"
	# 0644 despite the umask: the watcher runs as another user and must read it.
	[ "$(stat -c '%U %a' "$f")" = "$MEMBER 644" ]
	# log/ is the owner's: no audit line, a warning, and still success.
	[[ "$stderr" == *"cannot open '$EPIC_SPOOL/log/audit.jsonl': Permission denied (the request is queued without an audit line)" ]] ||
		fail "stderr: $stderr"
	[ -z "$(ls -A "$EPIC_SPOOL/tmp")" ]
}

@test "a member can neither list waiting requests nor read results, logs or the cache" {
	make_users
	local d
	for d in incoming tmp active done failed deferred cache log; do
		run ! as "$MEMBER" ls "$EPIC_SPOOL/$d"
		assert_output --partial "Permission denied"
	done
	run ! as "$MEMBER" cat "$EPIC_SPOOL/done/owners-task-0123abcd/epic.json"
	run ! as "$MEMBER" cat "$EPIC_SPOOL/log/audit.jsonl"
	refute_output --partial "submitted"
}

@test "a member cannot remove or replace another user's waiting request" {
	make_users
	local id f
	id=$(cat "$SHARED/owner-id")
	f="$EPIC_SPOOL/incoming/$id.md"
	run ! as "$MEMBER" rm -f "$f"
	run ! as "$MEMBER" mv "$f" "$EPIC_SPOOL/incoming/stolen.md"
	cmp "$REQ/02-enterprise-sso.md" "$f"
	# The same request from the member: already waiting, nothing written.
	run -0 --separate-stderr as "$MEMBER" epic-submit --name 02-enterprise-sso - <"$REQ/02-enterprise-sso.md"
	assert_output "$id"
	[ "$(stat -c %U "$f")" = root ]
}

@test "a user outside the group cannot submit: a temporary failure, nothing left behind" {
	make_users
	run -111 as "$OUTSIDER" epic-submit --name outsider - <"$REQ/03-file-uploads.txt"
	assert_output --regexp "^epic-submit: .*'$EPIC_SPOOL/.*': Permission denied$"
	[ "$(ls "$EPIC_SPOOL/incoming")" = "$(cat "$SHARED/owner-id").md" ]
	[ -z "$(ls -A "$EPIC_SPOOL/tmp")" ]
}
