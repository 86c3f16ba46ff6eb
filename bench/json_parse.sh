#!/bin/bash
# The JSON comparison behind the ingest side's choice (docs/BENCHMARKS.md):
# jansson, json-c (installed from Debian when missing) and salesflow's two
# paths, on 1,000 NDJSON orders as clients send them, 200 rounds.
#
#   bench/json_parse.sh          (ROUNDS=200)
. "$(dirname "$0")/lib.sh"
if ! pkg-config --exists json-c; then
    echo "bench: installing libjson-c-dev" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends libjson-c-dev >/dev/null
fi
B=$ROOT/${BUILD:-build}
make -C "$ROOT" -s BUILD="${BUILD:-build}" "${BUILD:-build}/bench/json_parse" >/dev/null
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(pkg-config --cflags json-c) \
    -o "$TMP/json_parse_jsonc" "$ROOT/bench/json_parse_jsonc.c" $(pkg-config --libs json-c)
ndjson_batch "$TMP/orders.ndjson" 1000
echo "machine: $(machine)"
"$B/bench/json_parse" "$TMP/orders.ndjson" "${ROUNDS:-200}"
"$TMP/json_parse_jsonc" "$TMP/orders.ndjson" "${ROUNDS:-200}"
