#!/bin/bash
# bench/ab_replay.sh OLD_BIN NEW_BIN [ROUNDS] [ORDERS]: `salesflow replay` of
# two builds, alternating rounds in one run, over one log of ORDERS orders
# (default 1,000,000, 4 partitions, from build/bench/log_fill): each build
# replays into a new sales.db, then again over the database it made; after
# each round, SQLite's ceiling (bench/sqlite_insert ... ceiling) as the
# reference of that round. Prints orders/s and the replay's CPU seconds.

. "$(dirname "$0")/lib.sh"
OLD=$1; NEW=$2; ROUNDS=${3:-3}; N=${4:-1000000}
B=$ROOT/build
make -C "$ROOT" --no-print-directory -s build/bench/log_fill build/bench/sqlite_insert
"$B/bench/log_fill" "$TMP/rp" "$N" >/dev/null
rate() { sed -n 's/.*(\([0-9]*\) records\/s).*/\1/p'; }
for r in $(seq 1 "$ROUNDS"); do
  for which in old new; do
    bin=$OLD; [ $which = new ] && bin=$NEW
    rm -f "$TMP/rp/sales.db"*
    for db in new existing; do
      out=$(/usr/bin/time -f "cpu %U %S" "$bin" replay --data "$TMP/rp" 2>&1)
      echo "round $r $which $db-db $(echo "$out" | rate) orders/s," \
           "$(echo "$out" | awk '$1 == "cpu" {print $2 + $3}') cpu s"
    done
  done
  rm -f "$TMP/ceiling.db"*
  echo "round $r ceiling $("$B/bench/sqlite_insert" "$TMP/ceiling.db" "$N" ceiling |
       sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p') rows/s"
done
