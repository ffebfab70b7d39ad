#!/usr/bin/env bash
# Makes sure the two local Debian base images that the Dockerfile builds FROM exist:
#
#   localhost/payment-chaos/debian:bookworm        debootstrap --variant=minbase bookworm (build stage)
#   localhost/payment-chaos/debian:bookworm-slim   the same tree with docs/man/locales removed and the
#                                                  dpkg path excludes of Docker's official -slim images
#                                                  (runtime stages)
#
# No registry is reachable here, so the images come from a Debian mirror through debootstrap. The
# mirror is the one this machine's apt uses: no mirror is written into this script, since which hosts
# are reachable (a local mirror, a proxy, a snapshot) depends on the machine. It is read from
# $PC_APT_ETC (default /etc/apt): sources.list and sources.list.d/*.list (one-line "deb [opts] URI
# SUITE COMPONENTS" entries) and sources.list.d/*.sources (deb822 stanzas: Types, URIs, Suites,
# Components, Enabled). The main archive is the first source with a main component listing the suite
# bookworm, else the first listing another Debian release (a Debian mirror carries them all); sources
# that apt's index ($PC_APT_LISTS, default /var/lib/apt/lists) shows to be Debian's come first, and
# those it shows to be another origin are never taken. The security archive is chosen likewise with
# bookworm-security, and left out of the images' sources when apt has none. No main archive: exit 2
# with a message. The rootfs tarballs are cached in $PC_CACHE_DIR (default
# /var/cache/payment-chaos) and the images stay in podman's store, so this runs debootstrap (and needs
# the mirror) once per machine. Existing images are never touched; PC_REBUILD_BASE=1 forces a fresh
# debootstrap.
#
# Prints the two image names on stdout (build first), everything else on stderr. Needs root.
# `base-image.sh --mirrors` only prints the two archives it would use ("main URI", "security URI" or
# "security none"), with the same exit 2 when there is no main archive; it needs neither root nor podman.
set -euo pipefail

CACHE_DIR=${PC_CACHE_DIR:-/var/cache/payment-chaos}
BUILD_IMAGE=${PC_BASE_BUILD_IMAGE:-localhost/payment-chaos/debian:bookworm}
SLIM_IMAGE=${PC_BASE_SLIM_IMAGE:-localhost/payment-chaos/debian:bookworm-slim}
SUITE=bookworm
DEBOOTSTRAP_TIMEOUT=${PC_DEBOOTSTRAP_TIMEOUT:-1200}
APT_ETC=${PC_APT_ETC:-/etc/apt}
APT_LISTS=${PC_APT_LISTS:-/var/lib/apt/lists}

ROOT_TMP=
cleanup() { if [ -n "$ROOT_TMP" ]; then rm -rf "$ROOT_TMP" "$ROOT_TMP.log"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'base-image: %s\n' "$*" >&2; }

have_images() {
    podman image exists "$BUILD_IMAGE" && podman image exists "$SLIM_IMAGE"
}

