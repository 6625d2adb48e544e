#!/usr/bin/env bats
# epic-aggregate: request + persona outputs -> EpicResponse. Dedup, dependency
# order, cycles, gaps and status, enforceDevops, costs, risks, timestamps,
# determinism, the schema, and a golden output for a realistic case.
#
# Fixtures (tests/fixtures/epic-aggregate/): registry/ is a registry of our own
# (product-owner, architect and security-specialist required; the devops rule base
# says enforceDevops), so edits to the shipped personas cannot change these
# results. small/ holds hand-made outputs for a checkout epic:
#   PO-001 (product-owner) and PO-001 (architect): the same id -> merged
#   ARC-001 "Make payments idempotent" and SEC-001 "Make  payments IDEMPOTENT!":
#     the same title -> merged into ARC-001; SEC-003 depends on SEC-001
#   ARC-002 <-> ARC-003: a dependency cycle; PO-003 -> PO-999: a dangling one
# golden/ is the admin-audit-log example as persona-rules reviewed it, frozen.
# To regenerate golden/expected.json after a deliberate change, run in that
# directory: EPIC_PERSONA_PATH=$PWD/../registry epic-aggregate --config config.yml
# --checkpoints checkpoints.jsonl request.json 0*.json, and put @VERSION@ back.

load test_helper

setup() {
	export EPIC_PERSONA_PATH="$FIX/epic-aggregate/registry"
	cd "$FIX/epic-aggregate"
	OUT="$BATS_TEST_TMPDIR/epic.json"
	PO=small/01-product-owner.json
	ARC=small/02-architect.json
	SEC=small/03-security-specialist.json
	PERF=small/04-performance-specialist.json
	A11Y=small/05-accessibility-advocate.json
	OPS=small/06-devops-engineer.json
}

# aggregate [OPTIONS] OUTPUTS...: epic-aggregate on request.json into $OUT, exit 0.
aggregate() {
	local opts=()
	while [ $# -gt 0 ] && [[ $1 == -* ]]; do
		opts+=("$1" "$2")
		shift 2
	done
	run -0 --separate-stderr epic-aggregate "${opts[@]}" -o "$OUT" request.json "$@"
}

# Validate FILE... against the EpicResponse schema with Ajv; skip without it.
ajv_validate() {
	command -v node >/dev/null 2>&1 || skip "node is not installed"
	[ -d "$ROOT/tests/node_modules/ajv" ] || skip "tests/node_modules missing (npm ci --prefix tests)"
	run -0 node "$ROOT/tests/tools/schema-check.mjs" validate epic-response "$@"
}

@test "epic-aggregate --help prints usage on stdout and exits 0" {
	run -0 --separate-stderr epic-aggregate --help
	assert_output --partial "usage: epic-aggregate [--config FILE] [--checkpoints FILE] [-o FILE] REQUEST"
	assert_output --partial "Exit: 0 ok, 1 input rejected, 2 usage, 111 temporary failure"
	[ -z "$stderr" ]
}

@test "epic-aggregate --version names the tool" {
	run -0 epic-aggregate --version
	assert_output --regexp '^epic-aggregate [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "a bad option is one line and the synopsis on stderr, exit 2" {
	run -2 --separate-stderr epic-aggregate --frobnicate request.json "$PO"
	assert_output ""
	[ "${stderr_lines[0]}" = "epic-aggregate: unknown option '--frobnicate'" ]
	[[ "${stderr_lines[1]}" == "usage: epic-aggregate "* ]]
	run -2 --separate-stderr epic-aggregate -o
	[ "${stderr_lines[0]}" = "epic-aggregate: option '-o' needs an argument" ]
}

@test "a request without persona outputs, or stdin twice, is a usage error" {
	run -2 epic-aggregate request.json
	assert_line --index 0 "epic-aggregate: missing the persona outputs"
	run -2 epic-aggregate
	assert_line --index 0 "epic-aggregate: missing the request and the persona outputs"
	run -2 epic-aggregate - -
	assert_line --index 0 "epic-aggregate: standard input ('-') named more than once"
}

@test "the happy path: every persona completed, every field filled" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	run -0 jq -r '.epic | .id, .title, .status, .priority, .metadata.reviewMode,
		.metadata.devopsEnforced, .metadata.taskId, .metadata.totalExecutionTime,
		(.personas | map(.persona.name) | join(" "))' "$OUT"
	assert_output - <<-'EOF'
	EPIC-b85b5eccb215
	Embedded card checkout
	complete
	critical
	standard
	false
	checkout-0a1b2c3d
	900
	product-owner architect security-specialist performance-specialist accessibility-advocate devops-engineer
	EOF
	run -0 jq -c '.epic.metadata.toolVersions | del(."epic-aggregate")' "$OUT"
	assert_output '{"accessibility-advocate":"1.0.0","architect":"1.0.0","devops-engineer":"1.1.0","performance-specialist":"1.0.0","persona-rules":"0.1.0, 0.2.0","product-owner":"1.0.0","security-specialist":"1.0.0"}'
	run -0 jq -c '.summary' "$OUT"
	assert_output '{"blockingCount":4,"estimatedTotalCost":"21.5-45 person-days (EUR 17,200 - 36,000)","personasCompleted":6,"personasSkipped":[],"suggestedCount":8,"totalRecommendations":12}'
	run -0 jq -c '.epic.gaps' "$OUT"
	assert_output '[]'
}

