#!/usr/bin/env bats
# epic-health (epic health): the HealthCheck of a real spool after real tasks run
# by the real watcher (epic-watch --once), judged against the config's alerts, as
# JSON (checked with ajv), a Nagios line (exit 0-3) and Prometheus text (checked
# with promtool), and the .prom file the watcher writes itself.

load test_helper

setup() {
	S="$EPIC_SPOOL"
	cd "$BATS_TEST_TMPDIR"
	REG="$BATS_TEST_TMPDIR/reg"
	cp -r "$FIX/registry" "$REG"
	export EPIC_PERSONA_PATH="$REG"
	# An optional command persona that fails on every request that says FAILME.
	cat > "$BATS_TEST_TMPDIR/flaky" <<-'SH'
	#!/bin/sh
	[ "${1:-}" = --health ] && exit 0
	input=$(cat)
	case $input in *FAILME*) echo "flaky: refusing" >&2; exit 3 ;; esac
	printf '{"insights": ["fine"], "recommendations": [], "costAnalysis": {"category": "x", "amount": "0"},'
	printf ' "confidence": 0.5, "metadata": {"model": "flaky", "tokens": 0, "version": "1"}}\n'
	SH
	chmod +x "$BATS_TEST_TMPDIR/flaky"
	persona flaky-persona "$BATS_TEST_TMPDIR/flaky"
	# Small limits: retries fast, no cache hits expected, 2 requests may wait.
	fast_watcher_config 0 coordination: '  maxRetries: 1' '  retryBackoffMs: 10' \
		alerts: '  errorRate: 0.1' '  cacheHitRateMin: 0' '  queueDepthMax: 2' \
		'  responseTimeFactor: 100' '  personaUnavailableSeconds: 300'
	WATCHERS=()
	epic-watch --once 2>/dev/null      # the spool, as the watcher makes it
}

