"""The processor's share of the CPU in `run` (docs/architecture.md,
Processor).

- It gathers small batches: under a steady stream of single orders it
  commits at most once per linger interval (5 ms) instead of once per
  handful of orders, each commit being a SQLite transaction whose fixed
  cost dwarfed the orders in it.
- Its thread runs --processor-nice (default 10) below the rest of the
  process, so that when the cores are busy the HTTP loops, whose answers
  clients wait for, come first; the log holds what the processor has not
  reached yet.
"""

import os
import re
import subprocess
import threading
import time
import unittest

from harness import BIN, Server, random_orders

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


def thread_nices(pid):
    """{thread name: nice} of a process, from /proc/PID/task/*/stat."""
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
            st = f.read()
        name = st[st.index("(") + 1:st.rindex(")")]
        out[name] = int(st[st.rindex(")") + 2:].split()[16])
    return out


class NiceTest(unittest.TestCase):
    def nices(self, extra):
        srv = Server(extra=extra).start()
        try:
            return thread_nices(srv.proc.pid), os.getpriority(os.PRIO_PROCESS, srv.proc.pid)
        finally:
            srv.cleanup()

    def test_processor_thread_is_niced_by_default(self):
        n, base = self.nices([])
        self.assertEqual(n["processor"], min(19, base + 10), n)
        self.assertEqual(n["sf-http-0"], base, n)

    def test_flag_sets_it_and_zero_turns_it_off(self):
        n, base = self.nices(["--processor-nice", "3"])
        self.assertEqual(n["processor"], min(19, base + 3), n)
        n, base = self.nices(["--processor-nice", "0"])
        self.assertEqual(n["processor"], base, n)

    def test_bad_values_are_refused(self):
        for v in ("20", "-1", "x", ""):
            r = subprocess.run([BIN, "run", "--processor-nice", v, "--data", "/nonexistent/x"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (v, r.stderr))
            self.assertIn("--processor-nice", r.stderr, v)
            self.assertIn("0 to 19", r.stderr, v)


if __name__ == "__main__":
    unittest.main()
