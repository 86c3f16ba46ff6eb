"""The HTTP fast path (src/http/fastpath.c) on real connections: ingestion
POSTs it serves itself, every other request handed to libmicrohttpd on the
same connection at a request boundary, answers in request order and with
the same bytes either way, and connection handling (pipelining, split
requests, half-close, Connection: close, idle timeout)."""

import json
import re
import socket
import time
import unittest

from harness import Server, send_raw, split_replies as replies

ORDER = b'{"customer_id": 3, "source": "Dine In", "quantity": 7}'


def post(path, body=ORDER, extra=b"", version=b"HTTP/1.1"):
    return (b"POST " + path + b" " + version + b"\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\n" + extra +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def read_until(c, count, timeout=10):
    """Read from socket c until `count` replies are in or it closes."""
    c.settimeout(timeout)
    got = b""
    while len(replies(got)) < count:
        chunk = c.recv(65536)
        if not chunk:
            break
        got += chunk
    return replies(got)


class FastPathTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(extra=["--header-timeout", "2"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def order_ids(self):
        return [json.loads(v)["order_id"] for recs in self.s.log_records().values()
                for v in recs]

    def test_pipelined_requests_answered_in_order(self):
        bad = post(b"/orderitem", b'{"customer_id": 3}')
        with socket.create_connection(("127.0.0.1", self.s.port)) as c:
            c.sendall(post(b"/orderitem") + bad + post(b"/v1/orders") + post(b"/orderitem"))
            got = read_until(c, 4)
        self.assertEqual([r[0] for r in got], [201, 422, 201, 201])
        self.assertIn(b'"message":"Stock entry created"', got[0][2])
        self.assertIn(b'"accepted":1', got[2][2])
        ids = self.order_ids()
        for r in (got[0], got[3]):
            self.assertIn(json.loads(r[2])["order_id"], ids)

    def test_other_requests_go_to_libmicrohttpd_on_the_same_connection(self):
        before = len(self.order_ids())
        with socket.create_connection(("127.0.0.1", self.s.port)) as c:
            # fast, then a GET (handed over, checked first), then an order
            # again: libmicrohttpd closes the connection after its answer,
            # so it never reads a second request (docs/api.md, "Framing").
            c.sendall(post(b"/orderitem"))
            first = read_until(c, 1)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n" + post(b"/orderitem"))
            rest = read_until(c, 2)
        self.assertEqual([r[0] for r in first + rest], [201, 200])
        self.assertEqual(json.loads(rest[0][2]), {"status": "ok"})
        self.assertEqual(rest[0][1]["connection"], "close")
        self.assertEqual(len(self.order_ids()), before + 1)

    def test_both_paths_answer_with_the_same_bytes(self):
        # A query string sends the same route to libmicrohttpd (it drops the
        # query); without one the fast path serves it. Same headers and body.
        bad = b'{"customer_id": 3, "source": "Dine In", "quantity": 0}'
        for path, body in ((b"/orderitem", bad), (b"/v1/orders", b"[]"),
                           (b"/v1/orders", b"{")):
            fast = replies(send_raw(self.s.port, post(path, body)))[0]
            mhd = replies(send_raw(self.s.port, post(path + b"?via=mhd", body)))[0]
            self.assertEqual(fast[0], mhd[0], path)
            # libmicrohttpd's answers all close their connection.
            self.assertEqual(mhd[1].pop("connection"), "close")
            self.assertEqual(sorted(fast[1]), sorted(mhd[1]), path)
            self.assertEqual(fast[1]["content-type"], mhd[1]["content-type"])
            self.assertEqual(fast[2], mhd[2], path)
        # An HTTP/1.0 request also goes to libmicrohttpd, and is stored.
        got = replies(send_raw(self.s.port, post(b"/orderitem", version=b"HTTP/1.0"),
                               wait_close=True))
        self.assertEqual(got[0][0], 201)
        self.assertIn(json.loads(got[0][2])["order_id"], self.order_ids())

    def test_largest_request_it_takes_whole_and_one_byte_more(self):
        # 64 KiB in all (head + body) is the fast path's; one byte more goes
        # to libmicrohttpd. Both are stored.
        for total in (65536, 65537):
            head = post(b"/v1/orders", b"", extra=b"")
            head = head.replace(b"application/json", b"application/x-ndjson")
            head = head.replace(b"Content-Length: 0\r\n\r\n", b"")
            filler = total - len(head) - len(b"Content-Length: 00000\r\n\r\n") - len(ORDER)
            body = ORDER + b"\n" * filler
            req = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
            self.assertEqual(len(req), total)
            got = replies(send_raw(self.s.port, req))
            self.assertEqual(got[0][0], 201, got)
            oid = json.loads(got[0][2])["results"][0]["order_id"]
            self.assertIn(oid, self.order_ids())

    def test_request_split_across_packets(self):
        req = post(b"/orderitem")
        for pause in (0.02, 0.4):   # served by the fast path; then handed over
            with socket.create_connection(("127.0.0.1", self.s.port)) as c:
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.sendall(req[:40])
                time.sleep(pause)
                c.sendall(req[40:-10])
                time.sleep(pause)
                c.sendall(req[-10:])
                got = read_until(c, 1)
            self.assertEqual(got[0][0], 201, pause)
            self.assertIn(json.loads(got[0][2])["order_id"], self.order_ids())

    def test_half_closed_client_still_gets_its_answer(self):
        # The order waits for its fsync; the client has shut its sending side
        # meanwhile. It is answered, then the connection closes.
        with socket.create_connection(("127.0.0.1", self.s.port)) as c:
            c.sendall(post(b"/orderitem"))
            c.shutdown(socket.SHUT_WR)
            c.settimeout(10)
            got = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                got += chunk
        r = replies(got)
        self.assertEqual(len(r), 1, got)
        self.assertEqual(r[0][0], 201)
        self.assertIn(json.loads(r[0][2])["order_id"], self.order_ids())

    def test_connection_close_is_honoured(self):
        got = send_raw(self.s.port, post(b"/orderitem", extra=b"Connection: close\r\n"),
                       wait_close=True)
        r = replies(got)
        self.assertEqual(len(r), 1)
        self.assertEqual(r[0][0], 201)
        self.assertEqual(r[0][1].get("connection"), "close")
        self.assertTrue(re.match(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$",
                                 r[0][1]["date"]), r[0][1])

    def test_early_answer_closes_like_libmicrohttpd(self):
        # 415 is decided from the headers: the connection closes after it,
        # as it does when libmicrohttpd answers before reading a body.
        got = send_raw(self.s.port, post(b"/orderitem", extra=b"X-A: 1\r\n").replace(
            b"application/json", b"text/plain") + post(b"/orderitem"), wait_close=True)
        r = replies(got)
        self.assertEqual([x[0] for x in r], [415])
        self.assertEqual(r[0][1].get("connection"), "close")

    def test_client_that_stops_reading_is_cut(self):
        # Pipelined batches of bad rows, whose 422s (about 250 KB each) are
        # never read: once an answer cannot be sent for --header-timeout
        # (2 s), the server closes the connection.
        req = post(b"/v1/orders", b"{}\n" * 1000).replace(b"application/json",
                                                         b"application/x-ndjson")
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(("127.0.0.1", self.s.port))
        try:
            c.sendall(req * 25)
            t0 = time.time()
            state = 1                   # TCP_ESTABLISHED
            while state == 1 and time.time() - t0 < 10:
                time.sleep(0.1)
                state = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
            took = time.time() - t0
        finally:
            c.close()
        self.assertNotEqual(state, 1, "the connection was not cut in 10 s")
        self.assertGreater(took, 1.5)
        self.assertEqual(replies(send_raw(self.s.port, post(b"/orderitem")))[0][0], 201)

    def test_idle_connection_after_a_request_is_closed_quietly(self):
        with socket.create_connection(("127.0.0.1", self.s.port)) as c:
            c.sendall(post(b"/orderitem"))
            self.assertEqual(read_until(c, 1)[0][0], 201)
            t0 = time.time()
            c.settimeout(8)
            rest = c.recv(65536)
            took = time.time() - t0
        self.assertEqual(rest, b"")     # closed, nothing said
        self.assertGreater(took, 1.5)
        self.assertLess(took, 4)


if __name__ == "__main__":
    unittest.main()
