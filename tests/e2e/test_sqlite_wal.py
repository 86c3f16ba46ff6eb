"""The SQLite store's write-ahead log stays bounded while readers never stop.

SQLite restarts its WAL from the beginning only at a moment when no reader
uses it. Readers of sales.db that overlap without a gap (dashboards, a
script polling the file, another `serve`) never leave such a moment, so its
automatic (passive) checkpoints copy pages into the database but the WAL
file only grows: a soak of 5 minutes at 5,000 orders/s left a 5 GB
sales.db-wal beside a 70 MB database, and the -shm mapping grew the
process's memory with it. The store resets the WAL itself once it passes
its bound (docs/architecture.md, Store).
"""

import os
import sqlite3
import threading
import time
import unittest

from harness import Server, ndjson, post_v1, random_orders

BOUND = 64 << 20        # the store's 16 MiB, plus what a loaded machine adds between
                        # two tries; unbounded, it reaches ~130 MB here


class OverlappingReaders:
    """Two connections taking turns so that one read transaction is always
    open: each begins before the other ends."""

    def __init__(self, db):
        self.db = db
        self.stop = threading.Event()
        self.reads = 0
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        cons = [sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=30,
                                isolation_level=None) for _ in range(2)]
        cons[0].execute("BEGIN")
        cons[0].execute("SELECT count(*) FROM sales").fetchall()
        i = 0
        while not self.stop.is_set():
            nxt = cons[(i + 1) % 2]
            nxt.execute("BEGIN")
            nxt.execute("SELECT count(*) FROM sales").fetchall()
            time.sleep(0.005)
            cons[i % 2].execute("COMMIT")
            self.reads += 1
            i += 1
        for c in cons:
            if c.in_transaction:
                c.execute("COMMIT")
            c.close()


class WalBoundTest(unittest.TestCase):
    def test_wal_stays_bounded_under_overlapping_readers(self):
        srv = Server().start()
        readers = None
        try:
            status, _ = post_v1(srv, ndjson(random_orders(10, 1)), "application/x-ndjson")
            self.assertEqual(status, 201)
            srv.wait_processed(10)
            readers = OverlappingReaders(srv.db_path)
            readers.t.start()
            wal = srv.db_path + "-wal"
            biggest, sent = 0, 10
            for k in range(300):    # 300,000 orders, ~420 bytes of WAL each
                status, _ = post_v1(srv, ndjson(random_orders(1000, 100 + k)),
                                    "application/x-ndjson")
                self.assertEqual(status, 201)
                sent += 1000
                if os.path.exists(wal):
                    biggest = max(biggest, os.path.getsize(wal))
            srv.wait_processed(sent, timeout=120)
            biggest = max(biggest, os.path.getsize(wal) if os.path.exists(wal) else 0)
            self.assertGreater(readers.reads, 100, "the readers did not run")
            self.assertLess(biggest, BOUND, "sales.db-wal grew to %d bytes" % biggest)
            # every order is there once, the readers notwithstanding
            self.assertEqual(srv.order_count(), sent)
            self.assertEqual(srv.api_sales()["order_count"], sent)
        finally:
            if readers:
                readers.stop.set()
                readers.t.join(10)
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
