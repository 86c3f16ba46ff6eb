"""Configuration: flags beat SALESFLOW_* environment variables, which beat
the config file; `salesflow config` shows each value's source with secrets
masked; bad files and values are one-line errors naming file and line."""

import glob
import http.client
import json
import os
import re
import subprocess
import tempfile
import time
import unittest

import mariadb
from harness import BIN, REPO, Server, free_port, run_cli

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


# Where configuration keys are documented; every SALESFLOW_* name in them is
# a setting some command takes, except SALESFLOW_CONFIG (names the file)
# and SALESFLOW_BIN (the binary the tests and bench scripts run).
DOCS = ["README.md", "docs/*.md", "docs/man/salesflow.1", "deploy/salesflow.env.example"]
NOT_SETTINGS = {"SALESFLOW_CONFIG", "SALESFLOW_BIN"}
# A valid value for each setting whose value is checked ("sample" otherwise).
SAMPLES = {
    "listen": "127.0.0.1:18080", "store": "sqlite:/tmp/sf-sample/sales.db",
    "broker": "file:/tmp/sf-sample/log", "url": "http://127.0.0.1:9",
    "fsync": "interval:100", "log-level": "warn", "log-format": "json",
    "sources": "Dine In,Takeaway", "kafka-opt": "linger.ms=5", "unit-price": "2.50",
    "dedupe-window": "2h", "retention": "7d", "max-body": "1M", "segment-bytes": "1M",
    "retention-bytes": "1G", "quarantine-max": "1M", "partitions": "3",
    "threads": "3", "max-batch": "10", "ready-lag": "5", "header-timeout": "5",
    "body-timeout": "5", "max-connections": "50", "dedupe-max": "50",
    "create-topic": "3", "rate": "5", "count": "5", "seed": "5", "concurrency": "2",
    "partition": "1", "from": "1", "lines": "3", "api-keys": "k-one,k-two",
    "batch": "10", "raw-store": "cassandra://127.0.0.1:9/order_ks",
    "session-ttl": "2h", "processor-nice": "5", "query-nice": "5",
    "processor-share": "20", "query-timeout": "10s",
    "auth-fail-limit": "5/30s",
}
SECRET_WORDS = ("key", "secret", "password", "passwd", "token")


def env_name(flag):
    return "SALESFLOW_" + flag.upper().replace("-", "_")


def documented_keys():
    keys = {}
    for pattern in DOCS:
        for path in glob.glob(os.path.join(REPO, pattern)):
            with open(path) as f:
                for k in re.findall(r"SALESFLOW_[A-Z][A-Z0-9_]*", f.read()):
                    keys.setdefault(k, os.path.relpath(path, REPO))
    return keys


