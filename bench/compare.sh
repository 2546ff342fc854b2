#!/usr/bin/env bash
# bench/compare.sh: dkimrelay against the Postfix + OpenDKIM setup it
# replaces and against maddy, the closest Go peer, on this machine, in one
# command:
#
#   bash bench/compare.sh
#
# It installs Postfix, OpenDKIM and Cyrus SASL from Debian (as root, or
# through sudo), builds dkimrelay and the bench tools, builds maddy 0.8.1
# once per machine outside the repository (bench/maddy-build.sh, cached in
# ~/.cache/dkimrelay-bench), and sets up, all in one temporary folder and on
# loopback only:
#
#   - a throwaway Postfix instance (its own config and queue folders, run
#     with `postfix -c`; the system's /etc/postfix is never touched), with
#     two submission listeners offering STARTTLS (self-signed certificate)
#     and SASL AUTH PLAIN from a sasldb user: one passes every message to
#     OpenDKIM as a milter over a Unix socket (RSA-2048, relaxed/relaxed),
#     the other has no milter; smtp_tls_security_level = may;
#   - dkimrelay with an RSA-2048 and an Ed25519 key, fsync before every 250,
#     smarthost_tls = "opportunistic" (STARTTLS when the sink offers it);
#   - maddy (bench/maddy.sh): STARTTLS + AUTH PLAIN from a pass_table, DKIM
#     RSA-2048 relaxed/relaxed, its file queue, target.smtp to the sink; one
#     instance per sink mode, since maddy either requires STARTTLS or never
#     starts it;
#   - relaysink, the MX all of them relay to. It verifies every signature.
#
# The sink runs in each mode of SINK_MODES: starttls (it offers STARTTLS with
# a certificate made here, which maddy is told to trust) and plain (it
# offers none: no relay pays a TLS handshake per message, as to a
# destination without TLS).
#
# Then it runs relaybench against the relays in alternation (A B C D A B C
# D ..., ROUNDS rounds): in the first sink mode at each concurrency in
# CONCURRENCY with 4 KB messages, in the other modes at
# OTHER_CONCURRENCY; each client reuses its connection, sending the next
# MAIL FROM right after the last message's 250 (relaybench -rset=false:
# maddy forgets the login at the EHLO go-smtp's client sends before RSET).
# In the first sink mode, once more per round at c=8 with 4 KB messages and
# a new connection, STARTTLS and AUTH for every message (relaybench
# -reconnect: what Mastodon's mail gem does, and where dkimrelay's argon2id
# logins and its auth_cache_ttl show); and once more at c=8 with 100 KB
# messages. It measures delivered msgs/s, latency, the CPU of all of each
# relay's processes and their peak RSS (bench/procmon). After each round,
# bench/signfloor measures the CPU of one DKIM signature of the bench's
# 4 KB message with the dkim package (RSA-2048, Ed25519, both), the floor
# of dkimrelay's CPU per message, and `openssl speed` the RSA-2048 signature
# for context.
#
# Then, with FEATURES=1, dkimrelay delivering by MX lookups (to the sink,
# through bench/benchdns, a DNS server on loopback whose answers carry the
# AD bit and that has no TLSA or MTA-STS records) with the delivery
# features on (MTA-STS, DANE, duplicate detection, suppression, provider
# pacing, as by default) against the same relay with them off, in
# alternation (FEATURE_ROUNDS rounds of FEATURE_MESSAGES at c=8, 4 KB).
# With MEMORY=1, 64 connections each send one 10 MB message to dkimrelay:
# its peak RSS. Then bench/report writes bench/results/results.json,
# bench/results/chart.svg and BENCHMARKS.md. Last, bench/cluster.sh
# measures two relays sharing one PostgreSQL beside one relay on its files
# (bench/results/cluster.txt). A run's raw files are named
# RELAY_MODE_cC_sSIZE_rROUND, with _reconnect after the round for
# -reconnect; the features runs' relays are features-on and features-off;
# the floor's are floor_rROUND.json.
#
# Everything it starts is stopped when it ends, however it ends. Knobs
# (environment): ROUNDS (3), CONCURRENCY ("1 8 32"), SINK_MODES
# ("starttls plain"), OTHER_CONCURRENCY ("8"), MADDY (1: measure maddy; 0:
# skip it), RECONNECT (1: the runs with a new connection per message; 0:
# skip them), RECONNECT_MESSAGES (1000, per such run), BIG (1: the 100 KB
# runs; 0: skip them), MESSAGES_SCALE (100: percent of the default
# messages per run, for short trial runs), FLOOR_SECONDS (2, per key set),
# FEATURES (1), FEATURE_ROUNDS (2), FEATURE_MESSAGES (2000),
# FEATURES_CALLGRIND (1 when valgrind is installed: instructions per message
# of both, under callgrind), FEATURE_CG_MESSAGES (200), MEMORY (1),
# PORT_BASE (10500), KEEP (1: keep the temporary folder for a look at the
# logs), CLUSTER (1: the cluster run; 0: skip it).
#
# BASELINE=COMMIT compares dkimrelay at that commit with dkimrelay at HEAD
# instead, alone and in alternation: bench/baseline.sh, which takes over.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${BASELINE:-}" ] && exec bash bench/baseline.sh
repo=$(pwd)

