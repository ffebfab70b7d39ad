#!/bin/bash
# fidelity.sh: the same scenarios in the lab (real binaries, real kernel) and in bin/sim's model, one table.
#
#   lab/fidelity.sh full     the matrix (under 20 minutes): prints the table
#   lab/fidelity.sh quick    a subset (about 4 minutes, up to 5 when it measures again; CI): exit 1 if a
#                                       difference leaves its bound
#   lab/fidelity.sh CELL...  only the named cells of the full matrix (e.g. loss50-keep cpu2x80)
#   lab/fidelity.sh aa [REPS] the A/A measurement (`make fidelity-aa`): every quick cell REPS times
#                                       (default 5) in the lab alone, and the spread of each judged figure
#                                       between the lab's runs beside the simulator's spread between seeds
#
# The two no-fault cells run first and calibrate the machine (calibrate_machine below: its CPU speed and
# its packet latency), so every other figure is the simulator's prediction for this box; in quick mode, if
# either of them misses a bound, both are measured again and the machine recalibrated (calibrate_and_judge).
# Every cell runs the same command line in both: the lab (lab/lab.sh: bin/loadgen drives the real
# services and injects the simulator's own actions) and the simulator pooled over FIDELITY_SIM_SEEDS seeds
# (default 40). Compared: the chaos phase's success rate, p50, p95 and p99 (p90 shown). Bounds
# (lab/fidelity.c): success within 3 percentage points, a quantile within 15 % of the simulator's value,
# or within the range one run of the model reaches (99 %, from the seeds' own figures) when that is wider,
# or the batch-means interval (success, p50). The lab's reports and request records are kept
# in build/fidelity/<mode>/. Exit status: 0 all within bounds (quick) or table printed (full), 1 a bound
# missed (quick), 2 the lab failed, 3 something of the lab was left on the machine.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab.sh
source "$HERE/lab.sh"
MODE=${1:-quick}
SEEDS=${FIDELITY_SIM_SEEDS:-40}
RATE=${FIDELITY_RATE:-20}
# quick: how many missed cells may be measured a second time, and before how many seconds into the run
# such a measurement must end (the cell loop below says why)
RETRIES_MAX=2
RETRY_BUDGET_S=270
# FIDELITY_MODEL: options given to the simulator's side only, to check that the gate catches a wrong model,
# e.g. FIDELITY_MODEL="--syn-schedule doubling" make fidelity-quick (the pre-6.5 SYN timers): exit 1
read -r -a MODEL <<<"${FIDELITY_MODEL:-}"
OUTDIR=$LAB_ROOT/build/fidelity/$MODE
LINK=(--link payment:inventory --direction to)

