#!/bin/sh
# Regenerate the exports of examples/requests/01-checkout-payments.json kept here:
# a Jira Cloud CSV, a GitHub script and its JSON, an Azure Boards CSV and a plain CSV
# (see man/epic-export.1). The epic runs in a temporary spool, so ./spool is not
# touched. usage: sh examples/export/regenerate.sh [OUTDIR]   (default: this directory)
# EPIC_BIN names the directory of the binaries (default: bin/ of this checkout).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${EPIC_BIN:-$root/bin}
out=${1:-$here}
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/epic-export-examples.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
EPIC_SPOOL="$tmp/spool" "$bin/epic" run -q -o "$tmp/epic.json" \
	"$root/examples/requests/01-checkout-payments.json" >/dev/null
name=checkout-payments
"$bin/epic-export" --to jira-csv -o "$out/$name.jira.csv" "$tmp/epic.json"
"$bin/epic-export" --to github -o "$out/$name.github.sh" --json "$out/$name.github.json" "$tmp/epic.json"
"$bin/epic-export" --to azure-csv -o "$out/$name.azure.csv" "$tmp/epic.json"
"$bin/epic-export" --to csv -o "$out/$name.csv" "$tmp/epic.json"
