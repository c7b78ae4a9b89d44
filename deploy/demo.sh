#!/usr/bin/env bash
# `make demo`: the whole product on one machine without Docker, in a few minutes on 2 cores.
#   DevStack (Kafka protocol, Schema Registry, Garnet) → generate history → train a small bundle (report and PR/ROC
#   plots) and promote it → start the scorer → send a fresh day of transactions and labels while watching the scorer →
#   show the first alerts with their explanations, the labels and the metrics → stop everything it started.
# Everything it wrote stays in one directory (printed at the end with how to remove it); STREAMFRAUD_DEMO_DIR picks it.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${STREAMFRAUD_DEMO_DIR:-$(mktemp -d -t streamfraud-demo-XXXXXX)}
mkdir -p "$work"
bin=Release
started=$SECONDS
groups=() # process groups of the background services, in start order

# Each background service runs in a session and process group of its own (setsid): Ctrl+C in the terminal reaches
# only the foreground command, and cleanup can stop a service with everything it started (a redis-server child...).
start() { local out=$1 app=$2; shift 2; setsid dotnet "src/$app/bin/$bin/net10.0/$app.dll" "$@" > "$out" 2>&1 & groups+=($!); }
stop_group() {
  local g=$1 i
  kill -TERM -- "-$g" 2>/dev/null || return 0
  for i in $(seq 1 60); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.5; done # the scorer finishes its batch
  kill -KILL -- "-$g" 2>/dev/null || true
  wait "$g" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # Newest first: the load driver and the scorer stop before the stack they talk to.
  for ((i = ${#groups[@]} - 1; i >= 0; i--)); do stop_group "${groups[$i]}"; done
  if [ "$rc" != 0 ]; then
    echo "demo stopped (exit $rc); logs and files are in $work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
run() { dotnet "src/$1/bin/$bin/net10.0/$1.dll" "${@:2}"; }
elapsed() { echo "$((SECONDS - started)) s"; }
# Sum of a metric's samples in the scorer's Prometheus text (every label set; 0 when absent).
metric() {
  awk -v m="$1" '{ n = $1; sub(/\{.*/, "", n) } n == m || n == m "_total" { s += $NF } END { printf "%d", s }' "$work/metrics.txt"
}
scrape() { curl -sf "http://127.0.0.1:$port/metrics" > "$work/metrics.txt" 2>/dev/null || true; }
free_port() { local p; for p in $(seq 18080 18180); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; echo 18080; }

echo "== 1. local stack (work directory $work)"
start "$work/devstack.log" StreamFraud.DevStack
for _ in $(seq 1 120); do grep -q '^ready' "$work/devstack.log" 2>/dev/null && break; sleep 0.5; done
grep -q '^ready' "$work/devstack.log" || { echo "DevStack did not start:"; cat "$work/devstack.log"; exit 1; }
kafka=$(sed -n 's/^kafka=//p' "$work/devstack.log")
registry=$(sed -n 's/^schema-registry=//p' "$work/devstack.log")
redis=$(sed -n 's/^redis=//p' "$work/devstack.log")
echo "   kafka=$kafka schema-registry=$registry redis=$redis"
clients=(--bootstrap "$kafka" --schema-registry "$registry")

echo "== 2. history: 3,000 cards over 21 days, with the fraud labels that came back later ($(elapsed))"
run StreamFraud.Sim generate --cards 3000 --days 21 --seed 7 --out "$work/history.csv" --labels-out "$work/labels.csv"

echo "== 3. train a small bundle (time split 60/20/20, labels from the file), promote it ($(elapsed))"
# The LSTM is smaller than the default (32/16, 4 epochs) and XGBoost shorter (150 rounds) so this takes a minute.
run StreamFraud.Trainer train --input "$work/history.csv" --labels "$work/labels.csv" --registry "$work/models" --promote \
  --epochs 4 --hidden1 32 --hidden2 16 --xgb-rounds 150 | grep -vE '^  ([0-9]+% of the input|round [0-9])'

echo "== 4. scorer ($(elapsed))"
port=$(free_port)
start "$work/scorer.log" StreamFraud.Scorer --Kafka:BootstrapServers "$kafka" --SchemaRegistry:Url "$registry" \
  --Redis:Configuration "$redis" --Models:Registry "$work/models" --Kafka:Consumer:fetch.wait.max.ms 20 --urls "http://127.0.0.1:$port"
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/readyz" > "$work/readyz.json" 2>/dev/null && break; sleep 0.5; done
[ -s "$work/readyz.json" ] || { echo "the scorer did not become ready:"; tail -n 20 "$work/scorer.log"; exit 1; }
grep -E 'Serving bundle|CUDA unavailable' "$work/scorer.log" | sed 's/^/   /'
json() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" "$work/readyz.json" | head -n 1; }
echo "   ready on http://127.0.0.1:$port (/readyz, /metrics); the LSTM runs on $(json device) (Scoring:Device $(json requested))"

echo "== 5. the next day's traffic (and its labels) sent as Avro keyed by card, watched through the scorer's /metrics ($(elapsed))"
# Paced at 400 events/s so the traffic lasts a while (the scorer keeps up with several thousand per second here).
start "$work/produce.log" StreamFraud.Sim produce "${clients[@]}" --topic transactions --labels --cards 3000 --days 1 --start 2026-01-22 --seed 8 --rate 400
producer=${groups[-1]}
printf '   %6s  %10s  %9s  %7s  %8s\n' time consumed events/s alerts lag
last_consumed=0 last_t=$SECONDS delivered="" quiet=0
for _ in $(seq 1 600); do
  sleep 1
  scrape
  consumed=$(metric streamfraud_events_consumed) alerts=$(metric streamfraud_alerts_emitted) lag=$(metric streamfraud_consumer_lag)
  now=$SECONDS rate=$(( (consumed - last_consumed) / ( (now - last_t) > 0 ? (now - last_t) : 1 ) ))
  printf '   %5ss  %10d  %9d  %7d  %8d\n' "$((now - started))" "$consumed" "$rate" "$alerts" "$lag"
  last_consumed=$consumed last_t=$now
  if [ -z "$delivered" ] && ! kill -0 "$producer" 2>/dev/null; then
    wait "$producer" || { echo "the load driver failed:"; tail -n 20 "$work/produce.log"; exit 1; }
    delivered=$(sed -n 's/^\([0-9,]*\) delivered.*/\1/p' "$work/produce.log" | head -n 1 | tr -d ,)
  fi
  if [ -n "$delivered" ] && [ "$consumed" -ge "$delivered" ] && [ "$lag" = 0 ]; then quiet=$((quiet + 1)); [ "$quiet" -ge 3 ] && break; fi
done
grep -E '^[0-9,]+ (labels )?delivered' "$work/produce.log" | sed 's/^/   /'

echo "== 6. the first alerts, read from fraud-alerts through the Schema Registry (StreamFraud.Inspect alerts) ($(elapsed))"
run StreamFraud.Inspect alerts "${clients[@]}" --from-beginning --max 8 | tee "$work/alerts.txt"
run StreamFraud.Inspect alerts "${clients[@]}" --from-beginning --json > "$work/alerts.jsonl"
echo "   ($(wc -l < "$work/alerts.jsonl") alerts in all; one JSON object per alert in alerts.jsonl, e.g. jq -r '.top_features[0].name' $work/alerts.jsonl)"
echo "   and the first fraud labels the scorer consumed (StreamFraud.Inspect labels):"
run StreamFraud.Inspect labels "${clients[@]}" --from-beginning --max 4

echo "== 7. what the scorer counted ($(elapsed))"
scrape
grep -E '^streamfraud_(events_consumed|events_scored|alerts_emitted|dlq_messages|consumer_lag|labels_consumed|labels_outcomes|quality_results|model_serving)' "$work/metrics.txt" \
  | grep -vE ' 0$' | sed -e 's/otel_scope_name="StreamFraud.Scorer",\{0,1\}//' -e 's/{}//' -e 's/^/   /' || true

echo "== 8. kept in $work (demo took $(elapsed))"
version=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$work/models/current.json" | head -n 1)
cat <<EOF
   history.csv, labels.csv      the generated history and its fraud labels
   models/$version/   the bundle: lstm.onnx, xgb.json, manifest.json
                                report.md and report.json (test and validation metrics, confusion matrices, recall per scenario)
                                $(cd "$work/models/$version" && ls ./*.png 2>/dev/null | sed 's|^\./||' | tr '\n' ' ')(precision-recall and ROC curves on test)
   alerts.txt, alerts.jsonl     the alerts as printed above, and all of them as JSON
   metrics.txt, readyz.json     the scorer's last /metrics scrape and its readiness
   devstack.log, scorer.log, produce.log
   remove it with: rm -rf $work
EOF
