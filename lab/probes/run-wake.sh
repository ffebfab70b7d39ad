#!/bin/bash
# run-wake.sh - does a thread that wakes beside CPU hogs run at once (wake-up preemption) or wait for the
# hog's slice? The measurement behind R8 in docs/measurements/cfs-stress.md. Root only (cgroup v1 cpu).
#
# usage:  lab/probes/run-wake.sh [OUTDIR]          (~3 min)
# 1. no quota, hogs pinned to CPU 1 with the probe: 0, 1, 2, 4 spinning hogs (same cgroup); 2 hogs at 80 %
#    duty; 2 hogs in another cgroup than the probe; a 300 us handler instead of 50 us.
# 2. a pod: cgroup with a 200m quota, stress-ng with Chaos Mesh's flags (--cpu-load-slice 10 --cpu-method
#    sqrt) and the probe (not pinned) in the same group: W x L = 1x80, 2x80, 2x100, 4x100. The wake-ups that
#    fall into a throttled stretch wait for the refill (>= 10 ms); the table separates them.
# 3. the pinned case of 1. inside a group with a 200m quota: 1, 2, 4 spinning hogs and the probe on CPU 1.
# 4. an idle vCPU woken from the other one (wakeidle.c): 20000 pipe wake-ups 1 ms apart, CPU 0 -> CPU 1,
#    and the hypervisor's steal time meanwhile; the tail is the host's part of a wake-up.
# SECTIONS="1 2 3 4" (default all) picks sections; every section writes each wake-up to late-*.txt (DUMP).
# Creates only cgroups named pc-probe-wake*, removes them on exit (also on failure or Ctrl-C); every process
# is bounded by timeout(1).
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-/tmp/pc-probe-wake-$(date +%Y%m%d-%H%M%S)}
CPU=/sys/fs/cgroup/cpu
mkdir -p "$OUT"
[ "$(id -u)" = 0 ] || { echo "run-wake.sh: needs root (cgroups)" >&2; exit 2; }
[ -d "$CPU" ] || { echo "run-wake.sh: no cgroup v1 cpu hierarchy at $CPU" >&2; exit 2; }
command -v stress-ng >/dev/null || { echo "run-wake.sh: stress-ng missing (apt-get install stress-ng)" >&2; exit 2; }

SPINNERS=()
cleanup() {
	for p in "${SPINNERS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for g in "$CPU"/pc-probe-wake*; do
		[ -d "$g" ] || continue
		while read -r p; do kill -9 "$p" 2>/dev/null; done <"$g/cgroup.procs"
		sleep 0.2
		rmdir "$g" 2>/dev/null
	done
}
trap cleanup EXIT INT TERM

cc -O2 -pthread "$HERE/wakeprobe.c" -o "$OUT/wakeprobe" || exit 2
cc -O2 -pthread "$HERE/wakeidle.c" -o "$OUT/wakeidle" || exit 2
# every group gets a large cpu.shares (as the lab's pods do, LAB_SHARES) so that other jobs on a shared
# machine take as little as possible of the CPU the probe competes for (SHARES=1024: the default weight)
group() { mkdir -p "$CPU/$1" && echo "${SHARES:-262144}" >"$CPU/$1/cpu.shares"; echo "$CPU/$1"; }
in_group() { local g=$1; shift; (echo $BASHPID >"$g/cgroup.procs" && exec "$@"); }

