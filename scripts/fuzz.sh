#!/usr/bin/env bash
# Runs every fuzz target of the repository (each `func FuzzXxx` in a
# _test.go file, the copy of go-smtp in third_party/ included) with
# `go test -fuzz` for a short while. CI's fuzzing takes a fixed total,
# FUZZBUDGET seconds (default 100), shared evenly by the targets, so a new
# target does not lengthen the run; FUZZTIME sets each target's time
# instead. scripts/test.sh calls it, so CI fuzzes on every run; for a
# longer hunt:
#   FUZZTIME=10m bash scripts/fuzz.sh FuzzParseAddress
# Arguments, when given, restrict the run to those targets.
#
# A failure leaves the failing input in the package's
# testdata/fuzz/<Target>/ folder: commit it with the fix, and it stays a
# regression test that plain `go test` runs.
set -euo pipefail
cd "$(dirname "$0")/.."

want=" $* "
failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

targets=$(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' --exclude-dir=.git . |
  sed -E 's#^\./##; s#:func #:#' | sort)
if [ -n "${FUZZTIME:-}" ]; then
  fuzztime=$FUZZTIME
else
  count=$(wc -l <<<"$targets")
  fuzztime=$((${FUZZBUDGET:-100} / count))s
  if [ "${fuzztime%s}" -lt 5 ]; then fuzztime=5s; fi
fi

# modroot prints the folder of the go.mod that holds folder $1: a nested
# module (third_party/go-smtp) is tested from its own folder.
modroot() {
  local dir=$1
  while [ "$dir" != . ] && [ ! -f "$dir/go.mod" ]; do dir=$(dirname "$dir"); done
  echo "$dir"
}

while IFS=: read -r file target; do
  if [ $# -gt 0 ] && [[ "$want" != *" $target "* ]]; then
    continue
  fi
  dir=$(dirname "$file")
  mod=$(modroot "$dir")
  pkg=.${dir#"$mod"} # the package's path inside its module
  [ "$mod" = . ] && pkg=./$dir
  start=$SECONDS
  if go -C "$mod" test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
    echo "fuzz $target (./$dir): ok, $((SECONDS - start))s"
    continue
  fi
  # Go 1.26's fuzzing coordinator can report "context deadline exceeded"
  # when -fuzztime ends while a worker is mid-input, with no failing input
  # (golang/go#75804, fixed in Go 1.27): that is not a finding.
  if ! grep -q "Failing input written to" "$log" && tail -n 5 "$log" | grep -q "context deadline exceeded"; then
    echo "fuzz $target (./$dir): ok, $((SECONDS - start))s (ended by the Go 1.26 fuzztime race, golang/go#75804)"
    continue
  fi
  cat "$log"
  echo "fuzz $target (./$dir): FAILED"
  failed+=("$target")
done <<<"$targets"

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found failures in: ${failed[*]}; the failing inputs are in testdata/fuzz/" >&2
  exit 1
fi
