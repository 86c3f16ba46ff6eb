"""Strict HTTP/1.1 framing (RFC 9112), cross-site request forgery and DNS
rebinding (issue 23, items 2 and 3), on raw bytes over a socket, byte for
byte, on both HTTP paths:

- "fast": the bytes are the first request of a new connection, which the
  project's own fast path (src/http/fastpath.c) reads first;
- "mhd": the bytes follow a GET /healthz on the same connection; the fast
  path hands that connection to libmicrohttpd at the GET, which answers it
  with Connection: close: whatever follows is never answered nor run
  (libmicrohttpd never parses a second request on a connection, whose head
  the fast path has not checked).

A smuggled request is `GET /api/pipeline?SMUGGLED=1` inside a body: had it
been executed it would have been answered (400, "takes no query
parameters") and counted in /metrics under route /api/pipeline."""

import json
import re
import socket
import unittest

from harness import Server, split_replies as replies

ORDER = b'{"customer_id": 3, "source": "Dine In", "quantity": 7}'
SMUGGLED = b"GET /api/pipeline?SMUGGLED=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"
PREFIX = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
PATHS = ("fast", "mhd")
FAST = ("fast",)        # cases about what the answer is, not about framing
TARGETS = (b"POST /orderitem", b"POST /v1/orders", b"GET /api/sales")


class StrictBase(unittest.TestCase):
    extra = []

    @classmethod
    def setUpClass(cls):
        cls.s = Server(extra=cls.extra).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def exchange(self, data, path, timeout=3):
        """Send data (after PREFIX on the "mhd" path) on one connection and
        read until the server closes it or `timeout` s pass; the replies to
        data (the PREFIX's answer removed)."""
        if path == "mhd":
            data = PREFIX + data
        got = b""
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=timeout) as c:
            c.sendall(data)
            try:
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except (socket.timeout, ConnectionResetError):
                pass
        out = replies(got)
        if path == "mhd":
            self.assertTrue(out and out[0][0] == 200, (path, got[:300]))
            self.assertEqual(out[0][1].get("connection"), "close", (path, got[:300]))
            out = out[1:]
            self.assertEqual(out, [], "libmicrohttpd answered a second request")
        return out

    def statuses(self, out, want, path):
        """The replies' statuses are `want` ("fast"), or none at all ("mhd")."""
        self.assertEqual([r[0] for r in out], want if path == "fast" else [], out)

    def pipeline_count(self):
        status, body = self.s.get("/metrics")
        self.assertEqual(status, 200)
        return sum(int(m) for m in re.findall(
            rb'salesflow_http_requests_total\{route="/api/pipeline",code="[^"]*"\} (\d+)',
            body))

    def order_count(self):
        return sum(len(v) for v in self.s.log_records().values())

    def refused(self, data, status, path, words=()):
        """data gets exactly one reply, `status`, the connection is closed,
        and nothing it holds runs."""
        before, orders = self.pipeline_count(), self.order_count()
        out = self.exchange(data, path)
        if path == "mhd":
            self.assertEqual(self.pipeline_count(), before, "smuggled request executed")
            self.assertEqual(self.order_count(), orders, "an order was stored")
            return ""
        self.assertEqual([r[0] for r in out], [status], (path, data, out))
        self.assertEqual(out[0][1].get("connection"), "close", (path, data, out))
        try:
            detail = json.loads(out[0][2])["detail"]
        except ValueError:      # libmicrohttpd's own HTML answer
            detail = out[0][2].decode(errors="replace")
        for w in words:
            self.assertIn(w, detail, (path, data))
        self.assertEqual(self.pipeline_count(), before, "smuggled request executed")
        self.assertEqual(self.order_count(), orders, "an order was stored")
        return detail


def request(target, fields, body=b"", host=b"localhost"):
    """target ("POST /orderitem"), extra header lines (bytes, CRLF-ended)."""
    ct = b"Content-Type: application/json\r\n" if target.startswith(b"POST") else b""
    return (target + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + ct + fields + b"\r\n" +
            body)


