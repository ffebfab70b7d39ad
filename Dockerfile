# syntax=docker/dockerfile:1
# One image per service, and the load generator, from one multi-stage build:
#
#   docker build --target payment      -t payment-chaos/payment-service:latest .
#   docker build --target inventory    -t payment-chaos/inventory-service:latest .
#   docker build --target notification -t payment-chaos/notification-service:latest .
#   docker build --target loadgen      -t payment-chaos/loadgen:latest .
#
# (podman build takes the same arguments; tests/container/run.sh builds all four with podman.)
#
# Stages:
#   build         debian:bookworm + the -dev packages; `make` the three service binaries and bin/loadgen,
#                 strip their debug info, and list the Debian packages that provide the shared libraries
#                 they load (ldd -> dpkg-query): runtime-packages for the services, loadgen-packages for
#                 the load generator (which also loads libyaml, to read experiment files).
#   runtime-base  debian:bookworm-slim + the services' libraries (libmicrohttpd12, libjansson4, libcurl4
#                 and their dependencies) + user 10001; no shell tools added, no apt lists.
#   payment, inventory, notification
#                 runtime-base + one binary as ENTRYPOINT, its port EXPOSEd, running as 10001.
#   loadgen       runtime-base + the load generator's extra libraries + bin/loadgen and its Job
#                 entrypoint lab/loadgen-job.sh (k8s/loadgen-job.yaml runs it; `tests/chaos.sh confirm`
#                 drives it), running as 10001.
#
# BUILD_IMAGE / RUNTIME_IMAGE select the base images. They default to the official Debian images; on a
# machine without registry access tests/container/base-image.sh makes local ones with debootstrap and
# run.sh passes them as --build-arg (podman's --from would only replace the first FROM).
ARG BUILD_IMAGE=debian:bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
# check/libsubunit-dev: the Makefile asks pkg-config for all its packages at once, tests included.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential pkg-config \
        libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libyaml-dev \
        check libsubunit-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# packages BINARY...: the Debian packages that own the shared libraries the binaries load, one per line.
RUN make -j"$(nproc)" bin/payment-service bin/inventory-service bin/notification-service bin/loadgen \
 && mkdir -p /out \
 && for b in payment-service inventory-service notification-service loadgen; do \
        strip --strip-debug -o "/out/$b" "bin/$b"; \
    done \
 && packages() { \
        for b in "$@"; do ldd "$b"; done \
        | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u >/tmp/libs \
     && while read -r lib; do \
            real=$(readlink -f "$lib"); \
            for p in "$lib" "/usr$lib" "${lib#/usr}" "$real" "/usr$real" "${real#/usr}"; do \
                dpkg-query -S "$p" 2>/dev/null && break; \
            done || { echo "no package owns $lib" >&2; return 1; }; \
        done </tmp/libs >/tmp/owners \
     && cut -d: -f1 /tmp/owners | sort -u; \
    } \
 && packages /out/*-service >/out/runtime-packages \
 && packages /out/loadgen >/out/loadgen-packages \
 && echo "runtime packages:" $(cat /out/runtime-packages) \
 && echo "loadgen packages:" $(cat /out/loadgen-packages)

FROM ${RUNTIME_IMAGE} AS runtime-base
ARG DEBIAN_FRONTEND=noninteractive
# --no-upgrade: packages the base already has (libc6, ...) stay as they are, so this layer holds only
# what the services add. The binaries are bind-mounted (not copied) to check that every library
# resolves; each service stage then copies only its own binary.
RUN --mount=type=bind,from=build,source=/out,target=/tmp/pc-out \
    apt-get update \
 && xargs -a /tmp/pc-out/runtime-packages apt-get install -y --no-install-recommends --no-upgrade \
 && for b in /tmp/pc-out/*-service; do \
        if ldd "$b" | grep 'not found'; then echo "$b: missing libraries" >&2; exit 1; fi; \
    done \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
           /var/log/apt /var/log/dpkg.log /var/log/alternatives.log \
 && echo 'app:x:10001:10001:payment-chaos:/nonexistent:/usr/sbin/nologin' >>/etc/passwd \
 && echo 'app:x:10001:' >>/etc/group \
 && mkdir -p /data \
 && chown 10001:10001 /data

FROM runtime-base AS payment
COPY --from=build /out/payment-service /usr/local/bin/payment-service
USER 10001:10001
EXPOSE 5002
ENTRYPOINT ["/usr/local/bin/payment-service"]

FROM runtime-base AS inventory
COPY --from=build /out/inventory-service /usr/local/bin/inventory-service
USER 10001:10001
EXPOSE 5003
ENTRYPOINT ["/usr/local/bin/inventory-service"]

FROM runtime-base AS notification
COPY --from=build /out/notification-service /usr/local/bin/notification-service
USER 10001:10001
EXPOSE 5004
ENTRYPOINT ["/usr/local/bin/notification-service"]

# The load generator: its extra libraries (--no-upgrade: what runtime-base has stays), checked like the
# services' in runtime-base; the Job's entrypoint reads the options from the ConfigMap (lab/loadgen-job.sh).
FROM runtime-base AS loadgen
ARG DEBIAN_FRONTEND=noninteractive
USER root
RUN --mount=type=bind,from=build,source=/out,target=/tmp/pc-out \
    apt-get update \
 && xargs -a /tmp/pc-out/loadgen-packages apt-get install -y --no-install-recommends --no-upgrade \
 && if ldd /tmp/pc-out/loadgen | grep 'not found'; then echo "loadgen: missing libraries" >&2; exit 1; fi \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
           /var/log/apt /var/log/dpkg.log /var/log/alternatives.log
COPY --from=build /out/loadgen /usr/local/bin/loadgen
COPY lab/loadgen-job.sh /usr/local/bin/loadgen-job
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/loadgen-job"]