# Every "deb" source apt is configured with, one line each, tab-separated: the URI, its suites, its
# components. Comments, deb-src entries and deb822 stanzas with "Enabled: no" are skipped; a deb822
# stanza with several URIs gives one line per URI.
apt_sources() {
    local f
    for f in "$APT_ETC/sources.list" "$APT_ETC"/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '{ sub(/#.*/, "") }
             $1 != "deb" { next }
             { i = 2
               if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } # [ options ]
               if (i + 1 > NF) next
               comps = ""
               for (k = i + 2; k <= NF; k++) comps = comps (comps == "" ? "" : " ") $k
               print $i "\t" $(i + 1) "\t" comps }' "$f"
    done
    for f in "$APT_ETC"/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk 'function flush(  n, k, u) {
                 if (deb && enabled && uris != "" && suites != "") {
                     n = split(uris, u, /[ \t]+/)
                     for (k = 1; k <= n; k++) if (u[k] != "") print u[k] "\t" suites "\t" comps
                 }
                 deb = 0; enabled = 1; uris = ""; suites = ""; comps = ""; last = ""
             }
             BEGIN { enabled = 1 }
             /^[ \t]*#/ { next }
             /^[ \t]*$/ { flush(); next }
             /^[ \t]/ { # a continuation line of the field above
                 v = $0; gsub(/^[ \t]+|[ \t]+$/, "", v)
                 if (last == "uris") uris = uris " " v
                 else if (last == "suites") suites = suites " " v
                 else if (last == "components") comps = comps " " v
                 next
             }
             { p = index($0, ":"); if (!p) next
               key = tolower(substr($0, 1, p - 1)); val = substr($0, p + 1)
               gsub(/^[ \t]+|[ \t]+$/, "", val); last = key
               if (key == "types") deb = (" " val " ") ~ /[ \t]deb[ \t]/
               else if (key == "uris") uris = val
               else if (key == "suites") suites = val
               else if (key == "components") comps = val
               else if (key == "enabled") enabled = tolower(val) !~ /^no/ }
             END { flush() }' "$f"
    done
}

# Whether apt's downloaded index says that URI $1, suite $2 is a Debian archive: "debian" when its
# Release file says "Origin: Debian", "other" when it names another origin (a third-party repository
# that also calls its suite bookworm), "unknown" when apt has not fetched it.
archive_origin() {
    local name f
    name=${1#*://}
    name=${name%/}
    name="${name//\//_}_dists_${2//\//_}"
    for f in "$APT_LISTS/${name}_InRelease" "$APT_LISTS/${name}_Release"; do
        [ -r "$f" ] || continue
        if grep -q '^Origin: Debian$' "$f"; then echo debian; else echo other; fi
        return 0
    done
    echo unknown
}

# Whether suite $2 is the kind of suite $1 is in another Debian release (a Debian mirror carries them all):
# a release name for the main archive, a *-security suite for the security archive.
same_kind() {
    case "$1:$2" in
        *-security:*-security) return 0 ;;
        *-security:* | *:*-*) return 1 ;;
        *:oldoldstable | *:oldstable | *:stable | *:testing | *:unstable | *:sid) return 0 ;;
        *:buster | *:bullseye | *:bookworm | *:trixie | *:forky | *:duke) return 0 ;;
    esac
    return 1
}

# The URI (without a trailing /) of the archive for suite $1 (bookworm, or bookworm-security), among the
# sources with a "main" component that debootstrap can fetch from (http, https, file) and that apt's
# index does not show to be someone else's: first a source listing that very suite, then one listing the
# same kind of suite of another release; within each, one apt's index confirms as Debian's first.
# Status 1 when apt has none.
pick_mirror() {
    local want=$1 match trust uri suites comps s
    for match in exact release; do
        for trust in debian unknown; do
            while IFS=$'\t' read -r uri suites comps; do
                case $uri in http://* | https://* | file://*) ;; *) continue ;; esac
                case " $comps " in *" main "*) ;; *) continue ;; esac
                for s in $suites; do
                    if [ $match = exact ]; then
                        [ "$s" = "$want" ] || continue
                    else
                        same_kind "$want" "$s" || continue
                    fi
                    [ "$(archive_origin "$uri" "$s")" = $trust ] || continue
                    echo "${uri%/}"
                    return 0
                done
            done < <(apt_sources)
        done
    done
    return 1
}

no_mirror() {
    log "no Debian archive for $SUITE in apt's sources ($APT_ETC/sources.list, $APT_ETC/sources.list.d/*.list," \
        "*.sources): add one (a \"deb URI $SUITE main\" line or a deb822 stanza with Types: deb, URIs and" \
        "Suites: $SUITE), or set PC_APT_ETC to a directory that has one"
    exit 2
}

