#!/usr/bin/env bats
# epic-cache (epic cache stats, purge, verify) on a real spool filled by `epic run`
# of the examples, aged with the tools' test clock EPIC_NOW.

load test_helper

REQ="$ROOT/examples/requests"

setup() {
	S="$EPIC_SPOOL"
	cd "$BATS_TEST_TMPDIR"
	# The fixture registry, copied so a test can bump a persona's version.
	REG="$BATS_TEST_TMPDIR/reg"
	cp -r "$FIX/registry" "$REG"
	export EPIC_PERSONA_PATH="$REG"
	printf '%s\n' coordination: '  cacheTTL: 3600' > "$BATS_TEST_TMPDIR/epic.yml"
	encrypted_config "$BATS_TEST_TMPDIR/epic.yml"
	export EPIC_CONFIG="$BATS_TEST_TMPDIR/epic.yml"
}

teardown() {
	[ -z "${IMMUTABLE:-}" ] || chattr -i "$IMMUTABLE" 2>/dev/null || true
}

# review FILE [NAME]: epic run of an example (under another name: a new task of the
# same request), at the clock $NOW when set.
review() {
	local f="$REQ/$1"
	if [ -n "${2:-}" ]; then
		cp "$f" "$BATS_TEST_TMPDIR/$2"
		f="$BATS_TEST_TMPDIR/$2"
	fi
	EPIC_NOW="${NOW:-}" run -0 epic run -q "$f"
}

# The cache entries as find sees them, sorted.
entries() { (cd "$S" && find cache -mindepth 2 -path 'cache/[0-9a-f][0-9a-f]/*' -name '*.json' | sort); }

@test "usage: --help, --version, bad options and purge without a criterion" {
	run -0 epic-cache --help
	assert_line --partial 'usage: epic-cache stats'
	run -0 epic cache purge --help
	assert_line --partial '--older-than AGE'
	run -0 epic-cache --version
	run -2 epic-cache
	run -2 epic-cache frobnicate
	assert_line --index 0 "epic-cache: unknown subcommand 'frobnicate'"
	run -2 --separate-stderr epic-cache purge
	assert_equal "${stderr_lines[0]}" "epic-cache: purge needs what to remove: --older-than AGE, --expired, --stale or --all"
	run -2 --separate-stderr epic-cache purge --older-than soon
	assert_equal "${stderr_lines[0]}" "epic-cache: --older-than takes an age such as 7d or 12h, not 'soon'"
	run -2 epic-cache stats --all
	run -2 epic-cache verify --bogus
	run -2 epic-cache stats extra
	# a spool with no cache yet is an empty one
	run -0 epic-cache stats
	assert_equal "$(jq -c '[.entries, .bytes, .hitRate, .hitSource]' <<<"$output")" '[0,0,null,"none"]'
}

@test "stats: the counts match find; per persona; valid/ and rulebases/; hits from checkpoints.jsonl" {
	review 01-checkout-payments.json
	review 04-notifications.json
	run -0 epic cache stats
	stats=$output
	n=$(entries | wc -l)
	[ "$n" -eq 12 ] || fail "expected 12 entries, find says $n"
	assert_equal "$(jq .entries <<<"$stats")" "$n"
	bytes=$(cd "$S" && entries | xargs stat -c %s | awk '{ s += $1 } END { print s }')
	assert_equal "$(jq .bytes <<<"$stats")" "$bytes"
	assert_equal "$(jq -c '[.bad, .expired, .stale, .ttl]' <<<"$stats")" '[0,0,0,3600]'
	assert_equal "$(jq -c '.personas | map_values(.entries) | [.[]] | unique' <<<"$stats")" '[2]'
	assert_equal "$(jq '.personas | length' <<<"$stats")" 6
	assert_equal "$(jq .valid.files <<<"$stats")" "$(find "$S/cache/valid" -type f | wc -l)"
	assert_equal "$(jq .rulebases.files <<<"$stats")" "$(find "$S/cache/rulebases" -type f | wc -l)"
	[ "$(jq .rulebases.files <<<"$stats")" -gt 0 ]
	assert_equal "$(jq -c '[.hits, .misses, .hitRate, .hitSource]' <<<"$stats")" '[0,12,0,"checkpoints"]'
	newest=$(jq -r .newest <<<"$stats")
	oldest=$(jq -r .oldest <<<"$stats")
	[[ "$oldest" < "$newest" || "$oldest" == "$newest" ]]
}

