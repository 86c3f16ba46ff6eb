"""The query threads (issue 18, "queries never starve ingestion";
docs/architecture.md, Web): GET /api/query (and its CSV), /api/sales with a
range, /api/orders and /api/sales/minute run on a small pool of threads of
their own (sf-query-N: one per core the process may use but one, at least
one, at most four), --query-nice below the rest of the process (by default
SCHED_IDLE), each with a store handle of its own, not on libmicrohttpd's
threads.

- Their threads' names, number and CPU priority (--query-nice, run and
  serve).
- A query the store holds up (a MariaDB table locked by another session:
  the query waits on it for as long as the test likes, no timing) does not
  hold up /healthz, /api/pipeline or the page, even with --threads 1.
- With the threads busy and the queue full, a request gets 503 with
  Retry-After at once.
- SIGTERM with queries in flight: the waiting ones get 503 at once, the
  running ones their answer, exit 0; and under a load of real queries on
  SQLite every request is answered or closed (the sanitizer runs check
  the rest).
"""

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import mariadb
from harness import (BIN, REPO, Server, free_port, ndjson, post_many, post_v1, random_orders,
                     thread_nices, thread_policies)

IDLE = "idle"
SCHED_OTHER, SCHED_IDLE = 0, 5      # sched.h
QUEUE = 64          # WEB_QUERY_QUEUE


def expected_threads(pid):
    """The query threads' number for a process that may run on pid's cores."""
    return max(1, min(4, len(os.sched_getaffinity(pid)) - 1))


def query_threads(pid):
    return len([k for k in thread_nices(pid) if k.startswith("sf-query-")])




def get(port, path, timeout=30):
    """(status, body, headers) of GET path on a new connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    finally:
        c.close()


class NiceTest(unittest.TestCase):
    def check(self, pid, nice):
        n, pol = thread_nices(pid), thread_policies(pid)
        base = os.getpriority(os.PRIO_PROCESS, pid)
        names = sorted(k for k in n if k.startswith("sf-query-"))
        self.assertEqual(names, ["sf-query-%d" % i for i in range(expected_threads(pid))], n)
        for name in names:
            if nice == IDLE:
                self.assertEqual(pol[name], [SCHED_IDLE], pol)
            else:
                self.assertEqual(pol[name], [SCHED_OTHER], pol)
                self.assertEqual(n[name], [min(19, base + nice)], n)
        self.assertEqual(n["sf-http-0"], [base], n)
        self.assertEqual(pol["sf-http-0"], [SCHED_OTHER], pol)
        if "processor" in n:
            self.assertEqual(n["processor"], [base], n)
            self.assertEqual(pol["processor"], [SCHED_OTHER], pol)

    def test_one_core_one_thread(self):
        mine = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(mine)})     # the server inherits it
        try:
            srv = Server().start()
        finally:
            os.sched_setaffinity(0, mine)
        try:
            self.assertEqual(len(os.sched_getaffinity(srv.proc.pid)), 1)
            self.assertEqual(query_threads(srv.proc.pid), 1)
            self.check(srv.proc.pid, IDLE)
        finally:
            srv.cleanup()

    def test_run_default_and_flag(self):
        for extra, nice in (([], IDLE), (["--query-nice", "idle"], IDLE),
                            (["--query-nice", "3"], 3),
                            (["--query-nice", "0"], 0), (["--query-nice", "19"], 19)):
            with self.subTest(extra=extra):
                srv = Server(extra=extra).start()
                try:
                    self.check(srv.proc.pid, nice)
                finally:
                    srv.cleanup()

    def test_serve_flag(self):
        srv = Server().start()     # makes the store serve reads
        try:
            srv.stop()
            port = free_port()
            p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:%d" % port,
                                  "--store", "sqlite:" + srv.db_path, "--query-nice", "7"],
                                 cwd=REPO, stderr=subprocess.DEVNULL)
            try:
                deadline = time.time() + 15
                while True:
                    try:
                        if get(port, "/healthz", 5)[0] == 200:
                            break
                    except OSError:
                        pass
                    self.assertLess(time.time(), deadline, "serve did not start")
                    time.sleep(0.05)
                self.check(p.pid, 7)
                self.assertEqual(get(port, "/api/query?metric=orders")[0], 200)
            finally:
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(30), 0)
        finally:
            srv.cleanup()

    def test_bad_values_are_refused(self):
        for cmd in ("run", "serve"):
            for v in ("20", "-1", "x", "", "IDLE", "idle "):
                where = (["--data", "/nonexistent/x"] if cmd == "run"
                         else ["--store", "sqlite:/nonexistent/x.db"])
                r = subprocess.run([BIN, cmd, "--query-nice", v, *where],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 2, (cmd, v, r.stderr))
                self.assertIn("--query-nice", r.stderr, v)
                self.assertIn("idle or a niceness from 0 to 19", r.stderr, v)


class TableLock:
    """LOCK TABLES name WRITE in a session of its own, held until release():
    every read of that table by another session waits for it."""

    def __init__(self, db, dbname, table):
        self.p = subprocess.Popen(
            [mariadb.CLIENT, "--no-defaults", "-S", db.socket, "-uroot", "-N", "-B",
             "--unbuffered", "--database=" + dbname],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.p.stdin.write("LOCK TABLES `%s` WRITE; SELECT 'locked';\n" % table)
        self.p.stdin.flush()
        line = self.p.stdout.readline().strip()
        if line != "locked":
            raise RuntimeError("LOCK TABLES: %r %s" % (line, self.p.stderr.read()))

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("UNLOCK TABLES;\n")
            self.p.stdin.close()
            self.p.wait(30)


class BlockedStoreCase(unittest.TestCase):
    """`run --store mysql://… --threads 1` with a few orders stored."""

    def setUp(self):
        ok, why = mariadb.available()
        if not ok:
            self.skipTest(why)
        try:
            self.db = mariadb.MariaDB().start()
        except Exception as e:  # noqa: BLE001
            self.skipTest("mariadbd cannot start here: %s" % str(e)[:300])
        self.srv = None
        self.lock = None
        self.name = self.db.create_db("qpool")
        self.srv = Server(extra=["--store", self.db.uri(self.name), "--threads", "1"]).start()
        acked = [st for _o, st, _b in post_many(self.srv, random_orders(30, 3), threads=2)]
        self.assertEqual(acked, [201] * 30)
        deadline = time.time() + 60
        while int(self.db.sql("SELECT COUNT(*) FROM orders", db=self.name)[0][0]) < 30:
            self.assertLess(time.time(), deadline, "the processor stored too few orders")
            time.sleep(0.1)

    def tearDown(self):
        if self.lock:
            self.lock.release()
        if self.srv:
            self.srv.cleanup()
        self.db.stop()

    def waiting_on_lock(self):
        """Sessions waiting for the lock (the server's blocked queries)."""
        return int(self.db.sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                               "WHERE STATE LIKE 'Waiting for table%'")[0][0])

    def wait_waiting(self, n):
        deadline = time.time() + 60
        while self.waiting_on_lock() < n:
            self.assertLess(time.time(), deadline, "fewer than %d queries wait on the "
                            "locked table" % n)
            time.sleep(0.05)

    def send_all(self, paths):
        """GET each path on a connection of its own, from a thread of its own;
        returns (threads, results): results[i] = (status, body, headers, time
        answered) or the exception."""
        results = [None] * len(paths)

        def one(i, path):
            try:
                st, body, hdrs = get(self.srv.port, path, 120)
                results[i] = (st, body, hdrs, time.time())
            except Exception as e:  # noqa: BLE001
                results[i] = e

        ts = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(paths)]
        for t in ts:
            t.start()
        return ts, results


