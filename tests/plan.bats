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

# Two optional rule-based personas after the architect, side by side: privacy-officer
# (review order 7) finds e-mail addresses, tester (8) reports and exports.
two_reviewers() {
	mkdir -p "$REG/rules"
	cp "$ROOT/tests/fixtures/persona-rules/calibrated.json" "$REG/rules/tester.json"
	jq -n '{persona: "privacy-officer", version: "1.0.0", costCategory: "privacy", rules: [
		{id: "PRIV-001", modes: ["mvp", "standard", "enterprise"], when: {any: ["email", "e-mail"]},
		 recommendation: {title: "Record the e-mail processing", type: "suggested", priority: "medium",
		   description: "d", references: ["INVEST"], effortDays: {min: 1, max: 2}}}]}' \
		> "$REG/rules/privacy-officer.json"
	register privacy-officer 7 '{"rules": "rules/privacy-officer.json", "dependencies": ["architect"]}'
	register tester 8 '{"rules": "rules/tester.json", "dependencies": ["architect"]}' "${1:-{\}}"
}

@test "auto selection: the most relevant first, dependencies kept; the plan shows why" {
	two_reviewers
	printf 'Let customers pay invoices by card, with receipts by email and a CSV report and export of their payments.\n' > req.txt
	run -0 epic run -q --select auto req.txt
	local epic=$output plan=("$EPIC_SPOOL"/done/req-*/plan.json)
	run -0 jq -r .select "$plan"
	assert_output auto
	# tester (4 specific recommendations) reviews before privacy-officer (1), though
	# registered after it; both after the architect they build on.
	run -0 jq -r '[.personas[].name] | [index("architect"), index("tester"), index("privacy-officer")] | .[0] < .[1] and .[1] < .[2]' "$plan"
	assert_output true
	run -0 jq -r '.personas[] | select(.name == "tester") | "\(.relevance) \(.why)"' "$plan"
	assert_output "4 Export the report asynchronously; Bound the export size; Name the report's owner"
	# Its output file keeps its review order: the same task reruns incrementally.
	run -0 jq -r '.personas[] | select(.name == "tester") | .output' "$plan"
	assert_output personas/08-tester.json
	run -0 jq -r '[.epic.personas[].persona.name] | index("tester") < index("privacy-officer")' <<< "$epic"
	assert_output true
}

@test "auto selection skips a persona with nothing to assess, with its reason; never a required one" {
	two_reviewers
	run -0 epic run -q --select auto req.txt
	local epic=$output plan=("$EPIC_SPOOL"/done/req-*/plan.json)
	run -0 jq -r '.personas[] | select(.name == "tester") | "\(.kind) \(.skip) \(.relevance) \(.why)"' "$plan"
	assert_output "skip irrelevant 0 its rules find nothing to assess"
	run -0 jq -r '.epic.personas[] | select(.persona.name == "tester") | "\(.persona.status): \(.persona.error.message)"' <<< "$epic"
	assert_output "skipped: auto selection: nothing in the epic for it to assess"
	run -0 jq -r '.summary.personasSkipped | index("tester") != null' <<< "$epic"
	assert_output true
	# privacy-officer found the receipts by email, so it reviews.
	run -0 jq -r '.epic.personas[] | select(.persona.name == "privacy-officer") | .persona.status' <<< "$epic"
	assert_output completed
	# Required, it reviews even with nothing to assess (and says so: never silent).
	two_reviewers '{"required": true}'
	run -0 epic run -q --select auto req.txt
	run -0 jq -r '.epic.personas[] | select(.persona.name == "tester") | "\(.persona.status) \(.insights | length)"' <<< "$output"
	assert_output "completed 1"
	# Without auto selection every persona reviews, and the plan carries no scores.
	run -0 epic run -q --select all req.txt
	run -0 jq -r '.epic.personas[] | select(.persona.name == "tester") | .persona.status' <<< "$output"
	assert_output completed
	run -0 jq -rs 'map(select(has("select") | not)) | "\(length) \([.[0].personas[] | has("relevance")] | any)"' "$EPIC_SPOOL"/done/req-*/plan.json
	assert_output "1 false"
}

