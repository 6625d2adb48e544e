#!/usr/bin/env bats
# epic-export (epic export): real results of the example epics exported to each
# format and read back with real parsers: Python's csv module for the CSVs, jq for
# the GitHub JSON, sh -n / bash -n for the script, which is then run for real with a
# fake gh first on PATH that logs what it is given. A hostile result (titles and
# descriptions with commas, quotes, newlines, $(...), backticks, ', the here-doc
# delimiter, non-ASCII, spreadsheet formulas) must arrive byte-for-byte and run
# nothing.

load test_helper

REQ="$ROOT/examples/requests"

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# result N FILE: the real result of example request N (01-checkout-payments.json ...).
result() {
	epic run -q "$REQ/$1" >"$2"
}

# The hostile strings, as bash sees them.
HOSTILE_TITLE=$'Pay, "now" $(touch PWNED1) `touch PWNED2` it\'s ünïcödé 💳 ;|&<>\\ x\nline two\tend'
HOSTILE_DESC=$'First $(touch PWNED3) line, "quoted", \'single\', ünïcödé 💳\nEPIC_EXPORT_BODY\n\'; touch PWNED4; \'\n@octocat #1 *bold* [x](javascript:alert(1)) <script>alert(1)</script>\n    indented\n=1+1\r\nh1. not a heading {code} |a|b| \\ end'