@test "the epic id is EPIC- and 12 hex digits of the task id's XXH3, stable" {
	aggregate "$PO"
	run -0 jq -r .epic.id "$OUT"
	assert_output --regexp '^EPIC-[0-9a-f]{12}$'
	local first=$output
	aggregate "$ARC" "$OPS"
	run -0 jq -r .epic.id "$OUT"
	assert_output "$first"
}

@test "the personas are the outputs as given, unchanged" {
	aggregate "$PO" "$ARC"
	run -0 jq -S '.epic.personas[1]' "$OUT"
	diff -u <(jq -S . "$ARC") <(printf '%s\n' "$output")
}

@test "recommendations with the same id are merged: strongest type and priority, max effort, union of references" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	run -0 jq -c '[.epic.recommendations[] | select(.id == "PO-001")] | length' "$OUT"
	assert_output 1
	run -0 jq -c '.epic.recommendations[] | select(.id == "PO-001") |
		[.type, .priority, .effortDays, .estimatedCost, .references, .persona, .personas, .title]' "$OUT"
	assert_output '["blocking","critical",{"max":4,"min":2},"2-4 person-days",["INVEST","ISO/IEC/IEEE 29148:2018"],"product-owner",["product-owner","architect"],"Write acceptance criteria for checkout"]'
}

@test "recommendations with the same normalized title are merged and dependencies follow the survivor" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	run -0 jq -r '.epic.recommendations[].id' "$OUT"
	refute_line SEC-001
	run -0 jq -c '.epic.recommendations[] | select(.id == "ARC-001") |
		[.type, .priority, .effortDays, .estimatedCost, .personas, .dependencies, .references]' "$OUT"
	assert_output '["blocking","critical",{"max":8,"min":3},"3-8 person-days",["architect","security-specialist"],["SEC-002"],["OWASP ASVS v5.0.0-2.3.3"]]'
	run -0 jq -c '.epic.recommendations[] | select(.id == "SEC-003" or .id == "PERF-001") | .dependencies' "$OUT"
	assert_output $'["ARC-001"]\n["ARC-001"]'
}

@test "recommendations of one concern are merged across personas: every persona named, the strictest priority, the effort once" {
	# PERF-001 and OPS-001 ask for one thing in their own words.
	jq '.recommendations[0].concern = "operations.observability"' "$PERF" > "$BATS_TEST_TMPDIR/perf.json"
	jq '.recommendations[0].concern = "operations.observability"' "$OPS" > "$BATS_TEST_TMPDIR/ops.json"
	aggregate "$PO" "$ARC" "$SEC" "$BATS_TEST_TMPDIR/perf.json" "$A11Y" "$BATS_TEST_TMPDIR/ops.json"
	run -0 jq -r '.epic.recommendations[].id' "$OUT"
	refute_line OPS-001
	run -0 jq -c '.epic.recommendations[] | select(.id == "PERF-001") |
		[.concern, .personas, .priority, .effortDays, .title]' "$OUT"
	assert_output '["operations.observability",["performance-specialist","devops-engineer"],"high",{"max":5,"min":2},"Load-test at the stated peak"]'
	# Without the concern they stay two.
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	run -0 jq -r '.epic.recommendations[].id' "$OUT"
	assert_line OPS-001
	assert_line PERF-001
}