make_tarballs() {
    local mirror security root
    mirror=$(pick_mirror "$SUITE") || no_mirror
    security=$(pick_mirror "$SUITE-security") || security=
    [ -n "$security" ] || log "no $SUITE-security archive in apt's sources: the images get main and updates only"
    log "debootstrap --variant=minbase $SUITE from $mirror (timeout ${DEBOOTSTRAP_TIMEOUT}s)"
    root=$(mktemp -d /var/tmp/pc-debootstrap.XXXXXX)
    ROOT_TMP=$root
    if ! timeout "$DEBOOTSTRAP_TIMEOUT" debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
        tail -n 30 "$root.log" >&2
        rm -f "$root.log"
        log "debootstrap failed"
        return 1
    fi
    rm -f "$root.log"
    # The same sources the host uses: main + updates (+ security when the host has it), so images get
    # the fixes the host gets.
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    if [ -n "$security" ]; then
        cat >>"$root/etc/apt/sources.list.d/debian.sources" <<EOF

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    fi
    # Like Docker's debian images: no recommends, no apt caches kept in layers.
    cat >"$root/etc/apt/apt.conf.d/90payment-chaos" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
           "$root"/var/log/* "$root"/tmp/* "$root"/root/.cache
    : >"$root/etc/machine-id" 2>/dev/null || true
    mkdir -p "$CACHE_DIR"
    tar --numeric-owner -C "$root" -cf "$CACHE_DIR/debian-$SUITE.tar.tmp" .
    mv "$CACHE_DIR/debian-$SUITE.tar.tmp" "$CACHE_DIR/debian-$SUITE.tar"

    # -slim: what debuerreotype does for the official slim variant.
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/groff/* "$root"/usr/share/info/* \
           "$root"/usr/share/lintian/* "$root"/usr/share/linda/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
    tar --numeric-owner -C "$root" -cf "$CACHE_DIR/debian-$SUITE-slim.tar.tmp" .
    mv "$CACHE_DIR/debian-$SUITE-slim.tar.tmp" "$CACHE_DIR/debian-$SUITE-slim.tar"
    log "cached $CACHE_DIR/debian-$SUITE.tar and debian-$SUITE-slim.tar"
}

import_one() {
    local tarball=$1 image=$2
    podman image exists "$image" && return 0
    log "podman import $tarball -> $image"
    podman import -q \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        "$tarball" "$image" >/dev/null
}

print_mirrors() {
    local mirror security
    mirror=$(pick_mirror "$SUITE") || no_mirror
    security=$(pick_mirror "$SUITE-security") || security=none
    echo "main $mirror"
    echo "security $security"
}

main() {
    case "${1:-}" in
        --mirrors) print_mirrors; return 0 ;;
        "") ;;
        *) log "unknown argument $1 (usage: base-image.sh [--mirrors])"; exit 2 ;;
    esac
    if [ "${PC_REBUILD_BASE:-0}" = 1 ]; then
        podman rmi -f "$BUILD_IMAGE" "$SLIM_IMAGE" >/dev/null 2>&1 || true
        rm -f "$CACHE_DIR/debian-$SUITE.tar" "$CACHE_DIR/debian-$SUITE-slim.tar"
    fi
    if ! have_images; then
        if [ ! -s "$CACHE_DIR/debian-$SUITE.tar" ] || [ ! -s "$CACHE_DIR/debian-$SUITE-slim.tar" ]; then
            command -v debootstrap >/dev/null || { log "debootstrap missing (apt-get install debootstrap)"; exit 1; }
            make_tarballs
        fi
        import_one "$CACHE_DIR/debian-$SUITE.tar" "$BUILD_IMAGE"
        import_one "$CACHE_DIR/debian-$SUITE-slim.tar" "$SLIM_IMAGE"
    else
        log "using cached $BUILD_IMAGE and $SLIM_IMAGE"
    fi
    echo "$BUILD_IMAGE"
    echo "$SLIM_IMAGE"
}

main "$@"
