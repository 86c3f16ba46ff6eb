"""Disk errors from outside the process (issue 21): libfiu's POSIX preload
(fiu-run -x, Debian fiu-utils) makes pwrite() and fdatasync() of the
unmodified binary fail at random (a fixed FIU_PRNG_SEED) while orders flow
through `run`, then a clean restart checks the promise of a 201:

- every row answered 201 (or accepted inside a 207) is in the log and in the
  store exactly once; nothing answered 503/507 is;
- every refusal is a 503/507 with Retry-After (or a closed connection);
- pwrite errors of the log fail that group (507) and the log goes on; SQLite
  write errors are rolled back and retried by the processor (it logs "will
  retry"), never skipped;
- an fdatasync error is fatal (docs/operations.md, "Disk errors"): the
  failed range is cut, the process stops accepting and exits 1 for its
  supervisor, and the restart reads the log back from the disk.

Faults are switched on with fiu-ctrl after the server is up (start-up is
not under test) and off before the checks. SF_FIU_ORDERS sets the number of
requests (default 400), SF_FIU_CYCLES the fatal fdatasync cycles (default
1); `make fault-soak` runs more of both."""

import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
import uuid

from harness import REPO, STATES, SOURCES, Server, wait_until

FIU_RUN = shutil.which("fiu-run")
FIU_CTRL = shutil.which("fiu-ctrl")
ORDERS = int(os.environ.get("SF_FIU_ORDERS", "400"))
CYCLES = int(os.environ.get("SF_FIU_CYCLES", "1"))


class FiuServer(Server):
    """`salesflow run` started through fiu-run -x, its fault points steered
    with fiu-ctrl over a FIFO in the test's temporary directory."""

    def __init__(self, seed, **kw):
        super().__init__(**kw)
        self.seed = seed
        self.clean = False      # True: start without libfiu at all
        self.fifo = os.path.join(self.tmp, "fiu-ctrl")

    def start(self, timeout=15):
        """Server.start, with the command run through fiu-run (which execs
        it: the pid is the server's) and FIU_PRNG_SEED in its environment."""
        import harness
        if self.clean:
            return Server.start(self, timeout)
        real_popen = harness.subprocess.Popen
        prefix = [FIU_RUN, "-x", "-f", self.fifo]
        seed = str(self.seed)

        def popen(cmd, *a, **kw):
            env = dict(os.environ, FIU_PRNG_SEED=seed)
            return real_popen(prefix + list(cmd), *a, env=env, **kw)

        harness.subprocess.Popen = popen
        try:
            return Server.start(self, timeout)
        finally:
            harness.subprocess.Popen = real_popen

    def fiu(self, *cmds):
        args = [FIU_CTRL, "-f", self.fifo]
        for c in cmds:
            args += ["-c", c]
        subprocess.run(args + [str(self.proc.pid)], check=True, timeout=10)