@test "stats: the hit rate rises when the same request is run again in a new task" {
	review 01-checkout-payments.json
	run -0 epic cache stats
	assert_equal "$(jq .hitRate <<<"$output")" 0
	review 01-checkout-payments.json again.json
	[ -d "$S/done/again-$(ls "$S/done" | sed -n 's/^01-checkout-payments-//p')" ]
	run -0 grep -c '"event":"cache-hit"' "$S"/done/again-*/checkpoints.jsonl
	assert_output 6
	run -0 epic cache stats
	assert_equal "$(jq -c '[.hits, .misses, .hitRate, .entries]' <<<"$output")" '[6,6,0.5,6]'
}

@test "stats: the hit rate from log/metrics.jsonl when no task recorded one" {
	mkdir -p "$S/log"
	review 01-checkout-payments.json
	rm -rf "$S"/done/*
	printf '%s\n' '{"event":"cache-hit","persona":"architect"}' '{"event":"after","persona":"architect"}' \
		'{"event":"cache-hit","persona":"architect"}' '{"event":"task"}' >> "$S/log/metrics.jsonl"
	run -0 epic cache stats
	assert_equal "$(jq -c '[.hits, .misses, .hitSource]' <<<"$output")" '[2,1,"metrics"]'
}

@test "stats on a terminal: a small table" {
	command -v script >/dev/null || skip "needs script(1) (bsdutils)"
	review 01-checkout-payments.json
	run -0 script -qec "epic cache stats" /dev/null
	assert_line --regexp '^entries +6 \(0 expired, 0 stale, 0 bad\)'
	assert_line --regexp '^hit rate +0% \(0 hits, 6 misses, from checkpoints\)'
	assert_line --regexp '^architect +1 '
}

@test "purge --older-than with EPIC_NOW removes exactly the old entries; --dry-run removes nothing" {
	NOW=2026-01-01T00:00:00Z review 01-checkout-payments.json
	entries > old.list
	NOW=2026-01-10T00:00:00Z review 04-notifications.json
	entries > all.list
	[ "$(wc -l < old.list)" -eq 6 ] && [ "$(wc -l < all.list)" -eq 12 ]
	export EPIC_NOW=2026-01-10T12:00:00Z
	run -0 epic cache purge --older-than 5d --dry-run
	assert_equal "$(jq -c '[.dryRun, .removed]' <<<"$output")" '[true,6]'
	assert_equal "$(jq -r '.entries[].path' <<<"$output" | sort)" "$(cat old.list)"
	entries | diff -u all.list -
	! grep -qs cache-purge "$S/log/audit.jsonl"
	run -0 epic cache purge --older-than 5d
	assert_equal "$(jq -c '[.dryRun, .removed]' <<<"$output")" '[false,6]'
	entries | diff -u <(comm -23 all.list old.list) -
	run -0 jq -c 'select(.event == "cache-purge") | [.criteria, .removed]' "$S/log/audit.jsonl"
	assert_output '["--older-than 5d",6]'
	assert_no_temp_files "$S/cache"
	[ -z "$(find "$S/cache" -name '.purge*')" ]
	# an age of 12h now takes the rest
	run -0 epic cache purge --older-than 11h
	assert_equal "$(jq .removed <<<"$output")" 6
	[ -z "$(entries)" ]
}

@test "purge --expired: past the config's cacheTTL, as the clock says" {
	NOW=2026-01-01T00:00:00Z review 01-checkout-payments.json
	EPIC_NOW=2026-01-01T00:30:00Z run -0 epic cache stats
	assert_equal "$(jq .expired <<<"$output")" 0
	export EPIC_NOW=2026-01-01T02:00:00Z
	run -0 epic cache stats
	assert_equal "$(jq .expired <<<"$output")" 6
	run -0 epic cache purge --expired
	assert_equal "$(jq .removed <<<"$output")" 6
	[ -z "$(entries)" ]
}

@test "a persona version bump makes its entries stale; purge --stale removes only them" {
	review 01-checkout-payments.json
	review 04-notifications.json
	run -0 epic cache stats
	assert_equal "$(jq .stale <<<"$output")" 0
	jq '.version = "1.0.1"' "$FIX/registry/architect.json" > "$REG/architect.json"
	run -0 epic cache stats
	assert_equal "$(jq -c '[.stale, .personas.architect.stale, .personas["product-owner"].stale]' <<<"$output")" '[2,2,0]'
	arch=$(cd "$S" && for f in $(entries); do spool_cat "$f" | grep -q '"name": "architect"' && echo "$f"; done | sort)
	run -0 epic cache purge --stale
	assert_equal "$(jq -r '.entries[].path' <<<"$output" | sort)" "$arch"
	assert_equal "$(entries | wc -l)" 10
	run -0 epic cache stats
	assert_equal "$(jq -c '[.stale, .personas.architect]' <<<"$output")" '[0,null]'
	# the next run computes the architect again and serves the others
	review 01-checkout-payments.json again.json
	run -0 jq -r 'select(.event | startswith("cache-")) | "\(.persona) \(.event)"' "$S"/done/again-*/checkpoints.jsonl
	assert_line "architect cache-miss"
	assert_line "product-owner cache-hit"
}

