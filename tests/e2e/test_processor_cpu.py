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
"""

import os
import re
import subprocess
import threading
import time
import unittest

import harness
from harness import BIN, Server, ndjson, post_v1, random_orders

LINGER_MS = 5


def commits(srv):
    status, body = srv.get("/metrics")
    assert status == 200
    m = re.search(rb"^salesflow_processor_commits_total (\d+)", body, re.M)
    return int(m.group(1))


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
