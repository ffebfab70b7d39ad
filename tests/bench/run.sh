#!/usr/bin/env bash
# tests/bench/run.sh: throughput and memory of the HTTP runtime against a minimal libmicrohttpd responder.
#
#   make bench            (builds bin/*, then runs this)
#   bash tests/bench/run.sh
#
# Three wrk runs on loopback, one after the other, each `wrk -t2 -c16 -d10s` (override: BENCH_DURATION=5s):
#   1. GET /health of tests/bench/min_responder.c (compiled here; same libmicrohttpd threading options)
#   2. GET /health of bin/payment-service
#   3. POST /payment/chain (tests/bench/chain.lua) with all three services running: each request is three
#      HTTP exchanges (client -> payment -> inventory, payment -> notification)
# Targets (issue #2): payment /health >= 0.8 x responder; chain >= 0.7 x responder / 3; VmRSS of every
# service < 8 MiB after the runs. The services run with the default LOG_LEVEL (info: one JSON line per
# request), stderr to a file in the run's temporary directory, so logging is part of the measured cost.
# Exit status 1 if a target is missed. Every process started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${PC_BIN_DIR:-$ROOT/bin}
DURATION=${BENCH_DURATION:-10s}
THREADS=${THREADS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pc-bench-XXXXXX")
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "bench: $*" >&2; exit 2; }

if ! command -v wrk >/dev/null; then
    echo "bench: wrk missing; installing the Debian package"
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
for s in payment inventory notification; do [ -x "$BIN/$s-service" ] || die "$BIN/$s-service missing (run make)"; done

# The baseline responder, built with the project's compiler flags.
RESPONDER="$WORK/min_responder"
${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra \
    "$ROOT/tests/bench/min_responder.c" -o "$RESPONDER" \
    $(pkg-config --cflags --libs libmicrohttpd) -lpthread

# start NAME LOG [VAR=value...] CMD: starts a server with PORT=0, waits (bounded) for its listening line, sets PORT_OUT/PID_OUT.
start() {
    local name=$1 log=$2; shift 2
    env PORT=0 BIND_ADDRESS=127.0.0.1 THREADS="$THREADS" "$@" 2>"$log" >/dev/null &
    PID_OUT=$!
    PIDS+=("$PID_OUT")
    for _ in $(seq 1 200); do
        PORT_OUT=$(grep -o '"event":"listening"[^}]*"port":[0-9]*' "$log" 2>/dev/null | grep -o '"port":[0-9]*' | head -1 | cut -d: -f2 || true)
        [ -n "$PORT_OUT" ] && return 0
        kill -0 "$PID_OUT" 2>/dev/null || die "$name exited at start: $(cat "$log")"
        sleep 0.05
    done
    die "$name did not start within 10 s"
}

stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# rps WRK-ARGS...: runs wrk, prints its output to the log, echoes requests/s; fails on socket errors or non-2xx.
rps() {
    local out
    out=$(wrk -t2 -c16 -d"$DURATION" "$@")
    echo "$out" >>"$WORK/wrk.txt"
    if grep -q "Non-2xx" <<<"$out"; then echo "bench: non-2xx answers during $*" >&2; echo "$out" >&2; exit 2; fi
    awk '/Requests\/sec:/ {print $2}' <<<"$out"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

echo "== machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $(uname -r), load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== wrk -t2 -c16 -d$DURATION on 127.0.0.1; server threads $THREADS; service logs (LOG_LEVEL default=info) to files"

start responder "$WORK/responder.log" "$RESPONDER"
R_PID=$PID_OUT
responder=$(rps "http://127.0.0.1:$PORT_OUT/health")
stop "$R_PID"

start inventory "$WORK/inventory.log" "$BIN/inventory-service"
INV_PID=$PID_OUT INV_PORT=$PORT_OUT
start notification "$WORK/notification.log" "$BIN/notification-service"
NTF_PID=$PID_OUT NTF_PORT=$PORT_OUT
start payment "$WORK/payment.log" \
    INVENTORY_SERVICE="http://127.0.0.1:$INV_PORT" NOTIFICATION_SERVICE="http://127.0.0.1:$NTF_PORT" "$BIN/payment-service"
PAY_PID=$PID_OUT PAY_PORT=$PORT_OUT

health=$(rps "http://127.0.0.1:$PAY_PORT/health")
chain=$(rps -s "$ROOT/tests/bench/chain.lua" "http://127.0.0.1:$PAY_PORT/payment/chain")
# The chain answers 200 even when a step failed: check that the steps succeeded.
curl -sf -XPOST -H 'Content-Type: application/json' -d '{"product_id":"1"}' \
    "http://127.0.0.1:$PAY_PORT/payment/chain" | grep -q '"overall_status":"success"' || die "chain steps failing"

rss_pay=$(rss_kib "$PAY_PID"); rss_inv=$(rss_kib "$INV_PID"); rss_ntf=$(rss_kib "$NTF_PID")
log_bytes=$(cat "$WORK"/payment.log "$WORK"/inventory.log "$WORK"/notification.log | wc -c)

fail=0
verdict() { if awk "BEGIN {exit !($1)}"; then VERDICT=PASS; else VERDICT=FAIL; fail=1; fi; }
r_health=$(awk "BEGIN {printf \"%.3f\", $health / $responder}")
r_chain=$(awk "BEGIN {printf \"%.3f\", $chain / ($responder / 3)}")

printf '\n%-44s %12s\n' "measurement" "requests/s"
printf '%-44s %12.0f\n' "min responder GET /health" "$responder"
printf '%-44s %12.0f\n' "payment-service GET /health" "$health"
printf '%-44s %12.0f\n' "payment-service POST /payment/chain (3 hops)" "$chain"
echo
verdict "$r_health >= 0.8"; echo "payment /health / responder        = $r_health  (target >= 0.8)  $VERDICT"
verdict "$r_chain >= 0.7"; echo "chain / (responder / 3)            = $r_chain  (target >= 0.7)  $VERDICT"
for pair in "payment:$rss_pay" "inventory:$rss_inv" "notification:$rss_ntf"; do
    name=${pair%%:*} kib=${pair##*:}
    verdict "$kib < 8192"
    printf 'VmRSS %-13s = %6d KiB %6.2f MiB  (target < 8 MiB)  %s\n' "$name" "$kib" "$(awk "BEGIN {print $kib/1024}")" "$VERDICT"
done
echo "service log output during the runs: $log_bytes bytes"
[ "$fail" = 0 ] && echo "bench: all targets met" || echo "bench: some targets missed"
exit "$fail"
