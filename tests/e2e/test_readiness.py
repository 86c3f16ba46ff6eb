"""/readyz must not say ready while the processor cannot commit (issue 25.7,
26.3), even when the lag is far under --ready-lag:

- `run` over SQLite while another connection holds the database's write
  lock: every commit fails (SQLITE_BUSY) → 503 naming the failures, and
  the metrics count them; the lock released, it recovers by itself;
- `process --listen` over MySQL while the server is stopped (SIGSTOP):
  the commit in hand makes no progress → 503 after the stall limit;
  SIGCONT, and it is ready again;
- `run` over MySQL with the server read-only: commits fail → 503; writable
  again, every order is stored and nothing went to the quarantine
  (transient errors are retried, never skipped).

Each ends with every acknowledged order stored exactly once and sales
equal to the sums over orders."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import shutil
import time
import unittest

import mariadb
from test_mysql import assert_acked_stored
from harness import BIN, REPO, Server, free_port, post_many, random_orders
from kafkahelp import Ingest, MockCluster, have_kafka_tools

MY_OK, MY_WHY = mariadb.available()
K_OK, K_WHY = have_kafka_tools()


def ready(port):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=90)
    try:
        c.request("GET", "/readyz")
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def metrics(port):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
    finally:
        c.close()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def wait_status(port, status, timeout):
    deadline = time.time() + timeout
    while True:
        st, rep = ready(port)
        if st == status or time.time() > deadline:
            return st, rep
        time.sleep(0.3)


class ReadinessSQLiteTest(unittest.TestCase):
    def test_commits_failing_is_not_ready(self):
        s = Server().start()
        try:
            acked = [r[2]["order_id"] for r in post_many(s, random_orders(50, 1), threads=2)
                     if r[1] == 201]
            s.wait_processed(50)
            self.assertEqual(ready(s.port)[0], 200)
            # Another writer holds the lock: the processor's BEGIN IMMEDIATE
            # times out again and again.
            con = sqlite3.connect(s.db_path, timeout=30, isolation_level=None)
            con.execute("BEGIN IMMEDIATE")
            try:
                acked += [r[2]["order_id"] for r in
                          post_many(s, random_orders(20, 2), threads=2) if r[1] == 201]
                self.assertEqual(len(acked), 70)
                st, rep = wait_status(s.port, 503, timeout=90)
                self.assertEqual(st, 503, rep)
                self.assertFalse(rep["ready"])
                self.assertNotEqual(rep["checks"]["processor"], "ok")
                self.assertRegex(rep["checks"]["processor"],
                                 r"commits failed in a row|no commit for")
                m = metrics(s.port)
                self.assertGreater(m["salesflow_processor_commit_failures_total"], 0)
                self.assertGreater(m["salesflow_processor_last_commit_timestamp_seconds"],
                                   time.time() - 3600)
            finally:
                con.execute("ROLLBACK")
                con.close()
            st, rep = wait_status(s.port, 200, timeout=60)
            self.assertEqual(st, 200, rep)
            s.wait_processed(70)
            got = [u for (u,) in s.query("SELECT uuid FROM orders")]
            self.assertEqual(sorted(got), sorted(acked))
            per_key = {(a, b): (c, n, q) for a, b, c, n, q in s.query(
                "SELECT source, state, sum(total_cents), count(*), sum(quantity) FROM orders"
                " GROUP BY source, state")}
            sales = {(a, b): (c, n, q) for a, b, c, n, q in s.query(
                "SELECT source, state, total_sum_cents, order_count, quantity FROM sales")}
            self.assertEqual(sales, per_key)
            self.assertEqual(metrics(s.port)["salesflow_processor_commit_failures_in_row"], 0)
        finally:
            s.cleanup()


@unittest.skipUnless(MY_OK, MY_WHY)
class ReadinessMySQLTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sf-ready-")
        try:
            self.db = mariadb.MariaDB().start()
        except Exception as e:  # noqa: BLE001
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.skipTest("mariadbd cannot start here: %s" % str(e)[:300])
        self.kill = []

    def tearDown(self):
        for k in self.kill:
            k()
        if self.db.proc and self.db.proc.poll() is None:
            self.db.proc.send_signal(signal.SIGCONT)
        self.db.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_invariant(self, name, acked):
        assert_acked_stored(self, self.db, name, acked)
        self.assertEqual(int(self.db.sql("SELECT COALESCE(SUM(order_count), 0) FROM sales",
                                         db=name)[0][0]), len(acked))

    def wait_rows(self, name, want, timeout=90):
        deadline = time.time() + timeout
        while True:
            try:
                got = int(self.db.sql("SELECT COUNT(*) FROM orders", db=name)[0][0])
            except RuntimeError:
                got = None  # no tables yet
            if got == want:
                return
            self.assertLess(time.time(), deadline, "orders has %s rows, want %d" % (got, want))
            time.sleep(0.2)

    @unittest.skipUnless(K_OK, K_WHY)
    def test_process_listen_stalled_server_is_not_ready(self):
        name = self.db.create_db("ready_stall")
        mock = MockCluster()
        self.kill.append(mock.stop)
        ing = Ingest(mock.uri(), data=os.path.join(self.tmp, "ing")).start()
        self.kill.append(ing.cleanup)
        port = free_port()
        log = open(os.path.join(self.tmp, "process.stderr"), "w")
        proc = subprocess.Popen([BIN, "process", "--broker", mock.uri(), "--store",
                                 self.db.uri(name), "--data", os.path.join(self.tmp, "p"),
                                 "--listen", "127.0.0.1:%d" % port], cwd=REPO,
                                stdout=log, stderr=log)
        self.kill.append(lambda: (proc.poll() is None and proc.kill(), proc.wait(),
                                  log.close()))
        acked = [r[2]["order_id"] for r in post_many(ing, random_orders(60, 3), threads=2)
                 if r[1] == 201]
        self.wait_rows(name, 60)
        st, rep = wait_status(port, 200, timeout=30)
        self.assertEqual(st, 200, rep)

        self.db.proc.send_signal(signal.SIGSTOP)
        try:
            acked += [r[2]["order_id"] for r in post_many(ing, random_orders(30, 4),
                                                           threads=2) if r[1] == 201]
            t0 = time.time()
            st, rep = wait_status(port, 503, timeout=90)
            self.assertEqual(st, 503, rep)
            self.assertIn("no commit for", rep["checks"]["processor"])
            self.assertGreater(time.time() - t0, 5, "not before the stall limit")
            self.assertGreater(metrics(port)["salesflow_processor_stalled_seconds"], 0)
        finally:
            self.db.proc.send_signal(signal.SIGCONT)
        st, rep = wait_status(port, 200, timeout=120)
        self.assertEqual(st, 200, rep)
        self.assertEqual(len(acked), 90)
        self.wait_rows(name, 90, timeout=120)
        self.assert_invariant(name, acked)
        self.assertIsNone(proc.poll())

    def test_read_only_server_is_not_ready_and_nothing_skipped(self):
        name = self.db.create_db("ready_ro")
        # Privileges on the database only: read_only applies to this user
        # (sf has ALL ON *.*, which includes READ_ONLY ADMIN).
        self.db.sql("CREATE USER 'rw'@'127.0.0.1' IDENTIFIED BY 'rw-pw';"
                    "GRANT ALL ON ready_ro.* TO 'rw'@'127.0.0.1'")
        s = Server(extra=["--store", self.db.uri(name, user="rw",
                                                 password="rw-pw")]).start()
        self.kill.append(s.cleanup)
        acked = [r[2]["order_id"] for r in post_many(s, random_orders(40, 5), threads=2)
                 if r[1] == 201]
        self.wait_rows(name, 40)
        self.assertEqual(ready(s.port)[0], 200)
        self.db.sql("SET GLOBAL read_only = 1")
        try:
            acked += [r[2]["order_id"] for r in post_many(s, random_orders(40, 6), threads=2)
                      if r[1] == 201]
            st, rep = wait_status(s.port, 503, timeout=90)
            self.assertEqual(st, 503, rep)
            self.assertIn("commits failed in a row", rep["checks"]["processor"])
            # The reason is in the log, not on this open route (issue 23.5):
            # the server's error could name the store's user and host.
            self.assertNotIn("read-only", rep["checks"]["processor"])
            self.assertNotIn("rw", rep["checks"]["processor"].replace("row", ""))
            self.assertIn("read-only", s.stderr())
        finally:
            self.db.sql("SET GLOBAL read_only = 0")
        st, rep = wait_status(s.port, 200, timeout=90)
        self.assertEqual(st, 200, rep)
        self.assertEqual(len(acked), 80)
        self.wait_rows(name, 80)
        self.assert_invariant(name, acked)
        self.assertEqual(json.loads(s.get("/v1/quarantine")[1])["count"], 0)

    def test_read_only_mid_stream(self):
        """Issue 21: read_only switched on while orders flow (as a failover
        does): a clear error line, /readyz 503, the processor retries;
        writable again, everything resumes: every 201 stored exactly once,
        nothing quarantined, and the retries counted."""
        import threading
        name = self.db.create_db("ready_ro_mid")
        self.db.sql("CREATE USER 'rw2'@'127.0.0.1' IDENTIFIED BY 'rw2-pw';"
                    "GRANT ALL ON ready_ro_mid.* TO 'rw2'@'127.0.0.1'")
        s = Server(extra=["--store", self.db.uri(name, user="rw2",
                                                 password="rw2-pw")]).start()
        self.kill.append(s.cleanup)
        acked, stop = [], threading.Event()

        def loader():
            seed = 100
            while not stop.is_set():
                acked.extend(r[2]["order_id"] for r in
                             post_many(s, random_orders(20, seed), threads=2)
                             if r[1] == 201)
                seed += 1
                time.sleep(0.05)

        t = threading.Thread(target=loader)
        t.start()
        try:
            deadline = time.time() + 30
            while len(acked) < 100 and time.time() < deadline:
                time.sleep(0.05)
            self.db.sql("SET GLOBAL read_only = 1")
            try:
                st, rep = wait_status(s.port, 503, timeout=90)
                self.assertEqual(st, 503, rep)
                self.assertIn("commits failed in a row", rep["checks"]["processor"])
                err = s.stderr()
                self.assertRegex(err, r"processor: applying \d+ orders failed, will retry: "
                                 r"[^\n]*read-only")
                self.assertGreater(metrics(s.port)["salesflow_store_retries_total"], 0)
                during = len(acked)
                time.sleep(1)
                # Ingest goes on while the store refuses: orders wait in the log.
                self.assertGreater(len(acked), during)
            finally:
                self.db.sql("SET GLOBAL read_only = 0")
            st, rep = wait_status(s.port, 200, timeout=90)
            self.assertEqual(st, 200, rep)
            time.sleep(0.5)
        finally:
            stop.set()
            t.join()
        self.assertEqual(len(acked), len(set(acked)))
        self.wait_rows(name, len(acked))
        self.assert_invariant(name, acked)
        self.assertEqual(json.loads(s.get("/v1/quarantine")[1])["count"], 0)
        self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
