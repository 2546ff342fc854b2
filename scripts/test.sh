#!/usr/bin/env bash
# Installs what dkimrelay's tests need and runs them all. This is the
# README's test command, and .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers and independent verifiers the integration tests drive;
# postgresql: the cluster store's tests run a throwaway server (internal/pgtest);
# knot, unbound: a signed DNSSEC chain on loopback (internal/dnssectest);
# dpkg-dev, lintian, man-db: the Debian package is built, checked, installed
# and purged (scripts/test-deb.sh); iproute2, procps: the container image's
# steps run in a network namespace (scripts/test-container.sh); prometheus:
# promtool checks the alerting rules and the Grafana dashboard's queries;
# chromium, fonts-dejavu-core: the status page is tested in headless Chromium.
bash scripts/install-debs.sh openssl systemd python3-dnspython swaks python3-dkim python3-nacl \
  libmail-dkim-perl python3-spf ruby ruby-mail knot unbound dovecot-imapd \
  postgresql \
  dpkg-dev lintian man-db iproute2 procps prometheus \
  chromium fonts-dejavu-core
bash scripts/install-mail-dkim.sh # Ed25519 in Mail::DKIM: Debian 13's package on Debian 12

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted"
  exit 1
fi
echo "== go vet"
go vet ./...
echo "== staticcheck"
# Pinned, so that a new release's new checks never turn a run red by
# themselves.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
echo "== go test"
# Screenshots of the status page (desktop and phone widths) land here.
export DKIMRELAY_ARTIFACTS="${DKIMRELAY_ARTIFACTS:-$PWD/dist/artifacts}"
rm -rf "$DKIMRELAY_ARTIFACTS/statuspage"
# -p 2: this is sized for a 2-core machine.
go test -p 2 -count=1 -timeout 20m ./...
echo "== third_party/go-smtp: upstream's tests and its DATA reader against upstream's (a module of its own)"
go -C third_party/go-smtp test -count=1 ./...
echo "== status page screenshots (headless Chromium)"
find "$DKIMRELAY_ARTIFACTS/statuspage" -name '*.png' -print | sort
echo "== queue, submission, login cache, control socket and the tests' SMTP sink under the race detector"
go test -race -count=1 -timeout 10m ./relay/queue/ ./relay/submission/ ./users/ ./control/ ./internal/smtpsink/
echo "== hot-path benchmarks, once each"; go test -run '^$' -bench . -benchtime 1x ./dkim/ ./relay/queue/ ./relay/submission/
echo "== fuzzing (FUZZBUDGET seconds in all, default 100)"; bash scripts/fuzz.sh
echo "== Debian package: build, lintian, install, one message, purge"; bash scripts/test-deb.sh
echo "== container image: build steps, user, paths, health check, one message"; bash scripts/test-container.sh