class SlowQueryTest(BlockedStoreCase):
    def test_a_held_query_leaves_other_requests_answering(self):
        self.lock = TableLock(self.db, self.name, "orders")
        ts, res = self.send_all(["/api/orders?limit=5"])
        self.wait_waiting(1)
        # libmicrohttpd's only thread is free: the rest of the dashboard answers
        for path in ("/healthz", "/api/pipeline", "/api/sales", "/api/sales/second",
                     "/"):
            try:
                st, body, _ = get(self.srv.port, path, 20)
            except OSError as e:
                self.fail("%s did not answer while a query waits on the store: %r" %
                          (path, e))
            self.assertEqual(st, 200, (path, body))
        self.assertIsNone(res[0], "the query answered with the table still locked")
        self.lock.release()
        ts[0].join(60)
        st, body, _, _ = res[0]
        self.assertEqual(st, 200, body)
        self.assertEqual(len(json.loads(body)["orders"]), 5)


class QueueFullTest(BlockedStoreCase):
    def test_full_queue_is_503_at_once(self):
        self.lock = TableLock(self.db, self.name, "orders")
        extra = 8
        threads = query_threads(self.srv.proc.pid)
        paths = ["/api/orders?limit=2"] * (threads + QUEUE + extra)
        ts, res = self.send_all(paths)
        # the threads wait on the store, the queue holds 64: at least
        # `extra` are refused, while nothing can have been answered otherwise
        deadline = time.time() + 60
        while sum(1 for x in res if x is not None) < extra:
            self.assertLess(time.time(), deadline, "no 503 for requests beyond the queue")
            time.sleep(0.05)
        self.wait_waiting(threads)
        released = time.time()
        self.lock.release()
        for t in ts:
            t.join(120)
        self.assertFalse([x for x in res if not isinstance(x, tuple)], res)
        refused = [x for x in res if x[0] == 503]
        self.assertTrue(extra <= len(refused) <= extra + threads,
                        [x[:2] for x in res if x[0] != 200])
        for st, body, hdrs, at in refused:
            self.assertLess(at, released, "a 503 came only after the store answered")
            self.assertEqual(hdrs.get("Retry-After"), "1", hdrs)
            self.assertIn("retry shortly", json.loads(body)["detail"])
        for x in res:
            if x[0] != 503:
                self.assertEqual(x[0], 200, x[1])
                self.assertEqual(len(json.loads(x[1])["orders"]), 2)


