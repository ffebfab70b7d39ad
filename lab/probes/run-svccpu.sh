#!/bin/bash
# run-svccpu.sh - is the extra CPU a service uses for the same requests when a CPU stressor shares its pod a
# FIXED cost per request (cold caches/TLB, more context switches per wake-up) or PROPORTIONAL to the
# request's own CPU? Root only (cgroup v1 cpu, cpuacct).
#
# usage:  lab/probes/run-svccpu.sh [OUTDIR]          (~10 min with N=120 R=3; N=200 R=3 ~17 min)
# Settings (environment): N requests per cell (200), RATE per second (10), R repetitions (3), ARRIVALS
# (poisson: exponential gaps of mean 1/RATE, as lab/loadgen.c; fixed: exactly 1/RATE apart, which at 10/s is
# the CFS period, so a whole cell keeps one phase against the quota's refill), SEED (1),
# CONDITIONS ("none 1x30 1x80 2x80 2x100", W x L), KINDS ("health process chain"), PC_BIN_DIR (the tree's bin/).
#
# A pod = cgroup cpu/pc-probe-svccpu (quota 20000 per 100000 us = 200m, cpu.shares 262144 as lab/lab.sh's
# pods) with cpuacct sub-groups pc-probe-svccpu/app (payment-service) and pc-probe-svccpu/stress (the
# stressor). inventory-service and notification-service run outside any quota (cpu/pc-probe-svccpu-peers,
# no quota, shares 262144), as does the client (cpu/pc-probe-svccpu-client). The services get lab.sh's
# settings (THREADS=8, LOG_LEVEL=warn, a fsync'd JOURNAL_PATH each); inventory gets a catalogue whose
# product 1 has 1e8 in stock, so /payment/process never runs out. The binaries are copied to OUTDIR first.
# The stressor is Chaos Mesh's CPU stress as lab/lab.sh starts it (stress_start): stress-ng --cpu W
# --cpu-load L --cpu-load-slice 10 --cpu-method sqrt --timeout 3600s --quiet, inside the pod's cpu group and
# its cpuacct stress group.
# One session = (condition, repetition): the stressor starts, 2 s warm-up (payment-service's idle CPU is
# measured meanwhile), then each request kind in turn: N requests at RATE/s (ARRIVALS), open loop, one fresh TCP
# connection per request (python3 http.client, 5 s timeout each): GET /health, POST /payment/process
# {"amount":100,"product_id":"1"}, POST /payment/chain {"product_id":"1"}. Before the first and after the
# last answer: payment-service's CPU as the sum of /proc/PID/task/*/schedstat (ns on CPU, every thread),
# the cpuacct app group's cpuacct.usage (also counts threads that exited), the threads' voluntary +
# nonvoluntary context switches, and the pod's cpu.stat (throttling). Sessions go round-robin over the
# conditions (the order rotated each repetition; the kinds' order too), so drift does not line up with a
# condition. Raw rows: OUTDIR/cells.jsonl; the table: OUTDIR/summary.txt.
# Every snapshot also takes the host's softirq time (/proc/stat's softirq column, all CPUs, in ticks: this
# kernel has no IRQ time accounting, so softirq work is charged to whichever task the CPU was running), the
# NET_RX + NET_TX counts of /proc/softirqs (all CPUs) and the ksoftirqd threads' CPU (schedstat).
# NETNS=1 (default 0: everything on loopback): payment-service runs in its own network namespace
# pc-probe-svccpu-pay (eth0 10.250.0.2/30), linked to the root namespace by a veth pair (pc-probe-svccpu,
# 10.250.0.1/30), so the client's requests and payment's calls to inventory/notification (still in the root
# namespace, reached at 10.250.0.1) all cross the veth, as in lab/lab.sh's pods. SOFTIRQ=1 (default: NETNS)
# adds softirq ms/req, NET_RX+TX per request and ksoftirqd us/req at the end of the per-cell list.
# Creates only cgroups (and with NETNS=1 a network namespace and veth) named pc-probe-svccpu*, removes them
# (and every process it started) on exit, also on failure or Ctrl-C; every process is bounded by timeout(1).
set -u
export LC_ALL=C
OUT=${1:-/tmp/pc-probe-svccpu-$(date +%Y%m%d-%H%M%S)}
CG=/sys/fs/cgroup
POD=pc-probe-svccpu
N=${N:-200}
RATE=${RATE:-10}
R=${R:-3}
CONDITIONS=${CONDITIONS:-"none 1x30 1x80 2x80 2x100"}
KINDS=${KINDS:-"health process chain"}
ARRIVALS=${ARRIVALS:-poisson}
SEED=${SEED:-1}
NETNS=${NETNS:-0}
case $NETNS in 0 | 1) ;; *) echo "run-svccpu.sh: NETNS is 0 or 1" >&2; exit 2 ;; esac
SOFTIRQ=${SOFTIRQ:-$NETNS}
NS=$POD-pay   # payment's network namespace (NETNS=1)
VETH=$POD     # the root side of its veth pair (15 characters, the most a name may have)
SUBNET=10.250.0
case $ARRIVALS in poisson | fixed) ;; *) echo "run-svccpu.sh: ARRIVALS is poisson or fixed" >&2; exit 2 ;; esac
BIN_SRC=${PC_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
SHARES=262144

[ "$(id -u)" = 0 ] || { echo "run-svccpu.sh: needs root (cgroups)" >&2; exit 2; }
for h in cpu cpuacct; do [ -d "$CG/$h" ] || { echo "run-svccpu.sh: no cgroup v1 $h hierarchy at $CG/$h" >&2; exit 2; }; done
for t in stress-ng python3 timeout ss curl; do
	command -v "$t" >/dev/null || { echo "run-svccpu.sh: $t missing (stress-ng: apt-get install stress-ng)" >&2; exit 2; }
done
if [ "$NETNS" = 1 ]; then
	for t in ip nsenter; do command -v "$t" >/dev/null || { echo "run-svccpu.sh: $t missing (NETNS=1)" >&2; exit 2; }; done
	[ -e "/run/netns/$NS" ] && { echo "run-svccpu.sh: network namespace $NS exists (left behind? ip netns del $NS)" >&2; exit 2; }
	ip link show "$VETH" >/dev/null 2>&1 && { echo "run-svccpu.sh: a link $VETH exists (left behind? ip link del $VETH)" >&2; exit 2; }
	if ip -4 addr | grep -q " ${SUBNET//./\\.}\\." || ip -4 route | grep -q "^${SUBNET//./\\.}\\."; then
		echo "run-svccpu.sh: $SUBNET.0/30 is in use here (ip -4 addr, ip -4 route)" >&2
		exit 2
	fi
fi
for s in inventory notification payment; do
	[ -x "$BIN_SRC/$s-service" ] || { echo "run-svccpu.sh: $BIN_SRC/$s-service missing (make, or set PC_BIN_DIR)" >&2; exit 2; }
done
mkdir -p "$OUT/bin" "$OUT/logs"

SVC_PIDS=()
NS_MADE=0
cleanup() {
	local g p
	trap - EXIT INT TERM
	for p in "${SVC_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for g in "$CG"/cpu/$POD* "$CG"/cpuacct/$POD/stress "$CG"/cpuacct/$POD/app "$CG"/cpuacct/$POD; do
		[ -d "$g" ] || continue
		for p in $(cat "$g/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	sleep 0.5
	for g in "$CG"/cpuacct/$POD/stress "$CG"/cpuacct/$POD/app "$CG"/cpuacct/$POD "$CG"/cpu/$POD*; do
		[ -d "$g" ] && rmdir "$g" 2>/dev/null
	done
	if [ "$NS_MADE" = 1 ]; then # the veth goes with the namespace (once its last process is gone)
		[ -e "/run/netns/$NS" ] && ip netns del "$NS" 2>/dev/null
		for _ in $(seq 1 20); do ip link show "$VETH" >/dev/null 2>&1 || break; sleep 0.1; done
		ip link del "$VETH" 2>/dev/null
	fi
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cp "$BIN_SRC"/{inventory,notification,payment}-service "$OUT/bin/" || exit 2

# ports: 5002-5004 (payment, inventory, notification) unless one is busy; then three free ones
busy() { ss -Htln "sport = :$1" | grep -q .; }
if busy 5002 || busy 5003 || busy 5004; then
	read -r PPORT IPORT NPORT < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
else
	PPORT=5002 IPORT=5003 NPORT=5004
fi

# cgroups
mkdir -p "$CG/cpu/$POD" "$CG/cpuacct/$POD/app" "$CG/cpuacct/$POD/stress" "$CG/cpu/$POD-peers" "$CG/cpu/$POD-client" || exit 2
echo 100000 >"$CG/cpu/$POD/cpu.cfs_period_us"
echo 20000 >"$CG/cpu/$POD/cpu.cfs_quota_us"
for g in "$POD" "$POD-peers" "$POD-client"; do echo $SHARES >"$CG/cpu/$g/cpu.shares"; done

# the network: loopback, or (NETNS=1) payment alone in its namespace behind a veth pair
PAY_HOST=127.0.0.1 PEER_HOST=127.0.0.1 PAY_NSENTER=() NETINFO=
if [ "$NETNS" = 1 ]; then
	NS_MADE=1
	{ ip netns add "$NS" && ip -n "$NS" link set lo up &&
		ip link add "$VETH" type veth peer name eth0 netns "$NS" &&
		ip addr add "$SUBNET.1/30" dev "$VETH" && ip link set "$VETH" up &&
		ip -n "$NS" addr add "$SUBNET.2/30" dev eth0 && ip -n "$NS" link set eth0 up; } ||
		{ echo "run-svccpu.sh: cannot set up the network namespace $NS" >&2; exit 2; }
	PAY_HOST=$SUBNET.2 PEER_HOST=$SUBNET.1 PAY_NSENTER=(nsenter "--net=/run/netns/$NS")
	NETINFO=" NETNS=1 (payment in netns $NS at $PAY_HOST; client, inventory, notification at $PEER_HOST over veth $VETH)"
fi
export PC_PAY_HOST=$PAY_HOST # client.py's target
COMMON=(THREADS=8 LOG_LEVEL=warn "PAYMENT_SERVICE=http://$PAY_HOST:$PPORT" "INVENTORY_SERVICE=http://$PEER_HOST:$IPORT"
	"NOTIFICATION_SERVICE=http://$PEER_HOST:$NPORT")
CATALOGUE='[{"id":"1","name":"Laptop","stock":100000000,"price":15000},{"id":"2","name":"Telefon","stock":100,"price":8000}]'
# start SVC PORT CPUGROUP CPUACCTGROUP(or -) [ENV...]: prints the service's pid (timeout's child)
start_svc() {
	local svc=$1 port=$2 cpug=$3 accg=$4 tpid p pre=()
	shift 4
	[ "$svc" = payment ] && pre=("${PAY_NSENTER[@]}") # NETNS=1: into its namespace (nsenter execs, same pid)
	(
		echo $BASHPID >"$CG/cpu/$cpug/cgroup.procs"
		[ "$accg" = - ] || echo $BASHPID >"$CG/cpuacct/$accg/cgroup.procs"
		exec "${pre[@]}" env -i PATH=/usr/bin:/bin "${COMMON[@]}" PORT="$port" JOURNAL_PATH="$OUT/journal-$svc" "$@" \
			timeout 1800 "$OUT/bin/$svc-service"
	) >>"$OUT/logs/$svc.log" 2>&1 &
	tpid=$!
	SVC_PIDS+=("$tpid")
	for _ in $(seq 1 50); do
		p=$(pgrep -P "$tpid" | head -1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}
wait_ready() { # PORT [HOST]
	for _ in $(seq 1 50); do
		[ "$(timeout 2 curl -s -m 1 -o /dev/null -w '%{http_code}' "http://${2:-127.0.0.1}:$1/ready")" = 200 ] && return 0
		sleep 0.1
	done
	echo "run-svccpu.sh: the service on port $1 is not ready (logs in $OUT/logs)" >&2
	exit 1
}
rm -f "$OUT"/journal-*
start_svc inventory "$IPORT" "$POD-peers" - CATALOGUE="$CATALOGUE" >/dev/null || exit 1
start_svc notification "$NPORT" "$POD-peers" - >/dev/null || exit 1
PAY_PID=$(start_svc payment "$PPORT" "$POD" "$POD/app")
# start_svc ran in a command substitution: remember payment's timeout (its parent) for the cleanup
[ -n "$PAY_PID" ] || { echo "run-svccpu.sh: payment-service did not start" >&2; exit 1; }
SVC_PIDS+=("$(awk '{print $4}' "/proc/$PAY_PID/stat")")
wait_ready "$IPORT"
wait_ready "$NPORT"
wait_ready "$PPORT" "$PAY_HOST"
grep -q "$PAY_PID" "$CG/cpuacct/$POD/app/cgroup.procs" || { echo "run-svccpu.sh: payment-service is not in the pod's app group" >&2; exit 1; }

cat >"$OUT/client.py" <<'PY'
# client.py MODE ... : one measurement cell; prints one JSON object
#   idle SECONDS PID POD                      payment-service's CPU while no request is sent
#   load KIND N RATE PORT PID POD ARRIVALS SEED   N requests of KIND at RATE/s, open loop, one connection each
import glob, http.client, json, os, random, sys, threading, time
CG = "/sys/fs/cgroup"
HOST = os.environ.get("PC_PAY_HOST", "127.0.0.1")

def _ksoftirqd():
    ps = []
    for c in glob.glob("/proc/[0-9]*/comm"):
        try:
            if open(c).read().startswith("ksoftirqd/"):
                ps.append(c[:-4] + "schedstat")
        except OSError:
            pass
    return ps
KSOFTIRQD = _ksoftirqd()

def host_softirq():  # the host's softirq ticks (all CPUs), NET_RX and NET_TX counts (all CPUs), ksoftirqd ns
    f = open("/proc/stat").readline().split()  # cpu user nice system idle iowait irq softirq ...
    n = {}
    for line in open("/proc/softirqs"):
        p = line.split()
        if p and p[0] in ("NET_RX:", "NET_TX:"):
            n[p[0][:-1]] = sum(int(x) for x in p[1:])
    k = 0
    for s in KSOFTIRQD:
        try:
            k += int(open(s).read().split()[0])
        except OSError:
            pass
    return {"softirq_ticks": int(f[7]), "net_rx": n["NET_RX"], "net_tx": n["NET_TX"], "ksoftirqd_ns": k}

def snap(pid, pod):
    cpu = cs = nthr = 0
    for t in glob.glob("/proc/%d/task/*" % pid):
        try:
            st = open(t + "/schedstat").read().split()
            fields = {}
            for line in open(t + "/status"):
                k, _, v = line.partition(":")
                fields[k] = v.strip()
        except OSError:
            continue  # the thread just ended
        cpu += int(st[0])
        cs += int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])
        nthr += 1
    rd = lambda p: int(open(p).read())
    stat = dict(l.split() for l in open("%s/cpu/%s/cpu.stat" % (CG, pod)))
    return {"t": time.monotonic(), "cpu_ns": cpu, "cs": cs, "threads": nthr,
            "app_ns": rd("%s/cpuacct/%s/app/cpuacct.usage" % (CG, pod)),
            "stress_ns": rd("%s/cpuacct/%s/stress/cpuacct.usage" % (CG, pod)),
            "nr_periods": int(stat["nr_periods"]), "nr_throttled": int(stat["nr_throttled"]),
            "throttled_ns": int(stat["throttled_time"])} | host_softirq()

def diff(a, b):
    return {k: b[k] - a[k] for k in a if k != "threads"} | {"threads_before": a["threads"], "threads_after": b["threads"]}

mode = sys.argv[1]
if mode == "idle":
    secs, pid, pod = float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    a = snap(pid, pod)
    time.sleep(secs)
    print(json.dumps({"mode": "idle"} | diff(a, snap(pid, pod))))
    sys.exit(0)

kind, n, rate, port, pid, pod = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
arrivals, seed = (sys.argv[8], sys.argv[9]) if len(sys.argv) > 9 else ("fixed", "0")
rng = random.Random(seed)
at, x = [], 0.0
for i in range(n):
    at.append(x)
    x += rng.expovariate(rate) if arrivals == "poisson" else 1.0 / rate
REQ = {"health": ("GET", "/health", None),
       "process": ("POST", "/payment/process", b'{"amount":100,"product_id":"1"}'),
       "chain": ("POST", "/payment/chain", b'{"product_id":"1"}')}[kind]
lat = [None] * n
status = [0] * n

def one(i):
    method, path, body = REQ
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(HOST, port, timeout=5)
        c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        r.read()
        status[i] = r.status
        c.close()
    except Exception:
        status[i] = -1
    lat[i] = time.monotonic() - t0

a = snap(pid, pod)
start = time.monotonic() + 0.05
threads = []
for i in range(n):
    d = start + at[i] - time.monotonic()
    if d > 0:
        time.sleep(d)
    th = threading.Thread(target=one, args=(i,))
    th.start()
    threads.append(th)
for th in threads:
    th.join(10)
b = snap(pid, pod)
ok = sorted(l for l, s in zip(lat, status) if l is not None and 200 <= s < 300)
q = lambda p: ok[min(len(ok) - 1, int(p * len(ok)))] * 1e3 if ok else float("nan")
print(json.dumps({"mode": "load", "kind": kind, "n": n, "ok": len(ok), "errors": n - len(ok),
                  "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": (ok[-1] * 1e3 if ok else float("nan")),
                  "slow10": sum(1 for l in ok if l > 0.010) / max(1, len(ok)), "arrivals": arrivals} | diff(a, b)))
PY

# runs client.py in the client's cpu group
client() {
	local tmo=$1
	shift
	(echo $BASHPID >"$CG/cpu/$POD-client/cgroup.procs" && exec timeout "$tmo" python3 "$OUT/client.py" "$@")
}

STRESS_PID=
stress_start() { # W L
	(
		echo $BASHPID >"$CG/cpu/$POD/cgroup.procs"
		echo $BASHPID >"$CG/cpuacct/$POD/stress/cgroup.procs"
		exec timeout 600 stress-ng --cpu "$1" --cpu-load "$2" --cpu-load-slice 10 --cpu-method sqrt --timeout 3600s --quiet
	) >>"$OUT/logs/stress.log" 2>&1 &
	STRESS_PID=$!
}
stress_stop() {
	local p
	[ -n "$STRESS_PID" ] || return 0
	kill -TERM "$STRESS_PID" 2>/dev/null
	sleep 0.2
	for p in $(cat "$CG/cpuacct/$POD/stress/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	wait "$STRESS_PID" 2>/dev/null
	for _ in $(seq 1 20); do [ -s "$CG/cpuacct/$POD/stress/cgroup.procs" ] || break; sleep 0.1; done
	STRESS_PID=
}

{
	echo "# run-svccpu.sh $(date -Is) N=$N RATE=$RATE ARRIVALS=$ARRIVALS SEED=$SEED R=$R conditions: $CONDITIONS kinds: $KINDS$NETINFO"
	echo "# bin $BIN_SRC ($(sha1sum "$OUT/bin/payment-service" | cut -c1-12)); ports payment $PPORT inventory $IPORT notification $NPORT; payment pid $PAY_PID"
	echo "# $(grep -m1 'model name' /proc/cpuinfo); $(nproc) CPUs; kernel $(uname -r); $(stress-ng --version)"
	echo "# before: loadavg $(cat /proc/loadavg); cpu pressure: $(head -1 /proc/pressure/cpu 2>/dev/null)"
} >"$OUT/meta.txt"
cat "$OUT/meta.txt"

# warm the service (first requests: allocations, first connections downstream); not measured
for k in $KINDS; do client 60 load "$k" 30 20 "$PPORT" "$PAY_PID" "$POD" >/dev/null || { echo "run-svccpu.sh: the warm-up client failed" >&2; exit 1; }; done

read -ra CONDS <<<"$CONDITIONS"
read -ra KS <<<"$KINDS"
NC=${#CONDS[@]} NK=${#KS[@]}
: >"$OUT/cells.jsonl"
T0=$(date +%s)
for ((r = 0; r < R; r++)); do
	for ((ci = 0; ci < NC; ci++)); do
		c=${CONDS[$(((ci + r) % NC))]}
		if [ "$c" != none ]; then stress_start "${c%x*}" "${c#*x}"; fi
		line=$(client 30 idle 2 "$PAY_PID" "$POD") || { echo "run-svccpu.sh: idle measurement failed" >&2; exit 1; }
		echo "{\"cond\":\"$c\",\"rep\":$r,${line#\{}" >>"$OUT/cells.jsonl"
		for ((ki = 0; ki < NK; ki++)); do
			k=${KS[$(((ki + r) % NK))]}
			line=$(client $((N / RATE + 40)) load "$k" "$N" "$RATE" "$PPORT" "$PAY_PID" "$POD" "$ARRIVALS" "$SEED-$r-$c-$k") ||
				{ echo "run-svccpu.sh: client failed ($c $k)" >&2; exit 1; }
			echo "{\"cond\":\"$c\",\"rep\":$r,${line#\{}" >>"$OUT/cells.jsonl"
			echo "$(($(date +%s) - T0)) s  rep $r  $c  $k: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.1f us/req (schedstat), %.1f us/req (cpuacct), %.2f cs/req, p50 %.1f ms p99 %.1f ms, %d errors" % (d["cpu_ns"]/d["n"]/1e3, d["app_ns"]/d["n"]/1e3, d["cs"]/d["n"], d["p50_ms"], d["p99_ms"], d["errors"]))' "$line")"
		done
		stress_stop
		sleep 0.5
	done
done
echo "# after: loadavg $(cat /proc/loadavg); cpu pressure: $(head -1 /proc/pressure/cpu 2>/dev/null); $(($(date +%s) - T0)) s of measurement" >>"$OUT/meta.txt"

python3 - "$OUT" "$CONDITIONS" "$KINDS" "$SOFTIRQ" <<'PY' | tee "$OUT/summary.txt"
import json, os, statistics as st, sys
out, conds, kinds, softirq = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4] == "1"
rows = [json.loads(l) for l in open(out + "/cells.jsonl")]
print(open(out + "/meta.txt").read().rstrip())
med = st.median
idle = {c: [r for r in rows if r["mode"] == "idle" and r["cond"] == c] for c in conds}
def cells(c, k): return [r for r in rows if r["mode"] == "load" and r["cond"] == c and r["kind"] == k]
def per_req(r, f): return r[f] / r["n"] / 1e3  # us per request
def net(r):  # minus payment-service's idle CPU of the same session over the cell's window
    i = [x for x in idle[r["cond"]] if x["rep"] == r["rep"]][0]
    return (r["cpu_ns"] - i["cpu_ns"] / (i["t"]) * r["t"]) / r["n"] / 1e3
print()
print("payment-service CPU per request (us; schedstat of all its threads; median over R [min-max]); ratio and extra vs. the same kind's 'none'")
print("%-6s %-8s %22s %6s %8s %9s %9s %8s %8s %8s %7s %5s" % ("cond", "kind", "CPU us/req med [min-max]", "ratio", "extra", "net us/rq",
      "cpuacct", "cs/req", "p50 ms", "p99 ms", ">10ms%", "err"))
base = {}
for k in kinds:
    for c in conds:
        cs = cells(c, k)
        if not cs:
            continue
        v = [per_req(r, "cpu_ns") for r in cs]
        m = med(v)
        if c == "none":
            base[k] = (m, med(net(r) for r in cs))
        b = base.get(k, (float("nan"),) * 2)
        slow = med(100.0 * r.get("slow10", float("nan")) for r in cs)  # share of requests slower than 10 ms
        print("%-6s %-8s %8.1f [%6.1f-%6.1f] %6.2f %+8.1f %9.1f %9.1f %8.2f %8.1f %8.1f %7.0f %5d" % (
            c, k, m, min(v), max(v), m / b[0], m - b[0], med(net(r) for r in cs), med(per_req(r, "app_ns") for r in cs),
            med(r["cs"] / r["n"] for r in cs), med(r["p50_ms"] for r in cs), med(r["p99_ms"] for r in cs), slow,
            sum(r["errors"] for r in cs)))
    print()
print("payment-service idle (the 2 s warm-up after the stressor starts, no requests): CPU us/s, context switches/s, median [min-max]")
for c in conds:
    v = [r["cpu_ns"] / r["t"] / 1e3 for r in idle[c]]
    w = [r["cs"] / r["t"] for r in idle[c]]
    s = [r["stress_ns"] / r["t"] / 1e6 for r in idle[c]]
    if v:
        print("%-6s %8.1f [%.1f-%.1f] us/s  %7.1f [%.1f-%.1f] cs/s   stressor %.0f ms/s" % (c, med(v), min(v), max(v), med(w), min(w), max(w), med(s)))
print()
print("fixed or proportional? per condition, a line through the kinds: extra_us = a + (b-1) * none_us (least squares over the kinds' medians)")
for c in conds:
    if c == "none":
        continue
    xs, ys = [], []
    for k in kinds:
        cs = cells(c, k)
        if cs and k in base:
            xs.append(base[k][0]); ys.append(med(per_req(r, "cpu_ns") for r in cs) - base[k][0])
    if len(xs) >= 2:
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else float("nan")
        print("%-6s fixed part a = %+7.1f us/req, proportional part = %+5.1f %% of the request's own CPU   (extras: %s)" % (
            c, my - slope * mx, 100 * slope, ", ".join("%s %+.1f" % (k, y) for k, y in zip(kinds, ys))))
print()
print("every cell in time order: cond rep kind  CPU us/req  cs/req  p50/p99 ms  >10ms %  pod throttled ms/s  stressor ms/s" +
      ("  host softirq ms/req (ticks)  NET_RX+TX /req  ksoftirqd us/req" if softirq else ""))
tick_ms = 1e3 / os.sysconf("SC_CLK_TCK")
for r in rows:
    if r["mode"] == "load":
        line = "  %-5s %d %-7s %7.1f %6.2f %7.1f %7.1f %5.0f %6.0f %5.0f" % (r["cond"], r["rep"], r["kind"], per_req(r, "cpu_ns"), r["cs"] / r["n"],
              r["p50_ms"], r["p99_ms"], 100 * r.get("slow10", float("nan")), r["throttled_ns"] / 1e6 / r["t"], r["stress_ns"] / 1e6 / r["t"])
        if softirq and "softirq_ticks" in r:
            line += "  %7.3f (%4d) %6.1f %7.1f" % (r["softirq_ticks"] * tick_ms / r["n"], r["softirq_ticks"], (r["net_rx"] + r["net_tx"]) / r["n"],
                                                  r["ksoftirqd_ns"] / r["n"] / 1e3)
        print(line)
PY
