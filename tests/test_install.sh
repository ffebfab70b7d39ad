#!/bin/bash
# test_install.sh: `make install DESTDIR=... PREFIX=/usr` puts the six binaries in usr/bin and their man pages in
# usr/share/man/man1; every installed binary answers --version with the release and the git revision; `man -l`
# renders every page; sim(1) names every option of bin/sim --help, and each service's page every setting the
# code reads (the keys services/core/config.c and services/http/env.c look up); `make uninstall` removes them.
# Installs the release build (make's default variant).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
. "$ROOT/tests/support/testlib.sh"
if ! command -v man >/dev/null; then
	echo "FAIL: man is not installed (.ci/deps installs man-db)"
	echo "install: 0 passed, 1 failed"
	exit 1
fi

if make -s --no-print-directory install DESTDIR="$tmp/stage" PREFIX=/usr >"$tmp/make.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=/usr"
else
	bad "make install"
	tail -20 "$tmp/make.log"
fi
BIN=$tmp/stage/usr/bin
MAN=$tmp/stage/usr/share/man/man1
describe=$(git describe --always --dirty 2>/dev/null || echo unknown)
# every installed program has a version and a page, and the six programs are all there
installed=$(ls "$BIN" 2>/dev/null | tr '\n' ' ')
for p in sim loadgen labwire payment-service inventory-service notification-service; do
	[ -x "$BIN/$p" ] || bad "$p is not installed (installed: $installed)"
done
for p in $installed; do
	if [ -x "$BIN/$p" ] && v=$("$BIN/$p" --version) && grep -qE "^$p [0-9]+\.[0-9]+\.[0-9]+ \(git [^ ;)]+" <<<"$v"; then
		ok "$p --version: $v"
	else
		bad "$p: not installed or no version ('${v:-}')"
	fi
	page=$MAN/$p.1
	if [ -f "$page" ] && MANWIDTH=100 man -l "$page" >"$tmp/$p.txt" 2>"$tmp/$p.err" && [ ! -s "$tmp/$p.err" ] &&
		grep -q "^NAME" "$tmp/$p.txt" && grep -q "^EXIT STATUS" "$tmp/$p.txt"; then
		ok "man -l $p.1 renders"
	else
		bad "man -l $p.1"
		head -5 "$tmp/$p.err" 2>/dev/null
	fi
done
# the revision is the build's: the installed sim says the tree's
grep -qF "(git ${describe%-dirty}" <<<"$("$BIN/sim" --version)" && ok "sim --version names git $describe" ||
	bad "sim --version does not name the tree's revision ($describe)"

missing=""
for f in $("$BIN/sim" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	grep -qF -- "$f" "$tmp/sim.txt" || missing="$missing $f"
done
[ -z "$missing" ] && ok "sim(1) names every option of --help" || bad "sim(1) lacks:$missing"

keys=$(grep -ohE '"[A-Z][A-Z_]+[A-Z]"' services/core/config.c services/http/env.c | tr -d '"' | sort -u)
[ "$(wc -w <<<"$keys")" -ge 30 ] || bad "found only $(wc -w <<<"$keys") settings in the code"
for s in payment inventory notification; do
	missing=""
	for k in $keys; do grep -qw -- "$k" "$tmp/$s-service.txt" || missing="$missing $k"; done
	[ -z "$missing" ] && ok "$s-service(1) lists all $(wc -w <<<"$keys") settings" || bad "$s-service(1) lacks:$missing"
done

make -s --no-print-directory uninstall DESTDIR="$tmp/stage" PREFIX=/usr >/dev/null 2>&1
left=$(find "$tmp/stage" -type f | wc -l)
[ "$left" = 0 ] && ok "make uninstall removes them" || bad "make uninstall left $left files"

tl_finish install
