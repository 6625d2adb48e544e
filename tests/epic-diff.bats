#!/usr/bin/env bats
# epic-diff (epic diff): what changed between two results, on real results of the
# example epics and edited copies of them; exit codes as diff(1).

load test_helper

REQ="$ROOT/examples/requests"

# Real results of a few examples, made once for the file in their own spool.
setup_file() {
	export RES="$BATS_FILE_TMPDIR/res" RSPOOL="$BATS_FILE_TMPDIR/spool"
	example_results "$RES" "$RSPOOL" 01-checkout-payments.json 04-notifications.json 14-admin-audit-log.txt
}

setup() {
	cd "$BATS_TEST_TMPDIR"
	unset EPIC_PAGER PAGER NO_COLOR
	export COLUMNS=80 TERM=xterm
	A="$RES/01-checkout-payments.json"
}

@test "epic-diff --help prints usage on stdout and exits 0" {
	run -0 epic-diff --help
	assert_output --partial "usage: epic-diff [--json] [--spool DIR]"
	assert_output --partial "0 equal, 1 different, 2 trouble"
}

@test "epic-diff --version names the tool" {
	run -0 epic-diff --version
	assert_output --regexp '^epic-diff [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "usage errors exit 2: a bad option, one or three operands, stdin twice" {
	run -2 --separate-stderr epic-diff --frobnicate "$A" "$A"
	[[ "$stderr" == *"usage: epic-diff"* ]]
	run -2 epic-diff "$A"
	assert_output --partial "expected two results"
	run -2 epic-diff "$A" "$A" "$A"
	run -2 epic-diff - - <"$A"
	assert_output --partial "only one of the results can be standard input"
	run -2 epic-diff --color=maybe "$A" "$A"
}

@test "a result and itself are equal: exit 0, no text, equal in JSON" {
	run -0 --separate-stderr epic-diff "$A" "$A"
	assert_output ""
	run -0 --separate-stderr epic-diff --json "$A" - <"$A"
	[ "$(jq -c '[.equal, .differences, .recommendations.added, .recommendations.removed,
		.recommendations.changed, .cost.byPersona, .risk.areas]' <<<"$output")" = \
		'[true,0,[],[],[],{},{}]' ]
	[ "$(jq -r .b.name <<<"$output")" = "<stdin>" ]
}

