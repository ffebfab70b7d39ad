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

cleanup() {
	pkill -f "pc-probe-wake-marker" 2>/dev/null
	for g in "$CPU"/pc-probe-wake*; do
		[ -d "$g" ] || continue
		while read -r p; do kill -9 "$p" 2>/dev/null; done <"$g/cgroup.procs"
		sleep 0.2
		rmdir "$g" 2>/dev/null
	done
}
trap cleanup EXIT INT TERM

cc -O2 -pthread "$HERE/wakeprobe.c" -o "$OUT/wakeprobe" || exit 2
group() { mkdir -p "$CPU/$1"; echo "$CPU/$1"; }
in_group() { local g=$1; shift; (echo $BASHPID >"$g/cgroup.procs" && exec "$@"); }

echo "== 1. no quota; hogs and probe on CPU 1 (lateness of the probe's wake-ups; 1500 each)" | tee "$OUT/summary.txt"
A=$(group pc-probe-wake-a)
B=$(group pc-probe-wake-b)
for h in 0 1 2 4; do in_group "$A" timeout 30 "$OUT/wakeprobe" "$h" 1500 50; done | tee -a "$OUT/summary.txt"
DUTY=80 in_group "$A" timeout 30 "$OUT/wakeprobe" 2 1500 50 | sed 's/^/(80 % hogs) /' | tee -a "$OUT/summary.txt"
in_group "$A" timeout 30 "$OUT/wakeprobe" 2 1500 300 | sed 's/^/(300 us handler) /' | tee -a "$OUT/summary.txt"
# two hogs in group B, the probe alone in group A (the hogs are a second process: wakeprobe with N=1
# would exit, so they are plain spinners pinned to CPU 1)
for _ in 1 2; do
	in_group "$B" timeout 12 taskset -c 1 sh -c 'while :; do :; done # pc-probe-wake-marker' &
	disown # killed below: no job notice
done
sleep 0.5
in_group "$A" timeout 30 "$OUT/wakeprobe" 0 1500 50 | sed 's/^/(2 hogs in another cgroup) /' | tee -a "$OUT/summary.txt"
pkill -f "pc-probe-wake-marker" 2>/dev/null

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
	python3 - "$OUT/late-$w-$l.txt" "$w" "$l" <<'PY' | tee -a "$OUT/summary.txt"
import sys
v = [int(x.split()[0]) / 1000 for x in open(sys.argv[1])]
n = len(v)
def frac(lo, hi): return sum(1 for x in v if lo <= x < hi) / n
u = sorted(x for x in v if x < 10000)
m = len(u)
print("%sx%s: n %d; <100us %.3f, 0.1-1ms %.3f, 1-2ms %.3f, 2-10ms %.3f, throttled (>=10ms) %.3f; "
      "unthrottled p50 %.0f p90 %.0f p95 %.0f p99 %.0f us" % (sys.argv[2], sys.argv[3], n, frac(0, 100),
      frac(100, 1000), frac(1000, 2000), frac(2000, 10000), frac(10000, 1e12), u[m // 2], u[int(m * .9)],
      u[int(m * .95)], u[int(m * .99)]))
PY
done
echo "results in $OUT"