def post(port, rows):
    """POST rows (a list of order dicts with order_id) to /v1/orders, one
    object alone or an array. Returns {order_id: outcome}: "201" accepted,
    "503"/"507" refused (with Retry-After), "closed" (no reply), "unsent"
    (the connection was refused: nothing listens)."""
    body = json.dumps(rows[0] if len(rows) == 1 else rows)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("POST", "/v1/orders", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        status, retry = r.status, r.getheader("Retry-After")
    except ConnectionRefusedError:
        # Nothing listens (the process has exited): never sent.
        return {o["order_id"]: "unsent" for o in rows}, None
    except (OSError, http.client.HTTPException):
        return {o["order_id"]: "closed" for o in rows}, None
    finally:
        c.close()
    out = {}
    reply = json.loads(data)
    if status in (503, 507):
        assert retry, "%d without Retry-After: %s" % (status, data[:200])
        return {o["order_id"]: str(status) for o in rows}, status
    assert status in (201, 207), (status, data[:300])
    for res in reply["results"]:
        oid = rows[res["index"]]["order_id"]
        if "detail" in res:
            t = res["detail"][0]["type"]
            # A 207's refused rows say why, per row (docs/api.md).
            assert t in ("unavailable", "storage_error"), res
            out[oid] = "refused"
        else:
            out[oid] = "201"
    return out, status


def post_on(c):
    """One order to /v1/orders on the keep-alive connection c: its status."""
    c.request("POST", "/v1/orders", json.dumps({"customer_id": 1, "source": "Takeaway",
                                                "quantity": 1}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    return r.status


def load(port, seed, n, threads=4, stop=None):
    """n requests from `threads` keep-alive-less clients: single orders and
    arrays of 2-8 mixed. Returns {order_id: outcome}."""
    rnd = random.Random(seed)
    reqs = []
    for _ in range(n):
        k = 1 if rnd.random() < 0.6 else rnd.randint(2, 8)
        reqs.append([{"customer_id": rnd.randint(1, 17), "source": rnd.choice(SOURCES),
                      "quantity": rnd.randint(1, 50),
                      "order_id": str(uuid.UUID(int=rnd.getrandbits(128)))}
                     for _ in range(k)])
    outcome, lock, it, errors = {}, threading.Lock(), iter(reqs), []

    def work():
        while True:
            with lock:
                rows = next(it, None)
            if rows is None or (stop and stop()):
                return
            try:
                got, _ = post(port, rows)
            except AssertionError as e:
                errors.append(str(e))
                return
            with lock:
                outcome.update(got)

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:3]
    return outcome


def stored_ids(s):
    return [u for (u,) in s.query("SELECT uuid FROM orders")]


def log_ids(s):
    return [json.loads(v)["order_id"] for recs in s.log_records().values() for v in recs]


@unittest.skipUnless(FIU_RUN and FIU_CTRL, "fiu-utils not installed (make deps)")
class DiskFaults(unittest.TestCase):
    def check(self, s, outcome, unknown_ok):
        """After a clean restart: 201s in log and store exactly once; refused
        ones in neither; `unknown_ok` outcomes (closed) may be either."""
        acked = {k for k, v in outcome.items() if v == "201"}
        refused = {k for k, v in outcome.items() if v not in ("201",) + unknown_ok}
        logged = log_ids(s)
        self.assertEqual(len(logged), len(set(logged)), "a record is in the log twice")
        s.wait_processed(timeout=60)
        ids = stored_ids(s)
        self.assertEqual(len(ids), len(set(ids)), "an order is stored twice")
        self.assertEqual(sorted(ids), sorted(logged))
        self.assertEqual(acked - set(ids), set(), "acknowledged orders lost")
        self.assertEqual(refused & set(ids), set(), "refused orders stored")
        agg = s.query("SELECT source, state, sum(total_cents), count(*), sum(quantity)"
                      " FROM orders GROUP BY 1, 2 ORDER BY 1, 2")
        sales = s.query("SELECT source, state, total_sum_cents, order_count, quantity"
                        " FROM sales ORDER BY 1, 2")
        self.assertEqual(sales, agg)
        for (uuid_, state) in s.query("SELECT uuid, state FROM orders LIMIT 50"):
            self.assertIn(state, STATES.values())
        err = s.stderr()
        vals = list(outcome.values())
        print("\n%s: %d orders: %d acknowledged, %d refused (503/507), %d closed "
              "without a reply, %d not sent (server gone); %d in the log and the "
              "store; %d log write errors, %d store retries" % (
                  self.id().split(".")[-1], len(outcome), len(acked),
                  len(vals) - len(acked) - vals.count("closed") - vals.count("unsent"),
                  vals.count("closed"), vals.count("unsent"), len(ids),
                  err.count("write of"), err.count("will retry")), file=sys.stderr)
        return len(acked), len(refused), len(ids)

    def test_write_errors_log_and_sqlite(self):
        """pwrite fails at random (log segments and SQLite's WAL alike): the
        log refuses those groups with 507 and goes on, the processor rolls
        back and retries; after a clean restart the counts are exact."""
        s = FiuServer(seed=2101)
        try:
            s.start()
            s.fiu("enable_random name=posix/io/rw/pwrite,probability=0.05")
            outcome = load(s.port, 21, ORDERS)
            s.fiu("disable name=posix/io/rw/pwrite")
            acked = [k for k, v in outcome.items() if v == "201"]
            refused = [k for k, v in outcome.items() if v != "201"]
            self.assertNotIn("closed", outcome.values())
            self.assertTrue(acked and refused, "the seed must give both 201s and "
                            "refusals (%d, %d)" % (len(acked), len(refused)))
            s.wait_processed(expect=len(acked), timeout=60)
            self.assertEqual(s.stop(), 0)
            err = s.stderr()
            self.assertIn("write of", err)
            self.assertIn("will retry", err, "no SQLite write failed: raise the "
                          "probability or the count")
            s.clean = True
            s.start()   # a clean restart, no faults
            a, r, n = self.check(s, outcome, ())
            self.assertEqual(n, a)      # exactly the 201s
            self.assertEqual(s.stop(), 0)
        finally:
            s.cleanup()

    def test_lost_wake_up_does_not_hang_a_loop(self):
        """write() failing for a moment (among others, on the eventfd that
        wakes an HTTP loop for the requests the log writer finished): once
        it works again, every keep-alive connection is answered; none waits
        forever behind a lost wake-up."""
        s = FiuServer(seed=2102)
        try:
            s.start()
            conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
                     for _ in range(8)]
            for c in conns:         # kept alive, spread over the loops
                self.assertEqual(post_on(c), 201)
            stop = threading.Event()
            t = threading.Thread(target=load, args=(s.port, 22, 100000),
                                 kwargs={"threads": 4, "stop": stop.is_set})
            t.start()
            time.sleep(0.3)
            s.fiu("enable name=posix/io/rw/write")
            for c in conns:         # finished while wake-ups are lost
                try:
                    post_on(c)
                except OSError:
                    pass
            time.sleep(0.3)
            s.fiu("disable name=posix/io/rw/write")
            stop.set()
            t.join(timeout=60)
            self.assertFalse(t.is_alive())
            hung = []
            for i in range(3):
                for k, c in enumerate(conns):
                    try:
                        post_on(c)
                    except socket.timeout:
                        hung.append((i, k))
                    except (OSError, http.client.HTTPException):
                        c.close()       # closed by the fault: a new one
                        conns[k] = http.client.HTTPConnection("127.0.0.1", s.port,
                                                              timeout=5)
            self.assertEqual(hung, [])
            for c in conns:
                c.close()
            self.assertEqual(s.stop(), 0)
        finally:
            s.cleanup()

    def test_fdatasync_error_is_fatal(self):
        """An fdatasync error: the page cache no longer says what the disk
        holds. The group is cut and refused, the process stops accepting and
        exits 1; the restart serves what the disk has, every 201 once.
        SF_FIU_CYCLES rounds on the same data directory, a seed each."""
        s = FiuServer(seed=2102)
        outcome = {}
        try:
            for cycle in range(CYCLES):
                s.seed = 2102 + cycle
                s.start()
                s.fiu("enable_random name=posix/io/sync/fdatasync,probability=0.02")
                got = load(s.port, 22 + cycle, ORDERS, stop=lambda: s.proc.poll() is not None)
                wait_until(lambda: s.proc.poll() is not None, 20, "the process to exit")
                self.assertEqual(s.stop(), 1)
                self.assertTrue("201" in got.values(), "no 201 before the fault: change "
                                "the seed")
                self.assertTrue(set(got.values()) - {"201"},
                                "nothing refused: the fault did not hit")
                outcome.update(got)
            err = s.stderr()
            self.assertGreaterEqual(err.count("the page cache is not trusted"), CYCLES)
            self.assertIn("fdatasync failed", err)
            s.clean = True
            s.start()   # the supervisor's restart, no faults
            self.check(s, outcome, ("closed",))
            # It writes again: a new order is acknowledged and stored.
            got, _ = post(s.port, [{"customer_id": 1, "source": "Dine In", "quantity": 1,
                                    "order_id": "after-restart"}])
            self.assertEqual(got, {"after-restart": "201"})
            s.wait_processed(timeout=30)
            self.assertEqual(s.stop(), 0)
        finally:
            s.cleanup()
    def test_failed_cut_after_fdatasync_error_does_not_say_not_stored(self):
        """fdatasync fails and so does the cut of the failed range: those
        bytes may be kept at the next start. An order answered "was not
        stored" must then not be stored; the answer says it may be."""
        s = FiuServer(seed=2103)
        said = {}       # order_id: (status, detail)
        try:
            s.start()
            s.fiu("enable name=posix/io/rw/ftruncate",
                  "enable name=posix/io/sync/fdatasync")
            for i in range(200):
                if s.proc.poll() is not None:
                    break
                oid = "cut-%03d" % i
                c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
                try:
                    c.request("POST", "/v1/orders", json.dumps(
                        {"customer_id": 1, "source": "Takeaway", "quantity": 1,
                         "order_id": oid}), {"Content-Type": "application/json"})
                    r = c.getresponse()
                    said[oid] = (r.status, r.read().decode())
                except (OSError, http.client.HTTPException):
                    pass
                finally:
                    c.close()
            wait_until(lambda: s.proc.poll() is not None, 20, "the process to exit")
            self.assertEqual(s.stop(), 1)
            self.assertIn("truncate to", s.stderr())
            s.clean = True
            s.start()
            s.wait_processed(timeout=30)
            stored = stored_ids(s)
            self.assertEqual(s.stop(), 0)
        finally:
            s.cleanup()
        self.assertEqual(len(stored), len(set(stored)))
        refused = {k: v for k, v in said.items() if v[0] != 201}
        self.assertTrue(refused, said)
        for oid, (st, body) in refused.items():
            self.assertEqual(st, 507, body)
            if "was not stored" in body:
                self.assertNotIn(oid, stored, body)
            else:
                self.assertIn("may be stored", body)
        self.assertTrue(any("may be stored" in b for _, b in refused.values()), refused)
        for oid, (st, _) in said.items():
            if st == 201:
                self.assertIn(oid, stored)

    def test_readyz_fails_while_log_writes_fail(self):
        """Every write of the log failing: /readyz says not ready (the
        ingestion refuses everything); ready again once writes go through."""
        s = FiuServer(seed=2104)
        try:
            s.start()
            self.assertEqual(s.get("/readyz")[0], 200)
            s.fiu("enable name=posix/io/rw/pwrite")
            try:
                outcome = load(s.port, 24, 40, threads=2)
                self.assertEqual(set(outcome.values()), {"507"})
                status, body = s.get("/readyz")
            finally:
                s.fiu("disable name=posix/io/rw/pwrite")
            self.assertEqual(status, 503, body)
            self.assertIn(b"writes failing", body)
            got, _ = post(s.port, [{"customer_id": 1, "source": "Dine In", "quantity": 1,
                                    "order_id": "after-the-fault"}])
            self.assertEqual(got, {"after-the-fault": "201"})
            wait_until(lambda: s.get("/readyz")[0] == 200, 10, "/readyz ready again")
            self.assertEqual(s.stop(), 0)
        finally:
            s.cleanup()

    def test_read_errors_are_not_called_damage(self):
        """pread failing at random: the processor's reads of the log fail and
        are tried again; the log line says an I/O error, not damage to
        repair (there is none), and every 201 is stored."""
        s = FiuServer(seed=2105)
        try:
            s.start()
            s.fiu("enable_random name=posix/io/rw/pread,probability=0.2")
            try:
                outcome = load(s.port, 25, 300, threads=2)
                time.sleep(1)
            finally:
                s.fiu("disable name=posix/io/rw/pread")
            acked = [k for k, v in outcome.items() if v == "201"]
            s.wait_processed(expect=len(acked), timeout=60)
            self.assertEqual(s.stop(), 0)
            err = s.stderr()
            self.assertIn("processor: reading the log", err)   # the faults hit
            self.assertNotIn("log repair", err)
        finally:
            s.cleanup()

    def test_directory_fsync_error_at_roll_is_fatal(self):
        """A new segment's directory entry that cannot be synced (fsync of
        the partition directory fails when the log rolls): records in that
        segment could vanish with it after a crash, so it is as fatal as a
        failed fdatasync; the restart keeps every 201."""
        s = FiuServer(seed=2103, extra=["--segment-bytes", "16K", "--partitions", "1"])
        try:
            s.start()
            s.fiu("enable name=posix/io/sync/fsync")
            outcome = load(s.port, 23, ORDERS, stop=lambda: s.proc.poll() is not None)
            wait_until(lambda: s.proc.poll() is not None, 20, "the process to exit")
            self.assertEqual(s.stop(), 1)
            self.assertIn("the page cache is not trusted", s.stderr())
            s.clean = True
            s.start()
            self.check(s, outcome, ("closed",))
            self.assertEqual(s.stop(), 0)
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