@test "a dangling dependency is dropped" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	run -0 jq -c '.epic.recommendations[] | select(.id == "PO-003") | .dependencies' "$OUT"
	assert_output '[]'
}

@test "a dependency cycle is reported on stderr and broken deterministically" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	[ "$stderr" = "epic-aggregate: warning: dependency cycle ARC-002 -> ARC-003 -> ARC-002: dropped the dependency of ARC-003 on ARC-002" ]
	run -0 jq -c '.epic.recommendations[] | select(.id == "ARC-002" or .id == "ARC-003") | [.id, .dependencies]' "$OUT"
	assert_output $'["ARC-002",["ARC-003"]]\n["ARC-003",[]]'
}

@test "a longer cycle through merged recommendations terminates and is broken once" {
	mkdir -p "$BATS_TEST_TMPDIR/c"
	jq '.recommendations[0].dependencies = ["SEC-003"]' "$PO" > "$BATS_TEST_TMPDIR/c/po.json"
	jq '.recommendations[0].dependencies = ["PO-001"]' "$ARC" > "$BATS_TEST_TMPDIR/c/arc.json"
	aggregate "$BATS_TEST_TMPDIR/c/po.json" "$BATS_TEST_TMPDIR/c/arc.json" "$SEC"
	assert_equal "${#stderr_lines[@]}" 2
	[[ "${stderr_lines[0]}" == *"dependency cycle PO-001 -> SEC-003 -> ARC-001 -> PO-001: dropped the dependency of ARC-001 on PO-001" ]]
	ajv_validate "$OUT"
}

@test "phases respect every dependency; blockers first; names and durations" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	# No recommendation in a phase before (or in the same phase as) one it depends on.
	run -0 jq -r '.epic as $e | ([$e.implementationRoadmap[] | .phase as $p | .items[] | {(.): $p}] | add) as $ph |
		$e.recommendations[] | .id as $id | .dependencies[] | select($ph[.] >= $ph[$id]) | "\(.) -> \($id)"' "$OUT"
	assert_output ""
	run -0 jq -r '.epic.implementationRoadmap[] | "\(.phase)|\(.name)|\(.items | join(","))|\(.effortDays.min)-\(.effortDays.max)|\(.duration)"' "$OUT"
	assert_output - <<-'EOF'
	1|Phase 1: Foundations and blockers|PO-001,SEC-002,A11Y-001|9-18|1-2 weeks
	2|Phase 2: Blockers that build on phase 1|ARC-001|3-8|3-8 days
	3|Phase 3: Recommended improvements|PERF-001,PO-002,ARC-003,SEC-003,OPS-001,PO-003,OPS-002|7.5-15|2-5 days
	4|Phase 4: Improvements that build on phase 3|ARC-002|2-4|2-4 days
	EOF
	run -0 jq '([.epic.recommendations[].id] | sort) == ([.epic.implementationRoadmap[].items[]] | sort)' "$OUT"
	assert_output true
}

@test "the critical path gives estimatedDuration: SEC-002 -> ARC-001 -> PERF-001, 10-23 days" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	run -0 jq -r '.epic.estimatedDuration' "$OUT"
	assert_output "2-5 weeks"
	# Without PERF-001 the longest chain is SEC-002 -> ARC-001 -> SEC-003: 9-20 days.
	aggregate "$PO" "$ARC" "$SEC"
	run -0 jq -r '.epic.estimatedDuration' "$OUT"
	assert_output "2-4 weeks"
	# One short item: days, not weeks.
	aggregate "$OPS"
	run -0 jq -r '.epic.estimatedDuration, .epic.implementationRoadmap[0].duration' "$OUT"
	assert_output $'1-2 days\n1-2 days'
}

