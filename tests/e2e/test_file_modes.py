"""Files only their owner can read (issue 23, item 4): under umask 022 the
data and log directories used to be 0755 and the segments, meta, .lock,
sales.db and its -wal/-shm 0644, readable by every local user. Now every
directory salesflow creates is 0700 and every file 0600, whatever the umask;
the systemd units set UMask=0027; `make install` installs the configuration
example 0640."""

import os
import stat
import subprocess
import tempfile
import time
import unittest

from harness import BIN, REPO, Server, free_port, post_v1

GOOD = {"customer_id": 3, "source": "Dine In", "quantity": 7}


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class FileModesTest(unittest.TestCase):
    def setUp(self):
        self.old_umask = os.umask(0o022)   # the child inherits it
        self.s = Server()

    def tearDown(self):
        os.umask(self.old_umask)
        self.s.cleanup()

    def test_run_under_umask_022(self):
        self.s.start()
        status, r = post_v1(self.s, [GOOD, dict(GOOD, quantity=0)])
        self.assertEqual(status, 207, r)
        self.s.wait_processed()
        data = self.s.data
        must = ["", "log", "log/meta", "log/.lock", "sales.db", "sales.db-wal",
                "sales.db-shm", "quarantine", "quarantine/quarantine.jsonl"]
        for rel in must:
            self.assertTrue(os.path.exists(os.path.join(data, rel)), rel)
        # A clean stop writes the segments' index files too.
        self.s.stop()
        seen = {"dir": 0, "segment": 0, "index": 0}
        for dirpath, dirs, files in os.walk(data):
            self.assertEqual(mode(dirpath), 0o700, dirpath)
            seen["dir"] += 1
            for f in files:
                p = os.path.join(dirpath, f)
                self.assertEqual(mode(p), 0o600, p)
                seen["segment"] += f.endswith(".log")
                seen["index"] += f.endswith(".idx")
        self.assertGreater(seen["dir"], 3, seen)
        self.assertGreater(seen["segment"], 0, seen)

    def test_new_parent_directories_too(self):
        # --data a/b/c: every directory made on the way is private.
        root = os.path.join(os.path.dirname(self.s.data), "deep")
        data = os.path.join(root, "b", "c")
        port = free_port()
        with open(self.s.data + ".deep.stderr", "w") as err:
            p = subprocess.Popen([BIN, "run", "--listen", "127.0.0.1:%d" % port,
                                  "--data", data], cwd=REPO, stdout=err, stderr=err)
        try:
            deadline = time.time() + 15
            while not os.path.exists(os.path.join(data, "sales.db-wal")):
                self.assertIsNone(p.poll(), "salesflow exited")
                self.assertLess(time.time(), deadline, "no sales.db-wal")
                time.sleep(0.05)
        finally:
            p.terminate()
            p.wait(20)
        for d in (root, os.path.join(root, "b"), data):
            self.assertEqual(mode(d), 0o700, d)


class InstallModesTest(unittest.TestCase):
    def test_units_set_umask(self):
        units = os.path.join(REPO, "deploy")
        names = [n for n in os.listdir(units) if n.endswith(".service")]
        self.assertEqual(len(names), 3)
        for n in names:
            with open(os.path.join(units, n)) as f:
                lines = f.read().splitlines()
            self.assertIn("UMask=0027", lines, n)
            self.assertGreater(lines.index("UMask=0027"), lines.index("[Service]"), n)

    def test_make_install_config_0640(self):
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run(["make", "-s", "install", "DESTDIR=" + d,
                                "BUILD=" + os.path.dirname(BIN)],
                               cwd=REPO, capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            env = os.path.join(d, "etc/salesflow/salesflow.env.example")
            self.assertEqual(mode(env), 0o640)
            units = os.path.join(d, "usr/local/lib/systemd/system")
            for n in os.listdir(units):
                with open(os.path.join(units, n)) as f:
                    self.assertIn("UMask=0027", f.read().splitlines(), n)


if __name__ == "__main__":
    unittest.main()
