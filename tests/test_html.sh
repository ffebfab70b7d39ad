#!/bin/bash
# test_html.sh: the --html pages in a real browser. Headless Chromium loads each page (the headline run, an
# experiment file's seven chaos objects, a seed range, and the same range merged from shards) with no console
# message and no script error, and the rendered DOM holds the timeline chart (an inline SVG with the chaos
# phase shaded), the verdict, the phases table, the fault ledger and, for the experiment, the predictions'
# warnings and the expectations; the page's own script ran (it writes a summary line counting what the page
# shows). The pages load nothing from anywhere (no src/href, no URL but the SVG namespace), the same seed gives
# the same bytes, and a merged sweep's page is byte for byte the one-process page. A page with a deliberate
# script error must be caught, so the check itself is known to work.
# Chromium is required: without it the test fails (install it with .ci/deps, which runs apt-get install chromium).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIM=${PC_BIN_DIR:-$ROOT/bin}/sim
cd "$ROOT" || exit 2
if ! command -v chromium >/dev/null; then
	echo "FAIL: chromium is not installed, so the pages cannot be tested in a browser: run .ci/deps (apt-get install chromium)"
	echo "html: 0 passed, 1 failed"
	exit 1
fi
. "$ROOT/tests/support/testlib.sh"

# browse PAGE: the rendered DOM in PAGE.dom, the browser's log in PAGE.log (each run with a fresh profile)
browse() {
	local profile
	profile=$(mktemp -d "$tmp/profile.XXXXXX")
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" \
		--enable-logging=stderr --v=0 --dump-dom "file://$1" >"$1.dom" 2>"$1.log"
	local rc=$?
	rm -rf "$profile"
	return $rc
}

# check NAME PAGE WANT...: loads the page; no console line, no script error, the summary rendered, every WANT
# (a fixed string) in the DOM
check() {
	local name=$1 page=$2 w missing=""
	shift 2
	if ! browse "$page"; then
		bad "$name: chromium failed"
		tail -5 "$page.log"
		return
	fi
	if grep -q "CONSOLE" "$page.log"; then
		bad "$name: console messages"
		grep "CONSOLE" "$page.log" | head -5
		return
	fi
	grep -q '<pre id="script-errors"></pre>' "$page.dom" || { bad "$name: script error recorded in the page"; return; }
	grep -q 'id="page-summary" data-rendered="yes">' "$page.dom" || { bad "$name: the page's script did not run"; return; }
	for w in "$@"; do grep -qF -- "$w" "$page.dom" || missing="$missing [$w]"; done
	if [ -n "$missing" ]; then bad "$name: missing from the rendered page:$missing"; else ok "$name: renders with no console error; has its $# expected items"; fi
}

self_contained() { # name page
	if grep -qE '(src|href)=' "$2" || grep -oE '(https?|ftp|file)://[^" ]*' "$2" | grep -qv '^http://www.w3.org/2000/svg$'; then
		bad "$1: the page refers to something outside itself"
	else
		ok "$1: self-contained (no src, href or URL)"
	fi
}

"$SIM" --loss 0.8 --seed 42 --html "$tmp/run.html" >/dev/null 2>&1
self_contained run "$tmp/run.html"
check run "$tmp/run.html" '<figure class="timeline" id="timeline-0">' '<svg xmlns="http://www.w3.org/2000/svg"' \
	'fill="#f4c7c3"' '>chaos</text>' 'id="verdict-0">verdict: PASS' 'id="phases-0"' 'id="ledger-0"' \
	'1 chart, 0 warnings, 0 failed expectations on this page' '<td class="t">chaos</td><td>596</td>'
"$SIM" --loss 0.8 --seed 42 --html "$tmp/run2.html" >/dev/null 2>&1
cmp -s "$tmp/run.html" "$tmp/run2.html" && ok "run: same seed, same page" || bad "run: the page is not deterministic"

"$SIM" --experiment chaos-experiments/02-packet-loss-80-percent.yaml --seed 42 --html "$tmp/exp.html" >/dev/null 2>&1
self_contained experiment "$tmp/exp.html"
check experiment "$tmp/exp.html" 'id="timeline-6"' 'chaos object: packet-loss-80-percent' 'class="warning">WARNING: ' \
	'id="expectations-0"' 'class="verdict PASS" id="verdict-0"' 'the YAML says' '7 charts, ' 'Predictions'

"$SIM" --loss 0.5 --seeds 1..8 --html "$tmp/seeds.html" >/dev/null 2>&1
for i in 0 1; do "$SIM" --loss 0.5 --seeds 1..8 --shard $i/2 >"$tmp/part$i.json"; done
"$SIM" --merge "$tmp/part1.json" "$tmp/part0.json" --html "$tmp/merged.html" >/dev/null 2>&1
self_contained seeds "$tmp/seeds.html"
check seeds "$tmp/seeds.html" 'id="metrics-0"' 'id="distributions-0"' 'chaos.success_rate: ' 'verdict: PASS' '13 charts'
cmp -s "$tmp/seeds.html" "$tmp/merged.html" && ok "merged: the page of 2 shards merged is the one-process page" ||
	bad "merged: the pages differ"

# the check must catch a script error: the same page with a call to nothing
sed 's|</body>|<script>pc_no_such_function();</script></body>|' "$tmp/run.html" >"$tmp/broken.html"
browse "$tmp/broken.html"
if grep -q "CONSOLE" "$tmp/broken.html.log" || grep -q 'script error: ' "$tmp/broken.html.dom"; then
	ok "a page with a script error is caught"
else
	bad "a deliberate script error went unnoticed: the check cannot see errors"
fi

tl_finish html