ROUNDS=${ROUNDS:-3}
CONCURRENCY=${CONCURRENCY:-"1 8 32"}
SINK_MODES=${SINK_MODES:-"starttls plain"}
OTHER_CONCURRENCY=${OTHER_CONCURRENCY:-"8"}
MADDY=${MADDY:-1}
BIG=${BIG:-1}
RECONNECT=${RECONNECT:-1}
MESSAGES_SCALE=${MESSAGES_SCALE:-100}
# A few seconds per run even for Postfix + OpenDKIM, which does about 100
# msgs/s here reusing connections and less with a handshake per message.
RECONNECT_MESSAGES=${RECONNECT_MESSAGES:-1000}
FLOOR_SECONDS=${FLOOR_SECONDS:-2}
FEATURES=${FEATURES:-1}
FEATURE_ROUNDS=${FEATURE_ROUNDS:-2}
FEATURE_MESSAGES=${FEATURE_MESSAGES:-2000}
FEATURE_CG_MESSAGES=${FEATURE_CG_MESSAGES:-200}
if command -v valgrind >/dev/null; then FEATURES_CALLGRIND=${FEATURES_CALLGRIND:-1}; else FEATURES_CALLGRIND=${FEATURES_CALLGRIND:-0}; fi
MEMORY=${MEMORY:-1}
PORT_BASE=${PORT_BASE:-10500}
KEEP=${KEEP:-0}
SMALL=4096
LARGE=102400
HUGE=10485760
# Messages per run, by concurrency: enough for a few seconds of steady
# state at each, and a whole run of the script (four relays, two sink
# modes) within about 35 minutes on 2 cores.
declare -A MESSAGES=([1]=500 [8]=2000 [32]=3000)
BIG_MESSAGES=1000
scaled() { # N: N scaled by MESSAGES_SCALE percent, at least 20
  local n=$(($1 * MESSAGES_SCALE / 100))
  [ "$n" -ge 20 ] && echo "$n" || echo 20
}

PF_DKIM_PORT=$((PORT_BASE + 87))   # Postfix submission with the OpenDKIM milter
PF_PLAIN_PORT=$((PORT_BASE + 88))  # Postfix submission, no milter
RELAY_PORT=$((PORT_BASE + 89))     # dkimrelay submission
MADDY_TLS_PORT=$((PORT_BASE + 90)) # maddy submission, for the sink with STARTTLS
MADDY_PLAIN_PORT=$((PORT_BASE + 91)) # maddy submission, for the sink without
FEAT_ON_PORT=$((PORT_BASE + 92))   # dkimrelay by MX, features on
FEAT_OFF_PORT=$((PORT_BASE + 93))  # dkimrelay by MX, features off
DNS_PORT=$((PORT_BASE + 53))       # bench/benchdns, for the MX runs
SINK_PORT=$((PORT_BASE + 25))      # relaysink, the MX of all of them
DOMAIN=bench.test

