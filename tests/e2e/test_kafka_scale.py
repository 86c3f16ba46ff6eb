"""Kafka mode, scaled out: 100,000 orders through `salesflow ingest` into the
mock cluster's topic Order (6 partitions), three `salesflow process` in one
consumer group writing one store — a private MariaDB server (SQLite only
where mariadbd is not installed; SF_SCALE_STORE=sqlite forces it), one of
them killed with SIGKILL mid-stream and started again. Every acknowledged order must be stored once,
the aggregates must equal the raw rows, and the stored positions must cover
the whole topic."""

import http.client
import json
import os
import random
import threading
import time
import unittest

import mariadb
from harness import SOURCES
from kafkahelp import (MockCluster, Ingest, Process, have_kafka_tools, tempdir,
                       rmtree, db_query)

OK, WHY = have_kafka_tools()
TOTAL = int(os.environ.get("SF_KAFKA_ORDERS", "100000"))
BATCH = 500


class SQLiteStore:
    name = "SQLite"

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "sales.db")
        self.uri = "sqlite:" + self.path

    def ready(self):
        return os.path.exists(self.path)

    def query(self, sql):
        return [tuple(r) for r in db_query(self.path, sql.replace("`", '"'))]

    def money(self, col):
        return col + "_cents"

    def stop(self):
        pass


class MariaDBStore:
    """The serving tables in MariaDB: money is DECIMAL, compared as cents."""
    name = "MariaDB"

    def __init__(self, tmp):
        self.server = mariadb.MariaDB().start()
        self.uri = self.server.uri(self.server.create_db("scale"))

    def ready(self):
        return bool(self.server.sql("SHOW TABLES LIKE 'salesflow_offsets'", db="scale"))

    def query(self, sql):
        return [tuple(int(v) if v is not None and v.lstrip("-").isdigit() else v
                      for v in row) for row in self.server.sql(sql, db="scale")]

    def money(self, col):
        return "CAST(ROUND(%s * 100) AS SIGNED)" % {"total_sum": "total_sum_amount"}.get(
            col, col)

    def stop(self):
        self.server.stop()


def open_store(tmp):
    if os.environ.get("SF_SCALE_STORE") != "sqlite" and mariadb.available()[0]:
        return MariaDBStore(tmp)
    return SQLiteStore(tmp)


def count_orders(store):
    return store.query("SELECT COUNT(*) FROM orders")[0][0]


def wait_count(store, want, timeout, procs):
    deadline = time.time() + timeout
    got = -1
    while time.time() < deadline:
        got = count_orders(store)
        if got >= want:
            return got
        time.sleep(0.5)
    raise AssertionError("%s holds %d orders, expected %d\n%s" % (
        store.name, got, want, "\n".join(p.stderr()[-1500:] for p in procs)))


