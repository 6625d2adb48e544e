#!/usr/bin/env bats
# The slurm launcher (performance.launcher: slurm): the watcher claims locally and
# runs each task's make as a Slurm job. Real Slurm: a single-node cluster on
# localhost (tests/slurm_helper.bash), started once for the file. Skips only where
# its daemons cannot start (not root, not installed), saying why.

load test_helper
load slurm_helper

setup_file() {
	# Short: munged's socket path must fit in a sockaddr_un. Not tmpfs: the
	# cluster's state, like a spool, must be on a real filesystem.
	SLURM_DIR=$(mktemp -d /var/tmp/ecslurm.XXXXXX)
	export SLURM_DIR
	if slurm_up "$SLURM_DIR"; then
		export SLURM_CONF
	else
		echo "$SLURM_WHY" > "$SLURM_DIR/why"
	fi
}

teardown_file() {
	slurm_down "$SLURM_DIR"
	rm -rf "$SLURM_DIR"
}

# The tests that run jobs: skipped, saying why, when the cluster did not start.
need_slurm() {
	[ ! -e "$SLURM_DIR/why" ] || skip "no Slurm cluster: $(cat "$SLURM_DIR/why")"
}

setup() {
	# The spool must not be on tmpfs (the launcher refuses it): the test's own
	# directory when that is a real filesystem, else one under /var/tmp.
	if [ "$(stat -f -c %T "$BATS_TEST_TMPDIR")" = tmpfs ]; then
		SPOOLS=$(mktemp -d /var/tmp/ecspool.XXXXXX)
	else
		SPOOLS="$BATS_TEST_TMPDIR"
	fi
	export EPIC_SPOOL="$SPOOLS/spool"
	S="$EPIC_SPOOL"
	mkdir -p "$S/incoming"
	fast_watcher_config 1 performance: '  maxConcurrentEpics: 4' '  memoryLimit: 256MiB' \
		'  launcher: slurm'
	REG="$BATS_TEST_TMPDIR/personas"
	cp -r "$ROOT/pipeline/personas" "$REG"
	export EPIC_PERSONA_PATH="$REG"
	WATCHERS=()
}

teardown() {
	for p in "${WATCHERS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	# Jobs of this test still in the cluster are cancelled: the next test gets an
	# idle node.
	[ -z "${SLURM_CONF:-}" ] || scancel --user=root 2>/dev/null || true
	case ${SPOOLS:-} in /var/tmp/ecspool.*) rm -rf "$SPOOLS" ;; esac
	true
}

stable() {
	spool_cat "$1" | jq -S 'del(.epic.metadata.createdAt, .epic.metadata.completedAt, .epic.metadata.totalExecutionTime)
	    | .epic.personas[].persona.executionTime = 0'
}

# slow_persona NAME SECONDS: NAME is the rules engine after SECONDS, the first time
# only (a marker in the test's directory): a job to cancel, or to time out.
slow_persona() {
	local mark="$BATS_TEST_TMPDIR/slept-$1"
	jq --arg mark "$mark" --arg s "$2" --arg eng "$ROOT/bin/persona-rules" --arg rules "$REG/rules/$1.json" \
	    '.command = ["/bin/sh", "-c", "[ -e \($mark) ] || { : > \($mark); sleep \($s); }; exec \"$0\" \"$@\"", $eng, "--rules", $rules] | del(.rules)' \
		"$REG/$1.json" > "$BATS_TEST_TMPDIR/p.json"
	mv "$BATS_TEST_TMPDIR/p.json" "$REG/$1.json"
}

