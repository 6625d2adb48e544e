#!/usr/bin/env bash
# make bench-peers: epic-creator side by side with LangGraph JS (@langchain/langgraph,
# six trivial nodes: langgraph.mjs), in the same run, on this machine. Optional: it
# installs its npm dependencies under tests/bench/peers/ (test-only) on first use.
# Medians; printed, never asserted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bin=${EC_BIN:-$root/bin}
command -v node >/dev/null && command -v npm >/dev/null || { echo "bench-peers: needs node and npm" >&2; exit 1; }
[ -d "$here/node_modules/@langchain/langgraph" ] ||
	npm ci --prefix "$here" --no-audit --no-fund --silent
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset EPIC_CONFIG EPIC_PERSONA_PATH
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "n/a"}'; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }

echo "== peers: LangGraph JS $(node -p "require('$here/node_modules/@langchain/langgraph/package.json').version") (node $(node --version)) and epic-creator =="
lg_in=$(node "$here/langgraph.mjs" 500 | awk '{print $2}')
lg_fresh=$(for i in $(seq 1 21); do
	t0=$(now_us); node "$here/langgraph.mjs" 1 > /dev/null; echo $(( $(now_us) - t0 ))
done | median)
export EPIC_SPOOL="$work/spool"
cold=$(for f in "$root"/examples/requests/*; do
	t0=$(now_us); "$bin/epic" run -q "$f" > /dev/null; echo $(( $(now_us) - t0 ))
done | median)
export EPIC_SPOOL="$work/once"
mkdir -p "$EPIC_SPOOL/incoming" "$EPIC_SPOOL/tmp/q"
for i in $(seq 1 200); do
	printf 'Epic %s: let shop admins upload product images and let customers pay by card at checkout.\n' "p$i" > "$EPIC_SPOOL/tmp/q/r$i.txt"
done
mv "$EPIC_SPOOL"/tmp/q/*.txt "$EPIC_SPOOL/incoming/"
t0=$(now_us); "$bin/epic-watch" --once 2> /dev/null || true; once=$(( ($(now_us) - t0) / 200 ))
awk -v li="$lg_in" -v lf="$lg_fresh" -v c="$cold" -v o="$once" 'BEGIN {
	printf "  %-46s %8.1f ms per epic\n", "LangGraph, six nodes in one process:", li
	printf "  %-46s %8.1f ms per epic\n", "LangGraph, a fresh node process per epic:", lf / 1000
	printf "  %-46s %8.1f ms per epic (the 14 examples, median)\n", "epic-creator, epic run, cold:", c / 1000
	printf "  %-46s %8.1f ms per epic (200 queued, two slots)\n", "epic-creator, epic-watch --once:", o / 1000
	printf "  %-46s %8.2f x (LangGraph fresh process / epic run)\n", "a cold epic vs a fresh LangGraph process:", lf / c
	printf "  %-46s %8.2f x (epic-watch per epic / LangGraph in-process)\n", "the watcher vs LangGraph in one process:", o / 1000 / li
}'
