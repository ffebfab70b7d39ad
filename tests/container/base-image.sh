#!/usr/bin/env bash
# Makes sure the two local Debian base images that the Dockerfile builds FROM exist:
#
#   localhost/payment-chaos/debian:bookworm        debootstrap --variant=minbase bookworm (build stage)
#   localhost/payment-chaos/debian:bookworm-slim   the same tree with docs/man/locales removed and the
#                                                  dpkg path excludes of Docker's official -slim images
#                                                  (runtime stages)
#
# No registry is reachable here, so the images come from Debian's own mirror through debootstrap
# (the mirror is read from apt's configured sources, /etc/apt/sources.list*). The rootfs tarballs are
# cached in $PC_CACHE_DIR (default /var/cache/payment-chaos) and the images stay in podman's store, so
# this runs debootstrap once per machine. Existing images are never touched; PC_REBUILD_BASE=1 forces
# a fresh debootstrap.
#
# Prints the two image names on stdout (build first), everything else on stderr. Needs root.
set -euo pipefail

CACHE_DIR=${PC_CACHE_DIR:-/var/cache/payment-chaos}
BUILD_IMAGE=${PC_BASE_BUILD_IMAGE:-localhost/payment-chaos/debian:bookworm}
SLIM_IMAGE=${PC_BASE_SLIM_IMAGE:-localhost/payment-chaos/debian:bookworm-slim}
SUITE=bookworm
DEBOOTSTRAP_TIMEOUT=${PC_DEBOOTSTRAP_TIMEOUT:-1200}

ROOT_TMP=
cleanup() { if [ -n "$ROOT_TMP" ]; then rm -rf "$ROOT_TMP" "$ROOT_TMP.log"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'base-image: %s\n' "$*" >&2; }

have_images() {
    podman image exists "$BUILD_IMAGE" && podman image exists "$SLIM_IMAGE"
}

# First URI of apt's configured sources that serves the main archive (not -security), and the
# security archive; one-line (sources.list) and deb822 (*.sources) formats.
apt_uris() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
    done
}

pick_mirror() {
    local want=$1 u
    while read -r u; do
        u=${u%/}
        case "$want:$u" in
            main:*/debian-security) ;;
            main:*/debian) echo "$u"; return 0 ;;
            security:*/debian-security) echo "$u"; return 0 ;;
        esac
    done < <(apt_uris)
    return 1
}

make_tarballs() {
    local mirror security root
    mirror=$(pick_mirror main || echo http://deb.debian.org/debian)
    security=$(pick_mirror security || echo http://deb.debian.org/debian-security)
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
    # The same sources the host uses: main + updates + security, so images get security fixes.
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
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

main() {
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