# name | chaos seconds | options (besides --seed, phases, --rate) [| duration]
# An experiment cell runs for its object's own span (chaos 0); a fourth field sets the `duration` of the
# file's objects first (cell_args: a copy in OUTDIR/yaml), so a 5-minute seed object runs as a 40 s cell.
SEED02=chaos-experiments/02-packet-loss-80-percent.yaml
FULL=(
	"none-keep|40|"
	"none-fresh|40|--downstream-keepalive off"
	"loss20-keep|40|--loss 20% ${LINK[*]}"
	"loss50-keep|40|--loss 50% ${LINK[*]}"
	"loss80-keep|40|--loss 80% ${LINK[*]}"
	"loss20-fresh|40|--loss 20% ${LINK[*]} --downstream-keepalive off"
	"loss50-fresh|40|--loss 50% ${LINK[*]} --downstream-keepalive off"
	"loss80-fresh|40|--loss 80% ${LINK[*]} --downstream-keepalive off"
	"cpu1x80|40|--cpu-workers 1 --cpu-load 80 --cpu-target payment"
	"cpu2x80|40|--cpu-workers 2 --cpu-load 80 --cpu-target payment"
	"cpu2x100|40|--cpu-workers 2 --cpu-load 100 --cpu-target payment"
	"kill-inventory|40|--pod-kill inventory@10s"
	"exp-cpu-stress-100|0|--experiment chaos-experiments/05-stress-chaos.yaml --object cpu-stress-100-percent"
	# CPU stress as the kernel schedules it (docs/calibration.md, "CPU stress"); the seed's 05 file
	"cpu1x30|40|--cpu-workers 1 --cpu-load 30 --cpu-target payment"
	"cpu4x100-one-pod|0|--experiment chaos-experiments/05-stress-chaos.yaml --object cpu-stress-100-percent"
	"cpu2x80-inventory|40|--cpu-workers 2 --cpu-load 80 --cpu-target inventory"
	"cpu-mem-combined|40|--cpu-workers 2 --cpu-load 60 --cpu-target payment --mem-stress 80MB --mem-workers 1 --mem-target payment"
	"seed-05-together|0|--experiment chaos-experiments/05-stress-chaos.yaml --together"
	# the seed's `test-chaos.sh stress`: 50 payments at once (1 s into each phase), judged on their p50 and
	# p99 (with 50 requests the p99 is the last answer: the time until all 50 are answered)
	"burst50-none|10|--burst 50 --workload process"
	"burst50-cpu2x80|10|--burst 50 --workload process --cpu-workers 2 --cpu-load 80 --cpu-target payment"
	# breaking points that `bin/sim --explore` emits (docs/explore.md), run as written: @explore/NAME is the
	# file DIR/NN-NAME.yaml of EXPLORE_CMD's output, made once per run before the lab starts. The row
	# also evaluates the file's expectation on the lab's figure: the break confirmed on a real kernel.
	"explore-loss-payment-inventory|0|--experiment @explore/loss-payment-inventory"
	"explore-loss-notification-notification|0|--experiment @explore/loss-notification-notification"
	"explore-pod-kill-payment|0|--experiment @explore/pod-kill-payment"
)
# Every NetworkChaos action (the wire: bin/labwire where the kernel has no sch_netem; docs/lab.md): the
# seed's own objects of 02 (its 80 %/50 with a pod-IP filter that never sees payment's calls to the Service
# IP: predicted no effect; the 95 % pair; loss with 2 s +- 500 ms delay; the whole file at once, as kubectl
# apply -f applies it: 9 minutes), then lab/cells.yaml: one object per netem field, tbf, partitions. They
# close the full matrix, and a run with one of them runs on the wire (is_wire_cell).
WIRE_CELLS=(
	"seed-02-loss80-corr50|0|--experiment $SEED02 --object seed-packet-loss-80-corr50|40s"
	"seed-02-loss95-both|0|--experiment $SEED02 --object packet-loss-95-percent|40s"
	"seed-02-loss-delay|0|--experiment $SEED02 --object packet-loss-with-delay|40s"
	"seed-02-together|0|--experiment $SEED02 --together"
	"delay100|0|--experiment lab/cells.yaml --object delay100"
	"delay200-jitter50-corr25|0|--experiment lab/cells.yaml --object delay200-jitter50-corr25"
	"loss80-corr50-svc|0|--experiment lab/cells.yaml --object loss80-corr50-svc"
	"duplicate50|0|--experiment lab/cells.yaml --object duplicate50"
	"corrupt50|0|--experiment lab/cells.yaml --object corrupt50"
	"reorder25-delay10|0|--experiment lab/cells.yaml --object reorder25-delay10"
	"bandwidth1mbps|0|--experiment lab/cells.yaml --object bandwidth1mbps"
	"partition-both|0|--experiment lab/cells.yaml --object partition-both"
	"partition-to|0|--experiment lab/cells.yaml --object partition-to"
)
FULL+=("${WIRE_CELLS[@]}")
is_wire_cell() {
	local c
	for c in "${WIRE_CELLS[@]}"; do [ "${c%%|*}" = "$1" ] && return 0; done
	return 1
}
EXPLORE_EXPECT='chain.success_rate >= 0.99'
EXPLORE_CMD=(--explore --expect "$EXPLORE_EXPECT" --seed 1)
# The CI subset: the cells whose every bound the model meets on this machine in every lab run so far
# (docs/calibration.md lists the misses of the full matrix). cpu1x80 agrees on average but its lab p50 moved
# from 14 ms to 5.5 ms between two runs (the median sits on the steep edge of a bimodal distribution), too
# unstable for a gate; so is loss20-keep's p99, which sits between two points of the retransmission
# lattice (420 or 830 ms, depending on whether ~1 % of requests needed a second RTO), and loss80-keep's
# success rate: over eight lab runs it spread 85.2-91.8 % (sd 2.8 pp, twice the binomial 1.5 pp, mean 88.4 %
# against the simulator's 87.8 %), because requests that share a kept-alive connection share its fate
# (its RTO backoff, its lost segments), so they are not independent samples. With fresh connections they are.
# cpu2x80 is not in yet: on a quiet machine its lab p99 is bimodal (93-94 ms in two runs of 2026-12-07, as the
# EEVDF model predicts, 153 ms in a third with p50 +19 %: a chain spilling into its pod's next CFS period),
# which the model does not reproduce; in the gate it would fail a right loss model about one run in three.
QUICK=(
	"none-keep|20|"
	"none-fresh|20|--downstream-keepalive off"
	"loss20-fresh|25|--loss 20% ${LINK[*]} --downstream-keepalive off"
	"loss50-fresh|25|--loss 50% ${LINK[*]} --downstream-keepalive off"
	"loss80-fresh|25|--loss 80% ${LINK[*]} --downstream-keepalive off"
)
# The gate runs on the nft wire (loss with nftables numgen on veths), on which its false-alarm rate was
# measured (docs/fidelity.md). The wire's own two predictions (seed-02-loss80-corr50: the seed's 80 %/50
# object whose pod-IP filter payment's calls never meet, 0 packets faulted; delay100) are not in it: with
# them, 15 s each, the gate ran through bin/labwire and passed three runs in a row here (2026-12-07), then
# failed a CI run twice over: loss80-fresh's ledger counted 12 frames more at the node than the wire sent,
# and the seed's object missed its p95 and p99 by +70 % and +180 % on a host tail that grew within the cell.
# Both are the wire's and the box's, not the model's; a gate must not fail on them.