def settings_of(cmd):
    """{flag name: kind} from CMD --help: "value", "switch" or "env-only"."""
    out = run_cli(cmd, "--help").stdout
    found = {}
    for name, meta in re.findall(r"^  --([a-z0-9-]+)(?: ([A-Z][A-Z0-9:,=_]*))?\s", out,
                                 re.M):
        if name not in ("help", "config"):
            found[name] = "value" if meta else "switch"
    env_only = out.split("never a flag):\n", 1)[1] if "never a flag):" in out else ""
    for key in re.findall(r"^  (SALESFLOW_[A-Z0-9_]+)\s", env_only, re.M):
        found[key[len("SALESFLOW_"):].lower().replace("_", "-")] = "env-only"
    return found


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
                          ("SALESFLOW_UNIT_PRICE=abc\n", ":1: --unit-price"),
                          ("SALESFLOW_CONFIG=/etc/other.env\n",
                           ":1: SALESFLOW_CONFIG names the config file")):
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

    def test_config_that_is_a_directory_is_refused(self):
        # `--config /etc/salesflow/` (a trailing-slash typo) used to read as an
        # empty file: API keys off, no broker, exit 0 and no message.
        for args, cwd in ((["--config", self.tmp.name + "/"], REPO),
                          (["--config", self.tmp.name], REPO)):
            for cmd in ("config", "ingest"):
                extra = ["run"] if cmd == "config" else ["--listen", "127.0.0.1:0"]
                r = subprocess.run([BIN, cmd, *extra, *args], capture_output=True,
                                   text=True, cwd=cwd, timeout=30,
                                   env={k: v for k, v in os.environ.items()
                                        if not k.startswith("SALESFLOW_")})
                self.assertEqual(r.returncode, 2, (cmd, args, r.stderr))
                self.assertIn("is a directory", r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        r = config("run", env={"SALESFLOW_CONFIG": self.tmp.name})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("config file %s is a directory" % self.tmp.name, r.stderr)
        # the implicit ./salesflow.env being a directory is no better
        os.mkdir(self.file)
        r = config("run", cwd=self.tmp.name)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("config file salesflow.env is a directory", r.stderr)

    def test_paths_too_long_are_refused_not_shortened(self):
        """A --config or --customers path past the 1,023 bytes kept for it
        used to be cut short: another file was loaded (customers), or every
        SIGHUP re-read a file that does not exist (config)."""
        deep = os.path.join(self.tmp.name, *(["d" * 200] * 5))
        os.makedirs(deep)
        conf = os.path.join(deep, "salesflow.env")
        with open(conf, "w") as f:
            f.write("SALESFLOW_PARTITIONS=2\n")
        customers = os.path.join(deep, "customers.csv")
        with open(customers, "w") as f:
            f.write("customer_id,state\n1,CA\n")
        self.assertGreater(len(conf), 1023)
        r = config("run", "--config", conf)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("longer than 1023 bytes", r.stderr)
        r = subprocess.run([BIN, "run", "--listen", "127.0.0.1:0", "--data",
                            os.path.join(self.tmp.name, "data"), "--customers", customers],
                           capture_output=True, text=True, cwd=REPO, timeout=30)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn("longer than 1023 bytes", r.stderr)

    def test_bad_api_keys_are_bad_values(self):
        # An invalid key used to exit 1 at start without saying where it came
        # from, and `salesflow config` approved it; "," gave zero keys.
        for bad in ("goodkey,bad Secret1", ",", "a b", "k1,,k\x7f"):
            for how in ("flag", "env", "file"):
                if how == "flag":
                    args, env, where = ["--api-keys", bad], None, "--api-keys"
                elif how == "env":
                    args, env = [], {"SALESFLOW_API_KEYS": bad}
                    where = "environment SALESFLOW_API_KEYS"
                else:
                    self.write("SALESFLOW_API_KEYS='%s'\n" % bad)
                    args, env, where = ["--config", self.file], None, self.file + ":1"
                for cmd in (["config", "run"], ["ingest", "--listen", "127.0.0.1:0",
                                                "--data", self.tmp.name + "/d"]):
                    e = {k: v for k, v in os.environ.items()
                         if not k.startswith("SALESFLOW_")}
                    e.update(env or {})
                    r = subprocess.run([BIN, *cmd, *args], capture_output=True,
                                       text=True, env=e, cwd=self.tmp.name, timeout=30)
                    what = (bad, how, cmd, r.stderr)
                    self.assertEqual(r.returncode, 2, what)
                    self.assertIn(where, r.stderr, what)
                    self.assertIn("--api-keys", r.stderr, what)
                    self.assertEqual(len(r.stderr.strip().splitlines()), 1, what)
                    self.assertNotIn("Secret1", r.stderr, what)
        r = config("run", "--api-key", "a b")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--api-key", r.stderr)
        self.assertNotIn("a b", r.stderr)

    def test_config_file_with_secret_readable_by_others_warns(self):
        for text, secret in (("SALESFLOW_API_KEYS=k-one,k-two\n", True),
                             ("SALESFLOW_MYSQL_PASSWORD=pw\n", True),
                             ("SALESFLOW_STORE=mysql://u:pw@h/db\n", True),
                             ("SALESFLOW_LISTEN=127.0.0.1:1\n", False)):
            self.write(text)
            for mode, warn in ((0o644, secret), (0o640, False), (0o600, False)):
                os.chmod(self.file, mode)
                r = config("run", "--config", self.file)
                what = (text, oct(mode), r.stderr)
                self.assertEqual(r.returncode, 0, what)
                if warn:
                    self.assertIn(self.file, r.stderr, what)
                    self.assertIn("chmod 0640", r.stderr, what)
                    self.assertNotIn("k-one", r.stderr, what)
                else:
                    self.assertEqual(r.stderr, "", what)

    def test_quotes_comments_and_repeated_keys(self):
        self.write('SALESFLOW_API_KEYS="k1,k2"  # the POS keys\n'
                   "SALESFLOW_DATA='/tmp/a b' # data\n")
        r = config("run", "--config", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("SALESFLOW_DATA=/tmp/a b\t# from", r.stdout)
        self.assertIn("SALESFLOW_API_KEYS=***", r.stdout)
        for text, msg in (("SALESFLOW_DATA='x'y\n", ":1: SALESFLOW_DATA: text after "
                           "the closing quote"),
                          ('SALESFLOW_DATA="x"y\n', ":1: SALESFLOW_DATA: text after "
                           "the closing quote"),
                          ("SALESFLOW_DATA='x\n", ":1: SALESFLOW_DATA: unterminated"),
                          ("SALESFLOW_LISTEN=127.0.0.1:1\n# c\nSALESFLOW_LISTEN=127.0.0.1:2\n",
                           ":3: SALESFLOW_LISTEN is already set on line 1")):
            self.write(text)
            r = config("run", "--config", self.file)
            self.assertEqual(r.returncode, 2, (text, r.stderr))
            self.assertIn(self.file + msg, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        # a repeatable setting may be given on several lines
        self.write("SALESFLOW_KAFKA_OPT=linger.ms=5\nSALESFLOW_KAFKA_OPT=acks=all\n")
        r = config("process", "--config", self.file, "--broker", "kafka://k:1/Order")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("SALESFLOW_KAFKA_OPT=acks=all", r.stdout)

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


    def test_every_documented_key_works_from_flag_env_and_file(self):
        # The one rule for configuration keys: a documented SALESFLOW_* key
        # (and every flag) is a setting of the commands that take it, from
        # the command line, the environment and the config file alike, and
        # `salesflow config CMD` shows it with secrets masked. A setting that
        # must not be a flag (a password) is refused as one, naming the key.
        per = {c: settings_of(c) for c in COMMANDS}
        docs = documented_keys()
        takers = {}
        for cmd, settings in per.items():
            for name in settings:
                takers.setdefault(env_name(name), []).append(cmd)
        for key, where in sorted(docs.items()):
            if key not in NOT_SETTINGS:
                self.assertIn(key, takers, "%s (documented in %s) is taken by no "
                              "command" % (key, where))
        self.assertIn("SALESFLOW_API_KEYS", takers)
        self.assertIn("SALESFLOW_MYSQL_PASSWORD", takers)
        self.write("")
        for key, cmds in sorted(takers.items()):
            for cmd in cmds:
                name = key[len("SALESFLOW_"):].lower().replace("_", "-")
                kind = per[cmd][name]
                value = "1" if kind == "switch" else SAMPLES.get(name, "sample-v4lue")
                secret = any(w in name for w in SECRET_WORDS)
                shown = "***" if secret else value
                what = "%s %s" % (cmd, key)
                # flag
                args = ["--" + name] + ([] if kind == "switch" else [value])
                r = config(cmd, *args)
                if kind == "env-only":
                    self.assertEqual(r.returncode, 2, what)
                    self.assertIn(key, r.stderr, what)
                    self.assertEqual(len(r.stderr.strip().splitlines()), 1, what)
                else:
                    self.assertEqual(r.returncode, 0, (what, r.stderr))
                    self.assertIn("%s=%s\t# from flag\n" % (key, shown), r.stdout, what)
                # environment
                r = config(cmd, env={key: value})
                self.assertEqual(r.returncode, 0, (what, r.stderr))
                self.assertIn("%s=%s\t# from env %s\n" % (key, shown, key), r.stdout,
                              what)
                # config file
                self.write("%s=%s\n" % (key, value))
                r = config(cmd, "--config", self.file)
                self.assertEqual(r.returncode, 0, (what, r.stderr))
                self.assertIn("%s=%s\t# from %s:1\n" % (key, shown, self.file),
                              r.stdout, what)
                if secret:
                    self.assertNotIn(value, r.stdout, what)

    def test_api_keys_in_config_file_are_enforced(self):
        # SALESFLOW_API_KEYS in a --config file used to be accepted and then
        # ignored: ingestion stayed open.
        self.write("SALESFLOW_API_KEYS=file-key-1,file-key-2\n")
        s = Server(extra=["--config", self.file]).start()
        try:
            self.assertIn("API keys required", s.stderr())
            order = {"customer_id": 3, "source": "Dine In", "quantity": 7}
            self.assertEqual(s.post_json("/orderitem", order)[0], 401)
            st, _, _ = s.request("POST", "/orderitem", body=json.dumps(order).encode(),
                              headers={"Content-Type": "application/json",
                                       "Authorization": "Bearer file-key-2"})
            self.assertEqual(st, 201)
        finally:
            s.cleanup()

    def test_sighup_reloads_api_keys_from_config_file(self):
        # docs/deploy.md keeps SALESFLOW_API_KEYS in the config file and says
        # SIGHUP reloads the keys; a revoked key used to stay valid until restart.
        import signal
        self.write("SALESFLOW_API_KEYS=key-old,key-keep\n")
        os.chmod(self.file, 0o640)
        s = Server(extra=["--config", self.file]).start()
        try:
            order = json.dumps({"customer_id": 3, "source": "Dine In",
                                "quantity": 7}).encode()

            def post(key):
                return s.request("POST", "/orderitem", body=order, headers={
                    "Content-Type": "application/json",
                    "Authorization": "Bearer " + key})[0]

            def hup(count):
                s.proc.send_signal(signal.SIGHUP)
                deadline = time.time() + 10
                while s.stderr().count("SIGHUP: ") < count:
                    self.assertLess(time.time(), deadline, s.stderr())
                    time.sleep(0.05)

            self.assertEqual(post("key-old"), 201)
            self.write("SALESFLOW_API_KEYS=key-keep,key-new\n")
            hup(2)
            self.assertEqual(post("key-old"), 401, s.stderr())
            self.assertEqual(post("key-keep"), 201)
            self.assertEqual(post("key-new"), 201)
            self.assertIn("2 API keys in force", s.stderr())
            # a bad file keeps the old keys, and says why
            self.write("SALESFLOW_API_KEYS=key-keep,bad key\n")
            hup(4)
            self.assertIn("API keys not reloaded", s.stderr())
            self.assertEqual(post("key-new"), 201)
            self.assertNotIn("bad key", s.stderr())
        finally:
            s.cleanup()

    def test_mysql_password_in_config_file_is_used(self):
        ok, why = mariadb.available()
        if not ok:
            self.skipTest(why)
        db = mariadb.MariaDB().start()
        proc = None
        try:
            db.create_db("sales_db")
            port = free_port()
            self.write("SALESFLOW_STORE=%s\nSALESFLOW_MYSQL_PASSWORD='%s'\n"
                       % (db.uri("sales_db", password=None), mariadb.SF_PASSWORD))
            proc = subprocess.Popen([BIN, "serve", "--config", self.file, "--listen",
                                     "127.0.0.1:%d" % port], cwd=self.tmp.name,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
            deadline, status = time.time() + 30, None
            while time.time() < deadline and proc.poll() is None and status != 200:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    c.request("GET", "/api/sales")
                    status = c.getresponse().status
                    c.close()
                except OSError:
                    time.sleep(0.1)
            if proc.poll() is not None:
                self.fail("serve exited: %s" % proc.stderr.read())
            self.assertEqual(status, 200)
        finally:
            if proc and proc.poll() is None:
                proc.terminate()
                proc.wait(20)
            if proc:
                proc.stderr.close()
            db.stop()


if __name__ == "__main__":
    unittest.main()
