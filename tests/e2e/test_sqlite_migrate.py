"""SQLite's compact orders layout (issue 17): a data directory written by the
release before it (orders a table keyed by the 36-char text uuid, created_at
as text) is migrated in place when the new binary opens it, with progress on
the log: the same /api answers, the same rows through the `orders` view. A
migration killed with SIGKILL leaves the old table as it was and runs again
at the next start.

The old layout is made the way that release makes it: by the release's own
binary when OLD_SALESFLOW_BIN names one (e.g. /work/main/build/salesflow),
else by turning a new directory back into the old schema with the sqlite3
module — the exact CREATE statements of that release (OLD_ORDERS below), the
other tables being the same in both."""

import os
import random
import signal
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest
import uuid

from harness import BIN, REPO, Server, free_port, post_many, random_orders

OLD_BIN = os.environ.get("OLD_SALESFLOW_BIN")

# The release before the compact layout, src/store/sqlite.c, verbatim.
OLD_ORDERS = (
    "CREATE TABLE IF NOT EXISTS orders ("
    " uuid TEXT PRIMARY KEY,"
    " customer_id INTEGER NOT NULL,"
    " source TEXT NOT NULL,"
    " quantity INTEGER NOT NULL,"
    " total_cents INTEGER NOT NULL,"
    " total TEXT GENERATED ALWAYS AS"
    "  (printf('%d.%02d', total_cents / 100, total_cents % 100)) VIRTUAL,"
    " created_at TEXT NOT NULL,"
    " state TEXT NOT NULL"
    ") WITHOUT ROWID;")
OLD_REST = (
    "CREATE TABLE IF NOT EXISTS sales ("
    " sales_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " source TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " total_sum_cents INTEGER NOT NULL,"
    " total_sum_amount TEXT GENERATED ALWAYS AS"
    "  (printf('%d.%02d', total_sum_cents / 100, total_sum_cents % 100)) VIRTUAL,"
    " order_count INTEGER NOT NULL,"
    " quantity INTEGER NOT NULL,"
    " updated_at TEXT NOT NULL,"
    " UNIQUE (source, state));"
    "CREATE TABLE IF NOT EXISTS sales_minute ("
    " minute TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " total_cents INTEGER NOT NULL,"
    " order_count INTEGER NOT NULL,"
    " quantity INTEGER NOT NULL,"
    " PRIMARY KEY (minute, source, state)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS salesflow_offsets ("
    " topic TEXT NOT NULL,"
    " partition INTEGER NOT NULL,"
    " next_offset INTEGER NOT NULL,"
    " PRIMARY KEY (topic, partition)) WITHOUT ROWID;")
OLD_INDEX = "CREATE INDEX IF NOT EXISTS orders_created_at ON orders (created_at)"

ROWS = "SELECT uuid, customer_id, source, quantity, total_cents, total, created_at, state" \
       " FROM orders ORDER BY uuid"