case $MODE in
full) CELLS=("${FULL[@]}") ;;
quick)
	CELLS=("${QUICK[@]}")
	export LAB_WIRE=${LAB_WIRE:-nft}
	;;
aa)
	CELLS=("${QUICK[@]}")
	export LAB_WIRE=${LAB_WIRE:-nft}
	REPS=${2:-${FIDELITY_AA_REPS:-5}}
	[[ $REPS =~ ^[0-9]+$ ]] && [ "$REPS" -ge 2 ] && [ "$REPS" -le 50 ] || lab_die "fidelity.sh aa [REPS]: REPS is 2..50"
	;;
*)
	CELLS=()
	for want in "$@"; do
		for c in "${FULL[@]}"; do [ "${c%%|*}" = "$want" ] && CELLS+=("$c"); done
	done
	[ ${#CELLS[@]} -gt 0 ] || lab_die "usage: fidelity.sh full|quick|CELL... (cells: $(for c in "${FULL[@]}"; do printf '%s ' "${c%%|*}"; done))"
	# the no-fault cells calibrate the machine (below), so they always run, first
	for c in "${FULL[1]}" "${FULL[0]}"; do
		case " ${*} " in *" ${c%%|*} "*) ;; *) CELLS=("$c" "${CELLS[@]}") ;; esac
	done
	MODE=cells
	OUTDIR=$LAB_ROOT/build/fidelity/cells
	# A subset without a NetworkChaos cell runs on veths (the nft wire), as a CNI node links its pods: the
	# userspace wire stands in for netem where the kernel has none, and adds a per-packet wake-up of its
	# own (docs/lab.md, "The wire"), which cells that need no netem should not carry.
	needs_wire=0
	for c in "${CELLS[@]}"; do is_wire_cell "${c%%|*}" && needs_wire=1; done
	[ $needs_wire = 0 ] && export LAB_WIRE=${LAB_WIRE:-nft}
	;;
esac

cd "$LAB_ROOT" || exit 2
mkdir -p "$OUTDIR"
# The explorer's files, when a cell names one: the documented command, its output in OUTDIR/explore
case " ${CELLS[*]} " in
*@explore/*)
	rm -rf "$OUTDIR/explore"
	"$LAB_BIN/sim" "${EXPLORE_CMD[@]}" --out "$OUTDIR/explore" >"$OUTDIR/explore.txt" 2>&1 ||
		lab_die "bin/sim ${EXPLORE_CMD[*]} failed (see $OUTDIR/explore.txt)"
	for i in "${!CELLS[@]}"; do
		[[ ${CELLS[$i]} =~ @explore/([a-z-]+) ]] || continue
		emitted=("$OUTDIR"/explore/[0-9]*-"${BASH_REMATCH[1]}".yaml)
		[ -f "${emitted[0]}" ] || lab_die "the explorer emitted no breaking point named ${BASH_REMATCH[1]} (see $OUTDIR/explore.txt)"
		CELLS[i]=${CELLS[i]/@explore\/${BASH_REMATCH[1]}/${emitted[0]}}
	done
	;;
esac
T0=$(date +%s)
lab_begin
trap 'lab_end; exit 130' INT TERM
trap 'lab_end' EXIT

cell_args() { # cell -> the options both sides run
	local spec=$1 chaos opts dur file copy
	chaos=$(cut -d'|' -f2 <<<"$spec")
	opts=$(cut -d'|' -f3 <<<"$spec")
	dur=$(cut -d'|' -f4 <<<"$spec")
	if [ -n "$dur" ]; then
		file=$(sed -E 's/.*--experiment ([^ ]+).*/\1/' <<<"$opts")
		copy=$OUTDIR/yaml/${spec%%|*}.yaml
		mkdir -p "$OUTDIR/yaml"
		# spec.duration of the top-level objects (two spaces in); a Schedule's child (four) keeps its own
		awk -v d="$dur" '/^  duration: / { print "  duration: " d; next } { print }' "$file" >"$copy"
		opts=${opts/--experiment $file/--experiment $copy}
	fi
	echo "--seed 1 --rate $RATE --baseline 5s --chaos ${chaos}s --recovery 5s $opts"
}