@test "a failed optional persona: partial, a gap with the reason, a risk, the others still count" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" small/05-accessibility-advocate.failed.json "$OPS"
	run -0 jq -c '.epic.status, .epic.gaps, .summary.personasSkipped, .summary.personasCompleted' "$OUT"
	assert_output - <<-'EOF'
	"partial"
	[{"persona":"accessibility-advocate","reason":"TIMEOUT: no answer within 120 s","status":"failed"}]
	["accessibility-advocate"]
	5
	EOF
	run -0 jq -c '.epic.riskAssessment.risks[] | select(.source == "accessibility-advocate") | [.area, .level, .description]' "$OUT"
	assert_output '["accessibility","medium","No accessibility review: accessibility-advocate failed (TIMEOUT: no answer within 120 s)"]'
	run -0 jq -r '.epic.riskAssessment.risks[] | select(.source == "accessibility-advocate") | .mitigation' "$OUT"
	assert_output --partial "epic resume checkout-0a1b2c3d"
	run -0 jq -r '.epic.recommendations[].id' "$OUT"
	refute_line A11Y-001
	run -0 jq -r '.epic.metadata.totalExecutionTime' "$OUT"
	assert_output 120810
}

@test "a skipped persona: partial, a skipped gap with its reason, a medium accessibility risk" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" small/05-accessibility-advocate.skipped.json "$OPS"
	run -0 jq -c '.epic.status, .epic.gaps, .summary.personasSkipped' "$OUT"
	assert_output - <<-'EOF'
	"partial"
	[{"persona":"accessibility-advocate","reason":"excluded by the request","status":"skipped"}]
	["accessibility-advocate"]
	EOF
	run -0 jq -c '.epic.riskAssessment.risks[] | select(.source == "accessibility-advocate") | [.level, .description]' "$OUT"
	assert_output '["medium","No accessibility review: accessibility-advocate was skipped (excluded by the request)"]'
}

@test "an optional persona with no output at all is a failed gap" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y"
	run -0 jq -c '.epic.status, .epic.gaps' "$OUT"
	assert_output - <<-'EOF'
	"partial"
	[{"persona":"devops-engineer","reason":"no output: the persona did not run or its output was not given","status":"failed"}]
	EOF
}

@test "a failed required persona: status failed, a high security risk" {
	aggregate "$PO" "$ARC" small/03-security-specialist.failed.json "$PERF" "$A11Y" "$OPS"
	run -0 jq -c '.epic.status, .epic.gaps, .summary.personasSkipped' "$OUT"
	assert_output - <<-'EOF'
	"failed"
	[{"persona":"security-specialist","reason":"SYSTEM_ERROR: killed by signal 9","status":"failed"}]
	["security-specialist"]
	EOF
	run -0 jq -c '.epic.riskAssessment.risks[] | select(.area == "security") | [.level, .source]' "$OUT"
	assert_output '["high","security-specialist"]'
	ajv_validate "$OUT"
}

@test "a missing required persona fails the epic too" {
	aggregate "$PO" "$SEC" "$PERF" "$A11Y" "$OPS"
	run -0 jq -c '.epic.status, (.epic.gaps | map(.persona)), .epic.riskAssessment.overall' "$OUT"
	assert_output $'"failed"\n["architect"]\n"critical"'
}

@test "enforceDevops: the DevOps persona's findings become blocking and it is required" {
	run -0 epic-aggregate -o "$OUT" request-enforce.json "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	run -0 jq -c '.epic.metadata.devopsEnforced, .epic.status,
		[.epic.recommendations[] | select(.persona == "devops-engineer") | .type], .summary.blockingCount' "$OUT"
	assert_output $'true\n"complete"\n["blocking","blocking"]\n6'
	run -0 jq -r '.epic.implementationRoadmap[0].items | join(" ")' "$OUT"
	assert_output "PO-001 SEC-002 A11Y-001 OPS-001 OPS-002"
	run -0 epic-aggregate -o "$OUT" request-enforce.json "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" small/06-devops-engineer.failed.json
	run -0 jq -c '.epic.status, .epic.gaps[0].persona' "$OUT"
	assert_output $'"failed"\n"devops-engineer"'
	# Without enforceDevops the same failure is only a gap.
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" small/06-devops-engineer.failed.json
	run -0 jq -r '.epic.status' "$OUT"
	assert_output partial
}

