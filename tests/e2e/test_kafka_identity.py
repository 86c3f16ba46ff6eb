"""Positions keyed by the broker's identity (issues 22.2, 26.1), lag from
the topic's high watermarks and only for owned partitions (22.4, 26.3),
--create-topic against a cluster that creates topics itself and a bounded
consumer close (26.4) — against librdkafka's mock cluster, SQLite and a
private mariadbd.

Every order acknowledged (201) must be stored exactly once, and `sales`
must equal the sums over `orders`."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import unittest
import urllib.request

from harness import BIN, REPO, Server, expected_sales, free_port, post_many, random_orders
from kafkahelp import (GROUP_OPTS, MockCluster, Ingest, Process, have_kafka_tools, kcat,
                       tempdir, rmtree, db_query, wait_count, count_orders)
import mariadb

OK, WHY = have_kafka_tools()


def acked_ids(results, test):
    ids = []
    for _order, status, body in results:
        test.assertEqual(status, 201, body)
        ids.append(body["order_id"])
    return ids


def check_sqlite(test, db, ids):
    """Every acknowledged id stored exactly once; sales = sums over orders."""
    got = [r[0] for r in db_query(db, "SELECT uuid FROM orders")]
    test.assertEqual(len(got), len(set(got)))
    test.assertTrue(set(ids) <= set(got), "%d of %d acknowledged orders missing" %
                    (len(set(ids) - set(got)), len(ids)))
    rows = db_query(db, "SELECT source, state, total_cents, quantity FROM orders")
    want = expected_sales(rows)
    sales = {(s, st): [c, n, q] for s, st, c, n, q in db_query(
        db, "SELECT source, state, total_sum_cents, order_count, quantity FROM sales")}
    test.assertEqual(sales, want)


def metrics(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return {}   # not listening yet
    out = {}
    for line in text.splitlines():
        m = re.match(r'(salesflow_\w+)\{partition="(\d+)"\} (-?\d+)$', line)
        if m:
            out.setdefault(m.group(1), {})[int(m.group(2))] = int(m.group(3))
    return out


def foreign(cust, qty):
    return "%d:%s" % (cust, json.dumps({"customer_id": cust, "source": "Dine In",
                                        "quantity": qty,
                                        "created_at": "11/29/2024, 03:40:00"}))


class UpgradeFromBeforeIdentities(unittest.TestCase):
    """A data directory from a salesflow before identities: meta without
    an id, positions stored under the bare topic name. The first start
    takes them over (nothing is read twice) and says so."""

    def test_embedded_log_takes_over_its_positions(self):
        s = Server()
        try:
            s.start()
            ids = acked_ids(post_many(s, random_orders(400, 9)), self)
            s.wait_processed(400)
            s.stop()
            meta = os.path.join(s.data, "log", "meta")
            with open(meta) as f:
                lines = f.read().splitlines()
            self.assertTrue(any(x.startswith("id log-") for x in lines), lines)
            with open(meta, "w") as f:
                f.write("\n".join(lines[:3]) + "\n")
            import sqlite3
            con = sqlite3.connect(s.db_path)
            con.execute("UPDATE salesflow_offsets SET topic = 'Order'")
            con.commit()
            con.close()
            before = db_query(s.db_path, "SELECT sum(next_offset) FROM salesflow_offsets")
            s.start()
            ids += acked_ids(post_many(s, random_orders(100, 10)), self)
            s.wait_processed(500)
            s.stop()
            self.assertIn("upgrade: 4 positions of Order stored without a broker identity",
                          s.stderr())
            with open(meta) as f:
                self.assertIn("legacy 1", f.read())
            keys = db_query(s.db_path, "SELECT DISTINCT topic FROM salesflow_offsets")
            self.assertEqual(len(keys), 1)
            self.assertTrue(keys[0][0].startswith("Order@log-"), keys)
            after = db_query(s.db_path, "SELECT sum(next_offset) FROM salesflow_offsets")
            self.assertEqual(after[0][0], before[0][0] + 100)
            check_sqlite(self, s.db_path, ids)
            self.assertEqual(db_query(s.db_path, "SELECT count(*) FROM orders")[0][0], 500)
            self.assertNotIn("reading the partition again", s.stderr())
        finally:
            s.cleanup()


@unittest.skipUnless(OK, WHY)
class KafkaIdentity(unittest.TestCase):
    def setUp(self):
        self.tmp = tempdir()
        self.mocks = []
        self.procs = []
        self.servers = []

    def tearDown(self):
        for p in self.procs:
            p.kill()
        for s in self.servers:
            s.kill()
            s.cleanup() if hasattr(s, "cleanup") else None
        for m in self.mocks:
            m.stop()
        rmtree(self.tmp)

    def mock(self, *args, same_id=False):
        m = MockCluster(*args, same_id=same_id)
        self.mocks.append(m)
        return m

    def ingest(self, mock, name, extra=()):
        i = Ingest(mock.uri(), data=os.path.join(self.tmp, name), extra=extra).start()
        self.servers.append(i)
        return i

    def process(self, mock, store, name, extra=()):
        p = Process(mock.uri(), store, name=name, tmp=self.tmp, extra=extra).start()
        self.procs.append(p)
        return p

    def test_recreated_topic_starts_from_its_beginning(self):
        """Store kept, topic re-created on a new cluster with 12 partitions:
        the old positions must not apply to it."""
        db = os.path.join(self.tmp, "sales.db")
        a = self.mock()
        ing = self.ingest(a, "ing-a")
        # 150 a partition on the old topic, 200 on the new: old positions
        # applied to the new topic would skip 150 of each of 6 partitions.
        ids = acked_ids(post_many(ing, random_orders(900, 1)), self)
        p = self.process(a, "sqlite:" + db, "pa")
        wait_count(db, 900, procs=[p])
        p.stop()
        ing.stop()
        a.stop()

        b = self.mock("--partitions", "12")
        ing = self.ingest(b, "ing-b")
        ids += acked_ids(post_many(ing, random_orders(2400, 2)), self)
        p = self.process(b, "sqlite:" + db, "pb")
        wait_count(db, 3300, procs=[p])
        time.sleep(1)
        p.stop()
        check_sqlite(self, db, ids)
        self.assertEqual(db_query(db, "SELECT count(*) FROM orders")[0][0], 3300)

    def recreated_on_the_same_cluster(self, store, count, ids_stored, sums, unmark=None):
        """Store kept, topic deleted and re-created under the same name on
        the same cluster (same cluster id, so the same positions key): the
        old positions lie inside the new topic, and its foreign messages
        sit at the old ones' offsets. Every acknowledged order and every
        foreign message of both topics must be stored, once. unmark():
        the positions lose their marks, as if stored before marks: the
        orders before them must tell instead."""
        lines = "\n".join(foreign(3 + i % 5, 1 + i) for i in range(60)).encode() + b"\n"

        def wait(want, p):
            deadline = time.time() + 90
            while count() < want and time.time() < deadline:
                time.sleep(0.3)
            self.assertGreaterEqual(count(), want, p.stderr()[-3000:])

        a = self.mock(same_id=True)
        ing = self.ingest(a, "ing-a")
        # The same foreign messages first on both topics: the same
        # partitions and offsets, only their timestamps differ.
        r = kcat("-P", "-b", a.bootstraps, "-t", "Order", "-K:", input=lines)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = acked_ids(post_many(ing, random_orders(900, 3)), self)
        p = self.process(a, store, "pa")
        wait(960, p)
        p.stop()
        ing.stop()
        a.stop()
        key = self.position_keys()
        if unmark:
            unmark()

        b = self.mock(same_id=True)
        ing = self.ingest(b, "ing-b")
        r = kcat("-P", "-b", b.bootstraps, "-t", "Order", "-K:", input=lines)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids += acked_ids(post_many(ing, random_orders(2400, 4)), self)
        p = self.process(b, store, "pb")
        wait(900 + 60 + 60 + 2400, p)
        time.sleep(1)
        p.stop()
        self.assertEqual(self.position_keys(), key,
                         "not the same cluster id: the test shows nothing")
        self.assertIn("none of the last" if unmark else "last record before it",
                      p.stderr())
        got = ids_stored()
        self.assertEqual(len(got), len(set(got)), "an order is stored twice")
        self.assertEqual(set(ids) - set(got), set())
        self.assertEqual(len(got), 3420)
        sums()

    def test_topic_recreated_on_the_same_cluster(self):
        db = os.path.join(self.tmp, "sales.db")
        self.position_keys = lambda: db_query(
            db, "SELECT DISTINCT topic FROM salesflow_offsets")
        self.recreated_on_the_same_cluster(
            "sqlite:" + db, lambda: count_orders(db),
            lambda: [x[0] for x in db_query(db, "SELECT uuid FROM orders")],
            lambda: check_sqlite(self, db, []))

    def test_topic_recreated_on_the_same_cluster_positions_without_marks(self):
        db = os.path.join(self.tmp, "sales.db")
        self.position_keys = lambda: db_query(
            db, "SELECT DISTINCT topic FROM salesflow_offsets")

        def unmark():
            c = sqlite3.connect(db)
            self.assertGreater(c.execute("UPDATE salesflow_offsets SET last_mark = 0"
                                         " WHERE last_mark <> 0").rowcount, 0)
            c.commit()
            c.close()
        self.recreated_on_the_same_cluster(
            "sqlite:" + db, lambda: count_orders(db),
            lambda: [x[0] for x in db_query(db, "SELECT uuid FROM orders")],
            lambda: check_sqlite(self, db, []), unmark)

    def test_topic_recreated_on_the_same_cluster_mysql(self):
        ok, why = mariadb.available()
        if not ok:
            self.skipTest(why)
        mdb = mariadb.MariaDB().start()
        try:
            mdb.create_db("sales_db")

            def q(sql):
                return mdb.sql(sql, db="sales_db")

            def sums():
                for row in q("SELECT o.total, o.n, o.q, s.total_sum_amount, s.order_count,"
                             " s.quantity FROM (SELECT source, state, SUM(total) total,"
                             " COUNT(*) n, SUM(quantity) q FROM orders GROUP BY source,"
                             " state) o LEFT JOIN sales s USING (source, state)"):
                    self.assertEqual(row[0:3], row[3:6], row)
            def count():
                try:
                    return int(q("SELECT count(*) FROM orders")[0][0])
                except RuntimeError:    # no table yet
                    return 0
            self.position_keys = lambda: q("SELECT DISTINCT topic FROM salesflow_offsets")
            self.recreated_on_the_same_cluster(
                mdb.uri("sales_db"), count,
                lambda: [r[0] for r in q("SELECT uuid FROM orders")], sums)
        finally:
            mdb.stop()

    def recreate_and_check(self, first, first_want, second, want, before=None):
        """Topic "Order" filled by first(mock) and processed into a kept
        SQLite store, then deleted and re-created on the same cluster (same
        cluster id: the same positions key), filled by second(mock) and
        processed again: first_want rows, then want in all, every id both
        returned stored once. before(mock): called just before the second
        process starts."""
        db = os.path.join(self.tmp, "sales.db")
        a = self.mock(same_id=True)
        ids = first(a)
        p = self.process(a, "sqlite:" + db, "pa")
        wait_count(db, first_want, procs=[p])
        time.sleep(1)
        p.stop()
        a.stop()
        key = db_query(db, "SELECT DISTINCT topic FROM salesflow_offsets")
        b = self.mock(same_id=True)
        ids += second(b)
        if before:
            before(b)
        p = self.process(b, "sqlite:" + db, "pb")
        deadline = time.time() + 90
        while count_orders(db) < want and time.time() < deadline:
            time.sleep(0.3)
        time.sleep(1)
        p.stop()
        self.assertEqual(db_query(db, "SELECT DISTINCT topic FROM salesflow_offsets"), key,
                         "not the same cluster id: the test shows nothing")
        check_sqlite(self, db, ids)
        self.assertEqual(count_orders(db), want, p.stderr()[-3000:])
        self.assertIn("last record before it", p.stderr())

    def test_recreated_topic_of_messages_without_order_id(self):
        """Only messages without order_id before the stored positions, on
        both topics (the same ones, at the same offsets; only their
        timestamps differ): no order there tells the topics apart, the
        last record before each position does."""
        lines = "\n".join(foreign(3 + i % 5, 1 + i) for i in range(60)).encode() + b"\n"

        def fill(m):
            r = kcat("-P", "-b", m.bootstraps, "-t", "Order", "-K:", input=lines)
            self.assertEqual(r.returncode, 0, r.stderr)
            time.sleep(0.01)    # the second topic's timestamps differ
            return []
        self.recreate_and_check(fill, 60, fill, 120)

    def test_recreated_topic_with_old_orders_republished_after_new_ones(self):
        """The new topic gets new orders first, then the old topic's
        messages copied back (a migration tool; new timestamps). The old
        positions fall among the copied orders, which are all stored, yet
        the new orders before them are not: the last record before each
        position is not the one the store committed."""
        def first(m):
            ing = self.ingest(m, "ing-a")
            ids = acked_ids(post_many(ing, random_orders(600, 5)), self)
            ing.stop()
            return ids

        def second(m):
            ing = self.ingest(m, "ing-b")
            ids = acked_ids(post_many(ing, random_orders(300, 6)), self)
            ing.stop()
            for part, msgs in old_by_part.items():
                r = kcat("-P", "-b", m.bootstraps, "-t", "Order", "-p", str(part),
                         "-K\t", input="".join(msgs).encode())
                self.assertEqual(r.returncode, 0, r.stderr)
            return ids

        old_by_part = {}

        def first_and_copy(m):
            ids = first(m)
            r = kcat("-C", "-b", m.bootstraps, "-t", "Order", "-e", "-q",
                     "-f", "%p\t%k\t%s\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            for line in r.stdout.decode().splitlines():
                part, rest = line.split("\t", 1)
                old_by_part.setdefault(int(part), []).append(rest + "\n")
            self.assertEqual(sum(len(v) for v in old_by_part.values()), 600)
            return ids
        self.recreate_and_check(first_and_copy, 600, second, 900)

    def test_check_waits_out_broker_errors(self):
        """Fetch errors for ~20 s while the positions are checked (a leader
        election, a topic just created): the check is retried, never
        skipped, so the old positions are not taken for the new topic's."""
        def orders(name, n, seed):
            def fill(m):
                ing = self.ingest(m, name)
                ids = acked_ids(post_many(ing, random_orders(n, seed)), self)
                ing.stop()
                return ids
            return fill

        def fetch_errors(m):
            m.cmd("errors Fetch 40 LEADER_NOT_AVAILABLE")
        self.recreate_and_check(orders("ing-a", 600, 7), 600, orders("ing-b", 1200, 8), 1800,
                                fetch_errors)

    def test_positions_moved_by_a_salesflow_without_marks(self):
        """A kept topic whose positions an older salesflow (one that
        stores no marks) moved on after this one committed: the marks left
        behind are not its positions' and must not make the topic look
        re-created (a re-read from the start)."""
        db = os.path.join(self.tmp, "sales.db")
        k = self.mock()
        ing = self.ingest(k, "ing")
        ids = acked_ids(post_many(ing, random_orders(300, 9)), self)
        p = self.process(k, "sqlite:" + db, "p1")
        wait_count(db, 300, procs=[p])
        time.sleep(1)
        p.stop()
        old = db_query(db, "SELECT partition, last_mark FROM salesflow_offsets")
        ids += acked_ids(post_many(ing, random_orders(300, 10)), self)
        p = self.process(k, "sqlite:" + db, "p2")
        wait_count(db, 600, procs=[p])
        time.sleep(1)
        p.stop()
        c = sqlite3.connect(db)     # the older salesflow's commits: marks unchanged
        for part, mark in old:
            c.execute("UPDATE salesflow_offsets SET last_mark = ? WHERE partition = ?",
                      (mark, part))
        c.commit()
        c.close()
        p = self.process(k, "sqlite:" + db, "p3")
        deadline = time.time() + 30
        while "reading Order partition" not in p.stderr() and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        p.stop()
        self.assertIn("stored by a salesflow without marks", p.stderr())
        self.assertNotIn("last record before it", p.stderr())
        self.assertNotIn("@0 ", p.stderr().split("reading Order partition@offset")[-1]
                         .splitlines()[0] + " ")
        check_sqlite(self, db, ids)
        self.assertEqual(count_orders(db), 600)

    def test_a_customer_added_is_no_recreated_topic(self):
        """Not re-created: foreign messages of a customer the catalog lacks
        were quarantined just before the position; the catalog then gains
        the customer. The position must stand (no re-read: nothing
        doubles, whatever form the stored ids have)."""
        db = os.path.join(self.tmp, "sales.db")
        with open(os.path.join(REPO, "data", "customers.csv")) as f:
            base = f.read().rstrip("\n") + "\n"
        c17, c18 = os.path.join(self.tmp, "c17.csv"), os.path.join(self.tmp, "c18.csv")
        with open(c17, "w") as f:
            f.write(base)
        with open(c18, "w") as f:
            f.write(base + "18,NY\n")
        lines = [foreign(1 + i % 17, 1 + i) for i in range(20)]
        lines += [foreign(18, 5 + i) for i in range(3)]
        k = self.mock()
        r = kcat("-P", "-b", k.bootstraps, "-t", "Order", "-p", "0", "-K:",
                 input=("\n".join(lines) + "\n").encode())
        self.assertEqual(r.returncode, 0, r.stderr)
        p = self.process(k, "sqlite:" + db, "p1", extra=["--customers", c17])
        wait_count(db, 20, procs=[p])
        time.sleep(1)
        p.stop()
        p = self.process(k, "sqlite:" + db, "p2", extra=["--customers", c18])
        deadline = time.time() + 30
        while "reading Order partition" not in p.stderr() and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        p.stop()
        self.assertNotIn("none of the last", p.stderr())
        self.assertIn("0@23", p.stderr())
        self.assertEqual(count_orders(db), 20)

    def test_foreign_ids_do_not_collide_across_clusters(self):
        """Messages without order_id on two clusters (same topic, partition,
        offsets): their derived ids must differ, and a replay of one topic
        derives the same ids again."""
        db = os.path.join(self.tmp, "sales.db")
        lines = "\n".join(foreign(c, q) for c, q in
                          [(3, 1), (4, 2), (5, 3), (6, 4), (7, 5), (3, 6)]).encode() + b"\n"
        a = self.mock()
        r = kcat("-P", "-b", a.bootstraps, "-t", "Order", "-K:", input=lines)
        self.assertEqual(r.returncode, 0, r.stderr)
        p = self.process(a, "sqlite:" + db, "pa")
        wait_count(db, 6, procs=[p])
        p.stop()
        first = set(x[0] for x in db_query(db, "SELECT uuid FROM orders"))

        b = self.mock()
        r = kcat("-P", "-b", b.bootstraps, "-t", "Order", "-K:", input=lines)
        self.assertEqual(r.returncode, 0, r.stderr)
        p = self.process(b, "sqlite:" + db, "pb")
        wait_count(db, 12, procs=[p])
        time.sleep(1)
        p.stop()
        self.assertEqual(db_query(db, "SELECT count(*) FROM orders")[0][0], 12)
        check_sqlite(self, db, [])

        # Deterministic: a replay of cluster b into a new store gives b's ids.
        db2 = os.path.join(self.tmp, "replay.db")
        r = subprocess.run([BIN, "replay", "--broker", b.uri(), "--store", "sqlite:" + db2],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        second = set(x[0] for x in db_query(db2, "SELECT uuid FROM orders"))
        self.assertEqual(len(second), 6)
        self.assertEqual(set(x[0] for x in db_query(db, "SELECT uuid FROM orders")),
                         first | second)

    def test_embedded_log_then_kafka_on_one_mysql_database(self):
        """The README's MySQL section (run: embedded log into sales_db), then
        its Kafka section (ingest + process) on the same sales_db."""
        ok, why = mariadb.available()
        if not ok:
            self.skipTest(why)
        try:
            mdb = mariadb.MariaDB().start()
        except Exception as e:  # noqa: BLE001
            self.skipTest("mariadbd cannot start here: %s" % str(e)[:300])
        try:
            mdb.create_db("sales_db")
            store = mdb.uri("sales_db")
            srv = Server(data=os.path.join(self.tmp, "run"), extra=["--store", store])
            self.servers.append(srv)
            srv.start()
            # ~200 a partition in the embedded log, ~400 in Kafka: Kafka
            # read from the log's offsets would skip ~200 of 4 partitions.
            ids = acked_ids(post_many(srv, random_orders(800, 3)), self)
            deadline = time.time() + 60
            while time.time() < deadline:
                if int(mdb.sql("SELECT count(*) FROM orders", db="sales_db")[0][0]) >= 800:
                    break
                time.sleep(0.3)
            srv.stop()

            k = self.mock()
            ing = self.ingest(k, "ing")
            ids += acked_ids(post_many(ing, random_orders(2400, 4)), self)
            p = self.process(k, store, "p")
            deadline = time.time() + 90
            n = 0
            while time.time() < deadline:
                n = int(mdb.sql("SELECT count(*) FROM orders", db="sales_db")[0][0])
                if n >= 3200:
                    break
                time.sleep(0.3)
            time.sleep(1)
            p.stop()
            got = [r[0] for r in mdb.sql("SELECT uuid FROM orders", db="sales_db")]
            self.assertEqual(len(got), len(set(got)))
            self.assertEqual(set(ids) - set(got), set(), p.stderr()[-3000:])
            self.assertEqual(len(got), 3200)
            sums = mdb.sql("SELECT o.source, o.state, o.total, o.n, o.q, s.total_sum_amount,"
                           " s.order_count, s.quantity FROM (SELECT source, state,"
                           " SUM(total) total, COUNT(*) n, SUM(quantity) q FROM orders"
                           " GROUP BY source, state) o LEFT JOIN sales s USING (source,"
                           " state)", db="sales_db")
            for row in sums:
                self.assertEqual(row[2:5], row[5:8], row)
            # log stat --store reports the embedded log's own positions: all
            # of it processed, whatever Kafka stored beside them.
            r = subprocess.run([BIN, "log", "stat", "--data", os.path.join(self.tmp, "run"),
                                "--store", store], cwd=REPO, capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(", 0 not yet processed", r.stdout)
        finally:
            mdb.stop()

    def test_lag_grows_while_the_store_is_stuck_and_drops_revoked(self):
        db = os.path.join(self.tmp, "sales.db")
        k = self.mock()
        ing = self.ingest(k, "ing")
        acked_ids(post_many(ing, random_orders(300, 5)), self)
        port = free_port()
        p = self.process(k, "sqlite:" + db, "p1",
                         extra=["--listen", "127.0.0.1:%d" % port])
        wait_count(db, 300, procs=[p])
        # /readyz of a `process` checks its store too.
        deadline = time.time() + 20
        body = {}
        while time.time() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port,
                                            timeout=10) as r:
                    body = json.loads(r.read())
                break
            except urllib.error.HTTPError as e:
                body = json.loads(e.read())
                time.sleep(0.3)
        self.assertEqual(body["checks"].get("store"), "ok", body)
        # The store refuses writes (another writer holds it): the processor
        # retries; the lag must show what is waiting.
        import sqlite3
        con = sqlite3.connect(db, timeout=30, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        try:
            acked_ids(post_many(ing, random_orders(400, 6)), self)
            deadline = time.time() + 30
            lag = 0
            while time.time() < deadline:
                lag = sum(metrics(port).get("salesflow_processor_lag", {}).values())
                if lag >= 400:
                    break
                time.sleep(0.5)
            self.assertGreaterEqual(lag, 400, p.stderr()[-2000:])
        finally:
            con.execute("ROLLBACK")
            con.close()
        wait_count(db, 700, procs=[p])
        # A second member takes half of the partitions: the first stops
        # exporting position, log end and lag for them.
        port2 = free_port()
        p2 = self.process(k, "sqlite:" + db, "p2",
                          extra=["--listen", "127.0.0.1:%d" % port2])
        deadline = time.time() + 60
        m1 = m2 = {}
        while time.time() < deadline:
            m1, m2 = metrics(port), metrics(port2)
            o1 = set(m1.get("salesflow_processor_position", {}))
            o2 = set(m2.get("salesflow_processor_position", {}))
            if o1 and o2 and not (o1 & o2) and len(o1 | o2) == 6:
                break
            time.sleep(0.5)
        for name in ("salesflow_processor_position", "salesflow_log_end_offset",
                     "salesflow_processor_lag"):
            self.assertFalse(set(m1.get(name, {})) & set(m2.get(name, {})),
                             (name, m1, m2))
        self.assertEqual(len(set(m1.get("salesflow_processor_position", {})) |
                             set(m2.get("salesflow_processor_position", {}))), 6)
        p2.stop()
        p.stop()

    def test_create_topic_on_an_auto_creating_cluster(self):
        # The mock creates a topic (4 partitions) on any metadata request
        # naming it and has no controller for CreateTopics: the 12 asked
        # for cannot be had, and ingest must say what it got.
        k = self.mock("--no-topic")
        ing = self.ingest(k, "ing", extra=["--create-topic", "12"])
        r = kcat("-L", "-b", k.bootstraps, "-t", "Order")
        self.assertIn("4 partitions", r.stdout.decode(), r.stdout)
        self.assertIn("topic Order has 4 partitions, not the 12 --create-topic asked for",
                      ing.stderr())
        # Orders still flow, to the partitions the topic has.
        acked_ids(post_many(ing, random_orders(20, 8)), self)

    def test_sigterm_after_the_cluster_died_exits_in_bounded_time(self):
        db = os.path.join(self.tmp, "sales.db")
        k = self.mock()
        ing = self.ingest(k, "ing")
        acked_ids(post_many(ing, random_orders(200, 7)), self)
        ing.stop()
        p = self.process(k, "sqlite:" + db, "p")
        wait_count(db, 200, procs=[p])
        k.proc.kill()
        k.proc.wait()
        time.sleep(2)
        t0 = time.time()
        p.proc.send_signal(signal.SIGTERM)
        try:
            p.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.fail("process did not exit within 30 s of SIGTERM with the cluster gone")
        self.assertEqual(p.proc.returncode, 0, p.stderr()[-2000:])
        self.assertLess(time.time() - t0, 30)


if __name__ == "__main__":
    unittest.main()