# the topology once (replica counts and limits are the same in every cell), then every cell on fresh pods
read -r -a first <<<"$(cell_args "${CELLS[0]}")"
lab_plan "${first[@]}"
lab_up
TABLE=$OUTDIR/table.txt
{
	echo "fidelity ($MODE): the chaos phase of each scenario, lab (real services, network faults as below, stress-ng in the"
	echo "pods' cgroups) vs bin/sim pooled over $SEEDS seeds. In brackets: the lab's 95 % interval, and the range one run"
	echo "of the model reaches (99 %, from its seeds). Bounds: success +-3 pp, p50/p95/p99 +-15 % of the simulator's"
	echo "value, or that range when wider, or the batch-means interval (success, p50); docs/fidelity.md."
	case $WIRE in
	labwire) echo "Network faults: bin/labwire (TAP devices between the pods and the bridge) runs netem and tbf from faults/ on the" \
		"pods' egress (this kernel has no sch_netem); bandwidth without a filter: the kernel's tbf; partitions: nftables in the pods." ;;
	kernel) echo "Network faults: the kernel's netem and tbf on the pods' eth0, as chaos-daemon installs them; partitions: nftables in the pods." ;;
	nft) echo "Loss is injected with nftables numgen in the node's prerouting hook (LAB_WIRE=nft)." ;;
	esac
	printf '%-24s %-8s %-24s %-24s %10s %10s   %s\n' "scenario" "metric" "lab [95% CI]" "sim [one run]" "diff" "bound" "ok"
} >"$TABLE"
# CPU used by other jobs over the next 2 s (the lab is idle between cells), in CPUs
others_now() {
	local b0 b1
	read -r b0 _ <<<"$(lab_cpu_sample)"
	sleep 2
	read -r b1 _ <<<"$(lab_cpu_sample)"
	awk -v d=$((b1 - b0)) 'BEGIN { printf "%.2f", d / 2e9 }'
}

# One cell in the lab: its records, its report and the simulator's report for seed 1. Sets OTHERS[name]
# (the CPU other jobs of the machine used meanwhile) and LOAD[name].
lab_cell() {
	local name=$1 spec=$2 args load_before busy0 ours0 t0 busy1 ours1 t1
	read -r -a args <<<"$(cell_args "$spec")"
	lab_plan "${args[@]}"
	lab_pods_start
	load_before=$(cut -d' ' -f1 /proc/loadavg)
	lab_log "cell $name: ${args[*]} (load average $load_before)"
	read -r busy0 ours0 t0 <<<"$(lab_cpu_sample) $(date +%s%N)"
	if ! lab_load "${args[@]}" --records "$OUTDIR/$name.csv" >"$OUTDIR/$name.lab.txt" 2>"$OUTDIR/$name.lab.log"; then
		tail -5 "$OUTDIR/$name.lab.log" >&2
		lab_die "cell $name: the lab run failed"
	fi
	read -r busy1 ours1 t1 <<<"$(lab_cpu_sample) $(date +%s%N)"
	cp "$LAB_DIR/collect.out" "$OUTDIR/$name.ledger" 2>/dev/null
	lab_pods_stop
	OTHERS["$name"]=$(awk -v b=$((busy1 - busy0)) -v o=$((ours1 - ours0)) -v t=$((t1 - t0)) \
		'BEGIN { x = (b - o) / t; if (x < 0) x = 0; printf "%.2f", x }')
	LOAD["$name"]="$load_before -> $(cut -d' ' -f1 /proc/loadavg)"
	"$LAB_BIN/sim" "${args[@]}" "${MACHINE[@]}" >"$OUTDIR/$name.sim.txt" 2>/dev/null
}

# One cell's row: the lab's records against the simulator pooled over SEEDS seeds, on this machine's
# calibration; every cell but the two that calibrated it gets its link latency, then its host tail's share
# of late wake-ups, refitted to its own no-fault phases first, the baseline and the recovery (--refit-link):
# the box's speed drifts by 15-40 % within minutes (a CI run here: the calibration cells at 22.8 us, loss
# 20 % fresh's baseline a minute later at 41.3 us) and within a cell, its tail with it, and that drift is
# not the model's error. Not the burst cells: their
# baseline phase is one burst of 50 requests queued for payment's CPU, a prediction in itself, whose p50
# hardly depends on the packet latency, so the refit ran to the end of its range (5 or 200 us) and changed
# the CPU cell's prediction for no reason of the network's; they keep the calibration's latency. Sets
# ROW_RC (0 ok, 1 a bound missed).
compare_cell() {
	local name=$1 spec=$2 args cal=(--refit-link)
	read -r -a args <<<"$(cell_args "$spec")"
	case $name in
	none-keep | none-fresh) cal=(--calibration-cell) ;;
	burst*) cal=() ;;
	esac
	ROW_RC=0
	"$LAB_BIN/loadgen" --compare "$OUTDIR/$name.csv" --sim-seeds "$SEEDS" --name "$name" "${cal[@]}" \
		"${args[@]}" "${MACHINE[@]}" "${MODEL[@]}" >"$OUTDIR/$name.row" || ROW_RC=$?
	[ $ROW_RC -ge 2 ] && lab_die "cell $name: the comparison failed"
	# the simulator's ledger and warnings ("no packet matched", "80 % with correlation 50 % drops 97.0 %")
	# against the lab's counters, for the cells with a network fault
	local lrc=0
	"$LAB_BIN/loadgen" --ledger-check "$OUTDIR/$name.ledger" --name "$name" "${args[@]}" "${MACHINE[@]}" \
		>"$OUTDIR/$name.ledgercheck" || lrc=$?
	[ $lrc -ge 2 ] && lab_die "cell $name: the ledger check failed"
	if ! grep -q "(no network action)" "$OUTDIR/$name.ledgercheck"; then
		cat "$OUTDIR/$name.ledgercheck" >>"$OUTDIR/$name.row"
		[ $lrc = 1 ] && ROW_RC=1
	fi
	printf '%-24s machine: other jobs used %s of 2 CPUs during the run; load average %s\n' "" \
		"${OTHERS[$name]}" "${LOAD[$name]}" >>"$OUTDIR/$name.row"
}

