# Shared helpers for bench/http_*.sh (sourced). Public tools only: wrk,
# nginx from Debian; installs them with apt-get when missing (as root).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SALESFLOW_BIN:-$ROOT/build/salesflow}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
WRK_THREADS=${WRK_THREADS:-2}
TMP=$(mktemp -d /tmp/sf-bench-XXXXXX)
PIDS=""

need() {
    missing=""
    for p in "$@"; do command -v "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    pkgs=$(echo "$missing" | sed 's/nginx/nginx-light/')
    echo "bench: installing$pkgs" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs
    # The package may enable and start a system nginx: we only want ours.
    if command -v update-rc.d >/dev/null; then $sudo update-rc.d nginx disable >/dev/null 2>&1 || true; fi
    if command -v systemctl >/dev/null; then $sudo systemctl disable --now nginx >/dev/null 2>&1 || true; fi
}

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench: nothing listens on port $1" >&2
    exit 1
}

# start_salesflow PORT [args…]: salesflow run on a fresh data dir.
start_salesflow() {
    port=$1
    shift
    "$BIN" run --listen 127.0.0.1:"$port" --data "$TMP/sf-data-$port" "$@" \
        2>"$TMP/salesflow-$port.log" &
    PIDS="$PIDS $!"
    SF_PID=$!
    wait_port "$port"
}

# start_nginx PORT: nginx answering every request with a static 201 and the
# same JSON body /orderitem returns, same worker count as our HTTP threads.
start_nginx() {
    port=$1
    mkdir -p "$TMP/nginx"
    cat > "$TMP/nginx/nginx.conf" <<CONF
worker_processes ${NGINX_WORKERS:-2};
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
        location / {
            default_type application/json;
            client_body_buffer_size 1m;
            return 201 '{"status":"success","message":"Stock entry created","order_id":"01a22568-cec3-7000-9ab6-8508f027782a"}';
        }
    }
}
CONF
    nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" &
    PIDS="$PIDS $!"
    wait_port "$port"
}

# run_wrk URL [BODY_FILE CONTENT_TYPE] → prints "rps p50_ms p99_ms non2xx"
run_wrk() {
    out=$(BODY_FILE=${2:-} CONTENT_TYPE=${3:-application/json} \
          CONTENT_ENCODING=${CONTENT_ENCODING:-} \
          wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency \
              -s "$ROOT/bench/wrk_post.lua" "$1")
    echo "$out" >> "$TMP/wrk.out"
    rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '/^p50_ms/ {print $2}')
    p99=$(echo "$out" | awk '/^p99_ms/ {print $2}')
    bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    echo "$rps $p50 $p99 ${bad:-0}"
}

# ndjson_batch FILE N: N random valid orders as NDJSON (the same every time:
# seed 1), the batch every NDJSON bench posts.
ndjson_batch() {
    python3 - "$1" "$2" <<'PY'
import json, random, sys
rnd = random.Random(1)
src = ["Dine In", "Takeaway", "Home Delivery"]
with open(sys.argv[1], "w") as f:
    for _ in range(int(sys.argv[2])):
        f.write(json.dumps({"customer_id": rnd.randint(1, 17), "source": rnd.choice(src),
                            "quantity": rnd.randint(1, 100)}) + "\n")
PY
}

machine() {
    echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))," \
         "$(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr)," \
         "$(df -T "$TMP" | awk 'NR==2 {print $2}') on $(df "$TMP" | awk 'NR==2 {print $1}')"
}
