#!/usr/bin/env bash
# Benchmark of an agent persona (issue 15): the orchestration overhead per agent call,
# persona-llm against the fake API server answering at once (tests/fake-llm-server.py,
# 127.0.0.1), next to the built-in persona, through persona-run. Medians of 30.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${EC_BIN:-$root/bin}
work=$1/llm
mkdir -p "$work"
. "$root/tests/bench/lib.sh"
command -v python3 >/dev/null || { echo "== persona-llm: skipped (no python3) =="; exit 0; }

echo "== persona-llm: orchestration overhead per agent call (fake server answering at once; median of 30) =="
python3 "$root/tests/fake-llm-server.py" --port-file "$work/port" --log "$work/requests.jsonl" --script good &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
printf 'llm:\n  provider: anthropic\n  baseUrl: http://127.0.0.1:%s\n  model: bench\n  keyFile: %s\n' \
	"$(cat "$work/port")" "$work/key" > "$work/c.yml"
echo bench-key > "$work/key"
chmod 600 "$work/key"
export EPIC_CONFIG="$work/c.yml" EPIC_SPOOL="$work/spool"
task="$work/task"
mkdir -p "$task"
"$bin/epic-parse" --task-id bench -o "$task/epic-request.json" "$root/examples/requests/08-product-search.json"
reg="$work/reg"
mkdir -p "$reg"
cp -r "$root/pipeline/personas/." "$reg/"
jq 'del(.rules) | .command = ["'"$bin"'/persona-llm"]' "$root/pipeline/personas/product-owner.json" > "$reg/llm-po.json.tmp"
jq '.name = "llm-agent" | .reviewOrder = 42 | .required = false' "$reg/llm-po.json.tmp" > "$reg/llm-agent.json"
rm "$reg/llm-po.json.tmp"
"$bin/persona-run" --no-cache --persona product-owner -d "$task" -o "$task/po.json" "$task/epic-request.json"
for kind in rules llm; do
	p=product-owner; [ $kind = llm ] && p=llm-agent
	for i in $(seq 1 30); do
		t0=$(now_us)
		EPIC_PERSONA_PATH="$reg" "$bin/persona-run" --no-cache --persona $p -d "$task" -o "$task/out.json" "$task/epic-request.json" 2>/dev/null
		echo $(( $(now_us) - t0 ))
	done | median | awk -v k=$kind '{printf "  %-48s %8.0f us per call\n", (k == "rules" ? "built-in persona (in-process engine)" : "persona-llm through persona-run (HTTP included)"), $1}'
done
for i in $(seq 1 30); do
	t0=$(now_us)
	EPIC_PERSONA=product-owner "$bin/persona-llm" < "$task/po.input.json" > /dev/null 2>&1
	echo $(( $(now_us) - t0 ))
done | median | awk '{printf "  %-48s %8.0f us per call\n", "persona-llm alone (prompt, HTTP, validation)", $1}'
