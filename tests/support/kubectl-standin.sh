#!/usr/bin/env bash
# kubectl-standin.sh: a stand-in for `kubectl` that answers the calls `tests/chaos.sh confirm` makes, from
# services running on this machine, so that the whole confirm path runs without a cluster
# (tests/test_chaos_confirm.sh). It is not Chaos Mesh and injects no fault:
#   * the Job is real: `apply -f` of the Job runs lab/loadgen-job.sh (the image's entrypoint) with the real
#     bin/loadgen against STANDIN_TARGET, with the ConfigMap's files as its /etc/loadgen; `logs` is its log;
#   * `exec` into a service pod reads the CPU time of the process that stands for it (/proc/PID/stat), in
#     the format of cgroup v2's cpu.stat; `exec` into chaos-daemon shows this machine's real
#     `tc -s qdisc show dev lo`, where no netem is (nothing was injected);
#   * a chaos object is recorded as applied, paused, deleted; nothing selects it, so its conditions are
#     Selected=False AllInjected=False AllRecovered=True, and there is no PodNetworkChaos.
# STANDIN_REPLAY=DIR replays Chaos Mesh's side from fixtures instead (tests/support/chaos-mesh-replay/), to
# check that confirm reads it: conditions AllInjected=True once applied and AllRecovered=True once paused,
# DIR/podnetworkchaos.txt as the rules, DIR/tc.txt as chaos-daemon's tc output. Nothing is injected then
# either: the Job still measures the services without a fault.
# Every call that changes something is appended to $STANDIN_DIR/ledger ("apply networkchaos/NAME", ...);
# a call it does not know is appended to $STANDIN_DIR/unknown and fails (exit 1), so the test sees any
# call confirm makes that this file does not answer.
#
# Environment: STANDIN_DIR (state, required), STANDIN_TARGET (payment URL), STANDIN_PODS
# ("payment-0=PID inventory-0=PID ..."), STANDIN_BIN (bin/ with loadgen), STANDIN_ROOT (the repository),
# STANDIN_NAMESPACE (default payment-chaos), STANDIN_LIFETIME (seconds a Job may run, default 300).
# Faults to test confirm's checks: STANDIN_MISSING_CRD=NAME, STANDIN_NO_IMAGE=1 (the loadgen image is on
# no node), STANDIN_KILL_JOB_ON_APPLY=1 (the Job dies when the chaos object is applied).
set -uo pipefail
S=${STANDIN_DIR:?STANDIN_DIR is not set}
NS=${STANDIN_NAMESPACE:-payment-chaos}
mkdir -p "$S/objects" "$S/paused"

ns=""
args=()
while [ $# -gt 0 ]; do
    case $1 in
        -n | --namespace) ns=$2; shift 2 ;;
        --namespace=*) ns=${1#*=}; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
set -- "${args[@]}"
call="$*"
ledger() { echo "$*" >>"$S/ledger"; }
unknown() {
    echo "${ns:+-n $ns }$call" >>"$S/unknown"
    echo "kubectl stand-in: unsupported call: kubectl ${ns:+-n $ns }$call" >&2
    exit 1
}
notfound() { echo "Error from server (NotFound): $1 not found" >&2; exit 1; }
opt() { # opt NAME: the value of -o/-l/--from-file... style options in the call
    local want=$1 a prev=""
    for a in "${args[@]}"; do
        [ "$prev" = "$want" ] && { echo "$a"; return; }
        case $a in "$want="*) echo "${a#*=}"; return ;; esac
        prev=$a
    done
}
in_ns() { [ "${ns:-default}" = "$NS" ]; }

job_pid() { cat "$S/job/pid" 2>/dev/null; }
job_running() { [ -d "$S/job" ] && [ ! -s "$S/job/rc" ] && kill -0 "$(job_pid)" 2>/dev/null; }
job_rc() { cat "$S/job/rc" 2>/dev/null || echo 137; } # no rc: its shell was killed
job_kill() {
    local pid tpid
    pid=$(job_pid)
    tpid=$(cat "$S/job/tpid" 2>/dev/null)
    [ -n "$pid" ] || return 0
    [ -n "$tpid" ] && kill -TERM -- "-$tpid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    [ -n "$tpid" ] && kill -KILL -- "-$tpid" 2>/dev/null
    kill -KILL -- "-$pid" 2>/dev/null
    return 0
}

