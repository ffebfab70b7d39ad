#!/bin/bash
# test_lab_pids.sh: lab/lab.sh signals a process it recorded only while the recorded pid still names that
# process (pid_tag, pid_signal, pid_file_signal). Pids are reused, so a pid file is "PID START": a live
# process whose start time differs from the recorded one (a reused pid) is left alone, a gone one is
# reported gone, and the recorded one is signalled.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/support/testlib.sh"
. "$ROOT/lab/lab.sh"

sleep 30 &
victim=$!
trap 'kill -9 $victim 2>/dev/null; rm -rf "$tmp"' EXIT
read -r p s <<<"$(pid_tag $victim)"
[ "$p" = "$victim" ] && [ "$s" = "$(awk '{ print $22 }' "/proc/$victim/stat")" ] &&
	ok "pid_tag: the pid and its start time (field 22 of /proc/PID/stat)" || bad "pid_tag gave '$p $s'"

read -r p s2 <<<"$(pid_tag 999999)"
[ "$s2" = - ] && ok "pid_tag of a pid that names nothing: start '-'" || bad "pid_tag 999999 gave start '$s2'"
pid_signal 0 999999 - && bad "pid_signal took '-' for a start time" || ok "pid_signal: start '-' is never signalled"

# the same pid with another start time: the process a reused pid now names
pid_signal 9 "$victim" $((s + 1)) && bad "pid_signal signalled a process started at another time" ||
	ok "pid_signal: a pid whose start time differs is not signalled"
kill -0 "$victim" 2>/dev/null && ok "... and that process lives" || bad "the process with the other start time died"
pid_signal 9 "$victim" "" && bad "pid_signal signalled with no start time" || ok "pid_signal: no start time, no signal"

echo "$victim $((s + 1))" >"$tmp/reused.pid"
pid_file_signal 0 "$tmp/reused.pid" && bad "pid_file_signal 0 calls a reused pid alive" ||
	ok "pid_file_signal 0: a reused pid is not the recorded process"
pid_file_signal 0 "$tmp/none.pid" && bad "pid_file_signal with no file succeeded" || ok "pid_file_signal: no file, nothing signalled"

pid_tag "$victim" >"$tmp/victim.pid"
pid_file_signal 0 "$tmp/victim.pid" && ok "pid_file_signal 0: the recorded process is alive" ||
	bad "pid_file_signal 0 does not see the recorded process"
pid_file_signal 9 "$tmp/victim.pid" && ok "pid_file_signal 9: signalled" || bad "pid_file_signal 9 failed"
wait "$victim" 2>/dev/null
pid_file_signal 0 "$tmp/victim.pid" && bad "a killed process is still reported alive" ||
	ok "pid_file_signal 0: gone once killed"
tl_finish test_lab_pids
