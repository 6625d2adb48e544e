#!/usr/bin/env bats
# The persona plan is decided once (plan.c, by epic-parse) and written twice from
# the same steps: plan.mk for make, plan.json for the tools, which read it instead
# of deciding again. What the pipeline knows of a persona is in its registration.

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	REG="$BATS_TEST_TMPDIR/personas"
	cp -r "$ROOT/pipeline/personas" "$REG"
	export EPIC_PERSONA_PATH="$REG"
	printf 'coordination:\n  maxRetries: 0\n  retryBackoffMs: 0\n' > c.yml
	export EPIC_CONFIG="$BATS_TEST_TMPDIR/c.yml"
	printf 'Let customers pay invoices by card from the billing page, with receipts by email.\n' > req.txt
}

# register NAME ORDER KIND-JSON [EXTRA-JSON]: a registration written as a file.
register() {
	jq -n --arg n "$1" --argjson o "$2" --argjson k "$3" --argjson x "${4:-{\}}" \
		'{name: $n, reviewOrder: $o, required: false, timeout: 30,
		  supportedModes: ["mvp", "standard", "enterprise"], version: "1.0.0"} + $k + $x' \
		> "$REG/$1.json"
}

@test "a failing DevOps command persona under enforceDevops stops the task: the required-persona exit code" {
	register devops-engineer 6 '{"command": ["sh", "-c", "cat >/dev/null; exit 3"]}' \
		'{"enforceDevops": true, "area": "operations"}'
	# Optional without enforceDevops: the review goes on, the gap is named.
	run -0 epic run -q req.txt
	run -0 jq -r '.epic.personas[] | select(.persona.name == "devops-engineer") | .persona.status' <<< "$output"
	assert_output failed
	# Required (and blocking) under enforceDevops: exit 111, the task kept.
	run -111 epic run -q --enforce-devops req.txt
	assert_output --partial "devops-engineer"
	[ "$(ls "$EPIC_SPOOL/active" | grep -c '^req-')" = 1 ]
	run -0 jq -c '.personas[] | select(.name == "devops-engineer") | [.required, .enforced]' \
		"$EPIC_SPOOL"/active/req-*/plan.json
	assert_output '[true,true]'
}

@test "enforced means blocking: the built-in engine and the aggregate read it from the plan" {
	run -0 epic run -q --enforce-devops req.txt
	run -0 jq -r '[.epic.recommendations[] | select(.id | startswith("OPS-")) | .type] | unique | join(" ")' <<< "$output"
	assert_output blocking
	run -0 jq -r '.persona.enforced' "$EPIC_SPOOL"/done/req-*/personas/06-devops-engineer.input.json
	assert_output true
}

@test "a seventh persona is a file: its id prefix, area, gap priority and advice come from its registration" {
	register privacy-officer 7 '{"command": ["sh", "-c", "cat >/dev/null; echo \"{\\\"recommendations\\\": [{\\\"title\\\": \\\"Record the processing\\\", \\\"description\\\": \\\"Add the new card data flow to the register of processing.\\\", \\\"type\\\": \\\"blocking\\\", \\\"priority\\\": \\\"high\\\"}]}\""]}' \
		'{"idPrefix": "PRIV", "area": "privacy", "gapPriority": "critical",
		  "gapAdvice": "have the data protection officer review the processing before launch"}'
	run -0 epic run -q req.txt
	local epic=$output
	run -0 jq -r '.epic.recommendations[] | select(.title == "Record the processing") | .id' <<< "$epic"
	assert_output PRIV-001
	run -0 jq -r '.epic.riskAssessment.risks[] | select(.source == "privacy-officer") | .area' <<< "$epic"
	assert_output privacy
	# Its review missing: a gap with its own priority and advice.
	run -0 epic run -q --exclude privacy-officer req.txt
	run -0 jq -r '.epic.riskAssessment.risks[] | select(.source == "privacy-officer") | "\(.area) \(.level): \(.mitigation)"' <<< "$output"
	assert_output "privacy critical: Include privacy-officer in the review, or have the data protection officer review the processing before launch"
}

@test "a registration without idPrefix, area or gap advice: ids from its name's initials, its name as the area, a medium gap" {
	register data-privacy-officer 7 '{"command": ["sh", "-c", "cat >/dev/null; echo \"{\\\"recommendations\\\": [{\\\"title\\\": \\\"Record the processing\\\", \\\"description\\\": \\\"Add the card data flow to the register.\\\", \\\"type\\\": \\\"blocking\\\", \\\"priority\\\": \\\"critical\\\"}]}\""]}'
	run -0 epic run -q req.txt
	run -0 jq -r '.epic.recommendations[] | select(.title == "Record the processing") | .id' <<< "$output"
	assert_output DPO-001
	run -0 epic run -q --exclude data-privacy-officer req.txt
	run -0 jq -r '.epic.riskAssessment.risks[] | select(.source == "data-privacy-officer") | "\(.area) \(.level): \(.mitigation)"' <<< "$output"
	assert_output "data-privacy-officer medium: Include data-privacy-officer in the review, or review what data-privacy-officer covers by hand before work starts"
}

@test "persona-run and epic-aggregate read the task's plan.json instead of deciding again" {
	register devops-engineer 6 '{"command": ["sh", "-c", "cat >/dev/null; exit 3"]}'
	run -0 epic run -q --exclude performance-specialist req.txt
	local t
	t=$(ls -d "$EPIC_SPOOL"/done/req-*)
	# plan.json, not the registry, says who is required: make the failing DevOps
	# persona and the skipped performance specialist required there.
	jq '(.personas[] | select(.name == "devops-engineer" or .name == "performance-specialist")) |= (.required = true)' \
		"$t/plan.json" > p.json && mv p.json "$t/plan.json"
	run -111 persona-run --persona devops-engineer -o ops.json "$t/epic-request.json"
	run -0 env -C "$t" epic-aggregate -o "$BATS_TEST_TMPDIR/agg.json" epic-request.json \
		personas/01-product-owner.json personas/02-architect.json personas/03-security-specialist.json
	run -0 jq -r '.epic.riskAssessment.risks[] | select(.source == "performance-specialist") | .level' agg.json
	assert_output high      # its gapPriority is medium: high because plan.json makes it required
	# And without plan.json beside the request, the same tools decide as epic-parse would.
	rm "$t/plan.json"
	run -0 persona-run --persona devops-engineer -o ops.json "$t/epic-request.json"
}
