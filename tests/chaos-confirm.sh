# shellcheck shell=bash
# chaos-confirm.sh: `tests/chaos.sh confirm FILE [OBJECT]`, sourced by tests/chaos.sh (uses its die, yaml_index,
# yaml_select, need_kubectl, KUBECTL, NAMESPACE, MANIFEST, ROOT, OK, BAD).
#
# One experiment on a real cluster, scored against the simulator's prediction for the same manifest, the
# way lab/fidelity.sh scores the lab (docs/kubernetes.md, step 9):
#   1. checks: kubectl reaches the cluster, the namespace and the three StatefulSets exist and are ready, the
#      Chaos Mesh CRDs of the object's kinds exist, no other chaos object is active there, the load
#      generator's image is on a node; the object is in the services' namespace. Any of these: exit 2.
#   2. the plan: bin/loadgen --plan for the object with the cluster's replica counts and the CPUs of the node
#      that runs payment-0 (--manifest first, so everything else is the manifest's), and bin/sim's report.
#   3. calibration (unless --calibration none): a no-fault run of the Job (k8s/loadgen-job.yaml) measures
#      the cluster as the lab's no-fault cells measure the machine: its CPU speed (the services' cgroup CPU
#      time, read with kubectl exec, over the model's for the same requests: --cpu-scale) and its one-way
#      packet latency between pods (bin/loadgen --fit-link on that run's p50: --link-latency), and its
#      no-fault tail (bin/loadgen --fit-tail on its p95 and p99: --wake-stall P,MEAN).
#   4. the experiment: the Job runs baseline, chaos and recovery; when its log says the chaos phase starts
#      ("hook start"), the object is applied; when it says it stops, chaos-daemon's netem counters are read,
#      the object is paused (so Chaos Mesh reports AllRecovered) and deleted. Its conditions, and the
#      per-pod rules Chaos Mesh wrote (PodNetworkChaos), are read while it is injected.
#   5. the table: bin/loadgen --compare of the Job's records against the simulator over --sim-seeds seeds,
#      on the cluster's calibration with the link latency refitted to the run's no-fault phases (the lab's
#      rows, bounds and verdicts), then what Chaos Mesh reported and did against what the prediction
#      says the object really does.
# Clean-up: the chaos object, the Job and the ConfigMap are deleted at the end, on failure and on Ctrl-C
# (confirm_cleanup, from chaos.sh's EXIT trap). Every kubectl call is bounded (CONFIRM_KUBECTL_TIMEOUT).
# Files: everything it measured stays in --out DIR (default build/confirm/OBJECT).
# Exit status: 0 confirmed (injected, every judged figure within its bound), 1 not confirmed, 2 a check
# failed, bad usage, or the run failed.

LOADGEN=${LOADGEN:-$ROOT/bin/loadgen}
LOADGEN_JOB=${LOADGEN_JOB:-$ROOT/k8s/loadgen-job.yaml}
CHAOS_MESH_NAMESPACE=${CHAOS_MESH_NAMESPACE:-chaos-mesh}
CONFIRM_KUBECTL_TIMEOUT=${CONFIRM_KUBECTL_TIMEOUT:-120}   # seconds, any one kubectl call
CONFIRM_START_TIMEOUT=${CONFIRM_START_TIMEOUT:-180}       # seconds for the Job's pod to start running
CONFIRM_INJECT_TIMEOUT=${CONFIRM_INJECT_TIMEOUT:-60}      # seconds for AllInjected after the apply
CONFIRM_RECOVER_TIMEOUT=${CONFIRM_RECOVER_TIMEOUT:-60}    # seconds for AllRecovered after the pause
CHAOS_KINDS="NetworkChaos StressChaos PodChaos Schedule Workflow"

CF_ACTIVE=0      # confirm has started touching the cluster: the EXIT trap cleans up
CF_APPLIED=0     # the chaos object may exist on the cluster
CF_JOB=0         # the Job may exist
CF_CM=0          # the ConfigMap may exist
CF_FOLLOW_PID="" # the `kubectl logs -f` reading the Job's log
CF_OUT=""

kc() { timeout "$CONFIRM_KUBECTL_TIMEOUT" $KUBECTL "$@"; }
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }
# stderr as confirm started, kept: a Ctrl-C can land while a function runs with its stderr redirected
# (`kc ... 2>/dev/null`), and bash then runs the EXIT trap inside that redirection; confirm's messages,
# the clean-up's above all, go here (a run of test_chaos_confirm lost "clean-up: deleted" so, 1 in 12).
exec {CF_STDERR}>&2
confirm_log() { echo "confirm: $*" >&"$CF_STDERR"; }

# kind (NetworkChaos) -> its CRD (networkchaos.chaos-mesh.org) and the name kubectl get takes
crd_of() {
    case $1 in
        Schedule) echo schedules.chaos-mesh.org ;;
        Workflow) echo workflows.chaos-mesh.org ;;
        *) echo "$(tr '[:upper:]' '[:lower:]' <<<"$1").chaos-mesh.org" ;;
    esac
}
resource_of() { tr '[:upper:]' '[:lower:]' <<<"$1"; }

