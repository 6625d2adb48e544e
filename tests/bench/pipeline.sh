#!/usr/bin/env bash
# Benchmarks of persona-run and the per-task pipeline (issues 4 and 5): persona-run
# overhead per call, processes per epic, cold and no-op times per epic. Medians.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${EC_BIN:-$root/bin}
work=$1/pipeline
mkdir -p "$work"
. "$root/tests/bench/lib.sh"

echo "== persona-run: overhead per call (median of 30) =="
task="$work/task"
mkdir -p "$task"
"$bin/epic-parse" --task-id bench -o "$task/epic-request.json" "$root/examples/requests/08-product-search.json"
reg="$work/reg"
mkdir -p "$reg"
cp -r "$root/pipeline/personas/." "$reg/"
cat > "$reg/trivial-agent.json" <<JSON
{ "name": "trivial-agent", "reviewOrder": 42, "required": false, "timeout": 10, "dependencies": [],
  "supportedModes": ["mvp", "standard", "enterprise"], "version": "1", "command": ["/bin/cat", "$work/answer.json"] }
JSON
"$bin/persona-rules" -o "$work/answer.json" "$( "$bin/persona-run" --no-cache --persona product-owner -d "$task" -o "$task/po.json" "$task/epic-request.json" >/dev/null; echo "$task/po.input.json")"
for kind in rules command; do
	p=product-owner; [ $kind = command ] && p=trivial-agent
	for i in $(seq 1 30); do
		t0=$(now_us)
		EPIC_PERSONA_PATH="$reg" "$bin/persona-run" --no-cache --persona $p -d "$task" -o "$task/out.json" "$task/epic-request.json"
		echo $(( $(now_us) - t0 ))
	done | median | awk -v k=$kind '{printf "  %-34s %8.0f us per call (process start and exit included)\n", k " persona (" (k == "rules" ? "in-process engine" : "/bin/cat as the agent") ")", $1}'
done

echo "== the pipeline: per epic, built-in personas, the 14 examples =="
spool="$work/spool"
export EPIC_SPOOL="$spool"
# Processes: the distinct pids strace sees (epic itself, make, and every tool);
# syncs: every fsync-like call any of them makes.
procs=10 syncs=6
trace() {
	strace -f -qq -o "$work/trace" -e trace=execve,fsync,fdatasync,sync,syncfs,msync "$bin/epic" run -q "$1" > /dev/null
	procs=$(grep -E ' execve\(' "$work/trace" | awk '{print $1}' | sort -u | wc -l)
	syncs=$(grep -cE ' (fsync|fdatasync|sync|syncfs|msync)\(' "$work/trace" || true)
}
if command -v strace >/dev/null; then
	req="$root/examples/requests/01-checkout-payments.json"
	trace "$req"
	printf '  %-34s %8d (epic + make + epic-parse + 6 persona-run + epic-aggregate)\n' \
		"processes per epic, cold:" "$procs"
	printf '  %-34s %8d (the first of a new spool: it creates the audit log)\n' "fsyncs per epic, cold:" "$syncs"
	trace "$root/examples/requests/02-enterprise-sso.md"
	printf '  %-34s %8d (a spool in use, as the median epic below)\n' "fsyncs per epic, cold:" "$syncs"
	cold_procs=$procs cold_syncs=$syncs
	trace "$req"
	printf '  %-34s %8d (epic + make)\n' "processes per epic, no-op rerun:" "$procs"
	printf '  %-34s %8d\n' "fsyncs per epic, no-op rerun:" "$syncs"
	procs=$cold_procs syncs=$cold_syncs
else
	echo "  (strace not installed: counts not measured; the floor assumes 10 processes, 6 fsyncs)"
fi
rm -rf "$spool"
# The floor of a cold epic: its processes started as trivial static programs, and
# its fsyncs as durable atomic writes (each of which is two: file and directory).
# Probed right after each epic, so that both see the same neighbours: this
# machine's speed varies 2-3x within minutes, and a floor taken once, before or
# after, moved the ratio by as much.
# The probe also starts the epic's own programs, in its order, each with --version
# (start, print, exit): what they cost before doing any work, against the floor's
# trivial spawns.
mkdir -p "$work/floor"
: > "$work/floor.txt"
chain=("$bin/epic" "$(command -v make)" "$bin/epic-parse" "$bin/persona-run" "$bin/persona-run"
	"$bin/persona-run" "$bin/persona-run" "$bin/persona-run" "$bin/persona-run" "$bin/epic-aggregate")
