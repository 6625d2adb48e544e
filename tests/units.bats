#!/usr/bin/env bats
# The library's units, one at a time, through tests/helper/ec-test (as git's
# t/helper): PII, sanitising, effort, the JSON in an agent's text, the event log,
# YAML, schemas, the id rule, paths for make. The tools' own tests cover them only
# through whole documents; these pin each unit's behaviour at its edges.

load test_helper

@test "pii: e-mail, phone, card (Luhn), IBAN (mod 97), SSN and IP are redacted; ordinary numbers are not" {
	run -0 ec-test pii <<< 'Mail jane.doe@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, SSN 123-45-6789, host 192.168.10.20.'
	assert_line --index 0 'Mail [redacted:email] or call [redacted:phone]; card [redacted:card], IBAN [redacted:iban], SSN [redacted:ssn], host [redacted:ip].'
	assert_line --index 1 '{"card":1,"email":1,"iban":1,"ip":1,"phone":1,"ssn":1}'
	run -0 ec-test pii <<< 'p95 150 ms at 2,000 per second, 5M items, 2025-03-01, v12.4, card 4111 1111 1111 1112 fails Luhn.'
	assert_line --index 0 'p95 150 ms at 2,000 per second, 5M items, 2025-03-01, v12.4, card 4111 1111 1111 1112 fails Luhn.'
	assert_line --index 1 '{}'
}

@test "sanitize: controls, ANSI escapes, bidirectional overrides and tags go; a line loses its heading and emphasis" {
	run -0 ec-test sanitize line <<< $'## **Export <b>invoices</b> now**\x1b[31m\xe2\x80\xae'
	assert_output $'Export invoices now\nchanged'
	run -0 ec-test sanitize line <<< '**Export** now'
	assert_output $'**Export** now\nunchanged'
	run -0 ec-test sanitize text <<< $'one\r\n\n\n\ntwo  \n'
	assert_output $'one\n\ntwo\nunchanged'
	run -0 ec-test sanitize text <<< 'a < b and <john@example.com> stay'
	assert_output $'a < b and <john@example.com> stay\nunchanged'
}

@test "cut: on a character, ending in an ellipsis" {
	run -0 ec-test cut 4 <<< 'éàüöx'
	assert_output 'éàü…'
	run -0 ec-test cut 10 <<< 'short'
	assert_output 'short'
}

@test "effort: time units and t-shirt sizes are effort; money and bare numbers are not" {
	run -0 ec-test effort <<< $'3-5 days\n2 sprints\n4 hours\n1 to 2 person-weeks\nM\nt-shirt size XL\n$12,500\nEUR 3,000\n5k\n42'
	assert_output $'3 5\n20 20\n0.5 0.5\n5 10\n3 5\n10 20\nnone\nnone\nnone\nnone'
}

@test "days: one way to write an effort and a duration" {
	run -0 ec-test days 3 3
	assert_output $'3 person-days\n3 days'
	run -0 ec-test days 1 1
	assert_output $'1 person-day\n1 day'
	run -0 ec-test days 12 40
	assert_output $'12-40 person-days\n3-8 weeks'
	run -0 ec-test days 0 4
	assert_output $'0-4 person-days\nup to 4 days'
}

@test "extract: the best object in prose or a fence, trailing commas repaired, the later one wins a tie" {
	run -0 ec-test extract <<< $'Sure:\n```json\n{"answer": 1, "x": [1, 2,],}\n```'
	assert_output $'{"answer":1,"x":[1,2]}\nwhere: JSON taken from a ``` fence at line 3\ncommas: 2\nbom: 0'
	run -0 ec-test extract <<< '{"answer": 1} then {"answer": 2}'
	assert_line --index 0 '{"answer":2}'
	run -1 ec-test extract <<< "{'answer': 1}"
	assert_output --partial 'single-quoted key or string'
	run -1 ec-test extract <<< 'no braces here'
	assert_output 'ec-test: <stdin>: no JSON object found'
}

@test "events: a malformed line is skipped and reported, a cut last line is left for later" {
	run -0 ec-test events <<< $'{"event":"before","persona":"architect","time":"2026-01-02T03:04:05Z"}\nnot json\n{"event":"after","persona":"architect","time":"2026-01-02T03:04:06.500Z"}'
	assert_output --partial "report: <stdin>:2:3: malformed event skipped: invalid token near 'not'"
	assert_line 'event: architect before 1767323045000'
	assert_line 'event: architect after 1767323046500'
	assert_line 'skipped: 1'
	assert_line 'torn: 0'
	run -0 ec-test events < <(printf '{"event":"before","persona":"po","time":"2026-01-02T03:04:05Z"}\n{"event":"af')
	assert_line 'torn: 1'
	assert_line 'end: 64'
	assert_line --partial 'torn last line skipped'
}

