#!/usr/bin/env bash
# Fuzzes the three real service binaries (from $PC_BIN_DIR, default bin/; under `make SANITIZE=... test`
# these are the sanitizer builds) with random and mutated HTTP requests (tests/http_fuzz.py), then checks
# that every request was answered as it should be, that the services still answer /health, that each exits 0
# on SIGTERM, and that no sanitizer (ASan, UBSan, LeakSanitizer, TSan) reported anything. Run by `make test`.
#   PC_FUZZ_COUNT (default 1000) requests for each seed in PC_FUZZ_SEEDS (default "1 2"). Same seed, same
#   requests. Everything started here is bounded (timeout) and killed on exit, also on failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${PC_BIN_DIR:-$ROOT/bin}
COUNT=${PC_FUZZ_COUNT:-1000}
SEEDS=${PC_FUZZ_SEEDS:-1 2}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/test-http-fuzz.XXXXXX")
PIDS=()
FAIL=0

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { FAIL=1; echo "  FAIL  $*"; }

# shellcheck source=tests/free_ports.sh
. "$HERE/free_ports.sh"
# shellcheck disable=SC2046
set -- $(free_ports 3) || { echo "test_http_fuzz: no free ports"; exit 1; }
PAY_PORT=$1 INV_PORT=$2 NTF_PORT=$3
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

start() { # NAME PORT [VAR=value...]
    local name=$1 port=$2
    shift 2
    env PORT="$port" BIND_ADDRESS=127.0.0.1 "$@" timeout 600 "$BIN/$name-service" 2>"$TMP/$name.log" &
    PIDS+=($!)
    for _ in $(seq 1 200); do
        curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/health" && return 0
        sleep 0.05
    done
    fail "$name did not answer /health within 10 s"
    return 1
}

echo "== http fuzz: $COUNT requests for each seed in: $SEEDS ($BIN)"
start inventory "$INV_PORT" || exit 1
start notification "$NTF_PORT" || exit 1
start payment "$PAY_PORT" INVENTORY_SERVICE="http://127.0.0.1:$INV_PORT" \
    NOTIFICATION_SERVICE="http://127.0.0.1:$NTF_PORT" || exit 1

for seed in $SEEDS; do
    if timeout 900 python3 "$HERE/http_fuzz.py" "$PAY_PORT" "$INV_PORT" "$NTF_PORT" "$COUNT" "$seed" \
        >"$TMP/fuzz-$seed.txt" 2>&1; then
        echo "  ok    seed $seed: $(tail -1 "$TMP/fuzz-$seed.txt")"
    else
        fail "seed $seed:"
        head -60 "$TMP/fuzz-$seed.txt"
    fi
done

# The bad-input matrix: every route with invalid UTF-8, NUL, cut characters, wrong bodies and the smuggling
# shapes; 4xx for each (an unknown transfer coding too) and the services' state exactly as before.
if timeout 300 python3 "$HERE/http_matrix.py" "$PAY_PORT" "$INV_PORT" "$NTF_PORT" >"$TMP/matrix.txt" 2>&1; then
    echo "  ok    $(tail -1 "$TMP/matrix.txt")"
else
    fail "bad-input matrix:"
    head -40 "$TMP/matrix.txt"
fi

for pair in "payment:$PAY_PORT" "inventory:$INV_PORT" "notification:$NTF_PORT"; do
    name=${pair%%:*} port=${pair##*:}
    curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$port/health" || fail "$name does not answer /health after the fuzzing"
done
# The chain still goes through after all that.
curl -sf --max-time 20 -XPOST -H 'Content-Type: application/json' -d '{"product_id":"1"}' \
    "http://127.0.0.1:$PAY_PORT/payment/chain" | grep -q '"overall_status":"success"' ||
    fail "POST /payment/chain does not succeed after the fuzzing"

i=0
for name in inventory notification payment; do
    pid=${PIDS[$i]}
    i=$((i + 1))
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    status=$?
    [ "$status" = 0 ] || fail "$name exited with status $status on SIGTERM"
    if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:" "$TMP/$name.log"; then
        fail "$name: sanitizer report"
        grep -m1 -A30 -E "ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:" "$TMP/$name.log"
    fi
done
PIDS=()

if [ "$FAIL" = 0 ]; then echo "http fuzz: all passed"; else echo "http fuzz: FAILED"; fi
exit "$FAIL"
