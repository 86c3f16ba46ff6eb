"""The embedded log from the outside: replay reproduces the live tables,
log stat/tail/dump/repair, recovery from a torn tail, refusing to start on
damage, retention, fsync modes, and a full disk."""

import http.client
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import (BIN, REPO, Server, ndjson, post_many, post_v1, random_orders,
                     run_cli)
from kafkahelp import Ingest


def dump_tables(s):
    orders = s.query("SELECT uuid, customer_id, source, quantity, total, created_at,"
                     " state FROM orders ORDER BY uuid")
    sales = s.query("SELECT source, state, total_sum_amount, order_count, quantity,"
                    " updated_at FROM sales ORDER BY source, state")
    minute = s.query("SELECT * FROM sales_minute ORDER BY minute, source, state")
    return orders, sales, minute


def segments(data, part=0):
    d = os.path.join(data, "log", "Order-%d" % part)
    return sorted(f for f in os.listdir(d) if f.endswith(".log"))


class LogTest(unittest.TestCase):
    def setUp(self):
        self.s = None

    def tearDown(self):
        if self.s:
            self.s.cleanup()

    def start(self, *extra):
        self.s = Server(extra=list(extra)).start()
        return self.s

    def test_replay_equals_live(self):
        s = self.start("--segment-bytes", "64K")
        for o, st, b in post_many(s, random_orders(3000, seed=3)):
            self.assertEqual(st, 201, b)
        s.wait_processed(3000)
        live = dump_tables(s)
        s.stop()
        self.assertGreater(len(segments(s.data)), 1, "segments should have rolled")
        r = run_cli("replay", "--data", s.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("replayed 3000 records", r.stdout)
        self.assertIn("100%", r.stderr)
        self.assertEqual(dump_tables(s), live)
        # Replay into a fresh SQLite file gives the same tables too.
        other = os.path.join(s.tmp, "other.db")
        r = run_cli("replay", "--data", s.data, "--store", "sqlite:" + other)
        self.assertEqual(r.returncode, 0, r.stderr)
        s2 = Server(data=s.data)
        s2.data_db = other
        import sqlite3
        con = sqlite3.connect(other)
        self.assertEqual(con.execute("SELECT uuid, customer_id, source, quantity, total,"
                                     " created_at, state FROM orders ORDER BY uuid")
                         .fetchall(), live[0])
        con.close()

    def test_interrupted_replay_keeps_the_old_tables(self):
        # Replay rebuilds in one transaction: killed half-way, it leaves the
        # serving tables exactly as they were (and the next replay or run
        # carries on from them), never emptied or half-filled.
        s = self.start()
        for o, st, b in post_many(s, random_orders(500, seed=5)):
            self.assertEqual(st, 201, b)
        s.wait_processed(500)
        before = dump_tables(s)
        s.stop()
        # More orders in the log that no processor takes: several of
        # replay's 50,000-record batches.
        ing = Ingest("file:" + os.path.join(s.data, "log"), data=s.data).start()
        try:
            body = ndjson(random_orders(1000, seed=6))
            for _ in range(300):
                st, reply = post_v1(ing, body, "application/x-ndjson")
                self.assertEqual(st, 201, reply)
        finally:
            ing.stop()
        # On a terminal replay redraws its progress bar after every batch:
        # killed once two batches are through (committed, before), nothing
        # of it may show.
        master, slave = pty.openpty()
        p = subprocess.Popen([BIN, "replay", "--data", s.data], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        seen = b""
        try:
            while len(re.findall(rb"\] +\d+% [1-9]\d*/300500 records", seen)) < 2:
                chunk = os.read(master, 4096)
                self.assertTrue(chunk, "replay ended before two batches: %r" % seen)
                seen += chunk
            self.assertNotIn(b"100%", seen)
        finally:
            p.kill()
            p.wait()
            os.close(master)
        self.assertEqual(dump_tables(s), before)
        # Another replay then rebuilds everything.
        r = run_cli("replay", "--data", s.data, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("replayed 300500 records", r.stdout)
        self.assertEqual(s.order_count(), 300500)

    def test_new_log_with_old_store_reads_from_the_start(self):
        # The store outlives the log (here: a store outside DATA and the log
        # made anew). The new log has a new identity, so the old log's
        # positions do not apply: starting there would skip the new orders;
        # they must be read from offset 0.
        tmp = tempfile.mkdtemp(prefix="sf-e2e-store-")
        self.addCleanup(shutil.rmtree, tmp, True)
        db = os.path.join(tmp, "kept.db")
        s = self.start("--store", "sqlite:" + db)
        s.db_path = db
        first = random_orders(400, seed=8)
        for o, st, b in post_many(s, first):
            self.assertEqual(st, 201, b)
        s.wait_processed(400)
        s.stop()
        shutil.rmtree(os.path.join(s.data, "log"))
        s.start()
        second = random_orders(60, seed=9)
        for o, st, b in post_many(s, second):
            self.assertEqual(st, 201, b)
        s.wait_processed(460, timeout=20)
        total = s.query("SELECT sum(total_cents) FROM orders")[0][0]
        self.assertEqual(s.query("SELECT sum(total_sum_cents) FROM sales")[0][0], total)
        # The new log's positions are stored under its own identity.
        with open(os.path.join(s.data, "log", "meta")) as f:
            key = "Order@" + re.search(r"^id (log-[0-9a-f]{32})$", f.read(), re.M).group(1)
        positions = dict(s.query("SELECT partition, next_offset FROM salesflow_offsets"
                                 " WHERE topic = ?", (key,)))
        ends = {p: len(v) for p, v in s.log_records().items()}
        self.assertEqual(sum(ends.values()), 60)
        for p, n in ends.items():
            self.assertEqual(positions.get(int(p)), n)

    def test_replay_refuses_while_server_runs(self):
        s = self.start()
        r = run_cli("replay", "--data", s.data)
        self.assertEqual(r.returncode, 1)
        self.assertIn("another salesflow uses this log", r.stderr)

    def test_stat_tail_dump(self):
        s = self.start("--partitions", "2")
        for o, st, b in post_many(s, random_orders(50, seed=5), threads=2):
            self.assertEqual(st, 201, b)
        s.wait_processed(50)
        r = run_cli("log", "stat", "--data", s.data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 partitions", r.stdout)
        self.assertIn("total: 50 records", r.stdout)
        self.assertIn("0 not yet processed", r.stdout)
        r = run_cli("log", "dump", "--data", s.data)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual(len(lines), 50)
        ids = {l["value"]["order_id"] for l in lines}
        self.assertEqual(ids, {u for (u,) in s.query("SELECT uuid FROM orders")})
        r = run_cli("log", "dump", "--data", s.data, "--partition", "1", "--from", "3")
        offs = [json.loads(l)["offset"] for l in r.stdout.splitlines()]
        self.assertTrue(offs and offs[0] == 3 and offs == list(range(3, 3 + len(offs))))
        r = run_cli("log", "tail", "--data", s.data, "--lines", "2")
        self.assertEqual(len(r.stdout.splitlines()), 4)
        r = run_cli("log", "nonsense", "--data", s.data)
        self.assertEqual(r.returncode, 2)

    def test_tail_follow_sees_new_records(self):
        s = self.start("--partitions", "1")
        p = subprocess.Popen([os.environ.get("SALESFLOW_BIN", "build/salesflow"), "log",
                              "tail", "--follow", "--data", s.data],
                             stdout=subprocess.PIPE, text=True)
        try:
            st, body = s.post_json("/orderitem", {"customer_id": 1, "source": "Takeaway",
                                                  "quantity": 9})
            self.assertEqual(st, 201)
            line = p.stdout.readline()
            self.assertEqual(json.loads(line)["value"]["order_id"],
                             json.loads(body)["order_id"])
        finally:
            p.terminate()
            p.wait(10)

    def test_torn_tail_is_cut_at_start(self):
        s = self.start("--partitions", "1")
        for o, st, b in post_many(s, random_orders(20, seed=1), threads=1):
            self.assertEqual(st, 201, b)
        s.wait_processed(20)
        s.kill()
        seg = os.path.join(s.data, "log", "Order-0", segments(s.data)[0])
        size = os.path.getsize(seg)
        with open(seg, "ab") as f:
            f.write(b"SFLB\x01\x00\x00\x00\xff\x00\x00\x00garbage")  # a torn write
        s.start()
        self.assertIn("cutting a torn tail", s.stderr())
        self.assertEqual(os.path.getsize(seg), size)
        st, body = s.post_json("/orderitem", {"customer_id": 2, "source": "Takeaway",
                                              "quantity": 1})
        self.assertEqual(st, 201, body)
        s.wait_processed(21)

    def test_damage_stops_start_and_repair_fixes(self):
        s = self.start("--partitions", "1")
        for o, st, b in post_many(s, random_orders(30, seed=2), threads=1):
            self.assertEqual(st, 201, b)
        s.wait_processed(30)
        s.kill()
        seg = os.path.join(s.data, "log", "Order-0", segments(s.data)[0])
        if os.path.exists(seg[:-4] + ".index"):
            os.remove(seg[:-4] + ".index")
        with open(seg, "r+b") as f:
            f.seek(60)                    # inside the first batch's records
            f.write(b"X")
        with self.assertRaises(RuntimeError) as e:
            s.start()
        msg = str(e.exception)
        self.assertIn(seg, msg)
        self.assertIn("byte 0", msg)
        self.assertIn("salesflow log repair", msg)
        r = run_cli("log", "repair", "--data", s.data)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cutting there loses", r.stdout)
        self.assertEqual(os.path.getsize(seg) > 0, True)
        r = run_cli("log", "repair", "--data", s.data, "--yes")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("truncated", r.stdout)
        s.start()
        st, body = s.post_json("/orderitem", {"customer_id": 2, "source": "Takeaway",
                                              "quantity": 1})
        self.assertEqual(st, 201, body)

    def test_retention_removes_processed_segments(self):
        s = self.start("--partitions", "1", "--segment-bytes", "16K",
                       "--retention-bytes", "40K")
        for o, st, b in post_many(s, random_orders(2000, seed=9)):
            self.assertEqual(st, 201, b)
        s.wait_processed(2000)
        # Retention runs about once a second after commits.
        import time
        deadline = time.time() + 15
        while time.time() < deadline:
            total = sum(os.path.getsize(os.path.join(s.data, "log", "Order-0", f))
                        for f in segments(s.data))
            if total <= 40 * 1024 + 16 * 1024:
                break
            s.post_json("/orderitem", {"customer_id": 1, "source": "Takeaway",
                                       "quantity": 1})
            time.sleep(0.3)
        self.assertLessEqual(total, 56 * 1024)
        self.assertIn("removed by retention", s.stderr())
        # The store still has every order; the log restarts fine.
        self.assertGreaterEqual(s.order_count(), 2000)
        s.stop()
        s.start()

    def test_fsync_modes_accept_orders(self):
        for mode in ("never", "interval:50"):
            s = Server(extra=["--fsync", mode]).start()
            try:
                for o, st, b in post_many(s, random_orders(200, seed=4), threads=4):
                    self.assertEqual(st, 201, b)
                s.wait_processed(200)
            finally:
                s.cleanup()
        r = run_cli("run", "--fsync", "sometimes")
        self.assertEqual(r.returncode, 2)


class DiskFullTest(unittest.TestCase):
    """A 1 MiB tmpfs as the data directory: appends fail with 507 and leave no
    partial record; after space comes back, appends work again."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sf-full-")
        self.mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            shutil.rmtree(self.tmp)
            self.skipTest("cannot mount a small tmpfs here: " + r.stderr.strip())

    def tearDown(self):
        if getattr(self, "s", None):
            self.s.kill()
        subprocess.run(["umount", self.mnt])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_disk_full_gives_507_then_recovers(self):
        store = "sqlite:" + os.path.join(self.tmp, "sales.db")
        self.s = s = Server(data=os.path.join(self.mnt, "data"),
                            extra=["--store", store, "--partitions", "1"])
        s.db_path = store[len("sqlite:"):]
        s.start()
        ok = full = 0
        pad = {"customer_id": 5, "source": "Home Delivery", "quantity": 3}
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)

        def post():
            conn.request("POST", "/orderitem", json.dumps(pad),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            post.retry = r.getheader("Retry-After")
            return r.status, r.read()
        for _ in range(20000):
            st, body = post()
            if st == 201:
                ok += 1
                continue
            self.assertEqual(st, 507, body)
            self.assertEqual(post.retry, "5", "a 507 says when to retry")
            self.assertIn("disk is full", json.loads(body)["detail"])
            full += 1
            if full >= 3:
                break
        self.assertGreater(ok, 100)
        self.assertEqual(full, 3)
        recs = s.log_records()
        self.assertEqual(sum(len(v) for v in recs.values()), ok,
                         "exactly the acknowledged orders are in the log")
        seg = os.path.join(s.data, "log", "Order-0", segments(s.data)[0])
        from harness import read_log
        self.assertEqual(len(read_log(os.path.join(s.data, "log"))[0]), ok)
        size = os.path.getsize(seg)
        with open(seg, "rb") as f:
            data = f.read()
        # The file ends exactly at the end of a complete batch.
        pos = 0
        import struct
        while pos < len(data):
            pos += struct.unpack_from("<I", data, pos + 8)[0]
        self.assertEqual(pos, size)
        subprocess.run(["mount", "-o", "remount,size=8m", self.mnt], check=True)
        st, body = post()
        self.assertEqual(st, 201, body)
        s.wait_processed(ok + 1)
        conn.close()

    def test_sigterm_while_the_store_is_full_is_prompt(self):
        """The store on the full disk, the log elsewhere: the processor's
        commits fail and are retried with pauses growing to 5 s. A stop must
        not wait for a pause to end (it took 6.4-6.7 s; outside review)."""
        store = os.path.join(self.mnt, "sales.db")
        self.s = s = Server(extra=["--store", "sqlite:" + store, "--partitions", "1"])
        s.db_path = store
        s.start()
        rows = [{"customer_id": 1 + i % 17, "source": "Dine In", "quantity": 1}
                for i in range(20000)]
        body = "\n".join(json.dumps(r) for r in rows).encode()
        st, _, _ = s.request("POST", "/v1/orders", body,
                             {"Content-Type": "application/x-ndjson"})
        self.assertEqual(st, 201)
        # the 7th retry pauses 5 s (100, 200, ... 3200, then 5000 ms)
        deadline = time.time() + 60
        while s.stderr().count("will retry") < 7:
            self.assertLess(time.time(), deadline, "the store never filled:\n" + s.stderr())
            time.sleep(0.02)
        t0 = time.time()
        s.proc.send_signal(signal.SIGTERM)
        s.proc.wait(60)
        took = time.time() - t0
        self.assertLess(took, 2, "the stop waited %.1f s for a retry pause" % took)


if __name__ == "__main__":
    unittest.main()
