"""`salesflow replay` never empties a store of orders it cannot refill
(issue 25, operator review items 2 and 3): it refuses (exit 1, numbers,
--force to override) when the store holds positions of another log than the
one replayed — the README's migration (embedded log, then Kafka, into one
store), or a log made anew while the store was kept, even when the new log
holds as many records (client retries past the dedupe window)."""

import os
import shutil
import tempfile
import unittest

from harness import Server, check_acked_stored, post_many, random_orders, run_cli
from kafkahelp import Ingest, MockCluster, Process, have_kafka_tools, wait_count

OK, WHY = have_kafka_tools()


def acked(results, tc):
    out = []
    for _o, st, b in results:
        tc.assertEqual(st, 201, b)
        out.append(b["order_id"])
    return out


class ReplayGuardTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sf-e2e-replay-guard-")
        self.cleanups = []

    def tearDown(self):
        for c in reversed(self.cleanups):
            c()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, **kw):
        s = Server(**kw)
        self.cleanups.append(s.cleanup)
        return s.start()

    def counts(self, s):
        return s.query("SELECT count(*), sum(total_cents) FROM orders")[0]

    def test_log_made_anew_with_retried_orders_is_not_replayed(self):
        # Review item 3: the log dir is lost, the store kept; clients retry
        # their orders (same order_id) into the new log, which then holds
        # as many records as the store has orders.
        s = self.server(extra=["--partitions", "2"])
        orders = [dict(o, order_id="retry-%d" % i)
                  for i, o in enumerate(random_orders(600, seed=41))]
        ids = set(acked(post_many(s, orders), self))
        ids |= set(acked(post_many(s, random_orders(400, seed=42)), self))
        check_acked_stored(self, s, ids)
        s.stop()
        shutil.rmtree(os.path.join(s.data, "log"))
        s.extra = ["--partitions", "2", "--dedupe-max", "1"]
        s.start()
        acked(post_many(s, orders), self)          # the retries, each twice:
        acked(post_many(s, orders), self)          # past the dedupe window
        self.assertGreaterEqual(sum(len(v) for v in s.log_records().values()), 1000)
        check_acked_stored(self, s, ids)
        s.stop()
        before = self.counts(s)
        self.assertEqual(before[0], 1000)
        r = run_cli("replay", "--data", s.data)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("another log", r.stderr)
        self.assertIn("the store has 1000 orders", r.stderr)
        self.assertIn("--force", r.stderr)
        self.assertEqual(self.counts(s), before)
        check_acked_stored(self, s, ids)
        r = run_cli("replay", "--data", s.data, "--force")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(s.query("SELECT count(*) FROM orders")[0][0], 600)

    @unittest.skipUnless(OK, WHY)
    def test_embedded_log_then_kafka_in_one_store_is_not_replayed(self):
        # Review item 2, the README's migration on one SQLite store.
        s = self.server(extra=["--partitions", "2"])
        ids = set(acked(post_many(s, random_orders(500, seed=43)), self))
        check_acked_stored(self, s, ids)
        s.stop()
        db = s.db_path
        m = MockCluster()
        self.cleanups.append(m.stop)
        ing = Ingest(m.uri(), data=os.path.join(self.tmp, "ing"))
        self.cleanups.append(ing.kill)
        ing.start()
        ids |= set(acked(post_many(ing, random_orders(700, seed=44)), self))
        p = Process(m.uri(), "sqlite:" + db, name="p", tmp=self.tmp)
        self.cleanups.append(p.kill)
        p.start()
        wait_count(db, 1200, procs=[p])
        p.stop()
        check_acked_stored(self, s, ids)
        before = self.counts(s)
        for args in (["--broker", m.uri()], []):
            r = run_cli("replay", "--data", s.data, "--store", "sqlite:" + db, *args)
            self.assertEqual(r.returncode, 1, (args, r.stdout + r.stderr))
            self.assertIn("another log", r.stderr)
            self.assertIn("the store has 1200 orders", r.stderr)
            self.assertIn("--force", r.stderr)
            self.assertEqual(self.counts(s), before)
        check_acked_stored(self, s, ids)
        r = run_cli("replay", "--data", s.data, "--store", "sqlite:" + db,
                    "--broker", m.uri(), "--force")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(s.query("SELECT count(*) FROM orders")[0][0], 700)
        ing.stop()


if __name__ == "__main__":
    unittest.main()