@test "yaml: typed scalars and where each path is" {
	run -0 ec-test yaml <<< $'a:\n  b: 1\n  c: [x, true]\nd: null'
	assert_line --index 0 '{"a":{"b":1,"c":["x",true]},"d":null}'
	run -0 jq -r '."$.a.c[1]"' <<< "${lines[1]}"
	assert_output '3:10'
}

@test "schema: the embedded schemas judge a document, naming the path" {
	run -0 ec-test schema plan <<< '{"taskId": "x-00000000", "mode": "standard", "personas": []}'
	assert_output valid
	run -0 ec-test schema plan <<< '{"taskId": "../x", "mode": "standard", "personas": []}'
	assert_output --partial '$.taskId'
	run -2 ec-test schema nonesuch <<< '{}'
}

@test "the one id rule" {
	run -0 ec-test id ok-1a2b3c4d a.b_c-d ../x .hidden -dash '' "$(printf 'x%.0s' $(seq 1 73))" "$(printf 'x%.0s' $(seq 1 74))" 'sp ace'
	assert_output "ok-1a2b3c4d valid
a.b_c-d valid
../x invalid
.hidden invalid
-dash invalid
 invalid
$(printf 'x%.0s' $(seq 1 73)) valid
$(printf 'x%.0s' $(seq 1 74)) invalid
sp ace invalid"
}

@test "paths for make: escaped where make can take them, refused where it cannot; absolute against the cwd" {
	run -0 ec-test make-escape '/a b/c#d:e;f' '$HOME/x' '/x(y)' $'/x\ny' '/x\y'
	assert_output '/a\ b/c\#d\:e\;f
$$HOME/x
refused
refused
refused'
	cd "$BATS_TEST_TMPDIR"
	run -0 ec-test abspath a/../b ./c/./d /x/../../y
	assert_output "$BATS_TEST_TMPDIR/b
$BATS_TEST_TMPDIR/c/d
/y"
}

@test "utf8: the first byte that is not UTF-8" {
	run -0 ec-test utf8 < <(printf 'ok \xc3\xa9 then \xc3\x28')
	assert_output 11
	run -0 ec-test utf8 < <(printf 'overlong \xc0\xaf')
	assert_output 9
	run -0 ec-test utf8 <<< 'fine é'
	assert_output -1
}

@test "EPIC_NOW sets the tools' wall clock (RFC 3339 or epoch seconds), which then runs on; a bad value is ignored" {
	EPIC_NOW=2030-01-02T03:04:05Z run -0 epic submit "$ROOT/examples/requests/04-notifications.json"
	EPIC_NOW=1893456000 run -0 epic-watch --once
	run -0 jq -r '.time' "$EPIC_SPOOL/log/audit.jsonl"
	assert_line --index 0 "2030-01-02T03:04:05.000Z"
	assert_line --index 1 --regexp '^2030-01-01T00:00:0[0-9]\.[0-9]{3}Z$'
	# the clock runs on from there: the task took some time after its claim
	[ "${lines[2]}" \> "${lines[1]}" ] || [ "${lines[2]}" = "${lines[1]}" ]
	run -0 jq -r '.epic.metadata.completedAt' "$EPIC_SPOOL"/done/*/epic.json
	assert_output --regexp '^2030-01-01T00:00:0'
	EPIC_NOW=yesterday run -0 epic submit - <<<"A request submitted with a broken fake clock, to be ignored"
	run -0 jq -r 'select(.task | startswith("stdin")) | .time' "$EPIC_SPOOL/log/audit.jsonl"
	refute_output --partial "2030-"
}

@test "patterns: every schema pattern gives pattern.c's matcher and regcomp the same answers on its strings, near misses and noise" {
	run -0 ec-test patterns
	assert_line --regexp '^patterns [0-9]+ strings [0-9]+ disagreements 0 left to regcomp 0$'
	# every schema has its patterns counted: more than 50 in all
	[ "$(sed -n 's/^patterns \([0-9]*\) .*/\1/p' <<<"$output")" -gt 50 ]
}

@test "schemas: a value a pattern refuses is still refused, named by its path" {
	run -0 ec-test schema persona-registration <<< '{"name": "Bad Name", "reviewOrder": 1, "required": false, "timeout": 10, "dependencies": [], "supportedModes": ["standard"], "version": "1.0.0", "rules": "x.json"}'
	assert_output --partial '$.name'
	run -0 ec-test schema persona-registration <<< '{"name": "good-name", "reviewOrder": 1, "required": false, "timeout": 10, "dependencies": [], "supportedModes": ["standard"], "version": "1.0.0", "rules": "x.json"}'
	assert_output valid
}