BENCH=compare.sh
. bench/lib.sh
case $ROUNDS in
  '' | *[!0-9]* | 0) die "ROUNDS must be a whole number of at least 1" ;;
esac
case $RECONNECT in
  0 | 1) ;;
  *) die "RECONNECT must be 1 (measure a new connection per message) or 0 (skip it)" ;;
esac
for v in RECONNECT_MESSAGES MESSAGES_SCALE FLOOR_SECONDS FEATURE_ROUNDS FEATURE_MESSAGES FEATURE_CG_MESSAGES; do
  case ${!v} in '' | *[!0-9]* | 0) die "$v must be a whole number of at least 1" ;; esac
done
for v in MADDY BIG FEATURES FEATURES_CALLGRIND MEMORY; do
  case ${!v} in 0 | 1) ;; *) die "$v must be 1 (measure it) or 0 (skip it)" ;; esac
done
for m in $SINK_MODES; do
  case $m in starttls | plain) ;; *) die "SINK_MODES takes starttls and plain, not $m" ;; esac
done
[ -n "$SINK_MODES" ] || die "SINK_MODES must name at least one of starttls and plain"
FIRST_MODE=${SINK_MODES%% *}
RELAYS="postfix-opendkim postfix dkimrelay"
[ "$MADDY" = 1 ] && RELAYS="$RELAYS maddy"

# --- packages ---------------------------------------------------------
# "No configuration": the package must not set up or start a system
# Postfix; this script runs its own instance.
DEBCONF_PRESEED="postfix postfix/main_mailer_type select No configuration" \
  bash scripts/install-debs.sh postfix opendkim opendkim-tools sasl2-bin libsasl2-modules
[ "$(id -u)" -eq 0 ] || die "run as root (Postfix's master and OpenDKIM need it to drop to their own users): sudo bash bench/compare.sh"
command -v go >/dev/null || die "Go is needed to build dkimrelay: install Go 1.26 or later"

# --- one temporary folder for everything ------------------------------
# The queues live here, on the disk /tmp is on: fsync must cost what it
# costs in production.
WORK=$(mktemp -d /tmp/dkimrelay-bench.XXXXXX)
chmod 755 "$WORK"
# OpenDKIM refuses a configuration or key under a folder others may write
# to, such as /tmp; it writes no mail, so /run does.
ODWORK=$(mktemp -d /run/dkimrelay-bench.XXXXXX)
chmod 755 "$ODWORK"
pids=()
cleanup() {
  local rc=$?
  set +e
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  [ -n "${PF_MASTER:-}" ] && postfix -c "$WORK/postfix/etc" stop >/dev/null 2>&1
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  # Postfix's master may take a moment to take its children down.
  if [ -n "${PF_MASTER:-}" ]; then
    for _ in $(seq 50); do kill -0 "$PF_MASTER" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ "$KEEP" = 1 ]; then
    echo "kept $WORK and $ODWORK" >&2
  else
    rm -rf "$WORK" "$ODWORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ------------------------------------------------------------
say "building dkimrelay and the bench tools"
build_bench ./bench/report ./bench/signfloor ./bench/benchdns
if [ "$MADDY" = 1 ]; then
  MADDY_BIN=$(bash bench/maddy-build.sh) || die "maddy did not build (above); MADDY=0 skips it"
fi
"$BIN/relaybench" -print-message -from "notifications@$DOMAIN" -to bench@example.net -size "$SMALL" >"$WORK/message.eml"

# --- the sink's certificate: maddy verifies it (valid for 127.0.0.1) ------
SINK_CERT=$WORK/sink/cert.pem
mkdir -p "$WORK/sink"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=relaysink.test" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:relaysink.test" \
  -keyout "$WORK/sink/key.pem" -out "$SINK_CERT" 2>/dev/null

# --- a self-signed certificate for Postfix's submission ----------------
mkdir -p "$WORK/postfix/etc/sasl" "$WORK/postfix/queue" "$WORK/postfix/data"
chown postfix:postfix "$WORK/postfix/data"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=postfix.$DOMAIN" \
  -keyout "$WORK/postfix/etc/key.pem" -out "$WORK/postfix/etc/cert.pem" 2>/dev/null
