"""Content-Encoding on the ingestion POSTs (gzip and zstd, on the fast path
and on libmicrohttpd's), gzip answers for large GETs, and /orderitem's
unknown fields (ignored as the original did; 422 with --strict-orderitem)."""

import gzip
import json
import os
import subprocess
import time
import unittest
import zlib

from harness import Server, check_acked_stored, ndjson, run_cli, send_raw


def zstd(data, *args):
    return subprocess.run(["zstd", "-q", "-c", *args], input=data, check=True,
                          capture_output=True).stdout


def rows(prefix, n):
    return [{"order_id": "%s-%d" % (prefix, i), "customer_id": 1 + i % 17,
             "source": ("Dine In", "Takeaway", "Home Delivery")[i % 3],
             "quantity": 1 + i % 9, "created_at": "2026-12-06T10:%02d:00Z" % (i % 60)}
            for i in range(n)]


NDJSON = {"Content-Type": "application/x-ndjson"}


class ContentEncodingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(extra=["--max-body", "1M"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def post(self, body, coding=None, path="/v1/orders", headers=None):
        h = dict(NDJSON if path.startswith("/v1/orders") else
                 {"Content-Type": "application/json"})
        if coding:
            h["Content-Encoding"] = coding
        h.update(headers or {})
        status, data, hdrs = self.s.request("POST", path, body, h)
        return status, json.loads(data), hdrs

    def stored(self, prefix):
        return self.s.query("SELECT customer_id, source, quantity, total_cents,"
                            " created_at, state FROM orders WHERE uuid LIKE ?"
                            " ORDER BY CAST(substr(uuid, 4) AS INTEGER)",
                            (prefix + "-%",))

    def assert_nothing_written(self, before):
        time.sleep(0.3)
        self.assertEqual(self.s.log_bytes(), before, "the log changed")

    def test_same_rows_plain_gzip_zstd(self):
        """The same batch plain, gzip and zstd, each on both paths (small
        bodies are the fast path's, a query string sends one to
        libmicrohttpd): identical rows."""
        for path in ("/v1/orders", "/v1/orders?via=mhd"):
            tag = "m" if "?" in path else "f"
            plain = ndjson(rows("p" + tag, 300))
            gz = gzip.compress(ndjson(rows("g" + tag, 300)))
            zs = zstd(ndjson(rows("z" + tag, 300)))
            for body, coding in ((plain, None), (gz, "gzip"), (zs, "zstd")):
                status, r, _ = self.post(body, coding, path)
                self.assertEqual((status, r["accepted"]), (201, 300), r)
        self.s.wait_processed()
        want = self.stored("pf")
        self.assertEqual(len(want), 300)
        for prefix in ("gf", "zf", "pm", "gm", "zm"):
            self.assertEqual(self.stored(prefix), want, prefix)

    def test_orderitem_gzip_and_zstd(self):
        one = json.dumps({"customer_id": 4, "source": "Takeaway", "quantity": 2,
                          "order_id": "oi-gz"}).encode()
        status, r, _ = self.post(gzip.compress(one), "gzip", "/orderitem")
        self.assertEqual((status, r["order_id"]), (201, "oi-gz"), r)
        status, r, _ = self.post(zstd(one.replace(b"oi-gz", b"oi-zs")), "zstd",
                                 "/orderitem")
        self.assertEqual((status, r["order_id"]), (201, "oi-zs"), r)
        # x-gzip is gzip (RFC 9110 8.4.1.3), and a coding's name has no case.
        status, r, _ = self.post(gzip.compress(one.replace(b"oi-gz", b"oi-xg")),
                                 "X-GZIP", "/orderitem")
        self.assertEqual(status, 201, r)
        check_acked_stored(self, self.s, ["oi-gz", "oi-zs", "oi-xg"])

    def test_bad_bodies_are_400_and_write_nothing(self):
        body = ndjson(rows("bad", 20))
        gz, zs = gzip.compress(body), zstd(body)
        cases = [
            ("plain labelled gzip", body, "gzip"),
            ("plain labelled zstd", body, "zstd"),
            ("gzip labelled zstd", gz, "zstd"),
            ("zstd labelled gzip", zs, "gzip"),
            ("gzip cut short", gz[:-9], "gzip"),
            ("zstd cut short", zs[:-5], "zstd"),
            ("gzip then other bytes", gz + b"{}", "gzip"),
            ("zstd then other bytes", zs + b"{}", "zstd"),
            ("gzip with a bad checksum", gz[:-8] + bytes([gz[-8] ^ 1]) + gz[-7:], "gzip"),
            ("empty gzip", b"", "gzip"),
            ("zstd frame with a 128 MiB window", zstd(body, "--long=27", "-19"), "zstd"),
        ]
        before = self.s.log_bytes()
        for name, data, coding in cases:
            for path in ("/v1/orders", "/v1/orders?via=mhd", "/orderitem"):
                with self.subTest(name, path=path):
                    status, r, _ = self.post(data, coding, path)
                    self.assertEqual(status, 400, r)
                    self.assertIn("is labelled Content-Encoding: %s" % coding.lower(),
                                  r["detail"])
        self.assert_nothing_written(before)
        self.assertEqual(self.stored("bad"), [])

    def test_unknown_or_stacked_coding_is_415(self):
        body = gzip.compress(ndjson(rows("st", 5)))
        before = self.s.log_bytes()
        for coding in ("br", "deflate", "compress", "gzip, zstd", "gzip,gzip",
                       "identity, br", "gzip;level=9"):
            for path in ("/v1/orders", "/orderitem"):
                with self.subTest(coding=coding, path=path):
                    status, r, hdrs = self.post(body, coding, path)
                    self.assertEqual(status, 415, r)
                    self.assertEqual(hdrs.get("Accept-Encoding"), "gzip, zstd")
                    self.assertIn(coding, r["detail"])
                    self.assertIn("gzip or zstd", r["detail"])
        # Two Content-Encoding fields are the same as a list of two.
        req = (b"POST /v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/x-ndjson\r\nContent-Encoding: gzip\r\n"
               b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
        reply = send_raw(self.s.port, req)
        self.assertTrue(reply.startswith(b"HTTP/1.1 415 "), reply[:200])
        self.assertIn(b"more than once", reply)
        self.assert_nothing_written(before)

    def test_identity_is_plain(self):
        status, r, _ = self.post(ndjson(rows("id", 3)), "identity")
        self.assertEqual((status, r["accepted"]), (201, 3), r)

    def test_list_syntax(self):
        """RFC 9110 5.6.1.2: empty list elements are ignored, and identity
        is no coding: "gzip," and "identity, gzip" are gzip."""
        for i, coding in enumerate(("gzip,", ", gzip", "identity, gzip", " ,gzip , ")):
            status, r, _ = self.post(gzip.compress(ndjson(rows("ls%d" % i, 2))), coding)
            self.assertEqual((status, r.get("accepted")), (201, 2), (coding, r))

    def rss_kb(self):
        with open("/proc/%d/status" % self.s.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def test_decompression_bomb_is_413_with_bounded_memory(self):
        """1 GiB when decoded, about 1 MiB sent (under --max-body 1M as
        sent): 413 at the decoded limit, without holding the GiB."""
        co = zlib.compressobj(9, zlib.DEFLATED, 31)
        chunk = b"\n" * (1 << 20)
        bomb = b"".join(co.compress(chunk) for _ in range(1024)) + co.flush()
        self.assertLess(len(bomb), 1 << 20)
        zbomb = zstd(b"\n" * (64 << 20))
        before = self.s.log_bytes()
        t0 = time.time()
        for path in ("/v1/orders", "/orderitem"):
            status, r, _ = self.post(bomb, "gzip", path)
            self.assertEqual(status, 413, r)
            self.assertIn("once decoded", r["detail"])
            status, r, _ = self.post(zbomb, "zstd", path)
            self.assertEqual(status, 413, r)
        self.assertLess(time.time() - t0, 20)
        self.assertLess(self.rss_kb(), 200 * 1024, "peak RSS over 200 MB")
        self.assert_nothing_written(before)

    def test_gzip_answers(self):
        for path in ("/openapi.json", "/docs", "/echarts.min.js", "/app.js", "/",
                     "/api/orders?limit=200", "/metrics"):
            with self.subTest(path=path):
                s0, plain, h0 = self.s.request("GET", path)
                s1, packed, h1 = self.s.request("GET", path,
                                                headers={"Accept-Encoding": "br, gzip"})
                self.assertEqual((s0, s1), (200, 200))
                self.assertNotIn("Content-Encoding", h0)
                self.assertEqual(h1.get("Content-Encoding"), "gzip")
                self.assertEqual(h1.get("Vary"), "Accept-Encoding")
                self.assertLess(len(packed), len(plain))
                if path in ("/metrics", "/docs"):   # these change (counters, nonce)
                    self.assertAlmostEqual(len(gzip.decompress(packed)), len(plain),
                                           delta=len(plain) // 10)
                else:
                    self.assertEqual(gzip.decompress(packed), plain)
        # q=0 refuses gzip; so does "*;q=0" with nothing else; a small
        # answer is never compressed.
        for ae in ("gzip;q=0", "*;q=0", "br", "identity"):
            _, _, h = self.s.request("GET", "/openapi.json",
                                     headers={"Accept-Encoding": ae})
            self.assertNotIn("Content-Encoding", h, ae)
        _, _, h = self.s.request("GET", "/openapi.json", headers={"Accept-Encoding": "*"})
        self.assertEqual(h.get("Content-Encoding"), "gzip")
        _, _, h = self.s.request("GET", "/healthz", headers={"Accept-Encoding": "gzip"})
        self.assertNotIn("Content-Encoding", h)

    def test_gen_gzip_batches(self):
        acked = os.path.join(self.s.tmp, "gen-acked")
        out = run_cli("gen", "--url", self.s.url, "--batch", "500", "--gzip",
                      "--count", "2300", "--seed", "7", "--acked", acked)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("2300 created", out.stdout)
        with open(acked) as f:
            ids = f.read().split()
        self.assertEqual(len(ids), 2300)
        check_acked_stored(self, self.s, ids)


class ReviewFindingsTest(unittest.TestCase):
    """What the outside review of compressed bodies found (issue 19)."""

    def test_max_body_is_bounded_by_the_body_budget(self):
        # Above the server's 512 MiB body budget a body could never be
        # taken: a bomb got 503 "retry shortly" forever instead of 413.
        for bad in ("0", "513M", "4G", "1T"):
            r = run_cli("ingest", "--max-body", bad, "--data", "/nonexistent/x")
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
            self.assertIn("--max-body", r.stderr)
            self.assertIn("512M", r.stderr)

    def test_413_says_once_decoded_under_a_small_limit(self):
        s = Server(extra=["--max-body", "2K"]).start()
        try:
            body = gzip.compress(ndjson(rows("tiny", 60)))
            self.assertLess(len(body), 2048)
            status, data, _ = s.request("POST", "/v1/orders", body,
                                        dict(NDJSON, **{"Content-Encoding": "gzip"}))
            self.assertEqual(status, 413, data)
            self.assertIn(b"once decoded", data)
        finally:
            s.cleanup()

    def test_openapi_describes_what_this_server_does(self):
        s = Server(extra=["--strict-orderitem"]).start()
        try:
            status, body = s.get("/openapi.json")
            doc = json.loads(body)
            for path in ("/orderitem", "/v1/orders"):
                d = doc["paths"][path]["post"]["responses"]["415"]["description"]
                self.assertEqual(d.count("Content-Encoding other than"), 1, d)
            self.assertFalse(doc["components"]["schemas"]["OrderItem"]
                             ["additionalProperties"])
        finally:
            s.cleanup()
        status, body = self.__class__.plain_server_spec()
        self.assertTrue(json.loads(body)["components"]["schemas"]["OrderItem"]
                        ["additionalProperties"])

    @staticmethod
    def plain_server_spec():
        s = Server().start()
        try:
            return s.get("/openapi.json")
        finally:
            s.cleanup()


class OrderitemExtraFieldsTest(unittest.TestCase):
    ORDER = {"customer_id": 3, "source": "Dine In", "quantity": 2,
             "note": "ring twice", "extra": {"nested": [1, 2]}}

    def test_unknown_fields_ignored(self):
        s = Server().start()
        try:
            status, body = s.post_json("/orderitem", dict(self.ORDER, order_id="x-1"))
            self.assertEqual(status, 201, body)
            check_acked_stored(self, s, ["x-1"])
            # Nothing of the unknown fields reaches the log.
            recs = [json.loads(v) for r in s.log_records().values() for v in r]
            self.assertNotIn("note", recs[0])
            self.assertNotIn("extra", recs[0])
            # Every other rule stays: a known field's bad value is 422,
            # and /v1/orders stays strict.
            status, body = s.post_json("/orderitem", dict(self.ORDER, quantity=0))
            self.assertEqual(status, 422, body)
            status, body = s.post_json("/v1/orders", dict(self.ORDER))
            self.assertEqual(status, 422, body)
            self.assertIn(b"extra_forbidden", body)
        finally:
            s.cleanup()

    def test_strict_orderitem(self):
        s = Server(extra=["--strict-orderitem"]).start()
        try:
            status, body = s.post_json("/orderitem", self.ORDER)
            self.assertEqual(status, 422, body)
            locs = [d["loc"] for d in json.loads(body)["detail"]]
            self.assertEqual(locs, [["body", "note"], ["body", "extra"]])
            time.sleep(0.3)
            self.assertEqual(sum(map(len, s.log_records().values())), 0,
                             "an order was written")
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
