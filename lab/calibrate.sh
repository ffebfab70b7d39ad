#!/bin/bash
# calibrate.sh: measures the services' CPU time per request in the lab, for the simulator's per-route costs
# (sim/node/cluster.c cluster_spec_defaults; docs/calibration.md says how the figures below became defaults).
#
#   lab/calibrate.sh [SECONDS]      (default 30 s per load; about 5 minutes in all)
#
# Loads, each with no fault, open-loop RATE/s (default 40), in the lab (lab/lab.sh):
#   idle          0.2/s: the processes' CPU time with (almost) nothing to do (subtracted from the others)
#   X-health-f/k  GET /health on one Service (X = p, i, n), fresh / kept-alive client connections
#   chain-on/off  POST /payment/chain, the services' downstream keep-alive on / off
# Model fitted (per client request, us of cpuacct CPU time of the service processes, summed over pods):
#   X = a request on an open connection           X-health-k
#   A = accepting (and closing) a connection      X-health-f - X-health-k (mean over the three)
#   C = the caller's work for a downstream answer chain-on: inventory = X + (X + C)/2 (half are forwarded
#                                                 to the product's owner; notification likewise)
#   E = the chain's own work in payment           chain-on payment = X + A + E + 2C
#   K = the caller's work for a new connection    chain-off payment = X + A + E + 2(C + K)
# and the services' resident memory after the chain load (VmRSS) for app_rss_bytes.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab.sh
source "$HERE/lab.sh"
SECS=${1:-30}
RATE=${CAL_RATE:-40}
OUT=${CAL_OUT:-}

lab_begin
trap 'lab_end; exit 130' INT TERM
trap 'lab_end' EXIT
COMMON=(--seed 7 --baseline 0s --chaos "${SECS}s" --recovery 0s --fresh --json)
lab_plan "${COMMON[@]}" --rate 1
lab_up
TMP=$LAB_DIR/cal
mkdir -p "$TMP"

run() { # name target-service rate [sim options]
	local name=$1 svc=$2 rate=$3
	shift 3
	local s
	s=$(svc_index "$svc")
	lab_plan "${COMMON[@]}" --rate "$rate" "$@"
	lab_pods_start
	echo "load: $(cut -d' ' -f1-3 /proc/loadavg) before $name" >&2
	LAB_TARGET="http://${PLAN_VIPS[$s]}:${PLAN_PORTS[$s]}" lab_load "${COMMON[@]}" --rate "$rate" "$@" >"$TMP/$name.json" ||
		lab_die "$name: bin/loadgen failed"
	local pod
	for pod in $LAB_PODS; do # resident memory of each service process after the load
		echo "$pod $(awk '/^VmRSS/ { print $2 }' "/proc/$(cut -d' ' -f1 "$LAB_DIR/pid/$pod")/status" 2>/dev/null)"
	done >"$TMP/$name.rss"
	lab_pods_stop
}

run idle payment 0.2
run p-health-f payment "$RATE" --endpoint 'GET /health'
run p-health-k payment "$RATE" --endpoint 'GET /health' --keepalive
run i-health-f inventory "$RATE" --endpoint 'GET /health'
run i-health-k inventory "$RATE" --endpoint 'GET /health' --keepalive
run n-health-f notification "$RATE" --endpoint 'GET /health'
run n-health-k notification "$RATE" --endpoint 'GET /health' --keepalive
run chain-on payment "$RATE"
run chain-off payment "$RATE" --downstream-keepalive off

python3 - "$TMP" "$SECS" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF' | tee ${OUT:+"$OUT"}
import json, sys
tmp, secs, load = sys.argv[1], float(sys.argv[2]), sys.argv[3]
def load_run(name):
    d = json.load(open(f"{tmp}/{name}.json"))
    per = {}
    for p in d["pods"]:
        svc = p["pod"].rsplit("-", 1)[0]
        per[svc] = per.get(svc, 0.0) + p["service_cpu_ms"]
    n = sum(ph["requests"] for ph in d["phases"])
    return per, n, d
idle, _, _ = load_run("idle")
idle_rate = {k: v / secs for k, v in idle.items()}  # ms of CPU per second with no load
def us(name, svc):
    per, n, d = load_run(name)
    return (per[svc] - idle_rate[svc] * secs) / n * 1000.0  # us of CPU per client request
print(f"# lab calibration: {secs:.0f} s per load, machine load average at the end {load}")
print("# idle CPU (ms per second, whole service): " + ", ".join(f"{k} {v:.2f}" for k, v in idle_rate.items()))
print(f"# {'load':12s} {'payment':>9s} {'inventory':>9s} {'notif.':>9s}   us CPU per client request;  p50/p99 ms")
names = ["p-health-f", "p-health-k", "i-health-f", "i-health-k", "n-health-f", "n-health-k", "chain-on", "chain-off"]
U = {}
for name in names:
    per, n, d = load_run(name)
    row = [us(name, s) for s in ("payment", "inventory", "notification")]
    U[name] = dict(zip(("payment", "inventory", "notification"), row))
    ph = d["phases"][1]
    print(f"  {name:12s} {row[0]:9.1f} {row[1]:9.1f} {row[2]:9.1f}   n={n} p50 {ph['p50_ms']:.2f} p99 {ph['p99_ms']:.2f}")
# Model: X = handling one request on an open connection, A = accepting (and closing) a connection,
# C = the caller's work for one downstream answer on an open connection, K = the caller's extra work for a
# new downstream connection, E = the chain's extra work in payment. Chain: inventory and notification
# receive one call per chain request, half of which they forward to the owner replica.
Xp, Xi, Xn = U["p-health-k"]["payment"], U["i-health-k"]["inventory"], U["n-health-k"]["notification"]
A = ((U["p-health-f"]["payment"] - Xp) + (U["i-health-f"]["inventory"] - Xi) + (U["n-health-f"]["notification"] - Xn)) / 3
Ci = 2 * (U["chain-on"]["inventory"] - 1.5 * Xi)
Cn = 2 * (U["chain-on"]["notification"] - 1.5 * Xn)
C = (Ci + Cn) / 2
E = U["chain-on"]["payment"] - Xp - A - 2 * C
K = (U["chain-off"]["payment"] - Xp - E - A - 2 * C) / 2
print("# fitted (us): X_payment %.1f  X_inventory %.1f  X_notification %.1f  accept A %.1f  answer C %.1f "
      "(inventory %.1f, notification %.1f)  chain extra E %.1f  new connection K %.1f" % (Xp, Xi, Xn, A, C, Ci, Cn, E, K))
rss = {}
for line in open(f"{tmp}/chain-on.rss"):
    pod, kb = line.split()[0], line.split()[1] if len(line.split()) > 1 else "0"
    rss[pod] = int(kb) / 1024
print("# resident memory after the chain load (MiB): " + ", ".join(f"{k} {v:.1f}" for k, v in rss.items()))
print("# simulator defaults for the default load (client: fresh connections; services: keep-alive):")
print("cost_request_ns[payment]      %8.1f us" % Xp)
print("cost_request_ns[inventory]    %8.1f us" % Xi)
print("cost_request_ns[notification] %8.1f us" % Xn)
print("cost_completion_ns            %8.1f us" % C)
print("cost_chain_extra_ns           %8.1f us" % E)
print("cost_accept_ns                %8.1f us" % A)
print("cost_connect_ns               %8.1f us" % K)
print("app_rss_bytes                 %8.1f MiB (largest service)" % max(rss.values()))
EOF