# The service CPU of a report (ms, summed over pods)
service_cpu() { awk '/^CPU/ { on = 1; next } on && /^TCP/ { on = 0 } on && NF >= 6 && $1 ~ /-[0-9]+$/ { s += $5 } END { printf "%.1f", s }' "$1"; }

# This machine against the one the simulator's defaults were measured on (docs/calibration.md): two
# properties of the box, measured from the first run of the two no-fault cells before any cell is judged,
# so that every other figure is a prediction for this machine:
# - CPU speed: the services' CPU time (cpuacct) in the lab over the model's for the same requests, one
#   factor for every piece of work (--cpu-scale);
# - the one-way latency of a packet between two pods (--link-latency: veth, bridge, softirq), fitted to
#   the two cells' p50s together (the model as much too fast for one as too slow for the other), which are
#   then marked "cal": still judged, as the ratio between them is still a prediction. It is the
#   hypervisor's and the kernel's, not our code's: a CI machine of the same kind ran the no-fault chain
#   15-20 % faster than the one the defaults come from, with the same code;
# - the host's no-fault tail (their p95 and p99: shown, not judged), whose cause is not found: a noise
#   distribution fitted to none-keep's (--wake-stall P,MEAN: now and then an idle CPU starts a woken thread
#   late by an exponential delay; lab_fit_tail), then the link latency again with it (the stalls lift the
#   p50s a little). Not to none-fresh's: its tail is heavier (its connects), and most cells keep their
#   connections. Every other cell's tail is judged with it (docs/fidelity.md, "The host's tail").
calibrate_machine() {
	local lab sim fit args c tail
	lab=$(awk -v a="$(service_cpu "$OUTDIR/none-keep.lab.txt")" -v b="$(service_cpu "$OUTDIR/none-fresh.lab.txt")" 'BEGIN { print a + b }')
	sim=$(awk -v a="$(service_cpu "$OUTDIR/none-keep.sim.txt")" -v b="$(service_cpu "$OUTDIR/none-fresh.sim.txt")" 'BEGIN { print a + b }')
	CPU_SCALE=$(awk -v l="$lab" -v s="$sim" 'BEGIN { k = s > 0 ? l / s : 1; if (k < 0.5) k = 0.5; if (k > 2) k = 2; printf "%.3f", k }')
	read -r -a args <<<"$(cell_args "$(cell_spec none-keep)")"
	fit=$("$LAB_BIN/loadgen" --fit-link "$OUTDIR/none-keep.csv,$OUTDIR/none-fresh.csv" --sim-seeds "$SEEDS" \
		"${args[@]}" --cpu-scale "$CPU_SCALE") || lab_die "the machine's calibration failed"
	read -r LINK_NS FIT_KEEP FIT_FRESH FIT_ATMIN FIT_ATMAX <<<"$fit"
	tail=$("$LAB_BIN/loadgen" --fit-tail "$OUTDIR/none-keep.csv" --sim-seeds "$SEEDS" \
		"${args[@]}" --cpu-scale "$CPU_SCALE" --link-latency "${LINK_NS}ns") || lab_die "the host tail's fit failed"
	read -r STALL_P STALL_MEAN T95K T99K _ <<<"$tail"
	STALL=()
	if awk -v p="$STALL_P" 'BEGIN { exit !(p > 0) }'; then
		STALL=(--wake-stall "$(awk -v p="$STALL_P" 'BEGIN { printf "%.4f%%", 100 * p }'),${STALL_MEAN}ns")
		# 10 seeds: a p50 over 8 000 requests per cell moves by well under 1 % from the 40 seeds' (the first fit's)
		fit=$("$LAB_BIN/loadgen" --fit-link "$OUTDIR/none-keep.csv,$OUTDIR/none-fresh.csv" --sim-seeds 10 \
			"${args[@]}" --cpu-scale "$CPU_SCALE" "${STALL[@]}") || lab_die "the machine's calibration failed"
		read -r LINK_NS FIT_KEEP FIT_FRESH FIT_ATMIN FIT_ATMAX <<<"$fit"
	fi
	MACHINE=(--cpu-scale "$CPU_SCALE" --link-latency "${LINK_NS}ns" "${STALL[@]}")
	awk -v k="$CPU_SCALE" -v l="$lab" -v s="$sim" -v w="$LINK_NS" -v p="$FIT_KEEP" -v q="$FIT_FRESH" \
		-v a="$FIT_ATMIN" -v m="$FIT_ATMAX" 'BEGIN {
		printf "machine: CPU time per piece of work x%.3f of the defaults (service CPU of the two no-fault cells: lab %.0f ms,\n", k, l
		printf "  model %.0f ms); one-way packet latency %.1f us, fitted to their p50s (%.2f and %.2f ms)", s, w / 1000, p, q
		if (a >= 0) printf " (the lab is faster than the model at the smallest latency tried)"
		if (m <= 0) printf " (the lab is slower than the model at the largest latency tried)"
		printf "; defaults x1, 50 us.\n" }' | tee -a "$TABLE" >&2
	awk -v p="$STALL_P" -v m="$STALL_MEAN" -v a="$T95K" -v b="$T99K" 'BEGIN {
		if (p > 0) printf "host tail: %.3f %% of idle wake-ups start late by Exp(mean %.0f us), fitted to none-keep'"'"'s p95 (%.2f ms)\n  and p99 (%.2f ms)\n", 100 * p, m / 1000, a, b
		else printf "host tail: none added (the model'"'"'s p99 already reaches none-keep'"'"'s %.2f ms)\n", b }' |
		tee -a "$TABLE" >&2
	echo "  The simulator runs every cell with ${MACHINE[*]}" | tee -a "$TABLE" >&2
	[ "$WIRE" = labwire ] && wire_line | tee -a "$TABLE" >&2
	for c in none-keep none-fresh; do # their simulator reports on this machine's calibration
		read -r -a args <<<"$(cell_args "$(cell_spec "$c")")"
		"$LAB_BIN/sim" "${args[@]}" "${MACHINE[@]}" >"$OUTDIR/$c.sim.txt" 2>/dev/null
	done
}

