#!/usr/bin/env bats
# epic-parse: validation, normalization, titles, task ids, the plan.

load test_helper

setup() {
	use_fixture_registry
	cd "$FIX/epic-parse"
}

@test "epic-parse --help prints usage on stdout and exits 0" {
	run -0 epic-parse --help
	assert_output --partial "usage: epic-parse"
	assert_output --partial "Exit: 0 ok, 1 request rejected, 2 usage, 111 temporary failure"
}

@test "epic-parse --version names the tool" {
	run -0 epic-parse --version
	assert_output --regexp '^epic-parse [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "a bad option is a usage error: one line and the synopsis on stderr, exit 2" {
	run -2 --separate-stderr epic-parse --frobnicate
	assert_output ""
	[[ "$stderr" == *"usage: epic-parse"* ]]
}

@test "two request files are a usage error" {
	run -2 epic-parse good/crlf.txt good/heading.md
	assert_output --partial "too many arguments"
}

@test "an unknown --format is a usage error" {
	run -2 epic-parse --format yaml good/crlf.txt
	assert_output --partial "unknown format 'yaml'"
}

@test "every good request normalizes to its expected JSON and plan" {
	local reg n=0
	reg=$(cd "$FIX/registry" && pwd)
	for f in good/*.md good/*.txt good/*.json; do
		case $f in *.expected.json|*.plan.json) continue ;; esac
		b=${f%.*}
		run -0 --separate-stderr epic-parse --plan "$BATS_TEST_TMPDIR/plan.mk" "$f"
		diff -u "$b.expected.json" <(printf '%s\n' "$output") || fail "$f: normalized request differs"
		diff -u "$b.plan.mk" <(sed "s|$reg|@REGISTRY@|g; s|$ROOT/pipeline/epic-creator.yml|@CONFIG@|g" \
			"$BATS_TEST_TMPDIR/plan.mk") ||
			fail "$f: plan differs"
		diff -u "$b.plan.json" "$BATS_TEST_TMPDIR/plan.json" || fail "$f: plan.json differs"
		n=$((n + 1))
	done
	[ "$n" -ge 5 ]
}

@test "control characters are stripped with a warning naming the file" {
	run -0 --separate-stderr epic-parse good/bom-control.txt
	[ "$stderr" = "epic-parse: good/bom-control.txt: stripped 2 control characters from the description" ]
	run -0 jq -r .description <<<"$output"
	refute_output --regexp $'[\x01-\x08\x1b]'
}

@test "every bad request is rejected with exit 1 and exactly its expected message" {
	local n=0
	for f in bad/*.json bad/*.txt; do
		run -1 --separate-stderr epic-parse "$f"
		[ -z "$output" ] || fail "$f: wrote to stdout although rejected"
		[ "$stderr" = "$(cat "${f%.*}.expected")" ] ||
			fail "$f: expected '$(cat "${f%.*}.expected")', got '$stderr'"
		n=$((n + 1))
	done
	[ "$n" -ge 30 ]
}

@test "a rejected request writes neither the output nor the plan" {
	run -1 epic-parse -o "$BATS_TEST_TMPDIR/req.json" --plan "$BATS_TEST_TMPDIR/plan.mk" bad/unknown-mode.json
	assert_file_not_exist "$BATS_TEST_TMPDIR/req.json"
	assert_file_not_exist "$BATS_TEST_TMPDIR/plan.mk"
	assert_no_temp_files "$BATS_TEST_TMPDIR"
}

@test "a file over security.maxRequestBytes is rejected before parsing" {
	head -c 2000000 /dev/zero | tr '\0' 'a' > "$BATS_TEST_TMPDIR/huge.txt"
	run -1 epic-parse "$BATS_TEST_TMPDIR/huge.txt"
	assert_output --partial "request too large (security.maxRequestBytes)"
	assert_output --partial "exceeds the limit of 1048576 bytes"
}

@test "a huge request on stdin is cut off at the limit too" {
	run -1 bash -c "head -c 2000000 /dev/zero | tr '\\0' 'a' | epic-parse -"
	assert_output --partial "<stdin>': more than the limit of 1048576 bytes"
}

@test "a description over security.maxDescriptionBytes is rejected with the key to change" {
	printf 'coordination:\n  defaultMode: mvp\nsecurity:\n  maxDescriptionBytes: 20\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -1 epic-parse --config "$BATS_TEST_TMPDIR/c.yml" good/crlf.txt
	assert_output "epic-parse: good/crlf.txt: \$.description: 89 bytes: expected at most 20 bytes (security.maxDescriptionBytes)"
}

@test "defaults come from the config: defaultMode" {
	printf 'coordination:\n  defaultMode: mvp\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -0 epic-parse --config "$BATS_TEST_TMPDIR/c.yml" good/crlf.txt
	run -0 jq -r .mode <<<"$output"
	assert_output mvp
	EPIC_CONFIG="$BATS_TEST_TMPDIR/c.yml" run -0 epic-parse good/crlf.txt
	run -0 jq -r .mode <<<"$output"
	assert_output mvp
}

@test "a bad config is rejected naming file:line:col and the key path" {
	printf 'coordination:\n  defaultMode: mvp\n  maxRetires: 3\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -1 epic-parse --config "$BATS_TEST_TMPDIR/c.yml" good/crlf.txt
	assert_output --regexp "c.yml:3:3: \\\$.coordination.maxRetires: unknown field"
	printf 'performance:\n  maxConcurrentPersonas: 500\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -1 epic-parse --config "$BATS_TEST_TMPDIR/c.yml" good/crlf.txt
	assert_output --regexp "c.yml:2:3: \\\$.performance.maxConcurrentPersonas: expected a number <= 64, got 500"
	printf 'costs:\n  currency: [EUR\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -1 epic-parse --config "$BATS_TEST_TMPDIR/c.yml" good/crlf.txt
	assert_output --regexp "c.yml:[0-9]+:[0-9]+: "
	run -1 epic-parse --config "$BATS_TEST_TMPDIR/missing.yml" good/crlf.txt
	assert_output --partial "config: cannot open"
}

@test "the task id is the sanitised name plus a content hash; same bytes, same id" {
	run -0 epic-parse good/crlf.txt
	id1=$(jq -r .taskId <<<"$output")
	[[ "$id1" =~ ^crlf-[0-9a-f]{8}$ ]]
	cp good/crlf.txt "$BATS_TEST_TMPDIR/My Epic (draft) #2.txt"
	run -0 epic-parse "$BATS_TEST_TMPDIR/My Epic (draft) #2.txt"
	[[ "$(jq -r .taskId <<<"$output")" == "My_Epic_draft_2-${id1#crlf-}" ]]
	run -0 bash -c "epic-parse - < good/crlf.txt | jq -r .taskId"
	assert_output "stdin-${id1#crlf-}"
	run -0 bash -c "epic-parse --name ../../etc/x - < good/crlf.txt | jq -r .taskId"
	assert_output "etc_x-${id1#crlf-}"
}

@test "--task-id is taken as given, and refused when it is not a safe name" {
	run -0 epic-parse --task-id job-1 good/crlf.txt
	[ "$(jq -r .taskId <<<"$output")" = job-1 ]
	run -2 epic-parse --task-id ../x good/crlf.txt
	assert_output --partial "invalid task id '../x'"
}

@test "--stamp is touched on every successful run, the outputs only when they change" {
	run -0 epic-parse --stamp "$BATS_TEST_TMPDIR/.stamp" -o "$BATS_TEST_TMPDIR/r.json" good/heading.md
	assert_file_exist "$BATS_TEST_TMPDIR/.stamp"
	touch -d '2000-01-01' "$BATS_TEST_TMPDIR/.stamp" "$BATS_TEST_TMPDIR/r.json"
	run -0 epic-parse --stamp "$BATS_TEST_TMPDIR/.stamp" -o "$BATS_TEST_TMPDIR/r.json" good/heading.md
	[ "$(stat -c %Y "$BATS_TEST_TMPDIR/.stamp")" -gt "$(date -d 2000-01-02 +%s)" ]
	[ "$(stat -c %Y "$BATS_TEST_TMPDIR/r.json")" = "$(date -d 2000-01-01 +%s)" ]
	run -1 epic-parse --stamp "$BATS_TEST_TMPDIR/.stamp2" bad/empty.txt
	assert_file_not_exist "$BATS_TEST_TMPDIR/.stamp2"
}

@test "output is written atomically and only when it changed" {
	out="$BATS_TEST_TMPDIR/req.json"
	run -0 epic-parse -o "$out" --plan "$BATS_TEST_TMPDIR/plan.mk" good/heading.md
	touch -d '2000-01-01' "$out" "$BATS_TEST_TMPDIR/plan.mk"
	run -0 epic-parse -o "$out" --plan "$BATS_TEST_TMPDIR/plan.mk" good/heading.md
	[ "$(stat -c %Y "$out")" = "$(date -d 2000-01-01 +%s)" ] || fail "unchanged output was rewritten"
	[ "$(stat -c %Y "$BATS_TEST_TMPDIR/plan.mk")" = "$(date -d 2000-01-01 +%s)" ] || fail "unchanged plan was rewritten"
	assert_no_temp_files "$BATS_TEST_TMPDIR"
}

@test "writing to /dev/null or a pipe does not replace it" {
	run -0 epic-parse -o /dev/null good/heading.md
	[ -c /dev/null ]
	run -0 bash -c "epic-parse -o /dev/stdout good/heading.md | jq -r .title"
	assert_output "Saved payment methods for returning customers"
}

@test "a full disk is a temporary failure (exit 111)" {
	run -111 epic-parse -o /dev/full good/heading.md
	assert_output "epic-parse: cannot write '/dev/full': No space left on device"
}

@test "an output path in a missing directory is a temporary failure (exit 111)" {
	run -111 epic-parse -o "$BATS_TEST_TMPDIR/no/such/dir/req.json" good/heading.md
	assert_output --partial "cannot write"
}

@test "a missing request file is rejected (exit 1) naming it" {
	run -1 epic-parse no-such-file.json
	assert_output "epic-parse: cannot open 'no-such-file.json': No such file or directory"
}

@test "a broken registry is named in the error" {
	mkdir "$BATS_TEST_TMPDIR/reg"
	cp "$FIX"/registry/*.json "$BATS_TEST_TMPDIR/reg/"
	cp -r "$FIX/registry/rules" "$BATS_TEST_TMPDIR/reg/"
	sed -i 's/"dependencies": \[\]/"dependencies": ["devops-engineer"]/' "$BATS_TEST_TMPDIR/reg/product-owner.json"
	EPIC_PERSONA_PATH="$BATS_TEST_TMPDIR/reg" run -1 epic-parse good/heading.md
	assert_output --partial "dependency cycle"
	sed -i 's/"reviewOrder": 5/"reviewOrder": 4/' "$BATS_TEST_TMPDIR/reg/accessibility-advocate.json"
	sed -i 's/"dependencies": \["devops-engineer"\]/"dependencies": []/' "$BATS_TEST_TMPDIR/reg/product-owner.json"
	EPIC_PERSONA_PATH="$BATS_TEST_TMPDIR/reg" run -1 epic-parse good/heading.md
	assert_output --regexp "(accessibility-advocate|performance-specialist).json: .\.reviewOrder: 4 is already used"
}

@test "a persona excluded by the request is planned as skipped, with the reason" {
	run -0 epic-parse --plan "$BATS_TEST_TMPDIR/plan.mk" good/full.json
	run -0 grep 'personas/.05-accessibility-advocate.stamp: PERSONA_KIND := skip' "$BATS_TEST_TMPDIR/plan.mk"
	run -0 grep 'PERSONA_SKIP := excluded' "$BATS_TEST_TMPDIR/plan.mk"
}

@test "enforceDevops makes the persona whose registration says so required and enforced in the plan" {
	run -0 epic-parse --plan "$BATS_TEST_TMPDIR/plan.mk" good/full.json
	run -0 jq -c '.personas[] | select(.name == "devops-engineer") | [.required, .enforced]' "$BATS_TEST_TMPDIR/plan.json"
	assert_output '[true,true]'
	run -0 epic-parse --plan "$BATS_TEST_TMPDIR/plan.mk" good/heading.md
	run -0 jq -c '.personas[] | select(.name == "devops-engineer") | [.required, .enforced]' "$BATS_TEST_TMPDIR/plan.json"
	assert_output '[false,false]'
}

@test "the plan is a valid make fragment: make orders the personas by their dependencies" {
	run -0 epic-parse --plan "$BATS_TEST_TMPDIR/plan.mk" good/full.json
	printf 'include plan.mk\n%%.stamp:\n\t@echo $@\nepic-request.json:\nFORCE:\n\n' > "$BATS_TEST_TMPDIR/Makefile"
	: > "$BATS_TEST_TMPDIR/epic-request.json"
	cd "$BATS_TEST_TMPDIR"
	run -0 make -s -rR -f Makefile personas/07-legal-review.json personas/06-devops-engineer.json
	assert_line --index 0 personas/.01-product-owner.stamp
	assert_line --index 1 personas/.02-architect.stamp
	assert_line --index 2 personas/.07-legal-review.stamp
	assert_line --index 3 personas/.03-security-specialist.stamp
}

@test "the shipped examples all parse with the shipped registry" {
	unset EPIC_PERSONA_PATH
	[ -e "$ROOT/pipeline/personas/product-owner.json" ] || skip "no shipped registrations yet"
	for f in "$ROOT"/examples/requests/*; do
		run -0 epic-parse "$f"
	done
}

@test "a persona's inputs are every persona it builds on, transitively, in review order" {
	run -0 epic-parse --plan "$BATS_TEST_TMPDIR/plan.mk" good/heading.md
	run -0 grep '^personas/.04-performance-specialist.stamp: PERSONA_DEPS' "$BATS_TEST_TMPDIR/plan.mk"
	assert_output "personas/.04-performance-specialist.stamp: PERSONA_DEPS := personas/01-product-owner.json personas/02-architect.json personas/03-security-specialist.json"
}

@test "the config overrides a registration's dependencies, timeout and required flag" {
	printf 'personas:\n  performance-specialist:\n    dependencies: [architect]\n    timeout: 7\n    required: true\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -0 epic-parse --config "$BATS_TEST_TMPDIR/c.yml" --plan "$BATS_TEST_TMPDIR/plan.mk" good/heading.md
	run -0 grep '^personas/.04-performance-specialist.stamp: PERSONA_DEPS' "$BATS_TEST_TMPDIR/plan.mk"
	assert_output "personas/.04-performance-specialist.stamp: PERSONA_DEPS := personas/01-product-owner.json personas/02-architect.json"
	run -0 jq -c '.personas[] | select(.name == "performance-specialist") | [.required, .timeout, .dependencies]' \
		"$BATS_TEST_TMPDIR/plan.json"
	assert_output '[true,7,["architect"]]'
	printf 'personas:\n  product-owner:\n    dependencies: [devops-engineer]\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -1 epic-parse --config "$BATS_TEST_TMPDIR/c.yml" good/heading.md
	assert_output --partial "dependency cycle"
	printf 'personas:\n  marketing:\n    timeout: 5\n' > "$BATS_TEST_TMPDIR/c.yml"
	run -1 epic-parse --config "$BATS_TEST_TMPDIR/c.yml" good/heading.md
	assert_output "epic-parse: config: \$.personas.marketing: no persona 'marketing' is registered"
}

@test "the shipped parallel profile lets three personas run side by side" {
	unset EPIC_PERSONA_PATH
	[ -e "$ROOT/pipeline/personas/product-owner.json" ] || skip "no shipped registrations yet"
	run -0 epic-parse --config "$ROOT/pipeline/profiles/parallel.yml" --plan "$BATS_TEST_TMPDIR/plan.mk" good/heading.md
	for p in 03-security-specialist 04-performance-specialist 05-accessibility-advocate; do
		run -0 grep "^personas/.$p.stamp: PERSONA_DEPS" "$BATS_TEST_TMPDIR/plan.mk"
		assert_output "personas/.$p.stamp: PERSONA_DEPS := personas/01-product-owner.json personas/02-architect.json"
	done
}

@test "the title is what the document is about, never the name of a section" {
	local body
	cd "$BATS_TEST_TMPDIR"
	while IFS='|' read -r want body; do
		printf '%b' "$body" > t.md
		run -0 --separate-stderr epic-parse t.md
		run -0 jq -r .title <<< "$output"
		[ "$output" = "$want" ] || fail "'$body': title '$output', expected '$want'"
	done <<-'CASES'
	KEP-1287: In-place pod resize|# KEP-1287: In-place pod resize\n\n## Summary\n\nResize pods without restarts.\n
	Real title|## Abstract\n\nWe want faster pages. More.\n\n# Real title\n
	We want faster pages|## Abstract\n\nWe want faster pages. More.\n
	Let customers pay by card|Let customers pay by card. More text.\n\n## Goals\n\n- one\n
	Passkeys for staff|Title: Passkeys for staff\r\n\r\nStaff sign in with passkeys.\r\n
	Saved cards|A preamble.\n\n## Saved cards ##\n\nKeep a card on file.\n
	Faster search|## Background:\n\nSearch is slow.\n\n## Faster search\n\n# Faster search\n
	CASES
}
