#!/usr/bin/env bash
# Makes Perl's Mail::DKIM able to verify Ed25519 signatures (RFC 8463), for
# the integration tests that use it as an independent DKIM verifier.
#
# Mail::DKIM learnt ed25519-sha256 in 1.20230630 (through CryptX's
# Crypt::PK::Ed25519). Debian 12 ships 1.20230212, which reports such a
# signature as an unsupported algorithm. Debian 13 ships 1.20240923 as one
# architecture-independent package, so on Debian 12 this script takes just
# that package from the trixie suite of the machine's own Debian mirror:
#
#   - a trixie source entry with the mirror and keyring of the existing
#     bookworm entry;
#   - an apt preferences pin that gives trixie priority 1 (like
#     experimental), so no later install or upgrade takes anything from it
#     unless asked by name;
#   - Mail::DKIM's dependencies (CryptX among them) from bookworm first, so
#     the trixie install below finds them satisfied and moves nothing else;
#   - apt-get install -t trixie libmail-dkim-perl, refusing to go on if apt
#     plans to take anything else but architecture-independent Perl modules
#     from trixie.
#
# Idempotent: it does nothing when Mail::DKIM already verifies Ed25519, and
# rewrites its two apt files with the same content otherwise. Prints what it
# installed. Run as root (or with sudo available).
set -euo pipefail

first_ed25519=1.20230630
sources=/etc/apt/sources.list.d/dkimrelay-trixie.sources
prefs=/etc/apt/preferences.d/dkimrelay-trixie.pref

# Debian's perl, which the tests use too: a perlbrew one on PATH would not
# see Debian's modules.
perl=/usr/bin/perl
has_ed25519() {
  "$perl" -MMail::DKIM -MCrypt::PK::Ed25519 -e \
    "exit(Mail::DKIM->VERSION >= $first_ed25519 ? 0 : 1)" 2>/dev/null
}

if has_ed25519; then
  echo "Mail::DKIM $("$perl" -MMail::DKIM -e 'print Mail::DKIM->VERSION') already verifies Ed25519; nothing to do."
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_get() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }

. /etc/os-release
if [ "${VERSION_CODENAME:-}" != "bookworm" ]; then
  # Debian 13 and later ship a Mail::DKIM with Ed25519 in their own suite.
  echo "Installing libmail-dkim-perl and libcryptx-perl from ${VERSION_CODENAME:-the system suite}."
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends libmail-dkim-perl libcryptx-perl >/dev/null
  has_ed25519 || { echo "Mail::DKIM still lacks Ed25519 after installing libmail-dkim-perl; install Mail::DKIM >= $first_ed25519 by hand." >&2; exit 1; }
  exit 0
fi

# The mirror and keyring of the bookworm entry, from deb822 .sources files
# (Debian 12's default) or one-line sources.list entries.
mirror="" keyring=""
read -r mirror keyring < <(
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -e "$f" ] && [ "$f" != "$sources" ] && { cat "$f"; echo; }
    done
  } | awk '
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { if (uris != "" && suites ~ /(^| )bookworm( |$)/ && types ~ /(^| )deb( |$)/) { print uris, (key == "" ? "-" : key); exit }
                 uris = suites = types = key = ""; next }
    tolower($1) == "uris:"      { uris = $2 }
    tolower($1) == "suites:"    { $1 = ""; suites = $0 " " }
    tolower($1) == "types:"     { $1 = ""; types = $0 " " }
    tolower($1) == "signed-by:" { key = $2 }
  '
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    awk '$1 == "deb" {
      i = 2; key = "-"
      if ($2 ~ /^\[/) { while ($i !~ /\]$/) { if ($i ~ /signed-by=/) { key = $i; sub(/.*signed-by=/, "", key) } i++ }
                        if ($i ~ /signed-by=/) { key = $i; sub(/.*signed-by=/, "", key); sub(/\]$/, "", key) } i++ }
      if ($(i + 1) == "bookworm") { print $i, key; exit }
    }' "$f"
  done
) || true
if [ -z "$mirror" ]; then
  echo "Found no bookworm entry in the apt sources; add the Debian mirror for bookworm, then run this again." >&2
  exit 1
