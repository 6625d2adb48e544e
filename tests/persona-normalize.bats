#!/usr/bin/env bats
# persona-normalize: any persona output -> a canonical PersonaOutput.
#
# The corpus is tests/fixtures/persona-normalize/NAME.raw (what an agent printed),
# each with NAME.expected.json (the canonical output) or NAME.expected-error (the
# exact line on standard error, exit 1); NAME.args overrides the default options.
# pii-values.txt lists the personal data the corpus feeds in, none of which may
# come out again.

load test_helper

DEFAULT_ARGS="--persona security-specialist --order 3 --persona-version 1.0.0"

setup() {
	cd "$FIX/persona-normalize"
}

# The options for fixture $1 (a base name): NAME.args, else the defaults.
args_for() {
	if [ -f "$1.args" ]; then cat "$1.args"; else echo "$DEFAULT_ARGS"; fi
}

@test "persona-normalize --help prints usage on stdout and exits 0" {
	run -0 --separate-stderr persona-normalize --help
	assert_output --partial "usage: persona-normalize -p NAME"
	assert_output --partial "Exit: 0 ok, 1 output rejected, 2 usage, 111 temporary failure"
	[ -z "$stderr" ]
}

@test "persona-normalize --version names the tool" {
	run -0 persona-normalize --version
	assert_output --regexp '^persona-normalize [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "a bad option is a usage error: one line and the synopsis on stderr, exit 2" {
	run -2 --separate-stderr persona-normalize --frobnicate clean.raw
	assert_output ""
	[ "$(printf '%s\n' "$stderr" | head -n 1)" = "persona-normalize: unrecognized option '--frobnicate'" ]
	[[ "$stderr" == *"usage: persona-normalize -p NAME"* ]]
}

@test "usage errors: no persona, bad name, order, prefix, version, two files" {
	run -2 --separate-stderr persona-normalize clean.raw
	[[ "$stderr" == "persona-normalize: missing --persona NAME"* ]]
	run -2 --separate-stderr persona-normalize --persona Security clean.raw
	[[ "$stderr" == "persona-normalize: invalid persona name 'Security'"* ]]
	run -2 --separate-stderr persona-normalize --persona security-specialist --order 0 clean.raw
	[[ "$stderr" == "persona-normalize: invalid review order '0': expected 1 to 99"* ]]
	run -2 --separate-stderr persona-normalize --persona security-specialist --order 3x clean.raw
	[[ "$stderr" == "persona-normalize: invalid review order '3x'"* ]]
	run -2 --separate-stderr persona-normalize --persona security-specialist --id-prefix sec clean.raw
	[[ "$stderr" == "persona-normalize: invalid id prefix 'sec'"* ]]
	run -2 --separate-stderr persona-normalize --persona security-specialist --persona-version '' clean.raw
	[[ "$stderr" == "persona-normalize: empty persona version"* ]]
	run -2 --separate-stderr persona-normalize $DEFAULT_ARGS clean.raw bom.raw
	[[ "$stderr" == "persona-normalize: too many arguments: expected one raw output file"* ]]
}

@test "--stamp records the xxh3 of the canonical output, for make's stamp idiom" {
	out="$BATS_TEST_TMPDIR/out.json"
	run -0 persona-normalize $DEFAULT_ARGS --stamp "$BATS_TEST_TMPDIR/.stamp" -o "$out" clean.raw
	assert_equal "$(cat "$BATS_TEST_TMPDIR/.stamp")" "$(ec-test xxh3 < "$out")  $out"
	# Rejected: neither output nor stamp.
	rm "$out" "$BATS_TEST_TMPDIR/.stamp"
	run -1 persona-normalize $DEFAULT_ARGS --stamp "$BATS_TEST_TMPDIR/.stamp" -o "$out" binary-garbage.raw
	assert_file_not_exist "$out"
	assert_file_not_exist "$BATS_TEST_TMPDIR/.stamp"
}

@test "the corpus has at least 30 messy outputs, each with exactly one expectation" {
	local n=0 f b
	for f in *.raw; do
		b=${f%.raw}
		if [ -f "$b.expected.json" ] && [ -f "$b.expected-error" ]; then
			fail "$f: has both an expected output and an expected error"
		fi
		[ -f "$b.expected.json" ] || [ -f "$b.expected-error" ] || fail "$f: no expectation"
		n=$((n + 1))
	done
	[ "$n" -ge 30 ] || fail "only $n fixtures"
	for f in *.expected.json *.expected-error *.args; do
		[ -f "${f%%.*}.raw" ] || fail "$f: no ${f%%.*}.raw"
	done
}

