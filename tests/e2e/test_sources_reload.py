"""Sources reload with SIGHUP (issue 16): SALESFLOW_SOURCES in the config
file is re-read like the customers. An order holds its source as an index
into the list, so a reload may only add sources after the current ones: one
that removes, renames or reorders a source is refused with a log line that
says why, and the loaded list stays in force."""

import json
import os
import signal
import tempfile
import time
import unittest

from harness import Server


def order(source, cust=3, qty=2):
    return {"customer_id": cust, "source": source, "quantity": qty}


class SourcesReloadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sf-sources-")
        self.file = os.path.join(self.tmp.name, "salesflow.env")
        self.write("Dine In,Takeaway,Home Delivery")
        self.s = Server(extra=["--config", self.file]).start()

    def tearDown(self):
        self.s.cleanup()
        self.tmp.cleanup()

    def write(self, sources):
        with open(self.file, "w") as f:
            f.write("SALESFLOW_SOURCES=%s\n" % sources)

    def hup(self, needle):
        """SIGHUP, then wait for one more log line holding needle."""
        n = self.s.stderr().count(needle)
        self.s.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while self.s.stderr().count(needle) <= n:
            self.assertLess(time.time(), deadline, self.s.stderr())
            time.sleep(0.05)

    def stored_sources(self):
        return [r[0] for r in self.s.query("SELECT source FROM orders ORDER BY source")]

    def test_sighup_adds_a_source(self):
        st, body = self.s.post_json("/orderitem", order("Kiosk"))
        self.assertEqual(st, 422, body)
        self.assertIn(b"'Dine In', 'Takeaway' or 'Home Delivery'", body)
        self.assertEqual(self.s.post_json("/orderitem", order("Takeaway"))[0], 201)

        self.write("Dine In,Takeaway,Home Delivery,Kiosk")
        self.hup("SIGHUP: sources now")
        self.assertIn("'Dine In', 'Takeaway', 'Home Delivery' or 'Kiosk'", self.s.stderr())

        # the new source is taken at both doors, and reaches the store
        st, body = self.s.post_json("/orderitem", order("Kiosk"))
        self.assertEqual(st, 201, body)
        st, body = self.s.post_json("/v1/orders", [order("Kiosk", 4), order("Dine In")])
        self.assertEqual(st, 201, body)
        self.s.wait_processed(4)
        self.assertEqual(self.stored_sources(), ["Dine In", "Kiosk", "Kiosk", "Takeaway"])
        # an old source kept its meaning: Takeaway's order is Takeaway's
        rows = self.s.query("SELECT source, state, order_count FROM sales "
                            "ORDER BY source, state")
        self.assertIn(("Takeaway", "CA", 1), rows)
        self.assertIn(("Kiosk", "CA", 1), rows)
        self.assertIn(("Kiosk", "TX", 1), rows)
        # what the server tells its clients follows
        sales = self.s.api_sales()
        self.assertEqual(sales["sources"][:4],
                         ["Dine In", "Takeaway", "Home Delivery", "Kiosk"])
        self.assertEqual(self.s.get("/api/sales?source=Kiosk")[0], 200)
        st, body = self.s.get("/openapi.json")
        self.assertEqual(st, 200)
        self.assertIn(b'"enum":["Dine In","Takeaway","Home Delivery","Kiosk"]', body)

        # the same list again changes nothing
        self.hup("SIGHUP: sources unchanged")

    def test_sighup_refuses_removing_or_reordering_a_source(self):
        self.write("Dine In,Home Delivery")
        self.hup("SIGHUP: sources not reloaded")
        err = self.s.stderr()
        # (logfmt escapes the quotes)
        self.assertRegex(err, r'Takeaway\\?" is missing')
        self.assertIn(self.file + ":1", err)

        self.write("Dine In,Home Delivery,Takeaway,Kiosk")
        self.hup("SIGHUP: sources not reloaded")
        self.assertRegex(self.s.stderr(), r'Takeaway\\?" moved from place 2 to 3')

        # the loaded list stays in force, whole
        self.assertEqual(self.s.post_json("/orderitem", order("Takeaway"))[0], 201)
        st, body = self.s.post_json("/orderitem", order("Kiosk"))
        self.assertEqual(st, 422, body)
        self.assertIn(b"'Dine In', 'Takeaway' or 'Home Delivery'", body)
        self.s.wait_processed(1)
        self.assertEqual(self.stored_sources(), ["Takeaway"])
        self.assertEqual(self.s.stop(), 0)