@test "costs in EUR with a custom day rate: totals, breakdowns that add up, budget" {
	aggregate --config costs.yml "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	run -0 jq -c '.epic.totalCostBreakdown | .effortDays, .money' "$OUT"
	assert_output $'{"max":45,"min":21.5}\n{"currency":"EUR","max":29250,"min":13975}'
	run -0 jq -r '.epic.budget, .summary.estimatedTotalCost' "$OUT"
	assert_output $'EUR 13,975 - 29,250\n21.5-45 person-days (EUR 13,975 - 29,250)'
	run -0 jq -c '.epic.totalCostBreakdown | .byPersona, .byType, .byPriority' "$OUT"
	assert_output - <<-'EOF'
	{"accessibility-advocate":{"max":4,"min":2},"architect":{"max":14,"min":6},"devops-engineer":{"max":3,"min":2},"performance-specialist":{"max":5,"min":2},"product-owner":{"max":7,"min":3.5},"security-specialist":{"max":12,"min":6}}
	{"blocking":{"max":26,"min":12},"suggested":{"max":19,"min":9.5}}
	{"critical":{"max":22,"min":10},"high":{"max":13,"min":6},"low":{"max":2,"min":1.5},"medium":{"max":8,"min":4}}
	EOF
	# Each breakdown adds up to the total.
	run -0 jq -c '.epic.totalCostBreakdown as $c | [$c.byPersona, $c.byType, $c.byPriority] |
		map([([.[].min] | add), ([.[].max] | add)]) | unique' "$OUT"
	assert_output '[[21.5,45]]'
}

@test "the currency and day rate come from the config, the default 800 EUR without one" {
	printf 'costs:\n  dayRate: 1234.5\n  currency: USD\n' > "$BATS_TEST_TMPDIR/usd.yml"
	aggregate --config "$BATS_TEST_TMPDIR/usd.yml" "$OPS"
	run -0 jq -c '.epic.budget, .epic.totalCostBreakdown.money' "$OUT"
	assert_output $'"USD 2,469 - 3,704"\n{"currency":"USD","max":3703.5,"min":2469}'
	: > "$BATS_TEST_TMPDIR/empty.yml"
	aggregate --config "$BATS_TEST_TMPDIR/empty.yml" "$OPS"
	run -0 jq -r '.epic.budget' "$OUT"
	assert_output "EUR 1,600 - 2,400"
}

@test "a request that names its currency and day rate wins over the config; a currency alone takes the config's rate" {
	printf 'costs:\n  dayRate: 1234.5\n  currency: USD\n' > "$BATS_TEST_TMPDIR/usd.yml"
	jq '.metadata.currency = "GBP" | .metadata.dayRate = 500' request.json > "$BATS_TEST_TMPDIR/gbp.json"
	run -0 --separate-stderr epic-aggregate --config "$BATS_TEST_TMPDIR/usd.yml" -o "$OUT" "$BATS_TEST_TMPDIR/gbp.json" "$OPS"
	run -0 jq -c '.epic.budget, .epic.totalCostBreakdown.money, .summary.estimatedTotalCost' "$OUT"
	assert_output $'"GBP 1,000 - 1,500"\n{"currency":"GBP","max":1500,"min":1000}\n"2-3 person-days (GBP 1,000 - 1,500)"'
	jq '.metadata.currency = "CHF"' request.json > "$BATS_TEST_TMPDIR/chf.json"
	run -0 --separate-stderr epic-aggregate --config "$BATS_TEST_TMPDIR/usd.yml" -o "$OUT" "$BATS_TEST_TMPDIR/chf.json" "$OPS"
	run -0 jq -r '.epic.budget' "$OUT"
	assert_output "CHF 2,469 - 3,704"
}

