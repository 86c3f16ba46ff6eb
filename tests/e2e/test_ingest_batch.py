"""POST /v1/orders with arrays and NDJSON: per-row results, good rows
stored (log and store), bad rows kept in the quarantine with their errors,
optional fields (order_id, created_at, unit_price) honoured."""

import json
import unittest

from harness import Server, log_values, ndjson, post_v1

GOOD = {"customer_id": 3, "source": "Dine In", "quantity": 7}


class IngestBatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def quarantine(self, limit=100):
        status, body = self.s.get("/v1/quarantine?limit=%d" % limit)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_single_object(self):
        status, r = post_v1(self.s, dict(GOOD, order_id="single-1"))
        self.assertEqual(status, 201, r)
        self.assertEqual(r, {"accepted": 1, "rejected": 0,
                             "results": [{"index": 0, "order_id": "single-1"}]})
        self.assertIn("single-1", [v["order_id"] for v in log_values(self.s)])

    def test_mixed_array(self):
        rows = [dict(GOOD, order_id="mix-a"),
                {"customer_id": 99, "source": "Dine In", "quantity": 1},
                dict(GOOD, quantity=0, note="x"),
                {"customer_id": 4, "source": "Takeaway", "quantity": 2,
                 "created_at": "2026-01-02T03:04:05.678Z", "unit_price": "12.50",
                 "order_id": "mix-b"},
                {"customer_id": 5, "source": "Home Delivery", "quantity": 3,
                 "created_at": "11/29/2026, 03:40:00", "unit_price": 0.1}]
        status, r = post_v1(self.s, rows)
        self.assertEqual(status, 207, r)
        self.assertEqual((r["accepted"], r["rejected"]), (3, 2))
        res = r["results"]
        self.assertEqual([x["index"] for x in res], [0, 1, 2, 3, 4])
        self.assertEqual(res[0]["order_id"], "mix-a")
        self.assertEqual(res[1]["detail"][0]["loc"], ["body", 1, "customer_id"])
        self.assertEqual(res[1]["detail"][0]["type"], "value_error")
        self.assertEqual([(d["loc"], d["type"]) for d in res[2]["detail"]],
                         [(["body", 2, "quantity"], "greater_than_equal"),
                          (["body", 2, "note"], "extra_forbidden")])
        self.assertEqual(res[3]["order_id"], "mix-b")
        server_id = res[4]["order_id"]
        self.assertEqual(len(server_id), 36)          # a UUIDv7
        self.assertEqual(server_id[14], "7")

        by_id = {v["order_id"]: v for v in log_values(self.s)}
        self.assertEqual(by_id["mix-b"]["total"], 25.0)
        self.assertEqual(by_id["mix-b"]["created_at"], "2026-01-02T03:04:05.678Z")
        self.assertEqual(by_id[server_id]["total"], 0.3)
        self.assertEqual(by_id[server_id]["created_at"], "2026-11-29T03:40:00.000Z")
        # The processor stores them with their prices.
        self.s.wait_processed()
        rows = dict(self.s.query("SELECT uuid, total_cents FROM orders "
                                 "WHERE uuid IN ('mix-a', 'mix-b')"))
        self.assertEqual(rows, {"mix-a": 210000, "mix-b": 2500})

        # Bad rows are in the quarantine, newest first, with raw text and errors.
        q = self.quarantine(2)
        self.assertEqual(q["count"], 2)
        newest, older = q["items"]
        self.assertEqual((newest["index"], older["index"]), (2, 1))
        self.assertEqual(newest["endpoint"], "/v1/orders")
        self.assertEqual(json.loads(newest["raw"]), dict(GOOD, quantity=0, note="x"))
        self.assertEqual(newest["detail"][1]["type"], "extra_forbidden")
        self.assertEqual(json.loads(older["raw"])["customer_id"], 99)
        self.assertTrue(newest["time"].endswith("Z"))

    def test_ndjson(self):
        body = ndjson([dict(GOOD, order_id="nd-1"), b"", b"{not json",
                       b'{"customer_id":6,"source":"Takeaway","quantity":1}\r',
                       b'{"customer_id":7,"source":"Takeaway","quantity":1,"bad\xff":1}'])
        status, r = post_v1(self.s, body, ctype="application/x-ndjson")
        self.assertEqual(status, 207, r)
        self.assertEqual((r["accepted"], r["rejected"]), (2, 2))
        self.assertEqual(r["results"][0]["order_id"], "nd-1")
        self.assertEqual(r["results"][1]["detail"][0]["type"], "json_invalid")
        self.assertEqual(r["results"][1]["detail"][0]["loc"], ["body", 1])
        self.assertIn("order_id", r["results"][2])
        self.assertEqual(r["results"][3]["detail"][0]["type"], "json_invalid")
        q = self.quarantine(2)
        self.assertEqual(q["items"][1]["raw"], "{not json")
        # Invalid UTF-8 is kept readable (U+FFFD) and flagged.
        self.assertTrue(q["items"][0]["raw_lossy"])
        self.assertIn("\ufffd", q["items"][0]["raw"])

    def test_all_good_ndjson_batch(self):
        rows = [{"customer_id": 1 + i % 17, "source": "Takeaway", "quantity": 1 + i % 5}
                for i in range(1000)]
        before = len(log_values(self.s))
        status, r = post_v1(self.s, ndjson(rows), ctype="application/x-ndjson")
        self.assertEqual(status, 201)
        self.assertEqual(r["accepted"], 1000)
        self.assertEqual(len({x["order_id"] for x in r["results"]}), 1000)
        # The reply came after the append: every row is already in the log.
        self.assertEqual(len(log_values(self.s)), before + 1000)

    def test_quarantine_survives_restart(self):
        post_v1(self.s, [{"customer_id": 3, "source": "Nowhere", "quantity": 1}])
        self.s.stop()
        self.s.start()
        items = self.quarantine(1000)["items"]
        self.assertTrue(any('"Nowhere"' in i["raw"] for i in items))


if __name__ == "__main__":
    unittest.main()
