#!/usr/bin/env bats
# security.roles with real second users (make_role_users; skipped only where users
# cannot be created): the admin commands refuse everyone but the spool's owner and
# the admin groups' members, each refusal is audited (through refused/ when the
# caller cannot write the log), and the view group reads copies of results in
# view/ID/ while done/ stays the owner's. Without roles nothing changes.

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	S="$EPIC_SPOOL"
	WATCHERS=()
}

teardown() {
	for p in "${WATCHERS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${SUDOERS:-}" ] && rm -f "$SUDOERS"
	if [ -n "${SVC:-}" ]; then
		pkill -9 -u "$SVC" 2>/dev/null || true
		userdel "$SVC" 2>/dev/null || true
	fi
	remove_users
}

# The shared spool of make_role_users with security.roles (and more YAML lines) in
# SHARED/roles.yml, readable by the test users, exported as EPIC_CONFIG.
roles_spool() {
	make_role_users
	S="$EPIC_SPOOL"
	printf '%s\n' security: '  roles:' "    submit: [$GRP]" "    view: [$VIEWG]" \
		"    admin: [$ADMG]" "$@" >"$SHARED/roles.yml"
	chmod 0644 "$SHARED/roles.yml"
	export EPIC_CONFIG="$SHARED/roles.yml"
	ID=$(cat "$SHARED/owner-id")
}

# as_cfg USER CMD...: CMD as USER with the test's spool and config.
as_cfg() {
	local u=$1
	shift
	as "$u" env EPIC_CONFIG="$EPIC_CONFIG" "$@"
}

# The "refused" events of the log as "UID COMMAND-or-REASON BY" lines.
refusals() {
	jq -r 'select(.event == "refused") | "\(.uid) \(.command // .reason) \(.by // "drop")"' \
		"$S/log/audit.jsonl"
}

@test "without security.roles nothing changes: a member is stopped by the owner's files, nothing is dropped or audited" {
	unset EPIC_CONFIG
	make_role_users
	S="$EPIC_SPOOL"
	ID=$(cat "$SHARED/owner-id")
	run -1 as "$MEMBER" epic-queue hold "$ID"
	assert_output --partial "only the spool's owner (uid $(id -u)) may"
	refute_output --partial refused
	run -1 as "$ADMIN" epic-queue delete "$ID"
	[ -z "$(ls -A "$S/refused")" ]
	run -0 epic audit verify
	run refusals
	refute_output
	[ -f "$S/incoming/$ID.md" ]
	run -0 epic hold "$ID"
	[ -f "$S/hold/$ID.md" ]
}

@test "a submit-only member is refused on every admin command (exit 1); the owner folds the refusals into the log and verify passes" {
	roles_spool
	local cmd uid
	uid=$(id -u "$MEMBER")
	for cmd in hold release requeue delete; do
		run -1 --separate-stderr as_cfg "$MEMBER" epic-queue "$cmd" "$ID"
		assert_equal "$stderr" "epic-queue: $cmd refused: user '$MEMBER' (uid $uid) is neither the spool's owner nor in an admin group of security.roles (admin: $ADMG)"
	done
	run -1 as_cfg "$MEMBER" epic-purge
	assert_output --partial "purge refused: user '$MEMBER'"
	run -1 as_cfg "$MEMBER" epic-forget --task "$ID"
	assert_output --partial "forget refused: user '$MEMBER'"
	run -1 as_cfg "$VIEWER" epic hold "$ID"
	assert_output --partial "epic: hold refused: user '$VIEWER'"
	# Nothing moved; the drops wait in refused/, each the caller's own file.
	[ -f "$S/incoming/$ID.md" ]
	[ "$(find "$S/refused" -type f -name '*.json' | wc -l)" -eq 7 ]
	[ "$(find "$S/refused" -type f -user "$MEMBER" | wc -l)" -eq 6 ]
	run -0 epic audit verify
	[ -z "$(ls -A "$S/refused")" ]
	run -0 refusals
	assert_output - <<-END
		$uid hold drop
		$uid release drop
		$uid requeue drop
		$uid delete drop
		$uid purge drop
		$uid forget drop
		$(id -u "$VIEWER") hold drop
	END
	run -0 jq -r 'select(.event == "refused") | .user' "$S/log/audit.jsonl"
	[ "$(sort -u <<<"$output")" = "$(printf '%s\n' "$MEMBER" "$VIEWER" | sort)" ]
	run -0 epic audit verify
}

