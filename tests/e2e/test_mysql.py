"""MySQL/MariaDB as the serving store (issue 5), against a private mariadbd
(tests/e2e/mariadb.py): 50,000 orders end to end with the Superset-style
queries exact; kill -9 of mariadbd mid-stream; two processors writing one
database at once (disjoint orders, and the very same orders); every error
case with its message, and the password never shown.

The database is read through the `mariadb` client (-N -B) and through
/api/sales. Every test is skipped, with the reason, when mariadbd is not
installed or cannot start here."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import mariadb
from harness import BIN, REPO, STATES, Server, cents, free_port, read_log

OK, WHY = mariadb.available()


def start_db(test_class):
    """A private server for a test class, or SkipTest with the reason."""
    if not OK:
        raise unittest.SkipTest(WHY)
    try:
        return mariadb.MariaDB().start()
    except Exception as e:  # noqa: BLE001 - any failure to start is a skip
        raise unittest.SkipTest("mariadbd cannot start here: %s" % str(e)[:300])


_dbs = iter(range(1, 1 << 30))


def new_db(db):
    return db.create_db("sales_%d" % next(_dbs))


def log_orders(data):
    """Every order in a data dir's log, as dicts (total kept as text)."""
    out = []
    for recs in read_log(os.path.join(data, "log")).values():
        for r in recs:
            out.append(json.loads(r, parse_float=str))
    return out


def log_messages(text, level=None):
    """The messages of salesflow's log lines (logfmt `ts=… level=… msg="…"`,
    JSON lines, or "TIME LEVEL message"), optionally of one level only."""
    out = []
    for line in text.splitlines():
        m = re.match(r'ts=\S+ level=(\w+) msg=(".*")$', line)
        if m:
            lv, msg = m.group(1), json.loads(m.group(2))
        elif line.startswith("{"):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            lv, msg = d.get("level"), d.get("msg", "")
        else:
            parts = line.split(None, 2)
            if len(parts) < 3:
                continue
            lv, msg = parts[1], parts[2]
        if level is None or lv == level:
            out.append(msg)
    return out


def mysql_time(rfc3339):
    """'2026-11-29T03:40:00.123Z' → '2026-11-29 03:40:00.123' (as the client prints)."""
    return rfc3339.replace("T", " ").rstrip("Z")


def expected_tables(orders, state_of=STATES.get):
    """orders (log dicts) → the rows each table must hold, as the client prints them."""
    raw, sales, minute = {}, {}, {}
    for o in orders:
        st = state_of(o["customer_id"]) or "??"
        c = cents(o["total"])
        raw[o["order_id"]] = (str(o["customer_id"]), o["source"], str(o["quantity"]),
                              "%d.%02d" % divmod(c, 100), mysql_time(o["created_at"]), st)
        a = sales.setdefault((o["source"], st), [0, 0, 0])
        m = minute.setdefault((mysql_time(o["created_at"])[:16] + ":00", o["source"], st),
                              [0, 0, 0])
        for x in (a, m):
            x[0] += c
            x[1] += 1
            x[2] += int(o["quantity"])
    return raw, sales, minute


def fmt(c):
    return "%d.%02d" % divmod(c, 100)


def wait_rows(db, name, want, timeout=120, what="orders"):
    """Wait until `name`.orders holds want rows and the stored positions
    cover them; returns the count."""
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        try:
            got = int(db.sql("SELECT COUNT(*) FROM orders", db=name)[0][0])
        except RuntimeError:
            got = None  # server restarting
        if got == want:
            return got
        time.sleep(0.2)
    raise AssertionError("%s has %s rows, expected %d" % (what, got, want))


def assert_customer_rollups(test, db, name):
    """sales_customer_hour and sales_customer_day equal the sums over orders."""
    for table, fmt in (("sales_customer_hour", "%Y-%m-%d %H:00:00"),
                       ("sales_customer_day", "%Y-%m-%d 00:00:00")):
        want = db.sql("SELECT DATE_FORMAT(created_at, '%s'), customer_id, source, SUM(total),"
                      " COUNT(*), SUM(quantity) FROM orders GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
                      % fmt, db=name)
        col = "hour" if table.endswith("hour") else "day"
        got = db.sql("SELECT DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s'), customer_id, source,"
                     " total, order_count, quantity FROM %s ORDER BY 1, 2, 3" % (col, table),
                     db=name)
        test.assertEqual(got, want, table)


