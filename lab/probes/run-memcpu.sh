#!/bin/bash
# run-memcpu.sh - how much CPU a memory stressor takes in a pod, and when (the measurement behind the
# simulator's memory-stress CPU model, docs/measurements/cfs-stress.md R9). Root only (cgroup v1).
#
# usage:  lab/probes/run-memcpu.sh [OUTDIR]          (~2 min)
# A pod = cgroups cpu (quota 20 ms per 100 ms, i.e. 200m, or none), cpuacct and memory (128 MiB), holding a
# 5 MiB "service" (python3, touched once, as the services' RSS) and the lab's memory stressor
# (lab/lab.sh: stress-ng --vm W --vm-bytes SIZE --vm-hang 0: map, touch, hold). cgsample reads the pod's
# cpuacct every 2 ms from outside; memory.usage_in_bytes, failcnt and oom_kill are read every 50 ms. Each
# case runs 8 s from the stressor's start. The summary gives the stressor's CPU in the first 0.1/0.5/1/2 s
# and per second afterwards, the time until it stops using CPU, and the peak memory.
# Creates only cgroups named pc-probe-memcpu*, removes them on exit (also on failure or Ctrl-C); every
# process is bounded by timeout(1).
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-/tmp/pc-probe-memcpu-$(date +%Y%m%d-%H%M%S)}
CG=/sys/fs/cgroup
mkdir -p "$OUT"
[ "$(id -u)" = 0 ] || { echo "run-memcpu.sh: needs root (cgroups)" >&2; exit 2; }
for h in cpu cpuacct memory; do [ -d "$CG/$h" ] || { echo "run-memcpu.sh: no cgroup v1 $h" >&2; exit 2; }; done
command -v stress-ng >/dev/null || { echo "run-memcpu.sh: stress-ng missing (apt-get install stress-ng)" >&2; exit 2; }