@test "an outsider cannot pass the spool's root: refused, exit 1, and told its refusal could not be recorded" {
	roles_spool
	run -1 as_cfg "$OUTSIDER" epic-queue delete "$ID"
	assert_output --partial "delete refused: user '$OUTSIDER'"
	assert_output --partial "the refusal could not be recorded"
	[ -f "$S/incoming/$ID.md" ]
	[ -z "$(ls -A "$S/refused")" ]
}

@test "through sudo the person is sudo's: an outsider is refused and audited at once, an admin-group member moves and deletes" {
	roles_spool
	# What sudo -u OWNER gives the command: the owner's process, the person in SUDO_UID.
	run -1 env SUDO_UID="$(id -u "$OUTSIDER")" SUDO_USER="$OUTSIDER" epic delete "$ID"
	assert_output --partial "delete refused: user '$OUTSIDER'"
	refute_output --partial "could not be recorded"
	run -0 refusals
	assert_output "$(id -u "$OUTSIDER") delete sudo"
	run -0 env SUDO_UID="$(id -u "$ADMIN")" SUDO_USER="$ADMIN" epic hold "$ID"
	[ -f "$S/hold/$ID.md" ]
	run -0 env SUDO_UID="$(id -u "$ADMIN")" SUDO_USER="$ADMIN" epic release "$ID"
	run -0 env SUDO_UID=0 epic hold "$ID"          # root may become the owner anyway
	run -0 env SUDO_UID="$(id -u "$ADMIN")" SUDO_USER="$ADMIN" epic delete "$ID"
	[ ! -e "$S/hold/$ID.md" ]
	run -0 env SUDO_UID="$(id -u "$ADMIN")" epic-purge --dry-run
	run -0 env SUDO_UID="$(id -u "$ADMIN")" epic-forget --task "$ID"
	run -0 epic audit verify
	run -0 refusals
	assert_output "$(id -u "$OUTSIDER") delete sudo"
}

@test "epic key rotate is an admin command: refused before any key is made, audited; an admin rotates" {
	roles_spool
	export EPIC_KEY_DIR="$BATS_TEST_TMPDIR/keys"
	run -1 env SUDO_UID="$(id -u "$OUTSIDER")" SUDO_USER="$OUTSIDER" epic key rotate
	assert_output --partial "key-rotate refused: user '$OUTSIDER'"
	[ ! -e "$EPIC_KEY_DIR" ] || fail "a refused rotate made a key"
	run -0 refusals
	assert_output "$(id -u "$OUTSIDER") key-rotate sudo"
	run -0 env SUDO_UID="$(id -u "$ADMIN")" SUDO_USER="$ADMIN" epic key rotate
	run -0 jq -r 'select(.event == "key-rotate") | .sudoUid' "$S/log/audit.jsonl"
	assert_output "$(id -u "$ADMIN")"
	run -0 epic audit verify
}

@test "a config with encryption at rest and a view group is refused: view copies are in clear" {
	printf 'security:\n  encryptAtRest: true\n  roles:\n    view: [nogroup]\n' >both.yml
	run -1 epic-purge --dry-run --config both.yml
	assert_output --regexp "both.yml:4:[0-9]+: security.roles.view: view copies are results in clear, which security.encryptAtRest forbids"
}

