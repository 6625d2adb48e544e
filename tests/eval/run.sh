#!/usr/bin/env bash
# make eval: how the built-in personas do on the evaluation corpus (tests/corpus/,
# see its README) and on examples/requests/, standard mode. Figures are printed,
# never asserted here; tests/corpus.bats holds the tuning split to its expectations.
#
#   tests/eval/run.sh [--misses | --known] [--json DIR] [--facts DIR] [SET...]
#
# SET is tune, check or examples (default: all three). --misses lists, for the tune
# split only, every expected concern a persona did not raise and every recommendation
# that is advice to avoid: the check split is never looked at that closely, so that
# its figure stays an honest one. --json DIR keeps each epic's EpicResponse; --facts
# DIR keeps SET.jsonl, one line of facts per epic. --known prints, for the tune split
# only, one line per expectation not met ("NAME missed PERSONA: CONCERN", "NAME
# avoid CONCERN") and nothing else: tests/corpus/tune.known is that list, and
# tests/corpus.bats fails when it changes either way.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${EC_BIN:-$root/bin}
misses=0 keep= facts_dir=
while [ $# -gt 0 ]; do
	case $1 in
	--misses) misses=1; shift ;;
	--known) misses=2; shift ;;
	--json) keep=$2; shift 2 ;;
	--facts) facts_dir=$2; shift 2 ;;
	-*) echo "usage: tests/eval/run.sh [--misses | --known] [--json DIR] [--facts DIR] [tune|check|examples...]" >&2; exit 2 ;;
	*) break ;;
	esac
done
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(tune check examples)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A fresh spool: no cached persona output from before a rule base changed.
export EPIC_SPOOL="$work/spool"
unset EPIC_CONFIG EPIC_PERSONA_PATH EPIC_DATADIR
# EPIC_EVAL_CONFIG: review with another config, e.g. an agent profile
# (EPIC_EVAL_CONFIG=pipeline/profiles/claude.yml make eval: the corpus through LLM agents).
if [ -n "${EPIC_EVAL_CONFIG:-}" ]; then
	export EPIC_CONFIG=$EPIC_EVAL_CONFIG
	echo "tests/eval/run.sh: reviewing with $EPIC_CONFIG" >&2
fi
export PATH="$bin:$PATH"

