# bench/features.sh: what dkimrelay's delivery features cost, sourced by
# bench/compare.sh (after its relays are up, with its run_one, BIN, RAW,
# WORK, DOMAIN, PASSWORD and ports):
#
#   features_run    FEATURE_ROUNDS rounds of features-on, features-off
#
# Two more dkimrelay instances deliver by MX lookups instead of to a
# smarthost (MTA-STS and DANE apply only there), through bench/benchdns
# on 127.0.0.1:DNS_PORT: example.net's MX is mx.example.net, 127.0.0.1,
# at the sink's port (delivery.port), every answer with the AD bit (a
# DNSSEC-validated zone, so DANE looks for TLSA records), and no TLSA or
# MTA-STS record. features-on keeps the defaults: mta_sts and dane on,
# submission.duplicate_window 10m, suppress_after_bounce 720h,
# provider_rate, bulk_rate and provider_connections as shipped. features-off
# turns each off: mta_sts = false, dane = false, duplicate_window = "0",
# suppress_after_bounce = "0" (no suppressions are added; the suppression
# list is still read, there being no key that stops that), provider_rate,
# bulk_rate and provider_connections 0 (no limits; the pacing gate itself
# cannot be turned off). Both deliver over STARTTLS to the sink when it
# offers it (opportunistic, as to an MX without DANE or MTA-STS). With
# FEATURES_CALLGRIND=1 (the default when valgrind is installed), each then
# runs once more under callgrind for FEATURE_CG_MESSAGES messages:
# user-space instructions per message, in RAW/features_callgrind.json.

features_run() {
  cat >"$WORK/bench.zone" <<EOF
example.net. 300 IN MX 10 mx.example.net.
mx.example.net. 300 IN A 127.0.0.1
EOF
  "$BIN/benchdns" -listen "127.0.0.1:$DNS_PORT" -zone "$WORK/bench.zone" -secure 2>>"$WORK/benchdns.log" &
  pids+=("$!")
  local name port dir sel
  for name in features-on features-off; do
    port=$FEAT_ON_PORT
    [ "$name" = features-off ] && port=$FEAT_OFF_PORT
    dir=$WORK/$name
    "$BIN/dkimrelay" init --domain "$DOMAIN" --dir "$dir" --listen "127.0.0.1:$port" >/dev/null
    relay_config "$dir/dkimrelay.toml" "$name.$DOMAIN" "$port" "port = $SINK_PORT"
    # By MX: no smarthost lines; the resolver is benchdns.
    sed -i -e 's/^mode = "smarthost"/mode = "mx"/' -e '/^smarthost/d' "$dir/dkimrelay.toml"
    printf '\n[dns]\nservers = ["127.0.0.1:%s"]\n' "$DNS_PORT" >>"$dir/dkimrelay.toml"
    if [ "$name" = features-off ]; then
      sed -i -e '/^\[submission\]/a duplicate_window = "0"' \
        -e '/^\[delivery\]/a mta_sts = false\ndane = false\nsuppress_after_bounce = "0"\nprovider_rate = 0\nbulk_rate = 0\nprovider_connections = 0' \
        "$dir/dkimrelay.toml"
    fi
    fr() { "$BIN/dkimrelay" --config "$dir/dkimrelay.toml" "$@"; }
    # Keys of their own selectors: the sink looks keys up by selector, and
    # init names its key after the month, as the main dkimrelay's is. The
    # key init made stays pending, unused.
    for alg in rsa2048 ed25519; do
      fr keys generate --domain "$DOMAIN" --algorithm "$alg" --selector "$name-$alg" >/dev/null
      fr keys activate --domain "$DOMAIN" --selector "$name-$alg" --force >/dev/null 2>&1
      fr keys dns --domain "$DOMAIN" --selector "$name-$alg" >>"$WORK/records.zone"
    done
    printf '%s\n' "$PASSWORD" | fr users add bench --allow "@$DOMAIN" >/dev/null
    feat_start "$name"
  done
  local n round
  n=$(scaled "$FEATURE_MESSAGES")
  say "features: warming up"
  for name in features-on features-off; do
    run_one "$name" starttls 8 "$SMALL" 200 "$WORK/warmup-$name"
  done
  for round in $(seq "$FEATURE_ROUNDS"); do
    for name in features-on features-off; do
      say "features round $round/$FEATURE_ROUNDS: dkimrelay by MX, $name, c=8, $n messages of 4 KB"
      run_one "$name" starttls 8 "$SMALL" "$n" "$RAW/${name}_starttls_c8_s${SMALL}_r${round}"
    done
  done
  # Instructions per message, which hold still while the machine is
  # shared: each relay once more under callgrind, as bench/baseline.sh
  # runs it (Go's asynchronous preemption signals trip callgrind, hence
  # asyncpreemptoff), its counts zeroed after a warm-up.
  if [ "$FEATURES_CALLGRIND" = 1 ]; then
    local ir=()
    for name in features-on features-off; do
      feat_stop "$name"
      say "features: $name under callgrind, $FEATURE_CG_MESSAGES messages after a warm-up of 50"
      GODEBUG=asyncpreemptoff=1 feat_start "$name" valgrind --tool=callgrind --quiet \
        --callgrind-out-file="$WORK/cg-$name.out"
      run_one "$name" starttls 8 "$SMALL" 50 "$WORK/cg-warm-$name"
      callgrind_control -z "${FEAT_PID[$name]}" >/dev/null
      run_one "$name" starttls 8 "$SMALL" "$FEATURE_CG_MESSAGES" "$WORK/cg-$name"
      callgrind_control -d "${FEAT_PID[$name]}" >/dev/null
      sleep 1
      feat_stop "$name"
      [ -s "$WORK/cg-$name.out.1" ] || die "callgrind wrote no dump for $name; see $WORK/$name.out"
      ir+=("\"$name\": $(awk '/^(summary|totals):/ {print $2; exit}' "$WORK/cg-$name.out.1")")
    done
    printf '{"messages": %s, "instructions": {%s, %s}}\n' "$FEATURE_CG_MESSAGES" "${ir[0]}" "${ir[1]}" >"$RAW/features_callgrind.json"
  fi
  # Both stop here: the runs after these measure the relays above alone.
  for name in features-on features-off; do
    feat_stop "$name"
  done
}

# feat_start NAME [WRAPPER...]: starts that features relay, under the
# wrapper if any, and waits for its port.
feat_start() {
  local name=$1 port=$FEAT_ON_PORT
  shift
  [ "$name" = features-off ] && port=$FEAT_OFF_PORT
  serve_relay "$BIN/dkimrelay" "$WORK/$name" "$port" "$@"
  FEAT_PID[$name]=$SERVED
}

feat_stop() { stop_relay_pid "${FEAT_PID[$1]}"; }
