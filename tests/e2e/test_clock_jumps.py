"""The wall clock jumps under load (issue 21): `run` under libfaketime
(LD_PRELOAD libfaketimeMT, FAKETIME_TIMESTAMP_FILE re-read at every call
with FAKETIME_NO_CACHE; the monotonic clock is left alone, as an NTP step
leaves it) while sequential clients post orders. Mid-load the clock goes
one hour back, then one day forward (docs/operations.md, "Clock jumps"):

- order ids (UUIDv7) are unique, and strictly increasing for each client;
- created_at is the clock at ingest, whatever it says: within a second or
  two of real time plus the offset in force for that request;
- sales_minute holds the orders' own minutes (three periods), each row the
  sum over orders of that minute, sales the sum over all;
- retention (age 1 h, small segments) removes segments the day forward
  makes "old" only behind the processor's position: nothing acknowledged
  is lost, and the log still holds every record from that position on;
- SSE commit notices keep coming, in order, ending with the total; /readyz
  is 200 once the processor has caught up after each jump."""

import datetime
import http.client
import json
import os
import threading
import time
import unittest

import harness
from harness import SOURCES, Server, wait_until
from test_dashboard_sse import SSEClient

LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
PER_PHASE = int(os.environ.get("SF_CLOCK_ORDERS", "150"))   # per client and phase
CLIENTS = 3
PHASES = [("+0", 0), ("-1h", -3600), ("+23h", 23 * 3600)]   # back 1 h, then +1 day