@test "every normalizable output gives exactly its expected JSON" {
	local f b n=0
	for f in *.raw; do
		b=${f%.raw}
		[ -f "$b.expected.json" ] || continue
		# shellcheck disable=SC2046
		run -0 --separate-stderr persona-normalize $(args_for "$b") "$f"
		diff -u "$b.expected.json" <(printf '%s\n' "$output") || fail "$f: output differs"
		n=$((n + 1))
	done
	[ "$n" -ge 25 ]
}

@test "every unusable output is rejected with exit 1, nothing on stdout, exactly its message" {
	local f b n=0
	for f in *.raw; do
		b=${f%.raw}
		[ -f "$b.expected-error" ] || continue
		# shellcheck disable=SC2046
		run -1 --separate-stderr persona-normalize $(args_for "$b") "$f"
		[ -z "$output" ] || fail "$f: wrote to stdout although rejected"
		diff -u "$b.expected-error" <(printf '%s\n' "$stderr") || fail "$f: message differs"
		n=$((n + 1))
	done
	[ "$n" -ge 15 ]
}

@test "normalization is idempotent: every expected output normalizes to the same bytes" {
	local f b
	for f in *.expected.json; do
		b=${f%.expected.json}
		# shellcheck disable=SC2046
		persona-normalize $(args_for "$b") "$f" >"$BATS_TEST_TMPDIR/again.json" 2>/dev/null ||
			fail "$f: rejected on the second pass"
		cmp "$f" "$BATS_TEST_TMPDIR/again.json" ||
			{ diff -u "$f" "$BATS_TEST_TMPDIR/again.json"; fail "$f: second pass differs"; }
	done
}

@test "every expected output is a valid PersonaOutput for an independent validator (ajv)" {
	command -v node >/dev/null 2>&1 || skip "node is not installed"
	[ -d "$ROOT/tests/node_modules/ajv" ] || skip "tests/node_modules is missing (npm ci --prefix tests)"
	run -0 node "$ROOT/tests/tools/schema-check.mjs" validate persona-output *.expected.json
}