fi
[ "$keyring" != "-" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "Using the bookworm mirror $mirror for trixie's libmail-dkim-perl."

$sudo tee "$sources" >/dev/null <<EOF
# Added by dkimrelay's scripts/install-mail-dkim.sh: only libmail-dkim-perl
# is taken from here (Ed25519 support); see $prefs.
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: $keyring
EOF
$sudo tee "$prefs" >/dev/null <<EOF
# Added by dkimrelay's scripts/install-mail-dkim.sh: trixie only when asked
# for by name (apt-get install -t trixie PACKAGE), never by an upgrade.
Package: *
Pin: release n=trixie
Pin-Priority: 1
EOF

apt_get update -qq

version=$(apt-cache madison libmail-dkim-perl | awk -F' *[|] *' '$3 ~ / trixie\// { print $2; exit }')
if [ -z "$version" ]; then
  echo "The mirror $mirror offers no libmail-dkim-perl in trixie; check $sources and run apt-get update." >&2
  exit 1
fi
before=$(dpkg-query -W -f='${Package}:${Architecture} ${Version}\n' | sort)

# Mail::DKIM's dependencies that are missing come from bookworm where
# bookworm has them (CryptX brings Ed25519), so that the trixie install below
# has nothing else to do. A dependency counts as present when a package of
# that name or one providing it is installed (perl provides
# libdigest-sha-perl, for one); its version is left to the trixie plan.
provided=" $(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n' | awk '$1 == "ii" { $1 = ""; print }' |
  tr ',' ' ' | sed 's/([^)]*)//g' | tr -s ' \n' ' ') "
missing=()
for dep in $(apt-cache show "libmail-dkim-perl=$version" | awk '/^Depends:/ { sub(/^Depends: */, ""); print; exit }' |
  tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g'); do
  case "$provided" in *" $dep "* | *" $dep:"*) ;; *) missing+=("$dep") ;; esac
done

# refuse_unless_only stops unless every line of an apt simulation ("Inst NAME
# [OLD] (VERSION RELEASE [ARCH]) ...") that matches $2 is allowed by $3.
refuse_unless_only() {
  local what=$1 match=$2 allowed=$3 bad
  bad=$(printf '%s\n' "$plan" | grep -E '^Inst ' | grep -E -- "$match" | grep -Ev -- "$allowed" || true)
  if [ -n "$bad" ]; then
    echo "$what would also install or upgrade these; refusing (install Mail::DKIM >= $first_ed25519 by hand instead):" >&2
    printf '%s\n' "$bad" >&2
    exit 1
  fi
}
perl_all='^Inst lib[a-z0-9.+-]*-perl .*\[all\]\)'

if [ ${#missing[@]} -gt 0 ]; then
  plan=$(apt_get install -s --no-install-recommends "${missing[@]}")
  refuse_unless_only "Installing Mail::DKIM's dependencies" ' Debian:13[./]' "$perl_all"
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# From trixie only libmail-dkim-perl itself and, should it need newer ones
# than bookworm has, architecture-independent Perl modules.
plan=$(apt_get install -s -t trixie --no-install-recommends libmail-dkim-perl)
refuse_unless_only "Installing libmail-dkim-perl from trixie" '.' "^Inst libmail-dkim-perl |$perl_all"
apt_get install -y -qq -t trixie --no-install-recommends libmail-dkim-perl >/dev/null
after=$(dpkg-query -W -f='${Package}:${Architecture} ${Version}\n' | sort)
echo "Installed or changed (package:architecture version):"
comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed 's/^/  /'

if ! has_ed25519; then
  echo "Mail::DKIM $("$perl" -MMail::DKIM -e 'print Mail::DKIM->VERSION' 2>/dev/null) still lacks Ed25519; check apt-cache policy libmail-dkim-perl." >&2
  exit 1
fi
echo "Mail::DKIM $("$perl" -MMail::DKIM -e 'print Mail::DKIM->VERSION') verifies Ed25519."
