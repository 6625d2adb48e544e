#!/usr/bin/env bats
# persona-rules: the built-in persona engine. Each matching feature of the rule-base
# format (pipeline/personas/FORMAT.md) is tested against the small purpose-built rule
# base tests/fixtures/persona-rules/features.json; then the command line.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
bats_require_minimum_version 1.5.0

setup() {
	ROOT="$BATS_TEST_DIRNAME/.."
	BIN="${EC_BIN:-$ROOT/bin}"
	FIX="$ROOT/tests/fixtures/persona-rules"
	RB="$FIX/features.json"
	T="$BATS_TEST_TMPDIR"
}

# mkinput DESCRIPTION [MODE [JQ-FILTER [JQ-ARGS...]]]: a PersonaInput for the tester
# persona, edited by JQ-FILTER.
mkinput() {
	jq -n --arg d "$1" --arg m "${2:-standard}" '{
		epic: { description: $d, mode: $m, previousPersonas: [], accumulatedInsights: {},
			context: { title: "Test epic" } },
		persona: { name: "tester", reviewOrder: 7 } } | '"${3:-.}" "${@:4}"
}

# apply DESCRIPTION [MODE ...]: run the engine; the output is in $T/out.json.
apply() {
	mkinput "$@" >"$T/in.json" &&
	"$BIN/persona-rules" -r "$RB" "$T/in.json" >"$T/out.json"
}

# fired DESCRIPTION [MODE ...]: "fired:", then the ids of the rules that fired, one a
# line (the first line keeps refute_line working when nothing fired).
fired() {
	apply "$@" && jq -r '"fired:", .metadata.rulesFired[]' "$T/out.json"
}

# upstream SIGNAL...: a filter giving the input an architect that emitted SIGNALs.
upstream() {
	printf '.epic.previousPersonas = ["architect"] | .epic.accumulatedInsights.architect = '
	printf '{insights: [], recommendations: [], signals: $ARGS.positional}'
}

@test "stemming: upload, uploads, uploaded, uploading are one word" {
	for w in upload uploads uploaded uploading Uploading; do
		run fired "Users $w files to the portal."
		assert_success
		assert_line TST-001
	done
	for w in store stored storing stores; do
		run fired "Photos are $w for ten years."
		assert_line TST-019
	done
	run fired "Users download files."
	refute_line TST-001
}

@test "whole words: 'art' does not match 'start' or 'artist'" {
	run fired "We start soon; the artist waits."
	assert_success
	refute_line TST-002
	run fired "The art team will help."
	assert_line TST-002
}

@test "phrases match across hyphens and case, in order only" {
	for d in "Sign-in with SSO." "Users sign in with SSO." "SIGN IN first."; do
		run fired "$d"
		assert_line TST-003
	done
	run fired "Users sign the form in time."
	refute_line TST-003
	run fired "Users in sign."
	refute_line TST-003
	run fired "Click sign, in the corner."
	refute_line TST-003
}

@test "synonym groups: @login matches any of its terms, stemmed" {
	for d in "Please log in first." "Users logging in daily." "A password is needed."; do
		run fired "$d"
		assert_line TST-004
	done
	apply "Please log in first."
	run jq -r '.insights[] | select(startswith("Login group"))' "$T/out.json"
	assert_output "Login group: log in."
}

@test "all, any, none and nested conditions" {
	run fired "Enter the card and the CVV."
	assert_line TST-005
	run fired "Enter the card only."
	refute_line TST-005
	run fired "A weekly report for managers."
	assert_line TST-006
	run fired "A weekly report as PDF."
	refute_line TST-006
	run fired "The mobile app works offline."
	assert_line TST-007
	run fired "The desktop client can sync."
	assert_line TST-007
	run fired "The mobile client can sync."
	refute_line TST-007
	apply "The mobile app works offline."
	run jq -r '.insights[] | select(startswith("Nested"))' "$T/out.json"
	assert_output "Nested: mobile, offline."
}

