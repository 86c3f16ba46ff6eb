"""bench/query.py — the request list of bench/query.sh and what it does with
it (run through bench/query.sh, which builds, fills and starts what this
needs). Python's standard library only; MariaDB through tests/e2e/mariadb.py,
as bench/mysql_store.py does.

  latency PORT NOW           each request of the list REQUESTS times (one at a
                             time, a new connection each, as a browser's
                             dashboard does), p50 and p99 printed as a table
  load PORT NOW STOP OUT     the query load: CLIENTS clients, each looping over
                             the whole list (client i starting at request i of
                             it), one request at a time, no pause; until the
                             file STOP exists, then the requests in flight
                             finish; appends "start_s case ms status" lines
                             to OUT
  loadstats OUT WINDOWS      p50 and p99 of each request of the load that
                             started inside one of the WINDOWS ("t0 t1" lines:
                             while wrk was running)
  mariadb DATA               a private mariadbd on loopback (temporary
                             directory, stopped at exit), filled from DATA/log
                             by `salesflow replay --store mysql://…` (timed),
                             then `salesflow serve` over it and `latency`

NOW is the end of every range (Unix seconds; "now" for the current time): the
ranges are fixed once, so that orders ingested while the load runs fall
after every ranged request's `to` and the queries' work stays the same.

Environment: REQUESTS (200), SLOW_REQUESTS (10: the whole-range grouping by
customer_id, seconds per request before the customer_id rollups),
CASE_SECONDS (300: a request kind stops earlier once it has run this long;
the table's n says how many were sent), DAYS (365), CLIENTS (4),
SALESFLOW_BIN, MARIADB_POOL (innodb_buffer_pool_size, 2G).
"""

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REQUESTS = int(os.environ.get("REQUESTS", "200"))
SLOW_REQUESTS = int(os.environ.get("SLOW_REQUESTS", "10"))
CASE_SECONDS = float(os.environ.get("CASE_SECONDS", "300"))
DAYS = int(os.environ.get("DAYS", "365"))
CLIENTS = int(os.environ.get("CLIENTS", "4"))


def cases(now_s):
    """(name, url, slow) of every request; ranges end at now_s."""
    now = datetime.fromtimestamp(now_s, timezone.utc)

    def t(dt):
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)
    # ranges that split minutes, hours and days at both ends
    r30 = (t(now - timedelta(days=30, seconds=17.5)), t(now - timedelta(seconds=3.25)))
    r1 = (t(now - timedelta(days=1, minutes=7)), t(now - timedelta(minutes=1, seconds=1)))
    rall = (t(now - timedelta(days=DAYS + 1)), t(now))
    c = [
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
        ("/api/query quantity by customer_id, 30 days", "/api/query",
         {"metric": "quantity", "by": "customer_id", "from": r30[0], "to": r30[1]}),
        ("/api/query quantity by customer_id, whole range", "/api/query",
         {"metric": "quantity", "by": "customer_id", "from": rall[0], "to": rall[1]}),
    ]
    slow = {"/api/query quantity by customer_id, whole range"}
    return [(name, path + ("?" + urllib.parse.urlencode(p) if p else ""), name in slow)
            for name, path, p in c]


