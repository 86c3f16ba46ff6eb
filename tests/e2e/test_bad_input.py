"""Every kind of bad request gets its status and an actionable message, and
leaves the log byte-for-byte unchanged; the server still accepts a valid
order afterwards."""

import http.client
import json
import socket
import unittest

from harness import Server

GOOD = {"customer_id": 3, "source": "Dine In", "quantity": 7}


class BadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()
        status, body = cls.s.post_json("/orderitem", GOOD)
        assert status == 201, body

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def expect(self, status, method, path, body=None, ctype="application/json",
               headers=None):
        before = self.s.log_bytes()
        h = dict(headers or {})
        if ctype:
            h["Content-Type"] = ctype
        got, data, _ = self.s.request(method, path, body, h)
        self.assertEqual(got, status, data)
        self.assertEqual(self.s.log_bytes(), before, "the log must not change")
        return json.loads(data)

    def expect_422(self, obj=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        return self.expect(422, "POST", "/orderitem", body)["detail"]

    def locs(self, detail):
        return [(tuple(d["loc"]), d["type"]) for d in detail]

    def test_missing_fields(self):
        d = self.expect_422({})
        self.assertEqual(self.locs(d), [(("body", "customer_id"), "missing"),
                                        (("body", "source"), "missing"),
                                        (("body", "quantity"), "missing")])
        self.assertTrue(all(x["msg"] == "Field required" for x in d))

    def test_mistyped_fields(self):
        d = self.expect_422({"customer_id": "three", "source": 5, "quantity": 1.5})
        self.assertEqual(self.locs(d), [(("body", "customer_id"), "int_parsing"),
                                        (("body", "source"), "string_type"),
                                        (("body", "quantity"), "int_from_float")])

    def test_unknown_customer(self):
        d = self.expect_422(dict(GOOD, customer_id=18))
        self.assertEqual(self.locs(d), [(("body", "customer_id"), "value_error")])
        self.assertIn("18", d[0]["msg"])

    def test_unknown_source(self):
        d = self.expect_422(dict(GOOD, source="Drive Thru"))
        self.assertEqual(self.locs(d), [(("body", "source"), "literal_error")])

    def test_quantity_range(self):
        self.assertEqual(self.locs(self.expect_422(dict(GOOD, quantity=0))),
                         [(("body", "quantity"), "greater_than_equal")])
        self.assertEqual(self.locs(self.expect_422(dict(GOOD, quantity=1000001))),
                         [(("body", "quantity"), "less_than_equal")])

    def test_malformed_json(self):
        d = self.expect_422(raw=b'{"customer_id": 3,')
        self.assertEqual(d[0]["loc"], ["body"])
        self.assertEqual(d[0]["type"], "json_invalid")
        d = self.expect_422(raw=b'[1, 2]')
        self.assertEqual(d[0]["loc"], ["body"])
        d = self.expect_422(raw=b'')
        self.assertEqual(d[0]["loc"], ["body"])

    def test_not_json_content_type(self):
        d = self.expect(415, "POST", "/orderitem", json.dumps(GOOD).encode(),
                        ctype="text/plain")
        self.assertIn("application/json", d["detail"])

    def test_body_too_large_by_content_length(self):
        # Refused from the headers alone, before the body is read.
        before = self.s.log_bytes()
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as c:
            c.sendall(b"POST /orderitem HTTP/1.1\r\nHost: localhost\r\n"
                      b"Content-Type: application/json\r\n"
                      b"Content-Length: 2000000\r\n\r\n")
            reply = c.recv(65536).decode()
        self.assertTrue(reply.startswith("HTTP/1.1 413"), reply)
        self.assertIn("1 MiB", reply)
        self.assertEqual(self.s.log_bytes(), before)

    def test_body_too_large_chunked(self):
        # No Content-Length: counted while it streams in.
        def chunks():
            yield b'{"customer_id": 3, "source": "Dine In", "quantity": 7, "pad": "'
            for _ in range(20):
                yield b"x" * 65536
            yield b'"}'
        before = self.s.log_bytes()
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        c.request("POST", "/orderitem", chunks(),
                  {"Content-Type": "application/json"}, encode_chunked=True)
        r = c.getresponse()
        self.assertEqual(r.status, 413)
        self.assertIn("1 MiB", json.loads(r.read())["detail"])
        c.close()
        self.assertEqual(self.s.log_bytes(), before)

    def test_unknown_path_and_method(self):
        self.expect(404, "POST", "/orders", json.dumps(GOOD).encode())
        self.expect(404, "GET", "/nothing-here", ctype=None)
        self.expect(405, "GET", "/orderitem", ctype=None)
        self.expect(405, "DELETE", "/orderitem", ctype=None)
        self.expect(405, "POST", "/api/sales", b"{}")

    def test_still_accepts_valid_order(self):
        self.test_mistyped_fields()
        status, body = self.s.post_json("/orderitem", GOOD)
        self.assertEqual(status, 201, body)
        # Lax integers, as the original pydantic model took them.
        status, body = self.s.post_json("/orderitem", {"customer_id": "4",
                                                       "source": "Takeaway",
                                                       "quantity": 2.0})
        self.assertEqual(status, 201, body)


if __name__ == "__main__":
    unittest.main()