# One line of facts per epic, from its EpicResponse and its expectation ({} if none).
facts='
def pairs: [.raise // {} | to_entries[] | .key as $p | .value[] | {persona: $p, concern: .}];
($resp[0].epic) as $e | ($exp[0] // {}) as $x |
($e.recommendations) as $r |
{
  name: $name,
  recs: ($r | length),
  blocking: ([$r[] | select(.type == "blocking")] | length),
  without_concern: ([$r[] | select(.concern == null)] | length),
  duplicate_families: ([$r[] | .concern // empty] | group_by(.) | map(select(length > 1)) | length),
  silent: ([$e.personas[] | select(.persona.status == "completed" and (.recommendations | length) == 0 and (.insights | length) == 0)] | length),
  no_recs: ([$e.personas[] | select(.persona.status == "completed" and (.recommendations | length) == 0) | .persona.name]),
  fired: ([$e.personas[] | .metadata.rulesFired // [] | length] | add // 0),
  pairs: ($x | pairs | length),
  hits: ([$x | pairs[] | . as $p | select(any($r[]; .concern == $p.concern and (.personas | index($p.persona))))] | length),
  missed: ([$x | pairs[] | . as $p | select(any($r[]; .concern == $p.concern and (.personas | index($p.persona))) | not) | "\(.persona): \(.concern)"]),
  irrelevant: ([$r[] | select(.concern as $c | ($x.avoid // []) | index($c))] | length),
  avoided: ([$r[] | select(.concern as $c | ($x.avoid // []) | index($c)) | "\(.id) \(.concern): \(.title)"]),
  avoided_concerns: ([$r[] | .concern as $c | select(($x.avoid // []) | index($c)) | $c] | unique),
  by_persona: ([$x | pairs[] | . as $p | {persona: .persona, hit: any($r[]; .concern == $p.concern and (.personas | index($p.persona)))}])
}'

summary='
def median: sort | if length == 0 then 0 elif length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def pct(a; b): if b == 0 then "n/a" else ((a * 1000 / b | round) / 10 | tostring) + " %" end;
def ratio(a; b): if b == 0 then "n/a" else ((a * 100 / b | round) / 100 | tostring) end;
(map(.pairs) | add) as $pairs | (map(.hits) | add) as $hits | (map(.recs) | add) as $recs |
"  epics                                 \(length)",
(if $pairs > 0 then
"  recall (expected concerns raised)     \(ratio($hits; $pairs))  (\($hits) of \($pairs))",
"  irrelevant advice                     \(pct(map(.irrelevant) | add; $recs))  (\(map(.irrelevant) | add) of \($recs) recommendations)"
else empty end),
"  silent personas                       \(map(.silent) | add)  (reviewed: no recommendation and no insight)",
"  personas without a recommendation     \(map(.no_recs | length) | add)",
"  unmerged duplicate families           \(map(.duplicate_families) | add)",
"  recommendations without a concern     \(map(.without_concern) | add)",
"  recommendations per epic, median      \(map(.recs) | median)  (min \(map(.recs) | min), max \(map(.recs) | max))",
"  blocking share                        \(pct(map(.blocking) | add; $recs))",
"  rules fired per epic, median          \(map(.fired) | median)",
(if $pairs > 0 then
"  recall by persona:",
([.[].by_persona[]] | group_by(.persona)[] | "    \(.[0].persona | . + " " * (24 - length))\(ratio(map(select(.hit)) | length; length))  (\(map(select(.hit)) | length) of \(length))")
else empty end)'

for set in "${sets[@]}"; do
	case $set in
	tune|check) files=("$root"/tests/corpus/"$set"/*.md "$root"/tests/corpus/"$set"/*.txt) ;;
	examples) files=("$root"/examples/requests/*) ;;
	*) echo "tests/eval/run.sh: unknown set '$set': expected tune, check or examples" >&2; exit 2 ;;
	esac
	: > "$work/$set.jsonl"
	for f in "${files[@]}"; do
		[ -f "$f" ] || continue
		name=$(basename "${f%.*}")
		exp="${f%.*}.expect.json"
		[ -f "$exp" ] || exp=/dev/null
		if ! epic run -q "$f" > "$work/resp.json" 2> "$work/err"; then
			echo "tests/eval/run.sh: $set/$name: epic run failed: $(tail -1 "$work/err")" >&2
			exit 1
		fi
		[ -z "$keep" ] || { mkdir -p "$keep/$set"; cp "$work/resp.json" "$keep/$set/$name.json"; }
		jq -nc --arg name "$name" --slurpfile resp "$work/resp.json" --slurpfile exp "$exp" "$facts" \
			>> "$work/$set.jsonl"
	done
	[ -z "$facts_dir" ] || { mkdir -p "$facts_dir"; cp "$work/$set.jsonl" "$facts_dir/$set.jsonl"; }
	if [ "$misses" = 2 ]; then
		[ "$set" != tune ] || jq -r '.name as $n | (.missed[] | "\($n) missed \(.)"), (.avoided_concerns[] | "\($n) avoid \(.)")' "$work/$set.jsonl"
		continue
	fi
	echo "== $set =="
	jq -rs "$summary" "$work/$set.jsonl"
	if [ "$misses" = 1 ] && [ "$set" = tune ]; then
		jq -r '"  \(.name):", (.missed[] | "    missed   \(.)"), (.avoided[] | "    avoid    \(.)"), (.no_recs[] | "    no recommendation from \(.)")' "$work/$set.jsonl"
	fi
done
