"""The command line: --help on every command, one-line errors with exit 2,
gen's report, version, and start-up errors a person can act on."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from harness import BIN, REPO, Server, run_cli

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

    def test_bad_values_exit_2_at_parse_time(self):
        # Values checked when the flags are read, before anything starts:
        # these used to exit 1 after opening things.
        cases = [("run", "--listen", "nope"), ("serve", "--store", "bogus:x"),
                 ("process", "--broker", "file:/tmp/x", "--listen", "127.0.0.1:91010"),
                 ("run", "--store", "sqlite"), ("ingest", "--broker", "kafka:/x"),
                 ("process", "--broker", "nfs:x"), ("serve", "--listen", "[::1]8080"),
                 ("gen", "--url", "http://127.0.0.1:9", "--api-key", "two words"),
                 ("serve", "--store", "mysql:/u:pw@h/db")]
        for args in cases:
            r = run_cli(*args, timeout=20)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("salesflow"), r.stderr)
        self.assertNotIn("pw", run_cli("serve", "--store", "mysql:/u:pw@h/db").stderr)

    def test_malformed_broker_and_store_uris_exit_2(self):
        # Ports out of range used to wrap modulo 65536 (kafka) or fail only
        # on connect (exit 1); a missing host or database too.
        cases = [("process", "--broker", "kafka://127.0.0.1:99999/Order", "problem"),
                 ("ingest", "--broker", "kafka://127.0.0.1:70000/Order", "port"),
                 ("ingest", "--broker", "kafka://a:9092,127.0.0.1:65536/Order", "port"),
                 ("ingest", "--broker", "kafka://127.0.0.1:x/Order", "port"),
                 ("process", "--broker", "kafka:///Order", "host"),
                 ("ingest", "--broker", "kafka://a:9092,/Order", "host"),
                 ("ingest", "--broker", "kafka://a:9092/Or der", "topic"),
                 ("serve", "--store", "mysql://u:x@127.0.0.1:badport/db", "port"),
                 ("serve", "--store", "mysql://u:x@127.0.0.1:99999/db", "port"),
                 ("serve", "--store", "mysql://u:x@127.0.0.1:3306", "database"),
                 ("serve", "--store", "mysql://u:x@127.0.0.1:3306/", "database"),
                 ("serve", "--store", "mysql://u@[::1/db", "IPv6"),
                 ("serve", "--store", "mysql://u:x%zz@127.0.0.1/db", "escape"),
                 ("serve", "--store", "mysql://u:x@/db", "host"),
                 ("serve", "--store", "mysql://u:x@h/db?sock=/x", "parameter")]
        for *args, word in cases:
            r = run_cli(*args, timeout=20)
            what = (args, r.stderr)
            self.assertEqual(r.returncode, 2, what)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, what)
            if word != "problem":
                self.assertIn(word, r.stderr, what)
            self.assertNotIn(":x@", r.stderr, what)
            self.assertNotIn("x%zz", r.stderr, what)
        for uri in ("kafka://127.0.0.1:9092/Order", "kafka://a,b:1,[::1]:9092",
                    "kafka://h:65535"):
            r = run_cli("config", "ingest", "--broker", uri)
            self.assertEqual(r.returncode, 0, (uri, r.stderr))
        for uri in ("mysql://u:p@h/db", "mysql://u@[::1]:3306/db?socket=/x",
                    "mysql://h/db", "mysql://u:p%40x@h:1/d%41"):
            r = run_cli("config", "serve", "--store", uri)
            self.assertEqual(r.returncode, 0, (uri, r.stderr))

    def test_gen_and_config_do_not_print_secrets(self):
        r = run_cli("gen", "--url", "http://user:Secret13@127.0.0.1:1", "--count", "1")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotIn("Secret13", r.stderr + r.stdout)
        self.assertIn("127.0.0.1:1", r.stderr)
        r = run_cli("gen", "--url", "http://user:Secret13@127.0.0.1:1", "--count", "1",
                    "--log-format", "json")
        self.assertNotIn("Secret13", r.stderr + r.stdout)
        lines = r.stderr.strip().splitlines()
        self.assertTrue(lines, r.stderr)
        for line in lines:
            json.loads(line)
        r = run_cli("config", "process", "--broker", "kafka://k:9092/Order",
                    "--kafka-opt", "sasl.oauthbearer.config=principal=x,secret=Sup3rS3cret",
                    "--kafka-opt", "sasl.username=bob", "--kafka-opt", "linger.ms=5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("Sup3rS3cret", r.stdout)
        self.assertIn("sasl.oauthbearer.config=***", r.stdout)
        self.assertIn("linger.ms=5", r.stdout)

    def test_version_help_and_config(self):
        r = run_cli("version", "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("usage: salesflow version", r.stdout)
        r = run_cli("config", "version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no configuration", r.stdout)
        self.assertNotIn("libmicrohttpd", r.stdout)
        self.assertEqual(run_cli("version", "extra").returncode, 2)

    def test_gen_sends_api_key(self):
        s = Server(extra=["--api-key", "gen-key-1"]).start()
        try:
            r = run_cli("gen", "--url", s.url, "--count", "20")
            self.assertEqual(r.returncode, 1)
            self.assertIn("0 created (201), 20 failed (20 HTTP errors", r.stdout)
            r = run_cli("gen", "--url", s.url, "--count", "20", "--api-key", "gen-key-1")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("20 created (201), 0 failed", r.stdout)
            env = dict(os.environ, SALESFLOW_API_KEY="gen-key-1")
            r = subprocess.run([BIN, "gen", "--url", s.url, "--count", "20"], cwd=REPO,
                               env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("20 created (201), 0 failed", r.stdout)
            s.wait_processed(40)
        finally:
            s.cleanup()

    def test_gen_until_interrupted(self):
        # --count 0 against nothing: progress shows no orders (failures are
        # not orders); Ctrl-C prints the summary line, then exits 130.
        p = subprocess.Popen([BIN, "gen", "--url", "http://127.0.0.1:9", "--count", "0",
                              "--concurrency", "1", "--rate", "200"], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(4.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        self.assertRegex(out, r"gen: [1-9]\d* sent, 0 created \(201\), [1-9]\d* failed")
        progress = re.findall(r"^gen: (\d+) orders", err, re.M)
        self.assertTrue(progress, err)
        self.assertEqual(set(progress), {"0"}, err)

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