chmod 600 "$WORK/postfix/etc/key.pem"

# --- OpenDKIM: RSA-2048, relaxed/relaxed, on a Unix socket --------------
# Over TCP, Nagle and delayed ACKs add 40-88 ms a message.
OD=$ODWORK/opendkim
mkdir -p "$OD"
opendkim-genkey -b 2048 -d "$DOMAIN" -s pf -D "$OD"
chown -R opendkim:opendkim "$OD"
chmod 700 "$OD"
chmod 600 "$OD/pf.private"
# The socket's folder: Postfix's smtpd (user postfix) must reach it.
MILTER=$ODWORK/milter
mkdir -p "$MILTER"
chown opendkim:postfix "$MILTER"
chmod 750 "$MILTER"
cat >"$OD/opendkim.conf" <<EOF
Syslog                  no
UserID                  opendkim:postfix
UMask                   007
Socket                  local:$MILTER/opendkim.sock
PidFile                 $OD/opendkim.pid
Mode                    s
Canonicalization        relaxed/relaxed
SignatureAlgorithm      rsa-sha256
Domain                  $DOMAIN
Selector                pf
KeyFile                 $OD/pf.private
InternalHosts           127.0.0.1
OversignHeaders         From
EOF

# --- Postfix, a throwaway instance ---------------------------------------
PF=$WORK/postfix
# Cyrus SASL with the sasldb auxprop plugin (sasl2-bin's saslpasswd2).
printf '%s' "$PASSWORD" | saslpasswd2 -f "$PF/sasldb2" -c -p -u "$DOMAIN" bench
chown postfix:postfix "$PF/sasldb2"
chmod 600 "$PF/sasldb2"
# Debian's Postfix reads CONFIG_DIRECTORY/sasl/smtpd.conf.
cat >"$PF/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $PF/sasldb2
EOF
cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.$DOMAIN
mydomain = $DOMAIN
myorigin = $DOMAIN
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
alias_maps =
alias_database =
biff = no
# Everything goes to the sink: over STARTTLS when it offers it (unverified,
# as dkimrelay's opportunistic smarthost), in plaintext when it does not.
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = may
smtp_tls_loglevel = 0
# Submission: STARTTLS, AUTH only after it, relaying for logins only.
smtpd_tls_cert_file = $PF/etc/cert.pem
smtpd_tls_key_file = $PF/etc/key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $PF/etc/sasl
smtpd_sasl_local_domain = $DOMAIN
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
milter_default_action = tempfail
milter_protocol = 6
EOF
# Debian's master.cf with chroot off (the instance's files live in $WORK)
# and the two submission listeners.
cat >"$PF/etc/master.cf" <<EOF
127.0.0.1:$PF_DKIM_PORT inet n - n - - smtpd
  -o smtpd_milters=unix:$MILTER/opendkim.sock
127.0.0.1:$PF_PLAIN_PORT inet n - n - - smtpd
  -o smtpd_milters=
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
tlsmgr     unix  -       -       n       1000?   1       tlsmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
EOF

# --- dkimrelay -----------------------------------------------------------
DR=$WORK/dkimrelay
"$BIN/dkimrelay" init --domain "$DOMAIN" --dir "$DR" --listen "127.0.0.1:$RELAY_PORT" >/dev/null
relay_config "$DR/dkimrelay.toml" "dkimrelay.$DOMAIN" "$RELAY_PORT" 'smarthost_tls = "opportunistic"'
dr() { "$BIN/dkimrelay" --config "$DR/dkimrelay.toml" "$@"; }
dr keys generate --domain "$DOMAIN" --algorithm ed25519 >/dev/null
for sel in $(dr keys list --json | grep -o '"selector": *"[^"]*"' | cut -d'"' -f4); do
  dr keys activate --domain "$DOMAIN" --selector "$sel" --force >/dev/null
done
printf '%s\n' "$PASSWORD" | dr users add bench --allow "@$DOMAIN" >/dev/null

