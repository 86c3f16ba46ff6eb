"""The command line: --help on every command, one-line errors with exit 2,
gen's report, version, and start-up errors a person can act on."""

import os
import tempfile
import unittest

from harness import Server, run_cli

COMMANDS = ["run", "gen"]


class CliTest(unittest.TestCase):
    def test_help_everywhere(self):
        r = run_cli("--help")
        self.assertEqual(r.returncode, 0)
        for c in COMMANDS:
            self.assertIn(c, r.stdout)
            h = run_cli(c, "--help")
            self.assertEqual(h.returncode, 0, h.stderr)
            self.assertIn("usage: salesflow " + c, h.stdout)

    def test_bad_flags_exit_2_with_one_line(self):
        cases = [("run", "--bogus"), ("run", "--listen"), ("run", "--unit-price", "abc"),
                 ("run", "--unit-price", "1.234"), ("run", "--partitions", "0"),
                 ("gen", "--rate", "-5"), ("gen", "--count", "x"), ("gen",),
                 ("nosuchcommand",)]
        for args in cases:
            r = run_cli(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("salesflow"), r.stderr)

    def test_version(self):
        r = run_cli("version")
        self.assertEqual(r.returncode, 0)
        self.assertIn("libmicrohttpd", r.stdout)
        self.assertIn("sqlite", r.stdout)

    def test_gen_reports_counts(self):
        s = Server().start()
        try:
            r = run_cli("gen", "--url", s.url, "--count", "300", "--seed", "1",
                        "--rate", "2000")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("300 created (201), 0 failed", r.stdout)
            s.wait_processed(300)
            rows = s.query("SELECT min(customer_id), max(customer_id), min(quantity),"
                           " max(quantity), count(DISTINCT source) FROM orders")[0]
            self.assertGreaterEqual(rows[0], 1)
            self.assertLessEqual(rows[1], 17)
            self.assertGreaterEqual(rows[2], 1)
            self.assertLessEqual(rows[3], 100)
            self.assertEqual(rows[4], 3)
        finally:
            s.cleanup()

    def test_gen_against_nothing_fails(self):
        r = run_cli("gen", "--url", "http://127.0.0.1:9", "--count", "5")
        self.assertEqual(r.returncode, 1)
        self.assertIn("0 created", r.stdout)

    def test_bad_customers_file(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "c.csv")
            with open(bad, "w") as f:
                f.write("id,state\n1,CA\n")
            s = Server(data=os.path.join(d, "data"), extra=["--customers", bad])
            with self.assertRaises(RuntimeError) as e:
                s.start()
            self.assertIn("customer_id,state", str(e.exception))

    def test_foreign_file_in_log_dir(self):
        with tempfile.TemporaryDirectory() as d:
            data = os.path.join(d, "data")
            s = Server(data=data).start()
            s.stop()
            with open(os.path.join(data, "log", "stray.txt"), "w") as f:
                f.write("hello")
            with self.assertRaises(RuntimeError) as e:
                Server(data=data).start()
            self.assertIn("stray.txt", str(e.exception))

    def test_port_in_use(self):
        s = Server().start()
        try:
            r = run_cli("run", "--listen", "127.0.0.1:%d" % s.port, "--data",
                        os.path.join(s.tmp, "other"), timeout=20)
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot listen", r.stderr)
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
