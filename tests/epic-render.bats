#!/usr/bin/env bats
# epic-render (epic render): the report of a finished epic as CommonMark (parsed by
# cmark) and as one HTML page (opened in a real Chromium, checked with axe-core),
# on the real results of every example epic; hostile text rendered inert; -o
# atomic; bad input and usage.

load test_helper

REQ="$ROOT/examples/requests"

# The real results of all 14 example epics, once for the file: $RES/NAME.json.
setup_file() {
	export RES="$BATS_FILE_TMPDIR/results"
	example_results "$RES" "$BATS_FILE_TMPDIR/spool"
}

# Skip, saying so, when Chromium truly cannot start here.
need_chromium() {
	command -v chromium >/dev/null || skip "no chromium (apt-get install chromium)"
	timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom about:blank \
		>/dev/null 2>&1 || skip "chromium is installed but cannot start here"
}

# A result whose text is hostile: markup, a javascript: link, '|', newlines,
# control characters, a bidirectional override, <script>. In $BATS_TEST_TMPDIR/hostile.json.
HOSTILE='*x* [y](javascript:z) <b>bold</b> | pipe
two <script>alert(1)</script> & '\''q'\'' "dq" # 1. x'
make_hostile() {
	local ctl
	ctl=$(printf 'ctl\001\033[31mred\302\205bidi\342\200\256evil')
	jq --arg h "$HOSTILE" --arg c "$ctl" '
		.epic.title = $h
		| .epic.recommendations[0].title = ($h + $c)
		| .epic.recommendations[0].description = ("- " + $h + "\n\n    indented\n# heading")
		| .epic.recommendations[0].references[0] = $h
		| .epic.riskAssessment.risks[0].description = $h
		| .epic.riskAssessment.risks[0].mitigation = ("a|b\n|c")
		| .epic.personas[0].insights[0] = $h
		| .epic.budget = "<i>EUR</i> 5"' \
		"$RES/01-checkout-payments.json" >"$BATS_TEST_TMPDIR/hostile.json"
}

@test "epic-render --help prints usage on stdout and exits 0; --version names the tool" {
	run -0 epic-render --help
	assert_output --partial "usage: epic-render [--format md|html] [-o FILE] [--spool DIR]"
	assert_output --partial "Exit: 0 rendered"
	run -0 epic-render --version
	assert_output --regexp '^epic-render [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "a bad option, an unknown format and two operands are usage errors (exit 2)" {
	run -2 --separate-stderr epic-render --frobnicate "$RES/01-checkout-payments.json"
	assert_output ""
	[[ "$stderr" == *"unrecognized option"* && "$stderr" == *"usage: epic-render"* ]]
	run -2 --separate-stderr epic-render --format pdf "$RES/01-checkout-payments.json"
	[[ "$stderr" == *"unknown format 'pdf': expected md or html"* ]]
	run -2 epic-render a.json b.json
	assert_output --partial "too many arguments"
}

