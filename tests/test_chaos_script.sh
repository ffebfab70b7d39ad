#!/usr/bin/env bash
# Tests tests/chaos.sh against the three real service binaries (from $PC_BIN_DIR, default bin/) on free
# loopback ports: health, basic, loss/stress measurements with expectations, failure exits, and the
# kubectl/simulator commands through stand-ins (no cluster here). Run by `make test`.
# Everything it starts is bounded (timeout) and killed on exit, also on failure or Ctrl-C.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${PC_BIN_DIR:-$ROOT/bin}
CHAOS=$HERE/chaos.sh
LIFETIME=${PC_TEST_LIFETIME:-300}     # seconds any service started here may live
unset SERVICE_TOKEN SERVICE_TOKEN_FILE # the first services run as the seed did; the last section sets one

PASS=0
FAIL=0
PIDS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/test-chaos-script.XXXXXX")

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { PASS=$((PASS + 1)); echo "  ok    $*"; }
fail() { FAIL=$((FAIL + 1)); echo "  FAIL  $*"; }

# run NAME EXPECTED_EXIT CMD... : runs CMD, output in $OUT, checks the exit status
run() {
    local name=$1 want=$2; shift 2
    OUT=$("$@" 2>&1)
    local rc=$?
    if [ "$rc" = "$want" ]; then pass "$name (exit $rc)"; else fail "$name: exit $rc, wanted $want"; printf '%s\n' "$OUT" | sed 's/^/        | /' | head -n 40; fi
}
has() {            # has NAME REGEX : $OUT matches (a here-string: grep -q stopping early cannot fail a pipe)
    if grep -Eq -- "$2" <<<"$OUT"; then pass "$1"; else fail "$1: output lacks /$2/"; printf '%s\n' "$OUT" | sed 's/^/        | /' | head -n 40; fi
}
hasnt() {
    if grep -Eq -- "$2" <<<"$OUT"; then fail "$1: output has /$2/"; printf '%s\n' "$OUT" | sed 's/^/        | /' | head -n 40; else pass "$1"; fi
}

# shellcheck source=tests/free_ports.sh
. "$HERE/free_ports.sh"

