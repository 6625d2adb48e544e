#!/usr/bin/env bats
# The six built-in personas on the example requests: each example runs through the
# personas in review order (tests/tools/run-personas.sh), every persona seeing what
# the earlier ones found, once in each mode. Each rule base is held to its
# expectations, tests/fixtures/personas/PERSONA.expect.json:
#   { "EXAMPLE-FILE": { "must": [ids that fire], "mustNot": [ids that must not] } }
# checked in the example's own mode (a JSON request's "mode", else standard).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
bats_require_minimum_version 1.5.0

PERSONAS="product-owner architect security-specialist performance-specialist accessibility-advocate devops-engineer"

setup_file() {
	ROOT="$BATS_TEST_DIRNAME/.."
	OUT="$BATS_FILE_TMPDIR/out"
	export ROOT OUT
	mkdir -p "$OUT/own"
	# the three modes at once: three chains of processes, not one after the other
	for m in mvp standard enterprise; do
		{
			"$ROOT/tests/tools/run-personas.sh" -m "$m" "$OUT/$m" \
			    "$ROOT"/examples/requests/* 2>"$OUT/$m.stderr"
			echo $? >"$OUT/$m.status"
		} &
	done
	wait
	# own/EXAMPLE: the example's run in its own mode
	for f in "$ROOT"/examples/requests/*; do
		m=standard
		case $f in *.json) m=$(jq -r '.mode // "standard"' "$f") ;; esac
		ln -s "../$m/${f##*/}" "$OUT/own/${f##*/}"
	done
}

setup() {
	ROOT="$BATS_TEST_DIRNAME/.."
}

# order NAME: the persona's two-digit review order.
order() {
	local i=0 p
	for p in $PERSONAS; do
		i=$((i + 1))
		[ "$p" = "$1" ] && { printf '%02d' $i; return; }
	done
	return 1
}

# outputs DIR...: every persona output (not input) file under the run directories.
outputs() {
	local d f
	for d; do
		for f in "$d"/*/[0-9][0-9]-*.json; do
			case $f in *.input.json) ;; *) [ -e "$f" ] && echo "$f" ;; esac
		done
	done
}

# checkable PERSONA: skip the test unless the persona has a rule base and expectations.
checkable() {
	[ -f "$ROOT/pipeline/personas/rules/$1.json" ] || skip "no rule base for $1 yet"
	[ -f "$ROOT/tests/fixtures/personas/$1.expect.json" ] || skip "no expectations for $1 yet"
}

# check PERSONA: print one line per violated expectation, nothing when all hold.
check() {
	local p=$1 nn exp=$ROOT/tests/fixtures/personas/$1.expect.json
	nn=$(order "$p")
	local files=("$OUT"/own/*/"$nn-$p.json")
	[ -e "${files[0]}" ] || { echo "$p: no outputs"; return; }
	jq -n -r --arg p "$p" --slurpfile exp "$exp" '
		[inputs | {key: (input_filename | split("/") | .[-2]), value: .metadata.rulesFired}]
		| from_entries as $fired
		| $exp[0] | to_entries[] | .key as $ex | .value as $want
		| if $fired[$ex] == null then "\($p): \($ex): no output for this example"
		  else
			(($want.must // [])[] | select(. as $id | $fired[$ex] | any(.[]; . == $id) | not)
			    | "\($p): \($ex): \(.) must fire but did not"),
			(($want.mustNot // [])[] | select(. as $id | $fired[$ex] | any(.[]; . == $id))
			    | "\($p): \($ex): \(.) must not fire but did")
		  end' "${files[@]}"
}

@test "every example runs through every persona in every mode" {
	local m n want=0 p
	for p in $PERSONAS; do
		[ -f "$ROOT/pipeline/personas/rules/$p.json" ] && want=$((want + 1))
	done
	[ $want -gt 0 ] || skip "no rule bases yet"
	want=$((want * $(ls "$ROOT/examples/requests" | wc -l)))
	for m in mvp standard enterprise; do
		run cat "$OUT/$m.stderr"
		assert_output ""
		[ "$(cat "$OUT/$m.status")" = 0 ]
		n=$(outputs "$OUT/$m" | wc -l)
		[ "$n" -eq "$want" ] || fail "$m: $n outputs, expected $want"
	done
}

@test "product-owner meets its expectations" {
	checkable product-owner
	run check product-owner
	assert_output ""
}

@test "architect meets its expectations" {
	checkable architect
	run check architect
	assert_output ""
}

@test "security-specialist meets its expectations" {
	checkable security-specialist
	run check security-specialist
	assert_output ""
}

@test "performance-specialist meets its expectations" {
	checkable performance-specialist
	run check performance-specialist
	assert_output ""
}

@test "accessibility-advocate meets its expectations" {
	checkable accessibility-advocate
	run check accessibility-advocate
	assert_output ""
}

@test "devops-engineer meets its expectations" {
	checkable devops-engineer
	run check devops-engineer
	assert_output ""
}

@test "every expectation file names a persona and only existing examples" {
	local f name
	for f in "$ROOT"/tests/fixtures/personas/*.expect.json; do
		[ -e "$f" ] || skip "no expectation files yet"
		name=${f##*/}
		name=${name%.expect.json}
		order "$name" >/dev/null || fail "$f: unknown persona '$name'"
		run jq -r 'keys[]' "$f"
		for ex in "${lines[@]}"; do
			[ -f "$ROOT/examples/requests/$ex" ] || fail "$f: no example '$ex'"
		done
	done
}

@test "later personas see the earlier personas' findings" {
	local last nn
	for p in $PERSONAS; do
		[ -f "$ROOT/pipeline/personas/rules/$p.json" ] && last=$p
	done
	[ -n "${last:-}" ] || skip "no rule bases yet"
	nn=$(order "$last")
	run jq -r '.epic.previousPersonas | join(" ")' "$OUT/standard/03-file-uploads.txt/$nn-$last.input.json"
	refute_output ""
	run jq -r '[.epic.accumulatedInsights[].signals[]] | length > 0' \
	    "$OUT/standard/03-file-uploads.txt/$nn-$last.input.json"
	assert_output true
}

@test "mvp yields fewer recommendations than standard in total" {
	local mvp std
	mvp=$(outputs "$OUT/mvp" | xargs jq -s 'map(.recommendations | length) | add // 0')
	std=$(outputs "$OUT/standard" | xargs jq -s 'map(.recommendations | length) | add // 0')
	echo "mvp=$mvp standard=$std"
	[ "$std" -gt 0 ]
	[ "$mvp" -lt "$std" ]
}

@test "the whole chain is deterministic" {
	"$ROOT/tests/tools/run-personas.sh" -m standard "$BATS_TEST_TMPDIR/again" \
	    "$ROOT/examples/requests/01-checkout-payments.json" "$ROOT/examples/requests/09-council-contact-form.txt"
	diff -r "$OUT/standard/01-checkout-payments.json" "$BATS_TEST_TMPDIR/again/01-checkout-payments.json"
	diff -r "$OUT/standard/09-council-contact-form.txt" "$BATS_TEST_TMPDIR/again/09-council-contact-form.txt"
}

@test "every output validates against the PersonaOutput schema" {
	[ -d "$ROOT/tests/node_modules" ] || skip "tests/node_modules missing (npm ci --prefix tests)"
	run bash -c 'cd "$1" && shift && node tests/tools/schema-check.mjs validate persona-output "$@" | grep -v ": ok$"' \
	    _ "$ROOT" $(outputs "$OUT/mvp" "$OUT/standard" "$OUT/enterprise")
	assert_output ""
}

@test "every signal a built-in rule base emits is in pipeline/personas/SIGNALS.md, the vocabulary between personas" {
	local documented
	documented=$(grep -o '`[a-z0-9-]*:[a-z0-9:*-]*`' "$ROOT/pipeline/personas/SIGNALS.md" | tr -d '`' | sort -u)
	run -0 bash -c 'jq -r "select(.rules) | .rules[].signals // [] | .[]" "$@" | sort -u' _ "$ROOT"/pipeline/personas/rules/*.json
	run -0 comm -23 <(printf '%s\n' "$output") <(printf '%s\n' "$documented")
	assert_output ""
}
