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
# Run by `sudo make check`, the tools would see the person behind sudo (roles.c).
unset SUDO_UID SUDO_GID SUDO_USER SUDO_COMMAND
export EPIC_SPOOL="$BATS_TEST_TMPDIR/spool"
# epic-aggregate checks its own result against the schema (off outside the tests).
export EPIC_SELF_CHECK=1
# strace -f -qq of a command; LeakSanitizer cannot run under ptrace (the ASan pass).
traced() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq "$@"; }

# EPIC_TEST_ENCRYPT=1 (make check-encrypted) runs a suite with encryption at rest
# on: a key of the test's own, and the shipped config with security.encryptAtRest
# set (a test that names another config runs without). Tests read the spool's files
# through spool_cat, which opens a sealed one, as every tool does.
# The key is the test file's (setup_file may seal what its tests read).
if [ "${EPIC_TEST_ENCRYPT:-0}" = 1 ]; then
	export EPIC_KEY_DIR="$BATS_FILE_TMPDIR/keys"
	if [ ! -f "$EPIC_KEY_DIR/k1.key" ]; then
		mkdir -p -m 0700 "$EPIC_KEY_DIR"
		od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$EPIC_KEY_DIR/.k1"
		echo >>"$EPIC_KEY_DIR/.k1"
		chmod 0600 "$EPIC_KEY_DIR/.k1"
		mv "$EPIC_KEY_DIR/.k1" "$EPIC_KEY_DIR/k1.key"
	fi
	sed 's/encryptAtRest: false/encryptAtRest: true/' "$ROOT/pipeline/epic-creator.yml" \
		>"$BATS_FILE_TMPDIR/encrypted.yml"
	export EPIC_CONFIG="$BATS_FILE_TMPDIR/encrypted.yml"
fi
spool_cat() { epic-key cat "$@"; }
export -f spool_cat
# encrypted_config FILE: in an EPIC_TEST_ENCRYPT=1 run, a test's own config turns
# encryption on too (idempotent; into its security: section when it has one).
encrypted_config() {
	[ "${EPIC_TEST_ENCRYPT:-0}" = 1 ] || return 0
	grep -q 'encryptAtRest' "$1" && return 0
	if grep -q '^security:' "$1"; then
		sed -i 's/^security:$/security:\n  encryptAtRest: true/' "$1"
	else
		printf 'security:\n  encryptAtRest: true\n' >>"$1"
	fi
}

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

# Two users and a group, removed by remove_users (call it from teardown): MEMBER
# belongs to GRP, OUTSIDER does not. Their spool, SHARED/spool, is set up as the
# README says (chgrp of the root, tmp/ and incoming/); they run a copy of
# epic-submit in SHARED/bin, as the checkout itself may not be reachable for other
# users. A request of the owner's is queued (its id in SHARED/owner-id) and a
# finished task of the owner's is in done/. Skips when this cannot be done here.
make_users() {
	[ "$(id -u)" = 0 ] || skip "needs root to create test users"
	command -v useradd >/dev/null && command -v runuser >/dev/null ||
		skip "needs useradd and runuser"
	[ -d /tmp ] || skip "needs /tmp for a spool the test users can reach"
	GRP="ecsub$$"
	MEMBER="ecmem$$"
	OUTSIDER="ecout$$"
	groupadd "$GRP" || skip "cannot create a group"
	useradd -M -U -G "$GRP" -d /nonexistent -s /usr/sbin/nologin "$MEMBER" ||
		skip "cannot create a user"
	useradd -M -U -d /nonexistent -s /usr/sbin/nologin "$OUTSIDER" || skip "cannot create a user"
	SHARED=$(mktemp -d /tmp/epic-spool-test.XXXXXX)
	chmod 0711 "$SHARED"
	mkdir -m 0755 "$SHARED/bin"
	cp "$BIN/epic-submit" "$SHARED/bin/"
	export EPIC_SPOOL="$SHARED/spool"
	epic-submit "$ROOT/examples/requests/02-enterprise-sso.md" >"$SHARED/owner-id"
	chgrp "$GRP" "$EPIC_SPOOL" "$EPIC_SPOOL/tmp" "$EPIC_SPOOL/incoming" "$EPIC_SPOOL/refused"
	# A finished task of the owner's, as the watcher leaves it.
	mkdir -m 0700 "$EPIC_SPOOL/done/owners-task-0123abcd"
	echo '{"secret": true}' >"$EPIC_SPOOL/done/owners-task-0123abcd/epic.json"
	cd "$SHARED"
}

# make_users and, for security.roles, two groups and two users more: ADMIN in
# ADMG, VIEWER in VIEWG, both also in GRP (the spool's group lets them pass its
# root); MEMBER stays submit-only, OUTSIDER in no group. epic, epic-queue,
# epic-purge, epic-forget and epic-audit are copied to SHARED/bin too. Skips as
# make_users.
make_role_users() {
	make_users
	ADMG="ecadg$$"
	VIEWG="ecvig$$"
	ADMIN="ecadm$$"
	VIEWER="ecvie$$"
	groupadd "$ADMG" && groupadd "$VIEWG" || skip "cannot create a group"
	useradd -M -U -G "$ADMG,$GRP" -d /nonexistent -s /usr/sbin/nologin "$ADMIN" ||
		skip "cannot create a user"
	useradd -M -U -G "$VIEWG,$GRP" -d /nonexistent -s /usr/sbin/nologin "$VIEWER" ||
		skip "cannot create a user"
	cp "$BIN/epic" "$BIN/epic-queue" "$BIN/epic-purge" "$BIN/epic-forget" "$BIN/epic-audit" "$SHARED/bin/"
}

