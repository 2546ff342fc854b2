#!/usr/bin/env bash
# bench/maddy-build.sh: builds maddy (MADDY_VERSION, 0.8.1), the Go mail
# server bench/compare.sh measures beside dkimrelay, from its Go module in
# a throwaway module outside the repository, once per machine:
#
#   bash bench/maddy-build.sh        prints the path of the binary
#
# The throwaway module lives in MADDY_CACHE (~/.cache/dkimrelay-bench/
# maddy-VERSION); the binary is MADDY_CACHE/maddy. None of it belongs in
# this repository. maddy's own go.mod pins forks of some of its
# dependencies with replace lines (go-smtp among them: without it the
# build fails on cl.StartTLS); replace lines of a dependency do not apply
# to the module that requires it, so they are copied into the throwaway
# go.mod before the build.
set -euo pipefail
MADDY_VERSION=${MADDY_VERSION:-0.8.1}
MADDY_CACHE=${MADDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dkimrelay-bench/maddy-$MADDY_VERSION}
say() { printf '== %s\n' "$*" >&2; }
if [ -x "$MADDY_CACHE/maddy" ]; then
  echo "$MADDY_CACHE/maddy"
  exit 0
fi
command -v go >/dev/null || { echo "maddy-build.sh: Go is needed to build maddy" >&2; exit 1; }
mkdir -p "$MADDY_CACHE"
cd "$MADDY_CACHE"
say "building maddy $MADDY_VERSION in $MADDY_CACHE (once per machine; a few minutes)"
if [ ! -f go.mod ]; then
  GOFLAGS=-mod=mod go mod init scratch >/dev/null 2>&1
fi
GOFLAGS=-mod=mod go get -tool "github.com/foxcpp/maddy/cmd/maddy@v$MADDY_VERSION" >/dev/null 2>&1 || true
modfile=$(go env GOMODCACHE)/cache/download/github.com/foxcpp/maddy/@v/v$MADDY_VERSION.mod
[ -f "$modfile" ] || { echo "maddy-build.sh: maddy's go.mod ($modfile) was not downloaded; see go get's errors above" >&2; exit 1; }
# maddy's replace lines, in either form (one line, or a block).
awk '
  /^replace \(/ {inblock = 1; next}
  inblock && /^\)/ {inblock = 0; next}
  inblock && NF {print "replace " $0; next}
  /^replace / {print}
' "$modfile" >replaces.txt
grep -v '^replace ' go.mod >go.mod.new || true
cat replaces.txt >>go.mod.new
mv go.mod.new go.mod
GOFLAGS=-mod=mod go mod tidy
CGO_ENABLED=${CGO_ENABLED:-1} go build -o maddy.new github.com/foxcpp/maddy/cmd/maddy
mv maddy.new maddy
echo "$MADDY_CACHE/maddy"