@test "verify sets aside a truncated entry, one not JSON, one under a wrong name and symbolic links" {
	review 01-checkout-payments.json
	mapfile -t e < <(entries)
	echo 'secret' > "$BATS_TEST_TMPDIR/outside"
	mkdir "$BATS_TEST_TMPDIR/outdir"
	head -c 40 "$S/${e[0]}" > "$S/${e[0]}.x" && mv "$S/${e[0]}.x" "$S/${e[0]}"
	echo 'not json at all' > "$S/${e[1]}"
	# a sound entry copied under another key's name (in that key's directory)
	wrong=cache/ab/ab$(printf '%062d' 0).json
	mkdir -p "$S/cache/ab"
	cp "$S/${e[2]}" "$S/$wrong"
	ln -s "$BATS_TEST_TMPDIR/outside" "$S/cache/ab/ab$(printf '%062d' 1).json"
	ln -s "$BATS_TEST_TMPDIR/outdir" "$S/cache/ff"
	run -1 --separate-stderr epic cache verify
	assert_equal "$(jq -c '[.checked, .corrupt]' <<<"$output")" '[9,5]'
	err=$(printf '%s\n' "${stderr_lines[@]}" | sort)
	assert_equal "$(grep -c '^epic-cache: cache/' <<<"$err")" 5
	if [ "${EPIC_TEST_ENCRYPT:-0}" = 1 ]; then
		# Sealed entries: a cut one, and one under another key's name (its place is
		# in its tag), fail authentication before they could be parsed.
		grep -qxF "epic-cache: ${e[0]}: sealed, and fails authentication: altered, cut, or moved here from another key's name" <<<"$err" || fail "$err"
		grep -qF "epic-cache: $wrong: sealed, and fails authentication" <<<"$err" || fail "$err"
	else
		grep -qE "^epic-cache: ${e[0]}: not JSON at 3:[0-9]+: premature end of input" <<<"$err" || fail "$err"
		grep -qF "epic-cache: $wrong: named for another key: it records '" <<<"$err" || fail "$err"
	fi
	grep -qxF "epic-cache: ${e[1]}: not JSON at 1:3: invalid token near 'not'" <<<"$err" || fail "$err"
	grep -qF "epic-cache: cache/ab/ab$(printf '%062d' 1).json: a symbolic link, not an entry" <<<"$err" || fail "$err"
	grep -qxF "epic-cache: cache/ff: a symbolic link, not a cache directory" <<<"$err" || fail "$err"
	# moved aside, nothing followed
	[ "$(ls "$S/cache/corrupt" | wc -l)" -eq 5 ]
	[ -L "$S/cache/corrupt/ff" ] && [ -d "$BATS_TEST_TMPDIR/outdir" ]
	assert_equal "$(cat "$BATS_TEST_TMPDIR/outside")" secret
	[ ! -e "$S/${e[0]}" ] && [ ! -e "$S/${e[1]}" ] && [ ! -e "$S/$wrong" ] && [ -e "$S/${e[3]}" ]
	run -0 jq -c 'select(.event == "cache-verify") | [.checked, .corrupt]' "$S/log/audit.jsonl"
	assert_output '[9,5]'
	run -0 epic cache verify
	assert_equal "$(jq -c '[.checked, .corrupt]' <<<"$output")" '[4,0]'
	# the pipeline still works, and computes again what was set aside
	review 01-checkout-payments.json again.json
	run -0 grep -c '"event":"cache-hit"' "$S"/done/again-*/checkpoints.jsonl
	assert_output 4
	review 04-notifications.json
	run -0 epic cache verify
}

