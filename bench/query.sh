#!/bin/bash
# bench/query.sh — the range queries (issue 18) over ORDERS orders (default
# 10,000,000) spread evenly over DAYS days (default 365), written to an
# embedded log (build/bench/log_fill) and put into SQLite through the log
# (salesflow replay). Three parts, each printing a table:
#
# 1. SQLite (SQLITE=0 skips it): `salesflow serve` over it; each request of the list (in
#    bench/query.py) sent REQUESTS times (default 200; the whole-range
#    grouping by customer_id SLOW_REQUESTS times, default 10; any request
#    kind stops after CASE_SECONDS, default 300: the table's n is what was
#    sent), one at a time, a new connection each, as a browser's dashboard
#    does; p50 and p99, with the /api/sales of all time (the `sales` table)
#    as the reference.
# 2. MariaDB (MYSQL=0 skips it): a private mariadbd on loopback in a temporary
#    directory (tests/e2e/mariadb.py, as bench/mysql_store.py; buffer pool
#    MARIADB_POOL, default 2G), filled from the same log by
#    `salesflow replay --store mysql://…` (the time is printed), then
#    `salesflow serve --store mysql://…` and the same requests. MYSQL_ORDERS
#    (default ORDERS) other than ORDERS fills a log of its own for it.
# 3. Ingest under query load (INGEST=0 skips it): `salesflow run --fsync
#    always` (ingest + processor + dashboard in one process) on a copy of the
#    filled data directory; single orders to /orderitem by wrk (-t2 -c32,
#    bench/wrk_post.lua, DURATION each, as bench/run) in ROUNDS (default 3)
#    rounds without and ROUNDS with the query load, alternating; the processor
#    catches up between rounds and the load's requests in flight finish.
#    The query load ("the bench's query load" of issue 18's goal): CLIENTS
#    (default 4) clients, each looping over the whole request list above, one
#    request at a time, a new connection each, no pause (bench/query.py load),
#    started 1 s before wrk; the ranges are fixed before the first round, so
#    the orders posted meanwhile fall after every range. Prints the median
#    orders/s of each side, with / without, and the p50 and p99 of the load's
#    requests that started while wrk ran.
#
#   bench/query.sh
#   ORDERS=1000000 DAYS=30 REQUESTS=100 bench/query.sh
#   DATA=/tmp/big bench/query.sh   (reuse a data directory filled before:
#                                   log_fill DATA ORDERS 1 DAYS; replay;
#                                   it is only read, part 3 runs on a copy)
#   MYSQL_ORDERS=2000000 INGEST=0 bench/query.sh
#
# Writes nothing into docs/. Needs free disk of about 120 bytes per order
# (log + database), twice that for part 3's copy, and MariaDB's tables.
# Takes about 25 minutes with the defaults on 2 cores.
. "$(dirname "$0")/lib.sh"
ORDERS=${ORDERS:-10000000}
MYSQL_ORDERS=${MYSQL_ORDERS:-$ORDERS}
export DAYS=${DAYS:-365}
export REQUESTS=${REQUESTS:-200}
ROUNDS=${ROUNDS:-3}
export CLIENTS=${CLIENTS:-4}
make -C "$ROOT" -s BUILD="${BUILD:-build}" "${BUILD:-build}/salesflow" \
    "${BUILD:-build}/bench/log_fill" >/dev/null
