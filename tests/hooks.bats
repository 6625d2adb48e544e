#!/usr/bin/env bats
# Hooks: before-persona, after-persona, before-aggregation and after-completion
# filters, with the shipped examples, through the real pipeline.

load test_helper

setup() {
	export EPIC_HOOKS_DIR="$BATS_TEST_TMPDIR/hooks"
	mkdir -p "$EPIC_HOOKS_DIR"
	REQ="$ROOT/examples/requests/14-admin-audit-log.txt"
}

# hook STAGE NAME SCRIPT: install an executable hook.
hook() {
	mkdir -p "$EPIC_HOOKS_DIR/$1.d"
	printf '#!/bin/sh\n%s\n' "$3" > "$EPIC_HOOKS_DIR/$1.d/$2"
	chmod +x "$EPIC_HOOKS_DIR/$1.d/$2"
}

@test "without hooks nothing changes and no hook process runs" {
	run -0 epic run -q "$REQ"
	run -0 jq -r '.epic.status' <<<"$output"
}

@test "the example after-persona hook adds the company recommendation to the security review" {
	mkdir -p "$EPIC_HOOKS_DIR/after-persona.d"
	cp "$ROOT/examples/hooks/after-persona.d/50-company-policy" "$EPIC_HOOKS_DIR/after-persona.d/"
	run -0 --separate-stderr epic run -q "$REQ"
	run -0 jq -r '[.epic.recommendations[] | select(.id == "CORP-001") | .personas[]] | join(",")' <<<"$output"
	assert_output security-specialist
	run -0 jq -r '[.epic.personas[] | select(.persona.name != "security-specialist") | .recommendations[] | select(.id == "CORP-001")] | length' \
		"$EPIC_SPOOL"/done/*/epic.json
	assert_output 0
}

@test "the example after-completion hook notifies, and the result is unchanged" {
	mkdir -p "$EPIC_HOOKS_DIR/after-completion.d"
	cp "$ROOT/examples/hooks/after-completion.d/90-notify" "$EPIC_HOOKS_DIR/after-completion.d/"
	export EPIC_NOTIFY_FILE="$BATS_TEST_TMPDIR/notify.log"
	run -0 epic run -q "$REQ"
	run -0 cat "$EPIC_NOTIFY_FILE"
	assert_output --regexp 'admin-audit-log-[0-9a-f]{8}: Audit log for the admin console — [0-9]+ blocking'
}

@test "a before-persona hook changes what the persona sees; hooks run in name order" {
	hook before-persona 20-second 'jq ".epic.description += \" Users upload CSV files.\""'
	hook before-persona 10-first 'jq ".epic.context.seen = \"first\""'
	hook before-persona skipped.disabled 'exit 1'
	run -0 epic run -q "$REQ"
	run -0 jq -r '(.epic.description | endswith("Users upload CSV files.")), .epic.context.seen' \
		"$EPIC_SPOOL"/done/*/personas/02-architect.input.json
	assert_output $'true\nfirst'
}

@test "a before-aggregation hook may drop an output; the epic says so" {
	hook before-aggregation 10-drop 'jq "map(select(.persona.name != \"performance-specialist\"))"'
	run -0 --separate-stderr epic run -q "$REQ"
	run -0 jq -r '.epic.status, ([.epic.gaps[].persona] | join(","))' <<<"$output"
	assert_output $'partial\nperformance-specialist'
}

@test "a failing hook stops the task with an error naming it; fixed, the task resumes" {
	hook after-persona 10-broken 'cat >/dev/null; echo "not json"'
	run -111 epic run -q "$REQ"
	assert_output --partial "10-broken"
	assert_output --partial "printed invalid JSON"
	dir=$(ls -d "$EPIC_SPOOL"/active/*)
	run -0 jq -r .tool "$dir/error.json"
	assert_output persona-run
	rm "$EPIC_HOOKS_DIR/after-persona.d/10-broken"
	run -0 epic resume -q "$(basename "$dir")"
}

@test "a hook whose output breaks the contract is refused" {
	hook after-persona 10-bad 'jq ".confidence = 7"'
	run -111 epic run -q "$REQ"
	assert_output --partial "after-persona hook output"
	assert_output --partial "confidence"
}

@test "a failing after-completion hook is reported and the result kept" {
	hook after-completion 10-fails 'cat >/dev/null; exit 3'
	run -0 --separate-stderr epic run -q "$REQ"
	run -0 jq -r .epic.status <<<"$output"
	grep -q "after-completion hook .*10-fails.* failed: .* exited with status 3 (the result is kept)" \
		"$EPIC_SPOOL"/done/*/task.log
}