@test "negation: 'no login required' does not fire, 'login required' does" {
	run fired "No login required."
	refute_line TST-008
	run fired "Login required."
	assert_line TST-008
	for d in "We do not need a login." "Access without a login." "We don't want login." \
	    "We don’t want login." "Never a login page." "It isn't a login flow."; do
		run fired "$d"
		refute_line TST-008
	done
}

@test "negation reaches three words back, within its clause and sentence only" {
	run fired "There is no SSO. Login is required."
	assert_line TST-008
	run fired "No SSO, login is required."
	assert_line TST-008
	run fired "No SSO but login is required."
	assert_line TST-008
	run fired "There is no need for any kind of login."
	assert_line TST-008
	# a hard-wrapped line continues the sentence
	run fired $'We do not\nneed a login.'
	refute_line TST-008
	# a new line item is a new sentence
	run fired $'- No SSO\n- Login for staff'
	assert_line TST-008
}

@test "a term starting with a negation word is matched literally" {
	run fired "No login required."
	assert_line TST-018
	run fired "Login required."
	refute_line TST-018
}

@test "signals from accumulatedInsights are matched" {
	run fired "Nothing to see here." standard "$(upstream)" --args data:pii
	assert_line TST-009
	apply "Nothing to see here." standard "$(upstream)" --args data:pii
	run jq -r '.insights[0]' "$T/out.json"
	assert_output "PII upstream: data:pii."
	run fired "Nothing to see here."
	refute_line TST-009
}

@test "signals from earlier rules are matched by later rules only" {
	run fired "GDPR applies to this."
	assert_line TST-010
	assert_line TST-011
	refute_line TST-009
	run jq -c '.signals' "$T/out.json"
	assert_output '["data:pii","security:audit"]'
}

@test "a signal ending in * matches a prefix" {
	apply "Nothing to see here." standard "$(upstream)" --args data:pii component:database
	run jq -r '.metadata.rulesFired[]' "$T/out.json"
	assert_line TST-012
	run jq -r '.insights[] | select(startswith("A component"))' "$T/out.json"
	assert_output "A component: component:database."
	run fired "Nothing to see here." standard "$(upstream)" --args data:pii componentx:database
	refute_line TST-012
}

@test "modes: mvp keeps only rules for mvp; the default is standard and enterprise" {
	run fired "Build a prototype." mvp
	assert_line TST-013
	refute_line TST-014
	run fired "Build a prototype." standard
	refute_line TST-013
	assert_line TST-014
	run fired "Build a prototype." enterprise
	assert_line TST-014
}

@test "an enforced persona (persona.enforced, from the plan) makes every recommendation blocking" {
	apply "We deploy weekly." standard '.persona.enforced = true'
	run jq -r '.recommendations[] | select(.id == "TST-015") | .type' "$T/out.json"
	assert_output blocking
	apply "We deploy weekly." standard '.persona.enforced = false'
	run jq -r '.recommendations[] | select(.id == "TST-015") | .type' "$T/out.json"
	assert_output suggested
	# The request's own flag is context, not the decision: the plan made it.
	apply "We deploy weekly." standard '.epic.context.enforceDevops = true'
	run jq -r '.recommendations[] | select(.id == "TST-015") | .type' "$T/out.json"
	assert_output suggested
}

@test "dependencies are pruned to ids that fired here or upstream" {
	run fired "We deploy weekly."
	run jq -c '.recommendations[] | select(.id == "TST-015") | .dependencies' "$T/out.json"
	assert_output '[]'
	apply "We deploy through the pipeline." standard \
	    '.epic.accumulatedInsights.architect = {insights: [], signals: [], recommendations:
	      [{id: "ARC-001", title: "x", type: "suggested", priority: "low"}]}'
	run jq -c '.recommendations[] | select(.id == "TST-015") | .dependencies' "$T/out.json"
	assert_output '["TST-016","ARC-001"]'
}

