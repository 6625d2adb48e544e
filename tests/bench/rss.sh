#!/usr/bin/env bash
# Peak RSS of each tool of a cold epic on a 1 MiB request (issue 12: <= 16 MB each),
# from wait4's ru_maxrss (tests/bench/floor.c --rss). Printed, never asserted.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${EC_BIN:-$root/bin}
work=$1/rss
probe=${EC_BENCH_BIN:-}/floor
[ -x "$probe" ] || { echo "== peak RSS: (make bench builds the probe; skipped) =="; exit 0; }
mkdir -p "$work/task"
export EPIC_SPOOL="$work/spool"
# The default cap on a description is 64 KiB: raised here to take the 1 MiB one.
sed 's/^\(  maxDescriptionBytes:\).*/\1 2097152/' "$root/pipeline/epic-creator.yml" > "$work/config.yml"
export EPIC_CONFIG="$work/config.yml"
# A 1 MiB epic of real wording: the examples' requests over and over.
req="$work/task/request.md"
: > "$work/all"
while [ "$(stat -c %s "$work/all")" -lt 1048000 ]; do
	cat "$root"/examples/requests/*.md "$root"/examples/requests/*.txt >> "$work/all"
done
{ echo "# A very large epic"; echo; head -c 1048000 "$work/all"; echo; } > "$req"
echo "== peak RSS per tool, one cold epic on a $(( $(stat -c %s "$req") / 1024 )) KiB request =="
rss() {
	local name=$1; shift
	"$probe" --rss "$@" | awk -v n="$name" '{printf "  %-34s %8.1f MiB%s\n", n ":", $2 / 1024, $4 ? " (exit " $4 ")" : ""}'
}
cd "$work/task"
rss epic-parse "$bin/epic-parse" --task-id big --stamp .parse.stamp --plan plan.mk -o epic-request.json "$req"
prev=()
for p in $(jq -r '.personas[] | .name' plan.json); do
	out=$(jq -r --arg p "$p" '.personas[] | select(.name == $p) | .output' plan.json)
	rss "persona-run $p" "$bin/persona-run" --persona "$p" -o "$out" epic-request.json "${prev[@]}"
	prev+=("$out")
done
rss epic-aggregate "$bin/epic-aggregate" --checkpoints checkpoints.jsonl -o epic.json epic-request.json "${prev[@]}"
rss "epic run (launcher; make below)" "$bin/epic" run -q "$req"
