#!/usr/bin/env bash
# tests/bench/run.sh: throughput and memory of the HTTP runtime against a minimal libmicrohttpd responder.
#
#   make bench            (builds bin/*, then runs this)
#   bash tests/bench/run.sh
#
# ROUNDS (BENCH_ROUNDS, default 5) rounds of five wrk runs on loopback, one after the other, each
# `wrk -t2 -c16 -d10s` (override: BENCH_DURATION=5s):
#   1. GET /health of tests/bench/min_responder.c (compiled here; same libmicrohttpd threading options)
#   2. GET /health of bin/payment-service
#   3. POST /payment/chain (tests/bench/chain.lua) with all three services running: each request is three
#      HTTP exchanges (client -> payment, payment -> inventory, payment -> notification)
#   4. the same three exchanges through tests/bench/min_chain.c and two more min responders: the least
#      libmicrohttpd and libcurl cost per chain, with no service work, in the runtime's thread design
#   5. the same with min_chain's other design: one event loop per thread for both libraries
#      Not targets: they tell how far the services' chain is from the libraries' floor, and how close
#      either floor comes to the chain target on this machine.
# Each round's ratios compare its own runs; the verdict is on the median round.
# Targets (what the services must keep against a bare responder): payment /health >= 0.8 x responder; chain >= 0.7 x responder / 3; VmRSS of every
# service < 8 MiB after the runs. The services run with the default LOG_LEVEL (info: one JSON line per
# request, formatted and written), stderr to /dev/null so that the disk does not take part in the
# comparison (BENCH_LOGS=file keeps the logs in the run's temporary directory instead).
# Next to each rate it prints the servers' CPU time per request (user+system time of the server processes
# during the run): on a shared machine other jobs move the rates a lot (the responder's first and last
# runs show by how much), the CPU cost per request much less.
# Exit status 1 if a target is missed. Every process started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${PC_BIN_DIR:-$ROOT/bin}
DURATION=${BENCH_DURATION:-10s}
ROUNDS=${BENCH_ROUNDS:-5}
THREADS=${THREADS:-2}
LOGS=${BENCH_LOGS:-null} # where the services' stderr goes: null (/dev/null) or file
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
    [ "$(id -u)" = 0 ] || die "wrk is missing and installing it needs root (apt-get install wrk, as root)"
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
for s in payment inventory notification; do [ -x "$BIN/$s-service" ] || die "$BIN/$s-service missing (run make)"; done