@test "PII never survives normalization, not even in error messages" {
	local f b v out="$BATS_TEST_TMPDIR/all.out"
	# every listed value is really fed in somewhere, so the check below can fail
	while IFS= read -r v; do
		cat ./*.raw | grep -qF -- "$v" || fail "pii-values.txt: '$v' occurs in no fixture"
	done <pii-values.txt
	: >"$out"
	for f in *.raw; do
		b=${f%.raw}
		# shellcheck disable=SC2046
		persona-normalize $(args_for "$b") "$f" >>"$out" 2>&1 || true
	done
	[ -s "$out" ]
	if grep -nF -f pii-values.txt "$out"; then
		fail "personal data survived normalization (above)"
	fi
	# and what is redacted is counted
	run -0 jq -c .metadata.redactions pii-all.expected.json
	assert_output '{"card":4,"email":5,"iban":2,"ip":5,"phone":9,"ssn":2}'
}

@test "near misses are not redacted: ordinary numbers, versions, dates, bad checksums" {
	run -1 grep -c 'redacted' pii-near-misses.expected.json
	assert_output 0
	# the insights come through unchanged
	diff -u <(jq -c .insights pii-near-misses.raw) <(jq -c .insights pii-near-misses.expected.json)
}

@test "redactions are reported on stderr, kinds sorted" {
	run -0 --separate-stderr persona-normalize $DEFAULT_ARGS pii-all.raw
	[ "$stderr" = "persona-normalize: pii-all.raw: 27 PII items redacted (card 4, email 5, iban 2, ip 5, phone 9, ssn 2)" ]
	run -0 --separate-stderr persona-normalize $DEFAULT_ARGS clean.raw
	[ -z "$stderr" ]
}

@test "standard input is read with '-' or no file, and named <stdin> in messages" {
	run -0 --separate-stderr persona-normalize $DEFAULT_ARGS - <fenced-json.raw
	diff -u fenced-json.expected.json <(printf '%s\n' "$output")
	run -0 --separate-stderr persona-normalize $DEFAULT_ARGS <fenced-json.raw
	diff -u fenced-json.expected.json <(printf '%s\n' "$output")
	run -1 --separate-stderr persona-normalize $DEFAULT_ARGS - <title-object.raw
	[ "$stderr" = 'persona-normalize: <stdin>: $.recommendations[2].title: expected a string, got an object' ]
}

@test "review order and version come from the registration when not given" {
	use_fixture_registry
	run -0 persona-normalize --persona security-specialist fenced-json.raw
	run -0 jq -c '[.persona.reviewOrder, .metadata.version]' <<<"$output"
	assert_output '[3,"1.0.0"]'
	# options win over the registration
	run -0 persona-normalize --persona security-specialist --order 9 --persona-version 7.7 fenced-json.raw
	run -0 jq -c '[.persona.reviewOrder, .metadata.version]' <<<"$output"
	assert_output '[9,"7.7"]'
	# the output's own version wins over both
	run -0 persona-normalize --persona security-specialist clean.raw
	run -0 jq -r .metadata.version <<<"$output"
	assert_output "2.1.0"
}

@test "an unregistered persona needs --order" {
	use_fixture_registry
	run -2 --separate-stderr persona-normalize --persona data-privacy-officer persona-prefix.raw
	[[ "$stderr" == "persona-normalize: persona 'data-privacy-officer' is not registered: give its review order with --order"* ]]
	run -0 persona-normalize --persona data-privacy-officer --order 7 persona-prefix.raw
	run -0 jq -c '[.persona.reviewOrder, .metadata.version, [.recommendations[].id]]' <<<"$output"
	assert_output '[7,"unknown",["DPO-001","DPO-002"]]'
}

@test "-o writes the file atomically, leaves no temporary file, and keeps an unchanged file" {
	local out="$BATS_TEST_TMPDIR/out/04-security-specialist.json"
	mkdir -p "${out%/*}"
	run -0 persona-normalize $DEFAULT_ARGS -o "$out" two-candidates.raw
	assert_output ""
	diff -u two-candidates.expected.json "$out"
	assert_no_temp_files "${out%/*}"
	touch -d '2001-01-01 00:00:00' "$out"
	run -0 persona-normalize $DEFAULT_ARGS -o "$out" two-candidates.raw
	[ "$(stat -c %Y "$out")" = "$(date -d '2001-01-01 00:00:00' +%s)" ] || fail "unchanged output was rewritten"
	run -0 persona-normalize $DEFAULT_ARGS -o "$out" clean.raw
	diff -u clean.expected.json "$out"
	assert_no_temp_files "${out%/*}"
}

@test "a rejected output writes nothing and leaves an existing file alone" {
	local out="$BATS_TEST_TMPDIR/out.json"
	run -1 persona-normalize $DEFAULT_ARGS -o "$out" truncated.raw
	assert_file_not_exist "$out"
	cp clean.expected.json "$out"
	run -1 persona-normalize $DEFAULT_ARGS -o "$out" single-quotes.raw
	diff -u clean.expected.json "$out"
	assert_no_temp_files "$BATS_TEST_TMPDIR"
}

@test "a full disk is a temporary failure: exit 111" {
	[ -w /dev/full ] || skip "no writable /dev/full"
	run -111 --separate-stderr persona-normalize $DEFAULT_ARGS -o /dev/full clean.raw
	[ "$stderr" = "persona-normalize: cannot write '/dev/full': No space left on device" ]
	run -111 --separate-stderr bash -c "persona-normalize $DEFAULT_ARGS clean.raw >/dev/full"
	[[ "$stderr" == "persona-normalize: cannot write standard output: No space left on device"* ]]
}

@test "a missing input file is rejected naming it" {
	run -1 --separate-stderr persona-normalize $DEFAULT_ARGS no-such.raw
	[ "$stderr" = "persona-normalize: cannot open 'no-such.raw': No such file or directory" ]
}

@test "hostile input is rejected quickly: megabytes of unbalanced braces" {
	head -c 3000000 /dev/zero | tr '\0' '{' >"$BATS_TEST_TMPDIR/braces.raw"
	run -1 --separate-stderr timeout 20 persona-normalize $DEFAULT_ARGS "$BATS_TEST_TMPDIR/braces.raw"
	[[ "$stderr" == *"nesting deeper than 64 levels" ]]
}

@test "the answer is found after thousands of stray braces" {
	local t="$BATS_TEST_TMPDIR/stray.raw"
	{
		for i in $(seq 1 5000); do echo "step $i opens { and never closes it"; done
		cat prose-wrapped.raw
	} >"$t"
	run -0 --separate-stderr timeout 20 persona-normalize $DEFAULT_ARGS "$t"
	run -0 jq -r '.insights[0]' <<<"$output"
	assert_output "Rate limits are not specified."
}

@test "a long agent transcript with the answer at the end normalizes" {
	local t="$BATS_TEST_TMPDIR/transcript.raw"
	{
		for i in $(seq 1 20000); do
			echo "step $i: thinking about {the epic} and \"quotes\" and 'apostrophes' <b>x</b>"
		done
		cat fenced-json.raw
	} >"$t"
	run -0 --separate-stderr timeout 20 persona-normalize $DEFAULT_ARGS "$t"
	run -0 jq -r '.recommendations[0].title, .metadata.raw' <<<"$output"
	assert_line --index 0 "Validate file types by content"
	assert_line --index 1 --partial "JSON taken from a \`\`\` fence at line 20004"
}
