#!/usr/bin/env bash
# Tests the container image without a Docker engine: runs the Dockerfile's
# build steps (scripts/container-rootfs.sh), adds what the distroless base
# brings (/etc/passwd with user 65532, /tmp), and runs the result the way
# Docker would: chrooted into that root file system as USER, with the
# Dockerfile's ENV, in a network namespace of its own where unprivileged
# users may bind low ports (as Docker sets it up). In it: the first-run
# `init` of contrib/docker-compose.mastodon.yml, ENTRYPOINT + CMD, the
# HEALTHCHECK command until healthy, one message with swaks (delivered to
# an outbox folder) checked with `dkimrelay verify`, and a health check
# that fails once the relay has stopped. Runs as root (or through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
fail() { echo "test-container: $*" >&2; exit 1; }
bash scripts/install-debs.sh swaks iproute2 procps python3

# What the Dockerfile says, read from it.
user=$(sed -n 's/^USER //p' Dockerfile)
config=$(sed -n 's/^ENV DKIMRELAY_CONFIG=//p' Dockerfile)
volume=$(sed -n 's/^VOLUME \["\(.*\)"\]$/\1/p' Dockerfile)
json_args() { python3 -c 'import json, sys; print(" ".join(json.loads(sys.argv[1])))' "$1"; }
entrypoint=$(json_args "$(sed -n 's/^ENTRYPOINT //p' Dockerfile)")
cmd=$(json_args "$(sed -n 's/^CMD //p' Dockerfile)")
healthcheck=$(json_args "$(sed -n 's/^HEALTHCHECK .* CMD //p' Dockerfile)")
[ "$user" = "65532:65532" ] && [ -n "$config" ] && [ -n "$volume" ] && [ -n "$entrypoint" ] && [ -n "$healthcheck" ] ||
  fail "cannot read USER, ENV DKIMRELAY_CONFIG, VOLUME, ENTRYPOINT or HEALTHCHECK from the Dockerfile"
# The compose file's first-run init, as the administrator pastes it.
init_args=$(sed -n 's/^#   docker compose run --rm dkimrelay \(init .*\)$/\1/p' contrib/docker-compose.mastodon.yml)
[ -n "$init_args" ] || fail "no init command in contrib/docker-compose.mastodon.yml"

work=$(mktemp -d)
ns="dkimrelay-test-$$"
relay_pid=""
cleanup() {
  if [ -n "$relay_pid" ]; then
    $sudo kill "$relay_pid" 2>/dev/null || true
    wait "$relay_pid" 2>/dev/null || true
  fi
  $sudo ip netns del "$ns" 2>/dev/null || true
  $sudo rm -rf "$work"
}
trap cleanup EXIT

echo "== the build stage: scripts/container-rootfs.sh"
rootfs=$work/rootfs
VERSION=test sh scripts/container-rootfs.sh "$rootfs"
# The base image's share, what Docker mounts in (resolv.conf naming its
# embedded DNS server, which answers nothing here), and COPY --chown of the
# volume.
mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/home/nonroot"
echo 'nameserver 127.0.0.11' >"$rootfs/etc/resolv.conf"
echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$rootfs/etc/passwd"
echo 'nonroot:x:65532:' >"$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
$sudo chown "$user" "$rootfs$volume" "$rootfs/home/nonroot"

$sudo ip netns add "$ns"
$sudo ip netns exec "$ns" ip link set lo up
$sudo ip netns exec "$ns" sysctl -q -w net.ipv4.ip_unprivileged_port_start=0
chroot=$(command -v chroot)
# in_image runs a command of the image (no shell there: the binary itself).
in_image() {
  $sudo ip netns exec "$ns" env -i "DKIMRELAY_CONFIG=$config" HOME=/home/nonroot PATH=/usr/bin \
    "$chroot" --userspec="$user" "$rootfs" "$@"
}
# No libc in the root file system: this runs only if the binary is static.
in_image /usr/bin/dkimrelay version >/dev/null || fail "the binary does not run in the image's root file system"

echo "== first run: dkimrelay $init_args"
# shellcheck disable=SC2086 # the compose file's words, split as the shell would
in_image /usr/bin/dkimrelay $init_args >/dev/null
cfgfile=$rootfs$config
[ -f "$cfgfile" ] || fail "init did not write $config"
# Deliver to a folder, and check no SPF from the CI machine.
$sudo sed -i -e 's/^mode = "mx".*/mode = "outbox"\noutbox = "outbox"/' -e 's/^spf_policy = .*/spf_policy = "off"/' "$cfgfile"
listen=$(sed -n 's/^listen = \["\(.*\)"\].*/\1/p' "$cfgfile")
port=${listen##*:}
selector=$(in_image /usr/bin/dkimrelay keys list --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["selector"])')
in_image /usr/bin/dkimrelay keys activate --domain example.org --selector "$selector" --force >"$work/activate.log" 2>&1 ||
  fail "keys activate: $(cat "$work/activate.log")"
password=$(in_image /usr/bin/dkimrelay users add mastodon --allow notifications@example.org --generate | sed -n 's/^Password (shown once): //p')
[ -n "$password" ] || fail "users add --generate printed no password"

echo "== $entrypoint $cmd, then HEALTHCHECK $healthcheck"
# exec: $! is then the relay itself (or the sudo that forwards signals to
# it), not a subshell that would leave it running when killed.
# shellcheck disable=SC2086
(exec $sudo ip netns exec "$ns" env -i "DKIMRELAY_CONFIG=$config" HOME=/home/nonroot PATH=/usr/bin \
  "$chroot" --userspec="$user" "$rootfs" $entrypoint $cmd) >"$work/serve.log" 2>&1 &
relay_pid=$!
healthy=""
for _ in $(seq 50); do
  # shellcheck disable=SC2086
  if in_image $healthcheck >/dev/null 2>&1; then
    healthy=yes
    break
  fi
  sleep 0.2
done
[ -n "$healthy" ] || fail "the health check never passed; the relay said: $(tail -5 "$work/serve.log")"

$sudo ip netns exec "$ns" swaks --server "127.0.0.1:$port" --tls --auth PLAIN --auth-user mastodon --auth-password "$password" \
  --from notifications@example.org --to alice@example.net >"$work/swaks.log" 2>&1 || fail "swaks: $(tail -5 "$work/swaks.log")"
qid=$(sed -n 's/.*queued as \([^ ]*\).*/\1/p' "$work/swaks.log" | tr -d '\r' | sed -n 1p)
[ -n "$qid" ] || fail "no QID in the answer: $(tail -5 "$work/swaks.log")"
file=$volume/outbox/$qid.eml
for _ in $(seq 50); do
  [ -f "$rootfs$file" ] && break
  sleep 0.2
done
in_image /usr/bin/dkimrelay verify --offline "$file" | grep -q "DKIM   pass    d=example.org" ||
  fail "dkimrelay verify does not pass $file"

$sudo kill "$relay_pid"
wait "$relay_pid" || true
relay_pid=""
# shellcheck disable=SC2086
if in_image $healthcheck >/dev/null 2>&1; then
  fail "the health check passes with the relay stopped"
fi
echo "test-container: the image's build steps, user, paths, health check and a message work"
