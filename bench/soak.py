#!/usr/bin/env python3
"""bench/soak.py — a long steady run of `salesflow run` (issue 21; `make
soak SOAK_MINUTES=N`).

Load, all at once for SOAK_MINUTES:
  - single orders: `salesflow gen --rate` (C, keep-alive, 8 connections) to
    /orderitem, SOAK_RATE/2 orders/s less the probe's share;
  - batches: NDJSON to /v1/orders, 50 rows every 20 ms (SOAK_RATE/2);
  - a probe: 20 single orders/s with their own order_id to /v1/orders; each
    one's ack time, and its freshness: from the 201 to the first read of
    the SQLite store (read-only, WAL, a primary-key lookup every 2 ms) that
    holds its row;
  - 50 SSE viewers on /api/stream, each counting commit notices;
  - queries: /api/sales, /api/sales/minute, /api/sales/second,
    /api/orders?limit=20, /api/pipeline, round robin, 20 per second.

Every SAMPLE_S seconds it records the server's RSS and open descriptors
(/proc), the processor's lag (/metrics), the ack p99 of the probe's single
orders and of the batches, the probe's freshness p99, and orders/s; and
counts lines with level=error in the server's log. At the end it writes
DIR/soak.csv, DIR/soak.svg (a plot drawn here, no plotting library),
DIR/summary.md (the figures), and checks:
  - RSS and open descriptors grow at most 5 % from the first window after
    warm-up (WARMUP_S) to the last;
  - ack p99 <= 50 ms (single orders and batches); freshness p99 <= 100 ms
    (over all samples after warm-up);
  - no error lines, no request that was not answered 201.
Exit status 0 when all hold, 1 otherwise. Usage:
  bench/soak.py --bin build/salesflow --minutes 30 --out DIR
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid

SOURCES = ["Dine In", "Takeaway", "Home Delivery"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


class Soak:
    def __init__(self, a):
        self.a = a
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ack_single, self.ack_batch, self.fresh = [], [], []   # this window
        self.all_single, self.all_batch, self.all_fresh = [], [], []
        self.pending = {}          # probe order_id -> t_ack
        self.bad = []              # (what, status/exception)
        self.batch_rows = 0
        self.sse_events = [0] * a.viewers
        self.queries = 0

    # --- server --------------------------------------------------------
    def start_server(self):
        a = self.a
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.data = os.path.join(a.out, "data")
        self.errlog = os.path.join(a.out, "salesflow.log")
        self.server = subprocess.Popen(
            [a.bin, "run", "--listen", "127.0.0.1:%d" % self.port, "--data", self.data,
             "--threads", str(a.threads), *a.server_args.split()],
            stdout=subprocess.DEVNULL, stderr=open(self.errlog, "w"))
        for _ in range(300):
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("soak: the server did not become ready; see " + self.errlog)

    def get(self, path, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    # --- load ----------------------------------------------------------
    def batches(self, per_s):
        rnd = random.Random(7)
        rows, every = 50, 50.0 / per_s
        bodies = ["".join(json.dumps({"customer_id": rnd.randint(1, 17),
                                      "source": rnd.choice(SOURCES),
                                      "quantity": rnd.randint(1, 100)}) + "\n"
                          for _ in range(rows)) for _ in range(64)]
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        t0, i = time.monotonic(), 0
        while not self.stop.is_set():
            due = t0 + i * every
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            elif now - due > 1.0:
                t0, i = now, 0      # behind by a second: do not burst to catch up
            t = time.monotonic()
            try:
                c.request("POST", "/v1/orders", bodies[i % 64],
                          {"Content-Type": "application/x-ndjson"})
                r = c.getresponse()
                r.read()
                dt = (time.monotonic() - t) * 1000
                if r.status != 201:
                    self.bad.append(("batch", r.status))
                else:
                    with self.lock:
                        self.ack_batch.append(dt)
                        self.batch_rows += rows
            except (OSError, http.client.HTTPException) as e:
                self.bad.append(("batch", repr(e)))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            i += 1

    def probe(self):
        rnd = random.Random(11)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        t0, i = time.monotonic(), 0
        while not self.stop.is_set():
            due = t0 + i / 20.0
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            oid = "soak-%s" % uuid.UUID(int=rnd.getrandbits(128))
            body = json.dumps({"customer_id": rnd.randint(1, 17), "source": rnd.choice(SOURCES),
                               "quantity": rnd.randint(1, 100), "order_id": oid})
            t = time.monotonic()
            try:
                c.request("POST", "/v1/orders", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                t_ack = time.monotonic()
                if r.status != 201:
                    self.bad.append(("probe", r.status))
                else:
                    with self.lock:
                        self.ack_single.append((t_ack - t) * 1000)
                        self.pending[oid] = t_ack
            except (OSError, http.client.HTTPException) as e:
                self.bad.append(("probe", repr(e)))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            i += 1

    def checker(self):
        db = os.path.join(self.data, "sales.db")
        while not os.path.exists(db) and not self.stop.is_set():
            time.sleep(0.1)
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30,
                              check_same_thread=False)
        while not self.stop.is_set() or self.pending:
            with self.lock:
                ids = list(self.pending)
            if ids:
                # orders_data's key (the probe's ids are not UUIDs, so they
                # are kept as their text): the view `orders` computes its
                # uuid column, and a lookup through it reads every row
                q = "SELECT id FROM orders_data WHERE id IN (%s)" % ",".join("?" * len(ids))
                try:
                    found = [u for (u,) in con.execute(q, ids)]
                except sqlite3.OperationalError:
                    found = []
                t = time.monotonic()
                with self.lock:
                    for u in found:
                        d = (t - self.pending.pop(u)) * 1000
                        self.fresh.append(d)
                if self.stop.is_set() and ids and time.monotonic() - min(
                        self.pending.values(), default=t) > 30:
                    break
            time.sleep(0.002)
        con.close()

    def viewer(self, k):
        while not self.stop.is_set():
            try:
                # Each viewer from its own loopback address: the server
                # allows 8 streams per client address.
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                               source_address=("127.0.%d.%d" % (
                                                   1 + k // 200, 2 + k % 200), 0))
                c.request("GET", "/api/stream")
                r = c.getresponse()
                if r.status != 200:
                    self.bad.append(("sse", r.status))
                    time.sleep(1)
                    continue
                while not self.stop.is_set():
                    line = r.readline()
                    if not line:
                        break
                    if line.startswith(b"event: commit"):
                        self.sse_events[k] += 1
                c.close()
            except (OSError, http.client.HTTPException) as e:
                if not self.stop.is_set():
                    self.bad.append(("sse", repr(e)))
                time.sleep(1)

    def querier(self):
        paths = ["/api/sales", "/api/sales/minute", "/api/sales/second?window=60",
                 "/api/orders?limit=20", "/api/pipeline"]
        i = 0
        while not self.stop.is_set():
            try:
                st, _ = self.get(paths[i % len(paths)])
                if st != 200:
                    self.bad.append(("query", st))
                self.queries += 1
            except OSError as e:
                self.bad.append(("query", repr(e)))
            i += 1
            time.sleep(0.05)

    # --- sampling --------------------------------------------------------
    def metrics(self):
        _, body = self.get("/metrics")
        out = {}
        for line in body.decode().splitlines():
            m = re.match(r"^(salesflow_[a-z_]+)(\{[^}]*\})? (\S+)$", line)
            if m:
                out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
        return out

    def sample(self, t_rel, accepted_prev):
        pid = self.server.pid
        with open("/proc/%d/status" % pid) as f:
            rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        fds = len(os.listdir("/proc/%d/fd" % pid))
        m = self.metrics()
        with self.lock:
            s, b, fr = self.ack_single, self.ack_batch, self.fresh
            self.ack_single, self.ack_batch, self.fresh = [], [], []
            if t_rel > self.a.warmup_s:      # the figures: after warm-up
                self.all_single += s
                self.all_batch += b
                self.all_fresh += fr
        with open(self.errlog, errors="replace") as f:
            errors = sum(1 for line in f if "level=error" in line)
        acc = m.get("salesflow_orders_accepted_total", 0)
        return {"t_s": round(t_rel), "rss_kb": rss, "fds": fds,
                "lag": int(m.get("salesflow_processor_lag", 0)),
                "ack_single_p99_ms": round(pct(s, 0.99), 1),
                "ack_batch_p99_ms": round(pct(b, 0.99), 1),
                "fresh_p99_ms": round(pct(fr, 0.99), 1),
                "orders_per_s": round((acc - accepted_prev) / self.a.sample_s),
                "error_lines": errors}, acc

    def run(self):
        a = self.a
        os.makedirs(a.out, exist_ok=True)
        self.start_server()
        probe_share = 20
        single_rate = max(1, a.rate // 2 - probe_share)
        gen = subprocess.Popen([a.bin, "gen", "--url", self.url, "--rate", str(single_rate),
                                "--count", "0", "--concurrency", "8", "--seed", "21"],
                               stdout=subprocess.DEVNULL,
                               stderr=open(os.path.join(a.out, "gen.log"), "w"))
        threads = [threading.Thread(target=self.batches, args=(a.rate // 2,)),
                   threading.Thread(target=self.probe), threading.Thread(target=self.checker),
                   threading.Thread(target=self.querier)]
        threads += [threading.Thread(target=self.viewer, args=(k,), daemon=True)
                    for k in range(a.viewers)]
        for t in threads:
            t.start()
        rows, t0 = [], time.monotonic()
        accepted = 0
        end = t0 + a.minutes * 60
        csvf = open(os.path.join(a.out, "soak.csv"), "w")
        try:
            while time.monotonic() < end and self.server.poll() is None:
                time.sleep(max(0, t0 + (len(rows) + 1) * a.sample_s - time.monotonic()))
                row, accepted = self.sample(time.monotonic() - t0, accepted)
                rows.append(row)
                if len(rows) == 1:
                    csvf.write(",".join(row) + "\n")
                csvf.write(",".join(str(v) for v in row.values()) + "\n")
                csvf.flush()
                print("soak: " + " ".join("%s=%s" % kv for kv in row.items()), flush=True)
        finally:
            gen.send_signal(2)
            self.stop.set()
            try:
                gen.wait(30)
            except subprocess.TimeoutExpired:
                gen.kill()
            for t in threads[:4]:
                t.join(60)
            csvf.close()
            died = self.server.poll()
            if died is None:
                self.server.terminate()
                rc = self.server.wait(60)
            else:
                rc = died
            if not self.a.keep:
                shutil.rmtree(self.data, ignore_errors=True)
        return self.report(rows, rc, died)

    # --- report -----------------------------------------------------------
    def report(self, rows, rc, died):
        a = self.a
        warm = [r for r in rows if r["t_s"] > a.warmup_s]
        win = max(1, min(len(warm) // 5, 60 // a.sample_s * 3))   # ~3 min windows
        first, last = warm[:win], warm[-win:]

        def growth(key):
            if not first:
                return float("nan")
            f = sum(r[key] for r in first) / len(first)
            l_ = sum(r[key] for r in last) / len(last)
            return (l_ - f) / f * 100

        rss_g, fd_g = growth("rss_kb"), growth("fds")
        single99, batch99 = pct(self.all_single, 0.99), pct(self.all_batch, 0.99)
        fresh99 = pct(self.all_fresh, 0.99)
        errors = rows[-1]["error_lines"] if rows else -1
        rate = (sum(r["orders_per_s"] for r in warm) / len(warm)) if warm else 0
        checks = [
            ("RSS growth after warm-up <= 5 %", "%.1f %%" % rss_g, rss_g <= 5),
            ("open fds growth after warm-up <= 5 %", "%.1f %%" % fd_g, fd_g <= 5),
            ("ack p99, single orders <= 50 ms", "%.1f ms" % single99, single99 <= 50),
            ("ack p99, 50-row batches <= 50 ms", "%.1f ms" % batch99, batch99 <= 50),
            ("freshness p99 <= 100 ms", "%.1f ms" % fresh99, fresh99 <= 100),
            ("error lines in the server's log = 0", str(errors), errors == 0),
            ("requests not answered 201 = 0", str(len(self.bad)), not self.bad),
            ("server ran to the end and exited 0", str(rc), died is None and rc == 0),
        ]
        lines = [
            "| figure | value |", "|---|---|",
            "| duration | %g min (sample every %d s, warm-up %d s) |" % (
                a.minutes, a.sample_s, a.warmup_s),
            "| server | `salesflow run --threads %d %s` |" % (a.threads, a.server_args),
            "| orders/s reached (mean after warm-up) | %.0f (target %d) |" % (rate, a.rate),
            "| RSS first → last window | %.1f → %.1f MiB |" % (
                sum(r["rss_kb"] for r in first) / max(1, len(first)) / 1024,
                sum(r["rss_kb"] for r in last) / max(1, len(last)) / 1024),
            "| open fds first → last window | %.0f → %.0f |" % (
                sum(r["fds"] for r in first) / max(1, len(first)),
                sum(r["fds"] for r in last) / max(1, len(last))),
            "| ack p50 / p99 / max after warm-up, single (probe, %d) | %.1f / %.1f / %.1f ms |" % (
                len(self.all_single), pct(self.all_single, .5), single99,
                max(self.all_single or [float("nan")])),
            "| ack p50 / p99 / max after warm-up, batches (%d) | %.1f / %.1f / %.1f ms |" % (
                len(self.all_batch), pct(self.all_batch, .5), batch99,
                max(self.all_batch or [float("nan")])),
            "| freshness p50 / p99 / max after warm-up (%d) | %.1f / %.1f / %.1f ms |" % (
                len(self.all_fresh), pct(self.all_fresh, .5), fresh99,
                max(self.all_fresh or [float("nan")])),
            "| RSS MiB / open fds every 5 min | %s |" % ", ".join(
                "%d: %.1f / %d" % (r["t_s"] // 60, r["rss_kb"] / 1024, r["fds"])
                for r in rows if r["t_s"] % 300 < a.sample_s),
            "| lag max (records) | %d |" % max([r["lag"] for r in rows] or [0]),
            "| SSE viewers / commit notices each (min–max) | %d / %d–%d |" % (
                a.viewers, min(self.sse_events), max(self.sse_events)),
            "| queries answered | %d |" % self.queries,
            "", "| check | measured | |", "|---|---|---|",
        ] + ["| %s | %s | %s |" % (n, v, "pass" if ok else "**FAIL**") for n, v, ok in checks]
        if self.bad:
            lines.append("\nfirst refusals: %s" % self.bad[:5])
        text = "\n".join(lines) + "\n"
        with open(os.path.join(a.out, "summary.md"), "w") as f:
            f.write(text)
        with open(os.path.join(a.out, "soak.svg"), "w") as f:
            f.write(svg(rows, a))
        print(text)
        return 0 if all(ok for _, _, ok in checks) else 1


def svg(rows, a):
    """Four stacked panels over time: RSS (MiB), open fds, ack/freshness
    p99 (ms), lag (records). Plain SVG, drawn here."""
    W, H, L, R, PH, GAP = 900, 660, 70, 20, 120, 36
    series = [("RSS (MiB)", [("rss", [r["rss_kb"] / 1024 for r in rows], "#1f77b4")]),
              ("open fds", [("fds", [r["fds"] for r in rows], "#9467bd")]),
              ("p99 (ms)", [("ack single", [r["ack_single_p99_ms"] for r in rows], "#2ca02c"),
                            ("ack batch", [r["ack_batch_p99_ms"] for r in rows], "#ff7f0e"),
                            ("freshness", [r["fresh_p99_ms"] for r in rows], "#d62728")]),
              ("lag (records)", [("lag", [r["lag"] for r in rows], "#8c564b")])]
    ts = [r["t_s"] for r in rows] or [0]
    tmax = max(ts) or 1
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="16" font-size="13">salesflow soak: %g min at %d orders/s, '
           '%d SSE viewers (x: minutes)</text>' % (L, a.minutes, a.rate, a.viewers)]
    for i, (title, lines) in enumerate(series):
        y0 = 44 + i * (PH + GAP)
        vals = [v for _, vs, _ in lines for v in vs if v == v]
        vmax = max(vals or [1]) * 1.1 or 1
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>'
                   % (L, y0, W - L - R, PH))
        out.append('<text x="%d" y="%d">%s</text>' % (L, y0 - 4, title))
        for frac in (0, 0.5, 1):
            y = y0 + PH - frac * PH
            out.append('<text x="%d" y="%d" text-anchor="end">%s</text>'
                       % (L - 4, y + 4, "%.4g" % (vmax * frac)))
        if a.warmup_s < tmax:
            xw = L + a.warmup_s / tmax * (W - L - R)
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ccc" '
                       'stroke-dasharray="4"/>' % (xw, y0, xw, y0 + PH))
        if title.startswith("p99"):     # the goals: ack 50 ms, freshness 100 ms
            for goal in (50, 100):
                y = y0 + PH - goal / vmax * PH
                out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#888" '
                           'stroke-dasharray="2,3"/><text x="%d" y="%.1f" fill="#888">'
                           '%d ms</text>' % (L, y, W - R, y, W - R - 40, y - 2, goal))
        for k, (name, vs, color) in enumerate(lines):
            pts = " ".join("%.1f,%.1f" % (L + t / tmax * (W - L - R),
                                          y0 + PH - (v if v == v else 0) / vmax * PH)
                           for t, v in zip(ts, vs))
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>'
                       % (color, pts))
            out.append('<text x="%d" y="%d" fill="%s">%s</text>'
                       % (W - R - 220 + 75 * k, y0 + 12, color, name))
        for m in range(0, int(tmax // 60) + 1, max(1, int(tmax // 60) // 10 or 1)):
            x = L + m * 60 / tmax * (W - L - R)
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>'
                       % (x, y0 + PH + 12, m))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default="build/salesflow")
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--rate", type=int, default=5000)
    p.add_argument("--viewers", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sample-s", dest="sample_s", type=int, default=10)
    p.add_argument("--warmup-s", dest="warmup_s", type=int, default=120)
    p.add_argument("--out", default=None)
    p.add_argument("--keep", action="store_true", help="keep the data directory")
    p.add_argument("--server-args", dest="server_args", default="",
                   help="more flags for `salesflow run`, e.g. \"--retention-bytes 64M\"")
    p.add_argument("--plot", metavar="CSV", help="only redraw DIR/soak.svg from a soak.csv")
    a = p.parse_args()
    if a.plot:
        import csv
        rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(a.plot))]
        out = a.out or os.path.dirname(os.path.abspath(a.plot))
        with open(os.path.join(out, "soak.svg"), "w") as f:
            f.write(svg(rows, a))
        return
    a.bin = os.path.abspath(a.bin)
    if a.out is None:
        a.out = tempfile.mkdtemp(prefix="sf-soak-")
    a.out = os.path.abspath(a.out)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print("soak: %s, %g min, %d orders/s, %d viewers, output in %s" % (
        a.bin, a.minutes, a.rate, a.viewers, a.out), flush=True)
    sys.exit(Soak(a).run())


if __name__ == "__main__":
    main()