@test "the roadmap's phases carry their items' titles, and the critical path is named as such" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	# every title is the title of the recommendation with the id beside it
	run -0 jq -r '.epic as $e | [$e.implementationRoadmap[] | [.items, .itemTitles] | transpose[]
	    | . as [$id, $t] | ($e.recommendations[] | select(.id == $id) | .title) == $t] | unique' "$OUT"
	assert_output $'[\n  true\n]'
	run -0 jq '[.epic.implementationRoadmap[] | (.items | length) == (.itemTitles | length)] | all' "$OUT"
	assert_output true
	run -0 jq -r '.epic | .criticalPathDuration == .estimatedDuration and (.criticalPathDuration | length > 0)' "$OUT"
	assert_output true
}

@test "priority: the request's when it has one, else derived from the recommendations" {
	run -0 --separate-stderr epic-aggregate request-priority.json "$PO" "$ARC" "$SEC"
	run -0 jq -r .epic.priority <<<"$output"
	assert_output low
	aggregate "$PO" "$ARC" "$SEC"
	run -0 jq -r .epic.priority "$OUT"
	assert_output critical                    # a blocking critical recommendation
	aggregate "$PO"
	run -0 jq -r .epic.priority "$OUT"
	assert_output medium                      # one blocking high, three in all
	aggregate "$OPS"
	run -0 jq -r .epic.priority "$OUT"
	assert_output low                         # nothing blocking, at most three
	jq '.recommendations |= map(.type = "blocking")' "$OPS" > "$BATS_TEST_TMPDIR/ops.json"
	jq '.recommendations |= map(.type = "blocking" | .priority = "medium")' "$PERF" > "$BATS_TEST_TMPDIR/perf.json"
	aggregate "$BATS_TEST_TMPDIR/ops.json" "$BATS_TEST_TMPDIR/perf.json"
	run -0 jq -r .epic.priority "$OUT"
	assert_output high                        # three blocking
}

@test "risks: one per area with blocking or critical findings, sorted, overall the highest" {
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	run -0 jq -r '.epic.riskAssessment | .overall, (.risks[] | "\(.level) \(.area) \(.source)")' "$OUT"
	assert_output - <<-'EOF'
	critical
	critical architecture architect
	critical product product-owner
	critical security security-specialist
	high accessibility accessibility-advocate
	EOF
	run -0 jq -r '.epic.riskAssessment.risks[] | select(.area == "security") | .description, .mitigation' "$OUT"
	assert_output - <<-'EOF'
	1 blocking recommendation open, 1 critical: SEC-002 (Tokenise card data with the PSP)
	Resolve SEC-002 before release (roadmap phase 1, 5-10 person-days) and make it one of the release criteria
	EOF
	aggregate "$OPS"
	run -0 jq -r '.epic.riskAssessment.overall' "$OUT"
	assert_output high                        # the required personas' gaps
}

@test "same inputs, byte-identical output; -o rewrites nothing when nothing changed" {
	run -0 --separate-stderr epic-aggregate request.json "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/a.json"
	run -0 --separate-stderr epic-aggregate request.json "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/b.json"
	cmp "$BATS_TEST_TMPDIR/a.json" "$BATS_TEST_TMPDIR/b.json"
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	cmp "$BATS_TEST_TMPDIR/a.json" "$OUT"
	touch -d '2001-01-01 00:00:00' "$OUT"
	aggregate "$PO" "$ARC" "$SEC" "$PERF" "$A11Y" "$OPS"
	[ "$(stat -c %Y "$OUT")" = "$(date -d '2001-01-01 00:00:00' +%s)" ] || fail "an unchanged epic.json was rewritten"
	assert_no_temp_files "$BATS_TEST_TMPDIR"
}

@test "without --checkpoints the timestamps are the newest input's mtime" {
	local d="$BATS_TEST_TMPDIR/in"
	mkdir -p "$d"
	cp request.json "$PO" "$ARC" "$d/"
	touch -d '2026-02-03 04:05:06 UTC' "$d/request.json" "$d/01-product-owner.json"
	touch -d '2026-02-03 07:08:09 UTC' "$d/02-architect.json"
	run -0 --separate-stderr epic-aggregate "$d/request.json" "$d/01-product-owner.json" "$d/02-architect.json"
	run -0 jq -r '.epic.metadata | .createdAt, .completedAt' <<<"$output"
	assert_output $'2026-02-03T07:08:09Z\n2026-02-03T07:08:09Z'
}