def assert_acked_stored(test, db, name, acked, unstorable=()):
    """Every acked id once in database name's orders (but the unstorable
    ones, which are not there at all); sales equals the sums over orders,
    and so do the customer rollups."""
    got = [r[0] for r in db.sql("SELECT uuid FROM orders", db=name)]
    test.assertEqual(len(got), len(set(got)))
    test.assertEqual(sorted(got), sorted(set(acked) - set(unstorable)))
    test.assertEqual(
        db.sql("SELECT s.source, s.state FROM sales s LEFT JOIN (SELECT source,"
               " state, SUM(total) t, COUNT(*) n, SUM(quantity) q FROM orders"
               " GROUP BY source, state) o ON o.source = s.source AND"
               " o.state = s.state WHERE NOT (o.t <=> s.total_sum_amount AND"
               " o.n <=> s.order_count AND o.q <=> s.quantity)", db=name), [])
    test.assertEqual(
        db.sql("SELECT o.source, o.state FROM (SELECT source, state, COUNT(*) n"
               " FROM orders GROUP BY source, state) o LEFT JOIN sales s ON"
               " o.source = s.source AND o.state = s.state WHERE s.order_count"
               " IS NULL OR s.order_count <> o.n", db=name), [])
    assert_customer_rollups(test, db, name)


class MySQLCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = start_db(cls)

    @classmethod
    def tearDownClass(cls):
        cls.db.stop()

    def setUp(self):
        self.servers = []
        self.tmp = tempfile.mkdtemp(prefix="sf-mysql-")

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, uri, data=None, extra=()):
        s = Server(data=data, extra=["--store", uri, *extra])
        self.servers.append(s)
        return s.start()

    def gen(self, url, count, seed, acked=None, rate=None, concurrency=8):
        args = [BIN, "gen", "--url", url, "--count", str(count), "--seed", str(seed),
                "--concurrency", str(concurrency)]
        if acked:
            args += ["--acked", acked]
        if rate:
            args += ["--rate", str(rate)]
        return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    def assert_tables(self, name, orders, state_of=STATES.get):
        """orders, sales and sales_minute hold exactly what `orders` add up to,
        and the Superset-style queries on sales give the same sums."""
        raw, sales, minute = expected_tables(orders, state_of)
        db = self.db
        got_raw = {r[0]: tuple(r[1:]) for r in db.sql(
            "SELECT uuid, customer_id, source, quantity, total, created_at, state"
            " FROM orders", db=name)}
        self.assertEqual(len(got_raw), len(raw))
        self.assertEqual(got_raw, raw)

        rows = db.sql("SELECT source, state, total_sum_amount, order_count, quantity"
                      " FROM sales", db=name)
        self.assertEqual(len(rows), len(sales), "one row per (source, state), no snapshots")
        got = {(r[0], r[1]): [cents(r[2]), int(r[3]), int(r[4])] for r in rows}
        self.assertEqual(got, sales)

        got = {(r[0], r[1], r[2]): [cents(r[3]), int(r[4]), int(r[5])] for r in db.sql(
            "SELECT minute, source, state, total, order_count, quantity FROM sales_minute",
            db=name)}
        self.assertEqual(got, minute)

        # The original Superset charts' queries.
        by_source, by_state = {}, {}
        for (src, st), v in sales.items():
            by_source[src] = by_source.get(src, 0) + v[0]
            by_state[st] = by_state.get(st, 0) + v[0]
        self.assertEqual(dict(db.sql("SELECT source, SUM(total_sum_amount) FROM sales"
                                     " GROUP BY source", db=name)),
                         {k: fmt(v) for k, v in by_source.items()})
        self.assertEqual(dict(db.sql("SELECT state, SUM(total_sum_amount) FROM sales"
                                     " GROUP BY state", db=name)),
                         {k: fmt(v) for k, v in by_state.items()})
        self.assertEqual(
            {(r[0], r[1]): (r[2], r[3]) for r in db.sql(
                "SELECT source, state, SUM(total_sum_amount), SUM(order_count) FROM sales"
                " GROUP BY source, state", db=name)},
            {k: (fmt(v[0]), str(v[1])) for k, v in sales.items()})
        self.assertEqual(db.sql("SELECT SUM(total_sum_amount), SUM(order_count) FROM sales",
                                db=name)[0],
                         (fmt(sum(v[0] for v in sales.values())), str(len(orders))))
        # Aggregates equal the sum of the raw rows, computed by the server.
        self.assertEqual(
            db.sql("SELECT s.source, s.state FROM sales s LEFT JOIN (SELECT source, state,"
                   " SUM(total) t, COUNT(*) n, SUM(quantity) q FROM orders GROUP BY source,"
                   " state) o ON o.source = s.source AND o.state = s.state WHERE NOT"
                   " (o.t <=> s.total_sum_amount AND o.n <=> s.order_count AND"
                   " o.q <=> s.quantity)", db=name), [])
        return sales

    def assert_api(self, server, sales):
        api = server.api_sales()
        got = {(r["source"], r["state"]): [cents(r["total_sum_amount"]), r["order_count"],
                                           r["quantity"]] for r in api["rows"]}
        self.assertEqual(got, sales)
        self.assertEqual(cents(api["total_sum_amount"]), sum(v[0] for v in sales.values()))


