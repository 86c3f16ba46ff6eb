#!/bin/bash
# Single orders to POST /orderitem with wrk (32 connections), against
# salesflow (--fsync always: every 201 is after fdatasync) and, in the same
# run with the same wrk settings, against nginx answering a static 201 —
# the HTTP ceiling of this machine. Prints requests/s, p50/p99 and the ratio.
#
#   bench/http_orderitem.sh            (DURATION=10s CONNS=32 by default)
#   SALESFLOW_ARGS="--threads 2" bench/http_orderitem.sh
. "$(dirname "$0")/lib.sh"
need wrk nginx
[ -x "$BIN" ] || make -C "$ROOT" >/dev/null

sf_port=$(free_port)
start_salesflow "$sf_port" --fsync always ${SALESFLOW_ARGS:-}
ng_port=$(free_port)
start_nginx "$ng_port"

# Warm up both, then measure one after the other.
DURATION=2s run_wrk "http://127.0.0.1:$sf_port/orderitem" >/dev/null
DURATION=2s run_wrk "http://127.0.0.1:$ng_port/orderitem" >/dev/null
read -r sf_rps sf_p50 sf_p99 sf_bad < <(run_wrk "http://127.0.0.1:$sf_port/orderitem")
read -r ng_rps ng_p50 ng_p99 ng_bad < <(run_wrk "http://127.0.0.1:$ng_port/orderitem")

echo "machine: $(machine)"
echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency -s bench/wrk_post.lua, single order JSON"
printf "%-34s %12s %9s %9s %8s\n" target "requests/s" "p50 ms" "p99 ms" non-2xx
printf "%-34s %12s %9s %9s %8s\n" "salesflow /orderitem fsync=always" "$sf_rps" "$sf_p50" "$sf_p99" "$sf_bad"
printf "%-34s %12s %9s %9s %8s\n" "nginx static 201" "$ng_rps" "$ng_p50" "$ng_p99" "$ng_bad"
python3 -c "print('ratio salesflow/nginx: %.2f' % ($sf_rps / $ng_rps))"
acked=$(python3 - "$TMP/sf-data-$sf_port/log" <<'PY'
import os, struct, sys
n = 0
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        if not f.endswith(".log"):
            continue
        data = open(os.path.join(d, f), "rb").read()
        pos = 0
        while pos + 40 <= len(data) and data[pos:pos + 4] == b"SFLB":
            n += struct.unpack_from("<I", data, pos + 24)[0]
            pos += struct.unpack_from("<I", data, pos + 8)[0]
print(n)
PY
)
echo "orders in salesflow's log after the run: $acked"
