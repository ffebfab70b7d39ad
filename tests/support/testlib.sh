# testlib.sh: what the shell suites share, sourced after `set -u`: a scratch directory $tmp removed on exit,
# the pass and fail counters with ok/bad, and the closing line. A suite that needs its own cleanup sets its
# own EXIT trap after sourcing and removes $tmp there.
#
#   . "$(dirname "$0")/support/testlib.sh"
#   ok "what held"; bad "what did not"
#   tl_finish NAME        # prints "NAME: P passed, F failed"; returns 0 only if nothing failed
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
tl_finish() {
	echo "$1: $pass passed, $fail failed"
	[ "$fail" = 0 ]
}
