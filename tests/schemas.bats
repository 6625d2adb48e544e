#!/usr/bin/env bats
# schemas.bats - schemas/ checked by an independent, complete validator (Ajv, draft
# 2020-12), so the in-house C subset validator (tools/lib/schema.c) and the contracts
# cannot drift apart unnoticed.
#
# Fixtures: tests/fixtures/schemas/valid/NAME/*.json must validate against
# schemas/NAME.schema.json; tests/fixtures/schemas/invalid/NAME/X.json must be
# rejected, and X.expect lists (one per line) substrings of the validator's output
# that say why, so a fixture cannot pass by being broken in some other way.
#
# Needs node and tests/node_modules (npm ci --prefix tests); skipped without them.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# The contracts of DESIGN.md: one schema each.
CONTRACTS="epic-request config persona-registration rule-base persona-input
persona-output epic-response workflow-state task-status health-check"

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
	FIX="$ROOT/tests/fixtures/schemas"
	CHECK="$ROOT/tests/tools/schema-check.mjs"
}

# Skip the calling test unless node and the pinned ajv are installed.
need_ajv() {
	if ! command -v node >/dev/null 2>&1; then
		skip "node is not installed (apt-get install nodejs npm): schema tests need it"
	fi
	if [ ! -d "$ROOT/tests/node_modules/ajv" ] || [ ! -d "$ROOT/tests/node_modules/ajv-formats" ]; then
		skip "tests/node_modules is missing: run 'npm ci --prefix tests' to check schemas with ajv"
	fi
}

check() {
	node "$CHECK" "$@"
}

# JSON deep equality of stdin and file $1.
same_json() {
	node -e '
		const fs = require("fs"), util = require("util");
		const a = JSON.parse(fs.readFileSync(0, "utf8"));
		const b = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
		process.exit(util.isDeepStrictEqual(a, b) ? 0 : 1);
	' "$1"
}

# per_schema KIND CMD JUDGE: for the fixtures of each schema under $FIX/KIND/NAME/,
# one `check CMD NAME FILE...` (a node start per file was a minute of each pass of
# make check), then JUDGE FILE... with its $status and $output. The caller's
# $count gets the number of fixtures; JUDGE adds to the caller's $failed.
per_schema() {
	local kind=$1 cmd=$2 judge=$3 d
	for d in "$FIX/$kind"/*/; do
		set -- "$d"*.json
		[ -e "$1" ] || continue
		count=$((count + $#))
		run check "$cmd" "$(basename "$d")" "$@"
		"$judge" "$@"
	done
	[ "$count" -gt 0 ] || fail "no fixtures found under $FIX/$kind"
}
all_ok() {
	[ "$status" -eq 0 ] || failed="$failed"$'\n'"$(printf '%s\n' "$output" | grep -v ': ok$')"
}

@test "every contract has a schema" {
	local n missing=""
	for n in $CONTRACTS; do
		[ -f "$ROOT/schemas/$n.schema.json" ] || missing="$missing $n"
	done
	[ -z "$missing" ] || fail "schemas missing:$missing"
}

@test "every schema compiles in ajv strict mode and stays within the C validator's subset" {
	need_ajv
	run check compile
	assert_success
	local n
	for n in $CONTRACTS; do
		assert_line "$n.schema.json: ok"
	done
}

@test "the subset lint is not vacuous: a schema breaking every rule is rejected" {
	need_ajv
	EPIC_SCHEMA_DIR="$FIX/lint" run check compile
	assert_failure 1
	assert_output --partial 'bad.schema.json: /required: "misspelt" is not among the properties'
	assert_output --partial '/properties/digits/pattern: /^\d+$/ uses a backslash class'
	assert_output --partial '/properties/word/pattern: /^(?:[a-z]+)$/ uses a group extension'
	assert_output --partial '/properties/lazy/pattern: /^a+?$/ uses a lazy quantifier'
	assert_output --partial '/properties/unanchored/pattern: /[0-9]+/ is not anchored'
	assert_output --partial "/properties/conditional/if: keyword not in the C validator's subset"
	assert_output --partial '/properties/remote/$ref: "https://example.com/other.json" is not'
	assert_output --partial '/properties/open: has properties but no additionalProperties'
	assert_output --partial '/properties/anything: boolean schemas are not in'
	assert_output --partial 'schema-check: FAILED: bad.schema.json'
}

@test "every schema has at least 2 valid and 3 invalid fixtures" {
	need_ajv
	local n v i short=""
	for n in $CONTRACTS; do
		v=$(find "$FIX/valid/$n" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l)
		i=$(find "$FIX/invalid/$n" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l)
		if [ "$v" -lt 2 ] || [ "$i" -lt 3 ]; then
			short="$short $n($v valid, $i invalid)"
		fi
	done
	[ -z "$short" ] || fail "too few fixtures:$short"
}

@test "fixture directories name existing schemas" {
	need_ajv
	local d bad=""
	for d in "$FIX"/valid/* "$FIX"/invalid/*; do
		[ -d "$d" ] || continue
		[ -f "$ROOT/schemas/$(basename "$d").schema.json" ] || bad="$bad $d"
	done
	[ -z "$bad" ] || fail "fixture directories without a schema:$bad"
}

@test "every valid fixture validates" {
	need_ajv
	local failed="" count=0
	per_schema valid validate all_ok
	[ -z "$failed" ] || fail "valid fixtures rejected:$failed"
}

# Each invalid fixture in "$@" rejected (exit 1 for its schema), for the reasons
# its .expect file names, read in its own lines of $output.
rejected_for_reason() {
	local f expect line mine
	if [ "$status" -ne 1 ]; then
		failed="$failed"$'\n'"exit $status (expected 1) for $(dirname "$1"): $output"
		return
	fi
	for f in "$@"; do
		expect="${f%.json}.expect"
		mine=$(printf '%s\n' "$output" | grep -F -- "$f: " || true)
		if [ -z "$mine" ] || [ "$mine" = "$f: ok" ]; then
			failed="$failed"$'\n'"ACCEPTED (should be rejected): $f"
			continue
		fi
		if [ ! -s "$expect" ]; then
			failed="$failed"$'\n'"no .expect file saying why it is invalid: $f"
			continue
		fi
		while IFS= read -r line || [ -n "$line" ]; do
			[ -n "$line" ] || continue
			if ! grep -qF -- "$line" <<<"$mine"; then
				failed="$failed"$'\n'"rejected, but not for '$line': $f"$'\n'"$mine"
			fi
		done <"$expect"
	done
}

@test "every invalid fixture is rejected, for the reason its .expect file names" {
	need_ajv
	local failed="" count=0
	per_schema invalid validate rejected_for_reason
	[ -z "$failed" ] || fail "invalid fixtures:$failed"
}

@test "every .expect file belongs to an invalid fixture" {
	need_ajv
	local e orphans=""
	for e in "$FIX"/invalid/*/*.expect; do
		[ -e "$e" ] || continue
		[ -f "${e%.expect}.json" ] || orphans="$orphans $e"
	done
	[ -z "$orphans" ] || fail "orphan .expect files:$orphans"
}

