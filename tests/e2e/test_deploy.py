"""The deployment guide as a test: docs/deploy.md's Kafka + MySQL steps run
as written on one machine, so the guide cannot drift from the binary.

The blocks of the guide marked `<!-- deploy-test: NAME -->` are taken from
the file and run (sh -e, from the repository, with the installed salesflow
first on PATH); the systemd units that `make install DESTDIR=…` installs are
started by running their ExecStart= lines by hand (no systemd here), in
their WorkingDirectory=, with their Environment=, %i replaced by the
instance. What changes from
a real deployment is only where things are, by literal replacement in the
blocks, the config file and the unit lines (REPLACE below):

  /usr/local/bin/salesflow, /etc/salesflow, /var/lib/salesflow
                                      → under a temporary root (DESTDIR)
  kafka1:9092,kafka2:9092,kafka3:9092 → librdkafka's mock cluster
  db.internal:3306                    → a private mariadbd on loopback
  0.0.0.0 / 127.0.0.1 ports 8080, 8081, 9101, 9102 → free loopback ports
  -o/-g owners in `install` lines     → dropped (no salesflow user here)

The `useradd` and `systemctl` blocks are not marked and do not run.
"""

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import mariadb
from harness import BIN, REPO, free_port
from kafkahelp import MockCluster, have_kafka_tools

GUIDE = os.path.join(REPO, "docs", "deploy.md")
UNITS = ["salesflow-ingest.service", "salesflow-process@.service",
         "salesflow-serve.service"]


def guide_blocks():
    """{name: text} of the fenced blocks marked <!-- deploy-test: name -->."""
    with open(GUIDE) as f:
        text = f.read()
    blocks = {}
    for m in re.finditer(r"<!-- deploy-test: ([a-z-]+) -->\s*\n\s*```[a-z]*\n(.*?)\n\s*```",
                         text, re.S):
        lines = m.group(2).split("\n")
        indent = min(len(l) - len(l.lstrip()) for l in lines if l.strip())
        blocks[m.group(1)] = "\n".join(l[indent:] for l in lines) + "\n"
    return blocks


def unit_lines(path, key):
    with open(path) as f:
        return [l.split("=", 1)[1].strip() for l in f if l.startswith(key + "=")]


