#!/bin/bash
# Kafka mode against the embedded log, in the same run on the same machine:
#
#  1. ingest: single orders to POST /orderitem with wrk (same settings as
#     bench/http_orderitem.sh) against `salesflow ingest --broker file:DIR`
#     (embedded log, --fsync always) and `salesflow ingest --broker kafka://…`
#     (idempotent producer, acks=all, 201 from the delivery report); then
#     NDJSON batches of 1,000 orders to POST /v1/orders against both.
#  2. producer alone: `salesflow gen --broker kafka://…` (no HTTP).
#  3. processor: ORDERS orders into SQLite from the Kafka topic, by one
#     `salesflow process` (consumer group member) and by
#     `salesflow replay --broker kafka://…`, against `salesflow replay` of
#     the same number of orders from an embedded log.
#
# The Kafka cluster is librdkafka's mock cluster (tests/kafka/mockcluster.c:
# 3 brokers, topic Order with 6 partitions, in memory, on the same cores).
# It speaks the real protocol, so the client side is the real thing, but it
# is a functional stand-in: no disks, no replication traffic, no network.
#
#   bench/kafka.sh                 (DURATION=10s CONNS=32 ORDERS=100000)
#
# The mock keeps about 5 MiB per partition (~30,000 of these orders) and
# drops older data beyond that, so ORDERS stays at 100,000 (the fullest of
# the 6 partitions gets ~24 % of them).
. "$(dirname "$0")/lib.sh"
need wrk
BUILD_DIR=$(dirname "$BIN")
MOCK="$BUILD_DIR/tests/mockcluster"
[ -x "$BIN" ] || make -C "$ROOT" >/dev/null
[ -x "$MOCK" ] || make -C "$ROOT" BUILD="$(realpath --relative-to="$ROOT" "$BUILD_DIR")" \
    "$(realpath --relative-to="$ROOT" "$MOCK")" >/dev/null
FILL="$BUILD_DIR/bench/log_fill"
[ -x "$FILL" ] || make -C "$ROOT" BUILD="$(realpath --relative-to="$ROOT" "$BUILD_DIR")" \
    "$(realpath --relative-to="$ROOT" "$FILL")" >/dev/null
ORDERS=${ORDERS:-100000}
INGEST_PIDS=""

# The mock cluster lives as long as its stdin: a fifo held open by fd 7.
mkfifo "$TMP/mock.in"
"$MOCK" < "$TMP/mock.in" > "$TMP/mock.out" 2>"$TMP/mock.err" &
PIDS="$PIDS $!"
exec 7>"$TMP/mock.in"
for _ in $(seq 50); do [ -s "$TMP/mock.out" ] && break; sleep 0.1; done
BOOT=$(head -1 "$TMP/mock.out")
KAFKA="kafka://$BOOT/Order"

start_ingest() {   # start_ingest PORT BROKER_URI
    "$BIN" ingest --listen 127.0.0.1:"$1" --data "$TMP/ingest-$1" --broker "$2" \
        2>"$TMP/ingest-$1.log" &
    PIDS="$PIDS $!"
    INGEST_PIDS="$INGEST_PIDS $!"
    wait_port "$1"
}

python3 - "$TMP/batch.ndjson" <<'PY'
import json, random, sys
r = random.Random(1)
with open(sys.argv[1], "w") as f:
    for _ in range(1000):
        f.write(json.dumps({"customer_id": r.randint(1, 17),
                            "source": r.choice(["Dine In", "Takeaway", "Home Delivery"]),
                            "quantity": r.randint(1, 100)}) + "\n")
PY

file_port=$(free_port)
start_ingest "$file_port" "file:$TMP/elog"
kafka_port=$(free_port)
start_ingest "$kafka_port" "$KAFKA"

DURATION=2s run_wrk "http://127.0.0.1:$file_port/orderitem" >/dev/null
DURATION=2s run_wrk "http://127.0.0.1:$kafka_port/orderitem" >/dev/null
read -r f_rps f_p50 f_p99 f_bad < <(run_wrk "http://127.0.0.1:$file_port/orderitem")
read -r k_rps k_p50 k_p99 k_bad < <(run_wrk "http://127.0.0.1:$kafka_port/orderitem")
read -r fb_rps fb_p50 fb_p99 fb_bad < <(CONNS=8 run_wrk "http://127.0.0.1:$file_port/v1/orders" \
    "$TMP/batch.ndjson" application/x-ndjson)
read -r kb_rps kb_p50 kb_p99 kb_bad < <(CONNS=8 run_wrk "http://127.0.0.1:$kafka_port/v1/orders" \
    "$TMP/batch.ndjson" application/x-ndjson)