class AbandonedTest(BlockedStoreCase):
    def test_queries_whose_client_left_are_not_run(self):
        import socket
        self.lock = TableLock(self.db, self.name, "orders")
        threads = query_threads(self.srv.proc.pid)
        ts, res = self.send_all(["/api/orders?limit=3"] * threads)
        self.wait_waiting(threads)
        # five more queue behind them; their clients send and leave, each
        # once its request waits (before, the server would never queue it)
        for k in range(5):
            s = socket.create_connection(("127.0.0.1", self.srv.port), 10)
            s.sendall(b"GET /api/orders?limit=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            deadline = time.time() + 30
            while self.srv.metric("salesflow_query_waiting") < k + 1:
                self.assertLess(time.time(), deadline, "the request was never queued")
                time.sleep(0.02)
            s.close()
        self.lock.release()
        for t in ts:
            t.join(60)
        for x in res:
            self.assertEqual(x[0], 200, x)
        deadline = time.time() + 30
        while True:
            m = get(self.srv.port, "/metrics")[1]
            if b"\nsalesflow_query_waiting 0\n" in m:
                break
            self.assertLess(time.time(), deadline, "the queue never emptied")
            time.sleep(0.05)
        self.assertIn(b"\nsalesflow_query_abandoned_total 5\n", m)


class ShutdownBlockedTest(BlockedStoreCase):
    def test_sigterm_answers_the_waiting_and_finishes_the_running(self):
        self.lock = TableLock(self.db, self.name, "orders")
        threads = query_threads(self.srv.proc.pid)
        ts, res = self.send_all(["/api/orders?limit=3"] * (threads + 10))
        self.wait_waiting(threads)
        # every request has reached the queue or a thread
        deadline = time.time() + 30
        while True:
            st, body, _ = get(self.srv.port, "/metrics")
            if st == 200 and b"\nsalesflow_query_waiting 10\n" in body:
                break
            self.assertLess(time.time(), deadline, "the queue never held 10")
            time.sleep(0.05)
        self.srv.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 30
        while sum(1 for x in res if x is not None) < 10:
            self.assertLess(time.time(), deadline, "the waiting queries were not answered")
            time.sleep(0.05)
        self.assertIsNone(self.srv.proc.poll(), "exited with queries still running")
        self.lock.release()
        self.assertEqual(self.srv.proc.wait(60), 0, self.srv.stderr())
        for t in ts:
            t.join(30)
        statuses = sorted(x[0] for x in res)
        self.assertEqual(statuses, [200] * threads + [503] * 10, res)
        for x in res:
            if x[0] == 503:
                self.assertIn("shutting down", json.loads(x[1])["detail"])


class StarvedCase(unittest.TestCase):
    """A server pinned to one core with 60,000 orders stored; busy() then
    starts a busy loop on that core, which leaves a SCHED_IDLE query thread
    a fraction of a percent of it: a query of a few hundred ms of CPU would
    take minutes."""
    SLOW = "/api/query?metric=revenue&by=state,customer_id&from=-7d"

    def start_pinned(self, extra=()):
        self.cpu = min(os.sched_getaffinity(0))
        self.mine = os.sched_getaffinity(0)
        self.loop = None
        os.sched_setaffinity(0, {self.cpu})      # the server and the loop inherit it
        try:
            self.srv = Server(extra=list(extra)).start()
        finally:
            os.sched_setaffinity(0, self.mine)
        self.addCleanup(self.srv.cleanup)
        self.addCleanup(self.stop_busy)
        now = time.time()
        rows = [{"customer_id": 1 + i % 17, "source": "Dine In", "quantity": 1,
                 "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                             time.gmtime(now - 60 - i * 3))}
                for i in range(60000)]
        for k in range(0, len(rows), 20000):
            st, reply = post_v1(self.srv, ndjson(rows[k:k + 20000]), "application/x-ndjson")
            self.assertIn(st, (200, 201), str(reply)[:300])
        deadline = time.time() + 120
        while self.srv.query("SELECT COUNT(*) FROM orders")[0][0] < len(rows):
            self.assertLess(time.time(), deadline, "the processor stored too few orders")
            time.sleep(0.2)
        return self.srv

    def busy(self):
        os.sched_setaffinity(0, {self.cpu})
        try:
            self.loop = subprocess.Popen([sys.executable, "-c", "import time\n"
                                          "end = time.time() + 120\n"
                                          "while time.time() < end:\n    pass\n"])
        finally:
            os.sched_setaffinity(0, self.mine)

    def stop_busy(self):
        if self.loop:
            self.loop.kill()
            self.loop.wait()
            self.loop = None

    @staticmethod
    def try_get(port, path):
        try:
            return get(port, path, 90)[0]
        except OSError as e:
            return e


class StarvedShutdownTest(StarvedCase):
    """SIGTERM while an idle query thread is starved: shutdown interrupts it
    after 2 s (WEB_QUERY_CANCEL_MS) instead of waiting."""

    def test_sigterm_interrupts_a_starved_query(self):
        srv = self.start_pinned()
        self.busy()
        res = []
        t = threading.Thread(target=lambda: res.append(self.try_get(srv.port, self.SLOW)))
        t.start()
        deadline = time.time() + 30
        while b"\nsalesflow_query_running 1\n" not in get(srv.port, "/metrics")[1]:
            self.assertLess(time.time(), deadline, "the query never started")
            time.sleep(0.05)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(srv.proc.wait(60), 0, srv.stderr())
        took = time.time() - t0
        self.assertLess(took, 10, "the shutdown waited %.1f s for a starved query" % took)
        self.assertIn("interrupting them", srv.stderr())
        t.join(30)
        self.assertEqual(len(res), 1)


class QueryTimeoutTest(StarvedCase):
    """--query-timeout: the watchdog, at the process's own priority, stops a
    query running longer (here a starved one) and the request gets 504
    saying so; the thread then answers the next query."""

    def test_a_query_past_the_timeout_is_stopped_with_504(self):
        srv = self.start_pinned(["--query-timeout", "1s"])
        self.busy()
        t0 = time.time()
        st, body, _ = get(srv.port, self.SLOW, 90)
        took = time.time() - t0
        self.assertEqual(st, 504, body)
        self.assertIn(b"--query-timeout (1000 ms)", body)
        self.assertLess(took, 20, "answered after %.1f s" % took)
        self.assertIn(b"\nsalesflow_query_timeouts_total 1\n", get(srv.port, "/metrics")[1])
        self.stop_busy()
        st, body, _ = get(srv.port, "/api/query?metric=orders&by=source&from=-7d", 30)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["rows"], [["Dine In", 60000]])

    def test_bad_values_are_refused(self):
        for cmd in ("run", "serve"):
            r = subprocess.run([BIN, cmd, "--query-timeout", "-1s"], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--query-timeout", r.stderr)


class ShutdownUnderLoadTest(unittest.TestCase):
    def test_sigterm_while_queries_run(self):
        srv = Server().start()
        try:
            self.assertEqual([st for _o, st, _b in post_many(srv, random_orders(500, 9))],
                             [201] * 500)
            srv.wait_processed(500)
            paths = ["/api/query?metric=revenue&by=source,state,hour&from=-1d",
                     "/api/query?metric=orders&by=customer_id&format=csv",
                     "/api/orders?limit=100&from=-1h", "/api/sales?from=-1d",
                     "/api/sales/minute", "/api/query?metric=nope"]
            stop = threading.Event()
            outcomes, lock = [], threading.Lock()

            def client(k):
                i = k
                while not stop.is_set():
                    path = paths[i % len(paths)]
                    i += 1
                    try:
                        st, body, _ = get(srv.port, path, 60)
                        with lock:
                            outcomes.append(st)
                        if st not in (200, 422, 503):
                            outcomes.append((path, st, body))
                    except (ConnectionError, http.client.RemoteDisconnected):
                        with lock:
                            outcomes.append("closed")
                        time.sleep(0.01)
                    except Exception as e:  # noqa: BLE001
                        with lock:
                            outcomes.append((path, repr(e)))

            ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
            for t in ts:
                t.start()
            deadline = time.time() + 30
            while outcomes.count(200) < 50:
                self.assertLess(time.time(), deadline, outcomes[-10:])
                time.sleep(0.05)
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(60), 0, srv.stderr()[-3000:])
            stop.set()
            for t in ts:
                t.join(60)
            odd = [x for x in outcomes if x not in (200, 422, 503, "closed")]
            self.assertEqual(odd, [])
            for word in ("Sanitizer", "runtime error", "panic", "MHD_PANIC"):
                self.assertNotIn(word, srv.stderr())
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