class DeployGuideTest(unittest.TestCase):
    def setUp(self):
        ok, why = have_kafka_tools()
        if not ok:
            self.skipTest(why)
        ok, why = mariadb.available()
        if not ok:
            self.skipTest(why)
        self.procs = []
        self.root = tempfile.mkdtemp(prefix="sf-deploy-")
        self.cluster = MockCluster()
        self.db = mariadb.MariaDB().start()
        self.ports = {"ingest": free_port(), "serve": free_port(), "p1": free_port(),
                      "p2": free_port()}
        etc, var = self.root + "/etc/salesflow", self.root + "/var/lib/salesflow"
        self.replace = [
            ("/usr/local/bin/salesflow", self.root + "/usr/local/bin/salesflow"),
            ("/etc/salesflow", etc), ("/var/lib/salesflow", var),
            ("kafka1:9092,kafka2:9092,kafka3:9092", self.cluster.bootstraps),
            ("db.internal:3306", "127.0.0.1:%d" % self.db.port),
            ("0.0.0.0:8080", "127.0.0.1:%d" % self.ports["ingest"]),
            ("127.0.0.1:8080", "127.0.0.1:%d" % self.ports["ingest"]),
            ("0.0.0.0:8081", "127.0.0.1:%d" % self.ports["serve"]),
            ("127.0.0.1:8081", "127.0.0.1:%d" % self.ports["serve"]),
            ("127.0.0.1:9101", "127.0.0.1:%d" % self.ports["p1"]),
            ("127.0.0.1:9102", "127.0.0.1:%d" % self.ports["p2"]),
            (" -o salesflow -g salesflow", ""), (" -o root -g salesflow", ""),
        ]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SALESFLOW_")}
        self.env["PATH"] = self.root + "/usr/local/bin:" + self.env["PATH"]

    def tearDown(self):
        for p, log in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            log.close()
        if hasattr(self, "db"):
            self.db.stop()
        if hasattr(self, "cluster"):
            self.cluster.stop()
        if hasattr(self, "root"):
            shutil.rmtree(self.root, ignore_errors=True)

    def local(self, text):
        for a, b in self.replace:
            text = text.replace(a, b)
        return text

    def sh(self, name, script):
        r = subprocess.run(["sh", "-e", "-c", self.local(script)], cwd=REPO,
                           env=self.env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, "guide block %s failed:\n%s\n%s\n%s" %
                         (name, self.local(script), r.stdout, r.stderr))
        return r.stdout

    def start_unit(self, unit, instance=None):
        path = os.path.join(self.root, "usr/local/lib/systemd/system", unit)
        (line,) = unit_lines(path, "ExecStart")
        (cwd,) = unit_lines(path, "WorkingDirectory")
        if instance is not None:
            line = line.replace("%i", str(instance))
        argv = shlex.split(self.local(line))
        env = dict(self.env)
        for assignments in unit_lines(path, "Environment"):
            for a in shlex.split(self.local(assignments.replace("%i", str(instance)))):
                k, v = a.split("=", 1)
                env[k] = v
        name = unit.replace("@", "@%s" % (instance or ""))
        log = open(os.path.join(self.root, name + ".log"), "w+")
        p = subprocess.Popen(argv, cwd=self.local(cwd), env=env, stdout=log,
                             stderr=subprocess.STDOUT)
        self.procs.append((p, log))
        return p, log

    def get(self, port, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=10) as r:
            return r.status, r.read()

    def wait_http(self, port, path, procs, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for p, log in procs:
                if p.poll() is not None:
                    log.seek(0)
                    self.fail("%s exited with %s:\n%s" % (p.args, p.returncode, log.read()))
            try:
                if self.get(port, path)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.fail("no 200 from 127.0.0.1:%d%s in %ds:\n%s" % (port, path, timeout,
                  self.logs()))

    def wait_ready(self, port, timeout=60):
        deadline, body = time.time() + timeout, None
        while time.time() < deadline:
            try:
                if self.get(port, "/readyz")[0] == 200:
                    return
            except urllib.error.HTTPError as e:
                body = e.read()
            except OSError as e:
                body = str(e)
            time.sleep(0.25)
        self.fail("127.0.0.1:%d/readyz not 200 in %ds: %s\n%s" % (port, timeout, body,
                  self.logs()))

    def logs(self):
        out = []
        for p, log in self.procs:
            log.seek(0)
            out.append("%s:\n%s" % (" ".join(p.args), log.read()[-3000:]))
        return "\n".join(out)

    def test_guide_runs_as_written(self):
        blocks = guide_blocks()
        for name in ("sql", "install", "env", "config", "post", "check"):
            self.assertIn(name, blocks, "docs/deploy.md lost its %s block" % name)

        # 2. MySQL: the guide's SQL, as root.
        self.db.sql(blocks["sql"])

        # 3. make install into the temporary root, then the guide's install block.
        build = os.path.relpath(os.path.dirname(BIN), REPO)
        r = subprocess.run(["make", "--no-print-directory", "BUILD=" + build,
                            "DESTDIR=" + self.root, "install"], cwd=REPO,
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        os.makedirs(self.root + "/var/lib", exist_ok=True)
        self.sh("install", blocks["install"])
        envfile = self.root + "/etc/salesflow/salesflow.env"
        mode = stat.S_IMODE(os.stat(envfile).st_mode)
        self.assertEqual(mode & 0o007, 0, "salesflow.env is mode %o: others may read "
                         "the password" % mode)
        self.assertTrue(os.path.exists(self.root + "/etc/salesflow/customers.csv"))

        # 4. Configure: the guide's lines replace those keys in the file.
        with open(envfile) as f:
            lines = f.read().splitlines()
        for want in blocks["env"].splitlines():
            key = want.split("=", 1)[0]
            lines = [l for l in lines if not l.startswith(key + "=")] + [want]
        with open(envfile, "w") as f:
            f.write(self.local("\n".join(lines) + "\n"))
        shown = self.sh("config", blocks["config"])
        self.assertNotIn("change me", shown)
        self.assertNotIn("key-for-pos", shown)
        for key in ("SALESFLOW_MYSQL_PASSWORD=***", "SALESFLOW_API_KEYS=***",
                    "SALESFLOW_CUSTOMERS=" + self.root + "/etc/salesflow/customers.csv"):
            self.assertIn(key, shown)

        # 5. Start the units: ExecStart= by hand.
        ingest = self.start_unit("salesflow-ingest.service")
        p1 = self.start_unit("salesflow-process@.service", 1)
        p2 = self.start_unit("salesflow-process@.service", 2)
        serve = self.start_unit("salesflow-serve.service")
        self.wait_http(self.ports["ingest"], "/healthz", [ingest, p1, p2, serve])
        self.wait_http(self.ports["serve"], "/healthz", [ingest, p1, p2, serve])
        self.wait_http(self.ports["p1"], "/healthz", [ingest, p1, p2, serve])
        self.wait_http(self.ports["p2"], "/healthz", [ingest, p1, p2, serve])

        # Ingestion needs a key (SALESFLOW_API_KEYS from the file).
        req = urllib.request.Request(
            "http://127.0.0.1:%d/orderitem" % self.ports["ingest"], method="POST",
            data=b'{"customer_id": 3, "source": "Dine In", "quantity": 7}',
            headers={"Content-Type": "application/json"})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(e.exception.code, 401)

        # 6. Check: the guide's orders reach MySQL through the processors.
        out = self.sh("post", blocks["post"])
        self.assertIn('"status":"success"', out)
        self.assertIn("1000 created (201), 0 failed", out)
        deadline, got = time.time() + 90, None
        while time.time() < deadline:
            try:
                got = self.db.sql("SELECT count(*), sum(quantity) FROM orders",
                                  db="sales_db")[0]
            except RuntimeError:
                got = None
            if got and int(got[0]) >= 1001:
                break
            time.sleep(0.5)
        self.assertIsNotNone(got, self.logs())
        self.assertEqual(int(got[0]), 1001, self.logs())
        # "A moment later": the processors report ready once they have
        # settled into the group and committed.
        self.wait_ready(self.ports["p1"])
        out = self.sh("check", blocks["check"])
        sales, end = json.JSONDecoder().raw_decode(out)
        self.assertTrue(sales, out)
        self.assertIn('"ready":true', out[end:])
        total_orders = self.db.sql("SELECT sum(order_count) FROM sales", db="sales_db")
        self.assertEqual(int(total_orders[0][0]), 1001)
        self.assertIn(b"salesflow_", self.get(self.ports["p2"], "/metrics")[1])


if __name__ == "__main__":
    unittest.main()
