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

# The tuning split's expectations are tests: each one met must stay met. The ones not
# met yet are listed in tests/corpus/tune.known (regenerate it with `make corpus-known`
# after a change that meets more of them, and look at the diff): a line that appears is
# a regression, a line that goes away is progress to record. The check split is never
# held to its expectations here (it is only measured, by `make eval`).
@test "the tuning split's expectations are tests: what is met stays met (tests/corpus/tune.known lists the rest)" {
	run -0 "$ROOT/tests/eval/run.sh" --known tune
	local now=$output
	run -0 diff <(grep -v '^#' "$CORPUS/tune.known") <(printf '%s\n' "$now")
}

@test "on the tuning split and the examples: never silent, every recommendation has a concern, no unmerged duplicate" {
	run -0 "$ROOT/tests/eval/run.sh" --facts "$BATS_TEST_TMPDIR/facts" tune examples
	run -0 jq -rs 'map(select(.silent > 0 or .without_concern > 0 or .duplicate_families > 0) |
		"\(.name): \(.silent) silent, \(.without_concern) without a concern, \(.duplicate_families) duplicate families")[]' \
		"$BATS_TEST_TMPDIR"/facts/tune.jsonl "$BATS_TEST_TMPDIR"/facts/examples.jsonl
	assert_output ""
}

# blocking FILE: the number of blocking recommendations in FILE's review.
blocking() {
	epic run -q "$1" | jq '[.epic.recommendations[] | select(.type == "blocking")] | length'
}

@test "answering the review closes it: revised epics (tests/corpus/revised/) get fewer blocking recommendations, never more" {
	local f base before after fewer=0 same= more=
	for f in "$CORPUS"/revised/*.md "$CORPUS"/revised/*.txt; do
		base=${f##*/}
		[ "$base" != README.md ] || continue
		[ -f "$CORPUS/tune/$base" ] || fail "$base: no tuning epic of that name"
		before=$(blocking "$CORPUS/tune/$base")
		after=$(blocking "$f")
		if [ "$after" -lt "$before" ]; then fewer=$((fewer + 1))
		elif [ "$after" -gt "$before" ]; then more+=" $base ($before -> $after)"
		else same+=" $base ($before)"; fi
	done
	[ -z "$more" ] || fail "answering the review raised the blocking count:$more"
	[ "$fewer" -ge 10 ] || fail "only $fewer revisions have fewer blocking recommendations; the same:$same"
}