# hostile IN OUT: IN with its epic title and the first two recommendations (in
# reading order) made hostile: the first gets HOSTILE_TITLE and HOSTILE_DESC, the
# second a title that is a spreadsheet formula; a third gets a title starting with @.
hostile() {
	local ids
	ids=$(epic-export --to csv "$1" | python3 -c '
import csv, sys
rows = list(csv.reader(sys.stdin))
print(" ".join(r[0] for r in rows[1:4]))')
	set -- "$1" "$2" $ids
	jq --arg t "$HOSTILE_TITLE" --arg d "$HOSTILE_DESC" --arg a "$3" --arg b "$4" --arg c "$5" '
		.epic.title = $t
		| .epic.recommendations |= map(
			if .id == $a then .title = $t | .description = $d
			elif .id == $b then .title = "=HYPERLINK(\"http://x.example\",\"y\")"
			elif .id == $c then .title = "@SUM(A1:A9) -2+3"
			else . end)' "$1" >"$2"
}

# csv_check FILE HEADER ROWS: FILE parses as CSV (RFC 4180: CRLF records), its header
# is exactly HEADER (fields separated by |), it has ROWS records after the header, and
# every record has the header's width.
csv_check() {
	python3 - "$@" <<'EOF'
import csv, sys
path, header, rows = sys.argv[1], sys.argv[2].split("|"), int(sys.argv[3])
data = open(path, "rb").read()
assert data.endswith(b"\r\n"), "the last record does not end in CRLF"
with open(path, newline="", encoding="utf-8") as f:
    recs = list(csv.reader(f, strict=True))
assert recs[0] == header, "header %r, expected %r" % (recs[0], header)
assert len(recs) - 1 == rows, "%d records, expected %d" % (len(recs) - 1, rows)
for i, r in enumerate(recs):
    assert len(r) == len(header), "record %d has %d fields, expected %d" % (i, len(r), len(header))
EOF
}

# cell FILE ROW COLUMN: the value of a CSV cell (ROW 0 is the header), as bytes.
cell() {
	python3 - "$@" <<'EOF'
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    recs = list(csv.reader(f))
sys.stdout.write(recs[int(sys.argv[2])][recs[0].index(sys.argv[3])])
EOF
}

# fake_gh: a gh first on PATH that logs each call's arguments NUL-terminated in
# $GH_LOG/NNN.argv (and, for --body-file, the file as it was then in NNN.body), and
# answers like gh: issue create prints an issue URL, api --jq .id an id.
fake_gh() {
	mkdir -p fakebin "$BATS_TEST_TMPDIR/gh"
	export GH_LOG="$BATS_TEST_TMPDIR/gh"
	cat >fakebin/gh <<'EOF'
#!/bin/bash
n=$(ls "$GH_LOG" | grep -c '\.argv$')
call=$(printf '%03d' "$n")
printf '%s\0' "$@" >"$GH_LOG/$call.argv"
prev=
for a in "$@"; do
	[ "$prev" = --body-file ] && cat -- "$a" >"$GH_LOG/$call.body"
	prev=$a
done
case "$1 $2" in
"issue create")
	echo x >>"$GH_LOG/issues"
	echo "https://github.com/o/r/issues/$(wc -l <"$GH_LOG/issues")" ;;
api*) case " $* " in *" --jq .id "*) echo $((1000 + ${2##*/})) ;; *) echo '{}' ;; esac ;;
esac
EOF
	chmod +x fakebin/gh
}

@test "epic-export --help prints usage on stdout and exits 0; --version names the tool" {
	run -0 epic-export --help
	assert_output --partial "usage: epic-export --to jira-csv|github|azure-csv|csv"
	assert_output --partial "Exit: 0 written"
	run -0 epic-export --version
	assert_output --regexp '^epic-export [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "an unknown --to, a missing --to and misplaced options are usage errors (exit 2)" {
	result 01-checkout-payments.json r.json
	run -2 --separate-stderr epic-export --to trello r.json
	assert_output ""
	[[ "$stderr" == *"unknown format 'trello'"* ]]
	[[ "$stderr" == *"usage: epic-export"* ]]
	run -2 epic-export r.json
	assert_output --partial "no format"
	run -2 epic-export --to jira-csv --json x.json r.json
	assert_output --partial "--json goes with --to github only"
	run -2 epic-export --to github --item-type Task r.json
	run -2 epic-export --to csv r.json r.json
	assert_output --partial "too many arguments"
	run -2 epic-export --frobnicate
	assert_file_not_exist x.json
}

@test "bad input exits 1 with a one-line message and writes nothing" {
	echo '{"epic": {}}' >bad.json
	run -1 --separate-stderr epic-export --to jira-csv -o out.csv bad.json
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[[ "$stderr" == "epic-export: bad.json: not an EpicResponse"* ]]
	assert_file_not_exist out.csv
	printf '{"epic": [1,' >cut.json
	run -1 --separate-stderr epic-export --to csv cut.json
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[[ "$stderr" == "epic-export: cut.json:"* ]]
	run -1 --separate-stderr epic-export --to csv no-such-task-0123abcd
	[[ "$stderr" == *"no task 'no-such-task-0123abcd'"* ]]
	run -1 --separate-stderr epic-export --to csv
	[[ "$stderr" == *"no finished task"* ]]
}

@test "jira-csv: the epic and one Story per recommendation, parsed by Python's csv" {
	local n
	result 01-checkout-payments.json r.json
	n=$(jq '.epic.recommendations | length' r.json)
	run -0 epic-export --to jira-csv -o jira.csv r.json
	csv_check jira.csv "Issue ID|Issue Type|Summary|Description|Priority|Parent|External ID|Labels|Labels|Labels|Labels|Labels|Labels|Inward issue link (Blocks)" $((n + 1))
	python3 - jira.csv r.json <<'EOF'
import csv, json, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f))
res = json.load(open(sys.argv[2]))
head, rows = rows[0], rows[1:]
col = lambda r, name: r[head.index(name)]
epic = rows[0]
assert col(epic, "Issue Type") == "Epic" and col(epic, "Issue ID") == "1" and col(epic, "Parent") == ""
assert col(epic, "Summary") == res["epic"]["title"]
assert col(epic, "External ID") == res["epic"]["id"]
recs = {r["id"]: r for r in res["epic"]["recommendations"]}
prio = {"critical": "Highest", "high": "High", "medium": "Medium", "low": "Low"}
ids = {}
for r in rows[1:]:
    rid = col(r, "External ID").split("/")[1]
    ids[rid] = col(r, "Issue ID")
    rec = recs.pop(rid)
    assert col(r, "External ID") == res["epic"]["id"] + "/" + rid
    assert col(r, "Issue Type") == "Story" and col(r, "Parent") == "1"
    assert col(r, "Summary") == rec["title"]
    assert col(r, "Priority") == prio[rec["priority"]]
    labels = [v for h, v in zip(head, r) if h == "Labels" and v]
    assert labels == ["epic-creator", rec["type"]] + rec["personas"], labels
    assert "*External id:* " + col(r, "External ID") in col(r, "Description")
assert not recs, "recommendations missing: %r" % recs
for r in rows[1:]:
    rid = col(r, "External ID").split("/")[1]
    links = [v for h, v in zip(head, r) if h.startswith("Inward") and v]
    want = [ids[d] for d in next(x for x in res["epic"]["recommendations"] if x["id"] == rid)["dependencies"]]
    assert links == want, (rid, links, want)
# blocking first, then by priority: the reading order
order = [col(r, "Issue ID") for r in rows]
assert order == [str(i) for i in range(1, len(rows) + 1)]
EOF
	# a cited standard with a public URL is a Jira link
	grep -q '\[PCI DSS v4.0 Req 3|https://www.pcisecuritystandards.org/standards/pci-dss/\]' jira.csv
}

