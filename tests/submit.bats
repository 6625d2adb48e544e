#!/usr/bin/env bats
# epic-submit (epic submit): the Maildir drop into incoming/, task ids, names,
# limits, duplicates, hard I/O failures, the audit line, examples/drop-requests.

load test_helper

REQ="$ROOT/examples/requests"

setup() {
	use_fixture_registry
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	if [ -n "${MNT:-}" ] && mountpoint -q "$MNT"; then
		umount "$MNT"
	fi
}

# Mount a tmpfs of the given size on $MNT, or skip the test saying why.
mount_tmpfs() {
	MNT="$BATS_TEST_TMPDIR/mnt"
	mkdir -p "$MNT"
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	mount -t tmpfs -o "size=$1" tmpfs "$MNT" 2>/dev/null ||
		skip "cannot mount a tmpfs here (no CAP_SYS_ADMIN?)"
}

# Only the names in DIR, one a line, sorted.
names() {
	ls -A "$1" | sort
}

@test "epic-submit --help prints usage on stdout and exits 0" {
	run -0 epic-submit --help
	assert_output --partial "usage: epic-submit [--spool DIR]"
	assert_output --partial "Exit: 0 queued"
}

@test "epic-submit --version names the tool" {
	run -0 epic-submit --version
	assert_output --regexp '^epic-submit [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "a bad option is a usage error: one line and the synopsis on stderr, exit 2" {
	run -2 --separate-stderr epic-submit --frobnicate x.md
	assert_output ""
	[[ "$stderr" == *"unrecognized option"* ]]
	[[ "$stderr" == *"usage: epic-submit"* ]]
	assert_file_not_exist "$EPIC_SPOOL"
}

@test "two request files are a usage error" {
	run -2 epic-submit "$REQ/02-enterprise-sso.md" "$REQ/03-file-uploads.txt"
	assert_output --partial "too many arguments"
}

@test "a request lands in incoming/ as ID.EXT with its bytes, the id on stdout" {
	local f id
	for f in "$REQ/01-checkout-payments.json" "$REQ/02-enterprise-sso.md" "$REQ/03-file-uploads.txt"; do
		run -0 --separate-stderr epic-submit "$f"
		id=$output
		[ -z "$stderr" ] || fail "$f: unexpected stderr: $stderr"
		assert_regex "$id" '^[A-Za-z0-9._-]+-[0-9a-f]{8}$'
		cmp "$f" "$EPIC_SPOOL/incoming/$id.${f##*.}" || fail "$f: bytes differ in incoming/"
	done
	run -0 names "$EPIC_SPOOL/incoming"
	[ "${#lines[@]}" -eq 3 ]
	assert_line --index 0 --regexp '^01-checkout-payments-[0-9a-f]{8}\.json$'
	assert_line --index 1 --regexp '^02-enterprise-sso-[0-9a-f]{8}\.md$'
	assert_line --index 2 --regexp '^03-file-uploads-[0-9a-f]{8}\.txt$'
	[ -z "$(ls -A "$EPIC_SPOOL/tmp")" ] || fail "tmp/ is not empty: $(ls -A "$EPIC_SPOOL/tmp")"
}

