#!/usr/bin/env python3
"""bench/cassandra.py [N] — `salesflow process` writing N orders from an
embedded log into SQLite and, with --raw-store, into the CQL test server
(tests/e2e/cqlserver.py) on loopback. No Cassandra is used: the server is
Python, so its own CPU is reported beside every rate (when it is at ~100 %
of one core, it is the bottleneck, not salesflow).

Rows printed (orders/s, salesflow CPU s, server CPU s):
  sqlite only            process without --raw-store (the reference)
  + cql, count-only      the server counts BATCH rows without decoding them
  + cql, full decode     the server decodes every value and keeps the rows
  build/bench/cql_sink   the CQL client alone (no processor, no SQLite)
                         into the same two server modes
Run from the repository root after `make build/bench/log_fill
build/bench/cql_sink`."""

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import json

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, os.environ.get("BUILD", "build"), "salesflow")
FILL = os.path.join(ROOT, os.environ.get("BUILD", "build"), "bench", "log_fill")
SINK = os.path.join(ROOT, os.environ.get("BUILD", "build"), "bench", "cql_sink")


def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def ctl(cport, line):
    with socket.create_connection(("127.0.0.1", cport)) as s:
        f = s.makefile("rw")
        f.write(line + "\n")
        f.flush()
        return f.readline()


def one(n, logdir, tmp, mode, batch):
    data = tempfile.mkdtemp(dir=tmp)
    shutil.copytree(os.path.join(logdir, "log"), os.path.join(data, "log"))
    db = os.path.join(data, "sales.db")
    args = [BIN, "process", "--broker", "file:" + os.path.join(data, "log"),
            "--data", data, "--store", "sqlite:" + db]
    srv = None
    if mode != "sqlite":
        p, cp = port(), port()
        srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/e2e/cqlserver.py"),
                                "--port", str(p), "--control", str(cp)] +
                               (["--count-only"] if mode == "count" else []),
                               stdout=subprocess.PIPE, text=True)
        assert srv.stdout.readline().strip() == "ready"
        args += ["--raw-store", "cassandra://127.0.0.1:%d/order_ks?batch=%d&consistency=ONE"
                 % (p, batch)]
    t0 = time.time()
    proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    while True:
        time.sleep(0.05)
        try:
            with sqlite3.connect(db, timeout=5) as c:
                got = c.execute("SELECT count(*) FROM orders").fetchone()[0]
        except sqlite3.Error:
            got = 0
        if got >= n:
            break
        if proc.poll() is not None:
            raise SystemExit("process exited: %s" % proc.returncode)
    secs = time.time() - t0
    sf_cpu = cpu_s(proc.pid)
    srv_cpu = rows = None
    if srv:
        st = json.loads(ctl(cp, "stats"))
        srv_cpu, rows = st["cpu_s"], st["row_writes"]
        assert rows >= n, (rows, n)
    proc.terminate()
    proc.wait()
    if srv:
        srv.kill()
        srv.wait()
    shutil.rmtree(data)
    return n / secs, secs, sf_cpu, srv_cpu


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500000
    batch = int(os.environ.get("CQL_BATCH", "50"))
    tmp = tempfile.mkdtemp(prefix="sf-bench-cql-")
    try:
        subprocess.run([FILL, tmp, str(n)], check=True, stdout=subprocess.DEVNULL)
        print("| run | orders/s | wall s | salesflow CPU s (µs/order) | CQL server CPU s "
              "(µs/row) |")
        print("|---|---:|---:|---:|---:|")
        for mode, label in (("sqlite", "`process` → SQLite only (reference)"),
                            ("count", "+ `--raw-store`, server counts rows only"),
                            ("full", "+ `--raw-store`, server decodes and keeps rows")):
            rate, secs, sfc, svc = one(n, tmp, tmp, mode, batch)
            print("| %s, %d orders, %d rows/BATCH | %s | %.2f | %.2f (%.2f) | %s |" % (
                label, n, batch, format(int(rate), ","), secs, sfc, sfc * 1e6 / n,
                "—" if svc is None else "%.2f (%.2f; %.0f %% of one core)" % (
                    svc, svc * 1e6 / n, 100 * svc / secs)),
                flush=True)
        for mode in ("count", "full"):
            p, cp = port(), port()
            srv = subprocess.Popen([sys.executable,
                                    os.path.join(ROOT, "tests/e2e/cqlserver.py"), "--port",
                                    str(p), "--control", str(cp)] +
                                   (["--count-only"] if mode == "count" else []),
                                   stdout=subprocess.PIPE, text=True)
            assert srv.stdout.readline().strip() == "ready"
            out = subprocess.run([SINK, "127.0.0.1", str(p), str(n), str(batch)],
                                 check=True, capture_output=True, text=True).stdout.split()
            st = json.loads(ctl(cp, "stats"))
            srv.kill()
            srv.wait()
            secs = float(out[2])
            cc = float(out[5])
            print("| `bench/cql_sink` (client alone), server %s, %d rows | %s | %.2f | "
                  "%.2f (%.2f) | %.2f (%.2f; %.0f %% of one core) |" % (
                      "counts rows only" if mode == "count" else "decodes and keeps rows",
                      n, format(int(float(out[0])), ","), secs, cc, cc * 1e6 / n,
                      st["cpu_s"], st["cpu_s"] * 1e6 / n, 100 * st["cpu_s"] / secs),
                  flush=True)
        print("load average: %s" % open("/proc/loadavg").read().split()[:3])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