@test "for real through sudo(8), on a service user's spool: an admin holds and releases, a submitter is refused and audited" {
	command -v sudo >/dev/null && command -v visudo >/dev/null || skip "needs sudo"
	make_role_users
	local sp="$SHARED/svc/spool" id q="$SHARED/bin/epic-queue"
	SVC="ecsvc$$"
	useradd -M -U -d /nonexistent -s /usr/sbin/nologin "$SVC" || skip "cannot create a user"
	install -d -o "$SVC" -m 0711 "$SHARED/svc"
	# The installed config the tools find beside them (sudo's env_reset drops
	# EPIC_CONFIG and EPIC_SPOOL: the caller cannot choose another).
	mkdir -m 0755 "$SHARED/pipeline"
	printf '%s\n' security: '  roles:' "    admin: [$ADMG]" >"$SHARED/pipeline/epic-creator.yml"
	chmod 0644 "$SHARED/pipeline/epic-creator.yml"
	id=$(runuser -u "$SVC" -- "$SHARED/bin/epic-submit" --spool "$sp" - < "$ROOT/examples/requests/03-file-uploads.txt")
	chgrp "$GRP" "$sp" "$sp/tmp" "$sp/incoming" "$sp/refused"
	SUDOERS="/etc/sudoers.d/ectest$$"
	printf '%s ALL=(%s) NOPASSWD: %s\n' "$ADMIN" "$SVC" "$q" "$MEMBER" "$SVC" "$q" >"$SUDOERS.new"
	chmod 0440 "$SUDOERS.new"
	visudo -cqf "$SUDOERS.new" || { rm -f "$SUDOERS.new"; fail "a bad sudoers file"; }
	mv "$SUDOERS.new" "$SUDOERS"
	run -1 as "$MEMBER" env EPIC_CONFIG=/dev/null sudo -n -u "$SVC" "$q" hold --spool "$sp" "$id"
	assert_output --partial "hold refused: user '$MEMBER' (uid $(id -u "$MEMBER"))"
	[ -z "$(ls -A "$sp/hold")" ]
	run -0 as "$ADMIN" sudo -n -u "$SVC" "$q" hold --spool "$sp" "$id"
	[ -n "$(ls -A "$sp/hold")" ]
	run -0 as "$ADMIN" sudo -n -u "$SVC" "$q" release --spool "$sp" "$id"
	[ -z "$(ls -A "$sp/hold")" ]
	# The moves' lines say who was behind the service user.
	run -0 jq -r 'select(.event == "hold" or .event == "release") | "\(.event) \(.uid) \(.sudoUid)"' "$sp/log/audit.jsonl"
	assert_output "$(printf 'hold %s %s\nrelease %s %s' "$(id -u "$SVC")" "$(id -u "$ADMIN")" "$(id -u "$SVC")" "$(id -u "$ADMIN")")"
	run -0 jq -r 'select(.event == "refused") | "\(.uid) \(.command) \(.by)"' "$sp/log/audit.jsonl"
	assert_output "$(id -u "$MEMBER") hold sudo"
	run -0 runuser -u "$SVC" -- "$SHARED/bin/epic-audit" verify --spool "$sp"
}

@test "an admin-group member passes the roles; what it may then do is the filesystem's (not the owner's files)" {
	roles_spool
	run -1 as_cfg "$ADMIN" epic-queue hold "$ID"
	refute_output --partial refused
	assert_output --partial "only the spool's owner"
	[ -z "$(ls -A "$S/refused")" ]
	# The owner itself always may.
	run -0 epic hold "$ID"
	run -0 epic release "$ID"
}