# --- maddy, one instance per sink mode -----------------------------------
if [ "$MADDY" = 1 ]; then
  MADDY=$MADDY_BIN
  . bench/maddy.sh
  for m in $SINK_MODES; do
    port=$MADDY_TLS_PORT
    [ "$m" = plain ] && port=$MADDY_PLAIN_PORT
    maddy_setup "$WORK/maddy-$m" "$port" "$m"
  done
  MADDY=1
fi

# The sink verifies against every relay's published keys.
{
  cat "$OD/pf.txt"
  dr keys dns --domain "$DOMAIN"
  for m in $SINK_MODES; do [ -f "$WORK/maddy-$m/records.zone" ] && cat "$WORK/maddy-$m/records.zone"; done
} >"$WORK/records.zone"

# --- start the relays ------------------------------------------------------
say "starting OpenDKIM, Postfix, dkimrelay and maddy on 127.0.0.1"
opendkim -f -x "$OD/opendkim.conf" >"$WORK/opendkim.log" 2>&1 &
OD_PID=$!
pids+=("$OD_PID")
for _ in $(seq 100); do [ -S "$MILTER/opendkim.sock" ] && break; sleep 0.1; done
[ -S "$MILTER/opendkim.sock" ] || die "OpenDKIM did not start: $(cat "$WORK/opendkim.log")"
# The postfix command reports to the terminal only (else to syslog), so it
# is given one: script(1) comes with every Debian.
pf() { script -qec "postfix -c $PF/etc $*" /dev/null; }
pf check || die "Postfix refused its configuration (above)"
pf start >/dev/null || die "Postfix did not start: $(tail -5 "$PF/maillog" 2>/dev/null)"
PF_MASTER=$(tr -d ' \n' <"$PF/queue/pid/master.pid")
"$BIN/dkimrelay" --config "$DR/dkimrelay.toml" serve >"$WORK/dkimrelay.out" 2>&1 &
DR_PID=$!
pids+=("$DR_PID")
declare -A MADDY_PIDS=()
if [ "$MADDY" = 1 ]; then
  for m in $SINK_MODES; do
    MADDY=$MADDY_BIN maddy_start "$WORK/maddy-$m"
    MADDY_PIDS[$m]=$MADDY_PID
    pids+=("$MADDY_PID")
  done
fi
wait_port "$PF_DKIM_PORT"
wait_port "$PF_PLAIN_PORT"
wait_port "$RELAY_PORT"
for m in "${!MADDY_PIDS[@]}"; do
  if [ "$m" = plain ]; then wait_port "$MADDY_PLAIN_PORT"; else wait_port "$MADDY_TLS_PORT"; fi
done

# --- one run ---------------------------------------------------------------
RAW=$WORK/raw
mkdir -p "$RAW"
relay_port() { # RELAY MODE
  case $1 in
    postfix-opendkim) echo "$PF_DKIM_PORT" ;;
    postfix) echo "$PF_PLAIN_PORT" ;;
    dkimrelay) echo "$RELAY_PORT" ;;
    maddy) if [ "$2" = plain ]; then echo "$MADDY_PLAIN_PORT"; else echo "$MADDY_TLS_PORT"; fi ;;
    features-on) echo "$FEAT_ON_PORT" ;;
    features-off) echo "$FEAT_OFF_PORT" ;;
  esac
}
relay_pids() { # RELAY MODE: every process tree that does the relay's work
  case $1 in
    postfix-opendkim) echo "$PF_MASTER,$OD_PID" ;;
    postfix) echo "$PF_MASTER" ;;
    dkimrelay) echo "$DR_PID" ;;
    maddy) echo "${MADDY_PIDS[$2]}" ;;
    features-on | features-off) echo "${FEAT_PID[$1]}" ;;
  esac
}

