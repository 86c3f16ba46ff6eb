"""The Cassandra raw-order sink (--raw-store cassandra://…) end to end: the
real binary against tests/e2e/cqlserver.py, a CQL v4 server written from
the protocol specification (no Cassandra can be installed here).

Checked: the table is created (total decimal) or an existing one with the
original's columns used as is (total float); a table that does not fit,
a wrong password, a keyspace that cannot be created, an unreachable host
stop start-up with one line and exit 2; faults while running (write
timeouts, unavailable, overloaded, unprepared statements, slow answers, the
server killed mid-stream and restarted) are retried, /readyz fails while
the sink cannot write, and every acknowledged order ends up in the table
exactly once with its values."""

import json
import os
import subprocess
import tempfile
import threading
import time
import unittest
from decimal import Decimal

from cqlhelp import ORIGINAL, CqlServer, row_uuid
from harness import (BIN, REPO, Server, check_acked_stored, free_port, post_many,
                     random_orders, run_cli, wait_until)


def start_fails(uri, env=None):
    """`salesflow run` with --raw-store uri in a fresh data directory, which
    is expected to stop at start: the CompletedProcess."""
    with tempfile.TemporaryDirectory() as tmp:
        return subprocess.run([BIN, "run", "--data", os.path.join(tmp, "d"), "--listen",
                               "127.0.0.1:%d" % free_port(), "--raw-store", uri],
                              capture_output=True, text=True, env=env, cwd=REPO,
                              timeout=60)


def acked_ids(results):
    return [r[2]["order_id"] for r in results if r[1] == 201]


class CassandraCase(unittest.TestCase):
    server_args = ()

    def setUp(self):
        self.cql = CqlServer(self.server_args).start()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        self.cql.cleanup()

    def run_sf(self, uri=None, env=None, extra=()):
        s = Server(extra=["--raw-store", uri or self.cql.uri(), *extra])
        self.servers.append(s)
        old = dict(os.environ)
        os.environ.update(env or {})
        try:
            s.start()
        finally:
            os.environ.clear()
            os.environ.update(old)
        return s

    def assert_table_matches(self, s, acked, total_kind, timeout=60):
        """Every order of the SQLite store is one row of the Cassandra table
        with its values, and every acknowledged order is there."""
        check_acked_stored(self, s, acked, timeout=timeout)
        want = {row_uuid(oid): (cust, src, qty, cents, created)
                for oid, cust, src, qty, cents, created in s.query(
                    "SELECT uuid, customer_id, source, quantity, total_cents, created_at"
                    " FROM orders")}
        deadline = time.time() + timeout
        while True:
            rows = self.cql.rows()
            if set(rows) >= set(want) or time.time() > deadline:
                break
            time.sleep(0.2)
        missing = set(want) - set(rows)
        self.assertFalse(missing, "%d of %d orders are not in the Cassandra table, e.g. %s"
                         % (len(missing), len(want), sorted(missing)[:3]))
        self.assertEqual(set(rows), set(want))
        for u, (cust, src, qty, cents, created) in want.items():
            got = rows[u]
            self.assertEqual(got[:3], [cust, src, qty], u)
            if total_kind == "decimal":
                self.assertEqual(Decimal(got[3]), Decimal(cents) / 100, u)
            else:
                # a float holds the amount to 24 bits: the nearest float32
                import struct
                f32 = struct.unpack(">f", struct.pack(">f", cents / 100.0))[0]
                self.assertEqual(got[3], f32, u)
            self.assertEqual(got[4][:19], created.replace(" ", "T")[:19], u)
        for oid in acked:
            self.assertIn(row_uuid(oid), rows)
        return rows


