"""Abuse on loopback: each case floods one real `salesflow run` (temp data
dir, --fsync always) from this process while a normal client, a separate
process, keeps posting valid orders to POST /orderitem on a kept-alive
connection. For every case the normal client must get 201 for every request
with p99 < 100 ms, and the server's RSS (VmRSS of /proc/PID/status, sampled
every 50 ms during the case and once after) must stay under a cap; the
figures are printed ("abuse: ..." lines) so they end up in the test output.

  1. idle: 10,000 connections opened and held, then 200 more past the cap
  2. slow headers (slowloris): 1,000 connections dribbling header bytes
  3. slow bodies: 1,000 connections dribbling a Content-Length body
  4. pipelined garbage on kept-alive connections, 50 at a time for 3 s
  5. a 10 GiB Content-Length (and a 10 GiB chunk) that never arrives

Afterwards the server is alive, /healthz answers, and the log holds exactly
the orders that were answered 201.

Design notes.
- The normal client runs open loop: request i is due at t0 + i * 10 ms and
  its latency is counted from when it was due, not from when it could be
  sent. A server that stalls for S ms then shows S/10 slow samples rather
  than one (coordinated omission), so a single stall of ~130 ms fails the
  p99. It is a separate process so that the flood's Python loop (and the
  GIL) does not add to its latency.
- Noise: on a shared machine other processes' CPU or a slow disk (every 201
  waits for an fdatasync) can push the p99 over without any fault of the
  server. Each case prints the CPU other processes used meanwhile and the
  log's fsyncs over 50 ms (from /metrics); a case whose p99 is over while
  either shows contention is run once more, and only that second result
  counts; contended twice, the p99 is reported and not judged (the other
  checks still are). On an idle machine nothing is re-run, and a server
  that stalls fails.
- Connection cap (case 1): the server runs with --max-connections 10000,
  the default. The normal client, like a point-of-sale till, keeps its
  connection alive, so it holds one slot and the idle flood fills the rest:
  9,999 are held, and every connection past the cap must be refused at once
  (503, closed), not left unanswered in the listen backlog; orders sent on
  refused connections must not be stored. A new connection from a
  well-behaved client is refused too while the cap is full; what frees the
  slots is --header-timeout, which closes a connection that has not sent
  its headers in time (408). Sizing --max-connections above the expected
  clients plus a flood (~4.5 KiB of RSS per idle connection, printed below)
  is the operator's choice.
- Timeouts are short (--header-timeout 3, --body-timeout 2) to keep the file
  fast; the header timeout is 3 s, not 2, so that the 10,000 idle
  connections are all open at once before the first of them expires.
- Everything is bounded: connection counts are fixed, every loop has a
  deadline, the normal client stops by itself after 120 s, and every socket
  is closed at the end of its case.
- Under a sanitizer build (ASan/TSan/MSan) latency and RSS are printed, not
  judged, and deadlines get three times the slack.
"""

import json
import os
import random
import re
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Server, log_values, send_raw, vm_rss_kb  # noqa: E402