# run RELAY MODE C SIZE N OUTBASE [RELAYBENCH_FLAG...]: a sink in the
# mode (starttls or plain), the monitor, the load (with the extra
# relaybench flags, such as -reconnect); then wait for the sink to have
# every message.
run_one() {
  local relay=$1 mode=$2 c=$3 size=$4 n=$5 out=$6 unsigned=() tls=()
  shift 6
  local extra=("$@")
  [ "$relay" = postfix ] && unsigned=(-allow-unsigned)
  [ "$mode" = starttls ] && tls=(-tls -cert "$SINK_CERT" -key "$WORK/sink/key.pem")
  "$BIN/relaysink" -listen "127.0.0.1:$SINK_PORT" -records "$WORK/records.zone" "${tls[@]}" -n "$n" \
    -timeout 300s -out "$out.sink.json" "${unsigned[@]}" 2>>"$WORK/sink.log" &
  local sink=$!
  pids+=("$sink")
  wait_port "$SINK_PORT"
  "$BIN/procmon" -pids "$(relay_pids "$relay" "$mode")" -out "$out.proc.json" &
  local mon=$!
  pids+=("$mon")
  local ok=1
  "$BIN/relaybench" -server "127.0.0.1:$(relay_port "$relay" "$mode")" -user bench \
    -from "notifications@$DOMAIN" -to bench@example.net -n "$n" -c "$c" -size "$size" \
    -rset=false "${extra[@]}" -json >"$out.bench.json" || ok=0
  [ -s "$out.bench.json" ] || echo '{"error": "relaybench failed"}' >"$out.bench.json"
  # relaybench exits 1 when nothing was sent, and reports an error in its
  # JSON when some connections ended early (a 421, a refused connection).
  if [ "$ok" = 0 ] || grep -q '"error"' "$out.bench.json"; then
    # Some messages were never accepted, so the sink would wait for them
    # in vain: give the accepted ones a while to arrive, then stop it.
    echo "relaybench against $relay ($mode sink) failed; see $out.bench.json" >&2
    (sleep 20; kill -TERM "$sink" 2>/dev/null) &
  fi
  wait "$sink" || echo "relaysink reported a problem with $relay, $mode sink (see $out.sink.json)" >&2
  kill -TERM "$mon"
  wait "$mon" || true
}

# floor ROUND: the CPU of one signature with the dkim package, and
# OpenSSL's RSA-2048 signature for context (wall time, one core).
floor() {
  local out=$RAW/floor_r$1.json go ossl
  go=$("$BIN/signfloor" -message "$WORK/message.eml" -duration "${FLOOR_SECONDS}s") ||
    die "bench/signfloor failed (above)"
  ossl=$(openssl speed -seconds 1 rsa2048 2>/dev/null | awk '$1 == "rsa" && $2 == 2048 {sub("s$", "", $4); print $4 * 1000}')
  printf '{"go": %s, "openssl_rsa2048_ms": %s}\n' "$go" "${ossl:-0}" >"$out"
}

say "warming up"
for m in $SINK_MODES; do
  for relay in $RELAYS; do
    run_one "$relay" "$m" 8 "$SMALL" 200 "$WORK/warmup-$relay-$m"
  done
done

start=$(date +%s)
for round in $(seq "$ROUNDS"); do
  for m in $SINK_MODES; do
    concurrency=$CONCURRENCY
    [ "$m" != "$FIRST_MODE" ] && concurrency=$OTHER_CONCURRENCY
    for c in $concurrency; do
      for relay in $RELAYS; do
        n=$(scaled "${MESSAGES[$c]:-2000}")
        say "round $round/$ROUNDS: $relay, $m sink, c=$c, $n messages of 4 KB"
        run_one "$relay" "$m" "$c" "$SMALL" "$n" "$RAW/${relay}_${m}_c${c}_s${SMALL}_r${round}"
      done
    done
  done
  if [ "$RECONNECT" = 1 ]; then
    for relay in $RELAYS; do
      n=$(scaled "$RECONNECT_MESSAGES")
      say "round $round/$ROUNDS: $relay, $FIRST_MODE sink, c=8, $n messages of 4 KB, a new connection and login for each"
      run_one "$relay" "$FIRST_MODE" 8 "$SMALL" "$n" "$RAW/${relay}_${FIRST_MODE}_c8_s${SMALL}_r${round}_reconnect" -reconnect
    done
  fi
  if [ "$BIG" = 1 ]; then
    for relay in $RELAYS; do
      n=$(scaled "$BIG_MESSAGES")
      say "round $round/$ROUNDS: $relay, $FIRST_MODE sink, c=8, $n messages of 100 KB"
      run_one "$relay" "$FIRST_MODE" 8 "$LARGE" "$n" "$RAW/${relay}_${FIRST_MODE}_c8_s${LARGE}_r${round}"
    done
  fi
  say "round $round/$ROUNDS: the signing floor (bench/signfloor, ${FLOOR_SECONDS} s per key set; openssl speed)"
  floor "$round"