# job_of ID: the Slurm job id the task recorded (slurm.json), waiting for it.
job_of() {
	local f
	for _ in $(seq 1 300); do
		f=$(ls "$S"/*/"$1"/slurm.json 2>/dev/null | head -n 1)
		[ -n "$f" ] && { spool_cat "$f" | jq -r .jobId; return 0; }
		sleep 0.1
	done
	fail "no slurm.json for $1"
}

# in_slow_job: wait until the slow performance-specialist runs in its job; sets id
# (the task in active/) and job (its Slurm job).
in_slow_job() {
	for _ in $(seq 1 600); do
		[ -e "$BATS_TEST_TMPDIR/slept-performance-specialist" ] && break
		sleep 0.1
	done
	id=$(ls "$S/active")
	job=$(job_of "$id")
}

@test "slurm: 20 requests end in done/ exactly once, the same as the local launcher's" {
	need_slurm
	for i in $(seq 1 20); do request "$i" > "$BATS_TEST_TMPDIR/r$i.txt"; done
	cp "$BATS_TEST_TMPDIR"/r*.txt "$S/incoming/"
	run -0 epic-watch --once
	[ "$(ls "$S/done" | wc -l)" = 20 ] || fail "done/: $(ls "$S/done"); $output"
	[ -z "$(ls -A "$S/incoming" "$S/active" "$S/failed" "$S/deferred" | grep -v ':$' | grep .)" ]
	# Exactly once: one job each, distinct, named after its task; six personas each.
	for d in "$S"/done/*; do
		[ -f "$d/slurm.json" ] || fail "$d has no slurm.json"
		[ "$(spool_cat "$d/slurm.json" | jq -r .jobName)" = "$(basename "$d")" ]
		[ "$(grep -c '"event":"before"' "$d/checkpoints.jsonl")" = 6 ]
	done
	[ "$(for d in "$S"/done/*; do spool_cat "$d/slurm.json" | jq -r .jobId; done | sort -u | wc -l)" = 20 ]
	# The local launcher, the same requests, another spool.
	mkdir -p "$SPOOLS/local/incoming"
	cp "$BATS_TEST_TMPDIR"/r*.txt "$SPOOLS/local/incoming/"
	sed -i 's/launcher: slurm/launcher: local/' "$CFG"
	EPIC_SPOOL="$SPOOLS/local" run -0 epic-watch --once
	[ "$(ls "$SPOOLS/local/done" | wc -l)" = 20 ]
	[ "$(ls "$SPOOLS/local/done")" = "$(ls "$S/done")" ]
	for id in $(ls "$S/done"); do
		diff -u <(EPIC_SPOOL="$SPOOLS/local" stable "$SPOOLS/local/done/$id/epic.json") \
		    <(stable "$S/done/$id/epic.json") || fail "$id differs from the local launcher's"
		[ ! -e "$SPOOLS/local/done/$id/slurm.json" ]
	done
}

@test "slurm: the job is named after the task, its --time and --mem from the config; epic status shows it" {
	need_slurm
	slow_persona performance-specialist 30
	request 1 > "$S/incoming/r1.txt"
	watcher
	for _ in $(seq 1 300); do id=$(ls "$S/active" 2>/dev/null | head -n 1); [ -n "$id" ] && break; sleep 0.1; done
	job=$(job_of "$id")
	run -0 scontrol -o show job "$job"
	assert_output --partial "JobName=$id "
	assert_output --partial "TimeLimit=00:30:00"      # coordination.workflowTimeout 1800 s
	assert_output --partial "MinMemoryNode=256M"
	assert_output --partial "WorkDir=$S/active/$id"
	run -0 script -qec "epic status" /dev/null
	assert_output --regexp "active +$id .*running as Slurm job $job"
	run -0 epic status --json
	[ "$(jq -r --arg id "$id" '.[] | select(.id == $id) | .slurmJob' <<<"$output")" = "$job" ]
	run -0 script -qec "epic status $id" /dev/null
	assert_output --partial "\"slurmJob\": \"$job\""
}

@test "slurm: scancel mid-task leaves it resumable; the next job finishes it without re-running finished personas" {
	need_slurm
	slow_persona performance-specialist 60
	request 1 > "$BATS_TEST_TMPDIR/r1.txt"
	EPIC_SPOOL="$SPOOLS/ref" epic run -q "$BATS_TEST_TMPDIR/r1.txt" > /dev/null
	rm -f "$BATS_TEST_TMPDIR"/slept-*
	cp "$BATS_TEST_TMPDIR/r1.txt" "$S/incoming/"
	epic-watch --once 2> "$BATS_TEST_TMPDIR/w1.log" &
	WATCHERS+=($!)
	in_slow_job
	# What had finished when the job was cancelled.
	finished=$(grep '"event":"after"' "$S/active/$id/checkpoints.jsonl" | jq -r .persona | sort)
	[ -n "$finished" ] || fail "no persona had finished"
	scancel "$job"
	rc=0; wait "${WATCHERS[0]}" || rc=$?
	[ "$rc" = 111 ] || fail "the watcher exited $rc: $(cat "$BATS_TEST_TMPDIR/w1.log")"
	grep -q "Slurm job $job ended CANCELLED; resumable" "$BATS_TEST_TMPDIR/w1.log" ||
		fail "$(cat "$BATS_TEST_TMPDIR/w1.log")"
	[ -d "$S/deferred/$id" ]
	sleep 1.1       # watcher.taskRetryDelay
	run -0 epic-watch --once
	[ -d "$S/done/$id" ] || fail "$output"
	next=$(spool_cat "$S/done/$id/slurm.json" | jq -r .jobId)
	[ "$next" != "$job" ]
	for p in $finished; do
		n=$(grep '"event":"before"' "$S/done/$id/checkpoints.jsonl" | jq -r .persona | grep -cx "$p")
		[ "$n" = 1 ] || fail "$p ran $n times"
	done
	# The slow one, cut off mid-way, ran again; six personas in all.
	[ "$(grep '"event":"after"' "$S/done/$id/checkpoints.jsonl" | jq -r .persona | sort -u | wc -l)" = 6 ]
	diff -u <(EPIC_SPOOL="$SPOOLS/ref" stable "$SPOOLS"/ref/done/*/epic.json) <(stable "$S/done/$id/epic.json")
}

