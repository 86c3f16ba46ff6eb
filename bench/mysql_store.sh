#!/bin/sh
# MySQL store benchmark (issue 5): the processor's sustained orders/s into a
# private MariaDB vs a plain bulk INSERT of the same raw rows, same run.
# Results go to docs/BENCHMARKS.md ("MySQL store"). See bench/mysql_store.py.
#   sh bench/mysql_store.sh            ORDERS=200000 ROUNDS=3 by default
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
make --no-print-directory -s "$BUILD/salesflow" "$BUILD/bench/log_fill" >&2
SALESFLOW_BIN="$BUILD/salesflow" LOG_FILL="$BUILD/bench/log_fill" \
    exec python3 bench/mysql_store.py
