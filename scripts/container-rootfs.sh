#!/bin/sh
# Lays out the container image's own files under ROOTFS: the static binary
# as /usr/bin/dkimrelay and the data volume /var/lib/dkimrelay (mode 0700;
# the Dockerfile gives it to the image's non-root user 65532). The
# Dockerfile's build stage runs exactly this, and so does
# scripts/test-container.sh, which has no Docker engine: one set of build
# steps for both. VERSION names the build (default: git describe, else dev).
#
#   sh scripts/container-rootfs.sh ROOTFS
set -eu
rootfs=${1:?usage: container-rootfs.sh ROOTFS}
version=${VERSION:-$(git describe --tags --always 2>/dev/null || echo dev)}
mkdir -p "$rootfs/usr/bin" "$rootfs/var/lib/dkimrelay"
# No cgo: the binary needs no libc, which distroless/static and scratch lack.
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$rootfs/usr/bin/dkimrelay" ./cmd/dkimrelay
chmod 0755 "$rootfs/usr/bin/dkimrelay"
chmod 0700 "$rootfs/var/lib/dkimrelay"
