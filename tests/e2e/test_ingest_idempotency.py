"""Idempotency: an order_id seen before is answered with the first result
and never appended twice — on retry, inside one batch, while the first
append is in flight (concurrent retries), and across a restart; outside
--dedupe-window it is a new order."""

import http.client
import json
import threading
import time
import unittest

from harness import Server, log_values, post_v1

GOOD = {"customer_id": 3, "source": "Dine In", "quantity": 7}


def count(server, oid):
    return sum(1 for v in log_values(server) if v["order_id"] == oid)


class IngestIdempotencyTest(unittest.TestCase):
    def setUp(self):
        self.s = Server().start()

    def tearDown(self):
        self.s.cleanup()

    def test_retry_orderitem_and_v1(self):
        o = dict(GOOD, order_id="retry-1")
        first = self.s.post_json("/orderitem", o)
        second = self.s.post_json("/orderitem", o)
        self.assertEqual(first, second)
        self.assertEqual(first[0], 201)
        self.assertEqual(json.loads(first[1])["order_id"], "retry-1")
        status, r = post_v1(self.s, [o])
        self.assertEqual(status, 201)
        self.assertEqual(r["results"][0], {"index": 0, "order_id": "retry-1",
                                           "duplicate": True})
        self.assertEqual(count(self.s, "retry-1"), 1)
        # The record is written key-first (how the index is rebuilt).
        recs = [v for p in self.s.log_records().values() for v in p]
        self.assertTrue(any(v.startswith(b'{"order_id":"retry-1"') for v in recs))

    def test_same_key_twice_in_one_batch(self):
        rows = [dict(GOOD, order_id="twice"), dict(GOOD, quantity=1),
                dict(GOOD, order_id="twice", quantity=99)]
        status, r = post_v1(self.s, rows)
        self.assertEqual(status, 201, r)
        self.assertEqual(r["accepted"], 3)
        self.assertEqual(r["results"][0], {"index": 0, "order_id": "twice"})
        self.assertEqual(r["results"][2], {"index": 2, "order_id": "twice",
                                           "duplicate": True})
        self.assertEqual(count(self.s, "twice"), 1)
        # The first one wins.
        self.assertEqual([v["quantity"] for v in log_values(self.s)
                          if v["order_id"] == "twice"], [7])

    def test_concurrent_retries_append_once(self):
        results = []
        lock = threading.Lock()

        def worker(k):
            c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
            for i in range(20):
                c.request("POST", "/orderitem",
                          json.dumps(dict(GOOD, order_id="conc-%d" % i)),
                          {"Content-Type": "application/json"})
                r = c.getresponse()
                with lock:
                    results.append((r.status, json.loads(r.read())["order_id"]))
            c.close()
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(len(results), 160)
        self.assertTrue(all(st == 201 for st, _ in results), results)
        for i in range(20):
            self.assertEqual(count(self.s, "conc-%d" % i), 1)

    def test_retry_across_restart(self):
        status, r = post_v1(self.s, [dict(GOOD, order_id="restart-1"),
                                     dict(GOOD, order_id='quote"and\\slash')])
        self.assertEqual(status, 201)
        self.s.stop()
        self.s.start()
        self.assertIn("2 order_ids remembered", self.s.stderr())
        status, r = post_v1(self.s, [dict(GOOD, order_id="restart-1"),
                                     dict(GOOD, order_id='quote"and\\slash'),
                                     dict(GOOD, order_id="restart-2")])
        self.assertEqual(status, 201)
        self.assertEqual([x.get("duplicate", False) for x in r["results"]],
                         [True, True, False])
        status, body = self.s.post_json("/orderitem", dict(GOOD, order_id="restart-1"))
        self.assertEqual(status, 201)
        for oid in ("restart-1", 'quote"and\\slash', "restart-2"):
            self.assertEqual(count(self.s, oid), 1, oid)
        self.s.wait_processed()
        self.assertEqual(self.s.query("SELECT count(*) FROM orders WHERE uuid LIKE "
                                      "'restart-%'")[0][0], 2)

    def test_window_expires(self):
        self.s.stop()
        old = self.s
        self.s = Server(data=old.data, extra=["--dedupe-window", "1s"])
        self.s.tmp = old.tmp      # cleaned up by tearDown
        self.s.start()
        o = dict(GOOD, order_id="short")
        self.assertEqual(self.s.post_json("/orderitem", o)[0], 201)
        self.assertEqual(self.s.post_json("/orderitem", o)[0], 201)
        self.assertEqual(count(self.s, "short"), 1)
        time.sleep(1.3)
        self.assertEqual(self.s.post_json("/orderitem", o)[0], 201)
        self.assertEqual(count(self.s, "short"), 2)


if __name__ == "__main__":
    unittest.main()
