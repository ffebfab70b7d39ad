#!/usr/bin/env bash
# tests/bench/sweep.sh: how well a seed range uses the cores (a benchmark, not a test).
#
#   SEEDS=1..1000 THREADS=$(nproc) bash tests/bench/sweep.sh
#
# Runs the headline (`bin/sim --loss 0.8 --seeds $SEEDS --threads $THREADS --perf`) and reports its parallel
# efficiency two ways, from the --perf line (each run timed by its own thread, from the start of its seed to its
# results stored):
#   by run time  = sum of the runs' wall-clock times / (wall time x threads): how much of the time every thread
#                  had a seed to run (the hand-out of seeds, the tail, anything serial). Other processes on the
#                  machine slow every run alike, so this holds on a shared machine. Target >= 0.9.
#   by CPU time  = sum of the runs' CPU times / (wall time x threads): the share of the cores the runs really
#                  got. Only meaningful on an idle machine; the script prints the load average and the CPU
#                  pressure (/proc/pressure/cpu, "some" = share of time a runnable task waited for a CPU) so
#                  that a low figure can be told apart from a busy machine.
# And, to see whether the threads slow each other down (shared caches, allocator, locks): the CPU time per run
# with THREADS threads against one thread (BASE_SEEDS seeds, default 1..100): close to 1 when they do not.
# Exit status: 0 when the efficiency by run time is at least 0.9, else 1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SEEDS=${SEEDS:-1..1000}
THREADS=${THREADS:-$(nproc)}
BASE_SEEDS=${BASE_SEEDS:-1..100}
cd "$ROOT"
make -s bin/sim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

machine() { echo "load average $(cut -d' ' -f1-3 /proc/loadavg), CPU pressure: $(head -1 /proc/pressure/cpu 2>/dev/null || echo n/a)"; }
# perf_field FILE N: the Nth number of the --perf line (1 runs, 2 threads, 3 wall, 4 run times, 5 CPU times, ...)
perf_field() { grep '^perf: ' "$1" | tail -1 | grep -oE '[0-9]+(\.[0-9]+)?' | sed -n "${2}p"; }

echo "machine: $(nproc) CPUs, $(uname -r); before: $(machine)"
start=$(date -u +%FT%TZ)
/usr/bin/time -f 'process: %e s wall, %U s user, %S s sys' bin/sim --loss 0.8 --seeds "$SEEDS" --threads "$THREADS" --perf \
	>"$tmp/out" 2>"$tmp/err"
echo "after:   $(machine)"
grep -E '^(perf|process):' "$tmp/err"
runs=$(perf_field "$tmp/err" 1)
wall=$(perf_field "$tmp/err" 3)
run_s=$(perf_field "$tmp/err" 4)
cpu_s=$(perf_field "$tmp/err" 5)

bin/sim --loss 0.8 --seeds "$BASE_SEEDS" --threads 1 --perf >/dev/null 2>"$tmp/base"
base_runs=$(perf_field "$tmp/base" 1)
base_cpu=$(perf_field "$tmp/base" 5)

awk -v runs="$runs" -v wall="$wall" -v run_s="$run_s" -v cpu_s="$cpu_s" -v t="$THREADS" -v br="$base_runs" \
	-v bc="$base_cpu" -v seeds="$SEEDS" -v start="$start" 'BEGIN {
    er = run_s / (wall * t); ec = cpu_s / (wall * t)
    printf "sweep: --seeds %s (%d runs) on %d threads, started %s: %.1f s wall\n", seeds, runs, t, start, wall
    printf "  parallel efficiency by run time: %.3f (sum of run times %.1f s / (%.1f s x %d))\n", er, run_s, wall, t
    printf "  parallel efficiency by CPU time: %.3f (sum of CPU times %.1f s / (%.1f s x %d)); only meaningful on an idle machine\n", ec, cpu_s, wall, t
    printf "  CPU per run: %.1f ms with %d threads, %.1f ms with 1 (%d runs): ratio %.3f (1 = the threads do not slow each other)\n", 1000 * cpu_s / runs, t, 1000 * bc / br, br, (bc / br) / (cpu_s / runs)
    if (er >= 0.9) { print "sweep: PASS (>= 0.9 by run time)"; exit 0 }
    print "sweep: below 0.9 by run time"; exit 1
}'