def get(port, url):
    """(status, ms) of one GET on a new connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    t0 = time.perf_counter()
    c.request("GET", url)
    r = c.getresponse()
    r.read()
    ms = (time.perf_counter() - t0) * 1000
    c.close()
    return r.status, ms


def pct(lat, q):
    lat = sorted(lat)
    return lat[min(len(lat) - 1, int(len(lat) * q))]


def parse_now(s):
    return time.time() if s == "now" else float(s)


def latency(port, now_s):
    print("| request | n | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for name, url, slow in cases(now_s):
        n = SLOW_REQUESTS if slow else REQUESTS
        lat = []
        t_case = time.time()
        while len(lat) < n and (not lat or time.time() - t_case < CASE_SECONDS):
            status, ms = get(port, url)
            if status != 200:
                sys.exit("bench/query: %s: %d" % (url, status))
            lat.append(ms)
        print("| %s | %d | %.1f | %.1f |" % (name, len(lat), pct(lat, 0.5), pct(lat, 0.99)),
              flush=True)


def load(port, now_s, stop, out):
    cs = cases(now_s)
    rows, errors, mu = [], [], threading.Lock()

    def client(i):
        k = i % len(cs)
        while not os.path.exists(stop):
            t0 = time.time()
            try:
                status, ms = get(port, cs[k][1])
            except (OSError, http.client.HTTPException) as e:
                status, ms = 0, (time.time() - t0) * 1000
                with mu:
                    errors.append("%s: %s\n" % (cs[k][0], e))
            with mu:
                rows.append("%.3f %d %.1f %d\n" % (t0, k, ms, status))
            k = (k + 1) % len(cs)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with open(out, "a") as f:
        f.writelines(rows)
    sys.stderr.writelines("bench/query: load: " + e for e in errors)


def loadstats(out, windows):
    cs = cases(time.time())
    win = [tuple(map(float, line.split())) for line in open(windows) if line.strip()]
    per, bad = {}, {}
    for line in open(out):
        t0, k, ms, status = line.split()
        if not any(a <= float(t0) <= b for a, b in win):
            continue
        if status != "200":
            bad[status] = bad.get(status, 0) + 1
        per.setdefault(int(k), []).append(float(ms))
    print("| request (under ingest load) | n | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    every = []
    for k, (name, _, _) in enumerate(cs):
        lat = per.get(k, [])
        every += lat
        if lat:
            print("| %s | %d | %.1f | %.1f |" % (name, len(lat), pct(lat, 0.5), pct(lat, 0.99)))
        else:
            print("| %s | 0 | – | – |" % name)
    if every:
        print("| every request of the load | %d | %.1f | %.1f |"
              % (len(every), pct(every, 0.5), pct(every, 0.99)))
    if bad:
        print("bench/query: %d requests of the load did not answer 200 (%s)"
              % (sum(bad.values()), ", ".join("%d × %s" % (c, "no answer" if st == "0" else st)
                                             for st, c in sorted(bad.items()))))


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=60):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("bench/query: salesflow serve exited (%d)" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("bench/query: nothing listens on port %d" % port)


def mariadb_bench(data):
    sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
    import mariadb
    ok, why = mariadb.available()
    if not ok:
        sys.exit("bench/query: " + why)
    binary = os.environ.get("SALESFLOW_BIN", os.path.join(ROOT, "build", "salesflow"))
    # bench/query.sh's cleanup sends SIGTERM: stop mariadbd on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    db = mariadb.MariaDB(extra_args=[
        "--innodb-buffer-pool-size=" + os.environ.get("MARIADB_POOL", "2G"),
        "--innodb-log-file-size=512M"])
    serve = None
    try:
        db.start()
        version = db.sql("SELECT VERSION()")[0][0]
        db.create_db("sales")
        uri = db.uri("sales")
        print("bench/query: MariaDB %s: salesflow replay --store mysql://…" % version,
              file=sys.stderr, flush=True)
        t0 = time.time()
        with open(os.path.join(db.tmp, "replay.log"), "w") as log:
            r = subprocess.run([binary, "replay", "--data", data, "--store", uri],
                               stdout=subprocess.DEVNULL, stderr=log)
        fill_s = time.time() - t0
        if r.returncode != 0:
            sys.exit("bench/query: replay into MariaDB failed (%d):\n%s"
                     % (r.returncode, open(log.name).read()[-2000:]))
        rows = int(db.sql("SELECT COUNT(*) FROM orders", db="sales")[0][0])
        size = db.sql("SELECT SUM(data_length + index_length) FROM information_schema.tables"
                      " WHERE table_schema = 'sales'")[0][0]
        print("MariaDB %s (buffer pool %s): %d orders filled by salesflow replay in %.0f s"
              " (%.0f orders/s); tables and indexes %.2f GB"
              % (version, os.environ.get("MARIADB_POOL", "2G"), rows, fill_s, rows / fill_s,
                 int(size or 0) / 1e9))
        print("\nMariaDB, salesflow serve --store mysql://…:\n", flush=True)
        port = free_port()
        serve = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:%d" % port,
                                  "--store", uri],
                                 stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(db.tmp, "serve.log"), "w"))
        wait_port(port, serve)
        latency(port, time.time())
    finally:
        if serve and serve.poll() is None:
            serve.terminate()
            serve.wait(60)
        db.stop()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "latency":
        latency(int(args[0]), parse_now(args[1]))
    elif cmd == "load":
        load(int(args[0]), parse_now(args[1]), args[2], args[3])
    elif cmd == "loadstats":
        loadstats(args[0], args[1])
    elif cmd == "mariadb":
        mariadb_bench(args[0])
    else:
        sys.exit("bench/query.py: unknown command %s" % cmd)


if __name__ == "__main__":
    main()
