#!/usr/bin/env bash
# bench/cluster.sh: one dkimrelay on its files against two dkimrelays
# sharing one PostgreSQL (docs/cluster.md), all on this machine, where the
# database competes with the relays for the same cores.
#
# It installs Debian's postgresql when missing, starts a throwaway server
# (initdb in a temporary folder, as nobody when run as root, fsync and
# synchronous commit on, as in production), builds dkimrelay and the bench
# tools, and runs the same load against both setups: relaybench over
# STARTTLS + AUTH (for the cluster, one relaybench per relay, the
# connections and messages split evenly), every message delivered to
# relaysink as smarthost, which verifies every signature. It prints
# delivered msgs/s (N / (last arrival - first MAIL FROM)) and the relays'
# CPU per message (procmon: the relays' processes, plus PostgreSQL's for
# the cluster), alternating the setups for ROUNDS rounds.
#
#   N=3000 C=8 SIZE=4096 ROUNDS=2 PROVIDER_CONNECTIONS=8 bash bench/cluster.sh
#
# PROVIDER_CONNECTIONS is delivery.provider_connections of every relay (0:
# no cap), since the sink is one provider to all of them. STATEMENTS=1
# loads pg_stat_statements and prints, after each cluster run, the
# statements the database ran per delivered message and its transactions
# per message: the round trips the cluster costs.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-3000}
C=${C:-8}
SIZE=${SIZE:-4096}
ROUNDS=${ROUNDS:-2}
PORT_BASE=${PORT_BASE:-27000}
DOMAIN=bench.example.org
SINK_PORT=$((PORT_BASE + 25))
PG_PORT=$((PORT_BASE + 32))
SINGLE_PORT=$((PORT_BASE + 87))
A_PORT=$((PORT_BASE + 88))
B_PORT=$((PORT_BASE + 89))

BENCH=cluster.sh
. bench/lib.sh

bash scripts/install-debs.sh postgresql python3
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || die "PostgreSQL's server is not installed"

WORK=$(mktemp -d /tmp/dkimrelay-cluster-bench.XXXXXX)
chmod 755 "$WORK"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  [ -d "$WORK/pg/data" ] && as_pg "$PGBIN/pg_ctl" stop -s -D "$WORK/pg/data" -m fast 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

