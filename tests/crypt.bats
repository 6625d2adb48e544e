#!/usr/bin/env bats
# Encryption at rest (security.encryptAtRest) and epic-key: what is sealed, that
# nothing of a request is left in clear, that a sealed file opens only with its key
# and in its place, rotation, and redaction of the stored request.

load test_helper

# A request with a sentence and an e-mail address found nowhere else.
SENTENCE="the zebra-striped quokka ledger is reconciled at moonrise"
EMAIL="marguerite.quokka@example.org"

setup() {
	export EPIC_KEY_DIR="$BATS_TEST_TMPDIR/keys"
	sed 's/encryptAtRest: false/encryptAtRest: true/' "$ROOT/pipeline/epic-creator.yml" \
		>"$BATS_TEST_TMPDIR/enc.yml"
	export EPIC_CONFIG="$BATS_TEST_TMPDIR/enc.yml"
	REQ="$BATS_TEST_TMPDIR/ledger.md"
	printf '# Nightly ledger export\n\nAs an accountant (write to %s) I want %s, exported to CSV for finance every night with an audit trail.\n' \
		"$EMAIL" "$SENTENCE" >"$REQ"
}

# The task directory of the one finished task.
done_dir() { echo "$EPIC_SPOOL/done/$(ls "$EPIC_SPOOL/done" | head -1)"; }

@test "epic key: --help, --version, usage errors" {
	run -0 epic-key --help
	assert_output --partial "rotate"
	run -0 epic-key --version
	assert_output --regexp '^epic-key [0-9]'
	run -2 epic-key
	run -2 epic-key frobnicate
	assert_output --partial "unknown subcommand 'frobnicate'"
	run -2 epic-key cat
	assert_output --partial "cat needs at least one FILE"
	run -2 epic-key list --dry-run
	run -0 epic key rotate --help
	assert_output --partial "re-seal"
}

@test "epic key new makes a private key of 64 hex digits, and list marks it current" {
	id=$(epic-key new 2>"$BATS_TEST_TMPDIR/said")
	run -0 cat "$BATS_TEST_TMPDIR/said"
	assert_output --partial "made key '$id'"
	[[ $id =~ ^k[0-9]{8}T[0-9]{6}$ ]] || fail "unexpected key id '$id'"
	run -0 stat -c %a "$EPIC_KEY_DIR/$id.key"
	assert_output 600
	run -0 grep -cE '^[0-9a-f]{64}$' "$EPIC_KEY_DIR/$id.key"
	second=$(epic-key new 2>/dev/null)
	[[ $second > $id ]] || fail "the new key '$second' does not sort after '$id'"
	run -0 bash -c "epic-key list --json | jq -r '.[] | select(.current) | .id'"
	assert_output "$second"
}

@test "with encryption on, nothing of the request is in clear anywhere in the spool" {
	epic-key new >/dev/null
	run -0 epic run -q "$REQ"
	dir=$(done_dir)
	run -1 grep -rlF -e "$SENTENCE" -e "$EMAIL" -e "quokka" "$EPIC_SPOOL"
	# What is sealed: the request, the normalized request, persona inputs and outputs,
	# epic.json and the cache entries; plan.mk stays plain for make.
	for f in request.md epic-request.json epic.json personas/01-product-owner.json \
		personas/01-product-owner.input.json; do
		run -0 head -c 8 "$dir/$f"
		assert_output --partial ECSEAL
	done
	run -0 bash -c "find '$EPIC_SPOOL/cache' -path '*/cache/[0-9a-f][0-9a-f]/*' -type f | head -1 | xargs head -c 8"
	assert_output --partial ECSEAL
	run -0 grep -q "^include\|PERSONA" "$dir/plan.mk"
	# Every tool reads them as before.
	run -0 epic-key cat "$dir/request.md"
	assert_output --partial "$SENTENCE"
	run -0 epic show --no-pager "$(basename "$dir")"
	assert_output --partial "Nightly ledger export"
	run -0 epic render -f html "$(basename "$dir")"
	assert_output --partial "<html"
	run -0 bash -c "epic-key cat '$dir/epic.json' | jq -r .epic.title"
	assert_output "Nightly ledger export"
}

