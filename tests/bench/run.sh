#!/usr/bin/env bash
# make bench: the figures the issues ask for, printed, never asserted. These
# machines are shared and noisy: read the medians, compare ratios, not seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${EC_BIN:-$root/bin}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export EPIC_SPOOL="$work/spool"
unset EPIC_CONFIG EPIC_PERSONA_PATH EPIC_DATADIR
reqs=("$root"/examples/requests/*)
. "$root/tests/bench/lib.sh"

echo "== persona-rules: engine time per persona per epic (${#reqs[@]} examples, 200 runs each) =="
"$root/tests/tools/run-personas.sh" -B 200 "$work/rules" "${reqs[@]}" 2> "$work/bench.txt" >/dev/null || true
for p in product-owner architect security-specialist performance-specialist accessibility-advocate devops-engineer; do
	m=$(grep "^persona-rules: $p: median" "$work/bench.txt" | sed 's/.*median \([0-9.]*\) us.*/\1/' | median)
	printf '  %-24s median %8s us\n' "$p" "$m"
done
m=$(grep ': median' "$work/bench.txt" | sed 's/.*median \([0-9.]*\) us.*/\1/' | median)
printf '  %-24s median %8s us  (all personas, all examples)\n' "all" "$m"

for extra in "$root"/tests/bench/*.sh; do
	[ "$extra" = "$root/tests/bench/run.sh" ] && continue
	EC_BIN="$bin" bash "$extra" "$work"
done