@test "placeholders: {match} {matches} {mode} {title}, in insights and recommendations" {
	apply "Payment, INVOICE and refund; another payment." enterprise
	run jq -r '.insights[] | select(startswith("First"))' "$T/out.json"
	assert_output "First Payment; all Payment, INVOICE, refund; mode enterprise; title Test epic; {unknown} stays."
	apply "We deploy through the pipeline." mvp
	run jq -r '.recommendations[] | "\(.id) \(.title) | \(.description)"' "$T/out.json"
	assert_line "TST-015 Deploy with care (mvp) | The epic mentions deploy."
	assert_line "TST-016 Automate the pipeline | For Test epic: automate."
}

@test "{matches} shows the longest of overlapping matches, once" {
	apply "Enter the card number. Then the Card Number again, and a number."
	run jq -r '.insights[] | select(startswith("Card data"))' "$T/out.json"
	assert_output "Card data: card number, number."
}

@test "recommendations carry effort and cost; costAnalysis sums them" {
	apply "We deploy through the pipeline."
	run jq -r '.recommendations[] | "\(.id) \(.estimatedCost) \(.effortDays.min) \(.effortDays.max)"' "$T/out.json"
	assert_line "TST-015 1-2.5 person-days 1 2.5"
	assert_line "TST-016 2-3 person-days 2 3"
	run jq -c '.costAnalysis' "$T/out.json"
	assert_output '{"amount":"3-5.5 person-days","category":"testing","effortDays":{"max":5.5,"min":3}}'
	run jq -c '[.persona, .metadata.model, .metadata.tokens, .metadata.version, .metadata.engine, .metadata.rulesTotal]' "$T/out.json"
	assert_output '[{"executionTime":0,"name":"tester","reviewOrder":7,"status":"completed"},"rules",0,"9.9.9","persona-rules 0.1.0",20]'
}

@test "confidence follows how much of the text the rules matched" {
	long="Users upload photos. Users upload invoices. Users upload reports. Users upload videos."
	apply "$long $long $long $long $long $long $long"
	all=$(jq .confidence "$T/out.json")
	apply "Users upload photos. Cats sleep a lot. Dogs bark at night. Birds sing early. $long $long $long"
	some=$(jq .confidence "$T/out.json")
	apply "Cats sleep a lot. Dogs bark at night. Birds sing early. Fish swim. Cats sleep a lot. Dogs bark at night. Birds sing early. Fish swim. Cats sleep a lot. Dogs bark at night. Birds sing early. Fish swim."
	none=$(jq .confidence "$T/out.json")
	apply "Users upload photos."
	short=$(jq .confidence "$T/out.json")
	echo "all=$all some=$some none=$none short=$short"
	awk -v a="$all" -v s="$some" -v n="$none" -v sh="$short" 'BEGIN {
		exit !(a <= 0.95 && a > s && s > n && n >= 0.05 && sh < a) }'
}

@test "output is byte-for-byte deterministic" {
	mkinput "Users upload files; payment and invoice. GDPR applies. We deploy through the pipeline." \
	    enterprise "$(upstream)" --args component:api >"$T/in.json"
	"$BIN/persona-rules" -r "$RB" "$T/in.json" >"$T/a.json"
	"$BIN/persona-rules" -r "$RB" <"$T/in.json" >"$T/b.json"
	cmp "$T/a.json" "$T/b.json"
	[ -s "$T/a.json" ]
}

@test "--help prints the usage on stdout and exits 0; --version" {
	run -0 "$BIN/persona-rules" --help
	assert_line --index 0 --partial "usage: persona-rules [-r FILE | -p NAME] [-o FILE] [FILE | -]"
	run -0 "$BIN/persona-rules" --version
	assert_output "persona-rules 0.1.0"
}

@test "a bad option prints one line and the usage on stderr, exit 2" {
	run -2 --separate-stderr "$BIN/persona-rules" --frobnicate
	assert_output ""
	[[ "${stderr_lines[0]}" == "persona-rules: unrecognized option '--frobnicate'" ]]
	[[ "${stderr_lines[1]}" == "usage: persona-rules "* ]]
	run -2 "$BIN/persona-rules" -r a.json -p tester
	run -2 "$BIN/persona-rules" a.json b.json
	run -2 "$BIN/persona-rules" --bench 0
}