@test "slurm: a node failure (NODE_FAIL) defers the task; the next job finishes it" {
	need_slurm
	slow_persona performance-specialist 60
	request 1 > "$S/incoming/r1.txt"
	epic-watch --once 2> "$BATS_TEST_TMPDIR/w1.log" &
	WATCHERS+=($!)
	in_slow_job
	node=$(scontrol -o show job "$job" | sed -n 's/.* NodeList=\([^ ]*\).*/\1/p')
	scontrol update NodeName="$node" State=DOWN Reason=test
	rc=0; wait "${WATCHERS[0]}" || rc=$?
	# Back (ReturnToService=2 may have brought it back already).
	scontrol update NodeName="$node" State=RESUME 2>/dev/null || true
	for _ in $(seq 1 100); do
		case $(sinfo -h -N -o %t -n "$node") in idle*|mix*|alloc*) break ;; esac
		sleep 0.2
	done
	[ "$rc" = 111 ] || fail "the watcher exited $rc: $(cat "$BATS_TEST_TMPDIR/w1.log")"
	grep -q "Slurm job $job ended NODE_FAIL; resumable" "$BATS_TEST_TMPDIR/w1.log" ||
		fail "$(cat "$BATS_TEST_TMPDIR/w1.log")"
	[ -d "$S/deferred/$id" ]
	sleep 1.1
	run -0 epic-watch --once
	[ -d "$S/done/$id" ] || fail "$output"
	[ "$(grep '"event":"after"' "$S/done/$id/checkpoints.jsonl" | jq -r .persona | sort -u | wc -l)" = 6 ]
}

