"""GET / serves the dashboard page with the five charts, its assets come
from the binary with the right content types, and /api/sales answers."""

import re
import unittest

from harness import Server


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def test_page_has_the_five_charts(self):
        status, body, headers = self.s.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        page = body.decode()
        for el in ("total-sales", "chart-source-pie", "chart-state-stacked",
                   "table-top", "chart-pair-bar"):
            self.assertIn('id="%s"' % el, page)
        for asset in ("/app.js", "/style.css", "/echarts.min.js"):
            self.assertIn(asset, page)

    def test_assets(self):
        for path, ctype, marker in (("/app.js", "text/javascript", b"/api/sales"),
                                    ("/style.css", "text/css", b"{"),
                                    ("/echarts.min.js", "text/javascript", b"echarts")):
            status, body, headers = self.s.request("GET", path)
            self.assertEqual(status, 200, path)
            self.assertTrue(headers["Content-Type"].startswith(ctype), path)
            self.assertIn(marker, body, path)

    def test_explore_page_and_shared_script(self):
        # /explore is a page like / (same CSP, not frameable), linked from
        # the dashboard; both load the shared /query.js.
        status, body, headers = self.s.request("GET", "/explore")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn("frame-ancestors 'none'", headers.get("Content-Security-Policy", ""))
        self.assertEqual(headers.get("X-Frame-Options"), "DENY")
        for asset in ("/explore.js", "/query.js", "/style.css", "/echarts.min.js"):
            self.assertIn(asset, body.decode())
        _, page, _ = self.s.request("GET", "/")
        self.assertIn('href="/explore"', page.decode())
        self.assertIn("/query.js", page.decode())
        for path, marker in (("/explore.js", b"/api/query"), ("/query.js", b"salesflowQuery")):
            status, body, headers = self.s.request("GET", path)
            self.assertEqual(status, 200, path)
            self.assertTrue(headers["Content-Type"].startswith("text/javascript"), path)
            self.assertIn(marker, body, path)

    def test_refresh_interval_at_most_10s(self):
        _, js, _ = self.s.request("GET", "/app.js")
        m = re.search(r"POLL_MS\s*=\s*([0-9_]+)", js.decode())
        self.assertIsNotNone(m, "app.js must define POLL_MS")
        self.assertLessEqual(int(m.group(1).replace("_", "")), 10000)

    def test_api_sales_empty_then_filled(self):
        api = self.s.api_sales()
        self.assertIn("rows", api)
        status, body = self.s.post_json("/orderitem", {"customer_id": 13,
                                                       "source": "Home Delivery",
                                                       "quantity": 2})
        self.assertEqual(status, 201, body)
        self.s.wait_processed()
        api = self.s.api_sales()
        row = [r for r in api["rows"] if r["state"] == "KY"][0]
        self.assertEqual(row["source"], "Home Delivery")
        self.assertEqual(row["total_sum_amount"], "600.00")


if __name__ == "__main__":
    unittest.main()