@test "azure-csv: an Epic in Title 1, User Stories in Title 2, priorities 1-4, tags" {
	local n
	result 06-gdpr-data-export.json r.json
	n=$(jq '.epic.recommendations | length' r.json)
	run -0 epic-export --to azure-csv -o azure.csv r.json
	csv_check azure.csv "ID|Work Item Type|Title 1|Title 2|Description|Priority|Tags" $((n + 1))
	python3 - azure.csv r.json <<'EOF'
import csv, json, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
res = json.load(open(sys.argv[2]))
assert rows[0]["Work Item Type"] == "Epic" and rows[0]["Title 1"] == res["epic"]["title"]
assert rows[0]["Title 2"] == "" and rows[0]["ID"] == ""
recs = {r["title"]: r for r in res["epic"]["recommendations"]}
for r in rows[1:]:
    assert r["ID"] == "" and r["Work Item Type"] == "User Story" and r["Title 1"] == ""
    rec = recs[r["Title 2"]]
    assert r["Priority"] == {"critical": "1", "high": "2", "medium": "3", "low": "4"}[rec["priority"]]
    assert r["Tags"] == "; ".join(["epic-creator", rec["type"]] + rec["personas"])
    assert r["Description"].startswith("<p>") and "<li><b>External id:</b> " in r["Description"]
EOF
	run -0 epic-export --to azure-csv --item-type "Product Backlog Item" r.json
	assert_output --partial ',Product Backlog Item,,'
}

@test "csv: one row per recommendation, every field flat, for a spreadsheet" {
	local n
	result 13-patient-appointments-hipaa.json r.json
	n=$(jq '.epic.recommendations | length' r.json)
	run -0 epic-export --to csv -o plain.csv r.json
	csv_check plain.csv "ID|External ID|Title|Type|Priority|Personas|Effort Min Days|Effort Max Days|Estimated Cost|Dependencies|References|Description" "$n"
	python3 - plain.csv r.json <<'EOF'
import csv, json, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
res = json.load(open(sys.argv[2]))
recs = {r["id"]: r for r in res["epic"]["recommendations"]}
for r in rows:
    rec = recs[r["ID"]]
    assert r["Title"] == rec["title"] and r["Description"] == rec["description"]
    assert r["Personas"] == ";".join(rec["personas"])
    assert r["Dependencies"] == ";".join(rec["dependencies"])
    assert r["References"] == ";".join(rec.get("references", []))
    assert float(r["Effort Min Days"]) == rec["effortDays"]["min"]
    assert float(r["Effort Max Days"]) == rec["effortDays"]["max"]
    assert r["Estimated Cost"] == rec["estimatedCost"]
EOF
}

