#!/bin/bash
# run-cfs.sh - measure CFS bandwidth control + stress-ng (Chaos Mesh StressChaos flags) + memory-cgroup OOM
# on a cgroup-v1 Linux box. Root only. Creates only cgroups named pc-probe-*, removes them on exit
# (also on failure / Ctrl-C), and bounds every process it starts with timeout(1) / stress-ng --timeout.
#
# usage:  lab/probes/run-cfs.sh [OUTDIR]
#   env:  SECTIONS="env cpu strace spin lat mem"  (subset to run)
#         REPS=3          repeats of each (W,L) consumption run
#         LATN=520        samples per latency probe
#         CONFIGS="1:80 2:80 2:100 4:100 2:50 2:30 2:60 2:90"   (W:L, all under a 200m quota)
#         SPINCONFIGS="2:80 2:100 1:80 4:100"  SPINREPS=2
#         LATCONFIGS="2:80 1:80 2:100 4:100"   LATREPEAT="2:80 1:80" (configs measured a second time)
#         SHARES=262144   cpu.shares of the probe groups (shields them from other load on the box)
# The sampler cgsample runs SCHED_FIFO 50 so that its 1 ms samples are not delayed at the refills.
# Then:   python3 lab/probes/analyze-cfs.py OUTDIR > OUTDIR/summary.md
#
# Whole run with the defaults: ~20 min.
set -u
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-/tmp/pc-probe-results-$(date +%Y%m%d-%H%M%S)}
SECTIONS=${SECTIONS:-"env cpu strace spin lat mem"}
REPS=${REPS:-3}
LATN=${LATN:-520}
CONFIGS=${CONFIGS:-"1:80 2:80 2:100 4:100 2:50 2:30 2:60 2:90"}
SPINCONFIGS=${SPINCONFIGS:-"2:80 2:100 1:80 4:100"}
SPINREPS=${SPINREPS:-2}
LATCONFIGS=${LATCONFIGS:-"2:80 1:80 2:100 4:100"}
LATREPEAT=${LATREPEAT-"2:80 1:80"}
QUOTA=20000
PERIOD=100000
SHARES=${SHARES:-262144}   # cpu.shares of the probe groups (1024 = default weight)
SNG_FLAGS="--cpu-load-slice 10 --cpu-method sqrt"   # exactly what Chaos Mesh passes

[ "$(id -u)" = 0 ] || { echo "run-cfs.sh: must run as root" >&2; exit 1; }
for t in stress-ng gcc strace timeout python3; do
	command -v $t >/dev/null || { echo "missing $t (apt-get install -y $t)" >&2; exit 1; }
done
[ -d /sys/fs/cgroup/cpu ] && [ -d /sys/fs/cgroup/cpuacct ] && [ -d /sys/fs/cgroup/memory ] ||
	{ echo "needs cgroup v1 cpu, cpuacct and memory hierarchies under /sys/fs/cgroup" >&2; exit 1; }

mkdir -p "$OUT"
BIN=$(mktemp -d /tmp/pc-probe-bin.XXXXXX)
CREATED=()   # "hier/name" of cgroups we created

log() { echo "[$(date +%T)] $*" | tee -a "$OUT/run.log" >&2; }