@test "with --checkpoints the timestamps come from the file, earliest and latest, in UTC" {
	cp request.json "$PO" "$BATS_TEST_TMPDIR/"
	aggregate --checkpoints golden/checkpoints.jsonl "$BATS_TEST_TMPDIR/01-product-owner.json"
	run -0 jq -r '.epic.metadata | .createdAt, .completedAt' "$OUT"
	assert_output $'2026-03-02T09:15:00.120Z\n2026-03-02T09:15:00.276Z'
	cp "$OUT" "$BATS_TEST_TMPDIR/first.json"
	touch "$BATS_TEST_TMPDIR/01-product-owner.json"
	aggregate --checkpoints golden/checkpoints.jsonl "$BATS_TEST_TMPDIR/01-product-owner.json"
	cmp "$BATS_TEST_TMPDIR/first.json" "$OUT"
}

@test "a checkpoints file that does not exist yet falls back to the mtimes; a bad line is skipped, as every reader skips it" {
	aggregate --checkpoints "$BATS_TEST_TMPDIR/none.jsonl" "$PO"
	run -0 jq -r '.epic.metadata.createdAt' "$OUT"
	assert_output --regexp '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
	run -0 --separate-stderr epic-aggregate --checkpoints bad/checkpoints.jsonl -o "$BATS_TEST_TMPDIR/x.json" request.json "$PO"
	[ "$stderr" = 'epic-aggregate: bad/checkpoints.jsonl:2: malformed event skipped: "time" is not an RFC 3339 timestamp' ]
	run -0 jq -r '.epic.metadata | .createdAt, .completedAt' "$BATS_TEST_TMPDIR/x.json"
	assert_output $'2026-03-02T09:15:00Z\n2026-03-02T09:15:00Z'
}

@test "an invalid persona output is rejected naming the file and the JSON path" {
	run -1 epic-aggregate -o "$BATS_TEST_TMPDIR/x.json" request.json "$ARC" bad/priority.json
	assert_output 'epic-aggregate: bad/priority.json: $.recommendations[1].priority: expected one of critical, high, medium, low, got "urgent"'
	run -1 epic-aggregate request.json bad/truncated.json
	assert_output --regexp "^epic-aggregate: bad/truncated.json:2:[0-9]+: "
	assert_file_not_exist "$BATS_TEST_TMPDIR/x.json"
}

@test "a request not normalized by epic-parse, a persona twice, a missing file: exit 1" {
	run -1 epic-aggregate "$ROOT/examples/requests/04-notifications.json" "$PO"
	assert_output "epic-aggregate: $ROOT/examples/requests/04-notifications.json: \$.taskId: expected a request normalized by epic-parse"
	run -1 epic-aggregate "$PO" "$ARC"
	assert_output --partial "epic-aggregate: $PO: \$.confidence: unknown field"
	run -1 epic-aggregate request.json "$PO" "$ARC" "$PO"
	assert_output "epic-aggregate: $PO: \$.persona.name: 'product-owner' already reviewed in '$PO': expected one output per persona"
	run -1 epic-aggregate request.json no-such-output.json
	assert_output "epic-aggregate: cannot open 'no-such-output.json': No such file or directory"
}