@unittest.skipUnless(OK, WHY)
class MySQLFlowTest(MySQLCase):
    def test_50000_orders_end_to_end(self):
        name = new_db(self.db)
        s = self.server(self.db.uri(name))
        acked = os.path.join(self.tmp, "acked")
        g = self.gen(s.url, 50000, seed=5, acked=acked, concurrency=16)
        out, _ = g.communicate(timeout=600)
        self.assertEqual(g.returncode, 0, out)
        orders = log_orders(s.data)
        self.assertEqual(len(orders), 50000)
        with open(acked) as f:
            ids = f.read().split()
        self.assertEqual(sorted(ids), sorted(o["order_id"] for o in orders))
        wait_rows(self.db, name, 50000)
        sales = self.assert_tables(name, orders)
        self.assert_api(s, sales)
        positions = self.db.sql("SELECT `partition`, next_offset FROM salesflow_offsets"
                                " WHERE topic LIKE 'Order@log-%'", db=name)
        logs = read_log(os.path.join(s.data, "log"))
        self.assertEqual({int(p): int(n) for p, n in positions},
                         {p: len(r) for p, r in logs.items() if r})

        # `serve` over the unix socket, password from the environment.
        port = free_port()
        env = dict(os.environ, SALESFLOW_MYSQL_PASSWORD=mariadb.SF_PASSWORD)
        serve = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:%d" % port,
                                  "--store", self.db.uri(name, password=None, tcp=False)],
                                 cwd=REPO, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        try:
            view = Server()
            view.port = port
            for _ in range(100):
                try:
                    if view.get("/healthz")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            self.assert_api(view, sales)
        finally:
            serve.terminate()
            serve.wait(10)
            view.cleanup()

        # A restart changes nothing: positions are in the store.
        before = self.db.sql("SELECT source, state, total_sum_amount, order_count, quantity"
                             " FROM sales ORDER BY sales_id", db=name)
        self.assertEqual(s.stop(), 0)
        s.start()
        time.sleep(1)
        self.assertEqual(self.db.sql("SELECT source, state, total_sum_amount, order_count,"
                                     " quantity FROM sales ORDER BY sales_id", db=name),
                         before)
        self.assertEqual(self.db.sql("SELECT version FROM salesflow_schema ORDER BY version",
                                     db=name), [("1",), ("2",), ("3",), ("4",),
                                              ("5",), ("6",), ("7",)], "migrations run once")
        self.assertNotIn(mariadb.SF_PASSWORD, s.stderr())

    def test_money_is_exact(self):
        name = new_db(self.db)
        s = self.server(self.db.uri(name), extra=["--unit-price", "0.10"])
        g = self.gen(s.url, 3000, seed=9, concurrency=4)
        out, _ = g.communicate(timeout=300)
        self.assertEqual(g.returncode, 0, out)
        wait_rows(self.db, name, 3000)
        orders = log_orders(s.data)
        sales = self.assert_tables(name, orders)
        qty = sum(int(o["quantity"]) for o in orders)
        self.assertEqual(sum(v[0] for v in sales.values()), qty * 10)
        self.assertEqual(self.db.sql("SELECT SUM(total_sum_amount) FROM sales", db=name),
                         [(fmt(qty * 10),)])

    def test_dashboard_queries_and_replay(self):
        """/api/sales/minute and /api/orders read the MySQL tables (with
        filters); `salesflow replay --store mysql://…` rebuilds them exactly."""
        name = new_db(self.db)
        s = self.server(self.db.uri(name))
        g = self.gen(s.url, 3000, seed=21, concurrency=4)
        out, _ = g.communicate(timeout=300)
        self.assertEqual(g.returncode, 0, out)
        wait_rows(self.db, name, 3000)
        orders = log_orders(s.data)
        _, _, minute = expected_tables(orders)

        status, body = s.get("/api/sales/minute?from=-2h&to=now")
        self.assertEqual(status, 200, body)
        api = json.loads(body, parse_float=str)
        want = {}
        for (m, src, st), v in minute.items():
            w = want.setdefault((m.replace(" ", "T")[:16] + ":00Z", src), [0, 0, 0])
            for i in range(3):
                w[i] += v[i]
        got = {(r["minute"], r["source"]): [cents(r["total"]), r["order_count"],
                                            r["quantity"]] for r in api["rows"]}
        self.assertEqual(got, want)

        status, body = s.get("/api/sales/minute?from=-2h&source=Takeaway&state=CA,TX")
        self.assertEqual(status, 200, body)
        api = json.loads(body, parse_float=str)
        self.assertEqual(sum(r["order_count"] for r in api["rows"]),
                         sum(1 for o in orders if o["source"] == "Takeaway" and
                             STATES[o["customer_id"]] in ("CA", "TX")))

        newest = self.db.sql("SELECT uuid FROM orders ORDER BY created_at DESC, uuid DESC"
                             " LIMIT 25", db=name)
        status, body = s.get("/api/orders?limit=25")
        self.assertEqual(status, 200, body)
        api = json.loads(body, parse_float=str)
        self.assertEqual([o["order_id"] for o in api["orders"]], [r[0] for r in newest])
        byid = {o["order_id"]: o for o in orders}
        for o in api["orders"]:
            src = byid[o["order_id"]]
            self.assertEqual((o["customer_id"], o["source"], o["quantity"], o["state"],
                              cents(o["total"]), o["created_at"]),
                             (src["customer_id"], src["source"], src["quantity"],
                              STATES[src["customer_id"]], cents(src["total"]),
                              src["created_at"]))
        status, body = s.get("/api/orders?limit=10&source=Dine%20In&state=KY")
        api = json.loads(body, parse_float=str)
        self.assertEqual(len(api["orders"]), 10)
        self.assertTrue(all(o["source"] == "Dine In" and o["state"] == "KY"
                            for o in api["orders"]))

        # replay: empty the tables and rebuild them from the log, exactly
        def snapshot():
            return [self.db.sql(q, db=name) for q in (
                "SELECT * FROM orders ORDER BY uuid",
                "SELECT source, state, total_sum_amount, order_count, quantity, updated_at"
                " FROM sales ORDER BY source, state",
                "SELECT * FROM sales_minute ORDER BY minute, source, state",
                "SELECT * FROM salesflow_offsets ORDER BY topic, `partition`")]
        before = snapshot()
        self.assertEqual(s.stop(), 0)
        r = subprocess.run([BIN, "replay", "--data", s.data, "--store", self.db.uri(name)],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("3000 orders", r.stdout)
        self.assertIn("mysql://sf:***@", r.stdout)
        self.assertNotIn(mariadb.SF_PASSWORD, r.stdout + r.stderr)
        self.assertEqual(snapshot(), before)

    def test_unknown_customer_and_long_state(self):
        """A customer missing from the catalog (state "unknown") is stored as
        "??" in the VARCHAR(2) columns; a longer state stops the batch with
        a message until the columns are widened, then goes through."""
        name = new_db(self.db)
        data = os.path.join(self.tmp, "data")
        csv = os.path.join(self.tmp, "customers.csv")
        with open(csv, "w") as f:
            f.write("customer_id,state\n1,CA\n50,Bavaria\n99,TX\n")
        # Write orders to the log with a catalog that knows 50 and 99 …
        first = self.server("sqlite:%s/other.db" % self.tmp, data=data,
                            extra=["--customers", csv])
        for cust in (1, 99, 99):
            status, body = first.post_json("/orderitem", {"customer_id": cust,
                                                          "source": "Takeaway",
                                                          "quantity": 2})
            self.assertEqual(status, 201, body)
        first.stop()
        # … and process them with the built-in catalog, where 99 is unknown.
        s = self.server(self.db.uri(name), data=data)
        wait_rows(self.db, name, 3)
        self.assertEqual(sorted(self.db.sql("SELECT source, state, total_sum_amount,"
                                            " order_count FROM sales", db=name)),
                         [("Takeaway", "??", "1200.00", "2"),
                          ("Takeaway", "CA", "600.00", "1")])
        self.assertEqual(self.db.sql("SELECT state, COUNT(*) FROM orders GROUP BY state"
                                     " ORDER BY state", db=name), [("??", "2"), ("CA", "1")])
        s.stop()

        # A real state longer than 2 characters: the batch waits, with a message.
        # (A new database: positions of one log mean nothing to another.)
        name = new_db(self.db)
        s2 = self.server(self.db.uri(name), data=os.path.join(self.tmp, "d2"),
                         extra=["--customers", csv])
        status, body = s2.post_json("/orderitem", {"customer_id": 50, "source": "Dine In",
                                                   "quantity": 1})
        self.assertEqual(status, 201, body)
        deadline = time.time() + 30
        while "Bavaria" not in s2.stderr() and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn('state "Bavaria" of customer 50 is longer than the state columns '
                      '(2 characters); widen them', "\n".join(log_messages(s2.stderr())))
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM orders", db=name), [("0",)])
        self.db.sql("ALTER TABLE sales MODIFY state VARCHAR(32) NOT NULL;"
                    "ALTER TABLE orders MODIFY state VARCHAR(32) NOT NULL;"
                    "ALTER TABLE sales_minute MODIFY state VARCHAR(32) NOT NULL;"
                    "ALTER TABLE sales_quarter MODIFY state VARCHAR(32) NOT NULL;"
                    "ALTER TABLE sales_hour MODIFY state VARCHAR(32) NOT NULL;"
                    "ALTER TABLE sales_day MODIFY state VARCHAR(32) NOT NULL", db=name)
        wait_rows(self.db, name, 1)
        self.assertEqual(self.db.sql("SELECT total_sum_amount, order_count FROM sales"
                                     " WHERE state = 'Bavaria'", db=name), [("300.00", "1")])
        self.assertIsNone(s2.proc.poll(), "the processor never exits on a store error")


@unittest.skipUnless(OK, WHY)
class MySQLCrashTest(MySQLCase):
    def test_kill9_mariadbd_mid_stream(self):
        name = new_db(self.db)
        s = self.server(self.db.uri(name))
        acked = os.path.join(self.tmp, "acked")
        g = self.gen(s.url, 20000, seed=11, acked=acked, rate=2500, concurrency=8)
        for pause in (2.0, 2.5):
            time.sleep(pause)
            before = int(self.db.sql("SELECT COUNT(*) FROM orders", db=name)[0][0])
            self.assertGreater(before, 0)
            self.db.kill9()
            time.sleep(1.0)     # orders keep coming into the log meanwhile
            self.db.restart()
        out, _ = g.communicate(timeout=300)
        self.assertEqual(g.returncode, 0, out)
        orders = log_orders(s.data)
        self.assertEqual(len(orders), 20000)
        with open(acked) as f:
            self.assertEqual(sorted(f.read().split()), sorted(o["order_id"] for o in orders))
        wait_rows(self.db, name, 20000)
        sales = self.assert_tables(name, orders)
        self.assert_api(s, sales)
        self.assertIsNone(s.proc.poll(), "salesflow must survive the database crash")
        log = s.stderr()
        self.assertTrue(any("reconnecting" in m for m in log_messages(log, "warn")), log)
        self.assertNotIn(mariadb.SF_PASSWORD, log)


@unittest.skipUnless(OK, WHY)
class MySQLConcurrencyTest(MySQLCase):
    def test_two_processors_disjoint_orders(self):
        """Two `salesflow run`, each with its own log, one database."""
        name = new_db(self.db)
        a = self.server(self.db.uri(name))
        b = self.server(self.db.uri(name, tcp=False))
        ga = self.gen(a.url, 15000, seed=1, concurrency=8)
        gb = self.gen(b.url, 15000, seed=2, concurrency=8)
        for g in (ga, gb):
            out, _ = g.communicate(timeout=600)
            self.assertEqual(g.returncode, 0, out)
        orders = log_orders(a.data) + log_orders(b.data)
        self.assertEqual(len(orders), 30000)
        wait_rows(self.db, name, 30000)
        sales = self.assert_tables(name, orders)
        self.assert_api(a, sales)
        self.assert_api(b, sales)

    def test_two_processors_same_orders(self):
        """Two processors applying the very same log at the same time: every
        batch overlaps, yet each order is counted once."""
        name = new_db(self.db)
        da = os.path.join(self.tmp, "a")
        src = Server(data=da, extra=["--store", "sqlite:%s/first.db" % self.tmp])
        self.servers.append(src)
        src.start()
        g = self.gen(src.url, 20000, seed=3, concurrency=16)
        out, _ = g.communicate(timeout=600)
        self.assertEqual(g.returncode, 0, out)
        src.stop()
        db_ = os.path.join(self.tmp, "b")
        shutil.copytree(da, db_)
        orders = log_orders(da)
        self.assertEqual(len(orders), 20000)
        # Start both at once: they also race to migrate the fresh database.
        pa = Server(data=da, extra=["--store", self.db.uri(name)])
        pb = Server(data=db_, extra=["--store", self.db.uri(name, tcp=False)])
        self.servers += [pa, pb]
        ts = [threading.Thread(target=p.start) for p in (pa, pb)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertTrue(pa.proc.poll() is None and pb.proc.poll() is None,
                        pa.stderr() + pb.stderr())
        wait_rows(self.db, name, 20000)
        # wait until both processors are through their logs
        deadline = time.time() + 120
        while time.time() < deadline:
            pos = self.db.sql("SELECT SUM(next_offset) FROM salesflow_offsets", db=name)
            if pos[0][0] == "20000":
                break
            time.sleep(0.2)
        time.sleep(1.5)
        sales = self.assert_tables(name, orders)
        self.assert_api(pa, sales)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM salesflow_schema", db=name),
                         [("7",)])


    def test_deadlock_is_retried(self):
        """A deadlock with another writer: InnoDB rolls back the processor's
        transaction, which is retried whole; the order counts once."""
        name = new_db(self.db)
        s = self.server(self.db.uri(name))
        status, body = s.post_json("/orderitem", {"customer_id": 3, "source": "Dine In",
                                                  "quantity": 1})
        self.assertEqual(status, 201, body)
        wait_rows(self.db, name, 1)
        # A heavier transaction (20,000 changed rows), so that InnoDB picks
        # the processor's as the deadlock victim.
        self.db.sql("SET SESSION max_recursive_iterations = 100000;"
                    "CREATE TABLE ballast (id INT PRIMARY KEY, x INT);"
                    "INSERT INTO ballast WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL"
                    " SELECT n + 1 FROM c WHERE n < 20000) SELECT n, 0 FROM c", db=name)
        script = ("START TRANSACTION;"
                  "UPDATE ballast SET x = x + 1;"
                  # lock the sales row the processor will need …
                  "UPDATE sales SET quantity = quantity WHERE source = 'Dine In'"
                  " AND state = 'CA';"
                  "SELECT SLEEP(2);"
                  # … then wait for the order row the processor inserted: a cycle
                  "SELECT COUNT(*) FROM orders WHERE uuid = 'deadlock-1' FOR UPDATE;"
                  "SELECT SLEEP(1);"
                  "COMMIT;")
        client = subprocess.Popen([mariadb.CLIENT, "--no-defaults", "-S", self.db.socket,
                                   "-uroot", "-N", "-B", name], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        client.stdin.write(script)
        client.stdin.close()
        time.sleep(0.7)
        status, body = s.post_json("/v1/orders", {"order_id": "deadlock-1", "customer_id": 3,
                                                  "source": "Dine In", "quantity": 2})
        self.assertEqual(status, 201, body)
        out = client.stdout.read()
        self.assertEqual(client.wait(30), 0, out)
        wait_rows(self.db, name, 2)
        deadline = time.time() + 10
        while time.time() < deadline:
            rows = self.db.sql("SELECT total_sum_amount, order_count, quantity FROM sales",
                               db=name)
            if rows == [("900.00", "2", "3")]:
                break
            time.sleep(0.1)
        self.assertEqual(rows, [("900.00", "2", "3")])
        msgs = "\n".join(log_messages(s.stderr()))
        self.assertIn("Deadlock found", msgs)
        self.assertIn("applied after 2 attempts", msgs)


@unittest.skipUnless(OK, WHY)
class MySQLErrorTest(MySQLCase):
    """Each bad setup: `salesflow run` exits 1 with one error line that says
    what is wrong, and no password anywhere in its output."""

    def fail_run(self, uri, env=None, cmd="run"):
        args = [BIN, cmd, "--listen", "127.0.0.1:%d" % free_port(), "--store", uri]
        if cmd == "run":
            args += ["--data", os.path.join(self.tmp, "data")]
        e = dict(os.environ)
        e.pop("SALESFLOW_MYSQL_PASSWORD", None)
        e.update(env or {})
        r = subprocess.run(args, cwd=REPO, env=e, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        errors = log_messages(r.stderr, "error")
        self.assertEqual(len(errors), 1, r.stderr)
        for secret in (mariadb.SF_PASSWORD, "wrong-secret", "topsecret", mariadb.RO_PASSWORD):
            self.assertNotIn(secret, r.stdout + r.stderr)
        return errors[0]

    def test_bad_uris(self):
        # A URI of the wrong scheme is a bad flag value: exit 2, one line,
        # before anything starts (issue 22.6).
        for uri, want in (
                ("mysql:sf:topsecret@127.0.0.1/db", 'mysql store URI "mysql:***@127.0.0.1/db":'
                 ' missing "//" after "mysql:" (expected mysql://user[:password]@host'
                 '[:port]/database[?socket=PATH])'),
                ("mysq://sf:topsecret@127.0.0.1/db",
                 'store URI "mysq://sf:***@127.0.0.1/db": unknown scheme (supported: '
                 'sqlite:PATH, mysql://user[:password]@host[:port]/database'
                 '[?socket=PATH])')):
            with self.subTest(uri=uri):
                r = subprocess.run([BIN, "run", "--store", uri], cwd=REPO,
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
                self.assertIn(want, r.stderr)
                self.assertNotIn("topsecret", r.stdout + r.stderr)
        # Malformed mysql:// URIs are bad values too, checked when the flag is
        # read (issue 22 item 3; they used to exit 1 when the store opened).
        cases = [
            ("mysql://sf:topsecret@127.0.0.1:99999/db", "bad port (1..65535)"),
            ("mysql://sf:topsecret@127.0.0.1:3306", "missing database name"),
            ("mysql://sf:topsecret@127.0.0.1:3306/", "missing database name"),
            ("mysql://sf:topsecret@/db", "missing host"),
            ("mysql://sf:top%zzsecret@127.0.0.1/db", "bad %-escape in the password"),
            ("mysql://sf:topsecret@127.0.0.1/db?sockett=/x",
             'unknown parameter "sockett" (supported: socket)'),
        ]
        for uri, want in cases:
            with self.subTest(uri=uri):
                r = subprocess.run([BIN, "run", "--store", uri], cwd=REPO,
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
                self.assertIn(want, r.stderr)
                self.assertIn("(expected mysql://user[:password]@host[:port]/database"
                              "[?socket=PATH])", r.stderr)
                self.assertNotIn("topsecret", r.stdout + r.stderr)

    def test_wrong_password(self):
        name = new_db(self.db)
        line = self.fail_run(self.db.uri(name, password="wrong-secret"))
        self.assertIn("mysql store mysql://sf:***@127.0.0.1:%d/%s: cannot connect as sf: "
                      "Access denied for user 'sf'@'127.0.0.1' (using password: YES) (wrong"
                      " user or password" % (self.db.port, name), line)
        # the same through the environment, over the socket
        line = self.fail_run(self.db.uri(name, password=None, tcp=False),
                             env={"SALESFLOW_MYSQL_PASSWORD": "wrong-secret"})
        self.assertIn("Access denied for user 'sf'@'localhost' (using password: YES)", line)
        # and no password at all
        line = self.fail_run(self.db.uri(name, password=None))
        self.assertIn("(using password: NO)", line)

    def test_password_from_environment(self):
        name = new_db(self.db)
        os.environ["SALESFLOW_MYSQL_PASSWORD"] = mariadb.SF_PASSWORD
        try:
            s = self.server(self.db.uri(name, password=None, tcp=False))
        finally:
            del os.environ["SALESFLOW_MYSQL_PASSWORD"]
        status, body = s.post_json("/orderitem", {"customer_id": 3, "source": "Dine In",
                                                  "quantity": 7})
        self.assertEqual(status, 201, body)
        wait_rows(self.db, name, 1)
        self.assertEqual(self.db.sql("SELECT total FROM orders", db=name), [("2100.00",)])
        self.assertEqual(s.api_sales()["total_sum_amount"], "2100.00")

    def test_unknown_database(self):
        line = self.fail_run(self.db.uri("no_such_db"))
        self.assertIn("cannot connect as sf: Unknown database 'no_such_db' (the database "
                      "does not exist; create it with CREATE DATABASE", line)

    def test_server_not_running(self):
        line = self.fail_run("mysql://sf:topsecret@127.0.0.1:%d/db" % free_port())
        self.assertIn("mysql store mysql://sf:***@127.0.0.1:", line)
        self.assertIn("cannot connect as sf: Can't connect to server on '127.0.0.1'", line)

    def test_missing_privileges(self):
        name = new_db(self.db)
        # SELECT only, empty database: cannot create the tables.
        line = self.fail_run(self.db.uri(name, user="ro", password=mariadb.RO_PASSWORD))
        self.assertIn("schema migration 1: CREATE command denied to user 'ro'", line)
        self.assertIn("(missing privileges: salesflow needs SELECT, INSERT, UPDATE", line)
        # No privilege on the database at all.
        self.db.sql("CREATE USER 'nopriv'@'127.0.0.1' IDENTIFIED BY 'np-pw'")
        line = self.fail_run(self.db.uri(name, user="nopriv", password="np-pw"))
        self.assertIn("Access denied for user 'nopriv'@'127.0.0.1' to database '%s' "
                      "(missing privileges" % name, line)
        # Tables exist, SELECT only: `run` cannot process …
        self.server(self.db.uri(name)).stop()
        line = self.fail_run(self.db.uri(name, user="ro", password=mariadb.RO_PASSWORD))
        self.assertIn("processor: mysql store mysql://ro:***@", line)
        self.assertIn("cannot write: INSERT command denied to user 'ro'", line)
        # … but `serve` (read-only dashboard) works.
        port = free_port()
        serve = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:%d" % port, "--store",
                                  self.db.uri(name, user="ro",
                                              password=mariadb.RO_PASSWORD)],
                                 cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        try:
            view = Server()
            view.port = port
            for _ in range(200):
                try:
                    if view.get("/healthz")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            self.assertEqual(view.api_sales()["rows"], [])
        finally:
            serve.terminate()
            out, _ = serve.communicate(timeout=10)
        self.assertIn("serving mysql://ro:***@127.0.0.1", out)
        self.assertNotIn(mariadb.RO_PASSWORD, out)

    def test_incompatible_sales_table(self):
        """The original pipeline's table (a DOUBLE amount, no counts, no
        unique key): refused, named, and left exactly as it was."""
        name = new_db(self.db)
        self.db.sql("CREATE TABLE sales (sales_id INT AUTO_INCREMENT PRIMARY KEY,"
                    " source VARCHAR(100), state VARCHAR(2), total_sum_amount DOUBLE);"
                    "INSERT INTO sales (source, state, total_sum_amount) VALUES"
                    " ('Dine In', 'CA', 2100), ('Dine In', 'CA', 4200)", db=name)
        before = self.db.sql("SHOW CREATE TABLE sales", db=name)
        line = self.fail_run(self.db.uri(name))
        self.assertIn("existing tables do not fit salesflow (no data was changed; rename or "
                      "alter them, or use another database): table sales: total_sum_amount "
                      "is double, needs DECIMAL(18,2) (exact money, 2 decimals); missing "
                      "columns order_count, quantity, updated_at; no unique key on "
                      "(source, state)", line)
        self.assertEqual(self.db.sql("SHOW TABLES", db=name), [("sales",)])
        self.assertEqual(self.db.sql("SHOW CREATE TABLE sales", db=name), before)
        self.assertEqual(self.db.sql("SELECT sales_id, source, state, total_sum_amount FROM"
                                     " sales", db=name),
                         [("1", "Dine In", "CA", "2100"), ("2", "Dine In", "CA", "4200")])

    def test_compatible_existing_table_is_kept(self):
        """A hand-made sales table with the needed columns is used as is."""
        name = new_db(self.db)
        self.db.sql("CREATE TABLE sales (sales_id INT AUTO_INCREMENT PRIMARY KEY,"
                    " source VARCHAR(100), state VARCHAR(2), total_sum_amount DECIMAL(20,2),"
                    " order_count INT, quantity INT, updated_at TIMESTAMP(3) NULL,"
                    " UNIQUE (source, state));"
                    "INSERT INTO sales VALUES (1, 'Dine In', 'CA', 100.00, 1, 1, NULL)",
                    db=name)
        s = self.server(self.db.uri(name))
        status, body = s.post_json("/orderitem", {"customer_id": 3, "source": "Dine In",
                                                  "quantity": 7})
        self.assertEqual(status, 201, body)
        wait_rows(self.db, name, 1)
        deadline = time.time() + 10
        while time.time() < deadline:
            rows = self.db.sql("SELECT sales_id, total_sum_amount, order_count FROM sales",
                               db=name)
            if rows == [("1", "2200.00", "2")]:
                break
            time.sleep(0.1)
        self.assertEqual(rows, [("1", "2200.00", "2")])

    def test_newer_schema_refused(self):
        name = new_db(self.db)
        self.server(self.db.uri(name)).stop()
        self.db.sql("INSERT INTO salesflow_schema VALUES (8, 'from the future', NOW())",
                    db=name)
        line = self.fail_run(self.db.uri(name))
        self.assertIn("the database has schema version 8, newer than this salesflow knows "
                      "(7); upgrade salesflow", line)


if __name__ == "__main__":
    unittest.main()
