#!/usr/bin/env bash
# bench/baseline.sh: dkimrelay at an earlier commit against dkimrelay at
# HEAD, alone (no Postfix), on this machine:
#
#   BASELINE=0cbefa8 bash bench/baseline.sh
#   BASELINE=0cbefa8 bash bench/compare.sh     (the same: compare.sh hands over)
#
# Both are built outside the repository (the baseline from a detached
# `git worktree` in the temporary folder, removed at the end) and set up as
# bench/compare.sh sets up dkimrelay: submission over STARTTLS with AUTH
# PLAIN, an RSA-2048 and an Ed25519 key, fsync before every 250, delivery to
# relaysink as a smarthost over STARTTLS, or with SINK_MODE=plain to a sink
# offering no STARTTLS (smarthost_tls = "opportunistic", which both commits
# must know). Each runs at its own defaults otherwise. The load generator, the sink and the process monitor are
# HEAD's for both, so only the relay differs.
#
# Runs alternate (base, head, base, head, ...) for ROUNDS rounds; each
# reports delivered msgs/s (N / (last arrival - first MAIL FROM)), CPU ms
# per message (bench/procmon), p50 and p99 from MAIL FROM to the 250, and
# context switches per message (the relay's threads' voluntary and
# involuntary switches, from /proc/PID/task/*/status, before and after).
# With CALLGRIND=1 (the default when valgrind is installed) each relay then
# runs once more under `valgrind --tool=callgrind` for CG_MESSAGES messages
# after a warm-up: user-space instructions per message, which unlike
# seconds hold still while the machine is shared.
#
# Knobs (environment): BASELINE (required: a commit), ROUNDS (3), N (2000),
# C (8), SIZE (4096), SINK_MODE (starttls or plain), CALLGRIND (1 or 0),
# CG_MESSAGES (300), PORT_BASE (10600), KEEP (1: keep the temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

BASELINE=${BASELINE:-}
ROUNDS=${ROUNDS:-3}
N=${N:-2000}
C=${C:-8}
SIZE=${SIZE:-4096}
CG_MESSAGES=${CG_MESSAGES:-300}
PORT_BASE=${PORT_BASE:-10600}
KEEP=${KEEP:-0}
SINK_MODE=${SINK_MODE:-starttls}
if command -v valgrind >/dev/null; then CALLGRIND=${CALLGRIND:-1}; else CALLGRIND=${CALLGRIND:-0}; fi
DOMAIN=bench.test
SINK_PORT=$((PORT_BASE + 25))

BENCH=baseline.sh
. bench/lib.sh
[ -n "$BASELINE" ] || die "set BASELINE to the commit to compare HEAD with, e.g. BASELINE=HEAD~1"
base_commit=$(git rev-parse --verify --quiet "$BASELINE^{commit}") ||
  die "BASELINE=$BASELINE is not a commit of this repository"
for v in ROUNDS N C SIZE CG_MESSAGES; do
  case ${!v} in '' | *[!0-9]* | 0) die "$v must be a whole number of at least 1" ;; esac
done
# The sink's flags and the relays' extra [delivery] line, by sink mode.
case $SINK_MODE in
  starttls) SINK_TLS=(-tls) DELIVERY=() ;;
  plain) SINK_TLS=() DELIVERY=('smarthost_tls = "opportunistic"') ;;
  *) die "SINK_MODE must be starttls (the sink offers STARTTLS) or plain (it offers none)" ;;
esac
command -v go >/dev/null || die "Go is needed to build dkimrelay: install Go 1.26 or later"
command -v jq >/dev/null || die "jq is needed to read the runs' JSON: apt-get install jq"

