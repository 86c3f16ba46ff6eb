"""The walking skeleton end to end: 10,000 known orders over HTTP → embedded
log → processor → SQLite → /api/sales, then a restart that changes nothing
and keeps accepting orders."""

import unittest

from harness import (STATES, Server, cents, expected_sales, post_many,
                     random_orders)


def dump(server):
    orders = server.query("SELECT uuid, customer_id, source, quantity, total_cents,"
                          " total, created_at, state FROM orders ORDER BY uuid")
    sales = server.query("SELECT source, state, total_sum_cents, total_sum_amount,"
                         " order_count, quantity FROM sales ORDER BY source, state")
    return orders, sales


class FlowTest(unittest.TestCase):
    def setUp(self):
        self.s = Server().start()

    def tearDown(self):
        self.s.cleanup()

    def check_against(self, accepted):
        """orders holds exactly `accepted` (order_id → order) and sales and
        /api/sales equal sums computed here."""
        s = self.s
        rows = s.query("SELECT uuid, customer_id, source, quantity, total_cents,"
                       " total, state FROM orders")
        self.assertEqual(len(rows), len(accepted))
        for uuid, cust, source, qty, tc, total, state in rows:
            o = accepted[uuid]
            self.assertEqual((cust, source, qty), (o["customer_id"], o["source"],
                                                   o["quantity"]))
            self.assertEqual(tc, qty * 30000)
            self.assertEqual(cents(total), qty * 30000)
            self.assertEqual(state, STATES[cust])
        want = expected_sales((o["source"], STATES[o["customer_id"]],
                               o["quantity"] * 30000, o["quantity"])
                              for o in accepted.values())
        got = {(src, st): [tc, n, q] for src, st, tc, amount, n, q in
               s.query("SELECT source, state, total_sum_cents, total_sum_amount,"
                       " order_count, quantity FROM sales")}
        self.assertEqual(got, want)
        for src, st, tc, amount in s.query("SELECT source, state, total_sum_cents,"
                                           " total_sum_amount FROM sales"):
            self.assertEqual(cents(amount), tc)
        api = s.api_sales()
        api_rows = {(r["source"], r["state"]): [cents(r["total_sum_amount"]),
                                                r["order_count"], r["quantity"]]
                    for r in api["rows"]}
        self.assertEqual(api_rows, want)
        self.assertEqual(cents(api["total_sum_amount"]),
                         sum(v[0] for v in want.values()))
        self.assertEqual(api["order_count"], len(accepted))

    def test_10000_orders_then_restart(self):
        orders = random_orders(10000, seed=42)
        results = post_many(self.s, orders)
        accepted = {}
        for order, status, body in results:
            self.assertEqual(status, 201, body)
            self.assertEqual(body["status"], "success")
            self.assertEqual(body["message"], "Stock entry created")
            self.assertEqual(len(body["order_id"]), 36)
            accepted[body["order_id"]] = order
        self.assertEqual(len(accepted), 10000, "order_ids must be unique")
        self.assertEqual(sum(len(v) for v in self.s.log_records().values()), 10000)
        self.s.wait_processed(10000)
        self.check_against(accepted)

        before = dump(self.s)
        self.assertEqual(self.s.stop(), 0)
        self.s.start()
        self.s.wait_processed(10000)
        self.assertEqual(dump(self.s), before, "a restart must change nothing")

        more = random_orders(500, seed=7)
        for order, status, body in post_many(self.s, more, threads=4):
            self.assertEqual(status, 201, body)
            accepted[body["order_id"]] = order
        self.s.wait_processed(10500)
        self.check_against(accepted)

    def test_money_is_exact(self):
        # 7 × 300.00 = 2100.00, and many small orders still sum exactly.
        status, body = self.s.post_json("/orderitem", {"customer_id": 3,
                                                       "source": "Dine In",
                                                       "quantity": 7})
        self.assertEqual(status, 201, body)
        self.s.wait_processed(1)
        self.assertEqual(self.s.query("SELECT total FROM orders"), [("2100.00",)])
        api = self.s.api_sales()
        self.assertEqual(api["rows"][0]["total_sum_amount"], "2100.00")
        self.assertEqual(api["total_sum_amount"], "2100.00")


class UnitPriceTest(unittest.TestCase):
    def test_unit_price_flag(self):
        s = Server(extra=["--unit-price", "0.10"]).start()
        try:
            res = post_many(s, [{"customer_id": 1, "source": "Takeaway",
                                 "quantity": 1}] * 1000, threads=4)
            self.assertTrue(all(r[1] == 201 for r in res))
            s.wait_processed(1000)
            api = s.api_sales()
            self.assertEqual(api["total_sum_amount"], "100.00")
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