@test "the task id is the one epic-parse derives, for every example request" {
	local f n=0
	for f in "$REQ"/*; do
		run -0 epic-submit "$f"
		[ "$output" = "$(epic-parse "$f" | jq -r .taskId)" ] ||
			fail "$f: epic-submit says '$output', epic-parse '$(epic-parse "$f" | jq -r .taskId)'"
		n=$((n + 1))
	done
	[ "$n" -ge 14 ]
	[ "$(ls "$EPIC_SPOOL/incoming" | wc -l)" -eq "$n" ]
}

@test "a file name that is not clean is sanitised, as epic run does" {
	cp "$REQ/02-enterprise-sso.md" "my epic (v2)!.md"
	run -0 epic-submit "my epic (v2)!.md"
	assert_output --regexp '^my_epic_v2-[0-9a-f]{8}$'
	[ "$output" = "$(epic-parse "my epic (v2)!.md" | jq -r .taskId)" ]
	assert_file_exist "$EPIC_SPOOL/incoming/$output.md"
}

@test "standard input is named 'stdin'; its extension comes from the content" {
	run -0 epic-submit - <"$REQ/01-checkout-payments.json"
	assert_output --regexp '^stdin-[0-9a-f]{8}$'
	[ "$output" = "$(epic-parse - <"$REQ/01-checkout-payments.json" | jq -r .taskId)" ]
	cmp "$REQ/01-checkout-payments.json" "$EPIC_SPOOL/incoming/$output.json"

	run -0 epic-submit <"$REQ/03-file-uploads.txt"
	assert_output --regexp '^stdin-[0-9a-f]{8}$'
	assert_file_exist "$EPIC_SPOOL/incoming/$output.txt"
}

@test "an unknown extension is json when the content starts with '{', else txt" {
	printf '  \n{"description": "Let customers export invoices as PDF."}\n' >a.request
	printf 'Let customers export invoices as PDF {quickly}.\n' >b.request
	cp "$REQ/02-enterprise-sso.md" c.markdown
	run -0 epic-submit a.request
	assert_file_exist "$EPIC_SPOOL/incoming/$output.json"
	run -0 epic-submit b.request
	assert_file_exist "$EPIC_SPOOL/incoming/$output.txt"
	run -0 epic-submit c.markdown
	assert_file_exist "$EPIC_SPOOL/incoming/$output.md"
}

@test "--name sets the base of the id, as epic-parse --name does" {
	run -0 epic-submit --name nightly-42 "$REQ/02-enterprise-sso.md"
	assert_output --regexp '^nightly-42-[0-9a-f]{8}$'
	[ "$output" = "$(epic-parse --name nightly-42 "$REQ/02-enterprise-sso.md" | jq -r .taskId)" ]
	assert_file_exist "$EPIC_SPOOL/incoming/$output.md"
	run -0 epic-submit -n from.pipe - <"$REQ/03-file-uploads.txt"
	assert_output --regexp '^from\.pipe-[0-9a-f]{8}$'
}

@test "a --name that is not a clean name is rejected with exit 2, nothing written" {
	local long
	long=$(printf 'a%.0s' $(seq 65))
	for n in ../x .hidden a/b '' '!!!' "$long" 'white space' name- -dash; do
		run -2 --separate-stderr epic-submit --name "$n" "$REQ/02-enterprise-sso.md"
		assert_output ""
		[[ "$stderr" == *"invalid name '$n': expected 1 to 64 of [A-Za-z0-9._-]"* ]] ||
			fail "--name '$n': $stderr"
		[[ "$stderr" == *"usage: epic-submit"* ]]
	done
	[ -z "$(ls -A "$EPIC_SPOOL/incoming" 2>/dev/null)" ]
	run -0 epic-submit --name "${long%a}" "$REQ/02-enterprise-sso.md"
	[ "$(ls "$EPIC_SPOOL/incoming")" = "$output.md" ]
}

@test "the same request twice: the same id, one file, not written again" {
	local ino
	run -0 epic-submit "$REQ/02-enterprise-sso.md"
	local id=$output
	ino=$(stat -c %i "$EPIC_SPOOL/incoming/$id.md")
	run -0 epic-submit "$REQ/02-enterprise-sso.md"
	assert_output "$id"
	[ "$(stat -c %i "$EPIC_SPOOL/incoming/$id.md")" = "$ino" ] || fail "the waiting request was replaced"
	[ "$(ls "$EPIC_SPOOL/incoming" | wc -l)" -eq 1 ]
	run -0 jq -s 'map(.duplicate // false)' "$EPIC_SPOOL/log/audit.jsonl"
	assert_equal "$(jq -c . <<<"$output")" '[false,true]'
	assert_no_temp_files "$EPIC_SPOOL"
}

@test "twenty concurrent submits of one request leave exactly one file" {
	local i
	for i in $(seq 20); do
		epic-submit "$REQ/03-file-uploads.txt" >"out.$i" &
	done
	wait
	[ "$(sort -u out.* | wc -l)" -eq 1 ]
	[ "$(ls "$EPIC_SPOOL/incoming")" = "$(cat out.1).txt" ]
	cmp "$REQ/03-file-uploads.txt" "$EPIC_SPOOL/incoming/$(cat out.1).txt"
	[ -z "$(ls -A "$EPIC_SPOOL/tmp")" ]
}

@test "an empty request is rejected with exit 1, nothing queued" {
	: >empty.md
	run -1 epic-submit empty.md
	assert_output "epic-submit: empty request 'empty.md'"
	run -1 epic-submit - </dev/null
	assert_output "epic-submit: empty request '<stdin>'"
	[ -z "$(ls -A "$EPIC_SPOOL/incoming" 2>/dev/null)" ]
}

@test "a request over security.maxRequestBytes is rejected with exit 1 naming the limit" {
	printf 'security:\n  maxRequestBytes: 100\n' >small.yml
	head -c 101 /dev/zero | tr '\0' x >big.txt
	head -c 100 /dev/zero | tr '\0' x >fits.txt
	run -1 epic-submit --config small.yml big.txt
	assert_output "epic-submit: request too large (security.maxRequestBytes): 'big.txt': 101 bytes exceeds the limit of 100 bytes"
	run -1 bash -c 'cat big.txt | EPIC_CONFIG=small.yml epic-submit -'
	assert_output --partial "request too large (security.maxRequestBytes): '<stdin>': more than the limit of 100 bytes"
	[ -z "$(ls -A "$EPIC_SPOOL/incoming" 2>/dev/null)" ]
	run -0 epic-submit --config small.yml fits.txt
}

@test "a request file that cannot be read is rejected with exit 1" {
	run -1 epic-submit no-such.md
	assert_output "epic-submit: cannot open 'no-such.md': No such file or directory"
	run -1 epic-submit "$BATS_TEST_TMPDIR"
	assert_output --partial "is a directory"
}

@test "a full disk is a temporary failure (111) that leaves nothing in tmp/ or incoming/" {
	mount_tmpfs 64k
	export EPIC_SPOOL="$MNT/spool"
	head -c 200000 /dev/urandom | base64 >big.txt
	run -111 epic-submit big.txt
	assert_output --regexp "^epic-submit: cannot write '.*/incoming/big-[0-9a-f]{8}\.txt': No space left on device$"
	[ -z "$(ls -A "$EPIC_SPOOL/tmp")" ] || fail "left in tmp/: $(ls -A "$EPIC_SPOOL/tmp")"
	[ -z "$(ls -A "$EPIC_SPOOL/incoming")" ]
	# Room again: the retry succeeds.
	head -c 20000 big.txt >big.txt.part && mv big.txt.part big.txt
	run -0 epic-submit big.txt
	assert_file_exist "$EPIC_SPOOL/incoming/$output.txt"
}

