"""Configuration: flags beat SALESFLOW_* environment variables, which beat
the config file; `salesflow config` shows each value's source with secrets
masked; bad files and values are one-line errors naming file and line."""

import os
import re
import subprocess
import tempfile
import unittest

from harness import BIN, REPO, run_cli

COMMANDS = ["run", "serve", "gen", "log", "replay", "ingest", "process"]


def flags_of(cmd):
    r = run_cli(cmd, "--help")
    if r.returncode != 0:
        return None
    return set(re.findall(r"^  --([a-z0-9-]+)", r.stdout, re.M)) - {"help", "config"}


def config(*args, env=None, cwd=REPO):
    e = {k: v for k, v in os.environ.items() if not k.startswith("SALESFLOW_")}
    e.update(env or {})
    return subprocess.run([BIN, "config", *args], capture_output=True, text=True,
                          env=e, cwd=cwd, timeout=30)


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.file = os.path.join(self.tmp.name, "salesflow.env")

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, text):
        with open(self.file, "w") as f:
            f.write(text)

    def values(self, out):
        return dict(re.findall(r"^(SALESFLOW_[A-Z_]+)=(.*?)\t# from (.*)$", out, re.M))

    def test_precedence_file_env_flag(self):
        self.write("# comment\nSALESFLOW_LISTEN=127.0.0.1:1111\n"
                   "export SALESFLOW_THREADS=3\nSALESFLOW_DATA='/tmp/from file'\n"
                   "SALESFLOW_UNIT_PRICE=\"2.50\"  \nSALESFLOW_PARTITIONS=6 # six\n")
        r = config("run", "--config", self.file, "--listen", "127.0.0.1:3333",
                   env={"SALESFLOW_LISTEN": "127.0.0.1:2222",
                        "SALESFLOW_THREADS": "4"})
        self.assertEqual(r.returncode, 0, r.stderr)
        v = dict((k, (val, src)) for k, val, src in
                 re.findall(r"^(SALESFLOW_[A-Z_]+)=(.*?)\t# from (.*)$", r.stdout, re.M))
        self.assertEqual(v["SALESFLOW_LISTEN"], ("127.0.0.1:3333", "flag"))
        self.assertEqual(v["SALESFLOW_THREADS"], ("4", "env SALESFLOW_THREADS"))
        self.assertEqual(v["SALESFLOW_DATA"], ("/tmp/from file", self.file + ":4"))
        self.assertEqual(v["SALESFLOW_UNIT_PRICE"], ("2.50", self.file + ":5"))
        self.assertEqual(v["SALESFLOW_PARTITIONS"], ("6", self.file + ":6"))

    def test_default_file_in_working_directory(self):
        self.write("SALESFLOW_LISTEN=127.0.0.1:4444\n")
        r = config("run", cwd=self.tmp.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("SALESFLOW_LISTEN=127.0.0.1:4444\t# from salesflow.env:1", r.stdout)

    def test_secrets_are_masked(self):
        self.write("SALESFLOW_STORE=mysql://app:s3cret@db.local:3306/sales_db\n")
        r = config("run", "--config", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("s3cret", r.stdout)
        self.assertIn("mysql://app:***@db.local:3306/sales_db", r.stdout)
        r = config("process", "--broker", "kafka://k:9092/Order", "--kafka-opt",
                   "sasl.password=hunter2", "--kafka-opt", "linger.ms=5",
                   "--group", "g1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("hunter2", r.stdout)
        self.assertIn("SALESFLOW_KAFKA_OPT=sasl.password=***\t# from flag", r.stdout)
        self.assertIn("SALESFLOW_KAFKA_OPT=linger.ms=5\t# from flag", r.stdout)
        r = config("run", "--api-key", "k-123456")
        self.assertNotIn("k-123456", r.stdout)
        self.assertIn("SALESFLOW_API_KEY=***", r.stdout)

    def test_errors_name_file_and_line(self):
        for text, msg in (("SALESFLOW_LISTEN=1:2\nSALESFLOW_LISTN=x\n", ":2: unknown key"),
                          ("just words\n", ":1: expected KEY=VALUE"),
                          ("SALESFLOW_DATA='open\n", ":1: SALESFLOW_DATA: unterminated"),
                          ("SALESFLOW_UNIT_PRICE=abc\n", ":1: --unit-price")):
            self.write(text)
            r = config("run", "--config", self.file)
            self.assertEqual(r.returncode, 2, text)
            self.assertIn(self.file + msg, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        r = config("run", "--config", "/nonexistent/salesflow.env")
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read config file /nonexistent/salesflow.env", r.stderr)
        r = config("run", env={"SALESFLOW_PARTITIONS": "zero"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("environment SALESFLOW_PARTITIONS", r.stderr)

    def test_file_may_hold_every_commands_keys(self):
        # One .env for a whole deployment: a key of any command is known to
        # all of them. Catches a new flag missing from args.c's list.
        per = {c: flags_of(c) for c in COMMANDS}
        every = set().union(*(f for f in per.values() if f))
        for cmd, own in per.items():
            if own is None:
                continue
            self.write("".join("SALESFLOW_%s=x\n" % f.upper().replace("-", "_")
                               for f in sorted(every - own)))
            r = config(cmd, "--config", self.file)
            self.assertNotIn("unknown key", r.stderr, cmd)


if __name__ == "__main__":
    unittest.main()