SECTIONS=" ${SECTIONS:-1 2 3 4} "
summarize() { # DUMPFILE LABEL: on time / late / throttled fractions and quantiles of the unthrottled
	python3 - "$1" "$2" <<'PY'
import sys
v = [int(x.split()[0]) / 1000 for x in open(sys.argv[1])]
n = len(v)
def frac(lo, hi): return sum(1 for x in v if lo <= x < hi) / n
u = sorted(x for x in v if x < 10000)
m = len(u)
print("%s: n %d; <100us %.3f, 0.1-1ms %.3f, 1-2ms %.3f, 2-10ms %.3f, throttled (>=10ms) %.3f; "
      "unthrottled p50 %.0f p90 %.0f p95 %.0f p99 %.0f us" % (sys.argv[2], n, frac(0, 100),
      frac(100, 1000), frac(1000, 2000), frac(2000, 10000), frac(10000, 1e12), u[m // 2], u[int(m * .9)],
      u[int(m * .95)], u[int(m * .99)]))
PY
}
: >"$OUT/summary.txt"
case $SECTIONS in *" 1 "*)
echo "== 1. no quota; hogs and probe on CPU 1 (lateness of the probe's wake-ups; 1500 each)" | tee -a "$OUT/summary.txt"
A=$(group pc-probe-wake-a)
B=$(group pc-probe-wake-b)
echo 1024 >"$B/cpu.shares" # the "other cgroup" hogs: an ordinary weight
for h in 0 1 2 4; do DUMP="$OUT/late-pinned-$h.txt" in_group "$A" timeout 30 "$OUT/wakeprobe" "$h" 1500 50; done | tee -a "$OUT/summary.txt"
DUTY=80 DUMP="$OUT/late-pinned-2x80.txt" in_group "$A" timeout 30 "$OUT/wakeprobe" 2 1500 50 | sed 's/^/(80 % hogs) /' | tee -a "$OUT/summary.txt"
DUMP="$OUT/late-pinned-2-300us.txt" in_group "$A" timeout 30 "$OUT/wakeprobe" 2 1500 300 | sed 's/^/(300 us handler) /' | tee -a "$OUT/summary.txt"
# two hogs in group B, the probe alone in group A (the hogs are a second process: wakeprobe with N=1
# would exit, so they are plain spinners pinned to CPU 1)
for _ in 1 2; do
	in_group "$B" timeout 12 taskset -c 1 sh -c 'while :; do :; done' &
	SPINNERS+=($!)
	disown # killed below, by pid: no job notice
done
sleep 0.5
in_group "$A" timeout 30 "$OUT/wakeprobe" 0 1500 50 | sed 's/^/(2 hogs in another cgroup) /' | tee -a "$OUT/summary.txt"
for p in "${SPINNERS[@]}"; do kill -9 "$p" 2>/dev/null; done
;; esac

case $SECTIONS in *" 2 "*)
echo "== 2. a 200m pod with stress-ng and the probe (4000 wake-ups each, 50 us handler)" | tee -a "$OUT/summary.txt"
P=$(group pc-probe-wake-pod)
echo 100000 >"$P/cpu.cfs_period_us"
echo 20000 >"$P/cpu.cfs_quota_us"
for wl in 1:80 2:80 2:100 4:100; do
	w=${wl%%:*} l=${wl##*:}
	in_group "$P" timeout 40 stress-ng --cpu-load-slice 10 --cpu-method sqrt --cpu "$w" --cpu-load "$l" \
		--timeout 35s >/dev/null 2>&1 &
	sp=$!
	sleep 1
	NOPIN=1 DUMP="$OUT/late-$w-$l.txt" in_group "$P" timeout 30 "$OUT/wakeprobe" 0 4000 50 >/dev/null
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	summarize "$OUT/late-$w-$l.txt" "${w}x$l" | tee -a "$OUT/summary.txt"
done
;; esac

case $SECTIONS in *" 3 "*)
echo "== 3. a 200m group; spinning hogs and the probe pinned to CPU 1 (4000 wake-ups each, 50 us handler)" | tee -a "$OUT/summary.txt"
Q=$(group pc-probe-wake-q)
echo 100000 >"$Q/cpu.cfs_period_us"
echo 20000 >"$Q/cpu.cfs_quota_us"
for h in 1 2 4; do
	DUMP="$OUT/late-quota-$h.txt" in_group "$Q" timeout 30 "$OUT/wakeprobe" "$h" 4000 50 >/dev/null
	summarize "$OUT/late-quota-$h.txt" "quota, $h pinned hogs" | tee -a "$OUT/summary.txt"
done
;; esac

case $SECTIONS in *" 4 "*)
echo "== 4. idle vCPU wake-ups, CPU 0 -> CPU 1 (pipe, 20000 x 1 ms)" | tee -a "$OUT/summary.txt"
steal() { awk '/^cpu / { print $9 }' /proc/stat; }
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
s0=$(steal) b0=$(busy) t0=$(date +%s%N)
DUMP="$OUT/wakeidle.txt" timeout 40 "$OUT/wakeidle" 20000 1000 | tee -a "$OUT/summary.txt"
s1=$(steal) b1=$(busy) t1=$(date +%s%N)
awk -v s=$((s1 - s0)) -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {
	printf "meanwhile: steal %.4f of a CPU, the machine busy %.2f CPUs (this probe included)\n", s / hz / (t / 1e9), b / hz / (t / 1e9) }' |
	tee -a "$OUT/summary.txt"
;; esac
echo "results in $OUT"