@test "auto selection: a command persona cannot be scored and is kept; the config can make auto the default" {
	register notifier 7 '{"command": ["sh", "-c", "cat >/dev/null; echo \"{\\\"insights\\\": [\\\"ok\\\"]}\""], "dependencies": ["architect"]}'
	printf 'coordination:\n  maxRetries: 0\n  retryBackoffMs: 0\n  defaultSelect: auto\n' > c.yml
	mkdir -p "$EPIC_SPOOL/incoming"
	cp req.txt "$EPIC_SPOOL/incoming/dropped.txt"
	run -0 epic-watch --once
	run -0 jq -r '.personas[] | select(.name == "notifier") | "\(.kind) \(.why)"' "$EPIC_SPOOL"/done/dropped-*/plan.json
	assert_output "command not scored: a command persona is always kept"
	run -0 jq -r .options.select "$EPIC_SPOOL"/done/dropped-*/epic-request.json
	assert_output auto
	# The request's own choice wins over the config's default.
	printf '{"description": "Let customers pay invoices by card from the billing page.", "options": {"select": "all"}}\n' > all.json
	run -0 epic run -q all.json
	run -0 jq -r '.select // "all"' "$EPIC_SPOOL"/done/all-*/plan.json
	assert_output all
}

@test "a selection that is neither all nor auto is refused: usage (2) on the command line, rejection (1) in a request" {
	run -2 epic run -q --select some req.txt
	assert_output --partial "unknown selection 'some': expected all or auto"
	printf '{"description": "Let customers pay invoices by card from the billing page.", "options": {"select": "some"}}\n' > bad.json
	run -1 epic run -q bad.json
	assert_output --partial '$.options.select'
}

@test "a registration edited after a run re-plans the same task when it runs again" {
	run -0 epic run -q req.txt
	run -0 jq -r '.personas[] | select(.name == "devops-engineer") | .timeout' "$EPIC_SPOOL"/done/req-*/plan.json
	local before=$output
	jq '.timeout = 77' "$REG/devops-engineer.json" > t.json && mv t.json "$REG/devops-engineer.json"
	run -0 epic run -q req.txt
	run -0 jq -r '.personas[] | select(.name == "devops-engineer") | .timeout' "$EPIC_SPOOL"/done/req-*/plan.json
	[ "$before" != 77 ]
	assert_output 77
}

@test "the shared vocabulary beside the rule bases is a prerequisite: edited, every rule persona reviews again; untouched, none" {
	run -0 epic run -q req.txt
	local log=("$EPIC_SPOOL"/done/req-*/checkpoints.jsonl)
	[ "$(grep -c '"event":"before"' "$log")" = 6 ]
	jq '.concepts.zzz = ["zzz"]' "$REG/rules/concepts.json" > t.json && mv t.json "$REG/rules/concepts.json"
	run -0 epic run -q req.txt
	[ "$(grep -c '"event":"before"' "$log")" = 12 ]
	run -0 epic run -q req.txt
	[ "$(grep -c '"event":"before"' "$log")" = 12 ]
}

@test "plan.mk names the vocabulary a rule base names, remembered with its fingerprint, and again when the rule base names another" {
	cp "$REG/rules/concepts.json" "$REG/rules/words.json"
	jq '.concepts = "words.json"' "$REG/rules/architect.json" > t.json && mv t.json "$REG/rules/architect.json"
	sleep 3         # settled: the fingerprints (and vocabularies) are remembered
	run -0 epic run -q req.txt
	local task=("$EPIC_SPOOL"/done/req-*)
	ls "$EPIC_SPOOL/cache/valid/" | grep -q '^rulebase-fp[.]' || fail "no fingerprint remembered"
	check() {       # the stamp rule of persona $1 lists vocabulary $2
		grep -E "^personas/[.][0-9]+-$1[.]stamp: .*/rules/$2( |\$)" "$task/plan.mk" > /dev/null ||
			fail "$1's rule does not list $2: $(grep "$1[.]stamp: e" "$task/plan.mk")"
	}
	# From the memo: no rule base is read to find its vocabulary.
	traced -e trace=openat -o trace.txt epic-parse --task-id "$(basename "$task")" \
		--plan "$task/plan.mk" -o "$task/epic-request.json" "$task/request.txt"
	run grep -cE '/rules/[a-z-]+[.]json"' trace.txt
	assert_output 0
	check architect words.json
	check security-specialist concepts.json
	# Named another in place (same size, the time set back): seen, and listed.
	cp "$REG/rules/words.json" "$REG/rules/terms.json"
	python3 - "$REG/rules/architect.json" <<'PY'
import os, sys
p = sys.argv[1]
st = os.stat(p)
with open(p, "r+b") as f:
    b = f.read().replace(b'"words.json"', b'"terms.json"')
    f.seek(0)
    f.write(b)
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
	run -0 epic-parse --task-id "$(basename "$task")" --plan "$task/plan.mk" \
		-o "$task/epic-request.json" "$task/request.txt"
	check architect terms.json
}