WORK=$(mktemp -d /tmp/dkimrelay-baseline.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  set +e
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  git -C "$repo" worktree remove --force "$WORK/src-base" 2>/dev/null
  if [ "$KEEP" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ------------------------------------------------------------------
head_commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- . 2>/dev/null || head_commit="$head_commit (with local changes)"
say "building dkimrelay at $(git rev-parse --short "$base_commit") and at $head_commit"
mkdir -p "$WORK/base-bin"
build_bench
git worktree add --detach --quiet "$WORK/src-base" "$base_commit"
(cd "$WORK/src-base" && go build -o "$WORK/base-bin/" ./cmd/dkimrelay)

# setup NAME BINARY PORT: a relay's folder, config, keys and login, as
# bench/compare.sh makes them.
setup() {
  local name=$1 bin=$2 port=$3 dir=$WORK/$1
  "$bin" init --domain "$DOMAIN" --dir "$dir" --listen "127.0.0.1:$port" >/dev/null
  # The config is the one that commit's bench gives dkimrelay: the
  # relay_config of its bench/lib.sh or, before there was one, the config
  # written out in its bench/compare.sh.
  local src=HEAD
  [ "$name" = base ] && src=$base_commit
  if git -C "$repo" show "$src:bench/lib.sh" 2>/dev/null | grep -q '^relay_config()'; then
    (
      eval "$(git -C "$repo" show "$src:bench/lib.sh")"
      relay_config "$dir/dkimrelay.toml" "dkimrelay.$DOMAIN" "$port" "${DELIVERY[@]}"
    )
  else
    local template
    template=$(git -C "$repo" show "$src:bench/compare.sh" |
      sed -n '/^cat >"$DR\/dkimrelay.toml" <<EOF$/,/^EOF$/p' | sed '1d;$d')
    [ -n "$template" ] || die "no dkimrelay config found in bench/compare.sh at $src"
    [ "$SINK_MODE" = starttls ] || die "SINK_MODE=$SINK_MODE needs a commit whose bench/lib.sh has relay_config"
    RELAY_PORT=$port eval "cat <<EOF >\"\$dir/dkimrelay.toml\"
$template
EOF"
  fi
  "$bin" --config "$dir/dkimrelay.toml" keys generate --domain "$DOMAIN" --algorithm ed25519 >/dev/null
  for sel in $("$bin" --config "$dir/dkimrelay.toml" keys list --json | grep -o '"selector": *"[^"]*"' | cut -d'"' -f4); do
    "$bin" --config "$dir/dkimrelay.toml" keys activate --domain "$DOMAIN" --selector "$sel" --force >/dev/null 2>&1
  done
  printf '%s\n' "$PASSWORD" | "$bin" --config "$dir/dkimrelay.toml" users add bench --allow "@$DOMAIN" >/dev/null
  "$bin" --config "$dir/dkimrelay.toml" keys dns --domain "$DOMAIN" >"$WORK/$name.zone"
}
declare -A BINARY=([base]=$WORK/base-bin/dkimrelay [head]=$BIN/dkimrelay)
declare -A PORT=([base]=$((PORT_BASE + 1)) [head]=$((PORT_BASE + 2)))
for r in base head; do setup "$r" "${BINARY[$r]}" "${PORT[$r]}"; done

declare -A PID=()
start_relay() { # NAME [WRAPPER...]
  local name=$1
  shift
  serve_relay "${BINARY[$name]}" "$WORK/$name" "${PORT[$name]}" "$@"
  PID[$name]=$SERVED
}
stop_relay() { stop_relay_pid "${PID[$1]}"; }
switches() { # PID: voluntary and involuntary context switches of all its threads
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2} END {print v+0, n+0}'
}

# run NAME N OUT: sink, monitor, load; wait for every message at the sink.
run_one() {
  local name=$1 n=$2 out=$3 pid=${PID[$1]}
  "$BIN/relaysink" -listen "127.0.0.1:$SINK_PORT" -records "$WORK/$name.zone" "${SINK_TLS[@]}" -n "$n" \
    -timeout 600s -out "$out.sink.json" 2>>"$WORK/sink.log" &
  local sink=$!
  pids+=("$sink")
  wait_port "$SINK_PORT"
  "$BIN/procmon" -pids "$pid" -out "$out.proc.json" &
  local mon=$!
  pids+=("$mon")
  switches "$pid" >"$out.cs0"
  "$BIN/relaybench" -server "127.0.0.1:${PORT[$name]}" -user bench \
    -from "notifications@$DOMAIN" -to bench@example.net -n "$n" -c "$C" -size "$SIZE" \
    -json >"$out.bench.json" || die "relaybench against $name failed; see $out.bench.json"
  wait "$sink" || die "relaysink reported a problem with $name (see $out.sink.json)"
  switches "$pid" >"$out.cs1"
  kill -TERM "$mon"
  wait "$mon" || true
}

RAW=$WORK/raw
mkdir -p "$RAW"
start_relay base
start_relay head
say "warming up"
for r in base head; do run_one "$r" 200 "$WORK/warmup-$r"; done

# summary OUT N: one line of figures for a run.
summary() {
  local out=$1 n=$2
  read -r v0 n0 <"$out.cs0"
  read -r v1 n1 <"$out.cs1"
  jq -r -n --slurpfile b "$out.bench.json" --slurpfile s "$out.sink.json" --slurpfile p "$out.proc.json" \
    --argjson n "$n" --argjson vol "$((v1 - v0))" --argjson invol "$((n1 - n0))" '
    def secs: sub("\\.[0-9]+"; "") | sub("Z$"; "Z") | fromdateiso8601;
    def frac: (capture("\\.(?<f>[0-9]+)") | ("0." + .f | tonumber)) // 0;
    def t: (. | secs) + (. | frac);
    (($s[0].last_arrival | t) - ($b[0].first_submit | t)) as $el
    | [ ($n / $el), $b[0].accepted_per_s, $b[0].p50_ms, $b[0].p99_ms,
        ($p[0].cpu_seconds * 1000 / $n), ($vol / $n), ($invol / $n), $s[0].verified ]
    | "\(.[0]*10|round/10) \(.[1]*10|round/10) \(.[2]*10|round/10) \(.[3]*10|round/10) \(.[4]*100|round/100) \(.[5]*10|round/10) \(.[6]*10|round/10) \(.[7])"'
}

printf '%-6s %-5s %9s %9s %7s %7s %9s %8s %8s %8s\n' relay round 'dlv/s' 'acc/s' p50ms p99ms 'cpu ms/m' 'vcs/msg' 'ics/msg' verified >"$WORK/table.txt"
for round in $(seq "$ROUNDS"); do
  for r in base head; do
    say "round $round/$ROUNDS: $r, c=$C, $N messages of $SIZE bytes"
    run_one "$r" "$N" "$RAW/${r}_r$round"
    read -r dl ac p50 p99 cpu vcs ics ver < <(summary "$RAW/${r}_r$round" "$N")
    printf '%-6s %-5s %9s %9s %7s %7s %9s %8s %8s %8s\n' "$r" "$round" "$dl" "$ac" "$p50" "$p99" "$cpu" "$vcs" "$ics" "$ver" | tee -a "$WORK/table.txt" >&2
  done
done

# --- instructions per message under callgrind --------------------------------
# Go's asynchronous preemption signals trip callgrind 3.19, hence
# asyncpreemptoff in both. Counts are of the relay's user space only.
declare -A IR=()
if [ "$CALLGRIND" = 1 ]; then
  command -v callgrind_control >/dev/null || die "callgrind_control is missing: apt-get install valgrind"
  for r in base head; do
    stop_relay "$r"
    say "$r under callgrind: $CG_MESSAGES messages after a warm-up of 50"
    GODEBUG=asyncpreemptoff=1 start_relay "$r" valgrind --tool=callgrind --quiet \
      --callgrind-out-file="$WORK/cg-$r.out"
    run_one "$r" 50 "$WORK/cg-warm-$r"
    callgrind_control -z "${PID[$r]}" >/dev/null
    run_one "$r" "$CG_MESSAGES" "$RAW/cg-$r"
    callgrind_control -d "${PID[$r]}" >/dev/null
    sleep 1
    stop_relay "$r"
    # The first dump holds only what the load cost (-z zeroed the counts).
    f=$WORK/cg-$r.out.1
    [ -s "$f" ] || die "callgrind wrote no dump for $r; see $WORK/$r.out"
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    IR[$r]=$((total / CG_MESSAGES))
  done
fi

# --- report ----------------------------------------------------------------
echo
echo "dkimrelay at $(git rev-parse --short "$base_commit") (base) against $head_commit (head); c=$C, $N messages of $SIZE bytes a run, sink mode $SINK_MODE, $ROUNDS rounds alternating; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$WORK/table.txt"
for r in base head; do
  awk -v r="$r" '$1 == r {dl[++k] = $3; cpu[k] = $7; p99[k] = $6; cs[k] = $8 + $9}
    function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END {printf "%s medians: %s delivered msgs/s, %s CPU ms/msg, p99 %s ms, %s context switches/msg\n", r, med(dl, k), med(cpu, k), med(p99, k), med(cs, k)}' "$WORK/table.txt"
  if [ -n "${IR[$r]:-}" ]; then
    echo "$r: ${IR[$r]} instructions per message (callgrind, user space, $CG_MESSAGES messages)"
  fi
done