# documents of a YAML file: "kind name" per document
docs() { awk '/^---/ { if (k != "") print k, n; k = n = ""; m = 0; next } /^kind:/ { k = $2 } /^metadata:/ { m = 1; next } /^[^ #]/ { m = 0 } m && /^  name:/ && n == "" { n = $2 } END { if (k != "") print k, n }' "$1"; }

start_job() {
    [ -d "$S/job" ] && { echo 'Error from server (AlreadyExists): jobs.batch "loadgen" already exists' >&2; exit 1; }
    mkdir -p "$S/job"
    : >"$S/job/log"
    # timeout puts itself and the Job in a process group of their own: its id is the Job's (tpid)
    setsid bash -c 'echo $$ >"$1/pid"
        env LOADGEN_CONFIG_DIR="$2" LOADGEN_TARGET="$3" LOADGEN_BIN="$4/loadgen" TMPDIR="$1" \
            timeout -k 5 "$6" sh "$5/lab/loadgen-job.sh" >>"$1/log" 2>&1 &
        echo $! >"$1/tpid"
        wait $!
        echo $? >"$1/rc"' _ "$S/job" "$S/configmap" "${STANDIN_TARGET:?}" "${STANDIN_BIN:?}" "${STANDIN_ROOT:?}" \
        "${STANDIN_LIFETIME:-300}" </dev/null >/dev/null 2>&1 &
    for _ in $(seq 50); do [ -s "$S/job/pid" ] && break; sleep 0.05; done
    ledger "apply job/loadgen"
}

pod_pid() { tr ' ' '\n' <<<"${STANDIN_PODS:-}" | awk -F= -v p="$1" '$1 == p { print $2 }'; }

