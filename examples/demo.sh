#!/usr/bin/env bash
# make demo: run every example request through the tools with the built-in
# personas and the checkout's own ./spool, and print one summary line per epic.
# It uses the furthest stage of the pipeline that exists in this checkout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin="$top/bin"
n=0
for f in "$top"/examples/requests/*; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	if [ -x "$bin/epic" ]; then
		"$bin/epic" run "$f" | jq -r --arg f "${f##*/}" \
		    '"\($f): \(.epic.title) — \(.summary.totalRecommendations) recommendations (\(.summary.blockingCount) blocking), \(.summary.estimatedTotalCost)"'
	else
		"$bin/epic-parse" "$f" | jq -r '"\(.taskId)  [\(.mode)]  \(.title)"'
	fi
done
echo "demo: $n example requests processed"
