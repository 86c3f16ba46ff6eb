#!/bin/bash
. "$(dirname "$0")/lib.sh"
ndjson_batch "$TMP/b.ndjson" 1000
nd=$TMP/b.ndjson
metric_sum() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($1, m "{") == 1 {s += $2} END {printf "%d\n", s}'; }
caught_up() { for _ in $(seq 1200); do [ "$(metric_sum "$1" salesflow_processor_lag)" = 0 ] && return 0; sleep 0.1; done; }
ip=$(free_port); "$BIN" ingest --listen 127.0.0.1:$ip --data "$TMP/ing" --fsync always 2>/dev/null & PIDS="$PIDS $!"
wait_port $ip
r0=$(free_port); "$BIN" run --listen 127.0.0.1:$r0 --data "$TMP/r0" --fsync always --processor-nice 0 2>/dev/null & PIDS="$PIDS $!"
wait_port $r0
r10=$(free_port); "$BIN" run --listen 127.0.0.1:$r10 --data "$TMP/r10" --fsync always 2>/dev/null & PIDS="$PIDS $!"
wait_port $r10
for i in 1 2 3; do
  a=$(CONNS=8 run_wrk http://127.0.0.1:$ip/v1/orders $nd application/x-ndjson | cut -d' ' -f1)
  b=$(CONNS=8 run_wrk http://127.0.0.1:$r0/v1/orders $nd application/x-ndjson | cut -d' ' -f1); caught_up $r0
  c=$(CONNS=8 run_wrk http://127.0.0.1:$r10/v1/orders $nd application/x-ndjson | cut -d' ' -f1); caught_up $r10
  echo "ndjson ingest=$a nice0=$b nice10=$c"
  a=$(run_wrk http://127.0.0.1:$ip/orderitem | cut -d' ' -f1)
  b=$(run_wrk http://127.0.0.1:$r0/orderitem | cut -d' ' -f1); caught_up $r0
  c=$(run_wrk http://127.0.0.1:$r10/orderitem | cut -d' ' -f1); caught_up $r10
  echo "single ingest=$a nice0=$b nice10=$c"
done
