#!/usr/bin/env bash
# tests/fuzz/run.sh FUZZER... - run each libFuzzer harness (built by make fuzz-build)
# for FUZZ_SECONDS on a corpus seeded from the test fixtures: first the kept
# crashers of tests/fuzz/regressions/NAME/ (each must now run clean), then new
# inputs. Prints executions per harness; exits 1 on the first crash, with the
# crashing input kept in build/fuzz/crashes/NAME/ (copy it to regressions/ once
# fixed).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
status=0
# The harnesses' scratch directories (fuzz.h), removed when done.
mkdir -p build/fuzz
TMPDIR=$(mktemp -d "$PWD/build/fuzz/tmp.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

# seeds NAME DIR: fill DIR with the fixtures that are inputs of harness NAME.
seeds() {
	local name=$1 dir=$2 f b
	case $name in
	fuzz_request)
		# The first byte picks the format: 0 json, 1 text, 2 markdown.
		for f in tests/fixtures/epic-parse/good/* tests/fixtures/epic-parse/bad/* examples/requests/*; do
			[ -f "$f" ] || continue
			case $f in *.json) b='\x00' ;; *.md) b='\x02' ;; *.expected*|*.expect) continue ;; *) b='\x01' ;; esac
			{ printf "$b"; cat "$f"; } > "$dir/$(basename "$f")"
		done ;;
	fuzz_config)
		cp pipeline/epic-creator.yml pipeline/profiles/*.yml tests/fuzz/seeds/config/* "$dir/"
		find tests/fixtures -name '*.yml' -exec cp {} "$dir/" \; ;;
	fuzz_registration)
		cp pipeline/personas/*.json "$dir/"
		find tests/fixtures/registry -name '*.json' -exec cp {} "$dir/" \; 2>/dev/null || true ;;
	fuzz_rulebase)
		cp pipeline/personas/rules/*.json "$dir/" ;;
	fuzz_normalize)
		for f in tests/fixtures/persona-normalize/*.raw; do cp "$f" "$dir/"; done ;;
	fuzz_checkpoints)
		find tests/fixtures -name 'checkpoints.jsonl' | while read -r f; do
			cp "$f" "$dir/$(echo "$f" | tr / _)"
		done ;;
	fuzz_deferred)
		cp tests/fuzz/seeds/deferred/* "$dir/" ;;
	fuzz_sealed)
		# Plaintexts to seal: requests and a result.
		cp examples/requests/01-checkout-payments.json examples/requests/02-enterprise-sso.md "$dir/" ;;
	fuzz_llm_answer)
		# The first byte picks the API: 0 Anthropic, 1 OpenAI-compatible.
		cp tests/fuzz/seeds/llm/* "$dir/" ;;
	fuzz_result)
		# Results: the golden EpicResponse, and a small one made by the tools.
		cp tests/fixtures/epic-aggregate/golden/expected.json "$dir/golden.json"
		cp tests/fuzz/seeds/result/* "$dir/" 2>/dev/null || true ;;
	fuzz_json_fast)
		# JSON of every kind the tools read: fixtures, requests, registrations.
		find tests/fixtures examples pipeline/personas -name '*.json' -size -64k |
			while read -r f; do cp "$f" "$dir/$(echo "$f" | tr / _)"; done ;;
	fuzz_rules_image)
		# Payloads (the 16-byte header cut off) of the shipped rule bases, compiled.
		[ -x bin/ec-test ] || return 0
		for f in pipeline/personas/rules/*.json; do
			[ "$(basename "$f")" = concepts.json ] && continue
			bin/ec-test rules-image "$f" | tail -c +17 > "$dir/$(basename "$f" .json).img"
		done ;;
	fuzz_jsonbin)
		# Payloads (the 14-byte header cut off) of the rule bases and the vocabulary.
		[ -x bin/ec-test ] || return 0
		for f in pipeline/personas/rules/*.json; do
			bin/ec-test jsonbin-encode < "$f" | tail -c +15 > "$dir/$(basename "$f" .json).bin"
		done ;;
	esac
}

for bin in "$@"; do
	name=$(basename "$bin")
	corpus=build/fuzz/corpus/$name crashes=build/fuzz/crashes/$name/
	mkdir -p "$corpus" "$crashes"
	seeds "$name" "$corpus"
	if [ -d "tests/fuzz/regressions/$name" ] && [ -n "$(ls -A "tests/fuzz/regressions/$name")" ]; then
		"$bin" -runs=0 "tests/fuzz/regressions/$name"/* >/dev/null 2>&1 ||
			{ echo "$name: a kept crasher crashes again"; status=1; continue; }
	fi
	log=build/fuzz/$name.log
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -close_fd_mask=3 \
	    -artifact_prefix="$crashes" "$corpus" >"$log" 2>&1; then
		printf '%-20s %12s executions in %s s, corpus %s inputs: no crash\n' "$name" \
		    "$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")" "$secs" "$(ls "$corpus" | wc -l)"
	else
		echo "$name: CRASH (input kept in $crashes):"
		grep -m 20 -E 'ERROR|runtime error|SUMMARY|#[0-9]+ 0x' "$log" | head -20
		status=1
	fi
done
exit $status
