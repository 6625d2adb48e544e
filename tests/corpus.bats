#!/usr/bin/env bats
# The evaluation corpus (tests/corpus/README.md): every epic has its expectation, the
# expectations speak the shared vocabulary, and the split is the one fixed at the
# start (numbers divisible by three are the check split, never tuned on).

load test_helper

setup() {
	CORPUS="$ROOT/tests/corpus"
	CONCERNS="$ROOT/pipeline/concerns.json"
}

@test "the corpus: at least 45 epics, each with an expectation, split two to one by number" {
	local f n base split count=0
	for f in "$CORPUS"/tune/* "$CORPUS"/check/*; do
		case $f in *.expect.json) continue ;; esac
		base=${f##*/}
		n=$((10#${base%%-*}))
		split=${f%/*}
		split=${split##*/}
		[ -f "${f%.*}.expect.json" ] || fail "$base: no expectation"
		if [ $((n % 3)) = 0 ]; then [ "$split" = check ]; else [ "$split" = tune ]; fi ||
			fail "$base: in $split/, but its number says otherwise"
		count=$((count + 1))
	done
	[ "$count" -ge 45 ] || fail "only $count epics"
	for f in "$CORPUS"/*/*.expect.json; do
		[ -f "${f%.expect.json}.md" ] || [ -f "${f%.expect.json}.txt" ] ||
			fail "${f##*/}: no epic beside it"
	done
}

@test "every expectation names concerns of the vocabulary, each raised by a persona it lists" {
	run -0 jq -rn --slurpfile c "$CONCERNS" '
		$c[0].concerns as $v |
		inputs | input_filename as $f |
		(.raise | to_entries[] | .key as $p | .value[] |
			select(($v[.] == null) or (($v[.].areas | index($p)) == null)) |
			"\($f): \($p) cannot raise \(.)"),
		(.avoid[] | select($v[.] == null) | "\($f): unknown concern \(.) in avoid"),
		((.raise | [.[][]]) as $r | .avoid[] | select(. as $a | $r | index($a)) |
			"\($f): \(.) both raised and avoided"),
		(select((.source | length) == 0) | "\($f): no source")' "$CORPUS"/*/*.expect.json
	assert_output ""
}

@test "every corpus epic is a request epic-parse accepts, with a real title" {
	local f
	for f in "$CORPUS"/*/*.md "$CORPUS"/*/*.txt; do
		run -0 --separate-stderr epic-parse "$f"
		run -0 jq -r .title <<< "$output"
		case $output in Abstract|Summary|Background|Overview|Motivation) fail "${f##*/}: title '$output'" ;; esac
	done
}