# The wire's own cost, from its ledger in the two calibration cells (no fault: every frame leaves at once):
# the time from reading a frame to writing it (the wake-up before the read is not in it: that is in the
# link latency fitted to these cells, which every packet pays twice, on its sender's and its receiver's
# port).
wire_line() {
	local sched
	sched=$(grep -h -o 'SCHED_FIFO [0-9]*\|ordinary process' "$LAB_DIR/logs/labwire.log" 2>/dev/null | tail -1)
	cat "$OUTDIR/none-keep.ledger" "$OUTDIR/none-fresh.ledger" 2>/dev/null | awk -F'\t' -v sched="${sched:-?}" '
		$1 == "wireself" { n += $2 + $3; drops += $6; if ($9 > mx) mx = $9; k = split($10, h, ",")
		                   for (i = 1; i <= k; i++) H[i] += h[i]; K = k }
		function q(p,  i, acc) { for (i = 1; i <= K; i++) { acc += H[i]; if (acc >= p * tot) return i == 1 ? 1 : 2 ^ (i - 1) } }
		END { for (i = 1; i <= K; i++) tot += H[i]
		      printf "wire: bin/labwire (%s) forwarded %d frames in the two calibration cells, read to write p50 < %d us,\n", sched, n, q(0.5)
		      printf "  p99 < %d us, max %.2f ms, %d dropped for want of room; its wake-up and copies are in the link latency above\n", q(0.99), mx / 1e6, drops }'
}