class FaketimeServer(Server):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.rc = os.path.join(self.tmp, "faketime.rc")
        self.set_offset("+0")

    def set_offset(self, spec):
        tmp = self.rc + ".tmp"
        with open(tmp, "w") as f:
            f.write(spec + "\n")
        os.replace(tmp, self.rc)

    def start(self, timeout=15):
        real_popen = harness.subprocess.Popen
        env = dict(os.environ, LD_PRELOAD=LIB, FAKETIME_TIMESTAMP_FILE=self.rc,
                   FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1")

        def popen(cmd, *a, **kw):
            return real_popen(cmd, *a, env=env, **kw)

        harness.subprocess.Popen = popen
        try:
            return Server.start(self, timeout)
        finally:
            harness.subprocess.Popen = real_popen


def parse_ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@unittest.skipUnless(os.path.exists(LIB), "libfaketime not installed (make deps)")
class ClockJumps(unittest.TestCase):
    def test_back_one_hour_then_forward_one_day(self):
        s = FaketimeServer(extra=["--segment-bytes", "16K", "--retention", "1h"])
        try:
            s.start()
            sse = SSEClient(s.port)
            self.assertEqual(sse.status, 200)
            phase = {"i": 0}
            lock = threading.Lock()
            done = [0] * CLIENTS
            results = [[] for _ in range(CLIENTS)]   # (order_id, t0, t1, phase or None)
            errors = []

            def client(k):
                c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
                try:
                    for n in range(PER_PHASE * len(PHASES)):
                        body = json.dumps({"customer_id": 1 + (n * 7 + k) % 17,
                                           "source": SOURCES[n % 3], "quantity": 1 + n % 9})
                        p0, t0 = phase["i"], time.time()
                        c.request("POST", "/orderitem", body,
                                  {"Content-Type": "application/json"})
                        r = c.getresponse()
                        data = r.read()
                        t1, p1 = time.time(), phase["i"]
                        if r.status != 201:
                            errors.append((r.status, data[:200]))
                            return
                        results[k].append((json.loads(data)["order_id"], t0, t1,
                                           p0 if p0 == p1 else None))
                        with lock:
                            done[k] = n + 1
                finally:
                    c.close()

            ts = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
            for t in ts:
                t.start()
            for i in range(1, len(PHASES)):
                # Mid-load: each client is about PER_PHASE requests into the phase.
                wait_until(lambda: min(done) >= PER_PHASE * i or errors, 120,
                           "phase %d's orders" % (i - 1))
                s.set_offset(PHASES[i][0])
                phase["i"] = i
                # /readyz recovers after the jump, once the processor has
                # caught up (monotonic-clock checks: the jump alone never
                # fails it).
                wait_until(lambda: s.get("/readyz")[0] == 200, 30, "/readyz after the jump")
            for t in ts:
                t.join()
            self.assertEqual(errors, [])
            total = CLIENTS * PER_PHASE * len(PHASES)

            # ids: unique; strictly increasing for each sequential client.
            ids = [r[0] for rs in results for r in rs]
            self.assertEqual(len(ids), total)
            self.assertEqual(len(set(ids)), total)
            for rs in results:
                seq = [r[0] for r in rs]
                for a, b in zip(seq, seq[1:]):
                    self.assertLess(a, b, "order ids went backwards")

            s.wait_processed(expect=total, timeout=60)
            created = dict(s.query("SELECT uuid, created_at FROM orders"))
            self.assertEqual(set(created), set(ids))
            checked = {0: 0, 1: 0, 2: 0}
            for rs in results:
                for oid, t0, t1, p in rs:
                    if p is None:
                        continue    # the jump came during this request
                    off = PHASES[p][1]
                    at = parse_ts(created[oid])
                    self.assertGreaterEqual(at, t0 + off - 2, (oid, created[oid], p))
                    self.assertLessEqual(at, t1 + off + 2, (oid, created[oid], p))
                    checked[p] += 1
            self.assertTrue(all(v > 0 for v in checked.values()), checked)

            # per-minute rows: the orders' own minutes, each the exact sum.
            by_minute = s.query(
                "SELECT substr(created_at, 1, 16), source, state, sum(total_cents),"
                " count(*), sum(quantity) FROM orders GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
            minute = s.query("SELECT substr(minute, 1, 16), source, state, total_cents,"
                             " order_count, quantity FROM sales_minute ORDER BY 1, 2, 3")
            self.assertEqual([tuple(r) for r in minute], [tuple(r) for r in by_minute])
            hours = {r[0][:13] for r in minute}
            self.assertGreaterEqual(len(hours), 3, hours)   # now, an hour ago, tomorrow
            self.assertEqual(s.query("SELECT sum(order_count) FROM sales")[0][0], total)

            # retention: every record from the processor's position on is
            # still in the log; age made the early segments go behind it.
            # (The processor applies retention at most once a second.)
            wait_until(lambda: "removed by retention (age" in s.stderr(), 10,
                       "the day forward to make segments old (--segment-bytes)")
            pos = dict(s.query("SELECT partition, next_offset FROM salesflow_offsets"))
            logdir = os.path.join(s.data, "log")
            for part in sorted(os.listdir(logdir)):
                if not part.startswith("Order-"):
                    continue
                p = int(part.split("-")[1])
                bases = sorted(int(f[:-4]) for f in os.listdir(os.path.join(logdir, part))
                               if f.endswith(".log"))
                self.assertLessEqual(bases[0], pos[p], "a segment not yet processed "
                                     "was removed (partition %d)" % p)

            # SSE: notices in order, the last one with every order.
            wait_until(lambda: sse.events and sse.events[-1].get("event") == "commit" and
                       json.loads(sse.events[-1]["data"])["orders"] == total, 20,
                       "the last SSE notice")
            seqs = [json.loads(e["data"])["seq"] for e in sse.events
                    if e.get("event") == "commit"]
            self.assertEqual(seqs, sorted(seqs))
            self.assertEqual(s.get("/readyz")[0], 200)
            self.assertEqual(s.stop(), 0)
            self.assertNotIn("level=error", s.stderr())
        finally:
            s.cleanup()

    def test_live_history_after_a_jump_back(self):
        """The dashboard's per-second history and rates (processing time,
        web/sampler.c) go on after the clock steps back an hour: orders
        processed after the jump show in /api/sales/second and the
        processed rate of /api/pipeline is a number, not an hour of
        nothing while the clock is before the server's start."""
        s = FaketimeServer()
        try:
            s.start()
            for i in range(20):
                self.assertEqual(s.post_json("/orderitem", {"customer_id": 1 + i % 17,
                                 "source": "Dine In", "quantity": 1})[0], 201)
            s.wait_processed(expect=20)
            time.sleep(1.5)
            s.set_offset("-1h")
            t_end = time.time() + 5
            n = 0
            while time.time() < t_end:
                self.assertEqual(s.post_json("/orderitem", {"customer_id": 2,
                                 "source": "Takeaway", "quantity": 1})[0], 201)
                n += 1
                time.sleep(0.02)
            s.wait_processed(expect=20 + n)
            time.sleep(1.5)     # the sampler reads once a second
            st, body = s.get("/api/sales/second?window=60")
            self.assertEqual(st, 200)
            points = json.loads(body)["points"]
            seen = sum(p["orders"] for p in points)
            self.assertGreaterEqual(seen, n // 2, "orders after the jump missing from the "
                                    "per-second history (%d of %d)" % (seen, n))
            st, body = s.get("/api/pipeline")
            rate = json.loads(body)["processor"]["rate_per_s"]
            self.assertIsNotNone(rate, body)
            self.assertGreater(rate, 0, body)
            self.assertEqual(s.stop(), 0)
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