@test "the Markdown of every example epic parses with cmark into the report's headings and links" {
	command -v cmark >/dev/null || fail "cmark is needed (apt-get install cmark)"
	local f b title
	for f in "$RES"/*.json; do
		b=$(basename "$f" .json)
		epic-render --format md "$f" >"$BATS_TEST_TMPDIR/$b.md"
		cmark --safe "$BATS_TEST_TMPDIR/$b.md" >"$BATS_TEST_TMPDIR/$b.html"
		# One h1: the title (cmark escapes & < > " the same way).
		title=$(jq -r '.epic.title | gsub("&"; "&amp;") | gsub("<"; "&lt;") | gsub(">"; "&gt;") | gsub("\""; "&quot;")' "$f")
		[ "$(grep -c '^<h1>' "$BATS_TEST_TMPDIR/$b.html")" = 1 ] || fail "$b: not one h1"
		grep -qF "<h1>$title</h1>" "$BATS_TEST_TMPDIR/$b.html" || fail "$b: h1 is not the title"
		# The sections, in order.
		diff -u <(printf '%s\n' "Blocking items" "Suggested items" Roadmap Personas Costs \
			Risks "Gaps in the review" References) \
			<(sed -n 's|^<h2>\(.*\)</h2>$|\1|p' "$BATS_TEST_TMPDIR/$b.html") || fail "$b: sections"
		# A level-3 heading per recommendation, phase and persona.
		[ "$(grep -c '^<h3>' "$BATS_TEST_TMPDIR/$b.html")" = "$(jq '(.epic.recommendations | length)
			+ (.epic.implementationRoadmap | length) + (.epic.personas | length)' "$f")" ] ||
			fail "$b: h3 count"
		# Every cited standard with a known URL is a link, and only https links.
		grep -q '<a href="https://' "$BATS_TEST_TMPDIR/$b.html" || fail "$b: no link"
		! grep -o '<a href="[^"]*"' "$BATS_TEST_TMPDIR/$b.html" | grep -v '^<a href="https://' ||
			fail "$b: a link that is not https"
		# Nothing from the result turned into raw HTML.
		! grep -q '<script\|<b>\|<!-- raw HTML omitted -->' "$BATS_TEST_TMPDIR/$b.html" ||
			fail "$b: raw HTML"
	done
}

@test "the Markdown lists the blocking items first, by priority, then the suggested ones" {
	local f="$RES/01-checkout-payments.json"
	epic-render "$f" >"$BATS_TEST_TMPDIR/r.md"
	# The ids of the item headings' facts lines, in the document's order.
	diff -u <(jq -r '.epic.recommendations
		| sort_by(if .type == "blocking" then 0 else 1 end,
			({"critical":0,"high":1,"medium":2,"low":3}[.priority]), .id) | .[].id' "$f") \
		<(sed -n 's/^\*\*ID:\*\* \([^ ]*\) .*/\1/p' "$BATS_TEST_TMPDIR/r.md")
	# The summary line: counts, cost, critical path, overall risk.
	run -0 sed -n 3p "$BATS_TEST_TMPDIR/r.md"
	assert_output "**Recommendations:** 51 (17 blocking, 34 suggested) · **Total cost:** $(jq -r .summary.estimatedTotalCost "$f") · **Critical path:** $(jq -r '.epic.criticalPathDuration // .epic.estimatedDuration' "$f") · **Overall risk:** critical"
	# Money in the result's currency.
	grep -q '^\*\*Total effort:\*\* 83.5–195 person-days · \*\*Money:\*\* EUR 66,800–156,000' \
		"$BATS_TEST_TMPDIR/r.md"
}

@test "roadmap items are shown by title (itemTitles when the result has them)" {
	local f="$RES/01-checkout-payments.json" id title
	id=$(jq -r '.epic.implementationRoadmap[0].items[0]' "$f")
	title=$(jq -r --arg id "$id" '.epic.recommendations[] | select(.id == $id) | .title' "$f")
	epic-render "$f" | grep -qF -- "- $title ($id, " || fail "no roadmap line for $id"
	jq '.epic.implementationRoadmap[0].itemTitles = [.epic.implementationRoadmap[0].items[] | "Titled " + .]' \
		"$f" >"$BATS_TEST_TMPDIR/t.json"
	epic-render "$BATS_TEST_TMPDIR/t.json" >"$BATS_TEST_TMPDIR/t.md"
	grep -qF -- "- Titled $id ($id, " "$BATS_TEST_TMPDIR/t.md" || fail "itemTitles not used"
	# the result as epic-aggregate makes it carries the titles itself
	[ "$(jq -r '.epic.implementationRoadmap[0].itemTitles[0]' "$f")" = "$title" ]
}

