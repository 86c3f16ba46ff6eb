#!/bin/bash
# bench/ab_processor_nice.sh [NICES] [ROUNDS]: `salesflow ingest` alone
# against `salesflow run --processor-nice N` for each N of NICES (default
# "0 19"), all up at once on fresh data directories (--fsync always),
# taking turns: NDJSON batches of 1,000 (wrk -c8), then single orders (wrk
# -c32), DURATION each (default 10s), ROUNDS rounds (default 3). After each
# `run` round the processor catches up before the next round starts; the
# seconds that took are printed beside its rate. For choosing the
# processor's priority (issue 17), judged by the ratios of the rounds.
# FLAG=processor-share compares values of that flag instead (the NICES
# are then its values), e.g. FLAG=processor-share bench/ab_processor_nice.sh
# "100 10".
. "$(dirname "$0")/lib.sh"
NICES=${1:-0 19}
FLAG=${FLAG:-processor-nice}
ROUNDS=${2:-3}
make -C "$ROOT" -s BUILD="${BUILD:-build}" "${BUILD:-build}/salesflow" >/dev/null
BIN=${SALESFLOW_BIN:-$ROOT/${BUILD:-build}/salesflow}
ndjson_batch "$TMP/b.ndjson" 1000
nd=$TMP/b.ndjson
metric_sum() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($1, m "{") == 1 {s += $2} END {printf "%d\n", s}'; }
# caught_up PORT: seconds until the processor's lag is 0 (at most 120)
caught_up() {
    t0=$(date +%s.%N)
    for _ in $(seq 1200); do
        [ "$(metric_sum "$1" salesflow_processor_lag)" = 0 ] && break
        sleep 0.1
    done
    echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f'
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(machine)"
ip=$(free_port)
"$BIN" ingest --listen 127.0.0.1:"$ip" --data "$TMP/ing" --fsync always 2>/dev/null &
PIDS="$PIDS $!"
wait_port "$ip"
declare -A port
for n in $NICES; do
    port[$n]=$(free_port)
    start_salesflow "${port[$n]}" --fsync always --"$FLAG" "$n"
done
for r in $(seq "$ROUNDS"); do
    for kind in ndjson single; do
        if [ $kind = ndjson ]; then
            args=("/v1/orders" "$nd" application/x-ndjson); c=8
        else
            args=("/orderitem"); c=32
        fi
        line="round $r $kind ingest=$(CONNS=$c run_wrk "http://127.0.0.1:$ip${args[0]}" "${args[@]:1}" | cut -d' ' -f1)"
        for n in $NICES; do
            rate=$(CONNS=$c run_wrk "http://127.0.0.1:${port[$n]}${args[0]}" "${args[@]:1}" | cut -d' ' -f1)
            line="$line $FLAG=$n: $rate (caught up in $(caught_up "${port[$n]}") s)"
        done
        echo "$line"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