class Loader(threading.Thread):
    """Posts batches of orders to /v1/orders; collects the acked order_ids."""

    def __init__(self, port, batches, rate_per_s):
        super().__init__(daemon=True)
        self.port, self.batches, self.rate = port, batches, rate_per_s
        self.acked, self.failed, self.errors = [], 0, []

    def run(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        t0 = time.time()
        for i, rows in enumerate(self.batches):
            due = t0 + i * len(rows) / self.rate
            if due > time.time():
                time.sleep(due - time.time())
            c.request("POST", "/v1/orders", json.dumps(rows),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            body = json.loads(r.read())
            for res in body.get("results", []):
                if "order_id" in res:
                    self.acked.append(res["order_id"])
                else:
                    self.failed += 1
            if r.status not in (201, 207):
                self.errors.append((r.status, str(body)[:200]))
        c.close()


@unittest.skipUnless(OK, WHY)
class KafkaScaleOut(unittest.TestCase):
    def setUp(self):
        self.tmp = tempdir()
        self.mock = MockCluster()
        self.procs, self.ing, self.store = [], None, None

    def tearDown(self):
        for p in self.procs:
            p.kill()
        if self.ing:
            self.ing.kill()
        self.mock.stop()
        if self.store:
            self.store.stop()
        rmtree(self.tmp)

    def test_three_processors_one_killed_exactly_once(self):
        db = self.store = open_store(self.tmp)
        store = db.uri
        # lz4: a --kafka-opt passthrough, and headroom in the mock cluster,
        # which keeps only ~5 MiB per partition (the fullest of the 6 gets
        # ~24 % of the orders, ~4.5 MiB uncompressed).
        self.ing = Ingest(self.mock.uri(), data=os.path.join(self.tmp, "ing"), extra=[
            "--kafka-opt", "producer.compression.codec=lz4"]).start()
        # Start one processor first so the store's schema exists, then two more.
        self.procs = [Process(self.mock.uri(), store, name="p0", tmp=self.tmp).start()]
        deadline = time.time() + 15
        while not db.ready() and time.time() < deadline:
            time.sleep(0.05)
        self.procs += [Process(self.mock.uri(), store, name="p%d" % i, tmp=self.tmp).start()
                       for i in (1, 2)]
        # Let the group settle so that every member owns partitions.
        deadline = time.time() + 150   # a rebalance is slow on a loaded machine
        while not all("assigned" in p.stderr() for p in self.procs):
            self.assertLess(time.time(), deadline, [p.stderr() for p in self.procs])
            time.sleep(0.1)

        rnd = random.Random(6)
        rows = [{"customer_id": rnd.randint(1, 17), "source": rnd.choice(SOURCES),
                 "quantity": rnd.randint(1, 100)} for _ in range(TOTAL)]
        batches = [rows[i:i + BATCH] for i in range(0, TOTAL, BATCH)]
        # Two loaders, about 15 s of traffic in all.
        loaders = [Loader(self.ing.port, batches[k::2], rate_per_s=TOTAL / 15 / 2)
                   for k in range(2)]
        for ld in loaders:
            ld.start()

        # Mid-stream: SIGKILL one processor, start it again a little later.
        while sum(len(ld.acked) for ld in loaders) < TOTAL * 0.3:
            time.sleep(0.1)
        # ... and the group has stored some (on a busy machine its first
        # assignment may come after 30 % are acknowledged)
        deadline = time.time() + 60
        while count_orders(db) == 0 and time.time() < deadline:
            time.sleep(0.1)
        victim = self.procs[1]
        owned = [int(x.split("@")[0]) for x in victim.stderr().rsplit(
            "partition@offset ", 1)[1].split('"')[0].split()]
        victim.kill()
        killed_at = count_orders(db)
        while sum(len(ld.acked) for ld in loaders) < TOTAL * 0.5:
            time.sleep(0.1)
        victim.start()

        for ld in loaders:
            ld.join(120)
            self.assertFalse(ld.is_alive(), "loader stuck")
        acked = [i for ld in loaders for i in ld.acked]
        failed = sum(ld.failed for ld in loaders)
        self.assertEqual(failed, 0, [ld.errors[:3] for ld in loaders])
        self.assertEqual(len(acked), TOTAL)
        self.assertEqual(len(set(acked)), TOTAL)

        wait_count(db, TOTAL, timeout=120, procs=self.procs)
        time.sleep(1)   # anything extra would show up now
        for p in self.procs:
            self.assertTrue(p.running(), p.stderr()[-2000:])

        # Every acked order once, nothing else.
        stored = [r[0] for r in db.query("SELECT uuid FROM orders")]
        self.assertEqual(len(stored), TOTAL)
        self.assertEqual(set(stored), set(acked))
        # Aggregates equal the raw rows (no delta applied twice).
        per_key = {(s, st): (c, n, q) for s, st, c, n, q in db.query(
            "SELECT source, state, sum(%s), count(*), sum(quantity) "
            "FROM orders GROUP BY source, state" % db.money("total"))}
        sales = {(s, st): (c, n, q) for s, st, c, n, q in db.query(
            "SELECT source, state, %s, order_count, quantity FROM sales"
            % db.money("total_sum"))}
        self.assertEqual(sales, per_key)
        minute = {(s, st): (c, n, q) for s, st, c, n, q in db.query(
            "SELECT source, state, sum(%s), sum(order_count), sum(quantity) "
            "FROM sales_minute GROUP BY source, state" % db.money("total"))}
        self.assertEqual(minute, per_key)
        # The idempotent producer wrote each order once, and the stored
        # positions are the end of every partition.
        pos = dict(db.query("SELECT `partition`, next_offset FROM salesflow_offsets "
                            "WHERE topic LIKE 'Order@kafka-%'"))
        self.assertEqual(sorted(pos), list(range(6)))
        self.assertEqual(sum(pos.values()), TOTAL)
        # All three took part, and the restarted one resumed from the store.
        for p in self.procs:
            self.assertIn("assigned", p.stderr())
        self.assertGreater(killed_at, 0)
        self.assertTrue(owned, "the killed processor owned partitions")
        self.assertGreaterEqual(victim.stderr().count("salesflow 0.1.0 process"), 2)

        for p in self.procs:
            self.assertEqual(p.stop(), 0, p.stderr()[-2000:])
        self.assertEqual(self.ing.stop(), 0)


if __name__ == "__main__":
    unittest.main()