as_pg() { # PostgreSQL refuses to run as root
  if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

say "building dkimrelay and the bench tools"
build_bench

say "starting PostgreSQL"
PG=$WORK/pg
mkdir -p "$PG"
[ "$(id -u)" -eq 0 ] && chown nobody "$PG"
as_pg "$PGBIN/initdb" -D "$PG/data" -U dkimrelay --auth=trust -E UTF8 --locale=C >/dev/null
as_pg "$PGBIN/postgres" -D "$PG/data" -c listen_addresses= -c unix_socket_directories="$PG" \
  -c port="$PG_PORT" -c max_connections=200 \
  ${STATEMENTS:+-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all} >"$WORK/postgres.log" 2>&1 &
pids+=($!)
PG_PID=$!
for _ in $(seq 200); do
  as_pg "$PGBIN/pg_isready" -q -h "$PG" -p "$PG_PORT" && break
  sleep 0.05
done
as_pg "$PGBIN/psql" -q -h "$PG" -p "$PG_PORT" -U dkimrelay -d postgres -c "CREATE DATABASE dkimrelay"
psql_bench() { as_pg "$PGBIN/psql" -q -h "$PG" -p "$PG_PORT" -U dkimrelay -d dkimrelay "$@"; }
[ -n "${STATEMENTS:-}" ] && psql_bench -c "CREATE EXTENSION pg_stat_statements"
CONN="host=$PG port=$PG_PORT user=dkimrelay dbname=dkimrelay"

# relay NAME PORT CLUSTER_NODE: a data dir and config; CLUSTER_NODE "" is
# the relay on its files.
relay() {
  local dir=$WORK/$1 port=$2 node=$3
  "$BIN/dkimrelay" init --domain "$DOMAIN" --dir "$dir" --listen "127.0.0.1:$port" >/dev/null
  relay_config "$dir/dkimrelay.toml" "$1.$DOMAIN" "$port" "provider_connections = ${PROVIDER_CONNECTIONS:-8}"
  if [ -n "$node" ]; then
    printf '\n[cluster]\npostgres = "%s"\nnode = "%s"\n' "$CONN" "$node" >>"$dir/dkimrelay.toml"
  fi
}
dr() { local d=$1; shift; "$BIN/dkimrelay" --config "$WORK/$d/dkimrelay.toml" "$@"; }
keys_and_login() { # an Ed25519 key of the relay's own selector signs
  dr "$1" keys generate --domain "$DOMAIN" --algorithm ed25519 --selector "bench$1" >/dev/null
  dr "$1" keys activate --domain "$DOMAIN" --selector "bench$1" --force >/dev/null 2>&1
  printf '%s\n' "$PASSWORD" | dr "$1" users add bench --allow "@$DOMAIN" >/dev/null
}
relay single "$SINGLE_PORT" ""
keys_and_login single
relay a "$A_PORT" a
keys_and_login a # into the database: relay b takes them from there
relay b "$B_PORT" b
{ dr single keys dns --domain "$DOMAIN" --selector benchsingle; dr a keys dns --domain "$DOMAIN" --selector bencha; } >"$WORK/records.zone"

start() {
  "$BIN/dkimrelay" --config "$WORK/$1/dkimrelay.toml" serve >"$WORK/$1.out" 2>&1 &
  pids+=($!)
  eval "${1}_PID=$!"
}
say "starting the relays"
start single
start a
start b
wait_port "$SINGLE_PORT"
wait_port "$A_PORT"
wait_port "$B_PORT"

# run LABEL "PIDS" PORT...: the sink, the monitor and one relaybench per
# port; prints one line of figures.
run() {
  local label=$1 mon_pids=$2
  shift 2
  local ports=("$@") k=$#
  local out=$WORK/$label.$RANDOM
  "$BIN/relaysink" -listen "127.0.0.1:$SINK_PORT" -records "$WORK/records.zone" -tls -n "$N" \
    -timeout 300s -out "$out.sink.json" 2>>"$WORK/sink.log" &
  local sink=$!
  wait_port "$SINK_PORT"
  # CPU only: the counters are cumulative, so a sample a second is as
  # exact, and reading the memory of some 80 PostgreSQL backends ten times
  # a second took a fifth of a core from the cluster it measured.
  "$BIN/procmon" -interval 1s -pids "$mon_pids" -out "$out.proc.json" &
  local mon=$!
  local benches=() i=0
  for p in "${ports[@]}"; do
    "$BIN/relaybench" -server "127.0.0.1:$p" -user bench -from "notifications@$DOMAIN" \
      -to bench@example.net -n $((N / k)) -c $((C / k)) -size "$SIZE" -json >"$out.bench$i.json" &
    benches+=($!)
    i=$((i + 1))
  done
  for b in "${benches[@]}"; do wait "$b" || die "relaybench failed against $label"; done
  wait "$sink" || die "relaysink reported a problem with $label (see $out.sink.json)"
  kill -TERM "$mon"
  wait "$mon" || true
  python3 - "$label" "$out" "$k" <<'PY'
import json, sys, datetime
label, out, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
def t(s):
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        frac = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(frac):]
        s = head + "." + frac[:6] + tz
    return datetime.datetime.fromisoformat(s)
sink = json.load(open(out + ".sink.json"))
proc = json.load(open(out + ".proc.json"))
benches = [json.load(open(f"{out}.bench{i}.json")) for i in range(k)]
first = min(t(b["first_submit"]) for b in benches)
secs = (t(sink["last_arrival"]) - first).total_seconds()
n = sink["unique"]
accepted = sum(b["accepted_per_s"] for b in benches)
p50 = max(b["p50_ms"] for b in benches)
print(f"{label:8} delivered {n} in {secs:.2f}s = {n/secs:7.0f} msgs/s (accepted {accepted:.0f}/s, p50 {p50:.1f} ms); "
      f"CPU {1000*proc['cpu_seconds']/n:.2f} ms/msg; verified {sink['verified']}, duplicates {sink['duplicates']}")
PY
}

say "N=$N C=$C SIZE=$SIZE, $ROUNDS rounds, alternating"
for r in $(seq "$ROUNDS"); do
  run single "$single_PID" "$SINGLE_PORT"
  [ -n "${STATEMENTS:-}" ] && psql_bench -c "SELECT pg_stat_statements_reset(), pg_stat_reset()" >/dev/null
  run cluster "$a_PID,$b_PID,$PG_PID" "$A_PORT" "$B_PORT"
  if [ -n "${STATEMENTS:-}" ]; then
    psql_bench -P footer=off -c "SELECT round(calls::numeric / $N, 2) AS per_msg, round(total_exec_time::numeric / $N, 3) AS ms_per_msg,
        left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS statement
      FROM pg_stat_statements WHERE calls >= $N / 100 ORDER BY calls DESC, total_exec_time DESC"
    psql_bench -P footer=off -c "SELECT round(xact_commit::numeric / $N, 2) AS transactions_per_msg FROM pg_stat_database WHERE datname = 'dkimrelay'"
  fi
done