@test "a read-only spool is a temporary failure (111), not a rejection" {
	mount_tmpfs 1m
	export EPIC_SPOOL="$MNT/spool"
	run -0 epic-submit "$REQ/02-enterprise-sso.md"
	mount -o remount,ro "$MNT"
	run -111 epic-submit "$REQ/03-file-uploads.txt"
	assert_output --regexp "^epic-submit: cannot create '.*/tmp/\.03-file-uploads-[0-9a-f]{8}\.[0-9]+\.tmp': Read-only file system$"
	# What is already waiting is still recognised on a read-only spool.
	run -0 epic-submit "$REQ/02-enterprise-sso.md"
}

@test "each submit appends one audit line: who, what, how big; never requestedBy (personal data)" {
	run -0 epic-submit "$REQ/01-checkout-payments.json"
	local id1=$output
	run -0 epic-submit "$REQ/02-enterprise-sso.md"
	local id2=$output
	[ "$(wc -l <"$EPIC_SPOOL/log/audit.jsonl")" -eq 2 ]
	run -0 jq -c 'select(.task == "'"$id1"'") | [.event, .file, .bytes, .user, has("requestedBy")]' \
		"$EPIC_SPOOL/log/audit.jsonl"
	assert_output "[\"submitted\",\"incoming/$id1.json\",$(wc -c <"$REQ/01-checkout-payments.json"),\"$(id -un)\",false]"
	run -1 grep -F "$(jq -r .metadata.requestedBy "$REQ/01-checkout-payments.json")" "$EPIC_SPOOL/log/audit.jsonl"
	run -0 jq -c 'select(.task == "'"$id2"'") | [has("requestedBy"), has("duplicate")]' \
		"$EPIC_SPOOL/log/audit.jsonl"
	assert_output '[false,false]'
	run -0 jq -r .time "$EPIC_SPOOL/log/audit.jsonl"
	assert_line --index 0 --regexp '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
}

