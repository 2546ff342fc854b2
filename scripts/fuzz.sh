#!/usr/bin/env bash
# Runs every fuzz target of the module (each `func FuzzXxx` in a _test.go
# file) with `go test -fuzz` for a short while: FUZZTIME each, default 10s.
# scripts/test.sh calls it, so CI fuzzes on every run; for a longer hunt:
#   FUZZTIME=10m bash scripts/fuzz.sh FuzzParseAddress
# Arguments, when given, restrict the run to those targets.
#
# A failure leaves the failing input in the package's
# testdata/fuzz/<Target>/ folder: commit it with the fix, and it stays a
# regression test that plain `go test` runs.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
want=" $* "
failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

while IFS=: read -r file target; do
  if [ $# -gt 0 ] && [[ "$want" != *" $target "* ]]; then
    continue
  fi
  pkg=./$(dirname "$file")
  start=$SECONDS
  if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
    echo "fuzz $target ($pkg): ok, $((SECONDS - start))s"
    continue
  fi
  # Go 1.26's fuzzing coordinator can report "context deadline exceeded"
  # when -fuzztime ends while a worker is mid-input, with no failing input
  # (golang/go#75804, fixed in Go 1.27): that is not a finding.
  if ! grep -q "Failing input written to" "$log" && tail -n 5 "$log" | grep -q "context deadline exceeded"; then
    echo "fuzz $target ($pkg): ok, $((SECONDS - start))s (ended by the Go 1.26 fuzztime race, golang/go#75804)"
    continue
  fi
  cat "$log"
  echo "fuzz $target ($pkg): FAILED"
  failed+=("$target")
done < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' --exclude-dir=.git . |
  sed -E 's#^\./##; s#:func #:#' | sort)

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found failures in: ${failed[*]}; the failing inputs are in testdata/fuzz/" >&2
  exit 1
fi
