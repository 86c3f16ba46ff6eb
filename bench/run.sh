#!/bin/sh
# Run the benchmarks that exist and print their results; see docs/BENCHMARKS.md.
#   make bench            (builds, then runs this)
#   BENCH_DIR=/path sh bench/run.sh   (where the logs are written; default a
#                                      temp dir on the filesystem of /var/tmp)
set -e
BUILD=${BUILD:-build}
dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/salesflow-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "disk: $(df -h "$dir" | awk 'NR==2 {print $1" ("$2")"}')"
echo
echo "== embedded log: durable appends (--fsync always) =="
"$BUILD/bench/log_append" "$dir/append" "${SECONDS_PER_RUN:-5}"
echo
echo "== replay into SQLite =="
"$BUILD/bench/log_fill" "$dir/replay" "${REPLAY_ORDERS:-1000000}" >/dev/null
"$BUILD/salesflow" replay --data "$dir/replay" 2>/dev/null
"$BUILD/bench/sqlite_insert" "$dir/reference.db" "${REPLAY_ORDERS:-1000000}"