@test "invalid input JSON: exit 1 naming file:line:col" {
	printf '{"epic": {"description": "x",,}}\n' >"$T/bad.json"
	run -1 "$BIN/persona-rules" -r "$RB" "$T/bad.json"
	assert_output --regexp "^persona-rules: $T/bad.json:1:[0-9]+: "
}

@test "an input that breaks the PersonaInput schema: exit 1 naming the JSON path" {
	mkinput "Users upload files." turbo >"$T/in.json"
	run -1 "$BIN/persona-rules" -r "$RB" "$T/in.json"
	assert_output --regexp "^persona-rules: $T/in.json: \\\$\\.epic\\.mode: expected "
	mkinput "Users upload files." standard 'del(.persona.reviewOrder)' >"$T/in.json"
	run -1 "$BIN/persona-rules" -r "$RB" "$T/in.json"
	assert_output --partial "$T/in.json: \$.persona"
}

@test "an invalid rule base: exit 1 naming the file and the JSON path" {
	mkinput "Users upload files." >"$T/in.json"
	run -1 "$BIN/persona-rules" -r "$FIX/bad/unknown-group.json" "$T/in.json"
	assert_output "persona-rules: $FIX/bad/unknown-group.json: \$.rules[1].when.all[1].any[1]: unknown synonym group '@logon'"
	run -1 "$BIN/persona-rules" -r "$FIX/bad/schema.json" "$T/in.json"
	assert_output --partial "$FIX/bad/schema.json: \$.rules[1].recommendation.type: expected"
	run -1 "$BIN/persona-rules" -r "$FIX/bad/syntax.json" "$T/in.json"
	assert_output --regexp "^persona-rules: .*/bad/syntax.json:5:[0-9]+: "
}

@test "--check validates rule bases and names the first error" {
	run -0 "$BIN/persona-rules" --check "$RB"
	assert_output ""
	run -1 "$BIN/persona-rules" --check "$RB" "$FIX/bad/duplicate-id.json" "$FIX/bad/schema.json"
	assert_output "persona-rules: $FIX/bad/duplicate-id.json: \$.rules[2].id: duplicate rule id 'TST-001' (first at \$.rules[0])"
	run -1 "$BIN/persona-rules" -c "$FIX/bad/no-words.json"
	assert_output --partial "\$.rules[0].when.none[1]: term ' -- ' has no words"
	run -2 "$BIN/persona-rules" --check
}

@test "unreadable input: missing or a directory is 1, no permission is 111" {
	run -1 "$BIN/persona-rules" -r "$RB" "$T/missing.json"
	assert_output "persona-rules: cannot open '$T/missing.json': No such file or directory"
	run -1 "$BIN/persona-rules" -r "$RB" "$T"
	assert_output --partial "is a directory"
	run -1 "$BIN/persona-rules" -r "$T/missing-rules.json" "$T/missing.json"
	if [ "$(id -u)" != 0 ]; then
		mkinput "Users upload files." >"$T/in.json"
		chmod 000 "$T/in.json"
		run -111 "$BIN/persona-rules" -r "$RB" "$T/in.json"
		assert_output --partial "Permission denied"
	fi
}

@test "-o writes the output atomically and leaves no temporary file" {
	mkinput "Users upload files." >"$T/in.json"
	mkdir "$T/out"
	run -0 "$BIN/persona-rules" -r "$RB" -o "$T/out/tester.json" "$T/in.json"
	assert_output ""
	"$BIN/persona-rules" -r "$RB" "$T/in.json" | cmp - "$T/out/tester.json"
	run ls -A "$T/out"
	assert_output "tester.json"
	run -111 "$BIN/persona-rules" -r "$RB" -o "$T/nodir/tester.json" "$T/in.json"
	assert_output --partial "cannot write '$T/nodir/tester.json'"
	[ ! -e "$T/nodir" ]
}

@test "a failed run leaves an existing -o file untouched" {
	mkinput "Users upload files." >"$T/in.json"
	echo keep >"$T/out.json"
	run -1 "$BIN/persona-rules" -r "$FIX/bad/schema.json" -o "$T/out.json" "$T/in.json"
	[ "$(cat "$T/out.json")" = keep ]
	run ls -A "$T"
	refute_output --partial ".tmp"
}

