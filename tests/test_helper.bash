# Common set-up for every bats file: load with `load test_helper`.
bats_require_minimum_version 1.5.0
#
# ROOT is the checkout; BIN the binaries under test (bin/, or build/asan/bin when
# `make check-asan` sets EC_BIN); every test gets its own temporary spool and no
# inherited EPIC_* settings, so tests never touch ./spool or each other.
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load '/usr/lib/bats/bats-file/load'

ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
BIN="${EC_BIN:-$ROOT/bin}"
FIX="$ROOT/tests/fixtures"
PATH="$BIN:$PATH"
unset EPIC_CONFIG EPIC_DATADIR EPIC_PERSONA_PATH
export EPIC_SPOOL="$BATS_TEST_TMPDIR/spool"

# Use the small, stable test registry instead of the shipped personas.
use_fixture_registry() {
	export EPIC_PERSONA_PATH="$FIX/registry"
}

# No file under DIR whose name starts with a dot: no temp left behind.
assert_no_temp_files() {
	local left
	left=$(find "$1" -name '.*.tmp' -type f)
	[ -z "$left" ] || fail "temporary files left behind: $left"
}