# explore_verdict NAME SPEC: for a cell running an emitted breaking point, the file's expectation evaluated
# on the lab's chaos-phase success rate and on the simulator's, appended to the row. A breaking point sits
# just past the frontier, so the simulator's rate is a little under the threshold and one lab run's 95 %
# interval often straddles it: the lab confirms the break when its rate is under the threshold, contradicts
# it (a miss, ROW_RC=1) when its whole interval is above, and leaves it undecided otherwise.
explore_verdict() {
	local name=$1 file min rates lab lo sim
	[[ $2 =~ --experiment\ ([^ ]+) ]] || return 0
	file=${BASH_REMATCH[1]}
	min=$(sed -n 's/.*payment-chaos\/expect: "chain\.success_rate >= \([0-9.]*\).*/\1/p' "$file" | head -n 1)
	[ -n "$min" ] || return 0
	# the row's first line: the lab's rate, its interval's low end, the simulator's rate
	rates=$(awk '$2 == "success" { sub(/^[^%]*success */, ""); gsub(/[][%-]/, " "); print $1, $2, $4; exit }' "$OUTDIR/$name.row")
	read -r lab lo sim <<<"$rates"
	[ -n "${sim:-}" ] || lab_die "cell $name: no success rate in its row"
	awk -v l="$lab" -v lo="$lo" -v s="$sim" -v m="$min" -v f="$(basename "$file")" 'BEGIN {
		lb = l / 100 < m; sb = s / 100 < m; against = sb && lo / 100 >= m
		printf "%-24s expectation chain.success_rate >= %s (%s): lab %.1f %% (its 95 %% interval from %.1f), sim %.1f %%: %s\n", "", m, f,
			l, lo, s, !sb ? (lb ? "the lab breaks what the simulator holds" : "both hold") : \
			lb ? "the break confirmed" : against ? "MISS (the lab holds it, its whole interval above)" : \
			"undecided (the lab holds it, its interval reaches below)"
		exit (against || (!sb && lb)) }' >>"$OUTDIR/$name.row" || ROW_RC=1
}

cell_spec() { local c; for c in "${CELLS[@]}"; do [ "${c%%|*}" = "$1" ] && echo "$c"; done; }

# calm_down CPUS: after a miss while other jobs used CPUS, waits (bounded) until they use at most 0.3 CPUs;
# sets WHY to the reason the measurement is repeated.
calm_down() {
	WHY="missed a bound"
	if awk -v o="$1" 'BEGIN { exit !(o > 0.3) }'; then
		WHY="missed a bound while other jobs used $1 CPUs"
		for _ in 1 2 3 4 5 6 7 8 9 10; do awk -v o="$(others_now)" 'BEGIN { exit !(o > 0.3) }' || break; done
	fi
}

# The two no-fault cells: measured, the machine calibrated on them, both judged. Sets CAL_ROW_RC[cell] and
# CAL_RC (0 ok, 1 a bound missed).
calibrate_and_judge() {
	local c
	lab_cell none-keep "$(cell_spec none-keep)"
	lab_cell none-fresh "$(cell_spec none-fresh)"
	calibrate_machine
	CAL_RC=0
	for c in none-keep none-fresh; do
		compare_cell "$c" "$(cell_spec "$c")"
		CAL_ROW_RC[$c]=$ROW_RC
		[ $ROW_RC = 1 ] && CAL_RC=1
	done
}

# The A/A measurement: every cell REPS times in the lab (the machine calibrated once, on the first run of the
# no-fault cells, which is their run 1), then per cell the lab's run-to-run spread of each figure beside the
# simulator's seed-to-seed spread at this machine's calibration (loadgen --aa). Records: CELL.rN.csv.
run_aa() {
	local rep spec name runs args
	for rep in $(seq 1 "$REPS"); do
		for spec in "${CELLS[@]}"; do
			name=${spec%%|*}
			if [ "$rep" = 1 ] && { [ "$name" = none-keep ] || [ "$name" = none-fresh ]; }; then
				cp "$OUTDIR/$name.csv" "$OUTDIR/$name.r1.csv"
				continue
			fi
			lab_cell "$name" "$spec"
			mv "$OUTDIR/$name.csv" "$OUTDIR/$name.r$rep.csv"
			lab_log "A/A run $rep of $REPS: $name done (other jobs used ${OTHERS[$name]} CPUs)"
		done
	done
	{
		echo "A/A: each cell run $REPS times in the lab (the chaos phase of each run), against bin/sim's $SEEDS seeds"
		echo "at this machine's calibration. Per figure: the lab runs' mean, sd and sd/mean; the simulator's"
		echo "seeds' mean, sd and sd/mean; lab sd / sim sd; the range one run of the model reaches (99 %) and"
		echo "how many lab runs fall outside it; then each lab run's value."
		printf '%-16s %-8s %7s %6s %6s  %7s %6s %6s  %5s  %s\n' cell figure "lab" sd rel sim sd rel ratio \
			"model's run range, lab runs outside; each lab run"
	} >>"$TABLE"
	for spec in "${CELLS[@]}"; do
		name=${spec%%|*}
		read -r -a args <<<"$(cell_args "$spec")"
		runs=$(seq -f "$OUTDIR/$name.r%g.csv" 1 "$REPS" | paste -sd,)
		"$LAB_BIN/loadgen" --aa "$runs" --sim-seeds "$SEEDS" --name "$name" "${args[@]}" "${MACHINE[@]}" "${MODEL[@]}" \
			>>"$TABLE" || lab_die "cell $name: the A/A table failed"
	done
	echo "$REPS runs of ${#CELLS[@]} cells; $(($(date +%s) - T0)) s in all" >>"$TABLE"
}

