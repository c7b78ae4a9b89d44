#!/usr/bin/env bash
# `make demo`: the whole product on one machine without Docker, in a few minutes on 2 cores.
#   DevStack (Kafka protocol, Schema Registry, Garnet) → generate history → train a small bundle and promote it →
#   start the scorer → produce a fresh day of transactions → show the alerts and the scorer's metrics → stop.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d -t streamfraud-demo-XXXXXX)
bin=Release
pids=()
cleanup() {
  # Scorer first (it finishes its batch and commits), then the stack it talks to.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; wait "${pids[$i]}" 2>/dev/null || true; done
  echo "demo files left in $work"
}
trap cleanup EXIT
run() { dotnet "src/$1/bin/$bin/net10.0/$1.dll" "${@:2}"; }
# Background services: dotnet itself is the background job, so the trap's SIGTERM reaches it (not a subshell).
start() { local out=$1 app=$2; shift 2; dotnet "src/$app/bin/$bin/net10.0/$app.dll" "$@" > "$out" 2>&1 & pids+=($!); }

echo "== 1. local stack"
start "$work/devstack.log" StreamFraud.DevStack
for _ in $(seq 1 120); do grep -q '^ready' "$work/devstack.log" 2>/dev/null && break; sleep 0.5; done
grep -q '^ready' "$work/devstack.log" || { echo "DevStack did not start:"; cat "$work/devstack.log"; exit 1; }
kafka=$(sed -n 's/^kafka=//p' "$work/devstack.log")
registry=$(sed -n 's/^schema-registry=//p' "$work/devstack.log")
redis=$(sed -n 's/^redis=//p' "$work/devstack.log")
echo "   kafka=$kafka schema-registry=$registry redis=$redis"

echo "== 2. history: 3,000 cards over 21 days"
run StreamFraud.Sim generate --cards 3000 --days 21 --seed 7 --out "$work/history.csv" --labels-out "$work/labels.csv" | tail -n 3

echo "== 3. train a small bundle (time split), promote it"
run StreamFraud.Trainer train --input "$work/history.csv" --labels "$work/labels.csv" --registry "$work/models" --promote \
  --epochs 4 --hidden1 32 --hidden2 16 --xgb-rounds 150 --no-plots | tail -n 25

echo "== 4. scorer"
start "$work/scorer.log" StreamFraud.Scorer --Kafka:BootstrapServers "$kafka" --SchemaRegistry:Url "$registry" \
  --Redis:Configuration "$redis" --Models:Registry "$work/models" --Kafka:Consumer:fetch.wait.max.ms 20 --urls http://127.0.0.1:18080
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18080/readyz >/dev/null 2>&1 && break; sleep 0.5; done

echo "== 5. the next day's traffic, sent as Avro keyed by card"
produced=$(run StreamFraud.Sim produce --bootstrap "$kafka" --schema-registry "$registry" --topic transactions --labels \
  --cards 3000 --days 1 --start 2026-01-22 --seed 8)
sent=$(echo "$produced" | grep -E '^[0-9,]+ delivered' | head -n 1)
echo "   $sent"
echo "$produced" | grep -E 'labels delivered' | sed 's/^/   /' || true
delivered=$(echo "$sent" | sed -n 's/^\([0-9,]*\) delivered.*/\1/p' | tr -d ,)
for _ in $(seq 1 180); do
  consumed=$(curl -s http://127.0.0.1:18080/metrics | sed -n 's/^streamfraud_events_consumed[^ ]* //p' | head -n 1)
  [ -n "$consumed" ] && [ "${consumed%.*}" -ge "${delivered:-0}" ] && break
  sleep 1
done

echo "== 6. what the scorer did"
curl -s http://127.0.0.1:18080/metrics | grep -E '^streamfraud_(events_consumed|events_scored|alerts_emitted|dlq_messages|consumer_lag|labels_consumed|labels_outcomes)' || true
grep -E 'Serving bundle|Assigned' "$work/scorer.log" | head -n 3
