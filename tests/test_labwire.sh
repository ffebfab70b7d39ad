#!/bin/bash
# test_labwire.sh: bin/labwire on real devices (root: network namespaces and TAP devices; skipped otherwise).
#
# Two "pods" (network namespaces pc-wt-a, pc-wt-b) reach each other through a bridge in pc-wt-node, each
# through the wire (a TAP pair per pod); a UDP echo (python3) stands in for ping. Checks: bad arguments
# exit 2 with a message, --help exits 0; echoes pass through the wire; a 100 % loss rule on a's egress to b stops it and the ledger counts the drops; a
# 30 ms delay shows in the round trip (one way only: b's replies are not shaped); the rule's removal brings
# the plain round trip back; `port del` removes both devices; SIGTERM stops the forwarder with status 0
# and leaves no device. Everything it creates is removed at the end, also on failure.
set -u
BIN=${PC_BIN_DIR:-$(cd "$(dirname "$0")/.." && pwd)/bin}
W=$BIN/labwire
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

"$W" --bogus 2>/dev/null; [ $? = 2 ] || fail "an unknown option must exit 2"
"$W" --rt 200 --control /tmp/x 2>&1 | grep -q "priority 0..99" || fail "a bad --rt must say why"
"$W" 2>/dev/null; [ $? = 2 ] || fail "no --control must exit 2"
"$W" --help | grep -q "usage: labwire" || fail "--help"
"$W" ctl /nonexistent/sock ping 2>/dev/null; [ $? = 2 ] || fail "ctl to no forwarder must exit 2"
ok "arguments"

if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then
	echo "skip: the device part needs root and /dev/net/tun"
	exit 0
fi

DIR=$(mktemp -d /tmp/pc-wt.XXXXXX)
SOCK=$DIR/wire.sock
NS="pc-wt-node pc-wt-a pc-wt-b"
WPID=""
NS_PIDS=""
cleanup() {
	for p in $NS_PIDS; do kill "$p" 2>/dev/null; done
	[ -n "$WPID" ] && kill -TERM "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null
	for n in $NS; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$DIR"
}
trap cleanup EXIT
# echo.py serve PORT | echo.py probe HOST PORT COUNT: "received N mean_rtt_ms"
cat >"$DIR/echo.py" <<'PY'
import socket, sys, time
if sys.argv[1] == "serve":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[2])))
    while True:
        d, a = s.recvfrom(2048); s.sendto(d, a)
host, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
got, rtts = 0, []
for i in range(n):
    t0 = time.monotonic(); s.sendto(str(i).encode(), (host, port))
    try:
        while s.recv(2048).decode() != str(i): pass
        got += 1; rtts.append((time.monotonic() - t0) * 1000)
    except socket.timeout: pass
    time.sleep(0.05)
print(got, sum(rtts) / len(rtts) if rtts else -1)
PY
probe() { ip netns exec pc-wt-a python3 "$DIR/echo.py" probe 10.99.0.2 7777 "$1"; }
for n in $NS; do ip netns add "$n" || fail "ip netns add $n"; ip -n "$n" link set lo up; done
ip -n pc-wt-node link add br0 type bridge
ip -n pc-wt-node link set br0 up

"$W" --control "$SOCK" --seed 7 2>"$DIR/wire.log" &
WPID=$!
for _ in $(seq 50); do "$W" ctl "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.05; done
"$W" ctl "$SOCK" ping >/dev/null || fail "the forwarder does not answer"

k=1
for p in a b; do
	"$W" ctl "$SOCK" port add $p /run/netns/pc-wt-$p eth0 /run/netns/pc-wt-node w-$p >/dev/null || fail "port add $p"
	ip -n pc-wt-node link set w-$p master br0 up
	ip -n pc-wt-$p addr add 10.99.0.$k/24 dev eth0
	ip -n pc-wt-$p link set eth0 up
	k=$((k + 1))
done
"$W" ctl "$SOCK" port add a /run/netns/pc-wt-a eth1 /run/netns/pc-wt-node w-x 2>/dev/null | grep -q "error:" ||
	fail "a second port named a must be refused"
"$W" ctl "$SOCK" rule add r1 a netem any loss 150 2>/dev/null | grep -q "error:" || fail "loss 150 must be refused"
"$W" ctl "$SOCK" rule add r1 a netem any reorder 10 2>/dev/null | grep -q "reordering not possible" ||
	fail "reorder without delay must be refused in tc's words"
ok "control errors"

ip netns exec pc-wt-b python3 "$DIR/echo.py" serve 7777 &
EPID=$!
NS_PIDS=$EPID
sleep 0.5
read -r got rtt0 <<<"$(probe 10)"
[ "$got" = 10 ] || fail "echoes through the wire: $got of 10 came back"
ok "10 of 10 echoes through the wire, mean round trip $rtt0 ms"

"$W" ctl "$SOCK" reset >/dev/null
"$W" ctl "$SOCK" rule add drop a netem 10.99.0.2 loss 100 >/dev/null || fail "rule add"
read -r got _ <<<"$(probe 5)"
[ "$got" = 0 ] || fail "$got echoes passed a 100 % loss rule"
line=$("$W" ctl "$SOCK" stats | awk '$1 == "link" && $2 == "a" && $3 == "10.99.0.2"')
read -r _ _ _ seen faulted dropped _ <<<"$line"
[ "${seen:-0}" -ge 5 ] && [ "$faulted" = "$seen" ] && [ "$dropped" = "$seen" ] ||
	fail "ledger: expected every echo request seen, faulted and dropped, got: $line"
[ "$("$W" ctl "$SOCK" rule del drop)" = $'purged 0\nok' ] || fail "rule del"
ok "100 % loss, ledger: $seen seen, $dropped dropped"

"$W" ctl "$SOCK" rule add slow a netem any delay 30000000 >/dev/null || fail "delay rule"
read -r got rtt <<<"$(probe 5)"
awk -v r="$rtt" -v r0="$rtt0" 'BEGIN { exit !(r >= 30 && r < 45 + r0) }' ||
	fail "30 ms one-way delay: mean round trip $rtt ms (without it $rtt0 ms)"
"$W" ctl "$SOCK" rule del slow >/dev/null
read -r got rtt1 <<<"$(probe 5)"
awk -v r="$rtt1" 'BEGIN { exit !(r < 15) }' || fail "after the rule's removal: mean round trip $rtt1 ms"
ok "30 ms delay: round trip $rtt ms; after its removal $rtt1 ms"

"$W" ctl "$SOCK" port del b >/dev/null || fail "port del"
ip -n pc-wt-node link show w-b >/dev/null 2>&1 && fail "port del left w-b"
ip -n pc-wt-b link show eth0 >/dev/null 2>&1 && fail "port del left b's eth0"
ok "port del removes both devices"

kill -TERM "$WPID"
wait "$WPID"
rc=$?
WPID=""
[ $rc = 0 ] || fail "SIGTERM: exit status $rc"
ip -n pc-wt-node link show w-a >/dev/null 2>&1 && fail "the forwarder's exit left w-a"
ip -n pc-wt-a link show eth0 >/dev/null 2>&1 && fail "the forwarder's exit left a's eth0"
[ -e "$SOCK" ] && fail "the control socket is left"
ok "SIGTERM: exit 0, no device left"
echo "test_labwire: all passed"
