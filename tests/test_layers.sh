#!/bin/bash
# test_layers.sh: the layer check (tests/layers.py) passes on the tree, and fails, naming the file and the
# line, on a copy of the tree with one upward include added (faults/ -> sim/) and on one with a cycle.
# The size check (tests/funclen.py) passes on the tree and fails on a copy with one function grown past 80
# lines.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
fail=0
check() { # name, expected status, root, expected text [, script]
	local out rc
	out=$(python3 "$HERE/${5:-layers.py}" "$3" 2>&1)
	rc=$?
	if [ "$rc" != "$2" ] || ! grep -qF -- "$4" <<<"$out"; then
		echo "FAIL $1: exit $rc (want $2), output:"
		echo "$out"
		fail=1
	else
		echo "ok   $1"
	fi
}
check "the tree" 0 "$ROOT" "every include points down"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$ROOT/base" "$ROOT/services" "$ROOT/faults" "$ROOT/sim" "$ROOT/lab" "$tmp/"
line=$(($(grep -n '^#include' "$tmp/faults/netem.c" | tail -1 | cut -d: -f1) + 1))
sed -i "${line}i #include \"sim/engine/engine.h\"" "$tmp/faults/netem.c"
check "an upward include" 1 "$tmp" "faults/netem.c:$line: includes \"sim/engine/engine.h\": faults may not include sim/engine"
sed -i "${line}d" "$tmp/faults/netem.c"
check "the copy restored" 0 "$tmp" "every include points down"
echo '#include "faults/netem.h"' >>"$tmp/faults/prandom.h"
check "a cycle" 1 "$tmp" "include cycle: faults/netem -> faults/prandom -> faults/netem"
sed -i '$d' "$tmp/faults/prandom.h"
check "functions: the tree" 0 "$ROOT" "none longer than 80 lines" funclen.py
body=$(for i in $(seq 1 80); do printf '    x += %d;\n' "$i"; done)
printf 'static int grown(int x) {\n%s\n    return x;\n}\n' "$body" >>"$tmp/faults/netem.c"
line=$(grep -n '^static int grown' "$tmp/faults/netem.c" | cut -d: -f1)
check "functions: one grown to 83 lines" 1 "$tmp" "faults/netem.c:$line: grown is 83 lines (at most 80)" funclen.py
[ $fail = 0 ] && echo "layers: all passed"
exit $fail
