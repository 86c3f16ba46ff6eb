#!/bin/bash
# bench/ab_ingest.sh OLD_BIN NEW_BIN [ROUNDS]: the ingest path (`salesflow ingest
# --fsync always`) of two builds, alternating rounds in one run: single
# orders to /orderitem (wrk -c32) and NDJSON batches of 1,000 to /v1/orders
# (wrk -c8), 5 s each. For a change that must not slow ingestion (issue 16:
# a refactor), judged by the medians of the rounds.

. "$(dirname "$0")/lib.sh"
OLD=$1; NEW=$2; ROUNDS=${3:-3}
ndjson_batch "$TMP/batch.ndjson" 1000
for r in $(seq 1 "$ROUNDS"); do
  for which in old new; do
    bin=$OLD; [ $which = new ] && bin=$NEW
    port=$(free_port); rm -rf "$TMP/d"
    "$bin" ingest --listen 127.0.0.1:$port --data "$TMP/d" --fsync always 2>/dev/null &
    pid=$!
    for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
    DURATION=1s run_wrk "http://127.0.0.1:$port/orderitem" >/dev/null
    s=$(CONNS=32 DURATION=5s run_wrk "http://127.0.0.1:$port/orderitem")
    n=$(CONNS=8 DURATION=5s run_wrk "http://127.0.0.1:$port/v1/orders" "$TMP/batch.ndjson" application/x-ndjson)
    kill $pid; wait $pid 2>/dev/null
    echo "round $r $which single $s ndjson $n"
  done
done
