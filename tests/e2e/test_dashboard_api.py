"""The dashboard's JSON API against sums this test computes itself:
/api/sales (+ filters), /api/sales/minute, /api/sales/second, /api/orders,
/api/pipeline; and a 400 with a clear message for every bad parameter."""

import datetime
import json
import random
import subprocess
import time
import unittest
import urllib.parse

import harness
from harness import STATES, SOURCES, Server, cents, post_v1

UNIT = 30000  # cents


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


class DashboardApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()
        cls.t_start = time.time()
        rnd = random.Random(11)
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        cls.now = now
        cls.orders = []
        for i in range(300):
            # event times spread over the last 50 minutes, whole seconds
            created = now - datetime.timedelta(seconds=rnd.randint(0, 50 * 60))
            cls.orders.append({"customer_id": rnd.randint(1, 17),
                               "source": rnd.choice(SOURCES),
                               "quantity": rnd.randint(1, 40),
                               "created_at": iso(created),
                               "order_id": "api-test-%04d" % i})
        bad = [{"customer_id": 1, "source": "Dine Out", "quantity": 1},
               {"customer_id": 2, "source": "Takeaway", "quantity": 0}]
        status, body = post_v1(cls.s, cls.orders[:150] + bad)
        assert status == 207, (status, body)
        status, body = post_v1(cls.s, cls.orders[150:])
        assert status == 201, (status, body)
        cls.rejected = len(bad)
        cls.s.wait_processed(len(cls.orders))
        time.sleep(1.5)     # let the per-second sampler file the last second

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def get(self, path, **params):
        q = urllib.parse.urlencode(params, doseq=True, quote_via=urllib.parse.quote)
        status, body = self.s.get(path + ("?" + q if q else ""))
        return status, json.loads(body, parse_float=str)

    def ok(self, path, **params):
        status, body = self.get(path, **params)
        self.assertEqual(status, 200, (path, params, body))
        return body

    def bad(self, path, needle, **params):
        status, body = self.get(path, **params)
        self.assertEqual(status, 400, (path, params, body))
        self.assertIsInstance(body.get("detail"), str)
        self.assertIn(needle, body["detail"], (path, params))
        return body["detail"]

    def expect(self, pred=lambda o: True):
        agg = {}
        for o in self.orders:
            if not pred(o):
                continue
            a = agg.setdefault((o["source"], STATES[o["customer_id"]]), [0, 0, 0])
            a[0] += o["quantity"] * UNIT
            a[1] += 1
            a[2] += o["quantity"]
        return agg

    def check_sales(self, body, want):
        got = {(r["source"], r["state"]): [cents(r["total_sum_amount"]), r["order_count"],
                                           r["quantity"]] for r in body["rows"]}
        self.assertEqual(got, want)
        self.assertEqual(cents(body["total_sum_amount"]), sum(v[0] for v in want.values()))
        self.assertEqual(body["order_count"], sum(v[1] for v in want.values()))
        self.assertEqual(body["quantity"], sum(v[2] for v in want.values()))
        amounts = [cents(r["total_sum_amount"]) for r in body["rows"]]
        self.assertEqual(amounts, sorted(amounts, reverse=True), "largest first")

    # --- /api/sales ---------------------------------------------------------
    def test_sales_totals_and_lists(self):
        body = self.ok("/api/sales")
        self.check_sales(body, self.expect())
        self.assertEqual(body["sources"], SOURCES)
        self.assertEqual(body["states"], sorted(set(STATES[o["customer_id"]]
                                                    for o in self.orders)))
        self.assertEqual(body["filters"], {"source": [], "state": []})
        self.assertIsNotNone(body["updated_at"])

    def test_sales_filters(self):
        self.check_sales(self.ok("/api/sales", source="Takeaway"),
                         self.expect(lambda o: o["source"] == "Takeaway"))
        self.check_sales(self.ok("/api/sales", state="KY"),
                         self.expect(lambda o: STATES[o["customer_id"]] == "KY"))
        both = self.ok("/api/sales", source="Dine In", state=["CA", "NY"])
        self.check_sales(both, self.expect(lambda o: o["source"] == "Dine In" and
                                           STATES[o["customer_id"]] in ("CA", "NY")))
        self.assertEqual(both["filters"], {"source": ["Dine In"], "state": ["CA", "NY"]})
        # comma list == repeated parameter; a '+' is a space, as in forms
        a = self.ok("/api/sales", source="Dine In,Home Delivery")
        b = self.ok("/api/sales", source=["Dine In", "Home Delivery"])
        self.assertEqual(a["rows"], b["rows"])
        status, raw = self.s.get("/api/sales?source=Home+Delivery")
        self.assertEqual(status, 200)
        self.check_sales(json.loads(raw, parse_float=str),
                         self.expect(lambda o: o["source"] == "Home Delivery"))
        # an unknown state is not an error: it simply matches nothing
        none = self.ok("/api/sales", state="ZZ")
        self.assertEqual((none["rows"], none["order_count"]), ([], 0))
        self.assertEqual(none["total_sum_amount"], "0.00")

    # --- /api/sales/minute --------------------------------------------------
    def minute_expect(self, lo, hi, pred=lambda o: True):
        agg = {}
        for o in self.orders:
            t = datetime.datetime.strptime(o["created_at"][:16], "%Y-%m-%dT%H:%M").replace(
                tzinfo=datetime.timezone.utc)
            if not (lo <= t < hi) or not pred(o):
                continue
            a = agg.setdefault((t.strftime("%Y-%m-%dT%H:%M:00Z"), o["source"]), [0, 0, 0])
            a[0] += o["quantity"] * UNIT
            a[1] += 1
            a[2] += o["quantity"]
        return agg

    def check_minute(self, body, want):
        got = {(r["minute"], r["source"]): [cents(r["total"]), r["order_count"], r["quantity"]]
               for r in body["rows"]}
        self.assertEqual(got, want)
        keys = [(r["minute"], r["source"]) for r in body["rows"]]
        self.assertEqual(keys, sorted(keys), "by minute, then source")
        self.assertEqual(cents(body["total"]), sum(v[0] for v in want.values()))
        self.assertEqual(body["order_count"], sum(v[1] for v in want.values()))

    def test_minute_default_is_last_hour(self):
        body = self.ok("/api/sales/minute")
        to = datetime.datetime.strptime(body["to"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        frm = datetime.datetime.strptime(body["from"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        self.assertEqual(to - frm, datetime.timedelta(hours=1))
        self.assertEqual(body["step_s"], 60)
        self.check_minute(body, self.minute_expect(frm, to))
        self.assertEqual(body["order_count"], len(self.orders))   # all within 50 min

    def test_minute_range_and_filters(self):
        lo = (self.now - datetime.timedelta(minutes=30)).replace(second=0)
        hi = (self.now - datetime.timedelta(minutes=10)).replace(second=0)
        body = self.ok("/api/sales/minute", **{"from": lo.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                "to": hi.strftime("%Y-%m-%dT%H:%M:%SZ")})
        self.assertEqual(body["from"], lo.strftime("%Y-%m-%dT%H:%M:00Z"))
        self.assertEqual(body["to"], hi.strftime("%Y-%m-%dT%H:%M:00Z"))
        self.check_minute(body, self.minute_expect(lo, hi))
        body = self.ok("/api/sales/minute", **{"from": "-2h", "state": "TX,KS",
                                                "source": "Takeaway"})
        far = self.now - datetime.timedelta(hours=3)
        self.check_minute(body, self.minute_expect(
            far, self.now + datetime.timedelta(hours=1),
            lambda o: o["source"] == "Takeaway" and STATES[o["customer_id"]] in ("TX", "KS")))
        empty = self.ok("/api/sales/minute", **{"from": "2020-01-01T00:00:00Z",
                                                 "to": "2020-01-01T01:00:00Z"})
        self.assertEqual((empty["rows"], empty["order_count"]), ([], 0))

    # --- /api/sales/second --------------------------------------------------
    def test_second_counts_what_reached_the_store(self):
        # The series ends at the last second a read has fully covered: the
        # orders' own second may still be open when the test starts.
        deadline = time.time() + 5
        while True:
            body = self.ok("/api/sales/second")
            if sum(p["orders"] for p in body["points"]) == len(self.orders) or \
                    time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(body["step_s"], 1)
        pts = body["points"]
        self.assertLessEqual(len(pts), 300)
        self.assertGreater(len(pts), 0)
        ts = [p["t"] for p in pts]
        self.assertEqual(ts, sorted(ts))
        self.assertEqual(sum(p["orders"] for p in pts), len(self.orders))
        self.assertEqual(sum(cents(p["total"]) for p in pts),
                         sum(o["quantity"] * UNIT for o in self.orders))
        body = self.ok("/api/sales/second", source="Dine In", state="KY", window=60)
        self.assertLessEqual(len(body["points"]), 60)
        want = [o for o in self.orders
                if o["source"] == "Dine In" and STATES[o["customer_id"]] == "KY"]
        self.assertEqual(sum(p["orders"] for p in body["points"]), len(want))

    # --- /api/orders --------------------------------------------------------
    def test_latest_orders(self):
        newest = sorted(self.orders, key=lambda o: (o["created_at"], o["order_id"]),
                        reverse=True)
        body = self.ok("/api/orders")
        self.assertEqual(body["limit"], 20)
        self.assertEqual([o["order_id"] for o in body["orders"]],
                         [o["order_id"] for o in newest[:20]])
        first, want = body["orders"][0], newest[0]
        self.assertEqual((first["customer_id"], first["source"], first["quantity"],
                          first["state"], first["created_at"]),
                         (want["customer_id"], want["source"], want["quantity"],
                          STATES[want["customer_id"]], want["created_at"]))
        self.assertEqual(cents(first["total"]), want["quantity"] * UNIT)
        body = self.ok("/api/orders", limit=5, state="NY")
        ny = [o for o in newest if STATES[o["customer_id"]] == "NY"]
        self.assertEqual([o["order_id"] for o in body["orders"]],
                         [o["order_id"] for o in ny[:5]])
        body = self.ok("/api/orders", limit=500)
        self.assertEqual(len(body["orders"]), len(self.orders))

    # --- /api/pipeline ------------------------------------------------------
    def test_pipeline(self):
        body = self.ok("/api/pipeline")
        self.assertEqual(body["mode"], "run")
        ing, proc = body["ingest"], body["processor"]
        self.assertEqual(ing["accepted"], len(self.orders))
        self.assertEqual(ing["rejected"], self.rejected)
        self.assertEqual(ing["quarantined"], self.rejected)   # /v1/orders keeps them
        self.assertEqual(proc["orders_inserted"], len(self.orders))
        self.assertGreaterEqual(proc["commits"], 1)
        self.assertIsNotNone(proc["last_commit_at"])
        parts = proc["partitions"]
        self.assertEqual([p["partition"] for p in parts], list(range(len(parts))))
        self.assertEqual(sum(p["committed"] for p in parts), len(self.orders))
        self.assertEqual(sum(p["log_end"] for p in parts), len(self.orders))
        self.assertEqual(proc["lag"], 0)
        self.assertTrue(all(p["lag"] == 0 for p in parts))
        self.assertEqual(body["stream"]["max_clients"], 256)

    # --- bad parameters -----------------------------------------------------
    def test_bad_parameters_get_400(self):
        self.bad("/api/sales", 'unknown query parameter "sorce"', sorce="Takeaway")
        self.bad("/api/sales", "expected source, state, from or to", limit="5")
        self.bad("/api/sales", 'source "Dine Out" is unknown', source="Dine Out")
        self.bad("/api/sales", "is unknown", source="Dine In,")
        self.bad("/api/sales", "is not a state", state="X" * 40)
        self.bad("/api/sales", "at most 32 values", state=",".join("S%d" % i for i in range(33)))
        self.bad("/api/sales/minute", "from must be an RFC 3339 time", **{"from": "yesterday"})
        self.bad("/api/sales/minute", "to must be", to="2026-13-45T00:00:00Z")
        self.bad("/api/sales/minute", "must be before to",
                 **{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"})
        self.bad("/api/sales/minute", "more than 7 days apart",
                 **{"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"})
        self.bad("/api/sales/minute", "from is given more than once", **{"from": ["-1h", "-2h"]})
        self.bad("/api/sales/minute", "expected source, state, from or to", limit="3")
        self.bad("/api/sales/second", "window must be a whole number from 10 to 300",
                 window="5")
        self.bad("/api/sales/second", "window must be", window="abc")
        self.bad("/api/orders", "limit must be a whole number from 1 to 500", limit="0")
        self.bad("/api/orders", "limit must be", limit="501")
        self.bad("/api/orders", "limit must be", limit="ten")
        self.bad("/api/orders", "limit must be", limit="")
        self.bad("/api/pipeline", "/api/pipeline takes no query parameters", x="1")
        self.bad("/api/stream", "/api/stream takes no query parameters", x="1")

    def test_minute_range_of_7_days_off_the_minute(self):
        # Seven days that do not start on a whole minute widen to whole
        # minutes; that is not "more than 7 days" (the documented -7d).
        self.ok("/api/sales/minute", **{"from": "-7d"})
        self.ok("/api/sales/minute", **{"from": "2026-01-01T00:00:30Z",
                                        "to": "2026-01-08T00:00:30Z"})
        self.bad("/api/sales/minute", "more than 7 days apart",
                 **{"from": "2026-01-01T00:00:00Z", "to": "2026-01-08T00:01:00Z"})
        self.bad("/api/sales/minute", "more than 7 days apart", **{"from": "-8d"})

    def test_minute_range_order_is_judged_as_given(self):
        # from after to within one minute is refused, naming the times as
        # given; a range in the last minute of 9999 is not refused (to is
        # taken as 9999-12-31T23:59:00Z, as documented: the range is then
        # empty); the default from never falls before 1970.
        d = self.bad("/api/sales/minute", "must be before to",
                     **{"from": "2026-12-01T00:00:30Z", "to": "2026-12-01T00:00:10Z"})
        self.assertIn("2026-12-01T00:00:30", d)
        d = self.bad("/api/sales/minute", "must be before to",
                     **{"from": "2026-12-01T00:00:01Z", "to": "2026-12-01T00:00:00Z"})
        self.assertIn("2026-12-01T00:00:01", d)
        body = self.ok("/api/sales/minute", **{"from": "9999-12-31T23:59:30Z",
                                               "to": "9999-12-31T23:59:59Z"})
        self.assertEqual((body["from"], body["to"], body["rows"]),
                         ("9999-12-31T23:59:00Z", "9999-12-31T23:59:00Z", []))
        body = self.ok("/api/sales/minute", to="1970-01-01T00:30:00Z")
        self.assertEqual(body["from"], "1970-01-01T00:00:00Z")

    def test_unknown_api_path_is_404_and_post_is_405(self):
        status, body = self.s.get("/api/nope")
        self.assertEqual(status, 404)
        status, body, _ = self.s.request("POST", "/api/sales", b"{}",
                                         {"Content-Type": "application/json"})
        self.assertEqual(status, 405)


class DashboardApiEmptyTest(unittest.TestCase):
    """A fresh data directory: every endpoint answers, with zeros."""

    def test_empty_store(self):
        s = Server().start()
        try:
            for path in ("/api/sales", "/api/sales/minute", "/api/sales/second",
                         "/api/orders", "/api/pipeline"):
                status, body = s.get(path)
                self.assertEqual(status, 200, (path, body))
                json.loads(body)
            sales = s.api_sales()
            self.assertEqual((sales["rows"], sales["order_count"], sales["states"],
                              sales["updated_at"]), ([], 0, [], None))
            self.assertEqual(sales["total_sum_amount"], "0.00")
            _, body = s.get("/api/orders")
            self.assertEqual(json.loads(body)["orders"], [])
            _, body = s.get("/api/pipeline")
            p = json.loads(body)
            self.assertEqual((p["ingest"]["accepted"], p["processor"]["commits"],
                              p["processor"]["last_commit_at"], p["processor"]["lag"]),
                             (0, 0, None, 0))
        finally:
            s.cleanup()


class DashboardApiSteadyTest(unittest.TestCase):
    """A steady 200 orders/s reads as a flat line: every second of the
    series, including the newest, whenever it is asked for (here just
    after each second starts, before the sampler's next read), holds about
    200, never 0 beside 400."""

    def test_steady_load_is_flat_per_second(self):
        s = Server().start()
        gen = None
        try:
            gen = subprocess.Popen([harness.BIN, "gen", "--url", s.url, "--rate", "200",
                                    "--count", "2400", "--concurrency", "4"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t0 = time.time()
            bad = []
            for _ in range(9):
                time.sleep(1.001 - time.time() % 1)     # just after a second starts
                _, body = s.get("/api/sales/second?window=30")
                pts = json.loads(body)["points"]
                # The steady part: from 2 s after the load started.
                steady = [p["orders"] for p in pts
                          if p["t"] >= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 2))]
                if steady and (min(steady) < 100 or max(steady) > 300):
                    bad.append(steady)
            self.assertEqual(bad, [], "per-second counts under a steady 200/s")
        finally:
            if gen:
                gen.kill()
                gen.wait()
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