class CreatesTable(CassandraCase):
    def test_creates_keyspace_and_table_and_writes_every_order(self):
        s = self.run_sf(self.cql.uri(query="?replication=3&batch=7"))
        st = self.cql.stats()
        self.assertEqual(st["keyspaces"], ["order_ks"])
        self.assertEqual(st["tables"]["order_ks.order_table"][4], ["total", "decimal",
                                                                   "regular"])
        res = post_many(s, random_orders(300, 20))
        # a client's own order_id (an idempotency key) gets a UUIDv5
        st_, _ = s.post_json("/v1/orders", {"customer_id": 3, "source": "Dine In",
                                            "quantity": 2, "order_id": "till-7/0001"})[:2]
        self.assertEqual(st_, 201)
        acked = acked_ids(res) + ["till-7/0001"]
        self.assertEqual(len(acked), 301)
        self.assert_table_matches(s, acked, "decimal")
        stats = self.cql.stats()
        self.assertGreater(stats["batches"], 0)
        m = s.get("/metrics")[1].decode()
        self.assertIn("salesflow_raw_store_connected 1", m)
        self.assertIn("salesflow_raw_store_rows_total 301", m)
        r = subprocess.run(["promtool", "check", "metrics"], input=m, capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        p = json.loads(s.get("/api/pipeline")[1])
        self.assertTrue(p["raw_store"]["connected"])
        self.assertEqual(p["raw_store"]["rows"], 301)
        self.assertEqual(s.get("/readyz")[0], 200)

    def test_uuid_order_ids_differing_in_case_are_two_rows(self):
        # two distinct orders in SQLite (and for idempotency): two rows, the
        # upper-case one under its UUIDv5; lower-case consistency names work
        s = self.run_sf(self.cql.uri(query="?consistency=local_one"))
        ids = ["ABCDEF01-2345-4678-9abc-def012345678",
               "abcdef01-2345-4678-9abc-def012345678"]
        for i, oid in enumerate(ids):
            st_ = s.post_json("/v1/orders", {"customer_id": 3 + i, "source": "Dine In",
                                             "quantity": 2, "order_id": oid})[0]
            self.assertEqual(st_, 201)
        self.assertIn("consistency LOCAL_ONE", s.stderr())
        rows = self.assert_table_matches(s, ids, "decimal")
        self.assertEqual(len(rows), 2, rows)
        self.assertIn(ids[1], rows)
        self.assertEqual(rows[ids[1]][0], 4)


class ProcessCommand(CassandraCase):
    def test_process_writes_the_log_into_cassandra(self):
        s = Server()
        self.servers.append(s)
        s.start()
        res = post_many(s, random_orders(400, 26))
        s.wait_processed()
        self.assertEqual(s.stop(), 0)
        store = os.path.join(s.tmp, "other.db")
        lport = free_port()
        p = subprocess.Popen([BIN, "process", "--broker", "file:" + os.path.join(s.data, "log"),
                              "--data", s.data, "--store", "sqlite:" + store,
                              "--listen", "127.0.0.1:%d" % lport,
                              "--raw-store", self.cql.uri(query="?consistency=ONE")],
                             cwd=REPO, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: len(self.cql.rows()) == 400, 60, "400 rows in Cassandra")
            import http.client
            c = http.client.HTTPConnection("127.0.0.1", lport, timeout=10)
            c.request("GET", "/readyz")
            body = json.loads(c.getresponse().read())
            self.assertEqual(body["checks"].get("raw_store"), "ok", body)
        finally:
            p.terminate()
            self.assertEqual(p.wait(30), 0, p.stderr.read())
            p.stderr.close()
        rows = self.cql.rows()
        self.assertEqual(set(rows), {row_uuid(oid) for oid in acked_ids(res)})


class OriginalTable(CassandraCase):
    server_args = ("--table", ORIGINAL)

    def test_existing_original_table_gets_total_as_float(self):
        s = self.run_sf()
        self.assertIn("total as float", s.stderr())
        res = post_many(s, random_orders(200, 21))
        self.assert_table_matches(s, acked_ids(res), "float")

    def test_replay_writes_the_same_rows_again(self):
        s = self.run_sf()
        res = post_many(s, random_orders(150, 22))
        rows = self.assert_table_matches(s, acked_ids(res), "float")
        self.assertEqual(s.stop(), 0)
        before = self.cql.stats()["row_writes"]
        r = run_cli("replay", "--data", s.data, "--raw-store", self.cql.uri(), "--yes")
        if "--yes" in r.stderr:
            r = run_cli("replay", "--data", s.data, "--raw-store", self.cql.uri())
        self.assertEqual(r.returncode, 0, r.stderr)
        after = self.cql.rows()
        self.assertEqual(set(after), set(rows))
        self.assertEqual(self.cql.stats()["row_writes"] - before, len(rows))
        self.assertTrue(all(v[-1] == 2 for v in after.values()))


class BadTable(CassandraCase):
    server_args = ("--table", "order_ks.order_table:uuid uuid,customer_id int,"
                   "source text,total text,created_at timestamp")

    def test_table_that_does_not_fit_is_refused_naming_columns(self):
        r = start_fails(self.cql.uri())
        self.assertEqual(r.returncode, 2, r.stderr)
        err = r.stderr.strip().splitlines()
        self.assertEqual(len(err), 1, r.stderr)
        for part in ("quantity is missing", "total is text",
                     "created_at is timestamp"):
            self.assertIn(part, err[0])


class Login(CassandraCase):
    server_args = ("--auth", "cassandra:s3cr3t-pw")

    def test_password_from_environment(self):
        s = self.run_sf(self.cql.uri(user="cassandra"),
                        env={"SALESFLOW_CASSANDRA_PASSWORD": "s3cr3t-pw"})
        res = post_many(s, random_orders(50, 23))
        self.assert_table_matches(s, acked_ids(res), "decimal")
        self.assertNotIn("s3cr3t-pw", s.stderr())
        c = run_cli("config", "run", "--raw-store", self.cql.uri(user="cassandra"))
        self.assertNotIn("s3cr3t-pw", c.stdout + c.stderr)

    def test_password_file(self):
        pw = os.path.join(self.cql.tmp, "pw")
        with open(pw, "w") as f:
            f.write("s3cr3t-pw\n")
        s = self.run_sf(self.cql.uri(user="cassandra", query="?password_file=" + pw))
        res = post_many(s, random_orders(20, 24))
        self.assert_table_matches(s, acked_ids(res), "decimal")

    def test_user_without_password_says_none_is_configured(self):
        env = {k: v for k, v in os.environ.items()
               if k != "SALESFLOW_CASSANDRA_PASSWORD"}
        r = start_fails(self.cql.uri(user="cassandra"), env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("no password configured for user cassandra: set "
                      "SALESFLOW_CASSANDRA_PASSWORD or ?password_file=", lines[0])
        self.assertNotIn("incorrect", lines[0])

    def test_wrong_or_missing_password_one_line_exit_2(self):
        env = dict(os.environ, SALESFLOW_CASSANDRA_PASSWORD="wrong-pw")
        for uri, e, want in ((self.cql.uri(user="cassandra"), env, "login refused"),
                             (self.cql.uri(), dict(os.environ), "requires a login")):
            r = start_fails(uri, env=e)
            self.assertEqual(r.returncode, 2, r.stderr)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn(want, lines[0])
            self.assertNotIn("wrong-pw", r.stderr)


class StalledStartUp(CassandraCase):
    # schema reads never answered, an EVENT and a stray RESULT every second
    server_args = ("--stall", "QUERY")

    def test_start_up_stops_within_the_request_limit(self):
        try:
            r = start_fails(self.cql.uri())
        except subprocess.TimeoutExpired:
            self.fail("start-up still waiting after 60 s (limit: 12 s per request)")
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("no answer within the request timeout", lines[0])


class NoPermission(CassandraCase):
    server_args = ("--no-create",)

    def test_missing_keyspace_without_permission(self):
        r = start_fails(self.cql.uri())
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("keyspace order_ks does not exist", lines[0])
        self.assertIn("may not create it", lines[0])


class StartUp(unittest.TestCase):
    def test_unreachable_host_and_bad_uri(self):
        dead = free_port()
        r = start_fails("cassandra://127.0.0.1:%d/order_ks" % dead)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("cannot connect", r.stderr)
        self.assertIn("127.0.0.1:%d" % dead, r.stderr)
        for bad, want in (("cassandra://h/ks?consistency=MOST", "unknown consistency"),
                          ("cassandra://u:pw@h/ks", "a password does not go in the URI"),
                          ("cassandra://h:0/ks", "bad port"),
                          ("cassandra://h/", "missing the keyspace"),
                          ("cassandra://h/9ks", "not a Cassandra name"),
                          ("cassandra://h/ks?tabel=x", "unknown parameter"),
                          ("cassandra:/h/ks", "scheme")):
            for cmd in ("run", "process", "replay"):
                r = run_cli(cmd, "--raw-store", bad, "--broker", "file:/tmp/sf-none")
                self.assertEqual(r.returncode, 2, (cmd, bad, r.stderr))
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertIn(want, r.stderr)
                self.assertNotIn(":pw@", r.stderr)

    def test_password_in_uri_never_printed(self):
        for uri, secrets in (("cassandra://u:pa/ss@127.0.0.1/ks", ("pa/ss", ":pa", "pa\"")),
                             ("cassandra://u:p@ssw0rd@127.0.0.1/ks", ("ssw0rd", "p@ss")),
                             ("cassandra://u@p4ss@127.0.0.1/ks", ("p4ss",)),
                             ("cassandra://u:pa?ss@127.0.0.1/ks", ("pa?ss", ":pa")),
                             ("cassandra://u:pa/s@s@h/ks", ("pa/s", "s@s"))):
            for args in (("run", "--data", "/tmp/sf-none"), ("config", "run"),
                         ("process", "--broker", "file:/tmp/sf-none")):
                r = run_cli(*args, "--raw-store", uri)
                self.assertEqual(r.returncode, 2, (args, uri, r.stderr))
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                for sec in secrets:
                    self.assertNotIn(sec, r.stdout + r.stderr, (args, uri))
                self.assertIn("password", r.stderr)

    def test_names_lower_case_and_not_reserved(self):
        for bad, want in (("cassandra://h/Order_KS", "lower case"),
                          ("cassandra://h/ks?table=Orders", "lower case"),
                          ("cassandra://h/select", "reserved"),
                          ("cassandra://h/ks?table=table", "reserved"),
                          ("cassandra://h/ks?table=ks-1", "not a Cassandra name")):
            r = run_cli("run", "--raw-store", bad, "--data", "/tmp/sf-none")
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn(want, r.stderr, bad)

    def test_failover_to_the_second_contact_point(self):
        cql = CqlServer().start()
        s = Server(extra=["--raw-store", "cassandra://127.0.0.1:%d,127.0.0.1:%d/order_ks"
                          % (free_port(), cql.port)])
        try:
            s.start()
            res = post_many(s, random_orders(30, 25))
            check_acked_stored(self, s, acked_ids(res))
            wait_until(lambda: len(cql.rows()) == 30, 30, "30 rows")
        finally:
            s.cleanup()
            cql.cleanup()


class StalledBatch(CassandraCase):
    def test_batch_never_answered_fails_within_the_request_limit(self):
        s = self.run_sf()
        res = post_many(s, random_orders(20, 27))
        wait_until(lambda: len(self.cql.rows()) == 20, 30, "20 rows")
        # BATCHes never answered while an EVENT and a stray RESULT come
        # every second: the request limit (12 s) still fails the write
        self.cql.cmd("stall BATCH")
        res += post_many(s, random_orders(20, 28))
        wait_until(lambda: s.get("/readyz")[0] == 503, 40, "/readyz to fail")
        self.assertIn("no answer within the request timeout", s.stderr())
        self.cql.cmd("stall off")
        wait_until(lambda: s.get("/readyz")[0] == 200, 60, "/readyz to recover")
        self.assert_table_matches(s, acked_ids(res), "decimal")


class Faults(CassandraCase):
    def post_while(self, s, stop, out):
        i = 0
        while not stop.is_set():
            out.extend(post_many(s, random_orders(40, 1000 + i), threads=4))
            i += 1

    def test_faults_every_acked_order_exactly_once(self):
        s = self.run_sf(self.cql.uri(query="?batch=5"))
        stop, results = threading.Event(), []
        t = threading.Thread(target=self.post_while, args=(s, stop, results))
        t.start()
        try:
            wait_until(lambda: self.cql.stats()["batches"] > 5, 30, "first batches")
            # errors on some batches: retried, positions do not move past them
            for code in ("0x1100", "0x1000", "0x1001", "0x0000"):
                self.cql.cmd("fail %s 2" % code)
                wait_until(lambda: self.cql.stats()["errors_sent"] >= 2, 30, "errors")
            # every write failing for a while: /readyz says so, then recovers
            self.cql.cmd("fail 0x1100 1000000")
            wait_until(lambda: s.get("/readyz")[0] == 503, 30, "/readyz to fail")
            self.assertIn("writes failing",
                          json.loads(s.get("/readyz")[1])["checks"]["raw_store"])
            self.cql.cmd("fail 0x1100 0")
            wait_until(lambda: s.get("/readyz")[0] == 200, 60, "/readyz to recover")
            # statements forgotten: UNPREPARED, prepared again
            self.cql.cmd("forget")
            wait_until(lambda: self.cql.stats()["unprepared_sent"] > 0, 30, "unprepared")
            # slow answers
            self.cql.cmd("slow 300")
            time.sleep(1.5)
            self.cql.cmd("slow 0")
            # killed mid-stream (after applying a batch it never answers), then
            # down for a while: /readyz fails; restarted on the same port
            self.cql.cmd("die_after 3")
            wait_until(lambda: self.cql.proc.poll() is not None, 30, "the server to die")
            self.cql.kill()
            wait_until(lambda: s.get("/readyz")[0] == 503, 30, "/readyz to fail")
            body = json.loads(s.get("/readyz")[1])
            self.assertIn("raw store", body["checks"]["raw_store"])
            time.sleep(1)
            self.cql.start()
            wait_until(lambda: s.get("/readyz")[0] == 200, 60, "/readyz to recover")
            # killed with SIGKILL under load, restarted at once
            self.cql.kill()
            self.cql.start()
            time.sleep(1)
        finally:
            stop.set()
            t.join()
        acked = acked_ids(results)
        self.assertGreater(len(acked), 200)
        self.assert_table_matches(s, acked, "decimal", timeout=90)
        m = s.get("/metrics")[1].decode()
        errors = [l for l in m.splitlines() if l.startswith("salesflow_raw_store_errors_total")]
        self.assertGreater(int(errors[0].split()[1]), 0)
        self.assertIn("raw store (Cassandra)", s.stderr())


if __name__ == "__main__":
    unittest.main()