class SmugglingTest(StrictBase):
    def test_issue_cases_on_every_route_and_both_paths(self):
        n = len(SMUGGLED)
        cases = {
            "space before colon": b"Content-Length : %d\r\n" % n,
            "obs-fold": b"Content-Length:\r\n %d\r\n" % n,
            "bare CR": b"X-A: a\rContent-Length: %d\r\n" % n,
        }
        for name, fields in cases.items():
            for target in TARGETS:
                for path in PATHS:
                    with self.subTest(case=name, target=target, path=path):
                        self.refused(request(target, fields, SMUGGLED), 400, path)

    def test_field_syntax(self):
        cases = {
            b"Content-Length\t: 4\r\n": "colon",
            b"X-A : b\r\n": "colon",
            b"X-A: a\r\n b\r\n": "obs-fold",
            b"X-A: a\rb\r\n": "CR",
            b"X-A: a\x01b\r\n": "control",
            b"No colon here\r\n": "colon",
            b"X(A): b\r\n": "name",
            b": x\r\n": "name",
        }
        for fields, word in cases.items():
            for path in PATHS:
                with self.subTest(fields=fields, path=path):
                    d = self.refused(request(b"GET /api/sales", fields) + SMUGGLED, 400,
                                     path)
                    if path == "fast":
                        self.assertIn(word, d)

    def test_two_request_lines(self):
        # The fast path took this as /v1/orders; libmicrohttpd answers 400.
        data = (b"POST /orderitem HTTP/1.1\r\n/v1/orders HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" %
                len(ORDER) + ORDER)
        for path in PATHS:
            with self.subTest(path=path):
                before = self.order_count()
                out = self.exchange(data, path)
                self.statuses(out, [400], path)
                self.assertEqual(self.order_count(), before)

    def test_transfer_encoding(self):
        for coding in (b"xchunked", b"identity", b"chunked, identity", b"gzip", b"chunked ",
                       b"gzip, chunked"):
            for path in PATHS:
                with self.subTest(coding=coding, path=path):
                    d = self.refused(request(b"POST /orderitem", b"Transfer-Encoding: " +
                                             coding + b"\r\n", SMUGGLED), 501, path)
                    if path == "fast":
                        self.assertIn("chunked", d)
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(ORDER), ORDER)
        for path in PATHS:
            with self.subTest(case="twice", path=path):
                self.refused(request(b"POST /orderitem",
                                     b"Transfer-Encoding: chunked\r\n" * 2,
                                     chunked + SMUGGLED), 400, path, ["Transfer-Encoding"])
            with self.subTest(case="with Content-Length", path=path):
                self.refused(request(b"POST /orderitem",
                                     b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n"
                                     % len(chunked), chunked + SMUGGLED), 400, path,
                             ["Content-Length"])

    def test_chunked_alone_still_works(self):
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(ORDER), ORDER)
        data = request(b"POST /orderitem", b"Transfer-Encoding: chunked\r\n", chunked)
        for path in PATHS:
            with self.subTest(path=path):
                # libmicrohttpd reads chunked bodies and closes after its
                # answer: the PREFIX after it is not answered.
                out = self.exchange(data + PREFIX, path, timeout=1)
                self.statuses(out, [201], path)
                if path == "fast":
                    self.assertEqual(out[0][1].get("connection"), "close", out)

    def test_content_length(self):
        n = len(ORDER)
        for fields in (b"Content-Length: %d\r\nContent-Length: %d\r\n" % (n, n),
                       b"Content-Length: %dx\r\n" % n, b"Content-Length: +%d\r\n" % n,
                       b"Content-Length: %d, %d\r\n" % (n, n),
                       b"Content-Length: %d \r\n" % n):
            for path in PATHS:
                with self.subTest(fields=fields, path=path):
                    before = self.order_count()
                    out = self.exchange(request(b"POST /orderitem", fields, ORDER + SMUGGLED),
                                        path)
                    self.statuses(out, [400], path)
                    self.assertEqual(self.order_count(), before)

    def test_host_missing_or_twice(self):
        for head in (b"GET /api/sales HTTP/1.1\r\n\r\n",
                     b"GET /api/sales HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n",
                     b"POST /orderitem HTTP/1.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(ORDER) + ORDER):
            for path in PATHS:
                with self.subTest(head=head, path=path):
                    self.refused(head + SMUGGLED, 400, path, ["Host"])

    def test_credentials_and_origin_given_twice(self):
        # Which of two Authorization (or Cookie, or Origin) fields a proxy
        # checks and which the server uses may differ: refused, on every
        # target and both paths, naming the field.
        for name in (b"Authorization: Bearer a\r\nAuthorization: Bearer b\r\n",
                     b"Cookie: salesflow_session=a\r\nCookie: salesflow_session=b\r\n",
                     b"Origin: http://localhost\r\nOrigin: http://evil.example\r\n",
                     b"authorization: Bearer a\r\nAUTHORIZATION: Bearer a\r\n"):
            field = name.split(b":")[0].decode().capitalize()
            for target in TARGETS:
                for path in PATHS:
                    with self.subTest(field=name, target=target, path=path):
                        body = ORDER if target.startswith(b"POST") else b""
                        cl = b"Content-Length: %d\r\n" % len(body) if body else b""
                        self.refused(request(target, name + cl, body) + SMUGGLED, 400, path,
                                     [field + " given more than once"])

    def test_pipelined_after_a_rejected_request_is_not_run(self):
        good = request(b"POST /orderitem", b"Content-Length: %d\r\n" % len(ORDER), ORDER)
        bad = request(b"GET /api/sales", b"X-A : b\r\n")
        for path in PATHS:
            with self.subTest(path=path):
                self.refused(bad + good, 400, path)


# The outside review's reproductions (issue 23 item 2): each stored an extra
# order through libmicrohttpd's parser.
L = 147
SM = (b'POST /orderitem HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n'
      b'Content-Length: 50\r\n\r\n{"customer_id":1,"source":"Takeaway","quantity":1}')
PAD = b"X-Pad: " + b"a" * 136 + b"\r\n\r\n"
REVIEW_A = (b"GET /api/sales HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 147\r\n\x00\r\n" +
            PAD + SM)
REVIEW_B = (b"GET /api/sales HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\x00147\r\n\r\n" +
            SM)
REVIEW_C2 = (b"GET /api/sales HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 147\r\n: x\r\n" +
             PAD + SM)
REVIEW_C = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + REVIEW_C2
REVIEW_D = REVIEW_C2.replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\n")


def chunk(body):
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


class ReviewTest(StrictBase):
    def once(self, data, timeout=3):
        """(statuses, raw reply bytes, orders stored) for data on a new connection."""
        orders = self.order_count()
        got = b""
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=timeout) as c:
            c.sendall(data)
            try:
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    got += b
            except (socket.timeout, ConnectionResetError):
                pass
        return [r[0] for r in replies(got)], got, self.order_count() - orders

    def test_reviewer_reproductions(self):
        for name, data, want in (("A", REVIEW_A, [400]), ("B", REVIEW_B, [400]),
                                 ("C", REVIEW_C, [200]), ("D", REVIEW_D, [400])):
            with self.subTest(case=name):
                st, got, stored = self.once(data)
                self.assertEqual(stored, 0, (name, got[:400]))
                self.assertEqual(st, want, (name, got[:400]))
                self.assertEqual(got.count(b"HTTP/1.1 "), len(want), got[:400])
                self.assertIn(b"\r\nConnection: close\r\n", got)

    def test_nul_and_control_characters_anywhere_in_the_head(self):
        n = len(ORDER)
        for target in TARGETS:
            for fields in (b"Content-Length: 0\x00%d\r\n" % n,
                           b"Transfer-Encoding: chunked\x00x\r\n",
                           b"X-A: a\x00\r\nContent-Length: %d\r\n" % n,
                           b"\x00\r\nContent-Length: %d\r\n" % n,
                           b"X-A: \x1b[1m\r\nContent-Length: %d\r\n" % n):
                with self.subTest(target=target, fields=fields):
                    self.refused(request(target, fields, ORDER + SMUGGLED), 400, "fast")
            with self.subTest(target=target, case="Host with a NUL"):
                self.refused(request(target, b"Content-Length: %d\r\n" % n, ORDER,
                                     host=b"127.0.0.1\x00.evil.com"), 400, "fast")

    def test_too_many_query_parameters(self):
        # libmicrohttpd keeps each parameter in the connection's 32 KiB pool;
        # past ~450 it fails to answer at all (a 408 ten seconds later), so
        # more than 256 are refused at once, whatever the route
        many = b"&".join(b"p%d=x" % i for i in range(600))
        for target in (b"GET /api/query?metric=revenue&" + many, b"GET /api/sales?" + many,
                       b"POST /orderitem?" + many):
            with self.subTest(target=target[:30]):
                self.refused(request(target, b""), 414, "fast", ["parameters"])
        # 256, even long ones filling the 16 KiB head, are read and answered
        long = b"&".join(b"p%d=%s" % (i, b"x" * 50) for i in range(255))
        for params in (b"&".join(b"p%d=x" % i for i in range(255)), long):
            out = self.exchange(request(b"GET /api/query?metric=revenue&" + params, b""),
                                "fast")
            self.assertEqual([r[0] for r in out], [422], out)

    def test_bare_lf_is_refused(self):
        n = len(ORDER)
        for target in TARGETS:
            data = request(target, b"Content-Length: %d\r\n" % n, ORDER + SMUGGLED)
            for bad in (data.replace(b"\r\n", b"\n", 1),
                        data.replace(b"localhost\r\n", b"localhost\n"),
                        data.replace(b"\r\n\r\n", b"\r\n\n")):
                with self.subTest(target=target, data=bad[:60]):
                    self.refused(bad, 400, "fast", ["LF"])

    def test_field_lines_libmicrohttpd_ends_the_head_at(self):
        n = len(ORDER)
        for target in TARGETS:
            for fields in (b": x\r\n", b":\r\n", b"::\r\n"):
                with self.subTest(target=target, fields=fields):
                    self.refused(request(target, b"Content-Length: %d\r\n" % n + fields,
                                         ORDER + SMUGGLED), 400, "fast")

    def test_content_length_past_2_64_and_invalid_forms(self):
        for target in TARGETS:
            for value, status in ((b"99999999999999999999999", 413),
                                  (b"18446744073709551616", 413), (b"+48", 400),
                                  (b"48, 48", 400), (b"4 8", 400)):
                with self.subTest(target=target, value=value):
                    st, got, stored = self.once(request(target, b"Content-Length: " + value +
                                                        b"\r\n", ORDER + SMUGGLED))
                    self.assertEqual(st, [status], got[:400])
                    self.assertEqual(got.count(b"HTTP/1.1 "), 1, got[:400])
                    self.assertEqual(stored, 0)

    def test_ows_around_host_and_before_content_type_parameters(self):
        # On the fast path (Content-Length) and on libmicrohttpd's (chunked).
        for fields, host in ((b"Content-Type: application/json\r\n", b"localhost\t"),
                             (b"Content-Type: application/json\r\n", b"localhost "),
                             (b"Content-Type: application/json ;charset=utf-8\r\n", b"localhost"),
                             (b"Content-Type: application/json\t;charset=utf-8\r\n", b"localhost")):
            for framing in ("length", "chunked"):
                with self.subTest(fields=fields, host=host, framing=framing):
                    if framing == "length":
                        body, fr = ORDER, b"Content-Length: %d\r\n" % len(ORDER)
                    else:
                        body, fr = chunk(ORDER), b"Transfer-Encoding: chunked\r\n"
                    data = (b"POST /orderitem HTTP/1.1\r\nHost: " + host + b"\r\n" + fields +
                            fr + b"\r\n" + body)
                    st, got, stored = self.once(data, timeout=1)
                    self.assertEqual(st, [201], got[:400])
                    self.assertEqual(stored, 1)
        st, got, _ = self.once(b"GET /api/sales HTTP/1.1\r\nHost: localhost\t\r\n\r\n",
                               timeout=1)
        self.assertEqual(st, [200], got[:400])

    def test_whitespace_line_after_a_fast_path_request(self):
        good = request(b"POST /orderitem", b"Content-Length: %d\r\n" % len(ORDER), ORDER)
        st, got, stored = self.once(good + b" \t\r\n" + request(b"GET /api/sales", b"") +
                                    SMUGGLED)
        self.assertEqual((st, stored), ([201, 400], 1), got[:600])

    def test_chunked_framing(self):
        head = request(b"POST /orderitem", b"Transfer-Encoding: chunked\r\n")
        n = b"%x" % len(ORDER)
        for body in (n + b"\r\n" + ORDER + b"\n0\r\n\r\n",        # bare LF after data
                     n + b"\n" + ORDER + b"\r\n0\r\n\r\n",        # bare-LF chunk line
                     n + b"\r\n" + ORDER + b"\r\n0\n\r\n",
                     n + b"\r\n" + ORDER + b"\r\n0\r\n\n",
                     n + b";\r\n" + ORDER + b"\r\n0\r\n\r\n",      # invalid extensions
                     n + b";a=\r\n" + ORDER + b"\r\n0\r\n\r\n",
                     n + b";a b\r\n" + ORDER + b"\r\n0\r\n\r\n",
                     n + b';a="x\r\n' + ORDER + b"\r\n0\r\n\r\n",
                     n + b"x\r\n" + ORDER + b"\r\n0\r\n\r\n",
                     n + b" ;a=b\r\n" + ORDER + b"\r\n0\r\n\r\n",
                     b"\r\n" + ORDER + b"\r\n0\r\n\r\n",
                     n + b"\r\n" + ORDER + b"XX\r\n0\r\n\r\n",         # data longer
                     n + b"\r\n" + ORDER + b"\r\n0\r\nNo colon\r\n\r\n"):  # trailer
            with self.subTest(body=body[:20] + b"..." + body[-16:]):
                self.refused(head + body + SMUGGLED, 400, "fast", ["chunked"])
        for body in (n + b";a=b\r\n" + ORDER + b"\r\n0\r\n\r\n",
                     n + b';a = "x \\" y";b\r\n' + ORDER + b"\r\n0;z\r\n\r\n",
                     n + b"\r\n" + ORDER + b"\r\n0\r\nX-T: 1\r\n\r\n"):
            with self.subTest(body=body[:24]):
                st, got, stored = self.once(head + body, timeout=1)
                self.assertEqual((st, stored), ([201], 1), got[:400])


