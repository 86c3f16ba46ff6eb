#!/bin/bash
# Compressed NDJSON batches: the same 1,000-order batch sent plain, with
# Content-Encoding: gzip (gzip -6) and with zstd (zstd -3) to POST
# /v1/orders of `salesflow ingest --fsync always`, in alternating rounds
# (ROUNDS, default 3) so that all three meet the same moments of a shared
# machine. Prints key=value lines (bench/run puts them in its table):
#   coding_bytes=PLAIN GZIP ZSTD          the body's bytes on the wire
#   coding_plain|gzip|zstd=BATCHES/S P50 P99 NON2XX   (median round)
#   coding_*_rounds=R1 R2 R3              batches/s of every round
#
#   bench/http_coding.sh            (DURATION=10s, CONNS=8)
CONNS=${CONNS:-8}
. "$(dirname "$0")/lib.sh"
need wrk gzip zstd
[ -x "$BIN" ] || make -C "$ROOT" >/dev/null

nd=$TMP/batch.ndjson
ndjson_batch "$nd" 1000
gzip -6 -c "$nd" > "$nd.gz"
zstd -q -3 -c "$nd" > "$nd.zst"
echo "coding_bytes=$(stat -c %s "$nd") $(stat -c %s "$nd.gz") $(stat -c %s "$nd.zst")"

port=$(free_port)
"$BIN" ingest --listen 127.0.0.1:"$port" --data "$TMP/coding" --fsync always \
    2>"$TMP/coding.log" &
PIDS="$PIDS $!"
wait_port "$port"
url="http://127.0.0.1:$port/v1/orders"
DURATION=2s run_wrk "$url" "$nd" application/x-ndjson >/dev/null
for _ in $(seq "${ROUNDS:-3}"); do
    run_wrk "$url" "$nd" application/x-ndjson >> "$TMP/c_plain"
    CONTENT_ENCODING=gzip run_wrk "$url" "$nd.gz" application/x-ndjson >> "$TMP/c_gzip"
    CONTENT_ENCODING=zstd run_wrk "$url" "$nd.zst" application/x-ndjson >> "$TMP/c_zstd"
done
for k in plain gzip zstd; do
    f=$TMP/c_$k
    echo "coding_$k=$(sort -n "$f" | sed -n "$(( ($(wc -l < "$f") + 1) / 2 ))p")"
    echo "coding_${k}_rounds=$(cut -d' ' -f1 "$f" | paste -sd' ')"
done