@test "hostile text in the result stays inert text in Markdown" {
	make_hostile
	epic-render --format md "$BATS_TEST_TMPDIR/hostile.json" >"$BATS_TEST_TMPDIR/h.md"
	cmark --unsafe "$BATS_TEST_TMPDIR/h.md" >"$BATS_TEST_TMPDIR/h.html"
	# Even with raw HTML allowed, no tag, no javascript: link, no emphasis came through.
	! grep -q '<script\|<b>\|<i>\|href="javascript\|<em>x</em>' "$BATS_TEST_TMPDIR/h.html" || fail "found what must not be there (line 132)"
	grep -qF '<h1>*x* [y](javascript:z) &lt;b&gt;bold&lt;/b&gt; | pipe two &lt;script&gt;alert(1)&lt;/script&gt; &amp; ' \
		"$BATS_TEST_TMPDIR/h.html"
	# The title's newline is folded: still one h1; "- ", "# " and "    " start no block.
	[ "$(grep -c '<h1>' "$BATS_TEST_TMPDIR/h.html")" = 1 ]
	! grep -q '<pre>\|<h1>heading\|<ul>\s*<li>\*x' "$BATS_TEST_TMPDIR/h.html" || fail "found what must not be there (line 137)"
	# No control character, no bidi override; U+FFFD instead.
	! LC_ALL=C grep -qP '[\x01-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80\xae' "$BATS_TEST_TMPDIR/h.md" || fail "found what must not be there (line 139)"
	grep -qF 'ctl��\[31mred�bidi�evil' "$BATS_TEST_TMPDIR/h.md"
	# Every row of every table has exactly as many unescaped '|' as its header.
	awk '/^\|/ { line = $0; gsub(/\\\|/, "", line); n = gsub(/\|/, "", line)
		if (/^\| ---/) want = n; else if (prev !~ /^\|/) want = n
		else if (n != want) { print "row with " n " cells, want " want ": " $0; bad = 1 }
		} { prev = $0 } END { exit bad }' "$BATS_TEST_TMPDIR/h.md"
}

@test "hostile text in the result stays inert text in HTML" {
	make_hostile
	epic-render --format html "$BATS_TEST_TMPDIR/hostile.json" >"$BATS_TEST_TMPDIR/h.html"
	! grep -q '<script\|<b>\|<i>\|javascript:z"' "$BATS_TEST_TMPDIR/h.html" || fail "found what must not be there (line 151)"
	grep -qF '<h1>*x* [y](javascript:z) &lt;b&gt;bold&lt;/b&gt; | pipe two &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;q&#39; &quot;dq&quot; # 1. x</h1>' \
		"$BATS_TEST_TMPDIR/h.html"
	grep -qF '<dd>&lt;i&gt;EUR&lt;/i&gt; 5</dd>' "$BATS_TEST_TMPDIR/h.html"
	! LC_ALL=C grep -qP '[\x01-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80\xae' "$BATS_TEST_TMPDIR/h.html" || fail "found what must not be there (line 155)"
	# Every link is to https or to an anchor of the page.
	! grep -o 'href="[^"]*"' "$BATS_TEST_TMPDIR/h.html" | grep -v '^href="https://\|^href="#' || fail "found what must not be there (line 157)"
}