# The baselines, built with the project's compiler flags: build NAME PKG...: tests/bench/NAME.c -> $WORK/NAME.
build() {
    local name=$1; shift
    ${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra \
        "$ROOT/tests/bench/$name.c" -o "$WORK/$name" $(pkg-config --cflags --libs "$@") -lpthread
}
build min_responder libmicrohttpd
build min_chain libmicrohttpd libcurl
RESPONDER="$WORK/min_responder"
MIN_CHAIN="$WORK/min_chain"

# start NAME [VAR=value...] CMD: starts a server on a free port, waits (bounded) until it answers GET /health;
# sets PORT_OUT and PID_OUT. Its stderr goes to $LOGS (a file per server, or /dev/null).
# shellcheck source=tests/free_ports.sh
. "$ROOT/tests/free_ports.sh"
start() {
    local name=$1; shift
    local port log=/dev/null
    port=$(free_ports 1) || die "no free port"
    [ "$LOGS" = file ] && log="$WORK/$name.log"
    env PORT="$port" BIND_ADDRESS=127.0.0.1 THREADS="$THREADS" "$@" 2>"$log" >/dev/null &
    PID_OUT=$!
    PORT_OUT=$port
    PIDS+=("$PID_OUT")
    for _ in $(seq 1 200); do
        curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/health" && return 0
        kill -0 "$PID_OUT" 2>/dev/null || die "$name exited at start (run with BENCH_LOGS=file to keep its log)"
        sleep 0.05
    done
    die "$name did not answer within 10 s"
}

stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# cpu_ticks PIDS...: user+system clock ticks used so far by PIDS (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }

# run_wrk "PIDS" WRK-ARGS...: runs wrk; echoes "<requests/s> <server CPU us per request>", the CPU being the
# user+system time of PIDS during the run (a cost that a busy shared machine disturbs much less than the
# rate). Fails on non-2xx answers.
run_wrk() {
    local pids=$1 out t0 t1 n; shift
    # shellcheck disable=SC2086
    t0=$(cpu_ticks $pids)
    out=$(wrk -t2 -c16 -d"$DURATION" "$@")
    # shellcheck disable=SC2086
    t1=$(cpu_ticks $pids)
    echo "$out" >>"$WORK/wrk.txt"
    if grep -q "Non-2xx" <<<"$out"; then echo "bench: non-2xx answers during $*" >&2; echo "$out" >&2; exit 2; fi
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    awk -v t="$((t1 - t0))" -v n="$n" -v hz="$(getconf CLK_TCK)" '/Requests\/sec:/ {printf "%s %.1f\n", $2, t * 1e6 / hz / n}' <<<"$out"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

echo "== machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $(uname -r), load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== wrk -t2 -c16 -d$DURATION on 127.0.0.1; server threads $THREADS; LOG_LEVEL default (info: a JSON line per request), stderr to $([ "$LOGS" = file ] && echo "files" || echo /dev/null)"

# All eight servers run from the start (an idle server costs nothing); then ROUNDS rounds of five
# measurements, back to back: responder, payment /health, chain, the two min chains. Each ratio compares measurements of the
# same round, a few seconds apart, and the verdict is on the median round: on a shared machine the rates
# drift by 20-40 % within a minute (other jobs, the hypervisor), which a single responder measurement at
# one end of the run would turn into a wrong ratio; five rounds keep the median off one bad moment. (With
# libmicrohttpd's thread pool each run also drew how its workers split wrk's 16 connections: all of them on
# one of two workers in 4 runs of 16, at ~30 % less throughput. The runtime and the responder now run one
# daemon per thread on a SO_REUSEPORT port: README.)
start responder "$RESPONDER"
RESP_PID=$PID_OUT RESP_PORT=$PORT_OUT
start inventory "$BIN/inventory-service"
INV_PID=$PID_OUT INV_PORT=$PORT_OUT
start notification "$BIN/notification-service"
NTF_PID=$PID_OUT NTF_PORT=$PORT_OUT
start payment \
    INVENTORY_SERVICE="http://127.0.0.1:$INV_PORT" NOTIFICATION_SERVICE="http://127.0.0.1:$NTF_PORT" "$BIN/payment-service"
PAY_PID=$PID_OUT PAY_PORT=$PORT_OUT
start upstream1 "$RESPONDER"
UP1_PID=$PID_OUT UP1_PORT=$PORT_OUT
start upstream2 "$RESPONDER"
UP2_PID=$PID_OUT UP2_PORT=$PORT_OUT
start min_chain DESIGN=handoff UPSTREAM1="http://127.0.0.1:$UP1_PORT/check/1" UPSTREAM2="http://127.0.0.1:$UP2_PORT/send" "$MIN_CHAIN"
MIN_PID=$PID_OUT MIN_PORT=$PORT_OUT
start min_loop DESIGN=loop UPSTREAM1="http://127.0.0.1:$UP1_PORT/check/1" UPSTREAM2="http://127.0.0.1:$UP2_PORT/send" "$MIN_CHAIN"
LOOP_PID=$PID_OUT LOOP_PORT=$PORT_OUT
# The chain answers 200 even when a step failed: check once that the steps succeed.
curl -sf -XPOST -H 'Content-Type: application/json' -d '{"product_id":"1"}' \
    "http://127.0.0.1:$PAY_PORT/payment/chain" | grep -q '"overall_status":"success"' || die "chain steps failing"

printf '\n%-6s %-44s %12s %22s\n' "round" "measurement" "requests/s" "server CPU us/request"
: >"$WORK/rounds"
for round in $(seq 1 "$ROUNDS"); do
    read -r responder cpu_resp < <(run_wrk "$RESP_PID" "http://127.0.0.1:$RESP_PORT/health")
    read -r health cpu_health < <(run_wrk "$PAY_PID" "http://127.0.0.1:$PAY_PORT/health")
    read -r chain cpu_chain < <(run_wrk "$PAY_PID $INV_PID $NTF_PID" -s "$ROOT/tests/bench/chain.lua" \
        "http://127.0.0.1:$PAY_PORT/payment/chain")
    read -r floor cpu_floor < <(run_wrk "$MIN_PID $UP1_PID $UP2_PID" -s "$ROOT/tests/bench/chain.lua" \
        "http://127.0.0.1:$MIN_PORT/payment/chain")
    read -r floor_loop cpu_floor_loop < <(run_wrk "$LOOP_PID $UP1_PID $UP2_PID" -s "$ROOT/tests/bench/chain.lua" \
        "http://127.0.0.1:$LOOP_PORT/payment/chain")
    printf '%-6s %-44s %12.0f %22.1f\n' "$round" "min responder GET /health" "$responder" "$cpu_resp"
    printf '%-6s %-44s %12.0f %22.1f\n' "" "payment-service GET /health" "$health" "$cpu_health"
    printf '%-6s %-44s %12.0f %22.1f   (three services)\n' "" "payment-service POST /payment/chain (3 hops)" "$chain" "$cpu_chain"
    printf '%-6s %-44s %12.0f %22.1f   (three processes)\n' "" "min chain, runtime's design (3 hops)" "$floor" "$cpu_floor"
    printf '%-6s %-44s %12.0f %22.1f   (three processes)\n' "" "min chain, a loop per thread (3 hops)" "$floor_loop" "$cpu_floor_loop"
    awk -v r="$responder" -v h="$health" -v c="$chain" -v f="$floor" -v l="$floor_loop" \
        'BEGIN { printf "%.3f %.3f %.3f %.3f %.3f\n", h / r, c / (r / 3), f / (r / 3), c / f, l / (r / 3) }' >>"$WORK/rounds"
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
r_health=$(cut -d' ' -f1 "$WORK/rounds" | median)
r_chain=$(cut -d' ' -f2 "$WORK/rounds" | median)
all_health=$(cut -d' ' -f1 "$WORK/rounds" | paste -sd' ')
all_chain=$(cut -d' ' -f2 "$WORK/rounds" | paste -sd' ')
r_floor=$(cut -d' ' -f3 "$WORK/rounds" | median)
r_chain_floor=$(cut -d' ' -f4 "$WORK/rounds" | median)
r_floor_loop=$(cut -d' ' -f5 "$WORK/rounds" | median)

rss_pay=$(rss_kib "$PAY_PID"); rss_inv=$(rss_kib "$INV_PID"); rss_ntf=$(rss_kib "$NTF_PID")
log_bytes=0
[ "$LOGS" = file ] && log_bytes=$(cat "$WORK"/payment.log "$WORK"/inventory.log "$WORK"/notification.log | wc -c)
stop "$PAY_PID"; stop "$INV_PID"; stop "$NTF_PID"; stop "$MIN_PID"; stop "$LOOP_PID"; stop "$UP1_PID"; stop "$UP2_PID"; stop "$RESP_PID"

fail=0
verdict() { if awk "BEGIN {exit !($1)}"; then VERDICT=PASS; else VERDICT=FAIL; fail=1; fi; }
echo
verdict "$r_health >= 0.8"
echo "payment /health / responder        = $r_health  (median of rounds: $all_health)  (target >= 0.8)  $VERDICT"
verdict "$r_chain >= 0.7"
echo "chain / (responder / 3)            = $r_chain  (median of rounds: $all_chain)  (target >= 0.7)  $VERDICT"
echo "min chain / (responder / 3)        = $r_floor  (median; not a target: the libraries' floor, runtime's design)"
echo "min chain loop / (responder / 3)   = $r_floor_loop  (median; not a target: the floor with a loop per thread)"
echo "chain / min chain                  = $r_chain_floor  (median; the services' chain against its design's floor)"
for pair in "payment:$rss_pay" "inventory:$rss_inv" "notification:$rss_ntf"; do
    name=${pair%%:*} kib=${pair##*:}
    verdict "$kib < 8192"
    printf 'VmRSS %-13s = %6d KiB %6.2f MiB  (target < 8 MiB)  %s\n' "$name" "$kib" "$(awk "BEGIN {print $kib/1024}")" "$VERDICT"
done
if [ "$LOGS" = file ]; then echo "service log output during the runs: $log_bytes bytes (in $WORK, removed on exit)"; fi
if [ "$fail" = 0 ]; then echo "bench: all targets met"; else echo "bench: some targets missed"; fi
exit "$fail"