for f in "$root"/examples/requests/*; do
	t0=$(now_us); "$bin/epic" run -q "$f" > /dev/null; echo $(( $(now_us) - t0 ))
	if [ -x "${EC_BENCH_BIN:-}/floor" ]; then
		"$EC_BENCH_BIN/floor" "$EC_BENCH_BIN/noop" "$work/floor" 20 "${chain[@]}" >> "$work/floor.txt"
	fi
done | median > "$work/cold"
awk '{printf "  %-34s %8.1f ms (median over the examples; cache cold)\n", "cold time per epic:", $1 / 1000}' "$work/cold"
if [ -x "${EC_BENCH_BIN:-}/floor" ]; then
	spawn=$(awk '$1 == "spawn_us" {print $2}' "$work/floor.txt" | median)
	dwrite=$(awk '$1 == "durable_write_us" {print $2}' "$work/floor.txt" | median)
	bare=$(awk '$1 == "chain_us" {print $2}' "$work/floor.txt" | median)
	printf '  %-34s %8.0f us (fork, exec, exit, wait of a static no-op; median of probes between the epics)\n' "floor: one trivial spawn:" "$spawn"
	printf '  %-34s %8.0f us (write 8 KiB, fsync, rename, fsync dir; the same)\n' "floor: one durable atomic write:" "$dwrite"
	# Last, the same floor with the epic's own programs in place of the trivial
	# spawns, doing no work: how much of the 1.5x budget merely starting them takes.
	awk -v p="$procs" -v f="$syncs" -v s="$spawn" -v w="$dwrite" -v c="$(cat "$work/cold")" -v b="$bare" 'BEGIN {
		floor = p * s + f / 2 * w
		printf "  %-34s %8.1f ms (%d spawns + %d fsyncs = %g durable writes)\n", "floor of a cold epic:", floor / 1000, p, f, f / 2
		printf "  %-34s %8.2f x\n", "cold epic / its floor:", c / floor
		printf "  %-34s %8.1f ms (epic, make, epic-parse, 6 persona-run, epic-aggregate, each --version; %.1fx the %d trivial spawns)\n", "the same programs, bare:", b / 1000, b / (p * s), p
		printf "  %-34s %8.2f x (bare programs + the durable writes, over the floor)\n", "a cold epic doing no work / floor:", (b + f / 2 * w) / floor
	}' | tee "$work/floor-ratio.txt"
	awk -v p="$procs" -v f="$syncs" -v s="$spawn" -v w="$dwrite" 'BEGIN { print p * s + f / 2 * w }' > "$1/floor-us"
else
	echo "  (make bench builds the floor probes: EC_BENCH_BIN unset, floor skipped)"
fi
for f in "$root"/examples/requests/*; do
	t0=$(now_us); "$bin/epic" run -q "$f" > /dev/null; echo $(( $(now_us) - t0 ))
done | median | awk '{printf "  %-34s %8.1f ms\n", "no-op rerun time per epic:", $1 / 1000}'
rm -rf "$spool/done"
for f in "$root"/examples/requests/*; do
	t0=$(now_us); "$bin/epic" run -q "$f" > /dev/null; echo $(( $(now_us) - t0 ))
done | median | awk '{printf "  %-34s %8.1f ms (a new task, every persona a cache hit)\n", "warm-cache time per epic:", $1 / 1000}'

# Edits of one rule base, and what make reruns: the persona-runs a rerun of a
# finished task executes (strace), after a whitespace-only edit (its output's bytes
# do not change: nothing after it reruns) and after a version bump (they do).
if command -v strace >/dev/null; then
	reg="$work/edit-reg"
	rm -rf "$reg" && cp -r "$root/pipeline/personas" "$reg"
	req="$root/examples/requests/03-file-uploads.txt"
	EPIC_PERSONA_PATH="$reg" "$bin/epic" run -q --spool "$work/edit" "$req" > /dev/null
	runs() {
		EPIC_PERSONA_PATH="$reg" strace -f -qq -o "$work/trace" -e trace=execve \
			"$bin/epic" run -q --spool "$work/edit" "$req" > /dev/null
		grep -c 'execve(".*/persona-run"' "$work/trace" || true
	}
	printf '  %-34s %8d\n' "persona-runs, no edit:" "$(runs)"
	printf '\n\n' >> "$reg/rules/security-specialist.json"
	printf '  %-34s %8d (security-specialist only; its output unchanged)\n' \
		"persona-runs, whitespace edit:" "$(runs)"
	sed -i '0,/"version": "[^"]*"/s//"version": "9.9.9"/' "$reg/rules/security-specialist.json"
	printf '  %-34s %8d (security-specialist and the three after it)\n' \
		"persona-runs, version bumped:" "$(runs)"
fi

echo "== encryption at rest: the same cold epics with security.encryptAtRest (interleaved) =="
keys="$work/keys"
rm -rf "$keys" && mkdir -m 0700 "$keys"
EPIC_KEY_DIR="$keys" "$bin/epic-key" new > /dev/null 2>&1
sed 's/encryptAtRest: false/encryptAtRest: true/' "$root/pipeline/epic-creator.yml" > "$work/enc.yml"
: > "$work/t-plain"; : > "$work/t-enc"
for round in 1 2 3; do
	for f in "$root"/examples/requests/*; do
		t0=$(now_us); EPIC_SPOOL="$work/plain$round" "$bin/epic" run -q "$f" > /dev/null
		echo $(( $(now_us) - t0 )) >> "$work/t-plain"
		t0=$(now_us); EPIC_KEY_DIR="$keys" EPIC_CONFIG="$work/enc.yml" EPIC_SPOOL="$work/enc$round" \
			"$bin/epic" run -q "$f" > /dev/null
		echo $(( $(now_us) - t0 )) >> "$work/t-enc"
	done
done
plain=$(median < "$work/t-plain") enc=$(median < "$work/t-enc")
awk -v p="$plain" -v e="$enc" 'BEGIN {
	printf "  %-34s %8.1f ms\n", "cold epic, in clear:", p / 1000
	printf "  %-34s %8.1f ms\n", "cold epic, sealed:", e / 1000
	printf "  %-34s %8.2f ms (%+.0f %%; 42 examples each, medians)\n", "cost of encryption per epic:", (e - p) / 1000, (e - p) * 100 / p
}'
sealed=$(find "$work/enc1/done" -type f -exec head -c 8 {} \; -exec echo \; 2>/dev/null | grep -c ECSEAL || true)
printf '  %-34s %8d (files sealed in the 14 tasks of one round)\n' "sealed files:" "$sealed"
rm -rf "$work"/plain? "$work"/enc? "$keys"
