#!/usr/bin/env bash
# make container-test: build the three service images and the load generator's from the Dockerfile with
# podman, run them the way Kubernetes will (non-root 10001, read-only root filesystem, no capabilities, no
# privilege escalation, journal on a writable /data), and test them end to end:
#
#   1. base images: tests/container/base-image.sh (debootstrap + podman import, cached)
#   2. podman build --target payment|inventory|notification|loadgen, with those bases as build args
#   3. image sizes: each image must add < 40 MB to its base layer (PC_MAX_IMAGE_EXTRA_MB)
#   4. podman run the three containers on the host network, on free loopback ports
#   5. wait for /health (bounded), then the Check suite build/release/tests/check_e2e against them
#      (PC_E2E_PAYMENT_URL / PC_E2E_INVENTORY_URL / PC_E2E_NOTIFICATION_URL), then tests/chaos.sh
#      health + basic
#   6. the loadgen image once, as k8s/loadgen-job.yaml runs it: its options in a read-only /etc/loadgen
#      (the ConfigMap), a no-fault plan of 8 s against payment; its log must hold the report and one
#      records line per request the report counts, every request a success
#   7. podman stop (SIGTERM, the Kubernetes way): each service must drain and exit 0
#
# Needs root, podman, runc, debootstrap and curl (installed with apt-get when missing). No Docker
# engine is involved: podman runs with --runtime runc and the ulimits below (without them runc fails
# here with "error setting rlimit type 7: operation not permitted").
# Everything it starts is removed on exit, also on failure or Ctrl-C; the base images and the built
# images stay (the next run reuses their layers). Every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

PREFIX=${PC_IMAGE_PREFIX:-docker.io/payment-chaos}   # docker.io/... = what k8s/deployment.yaml names
TAG=${PC_IMAGE_TAG:-latest}
MAX_EXTRA_MB=${PC_MAX_IMAGE_EXTRA_MB:-40}
BUILD_TIMEOUT=${PC_BUILD_TIMEOUT:-1500}      # seconds per image build (the first one runs apt-get)
HEALTH_TIMEOUT=${PC_HEALTH_TIMEOUT:-30}
E2E_TIMEOUT=${PC_E2E_TIMEOUT:-600}
LIFETIME=${PC_CONTAINER_LIFETIME:-1800}      # podman run --timeout: a container never outlives this
E2E=${PC_E2E_BIN:-build/release/tests/check_e2e}

PODMAN=(podman --runtime runc)
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
SERVICES=(payment inventory notification)
RUN_ID=pc-ct-$$
CONTAINERS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pc-container-test.XXXXXX")
PASS=0
FAIL=0
SUMMARY_PRINTED=0

log() { printf 'container-test: %s\n' "$*"; }
ok() { PASS=$((PASS + 1)); log "ok    $*"; }
bad() { FAIL=$((FAIL + 1)); log "FAIL  $*"; }