teardown() {
	for p in "${WATCHERS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}

# persona NAME PROGRAM [required]: register a command persona, last in review order
# (or where it was).
persona() {
	local order
	order=$(jq .reviewOrder "$REG/$1.json" 2>/dev/null) || order=$(($(ls "$REG"/*.json | wc -l) + 1))
	jq -n --arg n "$1" --arg p "$2" --argjson r "${3:-false}" --argjson o "$order" '{name: $n, reviewOrder: $o,
	    required: $r, timeout: 10, dependencies: [], supportedModes: ["mvp", "standard",
	    "enterprise"], version: "1.0.0", command: [$p]}' > "$REG/$1.json"
}

# run_tasks WORD N: submit N distinct requests (their text has WORD) and run them.
run_tasks() {
	local i
	for i in $(seq 1 "$2"); do
		printf 'Epic %s %s %s: let shop admins upload product images and pay by card.\n' \
			"$1" "$i" "$RANDOM" > "$1-$i.txt"
		epic-submit "$1-$i.txt" >/dev/null
	done
	run -0 epic-watch --once
	[ -z "$(ls "$S/incoming")" ] || fail "requests left in incoming/: $(ls "$S/incoming")"
}

# ajv_check FILE: FILE is a HealthCheck for the independent validator (Ajv).
ajv_check() {
	command -v node >/dev/null || skip "node is not installed: JSON checked with ajv needs it"
	[ -d "$ROOT/tests/node_modules/ajv" ] || skip "tests/node_modules is missing: npm ci --prefix tests"
	run -0 node "$ROOT/tests/tools/schema-check.mjs" validate health-check "$1"
	assert_output "$1: ok"
}

need_promtool() {
	command -v promtool >/dev/null ||
		skip "promtool is not installed (apt-get install prometheus): .prom output not checked"
}

@test "epic-health --help, --version; bad usage exits 2, and 3 with --nagios" {
	run -0 epic-health --help
	assert_output --partial "usage: epic-health [--spool DIR] [--config FILE] [--window DURATION]"
	run -0 epic health --version
	assert_output --regexp '^epic-health [0-9.]+$'
	run -2 epic-health --bogus
	assert_line --index 1 --partial "usage: epic-health"
	run -2 epic-health --window 15x
	assert_line --index 0 "epic-health: --window takes a duration of 1s to 366d (90s, 15m, 2h, 1d), not '15x'"
	run -2 epic-health --window 0s
	run -2 epic-health --json --prometheus
	run -2 epic-health extra
	run -3 epic-health --nagios --bogus
	run -3 epic-health --window 1y --nagios
}

@test "an empty spool is healthy: JSON valid against the schema, a table on a terminal" {
	run -0 epic-health
	echo "$output" > h.json
	ajv_check h.json
	run -0 jq -r '.status, .queueDepth, .activeWorkflows, .cacheHitRate, .windowSeconds,
	    (.personaAvailability | length), (.alerts | length), (.errorRate | length)' h.json
	assert_output $'ok\n0\n0\n0\n900\n7\n0\n0'
	run -0 epic-health --window 2h --json
	run -0 jq -r .windowSeconds <<< "$output"
	assert_output 7200
	run -0 script -qec "epic-health" /dev/null
	assert_output --partial "status: ok"
	assert_output --regexp "flaky-persona +yes"
}

@test "epic health --nagios goes from OK to WARNING to CRITICAL as a persona fails more often" {
	run_tasks good 8
	run -0 epic health --nagios
	assert_output --regexp "^EPIC-CREATOR OK - 7 personas available, queue depth 0, 0 active workflows \| "
	assert_output --partial "'flaky-persona_error_rate'=0;0.1;0.2;0;1"
	assert_output --partial "'queue_depth'=0;2;4;0;"
	# 1 failure in 9 runs: 11% > 10%.
	run_tasks FAILME 1
	run -1 epic health --nagios
	assert_output --regexp "^EPIC-CREATOR WARNING - error rate of flaky-persona 11% \(1 of 9 runs; limit 10%\) \| "
	assert_output --partial "'flaky-persona_error_rate'=0.1111;0.1;0.2;0;1"
	# The tasks went on without the optional persona.
	[ "$(ls "$S/done" | wc -l)" -eq 9 ]
	# 3 in 11: 27% > twice the limit.
	run_tasks FAILME 2
	run -2 epic health --nagios
	assert_output --regexp "^EPIC-CREATOR CRITICAL - error rate of flaky-persona 27% \(3 of 11 runs; limit 10%\)"
	run -0 epic-health --json
	echo "$output" > h.json
	ajv_check h.json
	run -0 jq -c '[.status, .errorRate["flaky-persona"], .personaRuns["flaky-persona"], .errorRate.architect, .checks]' h.json
	assert_output '["critical",0.2727,11,0,[{"check":"errorRate","message":"error rate of flaky-persona 27% (3 of 11 runs; limit 10%)","persona":"flaky-persona","status":"critical"}]]'
	# A window that ends before the runs: no runs, nothing to say.
	EPIC_NOW=$(($(date +%s) + 3600)) run -0 epic health --nagios
	assert_output --regexp "^EPIC-CREATOR OK"
	# ... unless it is long enough.
	EPIC_NOW=$(($(date +%s) + 3600)) run -2 epic health --nagios --window 2h
}

@test "queue depth: a warning over queueDepthMax, critical over twice it; the oldest request's age" {
	local i
	for i in 1 2 3; do request "q$i" > "q$i.txt"; epic-submit "q$i.txt" >/dev/null; done
	run -1 epic health --nagios
	assert_output --regexp "^EPIC-CREATOR WARNING - queue depth 3 \(limit 2\) \| 'queue_depth'=3;2;4;0;"
	for i in 4 5; do request "q$i" > "q$i.txt"; epic-submit "q$i.txt" >/dev/null; done
	run -2 epic health --nagios
	assert_output --regexp "^EPIC-CREATOR CRITICAL - queue depth 5 \(limit 2\)"
	EPIC_NOW=$(($(date +%s) + 600)) run -0 epic health --json
	run -0 jq -r '.queueDepth, (.oldestQueuedSeconds >= 599 and .oldestQueuedSeconds < 700)' <<< "$output"
	assert_output $'5\ntrue'
	run -0 epic-watch --once
	run -0 epic health --nagios
	assert_output --regexp "^EPIC-CREATOR OK"
}

@test "an unavailable persona: a warning, critical when required and down longer than the limit" {
	persona gone-persona /nonexistent/agent
	run -1 epic health --nagios
	assert_output --regexp "^EPIC-CREATOR WARNING - optional persona gone-persona unavailable for 0 s \(limit 300 s\)"
	persona gone-persona /nonexistent/agent true
	# Still a warning 400 s later: optional then, required now, it is the same outage.
	EPIC_NOW=$(($(date +%s) + 100)) run -1 epic health --nagios
	assert_output --regexp "required persona gone-persona unavailable for (99|100|101) s"
	EPIC_NOW=$(($(date +%s) + 400)) run -2 epic health --nagios
	assert_output --regexp "required persona gone-persona unavailable for (399|400|401) s \\(limit 300 s\\)"
	run -0 jq -r '.personaAvailability["gone-persona"], .personaAvailability.architect' \
		<<< "$(EPIC_NOW=$(($(date +%s) + 400)) epic-health --json)"
	assert_output $'false\ntrue'
	# Back: the outage is over and forgotten.
	rm "$REG/gone-persona.json"
	run -0 epic health --nagios
	run -0 jq -c .unavailableSince "$S/log/health-state.json"
	assert_output '{}'
	# A registry that does not load is critical, not an error of the check.
	echo '{' > "$REG/broken.json"
	run -2 epic health --nagios
	assert_output --partial "EPIC-CREATOR CRITICAL - the persona registry does not load"
}

@test "response time against the 7-day median baseline, kept a day in log/health-baseline.json" {
	local now d2 i
	now=$(date +%s)
	d2=$(date -u -d "@$((now - 2 * 86400))" +%Y-%m-%dT%H:%M:%S.000Z)
	mkdir -p "$S/log"
	# History: the architect answered in 100 to 300 ms (median 200) two days ago.
	for i in 100 200 300; do
		printf '{"cacheHit":false,"durationMs":%d,"event":"after","persona":"architect","task":"t%d-0123abcd","time":"%s"}\n' \
			"$i" "$i" "$d2" >> "$S/log/metrics.jsonl"
	done
	printf 'alerts:\n  responseTimeFactor: 2\n  cacheHitRateMin: 0\n' > c.yml
	export EPIC_CONFIG="$PWD/c.yml"
	run -0 epic health --nagios
	run -0 jq -r '.medianMs.architect, .samples.architect' "$S/log/health-baseline.json"
	assert_output $'200\n3'
	# Now 500 ms on average: over 2 times the baseline, not over 4 times.
	recent() {
		printf '{"cacheHit":false,"durationMs":%d,"event":"after","persona":"architect","task":"%s-0123abcd","time":"%s"}\n' \
			"$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" >> "$S/log/metrics.jsonl"
	}
	recent 500 n1
	run -1 epic health --nagios
	assert_output --regexp "^EPIC-CREATOR WARNING - average response time of architect 500 ms \(2.5 times its baseline of 200 ms; limit 2 times\)"
	assert_output --partial "'architect_response_time'=500ms;400;800;0;"
	# The baseline is kept for a day: the new run did not move it.
	run -0 jq -r .medianMs.architect "$S/log/health-baseline.json"
	assert_output 200
	recent 1200 n2
	run -2 epic health --nagios
	assert_output --partial "average response time of architect 850 ms"
	# A day later it is recomputed from the last 7 days, which hold all five runs.
	EPIC_NOW=$((now + 86400 + 60)) run -0 epic health --nagios
	run -0 jq -r '.medianMs.architect, .samples.architect' "$S/log/health-baseline.json"
	assert_output $'300\n5'
	# Cache hits and failures are not response times.
	printf '{"cacheHit":true,"event":"cache-hit","persona":"architect","task":"h-0123abcd","time":"%s"}\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" >> "$S/log/metrics.jsonl"
	run -0 epic-health --json
	run -0 jq -r '.averageResponseTime.architect, .personaRuns.architect, .cacheHitRate' <<< "$output"
	assert_output $'850\n3\n0.3333'
}

@test "--prometheus passes promtool; the watcher writes the .prom file itself when configured" {
	local id
	need_promtool
	mkdir textfile
	fast_watcher_config 0 "  prometheusFile: $PWD/textfile/epic.prom" coordination: \
		'  maxRetries: 1' alerts: '  cacheHitRateMin: 0'
	# A task run again after an output was lost: the cache serves its personas.
	request same > a.txt
	id=$(epic-submit a.txt)
	run -0 epic-watch --once
	rm "$S/done/$id/personas/02-architect.json"
	epic requeue "$id" >/dev/null
	run -0 epic-watch --once
	assert_file_exist textfile/epic.prom
	assert_no_temp_files textfile
	run -0 promtool check metrics < textfile/epic.prom
	run -0 grep -E '^epic_creator_(cache_hit_ratio|queue_depth|persona_runs\{persona="architect"\}|persona_up\{persona="flaky-persona"\}) ' textfile/epic.prom
	assert_output $'epic_creator_persona_up{persona="flaky-persona"} 1\nepic_creator_persona_runs{persona="architect"} 2\nepic_creator_cache_hit_ratio 0.4167\nepic_creator_queue_depth 0'
	# epic health --prometheus -o writes the same figures, atomically.
	run -0 epic health --prometheus -o out.prom
	assert_output ""
	run -0 promtool check metrics < out.prom
	run -0 grep -c '^# TYPE epic_creator_[a-z_]* gauge$' out.prom
	[ "$output" -ge 14 ]
	grep -q '^epic_creator_persona_response_time_seconds{persona="flaky-persona"} ' out.prom
	# A watcher that cannot write the file says so and goes on.
	printf '%s\n' "watcher:" "  prometheusFile: /nonexistent/dir/epic.prom" > c2.yml
	EPIC_CONFIG="$PWD/c2.yml" run -0 epic-watch --once
	assert_output --partial "epic-watch: cannot write the metrics to '/nonexistent/dir/epic.prom'"
}

@test "failures: a bad config is rejected (1; UNKNOWN with --nagios), an unwritable -o is temporary" {
	printf 'alerts:\n  errorRate: 2\n' > bad.yml
	run -1 epic-health --config bad.yml
	assert_output --partial "bad.yml"
	run -3 epic-health --config bad.yml --nagios
	assert_line --index 0 --regexp "^EPIC-CREATOR UNKNOWN - .*bad.yml"
	run -111 epic-health --prometheus -o /nonexistent/dir/x.prom
	assert_output --partial "/nonexistent/dir"
	run -3 epic-health --nagios -o /nonexistent/dir/x.txt
	# No spool there: no answer, rather than an empty healthy one.
	run -1 epic-health --spool "$BATS_TEST_TMPDIR/nospool"
	assert_output --partial "nospool"
	run -3 epic-health --nagios --spool "$BATS_TEST_TMPDIR/nospool"
	assert_line --index 0 --partial "EPIC-CREATOR UNKNOWN - "
}

@test "a large log is read from where the window starts, and nothing in it is missed" {
	local now old d3 recent
	now=$(date +%s)
	old=$(date -u -d "@$((now - 9 * 86400))" +%Y-%m-%dT%H:%M:%S.000Z)
	d3=$(date -u -d "@$((now - 3 * 86400))" +%Y-%m-%dT%H:%M:%S.000Z)
	recent=$(date -u -d "@$((now - 60))" +%Y-%m-%dT%H:%M:%S.000Z)
	mkdir -p "$S/log"
	# 3 MiB of lines 9 days old (out of every window), then 3 days old, then recent.
	awk -v t="$old" 'BEGIN { for (i = 0; i < 20000; i++)
	    printf "{\"cacheHit\":false,\"durationMs\":9000,\"event\":\"after\",\"persona\":\"architect\",\"task\":\"old%d-0123abcd\",\"time\":\"%s\"}\n", i, t }' \
		> "$S/log/metrics.jsonl"
	awk -v t="$d3" 'BEGIN { for (i = 0; i < 5001; i++)
	    printf "{\"cacheHit\":false,\"durationMs\":200,\"event\":\"after\",\"persona\":\"architect\",\"task\":\"d%d-0123abcd\",\"time\":\"%s\"}\n", i, t }' \
		>> "$S/log/metrics.jsonl"
	awk -v t="$recent" 'BEGIN { for (i = 0; i < 7; i++)
	    printf "{\"cacheHit\":false,\"durationMs\":100,\"event\":\"after\",\"persona\":\"architect\",\"task\":\"r%d-0123abcd\",\"time\":\"%s\"}\n", i, t }' \
		>> "$S/log/metrics.jsonl"
	[ "$(stat -c %s "$S/log/metrics.jsonl")" -gt 3000000 ]
	run -0 epic-health --json
	run -0 jq -r '.personaRuns.architect, .averageResponseTime.architect, .responseTimeBaseline.architect' <<< "$output"
	assert_output $'7\n100\n200'
	run -0 jq -r .samples.architect "$S/log/health-baseline.json"
	assert_output 5008
	# With the baseline kept, a window of a day still finds exactly the recent runs.
	run -0 epic-health --json --window 1d
	run -0 jq -r .personaRuns.architect <<< "$output"
	assert_output 7
	run -0 epic-health --json --window 4d
	run -0 jq -r .personaRuns.architect <<< "$output"
	assert_output 5008
}

@test "lines of two runs interleaved in the log (two watchers) are still one run each" {
	local t
	t=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
	mkdir -p "$S/log"
	line() {
		printf '{"cacheHit":false,"durationMs":%d,"event":"%s","persona":"architect","task":"%s-0123abcd","time":"%s"}\n' \
			"$3" "$2" "$1" "$t" >> "$S/log/metrics.jsonl"
	}
	# A failed optional persona logs failed, then after (its empty output).
	line a failed 0
	line b after 40
	line a after 900
	line b skipped 0
	run -0 epic-health --json
	run -0 jq -c '[.personaRuns.architect, .errorRate.architect, .averageResponseTime.architect]' <<< "$output"
	assert_output '[2,0.5,40]'
}

@test "a running watcher writes the .prom file at once, then at most once a minute" {
	need_promtool
	local id i
	fast_watcher_config 0 "  prometheusFile: $PWD/epic.prom" alerts: '  cacheHitRateMin: 0'
	watcher
	for i in $(seq 1 100); do [ -f epic.prom ] && break; sleep 0.05; done
	assert_file_exist epic.prom
	run -0 promtool check metrics < epic.prom
	grep -qx 'epic_creator_queue_depth 0' epic.prom
	cp epic.prom first.prom
	request w > w.txt
	id=$(epic-submit w.txt)
	epic status --wait --timeout 60 "$id"
	sleep 1.5
	# The run is in the log, not yet in the file: a minute has not passed.
	run -0 epic-health --prometheus
	assert_output --partial 'epic_creator_persona_runs{persona="architect"} 1'
	cmp first.prom epic.prom
	refute grep -q 'persona_runs' epic.prom
}
