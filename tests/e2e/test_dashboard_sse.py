"""GET /api/stream (Server-Sent Events): a client connected across 1,000
commits gets coalesced notices that end with the last commit; slow, stuck
and dead clients never block the processor or the other requests; the
number of streams is bounded and dead ones are reclaimed; shutdown ends open
streams; `serve` notices changes written by another process."""

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import (BIN, REPO, Server, StreamCase, free_port, post_many, random_orders,
                     wait_until)

STREAMS_MAX = 256


class SSEClient(threading.Thread):
    """Reads one /api/stream and records every event with its arrival time."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", "/api/stream")
        # The answer says Connection: close (every libmicrohttpd answer
        # does): http.client then hands the socket to the response.
        self.sock = self.conn.sock
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = dict(self.resp.getheaders())
        self.events = []
        self.ended = False
        self.lock = threading.Lock()
        if self.status == 200:
            self.start()

    def run(self):
        ev = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if ev:
                        ev["t"] = time.monotonic()
                        with self.lock:
                            self.events.append(ev)
                    ev = {}
                elif line.startswith(":"):
                    continue
                else:
                    k, _, v = line.partition(":")
                    ev[k] = v[1:] if v.startswith(" ") else v
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass
        self.ended = True

    def commits(self):
        with self.lock:
            return [dict(e, data=json.loads(e["data"])) for e in self.events
                    if e.get("event") == "commit"]

    def first(self):
        with self.lock:
            return self.events[0] if self.events else None

    def wait_for(self, pred, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred(self):
                return True
            time.sleep(0.02)
        return pred(self)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


_next_addr = [0]


def raw_stream(port, rcvbuf=None):
    """A stream request on a raw socket that is never read, each from a
    loopback address of its own (127.0.1.1, 127.0.1.2, ...): one address
    may hold only a few streams."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    i = _next_addr[0] % 60000
    _next_addr[0] += 1
    s.bind(("127.0.%d.%d" % (1 + i // 250, 1 + i % 250), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return s


def pipeline(server):
    status, body = server.get("/api/pipeline")
    assert status == 200, body
    return json.loads(body)


class StreamTest(StreamCase):

    def test_notices_across_1000_commits_are_coalesced(self):
        c = SSEClient(self.s.port)
        self.assertEqual(c.status, 200)
        self.assertTrue(c.headers["Content-Type"].startswith("text/event-stream"))
        self.assertTrue(c.wait_for(lambda c: c.first() is not None, 5), "no hello")
        self.assertEqual(c.first()["event"], "hello")
        self.assertEqual(json.loads(c.first()["data"])["mode"], "run")

        # One order per request, each waiting for its 201: a commit every
        # few orders (the processor commits at most once per 5 ms linger
        # when it has caught up). Keep going until it made 1,000 commits.
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        orders = random_orders(20000, seed=5)
        sent = 0
        t0 = time.monotonic()
        commits = 0
        while commits < 1000 and sent < len(orders):
            for o in orders[sent:sent + 100]:
                conn.request("POST", "/orderitem", json.dumps(o),
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 201)
            sent += 100
            self.s.wait_processed(sent)
            commits = pipeline(self.s)["processor"]["commits"]
        conn.close()
        t_last = time.monotonic()
        self.assertGreaterEqual(commits, 1000, "only %d commits for %d orders" %
                                (commits, sent))

        # The last notice announces the last commit.
        final = pipeline(self.s)["processor"]["commits"]
        self.assertTrue(c.wait_for(lambda c: c.commits() and
                                   c.commits()[-1]["data"]["seq"] == final, 5),
                        "last notice %s, commits %d" %
                        (c.commits()[-1]["data"] if c.commits() else None, final))
        notices = c.commits()
        seqs = [n["data"]["seq"] for n in notices]
        self.assertEqual(seqs, sorted(set(seqs)), "seq strictly increasing")
        self.assertEqual([int(n["id"]) for n in notices], seqs)
        self.assertEqual(notices[-1]["data"]["orders"], sent)
        # Coalesced: far fewer notices than commits, at most ~4 a second.
        duration = t_last - t0
        self.assertLess(len(notices), final / 2)
        self.assertLessEqual(len(notices), duration / 0.25 + 3)
        self.assertGreaterEqual(len(notices), 2)
        p = pipeline(self.s)
        self.assertEqual(p["stream"]["seq"], final)
        self.assertEqual(p["stream"]["notices"], len(notices))
        c.close()

    def test_slow_and_dead_clients_never_block_the_processor(self):
        # 100 clients that never read (tiny receive buffers), 20 that went
        # away, and one healthy reader.
        for _ in range(100):
            self.socks.append(raw_stream(self.s.port, rcvbuf=1024))
        for _ in range(20):
            raw_stream(self.s.port).close()
        healthy = SSEClient(self.s.port)
        wait_until(lambda: pipeline(self.s)["stream"]["clients"] >= 101, 10,
                   "the streams to register")

        orders = random_orders(3000, seed=9)
        results = post_many(self.s, orders, threads=8)
        self.assertTrue(all(st == 201 for _, st, _ in results))
        self.s.wait_processed(3000, timeout=60)
        # Other requests are answered, with the right numbers.
        self.assertEqual(self.s.api_sales()["order_count"], 3000)
        final = pipeline(self.s)["processor"]["commits"]
        self.assertTrue(healthy.wait_for(
            lambda c: c.commits() and c.commits()[-1]["data"]["seq"] == final, 5),
            "the healthy reader missed the last commit")
        # The dead ones were noticed at a write and dropped (the stuck ones
        # may be too, once their data has waited unread long enough:
        # test_http_hardening); the healthy reader kept its stream.
        wait_until(lambda: pipeline(self.s)["stream"]["clients"] <= 101, 20,
                   "dead streams to be dropped (have %d)" %
                   pipeline(self.s)["stream"]["clients"])
        self.assertFalse(healthy.ended)
        healthy.close()

    def test_stream_limit_then_dead_slots_are_reclaimed(self):
        for _ in range(STREAMS_MAX):
            self.socks.append(raw_stream(self.s.port))
        wait_until(lambda: pipeline(self.s)["stream"]["clients"] == STREAMS_MAX, 20,
                   "all streams to register")
        status, body, headers = self.s.request("GET", "/api/stream")
        self.assertEqual(status, 503)
        self.assertIn("too many live dashboards", json.loads(body)["detail"])
        self.assertEqual(headers.get("Retry-After"), "1")
        # Ten clients go away; the next notices find out and free the slots.
        for s in self.socks[:10]:
            s.close()
        del self.socks[:10]
        for i in range(3):
            st, _ = self.s.post_json("/orderitem", {"customer_id": 1 + i,
                                                    "source": "Takeaway", "quantity": 1})
            self.assertEqual(st, 201)
            time.sleep(0.4)
        wait_until(lambda: pipeline(self.s)["stream"]["clients"] <= STREAMS_MAX - 10, 20,
                   "closed streams to be reclaimed")
        c = SSEClient(self.s.port)
        self.assertEqual(c.status, 200)
        c.close()

    def test_shutdown_ends_open_streams(self):
        clients = [SSEClient(self.s.port) for _ in range(3)]
        self.socks.append(raw_stream(self.s.port))    # one that never reads
        for c in clients:
            self.assertTrue(c.wait_for(lambda c: c.first() is not None, 5))
        t0 = time.time()
        self.assertEqual(self.s.stop(timeout=20), 0)
        self.assertLess(time.time() - t0, 10)
        for c in clients:
            self.assertTrue(c.wait_for(lambda c: c.ended, 5), "stream still open")


class ServeStreamTest(unittest.TestCase):
    """`serve` reads a store another process writes: it notices changes by
    watching the store and tells its own streams."""

    def test_serve_notices_changes_from_another_process(self):
        run = Server().start()
        port = free_port()
        log = open(run.data.rstrip("/") + ".serve.stderr", "w")
        serve = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:%d" % port,
                                  "--store", "sqlite:" + run.db_path],
                                 cwd=REPO, stdout=log, stderr=log)
        try:
            conn_ok = False
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    conn_ok = True
                    break
                except OSError:
                    time.sleep(0.05)
            self.assertTrue(conn_ok, "serve did not listen")
            c = SSEClient(port)
            self.assertTrue(c.wait_for(lambda c: c.first() is not None, 5))
            self.assertEqual(json.loads(c.first()["data"])["mode"], "serve")
            orders = random_orders(50, seed=3)
            results = post_many(run, orders, threads=4)
            self.assertTrue(all(st == 201 for _, st, _ in results))
            run.wait_processed(50)
            self.assertTrue(c.wait_for(lambda c: c.commits(), 5), "serve sent no notice")

            def get(path):
                h = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                h.request("GET", path)
                r = h.getresponse()
                body = r.read()
                h.close()
                return r.status, json.loads(body, parse_float=str)
            st, sales = get("/api/sales")
            self.assertEqual(st, 200)
            self.assertEqual(sales, run.api_sales())
            st, p = get("/api/pipeline")
            self.assertEqual((p["mode"], p["ingest"], p["processor"]["lag"]),
                             ("serve", None, None))
            self.assertEqual(sum(x["committed"] for x in p["processor"]["partitions"]), 50)
            self.assertIsNotNone(p["processor"]["last_commit_at"])
            c.close()
        finally:
            serve.send_signal(signal.SIGTERM)
            try:
                rc = serve.wait(20)
            except subprocess.TimeoutExpired:
                serve.kill()
                rc = serve.wait()
            log.close()
            run.cleanup()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