MISSES=0
MACHINE=()
declare -A LOAD OTHERS CAL_ROW_RC
calibrate_and_judge
if [ "$MODE" = aa ]; then
	run_aa
	lab_end
	trap - EXIT INT TERM
	cat "$TABLE"
	[ "${LAB_LEAK:-0}" = 1 ] && exit 3
	exit 0
fi
# quick (CI): the calibration cells are judged on the ratio between their p50s, one link latency fitted to
# both; the box's speed drifts by 15-40 % within minutes, and a drift between the two measurements (a CI run:
# none-keep's lab p50 1.18 ms against 0.96, none-fresh's 1.60 against 1.36, both within bounds when measured
# again) makes them miss together. Re-measuring one cell against the old calibration cannot fix that, so a
# miss here measures both again and recalibrates; the second measurement decides, as for any cell (below).
if [ "$MODE" = quick ] && [ $CAL_RC = 1 ]; then
	cat "$OUTDIR/none-keep.row" "$OUTDIR/none-fresh.row" >&2
	calm_down "$(awk -v a="${OTHERS[none-keep]}" -v b="${OTHERS[none-fresh]}" 'BEGIN { print (a > b ? a : b) }')"
	lab_log "calibration cells: $WHY; measuring both again and recalibrating"
	for c in none-keep none-fresh; do cp "$OUTDIR/$c.row" "$OUTDIR/$c.first.row" && cp "$OUTDIR/$c.csv" "$OUTDIR/$c.first.csv"; done
	echo "calibration cells measured again ($WHY): the machine line below replaces the one above" | tee -a "$TABLE" >&2
	calibrate_and_judge
	for c in none-keep none-fresh; do
		echo "$(printf '%-24s' '')(second measurement with a new calibration: the first $WHY, see $c.first.row)" >>"$OUTDIR/$c.row"
	done
fi
for spec in "${CELLS[@]}"; do
	name=${spec%%|*}
	case $name in
	none-keep | none-fresh) ROW_RC=${CAL_ROW_RC[$name]} ;; # judged above, with the calibration
	*)
		lab_cell "$name" "$spec"
		compare_cell "$name" "$spec"
		# quick (CI): each cell makes three comparisons at the 95 % level, so a model that is right still
		# misses one of the fifteen now and then by sampling alone (a lab success rate of 91.8 % [89.0-93.9]
		# where its other runs gave 85-86 % and the simulator 87.8 %), or because the box's speed moved
		# within the cell more than its refit can follow. A cell that misses is measured once more, after
		# the machine has calmed down if other jobs were using it, and the second measurement decides: a
		# real model error misses twice, an accident twice in a row has odds of about 1 in 400. Each cell
		# once, at most RETRIES_MAX cells per run, and only while the run stays within RETRY_BUDGET_S
		# (the gate's 5 minutes, less the last cell's own). A CI run on a slow box (2026-12-07) missed with
		# its one re-measurement spent on another cell.
		chaos_s=$(cut -d'|' -f2 <<<"$spec")
		if [ "$MODE" = quick ] && [ $ROW_RC = 1 ] && [ "${RETRIES:-0}" -lt $RETRIES_MAX ] &&
			[ $(($(date +%s) - T0 + chaos_s + 30)) -lt $RETRY_BUDGET_S ]; then
			RETRIES=$((${RETRIES:-0} + 1))
			cat "$OUTDIR/$name.row" >&2
			calm_down "${OTHERS[$name]}"
			lab_log "cell $name: $WHY; measuring it again"
			cp "$OUTDIR/$name.row" "$OUTDIR/$name.first.row"
			cp "$OUTDIR/$name.csv" "$OUTDIR/$name.first.csv" # the first records too, to be judged again offline
			lab_cell "$name" "$spec"
			compare_cell "$name" "$spec"
			echo "$(printf '%-24s' '')(second measurement: the first $WHY, see $name.first.row)" >>"$OUTDIR/$name.row"
		fi
		case $name in explore-*) explore_verdict "$name" "$spec" ;; esac
		;;
	esac
	[ $ROW_RC = 1 ] && MISSES=$((MISSES + 1))
	tee -a "$TABLE" <"$OUTDIR/$name.row" >&2
done
ELAPSED=$(($(date +%s) - T0))
echo "$MISSES of ${#CELLS[@]} scenarios outside a bound; $ELAPSED s in all" >>"$TABLE"
lab_end
trap - EXIT INT TERM
cat "$TABLE"
[ "${LAB_LEAK:-0}" = 1 ] && exit 3
if [ "$MODE" = quick ] && [ $MISSES -gt 0 ]; then
	echo "fidelity-quick: FAILED: $MISSES scenario(s) outside a bound (see $OUTDIR)" >&2
	exit 1
fi
exit 0