@test "a broken JSON request is still queued" {
	printf '{"description": "half a request' >broken.json
	run -0 epic-submit broken.json
	assert_file_exist "$EPIC_SPOOL/incoming/$output.json"
}

@test "an audit log that cannot be written is a warning: the request is queued" {
	epic-submit "$REQ/02-enterprise-sso.md" >/dev/null
	rm "$EPIC_SPOOL/log/audit.jsonl"
	mkdir "$EPIC_SPOOL/log/audit.jsonl"
	run -0 --separate-stderr epic-submit "$REQ/03-file-uploads.txt"
	assert_output --regexp '^03-file-uploads-[0-9a-f]{8}$'
	assert_file_exist "$EPIC_SPOOL/incoming/$output.txt"
	[[ "$stderr" == "epic-submit: cannot open '$EPIC_SPOOL/log/audit.jsonl': Is a directory (the request is queued without an audit line)" ]] ||
		fail "stderr: $stderr"
}

@test "--spool wins over EPIC_SPOOL" {
	run -0 epic-submit --spool "$BATS_TEST_TMPDIR/other" "$REQ/02-enterprise-sso.md"
	assert_file_exist "$BATS_TEST_TMPDIR/other/incoming/$output.md"
	assert_file_not_exist "$EPIC_SPOOL"
}

@test "epic submit through the front door is epic-submit" {
	run -0 epic submit "$REQ/02-enterprise-sso.md"
	assert_file_exist "$EPIC_SPOOL/incoming/$output.md"
	[ "$output" = "$(epic-parse "$REQ/02-enterprise-sso.md" | jq -r .taskId)" ]
	run -0 epic submit --help
	assert_output --partial "usage: epic-submit"
	run -2 epic submit --frobnicate
}

@test "examples/drop-requests submits every *.md in a folder and prints the ids" {
	mkdir in
	cp "$REQ/02-enterprise-sso.md" "$REQ/05-offline-field-inspections.md" "$REQ/03-file-uploads.txt" in/
	run -0 --separate-stderr "$ROOT/examples/drop-requests" in
	[ "${#lines[@]}" -eq 2 ]
	assert_line --index 0 "$(epic-parse in/02-enterprise-sso.md | jq -r .taskId)"
	assert_line --index 1 "$(epic-parse in/05-offline-field-inspections.md | jq -r .taskId)"
	[ "$(ls "$EPIC_SPOOL/incoming" | wc -l)" -eq 2 ]
}

@test "examples/drop-requests fails when any submit fails, and goes on with the rest" {
	mkdir in
	cp "$REQ/02-enterprise-sso.md" in/b.md
	: >in/a.md
	run -1 --separate-stderr "$ROOT/examples/drop-requests" in
	assert_output --regexp '^b-[0-9a-f]{8}$'
	[[ "$stderr" == *"empty request 'in/a.md'"* ]]
	run -2 "$ROOT/examples/drop-requests"
	assert_output --partial "usage: drop-requests DIR"
	run -2 "$ROOT/examples/drop-requests" no-such-dir
	mkdir empty
	run -0 "$ROOT/examples/drop-requests" empty
	assert_output ""
}