echo "machine: $(machine)"
echo "kafka: librdkafka $("$BIN" version | awk '/librdkafka/ {print $2}') mock cluster, 3 brokers, Order x 6 partitions ($BOOT)"
echo
echo "== ingest: wrk -t$WRK_THREADS -c$CONNS -d$DURATION, single order JSON to /orderitem =="
printf "%-44s %12s %9s %9s %8s\n" target "requests/s" "p50 ms" "p99 ms" non-2xx
printf "%-44s %12s %9s %9s %8s\n" "ingest --broker file: (fsync always)" "$f_rps" "$f_p50" "$f_p99" "$f_bad"
printf "%-44s %12s %9s %9s %8s\n" "ingest --broker kafka:// (acks=all)" "$k_rps" "$k_p50" "$k_p99" "$k_bad"
python3 -c "print('ratio kafka/embedded log: %.2f' % ($k_rps / $f_rps))"
echo
echo "== ingest: wrk -t$WRK_THREADS -c8 -d$DURATION, NDJSON batches of 1,000 to /v1/orders =="
printf "%-44s %12s %9s %9s %8s\n" target "orders/s" "p50 ms" "p99 ms" non-2xx
printf "%-44s %12.0f %9s %9s %8s\n" "ingest --broker file: (fsync always)" \
    "$(python3 -c "print($fb_rps * 1000)")" "$fb_p50" "$fb_p99" "$fb_bad"
printf "%-44s %12.0f %9s %9s %8s\n" "ingest --broker kafka:// (acks=all)" \
    "$(python3 -c "print($kb_rps * 1000)")" "$kb_p50" "$kb_p99" "$kb_bad"
python3 -c "print('ratio kafka/embedded log: %.2f' % ($kb_rps / $fb_rps))"
for p in $INGEST_PIDS; do kill "$p"; wait "$p" 2>/dev/null || true; done
echo

# Fresh topic for the processor measurements: a second mock cluster.
exec 7>&-
mkfifo "$TMP/mock2.in"
"$MOCK" < "$TMP/mock2.in" > "$TMP/mock2.out" 2>"$TMP/mock2.err" &
PIDS="$PIDS $!"
exec 7>"$TMP/mock2.in"
for _ in $(seq 50); do [ -s "$TMP/mock2.out" ] && break; sleep 0.1; done
KAFKA="kafka://$(head -1 "$TMP/mock2.out")/Order"

echo "== producer alone: salesflow gen --broker kafka:// --count $ORDERS =="
"$BIN" gen --broker "$KAFKA" --count "$ORDERS" 2>"$TMP/gen.log"
echo

echo "== processor: $ORDERS orders into a fresh SQLite store =="
"$BIN" process --broker "$KAFKA" --store "sqlite:$TMP/process.db" --data "$TMP/proc" \
    2>"$TMP/process.log" &
PROC=$!
PIDS="$PIDS $PROC"
python3 - "$TMP/process.db" "$TMP/process.log" "$ORDERS" <<'PY'
import os, sqlite3, sys, time
db, log, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
while "assigned" not in open(log).read():
    time.sleep(0.02)
t0 = time.time()   # the mock's group join delay (3 s) is not counted
while time.time() - t0 < 300:
    try:
        c = sqlite3.connect(db, timeout=30).execute("select count(*) from orders").fetchone()[0]
    except sqlite3.Error:
        c = 0
    if c >= n:
        break
    time.sleep(0.05)
else:
    sys.exit("process: only %d of %d orders after 300 s" % (c, n))
secs = time.time() - t0
print("%-44s %9.0f orders/s (%d in %.2f s)" % ("process (group member, from Kafka)", n / secs, n, secs))
PY
kill "$PROC"; wait "$PROC" 2>/dev/null || true
replay_line() {   # replay_line LABEL OUTPUT-OF-REPLAY
    echo "$2" | awk -v label="$1" -v n="$ORDERS" '{
        for (i = 1; i <= NF; i++) if ($i == "in") secs = $(i + 1)
        printf "%-44s %9.0f orders/s (%d in %.2f s)\n", label, n / secs, n, secs }'
}
replay_line "replay --broker kafka:// (scan, no group)" \
    "$("$BIN" replay --broker "$KAFKA" --store "sqlite:$TMP/replay-kafka.db" 2>/dev/null)"
"$FILL" "$TMP/fill" "$ORDERS" >/dev/null
replay_line "reference: replay from the embedded log" \
    "$("$BIN" replay --data "$TMP/fill" --store "sqlite:$TMP/replay-file.db" 2>/dev/null)"
