"""Kafka mode, several `process` members and foreign producers (issue 26.2,
26.4), against the mock cluster (6 partitions):

- a member paused (SIGSTOP) inside its MySQL transaction holds row locks on
  sales; the other member must keep storing orders within seconds (bounded
  lock waits, the paused transaction ended by the server), and after
  SIGCONT every acknowledged order is stored exactly once;
- foreign messages (no order_id) that HTTP would refuse with 422 — an
  unknown customer_id, a negative one, quantity 0 — go to the quarantine
  with the door's message instead of being stored under state "unknown";
  live processing and `replay` agree."""

import http.client
import json
import os
import random
import signal
import threading
import time
import unittest

import mariadb
from harness import STATES, run_cli
from kafkahelp import (Ingest, KafkaCase, MockCluster, Poster, Process, db_query,
                       have_kafka_tools, kcat, rmtree, tempdir, wait_count)

K_OK, K_WHY = have_kafka_tools()
MY_OK, MY_WHY = mariadb.available()


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@unittest.skipUnless(K_OK and MY_OK, K_WHY or MY_WHY)
class PausedMemberTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempdir()
        try:
            self.db = mariadb.MariaDB().start()
        except Exception as e:  # noqa: BLE001
            rmtree(self.tmp)
            self.skipTest("mariadbd cannot start here: %s" % str(e)[:300])
        self.mock = MockCluster()
        self.procs, self.ing, self.posters = [], None, []

    def tearDown(self):
        for t in self.posters:
            t.stop_flag.set()
        for p in self.procs:
            if p.running():
                p.proc.send_signal(signal.SIGCONT)
            p.kill()
        if self.ing:
            self.ing.kill()
        self.mock.stop()
        self.db.stop()
        rmtree(self.tmp)

    def count(self, name):
        return int(self.db.sql("SELECT COUNT(*) FROM orders", db=name)[0][0])

    def test_paused_member_does_not_stall_the_others(self):
        name = self.db.create_db("members")
        # Every customer in one state and every order "Dine In": every
        # transaction of every member updates the same sales row.
        csv = os.path.join(self.tmp, "customers.csv")
        with open(csv, "w") as f:
            f.write("customer_id,state\n" + "".join("%d,CA\n" % c for c in range(1, 18)))
        uri = self.db.uri(name)
        self.ing = Ingest(self.mock.uri(), data=os.path.join(self.tmp, "ing")).start()
        b = Process(self.mock.uri(), uri, name="b", tmp=self.tmp,
                    extra=["--customers", csv]).start()
        self.procs.append(b)
        deadline = time.time() + 30
        while "reading Order" not in b.stderr():
            self.assertLess(time.time(), deadline, b.stderr()[-2000:])
            time.sleep(0.1)
        # Member a stops itself (SIGSTOP) inside its 3rd transaction that
        # stores orders, after updating sales and before COMMIT.
        os.environ["SALESFLOW_TEST_STOP_IN_TXN"] = "3"
        try:
            a = Process(self.mock.uri(), uri, name="a", tmp=self.tmp,
                        extra=["--customers", csv]).start()
        finally:
            del os.environ["SALESFLOW_TEST_STOP_IN_TXN"]
        self.procs.append(a)
        deadline = time.time() + 60
        while "reading Order" not in a.stderr():
            self.assertLess(time.time(), deadline, a.stderr()[-2000:])
            time.sleep(0.1)
        self.posters = [Poster(self.ing.port, seed, sources=["Dine In"], max_qty=9,
                               pause=0.01) for seed in range(4)]
        for t in self.posters:
            t.start()
        deadline = time.time() + 90
        while proc_state(a.proc.pid) != "T":
            self.assertLess(time.time(), deadline, "member a never stopped inside a "
                            "transaction:\n" + a.stderr()[-3000:])
            time.sleep(0.05)
        # a sits in its transaction with the sales row locked. b must go on
        # storing orders (its partitions, then a's once the group moves
        # them) within a bound, not wait for a.
        c0 = self.count(name)
        deadline = time.time() + 45
        while self.count(name) < c0 + 100:
            self.assertLess(time.time(), deadline, "the other member stored %d orders "
                            "in 45 s while a was paused:\n%s" %
                            (self.count(name) - c0, b.stderr()[-3000:]))
            time.sleep(0.2)
        self.assertEqual(proc_state(a.proc.pid), "T", "a stayed paused meanwhile")
        a.proc.send_signal(signal.SIGCONT)
        time.sleep(3)
        for t in self.posters:
            t.stop_flag.set()
        for t in self.posters:
            t.join(60)
        acked = [i for t in self.posters for i in t.acked]
        self.assertEqual(len(acked), len(set(acked)))
        deadline = time.time() + 120
        while self.count(name) < len(acked):
            self.assertLess(time.time(), deadline, "%d of %d stored\n%s\n%s" % (
                self.count(name), len(acked), a.stderr()[-2000:], b.stderr()[-2000:]))
            time.sleep(0.3)
        time.sleep(2)
        got = [r[0] for r in self.db.sql("SELECT uuid FROM orders", db=name)]
        self.assertEqual(len(got), len(set(got)))
        self.assertEqual(sorted(got), sorted(acked))
        self.assertEqual(
            self.db.sql("SELECT source, state, total_sum_amount, order_count, quantity"
                        " FROM sales", db=name),
            self.db.sql("SELECT source, state, SUM(total), COUNT(*), SUM(quantity)"
                        " FROM orders GROUP BY source, state", db=name))
        self.assertEqual(
            self.db.sql("SELECT SUM(total), SUM(order_count), SUM(quantity) FROM"
                        " sales_minute", db=name),
            self.db.sql("SELECT SUM(total), COUNT(*), SUM(quantity) FROM orders", db=name))
        for p in self.procs:
            self.assertTrue(p.running(), p.stderr()[-2000:])
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])


