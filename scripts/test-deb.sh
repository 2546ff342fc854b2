#!/usr/bin/env bash
# Tests the Debian package on this machine, as root (or through sudo): builds
# it, checks it with lintian, installs it with apt, runs `dkimrelay init` and
# one message through the installed binary (as the package's dkimrelay user,
# delivered to an outbox folder and checked with `dkimrelay verify`), then
# purges it and checks that nothing is left but the dkimrelay system user,
# which Debian policy keeps. It never starts the systemd service, and stops
# the relay it starts whatever happens. It refuses to run where dkimrelay is
# installed or /var/lib/dkimrelay exists: purging would destroy them.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
as_relay() { $sudo setpriv --reuid=dkimrelay --regid=dkimrelay --init-groups env HOME=/var/lib/dkimrelay "$@"; }
fail() { echo "test-deb: $*" >&2; exit 1; }

if dpkg-query -W -f='${Status}' dkimrelay 2>/dev/null | grep -qv "not-installed"; then
  fail "dkimrelay is installed on this machine; this test purges it: run it on a CI machine"
fi
for p in /var/lib/dkimrelay /etc/dkimrelay; do
  [ ! -e "$p" ] || fail "$p exists; this test would delete it: run it on a CI machine"
done

bash scripts/install-debs.sh dpkg-dev lintian swaks python3 systemd man-db
echo "== build-deb"
deb=$(bash scripts/build-deb.sh)
echo "== lintian $deb"
lintian --fail-on error "$deb" || fail "lintian reports errors in $deb"

relay_pid=""
cleanup() {
  if [ -n "$relay_pid" ]; then
    $sudo kill "$relay_pid" 2>/dev/null || true
    wait "$relay_pid" 2>/dev/null || true
  fi
  if dpkg-query -W -f='${Status}' dkimrelay 2>/dev/null | grep -qv "not-installed"; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get purge -y -qq dkimrelay >/dev/null || true
  fi
}
trap cleanup EXIT

echo "== apt-get install ./$deb"
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "./$deb" >/dev/null
for f in /usr/bin/dkimrelay /lib/systemd/system/dkimrelay.service /usr/lib/sysusers.d/dkimrelay.conf \
  /etc/dkimrelay/dkimrelay.toml /etc/logrotate.d/dkimrelay /usr/share/bash-completion/completions/dkimrelay; do
  [ -f "$f" ] || fail "the package did not install $f"
done
getent passwd dkimrelay >/dev/null || fail "no dkimrelay user after install"
[ "$(stat -c '%U %a' /var/lib/dkimrelay)" = "dkimrelay 700" ] || fail "/var/lib/dkimrelay is $(stat -c '%U %a' /var/lib/dkimrelay), want dkimrelay 700"
conffiles=$(dpkg-query -W -f='${Conffiles}' dkimrelay)
for f in /etc/dkimrelay/dkimrelay.toml /etc/logrotate.d/dkimrelay; do
  grep -q " $f " <<<"$conffiles" || fail "$f is not a conffile"
done
live=$(grep -v '^#' /etc/dkimrelay/dkimrelay.toml | grep -v '^[[:space:]]*$' || true)
[ -z "$live" ] || fail "/etc/dkimrelay/dkimrelay.toml has live settings: $live"
man -w dkimrelay >/dev/null || fail "man dkimrelay finds no page"
systemd-analyze verify /lib/systemd/system/dkimrelay.service || fail "systemd-analyze verify rejects the unit"
version=$(dpkg-deb -f "$deb" Version)
[[ $(dkimrelay version) == "dkimrelay $version"$'\n'* ]] || fail "dkimrelay version says $(dkimrelay version), want $version"

echo "== init, one message, verify"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cfg=/var/lib/dkimrelay/dkimrelay.toml
export DKIMRELAY_CONFIG=$cfg
as_relay dkimrelay init --domain example.org --dir /var/lib/dkimrelay --listen "127.0.0.1:$port" --algorithm ed25519 >/dev/null
# Delivered to a folder, not the Internet; no SPF lookup of the test
# domain from the CI machine.
as_relay sed -i -e 's/^mode = "mx".*/mode = "outbox"\noutbox = "outbox"/' -e 's/^spf_policy = .*/spf_policy = "off"/' "$cfg"
selector=$(as_relay dkimrelay keys list --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["selector"])')
as_relay dkimrelay keys activate --domain example.org --selector "$selector" --force >/dev/null
password=$(as_relay dkimrelay users add mastodon --allow notifications@example.org --generate | sed -n 's/^Password (shown once): //p')
[ -n "$password" ] || fail "users add --generate printed no password"

log=$(mktemp)
$sudo setpriv --reuid=dkimrelay --regid=dkimrelay --init-groups env HOME=/var/lib/dkimrelay DKIMRELAY_CONFIG=$cfg dkimrelay serve >"$log" 2>&1 &
relay_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
swaks --server "127.0.0.1:$port" --tls --auth PLAIN --auth-user mastodon --auth-password "$password" \
  --from notifications@example.org --to alice@example.net --header "Subject: from the installed package" >"$log.swaks" 2>&1 ||
  fail "swaks failed: $(tail -5 "$log.swaks")"
qid=$(sed -n 's/.*queued as \([^ ]*\).*/\1/p' "$log.swaks" | tr -d '\r' | sed -n 1p)
[ -n "$qid" ] || fail "no QID in the relay's answer: $(tail -5 "$log.swaks")"
file=/var/lib/dkimrelay/outbox/$qid.eml
for _ in $(seq 100); do
  $sudo test -f "$file" && break
  sleep 0.1
done
$sudo test -f "$file" || fail "$file was not written; the relay said: $(tail -5 "$log")"
as_relay dkimrelay verify --offline "$file" | tee "$log.verify"
grep -q "DKIM   pass    d=example.org s=$selector" "$log.verify" || fail "verify did not pass the delivered message"
$sudo kill "$relay_pid"
wait "$relay_pid" || true
relay_pid=""
pgrep -u dkimrelay >/dev/null && fail "processes of the dkimrelay user still run: $(pgrep -a -u dkimrelay)"
rm -f "$log" "$log.swaks" "$log.verify"

echo "== purge"
DEBIAN_FRONTEND=noninteractive $sudo apt-get purge -y -qq dkimrelay >/dev/null
if dpkg-query -W -f='${Status}' dkimrelay 2>/dev/null | grep -qv "not-installed"; then
  fail "dpkg still knows dkimrelay after purge: $(dpkg-query -W -f='${Status}' dkimrelay)"
fi
for p in /usr/bin/dkimrelay /etc/dkimrelay /var/lib/dkimrelay /lib/systemd/system/dkimrelay.service \
  /usr/lib/sysusers.d/dkimrelay.conf /etc/logrotate.d/dkimrelay /usr/share/doc/dkimrelay \
  /usr/share/man/man8/dkimrelay.8.gz /usr/share/bash-completion/completions/dkimrelay \
  /usr/share/lintian/overrides/dkimrelay /etc/systemd/system/multi-user.target.wants/dkimrelay.service; do
  [ ! -e "$p" ] || fail "$p is left after purge"
done
# Debian policy (9.2.2) keeps a package's system user after purge.
getent passwd dkimrelay >/dev/null || fail "the dkimrelay user was removed; policy keeps it"
echo "test-deb: the package installs, runs one message, and purges cleanly"
