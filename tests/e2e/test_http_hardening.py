"""HTTP hardening (issue 23 item 5, issue 22 items 5 and 8):

- JSON embedded in HTML (/docs) cannot end its <script>: operator-set source
  names are escaped, and /docs has a Content-Security-Policy;
- HTML pages cannot be framed; every response says nosniff, on the fast path
  and on libmicrohttpd's;
- a failing store is answered "store unavailable", never with the store's
  path, URI or error, which go to the log;
- one client holds at most a few /api/stream slots, and a stream whose data
  is not read is dropped;
- with --log-format json, libmicrohttpd's own messages are JSON lines too;
- `serve` answers the ingestion POSTs 404, not a retryable 503."""

import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import unittest

from harness import (BIN, REPO, Server, StreamCase, free_port, post_many, random_orders,
                     send_raw, wait_until)

PER_CLIENT = 8          # WEB_STREAMS_PER_CLIENT in src/web/web_int.h


def head_of(raw):
    """Status and lower-cased header dict of a raw HTTP answer."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return status, headers


def stream_sock(port, source="127.0.0.1", rcvbuf=None):
    """GET /api/stream from source (any 127.x address is loopback); the
    socket is never read."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return s


def stream_clients(server):
    st, body = server.get("/api/pipeline")
    assert st == 200, body
    return json.loads(body)["stream"]["clients"]


class DocsAndHeadersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(extra=["--sources", "</script><b>x,Dine In,a>b&c"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def test_docs_embeds_source_names_escaped_under_a_csp(self):
        st, body, headers = self.s.request("GET", "/docs")
        self.assertEqual(st, 200)
        page = body.decode()
        m = re.search(r'<script type="application/json" id=spec>(.*?)</script>', page,
                      re.S)
        self.assertIsNotNone(m, "no spec block")
        block = m.group(1)
        # The operator's name did not end the block, and nothing in it can.
        for bad in ("<", ">", "&", "\u2028", "\u2029"):
            self.assertNotIn(bad, block)
        spec = json.loads(block)
        self.assertEqual(spec["components"]["schemas"]["Order"]["properties"]["source"]
                         ["enum"], ["</script><b>x", "Dine In", "a>b&c"])
        # The same document as /openapi.json.
        st, doc = self.s.get("/openapi.json")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(doc), spec)
        # Only the page's own script may run: a nonce in the CSP and on it.
        csp = headers.get("Content-Security-Policy", "")
        nonce = re.search(r"script-src 'nonce-([A-Za-z0-9+/=_-]+)'", csp)
        self.assertIsNotNone(nonce, csp)
        self.assertIn("<script nonce=\"%s\">" % nonce.group(1), page)
        self.assertIn("default-src 'none'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertEqual(headers.get("X-Frame-Options"), "DENY")
        self.assertEqual(headers.get("X-Content-Type-Options"), "nosniff")
        # A new nonce each time.
        _, _, again = self.s.request("GET", "/docs")
        self.assertNotEqual(again.get("Content-Security-Policy"), csp)

    def test_dashboard_cannot_be_framed(self):
        st, _, headers = self.s.request("GET", "/")
        self.assertEqual(st, 200)
        self.assertIn("frame-ancestors 'none'", headers.get("Content-Security-Policy", ""))
        self.assertEqual(headers.get("X-Frame-Options"), "DENY")

    def test_every_response_says_nosniff(self):
        json_ct = {"Content-Type": "application/json"}
        order = json.dumps({"customer_id": 1, "source": "Dine In", "quantity": 1})
        cases = [("GET", p, None, {}) for p in (
            "/", "/app.js", "/style.css", "/echarts.min.js", "/docs", "/openapi.json",
            "/api/sales", "/api/sales/minute", "/api/sales/second", "/api/orders",
            "/api/pipeline", "/healthz", "/readyz", "/metrics", "/v1/quarantine",
            "/nope", "/api/sales?bogus=1", "/api/stream?x=1")]
        cases += [("POST", "/api/sales", b"", {}),                        # 405
                  ("POST", "/orderitem", order, json_ct),                 # 201
                  ("POST", "/orderitem", "{}", json_ct),                  # 422
                  ("POST", "/orderitem", order, {"Content-Type": "text/plain"}),  # 415
                  ("POST", "/v1/orders", "[" + order + "]", json_ct),     # 201
                  ("POST", "/v1/orders", "[", json_ct)]                   # 422
        seen = set()
        for method, path, body, hdrs in cases:
            st, _, headers = self.s.request(method, path, body, hdrs)
            seen.add(st)
            self.assertEqual(headers.get("X-Content-Type-Options"), "nosniff",
                             "%s %s answered %d without nosniff" % (method, path, st))
        self.assertTrue({200, 201, 400, 404, 405, 415, 422} <= seen, seen)
        # The fast path's own answers, byte for byte on the wire.
        raw = send_raw(self.s.port, b"POST /orderitem HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                       % (len(order), order.encode()))
        st, h = head_of(raw)
        self.assertEqual(st, 201)
        self.assertEqual(h.get("x-content-type-options"), ["nosniff"])
        # A stream's head.
        s = stream_sock(self.s.port)
        try:
            s.settimeout(5)
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        finally:
            s.close()
        st, h = head_of(got)
        self.assertEqual(st, 200)
        self.assertEqual(h.get("x-content-type-options"), ["nosniff"])


class CannedAnswersTest(unittest.TestCase):
    def test_timeout_and_busy_answers_say_nosniff(self):
        # The connection tracker writes these two itself: the 408 of a
        # connection that sent nothing, the 503 of one past the cap.
        s = Server(extra=["--header-timeout", "1", "--max-connections", "2"]).start()
        try:
            time.sleep(0.5)     # the start-up checks' connections are gone
            with socket.create_connection(("127.0.0.1", s.port), timeout=10) as idle, \
                    socket.create_connection(("127.0.0.1", s.port), timeout=10):
                time.sleep(0.3)
                busy = send_raw(s.port, b"", timeout=5, wait_close=True)
                got = b""
                while True:
                    chunk = idle.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            st, h = head_of(got)
            self.assertEqual(st, 408, got)
            self.assertEqual(h.get("x-content-type-options"), ["nosniff"])
            self.assertEqual(len(got.split(b"\r\n\r\n", 1)[1]),
                             int(h["content-length"][0]))
            st, h = head_of(busy)
            self.assertEqual(st, 503, busy)
            self.assertEqual(h.get("x-content-type-options"), ["nosniff"])
        finally:
            s.cleanup()


class StoreErrorsTest(unittest.TestCase):
    def test_store_errors_name_nothing(self):
        s = Server().start()
        try:
            st, _ = s.post_json("/orderitem", {"customer_id": 1, "source": "Takeaway",
                                               "quantity": 1})
            self.assertEqual(st, 201)
            s.wait_processed(1)
            # The store breaks under the server: its tables are gone.
            con = sqlite3.connect(s.db_path, timeout=30)
            for t in ("sales", "sales_minute"):
                con.execute("DROP TABLE %s" % t)
            con.execute("DROP VIEW orders")     # over orders_data
            con.execute("DROP TABLE orders_data")
            con.commit()
            con.close()
            for path in ("/api/sales", "/api/sales/minute", "/api/orders", "/readyz"):
                st, body = s.get(path)
                self.assertEqual(st, 503, (path, body))
                text = body.decode()
                for leak in (s.data, s.tmp, "sqlite", "no such table", "sales.db"):
                    self.assertNotIn(leak, text, "%s names %r: %s" % (path, leak, text))
                rep = json.loads(body)
                if path == "/readyz":
                    self.assertEqual(rep["checks"]["store"], "store unavailable")
                    self.assertFalse(rep["ready"])
                else:
                    self.assertEqual(rep["detail"], "store unavailable")
            # The detail went to the log, for the operator.
            log = s.stderr()
            self.assertIn("no such table", log)
            self.assertRegex(log, r"GET /api/sales: .*no such table")
        finally:
            s.cleanup()


class StreamLimitsTest(StreamCase):

    def test_one_client_holds_a_few_streams(self):
        for _ in range(PER_CLIENT):
            self.socks.append(stream_sock(self.s.port, "127.0.0.1"))
        wait_until(lambda: stream_clients(self.s) == PER_CLIENT, 10, "streams")
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10,
                                       source_address=("127.0.0.1", 0))
        c.request("GET", "/api/stream")
        r = c.getresponse()
        body = r.read()
        c.close()
        self.assertEqual(r.status, 429, body)
        self.assertIn("streams from your address", json.loads(body)["detail"])
        self.assertTrue(r.getheader("Retry-After", "").isdigit())
        self.assertEqual(stream_clients(self.s), PER_CLIENT)
        # Another address still gets one.
        other = stream_sock(self.s.port, "127.0.0.2")
        self.socks.append(other)
        other.settimeout(5)
        self.assertTrue(other.recv(64).startswith(b"HTTP/1.1 200"))
        wait_until(lambda: stream_clients(self.s) == PER_CLIENT + 1, 10, "the stream")

    def test_a_stream_that_is_not_read_is_dropped(self):
        stuck = stream_sock(self.s.port, "127.0.0.3", rcvbuf=1024)
        self.socks.append(stuck)
        reader = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=60)
        reader.request("GET", "/api/stream")
        resp = reader.getresponse()
        self.assertEqual(resp.status, 200)
        got = []

        def read():
            try:
                while True:
                    line = resp.readline()
                    if not line:
                        break
                    got.append(line)
            except (OSError, ValueError, AttributeError, http.client.HTTPException):
                pass
        t = threading.Thread(target=read, daemon=True)
        t.start()
        wait_until(lambda: stream_clients(self.s) == 2, 10, "both streams")
        # Orders keep notices coming; the stuck one's buffers fill and stay
        # full, and it is dropped; the reader keeps its stream.
        deadline = time.time() + 60
        seed = 0
        while stream_clients(self.s) > 1 and time.time() < deadline:
            seed += 1
            res = post_many(self.s, random_orders(20, seed=seed), threads=2)
            self.assertTrue(all(st == 201 for _, st, _ in res))
            time.sleep(0.3)
        self.assertEqual(stream_clients(self.s), 1, "the unread stream was kept")
        self.assertIn("not read", self.s.stderr())
        n = len(got)
        st, _ = self.s.post_json("/orderitem", {"customer_id": 2, "source": "Takeaway",
                                               "quantity": 1})
        self.assertEqual(st, 201)
        wait_until(lambda: len(got) > n, 10, "the reader's next notice")
        reader.close()


class MhdLogTest(unittest.TestCase):
    def test_libmicrohttpd_messages_are_json(self):
        s = Server(extra=["--log-format", "json"]).start()
        try:
            for _ in range(3):
                # A request with a body that never arrives, on a route
                # libmicrohttpd serves; the client then goes away.
                with socket.create_connection(("127.0.0.1", s.port)) as c:
                    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Content-Length: 100\r\n\r\nabc")
                    time.sleep(0.3)
            wait_until(lambda: "closed" in s.stderr(), 10, "libmicrohttpd's message")
            s.stop()
            lines = s.stderr().splitlines()
            self.assertTrue(lines)
            for line in lines:
                try:
                    rec = json.loads(line)
                except ValueError:
                    self.fail("not JSON: %r" % line)
                self.assertEqual(set(rec) >= {"ts", "level", "msg"}, True, line)
            msgs = [json.loads(x)["msg"] for x in lines]
            self.assertTrue(any("incomplete request" in m for m in msgs), msgs)
            # Nothing else from libmicrohttpd (e.g. about the logger itself).
            self.assertEqual([m for m in msgs if m.startswith("http: ") and
                              "incomplete request" not in m], [])
        finally:
            s.cleanup()


class ServeDoesNotIngestTest(unittest.TestCase):
    def test_ingestion_posts_get_404(self):
        run = Server().start()
        port = free_port()
        log = open(run.data.rstrip("/") + ".serve.stderr", "w")
        serve = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:%d" % port,
                                  "--store", "sqlite:" + run.db_path],
                                 cwd=REPO, stdout=log, stderr=log)
        try:
            wait_until(lambda: _connects(port), 10, "serve to listen")
            for path, body in (("/orderitem", {"customer_id": 1, "source": "Dine In",
                                               "quantity": 1}),
                               ("/v1/orders", [{"customer_id": 1, "source": "Dine In",
                                                "quantity": 1}])):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("POST", path, json.dumps(body),
                          {"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                c.close()
                self.assertEqual(r.status, 404, (path, data))
                self.assertIsNone(r.getheader("Retry-After"))
                self.assertIn("this server does not ingest orders",
                              json.loads(data)["detail"])
        finally:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(20)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
            log.close()
            run.cleanup()


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
