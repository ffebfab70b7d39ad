#!/bin/bash
# test_experiment_errors.sh: every bad Chaos Mesh document of tests/data/experiment-errors.txt through
# `bin/sim --experiment`, its stderr and exit status compared byte for byte with
# tests/data/experiment-errors.expected. It pins the reader's messages ("FILE:LINE: field: message", the
# API server's and the webhook's wording) so that a refactor of sim/chaosmesh/ cannot change one unnoticed.
#
#   bash tests/test_experiment_errors.sh            compare (exit 1 with a diff on any change)
#   bash tests/test_experiment_errors.sh --update   rewrite the expected file (review its diff!)
#
# The cases file holds one case per "### NAME [| extra sim arguments]" header ($ROOT is the repository),
# followed by the YAML written to NAME.yaml; each case runs in a scratch directory, so the messages name
# NAME.yaml. Every case must exit 2 without running a simulation. The multi-* cases hold several errors
# each: the CRD schema's (types, enums, unknown fields) is reported before the webhook's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PC_BIN_DIR:-$ROOT/bin}
CASES=$ROOT/tests/data/experiment-errors.txt
EXPECTED=$ROOT/tests/data/experiment-errors.expected
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

awk -v dir="$tmp" '
    /^### / {
        line = substr($0, 5); args = ""
        bar = index(line, " | ")
        if (bar) { args = substr(line, bar + 3); line = substr(line, 1, bar - 1) }
        if (out) close(out)
        out = dir "/" line ".yaml"
        printf "" > out
        print line "\t" args >> (dir "/list")
        next
    }
    out { print > out }' "$CASES"

actual=$tmp/actual
: >"$actual"
bad=0
while IFS=$'\t' read -r name args; do
    args=${args//\$ROOT/$ROOT}
    rc=0
    # shellcheck disable=SC2086 # the extra arguments are split on purpose
    (cd "$tmp" && timeout 60 "$BIN/sim" --experiment "$name.yaml" $args >"$name.out" 2>"$name.err") || rc=$?
    {
        echo "== $name rc=$rc"
        cat "$tmp/$name.err"
        if [ -s "$tmp/$name.out" ]; then
            echo "-- stdout"
            cat "$tmp/$name.out"
        fi
    } >>"$actual"
    if [ "$rc" != 2 ]; then
        echo "FAIL $name: exit $rc, not 2" >&2
        bad=1
    fi
done <"$tmp/list"

n=$(wc -l <"$tmp/list")
if [ "${1:-}" = --update ]; then
    cp "$actual" "$EXPECTED"
    echo "test_experiment_errors: $n cases written to $EXPECTED"
    exit $bad
fi
if ! diff -u "$EXPECTED" "$actual"; then
    echo "FAIL test_experiment_errors: the messages above changed" >&2
    exit 1
fi
[ "$bad" = 0 ] || exit 1
echo "test_experiment_errors: $n bad experiment files, every message and exit status as expected"
