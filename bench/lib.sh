# bench/lib.sh: what the bench scripts set up alike, sourced by
# bench/compare.sh, bench/cluster.sh and bench/baseline.sh after they set
# BENCH (their name, for messages) and, before they call these, WORK (the
# temporary folder) and DOMAIN (the sending domain).

say() { printf '== %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$BENCH" "$*" >&2; exit 1; }

wait_port() { # PORT: wait until something listens on 127.0.0.1:PORT
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  die "nothing listens on 127.0.0.1:$1; see the logs in $WORK (rerun with KEEP=1)"
}

# serve_relay BINARY DIR PORT [WRAPPER...]: starts `BINARY --config
# DIR/dkimrelay.toml serve` in the background, under WRAPPER if one is
# given (valgrind, say), its output appended to DIR.out; SERVED is its PID,
# also added to pids for the cleanup. Returns once PORT listens.
serve_relay() {
  local bin=$1 dir=$2 port=$3
  shift 3
  "$@" "$bin" --config "$dir/dkimrelay.toml" serve >>"$dir.out" 2>&1 &
  SERVED=$!
  pids+=("$SERVED")
  wait_port "$port"
}

# stop_relay_pid PID: asks the relay to stop and waits until it has.
stop_relay_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# build_bench PACKAGE...: dkimrelay, relaybench, relaysink, procmon and the
# packages named into $WORK/bin (BIN), and a fresh password for the bench
# login in PASSWORD and relaybench's RELAYBENCH_PASSWORD.
build_bench() {
  BIN=$WORK/bin
  mkdir -p "$BIN"
  go build -o "$BIN/" ./cmd/dkimrelay ./cmd/relaybench ./cmd/relaysink ./bench/procmon "$@"
  PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  export RELAYBENCH_PASSWORD=$PASSWORD
}

# relay_config FILE HOSTNAME PORT [DELIVERY...]: the config of a dkimrelay
# submitting on 127.0.0.1:PORT with the folder's tls/ certificate, signing
# for DOMAIN, delivering everything to relaysink on 127.0.0.1:SINK_PORT as
# smarthost; each DELIVERY is one more line of its [delivery] section.
relay_config() {
  local file=$1 hostname=$2 port=$3
  shift 3
  {
    cat <<EOF
hostname = "$hostname"
data_dir = "data"

[submission]
listen = ["127.0.0.1:$port"]
tls_cert = "tls/cert.pem"
tls_key = "tls/key.pem"
# relaybench sends all its messages on a few connections, as Postfix
# allows; the relay's per-session limits would close them.
max_messages_per_session = 100000000
max_session_lifetime = "24h"
# The memory run opens 64 connections from 127.0.0.1 at once.
max_connections_per_ip = 100

[[domains]]
name = "$DOMAIN"

[delivery]
mode = "smarthost"
smarthost = "127.0.0.1:$SINK_PORT"
smarthost_insecure_skip_verify = true
# The sink is on 127.0.0.1; a smarthost is never refused for that, but the
# rig says it means to deliver inside the machine.
allow_internal = true
# Postfix checks no SPF or DMARC either, and there is no DNS here.
spf_policy = "off"
EOF
    [ $# -gt 0 ] && printf '%s\n' "$@"
    printf '\n[log]\nfile = "dkimrelay.log"\n'
  } >"$file"
}
