"""Shared helpers for the end-to-end tests: start the real salesflow binary on
a free loopback port with a temporary data directory, talk HTTP to it, read
its SQLite store and its log files directly, and stop or kill it."""

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import tempfile
import threading
import time
import unittest

BIN = os.path.abspath(os.environ.get("SALESFLOW_BIN", "build/salesflow"))
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# A sanitizer build (make test SANITIZER=...): cleanup() then stops servers
# with SIGTERM first, so that the leak check at exit runs (SIGKILL skips it).
SANITIZED = bool(os.environ.get("SANITIZER"))

STATES = {1: "CA", 2: "CA", 3: "CA", 4: "TX", 5: "TX", 6: "NY", 7: "NY", 8: "NY",
          9: "KS", 10: "KS", 11: "KS", 12: "KS", 13: "KY", 14: "KY", 15: "KY",
          16: "KY", 17: "KY"}
SOURCES = ["Dine In", "Takeaway", "Home Delivery"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, timeout=60):
    """Run the binary with args; returns CompletedProcess (text)."""
    return subprocess.run([BIN, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def vm_rss_kb(pid):
    """A process's resident memory (VmRSS), KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Server:
    """One `salesflow run` process on a free port with its own data dir."""

    def __init__(self, data=None, extra=()):
        self.tmp = None
        if data is None:
            self.tmp = tempfile.mkdtemp(prefix="sf-e2e-")
            data = os.path.join(self.tmp, "data")
        self.data = data
        self.db_path = os.path.join(data, "sales.db")
        self.extra = list(extra)
        self.port = None
        self.proc = None
        self.logfile = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=15):
        self.port = free_port()
        self.stderr_path = self.data.rstrip("/") + ".stderr"
        self.logfile = open(self.stderr_path, "a")
        logged = self.logfile.tell()
        self.proc = subprocess.Popen(
            [BIN, "run", "--listen", "127.0.0.1:%d" % self.port, "--data", self.data,
             *self.extra], cwd=REPO, stdout=self.logfile, stderr=self.logfile)
        deadline = time.time() + timeout
        healthy = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("salesflow exited with %s:\n%s" %
                                   (self.proc.returncode, self.stderr()))
            if not healthy:
                try:
                    if self.get("/healthz")[0] == 200:
                        healthy = time.time()
                except OSError:
                    pass
            # Healthy, and the start-up line (logged just after the listener
            # opens; not at all with --log-level error) written, for the tests
            # that read it right after start().
            if healthy:
                with open(self.stderr_path, "rb") as f:
                    f.seek(logged)
                    if b"listening on" in f.read() or time.time() > healthy + 2:
                        return self
            time.sleep(0.05)
        raise RuntimeError("salesflow did not become healthy:\n" + self.stderr())

    def stderr(self):
        try:
            with open(self.stderr_path) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit status."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("salesflow ignored SIGTERM for %ds" % timeout)
        if self.logfile:
            self.logfile.close()
            self.logfile = None
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.logfile:
            self.logfile.close()
            self.logfile = None

    def cleanup(self):
        if SANITIZED:
            try:
                self.stop()
            except RuntimeError:
                pass
        self.kill()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- HTTP -------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30, source=None):
        """source: the client's address (127.0.0.2, …), else the kernel's."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                       source_address=(source, 0) if source else None)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read(), dict(r.getheaders())
        finally:
            c.close()

    def get(self, path):
        status, body, _ = self.request("GET", path)
        return status, body

    def post_json(self, path, obj, raw=None, ctype="application/json"):
        body = raw if raw is not None else json.dumps(obj).encode()
        headers = {"Content-Type": ctype} if ctype else {}
        status, data, _ = self.request("POST", path, body, headers)
        return status, data

    def metric(self, name):
        """The value of an unlabelled metric in /metrics."""
        status, body = self.get("/metrics")
        assert status == 200, status
        m = re.search(rb"^" + re.escape(name.encode()) + rb" ([0-9.e+-]+)$", body, re.M)
        assert m, "%s not in /metrics" % name
        return float(m.group(1))

    def api_sales(self):
        status, body = self.get("/api/sales")
        assert status == 200, (status, body)
        return json.loads(body, parse_float=str)  # keep amounts exact

    # --- store and log ----------------------------------------------------
    def db(self):
        return sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True, timeout=30)

    def query(self, sql, args=()):
        con = self.db()
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def order_count(self):
        try:
            return self.query("SELECT count(*) FROM orders")[0][0]
        except sqlite3.OperationalError:
            return 0

    def log_records(self):
        """Every record in the log, read straight from the segment files:
        {partition: [json bytes, ...]}. Only complete batches are counted."""
        return read_log(os.path.join(self.data, "log"))

    def log_bytes(self):
        """A snapshot of the log files' contents, for 'unchanged' checks."""
        snap = {}
        root = os.path.join(self.data, "log")
        for dirpath, _, files in os.walk(root):
            for f in files:
                p = os.path.join(dirpath, f)
                with open(p, "rb") as fh:
                    snap[os.path.relpath(p, root)] = fh.read()
        return snap

    def wait_processed(self, expect=None, timeout=60):
        """Wait until the orders table holds `expect` rows (default: as many
        as the log holds records). Returns the count."""
        deadline = time.time() + timeout
        while True:
            want = expect if expect is not None else \
                sum(len(v) for v in self.log_records().values())
            got = self.order_count()
            if got == want:
                return got
            if time.time() > deadline:
                raise AssertionError("orders has %d rows, expected %d" % (got, want))
            time.sleep(0.1)


def read_log(root):
    out = {}
    if not os.path.isdir(root):
        return out
    for d in sorted(os.listdir(root)):
        if not d.startswith("Order-"):
            continue
        part = int(d.split("-", 1)[1])
        recs = []
        seg = os.path.join(root, d, "00000000000000000000.log")
        with open(seg, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 40 <= len(data):
            magic, ver, length = data[pos:pos + 4], data[pos + 4], \
                struct.unpack_from("<I", data, pos + 8)[0]
            if magic != b"SFLB" or ver != 1 or pos + length > len(data):
                break
            count = struct.unpack_from("<I", data, pos + 24)[0]
            rp = pos + 40
            for _ in range(count):
                (n,) = struct.unpack_from("<I", data, rp)
                recs.append(data[rp + 4:rp + 4 + n])
                rp += 4 + n
            pos += length
        out[part] = recs
    return out


def random_orders(n, seed):
    rnd = random.Random(seed)
    return [{"customer_id": rnd.randint(1, 17), "source": rnd.choice(SOURCES),
             "quantity": rnd.randint(1, 100)} for _ in range(n)]


def post_many(server, orders, threads=8):
    """POST every order to /orderitem over keep-alive connections from
    several threads. Returns a list of (order, status, response dict)."""
    results = [None] * len(orders)
    idx = iter(range(len(orders)))
    lock = threading.Lock()

    def work():
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        while True:
            with lock:
                i = next(idx, None)
            if i is None:
                break
            body = json.dumps(orders[i])
            c.request("POST", "/orderitem", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            results[i] = (orders[i], r.status, json.loads(data))
        c.close()

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def expected_sales(rows):
    """rows: iterable of (source, state, total_cents, quantity) → dict keyed by
    (source, state) of [total_cents, count, quantity]."""
    agg = {}
    for source, state, cents, qty in rows:
        a = agg.setdefault((source, state), [0, 0, 0])
        a[0] += cents
        a[1] += 1
        a[2] += qty
    return agg


def cents(text):
    """'2100.00' (or a number printed with two decimals) → 210000, exactly."""
    s = str(text)
    units, _, frac = s.partition(".")
    return int(units) * 100 + int((frac + "00")[:2])


# --- ingestion API helpers (tests/e2e/test_ingest_*.py) -------------------

def send_raw(port, data, timeout=10, wait_close=False):
    """Send raw bytes on a new connection and return what comes back: the
    first reply, or (wait_close) everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(data)
        got = b""
        while True:
            try:
                chunk = c.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
            if not wait_close and b"\r\n\r\n" in got:
                head, _, rest = got.partition(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":", 1)[1])
                if len(rest) >= n:
                    break
        return got


def post_v1(server, body, ctype="application/json", headers=None):
    """POST /v1/orders; body is a list/dict (sent as JSON) or bytes.
    Returns (status, parsed JSON reply)."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body).encode()
    h = dict(headers or {})
    if ctype:
        h["Content-Type"] = ctype
    status, data, _ = server.request("POST", "/v1/orders", body, h)
    return status, json.loads(data)


def ndjson(rows):
    """Encode a list of dicts (or raw str/bytes lines) as NDJSON bytes."""
    out = []
    for r in rows:
        if isinstance(r, bytes):
            out.append(r)
        elif isinstance(r, str):
            out.append(r.encode())
        else:
            out.append(json.dumps(r).encode())
    return b"\n".join(out) + b"\n"


def log_values(server):
    """Every record in the log as a parsed dict, all partitions together."""
    return [json.loads(v) for recs in server.log_records().values() for v in recs]


def check_acked_stored(tc, server, acked, timeout=60):
    """The promise of a 201, on a SQLite store: every acknowledged order_id
    in `acked` is in `orders` exactly once (waiting up to timeout for the
    processor), and `sales` equals the sums over `orders` per (source,
    state). Returns the number of rows in orders."""
    acked = set(acked)
    deadline = time.time() + timeout
    while True:
        ids = [u for (u,) in server.query("SELECT uuid FROM orders")]
        missing = acked - set(ids)
        if not missing or time.time() > deadline:
            break
        time.sleep(0.2)
    tc.assertEqual(len(ids), len(set(ids)), "an order_id is stored twice")
    tc.assertTrue(not missing, "%d of %d acknowledged orders are not stored, e.g. %s"
                   % (len(missing), len(acked), sorted(missing)[:3]))
    agg = server.query("SELECT source, state, sum(total_cents), count(*),"
                       " sum(quantity) FROM orders GROUP BY source, state"
                       " ORDER BY 1, 2")
    sales = server.query("SELECT source, state, total_sum_cents, order_count,"
                         " quantity FROM sales ORDER BY 1, 2")
    tc.assertEqual(sales, agg, "sales is not the sum over orders")
    return len(ids)


def wait_until(pred, timeout, what):
    """pred()'s first true value, polled every 50 ms for `timeout` s."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def split_replies(data):
    """Split a byte stream into (status, headers dict, body) replies."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        n = int(headers.get("content-length", 0))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


class StreamCase(unittest.TestCase):
    """A server per test and the raw sockets it opened (self.socks),
    closed afterwards."""

    def setUp(self):
        self.s = Server().start()
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        self.s.cleanup()


def thread_stat(pid, field):
    """{thread name: [value, ...]} of field (numbered as in proc(5)'s
    /proc/PID/stat) of each thread of a process."""
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
            st = f.read()
        name = st[st.index("(") + 1:st.rindex(")")]
        out.setdefault(name, []).append(int(st[st.rindex(")") + 2:].split()[field - 3]))
    return out


def thread_nices(pid):
    """{thread name: [nice, ...]} of a process."""
    return thread_stat(pid, 19)


def thread_policies(pid):
    """{thread name: [scheduling policy, ...]} of a process (SCHED_IDLE: 5)."""
    return thread_stat(pid, 41)