@test "every CSV keeps commas, quotes, newlines and non-ASCII and guards formulas" {
	result 01-checkout-payments.json r.json
	hostile r.json h.json
	local want_title=${HOSTILE_TITLE//$'\n'/ }
	want_title=${want_title//$'\t'/ }
	epic-export --to csv -o plain.csv h.json
	epic-export --to jira-csv -o jira.csv h.json
	epic-export --to azure-csv -o azure.csv h.json
	csv_check plain.csv "ID|External ID|Title|Type|Priority|Personas|Effort Min Days|Effort Max Days|Estimated Cost|Dependencies|References|Description" "$(jq '.epic.recommendations | length' h.json)"
	[ "$(cell plain.csv 1 Title)" = "$want_title" ]
	# the description keeps its lines (CR LF made LF) and its bytes
	[ "$(cell plain.csv 1 Description)" = "${HOSTILE_DESC//$'\r'/}" ]
	[ "$(cell plain.csv 2 Title)" = "'=HYPERLINK(\"http://x.example\",\"y\")" ]
	[ "$(cell plain.csv 3 Title)" = "'@SUM(A1:A9) -2+3" ]
	[ "$(cell jira.csv 1 Summary)" = "$want_title" ]
	[ "$(cell jira.csv 2 Summary)" = "$want_title" ]
	[ "$(cell jira.csv 3 Summary)" = "'=HYPERLINK(\"http://x.example\",\"y\")" ]
	[ "$(cell azure.csv 1 'Title 1')" = "$want_title" ]
	[ "$(cell azure.csv 2 'Title 2')" = "$want_title" ]
	[ "$(cell azure.csv 3 'Title 2')" = "'=HYPERLINK(\"http://x.example\",\"y\")" ]
	# the markup is escaped: no live HTML in Azure, no live wiki markup in Jira
	cell azure.csv 2 Description | grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;'
	! cell azure.csv 2 Description | grep -qF '<script>'
	cell jira.csv 2 Description | grep -qF 'h1\. not a heading \{code\} \|a\|b\| &#92; end'
	cell jira.csv 2 Description | grep -qF '\[x\](javascript:alert(1))'
}

@test "github: the script passes sh -n and bash -n, the JSON is what jq expects" {
	local n
	result 01-checkout-payments.json r.json
	n=$(jq '.epic.recommendations | length' r.json)
	run -0 epic-export --to github -o issues.sh --json issues.json r.json
	run -0 sh -n issues.sh
	run -0 bash -n issues.sh
	[ "$(jq length issues.json)" -eq $((n + 1)) ]
	run -0 jq -e --arg e "$(jq -r .epic.id r.json)" '
		(.[0] | .externalId == $e and .parent == null and (.labels | index("epic")))
		and all(.[1:][]; .parent == $e and (.externalId | startswith($e + "/"))
			and (.labels[0] == "epic-creator") and (.body | type == "string")
			and (.title | length > 0))
		and ([.[].externalId] | length == (unique | length))' issues.json
	# dependencies are external ids of issues of the same file
	run -0 jq -e '[.[].externalId] as $all | all(.[].dependencies[]; . as $d | $all | index($d))' issues.json
	# the script holds one gh issue create per issue, and no file names the repo
	[ "$(grep -c '^url=$(gh issue create ' issues.sh)" -eq $((n + 1)) ]
}

@test "github: run with a fake gh, hostile titles and bodies arrive byte-for-byte and run nothing" {
	local n deps
	result 01-checkout-payments.json r.json
	hostile r.json h.json
	n=$(jq '.epic.recommendations | length' h.json)
	deps=$(jq '[.epic.recommendations[].dependencies[]] | length' h.json)
	epic-export --to github -o issues.sh --json issues.json h.json
	sh -n issues.sh
	fake_gh
	mkdir run && cd run
	PATH="$BATS_TEST_TMPDIR/fakebin:$PATH" run -0 --separate-stderr sh ../issues.sh octo/repo
	[[ "$stderr" == *"epic-export: $((n + 1)) issues created in octo/repo (the epic is #1)"* ]]
	# nothing in a title or a body was ever run
	assert_equal "$(ls)" ""
	assert_file_not_exist "$BATS_TEST_TMPDIR/PWNED1"
	cd ..
	python3 - "$GH_LOG" issues.json "$HOSTILE_TITLE" "$n" "$deps" <<'EOF'
import json, os, sys
log, issues, hostile, n, deps = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
calls = []
for name in sorted(f for f in os.listdir(log) if f.endswith(".argv")):
    argv = open(os.path.join(log, name), "rb").read().split(b"\0")[:-1]
    body = os.path.join(log, name[:-5] + ".body")
    calls.append((argv, open(body, "rb").read() if os.path.exists(body) else None))
def opt(argv, name):
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == name]
creates = [(a, b) for a, b in calls if a[:2] == [b"issue", b"create"]]
assert len(creates) == n + 1, len(creates)
for (argv, body), want in zip(creates, issues):
    assert opt(argv, b"--repo") == [b"octo/repo"]
    assert opt(argv, b"--title") == [want["title"].encode()], (argv, want["title"])
    assert body == want["body"].encode(), (body, want["body"])
    assert opt(argv, b"--label") == [l.encode() for l in want["labels"]]
want_title = hostile.replace("\n", " ").replace("\t", " ").encode()
assert opt(creates[0][0], b"--title") == [want_title]
assert opt(creates[1][0], b"--title") == [want_title]
assert b"$(touch PWNED3)" in creates[1][1] and b"EPIC\\_EXPORT\\_BODY" in creates[1][1]
assert "ünïcödé 💳".encode() in creates[1][1]
labels = [a for a, b in calls if a[:2] == [b"label", b"create"]]
assert {a[2] for a in labels} >= {b"epic-creator", b"blocking", b"suggested", b"epic"}
assert all(b"--force" in a for a in labels)
subs = [a for a, b in calls if a[:1] == [b"api"] and a[-2:][0] == b"-F" and a[3].endswith(b"/sub_issues")]
assert len(subs) == n, len(subs)
assert all(a[3] == b"repos/octo/repo/issues/1/sub_issues" for a in subs)
assert [a[-1] for a in subs] == [b"sub_issue_id=%d" % (1000 + i) for i in range(2, n + 2)]
blocked = [a for a, b in calls if a[:1] == [b"api"] and a[3].endswith(b"/dependencies/blocked_by")]
assert len(blocked) == deps, (len(blocked), deps)
# the labels come first, then every issue create before any blocked_by
kinds = [b" ".join(a[:2]) for a, b in calls]
assert kinds.index(b"issue create") > max(i for i, k in enumerate(kinds) if k == b"label create")
EOF
}

@test "github: the script wants a repository, from \$1 or GH_REPO, and sends nothing without one" {
	result 04-notifications.json r.json
	epic-export --to github -o issues.sh r.json
	fake_gh
	PATH="$BATS_TEST_TMPDIR/fakebin:$PATH" run -2 sh issues.sh
	assert_output --partial "usage:"
	[ -z "$(ls -A "$GH_LOG")" ]
	PATH="$BATS_TEST_TMPDIR/fakebin:$PATH" GH_REPO=me/mine run -0 sh issues.sh
	grep -qz '^me/mine$' "$GH_LOG"/*.argv
}

@test "github: a gh that fails stops the script at that issue" {
	result 04-notifications.json r.json
	epic-export --to github -o issues.sh r.json
	mkdir -p fakebin
	printf '#!/bin/sh\ncase "$1" in issue) echo "HTTP 403" >&2; exit 1;; esac\n' >fakebin/gh
	chmod +x fakebin/gh
	PATH="$BATS_TEST_TMPDIR/fakebin:$PATH" run -1 sh issues.sh o/r
	refute_output --partial "issues created"
}

@test "the same result exports to the same bytes, twice, by id, by file and by default" {
	local id f
	run -0 epic run -q "$REQ/02-enterprise-sso.md"
	id=$(ls "$EPIC_SPOOL/done")
	for f in jira-csv github azure-csv csv; do
		epic-export --to "$f" "$id" >a.$f
		epic-export --to "$f" "$EPIC_SPOOL/done/$id/epic.json" >b.$f
		epic export --to "$f" >c.$f
		epic-export --to "$f" - <"$EPIC_SPOOL/done/$id/epic.json" >d.$f
		cmp a.$f b.$f
		cmp a.$f c.$f
		cmp a.$f d.$f
		[ -s a.$f ]
	done
	epic-export --to github --json j1 "$id" >/dev/null
	epic-export --to github --json j2 "$id" >/dev/null
	cmp j1 j2
}

@test "examples/export/ is what examples/export/regenerate.sh makes" {
	cp -R "$ROOT/examples/export" committed
	EPIC_BIN="$BIN" run -0 sh "$ROOT/examples/export/regenerate.sh" "$BATS_TEST_TMPDIR/fresh"
	for f in checkout-payments.jira.csv checkout-payments.github.sh checkout-payments.github.json \
		checkout-payments.azure.csv checkout-payments.csv; do
		cmp "committed/$f" "fresh/$f"
	done
}
