#!/usr/bin/env bash
# Benchmarks of the spool daemon (issue 6): drop-to-claim latency, epics per second
# through --once for 100, 1,000 and 2,000 queued requests, processes per epic, and the
# watcher's peak RSS after 2,000 requests. Medians; printed, never asserted.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${EC_BIN:-$root/bin}
work=$1/watch
mkdir -p "$work"
unset EPIC_CONFIG
. "$root/tests/bench/lib.sh"
request() { printf 'Epic %s: let shop admins upload product images and let customers pay by card at checkout.\n' "$1"; }

# queue N DIR: N distinct requests, renamed into DIR/incoming at once.
queue() {
	mkdir -p "$2/incoming" "$2/tmp/q"
	for i in $(seq 1 "$1"); do request "q$i-$RANDOM" > "$2/tmp/q/r$i.txt"; done
	mv "$2"/tmp/q/*.txt "$2/incoming/"
}

echo "== epic-watch =="
# Drop-to-claim: a running watcher, one request at a time.
export EPIC_SPOOL="$work/latency"
# (a rename into incoming/ needs no settling: the default configuration)
"$bin/epic-watch" 2> "$work/latency.log" &
pid=$!
sleep 0.5
mkdir -p "$EPIC_SPOOL/tmp"
for i in $(seq 1 21); do
	request "lat$i" > "$EPIC_SPOOL/tmp/lat$i.txt"
	t0=$(date +%s%N)
	mv "$EPIC_SPOOL/tmp/lat$i.txt" "$EPIC_SPOOL/incoming/lat$i.txt"
	while [ -e "$EPIC_SPOOL/incoming/lat$i.txt" ]; do :; done
	echo $(( ($(date +%s%N) - t0) / 1000 ))
	sleep 0.3
done | median | awk '{printf "  %-40s %8.0f us (median of 21, by rename; polling by the shell included)\n", "drop-to-claim latency:", $1}'
kill -TERM $pid; wait $pid 2>/dev/null || true

# --once at one slot and at the default two: the second slot should nearly double
# the rate (a freed slot is refilled at once).
for n in 100 1000 2000; do
	for j in 1 2; do
		[ $n = 2000 ] && [ $j = 1 ] && continue
		export EPIC_SPOOL="$work/once$n-j$j"
		queue $n "$EPIC_SPOOL"
		t0=$(now_us)
		"$bin/epic-watch" --once -j $j 2> "$work/once$n.log" || true
		t=$(( $(now_us) - t0 ))
		done_n=$(ls "$EPIC_SPOOL/done" | wc -l)
		echo "$j $t" >> "$work/rates$n"
		awk -v n=$done_n -v t=$t -v q=$n -v j=$j 'BEGIN {printf "  %-40s %8.1f epics/s, %6.1f ms per epic (%d of %d done)\n", "--once -j " j ", " q " queued:", n / (t / 1e6), t / 1e3 / n, n, q}'
	done
	[ $n != 2000 ] && awk -v n=$n '{t[$1] = $2} END {printf "  %-40s %8.2f x (one slot'"'"'s time / two slots'"'"')\n", "--once, " n " queued, two slots vs one:", t[1] / t[2]}' "$work/rates$n"
	[ $n = 1000 ] && [ -s "$1/floor-us" ] && awk -v n=$n -v f="$(cat "$1/floor-us")" '$1 == 2 {printf "  %-40s %8.2f x (per-epic wall time at two slots / the cold-epic floor)\n", "--once, " n " queued, vs the floor:", $2 / n / f}' "$work/rates$n"
	[ $n = 2000 ] && sed -n 's/.*stopped (peak RSS \([0-9]*\) KiB).*/\1/p' "$work/once$n.log" |
		awk '{printf "  %-40s %8d KiB\n", "watcher peak RSS after 2,000 requests:", $1}'
done

if command -v strace >/dev/null; then
	export EPIC_SPOOL="$work/procs"
	queue 20 "$EPIC_SPOOL"
	strace -f -qq -o "$work/trace" -e trace=execve "$bin/epic-watch" --once 2>/dev/null || true
	awk '{print $1}' "$work/trace" | sort -u | wc -l |
		awk '{printf "  %-40s %8.1f (20 epics: (processes - the watcher) / 20)\n", "processes per epic through the watcher:", ($1 - 1) / 20}'
fi