@test "valid fixtures stay valid once the schema defaults are applied" {
	need_ajv
	local failed="" count=0
	per_schema valid validate-defaulted all_ok
	[ -z "$failed" ] || fail "defaults make documents invalid:$failed"
}

@test "an empty config file gets every default, and the result is a valid config" {
	need_ajv
	run check defaults config
	assert_success
	same_json "$FIX/defaults/config.json" <<<"$output" ||
		fail "config defaults differ from tests/fixtures/schemas/defaults/config.json: $output"
	run check validate config "$FIX/defaults/config.json"
	assert_success
}

@test "a minimal request gets the parser's defaults" {
	need_ajv
	run check defaults epic-request "$FIX/defaults/epic-request.in.json"
	assert_success
	same_json "$FIX/defaults/epic-request.json" <<<"$output" ||
		fail "epic-request defaults differ from tests/fixtures/schemas/defaults/epic-request.json: $output"
	run check validate epic-request "$FIX/defaults/epic-request.json"
	assert_success
}

@test "every examples/requests/*.json validates as epic-request" {
	need_ajv
	set -- "$ROOT"/examples/requests/*.json
	[ -e "$1" ] || skip "no examples/requests/*.json yet"
	run check validate epic-request "$@"
	assert_success
	[ "${#lines[@]}" -eq "$#" ]
}

@test "every persona registration in pipeline/personas validates" {
	need_ajv
	set -- "$ROOT"/pipeline/personas/*.json
	[ -e "$1" ] || skip "no pipeline/personas/*.json yet"
	run check validate persona-registration "$@"
	assert_success
}

@test "every rule base in pipeline/personas/rules validates, and the vocabulary they share" {
	need_ajv
	local f rbs=()
	for f in "$ROOT"/pipeline/personas/rules/*.json; do
		[ "${f##*/}" = concepts.json ] || rbs+=("$f")
	done
	run check validate rule-base "${rbs[@]}"
	assert_success
	run check validate concepts "$ROOT/pipeline/personas/rules/concepts.json"
	assert_success
}

@test "schema-check: usage errors and unknown schemas exit 2" {
	need_ajv
	run check
	assert_failure 2
	assert_output --partial 'usage:'
	run check validate epic-request
	assert_failure 2
	run check validate no-such-contract "$FIX/defaults/config.json"
	assert_failure 2
	assert_output --partial 'no schema named no-such-contract'
}

@test "schema-check: a document that is not JSON is reported, not crashed on" {
	need_ajv
	printf '{"description": "x",}\n' >"$BATS_TEST_TMPDIR/broken.json"
	run check validate epic-request "$BATS_TEST_TMPDIR/broken.json"
	assert_failure 1
	assert_output --partial "$BATS_TEST_TMPDIR/broken.json: / not JSON"
}