@test "hostile drops: a link, a FIFO, an oversize file, a directory and forged content are each one malformed refusal of their owner, and go" {
	roles_spool
	local uid
	uid=$(id -u "$MEMBER")
	as "$MEMBER" sh -c 'cd "$1" &&
		ln -s /etc/shadow link.json &&
		mkfifo fifo.json &&
		head -c 5000 /dev/zero | tr "\0" x > big.json &&
		printf "{\"command\":\"hold\",\"time\":\"2026-01-01T00:00:00Z\",\"uid\":0}" > forged.json &&
		printf "{\"command\":\"rm -rf\",\"time\":\"2026-01-01T00:00:00Z\"}" > notacommand.json &&
		mkdir dir.json && : > dir.json/inside &&
		printf "{\"command\":\"purge\",\"time\":\"2026-01-01T00:00:00Z\"}" > good.json' sh "$S/refused"
	run -0 timeout 20 epic audit tail -n 0
	run -0 refusals
	assert_output - <<-END
		$uid malformed drop
		$uid malformed drop
		$uid malformed drop
		$uid malformed drop
		$uid purge drop
		$uid malformed drop
		$uid malformed drop
	END
	run -0 jq -r 'select(.command == "purge") | .refusedAt' "$S/log/audit.jsonl"
	assert_output "2026-01-01T00:00:00Z"
	# The directory with something in it is set aside, never folded twice.
	[ "$(ls "$S/refused")" = "" ]
	[ -d "$S/refused/.bad.dir.json" ]
	run -0 epic health --json
	[ "$(refusals | wc -l)" -eq 7 ]
	run -0 epic audit verify
}

@test "the watcher folds refusals as it goes" {
	roles_spool
	fast_watcher_config 1 security: '  roles:' "    admin: [$ADMG]"
	cp "$CFG" "$SHARED/roles.yml"
	export EPIC_CONFIG="$SHARED/roles.yml"
	watcher
	run -1 as_cfg "$MEMBER" epic-queue requeue "$ID"
	for _ in $(seq 1 100); do [ -z "$(ls -A "$S/refused")" ] && break; sleep 0.1; done
	[ -z "$(ls -A "$S/refused")" ] || fail "the watcher left $(ls "$S/refused")"
	run -0 refusals
	assert_output "$(id -u "$MEMBER") requeue drop"
}

@test "the view group reads view/ID/ (epic.json, report.md), never done/; delete, forget and purge remove the copies" {
	roles_spool
	use_fixture_registry
	local a b
	request view-a >a.txt
	request view-b >b.txt
	epic run -q a.txt >/dev/null
	a=$(ls "$S/done" | grep '^a-')
	# The watcher makes them too.
	b=$(epic-submit b.txt)
	run -0 epic-watch --once
	for t in "$a" "$b"; do
		[ "$(stat -c '%a %G' "$S/view/$t")" = "2750 $VIEWG" ]
		[ "$(stat -c '%a %G' "$S/view/$t/epic.json" "$S/view/$t/report.md" | sort -u)" = "640 $VIEWG" ]
		as "$VIEWER" cat "$S/view/$t/epic.json" >"$t.json"
		cmp "$t.json" "$S/done/$t/epic.json"
		run -0 as "$VIEWER" grep -c '^# ' "$S/view/$t/report.md"
		run -1 as "$VIEWER" cat "$S/done/$t/epic.json"
		run -1 as "$MEMBER" cat "$S/view/$t/epic.json"
		run -1 as "$OUTSIDER" cat "$S/view/$t/epic.json"
	done
	run -0 epic delete "$a"
	[ ! -e "$S/view/$a" ]
	run -0 epic forget --task "$b"
	[ ! -e "$S/view/$b" ]
	epic run -q a.txt >/dev/null
	[ -d "$S/view/$a" ]
	run -0 env EPIC_NOW=$(( $(date +%s) + 400 * 86400 )) epic purge
	assert_output --partial "removed view/$a"
	[ ! -e "$S/view/$a" ] && [ ! -e "$S/done/$a" ]
}

@test "the schema: roles take group names, view one group, nothing else" {
	for y in '    view: [a, b]' '    admin: ["bad name"]' '    readers: [x]' '    admin: wheel'; do
		printf '%s\n' security: '  roles:' "$y" >bad.yml
		run -1 epic-purge --dry-run --config bad.yml
		assert_output --partial 'security.roles'
	done
	printf '%s\n' security: '  roles:' '    admin: [nosuchgroup-ec]' >ok.yml
	run -1 epic-purge --dry-run --config ok.yml
	assert_output --partial "cannot open the spool"
	request 1 | epic-submit - >/dev/null
	run -0 epic-purge --dry-run --config ok.yml
}