@test "two different examples differ: exit 1, in text and JSON" {
	run -1 epic-diff "$A" "$RES/04-notifications.json"
	assert_line --index 0 --partial "--- a: $A (Checkout"
	assert_line --index 1 --partial "+++ b: $RES/04-notifications.json"
	assert_output --regexp "Recommendations: [0-9]+ added, [0-9]+ removed, [0-9]+ changed"
	assert_output --partial "Costs (person-days)"
	run -1 --separate-stderr epic-diff --json "$A" "$RES/04-notifications.json"
	[ "$(jq .equal <<<"$output")" = false ]
	[ "$(jq '.differences > 0 and (.recommendations.added | length) > 0
		and .cost.effortDays.changed and .roadmap.phases.a == 5' <<<"$output")" = true ]
}

@test "an edited copy: exactly the dropped recommendation, the bumped priority and the changed effort" {
	jq '.epic.recommendations |= (map(select(.id != "PO-042"))
		| map(if .id == "A11Y-011" then .priority = "critical"
			elif .id == "OPS-011" then .effortDays = {"min": 3, "max": 7} else . end))' \
		"$A" >edited.json
	run -1 --separate-stderr epic-diff --json "$A" edited.json
	printf '%s\n' "$output" >d.json
	[ "$(jq -c .recommendations.added d.json)" = "[]" ]
	[ "$(jq -c '[.recommendations.removed[] | [.id, .priority, .type]]' d.json)" = \
		'[["PO-042","high","suggested"]]' ]
	[ "$(jq -c '[.recommendations.changed[] | [.id, .matchedBy, (.changes | keys)]]' d.json)" = \
		'[["A11Y-011","id",["priority"]],["OPS-011","id",["effortDays"]]]' ]
	[ "$(jq -c '.recommendations.changed[0].changes.priority' d.json)" = '{"a":"high","b":"critical"}' ]
	[ "$(jq -c '.recommendations.changed[1].changes.effortDays' d.json)" = \
		'{"a":{"max":4,"min":2},"b":{"max":7,"min":3}}' ]
	[ "$(jq '.differences' d.json)" = 3 ]
	[ "$(jq '.cost.effortDays.changed or .cost.money.changed or .risk.overall.changed
		or .roadmap.phases.changed or .roadmap.criticalPath.changed' d.json)" = false ]
	run -1 epic-diff "$A" edited.json
	assert_output --partial "Recommendations: 0 added, 1 removed, 2 changed"
	assert_output --partial "  - PO-042 high suggested: Time-box a spike"
	assert_output --partial "  ~ A11Y-011: priority high -> critical"
	assert_output --partial "  ~ OPS-011: effort 2-4 -> 3-7"
}

@test "a renumbered recommendation is one change, matched by concern and persona, and says so" {
	jq '.epic.recommendations |= map(if .id == "ARC-026" then .id = "ARC-900" | .title = "Idempotent payments" else . end)' \
		"$A" >renumbered.json
	run -1 --separate-stderr epic-diff --json "$A" renumbered.json
	[ "$(jq -c '[.recommendations.added, .recommendations.removed]' <<<"$output")" = '[[],[]]' ]
	[ "$(jq -c '.recommendations.changed[] | [.id, .idA, .matchedBy, .concern, .persona, .changes.id]' <<<"$output")" = \
		'["ARC-900","ARC-026","concern","architecture.idempotency","architect",{"a":"ARC-026","b":"ARC-900"}]' ]
	COLUMNS=200 run -1 epic-diff "$A" renumbered.json
	assert_output --partial "~ ARC-900 (was ARC-026; renumbered, matched by concern"
	assert_output --partial "title \"Make payment authorisation, capture and refund idempotent\" -> \"Idempotent payments\""
}

@test "cost, risk and roadmap deltas are reported" {
	jq '.epic.totalCostBreakdown.effortDays = {"min": 80, "max": 200}
		| .epic.totalCostBreakdown.money.max = 160000
		| .epic.totalCostBreakdown.byPersona.architect = {"min": 18, "max": 43}
		| .epic.riskAssessment.overall = "high"
		| .epic.riskAssessment.risks[0].level = "medium"
		| .epic.riskAssessment.risks += [{"area": "legal", "level": "low", "source": "product-owner",
			"description": "new", "mitigation": "ask"}]
		| .epic.implementationRoadmap |= .[:4]
		| .epic.estimatedDuration = "3-5 weeks" | .epic.criticalPathDuration = "3-5 weeks"' "$A" >costs.json
	run -1 --separate-stderr epic-diff --json "$A" costs.json
	printf '%s\n' "$output" >d.json
	[ "$(jq -c '.cost.effortDays | [.changed, .delta]' d.json)" = '[true,{"max":5,"min":-3.5}]' ]
	[ "$(jq -c '.cost.money | [.changed, .delta.max, .currency.b]' d.json)" = '[true,4000,"EUR"]' ]
	[ "$(jq -c '.cost.byPersona' d.json)" = \
		'{"architect":{"a":{"max":43,"min":20},"b":{"max":43,"min":18},"delta":{"max":0,"min":-2}}}' ]
	[ "$(jq -c '.risk' d.json)" = \
		'{"areas":{"architecture":{"a":"critical","b":"medium"},"legal":{"a":null,"b":"low"}},"overall":{"a":"critical","b":"high","changed":true}}' ]
	[ "$(jq -c '.roadmap' d.json)" = \
		'{"criticalPath":{"a":"2-4 weeks","b":"3-5 weeks","changed":true},"phases":{"a":5,"b":4,"changed":true}}' ]
	[ "$(jq -c '[.recommendations[] | length]' d.json)" = '[0,0,0]' ]
	run -1 epic-diff "$A" costs.json
	assert_output --partial "~ total effort 83.5-195 -> 80-200 (-3.5 to +5)"
	assert_output --partial "~ EUR 66800-156000 -> 66800-160000"
	assert_output --partial "~ architect 20-43 -> 18-43"
	assert_output --partial "~ overall critical -> high"
	assert_output --partial "~ legal none -> low"
	assert_output --partial "~ phases 5 -> 4"
	assert_output --partial "~ critical path 2-4 weeks -> 3-5 weeks"
}

@test "the same request run twice, in two spools, is equal (metadata is not compared)" {
	local id
	epic run -q "$REQ/14-admin-audit-log.txt" >mine.json
	id=$(jq -r .epic.metadata.taskId mine.json)
	[ "$(jq -r .epic.metadata.createdAt mine.json)" != \
		"$(jq -r .epic.metadata.createdAt "$RES/14-admin-audit-log.json")" ]
	run -0 epic-diff "$id" "$RES/14-admin-audit-log.json"
	assert_output ""
	run -0 epic diff --spool "$RSPOOL" "$id" "$BATS_TEST_TMPDIR/mine.json"
	jq '.epic.metadata.taskId = "other-0123abcd" | .epic.metadata.totalExecutionTime = 99' mine.json >meta.json
	run -0 epic-diff mine.json meta.json
}

@test "bad inputs exit 2 with one line: no such file or task, not JSON, not an EpicResponse" {
	run -2 --separate-stderr epic-diff "$A" no-such-task-0123abcd
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"no such file, and no task 'no-such-task-0123abcd'"* ]]
	run -2 --separate-stderr epic-diff ./missing.json "$A"
	[[ "$stderr" == *"missing.json"* ]]
	echo 'not json' >bad.json
	run -2 --separate-stderr epic-diff bad.json "$A"
	[[ "$stderr" == *"bad.json:1:"* ]]
	jq 'del(.epic.riskAssessment)' "$A" >bad.json
	run -2 --separate-stderr epic-diff "$A" bad.json
	[[ "$stderr" == *"bad.json: not an EpicResponse"* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
	assert_output ""
}

@test "a write error on standard output is a temporary failure (111)" {
	[ -w /dev/full ] || skip "needs /dev/full"
	run -111 bash -c 'epic-diff --json "$1" "$1" >/dev/full' _ "$A"
	assert_output --partial "cannot write standard output"
}

@test "no escape byte off a terminal or with --color=never; colour with --color=always; hostile titles neutralised" {
	jq '.epic.recommendations |= map(if .id == "ARC-026" then .title = "\u001b]0;x\u0007Evil\u001b[2J\nline" else . end)
		| .epic.title = "T\u001b[31mitle"' "$A" >hostile.json
	COLUMNS=200 run -1 epic-diff "$A" hostile.json
	[[ "$output" != *$'\e'* && "$output" != *$'\a'* ]]
	assert_output --partial 'title "Make payment authorisation, capture and refund idempotent" -> "Evil line"'
	run -1 epic-diff --color=never "$A" hostile.json
	[[ "$output" != *$'\e'* ]]
	NO_COLOR=1 run -1 epic-diff --color=always "$A" hostile.json
	[[ "$output" == *$'\e[33m~\e[m'* ]]
	[ -z "$(printf '%s\n' "$output" | sed 's/\x1b\[[0-9;]*m//g' | LC_ALL=C tr -d '\n\040-\176\200-\377')" ]
}

@test "epic-diff only reads: the spool is the same after it" {
	local before ids
	before=$(cd "$RSPOOL" && find . -printf '%p %s %T@ %m\n' | sort)
	ids=($(ls "$RSPOOL/done"))
	epic-diff --spool "$RSPOOL" "${ids[0]}" "${ids[1]}" >/dev/null || true
	[ "$(cd "$RSPOOL" && find . -printf '%p %s %T@ %m\n' | sort)" = "$before" ]
}
