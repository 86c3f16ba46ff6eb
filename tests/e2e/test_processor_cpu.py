"""The processor's share of the CPU in `run` (docs/architecture.md,
Processor).

- It gathers small batches: under a steady stream of single orders it
  commits at most once per linger interval (5 ms) instead of once per
  handful of orders, each commit being a SQLite transaction whose fixed
  cost dwarfed the orders in it.
- With --processor-nice N its thread runs N below the rest of the process
  (with idle, in SCHED_IDLE),
  so that when the cores are busy the HTTP loops, whose answers clients
  wait for, come first; the log holds what the processor has not reached
  yet. Off (0) by default: the processor would also yield to every other
  program on the machine.
- Ingest first (--processor-share PCT, default 10): while the processor is
  behind and orders arrive faster than it can store them, it pauses after
  each batch so that it keeps at most PCT % of the time, and catches up
  once the burst is over; nothing is lost or counted twice.
"""

import os
import subprocess
import threading
import time
import unittest

import harness
from harness import BIN, Server, ndjson, post_v1, random_orders

LINGER_MS = 5


def commits(srv):
    return int(srv.metric("salesflow_processor_commits_total"))


class LingerTest(unittest.TestCase):
    def test_single_orders_are_committed_together(self):
        srv = Server().start()
        try:
            orders = random_orders(4000, 7)
            before = commits(srv)
            t0 = time.monotonic()
            errors = []

            def send(part):
                for o in part:
                    status, _ = srv.post_json("/orderitem", o)
                    if status != 201:
                        errors.append(status)

            threads = [threading.Thread(target=send, args=(orders[i::8],)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            srv.wait_processed(len(orders))
            elapsed_ms = (time.monotonic() - t0) * 1000
            self.assertEqual(errors, [])
            n = commits(srv) - before
            # one commit per linger interval at most, and a few more for the
            # batches that end it (a full one, the last)
            self.assertLessEqual(n, elapsed_ms / LINGER_MS + 20,
                                 "%d commits for %d orders in %.0f ms" %
                                 (n, len(orders), elapsed_ms))
            self.assertEqual(srv.api_sales()["order_count"], len(orders))
        finally:
            srv.cleanup()


class KeepsUpTest(unittest.TestCase):
    def test_lingering_never_holds_back_a_processor_that_is_behind(self):
        # 10,000 orders/s in batches of 100 for 3 s with a dashboard polling
        # without pause: the log hands the processor reads of a few hundred
        # records, each followed by the linger; all of them must still be
        # counted within a second of the last 201
        srv = Server().start()
        stop = threading.Event()

        def poll():     # a dashboard that never stops asking, as bench/goals.py's
            while not stop.is_set():
                srv.api_sales()

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            sent = 0
            t0 = time.monotonic()
            k = 0
            while time.monotonic() - t0 < 3:
                status, _ = post_v1(srv, ndjson(random_orders(100, 1000 + k)),
                                    "application/x-ndjson")
                self.assertEqual(status, 201)
                sent += 100
                k += 1
                ahead = t0 + sent / 10000.0 - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            done = time.monotonic()
            while srv.api_sales()["order_count"] < sent and time.monotonic() - done < 60:
                time.sleep(0.01)
            behind = time.monotonic() - done
            self.assertLess(behind, 1.0, "%d orders counted %.1f s after the last 201" %
                            (sent, behind))
        finally:
            stop.set()
            poller.join(10)
            srv.cleanup()


def burst(srv, seconds, threads=4, size=5000):
    """NDJSON batches of `size` orders from `threads` keep-alive clients
    for `seconds`, each client sending its next batch on the previous 201.
    Returns the number of orders acknowledged."""
    import http.client
    bodies = [ndjson(random_orders(size, 500 + i)) for i in range(threads)]
    sent, errors, lock = [0], [], threading.Lock()
    end = time.monotonic() + seconds

    def client(body):
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        try:
            while time.monotonic() < end:
                c.request("POST", "/v1/orders", body, {"Content-Type": "application/x-ndjson"})
                r = c.getresponse()
                r.read()
                with lock:
                    if r.status == 201:
                        sent[0] += size
                    else:
                        errors.append(r.status)
        finally:
            c.close()

    ts = [threading.Thread(target=client, args=(b,)) for b in bodies]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == [], errors
    return sent[0]


class IngestFirstTest(unittest.TestCase):
    """A burst the processor cannot follow: batches of 5,000 orders from
    two clients for 2 s (--fsync never: millions of orders), several times
    what the processor stores in that time even alone."""

    def run_burst(self, extra):
        srv = Server(extra=["--fsync", "never"] + extra).start()
        try:
            sent = burst(srv, 2, threads=2)
            yielded = srv.metric("salesflow_processor_yielded_seconds_total")
            # caught up afterwards, every order once
            srv.wait_processed(sent, timeout=120)
            self.assertEqual(srv.api_sales()["order_count"], sent)
            return sent, yielded
        finally:
            srv.cleanup()

    def test_an_outpaced_processor_yields_then_catches_up(self):
        sent, yielded = self.run_burst(["--processor-share", "5"])
        self.assertGreater(yielded, 0.5, "%d orders, the processor never paused" % sent)

    def test_share_100_never_yields(self):
        sent, yielded = self.run_burst(["--processor-share", "100"])
        self.assertEqual(yielded, 0, "%d orders" % sent)

    def test_a_load_it_follows_never_makes_it_yield(self):
        # 10,000 orders/s in batches of 1,000: well within its pace
        srv = Server().start()
        try:
            t0, sent = time.monotonic(), 0
            while time.monotonic() - t0 < 3:
                status, _ = post_v1(srv, ndjson(random_orders(1000, sent)),
                                    "application/x-ndjson")
                self.assertEqual(status, 201)
                sent += 1000
                ahead = t0 + sent / 10000.0 - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            srv.wait_processed(sent)
            self.assertEqual(srv.metric("salesflow_processor_yielded_seconds_total"), 0)
        finally:
            srv.cleanup()

    def test_bad_values_are_refused(self):
        for bad in ("0", "101", "+5", " 5", "ten"):
            r = subprocess.run([BIN, "run", "--processor-share", bad], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
            self.assertIn("expected a percentage from 1 to 100", r.stderr)
        r = subprocess.run([BIN, "ingest", "--processor-share", "5"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        # segments of a few bytes, one per write, ran out of descriptors
        # (each keeps a file open; outside review)
        for bad in ("1", "16383", "8K"):
            r = subprocess.run([BIN, "run", "--segment-bytes", bad], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
            self.assertIn("at least 16K", r.stderr)


def thread_nices(pid):
    """{thread name: nice} of a process (one thread of each name here)."""
    return {name: n[0] for name, n in harness.thread_nices(pid).items()}


class NiceTest(unittest.TestCase):
    def nices(self, extra):
        srv = Server(extra=extra).start()
        try:
            return thread_nices(srv.proc.pid), os.getpriority(os.PRIO_PROCESS, srv.proc.pid)
        finally:
            srv.cleanup()

    def test_processor_thread_is_not_niced_by_default(self):
        n, base = self.nices([])
        self.assertEqual(n["processor"], base, n)
        self.assertEqual(n["sf-http-0"], base, n)

    def test_flag_sets_it(self):
        n, base = self.nices(["--processor-nice", "3"])
        self.assertEqual(n["processor"], min(19, base + 3), n)
        self.assertEqual(n["sf-http-0"], base, n)
        n, base = self.nices(["--processor-nice", "19"])
        self.assertEqual(n["processor"], 19, n)

    def test_idle_is_sched_idle(self):
        srv = Server(extra=["--processor-nice", "idle"]).start()
        try:
            pol = harness.thread_policies(srv.proc.pid)
            self.assertEqual(pol["processor"], [5], pol)      # SCHED_IDLE
            self.assertEqual(pol["sf-http-0"], [0], pol)
            # it still stores what comes
            self.assertEqual([st for _o, st, _b in harness.post_many(srv, random_orders(5, 5))],
                             [201] * 5)
            deadline = time.time() + 30
            while srv.query("SELECT COUNT(*) FROM orders")[0][0] < 5:
                self.assertLess(time.time(), deadline, "the idle processor stored nothing")
                time.sleep(0.05)
        finally:
            srv.cleanup()

    def test_bad_values_are_refused(self):
        for v in ("20", "-1", "x", "", "Idle"):
            r = subprocess.run([BIN, "run", "--processor-nice", v, "--data", "/nonexistent/x"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (v, r.stderr))
            self.assertIn("--processor-nice", r.stderr, v)
            self.assertIn("idle or a niceness from 0 to 19", r.stderr, v)


if __name__ == "__main__":
    unittest.main()
