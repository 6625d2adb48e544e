#!/bin/bash
# run-personas.sh - run the six built-in personas over example requests, in review
# order, each persona's input carrying what the earlier ones found, as persona-run
# does in a task's pipeline. Test tooling for tests/personas.bats and for measuring
# the engine; it needs only jq and bin/persona-rules (two processes per persona).
#
#   run-personas.sh [-m MODE] [-B N] OUTDIR REQUEST...
#
# For each REQUEST (an EpicRequest .json, or a plain .txt/.md description) it writes
# OUTDIR/<request file name>/NN-PERSONA.input.json and NN-PERSONA.json. The mode is
# the request's ("mode" in JSON, else standard) unless -m MODE is given. A persona
# without a rule base in pipeline/personas/rules/ is skipped; one the request
# excludes (options.excludePersonas) still runs, so its own expectations can be
# checked, but its findings are not passed on. -B N passes --bench N to
# persona-rules (the timings go to stderr).
#
# Exit: 0 when every persona ran, 1 when one failed (its stderr is shown), 2 usage.
# Environment: EC_BIN (default <repo>/bin), EC_RULES (default
# <repo>/pipeline/personas/rules).
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${EC_BIN:-$root/bin}
rules=${EC_RULES:-$root/pipeline/personas/rules}
personas="product-owner architect security-specialist performance-specialist accessibility-advocate devops-engineer"
mode=
bench=

usage() {
	echo "usage: run-personas.sh [-m MODE] [-B N] OUTDIR REQUEST..." >&2
	exit 2
}

while getopts B:m: opt; do
	case $opt in
	B) bench=$OPTARG ;;
	m) mode=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
out=$1
shift

# The epic part of a PersonaInput, from a request: what epic-parse would produce.
base() {
	case $1 in
	*.json)
		jq --arg m "$mode" '{
			description, mode: (if $m != "" then $m else (.mode // "standard") end),
			title: (.title // ([.description | splits("\n") | select(test("\\S"))][0]
			    | sub("^#+\\s*"; "") | .[:80])),
			enforceDevops: (.enforceDevops // false),
			exclude: (.options.excludePersonas // []),
			context: ((.metadata // {}) | with_entries(select(.value != null)))
		}' "$1" ;;
	*)
		jq -Rs --arg m "$mode" '{
			description: ., mode: (if $m != "" then $m else "standard" end),
			title: ([splits("\n") | select(test("\\S"))][0] | sub("^#+\\s*"; "") | .[:80]),
			enforceDevops: false, exclude: [], context: {}
		}' "$1" ;;
	esac
}

rc=0
for req; do
	dir=$out/$(basename "$req")
	mkdir -p "$dir" || exit 1
	base "$req" >"$dir/base.json" || { rc=1; continue; }
	exclude=$(jq -r '.exclude | join(" ")' "$dir/base.json")
	chain=()
	order=0
	for p in $personas; do
		order=$((order + 1))
		[ -f "$rules/$p.json" ] || continue
		nn=$(printf '%02d' $order)
		jq -n --arg name "$p" --argjson order $order --slurpfile base "$dir/base.json" '
			[inputs] as $outs | $base[0] as $b | {
			epic: {
				description: $b.description,
				mode: $b.mode,
				previousPersonas: [$outs[].persona.name],
				accumulatedInsights: ($outs | map({(.persona.name): {
					insights, signals: (.signals // []),
					recommendations: [.recommendations[] | {id, title, type, priority}]
				}}) | add // {}),
				context: ($b.context + {title: $b.title, enforceDevops: $b.enforceDevops})
			},
			persona: {name: $name, reviewOrder: $order}
		}' "${chain[@]}" >"$dir/$nn-$p.input.json" || { rc=1; continue; }
		if ! "$bin/persona-rules" ${bench:+--bench "$bench"} -r "$rules/$p.json" \
		    -o "$dir/$nn-$p.json" "$dir/$nn-$p.input.json"; then
			echo "run-personas.sh: $p failed on $req" >&2
			rc=1
			continue
		fi
		case " $exclude " in
		*" $p "*) ;;
		*) chain+=("$dir/$nn-$p.json") ;;
		esac
	done
done
exit $rc
