"""MySQL store: every order_id the API accepts is stored, as its own key
(issue 25.4, 25.5), and a record the store can never hold goes to the
quarantine instead of stopping the pipeline (25.4).

- order_ids of 37..64 characters (orders.uuid was VARCHAR(36)): stored,
  also in a database made by the schema of version 1, which is migrated
  with its rows kept;
- "P-7" and "P-7 " are two orders (MariaDB's PAD SPACE collations compare
  them equal);
- an order that would take a DECIMAL(18,2) aggregate out of range is
  quarantined with its position and the server's reason after a few
  attempts, and the orders around it (same partition, same batch) are
  stored.

Each test checks the invariant: every acknowledged order_id is in orders
exactly once (the unstorable one in the quarantine instead) and sales
equals the sums over orders."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import mariadb
from harness import BIN, REPO, Server, cents, free_port, post_v1
from test_mysql import (MySQLCase, assert_acked_stored, log_orders, new_db,
                        wait_rows)

OK, WHY = mariadb.available()

# The tables as schema version 1 created them (orders.uuid VARCHAR(36),
# PAD SPACE utf8mb4_bin).
V1_TABLES = (
    "CREATE TABLE orders (uuid VARCHAR(36) NOT NULL, customer_id BIGINT NOT NULL,"
    " source VARCHAR(100) NOT NULL, quantity BIGINT NOT NULL, total DECIMAL(18,2) NOT NULL,"
    " created_at DATETIME(3) NOT NULL, state VARCHAR(2) NOT NULL, PRIMARY KEY (uuid),"
    " KEY orders_created_at (created_at)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    " COLLATE=utf8mb4_bin;"
    "CREATE TABLE sales (sales_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,"
    " source VARCHAR(100) NOT NULL, state VARCHAR(2) NOT NULL,"
    " total_sum_amount DECIMAL(18,2) NOT NULL DEFAULT 0, order_count BIGINT NOT NULL"
    " DEFAULT 0, quantity BIGINT NOT NULL DEFAULT 0, updated_at DATETIME(3) NOT NULL,"
    " PRIMARY KEY (sales_id), UNIQUE KEY sales_source_state (source, state))"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;"
    "CREATE TABLE sales_minute (minute DATETIME NOT NULL, source VARCHAR(100) NOT NULL,"
    " state VARCHAR(2) NOT NULL, total DECIMAL(18,2) NOT NULL, order_count BIGINT NOT NULL,"
    " quantity BIGINT NOT NULL, PRIMARY KEY (minute, source, state)) ENGINE=InnoDB"
    " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;"
    "CREATE TABLE salesflow_offsets (topic VARCHAR(255) NOT NULL, `partition` INT NOT NULL,"
    " next_offset BIGINT NOT NULL, PRIMARY KEY (topic, `partition`)) ENGINE=InnoDB"
    " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;"
    "CREATE TABLE salesflow_schema (version INT NOT NULL, description VARCHAR(200) NOT NULL,"
    " applied_at DATETIME(3) NOT NULL, PRIMARY KEY (version)) ENGINE=InnoDB"
    " DEFAULT CHARSET=utf8mb4;"
    "INSERT INTO salesflow_schema VALUES (1, 'orders, sales, sales_minute,"
    " salesflow_offsets', UTC_TIMESTAMP(3));")


@unittest.skipUnless(OK, WHY)
class MySQLKeysTest(MySQLCase):
    def post(self, s, orders):
        status, rep = post_v1(s, orders)
        self.assertEqual(status, 201, rep)
        return [r["order_id"] for r in rep["results"]]

    def assert_invariant(self, name, acked, unstorable=()):
        assert_acked_stored(self, self.db, name, acked, unstorable)

    def wait_positions(self, s, name, timeout=60):
        """Until the stored positions cover the whole log."""
        want = {p: len(r) for p, r in s.log_records().items() if r}
        deadline = time.time() + timeout
        while True:
            got = {int(p): int(n) for p, n in self.db.sql(
                "SELECT `partition`, next_offset FROM salesflow_offsets", db=name)}
            if all(got.get(p) == n for p, n in want.items()):
                return
            self.assertLess(time.time(), deadline, "positions %s, log %s\n%s" %
                            (got, want, s.stderr()[-3000:]))
            time.sleep(0.2)

    def test_long_order_ids_after_migration(self):
        """A database of schema version 1 with rows in it: migrated (rows
        kept), then ids of 37..64 characters are stored like any other."""
        name = new_db(self.db)
        self.db.sql(V1_TABLES, db=name)
        self.db.sql("INSERT INTO orders VALUES ('old-1', 3, 'Dine In', 2, 600.00,"
                    " '2026-11-29 03:40:00.000', 'CA');"
                    "INSERT INTO sales (source, state, total_sum_amount, order_count,"
                    " quantity, updated_at) VALUES ('Dine In', 'CA', 600.00, 1, 2,"
                    " '2026-11-29 03:40:00.000');"
                    "INSERT INTO sales_minute VALUES ('2026-11-29 03:40:00', 'Dine In', 'CA',"
                    " 600.00, 1, 2)", db=name)
        s = self.server(self.db.uri(name))
        ids = ["x" * 37, "y" * 50, "z" * 64, "0193a5e2-7c1d-7b3e-9f00-123456789abc-till-7",
               "short-1"]
        acked = self.post(s, [{"order_id": i, "customer_id": 1 + k, "source": "Takeaway",
                               "quantity": 3} for k, i in enumerate(ids)])
        self.assertEqual(acked, ids)
        # An order posted after them, in the same partition as the first.
        acked += self.post(s, {"order_id": "after", "customer_id": 1, "source": "Takeaway",
                               "quantity": 1})
        wait_rows(self.db, name, 7, timeout=60)
        self.wait_positions(s, name)
        self.assert_invariant(name, acked + ["old-1"])
        self.assertEqual(self.db.sql("SELECT total, state FROM orders WHERE uuid = '%s'"
                                     % ("z" * 64), db=name), [("900.00", "CA")])
        self.assertEqual(self.db.sql("SELECT MAX(version) FROM salesflow_schema", db=name),
                         [("7",)])
        # Migration 5: the positions are stored with the marks of their records.
        marks = self.db.sql("SELECT last_mark FROM salesflow_offsets", db=name)
        self.assertTrue(marks and all(m != "0" for (m,) in marks), marks)
        self.assertEqual(s.get("/readyz")[0], 200)

    def test_read_only_serve_of_an_older_schema(self):
        """A database of an older schema version and a SELECT-only user:
        `serve` cannot migrate it, says so, and serves what it holds."""
        name = new_db(self.db)
        self.db.sql(V1_TABLES, db=name)
        self.db.sql("INSERT INTO sales (source, state, total_sum_amount, order_count,"
                    " quantity, updated_at) VALUES ('Dine In', 'CA', 600.00, 1, 2,"
                    " '2026-11-29 03:40:00.000')", db=name)
        port = free_port()
        serve = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:%d" % port, "--store",
                                  self.db.uri(name, user="ro", password=mariadb.RO_PASSWORD)],
                                 cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        try:
            view = Server()
            view.port = port
            up = False
            for _ in range(200):
                try:
                    up = view.get("/healthz")[0] == 200
                    break
                except OSError:
                    time.sleep(0.05)
            self.assertTrue(up, "serve did not start")
            rows = view.api_sales()["rows"]
            self.assertEqual([(r["source"], r["state"]) for r in rows], [("Dine In", "CA")])
        finally:
            serve.terminate()
            out, _ = serve.communicate(timeout=10)
        self.assertIn("cannot migrate it", out)
        self.assertIn("CREATE command denied to user 'ro'", out)
        self.assertEqual(self.db.sql("SELECT MAX(version) FROM salesflow_schema", db=name),
                         [("1",)])

    def test_read_only_serve_of_a_schema_before_customer_rollups(self):
        """A database of schema version 5 (no customer rollups) and a
        SELECT-only user: grouped by customer, /api/query answers from
        orders."""
        name = new_db(self.db)
        s = self.server(self.db.uri(name))
        self.post(s, [{"order_id": "c-%d" % k, "customer_id": 1 + k % 3, "source": "Takeaway",
                       "quantity": 1 + k, "created_at": "2026-11-%02dT10:30:00Z" % (2 + k)}
                      for k in range(6)])
        wait_rows(self.db, name, 6, timeout=60)
        s.stop()
        self.db.sql("DROP TABLE sales_customer_hour; DROP TABLE sales_customer_day;"
                    " DELETE FROM salesflow_schema WHERE version >= 6", db=name)
        self.ask_read_only(name, "/api/query?metric=quantity&by=customer_id"
                           "&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z",
                           [[1, 5], [2, 7], [3, 9]])

    def ask_read_only(self, name, path, rows):
        """`salesflow serve` of database name as the SELECT-only user: path
        answers rows, and serve said it cannot migrate the schema."""
        port = free_port()
        serve = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:%d" % port, "--store",
                                  self.db.uri(name, user="ro", password=mariadb.RO_PASSWORD)],
                                 cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        try:
            view = Server()
            view.port = port
            for _ in range(200):
                try:
                    if view.get("/healthz")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            status, body = view.get(path)
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["rows"], rows)
        finally:
            serve.terminate()
            out, _ = serve.communicate(timeout=10)
        self.assertIn("cannot migrate it", out)

    def test_batch_sum_past_int64_is_not_wrapped(self):
        """Nineteen orders of 9,999,999,999,999,999.00 (unit price
        999,999,999,999.99 x 10,000 less a cent's worth) for one (source,
        state) in one request, so one batch: their sum passes what 64-bit
        cents hold, and folded into one delta it must not wrap round to a
        small, wrong amount that fits the column. The first is stored; each
        other would take sales.total_sum_amount (DECIMAL(18,2)) out of range
        and goes to the quarantine saying so; sales stays the sums over
        orders."""
        name = new_db(self.db)
        s = self.server(self.db.uri(name))
        big = {"customer_id": 3, "source": "Dine In", "quantity": 10000,
               "unit_price": "999999999999.99"}
        ids = ["wrap-%02d" % i for i in range(19)]
        acked = self.post(s, [dict(big, order_id=i) for i in ids])
        deadline = time.time() + 120
        while True:
            status, body = s.get("/v1/quarantine?limit=50")
            self.assertEqual(status, 200, body)
            items = json.loads(body)["items"]
            if len(items) >= 18 or time.time() > deadline:
                break
            time.sleep(0.3)
        self.wait_positions(s, name)
        self.assertEqual(len(items), 18, (items, s.stderr()[-3000:]))
        for q in items:
            self.assertIn("Out of range value for column", q["detail"][0]["msg"])
        quarantined = {json.loads(q["raw"])["order_id"] for q in items}
        self.assert_invariant(name, acked, unstorable=sorted(quarantined))
        self.assertEqual(self.db.sql("SELECT total_sum_amount, order_count FROM sales",
                                     db=name), [("9999999999999900.00", "1")])
        self.assertEqual(self.db.sql("SELECT SUM(total), COUNT(*) FROM orders", db=name),
                         [("9999999999999900.00", "1")])
        self.assertEqual(s.get("/readyz")[0], 200)

    def test_read_only_serve_of_a_schema_before_quarter_rollup(self):
        """A database of schema version 6 (the release before sales_quarter)
        and a SELECT-only user: hour buckets of +05:30 are answered from
        sales_minute, exactly."""
        name = new_db(self.db)
        s = self.server(self.db.uri(name))
        self.post(s, [{"order_id": "k-%d" % k, "customer_id": 1 + k % 3, "source": "Takeaway",
                       "quantity": 1 + k, "created_at": "2026-11-02T10:%02d:00Z" % (k * 7)}
                      for k in range(8)])
        wait_rows(self.db, name, 8, timeout=60)
        s.stop()
        self.db.sql("DROP TABLE sales_quarter;"
                    " DELETE FROM salesflow_schema WHERE version >= 7", db=name)
        # 10:00..10:49 UTC: +05:30's hours 15:00 (10:00..10:29 UTC: k 0..4)
        # and 16:00 (10:30..: k 5..7)
        self.ask_read_only(name, "/api/query?metric=quantity&by=hour&tz=%2B05:30"
                           "&from=2026-11-02T10:00:00Z&to=2026-11-02T11:00:00Z",
                           [["2026-11-02T15:00:00+05:30", 15],
                            ["2026-11-02T16:00:00+05:30", 21]])

    def test_pad_space_key_refused(self):
        """A migrated database whose orders.uuid was altered back to a PAD
        SPACE collation: refused at start, with what to do."""
        name = new_db(self.db)
        self.server(self.db.uri(name)).stop()
        self.db.sql("ALTER TABLE orders MODIFY uuid VARCHAR(64) CHARACTER SET utf8mb4"
                    " COLLATE utf8mb4_bin NOT NULL", db=name)
        r = subprocess.run([BIN, "run", "--listen", "127.0.0.1:%d" % free_port(), "--data",
                            os.path.join(self.tmp, "d"), "--store", self.db.uri(name)],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("table orders: uuid is varchar(64) utf8mb4_bin, needs VARCHAR(64) with "
                      "a NO PAD binary collation (utf8mb4_nopad_bin; MySQL 8: "
                      "utf8mb4_0900_bin) or VARBINARY(64)", r.stderr)

    def test_trailing_space_is_another_order(self):
        name = new_db(self.db)
        s = self.server(self.db.uri(name))
        ids = ["P-7", "P-7 ", "P-7  ", " P-7"]
        acked = self.post(s, [{"order_id": i, "customer_id": 3, "source": "Dine In",
                               "quantity": 1 + k} for k, i in enumerate(ids)])
        self.assertEqual(acked, ids)
        wait_rows(self.db, name, 4, timeout=60)
        self.wait_positions(s, name)
        self.assert_invariant(name, acked)
        rows = self.db.sql("SELECT CONCAT('[', uuid, ']'), quantity FROM orders"
                           " ORDER BY quantity", db=name)
        self.assertEqual(rows, [("[P-7]", "1"), ("[P-7 ]", "2"), ("[P-7  ]", "3"),
                                ("[ P-7]", "4")])
        self.assertEqual(self.db.sql("SELECT total_sum_amount, order_count FROM sales",
                                     db=name), [("3000.00", "4")])
        # The same ids again: answered from the first result, stored once.
        status, rep = post_v1(s, [{"order_id": i, "customer_id": 3, "source": "Dine In",
                                   "quantity": 9} for i in ids])
        self.assertEqual(status, 201, rep)
        time.sleep(1)
        self.assert_invariant(name, acked)

    def test_unstorable_order_is_quarantined(self):
        """sales.total_sum_amount is DECIMAL(18,2): at most
        9,999,999,999,999,999.99. One order of 9,999,999,999,999,900.00
        (unit price 999,999,999,999.99 × 10,000) fits; a second one for the
        same (source, state) would take the row past it, and MySQL refuses
        that for good ("Out of range value"). The second goes to the
        quarantine with its position; the orders before and after it in its
        partition and its batch are stored, and nothing is counted twice."""
        name = new_db(self.db)
        s = self.server(self.db.uri(name))
        big = {"customer_id": 3, "source": "Dine In", "quantity": 10000,
               "unit_price": "999999999999.99"}
        acked = self.post(s, dict(big, order_id="big-1"))
        wait_rows(self.db, name, 1, timeout=60)
        # One request, one partition (customer 3), so one batch: the order
        # the store refuses sits between orders it takes.
        before = [{"customer_id": 3, "source": "Home Delivery", "quantity": q}
                  for q in range(1, 6)]
        after = [{"customer_id": 3, "source": "Takeaway", "quantity": q} for q in range(1, 12)]
        acked += self.post(s, before + [dict(big, order_id="too-big-1")] + after)
        acked += self.post(s, [{"customer_id": c, "source": "Takeaway", "quantity": 2}
                               for c in range(1, 18)])
        wait_rows(self.db, name, len(acked) - 1, timeout=120)
        self.wait_positions(s, name)
        self.assert_invariant(name, acked, unstorable=["too-big-1"])
        want = sum(cents(o["total"]) for o in log_orders(s.data)
                   if o["order_id"] != "too-big-1")
        self.assertEqual(cents(self.db.sql("SELECT SUM(total_sum_amount) FROM sales",
                                           db=name)[0][0]), want)
        self.assertEqual(self.db.sql("SELECT total_sum_amount, order_count FROM sales"
                                     " WHERE source = 'Dine In'", db=name),
                         [("9999999999999900.00", "1")])
        status, body = s.get("/v1/quarantine?limit=10")
        self.assertEqual(status, 200, body)
        rows = json.loads(body)["items"]
        self.assertEqual(len(rows), 1, rows)
        q = rows[0]
        self.assertIn("too-big-1", q["raw"])
        self.assertIn("Out of range value for column", q["detail"][0]["msg"])
        # where it sat in the log: ["log", topic, partition, offset]
        loc = q["detail"][0]["loc"]
        self.assertEqual(loc[:2], ["log", "Order"])
        self.assertEqual(json.loads(s.log_records()[loc[2]][loc[3]])["order_id"],
                         "too-big-1")
        self.assertEqual(s.get("/readyz")[0], 200)
        m = s.get("/metrics")[1].decode()
        self.assertIn("salesflow_processor_unstorable_total 1\n", m)
        # A restart reads nothing again: the position moved past it.
        self.assertEqual(s.stop(), 0)
        s.start()
        time.sleep(1.5)
        self.assert_invariant(name, acked, unstorable=["too-big-1"])
        self.assertEqual(len(json.loads(s.get("/v1/quarantine?limit=10")[1])["items"]), 1)


if __name__ == "__main__":
    unittest.main()