@test "--persona and the input's persona name find the rule base in the registry" {
	export EPIC_PERSONA_PATH="$FIX/registry"
	mkinput "Users upload files." >"$T/in.json"
	run -0 "$BIN/persona-rules" -p tester "$T/in.json"
	run jq -r '.metadata.rulesFired[0]' <<<"$output"
	assert_output TST-001
	run -0 "$BIN/persona-rules" "$T/in.json"
	run jq -r '.metadata.version' <<<"$output"
	assert_output 9.9.9
	run -1 "$BIN/persona-rules" -p nobody "$T/in.json"
	assert_output "persona-rules: unknown persona 'nobody'"
	run -1 "$BIN/persona-rules" -p agent "$T/in.json"
	assert_output --partial "command persona"
	# a registered rule base must say it serves that persona
	mkdir "$T/reg"
	jq '.persona = "someone"' "$RB" >"$T/other.json"
	jq --arg r "$T/other.json" '.rules = $r' "$FIX/registry/tester.json" >"$T/reg/tester.json"
	EPIC_PERSONA_PATH="$T/reg" run -1 "$BIN/persona-rules" -p tester "$T/in.json"
	assert_output "persona-rules: $T/other.json: \$.persona: expected 'tester' (the name registered in '$T/reg/tester.json'), got 'someone'"
}

@test "--list shows every registered persona and whether it can run" {
	export EPIC_PERSONA_PATH="$FIX/registry"
	run -1 --separate-stderr "$BIN/persona-rules" --list
	assert_line --index 0 "$(printf 'tester\t7\t9.9.9\tmvp,standard,enterprise\tyes')"
	assert_line --index 1 "$(printf "agent\t8\t0.0.1\tstandard\tno: command '/nonexistent/persona-agent' not found")"
	export EPIC_PERSONA_PATH="$T/empty"
	run -1 "$BIN/persona-rules" --list
	assert_output --partial "no persona registrations found"
}

# facts DESCRIPTION: the ids that fired with the rule base of the shared-vocabulary
# fixture (facts/facts.json naming facts/vocabulary.json).
facts() {
	RB="$FIX/facts/facts.json" fired "$@"
}

@test "concepts: a rule base naming a vocabulary tests its concepts as @name; its own group of a name wins" {
	run facts "The page is sluggish on Mondays."
	assert_line FCT-007
	run facts "It takes forever to load."
	assert_line FCT-007
	run facts "Search is fine."
	refute_line FCT-007
	run facts "The files are mine."
	assert_line FCT-008
	run facts "The files are theirs."
	refute_line FCT-008
}

@test "sections: text under Non-goals, Out of scope, Alternatives or Cons matches nothing; the heading itself and the next section do" {
	local d
	for d in $'# Sync\n\nUpload photos.\n\n## Non-goals\n\n- Offline mode.\n- Offline maps.\n' \
		$'Upload photos.\n\nOut of scope: offline mode for field staff.\n' \
		$'Upload photos.\n\n**Alternatives considered**\n\nAn offline-first app was rejected.\n' \
		$'Upload photos.\n\nOut of scope for the first release:\n\n- offline mode\n- exports\n' \
		$'Upload photos.\n\nCons:\n- offline is hard\n'; do
		run facts "$d"
		assert_success
		refute_line FCT-001
	done
	run facts $'# Sync\n\n## Non-goals\n\nMaps.\n\n## Design\n\nWork offline first.\n'
	assert_line FCT-001
	run facts $'Out of scope:\n\n- exports\n\nField staff work offline all day.\n'
	assert_line FCT-001
	run facts $'## Considerations\n\nWork offline.\n'
	assert_line FCT-001
	# a labelled point of a list is not a section: it neither ends one nor starts one
	run facts $'## Alternatives considered\n\n- Batch it: rejected, offline clients would lag.\n- Cost: high.\n'
	refute_line FCT-001
	run facts $'## Alternatives considered\n\n- Cost: high.\n- Offline first: rejected.\n\n## Design\n\nSync nightly.\n'
	refute_line FCT-001
	run facts $'# Sync\n\n- Out of scope: offline mode.\n- Goal: faster sync.\n'
	refute_line FCT-001
	run facts $'# Sync\n\n- Out of scope: exports.\n- Goal: work offline.\n'
	assert_line FCT-001
}

