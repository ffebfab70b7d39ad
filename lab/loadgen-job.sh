#!/bin/sh
# loadgen-job.sh: the entrypoint of the load generator's image (Dockerfile target `loadgen`), which the Job
# in k8s/loadgen-job.yaml runs inside the cluster against the payment Service. POSIX sh: the image has
# Debian's dash and coreutils, nothing more.
#
# Contract (what `tests/chaos.sh confirm` relies on):
#   in    $LOADGEN_CONFIG_DIR (default /etc/loadgen, the ConfigMap loadgen-plan): `args`, bin/loadgen's
#         options one per line (blank lines and lines starting with # are skipped), plus any file they
#         name relative to that directory (experiment.yaml, manifest.yaml). $LOADGEN_TARGET: the payment
#         Service's URL (default http://payment-service:5002).
#   run   bin/loadgen with those options, --target, --records and --hook /bin/true: the same plan, load and
#         records as the lab's (docs/lab.md), with no lab to call, so the hook does nothing, but
#         loadgen still logs every chaos action's start and stop on stderr as it reaches it
#         ("loadgen:   5.000 s  hook start 0"), which is when the orchestrator applies and removes the
#         Chaos Mesh object.
#   out   stderr as it happens; then on stdout, after loadgen has ended:
#           === loadgen report (exit N)    bin/sim's report over the measured run
#           === loadgen records            the lab's CSV, one line per request (header first)
#           === loadgen end
#         exit status: loadgen's (0 ok, 2 bad options or a failed run).
# Files: $TMPDIR (default /tmp, an emptyDir in the Job; the root filesystem is read-only).
set -u
CONFIG=${LOADGEN_CONFIG_DIR:-/etc/loadgen}
TARGET=${LOADGEN_TARGET:-http://payment-service:5002}
LOADGEN=${LOADGEN_BIN:-loadgen}
OUT=${TMPDIR:-/tmp}

if [ ! -r "$CONFIG/args" ]; then
    echo "loadgen-job: $CONFIG/args is missing (the ConfigMap loadgen-plan, key args)" >&2
    exit 2
fi
cd "$CONFIG" || exit 2
set --
while IFS= read -r arg || [ -n "$arg" ]; do
    case $arg in '' | '#'*) continue ;; esac
    set -- "$@" "$arg"
done <args
echo "loadgen-job: target $TARGET; options: $*" >&2
# In the background and waited for: this shell is the container's PID 1, which ignores a SIGTERM it does not
# handle, so the kubelet's SIGTERM (the Job deleted) ends loadgen here instead of after the grace period.
"$LOADGEN" --target "$TARGET" --hook /bin/true --records "$OUT/loadgen-records.csv" "$@" >"$OUT/loadgen-report.txt" &
child=$!
trap 'kill "$child" 2>/dev/null; wait "$child"; exit 143' TERM INT
wait "$child"
rc=$?
echo "=== loadgen report (exit $rc)"
cat "$OUT/loadgen-report.txt"
echo "=== loadgen records"
cat "$OUT/loadgen-records.csv" 2>/dev/null
echo "=== loadgen end"
exit $rc