def to_old_layout(db):
    """Turn a database of the compact layout back into the old one."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT uuid, customer_id, source, quantity, total_cents,"
                           " created_at, state FROM orders").fetchall()
        con.executescript("BEGIN; DROP VIEW orders; DROP TABLE orders_data;" + OLD_ORDERS)
        con.executemany("INSERT INTO orders (uuid, customer_id, source, quantity,"
                        " total_cents, created_at, state) VALUES (?,?,?,?,?,?,?)", rows)
        con.execute(OLD_INDEX)
        con.execute("COMMIT")
    finally:
        con.close()


def kind_of_orders(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT type FROM sqlite_master WHERE name = 'orders'").fetchone()[0]
    finally:
        con.close()


def query(db, sql):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


class MigrateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sf-e2e-migrate-")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def kill_after(self, data, logname, marker, pause):
        """`salesflow run` on data, SIGKILLed up to pause s after its log
        says marker: (whether it had already exited, its log)."""
        with open(os.path.join(self.tmp, logname), "w+") as log:
            p = subprocess.Popen([BIN, "run", "--listen", "127.0.0.1:%d" % free_port(),
                                  "--data", data], cwd=REPO, stdout=log, stderr=log)
            deadline = time.time() + 30
            while time.time() < deadline:
                log.seek(0)
                if marker in log.read() or p.poll() is not None:
                    break
                time.sleep(0.01)
            time.sleep(random.uniform(0, pause))
            done = p.poll() is not None
            p.send_signal(signal.SIGKILL)
            p.wait()
            log.seek(0)
            return done, log.read()

    def server(self, binary=BIN):
        s = Server(data=os.path.join(self.tmp, "data"))
        self.servers.append(s)
        if binary != BIN:
            # The old release's binary on the same directory.
            import harness
            old, harness.BIN = harness.BIN, binary
            try:
                return s.start()
            finally:
                harness.BIN = old
        return s.start()

    def answers(self, s):
        out = {}
        for path in ("/api/sales", "/api/orders?limit=100",
                     "/api/orders?limit=7&source=Takeaway&state=KY",
                     "/api/sales/minute?from=2026-11-30T00:00:00Z&to=2026-12-06T00:00:00Z",
                     "/api/sales/minute?from=%s&to=%s" % self.recent):
            st, body = s.get(path)
            self.assertEqual(st, 200, body)
            out[path] = body
        return out

    def test_old_directory_is_migrated_with_the_same_answers(self):
        # The hours around now, fixed once: the same range before and after.
        now = int(time.time()) // 60 * 60
        self.recent = tuple(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
                            for t in (now - 7200, now + 3600))
        s = self.server(OLD_BIN or BIN)
        orders = random_orders(300, seed=7)
        # Client keys that stay text (not canonical lowercase UUIDs), ids that
        # pack, and ties of created_at the latest-orders list breaks by id.
        for i, o in enumerate(orders[:60]):
            o["order_id"] = ["client-%d" % i, str(uuid.UUID(int=i * 7919)).upper(),
                             str(uuid.UUID(int=i * 104729 + 5))][i % 3]
            o["created_at"] = "2026-12-01T10:%02d:00.250Z" % (i % 4)
        for _o, st, body in post_many(s, orders):
            self.assertEqual(st, 201, body)
        s.wait_processed(300)
        before = self.answers(s)
        rows = query(s.db_path, ROWS)
        s.stop()
        if not OLD_BIN:
            to_old_layout(s.db_path)
        self.assertEqual(kind_of_orders(s.db_path), "table")
        self.assertEqual(query(s.db_path, ROWS), rows)

        s.start()
        self.assertIn("migrating 300 orders to the compact layout", s.stderr())
        self.assertIn("migrated 300 orders", s.stderr())
        self.assertEqual(kind_of_orders(s.db_path), "view")
        self.assertEqual(self.answers(s), before)
        self.assertEqual(query(s.db_path, ROWS), rows)
        self.assertEqual(len(rows), 300)
        s.stop()
        # A second start has nothing to migrate; a replay gives the same.
        s.start()
        self.assertNotIn("migrating", s.stderr().split("migrated 300 orders")[1])
        self.assertEqual(self.answers(s), before)
        s.stop()
        r = subprocess.run([BIN, "replay", "--data", s.data], capture_output=True,
                           text=True, cwd=REPO, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(query(s.db_path, ROWS), rows)
        s.start()
        self.assertEqual(self.answers(s), before)

    def test_positions_table_gains_marks(self):
        """salesflow_offsets from before marks: the column is added, the
        positions kept (with no mark), and new commits store marks."""
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        db = os.path.join(data, "sales.db")
        con = sqlite3.connect(db)
        con.executescript(OLD_ORDERS + OLD_REST)
        con.execute("INSERT INTO salesflow_offsets VALUES ('Other@x', 0, 5)")
        con.commit()
        con.close()
        s = self.server()
        for _o, st, body in post_many(s, random_orders(20, seed=3)):
            self.assertEqual(st, 201, body)
        s.wait_processed(20)
        self.assertEqual(query(db, "SELECT next_offset, last_mark FROM salesflow_offsets"
                               " WHERE topic = 'Other@x'"), [(5, 0)])
        marks = query(db, "SELECT last_mark FROM salesflow_offsets WHERE topic <> 'Other@x'")
        self.assertTrue(marks and all(m != 0 for (m,) in marks), marks)

    def test_migration_killed_starts_again(self):
        data = os.path.join(self.tmp, "big")
        os.makedirs(data)
        db = os.path.join(data, "sales.db")
        n = int(os.environ.get("MIGRATE_ROWS", "100000"))
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(OLD_ORDERS + OLD_REST)
        rnd = random.Random(3)
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO orders (uuid, customer_id, source, quantity, total_cents,"
            " created_at, state) VALUES (?,?,?,?,?,?,?)",
            ((str(uuid.UUID(int=rnd.getrandbits(128))) if i % 10 else "key-%d" % i,
              i % 17 + 1, "Dine In", i % 9 + 1, (i % 9 + 1) * 30000,
              "2026-12-01T%02d:%02d:%02d.%03dZ" % (i // 3600000 % 24, i // 60000 % 60,
                                                   i // 1000 % 60, i % 1000), "CA")
             for i in range(n)))
        con.execute(OLD_INDEX)
        con.execute("COMMIT")
        con.close()
        want = query(db, "SELECT count(*), sum(total_cents), min(created_at),"
                     " max(created_at), max(uuid) FROM orders")
        sample = query(db, "SELECT uuid, created_at, total FROM orders ORDER BY uuid LIMIT 50")
        killed = 0
        for cycle in range(int(os.environ.get("MIGRATE_KILLS", "3"))):
            # Early in the copy: a quiet machine migrates the 100,000 rows in
            # well under 0.3 s, and a kill after it shows nothing.
            done, text = self.kill_after(data, "kill%d.log" % cycle, "migrating", 0.03)
            self.assertFalse(done, text)
            self.assertIn("migrating %d orders" % n, text)
            if "migrated" in text:
                break       # it finished before the kill: nothing more to see
            killed += 1
            self.assertEqual(kind_of_orders(db), "table", text)
            self.assertEqual(query(db, "SELECT count(*), sum(total_cents), min(created_at),"
                             " max(created_at), max(uuid) FROM orders"), want)
        self.assertGreater(killed, 0)
        s = Server(data=data)
        self.servers.append(s)
        s.start(timeout=60)
        self.assertIn("migrated %d orders" % n, s.stderr())
        self.assertEqual(kind_of_orders(db), "view")
        self.assertEqual(query(db, "SELECT count(*), sum(total_cents), min(created_at),"
                         " max(created_at), max(uuid) FROM orders"), want)
        self.assertEqual(query(db, "SELECT uuid, created_at, total FROM orders"
                               " ORDER BY uuid LIMIT 50"), sample)


    def test_quarter_rollup_killed_starts_again(self):
        """A data directory of the release before sales_quarter (the same
        tables less that one) gets it built from sales_minute at open in one
        transaction: killed with SIGKILL while it is being built, the file
        has no sales_quarter (nothing half-built), and the next open builds
        it whole."""
        data = os.path.join(self.tmp, "q")
        s = Server(data=data)
        self.servers.append(s)
        s.start()
        s.stop()
        db = os.path.join(data, "sales.db")
        n = int(os.environ.get("MIGRATE_ROWS", "100000")) * 12
        con = sqlite3.connect(db)
        con.execute("DROP TABLE sales_quarter")
        con.execute("BEGIN")
        base = time.mktime((2024, 1, 1, 0, 0, 0, 0, 0, 0)) - time.timezone
        con.executemany(
            "INSERT INTO sales_minute VALUES (?,?,?,?,?,?)",
            ((time.strftime("%Y-%m-%dT%H:%M", time.gmtime(base + 60 * (i // 3))),
              ("Dine In", "Takeaway", "Home Delivery")[i % 3], ("CA", "NY", "TX")[i // 7 % 3],
              30000 * (1 + i % 7), 1 + i % 3, 1 + i % 5) for i in range(n)))
        con.execute("COMMIT")
        con.close()
        want = query(db, "SELECT printf('%s%02d', substr(minute, 1, 14),"
                     " CAST(substr(minute, 15, 2) AS INTEGER) / 15 * 15), source, state,"
                     " sum(total_cents), sum(order_count), sum(quantity) FROM sales_minute"
                     " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        killed = 0
        for cycle in range(int(os.environ.get("MIGRATE_KILLS", "3"))):
            done, text = self.kill_after(data, "qkill%d.log" % cycle, "building sales_quarter",
                                         0.05)
            self.assertFalse(done, text)
            self.assertIn("building sales_quarter from sales_minute", text)
            have = query(db, "SELECT count(*) FROM sqlite_master WHERE name = 'sales_quarter'")
            if have == [(1,)]:
                break       # it finished before the kill: nothing more to see
            killed += 1
        self.assertGreater(killed, 0)
        s.start(timeout=60)
        self.assertEqual(query(db, "SELECT quarter, source, state, total_cents, order_count,"
                               " quantity FROM sales_quarter ORDER BY 1, 2, 3"), want)


if __name__ == "__main__":
    unittest.main()