case "${1-} ${2-}" in
    "config current-context") echo standin ;;
    "get namespace")
        [ "${3-}" = "$NS" ] || notfound "namespaces \"${3-}\""
        echo "namespace/$NS" ;;
    "get crd")
        for c in networkchaos stresschaos podchaos schedules workflows podnetworkchaos; do
            [ "$c.chaos-mesh.org" = "${STANDIN_MISSING_CRD:-}" ] || echo "customresourcedefinition.apiextensions.k8s.io/$c.chaos-mesh.org"
        done ;;
    "get statefulset")
        in_ns || exit 0
        printf '%s 1 1\n' payment inventory notification ;;
    "get networkchaos,stresschaos,podchaos,schedule,workflow" | "get networkchaos,stresschaos,podchaos,schedule,workflow,"*)
        in_ns || exit 0
        for f in "$S"/objects/*; do
            if [ -e "$f" ]; then basename "$f" | sed 's/\./\//'; fi
        done ;;
    "get nodes")
        case $(opt -o) in
            *capacity.cpu*) echo "standin-node $(nproc)" ;;
            *status.images*)
                for i in payment-service inventory-service notification-service loadgen; do
                    [ "$i" = loadgen ] && [ "${STANDIN_NO_IMAGE:-0}" = 1 ] && continue
                    echo "docker.io/payment-chaos/$i:latest"
                done ;;
            *) unknown ;;
        esac ;;
    "get pod")
        in_ns || notfound "pods \"${3-}\""
        [ -n "$(pod_pid "${3-}")" ] || notfound "pods \"${3-}\""
        echo standin-node ;;
    "get pods")
        case "$(opt -l) $(opt -o)" in
            "job-name=loadgen "*)
                job_running && { echo "Running "; exit 0; }
                [ -d "$S/job" ] || exit 0
                if [ "$(job_rc)" = 0 ]; then echo "Succeeded "; else echo "Failed "; fi ;;
            "app.kubernetes.io/component=chaos-daemon "*)
                [ "$ns" = chaos-mesh ] && echo "chaos-daemon-standin standin-node" ;;
            " "*podIP*)
                for p in ${STANDIN_PODS:-}; do printf '%s\t127.0.0.1\tstandin-node\tstandin://%s\n' "${p%%=*}" "${p%%=*}"; done ;;
            *) unknown ;;
        esac ;;
    "get job")
        [ -d "$S/job" ] || notfound 'jobs.batch "loadgen"'
        case $(opt -o) in
            *succeeded*)
                if job_running; then echo "/"; elif [ "$(job_rc)" = 0 ]; then echo "1/"; else echo "/1"; fi ;;
            *) unknown ;;
        esac ;;
    "get networkchaos" | "get stresschaos" | "get podchaos" | "get schedule" | "get workflow")
        [ -e "$S/objects/$2.${3-}" ] || notfound "$2 \"${3-}\""
        if [ -e "$S/paused/$2.${3-}" ]; then paused=True; else paused=False; fi
        if [ -n "${STANDIN_REPLAY:-}" ]; then
            if [ $paused = True ]; then injected=False; else injected=True; fi
            echo "Selected=True AllInjected=$injected AllRecovered=$paused Paused=$paused "
        else
            echo "Selected=False AllInjected=False AllRecovered=True Paused=$paused "
        fi ;;
    "get podnetworkchaos") # nothing injected, so no per-pod rules, unless replayed
        if [ -n "${STANDIN_REPLAY:-}" ]; then cat "$STANDIN_REPLAY/podnetworkchaos.txt"; fi ;;
    "annotate "*)
        [ -e "$S/objects/$2.${3-}" ] || notfound "$2 \"${3-}\""
        [ "${4-}" = experiment.chaos-mesh.org/pause=true ] || unknown
        touch "$S/paused/$2.${3-}"
        ledger "annotate $2/${3-} pause" ;;
    "delete configmap")
        rm -rf "$S/configmap"
        ledger "delete configmap/${3-}" ;;
    "create configmap")
        rm -rf "$S/configmap"
        mkdir -p "$S/configmap"
        for a in "${args[@]}"; do
            case $a in --from-file=*=*) kv=${a#--from-file=}; cp "${kv#*=}" "$S/configmap/${kv%%=*}" || exit 1 ;; esac
        done
        ledger "create configmap/${3-}" ;;
    "delete job")
        [ -d "$S/job" ] || exit 0
        job_kill
        rm -rf "$S/job"
        ledger "delete job/loadgen" ;;
    "apply -f")
        f=${3-}
        if grep -q '^kind: Job' "$f"; then
            start_job
        else
            while read -r kind name; do
                k=$(tr '[:upper:]' '[:lower:]' <<<"$kind")
                touch "$S/objects/$k.$name"
                rm -f "$S/paused/$k.$name"
                ledger "apply $k/$name"
                echo "$k.chaos-mesh.org/$name created"
            done < <(docs "$f")
            if [ "${STANDIN_KILL_JOB_ON_APPLY:-0}" = 1 ]; then job_kill; fi
        fi ;;
    "delete -f")
        while read -r kind name; do
            k=$(tr '[:upper:]' '[:lower:]' <<<"$kind")
            [ -e "$S/objects/$k.$name" ] || continue
            rm -f "$S/objects/$k.$name" "$S/paused/$k.$name"
            ledger "delete $k/$name"
        done < <(docs "${3-}") ;;
    "logs -f")
        [ -d "$S/job" ] || notfound 'jobs.batch "loadgen"'
        if job_running; then exec tail -n +1 -f --pid="$(job_pid)" "$S/job/log"; fi
        cat "$S/job/log" ;;
    "logs job/loadgen")
        [ -d "$S/job" ] || notfound 'jobs.batch "loadgen"'
        cat "$S/job/log" ;;
    "exec "*)
        if [ "$ns" = chaos-mesh ] && [ -n "${STANDIN_REPLAY:-}" ]; then
            cat "$STANDIN_REPLAY/tc.txt"
            exit 0
        fi
        if [ "$ns" = chaos-mesh ]; then
            command -v tc >/dev/null || { echo "no process of container (tc missing)"; exit 3; }
            tc -s qdisc show dev lo
            exit 0
        fi
        pid=$(pod_pid "$2")
        [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || notfound "pods \"$2\""
        # utime + stime (fields 14 and 15, after the parenthesised name) in clock ticks -> microseconds
        awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "usage_usec %.0f\n", ($12 + $13) * 1e6 / hz }' "/proc/$pid/stat" ;;
    *) unknown ;;
esac