B=$ROOT/${BUILD:-build}
export SALESFLOW_BIN=${SALESFLOW_BIN:-$B/salesflow}
BIN=$SALESFLOW_BIN
Q="python3 $ROOT/bench/query.py"
step() { echo "bench/query: $*" >&2; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(machine)"
if [ -n "${DATA:-}" ]; then
    D=$DATA
else
    D=$TMP/data
    step "writing $ORDERS orders over $DAYS days to the log"
    t0=$(date +%s)
    "$B/bench/log_fill" "$D" "$ORDERS" 1 "$DAYS" >/dev/null
    step "replay into SQLite"
    "$BIN" replay --data "$D" >/dev/null 2>"$TMP/replay.log"
    echo "SQLite: $ORDERS orders filled (log_fill + replay) in $(( $(date +%s) - t0 )) s"
fi

if [ "${SQLITE:-1}" != 0 ]; then
    echo
    echo "SQLite ($D/sales.db), salesflow serve:"
    echo
    port=$(free_port)
    "$BIN" serve --listen 127.0.0.1:"$port" --store "sqlite:$D/sales.db" \
        2>"$TMP/serve.log" &
    SERVE=$!
    PIDS="$PIDS $SERVE"
    wait_port "$port"
    $Q latency "$port" now
    kill "$SERVE"
    wait "$SERVE" 2>/dev/null || true
fi

if [ "${MYSQL:-1}" != 0 ]; then
    MD=$D
    if [ "$MYSQL_ORDERS" != "$ORDERS" ]; then
        MD=$TMP/mdata
        step "writing $MYSQL_ORDERS orders over $DAYS days to a log for MariaDB"
        "$B/bench/log_fill" "$MD" "$MYSQL_ORDERS" 1 "$DAYS" >/dev/null
    fi
    echo
    $Q mariadb "$MD" &
    MDB=$!
    PIDS="$PIDS $MDB"
    wait "$MDB"
    rm -rf "$TMP/mdata"
fi

if [ "${INGEST:-1}" != 0 ]; then
    need wrk
    step "copying $D for salesflow run"
    R=$TMP/run-data
    mkdir -p "$R"
    cp -r "$D/log" "$D"/sales.db* "$R"/
    metric_sum() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($1, m "{") == 1 {s += $2} END {printf "%d\n", s}'; }
    caught_up() {
        for _ in $(seq 3000); do
            [ "$(metric_sum "$1" salesflow_processor_lag)" = 0 ] && return 0
            sleep 0.1
        done
        echo "bench: the processor of port $1 did not catch up" >&2
    }
    port=$(free_port)
    "$BIN" run --listen 127.0.0.1:"$port" --data "$R" --fsync always \
        2>"$TMP/run.log" &
    RUN=$!
    PIDS="$PIDS $RUN"
    wait_port "$port"
    now=$(date +%s.%N)
    url=http://127.0.0.1:$port/orderitem
    DURATION=2s run_wrk "$url" >/dev/null
    caught_up "$port"
    : > "$TMP/without"
    : > "$TMP/with"
    : > "$TMP/windows"
    for i in $(seq "$ROUNDS"); do
        step "round $i of $ROUNDS: without, then with the query load"
        run_wrk "$url" >> "$TMP/without"
        caught_up "$port"
        rm -f "$TMP/stop"
        nice -n "${LOAD_NICE:-0}" $Q load "$port" "$now" "$TMP/stop" "$TMP/load.out" &
        LOAD=$!
        PIDS="$PIDS $LOAD"
        sleep 1
        t0=$(date +%s.%N)
        run_wrk "$url" >> "$TMP/with"
        echo "$t0 $(date +%s.%N)" >> "$TMP/windows"
        touch "$TMP/stop"
        wait "$LOAD"
        caught_up "$port"
    done
    kill "$RUN"
    wait "$RUN" 2>/dev/null || true
    grep -v 'level=info' "$TMP/run.log" | tail -5 >&2 || true
    med() { cut -d' ' -f"$2" "$1" | sort -n | sed -n "$(( ($(wc -l < "$1") + 1) / 2 ))p"; }
    echo
    echo "Ingest under query load: salesflow run --fsync always over the $ORDERS orders;"
    echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION POST /orderitem; query load: $CLIENTS clients"
    echo
    echo "| single orders to /orderitem | rounds (orders/s) | median orders/s | median p99 ms |"
    echo "|---|---|---:|---:|"
    for k in without with; do
        echo "| $k the query load | $(cut -d' ' -f1 "$TMP/$k" | paste -sd' ') |" \
             "$(med "$TMP/$k" 1) | $(med "$TMP/$k" 3) |"
    done
    awk -v a="$(med "$TMP/with" 1)" -v b="$(med "$TMP/without" 1)" \
        'BEGIN {printf "\nratio with / without: %.2f (goal: >= 0.90)\n", a / b}'
    bad=$(cat "$TMP/without" "$TMP/with" | awk '{s += $4} END {print s + 0}')
    [ "$bad" = 0 ] || echo "wrk: $bad answers other than 2xx"
    echo
    $Q loadstats "$TMP/load.out" "$TMP/windows"
fi
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
