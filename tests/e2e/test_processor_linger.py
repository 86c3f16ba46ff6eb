"""The processor gathers small batches: under a steady stream of single
orders it commits at most once per linger interval (5 ms) instead of once
per handful of orders, each commit being a SQLite transaction whose fixed
cost dwarfed the orders in it (docs/architecture.md, Processor)."""

import re
import threading
import time
import unittest

from harness import Server, random_orders

LINGER_MS = 5


def commits(srv):
    status, body = srv.get("/metrics")
    assert status == 200
    m = re.search(rb"^salesflow_processor_commits_total (\d+)", body, re.M)
    return int(m.group(1))


class LingerTest(unittest.TestCase):
    def test_single_orders_are_committed_together(self):
        srv = Server().start()
        try:
            orders = random_orders(4000, 7)
            before = commits(srv)
            t0 = time.monotonic()
            errors = []

            def send(part):
                for o in part:
                    status, _ = srv.post_json("/orderitem", o)
                    if status != 201:
                        errors.append(status)

            threads = [threading.Thread(target=send, args=(orders[i::8],)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            srv.wait_processed(len(orders))
            elapsed_ms = (time.monotonic() - t0) * 1000
            self.assertEqual(errors, [])
            n = commits(srv) - before
            # one commit per linger interval at most, and a few more for the
            # batches that end it (a full one, the last)
            self.assertLessEqual(n, elapsed_ms / LINGER_MS + 20,
                                 "%d commits for %d orders in %.0f ms" %
                                 (n, len(orders), elapsed_ms))
            self.assertEqual(srv.api_sales()["order_count"], len(orders))
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