@test "a second task of the same request hits the sealed cache, and a rerun rewrites nothing" {
	epic-key new >/dev/null
	epic run -q "$REQ" >/dev/null
	cp "$REQ" "$BATS_TEST_TMPDIR/again.md"
	epic run -q "$BATS_TEST_TMPDIR/again.md" >/dev/null
	run -0 grep -c '"event":"cache-hit"' "$EPIC_SPOOL"/done/again-*/checkpoints.jsonl
	assert_output 6
	# Sealing uses a fresh nonce each time: a rerun must still compare plaintexts
	# and leave every output as it is (make's stamps see no change).
	dir=$(done_dir)
	before=$(cd "$dir" && sha256sum epic.json epic-request.json personas/*.json)
	make -s -C "$dir" -f "$ROOT/pipeline/epic.mk" EPIC_BIN="$BIN" >/dev/null
	after=$(cd "$dir" && sha256sum epic.json epic-request.json personas/*.json)
	assert_equal "$after" "$before"
}

@test "the watcher seals what it claims, and a submitter's request leaves incoming/" {
	epic-key new >/dev/null
	id=$(epic submit "$REQ")
	run -0 epic watch --once
	run -1 grep -rlF -e "$SENTENCE" -e "$EMAIL" "$EPIC_SPOOL"
	run -0 epic-key cat "$EPIC_SPOOL/done/$id/request.md"
	assert_output --partial "$EMAIL"
}

@test "a missing key is temporary (111), a key others can read is refused (111)" {
	epic-key new >/dev/null
	epic run -q "$REQ" >/dev/null
	dir=$(done_dir)
	mv "$EPIC_KEY_DIR" "$BATS_TEST_TMPDIR/away"
	run -111 epic-key cat "$dir/epic.json"
	assert_output --regexp "sealed with key 'k[0-9T]+': key file '.*': missing"
	run -111 epic show --no-pager "$(basename "$dir")"
	# No key, no plaintext written instead: a run defers.
	cp "$REQ" "$BATS_TEST_TMPDIR/new.md"
	run -111 epic run -q "$BATS_TEST_TMPDIR/new.md"
	mv "$BATS_TEST_TMPDIR/away" "$EPIC_KEY_DIR"
	chmod 644 "$EPIC_KEY_DIR"/*.key
	run -111 epic-key cat "$dir/epic.json"
	assert_output --partial "lets others read it"
	refute_output --partial "Nightly"
}

@test "a sealed file that was altered, cut, swapped or moved fails authentication (1)" {
	epic-key new >/dev/null
	epic run -q "$REQ" >/dev/null
	cp "$REQ" "$BATS_TEST_TMPDIR/other.md"
	epic run -q "$BATS_TEST_TMPDIR/other.md" >/dev/null
	a=$(ls -d "$EPIC_SPOOL"/done/ledger-*) b=$(ls -d "$EPIC_SPOOL"/done/other-*)
	# One bit flipped in the ciphertext.
	cp "$a/epic-request.json" "$BATS_TEST_TMPDIR/keep"
	python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[60]^=1; open(p,"wb").write(b)' "$a/epic-request.json"
	run -1 epic-key cat "$a/epic-request.json"
	assert_output --partial "fails authentication"
	refute_output --partial "quokka"
	# Cut short.
	head -c 100 "$BATS_TEST_TMPDIR/keep" >"$a/epic-request.json"
	run -1 epic-key cat "$a/epic-request.json"
	# Another task's file under this task's name: the place is in the tag.
	cp "$b/epic.json" "$a/epic.json"
	run -1 epic show --no-pager "$(basename "$a")"
	assert_output --partial "fails authentication"
	# A persona output put where epic.json is.
	cp "$b/personas/01-product-owner.json" "$b/epic.json"
	run -1 epic-key cat "$b/epic.json"
	# Copied out of the spool: a sealed file opens only in its place.
	cp "$b/request.md" "$BATS_TEST_TMPDIR/copy.md"
	run -1 epic-key cat "$BATS_TEST_TMPDIR/copy.md"
	assert_output --partial "opens only in its place"
	# A key of the same name with other bytes is a wrong key.
	k=$(ls "$EPIC_KEY_DIR")
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$EPIC_KEY_DIR/$k"
	echo >>"$EPIC_KEY_DIR/$k"
	run -1 epic-key cat "$b/request.md"
	assert_output --partial "fails authentication"
}

@test "rotate re-seals done/ and the cache with a new key, keeps mtimes, and is audited" {
	old=$(epic-key new 2>/dev/null)
	epic run -q "$REQ" >/dev/null
	dir=$(done_dir)
	mtime=$(stat -c %Y "$dir/epic.json")
	touch -d '2020-01-01' "$dir/epic.json"
	run -0 epic key rotate --dry-run
	assert_output --regexp "would make key \(new\): [1-9][0-9]* files re-sealed"
	run -0 bash -c "epic-key list --json | jq -r '.[] | select(.id == \"$old\") | .files'"
	[ "$output" -gt 10 ] || fail "expected the old key to seal the task's files, got $output"
	run -0 epic key rotate
	new=$(epic-key list --json | jq -r '.[] | select(.current) | .id')
	[ "$new" != "$old" ] || fail "no new key"
	run -0 bash -c "epic-key list --json | jq -r '.[] | select(.id == \"$old\") | .files'"
	assert_output 0
	run -0 stat -c %y "$dir/epic.json"
	assert_output --partial 2020-01-01
	# The old key can go: everything opens with the new one.
	rm "$EPIC_KEY_DIR/$old.key"
	run -0 epic show --no-pager "$(basename "$dir")"
	run -0 grep -c '"event":"key-rotate"' "$EPIC_SPOOL/log/audit.jsonl"
	assert_output 1
	run -0 epic audit verify
	# A task run after the rotation is sealed with the new key.
	cp "$REQ" "$BATS_TEST_TMPDIR/after.md"
	epic run -q "$BATS_TEST_TMPDIR/after.md" >/dev/null
	run -0 bash -c "head -c 40 '$EPIC_SPOOL'/done/after-*/epic.json | grep -ac '$new'"
}

@test "rotate seals what was written in clear before encryption was turned on" {
	EPIC_CONFIG= epic run -q "$REQ" >/dev/null
	run -0 grep -rlF "$SENTENCE" "$EPIC_SPOOL/done"
	run -0 epic key rotate
	assert_output --regexp "0 files re-sealed, [1-9][0-9]* sealed that were in clear"
	run -1 grep -rlF -e "$SENTENCE" -e "$EMAIL" "$EPIC_SPOOL"
	run -0 epic show --no-pager "$(ls "$EPIC_SPOOL/done")"
	# Reading never depends on the setting: with encryption off again, all opens.
	EPIC_CONFIG= run -0 epic show --no-pager "$(ls "$EPIC_SPOOL/done")"
}

@test "redactRequests keeps the request redacted, and a JSON request stays JSON" {
	epic-key new >/dev/null
	sed -i 's/redactRequests: false/redactRequests: true/' "$EPIC_CONFIG"
	epic run -q "$REQ" >/dev/null
	run -0 epic-key cat "$(done_dir)/request.md"
	refute_output --partial "$EMAIL"
	assert_output --partial "[redacted:email]"
	assert_output --partial "$SENTENCE"
	jq -n --arg d "Please call $EMAIL about $SENTENCE for the finance team's nightly export." \
		'{title: "JSON request", description: $d, metadata: {requestedBy: "marguerite.quokka@example.org"}}' \
		>"$BATS_TEST_TMPDIR/json-req.json"
	id=$(epic submit "$BATS_TEST_TMPDIR/json-req.json")
	run -0 epic watch --once
	run -0 bash -c "epic-key cat '$EPIC_SPOOL/done/$id/request.json' | jq -r .metadata.requestedBy"
	assert_output "[redacted:email]"
}

@test "without encryption nothing is sealed and epic-key cat prints files as they are" {
	EPIC_CONFIG= epic run -q "$REQ" >/dev/null
	run -0 head -c 1 "$(done_dir)/epic.json"
	assert_output "{"
	run -0 epic-key cat "$(done_dir)/request.md"
	assert_output --partial "$SENTENCE"
	run -1 epic-key cat "$BATS_TEST_TMPDIR/nonexistent"
}