done
say "measured for $(($(date +%s) - start)) s"

# --- the delivery features, on against off ---------------------------------
declare -A FEAT_PID=()
if [ "$FEATURES" = 1 ]; then
  . bench/features.sh
  features_run
fi

# --- memory: 64 connections, one 10 MB message each ------------------------
if [ "$MEMORY" = 1 ]; then
  say "memory: dkimrelay, $FIRST_MODE sink, c=64, 64 messages of 10 MB"
  run_one dkimrelay "$FIRST_MODE" 64 "$HUGE" 64 "$RAW/dkimrelay_${FIRST_MODE}_c64_s${HUGE}_r1"
fi

# --- the report ------------------------------------------------------------
declare -A seen=()
msgs=""
for c in $CONCURRENCY $OTHER_CONCURRENCY; do
  [ -n "${seen[$c]:-}" ] && continue
  seen[$c]=1
  msgs="$msgs${msgs:+, }\"$c\": $(scaled "${MESSAGES[$c]:-2000}")"
done
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$repo" diff --quiet HEAD -- . ':!BENCHMARKS.md' ':!bench/results' 2>/dev/null || commit="$commit (with local changes)"
cat >"$RAW/meta.json" <<EOF
{
  "date": "$(date -u +%Y-%m-%d)",
  "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')",
  "cores": $(nproc),
  "memory_gb": $(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo),
  "kernel": "$(uname -r)",
  "os": "$(. /etc/os-release && echo "$PRETTY_NAME")",
  "go": "$(go env GOVERSION)",
  "postfix": "$(postconf -d -h mail_version)",
  "opendkim": "$(opendkim -V | head -1 | sed 's/.*v//')",
  "maddy": "$([ "$MADDY" = 1 ] && "$MADDY_BIN" version | head -1 | cut -d' ' -f1 | sed 's/^v//')",
  "openssl": "$(openssl version | cut -d' ' -f2)",
  "sink_modes": [$(printf '"%s",' $SINK_MODES | sed 's/,$//')],
  "other_concurrency": [$(printf '%s,' $OTHER_CONCURRENCY | sed 's/,$//')],
  "floor_seconds": $FLOOR_SECONDS,
  "feature_rounds": $([ "$FEATURES" = 1 ] && echo "$FEATURE_ROUNDS" || echo 0),
  "feature_messages": $(scaled "$FEATURE_MESSAGES"),
  "commit": "$commit",
  "rounds": $ROUNDS,
  "messages": {$msgs},
  "big_messages": $([ "$BIG" = 1 ] && scaled "$BIG_MESSAGES" || echo 0),
  "reconnect_messages": $([ "$RECONNECT" = 1 ] && scaled "$RECONNECT_MESSAGES" || echo 0),
  "command": "bash bench/compare.sh"
}
EOF
# The report first: it writes nothing unless every run could be read, so a
# failed run of this script never replaces the committed results.
mkdir -p bench/results
"$BIN/report" -raw "$RAW"
rm -rf bench/results/raw
cp -r "$RAW" bench/results/raw
say "wrote BENCHMARKS.md, bench/results/results.json and bench/results/chart.svg"
# The table, for the terminal.
sed -n '/^## Results/,/^Every run/p' BENCHMARKS.md

# Several relays on one PostgreSQL beside the single relay (docs/cluster.md),
# by its own script on ports of its own (the relays above sit idle);
# CLUSTER=0 skips it.
if [ "${CLUSTER:-1}" = 1 ]; then
  say "two relays sharing PostgreSQL against one relay on its files (bench/cluster.sh)"
  KEEP= PORT_BASE=$((PORT_BASE + 1000)) bash bench/cluster.sh | tee bench/results/cluster.txt
fi