class SourcesFromFlagTest(unittest.TestCase):
    def test_flag_value_is_not_reloaded(self):
        # A flag beats the file at start and cannot change: SIGHUP keeps it.
        with tempfile.TemporaryDirectory(prefix="sf-sources-") as tmp:
            path = os.path.join(tmp, "salesflow.env")
            with open(path, "w") as f:
                f.write("SALESFLOW_SOURCES=Dine In,Kiosk\n")
            s = Server(extra=["--config", path, "--sources", "Dine In,Drive Thru"]).start()
            try:
                with open(path, "w") as f:
                    f.write("SALESFLOW_SOURCES=Dine In,Drive Thru,Kiosk\n")
                n = s.stderr().count("SIGHUP: ")
                s.proc.send_signal(signal.SIGHUP)
                deadline = time.time() + 10
                while "customers reloaded" not in s.stderr()[-4000:] or \
                        s.stderr().count("SIGHUP: ") <= n:
                    self.assertLess(time.time(), deadline, s.stderr())
                    time.sleep(0.05)
                self.assertEqual(s.post_json("/orderitem", order("Kiosk"))[0], 422)
                self.assertEqual(s.post_json("/orderitem", order("Drive Thru"))[0], 201)
                self.assertNotIn("SIGHUP: sources", s.stderr())
            finally:
                s.cleanup()


if __name__ == "__main__":
    unittest.main()


class SplitDeploymentSourcesTest(unittest.TestCase):
    """Custom sources in the config file reach the store when `ingest` and
    `process` run apart, and `replay` rebuilds their orders (both used to
    know only the default three: the orders were quarantined, or counted
    as "not orders" and dropped by a replay)."""
    def test_process_and_replay_take_the_sources(self):
        import subprocess
        import sqlite3
        from harness import BIN, REPO, free_port, post_v1
        with tempfile.TemporaryDirectory(prefix="sf-sources-") as tmp:
            conf = os.path.join(tmp, "salesflow.env")
            with open(conf, "w") as f:
                f.write("SALESFLOW_SOURCES=Dine In,Takeaway,Home Delivery,Kiosk\n")
            data = os.path.join(tmp, "data")
            port = free_port()
            ing = subprocess.Popen([BIN, "ingest", "--config", conf, "--data", data,
                                    "--listen", "127.0.0.1:%d" % port], cwd=REPO,
                                   stderr=subprocess.PIPE, text=True)
            try:
                view = Server()
                view.port = port
                for _ in range(200):
                    try:
                        if view.get("/healthz")[0] == 200:
                            break
                    except OSError:
                        time.sleep(0.05)
                st, rep = post_v1(view, [order("Kiosk"), order("Kiosk", 4), order("Dine In")])
                self.assertEqual(st, 201, rep)
            finally:
                ing.terminate()
                ing.communicate(timeout=30)
            db = os.path.join(data, "sales.db")
            p = subprocess.Popen([BIN, "process", "--config", conf, "--broker",
                                  "file:" + os.path.join(data, "log"), "--data", data],
                                 cwd=REPO, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.time() + 30
                n = 0
                while time.time() < deadline:
                    try:
                        c = sqlite3.connect(db)
                        n = c.execute("SELECT count(*) FROM orders").fetchone()[0]
                        c.close()
                    except sqlite3.Error:
                        n = 0
                    if n >= 3:
                        break
                    time.sleep(0.2)
            finally:
                p.terminate()
                err = p.communicate(timeout=30)[1]
            self.assertEqual(n, 3, err)

            def kiosk():
                c = sqlite3.connect(db)
                try:
                    return c.execute("SELECT order_count FROM sales WHERE source = 'Kiosk'"
                                     " ORDER BY state").fetchall()
                finally:
                    c.close()
            before = kiosk()
            self.assertEqual(sum(r[0] for r in before), 2)
            r = subprocess.run([BIN, "replay", "--config", conf, "--data", data], cwd=REPO,
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("3 orders", r.stdout)
            self.assertEqual(kiosk(), before)