@test "slurm: a job past its --time is TIMEOUT: 111, deferred, resumable" {
	need_slurm
	# workflowTimeout 60 s: --time=1 (minutes). Slurm checks time limits every 30 s.
	sed -i 's/^performance:/coordination:\n  workflowTimeout: 60\nperformance:/' "$CFG"
	slow_persona performance-specialist 300
	request 1 > "$S/incoming/r1.txt"
	run -111 epic-watch --once
	id=$(ls "$S/deferred")
	[ -n "$id" ] || fail "not deferred: $output"
	job=$(spool_cat "$S/deferred/$id/slurm.json" | jq -r .jobId)
	assert_output --partial "Slurm job $job did not finish within its --time of 1 min"
	assert_output --partial "TIMEOUT"
	run -0 bash -c "spool_cat '$S/deferred/$id/error.json' | jq -r '.type'"
	assert_output "TIMEOUT"
}

# term_mid_task: one request to a watcher, which gets TERM once the slow
# performance-specialist runs in its job; sets id (the task) and job (its Slurm job).
term_mid_task() {
	request 1 > "$S/incoming/r1.txt"
	watcher
	in_slow_job
	kill -TERM "${WATCHERS[0]}"
	wait "${WATCHERS[0]}" || fail "the watcher exited $?: $(cat "$BATS_TEST_TMPDIR/w.0.log")"
}

@test "slurm: SIGTERM after the grace cancels the job (onStop: cancel); the task stays resumable" {
	need_slurm
	slow_persona performance-specialist 60
	term_mid_task
	grep -q "stopped; Slurm job $job cancelled; resumable" "$BATS_TEST_TMPDIR/w.0.log" ||
		fail "$(cat "$BATS_TEST_TMPDIR/w.0.log")"
	[ -d "$S/active/$id" ]
	for _ in $(seq 1 100); do
		scontrol -o show job "$job" | grep -q "JobState=CANCELLED" && break
		sleep 0.1
	done
	run -0 scontrol -o show job "$job"
	assert_output --partial "JobState=CANCELLED"
}

@test "slurm: SIGTERM with onStop: leave leaves the job running; no second job beside it; a later watcher settles it" {
	need_slurm
	printf '%s\n' '  slurm:' '    onStop: leave' >> "$CFG"
	slow_persona performance-specialist 8
	term_mid_task
	grep -q "stopped; Slurm job $job left running" "$BATS_TEST_TMPDIR/w.0.log" ||
		fail "$(cat "$BATS_TEST_TMPDIR/w.0.log")"
	run -0 scontrol -o show job "$job"
	assert_output --partial "JobState=RUNNING"
	# A watcher now leaves the task to its job, then finishes it with a job that
	# finds everything made.
	watcher
	sleep 2
	[ -d "$S/active/$id" ]
	[ "$(spool_cat "$S/active/$id/slurm.json" | jq -r .jobId)" = "$job" ]
	wait_for 1 done 120
	[ "$(grep -c '"event":"before"' "$S/done/$id/checkpoints.jsonl")" = 6 ]
}

@test "slurm: a spool on tmpfs is refused at start, saying why" {
	[ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ] || skip "no tmpfs at /dev/shm"
	local t
	t=$(mktemp -d /dev/shm/ecslurm.XXXXXX)
	EPIC_SPOOL="$t/spool" run -1 epic-watch --once
	rm -rf "$t"
	assert_output --partial "is on tmpfs, which only this host sees"
	assert_output --partial "every node mounts"
}

@test "slurm: a bad launcher or onStop is a config error naming file:line:col" {
	printf 'performance:\n  launcher: remote\n' > "$BATS_TEST_TMPDIR/bad.yml"
	run -1 epic-watch --once --config "$BATS_TEST_TMPDIR/bad.yml"
	assert_output --partial "bad.yml:2:3: \$.performance.launcher: expected one of local, slurm"
	printf 'performance:\n  slurm:\n    onStop: ignore\n' > "$BATS_TEST_TMPDIR/bad2.yml"
	run -1 epic-watch --once --config "$BATS_TEST_TMPDIR/bad2.yml"
	assert_output --partial "bad2.yml:3:5: \$.performance.slurm.onStop: expected one of cancel, leave"
}