remove_users() {
	if [ -n "${ADMIN:-}" ]; then
		pkill -9 -u "$ADMIN" 2>/dev/null || true
		pkill -9 -u "$VIEWER" 2>/dev/null || true
		userdel "$ADMIN" 2>/dev/null || true
		userdel "$VIEWER" 2>/dev/null || true
		groupdel "$ADMG" 2>/dev/null || true
		groupdel "$VIEWG" 2>/dev/null || true
	fi
	if [ -n "${MEMBER:-}" ]; then
		pkill -9 -u "$MEMBER" 2>/dev/null || true
		userdel "$MEMBER" 2>/dev/null || true
		userdel "$OUTSIDER" 2>/dev/null || true
		groupdel "$GRP" 2>/dev/null || true
	fi
	if [ -n "${SHARED:-}" ]; then
		rm -rf "$SHARED"
	fi
	true
}

# Run a command as user $1 with the test's spool.
as() {
	local u=$1
	shift
	runuser -u "$u" -- env EPIC_SPOOL="$EPIC_SPOOL" PATH="$SHARED/bin:/usr/bin:/bin" "$@"
}

# fast_watcher_config RETRIES [YAML...]: a config for watchers that react fast (settle
# 50 ms, rescan every second, retry a failed task after a second, RETRIES times),
# with more top-level YAML lines appended; in $CFG and exported as EPIC_CONFIG.
fast_watcher_config() {
	CFG="$BATS_TEST_TMPDIR/watch.yml"
	printf '%s\n' watcher: '  settleMs: 50' '  parseGraceMs: 1500' '  rescanSeconds: 1' \
		'  stopGraceSeconds: 1' "  taskRetries: $1" '  taskRetryDelay: 1' "${@:2}" > "$CFG"
	encrypted_config "$CFG"
	export EPIC_CONFIG="$CFG"
}

# hold_lock PATH: hold flock(2) on PATH in the background, as a running launcher
# holds a task's .lock, until release_lock (call it from teardown too). Returns
# once the lock is taken. Nothing in the background keeps bats' fd 3 open: bats
# waits for whatever holds it, and a sleeping holder cost each test a minute.
hold_lock() {
	flock -o "$1" sleep 120 3>&- &
	LOCKER=$!
	for _ in $(seq 1 200); do
		flock -n "$1" true || return 0
		sleep 0.05
	done
	fail "the lock of $1 was not taken"
}
release_lock() {
	[ -n "${LOCKER:-}" ] || return 0
	pkill -P "$LOCKER" sleep || true
	wait "$LOCKER" 2>/dev/null || true
	LOCKER=
}

# request N: a distinct, valid request text.
request() {
	printf 'Epic %s: let shop admins upload product images and let customers pay by card at checkout.\n' "$1"
}

# watcher [ARGS]: start a watcher in the background, logging to $BATS_TEST_TMPDIR/w.N.log;
# its pid is appended to the WATCHERS array (kill them in teardown).
watcher() {
	local log="$BATS_TEST_TMPDIR/w.${#WATCHERS[@]}.log"
	epic-watch "$@" 2>"$log" &
	WATCHERS+=($!)
	for _ in $(seq 1 200); do grep -q "watching" "$log" 2>/dev/null && return 0; sleep 0.02; done
	fail "the watcher did not start: $(cat "$log")"
}

# wait_for N STATE [SECONDS]: until $S/STATE/ holds N tasks.
wait_for() {
	local n=$1 state=$2 limit=${3:-120} i
	for i in $(seq 1 $((limit * 10))); do
		[ "$(find "$S/$state" -mindepth 1 -maxdepth 1 -type d -name '[!.]*' | wc -l)" -ge "$n" ] && return 0
		sleep 0.1
	done
	fail "only $(find "$S/$state" -mindepth 1 -maxdepth 1 -type d | wc -l) of $n tasks in $state/"
}


# example_results DIR SPOOL [REQUEST ...]: the EpicResponse of each example request
# (all of examples/requests/ when none is named; a name is looked up there) as
# DIR/NAME.json, run for real through `epic run` on SPOOL. For the files that test
# the views of a result (show, render, export, diff) in their setup_file.
example_results() {
	local dir=$1 spool=$2 f b
	shift 2
	[ $# -gt 0 ] || set -- "$ROOT"/examples/requests/*
	mkdir -p "$dir"
	for f in "$@"; do
		[[ $f == /* ]] || f="$ROOT/examples/requests/$f"
		b=$(basename "$f")
		EPIC_SPOOL="$spool" "$BIN/epic" run -q "$f" >"$dir/${b%.*}.json" ||
			{ echo "epic run $f failed" >&2; return 1; }
	done
}
