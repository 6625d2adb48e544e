#!/usr/bin/env bash
# make demo: run every example request through the tools with the built-in
# personas and the checkout's own ./spool, and print one summary line per epic.
# It uses the furthest stage of the pipeline that exists in this checkout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin="$top/bin"
n=0
first=
for f in "$top"/examples/requests/*; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	if [ -x "$bin/epic" ]; then
		# -q: one summary line per epic here, not the progress of each.
		line=$("$bin/epic" run -q "$f" | jq -r --arg f "${f##*/}" \
		    '"\(.epic.metadata.taskId)\t\($f): \(.epic.title) — \(.summary.totalRecommendations) recommendations (\(.summary.blockingCount) blocking), \(.summary.estimatedTotalCost)"')
		printf '%s\n' "${line#*$'\t'}"
		[ -n "$first" ] || first=${line%%$'\t'*}
	else
		"$bin/epic-parse" "$f" | jq -r '"\(.taskId)  [\(.mode)]  \(.title)"'
	fi
done
echo "demo: $n example requests processed"
if [ -n "$first" ]; then
	# Where the results are, and how to read one (epic show finds the same spool).
	echo "demo: the results are in ${EPIC_SPOOL:-$top/spool}/done/ID/epic.json; read one with:"
	epic=epic
	[ "$(command -v epic 2>/dev/null)" = "$bin/epic" ] || epic=$bin/epic
	echo "  $epic show $first"
fi