@test "quantities: a number with a unit is a quantity:KIND signal; none without one" {
	local d kind
	while IFS='|' read -r kind d; do
		run facts "$d"
		assert_success
		assert_line "$kind" || fail "'$d' is not $kind"
		refute_line FCT-009
	done <<-'CASES'
	FCT-002|The page takes 8 s to load.
	FCT-002|The page takes 8s, aim for 1-3 s.
	FCT-002|Answer within 200ms.
	FCT-002|Poll every 30 seconds.
	FCT-003|The table holds 2 M rows.
	FCT-003|About 3 million users.
	FCT-004|Keep 99.9 % uptime.
	FCT-004|Keep 99.9% uptime.
	FCT-005|About 10 uploads a day.
	FCT-005|Peaks of 400 per second.
	FCT-006|Keep records for 455 days.
	CASES
	run facts "Make the page fast and keep records for a while."
	assert_line FCT-009
	run facts "Upgrade to PostgreSQL 16 with 2 m of cable."
	assert_line FCT-009
}

@test "a vocabulary is looked up beside its rule base: missing, invalid, or from standard input is rejected" {
	cp "$FIX/facts/facts.json" "$T/facts.json"
	run -1 "$BIN/persona-rules" -c "$T/facts.json"
	assert_output --partial "$T/vocabulary.json"
	echo '{"version": "1", "concepts": {"x": []}}' > "$T/vocabulary.json"
	run -1 "$BIN/persona-rules" -c "$T/facts.json"
	assert_output --partial "vocabulary.json: \$.concepts.x"
	run -1 "$BIN/persona-rules" -c - < "$FIX/facts/facts.json"
	assert_output --partial "no directory"
	run -0 "$BIN/persona-rules" -c "$FIX/facts/facts.json"
}

# calibrated DESCRIPTION [MODE ...]: apply the volume and baseline fixture; the output
# is in $T/out.json.
calibrated() {
	RB="$FIX/calibrated.json" apply "$@"
}

@test "volume: at most the mode's number of recommendations, the most specific kept, the rest named once" {
	calibrated "Export the monthly report as CSV."
	run -0 jq -r '.recommendations[].id' "$T/out.json"
	assert_output $'CAL-002\nCAL-004'
	run -0 jq -r '.insights[]' "$T/out.json"
	assert_output "Also consider: Generic report advice; Name the report's owner."
	run -0 jq -r '.metadata.rulesFired | join(" ")' "$T/out.json"
	assert_output "CAL-001 CAL-002 CAL-003 CAL-004"
	calibrated "Export the monthly report as CSV." mvp
	run -0 jq -r '.recommendations[].id' "$T/out.json"
	assert_output CAL-002
	# enterprise has no volume: all four
	calibrated "Export the monthly report as CSV." enterprise
	run -0 jq '.recommendations | length' "$T/out.json"
	assert_output 4
	# under the volume nothing is folded and nothing is padded
	calibrated "Download the CSV."
	run -0 jq -r '([.recommendations[].id] | join(" ")), (.insights | length)' "$T/out.json"
	assert_output $'CAL-004\n1'
	run -0 jq -r '.insights[]' "$T/out.json"
	refute_output --partial "Also consider"
	# one question is not asked twice while another waits: the most specific of each
	# concern first, then the rest
	jq '(.rules[] | select(.id == "CAL-002" or .id == "CAL-004") | .recommendation.concern) = "product.reporting" |
	    (.rules[] | select(.id == "CAL-003") | .recommendation.concern) = "product.ownership"' \
		"$FIX/calibrated.json" > "$T/concerned.json"
	RB="$T/concerned.json" apply "Export the monthly report as CSV."
	run -0 jq -r '.recommendations[].id' "$T/out.json"
	assert_output $'CAL-002\nCAL-003'
	run -0 jq -r '.insights[]' "$T/out.json"
	assert_output "Also consider: Generic report advice; Bound the export size."
}

