#!/bin/bash
# test_sweep.sh: a sweep split into shards (--shard I/N) and merged (--merge) prints exactly what one process
# prints, byte for byte and with the same exit status, as JSON and as text: a plain --seeds range, an experiment
# file's chaos objects, and --find-violation (a range whose lowest failing seed lies in the last shard, and one
# with none). The parts do not depend on the number of threads; bad merges are refused with exit 2 and a
# message (a shard missing or given twice, a part of another sweep, a file that is no part, flags that do not
# go with --merge or --shard).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIM=${PC_BIN_DIR:-$ROOT/bin}/sim
cd "$ROOT" || exit 2
. "$ROOT/tests/support/testlib.sh"

# same NAME ARGS...: one process against 4 shards merged (given out of order), as JSON and as text.
same() {
	local name=$1 rc1 rc2 i
	shift
	"$SIM" "$@" --json >"$tmp/$name.one.json" 2>"$tmp/err"
	rc1=$?
	"$SIM" "$@" >"$tmp/$name.one.txt" 2>>"$tmp/err"
	for i in 0 1 2 3; do
		"$SIM" "$@" --shard "$i/4" >"$tmp/$name.part$i.json" 2>>"$tmp/err" || { bad "$name: shard $i/4 failed"; cat "$tmp/err"; return; }
	done
	local parts=("$tmp/$name.part2.json" "$tmp/$name.part0.json" "$tmp/$name.part3.json" "$tmp/$name.part1.json")
	"$SIM" --merge "${parts[@]}" --json >"$tmp/$name.merged.json" 2>>"$tmp/err"
	rc2=$?
	if [ -s "$tmp/$name.one.json" ] && cmp -s "$tmp/$name.one.json" "$tmp/$name.merged.json" && [ "$rc1" = "$rc2" ]; then
		ok "$name: 4 shards merged = one process, JSON byte for byte (exit $rc1)"
	else
		bad "$name: JSON differs (exit $rc1 vs $rc2)"
		diff "$tmp/$name.one.json" "$tmp/$name.merged.json" | head -20
		cat "$tmp/err"
	fi
	"$SIM" --merge "${parts[@]}" >"$tmp/$name.merged.txt" 2>>"$tmp/err"
	rc2=$?
	if [ -s "$tmp/$name.one.txt" ] && cmp -s "$tmp/$name.one.txt" "$tmp/$name.merged.txt" && [ "$rc1" = "$rc2" ]; then
		ok "$name: 4 shards merged = one process, text byte for byte"
	else
		bad "$name: text differs (exit $rc1 vs $rc2)"
		diff "$tmp/$name.one.txt" "$tmp/$name.merged.txt" | head -20
	fi
}

same seeds --loss 0.5 --seeds 1..12
python3 - "$tmp/seeds.one.json" <<'EOF' && ok "seeds: the JSON holds means, intervals and counts" || bad "seeds: JSON content"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["metrics"]["chaos.success_rate"]
assert d["sweep"] == {"mode": "seeds", "first": "1", "last": "12", "seeds": 12}, d["sweep"]
assert 0.5 < m["mean"] < 0.8 and m["low95"] < m["mean"] < m["high95"] and m["runs"] == 12, m
assert d["runs_with_violation"] == 0 and d["violations"] == [] and d["verdict"] == "PASS"
EOF
grep -q "^chaos.success_rate" "$tmp/seeds.one.txt" && ok "seeds: the text is the table" || bad "seeds: text table"

same experiment --experiment chaos-experiments/06-pod-kill.yaml --seeds 1..8
python3 - "$tmp/experiment.one.json" <<'EOF' && ok "experiment: per chaos object, expectations' pass rates and verdicts" || bad "experiment: JSON content"
import json, sys
d = json.load(open(sys.argv[1]))
names = [u["name"] for u in d["experiments"]]
assert names == ["pod-kill-payment", "pod-kill-inventory"], names
for u in d["experiments"]:
    assert u["expectations"] and all(0 <= e["pass_rate"] <= 1 for e in u["expectations"]), u
    assert u["verdict"] in ("PASS", "FAIL")