cg_kill_procs() { # $1 = hierarchy dir; kills only the processes inside our own cgroup
	local f=$1/cgroup.procs p
	[ -f "$f" ] || return 0
	for p in $(cat "$f" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
}

cg_destroy() { # $1 = name
	local h d i
	for h in cpu cpuacct memory; do
		d=/sys/fs/cgroup/$h/$1
		[ -d "$d" ] || continue
		for i in 1 2 3 4 5 6 7 8 9 10; do
			cg_kill_procs "$d"
			rmdir "$d" 2>/dev/null && break
			sleep 0.3
		done
		[ -d "$d" ] && echo "WARNING: could not remove $d" >&2
	done
}

cleanup() {
	local p c
	trap - EXIT INT TERM
	# only still-running background jobs of this shell (no stale pids that may have been reused)
	for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
	for c in "${CREATED[@]}"; do cg_destroy "${c#*/}"; done
	rm -rf "$BIN"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

cg_create_cpu() { # $1 name, $2 quota_us (-1 = unconstrained)
	local h
	for h in cpu cpuacct; do
		mkdir "/sys/fs/cgroup/$h/$1" || exit 1
		CREATED+=("$h/$1")
	done
	echo $PERIOD >"/sys/fs/cgroup/cpu/$1/cpu.cfs_period_us"
	echo "$2" >"/sys/fs/cgroup/cpu/$1/cpu.cfs_quota_us"
	# Shield the group from other load on a shared box: a large weight lets the group's tasks win
	# CPU contention against root-group tasks during its runnable window; the quota is unaffected.
	echo "$SHARES" >"/sys/fs/cgroup/cpu/$1/cpu.shares"
}

cg_create_mem() { # $1 name, $2 limit bytes
	mkdir "/sys/fs/cgroup/memory/$1" || exit 1
	CREATED+=("memory/$1")
	echo "$2" >"/sys/fs/cgroup/memory/$1/memory.limit_in_bytes"
}

cg_exec() { # $1 name, $2 hierarchies ("cpu cpuacct" or "memory"), rest = command.
	# Replaces the calling (sub)shell: call it as "cg_exec ... &" or "( cg_exec ... )".
	local name=$1 hs=$2
	shift 2
	exec sh -c 'for h in '"$hs"'; do echo $$ > /sys/fs/cgroup/$h/'"$name"'/cgroup.procs || exit 1; done; exec "$@"' sh "$@"
}

procstat() { head -1 /proc/stat; }

cgstat() { # $1 name
	echo "== cpu.stat"; cat "/sys/fs/cgroup/cpu/$1/cpu.stat"
	echo "== cpu.stat.local"; cat "/sys/fs/cgroup/cpu/$1/cpu.stat.local" 2>/dev/null
	echo "== cpuacct.usage"; cat "/sys/fs/cgroup/cpuacct/$1/cpuacct.usage"
	echo "== cpuacct.usage_percpu"; cat "/sys/fs/cgroup/cpuacct/$1/cpuacct.usage_percpu"
}

build() {
	gcc -O2 -Wall -o "$BIN/cpuprobe" "$HERE/cpuprobe.c" || exit 1
	gcc -O2 -Wall -o "$BIN/cgsample" "$HERE/cgsample.c" || exit 1
}

# ----------------------------------------------------------------------------------------------
sec_env() {
	local f=$OUT/env.txt
	log "env"
	{
		echo "== uname"; uname -a
		echo "== stress-ng"; stress-ng --version
		echo "== nproc"; nproc
		echo "== sched_cfs_bandwidth_slice_us"; cat /proc/sys/kernel/sched_cfs_bandwidth_slice_us
		echo "== config"; (zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null) |
			grep -E '^(# )?CONFIG_(HZ|HZ_[0-9]+|NO_HZ[A-Z_]*|PREEMPT[A-Z_]*|CFS_BANDWIDTH|NET_SCH_NETEM|SCHEDSTATS|SCHED_AUTOGROUP)[= ]'
		echo "== scheduler symbols (EEVDF = pick_eevdf present)"; grep -wE 'pick_eevdf|pick_next_entity|__pick_first_entity' /proc/kallsyms | awk '{print $3}' | sort -u
		echo "== preempt mode"; cat /sys/kernel/debug/sched/preempt 2>/dev/null || echo "(debugfs not mounted; CONFIG default applies unless preempt= on cmdline)"; grep -o 'preempt=[a-z]*' /proc/cmdline || true
		echo "== /proc/cmdline"; cat /proc/cmdline
		echo "== HZ evidence: local timer interrupts on CPU0 during 2 s of busy spin pinned to CPU0"
		local a b
		a=$(awk '/LOC:/{print $2}' /proc/interrupts)
		timeout 2 taskset -c 0 sh -c 'while :; do :; done'
		b=$(awk '/LOC:/{print $2}' /proc/interrupts)
		echo "LOC cpu0 delta over 2 s busy = $((b - a))  (=> ~$(((b - a) / 2)) ticks/s)"
		echo "== netem (private netns, lo)"
		timeout 10 unshare -n sh -c 'ip link set lo up; tc qdisc add dev lo root netem delay 1ms; echo "rc=$?"; tc qdisc show dev lo' 2>&1
		echo "== modprobe sch_netem"; timeout 10 modprobe sch_netem 2>&1; echo "rc=$?"
		echo "== memory"; free -m
		echo "== loadavg at start"; cat /proc/loadavg
	} >"$f" 2>&1
}

# one (W,L) stress-ng run under the quota; measures consumption from outside with cgsample
run_cpu_once() { # tag W L quota
	local tag=$1 w=$2 l=$3 q=$4 cg=pc-probe-$1 d=$OUT/cpu/$1
	mkdir -p "$d"
	cg_create_cpu "$cg" "$q"
	cg_exec "$cg" "cpu cpuacct" timeout -k 2 14 stress-ng $SNG_FLAGS --cpu "$w" --cpu-load "$l" --timeout 10s >"$d/stress-ng.log" 2>&1 &
	local sp=$!
	sleep 1.5
	procstat >"$d/procstat0"; cgstat "$cg" >"$d/cgstat0"
	timeout 12 "$BIN/cgsample" "$cg" 7 1000 "$d/cgs.txt"
	procstat >"$d/procstat1"; cgstat "$cg" >"$d/cgstat1"
	wait "$sp"
	cg_destroy "$cg"
}

sec_cpu() {
	local r c w l
	for r in $(seq 1 "$REPS"); do
		for c in $CONFIGS; do
			w=${c%:*}; l=${c#*:}
			log "cpu W=$w L=$l rep=$r"
			run_cpu_once "w${w}l${l}q-r$r" "$w" "$l" $QUOTA
		done
		log "cpu W=1 L=80 unconstrained rep=$r"
		run_cpu_once "w1l80nq-r$r" 1 80 -1
	done
}

# stress-ng under strace (only select/pselect6/clock_nanosleep stop, via seccomp-bpf) + cgsample aligned
run_strace_once() { # tag W L quota
	local tag=$1 w=$2 l=$3 q=$4 cg=pc-probe-$1 d=$OUT/strace/$1
	mkdir -p "$d"
	cg_create_cpu "$cg" "$q"
	cg_exec "$cg" "cpu cpuacct" timeout -k 2 14 strace -f --seccomp-bpf -ttt -T \
		-e trace=select,pselect6,clock_nanosleep -o "$d/strace.txt" \
		stress-ng $SNG_FLAGS --cpu "$w" --cpu-load "$l" --timeout 10s >"$d/stress-ng.log" 2>&1 &
	local sp=$!
	sleep 1.5
	timeout 12 "$BIN/cgsample" "$cg" 7 1000 "$d/cgs.txt"
	wait "$sp"
	cg_destroy "$cg"
}

sec_strace() {
	local c w l
	for c in $CONFIGS; do
		w=${c%:*}; l=${c#*:}
		log "strace W=$w L=$l"
		run_strace_once "w${w}l${l}q" "$w" "$l" $QUOTA
	done
	log "strace W=1 L=80 unconstrained"
	run_strace_once "w1l80nq" 1 80 -1
	# one run that also traces the CPU-clock reads (heavy: every clock_gettime stops), to show
	# what the busy slice is timed with
	log "strace clock_gettime W=2 L=80"
	local cg=pc-probe-clk d=$OUT/strace/clock-w2l80q
	mkdir -p "$d"
	cg_create_cpu $cg $QUOTA
	( cg_exec $cg "cpu cpuacct" timeout -k 2 8 strace -f -ttt -e trace=clock_gettime,pselect6,select \
		-o "$d/strace.txt" stress-ng $SNG_FLAGS --cpu 2 --cpu-load 80 --timeout 4s >/dev/null 2>&1 )
	cg_destroy $cg
}

# spinning probe next to the stressors
run_spin_once() { # tag W L(0 = no stress-ng) quota
	local tag=$1 w=$2 l=$3 q=$4 cg=pc-probe-$1 d=$OUT/spin/$1 sp=
	mkdir -p "$d"
	cg_create_cpu "$cg" "$q"
	if [ "$w" -gt 0 ]; then
		cg_exec "$cg" "cpu cpuacct" timeout -k 2 14 stress-ng $SNG_FLAGS --cpu "$w" --cpu-load "$l" --timeout 11s >"$d/stress-ng.log" 2>&1 &
		sp=$!
	fi
	sleep 1.5
	procstat >"$d/procstat0"
	cg_exec "$cg" "cpu cpuacct" timeout -k 2 12 "$BIN/cpuprobe" spin 8 "$d/spin.txt" &
	local pp=$!
	timeout 12 "$BIN/cgsample" "$cg" 8.2 1000 "$d/cgs.txt"
	wait "$pp"
	procstat >"$d/procstat1"
	[ -n "$sp" ] && wait "$sp"
	cg_destroy "$cg"
}

sec_spin() {
	local r c w l
	for r in $(seq 1 "$SPINREPS"); do
		for c in $SPINCONFIGS; do
			w=${c%:*}; l=${c#*:}
			log "spin W=$w L=$l rep=$r"
			run_spin_once "w${w}l${l}q-r$r" "$w" "$l" $QUOTA
		done
	done
	log "spin alone under quota"
	run_spin_once "alone-q" 0 0 $QUOTA
}

# latency probes (independent arrivals) next to the stressors; X = 0, 200, 2000 us run concurrently
run_lat_once() { # tag W L(0 = none) quota "X values run concurrently"
	local tag=$1 w=$2 l=$3 q=$4 xs=$5 cg=pc-probe-$1 d=$OUT/lat/$1 sp= x p
	local pp=()
	mkdir -p "$d"
	cg_create_cpu "$cg" "$q"
	if [ "$w" -gt 0 ]; then
		cg_exec "$cg" "cpu cpuacct" timeout -k 2 110 stress-ng $SNG_FLAGS --cpu "$w" --cpu-load "$l" --timeout 100s >"$d/stress-ng.log" 2>&1 &
		sp=$!
	fi
	sleep 1.5
	procstat >"$d/procstat0"
	timeout 110 "$BIN/cgsample" "$cg" 105 1000 "$d/cgs.txt" &
	local cs=$!
	for x in $xs; do
		cg_exec "$cg" "cpu cpuacct" timeout -k 2 100 "$BIN/cpuprobe" lat "$LATN" "$x" $((1000 + x)) "$d/lat-x$x.txt" &
		pp+=($!)
	done
	for p in "${pp[@]}"; do wait "$p"; done
	kill -TERM "$cs" 2>/dev/null; wait "$cs"
	procstat >"$d/procstat1"
	if [ -n "$sp" ]; then
		kill -TERM "$sp" 2>/dev/null
		wait "$sp"
	fi
	cg_destroy "$cg"
}

# X=0 and X=200 run concurrently (they use < 0.5 % CPU); X=2000 runs alone, because with fewer
# workers than CPUs its 2 ms bursts throttle the idle CPU's cfs_rq and delay the other probes.
sec_lat() {
	log "lat baseline (quota, no stress)"
	run_lat_once "base-q-x0x200" 0 0 $QUOTA "0 200"
	run_lat_once "base-q-x2000" 0 0 $QUOTA "2000"
	local c w l
	for c in $LATCONFIGS; do
		w=${c%:*}; l=${c#*:}
		log "lat W=$w L=$l"
		run_lat_once "w${w}l${l}q-r1-x0x200" "$w" "$l" $QUOTA "0 200"
		run_lat_once "w${w}l${l}q-r1-x2000" "$w" "$l" $QUOTA "2000"
	done
	for c in $LATREPEAT; do
		w=${c%:*}; l=${c#*:}
		log "lat W=$w L=$l rep 2"
		run_lat_once "w${w}l${l}q-r2-x0x200" "$w" "$l" $QUOTA "0 200"
		run_lat_once "w${w}l${l}q-r2-x2000" "$w" "$l" $QUOTA "2000"
	done
}

# memory cgroup: stress-ng --vm next to a small "app" process
run_mem_once() { # tag vm_workers vm_bytes app_mib
	local tag=$1 n=$2 b=$3 app=$4 cg=pc-probe-$1 d=$OUT/mem/$1 m
	m=/sys/fs/cgroup/memory/pc-probe-$1
	mkdir -p "$d"
	cg_create_mem "$cg" $((128 * 1024 * 1024))
	local since
	since=$(awk '{print $1}' /proc/uptime)
	cg_exec "$cg" memory timeout -k 2 28 python3 -c "
import time
b = bytearray($app * 2**20)
for i in range(0, len(b), 4096): b[i] = 1
time.sleep(25)" &
	local ap=$!
	sleep 1
	cg_exec "$cg" memory timeout -k 2 14 stress-ng --vm "$n" --vm-bytes "$b" --vm-keep --timeout 10s --metrics-brief >"$d/stress-ng.log" 2>&1 &
	local sp=$!
	{
		local i=0 p
		while kill -0 "$sp" 2>/dev/null && [ $i -lt 120 ]; do
			i=$((i + 1))
			echo "t=$i usage=$(cat $m/memory.usage_in_bytes) failcnt=$(cat $m/memory.failcnt) oom_kill=$(awk '/oom_kill /{print $2}' $m/memory.oom_control)"
			for p in $(cat $m/cgroup.procs); do
				echo "  pid=$p comm=$(cat /proc/$p/comm 2>/dev/null) rss_kb=$(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null) oom_score_adj=$(cat /proc/$p/oom_score_adj 2>/dev/null) oom_score=$(cat /proc/$p/oom_score 2>/dev/null)"
			done
			sleep 0.2
		done
	} >"$d/samples.txt" 2>&1
	wait "$sp" >"$d/stress-ng.rc" 2>&1; echo "stress-ng rc=$?" >>"$d/stress-ng.rc"
	{
		echo "== max_usage_in_bytes"; cat $m/memory.max_usage_in_bytes
		echo "== failcnt"; cat $m/memory.failcnt
		echo "== oom_control"; cat $m/memory.oom_control
		echo "== memory.stat"; cat $m/memory.stat
		echo "== app (python3, $app MiB bytearray) alive after stress-ng ended?"; for p in $(cat $m/cgroup.procs); do cat /proc/$p/comm 2>/dev/null; done | grep -q '^python' && echo "app alive" || echo "app DEAD"
	} >"$d/final.txt" 2>&1
	# kernel messages since the start of this case (by timestamp; the ring buffer may have wrapped)
	dmesg 2>/dev/null | awk -v s="$since" 'match($0, /^\[ *[0-9]+\.[0-9]+\]/) { t = substr($0, RSTART + 1, RLENGTH - 2) + 0; if (t >= s) print }' |
		grep -iE 'oom|killed process|memory cgroup|out of memory|invoked' >"$d/dmesg.txt" 2>&1
	kill -TERM "$ap" 2>/dev/null
	wait "$ap" 2>/dev/null
	cg_destroy "$cg"
}

# NB: stress-ng 0.15.06 divides --vm-bytes among the --vm instances (each worker maps
# vm-bytes / N), although its man page says "per vm worker". So "--vm 2 --vm-bytes 50M" is 50 MB in
# total; "--vm 2 --vm-bytes 100M" is 2 x 50 MB.
sec_mem() {
	local c
	for c in "vm2-50M-app8 2 50M 8" "vm2-100M-app8 2 100M 8" "vm2-70M-app8 2 70M 8" \
		"vm2-140M-app8 2 140M 8" "vm2-100M-app40 2 100M 40"; do
		set -- $c
		log "mem --vm $2 --vm-bytes $3 + app $4 MiB"
		run_mem_once "mem-$1" "$2" "$3" "$4"
	done
}

# ----------------------------------------------------------------------------------------------
build
log "results in $OUT; sections: $SECTIONS"
for s in $SECTIONS; do "sec_$s"; done
log "done"
