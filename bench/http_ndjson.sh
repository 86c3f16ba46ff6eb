#!/bin/bash
# NDJSON batches of 1,000 orders to POST /v1/orders with wrk, salesflow
# with --fsync always: each 201 is sent after every order of the batch is
# fdatasync'd. Reports batches/s and orders accepted durably per second.
#
#   bench/http_ndjson.sh         (DURATION=10s, CONNS=8, ROWS=1000)
CONNS=${CONNS:-8}
. "$(dirname "$0")/lib.sh"
need wrk
[ -x "$BIN" ] || make -C "$ROOT" >/dev/null
ROWS=${ROWS:-1000}

ndjson_batch "$TMP/batch.ndjson" "$ROWS"
port=$(free_port)
start_salesflow "$port" --fsync always ${SALESFLOW_ARGS:-}
url="http://127.0.0.1:$port/v1/orders"
DURATION=2s run_wrk "$url" "$TMP/batch.ndjson" application/x-ndjson >/dev/null
read -r rps p50 p99 bad < <(run_wrk "$url" "$TMP/batch.ndjson" application/x-ndjson)
echo "machine: $(machine)"
echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency -s bench/wrk_post.lua," \
     "NDJSON body of $ROWS orders ($(wc -c < "$TMP/batch.ndjson") bytes)"
echo "batches/s $rps  p50 ${p50} ms  p99 ${p99} ms  non-2xx $bad"
python3 -c "print('orders/s accepted durably: %.0f' % ($rps * $ROWS))"
