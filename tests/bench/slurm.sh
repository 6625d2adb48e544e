#!/usr/bin/env bash
# The slurm launcher's cost (issue 16): one epic through epic-watch --once with the
# local launcher and with the slurm launcher on a single-node cluster on this host
# (tests/slurm_helper.bash), medians of 5; then 10 epics at two at a time. Skips,
# saying why, where the cluster cannot start (not root, Slurm not installed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${EC_BIN:-$root/bin}
unset EPIC_CONFIG EPIC_PERSONA_PATH
. "$root/tests/bench/lib.sh"
. "$root/tests/slurm_helper.bash"
request() { printf 'Epic %s: let shop admins upload product images and let customers pay by card at checkout.\n' "$1"; }

echo "== slurm launcher: per-epic overhead on a single-node cluster =="
# Not tmpfs (the launcher refuses a spool there) and a short path (munged's socket).
work=$(mktemp -d /var/tmp/ecbench.XXXXXX)
trap 'slurm_down "$work/cluster"; rm -rf "$work"' EXIT
if ! slurm_up "$work/cluster"; then
	echo "  skipped: $SLURM_WHY"
	exit 0
fi
for l in local slurm; do
	printf 'performance:\n  maxConcurrentEpics: 2\n  memoryLimit: 256MiB\n  launcher: %s\nwatcher:\n  settleMs: 0\n' "$l" > "$work/$l.yml"
done

# once LAUNCHER N: microseconds for N queued epics through epic-watch --once.
once() {
	local sp="$work/spool-$1-$RANDOM" t0
	mkdir -p "$sp/incoming" "$sp/tmp"
	for i in $(seq 1 "$2"); do request "$1-$i-$RANDOM" > "$sp/tmp/r$i.txt"; done
	mv "$sp"/tmp/*.txt "$sp/incoming/"
	t0=$(now_us)
	EPIC_SPOOL="$sp" EPIC_CONFIG="$work/$1.yml" "$bin/epic-watch" --once 2>/dev/null
	echo $(( $(now_us) - t0 ))
}

for l in local slurm; do
	m=$(for _ in 1 2 3 4 5; do once "$l" 1; done | median)
	eval "one_$l=$m"
	printf '  %-40s %10.0f us (median of 5)\n' "one epic, $l launcher:" "$m"
done
printf '  %-40s %10.0f us per epic\n' "slurm overhead:" "$(awk -v a="$one_slurm" -v b="$one_local" 'BEGIN { print a - b }')"
for l in local slurm; do
	m=$(once "$l" 10)
	printf '  %-40s %10.0f us per epic (%s us in all)\n' "10 epics, 2 at a time, $l:" "$((m / 10))" "$m"
done
echo "  (sbatch --wait polls the controller every 2 s with MinJobAge=5, as here; a cluster"
echo "   with the default MinJobAge=300 backs off to 32 s: expect more there)"
