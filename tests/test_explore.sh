#!/bin/bash
# test_explore.sh: `bin/sim --explore` on a small fault space (loss on every link, pod kill, 3 pairs) with a
# small --budget, so that it takes seconds:
#   - the same bytes on stdout and in --out DIR for a seed, with 2 threads and with 1;
#   - every Chaos Mesh file in DIR fails its payment-chaos/expect annotation in `bin/sim --experiment FILE
#     --seed S` (exit 1), every file in DIR/inside holds (exit 0), both kinds exist; the three pairs were
#     searched and each pair that broke has its file;
#   - the files pass the manifest validator when it is present (VALIDATOR, default ../shared/tools/...,
#     as `make validate`); explore.json parses and frontier.svg is well-formed XML;
#   - a steady state that does not hold without a fault: exit 1 and nothing explored;
#   - bad arguments: exit 2 with a message, before any simulation.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PC_BIN_DIR:-$ROOT/bin}
VALIDATOR=${VALIDATOR:-$ROOT/../shared/tools/validate-manifests}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok   $1"; }
bad() {
	echo "FAIL $1"
	fail=1
}

args=(--explore --expect 'chain.success_rate >= 0.99' --explore-faults loss,pod-kill --explore-pairs 3 --budget 900
	--seed 3)
"$BIN/sim" "${args[@]}" --out "$tmp/out" >"$tmp/a.txt" 2>"$tmp/a.err"
rc=$?
[ $rc = 0 ] && ok "explore exits 0" || bad "explore exit $rc: $(cat "$tmp/a.err")"
cp -r "$tmp/out" "$tmp/first"
"$BIN/sim" "${args[@]}" --out "$tmp/out" --threads 1 >"$tmp/b.txt" 2>&1
if cmp -s "$tmp/a.txt" "$tmp/b.txt" && diff -r "$tmp/first" "$tmp/out" >/dev/null; then
	ok "same bytes (stdout and files) with 2 threads and with 1"
else
	bad "outputs differ between runs"
	diff "$tmp/a.txt" "$tmp/b.txt" | head -20
fi
grep -q '^search: guided, 12 faults + 3 pairs' "$tmp/a.txt" && ok "12 faults and 3 pairs searched" ||
	bad "search line: $(grep '^search' "$tmp/a.txt")"
grep -q '^loss payment -> inventory .*inventory check timeout' "$tmp/a.txt" && ok "what breaks first is named" ||
	bad "no cause on loss payment -> inventory"

nbreak=0
for f in "$tmp/out"/*.yaml; do
	[ -e "$f" ] || continue
	nbreak=$((nbreak + 1))
	grep -q 'payment-chaos/expect: "chain.success_rate >= 0.99 during chaos"' "$f" || bad "$f: no expect annotation"
	"$BIN/sim" --seed 3 --experiment "$f" >/dev/null 2>&1
	rc=$?
	[ $rc = 1 ] || bad "$(basename "$f"): bin/sim --experiment exit $rc, want 1"
done
ninside=0
for f in "$tmp/out"/inside/*.yaml; do
	[ -e "$f" ] || continue
	ninside=$((ninside + 1))
	"$BIN/sim" --seed 3 --experiment "$f" >/dev/null 2>&1
	rc=$?
	[ $rc = 0 ] || bad "inside/$(basename "$f"): bin/sim --experiment exit $rc, want 0"
done
[ $nbreak -ge 5 ] && [ $ninside -ge 3 ] && ok "$nbreak breaking files exit 1, $ninside inside files exit 0" ||
	bad "too few files: $nbreak breaking, $ninside inside"
# Whether a pair breaks within the budget depends on the model's figures (two faults each at its own limit
# often sit right at the threshold, undecided over a few seeds); what must hold is that the three pairs were
# searched and that every pair that broke has its file, which exits 1 like the others above.
python3 -c 'import json, os, sys
d = json.load(open(sys.argv[1] + "/explore.json"))
assert len(d["pairs"]) == 3 and all(p["runs"] > 0 and p["status"] for p in d["pairs"]), d["pairs"]
files = sorted(f for f in os.listdir(sys.argv[1]) if "-pair-" in f)
broken = [p for p in d["pairs"] if p["file"]]
assert len(files) == len(broken), (files, [p["name"] for p in broken])
print(len(files))' "$tmp/out" >"$tmp/pairs.txt" 2>&1 && ok "3 pairs searched, $(cat "$tmp/pairs.txt") written as breaking points" ||
	bad "pairs: $(tail -3 "$tmp/pairs.txt")"
if [ -x "$VALIDATOR" ]; then
	"$VALIDATOR" "$tmp/out"/*.yaml "$tmp/out"/inside/*.yaml >"$tmp/v.txt" 2>&1 && ok "validator: $(tail -1 "$tmp/v.txt")" ||
		bad "validator: $(grep -v WARNING "$tmp/v.txt" | head -5)"
else
	echo "skip validator ($VALIDATOR not present)"
fi
python3 -c 'import json, sys, xml.dom.minidom
d = json.load(open(sys.argv[1]))
assert d["faults"] and d["ranking"] and d["simulations"] <= 900, d["simulations"]
xml.dom.minidom.parse(sys.argv[2])' "$tmp/out/explore.json" "$tmp/out/frontier.svg" && ok "explore.json and frontier.svg parse" ||
	bad "explore.json or frontier.svg"

"$BIN/sim" --explore --expect 'chain.p99_ms <= 1' --explore-faults pod-kill --seed 1 >"$tmp/c.txt" 2>&1
rc=$?
[ $rc = 1 ] && grep -q 'does not hold without a fault: nothing to explore' "$tmp/c.txt" &&
	ok "a steady state that never holds: exit 1" || bad "never-holding steady state: exit $rc"

err_case() { # expected message part, arguments...
	local want=$1 out rc
	shift
	out=$("$BIN/sim" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc = 2 ] && grep -qF -- "$want" <<<"$out"; then ok "exit 2: $want"; else bad "$* -> exit $rc: $out"; fi
}
E=(--explore --expect 'chain.success_rate >= 0.99')
err_case "--explore needs --expect" --explore
err_case "--budget 0: expected 1..10000000" "${E[@]}" --budget 0
err_case 'unknown fault kind "bogus"' "${E[@]}" --explore-faults loss,bogus
err_case "--explore injects its own faults" "${E[@]}" --loss 0.05
err_case "it takes no --experiment" "${E[@]}" --experiment "$ROOT/chaos-experiments/02-packet-loss-80-percent.yaml"
err_case "--explore takes one --seed N" "${E[@]}" --seeds 1..3
err_case "--explore-width 2: expected a share" "${E[@]}" --explore-width 2
err_case "--explore-strategy foo: expected guided, bisect or random" "${E[@]}" --explore-strategy foo
err_case "--explore-pairs 17: expected 0..16" "${E[@]}" --explore-pairs 17
err_case "cannot create the directory" "${E[@]}" --out "$tmp/no/such/dir"
err_case "--budget belongs to --explore" --budget 5
err_case "--out belongs to --explore" --out "$tmp/x"
[ $fail = 0 ] && echo "explore: all passed"
exit $fail
