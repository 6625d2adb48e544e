# slurm_helper.bash - a single-node Slurm cluster on localhost for the tests and
# the bench: a munge key made here, munged, slurmctld and slurmd with their own
# sockets, ports, state and a generated slurm.conf, all in one directory. Root only.
#
#   slurm_up DIR    start it (DIR must not be on tmpfs); exports SLURM_CONF.
#                   Returns 1 with a reason in SLURM_WHY when it cannot start.
#   slurm_down DIR  stop what slurm_up started (by the pids it recorded).
#
# Sourced by tests/slurm.bats and tests/bench/slurm.sh; plain sh functions, no bats.

slurm_up() {
	local d=$1 host port mem i
	SLURM_WHY=
	if [ "$(id -u)" != 0 ]; then
		SLURM_WHY="the Slurm tests start slurmctld and slurmd, which needs root"
		return 1
	fi
	for b in munged mungekey slurmctld slurmd sbatch scontrol squeue scancel; do
		if ! command -v "$b" >/dev/null && ! [ -x "/usr/sbin/$b" ]; then
			SLURM_WHY="$b is not installed (apt-get install slurm-wlm munge)"
			return 1
		fi
	done
	mkdir -p "$d/munge" "$d/state" "$d/slurmd" "$d/log" || return 1
	chmod 700 "$d/munge"
	host=$(hostname -s)
	# Ports of our own, so a cluster of the machine (or another test) is not met.
	port=$((20000 + ($$ * 7 + RANDOM) % 20000))
	mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 / 2 }' /proc/meminfo)
	/usr/sbin/mungekey --create --keyfile="$d/munge/munge.key" --force 2>"$d/log/mungekey" ||
		{ SLURM_WHY="mungekey failed: $(cat "$d/log/mungekey")"; return 1; }
	chmod 400 "$d/munge/munge.key"
	/usr/sbin/munged --force --socket="$d/munge/munge.socket" --key-file="$d/munge/munge.key" \
	    --pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" \
	    --seed-file="$d/munge/munged.seed" 2>"$d/log/munged.err" ||
		{ SLURM_WHY="munged did not start: $(tail -n 3 "$d/log/munged.err" "$d/log/munged.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
	cat >"$d/slurm.conf" <<EOF
ClusterName=ectest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/slurmd
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=5
SchedulerParameters=batch_sched_delay=0,sched_min_interval=100000,default_queue_depth=100
KillWait=2
MessageTimeout=5
InactiveLimit=0
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=ectest Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
	export SLURM_CONF="$d/slurm.conf"
	/usr/sbin/slurmctld -f "$SLURM_CONF" 2>"$d/log/slurmctld.err" ||
		{ SLURM_WHY="slurmctld did not start: $(tail -n 3 "$d/log/slurmctld.err" "$d/log/slurmctld.log" 2>/dev/null | tr '\n' ' ')"; slurm_down "$d"; return 1; }
	/usr/sbin/slurmd -f "$SLURM_CONF" 2>"$d/log/slurmd.err" ||
		{ SLURM_WHY="slurmd did not start: $(tail -n 3 "$d/log/slurmd.err" "$d/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"; slurm_down "$d"; return 1; }
	# Up when the node is idle: at most 30 s.
	for i in $(seq 1 150); do
		case $(sinfo -h -N -o %t 2>/dev/null) in
		idle*) return 0 ;;
		esac
		sleep 0.2
	done
	SLURM_WHY="the node did not become idle: $(sinfo -h -N -o '%t %E' 2>&1 | head -n 1); $(tail -n 2 "$d/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
	slurm_down "$d"
	return 1
}

slurm_down() {
	local d=$1 f pid
	for f in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munge/munged.pid"; do
		[ -s "$f" ] || continue
		pid=$(cat "$f")
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	return 0
}