assert d["verdict"] in ("PASS", "FAIL") and d["failed_objects"] == sum(u["verdict"] == "FAIL" for u in d["experiments"])
EOF

HARSH=(--workload process --client-retries 3 --retries 3 --baseline 2s --chaos 10s --recovery 10s --rate 20 --idempotency off)
# (seed 45 is the lowest failing seed of 27..46 with this model: a model change may move it; pick the range
# again so that the lowest failing seed lies in the last of the 4 shards)
same find "${HARSH[@]}" --loss 0.2 --client-loss 0.2 --find-violation --seeds 27..46
grep -q '"seed": "45"' "$tmp/find.one.json" && grep -q '"reproduce": "bin/sim --seed 45 ' "$tmp/find.one.json" &&
	! grep -q '"violation": {' "$tmp/find.part0.json" &&
	ok "find: the lowest failing seed (45, in the last shard) with its reproducing command" ||
	bad "find: expected seed 45 from the last shard"
same seeds-violation "${HARSH[@]}" --loss 0.2 --client-loss 0.2 --seeds 42..49
grep -q '"reproduce": "bin/sim --seed 45 ' "$tmp/seeds-violation.one.json" &&
	ok "seeds-violation: every failing run listed with its reproducing command" || bad "seeds-violation: seed 45 not listed"
same find-none "${HARSH[@]}" --loss 0.05 --client-loss 0.05 --find-violation --seeds 1..40
grep -q '"runs": 40' "$tmp/find-none.one.json" && ok "find-none: 40 runs, no violation" || bad "find-none: runs"

# a part does not depend on the threads
"$SIM" --loss 0.5 --seeds 1..12 --shard 1/4 --threads 1 >"$tmp/t1.json"
cmp -s "$tmp/t1.json" "$tmp/seeds.part1.json" && ok "a part is the same with 1 and 2 threads" || bad "a part depends on the threads"

# the progress line: on stderr when it is a terminal (script(1) gives the run one), nothing otherwise
"$SIM" --loss 0.5 --seeds 1..4 >/dev/null 2>"$tmp/quiet.err"
[ ! -s "$tmp/quiet.err" ] && ok "no progress line when stderr is not a terminal" || bad "stderr not empty: $(head -c 200 "$tmp/quiet.err")"
if command -v script >/dev/null; then
	script -qec "'$SIM' --loss 0.5 --seeds 1..4 >/dev/null" /dev/null >"$tmp/tty.out" 2>&1
	grep -qE 'seeds [0-9]+ of 4 done, [0-9.]+/s, ([0-9]+ s|\?) left' "$tmp/tty.out" &&
		ok "a progress line when stderr is a terminal" || bad "no progress line on a terminal: $(head -c 200 "$tmp/tty.out")"
fi

# refusals: exit 2 and a message naming the problem
refuse() { # name, expected text, args...
	local name=$1 want=$2 out rc
	shift 2
	out=$("$SIM" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = 2 ] && grep -qF -- "$want" <<<"$out"; then ok "refused: $name"; else bad "$name: exit $rc, '$out'"; fi
}
P=$tmp/seeds.part
refuse "a missing shard" "shard 1 of 4 is missing" --merge "$P"0.json "$P"2.json "$P"3.json
refuse "a shard twice" "a second copy of a shard" --merge "$P"0.json "$P"1.json "$P"1.json "$P"2.json "$P"3.json
"$SIM" --loss 0.4 --seeds 1..12 --shard 1/4 >"$tmp/other.json"
refuse "a part of another sweep" "its command line differs" --merge "$P"0.json "$tmp/other.json" "$P"2.json "$P"3.json
refuse "a file that is no part" "not a part of a sweep" --merge "$tmp/seeds.one.json"
refuse "run options with --merge" "--merge takes only --json and --html" --merge "$P"0.json --loss 0.3
refuse "--shard beyond N" "expected I/N" --seeds 1..12 --shard 4/4
refuse "more shards than seeds" "at least N seeds" --seeds 1..3 --shard 0/4
refuse "--shard with --csv" "--shard writes only the part's JSON" --seeds 1..12 --shard 0/4 --csv "$tmp/x.csv"

tl_finish sweep
