#!/usr/bin/env bash
# make check-live: one example epic reviewed by real LLM agents (persona-llm) against
# the endpoint of EPIC_LIVE_CONFIG (default pipeline/profiles/claude.yml). Skipped,
# saying so, when that config's key file is not there: the suite never needs a key.
set -euo pipefail
cd "$(dirname "$0")/.."
cfg=${EPIC_LIVE_CONFIG:-pipeline/profiles/claude.yml}
if ! why=$(bin/persona-llm --health --config "$cfg" --persona security-specialist 2>&1); then
	echo "check-live: skipped: $why"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
req=${EPIC_LIVE_REQUEST:-examples/requests/01-checkout-payments.json}
EPIC_CONFIG="$cfg" EPIC_SPOOL="$tmp/spool" bin/epic run -q "$req" > "$tmp/epic.json"
task="$tmp/spool/done/$(ls "$tmp/spool/done")"
agents=0
for f in "$task"/personas/[0-9]*-*.json; do
	case $f in *.raw.json|*.input.json) continue ;; esac
	if jq -e '.metadata.usage and (.persona.fallback | not)' "$f" >/dev/null; then
		agents=$((agents + 1))
	else
		echo "check-live: $(basename "$f"): not answered by the agent ($(jq -r '.persona.fallback // .persona.status' "$f"))"
	fi
done
jq -r '"check-live: \(.summary.totalRecommendations) recommendations; API spend \(.epic.totalCostBreakdown.apiSpend // {} | tostring)"' "$tmp/epic.json"
[ "$agents" -gt 0 ] || { echo "check-live: no persona was answered by the agent" >&2; exit 1; }
echo "check-live: $agents personas answered by the agent"
