"""kill -9 while `salesflow gen` is posting, restart, and check that every
order that got a 201 is stored exactly once and sales and the customer
rollups equal the sums over orders. 4 cycles on the same data directory (SF_CRASH_CYCLES=20 for the soak);
then the tables equal what a clean replay of the log makes."""

import os
import subprocess
import time
import unittest

from harness import BIN, REPO, Server

CYCLES = int(os.environ.get("SF_CRASH_CYCLES", "4"))
CLEAN = [
    "SELECT uuid, customer_id, source, quantity, total, created_at, state FROM orders"
    " ORDER BY uuid",
    "SELECT source, state, total_sum_amount, order_count, quantity, updated_at FROM sales"
    " ORDER BY 1, 2",
    "SELECT * FROM sales_minute ORDER BY 1, 2, 3",
    "SELECT * FROM sales_hour ORDER BY 1, 2, 3",
    "SELECT * FROM sales_day ORDER BY 1, 2, 3",
    "SELECT * FROM sales_customer_hour ORDER BY 1, 2, 3",
    "SELECT * FROM sales_customer_day ORDER BY 1, 2, 3",
    "SELECT * FROM salesflow_offsets ORDER BY 1, 2",
]


def assert_customer_rollups(tc, s):
    """sales_customer_hour and sales_customer_day equal the sums over orders."""
    for table, key in (("sales_customer_hour", "substr(created_at, 1, 13) || ':00'"),
                       ("sales_customer_day", "substr(created_at, 1, 10) || 'T00:00'")):
        want = s.query("SELECT %s, customer_id, source, sum(total_cents), count(*),"
                       " sum(quantity) FROM orders GROUP BY 1, 2, 3 ORDER BY 1, 2, 3" % key)
        got = s.query("SELECT * FROM %s ORDER BY 1, 2, 3" % table)
        tc.assertEqual(got, want, table)


def check_consistent(tc, s, acked):
    s.wait_processed()  # every record in the log becomes exactly one row
    uuids = [u for (u,) in s.query("SELECT uuid FROM orders")]
    tc.assertEqual(len(uuids), len(set(uuids)))
    missing = acked - set(uuids)
    tc.assertFalse(missing, "%d acknowledged orders are missing, e.g. %s" %
                   (len(missing), sorted(missing)[:3]))
    agg = s.query("SELECT o.source, o.state, sum(o.total_cents), count(*),"
                  " sum(o.quantity) FROM orders o GROUP BY o.source, o.state"
                  " ORDER BY 1, 2")
    sales = s.query("SELECT source, state, total_sum_cents, order_count, quantity"
                    " FROM sales ORDER BY 1, 2")
    tc.assertEqual(sales, agg)
    assert_customer_rollups(tc, s)


class CrashTest(unittest.TestCase):
    def test_kill_9_during_gen(self):
        s = Server()
        acked_path = os.path.join(s.tmp, "acked.txt")
        try:
            for cycle in range(CYCLES):
                s.start()
                gen = subprocess.Popen(
                    [BIN, "gen", "--url", s.url, "--count", "200000",
                     "--concurrency", "16", "--seed", str(cycle),
                     "--acked", acked_path],
                    cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.4 + 0.15 * (cycle % 5))
                s.kill()
                gen.wait(timeout=120)
                with open(acked_path) as f:
                    acked = {line.strip() for line in f if line.strip()}
                self.assertGreater(len(acked), 100, "gen got too few 201s to test")
                s.start()
                check_consistent(self, s, acked)
                s.stop()
            # The tables after all the kills equal a clean replay of the log.
            before = [s.query(q) for q in CLEAN]
            r = subprocess.run([BIN, "replay", "--data", s.data], cwd=REPO,
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([s.query(q) for q in CLEAN], before)
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
