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
import json
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import (BIN, REPO, Server, free_port, ndjson, post_v1, random_orders,
                     wait_until)

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

    def scratch(self, prefix):
        """A temporary directory, removed after the test."""
        tmp = tempfile.mkdtemp(prefix=prefix)
        self.addCleanup(shutil.rmtree, tmp, True)
        return tmp

    def replay(self, db=None):
        store = ["--store", "sqlite:" + db] if db else []
        return subprocess.Popen([BIN, "replay", "--data", self.s.data] + store, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_kill_9_during_replay(self):
        # Timed on the faster of three replays, the kills within its first
        # 60 %: the first replay also takes the live run's WAL in (twice as
        # long), and on a busy machine one replay can take twice another's
        # time; kills timed on a slow one all came after the end of the
        # later, faster ones (none killed).
        took = None
        for _ in range(3):
            t0 = time.time()
            p = self.replay()
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
            took = min(took or 1e9, time.time() - t0)
            self.assertEqual(snapshot(self.s), self.clean)
        rnd = random.Random(5)
        killed = 0
        for _ in range(KILLS):
            p = self.replay()
            time.sleep(rnd.uniform(0.0, 0.6 * took))
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

    def watch_replay(self, reader=None, db=None):
        """Run a replay (into db, default the store's sales.db) to its end,
        looking at the files beside the database every few ms; with a
        reader (an open connection), count the orders through it meanwhile.
        The largest size seen of each (-journal, -wal), and the counts."""
        seen, counts = {"-journal": 0, "-wal": 0}, []
        p = self.replay(db)
        db = db or self.s.db_path
        while p.poll() is None:
            for ext in ("-journal", "-wal"):
                try:
                    seen[ext] = max(seen[ext], os.path.getsize(db + ext))
                except OSError:
                    pass
            if reader:
                counts.append(reader.execute("SELECT count(*) FROM orders_data").fetchall()[0][0])
            time.sleep(0.002)
        out, err = p.communicate()
        self.assertEqual(p.returncode, 0, err)
        return seen, counts

    @staticmethod
    def tables(db):
        con = sqlite3.connect(db, timeout=30)     # read-write: rolls a journal back
        try:
            return [con.execute(q).fetchall() for q in TABLES]
        finally:
            con.close()

    def test_rebuild_into_a_new_database_writes_each_page_once(self):
        # A database without orders, nobody else holding it open: the
        # rebuild goes through a rollback journal (its pages go into the
        # file once, not through the WAL and a checkpoint), and the
        # database is in WAL mode after.
        tmp = self.scratch("sf-e2e-replay-new-")
        db = os.path.join(tmp, "new.db")
        seen, _ = self.watch_replay(db=db)
        # The open writes the empty schema into the WAL (some KiB); the
        # 60,000 orders (megabytes) never go there.
        self.assertGreater(seen["-journal"], 0)
        self.assertLess(seen["-wal"], 256 * 1024, seen)
        self.assertGreater(os.path.getsize(db), 2 * 1024 * 1024)
        self.assertEqual(self.tables(db), self.clean)
        con = sqlite3.connect(db)
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchall(), [("wal",)])
        con.close()
        self.assertFalse(os.path.exists(db + "-journal"))

    def test_kill_9_during_a_rebuild_into_a_new_database(self):
        # Killed in the rollback-journal rebuild: the next read-write open
        # rolls it back to the empty tables (never part of them); a replay
        # then rebuilds them. Each kill comes once the rebuild is seen under
        # way (its journal there, the file past the empty schema), a few ms
        # later at random: kills timed on an earlier replay all missed the
        # rebuild when that one had run slow (CI, none rolled back).
        tmp = self.scratch("sf-e2e-replay-new-kill-")
        db = os.path.join(tmp, "new.db")
        self.watch_replay(db=db)
        rnd = random.Random(9)
        rolled_back = 0
        for _ in range(KILLS):
            for ext in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(db + ext):
                    os.unlink(db + ext)
            p = self.replay(db)
            while p.poll() is None and not (os.path.exists(db + "-journal") and
                                            os.path.getsize(db) >= 40960):
                time.sleep(0.002)
            time.sleep(rnd.uniform(0.0, 0.02))
            p.kill()
            p.communicate()
            if not os.path.exists(db):
                continue
            con = sqlite3.connect(db, timeout=30)
            made = con.execute("SELECT count(*) FROM sqlite_master"
                               " WHERE name = 'sales_customer_day'").fetchall() == [(1,)]
            con.close()
            if not made:        # killed before the open made every table
                continue
            t = self.tables(db)
            if t[0]:
                self.assertEqual(t, self.clean)     # it had finished
            else:
                self.assertEqual(t[1:7], [[]] * 6)  # all of it rolled back
                rolled_back += p.returncode == -9
        self.assertGreater(rolled_back, 0)
        self.watch_replay(db=db)
        self.assertEqual(self.tables(db), self.clean)

    def test_serve_started_during_a_rebuild_waits_for_it(self):
        # While a rebuild holds the database through its rollback journal, a
        # `serve` that opens it waits (going into WAL mode needs the file to
        # itself), then serves the rebuilt tables.
        tmp = self.scratch("sf-e2e-replay-serve-")
        db = os.path.join(tmp, "new.db")
        p = self.replay(db)
        self.addCleanup(self.stop, p)           # also when stopped by SIGSTOP
        wait_until(lambda: os.path.exists(db + "-journal") or p.poll() is not None, 60,
                   "the rebuild's journal")
        p.send_signal(signal.SIGSTOP)           # hold the rebuild where it is
        self.assertTrue(os.path.exists(db + "-journal"))
        port = free_port()
        with open(os.path.join(tmp, "serve.stderr"), "w") as log:
            serve = subprocess.Popen([BIN, "serve", "--store", "sqlite:" + db, "--listen",
                                      "127.0.0.1:%d" % port], cwd=REPO, stdout=log, stderr=log)
        self.addCleanup(self.stop, serve)
        time.sleep(1.5)
        with open(os.path.join(tmp, "serve.stderr")) as f:
            self.assertIsNone(serve.poll(), f.read())
        p.send_signal(signal.SIGCONT)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err)

        def sales():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/api/sales" % port,
                                            timeout=5) as r:
                    return json.load(r)
            except OSError:
                return None
        wait_until(lambda: sales() is not None, 30, "serve answering")
        self.assertEqual(sum(row["order_count"] for row in sales()["rows"]), 60000)
        self.assertIsNone(serve.poll())

    def test_reader_arriving_mid_rebuild_cannot_block_its_commit(self):
        # A rollback-journal rebuild holds the database exclusively from its
        # start: a reader that opens it meanwhile is told it is locked (the
        # database had no orders to show), rather than taking a read lock
        # that would hold up the commit until the rebuild gave up. The
        # replay is stopped every few ms and a reader tries then: it gets
        # "locked", or, once the rebuild committed, every order.
        tmp = self.scratch("sf-e2e-replay-late-reader-")
        db = os.path.join(tmp, "new.db")
        p = self.replay(db)
        self.addCleanup(self.stop, p)
        seen = []      # (the rebuild's journal was there, what the reader got)
        while p.poll() is None:
            time.sleep(0.01)
            p.send_signal(signal.SIGSTOP)
            mid = os.path.exists(db + "-journal") and os.path.getsize(db) >= 40960
            try:        # (before the open made the file and tables: errors too)
                con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=0.05,
                                      isolation_level=None)
                try:
                    con.execute("BEGIN")
                    seen.append((mid, con.execute("SELECT count(*) FROM orders_data")
                                 .fetchall()[0][0]))
                finally:
                    con.close()
            except sqlite3.OperationalError as e:
                seen.append((mid, str(e)))
            finally:
                p.send_signal(signal.SIGCONT)
        self.assertEqual(p.returncode, 0, p.stderr.read())
        during = [got for mid, got in seen if mid]
        self.assertGreater(len(during), 2, seen)
        self.assertEqual(set(during), {"database is locked"}, seen)
        self.assertEqual(self.tables(db), self.clean)

    def test_serve_on_a_database_locked_too_long_says_why(self):
        # A client holding the file exclusively past the 10 s salesflow
        # waits: serve stops, saying what holds it and what to do.
        tmp = self.scratch("sf-e2e-locked-")
        db = os.path.join(tmp, "held.db")
        self.watch_replay(db=db)
        con = sqlite3.connect(db, isolation_level=None)
        self.addCleanup(con.close)
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("BEGIN EXCLUSIVE")
        r = subprocess.run([BIN, "serve", "--store", "sqlite:" + db, "--listen",
                            "127.0.0.1:%d" % free_port()], cwd=REPO, capture_output=True,
                           text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(db, r.stderr)
        self.assertIn("still locked by another process after 10 s", r.stderr)
        self.assertIn("start again when it is done", r.stderr)

    @staticmethod
    def stop(proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()

    def test_rebuild_of_a_store_with_orders_stays_in_wal_mode(self):
        # A killed rebuild's journal would keep read-only readers out until
        # a read-write open; a database with orders keeps its WAL.
        seen, _ = self.watch_replay()
        self.assertEqual(seen["-journal"], 0)
        self.assertGreater(seen["-wal"], 1024 * 1024)
        self.assertEqual(snapshot(self.s), self.clean)

    def test_rebuild_beside_a_reader_stays_in_wal_mode(self):
        # A reader holding the database open (a `serve`, a script): the
        # rebuild stays in WAL mode, and the reader reads the old tables
        # until it commits.
        tmp = self.scratch("sf-e2e-replay-reader-")
        db = os.path.join(tmp, "new.db")
        self.watch_replay(db=db)
        con = sqlite3.connect(db, timeout=30)
        try:
            self.assertEqual(con.execute("SELECT count(*) FROM orders_data").fetchall(),
                             [(60000,)])
            seen, counts = self.watch_replay(con, db=db)
        finally:
            con.close()
        self.assertEqual(seen["-journal"], 0)
        self.assertGreater(len(counts), 3)
        self.assertEqual(set(counts), {60000})
        self.assertEqual(self.tables(db), self.clean)

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

    def test_damaged_log_mid_replay(self):
        # A batch in the middle of the log that no longer matches its
        # checksum: the replay (whose reader runs ahead of the store) stops
        # with the file and what to do, and the old tables stay.
        tmp = self.scratch("sf-e2e-replay-log-")
        data = os.path.join(tmp, "data")
        shutil.copytree(self.s.data, data)
        logs = sorted((os.path.getsize(os.path.join(dp, f)), os.path.join(dp, f))
                      for dp, _, fs in os.walk(os.path.join(data, "log"))
                      for f in fs if f.endswith(".log"))
        size, seg = logs[-1]
        with open(seg, "r+b") as f:
            f.seek(size * 2 // 3)
            b = f.read(1)
            f.seek(size * 2 // 3)
            f.write(bytes([b[0] ^ 0xFF]))
        r = subprocess.run([BIN, "replay", "--data", data], cwd=REPO,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(seg, r.stderr)
        self.assertIn("checksum mismatch", r.stderr)
        self.assertIn("log repair", r.stderr)
        self.assertEqual(snapshot(Server(data=data)), self.clean)

    def test_corrupt_database(self):
        tmp = self.scratch("sf-e2e-corrupt-")
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


if __name__ == "__main__":
    unittest.main()
