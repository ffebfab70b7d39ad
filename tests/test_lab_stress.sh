#!/bin/bash
# test_lab_stress.sh: two StressChaos actions on one lab pod run side by side, and each one's end stops its
# own stress-ng only (lab/lab.sh stress_start, stress_stop), as chaos-daemon kills only the process it
# started. The seed's 05 file applied at once puts five objects on the payment pods: when the first of them
# ended, the lab used to kill every stressor of the pod, so most of the file's chaos phase ran unstressed
# (2026-12-07: stress CPU 23.7 s per payment pod in the lab against the simulator's 82.7 s).
#
# Root with writable cgroup v1 cpu, cpuacct and memory controllers and stress-ng (skipped otherwise). Its
# cgroups (pc-lab-t<PID>) and processes are removed at the end, also on failure.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/support/testlib.sh"
. "$ROOT/lab/lab.sh"

if [ "$(id -u)" != 0 ] || ! command -v stress-ng >/dev/null || [ ! -w "$CG/cpuacct" ] || [ ! -w "$CG/cpu" ] ||
	[ ! -w "$CG/memory" ]; then
	echo "test_lab_stress: skipped (needs root, stress-ng and writable cgroup v1 cpu, cpuacct, memory)"
	exit 0
fi

pod=t$$
LAB_DIR=$tmp/lab
mkdir -p "$LAB_DIR/logs" "$LAB_DIR/stress" "$CG/cpu/pc-lab-$pod" "$CG/cpuacct/pc-lab-$pod/stress" "$CG/memory/pc-lab-$pod"
: >"$LAB_DIR/bg.pids"
cleanup() {
	local p d i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		for p in $(cat "$CG/cpu/pc-lab-$pod/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		[ -z "$(cat "$CG/cpu/pc-lab-$pod/cgroup.procs" 2>/dev/null)" ] && break
		sleep 0.1
	done
	for d in "$CG"/cpuacct/pc-lab-$pod/stress/a* "$CG/cpuacct/pc-lab-$pod/stress" "$CG/cpuacct/pc-lab-$pod" \
		"$CG/cpu/pc-lab-$pod" "$CG/memory/pc-lab-$pod"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# two CPU actions (1 worker at 10 % each) on the same pod
declare -A ACT_CPU_WORKERS=([0]=1 [1]=1) ACT_CPU_LOAD=([0]=10 [1]=10) ACT_MEM_WORKERS=() ACT_MEM_BYTES=()
alive() { # the live processes of action $1's stress group
	local p n=0
	for p in $(cat "$CG/cpuacct/pc-lab-$pod/stress/a$1/cgroup.procs" 2>/dev/null); do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
	echo $n
}
stress_start 0 "$pod"
stress_start 1 "$pod"
for i in $(seq 50); do [ "$(alive 0)" -ge 2 ] && [ "$(alive 1)" -ge 2 ] && break; sleep 0.1; done
n0=$(alive 0)
[ "$n0" -ge 2 ] && [ "$(alive 1)" -ge 2 ] && ok "each action's stress-ng and its worker in a group of their own ($n0 and $(alive 1))" ||
	bad "the actions' stress groups hold $(alive 0) and $(alive 1) processes (want 2 each: stress-ng and its worker)"
pod_stress=$(cat "$CG/cpuacct/pc-lab-$pod/stress/cgroup.procs")
[ -z "$pod_stress" ] && ok "no stressor directly in the pod's stress group (its cpuacct sums the actions')" ||
	bad "processes directly in the pod's stress group: $pod_stress"

before=$(cat "$CG/cpuacct/pc-lab-$pod/stress/cpuacct.usage")
stress_stop 1
sleep 0.3
[ ! -d "$CG/cpuacct/pc-lab-$pod/stress/a1" ] && ok "the ended action's group is removed" || bad "a1's group is still there"
read -r pid0 start0 _ <"$LAB_DIR/stress/0"
[ "$n0" -ge 2 ] && [ "$(alive 0)" = "$n0" ] && pid_signal 0 "$pid0" "$start0" &&
	ok "the other action's stress-ng (pid $pid0) and worker still run after one action ends" ||
	bad "action 1's end left $(alive 0) of action 0's $n0 processes (its stress-ng $pid0: $(pid_signal 0 "$pid0" "$start0" && echo alive || echo gone))"
after=$(cat "$CG/cpuacct/pc-lab-$pod/stress/cpuacct.usage")
[ "$after" -ge "$before" ] && ok "the pod's stress CPU keeps the ended action's share ($before -> $after ns)" ||
	bad "the pod's stress CPU fell from $before to $after ns when a group was removed"

stress_stop 0
sleep 0.3
[ ! -d "$CG/cpuacct/pc-lab-$pod/stress/a0" ] && [ -z "$(cat "$CG/cpu/pc-lab-$pod/cgroup.procs")" ] &&
	ok "the last action's end leaves no stressor in the pod" || bad "stressors left: $(cat "$CG/cpu/pc-lab-$pod/cgroup.procs")"
tl_finish test_lab_stress