cleanup() {
    local rc=$? c
    trap - EXIT INT TERM
    if [ "$rc" != 0 ] && [ ${#CONTAINERS[@]} -gt 0 ]; then
        for c in "${CONTAINERS[@]}"; do
            log "--- last log lines of $c"
            timeout 20 podman logs --tail 30 "$c" 2>&1 | sed 's/^/    /' || true
        done
    fi
    for c in "${CONTAINERS[@]}"; do
        timeout 60 podman rm -f -t 2 "$c" >/dev/null 2>&1 || true
    done
    rm -rf "$TMP"
    if [ "$rc" != 0 ] && [ "$SUMMARY_PRINTED" = 0 ]; then log "$PASS passed, $((FAIL > 0 ? FAIL : 1)) failed"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

fatal() { bad "$*"; exit 1; }

[ "$(id -u)" = 0 ] || fatal "needs root (podman build/run with runc, debootstrap)"
# A fresh machine may lack the container tooling: install it from Debian (PC_NO_INSTALL=1 to forbid).
missing=()
for t in podman runc debootstrap curl; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ] && [ "${PC_NO_INSTALL:-0}" != 1 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]} (apt-get)"
    timeout 900 apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${missing[@]}" >"$TMP/apt.log" 2>&1 \
        || { tail -n 20 "$TMP/apt.log"; fatal "apt-get install ${missing[*]}"; }
fi
for t in podman runc debootstrap curl timeout; do
    command -v "$t" >/dev/null || fatal "$t is not installed"
done

# ------------------------------------------------------------------------------------ base images
log "base images"
mapfile -t BASES < <(timeout 1800 bash "$HERE/base-image.sh")
[ ${#BASES[@]} = 2 ] || fatal "base-image.sh did not produce the two base images"
BUILD_BASE=${BASES[0]}
RUNTIME_BASE=${BASES[1]}
ok "base images $BUILD_BASE, $RUNTIME_BASE"

# ---------------------------------------------------------------------------------------- images
# The build stage is tagged too (localhost/payment-chaos/build-stage), so the latest one stays as the
# layer cache for the next run. An image that a new build supersedes under the same tag is removed,
# so repeated runs do not pile up untagged 600 MB toolchain images.
BUILD_STAGE=localhost/payment-chaos/build-stage:latest
image_of() { if [ "$1" = loadgen ]; then echo "$PREFIX/loadgen:$TAG"; else echo "$PREFIX/$1-service:$TAG"; fi; }
for s in build "${SERVICES[@]}" loadgen; do
    if [ "$s" = build ]; then image=$BUILD_STAGE; else image=$(image_of "$s"); fi
    old_id=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    log "building $image (--target $s)"
    if ! timeout "$BUILD_TIMEOUT" "${PODMAN[@]}" build "${ULIMITS[@]}" --network host --pull=never \
            --build-arg BUILD_IMAGE="$BUILD_BASE" --build-arg RUNTIME_IMAGE="$RUNTIME_BASE" \
            --target "$s" -t "$image" -f Dockerfile . >"$TMP/build-$s.log" 2>&1; then
        tail -n 40 "$TMP/build-$s.log" | sed 's/^/    /'
        fatal "podman build --target $s"
    fi
    grep -m1 -E '^(runtime|loadgen) packages:' "$TMP/build-$s.log" | sed 's/^/    /' || true
    ok "built $image"
    new_id=$(podman image inspect --format '{{.Id}}' "$image")
    if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
        timeout 120 podman rmi "$old_id" >/dev/null 2>&1 || true    # fails harmlessly if still in use
    fi
done

base_size=$(podman image inspect --format '{{.Size}}' "$RUNTIME_BASE")
log "image sizes (base $RUNTIME_BASE: $((base_size / 1000000)) MB)"
printf '    %-48s %10s %18s\n' image "size MB" "beyond base MB"
for s in "${SERVICES[@]}" loadgen; do
    image=$(image_of "$s")
    size=$(podman image inspect --format '{{.Size}}' "$image")
    extra=$((size - base_size))
    printf '    %-48s %10s %18s\n' "$image" "$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1e6 }')" \
        "$(awk -v b="$extra" 'BEGIN { printf "%.1f", b / 1e6 }')"
    if [ "$extra" -lt $((MAX_EXTRA_MB * 1000000)) ]; then
        ok "$s image adds < $MAX_EXTRA_MB MB to the base"
    else
        bad "$s image adds $extra bytes to the base (limit $MAX_EXTRA_MB MB)"
    fi
    user=$(podman image inspect --format '{{.Config.User}}' "$image")
    if [ "$user" = 10001:10001 ]; then ok "$s image runs as $user"; else bad "$s image user is '$user'"; fi
done
log "layers of $PREFIX/payment-service:$TAG:"
podman history --format '    {{.Size}}\t{{.CreatedBy}}' "$PREFIX/payment-service:$TAG" | cut -c1-120

# ------------------------------------------------------------------------------------ containers
# shellcheck source=tests/free_ports.sh
. "$ROOT/tests/free_ports.sh"
declare -A PORT URL
picked=$(free_ports ${#SERVICES[@]}) || fatal "no free port"
read -r -a ports <<<"$picked"
for i in "${!SERVICES[@]}"; do
    s=${SERVICES[$i]}
    PORT[$s]=${ports[$i]}
    URL[$s]=http://127.0.0.1:${PORT[$s]}
done

for s in "${SERVICES[@]}"; do
    name=$RUN_ID-$s
    env=(-e PORT="${PORT[$s]}" -e BIND_ADDRESS=127.0.0.1 -e LOG_LEVEL=info -e THREADS=4
         -e POD_NAME="$s-0"
         -e PAYMENT_SERVICE="${URL[payment]}" -e INVENTORY_SERVICE="${URL[inventory]}"
         -e NOTIFICATION_SERVICE="${URL[notification]}"
         -e PAYMENT_PEERS="${URL[payment]}" -e INVENTORY_PEERS="${URL[inventory]}"
         -e NOTIFICATION_PEERS="${URL[notification]}"
         -e SHUTDOWN_GRACE_MS=3000)
    case $s in payment|inventory) env+=(-e JOURNAL_PATH=/data/journal) ;; esac
    # Same confinement as the pod securityContext in k8s/deployment.yaml; /data stands in for the
    # PersistentVolumeClaim (`U`: owned by the container user, like fsGroup; podman 4.3 ignores a tmpfs
    # mode= when the image has the directory), /tmp for the emptyDir.
    "${PODMAN[@]}" run -d --name "$name" "${ULIMITS[@]}" --network host --timeout "$LIFETIME" \
        --read-only --read-only-tmpfs=false --tmpfs /tmp:rw,size=16m --tmpfs /data:rw,size=64m,U \
        --cap-drop ALL --security-opt no-new-privileges --user 10001:10001 \
        --memory 128m --stop-timeout 15 \
        "${env[@]}" "$PREFIX/$s-service:$TAG" >/dev/null \
        || fatal "podman run $s"
    CONTAINERS+=("$name")
done
ok "started ${CONTAINERS[*]} (payment ${URL[payment]}, inventory ${URL[inventory]}, notification ${URL[notification]})"

for s in "${SERVICES[@]}"; do
    deadline=$((SECONDS + HEALTH_TIMEOUT))
    until curl -fsS --max-time 2 -o /dev/null "${URL[$s]}/health" 2>/dev/null; do
        state=$(podman inspect --format '{{.State.Status}}' "$RUN_ID-$s" 2>/dev/null || echo gone)
        [ "$state" = running ] || fatal "$s container is $state"
        [ $SECONDS -lt $deadline ] || fatal "$s: no /health within ${HEALTH_TIMEOUT}s"
        sleep 0.5
    done
    ok "$s answers /health"
done

# ------------------------------------------------------------------------------------------- e2e
if [ ! -x "$E2E" ] && [ -f tests/check_e2e.c ]; then
    log "building $E2E"
    timeout 900 make --no-print-directory "$E2E" >"$TMP/make-e2e.log" 2>&1 || { tail -n 30 "$TMP/make-e2e.log"; fatal "make $E2E"; }
fi
if [ -x "$E2E" ]; then
    log "running $E2E against the containers"
    if PC_E2E_PAYMENT_URL=${URL[payment]} PC_E2E_INVENTORY_URL=${URL[inventory]} \
       PC_E2E_NOTIFICATION_URL=${URL[notification]} PC_BIN_DIR="$ROOT/bin" \
       timeout "$E2E_TIMEOUT" "$E2E"; then
        ok "check_e2e against the containers"
    else
        bad "check_e2e against the containers"
    fi
else
    bad "$E2E does not exist (tests/check_e2e.c not written yet?): the end-to-end API test did not run"
fi

# The chaos script's own checks (after check_e2e, so its stock reservations cannot disturb it).
for c in health basic; do
    if PAYMENT_URL=${URL[payment]} INVENTORY_URL=${URL[inventory]} NOTIFICATION_URL=${URL[notification]} \
       PRODUCT=5 TIMEOUT=10 timeout 120 bash tests/chaos.sh "$c" 2>&1 | sed 's/^/    /'; then
        ok "tests/chaos.sh $c against the containers"
    else
        bad "tests/chaos.sh $c against the containers"
    fi
done

# --------------------------------------------------------------------------------------- loadgen
# The Job's way (k8s/loadgen-job.yaml): the options in /etc/loadgen (read-only), /tmp a tmpfs, the same
# confinement as the services, payment's URL in LOADGEN_TARGET; the report and the records come on stdout.
mkdir -p "$TMP/loadgen-plan"
printf '%s\n' --seed 1 --rate 20 --baseline 2s --chaos 4s --recovery 2s --replicas 1,1,1 >"$TMP/loadgen-plan/args"
chmod -R a+rX "$TMP/loadgen-plan" # read by the container's user 10001
CONTAINERS+=("$RUN_ID-loadgen")
log "running $PREFIX/loadgen:$TAG once (8 s of chain requests at 20/s against ${URL[payment]})"
if timeout 120 "${PODMAN[@]}" run --name "$RUN_ID-loadgen" "${ULIMITS[@]}" --network host \
    --read-only --read-only-tmpfs=false --tmpfs /tmp:rw,size=64m --cap-drop ALL \
    --security-opt no-new-privileges --user 10001:10001 --memory 256m \
    -v "$TMP/loadgen-plan:/etc/loadgen:ro" -e LOADGEN_TARGET="${URL[payment]}" \
    "$PREFIX/loadgen:$TAG" >"$TMP/loadgen.log" 2>&1; then
    ok "the loadgen container exits 0"
else
    tail -n 20 "$TMP/loadgen.log" | sed 's/^/    /'
    bad "the loadgen container failed"
fi
sed -n '/^=== loadgen report/,/^=== loadgen records/p' "$TMP/loadgen.log" | sed -n '2,12p' | sed 's/^/    /'
awk '/^=== loadgen records/ { on = 1; next } /^=== loadgen end/ { on = 0 } on' "$TMP/loadgen.log" >"$TMP/loadgen.csv"
n=$(($(wc -l <"$TMP/loadgen.csv") - 1))
want=$(awk '/^run: / { print $2; exit }' "$TMP/loadgen.log")
okn=$(awk -F, 'NR > 1 && $4 == 1' "$TMP/loadgen.csv" | wc -l)
if grep -q '^=== loadgen end' "$TMP/loadgen.log" && [ "$n" = "$want" ] && [ "$n" -ge 100 ]; then
    ok "its log holds the report and $n records lines, as many as the report counts"
else
    bad "its log: $n records lines, the report counts '${want:-none}' (wanted >= 100 and equal)"
fi
if [ "$n" -gt 0 ] && [ "$okn" = "$n" ]; then ok "all $n requests succeeded"; else bad "$okn of $n requests succeeded"; fi

# -------------------------------------------------------------------------------------- shutdown
# podman stop = SIGTERM, then SIGKILL after --stop-timeout (15 s), like the kubelet with
# terminationGracePeriodSeconds. A service must drain and exit 0 well before that.
for s in "${SERVICES[@]}"; do
    t0=$SECONDS
    timeout 60 podman stop -t 15 "$RUN_ID-$s" >/dev/null 2>&1 || true
    code=$(podman inspect --format '{{.State.ExitCode}}' "$RUN_ID-$s" 2>/dev/null || echo '?')
    if [ "$code" = 0 ]; then
        ok "$s exits 0 on SIGTERM (after $((SECONDS - t0)) s)"
    else
        bad "$s exit code after SIGTERM: $code (137 = killed after the grace period)"
    fi
done

log "$PASS passed, $FAIL failed"
SUMMARY_PRINTED=1
[ "$FAIL" = 0 ]