@unittest.skipUnless(K_OK, K_WHY)
class ForeignValidationTest(KafkaCase):
    def test_foreign_orders_get_the_doors_validation(self):
        db = os.path.join(self.tmp, "sales.db")
        p = Process(self.mock.uri(), "sqlite:" + db, name="p", tmp=self.tmp).start()
        self.procs.append(p)

        def msg(cust, qty, source="Dine In"):
            return json.dumps({"customer_id": cust, "source": source, "quantity": qty,
                               "total": float(qty * 300),
                               "created_at": "11/29/2024, 03:40:00"})
        good = [(3, 2), (5, 7), (17, 1), (3, 1000000)]
        bad = [(99, 1), (-4, 2), (3, 0), (0, 3), (4, 1000001)]
        lines = []
        for c, q in good[:2] + bad + good[2:]:
            lines.append("%d:%s" % (abs(c) % 17 + 1, msg(c, q)))
        r = kcat("-P", "-b", self.mock.bootstraps, "-t", "Order", "-K:",
                 input="\n".join(lines).encode() + b"\n")
        self.assertEqual(r.returncode, 0, r.stderr)

        wait_count(db, len(good), timeout=60, procs=[p])
        deadline = time.time() + 30
        while len(p.quarantine()) < len(bad):
            self.assertLess(time.time(), deadline, (p.quarantine(), p.stderr()[-2000:]))
            time.sleep(0.2)
        time.sleep(1)
        rows = db_query(db, "SELECT customer_id, quantity, state FROM orders"
                        " ORDER BY customer_id, quantity")
        self.assertEqual(rows, sorted((c, q, STATES[c]) for c, q in good))
        q = p.quarantine()
        self.assertEqual(len(q), len(bad), q)
        got = sorted((json.loads(e["raw"])["customer_id"], json.loads(e["raw"])["quantity"])
                     for e in q)
        self.assertEqual(got, sorted(bad))
        msgs = {(json.loads(e["raw"])["customer_id"], json.loads(e["raw"])["quantity"]):
                e["detail"][0]["msg"] for e in q}
        self.assertIn("unknown customer_id 99", msgs[(99, 1)])
        self.assertIn("unknown customer_id -4", msgs[(-4, 2)])
        self.assertIn("quantity", msgs[(3, 0)])
        self.assertIn("greater than or equal to 1", msgs[(3, 0)])
        self.assertIn("less than or equal to 1000000", msgs[(4, 1000001)])
        for e in q:
            self.assertEqual(e["detail"][0]["loc"][:2], ["log", "Order"])
        sales = db_query(db, "SELECT source, state, total_sum_cents, order_count, quantity"
                         " FROM sales ORDER BY state")
        per_key = db_query(db, "SELECT source, state, SUM(total_cents), COUNT(*),"
                           " SUM(quantity) FROM orders GROUP BY source, state ORDER BY state")
        self.assertEqual(sales, per_key)
        self.assertEqual(p.stop(), 0)

        # replay from the topic keeps the same rows and refuses the same ones
        db2 = os.path.join(self.tmp, "replay.db")
        r = run_cli("replay", "--broker", self.mock.uri(), "--store", "sqlite:" + db2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("%d orders" % len(good), r.stdout)
        self.assertEqual(db_query(db2, "SELECT customer_id, quantity, state FROM orders"
                                  " ORDER BY customer_id, quantity"), rows)


if __name__ == "__main__":
    unittest.main()