@test "verify sets aside a kept rule base that does not decode and a link in cache/valid/" {
	review 01-checkout-payments.json
	rb=$(ls "$S"/cache/rulebases/*.c1 | head -1)
	printf 'garbage' > "$rb"
	ln -s /etc/hostname "$S/cache/valid/planted"
	run -1 --separate-stderr epic cache verify
	assert_equal "$(jq .corrupt <<<"$output")" 2
	printf '%s\n' "${stderr_lines[@]}" | grep -qxF "epic-cache: cache/rulebases/$(basename "$rb"): a kept rule base image that does not decode"
	printf '%s\n' "${stderr_lines[@]}" | grep -qxF "epic-cache: cache/valid/planted: a symbolic link, not a kept file"
	[ -e "$S/cache/corrupt/rulebases-$(basename "$rb")" ] && [ -L "$S/cache/corrupt/valid-planted" ]
	review 04-notifications.json
}

@test "purge removes a planted symbolic link as a bad entry without following it" {
	review 01-checkout-payments.json
	echo 'keep me' > "$BATS_TEST_TMPDIR/target"
	key=$(entries | head -1)
	ln -s "$BATS_TEST_TMPDIR/target" "$S/$(dirname "$key")/$(printf '%064d' 7).json"
	run -0 epic cache purge --older-than 1000d
	assert_equal "$(jq -c '[.removed, .entries[0].reason]' <<<"$output")" '[1,"bad"]'
	assert_equal "$(cat "$BATS_TEST_TMPDIR/target")" 'keep me'
	[ -z "$(find "$S/cache" -type l)" ]
	assert_equal "$(entries | wc -l)" 6
}

@test "purge --all empties the cache, valid/ and rulebases/ too; the next run fills them again" {
	review 01-checkout-payments.json
	run -0 epic cache purge --all --dry-run
	assert_equal "$(jq -c '[.removed, .valid > 0, .rulebases > 0]' <<<"$output")" '[6,true,true]'
	[ -d "$S/cache/valid" ]
	run -0 epic cache purge --all
	[ -z "$(entries)" ] && [ ! -e "$S/cache/valid" ] && [ ! -e "$S/cache/rulebases" ]
	[ -z "$(find "$S/cache" -name '.purge*')" ]
	review 04-notifications.json
	assert_equal "$(entries | wc -l)" 6
	[ -d "$S/cache/rulebases" ]
	run -0 epic cache verify
}

@test "purge: a reader that has an entry open reads on; the entry is gone for the next" {
	review 01-checkout-payments.json
	key=$(entries | head -1)
	cp "$S/$key" "$BATS_TEST_TMPDIR/before.json"
	exec 7<"$S/$key"
	run -0 epic cache purge --all
	[ ! -e "$S/$key" ]
	cat <&7 > "$BATS_TEST_TMPDIR/read.json"
	exec 7<&-
	cmp "$BATS_TEST_TMPDIR/before.json" "$BATS_TEST_TMPDIR/read.json"
}

@test "purge --stale with a registration that does not load: exit 1, nothing removed" {
	review 01-checkout-payments.json
	entries > before.list
	echo '{ broken' > "$REG/architect.json"
	run -1 --separate-stderr epic cache purge --stale
	[[ "${stderr_lines[0]}" == "epic-cache: "*architect.json* ]] || fail "${stderr_lines[*]}"
	entries | diff -u before.list -
	# stats still counts, without judging staleness
	run -0 --separate-stderr epic cache stats
	assert_equal "$(jq -c '[.entries, .stale]' <<<"$output")" '[6,null]'
	[[ "${stderr_lines[0]}" == "epic-cache: stale entries not judged: "* ]]
}

@test "purge: an entry that cannot be renamed away is a temporary failure (exit 111), the rest go" {
	[ "$(id -u)" = 0 ] && command -v chattr >/dev/null || skip "needs root and chattr"
	review 01-checkout-payments.json
	key=$(entries | head -1)
	IMMUTABLE="$S/$(dirname "$key")"
	chattr +i "$IMMUTABLE" 2>/dev/null || skip "chattr +i does not work here"
	run -111 --separate-stderr epic cache purge --all
	assert_equal "${stderr_lines[0]}" "epic-cache: cannot rename '$key' away: Operation not permitted"
	chattr -i "$IMMUTABLE"
	assert_equal "$(entries)" "$key"
	run -0 epic cache purge --all
	[ -z "$(entries)" ]
}

@test "verify: an entry in another key's directory, one too large to read, a foreign file" {
	review 01-checkout-payments.json
	key=$(entries | head -1)
	name=${key##*/}
	other=$([ "${name:0:2}" = 00 ] && echo 01 || echo 00)
	mkdir -p "$S/cache/$other"
	cp "$S/$key" "$S/cache/$other/$name"
	big=cache/$other/$other$(printf '%062d' 5).json
	head -c 9000000 /dev/zero | tr '\0' ' ' > "$S/$big"
	echo 'hello' > "$S/cache/$other/notes.txt"
	run -1 --separate-stderr epic cache verify
	err=$(printf '%s\n' "${stderr_lines[@]}")
	grep -qxF "epic-cache: cache/$other/$name: in another key's directory (its name's first two digits)" <<<"$err" || fail "$err"
	grep -qxF "epic-cache: $big: larger than a reader takes (8 MiB)" <<<"$err" || fail "$err"
	grep -qxF "epic-cache: cache/$other/notes.txt: not named by a key (64 hex digits and .json)" <<<"$err" || fail "$err"
	assert_equal "$(jq .corrupt <<<"$output")" 3
	[ -e "$S/$key" ]
	run -0 epic cache verify
}