class CsrfHostTest(StrictBase):
    def post(self, path, route, fields, body=ORDER, host=b"localhost"):
        data = (b"POST " + route + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + fields +
                b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.exchange(data, path, timeout=1)

    def test_post_without_or_with_other_content_type(self):
        for route in (b"/orderitem", b"/v1/orders"):
            for fields in (b"", b"Content-Type: text/plain;charset=UTF-8\r\n",
                           b"Content-Type: application/x-www-form-urlencoded\r\n"):
                for path in FAST:
                    with self.subTest(route=route, fields=fields, path=path):
                        before = self.order_count()
                        out = self.post(path, route, fields)
                        self.assertEqual([r[0] for r in out], [415], out)
                        d = json.loads(out[0][2])["detail"]
                        self.assertIn("application/json", d)
                        if route == b"/v1/orders":
                            self.assertIn("application/x-ndjson", d)
                        self.assertEqual(self.order_count(), before)

    def test_send_beacon_like(self):
        # navigator.sendBeacon / fetch(no-cors) from another site.
        for path in FAST:
            with self.subTest(path=path):
                before = self.order_count()
                out = self.post(path, b"/orderitem",
                                b"Origin: http://evil.example\r\n"
                                b"Content-Type: text/plain;charset=UTF-8\r\n")
                self.assertEqual([r[0] for r in out], [403], out)
                self.assertIn("Origin", json.loads(out[0][2])["detail"])
                # another port of this host, or the other loopback name on
                # another port, is another origin (RFC 6454)
                for origin in (b"http://evil.example", b"null",
                               b"http://localhost:%d.evil.example" % self.s.port,
                               b"http://127.0.0.1:9", b"http://localhost:%d" % (self.s.port + 1),
                               b"https://127.0.0.1:%d" % self.s.port + b"/"):
                    out = self.post(path, b"/orderitem", b"Origin: " + origin +
                                    b"\r\nContent-Type: application/json\r\n")
                    self.assertEqual([r[0] for r in out], [403], (origin, out))
                self.assertEqual(self.order_count(), before)

    def test_same_origin_post(self):
        for origin in (b"http://localhost:%d" % self.s.port,
                       b"http://127.0.0.1:%d" % self.s.port):
            for path in FAST:
                with self.subTest(origin=origin, path=path):
                    out = self.post(path, b"/orderitem", b"Origin: " + origin +
                                    b"\r\nContent-Type: application/json\r\n")
                    self.assertEqual([r[0] for r in out], [201], out)

    def test_wrong_host_is_refused_on_every_route(self):
        for host in (b"evil.example", b"evil.example:%d" % self.s.port, b"localhost.evil"):
            for data in (b"GET /api/sales HTTP/1.1\r\nHost: %s\r\n\r\n" % host,
                         b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host,
                         b"GET /v1/quarantine HTTP/1.1\r\nHost: %s\r\n\r\n" % host,
                         request(b"POST /orderitem", b"Content-Length: %d\r\n" %
                                 len(ORDER), ORDER, host=host)):
                for path in FAST:
                    with self.subTest(host=host, data=data[:30], path=path):
                        before = self.order_count()
                        out = self.exchange(data, path, timeout=1)
                        self.assertEqual([r[0] for r in out], [421], out)
                        self.assertIn("--allowed-hosts", json.loads(out[0][2])["detail"])
                        self.assertEqual(self.order_count(), before)

    def test_loopback_names_are_accepted(self):
        port = self.s.port
        for host in (b"localhost", b"localhost:%d" % port, b"127.0.0.1",
                     b"127.0.0.1:%d" % port, b"[::1]", b"[::1]:%d" % port,
                     b"LOCALHOST:%d" % port):
            for path in FAST:
                with self.subTest(host=host, path=path):
                    out = self.exchange(b"GET /api/sales HTTP/1.1\r\nHost: %s\r\n\r\n" %
                                        host, path, timeout=1)
                    self.assertEqual([r[0] for r in out], [200], out)


class AllowedHostsFlagTest(StrictBase):
    extra = ["--allowed-hosts", "sales.example,Other.Example"]

    def get(self, host, path):
        return [r[0] for r in self.exchange(
            b"GET /api/sales HTTP/1.1\r\nHost: %s\r\n\r\n" % host, path, timeout=1)]

    def test_listed_hosts_and_the_listen_address(self):
        for path in FAST:
            with self.subTest(path=path):
                self.assertEqual(self.get(b"sales.example", path), [200])
                self.assertEqual(self.get(b"other.example:8080", path), [200])
                self.assertEqual(self.get(b"127.0.0.1:%d" % self.s.port, path), [200])
                self.assertEqual(self.get(b"localhost", path), [421])
                self.assertEqual(self.get(b"evil.example", path), [421])


class AllowAnyHostTest(StrictBase):
    extra = ["--allowed-hosts", "*"]

    def test_any_host_is_not_any_origin(self):
        # "*" lets any Host name reach the server; a POST's Origin must
        # still be the server the browser sent it to (its Host)
        host = b"127.0.0.1:%d" % self.s.port
        for origin, want in ((b"http://evil.example", 403), (b"http://127.0.0.1:9", 403),
                             (b"http://" + host, 201)):
            data = (b"POST /orderitem HTTP/1.1\r\nHost: " + host + b"\r\nOrigin: " + origin +
                    b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" %
                    len(ORDER) + ORDER)
            for path in FAST:
                with self.subTest(origin=origin, path=path):
                    out = self.exchange(data, path, timeout=1)
                    self.assertEqual([r[0] for r in out], [want], out)

    def test_any_host(self):
        for path in FAST:
            with self.subTest(path=path):
                out = self.exchange(b"GET /api/sales HTTP/1.1\r\nHost: evil.example\r\n\r\n",
                                    path, timeout=1)
                self.assertEqual([r[0] for r in out], [200])


if __name__ == "__main__":
    unittest.main()