@test "baseline questions: only when nothing specific fired, at most three, never blocking; a quiet persona says why" {
	calibrated "Rename the settings page." standard '.persona.enforced = true'
	run -0 jq -r '.recommendations[] | "\(.id) \(.type)"' "$T/out.json"
	assert_output $'CAL-010 suggested\nCAL-011 suggested\nCAL-013 suggested'
	run -0 jq -r '.insights[]' "$T/out.json"
	assert_output "Nothing in Test epic needs a tester (standard review)."
	calibrated "Rename the settings page of the service."
	run -0 jq -r '[.recommendations[].id] | join(" ")' "$T/out.json"
	assert_output "CAL-010 CAL-011 CAL-012"
	calibrated "Rename the settings page." mvp
	run -0 jq -r '[.recommendations[].id] | join(" ")' "$T/out.json"
	assert_output "CAL-010"
	run -0 jq -r '.insights[]' "$T/out.json"
	assert_output "Nothing in Test epic needs a tester (mvp review)."
	calibrated "Print the report."
	run -0 jq -r '.recommendations[].id' "$T/out.json"
	refute_line CAL-010
}

# answer DESCRIPTION RULE-ID: "TYPE: DESCRIPTION" of that rule's recommendation, with
# the shared-vocabulary fixture (its answers, and the rule base's own).
answer() {
	RB="$FIX/facts/facts.json" apply "$1" standard "${3:-.}" &&
	jq -r --arg id "$2" '.recommendations[] | select(.id == $id) | "\(.type): \(.description)"' "$T/out.json"
}

@test "answering the review closes it: a blocking recommendation the epic answers is suggested, the answer quoted" {
	run -0 answer "Customers pay at checkout." FCT-010
	assert_output "blocking: State what done means for checkout."
	# any ordinary form of the answer
	run -0 answer $'Customers pay at checkout.\n\nGiven a cart, when the customer pays, then a receipt is sent.' FCT-010
	assert_output "suggested: State what done means for checkout. The epic already speaks to this (\"Given\"): check that it covers the above."
	run -0 answer $'Customers pay at checkout.\n\n## Acceptance criteria\n\n- a receipt is sent' FCT-010
	assert_output --partial 'suggested: State what done means for checkout. The epic already speaks to this ("Acceptance criteria")'
	# saying it is missing is no answer
	run -0 answer $'Customers pay at checkout.\n\nAcceptance criteria TBD.' FCT-010
	assert_output "blocking: State what done means for checkout."
	# an answer in a Non-goals section is not one
	run -0 answer $'Customers pay at checkout.\n\n## Non-goals\n\nDone when the next team says so.' FCT-010
	assert_output "blocking: State what done means for checkout."
	# the rule base's own answers replace the vocabulary's for that concern
	run -0 answer "We deploy on Fridays and can roll back." FCT-011
	assert_output "blocking: Say how to undo it."
	run -0 answer "We deploy on Fridays behind a feature flag." FCT-011
	assert_output --partial "suggested: Say how to undo it. The epic already speaks to this (\"feature flag\")"
	# an enforced persona stays blocking: the plan says so
	run -0 answer "We deploy on Fridays behind a feature flag." FCT-011 '.persona.enforced = true'
	assert_output "blocking: Say how to undo it."
}

@test "answers are checked with the rule base: an unknown concept or clause is named by its path" {
	cp "$FIX/facts/vocabulary.json" "$T/vocabulary.json"
	jq '.answers = {"operations.rollback": {"any": ["@nosuch"]}}' "$FIX/facts/facts.json" > "$T/facts.json"
	run -1 "$BIN/persona-rules" -c "$T/facts.json"
	assert_output --partial '$.answers["operations.rollback"].any[0]: unknown synonym group'
	jq '.answers = {"operations.rollback": {"some": ["x"]}}' "$FIX/facts/facts.json" > "$T/facts.json"
	run -1 "$BIN/persona-rules" -c "$T/facts.json"
	assert_output --partial 'answers'
}