@test "the HTML of every example epic has one h1, the sections, the table of contents and https links" {
	local f b
	for f in "$RES"/*.json; do
		b=$(basename "$f" .json)
		epic-render --format html "$f" >"$BATS_TEST_TMPDIR/$b.html"
		grep -q '^<html lang="en">$' "$BATS_TEST_TMPDIR/$b.html"
		[ "$(grep -c '<h1>' "$BATS_TEST_TMPDIR/$b.html")" = 1 ]
		diff -u <(printf '%s\n' blocking suggested roadmap personas costs risks gaps references) \
			<(sed -n 's|^<section aria-labelledby="\([a-z]*\)">$|\1|p' "$BATS_TEST_TMPDIR/$b.html")
		diff -u <(printf '%s\n' blocking suggested roadmap personas costs risks gaps references) \
			<(sed -n 's|^<li><a href="#\([a-z]*\)">.*|\1|p' "$BATS_TEST_TMPDIR/$b.html")
		grep -q '<nav aria-labelledby="toc">' "$BATS_TEST_TMPDIR/$b.html"
		grep -q '<main id="main">' "$BATS_TEST_TMPDIR/$b.html"
		grep -q '<th scope="col">' "$BATS_TEST_TMPDIR/$b.html"
		grep -q '@media print' "$BATS_TEST_TMPDIR/$b.html"
		! grep -q '<script\|<link\|src=' "$BATS_TEST_TMPDIR/$b.html" || fail "found what must not be there (line 175)"
		! grep -o 'href="[^"]*"' "$BATS_TEST_TMPDIR/$b.html" | grep -v '^href="https://\|^href="#' || fail "found what must not be there (line 176)"
		# Every in-page link has its target.
		grep -o 'href="#[^"]*"' "$BATS_TEST_TMPDIR/$b.html" | sed 's/href="#\(.*\)"/\1/' | sort -u |
			while read -r a; do grep -q "id=\"$a\"" "$BATS_TEST_TMPDIR/$b.html" || { echo "no #$a"; exit 1; }; done
	done
}

@test "-o writes the file atomically, replacing the old one, leaving no temp file" {
	mkdir "$BATS_TEST_TMPDIR/out"
	echo old >"$BATS_TEST_TMPDIR/out/report.html"
	run -0 epic-render --format html -o "$BATS_TEST_TMPDIR/out/report.html" "$RES/02-enterprise-sso.json"
	assert_output ""
	epic-render --format html "$RES/02-enterprise-sso.json" | cmp - "$BATS_TEST_TMPDIR/out/report.html"
	assert_no_temp_files "$BATS_TEST_TMPDIR/out"
	[ "$(ls -A "$BATS_TEST_TMPDIR/out")" = report.html ]
	# Through strace: a temp file is written and renamed over the report.
	if command -v strace >/dev/null; then
		traced -e trace=rename,renameat,renameat2 -o "$BATS_TEST_TMPDIR/st" \
			epic-render -o "$BATS_TEST_TMPDIR/out/report.md" "$RES/02-enterprise-sso.json"
		grep -q 'rename.*out/\.[^"]*".*out/report.md"' "$BATS_TEST_TMPDIR/st"
	fi
}

@test "an unwritable output path fails with a clear message and writes nothing" {
	run -111 --separate-stderr epic-render -o "$BATS_TEST_TMPDIR/missing/dir/r.md" "$RES/01-checkout-payments.json"
	assert_output ""
	[[ "$stderr" == "epic-render: cannot write '$BATS_TEST_TMPDIR/missing/dir/r.md': No such file or directory" ]]
	assert_file_not_exist "$BATS_TEST_TMPDIR/missing"
}

@test "bad input exits 1 with one line naming the file and the JSON path" {
	echo 'nope{' >"$BATS_TEST_TMPDIR/bad.json"
	run -1 --separate-stderr epic-render "$BATS_TEST_TMPDIR/bad.json"
	[ "$stderr" = "epic-render: $BATS_TEST_TMPDIR/bad.json:1:4: invalid token near 'nope'" ]
	echo '{"epic": {}, "summary": {}}' >"$BATS_TEST_TMPDIR/not.json"
	run -1 --separate-stderr epic-render --format html "$BATS_TEST_TMPDIR/not.json"
	[ "$stderr" = "epic-render: $BATS_TEST_TMPDIR/not.json: not an EpicResponse: \$.epic.id: required field is missing" ]
	run -1 --separate-stderr bash -c "jq '.epic.recommendations[3].priority = \"urgent\"' '$RES/01-checkout-payments.json' | epic-render -"
	[[ "$stderr" == "epic-render: <stdin>: not an EpicResponse: \$.epic.recommendations[3].priority: "* ]]
	[ "${#lines[@]}" = 0 ]
	assert_output ""
}

@test "a task id renders its result; an unknown id or an unfinished task exits 1" {
	local id
	id=$(jq -r .epic.metadata.taskId "$RES/04-notifications.json")
	epic run -q "$REQ/04-notifications.json" >/dev/null
	run -0 epic-render "$id"
	assert_line --index 0 "# $(jq -r .epic.title "$RES/04-notifications.json")"
	# No operand: the newest finished task; `epic render` runs epic-render.
	run -0 epic render --format html
	assert_output --partial "<h1>$(jq -r .epic.title "$RES/04-notifications.json")</h1>"
	run -1 --separate-stderr epic-render no-such-task-0badf00d
	[ "$stderr" = "epic-render: 'no-such-task-0badf00d': no such file, and no task 'no-such-task-0badf00d' in '$EPIC_SPOOL'" ]
	mkdir -p "$EPIC_SPOOL/active/half-done-12345678"
	run -1 --separate-stderr epic-render half-done-12345678
	[[ "$stderr" == "epic-render: task 'half-done-12345678' is in active/, not done"* ]]
}

@test "chromium renders the HTML report to a screenshot that is not blank" {
	need_chromium
	local dir="$BATS_TEST_TMPDIR"
	epic-render --format html -o "$dir/r.html" "$RES/01-checkout-payments.json"
	printf '<!DOCTYPE html><html lang="en"><title>x</title></html>\n' >"$dir/blank.html"
	for p in r blank; do
		chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,900 \
			--screenshot="$dir/$p.png" "file://$dir/$p.html" >/dev/null 2>&1
		assert_file_exist "$dir/$p.png"
	done
	# A PNG of 1280x900; a page of text compresses far worse than a blank one.
	run -0 file "$dir/r.png"
	assert_output --partial "PNG image data, 1280 x 900"
	local size blank
	size=$(stat -c %s "$dir/r.png")
	blank=$(stat -c %s "$dir/blank.png")
	[ "$size" -gt $((blank * 10)) ] || fail "screenshot $size bytes, a blank page $blank"
	# Distinct colours: the header band, the text, the level badges (node decodes
	# nothing here; count distinct bytes of the PNG's image data instead).
	[ "$(od -An -v -tu1 "$dir/r.png" | tr -s ' ' '\n' | sort -u | wc -l)" -gt 200 ]
}

@test "axe-core in Chromium finds no WCAG 2.2 AA violation in the HTML of every example epic" {
	need_chromium
	[ -d "$ROOT/tests/node_modules/axe-core" ] && [ -d "$ROOT/tests/node_modules/playwright-core" ] ||
		fail "axe-core and playwright-core are needed (npm ci --prefix tests)"
	local f files=()
	for f in "$RES"/*.json; do
		epic-render --format html -o "$BATS_TEST_TMPDIR/$(basename "$f" .json).html" "$f"
		files+=("$BATS_TEST_TMPDIR/$(basename "$f" .json).html")
	done
	[ "${#files[@]}" = 14 ]
	# A page with known defects first: the check must be able to fail.
	sed 's/<html lang="en">/<html>/; s|<h1>|<img src="x.png"><h1 style="color:#bbb">|' \
		"${files[0]}" >"$BATS_TEST_TMPDIR/defective.html"
	run -1 node "$ROOT/tests/tools/axe-check.mjs" "$BATS_TEST_TMPDIR/defective.html"
	[ "$status" != 3 ] || skip "chromium cannot start under playwright: $output"
	assert_output --partial "html-has-lang"
	assert_output --partial "image-alt"
	run node "$ROOT/tests/tools/axe-check.mjs" "${files[@]}"
	[ "$status" != 3 ] || skip "chromium cannot start under playwright: $output"
	[ "$status" = 0 ] || fail "$output"
	[ "$(grep -c ': 0 violations' <<<"$output")" = 14 ]
}
