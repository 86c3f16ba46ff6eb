#!/bin/bash
# bench/query.sh — latency of the range queries (issue 18): ORDERS orders
# (default 10,000,000) spread evenly over DAYS days (default 365) written to
# an embedded log (build/bench/log_fill) and put into SQLite through the log
# (salesflow replay), then `salesflow serve` over it; each kind of request is
# sent REQUESTS times (default 200, one at a time, a new connection each, as
# a browser's dashboard does) and its p50 and p99 printed, with the
# /api/sales of all time (the `sales` table) as the reference.
#
#   bench/query.sh
#   ORDERS=1000000 DAYS=30 REQUESTS=100 bench/query.sh
#   DATA=/tmp/big bench/query.sh   (reuse a data directory filled before:
#                                   log_fill DATA ORDERS 1 DAYS; replay)
#
# Prints a table; writes nothing into docs/. Needs free disk of about 120
# bytes per order (log + database).
. "$(dirname "$0")/lib.sh"
ORDERS=${ORDERS:-10000000}
DAYS=${DAYS:-365}
REQUESTS=${REQUESTS:-200}
make -C "$ROOT" -s BUILD="${BUILD:-build}" "${BUILD:-build}/salesflow" \
    "${BUILD:-build}/bench/log_fill" >/dev/null
B=$ROOT/${BUILD:-build}
BIN=${SALESFLOW_BIN:-$B/salesflow}

if [ -n "${DATA:-}" ]; then
    D=$DATA
else
    D=$TMP/data
    echo "bench/query: writing $ORDERS orders over $DAYS days to the log" >&2
    t0=$(date +%s)
    "$B/bench/log_fill" "$D" "$ORDERS" 1 "$DAYS" >/dev/null
    echo "bench/query: replay into SQLite" >&2
    "$BIN" replay --data "$D" >/dev/null 2>"$TMP/replay.log"
    echo "bench/query: filled in $(( $(date +%s) - t0 )) s" >&2
fi

port=$(free_port)
"$BIN" serve --listen 127.0.0.1:"$port" --store "sqlite:$D/sales.db" \
    2>"$TMP/serve.log" &
PIDS="$PIDS $!"
wait_port "$port"

python3 - "$port" "$REQUESTS" "$DAYS" <<'PY'
import http.client, sys, time, urllib.parse
from datetime import datetime, timedelta, timezone
port, n, days = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
now = datetime.now(timezone.utc)
def t(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)
# ranges that split minutes, hours and days at both ends
r30 = (t(now - timedelta(days=30, seconds=17.5)), t(now - timedelta(seconds=3.25)))
r1 = (t(now - timedelta(days=1, minutes=7)), t(now - timedelta(minutes=1, seconds=1)))
rall = (t(now - timedelta(days=days + 1)), t(now))
cases = [
    ("/api/sales (all time, the sales table)", "/api/sales", {}),
    ("/api/sales, last 30 days", "/api/sales", {"from": r30[0], "to": r30[1]}),
    ("/api/sales, last 24 h", "/api/sales", {"from": r1[0], "to": r1[1]}),
    ("/api/query revenue by day,source, 30 days", "/api/query",
     {"metric": "revenue", "by": "day,source", "from": r30[0], "to": r30[1]}),
    ("/api/query orders by hour,state, 24 h", "/api/query",
     {"metric": "orders", "by": "hour,state", "from": r1[0], "to": r1[1]}),
    ("/api/query revenue by minute, 24 h", "/api/query",
     {"metric": "revenue", "by": "minute", "from": r1[0], "to": r1[1]}),
    ("/api/query avg_order by state, whole range", "/api/query",
     {"metric": "avg_order", "by": "state", "from": rall[0], "to": rall[1]}),
    ("/api/query revenue by day, whole range, CSV", "/api/query",
     {"metric": "revenue", "by": "day", "from": rall[0], "to": rall[1], "format": "csv"}),
    ("/api/query quantity by customer_id, 24 h", "/api/query",
     {"metric": "quantity", "by": "customer_id", "from": r1[0], "to": r1[1]}),
]
print("| request | p50 ms | p99 ms |")
print("|---|---:|---:|")
for name, path, params in cases:
    url = path + ("?" + urllib.parse.urlencode(params) if params else "")
    lat = []
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t0 = time.perf_counter()
        c.request("GET", url)
        r = c.getresponse()
        r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        c.close()
        if r.status != 200:
            sys.exit("%s: %d" % (url, r.status))
    lat.sort()
    print("| %s | %.1f | %.1f |" % (name, lat[len(lat) // 2],
                                    lat[min(len(lat) - 1, int(len(lat) * 0.99))]))
PY