cleanup() {
	local g p
	for g in "$CG"/cpu/pc-probe-memcpu* "$CG"/cpuacct/pc-probe-memcpu* "$CG"/memory/pc-probe-memcpu*; do
		[ -d "$g" ] || continue
		for p in $(cat "$g/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	sleep 0.3
	for g in "$CG"/cpu/pc-probe-memcpu* "$CG"/cpuacct/pc-probe-memcpu* "$CG"/memory/pc-probe-memcpu*; do
		[ -d "$g" ] && rmdir "$g" 2>/dev/null
	done
}
trap cleanup EXIT INT TERM

cc -O2 -Wall -o "$OUT/cgsample" "$HERE/cgsample.c" || exit 2

# one case: TAG QUOTA_US WORKERS BYTES [STRESS-NG ARGS...] (default: the lab's memory stressor)
run_case() {
	local tag=$1 quota=$2 w=$3 bytes=$4 name=pc-probe-memcpu-$1 h
	shift 4
	local args=("$@")
	[ ${#args[@]} -gt 0 ] || args=(--vm "$w" --vm-bytes "$bytes" --vm-hang 0)
	for h in cpu cpuacct memory; do mkdir -p "$CG/$h/$name"; done
	echo 100000 >"$CG/cpu/$name/cpu.cfs_period_us"
	echo "$quota" >"$CG/cpu/$name/cpu.cfs_quota_us"
	echo $((128 * 1024 * 1024)) >"$CG/memory/$name/memory.limit_in_bytes"
	in_pod() { (for h in cpu cpuacct memory; do echo $BASHPID >"$CG/$h/$name/cgroup.procs"; done && exec "$@"); }
	in_pod timeout 14 python3 -c 'import time; b = bytearray(5 << 20); time.sleep(12)' &
	sleep 1
	"$OUT/cgsample" "$name" 9 2000 "$OUT/$tag.cg" &
	local sampler=$!
	sleep 0.5
	date +%s%N >"$OUT/$tag.start"
	in_pod timeout 10 stress-ng "${args[@]}" --timeout 8s --quiet &
	for _ in $(seq 1 170); do
		echo "$(date +%s%N) $(cat "$CG/memory/$name/memory.usage_in_bytes") $(cat "$CG/memory/$name/memory.failcnt") $(awk '/oom_kill /{print $2}' "$CG/memory/$name/memory.oom_control")"
		sleep 0.05
	done >"$OUT/$tag.mem"
	wait "$sampler" 2>/dev/null
	for p in $(cat "$CG/cpu/$name/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	sleep 0.5
	for h in cpu cpuacct memory; do rmdir "$CG/$h/$name" 2>/dev/null; done
	python3 - "$OUT/$tag" "$tag" <<'PY' | tee -a "$OUT/summary.txt"
import sys
base, tag = sys.argv[1], sys.argv[2]
t0 = int(open(base + ".start").read())
rows = []
hdr = None
for line in open(base + ".cg"):
    if line.startswith("#"):
        hdr = line
        continue
    f = line.split()
    rows.append((int(f[0]), int(f[1]), int(f[2]), int(f[3]), sum(int(x) for x in f[4:])))
t0_mono = int(hdr.split("t0_ns=")[1].split()[0])
t0_real = int(hdr.split("t0_realtime_ns=")[1].split()[0])
start = t0 - t0_real  # the stressor's start relative to the sampler's first sample
def used(a, b):
    u = [r[4] for r in rows if start + a * 1e9 <= r[0] <= start + b * 1e9]
    return (u[-1] - u[0]) / 1e6 if len(u) > 1 else float("nan")
base_rate = used(-0.5, 0) * 2  # ms per s before the stressor (the 5 MiB service idles)
last = rows[-1]
busy_end = 0
for i in range(1, len(rows)):
    if rows[i][4] - rows[i - 1][4] > 100000 and rows[i][0] > start:  # > 0.1 ms in 2 ms
        busy_end = (rows[i][0] - start) / 1e9
mem = [l.split() for l in open(base + ".mem")]
peak = max(int(m[1]) for m in mem) / 2**20
before = int(mem[0][1]) / 2**20
print("%-22s CPU ms in 0-0.1 s %.1f, 0-0.5 s %.1f, 0-1 s %.1f, 0-2 s %.1f, 2-8 s %.1f per s; busy until %.2f s; "
      "throttled periods %d of %d; memory %.1f MiB before, peak %.1f MiB, failcnt %s, oom_kill %s; idle before %.2f ms/s" % (
      tag, used(0, 0.1), used(0, 0.5), used(0, 1), used(0, 2), used(2, 8) / 6, busy_end, last[2] - rows[0][2],
      last[1] - rows[0][1], before, peak, mem[-1][2], mem[-1][3], base_rate))
PY
}

echo "== memory stressor CPU in a pod (cpuacct every 2 ms; the stressor starts at 0)" | tee "$OUT/summary.txt"
grep -E "^(model name|cpu MHz)" /proc/cpuinfo | sort -u | tee -a "$OUT/summary.txt"
# the simulator's memory-stress cells: 05 memory-stress-inventory (100MB over 2 workers), combined (80MB, 1)
run_case quota-2x100MB 20000 2 100000000
run_case quota-1x80MB 20000 1 80000000
run_case noquota-2x100MB -1 2 100000000
run_case noquota-1x80MB -1 1 80000000
run_case noquota-1x20MB -1 1 20000000
run_case quota-2x140MB 20000 2 140000000
# what a CPU stressor itself holds in the pod's memory (every StressChaos object is a stress-ng of its own)
run_case cpu-2x80 20000 0 0 --cpu 2 --cpu-load 80 --cpu-load-slice 10 --cpu-method sqrt
run_case cpu-4x100 20000 0 0 --cpu 4 --cpu-load 100 --cpu-load-slice 10 --cpu-method sqrt
run_case cpu-2x60-vm-80MB 20000 0 0 --cpu 2 --cpu-load 60 --cpu-load-slice 10 --cpu-method sqrt --vm 1 --vm-bytes 80000000 --vm-hang 0
echo "results in $OUT"
