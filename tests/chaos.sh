#!/usr/bin/env bash
# payment-chaos: the seed's test-chaos.sh, in bash + curl (+ awk/sort for the statistics).
# Run `tests/chaos.sh --help` for the commands. Exit status: 0 all checks passed, 1 a check failed,
# 2 usage error or a missing tool.
set -uo pipefail

PAYMENT_URL=${PAYMENT_URL:-http://localhost:5002}
INVENTORY_URL=${INVENTORY_URL:-http://localhost:5003}
NOTIFICATION_URL=${NOTIFICATION_URL:-http://localhost:5004}
NAMESPACE=${NAMESPACE:-payment-chaos}
KUBECTL=${KUBECTL:-kubectl}
TIMEOUT=${TIMEOUT:-20}          # curl --max-time per request, seconds (the chain's own steps time out at 15 s)
PRODUCT=${PRODUCT:-1}           # product used by basic/loss/stress (seed: "1")
SEED=${SEED:-42}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
EXPERIMENTS=${EXPERIMENTS:-$ROOT/chaos-experiments}
MANIFEST=${MANIFEST:-$ROOT/k8s/deployment.yaml}
SIM=${SIM:-$ROOT/bin/sim}

MAX_REQUESTS=1000               # hard bounds on any load this script generates
MAX_PARALLEL=100
MAX_TIMEOUT=120

usage() {
    cat <<EOF
Usage: tests/chaos.sh COMMAND [ARGS]

Checks against running services (URLs from PAYMENT_URL, INVENTORY_URL, NOTIFICATION_URL):
  health                      GET /health and /ready on the three services; fails unless all answer 200
  basic                       payment process + status, stock check + list, notification send + history,
                              one chain request; fails on the first wrong answer
  loss   [N] [options]        N chain requests one after another (default 20): success count and
                              latency percentiles (the seed's packet-loss measurement)
  stress [N] [options]        N chain requests, PARALLEL at a time (default 50, all at once; the seed's
                              parallel load)
    options: -n N, -p PARALLEL, --expect 'EXPR', --phase baseline|chaos|recovery
    EXPR is the payment-chaos/expect language of chaos-experiments/*.yaml:
      <metric> <op> <number> [during <phase>] joined by ';'
      metric: chain.success_rate chain.p50_ms chain.p99_ms (others are skipped here)
      op: < <= > >= ==
    Clauses with 'during X' are checked only when --phase X is given; the command fails if one does not hold.

Chaos Mesh (needs kubectl and a cluster; namespace $NAMESPACE):
  apply loss|stress|podkill [NAME|all|list]
                              apply one experiment by name (default: packet-loss-80-percent,
                              cpu-stress-payment, pod-kill-payment), 'all' = the whole file like the
                              seed did (objects then overlap), 'list' = show the names. An object with a
                              payment-chaos/pair annotation is applied together with its pair.
  cleanup                     delete every Schedule, Workflow, NetworkChaos, StressChaos, PodChaos in the
                              namespace (schedules and workflows first, so they spawn nothing new)

  confirm FILE [OBJECT] [options] [-- LOAD OPTIONS]
                              one experiment on the cluster against the simulator's prediction for the
                              same manifest: checks the cluster, runs the load generator as a Job
                              (k8s/loadgen-job.yaml) without a fault to calibrate, then through baseline,
                              chaos and recovery, applying OBJECT (and its pair) for the chaos phase and
                              deleting it after (also on failure or Ctrl-C), and prints the lab's table
                              with a verdict (docs/kubernetes.md, step 9). Exit 0 confirmed, 1 not, 2 a
                              check or the run failed.
    options: --rate R (default 20/s), --seed N (1), --baseline D (10s), --recovery D (10s),
      --chaos D (replace the object's spec.duration), --calibration D|none (the no-fault run's chaos
      phase, 20s), --sim-seeds N (10), --out DIR (default build/confirm/OBJECT); LOAD OPTIONS are
      bin/sim's (--clients, --workload, --keepalive, ...). Environment: LOADGEN (bin/loadgen),
      LOADGEN_JOB (k8s/loadgen-job.yaml), CHAOS_MESH_NAMESPACE (chaos-mesh), CONFIRM_*_TIMEOUT.

Simulator:
  predict FILE [SIM ARGS]     bin/sim --experiment FILE --manifest k8s/deployment.yaml --seed \$SEED

Environment: PAYMENT_URL INVENTORY_URL NOTIFICATION_URL (defaults http://localhost:5002/5003/5004),
  TIMEOUT (curl --max-time, default 20 s, at most $MAX_TIMEOUT), PRODUCT (default 1), N, PARALLEL,
  EXPECT, PHASE, KUBECTL (default kubectl), NAMESPACE, SEED (default 42), SIM (default bin/sim).
Loads are bounded: at most $MAX_REQUESTS requests and $MAX_PARALLEL in parallel per command.
A chain request counts as a success when it gets a 2xx answer whose overall_status (if present) is
"success"; latency is curl's time_total, percentiles are nearest-rank over all requests (failures
included, so timeouts show in the tail). The chain may reserve stock: long runs need a product with
enough stock (PRODUCT=5) or a larger CATALOGUE.
EOF
}

die() { echo "chaos.sh: $*" >&2; exit 2; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

if is_uint "$TIMEOUT" && [ "$TIMEOUT" -ge 1 ] && [ "$TIMEOUT" -le "$MAX_TIMEOUT" ]; then :; else
    die "TIMEOUT must be 1..$MAX_TIMEOUT seconds"
fi
command -v curl >/dev/null || die "curl is required"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/chaos-sh.XXXXXX") || die "mktemp failed"
cleanup_tmp() {
    # confirm's chaos object, Job and ConfigMap first (tests/chaos-confirm.sh)
    declare -F confirm_cleanup >/dev/null && confirm_cleanup
    # background requests of `stress` (our own children only)
    local pids
    pids=$(jobs -p)
    [ -n "$pids" ] && kill $pids 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup_tmp EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then OK="✓"; BAD="✗"; else OK="ok"; BAD="FAIL"; fi

# http METHOD URL [JSON BODY] -> sets CODE, MS (latency in ms), BODY (file)
http() {
    local method=$1 url=$2 data=${3-} out
    BODY=$TMP/body.$RANDOM$RANDOM
    local args=(-sS -o "$BODY" -w '%{http_code} %{time_total}' --max-time "$TIMEOUT" -X "$method")
    [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data "$data")
    out=$(curl "${args[@]}" "$url" 2>"$TMP/curl.err") || true
    CODE=${out%% *}
    MS=$(awk -v t="${out#* }" 'BEGIN { printf "%.1f", t * 1000 }')
    [[ $CODE =~ ^[0-9]{3}$ ]] || CODE=000
}

json_field() {     # json_field FILE KEY -> first string value of "KEY" (flat match, enough for ids)
    sed -n 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n 1
}

chain_ok() {       # chain_ok CODE BODYFILE
    [[ $1 =~ ^2 ]] || return 1
    if grep -q '"overall_status"' "$2" 2>/dev/null; then
        grep -Eq '"overall_status"[[:space:]]*:[[:space:]]*"success"' "$2"
    fi
}

# ------------------------------------------------------------------------------------------ health
cmd_health() {
    local failed=0 name url h hms r
    printf '%-13s %-32s %-7s %-7s %s\n' service url health ready health_ms
    for name in payment inventory notification; do
        case $name in
            payment) url=$PAYMENT_URL ;;
            inventory) url=$INVENTORY_URL ;;
            notification) url=$NOTIFICATION_URL ;;
        esac
        http GET "$url/health"; h=$CODE; hms=$MS
        http GET "$url/ready"; r=$CODE
        printf '%-13s %-32s %-7s %-7s %s\n' "$name" "$url" "$h" "$r" "$hms"
        if [ "$h" != 200 ] || [ "$r" != 200 ]; then failed=1; fi
    done
    if [ $failed = 0 ]; then echo "$OK health: all services healthy and ready"; else echo "$BAD health: a service is not healthy or not ready"; fi
    return $failed
}

# ------------------------------------------------------------------------------------------- basic
step() {           # step N "title" -> prints the result line from CODE/MS, returns 0 if $ok
    local n=$1 title=$2 ok=$3
    if [ "$ok" = 1 ]; then
        printf '%s %d. %-34s %s  %s ms\n' "$OK" "$n" "$title" "$CODE" "$MS"
    else
        printf '%s %d. %-34s %s  %s ms  %s\n' "$BAD" "$n" "$title" "$CODE" "$MS" "$(head -c 300 "$BODY" 2>/dev/null | tr '\n' ' ')"
        BASIC_FAILED=1
    fi
}

cmd_basic() {
    BASIC_FAILED=0
    local pid="" ok
    http POST "$PAYMENT_URL/payment/process" "{\"amount\": 100, \"currency\": \"USD\", \"product_id\": \"$PRODUCT\"}"
    pid=$(json_field "$BODY" payment_id)
    ok=0; [[ $CODE =~ ^2 ]] && [ -n "$pid" ] && ok=1
    step 1 "payment process" $ok

    if [ -n "$pid" ]; then
        http GET "$PAYMENT_URL/payment/status/$pid"
        ok=0; [ "$CODE" = 200 ] && grep -q "\"$pid\"" "$BODY" && ok=1
    else
        CODE=---; MS=0; ok=0; : >"$TMP/none"; BODY=$TMP/none
    fi
    step 2 "payment status ${pid:-(no id)}" $ok

    http GET "$INVENTORY_URL/check/$PRODUCT"
    ok=0; [ "$CODE" = 200 ] && grep -q '"product_id"' "$BODY" && ok=1
    step 3 "stock check (product $PRODUCT)" $ok

    http GET "$INVENTORY_URL/list"
    ok=0; [ "$CODE" = 200 ] && ok=1
    step 4 "product list" $ok

    http POST "$NOTIFICATION_URL/send" '{"message": "chaos.sh basic", "type": "info", "recipient": "chaos-sh"}'
    ok=0; [[ $CODE =~ ^2 ]] && ok=1
    step 5 "notification send" $ok

    http GET "$NOTIFICATION_URL/history"
    ok=0; [ "$CODE" = 200 ] && ok=1
    step 6 "notification history" $ok

    http POST "$PAYMENT_URL/payment/chain" "{\"product_id\": \"$PRODUCT\"}"
    ok=0; chain_ok "$CODE" "$BODY" && ok=1
    step 7 "chain (inventory + notification)" $ok

    if [ $BASIC_FAILED = 0 ]; then echo "$OK basic: all steps passed"; else echo "$BAD basic: a step failed"; fi
    return $BASIC_FAILED
}

# ----------------------------------------------------------------------------------- loss / stress
one_chain() {      # one_chain I -> writes "ok|fail CODE MS" to $TMP/r.I
    local i=$1 out code t body=$TMP/b.$1 ok=fail
    out=$(curl -sS -o "$body" -w '%{http_code} %{time_total}' --max-time "$TIMEOUT" -X POST \
          -H 'Content-Type: application/json' --data "{\"product_id\": \"$PRODUCT\"}" \
          "$PAYMENT_URL/payment/chain" 2>/dev/null) || true
    code=${out%% *}; t=${out#* }
    [[ $code =~ ^[0-9]{3}$ ]] || code=000
    [[ $t =~ ^[0-9.]+$ ]] || t=0
    chain_ok "$code" "$body" && ok=ok
    awk -v s="$ok" -v c="$code" -v t="$t" 'BEGIN { printf "%s %s %.3f\n", s, c, t * 1000 }' >"$TMP/r.$i"
    rm -f "$body"
}

# evaluate EXPR against the measured metrics; prints one line per clause; returns 1 if one fails
check_expect() {
    local expr=$1 phase=$2 metrics=$3
    awk -v expr="$expr" -v phase="$phase" -v metrics="$metrics" -v okm="$OK" -v badm="$BAD" '
    BEGIN {
        n = split(metrics, kv, " ")
        for (i = 1; i <= n; i++) { split(kv[i], p, "="); val[p[1]] = p[2] + 0; raw[p[1]] = p[2]; have[p[1]] = 1 }
        nc = split(expr, cl, ";"); failed = 0
        for (i = 1; i <= nc; i++) {
            c = cl[i]; gsub(/^[ \t]+|[ \t]+$/, "", c)
            if (c == "") continue
            m = split(c, w, /[ \t]+/)
            if (!(m == 3 || (m == 5 && w[4] == "during"))) { print "chaos.sh: bad expectation: " c > "/dev/stderr"; bad = 1; continue }
            if (w[2] !~ /^(<|<=|>|>=|==)$/ || w[3] !~ /^-?[0-9]+(\.[0-9]+)?$/) { print "chaos.sh: bad expectation: " c > "/dev/stderr"; bad = 1; continue }
            if (m == 5 && w[5] !~ /^(baseline|chaos|recovery)$/) { print "chaos.sh: bad phase in: " c > "/dev/stderr"; bad = 1; continue }
            if (m == 5 && w[5] != phase) { printf "  skip  %s (phase %s)\n", c, (phase == "" ? "not given" : phase); continue }
            if (!(w[1] in have)) { printf "  skip  %s (not measured here)\n", c; continue }
            v = val[w[1]]; x = w[3] + 0
            r = (w[2] == "<" && v < x) || (w[2] == "<=" && v <= x) || (w[2] == ">" && v > x) || \
                (w[2] == ">=" && v >= x) || (w[2] == "==" && v == x)
            printf "  %s %s (measured %s)\n", (r ? okm : badm), c, raw[w[1]]
            if (!r) failed = 1
        }
        exit (bad ? 2 : failed)
    }'
}

cmd_load() {       # cmd_load loss|stress ARGS...
    local mode=$1; shift
    local n parallel expect=${EXPECT:-} phase=${PHASE:-}
    if [ "$mode" = loss ]; then n=${N:-20}; parallel=1; else n=${N:-50}; parallel=${PARALLEL:-}; fi
    while [ $# -gt 0 ]; do
        case $1 in
            -n) n=${2-}; shift 2 || die "-n needs a value" ;;
            -p) parallel=${2-}; shift 2 || die "-p needs a value" ;;
            --expect) expect=${2-}; shift 2 || die "--expect needs a value" ;;
            --phase) phase=${2-}; shift 2 || die "--phase needs a value" ;;
            *) is_uint "$1" || die "$mode: unknown argument '$1'"; n=$1; shift ;;
        esac
    done
    [ -n "$parallel" ] || parallel=$n
    is_uint "$n" && [ "$n" -ge 1 ] && [ "$n" -le $MAX_REQUESTS ] || die "N must be 1..$MAX_REQUESTS"
    is_uint "$parallel" && [ "$parallel" -ge 1 ] || die "PARALLEL must be >= 1"
    [ "$parallel" -le $MAX_PARALLEL ] || parallel=$MAX_PARALLEL
    [ "$parallel" -le "$n" ] || parallel=$n
    case $phase in ""|baseline|chaos|recovery) ;; *) die "--phase must be baseline, chaos or recovery" ;; esac

    echo "== $mode: $n chain requests, $parallel at a time, POST $PAYMENT_URL/payment/chain (product $PRODUCT, timeout ${TIMEOUT}s)"
    local i start end running
    start=$(date +%s.%N)
    for ((i = 1; i <= n; i++)); do
        if [ "$parallel" -le 1 ]; then
            one_chain "$i"
        else
            one_chain "$i" &
            running=$(jobs -rp | wc -l)
            while [ "$running" -ge "$parallel" ]; do
                wait -n 2>/dev/null || true
                running=$(jobs -rp | wc -l)
            done
        fi
    done
    wait
    end=$(date +%s.%N)
    cat "$TMP"/r.* 2>/dev/null >"$TMP/results"

    local metrics
    metrics=$(awk -v n="$n" -v wall="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')" '
        { if ($1 == "ok") ok++; code[$2]++; lat[NR] = $3 + 0; if ($1 == "ok") olat[++no] = $3 + 0 }
        function sort(a, k,   i, j, t) { for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
        function pct(a, k, p,   r) { if (k == 0) return 0; r = int((p / 100) * k); if (r < (p / 100) * k) r++; if (r < 1) r = 1; return a[r] }
        END {
            got = NR; sort(lat, got); sort(olat, no)
            printf "%-9s %-6s %-7s %-13s %-9s %-9s %-9s %-9s %s\n", "requests", "ok", "failed", "success_rate", "p50_ms", "p90_ms", "p99_ms", "max_ms", "wall_s" > "/dev/stderr"
            printf "%-9d %-6d %-7d %-13.3f %-9.1f %-9.1f %-9.1f %-9.1f %.1f\n", n, ok, n - ok, (n ? ok / n : 0), pct(lat, got, 50), pct(lat, got, 90), pct(lat, got, 99), (got ? lat[got] : 0), wall > "/dev/stderr"
            if (no > 0 && no < got)
                printf "%-9s %-6d %-7s %-13s %-9.1f %-9.1f %-9.1f %-9.1f (successful requests only)\n", "", no, "", "", pct(olat, no, 50), pct(olat, no, 90), pct(olat, no, 99), olat[no] > "/dev/stderr"
            s = ""; for (c in code) s = s sprintf(" %s x%d", c, code[c])
            printf "codes:%s%s\n", s, (code["000"] ? "   (000 = no HTTP answer: timeout or connection error)" : "") > "/dev/stderr"
            printf "chain.requests=%d chain.ok=%d chain.success_rate=%.3f chain.p50_ms=%.1f chain.p90_ms=%.1f chain.p99_ms=%.1f chain.max_ms=%.1f", n, ok, (n ? ok / n : 0), pct(lat, got, 50), pct(lat, got, 90), pct(lat, got, 99), (got ? lat[got] : 0)
        }' "$TMP/results" 2>&1 >"$TMP/metrics")
    echo "$metrics"
    metrics=$(cat "$TMP/metrics")
    echo "$metrics"
    rm -f "$TMP"/r.* "$TMP/results"

    if [ -n "$expect" ]; then
        echo "expectations${phase:+ (phase $phase)}:"
        check_expect "$expect" "$phase" "$metrics"
        case $? in
            0) echo "$OK $mode: expectations hold"; return 0 ;;
            2) die "bad --expect expression" ;;
            *) echo "$BAD $mode: an expectation does not hold"; return 1 ;;
        esac
    fi
    return 0
}

# ------------------------------------------------------------------------------------------ kubectl
# Multi-document YAML helpers (no yq here): documents are split on lines starting with '---';
# a document's name is the `  name:` line right under its top-level `metadata:`.
yaml_index() {     # yaml_index FILE -> lines "NAME KIND PAIR" (PAIR '-' if none)
    awk '
    function flush() { if (name != "") print name, kind, (pair == "" ? "-" : pair); name = kind = pair = ""; inmeta = 0 }
    /^---/ { flush(); next }
    /^kind:/ { kind = $2 }
    /^metadata:/ { inmeta = 1; next }
    /^[^ #]/ { inmeta = 0 }
    inmeta && /^  name:/ && name == "" { name = $2; gsub(/["\047]/, "", name) }
    inmeta && /^    payment-chaos\/pair:/ { pair = $2; gsub(/["\047]/, "", pair) }
    END { flush() }' "$1"
}

yaml_select() {    # yaml_select FILE NAME... -> the documents with those names
    awk -v want="$*" '
    BEGIN { n = split(want, a, " "); for (i = 1; i <= n; i++) W[a[i]] = 1 }
    function flush() { if (doc != "" && (name in W)) printf "---\n%s", doc; doc = name = ""; inmeta = 0 }
    /^---/ { flush(); next }
    { doc = doc $0 "\n" }
    /^metadata:/ { inmeta = 1; next }
    /^[^ #]/ { inmeta = 0 }
    inmeta && /^  name:/ && name == "" { name = $2; gsub(/["\047]/, "", name) }
    END { flush() }' "$1"
}

need_kubectl() {
    local k=${KUBECTL%% *}
    command -v "$k" >/dev/null || die "'$k' not found (set KUBECTL, e.g. KUBECTL='minikube kubectl --')"
}

cmd_apply() {
    local what=${1-} name=${2-} file def
    case $what in
        loss) file=$EXPERIMENTS/02-packet-loss-80-percent.yaml; def=packet-loss-80-percent ;;
        stress) file=$EXPERIMENTS/05-stress-chaos.yaml; def=cpu-stress-payment ;;
        podkill) file=$EXPERIMENTS/06-pod-kill.yaml; def=pod-kill-payment ;;
        *) die "apply: expected loss, stress or podkill" ;;
    esac
    [ -r "$file" ] || die "cannot read $file"
    name=${name:-$def}
    if [ "$name" = list ]; then
        echo "$(basename "$file"):"
        yaml_index "$file" | awk '{ printf "  %-32s %-13s%s\n", $1, $2, ($3 == "-" ? "" : "  (applied with " $3 ")") }'
        return 0
    fi
    need_kubectl
    echo "== apply $what: $name ($file)"
    if [ "$name" = all ]; then
        echo "   (all objects at once, like the seed: filtered NetworkChaos objects on the same pods do not add up)"
        $KUBECTL apply -f "$file"
        return
    fi
    local pair names
    pair=$(yaml_index "$file" | awk -v n="$name" '$1 == n { print $3; found = 1 } END { exit !found }') \
        || die "no object named '$name' in $file (try: apply $what list)"
    names=$name
    [ "$pair" != "-" ] && names="$name $pair"
    yaml_select "$file" $names | $KUBECTL apply -f -
}

cmd_cleanup() {
    need_kubectl
    local failed=0 kind
    echo "== cleanup: chaos objects in namespace $NAMESPACE"
    # Schedules and Workflows first: deleting them stops new children; deleting a chaos object
    # recovers it through its finalizer (the command waits for that, bounded).
    for kind in schedule workflow networkchaos stresschaos podchaos; do
        $KUBECTL delete "$kind" --all -n "$NAMESPACE" --ignore-not-found --timeout=120s || failed=1
    done
    if [ $failed = 0 ]; then echo "$OK cleanup: done"; else echo "$BAD cleanup: a delete failed"; fi
    return $failed
}

cmd_predict() {
    local file=${1-}
    [ -n "$file" ] || die "predict: expected an experiment file"
    shift
    [ -r "$file" ] || die "cannot read $file"
    [ -x "$SIM" ] || die "$SIM not built (run make)"
    "$SIM" --experiment "$file" --manifest "$MANIFEST" --seed "$SEED" "$@"
}

# shellcheck source=tests/chaos-confirm.sh
. "$HERE/chaos-confirm.sh"

main() {
    local cmd=${1-}
    [ $# -gt 0 ] && shift
    case $cmd in
        health) cmd_health ;;
        basic) cmd_basic ;;
        loss|stress) cmd_load "$cmd" "$@" ;;
        apply) cmd_apply "$@" ;;
        cleanup) cmd_cleanup ;;
        predict) cmd_predict "$@" ;;
        confirm) cmd_confirm "$@" ;;
        -h|--help|help) usage ;;
        "") usage >&2; exit 2 ;;
        *) echo "chaos.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
    esac
}

main "$@"
