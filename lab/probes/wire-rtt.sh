#!/bin/bash
# wire-rtt.sh [N]: what bin/labwire adds to a packet's trip, against a veth pair (root; docs/lab.md, "The wire").
#
# Builds a bridge in pc-wt-node and four "pods" on it: pc-wt-v1 and pc-wt-v2 linked by veths, pc-wt-w1 and
# pc-wt-w2 by the wire (TAP pairs forwarded by bin/labwire, SCHED_FIFO 10 as in the lab, no rule). A UDP echo
# (python3) between each pair, N round trips (default 2000, 2 ms apart), prints the round trip's p50, p90, p99
# and max for each path, their difference, and the wire's own read-to-write times from its ledger. A round
# trip through the wire crosses it four times (each pod's port, each way). Run it while no lab measures
# (flock /run/pc-lablock bash lab/probes/wire-rtt.sh); everything it creates is removed at the end.
set -u
N=${1:-2000}
BIN=${PC_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
[ "$(id -u)" = 0 ] || { echo "wire-rtt: root only" >&2; exit 2; }
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 10 ] || { echo "wire-rtt: N is a count >= 10" >&2; exit 2; }
DIR=$(mktemp -d /tmp/pc-wt.XXXXXX)
NS="pc-wt-node pc-wt-v1 pc-wt-v2 pc-wt-w1 pc-wt-w2"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in $NS; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$DIR"
}
trap cleanup EXIT
for n in $NS; do ip netns add "$n" && ip -n "$n" link set lo up || exit 1; done
ip -n pc-wt-node link add br0 type bridge && ip -n pc-wt-node link set br0 up
"$BIN/labwire" --control "$DIR/wire.sock" --rt 10 2>"$DIR/wire.log" &
PIDS="$PIDS $!"
for _ in $(seq 50); do "$BIN/labwire" ctl "$DIR/wire.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
k=1
for p in v1 v2 w1 w2; do
	if [ "${p:0:1}" = v ]; then
		ip -n pc-wt-node link add "x$p" type veth peer name eth0 netns "pc-wt-$p"
	else
		"$BIN/labwire" ctl "$DIR/wire.sock" port add "$p" "/run/netns/pc-wt-$p" eth0 /run/netns/pc-wt-node "x$p" >/dev/null
	fi
	ip -n pc-wt-node link set "x$p" master br0 up
	ip -n "pc-wt-$p" addr add "10.99.0.$k/24" dev eth0
	ip -n "pc-wt-$p" link set eth0 up
	k=$((k + 1))
done
cat >"$DIR/echo.py" <<'PY'
import socket, sys, time
if sys.argv[1] == "serve":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 7777))
    while True:
        d, a = s.recvfrom(64); s.sendto(d, a)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
r = []
for i in range(int(sys.argv[3])):
    b = str(i).encode(); t0 = time.perf_counter_ns(); s.sendto(b, (sys.argv[2], 7777))
    try:
        while s.recv(64) != b: pass
        r.append((time.perf_counter_ns() - t0) / 1000)
    except socket.timeout: pass
    time.sleep(0.002)
r.sort(); q = lambda p: r[min(len(r) - 1, int(p * len(r)))]
print("%d %.1f %.1f %.1f %.1f" % (len(r), q(0.5), q(0.9), q(0.99), r[-1]))
PY
for p in v2 w2; do
	ip netns exec "pc-wt-$p" python3 "$DIR/echo.py" serve &
	PIDS="$PIDS $!"
done
sleep 0.5
"$BIN/labwire" ctl "$DIR/wire.sock" reset >/dev/null
read -r nv v50 v90 v99 vmax <<<"$(ip netns exec pc-wt-v1 python3 "$DIR/echo.py" probe 10.99.0.2 "$N")"
read -r nw w50 w90 w99 wmax <<<"$(ip netns exec pc-wt-w1 python3 "$DIR/echo.py" probe 10.99.0.4 "$N")"
echo "round trip (us), $N probes each:      n     p50     p90     p99     max"
printf 'veth pair                          %5d %7.1f %7.1f %7.1f %7.1f\n' "$nv" "$v50" "$v90" "$v99" "$vmax"
printf 'bin/labwire (4 passes)             %5d %7.1f %7.1f %7.1f %7.1f\n' "$nw" "$w50" "$w90" "$w99" "$wmax"
awk -v a="$v50" -v b="$w50" -v c="$v99" -v d="$w99" 'BEGIN {
	printf "the wire adds per pass: %.1f us at the median, %.1f us at the 99th percentile\n", (b - a) / 4, (d - c) / 4 }'
"$BIN/labwire" ctl "$DIR/wire.sock" stats | awk '$1 == "self" { k = split($NF, h, ","); for (i = 1; i <= k; i++) t += h[i]
	for (i = 1; i <= k; i++) { a += h[i]; if (!m50 && a >= 0.5 * t) m50 = i; if (!m99 && a >= 0.99 * t) m99 = i }
	printf "its read to write: p50 < %d us, p99 < %d us over %d frames\n", m50 == 1 ? 1 : 2 ^ (m50 - 1), m99 == 1 ? 1 : 2 ^ (m99 - 1), t }'
echo "other jobs: load average $(cut -d' ' -f1-3 /proc/loadavg)"