@test "a broken registry is named (exit 1); a broken config too" {
	mkdir -p "$BATS_TEST_TMPDIR/reg"
	cp registry/*.json "$BATS_TEST_TMPDIR/reg/"
	cp -r registry/rules "$BATS_TEST_TMPDIR/reg/"
	sed -i 's/"rules\/empty.json"/"rules\/gone.json"/' "$BATS_TEST_TMPDIR/reg/architect.json"
	EPIC_PERSONA_PATH="$BATS_TEST_TMPDIR/reg" run -1 epic-aggregate request.json "$PO"
	assert_output --partial "architect.json: \$.rules: rule base"
	printf 'costs:\n  dayRate: cheap\n' > "$BATS_TEST_TMPDIR/bad.yml"
	run -1 epic-aggregate --config "$BATS_TEST_TMPDIR/bad.yml" request.json "$PO"
	assert_output --partial "bad.yml:2:"
}

@test "the request and the outputs may come from standard input" {
	run -0 bash -c 'epic-aggregate - "$1" < request.json | jq -r .epic.title' _ "$PO"
	assert_output "Embedded card checkout"
	run -0 bash -c 'epic-aggregate request.json - < "$1" | jq -r .summary.totalRecommendations' _ "$PO"
	assert_output 3
}

@test "a full disk or a missing output directory is a temporary failure (exit 111)" {
	run -111 epic-aggregate -o /dev/full request.json "$PO"
	assert_output "epic-aggregate: cannot write '/dev/full': No space left on device"
	run -111 epic-aggregate -o "$BATS_TEST_TMPDIR/no/such/dir/epic.json" request.json "$PO"
	assert_output --partial "cannot write"
}

@test "every scenario's output validates against the EpicResponse schema (ajv)" {
	local n=0 f
	for set in \
	    "$PO $ARC $SEC $PERF $A11Y $OPS" \
	    "$PO $ARC $SEC $PERF small/05-accessibility-advocate.failed.json $OPS" \
	    "$PO $ARC $SEC $PERF small/05-accessibility-advocate.skipped.json" \
	    "$PO $ARC small/03-security-specialist.failed.json" \
	    "$OPS"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		epic-aggregate --config costs.yml -o "$BATS_TEST_TMPDIR/s$n.json" request.json $set 2>/dev/null
	done
	epic-aggregate -o "$BATS_TEST_TMPDIR/enforce.json" request-enforce.json "$PO" "$ARC" "$SEC" "$OPS"
	ajv_validate "$BATS_TEST_TMPDIR"/s*.json "$BATS_TEST_TMPDIR/enforce.json"
	[ "${#lines[@]}" = 6 ]
}

@test "golden: the admin-audit-log review aggregates to exactly the expected EpicResponse" {
	local version
	version=$(epic-aggregate --version | cut -d' ' -f2)
	run -0 --separate-stderr epic-aggregate --config golden/config.yml --checkpoints golden/checkpoints.jsonl \
	    -o "$OUT" golden/request.json golden/01-product-owner.json golden/02-architect.json \
	    golden/03-security-specialist.json golden/04-performance-specialist.json \
	    golden/05-accessibility-advocate.json golden/06-devops-engineer.json
	[ -z "$stderr" ]
	diff -u <(sed "s/\"@VERSION@\"/\"$version\"/" golden/expected.json) "$OUT"
	ajv_validate "$OUT"
}

@test "real persona-rules outputs of two examples aggregate into valid responses" {
	unset EPIC_PERSONA_PATH
	local ex d
	for ex in 01-checkout-payments.json 13-patient-appointments-hipaa.json; do
		d="$BATS_TEST_TMPDIR/run"
		run -0 "$ROOT/tests/tools/run-personas.sh" "$d" "$ROOT/examples/requests/$ex"
		run -0 epic-parse --task-id "${ex%.json}" -o "$d/$ex/request.json" "$ROOT/examples/requests/$ex"
		run -0 --separate-stderr epic-aggregate -o "$d/$ex.epic.json" "$d/$ex/request.json" \
		    $(ls "$d/$ex"/0?-*.json | grep -v '\.input\.json$')
		# Every shipped persona ran; a persona added to the registry later would be a gap.
		run -0 jq -r '.epic.status != "failed", (.summary.totalRecommendations > 0)' "$d/$ex.epic.json"
		assert_output $'true\ntrue'
		# No recommendation scheduled before one it depends on.
		run -0 jq -r '.epic as $e | ([$e.implementationRoadmap[] | .phase as $p | .items[] | {(.): $p}] | add) as $ph |
			$e.recommendations[] | .id as $id | .dependencies[] | select($ph[.] >= $ph[$id]) | "\(.) -> \($id)"' \
		    "$d/$ex.epic.json"
		assert_output ""
	done
	ajv_validate "$d"/*.epic.json
}