# -------------------------------------------------------------------------------------------- local
# The object's documents (and its pair) in $CF_OUT/experiment.yaml, their duration replaced by --chaos.
confirm_select() {
    local file=$1 object=$2 chaos=$3 names pair kinds k ns
    [ -r "$file" ] || die "confirm: cannot read $file"
    if [ -z "$object" ]; then
        names=$(yaml_index "$file" | awk '{ print $1 }')
        [ "$(wc -w <<<"$names")" = 1 ] ||
            die "confirm: $file holds $(wc -w <<<"$names") objects; name one: $(echo $names)"
        object=$names
    fi
    pair=$(yaml_index "$file" | awk -v n="$object" '$1 == n { print $3; found = 1 } END { exit !found }') ||
        die "confirm: no object named '$object' in $file (names: $(yaml_index "$file" | awk '{ printf "%s ", $1 }'))"
    CF_OBJECTS=$object
    [ "$pair" != "-" ] && CF_OBJECTS="$object $pair"
    yaml_select "$file" $CF_OBJECTS >"$CF_OUT/experiment.yaml"
    kinds=$(yaml_index "$CF_OUT/experiment.yaml" | awk '{ print $2 }' | sort -u)
    for k in $kinds; do
        [[ " $CHAOS_KINDS " == *" $k "* ]] || die "confirm: $object is a $k, not a Chaos Mesh experiment ($CHAOS_KINDS)"
    done
    CF_KINDS=$kinds
    # the namespace each document names: kubectl refuses one that differs from -n, and the services live in NAMESPACE
    while read -r ns; do
        [ "$ns" = "$NAMESPACE" ] ||
            die "confirm: $object is in namespace '${ns:-(none)}' but the services are in '$NAMESPACE' (set NAMESPACE, or edit metadata.namespace in $file)"
    done < <(awk '/^---/ { if (seen) print ns; seen = 1; ns = ""; inmeta = 0; next }
        /^metadata:/ { inmeta = 1; next } /^[^ #]/ { inmeta = 0 }
        inmeta && /^  namespace:/ { ns = $2; gsub(/["\047]/, "", ns) } END { if (seen) print ns }' "$CF_OUT/experiment.yaml")
    if [ -n "$chaos" ]; then
        awk -v d="$chaos" '
            function check() { if (doc && !done) missing = 1 }
            /^---/ { check(); doc = 1; inspec = 0; done = 0; print; next }
            /^spec:/ { inspec = 1; print; next }
            /^[^ #]/ { inspec = 0 }
            inspec && /^  duration:/ { print "  duration: " d "   # tests/chaos.sh confirm --chaos"; done = 1; next }
            { print }
            END { check(); exit missing }' "$CF_OUT/experiment.yaml" >"$CF_OUT/experiment.yaml.tmp" ||
            die "confirm: --chaos: $object has no spec.duration to replace"
        mv "$CF_OUT/experiment.yaml.tmp" "$CF_OUT/experiment.yaml"
    fi
    CF_OBJECT=$object
}

# writes OPTIONS one per line (the ConfigMap's args)
write_args() {
    local f=$1
    shift
    printf '%s\n' "$@" >"$f"
}

# The sum of the service CPU column of a bin/sim report (ms), as lab/fidelity.sh reads it.
report_service_cpu() { awk '/^CPU/ { on = 1; next } on && /^TCP/ { on = 0 } on && NF >= 6 && $1 ~ /-[0-9]+$/ { s += $5 } END { printf "%.1f", s }' "$1"; }

# -------------------------------------------------------------------------------------------- checks
confirm_check_cluster() {
    local out err k crd line name want ready missing=""
    err=$CF_OUT/kubectl.err
    if ! kc get namespace "$NAMESPACE" -o name >/dev/null 2>"$err"; then
        if grep -qi 'not found' "$err"; then
            die "confirm: namespace '$NAMESPACE' does not exist on the cluster: deploy the services first (kubectl apply -f k8s/deployment.yaml), or set NAMESPACE"
        fi
        die "confirm: kubectl cannot read namespace '$NAMESPACE': $(head -c 400 "$err")"
    fi
    out=$(kc get crd -o name 2>"$err") || die "confirm: kubectl get crd failed: $(head -c 400 "$err")"
    CF_CRDS=$out
    for k in $CF_KINDS; do
        crd=$(crd_of "$k")
        grep -qx "customresourcedefinition.apiextensions.k8s.io/$crd" <<<"$out" ||
            die "confirm: Chaos Mesh is not installed on this cluster: CRD $crd is missing (docs/kubernetes.md, step 3)"
    done
    # the three StatefulSets, all replicas ready; their counts are the simulator's --replicas
    out=$(kc -n "$NAMESPACE" get statefulset -o jsonpath='{range .items[*]}{.metadata.name} {.spec.replicas} {.status.readyReplicas}{"\n"}{end}' 2>"$err") ||
        die "confirm: kubectl get statefulset failed: $(head -c 400 "$err")"
    CF_REPLICAS=""
    for name in payment inventory notification; do
        line=$(awk -v n="$name" '$1 == n' <<<"$out")
        [ -n "$line" ] || die "confirm: StatefulSet $name is not in namespace $NAMESPACE: kubectl apply -f k8s/deployment.yaml"
        read -r _ want ready <<<"$line"
        [ "${ready:-0}" = "$want" ] ||
            die "confirm: StatefulSet $name has ${ready:-0} of $want replicas ready (kubectl -n $NAMESPACE rollout status statefulset/$name)"
        CF_REPLICAS=${CF_REPLICAS:+$CF_REPLICAS,}$want
    done
    # no other chaos object: objects on the same pods overlap (chaos-experiments/*.yaml, header)
    local kinds=""
    for k in $CHAOS_KINDS; do
        grep -qx "customresourcedefinition.apiextensions.k8s.io/$(crd_of "$k")" <<<"$CF_CRDS" && kinds=${kinds:+$kinds,}$(resource_of "$k")
    done
    out=$(kc -n "$NAMESPACE" get "$kinds" -o name 2>"$err") || die "confirm: kubectl get $kinds failed: $(head -c 400 "$err")"
    [ -z "$out" ] || die "confirm: chaos objects are already active in $NAMESPACE ($(echo $out)); they would overlap this experiment (tests/chaos.sh cleanup)"
    # the node that runs payment-0, its CPUs (the simulator's --cpus), and how many nodes
    out=$(kc get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.capacity.cpu}{"\n"}{end}' 2>"$err") ||
        die "confirm: kubectl get nodes failed: $(head -c 400 "$err")"
    CF_NODES=$(grep -c . <<<"$out")
    CF_NODE=$(kc -n "$NAMESPACE" get pod payment-0 -o jsonpath='{.spec.nodeName}' 2>"$err") ||
        die "confirm: kubectl get pod payment-0 failed: $(head -c 400 "$err")"
    CF_CPUS=$(awk -v n="$CF_NODE" '$1 == n { c = $2; if (c ~ /m$/) { sub(/m$/, "", c); c = int(c / 1000) } else c = int(c); print (c < 1 ? 1 : c) }' <<<"$out")
    [ -n "$CF_CPUS" ] || die "confirm: node '$CF_NODE' of payment-0 is not in kubectl get nodes"
    # the load generator's image on a node (containerd lists it as docker.io/payment-chaos/...)
    CF_IMAGE=$(awk '/^ *image:/ { print $2; exit }' "$CF_OUT/job.yaml")
    if [ "${CONFIRM_SKIP_IMAGE_CHECK:-0}" != 1 ]; then
        out=$(kc get nodes -o jsonpath='{range .items[*]}{range .status.images[*]}{range .names[*]}{@}{"\n"}{end}{end}{end}' 2>"$err") ||
            die "confirm: kubectl get nodes failed: $(head -c 400 "$err")"
        awk -v i="$CF_IMAGE" '$0 == i || substr($0, length($0) - length(i)) == "/" i { found = 1 } END { exit !found }' <<<"$out" ||
            die "confirm: image $CF_IMAGE is on no node: build it (--target loadgen) and load it (docs/kubernetes.md, step 2). A node lists at most 50 images; if it is there, CONFIRM_SKIP_IMAGE_CHECK=1"
    fi
}

# ---------------------------------------------------------------------------------------------- Job
# confirm_configmap ARGSFILE [KEY=FILE...]: the ConfigMap loadgen-plan with `args` and the files the options name
confirm_configmap() {
    local args=$1 a from=()
    shift
    for a in "$@"; do from+=(--from-file="$a"); done
    CF_CM=1
    kc -n "$NAMESPACE" delete configmap loadgen-plan --ignore-not-found >/dev/null 2>&1
    kc -n "$NAMESPACE" create configmap loadgen-plan --from-file=args="$args" --from-file=manifest.yaml="$MANIFEST" \
        "${from[@]}" >/dev/null 2>"$CF_OUT/kubectl.err" ||
        die "confirm: kubectl create configmap loadgen-plan failed: $(head -c 400 "$CF_OUT/kubectl.err")"
}

# Foreground: the pod goes before the Job does, so the next Job's pod is the only one with its label.
confirm_delete_job() {
    kc -n "$NAMESPACE" delete job loadgen --ignore-not-found --cascade=foreground --wait=true >/dev/null 2>&1 || return 1
    CF_JOB=0
}

# Waits until the Job's pod runs (or has already ended); an image it cannot get is exit 2 at once.
confirm_wait_pod() {
    local deadline=$((SECONDS + CONFIRM_START_TIMEOUT)) state phase reason
    while :; do
        state=$(kc -n "$NAMESPACE" get pods -l job-name=loadgen -o jsonpath='{range .items[*]}{.status.phase} {range .status.containerStatuses[*]}{.state.waiting.reason}{end}{"\n"}{end}' 2>/dev/null | head -n 1)
        read -r phase reason <<<"$state"
        case $reason in
            ErrImageNeverPull | ErrImagePull | ImagePullBackOff | InvalidImageName)
                die "confirm: the Job's pod cannot get image $CF_IMAGE ($reason): build it (--target loadgen) and load it into the node (docs/kubernetes.md, step 2)" ;;
            CreateContainerConfigError | CreateContainerError | RunContainerError)
                die "confirm: the Job's container cannot start ($reason): kubectl -n $NAMESPACE describe pod -l job-name=loadgen" ;;
        esac
        case $phase in Running | Succeeded | Failed) return 0 ;; esac
        [ $SECONDS -lt $deadline ] ||
            die "confirm: the Job's pod did not start within $CONFIRM_START_TIMEOUT s (${phase:-no pod} ${reason}): kubectl -n $NAMESPACE describe pod -l job-name=loadgen"
        sleep 0.5
    done
}

# "ok", "failed" or "running"
confirm_job_status() {
    local s
    s=$(kc -n "$NAMESPACE" get job loadgen -o jsonpath='{.status.succeeded}/{.status.failed}' 2>/dev/null)
    case $s in
        [1-9]*/*) echo ok ;;
        */[1-9]*) echo failed ;;
        *) echo running ;;
    esac
}

# confirm_run_job NAME WITH_MARKERS: creates the Job, follows its log (acting on the chaos markers when
# WITH_MARKERS is 1), waits for its end and splits its log into NAME.csv and NAME.report.txt.
confirm_run_job() {
    local name=$1 markers=$2 line status deadline fd
    confirm_delete_job || die "confirm: cannot delete the earlier Job loadgen"
    CF_JOB=1
    kc -n "$NAMESPACE" apply -f "$CF_OUT/job.yaml" >/dev/null 2>"$CF_OUT/kubectl.err" ||
        die "confirm: kubectl apply of the Job failed: $(head -c 400 "$CF_OUT/kubectl.err")"
    confirm_wait_pod
    confirm_log "$name: the Job runs"
    deadline=$((SECONDS + CF_TOTAL_MS / 1000 + 300))
    : >"$CF_OUT/$name.stream"
    while :; do
        # The log from its start, every time: a marker seen before is skipped, so a broken stream loses none.
        exec {fd}< <(timeout $((deadline - SECONDS > 1 ? deadline - SECONDS : 1)) $KUBECTL -n "$NAMESPACE" logs -f job/loadgen 2>>"$CF_OUT/kubectl.err")
        CF_FOLLOW_PID=$!
        while IFS= read -r -u "$fd" line; do
            echo "$line" >>"$CF_OUT/$name.stream"
            [ "$markers" = 1 ] && confirm_marker "$line"
        done
        exec {fd}<&-
        wait "$CF_FOLLOW_PID" 2>/dev/null
        CF_FOLLOW_PID=""
        status=$(confirm_job_status)
        [ "$status" = running ] && [ $SECONDS -lt $deadline ] || break
        sleep 1
    done
    for _ in $(seq 30); do
        [ "$status" = running ] || break
        sleep 1
        status=$(confirm_job_status)
    done
    kc -n "$NAMESPACE" logs job/loadgen >"$CF_OUT/$name.log" 2>"$CF_OUT/kubectl.err" ||
        die "confirm: kubectl logs job/loadgen failed: $(head -c 400 "$CF_OUT/kubectl.err")"
    [ "$status" = ok ] || {
        tail -n 15 "$CF_OUT/$name.log" | sed 's/^/    /' >&2
        die "confirm: the load generator Job $( [ "$status" = running ] && echo "did not end in time" || echo failed) ($name; its log: $CF_OUT/$name.log)"
    }
    awk '/^=== loadgen records/ { on = 1; next } /^=== loadgen end/ { on = 0 } on' "$CF_OUT/$name.log" >"$CF_OUT/$name.csv"
    awk '/^=== loadgen report/ { on = 1; next } /^=== loadgen records/ { on = 0 } on' "$CF_OUT/$name.log" >"$CF_OUT/$name.report.txt"
    grep -q '^=== loadgen end' "$CF_OUT/$name.log" ||
        die "confirm: the Job's log is incomplete (no end marker; the kubelet keeps only the last 10 MiB of a log: a shorter plan or a lower rate)"
    local n want
    n=$(($(wc -l <"$CF_OUT/$name.csv") - 1))
    want=$(awk '/^run: / { print $2; exit }' "$CF_OUT/$name.report.txt")
    [ "$n" = "$want" ] || die "confirm: $name: $n records in the log, the report counts ${want:-none}"
    confirm_log "$name: $n requests measured"
    confirm_delete_job || confirm_log "could not delete the Job (it is deleted again at the end)"
}

# ------------------------------------------------------------------------------------ chaos object
confirm_marker() {
    local line=$1 t verb id key
    [[ $line =~ ^loadgen:\ +([0-9]+\.[0-9]+)\ s\ +hook\ (start|stop)\ ([0-9]+)$ ]] || return 0
    t=${BASH_REMATCH[1]}
    verb=${BASH_REMATCH[2]}
    id=${BASH_REMATCH[3]}
    key="$verb $id"
    [ -z "${CF_SEEN[$key]:-}" ] || return 0
    CF_SEEN[$key]=1
    if [ "$verb" = start ]; then
        CF_RUNNING[$id]=1
        [ -n "$CF_APPLY_AT" ] || confirm_apply "$t"
    else
        unset "CF_RUNNING[$id]"
        [ ${#CF_RUNNING[@]} = 0 ] && [ "$CF_APPLIED" = 1 ] && confirm_stop "$t"
    fi
}

# "Selected=True AllInjected=True ..." for each object, one line each: "NAME CONDITIONS"
confirm_conditions() {
    local kind name
    while read -r name kind _; do
        printf '%s %s\n' "$name" "$(kc -n "$NAMESPACE" get "$(resource_of "$kind")" "$name" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {end}' 2>/dev/null)"
    done < <(yaml_index "$CF_OUT/experiment.yaml")
}

# polls the conditions until every object has COND=True, at most SECONDS; sets CF_POLL_S (-1 if never)
confirm_poll() {
    local cond=$1 limit=$2 t0 conds
    t0=$(now_s)
    CF_POLL_S=-1
    while :; do
        conds=$(confirm_conditions)
        CF_CONDS=$conds
        if ! grep -qv "$cond=True" <<<"$conds"; then
            CF_POLL_S=$(elapsed "$t0")
            return 0
        fi
        awk -v a="$t0" -v b="$(now_s)" -v l="$limit" 'BEGIN { exit !(b - a < l) }' || return 1
        sleep 0.5
    done
}

confirm_apply() {
    local t=$1 t0 limit
    t0=$(now_s)
    CF_APPLIED=1
    CF_APPLY_AT=$t
    kc -n "$NAMESPACE" apply -f "$CF_OUT/experiment.yaml" >"$CF_OUT/apply.log" 2>&1 ||
        die "confirm: kubectl apply of $CF_OBJECT failed: $(head -c 400 "$CF_OUT/apply.log")"
    CF_APPLY_S=$(elapsed "$t0")
    confirm_log "chaos phase at ${t} s of the plan: applied $CF_OBJECTS (kubectl apply took $CF_APPLY_S s)"
    # AllInjected, at most until shortly before the plan stops the object
    limit=$(awk -v i="$CONFIRM_INJECT_TIMEOUT" -v e="$CF_STOP_MS" -v t="$t" 'BEGIN { l = e / 1000 - t - 1; if (l > i) l = i; if (l < 1) l = 1; print l }')
    if confirm_poll AllInjected "$limit"; then CF_INJECTED=1; else CF_INJECTED=0; fi
    CF_INJECT_S=$CF_POLL_S
    CF_CONDS_CHAOS=$CF_CONDS
    confirm_log "conditions: $(tr '\n' ';' <<<"$CF_CONDS")"
    kc -n "$NAMESPACE" get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\t"}{.status.podIP}{"\t"}{.spec.nodeName}{"\t"}{.status.containerStatuses[0].containerID}{"\n"}{end}' \
        >"$CF_OUT/pods.tsv" 2>/dev/null
    if [[ " $CF_KINDS " == *" NetworkChaos "* ]]; then
        kc -n "$NAMESPACE" get podnetworkchaos -o jsonpath='{range .items[*]}pod {.metadata.name}{"\n"}{range .spec.tcs[*]}tc {.source} {.type} ipset={.ipset} loss={.loss.loss} delay={.delay.latency}{"\n"}{end}{range .spec.ipsets[*]}ipset {.source} {.name} {.ipsetType} cidrs={.cidrs} sets={.setNames}{"\n"}{end}{end}' \
            >"$CF_OUT/rules.raw" 2>"$CF_OUT/rules.err" || CF_RULES_UNREAD=1
    fi
}

# The chaos-daemon's netem counters in the network namespace of every pod the plan's rules start from,
# read before the pause removes them: "POD PACKETS DROPPED" per pod in counters.txt, or a reason.
confirm_read_counters() {
    local pods pod node cid daemon out
    : >"$CF_OUT/counters.txt"
    [[ " $CF_KINDS " == *" NetworkChaos "* ]] || return 0
    pods=$(for ((k = 0; k < ${PLAN_NRULES:-0}; k++)); do
        [[ " $CF_OBJECTS " == *" ${ACT_NAME[${RULE_ACT[$k]}]} "* ]] && printf '%s\n' ${RULE_SRC[$k]}
    done | sort -u)
    local daemons
    daemons=$(kc -n "$CHAOS_MESH_NAMESPACE" get pods -l app.kubernetes.io/component=chaos-daemon -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}' 2>/dev/null)
    for pod in $pods; do
        read -r node cid <<<"$(awk -F'\t' -v p="$pod" '$1 == p { print $3, $4 }' "$CF_OUT/pods.tsv")"
        cid=${cid#*://}
        daemon=$(awk -v n="$node" '$2 == n { print $1; exit }' <<<"$daemons")
        if [ -z "$daemon" ] || [ -z "$cid" ]; then
            echo "$pod - - no chaos-daemon pod on node ${node:-?} (namespace $CHAOS_MESH_NAMESPACE)" >>"$CF_OUT/counters.txt"
            continue
        fi
        # chaos-daemon runs privileged with the host's PID namespace: the container's process, then its netns
        out=$(kc -n "$CHAOS_MESH_NAMESPACE" exec "$daemon" -- sh -c \
            'p=$(grep -l "$1" /proc/[0-9]*/cgroup 2>/dev/null | head -n 1 | cut -d/ -f3); [ -n "$p" ] || { echo "no process of container $1"; exit 3; }; nsenter -t "$p" -n tc -s qdisc show' \
            sh "$cid" 2>&1) || {
            echo "$pod - - $(head -n 1 <<<"$out" | cut -c1-120)" >>"$CF_OUT/counters.txt"
            continue
        }
        printf '%s\n' "$out" >"$CF_OUT/tc.$pod.txt"
        awk -v p="$pod" '
            /^qdisc netem/ { netem = 1; n++; next }
            /^qdisc / { netem = 0; next }
            netem && /Sent [0-9]+ bytes [0-9]+ pkt/ {
                for (i = 1; i <= NF; i++) { if ($(i + 1) == "pkt") sent += $i; if ($i == "(dropped") { d = $(i + 1); sub(/,/, "", d); drop += d } }
                netem = 0 }
            END { if (n) print p, sent + drop, drop; else print p, "-", "-", "no netem qdisc in its network namespace" }' \
            "$CF_OUT/tc.$pod.txt" >>"$CF_OUT/counters.txt"
    done
}

confirm_delete_objects() {
    kc -n "$NAMESPACE" delete -f "$CF_OUT/experiment.yaml" --ignore-not-found --wait=true --timeout=120s \
        >>"$CF_OUT/delete.log" 2>&1 || return 1
    CF_APPLIED=0
}

confirm_stop() {
    local t=$1 name kind t0
    t0=$(now_s)
    CF_STOP_AT=$t
    confirm_read_counters
    # pause: Chaos Mesh recovers every record and reports AllRecovered; then the object goes
    while read -r name kind _; do
        kc -n "$NAMESPACE" annotate "$(resource_of "$kind")" "$name" experiment.chaos-mesh.org/pause=true --overwrite \
            >>"$CF_OUT/delete.log" 2>&1
    done < <(yaml_index "$CF_OUT/experiment.yaml")
    CF_PAUSE_S=$(elapsed "$t0")
    if confirm_poll AllRecovered "$CONFIRM_RECOVER_TIMEOUT"; then CF_RECOVERED=1; else CF_RECOVERED=0; fi
    CF_RECOVER_S=$CF_POLL_S
    CF_CONDS_END=$CF_CONDS
    confirm_delete_objects || die "confirm: kubectl delete of $CF_OBJECTS failed: $(tail -c 400 "$CF_OUT/delete.log")"
    confirm_log "end of the chaos phase at ${t} s of the plan: $CF_OBJECTS paused and deleted"
}

# From chaos.sh's EXIT trap: nothing of ours stays on the cluster, whatever happened.
confirm_cleanup() {
    [ "$CF_ACTIVE" = 1 ] || return 0
    CF_ACTIVE=0
    trap '' INT TERM
    [ -n "$CF_FOLLOW_PID" ] && kill "$CF_FOLLOW_PID" 2>/dev/null
    if [ "$CF_APPLIED" = 1 ]; then
        if confirm_delete_objects; then
            confirm_log "clean-up: deleted $CF_OBJECTS"
        else
            echo "chaos.sh: COULD NOT DELETE $CF_OBJECTS: kubectl -n $NAMESPACE delete -f $CF_OUT/experiment.yaml" >&"$CF_STDERR"
        fi
    fi
    if [ "$CF_JOB" = 1 ]; then confirm_delete_job || echo "chaos.sh: could not delete Job loadgen in $NAMESPACE" >&"$CF_STDERR"; fi
    [ "$CF_CM" = 1 ] && kc -n "$NAMESPACE" delete configmap loadgen-plan --ignore-not-found >/dev/null 2>&1
    CF_CM=0
    trap 'exit 130' INT TERM # chaos.sh's, again (this also runs before the comparison, which takes a while)
    return 0
}

# --------------------------------------------------------------------------------------------- table
# What Chaos Mesh wrote (PodNetworkChaos) against the plan's rules: per object and source pod, the netem's
# loss and destination set. Prints lines; returns 0 as predicted, 1 when they differ, 2 when there are none.
confirm_rules() {
    local k src d ip n
    for ((k = 0; k < ${PLAN_NRULES:-0}; k++)); do
        local a=${RULE_ACT[$k]}
        [[ " $CF_OBJECTS " == *" ${ACT_NAME[$a]} "* ]] || continue
        for src in ${RULE_SRC[$k]}; do
            echo "$NAMESPACE/${ACT_NAME[$a]} $src loss=$(awk -v l="${ACT_LOSS_PCT[$a]}" 'BEGIN { print l + 0 }')"
            [ "${RULE_ANY[$k]}" = 1 ] && echo "$NAMESPACE/${ACT_NAME[$a]} $src any"
            for d in ${RULE_DST[$k]}; do
                ip=$(awk -F'\t' -v p="$d" '$1 == p { print $2 }' "$CF_OUT/pods.tsv")
                echo "$NAMESPACE/${ACT_NAME[$a]} $src ${ip:-$d?}"
            done
            for n in ${RULE_NETS[$k]}; do echo "$NAMESPACE/${ACT_NAME[$a]} $src ${n%/32}"; done
        done
    done | sort -u >"$CF_OUT/rules.want"
    awk '
        function list(s, out,   n, i, a) { gsub(/[\[\]"]/, "", s); n = split(s, a, ","); for (i = 1; i <= n; i++) out[a[i]] = 1 }
        $1 == "pod" { pod = $2; next }
        $1 == "tc" { sub(/^ipset=/, "", $4); sub(/^loss=/, "", $5); ntc++; tsrc[ntc] = $2; tpod[ntc] = pod; tset[ntc] = $4; tloss[ntc] = $5; next }
        $1 == "ipset" { key = pod SUBSEP $3; type[key] = $4; sub(/^cidrs=/, "", $5); sub(/^sets=/, "", $6); cidrs[key] = $5; sets[key] = $6 }
        END {
            for (t = 1; t <= ntc; t++) {
                p = tpod[t]
                printf "%s %s loss=%s\n", tsrc[t], p, (tloss[t] == "" ? 0 : tloss[t] + 0)
                if (tset[t] == "") { printf "%s %s any\n", tsrc[t], p; continue }
                delete names; names[tset[t]] = 1
                if (type[p, tset[t]] == "list:set") { delete names; list(sets[p, tset[t]], names) }
                for (s in names) { delete c; list(cidrs[p, s], c); for (x in c) { y = x; sub(/\/32$/, "", y); printf "%s %s %s\n", tsrc[t], p, y } }
            }
        }' "$CF_OUT/rules.raw" 2>/dev/null | grep -F -f <(for o in $CF_OBJECTS; do echo "$NAMESPACE/$o "; done) | sort -u >"$CF_OUT/rules.got"
    local missing extra
    missing=$(comm -23 "$CF_OUT/rules.want" "$CF_OUT/rules.got")
    extra=$(comm -13 "$CF_OUT/rules.want" "$CF_OUT/rules.got")
    summarize() { awk '{ sub(/^[^ ]*\//, ""); k = $1 " on " $2; v[k] = v[k] " " $3 } END { for (k in v) print "      " k ":" v[k] }' | sort; }
    if [ ! -s "$CF_OUT/rules.got" ]; then
        echo "  rules (PodNetworkChaos): none for $CF_OBJECTS on the cluster; predicted:"
        summarize <"$CF_OUT/rules.want"
        return 2
    fi
    if [ -z "$missing" ] && [ -z "$extra" ]; then
        echo "  rules (PodNetworkChaos): as predicted (netem loss and destinations on every source pod):"
        summarize <"$CF_OUT/rules.got"
        return 0
    fi
    echo "  rules (PodNetworkChaos): DIFFER from the prediction"
    [ -n "$missing" ] && { echo "    predicted, not on the cluster:"; summarize <<<"$missing"; }
    [ -n "$extra" ] && { echo "    on the cluster, not predicted:"; summarize <<<"$extra"; }
    return 1
}

# netem counters against the prediction's "realized" line of each object
confirm_counters_lines() {
    local o realized
    [ -s "$CF_OUT/counters.txt" ] || return 0
    for o in $CF_OBJECTS; do
        realized=$(awk -v o="$o" 'found && /realized:/ { sub(/^ */, ""); print; exit } $1 == o { found = 1 }' "$CF_OUT/prediction.txt")
        echo "  predicted for $o (seed $CF_SEED): ${realized:-no realized line in the prediction}"
    done
    awk '
        $2 == "-" { pod = $1; $1 = $2 = $3 = ""; sub(/^ */, ""); printf "  netem counters at the end of the chaos phase, %s: %s\n", pod, $0; next }
        { n++; p += $2; d += $3; printf "  netem counters at the end of the chaos phase, %s: %d packets through netem, %d dropped (%.1f %%)\n", $1, $2, $3, ($2 ? 100 * $3 / $2 : 0) }
        END {
            if (n > 1 || (n == 1 && NR > 1)) printf "  netem counters, the %d pods read: %d packets, %d dropped (%.1f %%)\n", n, p, d, (p ? 100 * d / p : 0)
            if (n == 0) print "  netem counters: no netem qdisc read on any source pod: nothing shaped their packets"
            else if (p == 0) print "  netem counters: no packet matched the rules"
        }' "$CF_OUT/counters.txt"
}

confirm_table() {
    local rc_cal=$1 rc_exp=$2 verdict why=""
    {
        echo
        echo "confirm $CF_OBJECT ($CF_FILE) on the cluster ($($KUBECTL config current-context 2>/dev/null || echo '?'), namespace $NAMESPACE)"
        echo "cluster: $CF_NODES node(s); payment-0 on $CF_NODE with $CF_CPUS CPUs; replicas payment,inventory,notification = $CF_REPLICAS"
        grep -m1 '^load:' "$CF_OUT/prediction.txt"
        grep -m1 '^phases:' "$CF_OUT/prediction.txt"
        echo "$CF_MACHINE_LINE"
        echo "the simulator: --manifest $MANIFEST --replicas $CF_REPLICAS --cpus $CF_CPUS ${CF_MACHINE[*]}, pooled over $CF_SIM_SEEDS seeds;"
        echo "the cluster: bin/loadgen in the Job (k8s/loadgen-job.yaml), pod to pod through the payment Service. Chaos phase"
        echo "only; 95 % intervals in brackets. Bounds: success +-3 pp, p50/p99 +-15 % of the simulator's value, or the"
        echo "sampling interval if wider (docs/lab.md, Fidelity)."
        printf '%-24s %-8s %-24s %-24s %10s %10s   %s\n' "scenario" "metric" "cluster [95% CI]" "sim [95% CI]" "diff" "bound" "ok"
        [ -s "$CF_OUT/calibration.row" ] && cat "$CF_OUT/calibration.row"
        cat "$CF_OUT/experiment.row"
        echo
        echo "Chaos Mesh: $CF_OBJECTS applied when the Job's log reached the chaos phase (${CF_APPLY_AT} s of the plan;"
        echo "  kubectl apply returned $CF_APPLY_S s after that line arrived); paused when the log reached the end of the phase"
        if [ "$CF_STOP_AT" = end ]; then
            echo "  (no end line: a one-shot action; paused when the Job had ended), then deleted"
        else
            echo "  (${CF_STOP_AT} s; the pause returned $CF_PAUSE_S s after that line arrived: the netem counters are read first), then deleted"
        fi
        while read -r name conds; do
            echo "  $name while injected: ${conds:-no conditions}$([ "$CF_INJECTED" = 1 ] && echo " (AllInjected after $CF_INJECT_S s)" || echo " (AllInjected never True within $CONFIRM_INJECT_TIMEOUT s)")"
        done <<<"$CF_CONDS_CHAOS"
        while read -r name conds; do
            [ -n "$name" ] && echo "  $name after the pause: ${conds:-no conditions}$([ "$CF_RECOVERED" = 1 ] && echo " (AllRecovered after $CF_RECOVER_S s)" || echo " (AllRecovered never True within $CONFIRM_RECOVER_TIMEOUT s)")"
        done <<<"${CF_CONDS_END:-}"
        if [[ " $CF_KINDS " == *" NetworkChaos "* ]]; then
            if [ "${CF_RULES_UNREAD:-0}" = 1 ]; then
                echo "  rules (PodNetworkChaos): not readable: $(head -c 200 "$CF_OUT/rules.err")"
            else
                confirm_rules
                echo $? >"$CF_OUT/rules.rc"
            fi
            confirm_counters_lines
        else
            echo "  rules: only NetworkChaos rules are read (PodNetworkChaos); $CF_KINDS has none"
        fi
        echo "  what the prediction says it really does:"
        awk '/^prediction: / { on = 1; next } /^expectations / { on = 0 } on && NF' "$CF_OUT/prediction.txt" | sed 's/^/  /'
        echo
    } >"$CF_OUT/table.txt"
    cat "$CF_OUT/table.txt"
    if [ "$CF_INJECTED" != 1 ]; then
        verdict="NOT CONFIRMED"
        why="Chaos Mesh never reported AllInjected=True for $CF_OBJECTS: the figures above are the cluster without the fault"
    elif [ "$rc_exp" = 0 ]; then
        verdict="CONFIRMED"
        why="every judged figure of the chaos phase is within its bound"
    else
        verdict="NOT CONFIRMED"
        why="a judged figure of the chaos phase is outside its bound (MISS above)"
    fi
    case $(cat "$CF_OUT/rules.rc" 2>/dev/null) in
        1) why="$why; the rules Chaos Mesh wrote differ from the prediction's" ;;
        2) why="$why; Chaos Mesh wrote no rules for it" ;;
    esac
    [ "$rc_cal" = 1 ] && why="$why; the calibration run itself missed a bound, so the cluster's calibration is doubtful"
    echo "verdict: $verdict: $why" | tee -a "$CF_OUT/table.txt"
    [ "$verdict" = CONFIRMED ]
}

# ----------------------------------------------------------------------------------------------- main
# Options -> CF_FILE, CF_OBJECT_ARG, CF_CHAOS, CF_CAL, CF_SEED, CF_SIM_SEEDS, CF_OUT_ARG, and the load options
# both sides run: CF_LOAD (the experiment's), CF_CALLOAD (the calibration's, its chaos phase --calibration).
confirm_options() {
    local rate=20 seed=1 baseline=10s recovery=10s extra=()
    CF_FILE="" CF_OBJECT_ARG="" CF_CHAOS="" CF_CAL=20s CF_SIM_SEEDS=10 CF_OUT_ARG=""
    while [ $# -gt 0 ]; do
        case $1 in
            --rate | --seed | --baseline | --recovery | --chaos | --calibration | --sim-seeds | --out)
                [ $# -ge 2 ] || die "confirm: $1 needs a value"
                case $1 in
                    --rate) rate=$2 ;; --seed) seed=$2 ;; --baseline) baseline=$2 ;; --recovery) recovery=$2 ;;
                    --chaos) CF_CHAOS=$2 ;; --calibration) CF_CAL=$2 ;; --sim-seeds) CF_SIM_SEEDS=$2 ;; --out) CF_OUT_ARG=$2 ;;
                esac
                shift 2 ;;
            --) shift; extra=("$@"); break ;;
            -*) die "confirm: unknown option '$1' (bin/sim's load options go after --)" ;;
            *)
                if [ -z "$CF_FILE" ]; then
                    CF_FILE=$1
                elif [ -z "$CF_OBJECT_ARG" ]; then
                    CF_OBJECT_ARG=$1
                else
                    die "confirm: unexpected argument '$1'"
                fi
                shift ;;
        esac
    done
    [ -n "$CF_FILE" ] || die "confirm: expected an experiment file (tests/chaos.sh confirm FILE [OBJECT])"
    [[ $NAMESPACE =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "confirm: NAMESPACE '$NAMESPACE' is not a namespace name"
    is_uint "$CF_SIM_SEEDS" && [ "$CF_SIM_SEEDS" -ge 1 ] && [ "$CF_SIM_SEEDS" -le 1000 ] || die "confirm: --sim-seeds expects 1..1000"
    [[ $CF_CHAOS == "" || $CF_CHAOS =~ ^[0-9]+(ms|s|m|h)$ ]] || die "confirm: --chaos expects a duration such as 30s or 5m"
    CF_SEED=$seed
    CF_LOAD=(--seed "$seed" --rate "$rate" --baseline "$baseline" --recovery "$recovery" "${extra[@]}")
    CF_CALLOAD=(--seed "$seed" --rate "$rate" --baseline "$baseline" --chaos "$CF_CAL" --recovery "$recovery" "${extra[@]}")
}

# Everything before the first change to the cluster: the object, the options (by the simulator's own
# parser), the cluster's checks, the plan and the prediction for this cluster (CF_CLUSTER: its options).
confirm_prepare() {
    [ -x "$SIM" ] || die "$SIM not built (run make)"
    [ -x "$LOADGEN" ] || die "$LOADGEN not built (run make)"
    [ -r "$LOADGEN_JOB" ] || die "cannot read $LOADGEN_JOB"
    need_kubectl
    CF_OUT=${CF_OUT_ARG:-$ROOT/build/confirm/${CF_OBJECT_ARG:-$(basename "$CF_FILE" .yaml)}}
    mkdir -p "$CF_OUT" || die "confirm: cannot create $CF_OUT"
    rm -f "$CF_OUT"/*
    confirm_select "$CF_FILE" "$CF_OBJECT_ARG" "$CF_CHAOS"
    # the Job in the services' namespace (kubectl refuses a document whose namespace differs from -n)
    yaml_select "$LOADGEN_JOB" loadgen | sed "s/^  namespace: .*/  namespace: $NAMESPACE/" >"$CF_OUT/job.yaml"
    grep -q '^kind: Job' "$CF_OUT/job.yaml" || die "confirm: no Job named loadgen in $LOADGEN_JOB"
    "$LOADGEN" --plan "$CF_OUT/plan.sh" --experiment "$CF_OUT/experiment.yaml" --manifest "$MANIFEST" "${CF_LOAD[@]}" \
        2>"$CF_OUT/plan.err" || die "confirm: the plan failed: $(cat "$CF_OUT/plan.err")"
    if [ "$CF_CAL" != none ]; then
        "$LOADGEN" --plan /dev/null --manifest "$MANIFEST" "${CF_CALLOAD[@]}" 2>"$CF_OUT/plan.err" ||
            die "confirm: --calibration: $(cat "$CF_OUT/plan.err")"
    fi
    confirm_log "checking the cluster"
    confirm_check_cluster
    CF_CLUSTER=(--manifest "$MANIFEST" --replicas "$CF_REPLICAS" --cpus "$CF_CPUS")
    "$LOADGEN" --plan "$CF_OUT/plan.sh" --experiment "$CF_OUT/experiment.yaml" "${CF_CLUSTER[@]}" "${CF_LOAD[@]}" \
        2>"$CF_OUT/plan.err" || die "confirm: the plan failed: $(cat "$CF_OUT/plan.err")"
    # shellcheck source=/dev/null
    source "$CF_OUT/plan.sh"
    [ "${PLAN_NACTIONS:-0}" -ge 1 ] || die "confirm: the simulator starts no chaos action for $CF_OBJECT (its selectors match no pod of $MANIFEST?)"
    local deadline total=$(((PLAN_BASELINE_MS + PLAN_CHAOS_MS + PLAN_RECOVERY_MS + PLAN_TIMEOUT_MS) / 1000))
    deadline=$(awk '/activeDeadlineSeconds:/ { print $2; exit }' "$CF_OUT/job.yaml")
    [ -z "$deadline" ] || [ $((total + 60)) -le "$deadline" ] ||
        die "confirm: the plan lasts up to $total s with the client timeout; the Job's activeDeadlineSeconds is $deadline (--chaos to shorten the object)"
    "$SIM" --experiment "$CF_OUT/experiment.yaml" "${CF_CLUSTER[@]}" "${CF_LOAD[@]}" >"$CF_OUT/prediction.txt" 2>"$CF_OUT/prediction.err"
    [ $? -le 1 ] || die "confirm: bin/sim failed: $(tail -c 400 "$CF_OUT/prediction.err")"
}

cmd_confirm() {
    confirm_options "$@"
    confirm_prepare
    CF_ACTIVE=1
    declare -gA CF_SEEN=() CF_RUNNING=()
    CF_APPLY_AT="" CF_STOP_AT="" CF_INJECTED=0 CF_RECOVERED=0 CF_CONDS_CHAOS="" CF_CONDS_END="" CF_RULES_UNREAD=0
    CF_MACHINE=()
    local rc_cal=0 rc_exp=0
    if [ "$CF_CAL" = none ]; then
        CF_MACHINE_LINE="machine: not calibrated (--calibration none): the simulator's defaults (CPU x1, 50 us per packet)"
    else
        confirm_calibrate
        rc_cal=$CF_CAL_RC
    fi
    write_args "$CF_OUT/experiment.args" --experiment experiment.yaml --manifest manifest.yaml \
        --replicas "$CF_REPLICAS" --cpus "$CF_CPUS" "${CF_LOAD[@]}"
    confirm_configmap "$CF_OUT/experiment.args" experiment.yaml="$CF_OUT/experiment.yaml"
    CF_STOP_MS=$((PLAN_BASELINE_MS + PLAN_CHAOS_MS))
    CF_TOTAL_MS=$((PLAN_BASELINE_MS + PLAN_CHAOS_MS + PLAN_RECOVERY_MS + PLAN_TIMEOUT_MS))
    confirm_log "experiment $CF_OBJECTS: baseline $((PLAN_BASELINE_MS / 1000)) s, chaos $((PLAN_CHAOS_MS / 1000)) s, recovery $((PLAN_RECOVERY_MS / 1000)) s"
    confirm_run_job experiment 1
    [ -n "$CF_APPLY_AT" ] || die "confirm: the Job's log never reached the chaos phase (no 'hook start' line: $CF_OUT/experiment.stream)"
    if [ "$CF_APPLIED" = 1 ]; then confirm_stop end; fi   # one-shot actions (pod-kill) have no stop line
    confirm_cleanup                                        # nothing of ours stays on the cluster
    confirm_log "comparing with the simulator ($CF_SIM_SEEDS seeds)"
    "$LOADGEN" --compare "$CF_OUT/experiment.csv" --refit-link --sim-seeds "$CF_SIM_SEEDS" --name "$CF_OBJECT" \
        --experiment "$CF_OUT/experiment.yaml" "${CF_CLUSTER[@]}" "${CF_LOAD[@]}" "${CF_MACHINE[@]}" \
        >"$CF_OUT/experiment.row" 2>"$CF_OUT/compare.err" || rc_exp=$?
    [ "$rc_exp" -le 1 ] || die "confirm: the comparison failed: $(cat "$CF_OUT/compare.err")"
    confirm_table "$rc_cal" "$rc_exp"
}

# The no-fault Job, and the cluster measured from it; sets CF_MACHINE, CF_MACHINE_LINE, CF_CAL_RC (0 ok, 1 a
# bound of its own row missed).
confirm_calibrate() {
    local cluster=("${CF_CLUSTER[@]}") load=("${CF_CALLOAD[@]}") cpu0 cpu1 lab sim scale fit link keep atmin atmax
    write_args "$CF_OUT/calibration.args" --manifest manifest.yaml --replicas "$CF_REPLICAS" --cpus "$CF_CPUS" "${load[@]}"
    confirm_configmap "$CF_OUT/calibration.args"
    "$LOADGEN" --plan "$CF_OUT/calibration.plan" "${cluster[@]}" "${load[@]}" 2>/dev/null
    CF_TOTAL_MS=$(awk -F= '/^PLAN_(BASELINE|CHAOS|RECOVERY|TIMEOUT)_MS=/ { s += $2 } END { print s }' "$CF_OUT/calibration.plan")
    confirm_log "calibration: a no-fault run of the Job"
    cpu0=$(confirm_services_cpu)
    confirm_run_job calibration 0
    cpu1=$(confirm_services_cpu)
    "$SIM" "${cluster[@]}" "${load[@]}" >"$CF_OUT/calibration.sim.txt" 2>&1
    sim=$(report_service_cpu "$CF_OUT/calibration.sim.txt")
    if [ -n "$cpu0" ] && [ -n "$cpu1" ]; then
        lab=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
        scale=$(awk -v l="$lab" -v s="$sim" 'BEGIN { k = s > 0 ? l / s : 1; if (k < 0.5) k = 0.5; if (k > 2) k = 2; printf "%.3f", k }')
        CF_MACHINE_LINE="machine: CPU time per piece of work x$scale of the defaults (the services' cgroup CPU over the calibration run: cluster $lab ms, model $sim ms)"
    else
        scale=1
        CF_MACHINE_LINE="machine: CPU x1 (the services' cgroup CPU could not be read with kubectl exec)"
    fi
    fit=$("$LOADGEN" --fit-link "$CF_OUT/calibration.csv" --sim-seeds "$CF_SIM_SEEDS" "${cluster[@]}" "${load[@]}" \
        --cpu-scale "$scale" 2>"$CF_OUT/compare.err") || die "confirm: the calibration's fit failed: $(cat "$CF_OUT/compare.err")"
    read -r link keep _ atmin atmax <<<"$fit"
    # the cluster's no-fault tail as the lab fits it (lab/fidelity.sh calibrate_machine), then the latency again
    local tail stall_p stall_mean t95 t99 stall=()
    tail=$("$LOADGEN" --fit-tail "$CF_OUT/calibration.csv" --sim-seeds "$CF_SIM_SEEDS" "${cluster[@]}" "${load[@]}" \
        --cpu-scale "$scale" --link-latency "${link}ns" 2>"$CF_OUT/compare.err") ||
        die "confirm: the calibration's tail fit failed: $(cat "$CF_OUT/compare.err")"
    read -r stall_p stall_mean t95 t99 _ <<<"$tail"
    if awk -v p="$stall_p" 'BEGIN { exit !(p > 0) }'; then
        stall=(--wake-stall "$(awk -v p="$stall_p" 'BEGIN { printf "%.4f%%", 100 * p }'),${stall_mean}ns")
        fit=$("$LOADGEN" --fit-link "$CF_OUT/calibration.csv" --sim-seeds "$CF_SIM_SEEDS" "${cluster[@]}" "${load[@]}" \
            --cpu-scale "$scale" "${stall[@]}" 2>"$CF_OUT/compare.err") ||
            die "confirm: the calibration's fit failed: $(cat "$CF_OUT/compare.err")"
        read -r link keep _ atmin atmax <<<"$fit"
    fi
    CF_MACHINE=(--cpu-scale "$scale" --link-latency "${link}ns" "${stall[@]}")
    CF_MACHINE_LINE="$CF_MACHINE_LINE; $(awk -v l="$link" -v p="$keep" -v a="$atmin" -v m="$atmax" 'BEGIN {
        printf "one-way packet latency %.1f us, fitted to its p50 (%.2f ms)", l / 1000, p
        if (a >= 0) printf " (the cluster is faster than the model at the smallest latency tried)"
        if (m <= 0) printf " (the cluster is slower than the model at the largest latency tried)"
        printf "; defaults x1, 50 us" }')"
    CF_MACHINE_LINE="$CF_MACHINE_LINE; $(awk -v p="$stall_p" -v m="$stall_mean" -v a="$t95" -v b="$t99" 'BEGIN {
        if (p > 0) printf "host tail: %.3f %% of idle wake-ups late by Exp(mean %.0f us), fitted to its p95 %.2f and p99 %.2f ms", 100 * p, m / 1000, a, b
        else printf "host tail: none added (the model'"'"'s p99 reaches its %.2f ms)", b }')"
    CF_CAL_RC=0
    "$LOADGEN" --compare "$CF_OUT/calibration.csv" --calibration-cell --sim-seeds "$CF_SIM_SEEDS" --name calibration \
        "${cluster[@]}" "${load[@]}" "${CF_MACHINE[@]}" >"$CF_OUT/calibration.row" 2>"$CF_OUT/compare.err" || CF_CAL_RC=$?
    [ "$CF_CAL_RC" -le 1 ] || die "confirm: the calibration's comparison failed: $(cat "$CF_OUT/compare.err")"
}

# The services' CPU time so far (ns, summed over their pods' cgroups), or nothing if a pod cannot be read.
confirm_services_cpu() {
    local total=0 s n i v
    local counts
    IFS=, read -r -a counts <<<"$CF_REPLICAS"
    i=0
    for s in payment inventory notification; do
        for ((n = 0; n < counts[i]; n++)); do
            v=$(kc -n "$NAMESPACE" exec "$s-$n" -- sh -c 'cat /sys/fs/cgroup/cpu.stat 2>/dev/null || cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null || cat /sys/fs/cgroup/cpu,cpuacct/cpuacct.usage' 2>/dev/null |
                awk '$1 == "usage_usec" { printf "%.0f", $2 * 1000; f = 1; exit } NF == 1 && $1 ~ /^[0-9]+$/ { printf "%.0f", $1; f = 1; exit } END { exit !f }') || return 0
            total=$((total + v))
        done
        i=$((i + 1))
    done
    echo "$total"
}
