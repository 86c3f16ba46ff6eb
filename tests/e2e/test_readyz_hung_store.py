"""/readyz on `run` never takes every HTTP worker while the MySQL server
hangs (issue 25, operator review item 5): the store check runs one query at
a time and concurrent probes reuse its last result, so /healthz and
/metrics still answer. Ends with every acknowledged order stored once."""

import http.client
import signal
import threading
import time
import unittest

import mariadb
from harness import Server, post_many, random_orders


def get(port, path, timeout):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class ReadyzHungStoreTest(unittest.TestCase):
    def setUp(self):
        ok, why = mariadb.available()
        if not ok:
            self.skipTest(why)
        try:
            self.db = mariadb.MariaDB().start()
        except Exception as e:  # noqa: BLE001
            self.skipTest("mariadbd cannot start here: %s" % str(e)[:300])
        self.s = None

    def tearDown(self):
        if self.db.proc and self.db.proc.poll() is None:
            self.db.proc.send_signal(signal.SIGCONT)
        if self.s:
            self.s.cleanup()
        self.db.stop()

    def test_probes_against_a_stopped_server_leave_healthz_answering(self):
        name = self.db.create_db("ready_hung")
        s = self.s = Server(extra=["--store", self.db.uri(name), "--threads", "2"]).start()
        acked = [b["order_id"] for _o, st, b in post_many(s, random_orders(40, 7), threads=2)
                 if st == 201]
        self.assertEqual(len(acked), 40)
        deadline = time.time() + 60
        while int(self.db.sql("SELECT COUNT(*) FROM orders", db=name)[0][0]) < 40:
            self.assertLess(time.time(), deadline, "the processor stored too few orders")
            time.sleep(0.2)
        self.assertEqual(get(s.port, "/readyz", 30)[0], 200)
        time.sleep(1.5)   # the last check's result is no longer fresh
        self.db.proc.send_signal(signal.SIGSTOP)
        probes = []
        try:
            def probe():
                try:
                    get(s.port, "/readyz", 120)
                except OSError:
                    pass
            probes = [threading.Thread(target=probe) for _ in range(4)]
            for t in probes:
                t.start()
            time.sleep(1)
            for path in ("/healthz", "/metrics"):
                try:
                    st, body = get(s.port, path, 10)
                except OSError as e:
                    self.fail("%s did not answer while /readyz probes wait on the "
                              "stopped server: %s" % (path, e))
                self.assertEqual(st, 200, body)
        finally:
            self.db.proc.send_signal(signal.SIGCONT)
            for t in probes:
                t.join(180)
        deadline = time.time() + 120
        while get(s.port, "/readyz", 60)[0] != 200:
            self.assertLess(time.time(), deadline, "never ready again")
            time.sleep(0.5)
        got = [r[0] for r in self.db.sql("SELECT uuid FROM orders", db=name)]
        self.assertEqual(sorted(got), sorted(acked))
        self.assertEqual(int(self.db.sql("SELECT COALESCE(SUM(order_count), 0) FROM sales",
                                         db=name)[0][0]), 40)


if __name__ == "__main__":
    unittest.main()