def sanitized():
    """Is the binary built with ASan/TSan/MSan? It is then several times
    slower and bigger by design."""
    if os.environ.get("SANITIZER"):
        return True
    try:
        with open(BIN, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return any(s in data for s in (b"__asan_init", b"__tsan_init", b"__msan_init"))


SANITIZED = sanitized()
SLACK = 3.0 if SANITIZED else 1.0
HEADER_TIMEOUT = 3          # s, --header-timeout
BODY_TIMEOUT = 2            # s, --body-timeout
MAX_CONNECTIONS = 10000     # --max-connections (the default, stated)
IDLE = 10000                # case 1: idle connections
PAST_CAP = 200              # case 1: more, once the cap is full
SLOW = 1000                 # cases 2 and 3: slow connections
INTERVAL = 0.010            # normal client: one order due every 10 ms
P99_MS = 100.0
MIN_SAMPLES = 200
REAP_SLACK = 2.0 * SLACK    # s: a deadline is enforced within this (reaper ticks, load)
REFUSE_WITHIN = 1.0 * SLACK  # s: a connection past the cap is closed within this
# RSS caps. The server starts at ~11 MB; an open idle connection costs
# ~4.5 KiB (libmicrohttpd's connection and the touched pages of its 32 KiB
# pool, our tracker), so 10,000 of them peak at ~57 MB, and the allocator
# keeps most of that afterwards. 96 MB leaves room for allocator slack and
# other builds, and fails if each connection touched its whole pool
# (10,000 x 32 KiB = 320 MB) or buffered a body.
RSS_CAP_KB = 96 * 1024
# The other cases hold at most ~1,000 connections at once (measured growth
# under 5 MB); none may grow the RSS by more than this...
RSS_GROWTH_KB = 24 * 1024
# ... and 400 connections declaring 10 GiB bodies by less than this (a 1 MiB
# buffer reserved for each would be 400 MB).
RSS_GROWTH_10GIB_KB = 8 * 1024
# Contention that earns a case one re-run when its p99 is over: other
# processes used this share of one CPU meanwhile, or an fsync took > 50 ms.
OTHERS_CPU_SHARE = 0.25

GOOD_ORDER = {"customer_id": 3, "source": "Dine In", "quantity": 7}


def order_request(order):
    body = json.dumps(order).encode()
    return (b"POST /orderitem HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


# --- the normal client (this file, run as a separate process) -------------

def normal_client_main(port, interval, limit_s=120.0):
    """Post valid orders, one due every `interval` s, on one kept-alive
    connection (reconnecting after a failure), until a line or EOF arrives
    on stdin (or limit_s). Prints "ready" once its connection is accepted,
    and at the end one JSON object: t0 (monotonic), samples [[due - t0,
    latency, status]] in seconds, the 201 order_ids, the errors, its CPU."""
    import http.client
    import select

    rnd = random.Random(port)

    def connect():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.connect()
        return c

    conn = connect()
    conn.request("GET", "/healthz")
    conn.getresponse().read()
    print("ready", flush=True)
    samples, ids, errors = [], [], []
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < limit_s:
        due = t0 + i * interval
        i += 1
        ready, _, _ = select.select([sys.stdin], [], [], max(0.0, due - time.monotonic()))
        if ready:
            break
        order = {"customer_id": rnd.randint(1, 17),
                 "source": rnd.choice(["Dine In", "Takeaway", "Home Delivery"]),
                 "quantity": rnd.randint(1, 100)}
        status = 0
        try:
            if conn is None:
                conn = connect()
            conn.request("POST", "/orderitem", json.dumps(order),
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            status = resp.status
            if status == 201:
                ids.append(json.loads(data)["order_id"])
            else:
                errors.append("%d %s" % (status, data[:200].decode("utf-8", "replace")))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            errors.append(repr(e))
            if conn is not None:
                conn.close()
            conn = None
        samples.append((due - t0, time.monotonic() - due, status))
    json.dump({"t0": t0, "samples": samples, "ids": ids, "errors": errors,
               "cpu": sum(os.times()[:2])}, sys.stdout)
    sys.stdout.flush()


class NormalClient:
    def __init__(self, port):
        self.p = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--normal-client", str(port),
             str(INTERVAL)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if line.strip() != "ready":
            self.kill()
            raise RuntimeError("normal client did not start: %r" % line)

    def stop(self):
        """Stop it and return its results."""
        out, _ = self.p.communicate("stop\n", timeout=60)
        return json.loads(out)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, int(round(p / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[k]


# --- the server's memory, sockets and CPU; the machine's CPU -----------------

def socket_count(pid):
    n = 0
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            if os.readlink(os.path.join(d, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds():
    """CPU time all processes used at normal priority (niced work, such as
    a fuzzer at nice 19, hardly competes and is left out)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, _nice, system, _idle, _iowait, irq, softirq = v[:7]
    steal = v[7] if len(v) > 7 else 0
    return (user + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def slow_fsyncs(server):
    """How many log fsyncs have taken over 50 ms (from /metrics)."""
    try:
        status, body = server.get("/metrics")
    except OSError:
        return 0
    text = body.decode("utf-8", "replace")
    m_all = re.search(r'^salesflow_log_fsync_seconds_count (\d+)', text, re.M)
    m_fast = re.search(r'^salesflow_log_fsync_seconds_bucket\{le="0\.05"\} (\d+)', text, re.M)
    if status != 200 or not m_all or not m_fast:
        return 0
    return int(m_all.group(1)) - int(m_fast.group(1))


class Sampler(threading.Thread):
    """VmRSS every 50 ms and the server's socket count every 250 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.rss_peak = 0
        self.sock_peak = 0
        self.stopping = threading.Event()

    def run(self):
        n = 0
        while not self.stopping.is_set():
            try:
                self.rss_peak = max(self.rss_peak, vm_rss_kb(self.pid))
                if n % 5 == 0:
                    self.sock_peak = max(self.sock_peak, socket_count(self.pid))
            except OSError:
                return          # the server is gone; the case will say so
            n += 1
            self.stopping.wait(0.05)

    def stop(self):
        self.stopping.set()
        self.join()


# --- flooding connections --------------------------------------------------

class Conn:
    __slots__ = ("sock", "opened", "closed", "got", "tag", "drip")

    def __init__(self, sock, tag=None, drip=b""):
        self.sock = sock
        self.opened = time.monotonic()
        self.closed = None          # when the server's close was seen
        self.got = b""
        self.tag = tag
        self.drip = drip

    def statuses(self):
        return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", self.got)]

    def life(self):
        return None if self.closed is None else self.closed - self.opened


class Flood:
    """Many client sockets in one selector; records what each receives and
    when the server closes it."""

    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.conns = []

    def open_nonblocking(self, tag=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", self.port))
        c = Conn(s, tag)
        self.conns.append(c)
        if err not in (0, 115):     # EINPROGRESS
            c.closed = c.opened
        else:
            self.sel.register(s, selectors.EVENT_READ, c)
        return c

    def open(self, first=b"", tag=None, drip=b""):
        """Connect (blocking), send `first`, then watch the socket."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        c = Conn(s, tag, drip)
        self.conns.append(c)
        try:
            if first:
                s.sendall(first)
        except OSError:
            pass            # the server answered and closed early: read it
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, c)
        return c

    def _closed(self, c):
        if c.closed is None:
            c.closed = time.monotonic()
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass

    def open_count(self):
        return sum(1 for c in self.conns if c.closed is None)

    def pump(self, until, tick=None, every=0.1):
        """Read until every connection is closed by the server or `until`
        (monotonic) passes; call tick() every `every` s."""
        next_tick = time.monotonic() + every
        while self.open_count() and time.monotonic() < until:
            timeout = max(0.0, min(until, next_tick) - time.monotonic())
            for key, _ in self.sel.select(timeout):
                c = key.data
                try:
                    data = c.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    if len(c.got) < 65536:
                        c.got += data
                else:
                    self._closed(c)
            if tick and time.monotonic() >= next_tick:
                tick()
                next_tick = time.monotonic() + every

    def dribble(self):
        """Send one more byte of each open connection's drip."""
        for c in self.conns:
            if c.closed is not None or not c.drip:
                continue
            b, c.drip = c.drip[:1], c.drip[1:] + c.drip[:1]
            try:
                c.sock.send(b)
            except BlockingIOError:
                pass
            except OSError:
                self._closed(c)

    def close_all(self):
        for c in self.conns:
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
        self.sel.close()


# --- the test ----------------------------------------------------------------

def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    for limits in ((want, max(hard, want)), (min(want, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class AbuseTest(unittest.TestCase):
    acked = []          # order_ids the normal client got 201 for, all cases

    @classmethod
    def setUpClass(cls):
        # Our flood plus the server's descriptors (it inherits this limit and
        # raises its own soft limit to fit --max-connections when it can).
        cls.nofile = raise_nofile(MAX_CONNECTIONS + IDLE // 2 + 1024)
        cls.t_start = time.monotonic()
        cls.s = Server(extra=["--header-timeout", str(HEADER_TIMEOUT),
                              "--body-timeout", str(BODY_TIMEOUT),
                              "--max-connections", str(MAX_CONNECTIONS)]).start()
        cls.pid = cls.s.proc.pid

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()
        print("abuse: whole file %.1f s%s" % (time.monotonic() - cls.t_start,
                                             " (sanitizer build)" if SANITIZED else ""))
        sys.stdout.flush()

    def mark(self, what):
        self.marks.append((what, time.monotonic()))

    def run_case(self, name, flood_fn, growth_cap_kb=RSS_GROWTH_KB):
        """Run flood_fn (it returns a dict of figures) while the normal
        client posts and the sampler watches; check and print. Re-run once
        if only the p99 failed, under contention. Returns flood_fn's dict."""
        for attempt in (1, 2):
            stats, p99, contended = self._run_case_once(name, flood_fn, growth_cap_kb)
            if SANITIZED or p99 < P99_MS:
                return stats
            if attempt == 1 and contended:
                print("abuse:   p99 over %.0f ms under contention: running %s once more"
                      % (P99_MS, name))
                continue
            if contended:
                # Other processes took the CPU (or the disk stalled) both
                # times: the p99 says nothing about the server then. Every
                # other check of the case (each normal order 201, RSS,
                # sockets, what was stored) has held.
                print("abuse:   p99 %.1f ms during %s under contention again: the "
                      "latency is not judged on so busy a machine" % (p99, name))
                return stats
            self.fail("normal client p99 %.1f ms during %s (limit %.0f ms), with no "
                      "contention seen" % (p99, name, P99_MS))

    def _run_case_once(self, name, flood_fn, growth_cap_kb):
        self.assertIsNone(self.s.proc.poll(), "salesflow is not running")
        self.marks = []
        base_socks = socket_count(self.pid)
        rss_before = vm_rss_kb(self.pid)
        fsyncs0 = slow_fsyncs(self.s)
        sampler = Sampler(self.pid)
        sampler.start()
        client = NormalClient(self.s.port)
        t0 = time.monotonic()
        cpu0, own0, busy0 = cpu_seconds(self.pid), sum(os.times()[:2]), machine_busy_seconds()
        try:
            stats = flood_fn()
            took = time.monotonic() - t0
            cpu = cpu_seconds(self.pid) - cpu0
            own = sum(os.times()[:2]) - own0
            busy = machine_busy_seconds() - busy0
        finally:
            try:
                res = client.stop()
            finally:
                client.kill()
        others = max(0.0, busy - cpu - own - res["cpu"])
        # After: wait for the server to close what the flood left (our
        # sockets are closed by now), then sample once more.
        deadline = time.monotonic() + 10
        while socket_count(self.pid) > base_socks + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        sampler.stop()
        alive = self.s.proc.poll() is None
        rss_after = vm_rss_kb(self.pid) if alive else 0
        rss_peak = max(sampler.rss_peak, rss_after)
        fsyncs = slow_fsyncs(self.s) - fsyncs0 if alive else 0
        lat = sorted(x[1] * 1000.0 for x in res["samples"])
        statuses = [x[2] for x in res["samples"]]
        AbuseTest.acked.extend(res["ids"])
        p99 = pct(lat, 99)
        print("abuse: %-12s %4.1f s  normal client n=%d p50=%.1f ms p99=%.1f ms max=%.1f ms "
              "non-201=%d | RSS before/peak/after %.1f/%.1f/%.1f MB | server sockets peak %d "
              "| CPU s server %.1f flood %.1f others %.1f | fsyncs>50ms %d | %s" % (
                  name, took, len(lat), pct(lat, 50), p99,
                  lat[-1] if lat else float("nan"),
                  sum(1 for s in statuses if s != 201),
                  rss_before / 1024, rss_peak / 1024, rss_after / 1024,
                  sampler.sock_peak - 1, cpu, own, others, fsyncs,
                  " ".join("%s=%s" % kv for kv in stats.items())))
        if p99 >= P99_MS or os.environ.get("ABUSE_VERBOSE"):
            # When it was slow, against what the flood was doing.
            slow = sorted(res["samples"], key=lambda x: -x[1])[:12]
            print("abuse:   slowest (s since start: ms): " + ", ".join(
                "%.2f: %.0f" % (res["t0"] + due - t0, l * 1000) for due, l, _ in slow))
            if self.marks:
                print("abuse:   flood: " + ", ".join(
                    "%.2f %s" % (t - t0, w) for w, t in self.marks))
        sys.stdout.flush()

        self.assertTrue(alive, "salesflow died during %s:\n%s" % (name, self.s.stderr()[-3000:]))
        self.assertGreaterEqual(len(lat), MIN_SAMPLES, "too few normal-client samples")
        self.assertEqual(res["errors"], [], "normal client got errors")
        self.assertTrue(all(s == 201 for s in statuses))
        if not SANITIZED:
            self.assertLess(rss_peak, RSS_CAP_KB, "RSS peak during %s" % name)
            if growth_cap_kb is not None:
                self.assertLess(rss_peak - rss_before, growth_cap_kb,
                                "RSS growth during %s" % name)
        self.assertLessEqual(socket_count(self.pid), base_socks + 1,
                             "the server still holds the flood's connections")
        contended = others >= OTHERS_CPU_SHARE * took or fsyncs > 0
        return stats, p99, contended

    # --- 1 ------------------------------------------------------------------
    def test_1_idle_connections(self):
        if self.nofile < IDLE + PAST_CAP + 512:
            self.skipTest("RLIMIT_NOFILE is %d; %d idle connections need more"
                          % (self.nofile, IDLE + PAST_CAP))

        def flood():
            f = Flood(self.s.port)
            try:
                # Open at ~10,000/s: faster only overflows the listen backlog,
                # and SYN retransmits would then spread the connects over
                # seconds.
                for i in range(IDLE):
                    f.open_nonblocking("idle")
                    if i % 200 == 199:
                        f.pump(time.monotonic() + 0.02)
                self.mark("opened %d" % IDLE)
                # Wait for the server to hold the cap (it holds the normal
                # client's connection too), then knock past it.
                deadline = time.monotonic() + HEADER_TIMEOUT - 1.2
                while (socket_count(self.pid) < MAX_CONNECTIONS + 1 and
                       time.monotonic() < deadline):
                    f.pump(time.monotonic() + 0.05)
                held = socket_count(self.pid) - 1       # minus the listener
                self.mark("held %d" % held)
                # Each brings a valid order with its own key: a refused
                # connection must not have it stored (test_6 checks the log).
                t_past = time.monotonic()
                for i in range(PAST_CAP):
                    f.open(order_request(dict(GOOD_ORDER, order_id="past-cap-%d" % i)),
                           tag="past")
                f.pump(t_past + REFUSE_WITHIN)
                self.mark("past-cap done")
                past = [c for c in f.conns if c.tag == "past"]
                refused_fast = sum(1 for c in past if c.closed is not None)
                # Then every held connection must be closed by the header timeout.
                f.pump(time.monotonic() + HEADER_TIMEOUT + REAP_SLACK + 1)
                self.mark("all closed" if not f.open_count() else "gave up")
                return {"held": held, "past_cap_refused_fast": refused_fast}
            finally:
                self.conns = list(f.conns)
                f.close_all()

        stats = self.run_case("idle", flood, growth_cap_kb=None)
        conns = self.conns
        self.assertGreaterEqual(stats["held"], MAX_CONNECTIONS - 10,
                                "the server did not hold the idle connections")
        self.assertLessEqual(stats["held"], MAX_CONNECTIONS + 64)
        # Past the cap: refused at once, with a 503 if the client reads it
        # before the close.
        past = [c for c in conns if c.tag == "past"]
        self.assertEqual(stats["past_cap_refused_fast"], len(past),
                         "connections past the cap were left waiting")
        for c in past:
            self.assertTrue(c.got == b"" or c.got.startswith(b"HTTP/1.1 503"), c.got[:200])
        # The idle ones: 408 at the header timeout, or (the one that found
        # the cap full) refused early; none closed late or never.
        late, early, refused = [], 0, 0
        for c in conns:
            if c.tag != "idle":
                continue
            life = c.life()
            if life is None or life > HEADER_TIMEOUT + REAP_SLACK:
                late.append(life)
            elif life < HEADER_TIMEOUT - 0.3:
                if c.got.startswith(b"HTTP/1.1 503") or c.got == b"":
                    refused += 1
                else:
                    early += 1
            else:
                self.assertTrue(c.got.startswith(b"HTTP/1.1 408"), c.got[:200])
        self.assertEqual(late, [], "idle connections not closed by the header timeout")
        self.assertEqual(early, 0, "idle connections closed early without a 503")
        print("abuse:   idle: %d opened, %d held at once (with the normal client's), "
              "%d + %d refused at the cap at once, the rest 408 after %d s"
              % (len(conns), stats["held"], refused, len(past), HEADER_TIMEOUT))

    # --- 2, 3 -----------------------------------------------------------------
    def slow_case(self, name, first_fn, drip, timeout):
        rnd = random.Random(name)

        def flood():
            f = Flood(self.s.port)
            try:
                for i in range(SLOW):
                    f.open(first_fn(rnd), drip=drip)
                    if i % 100 == 99:
                        f.pump(time.monotonic() + 0.01, f.dribble)
                f.pump(time.monotonic() + timeout + REAP_SLACK + 1, f.dribble, 0.1)
                lives = sorted(c.life() for c in f.conns if c.closed is not None)
                return {"opened": len(f.conns), "closed_by_server": len(lives),
                        "closed_after_s": "%.2f-%.2f" % (lives[0], lives[-1])
                        if lives else "-"}
            finally:
                self.conns = list(f.conns)
                f.close_all()

        self.run_case(name, flood)
        for c in self.conns:
            life = c.life()
            self.assertIsNotNone(life, "a slow connection was never closed")
            self.assertGreater(life, timeout - 0.3, "closed before the timeout")
            self.assertLess(life, timeout + REAP_SLACK, "closed too late")
            self.assertTrue(c.got.startswith(b"HTTP/1.1 408"), c.got[:200])

    def test_2_slow_headers(self):
        # Each connection starts a request, then sends one header byte per
        # 100 ms, forever; it must be cut at the header timeout with a 408.
        self.slow_case(
            "slow-headers",
            lambda rnd: b"%s %s HTTP/1.1\r\nHost: localhost\r\n" % (
                rnd.choice([b"POST", b"GET"]),
                rnd.choice([b"/orderitem", b"/v1/orders", b"/healthz"])),
            b"X-Slowloris-Keep-Going: 1\r\n", HEADER_TIMEOUT)

    def test_3_slow_bodies(self):
        # Complete headers, then the declared body one byte per 100 ms.
        def first(rnd):
            path, n = rnd.choice([(b"/orderitem", 1000), (b"/orderitem", 1 << 20),
                                  (b"/v1/orders", 100000), (b"/v1/orders", 16 << 20)])
            return (b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n[" % (path, n))
        self.slow_case("slow-bodies", first, b" ", BODY_TIMEOUT)

    # --- 4 ------------------------------------------------------------------
    def test_4_pipelined_garbage(self):
        rnd = random.Random(4)
        post = b"POST /orderitem HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        garbage = [
            # random bytes, with and without a request's end
            lambda: rnd.randbytes(rnd.randint(1, 2000)) + b"\r\n\r\n",
            lambda: rnd.randbytes(rnd.randint(1, 200)),
            # malformed request lines
            lambda: b"GET\r\n\r\n",
            lambda: b"GET / HTTP/1.1 extra\r\nHost: localhost\r\n\r\n",
            lambda: b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n",
            lambda: b"xyz abc\r\n\r\n",
            lambda: b"G\x00T /orderitem HTTP/1.1\r\nHost: localhost\r\n\r\n",
            lambda: b"GET /" + b"A" * rnd.randint(100, 8000) + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
            # malformed headers and framing
            lambda: post + b"NoColonHere\r\n\r\n",
            lambda: post + b": empty-name\r\n\r\n",
            lambda: post + b"Content-Length: -5\r\n\r\n",
            lambda: post + b"Content-Length: 0x10\r\n\r\n",
            lambda: post + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            lambda: post + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            lambda: post + b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nnot hex\r\n0\r\n\r\n",
            # a body that is not an order
            lambda: post + b"Content-Length: 9\r\n\r\n\x00\xff{[\"\\u\r\n",
        ]
        # A line that overflows libmicrohttpd's 32 KiB connection pool (414,
        # 431): 1 connection in 20. Each costs the server ~2-3 ms of CPU
        # (libmicrohttpd 0.9.75 rescans the line after every 128-byte read
        # once the pool is nearly full), so a flood of only these would be a
        # CPU flood rather than garbage.
        oversize = [
            lambda: b"GET /" + b"A" * rnd.randint(33000, 40000) + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
            lambda: b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"B" * 40000 + b"\r\n\r\n",
        ]

        def pipeline(sent):
            if rnd.randrange(20) == 0:
                parts = [rnd.choice(oversize)()]
            else:
                parts = [rnd.choice(garbage)() for _ in range(rnd.randint(5, 40))]
            sent["requests"] += len(parts)
            return b"".join(parts)

        def flood():
            f = Flood(self.s.port)
            sent = {"connections": 0, "requests": 0}
            try:
                # Keep 50 connections busy for 3 s, at most 15,000 in all.
                end = time.monotonic() + 3.0
                while time.monotonic() < end and len(f.conns) < 15000:
                    while f.open_count() < 50 and len(f.conns) < 15000:
                        f.open(pipeline(sent))
                    f.pump(min(end, time.monotonic() + 0.02))
                f.pump(time.monotonic() + HEADER_TIMEOUT + REAP_SLACK + 1)
                sent["connections"] = len(f.conns)
                codes = {}
                for c in f.conns:
                    for st in c.statuses():
                        codes[st] = codes.get(st, 0) + 1
                sent["replies"] = ",".join("%d:%d" % kv for kv in sorted(codes.items()))
                sent["closed_by_server"] = sum(1 for c in f.conns if c.closed is not None)
                return sent
            finally:
                self.conns = list(f.conns)
                f.close_all()

        self.run_case("garbage", flood)
        for c in self.conns:
            self.assertIsNotNone(c.closed, "a garbage connection was never closed: %r"
                                 % c.got[:300])
            for st in c.statuses():
                # Malformed: 400 (or the refusals 413, 414, 431, 505); what
                # happens to parse gets a 4xx (404, 405, 415, 422), never
                # success and never a server error.
                self.assertTrue(400 <= st < 500 or st == 505, (st, c.got[:300]))
        # A body framed twice is refused and the connection closed, so
        # nothing after it on the connection is read out of step.
        for framing in (b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"):
            got = send_raw(self.s.port, post + framing + b"GET /healthz HTTP/1.1\r\n"
                           b"Host: localhost\r\n\r\n", wait_close=True)
            self.assertEqual(re.findall(rb"HTTP/1\.1 (\d{3}) ", got), [b"400"], got)

    # --- 5 ------------------------------------------------------------------
    def test_5_huge_content_length(self):
        big = 10 << 30

        def request(i):
            path = (b"/orderitem", b"/v1/orders")[i % 2]
            head = b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" % path
            kind = (i // 2) % 4
            if kind == 0:       # 10 GiB declared, a few bytes sent
                return "413", head + b"Content-Length: %d\r\n\r\n{\"customer_id\"" % big
            if kind == 1:       # the same, waiting for 100 Continue
                return "413", head + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % big
            if kind == 2:       # past 2^64
                return "413", head + b"Content-Length: 99999999999999999999999\r\n\r\n"
            # A 10 GiB chunk: nothing to refuse until the bytes arrive, so
            # it is cut by the body timeout.
            return "408", head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n[" % big

        def flood():
            f = Flood(self.s.port)
            try:
                for i in range(400):
                    want, data = request(i)
                    f.open(data, tag=want)
                f.pump(time.monotonic() + BODY_TIMEOUT + REAP_SLACK + 1)
                codes = {}
                for c in f.conns:
                    st = c.statuses()
                    key = "%s->%s" % (c.tag, st[0] if st else "none")
                    codes[key] = codes.get(key, 0) + 1
                lives = [c.life() for c in f.conns if c.tag == "413" and c.closed]
                return {"opened": len(f.conns),
                        "expected->got": ",".join("%s:%d" % kv for kv in sorted(codes.items())),
                        "413_closed_after_max_s": "%.2f" % max(lives) if lives else "-"}
            finally:
                self.conns = list(f.conns)
                f.close_all()

        self.run_case("10GiB-body", flood, growth_cap_kb=RSS_GROWTH_10GIB_KB)
        for c in self.conns:
            st = c.statuses()
            self.assertIsNotNone(c.closed, "a connection was never closed")
            self.assertLess(c.life(), BODY_TIMEOUT + REAP_SLACK)
            if c.tag == "413":
                # Refused from the headers, at once, and closed.
                self.assertEqual(st[:1], [413], c.got[:300])
                self.assertLess(c.life(), REFUSE_WITHIN, "a 413 connection was kept open")
            else:
                self.assertIn(st[:1], ([408], [413]), c.got[:300])

    # --- afterwards ----------------------------------------------------------
    def test_6_server_intact_afterwards(self):
        self.assertIsNone(self.s.proc.poll(), "salesflow died:\n" + self.s.stderr()[-3000:])
        status, body = self.s.get("/healthz")
        self.assertEqual(status, 200, body)
        # The log holds exactly the orders answered 201, once each, and none
        # of those sent on connections refused at the cap.
        logged = [v["order_id"] for v in log_values(self.s)]
        self.assertEqual([k for k in logged if k.startswith("past-cap-")], [],
                         "an order sent on a connection refused at the cap was stored")
        self.assertEqual(len(logged), len(set(logged)), "an order was logged twice")
        self.assertEqual(sorted(logged), sorted(AbuseTest.acked))
        print("abuse: afterwards: alive, /healthz 200, the log holds the %d orders answered "
              "201 and nothing else; RSS %.1f MB" % (len(logged), vm_rss_kb(self.pid) / 1024))
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--normal-client"]:
        normal_client_main(int(sys.argv[2]), float(sys.argv[3]))
    else:
        unittest.main()
