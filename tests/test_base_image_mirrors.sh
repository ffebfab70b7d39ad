#!/bin/bash
# test_base_image_mirrors.sh: tests/container/base-image.sh takes the Debian archive from apt's sources
# (one-line and deb822 formats), skips what is not Debian's, and exits 2 with a message when apt has
# none. Runs `base-image.sh --mirrors` on made-up apt directories (PC_APT_ETC, PC_APT_LISTS) in a
# temporary directory; touches neither the machine's apt configuration nor podman.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPT="$HERE/container/base-image.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
n=0

# A fresh apt directory: $1 is the case's name; sets ETC and LISTS.
fresh() {
	ETC="$tmp/$1/etc"
	LISTS="$tmp/$1/lists"
	mkdir -p "$ETC/sources.list.d" "$LISTS"
}

# An index file as apt leaves it after `apt-get update`: URI $1, suite $2, origin $3.
index() {
	local name=${1#*://}
	name=${name%/}
	name="${name//\//_}_dists_${2//\//_}_InRelease"
	printf 'Origin: %s\nSuite: %s\n' "$3" "$2" >"$LISTS/$name"
}

# expect NAME STATUS TEXT: base-image.sh --mirrors on ETC/LISTS exits STATUS and its output has TEXT.
expect() {
	local out rc
	n=$((n + 1))
	out=$(PC_APT_ETC="$ETC" PC_APT_LISTS="$LISTS" bash "$SCRIPT" --mirrors 2>&1)
	rc=$?
	if [ "$rc" != "$2" ] || ! grep -qF -- "$3" <<<"$out"; then
		echo "FAIL $1: exit $rc (want $2), want \"$3\" in:"
		echo "$out"
		fail=1
	else
		echo "ok   $1"
	fi
}

fresh none
expect "no sources at all" 2 "no Debian archive for bookworm in apt's sources ($ETC/sources.list"

fresh only-others
echo 'deb [arch=amd64] https://packages.example.com/apt cloud-sdk-bookworm main' >"$ETC/sources.list.d/sdk.list"
printf 'Types: deb\nURIs: https://nodes.example.com/node_20.x\nSuites: nodistro\nComponents: main\n' \
	>"$ETC/sources.list.d/node.sources"
expect "only third-party sources" 2 "no Debian archive for bookworm"

fresh deb822
cat >"$ETC/sources.list.d/debian.sources" <<'EOF'
Types: deb-src
URIs: http://src.mirror.test/debian
Suites: bookworm
Components: main

# a disabled stanza is not used
Types: deb
URIs: http://disabled.mirror.test/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb
# a comment inside the stanza
URIs: http://mirror.test/debian/
Suites: bookworm bookworm-updates
Components: main contrib

Types: deb
URIs: http://mirror.test/debian-security
Suites: bookworm-security
Components: main
EOF
expect "deb822: main" 0 "main http://mirror.test/debian"
expect "deb822: security" 0 "security http://mirror.test/debian-security"

fresh one-line
cat >"$ETC/sources.list" <<'EOF'
# deb http://commented.mirror.test/debian bookworm main
deb-src http://src.mirror.test/debian bookworm main
deb [ arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg ] http://one.mirror.test/debian bookworm main
deb http://one.mirror.test/debian-security bookworm-security main
EOF
expect "one-line with options: main" 0 "main http://one.mirror.test/debian"
expect "one-line: security" 0 "security http://one.mirror.test/debian-security"

# A third-party repository that calls its suite bookworm (and has a main component) comes first in the
# files; apt's index says it is not Debian's, so the Debian mirror after it is taken.
fresh third-party
echo 'deb http://vendor.test/linux/debian bookworm main' >"$ETC/sources.list.d/a-vendor.list"
echo 'deb http://b.mirror.test/debian bookworm main' >"$ETC/sources.list.d/b-debian.list"
index http://vendor.test/linux/debian bookworm Vendor
expect "a third-party bookworm repository is skipped" 0 "main http://b.mirror.test/debian"
expect "no security archive" 0 "security none"
# Neither fetched by apt yet, then only the Debian one: the one apt confirms comes first.
rm -f "$LISTS"/*
expect "unknown origins: the first source" 0 "main http://vendor.test/linux/debian"
index http://b.mirror.test/debian bookworm Debian
expect "apt's index confirms Debian's" 0 "main http://b.mirror.test/debian"

# A trixie machine: its mirror carries bookworm too.
fresh trixie
printf 'Types: deb\nURIs: http://t.mirror.test/debian\nSuites: trixie trixie-updates\nComponents: main\n\n' \
	>"$ETC/sources.list.d/debian.sources"
printf 'Types: deb\nURIs: http://t.mirror.test/debian-security\nSuites: trixie-security\nComponents: main\n' \
	>>"$ETC/sources.list.d/debian.sources"
expect "another release: main" 0 "main http://t.mirror.test/debian"
expect "another release: security" 0 "security http://t.mirror.test/debian-security"

# No mirror host name is written into the script itself: the only URIs it uses come from apt.
n=$((n + 1))
if grep -nE '(https?|ftp)://[A-Za-z0-9]' "$SCRIPT"; then
	echo "FAIL the script names a host (above)"
	fail=1
else
	echo "ok   the script names no host"
fi

[ $fail = 0 ] && echo "test_base_image_mirrors: $n checks passed"
exit $fail
