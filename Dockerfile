# syntax=docker/dockerfile:1
# One image per service and one for the simulator, from one multi-stage build:
#
#   docker build --target payment      -t payment-chaos/payment-service:latest .
#   docker build --target inventory    -t payment-chaos/inventory-service:latest .
#   docker build --target notification -t payment-chaos/notification-service:latest .
#   docker build --target sim          -t payment-chaos/sim:latest .
#
# (podman build takes the same arguments; tests/container/run.sh builds all four with podman.)
# --build-arg GIT_DESCRIBE="$(git describe --always --dirty)" puts the revision into --version (the build
# context has no .git: .dockerignore leaves it out, with the host's build/ and bin/).
#
# Stages:
#   build         debian:bookworm + the -dev packages; `make` the three service binaries and bin/sim, strip
#                 their debug info, and list the Debian packages that provide the shared libraries they load
#                 (ldd -> dpkg-query), so the runtime stage installs exactly those.
#   runtime-base  debian:bookworm-slim + those libraries (libmicrohttpd12, libjansson4, libcurl4,
#                 libyaml-0-2 and their dependencies) + user 10001; no shell tools added, no apt lists.
#   payment, inventory, notification
#                 runtime-base + one binary as ENTRYPOINT, its port EXPOSEd, running as 10001.
#   sim           runtime-base + bin/sim as ENTRYPOINT and the experiment files and manifests in
#                 /usr/share/payment-chaos, running as 10001: one part of a sweep per container
#                 (k8s/sim-sweep.yaml runs it as a Kubernetes Indexed Job).
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
ARG GIT_DESCRIBE=unknown
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" GIT_DESCRIBE="$GIT_DESCRIBE" \
        bin/payment-service bin/inventory-service bin/notification-service bin/sim \
 && mkdir -p /out \
 && for s in payment inventory notification; do \
        strip --strip-debug -o "/out/$s-service" "bin/$s-service"; \
    done \
 && strip --strip-debug -o /out/sim bin/sim \
 && for b in /out/*-service /out/sim; do ldd "$b"; done \
    | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u >/tmp/libs \
 && while read -r lib; do \
        real=$(readlink -f "$lib"); \
        for p in "$lib" "/usr$lib" "${lib#/usr}" "$real" "/usr$real" "${real#/usr}"; do \
            dpkg-query -S "$p" 2>/dev/null && break; \
        done || { echo "no package owns $lib" >&2; exit 1; }; \
    done </tmp/libs >/tmp/owners \
 && cut -d: -f1 /tmp/owners | sort -u >/out/runtime-packages \
 && echo "runtime packages:" $(cat /out/runtime-packages)

FROM ${RUNTIME_IMAGE} AS runtime-base
ARG DEBIAN_FRONTEND=noninteractive
# --no-upgrade: packages the base already has (libc6, ...) stay as they are, so this layer holds only
# what the services add. The binaries are bind-mounted (not copied) to check that every library
# resolves; each service stage then copies only its own binary.
# The package list is copied (not only bind-mounted) so that the layer cache sees it: a build whose binaries need
# another library must not reuse a layer installed for the old list.
COPY --from=build /out/runtime-packages /usr/share/payment-chaos-runtime-packages
RUN --mount=type=bind,from=build,source=/out,target=/tmp/pc-out \
    apt-get update \
 && xargs -a /usr/share/payment-chaos-runtime-packages apt-get install -y --no-install-recommends --no-upgrade \
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

FROM runtime-base AS sim
COPY --from=build /out/sim /usr/local/bin/sim
COPY chaos-experiments /usr/share/payment-chaos/chaos-experiments
COPY k8s /usr/share/payment-chaos/k8s
WORKDIR /usr/share/payment-chaos
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/sim"]
