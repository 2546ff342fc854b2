#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed
# yet (as root, or through sudo), with no recommended extras. Lines in
# $DEBCONF_PRESEED (answers to package questions, debconf-set-selections
# format) are given to debconf first. Used by scripts/test.sh and
# bench/compare.sh.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing Debian packages: ${missing[*]}" >&2
if [ -n "${DEBCONF_PRESEED:-}" ]; then
  printf '%s\n' "$DEBCONF_PRESEED" | $sudo debconf-set-selections
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