wait_health() {    # wait_health URL SECONDS
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        curl -fsS --max-time 1 -o /dev/null "$1/health" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

echo "== tests/test_chaos_script.sh (binaries from $BIN)"
for s in payment inventory notification; do
    if [ ! -x "$BIN/$s-service" ]; then
        echo "test_chaos_script: $BIN/$s-service is missing (build with make)" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
done

ports=$(free_ports 4) || { echo "no free port" >&2; exit 1; }
read -r PP IP NP DEAD <<<"$ports"
PAY=http://127.0.0.1:$PP
INV=http://127.0.0.1:$IP
NOT=http://127.0.0.1:$NP

# Large stock for products 1 and 5; product 7 holds only 4 units, so that stress runs must refill it.
CATALOGUE_JSON='[{"id":"1","name":"Laptop","stock":100000,"price":15000},{"id":"5","name":"Charger","stock":100000,"price":150},{"id":"7","name":"Few","stock":4,"price":10}]'
start() {          # start NAME PORT
    env PORT="$2" BIND_ADDRESS=127.0.0.1 LOG_LEVEL=warn THREADS=4 SHUTDOWN_GRACE_MS=1000 \
        PAYMENT_SERVICE="$PAY" INVENTORY_SERVICE="$INV" NOTIFICATION_SERVICE="$NOT" \
        PAYMENT_PEERS="$PAY" INVENTORY_PEERS="$INV" NOTIFICATION_PEERS="$NOT" \
        DOWNSTREAM_TIMEOUT_MS=3000 CHAIN_STEP_TIMEOUT_MS=3000 FORWARD_TIMEOUT_MS=2000 \
        CATALOGUE="$CATALOGUE_JSON" \
        timeout -k 5 "$LIFETIME" "$BIN/$1-service" >"$TMP/$1.log" 2>&1 &
    PIDS+=($!)
}
start payment "$PP"
start inventory "$IP"
start notification "$NP"
for u in "$PAY" "$INV" "$NOT"; do
    if ! wait_health "$u" 20; then
        echo "test_chaos_script: $u did not become healthy in 20 s" >&2
        tail -n 20 "$TMP"/*.log >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
done
export PAYMENT_URL=$PAY INVENTORY_URL=$INV NOTIFICATION_URL=$NOT TIMEOUT=10

echo "-- usage"
run "--help" 0 bash "$CHAOS" --help
has "--help lists the commands" 'health.*basic|Usage: tests/chaos.sh'
run "no command" 2 bash "$CHAOS"
run "unknown command" 2 bash "$CHAOS" frobnicate

echo "-- health"
run "health against running services" 0 bash "$CHAOS" health
has "health summary" 'health: all services healthy and ready'
has "health table has the three services" 'notification .*200 +200'
OUT=""; run "health with notification down" 1 env NOTIFICATION_URL="http://127.0.0.1:$DEAD" bash "$CHAOS" health
has "health reports the dead service" 'notification +http://127.0.0.1:[0-9]+ +000'

echo "-- basic"
run "basic against running services" 0 bash "$CHAOS" basic
has "basic: payment process" '1\. payment process +200'
has "basic: payment status" '2\. payment status [^ ]+ +200'
has "basic: chain" '7\. chain .* 200'
has "basic summary" 'basic: all steps passed'
run "basic with inventory down" 1 env INVENTORY_URL="http://127.0.0.1:$DEAD" bash "$CHAOS" basic
has "basic names the failed step" '3\. stock check'

echo "-- loss / stress measurements"
run "loss 10 requests, baseline expectation" 0 bash "$CHAOS" loss -n 10 --phase baseline \
    --expect 'chain.success_rate >= 0.95 during baseline; chain.p99_ms < 3000 during baseline; chain.success_rate <= 0.7 during chaos'
has "loss: metrics line" 'chain\.requests=10 chain\.ok=10 chain\.success_rate=1\.000'
has "loss: summary table" '^chain +requests +ok +failed +success_rate +p50_ms +p90_ms +p99_ms'
has "loss: chaos clause skipped in baseline" 'skip +chain.success_rate <= 0.7 during chaos'
has "loss: expectations hold" 'loss: expectations hold'
run "stress 20 payments, 5 in parallel, then 3 chains" 0 bash "$CHAOS" stress 20 -p 5 -c 3 \
    --expect 'payment.success_rate >= 1; chain.success_rate >= 1; payment.wall_s < 60'
has "stress: all 20 payments succeeded" 'payment\.requests=20 payment\.ok=20 '
has "stress: the 3 chains" 'chain\.requests=3 chain\.ok=3 '
has "stress: codes" 'codes: 200 x20'
has "stress: enough stock, nothing refilled" 'refill: product 1 has [0-9]+ units, enough for 20'
# Product 7 has 4 units: each run refills it first, so every run gets its 10 payments through, and a
# run does not depend on the one before.
for r in 1 2 3; do
    run "stress on a small stock, run $r" 0 env PRODUCT=7 bash "$CHAOS" stress 10 -c 0
    has "run $r: 10 of 10 payments" 'payment\.requests=10 payment\.ok=10 '
    has "run $r: restocked first" 'refill: product 7 had [0-4] units, restocked ([6-9]|10) '
done
OUT=$(curl -s "$INV/check/7")
has "the three runs took 30 units in all" '"stock_count":0'
run "stress -c with loss" 2 bash "$CHAOS" loss 3 -c 2
run "loss with a failing expectation" 1 bash "$CHAOS" loss -n 3 --expect 'chain.p50_ms < 0'
has "failing expectation is reported" 'an expectation does not hold'
run "loss with a bad expectation" 2 bash "$CHAOS" loss -n 1 --expect 'chain.p50_ms about 3'
run "loss with payment unreachable" 1 env PAYMENT_URL="http://127.0.0.1:$DEAD" bash "$CHAOS" loss 5 \
    --expect 'chain.success_rate >= 0.95'
has "unreachable: success rate 0 and code 000" 'chain\.ok=0 chain\.success_rate=0\.000'
has "unreachable: 000 explained" 'codes: 000 x5'
run "loss N out of bounds" 2 bash "$CHAOS" loss 100000
# A real fault behind payment: inventory stopped, payment still up. Every chain must fail (not 2xx
# success) and the measurement must say so.
kill "${PIDS[1]}" 2>/dev/null; wait "${PIDS[1]}" 2>/dev/null
run "loss with inventory stopped" 0 bash "$CHAOS" loss 3 --phase chaos --expect 'chain.success_rate <= 0.1 during chaos'
has "inventory stopped: no chain succeeds" 'chain\.requests=3 chain\.ok=0 '
run "health with inventory stopped" 1 bash "$CHAOS" health

echo "-- apply / cleanup / predict (stand-ins for kubectl and bin/sim)"
cat >"$TMP/kubectl" <<EOF
#!/usr/bin/env bash
echo "kubectl \$*" >>"$TMP/kubectl.log"
if [ "\${1-}" = apply ] && [ "\${3-}" = - ]; then cat >>"$TMP/kubectl.stdin"; fi
exit 0
EOF
chmod +x "$TMP/kubectl"
cat >"$TMP/sim" <<EOF
#!/usr/bin/env bash
echo "sim \$*"
EOF
chmod +x "$TMP/sim"
export KUBECTL=$TMP/kubectl

run "apply loss list" 0 bash "$CHAOS" apply loss list
has "list shows the fixed and the seed-form objects" 'seed-packet-loss-80-corr50'
has "list shows the pair" 'packet-loss-95-percent +NetworkChaos +\(applied with packet-loss-95-percent-reverse\)'
: >"$TMP/kubectl.stdin"
run "apply loss (default object)" 0 bash "$CHAOS" apply loss
OUT=$(cat "$TMP/kubectl.stdin")
has "apply loss sends packet-loss-80-percent" '^  name: packet-loss-80-percent$'
hasnt "apply loss sends nothing else" 'name: (packet-loss-95|seed-|scheduled-|gradual-)'
has "apply loss keeps the externalTargets" '10\.96\.100\.3'
: >"$TMP/kubectl.stdin"
run "apply loss packet-loss-95-percent" 0 bash "$CHAOS" apply loss packet-loss-95-percent
OUT=$(grep -c '^kind: NetworkChaos' "$TMP/kubectl.stdin")
has "the 95 % pair is applied together (2 objects)" '^2$'
: >"$TMP/kubectl.stdin"
run "apply stress gradual-stress-increase" 0 bash "$CHAOS" apply stress gradual-stress-increase
OUT=$(cat "$TMP/kubectl.stdin")
has "workflow document sent whole" 'name: high-stress'
run "apply podkill pod-kill-inventory" 0 bash "$CHAOS" apply podkill pod-kill-inventory
run "apply unknown object" 2 bash "$CHAOS" apply loss no-such-object
run "apply unknown scenario" 2 bash "$CHAOS" apply flood
: >"$TMP/kubectl.log"
run "cleanup" 0 bash "$CHAOS" cleanup
OUT=$(cat "$TMP/kubectl.log")
has "cleanup deletes schedules first" '^kubectl delete schedule --all -n payment-chaos'
has "cleanup deletes podchaos" 'delete podchaos --all -n payment-chaos'
OUT=$(head -n 1 "$TMP/kubectl.log")
has "schedules before chaos objects" 'schedule'
run "kubectl missing" 2 env KUBECTL=/nonexistent/kubectl bash "$CHAOS" cleanup
run "predict" 0 env SIM="$TMP/sim" SEED=7 bash "$CHAOS" predict "$ROOT/chaos-experiments/06-pod-kill.yaml" --runs 2
has "predict passes experiment, manifest, seed and extra args" \
    "^sim --experiment $ROOT/chaos-experiments/06-pod-kill.yaml --manifest $ROOT/k8s/deployment.yaml --seed 7 --runs 2\$"
run "predict without a file" 2 bash "$CHAOS" predict

echo "-- with the services' credential (SERVICE_TOKEN)"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
PIDS=()
ports=$(free_ports 3) || { echo "no free port" >&2; exit 1; }
read -r PP IP NP <<<"$ports"
PAY=http://127.0.0.1:$PP INV=http://127.0.0.1:$IP NOT=http://127.0.0.1:$NP
TOKEN=chaos-script-test-token-0123456789
export SERVICE_TOKEN=$TOKEN
start payment "$PP"
start inventory "$IP"
start notification "$NP"
unset SERVICE_TOKEN
for u in "$PAY" "$INV" "$NOT"; do wait_health "$u" 20 || fail "$u did not become healthy with SERVICE_TOKEN"; done
export PAYMENT_URL=$PAY INVENTORY_URL=$INV NOTIFICATION_URL=$NOT
run "stress without the credential" 0 env PRODUCT=7 bash "$CHAOS" stress 6 -c 0
has "the restock is refused without it" 'refill: POST /restock answered 401'
has "so only the 4 units in stock are paid" 'payment\.requests=6 payment\.ok=4 '
printf '%s\n' "$TOKEN" >"$TMP/token"
run "stress with SERVICE_TOKEN_FILE" 0 env PRODUCT=7 SERVICE_TOKEN_FILE="$TMP/token" bash "$CHAOS" stress 6 -c 0
has "the restock carries the credential" 'refill: product 7 had 0 units, restocked 6 '
has "6 of 6 payments" 'payment\.requests=6 payment\.ok=6 '
run "basic with SERVICE_TOKEN (/send needs it)" 0 env SERVICE_TOKEN="$TOKEN" bash "$CHAOS" basic
run "basic without it" 1 bash "$CHAOS" basic

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
