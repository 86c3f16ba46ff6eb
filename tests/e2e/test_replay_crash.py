"""`salesflow replay` killed with SIGKILL at random points (issue 17): the
rebuild is one transaction, so each kill leaves the tables exactly as they
were, and a replay that finishes gives the tables of a clean run — every
order once, the same aggregates, updated_at and positions.
SF_REPLAY_KILLS cycles (default 6; 20 for the soak).

And bad input during replay: a read-only data directory (a tmpfs remounted
read-only), a read-only sales.db (not as root), a full disk (a small
tmpfs), a damaged database and a file that is not one — a clear error
naming the file, the old tables untouched."""

import os
import random
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from harness import BIN, REPO, Server, ndjson, post_v1, random_orders

KILLS = int(os.environ.get("SF_REPLAY_KILLS", "6"))

TABLES = [
    "SELECT uuid, customer_id, source, quantity, total_cents, total, created_at, state"
    " FROM orders ORDER BY uuid",
    "SELECT source, state, total_sum_cents, total_sum_amount, order_count, quantity,"
    " updated_at FROM sales ORDER BY source, state",
    "SELECT minute, source, state, total_cents, order_count, quantity FROM sales_minute"
    " ORDER BY 1, 2, 3",
    "SELECT * FROM sales_hour ORDER BY 1, 2, 3",
    "SELECT * FROM sales_day ORDER BY 1, 2, 3",
    "SELECT * FROM sales_customer_hour ORDER BY 1, 2, 3",
    "SELECT * FROM sales_customer_day ORDER BY 1, 2, 3",
    "SELECT topic, partition, next_offset FROM salesflow_offsets ORDER BY 1, 2",
]


def snapshot(s):
    return [s.query(q) for q in TABLES]


class ReplayCrashTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One store of 60,000 orders in 4 partitions, made by the live run.
        cls.s = Server(extra=["--partitions", "4"])
        s = cls.s.start()
        rows = random_orders(60000, seed=17)
        for k in range(0, len(rows), 2000):
            st, body = post_v1(s, ndjson(rows[k:k + 2000]), ctype="application/x-ndjson")
            assert st == 201, body
        s.wait_processed(60000)
        s.stop()
        cls.clean = snapshot(s)

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def replay(self):
        return subprocess.Popen([BIN, "replay", "--data", self.s.data], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_kill_9_during_replay(self):
        t0 = time.time()
        p = self.replay()
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err)
        took = time.time() - t0
        self.assertEqual(snapshot(self.s), self.clean)
        rnd = random.Random(5)
        killed = 0
        for _ in range(KILLS):
            p = self.replay()
            time.sleep(rnd.uniform(0.0, took))
            p.kill()
            p.communicate()
            killed += p.returncode == -9
            self.assertEqual(snapshot(self.s), self.clean)
        self.assertGreater(killed, 0)
        p = self.replay()
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("60000 orders", out)
        self.assertEqual(snapshot(self.s), self.clean)
        # The server starts on the rebuilt store and has nothing to redo.
        self.s.start()
        self.assertEqual(self.s.order_count(), 60000)
        self.s.stop()
        self.assertEqual(snapshot(self.s), self.clean)

    def test_read_only_directory(self):
        # A copy of the data directory on a tmpfs remounted read-only (root
        # writes through a chmod, not through a read-only mount).
        tmp = tempfile.mkdtemp(prefix="sf-e2e-replay-ro-")
        mnt = os.path.join(tmp, "mnt")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(tmp)
            self.skipTest("cannot mount a tmpfs here: " + r.stderr.strip())
        try:
            data = os.path.join(mnt, "data")
            shutil.copytree(self.s.data, data)
            subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
            r = subprocess.run([BIN, "replay", "--data", data], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(data, r.stderr)
            self.assertRegex(r.stderr, "[Rr]ead-only|readonly")
            copy = Server(data=data)
            self.assertEqual(snapshot(copy), self.clean)
        finally:
            subprocess.run(["umount", mnt])
            shutil.rmtree(tmp, ignore_errors=True)

    def test_read_only_database(self):
        db = self.s.db_path
        os.chmod(db, stat.S_IRUSR)
        try:
            if os.access(db, os.W_OK):
                self.skipTest("root writes into read-only files")
            r = subprocess.run([BIN, "replay", "--data", self.s.data], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
        finally:
            os.chmod(db, stat.S_IRUSR | stat.S_IWUSR)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("sales.db", r.stderr)
        self.assertEqual(snapshot(self.s), self.clean)

    def test_full_disk(self):
        # The data directory on a tmpfs with room for what it holds and 512
        # KiB more: the rebuild's write-ahead log does not fit.
        tmp = tempfile.mkdtemp(prefix="sf-e2e-replay-full-")
        mnt = os.path.join(tmp, "mnt")
        os.mkdir(mnt)
        size = sum(os.path.getsize(os.path.join(dp, f))
                   for dp, _, fs in os.walk(self.s.data) for f in fs)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk" % (size // 1024 + 512),
                            "tmpfs", mnt], capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(tmp)
            self.skipTest("cannot mount a small tmpfs here: " + r.stderr.strip())
        try:
            data = os.path.join(mnt, "data")
            shutil.copytree(self.s.data, data)
            r = subprocess.run([BIN, "replay", "--data", data], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(os.path.join(data, "sales.db"), r.stderr)
            self.assertRegex(r.stderr, "full")
            copy = Server(data=data)
            self.assertEqual(snapshot(copy), self.clean)
        finally:
            subprocess.run(["umount", mnt])
            shutil.rmtree(tmp, ignore_errors=True)

    def test_corrupt_database(self):
        tmp = tempfile.mkdtemp(prefix="sf-e2e-corrupt-")
        try:
            data = os.path.join(tmp, "data")
            shutil.copytree(self.s.data, data)
            db = os.path.join(data, "sales.db")
            with open(db, "r+b") as f:
                f.seek(4096 * 3)
                f.write(os.urandom(4096 * 4))
            with open(db, "rb") as f:
                damaged = f.read()
            r = subprocess.run([BIN, "replay", "--data", data], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(db, r.stderr)
            self.assertRegex(r.stderr, "malformed|not a database|corrupt")
            with open(db, "rb") as f:
                self.assertEqual(f.read(), damaged)
            # Not a database at all.
            with open(db, "wb") as f:
                f.write(b"this is not a database" * 1000)
            r = subprocess.run([BIN, "replay", "--data", data], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(db, r.stderr)
            self.assertIn("not a database", r.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
