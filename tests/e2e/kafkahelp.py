"""Helpers for the Kafka end-to-end tests (tests/e2e/test_kafka*.py): the mock
Kafka cluster (tests/kafka/mockcluster.c, librdkafka's rdkafka_mock: 3 brokers
on loopback TCP, topic Order with 6 partitions) with fault injection, and
`salesflow ingest` / `salesflow process` processes."""

import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import http.client
import json
import random

from harness import BIN, REPO, SOURCES, Server, free_port

MOCK = os.path.join(os.path.dirname(BIN), "tests", "mockcluster")
# Short group timeouts so a killed member's partitions move within seconds.
GROUP_OPTS = ["--kafka-opt", "consumer.session.timeout.ms=6000",
              "--kafka-opt", "consumer.heartbeat.interval.ms=500"]


def have_kafka_tools():
    """(ok, why): the mock cluster helper is built (or can be) and kcat exists."""
    if not os.path.exists(MOCK):
        build = os.path.relpath(os.path.dirname(BIN), REPO)
        subprocess.run(["make", "--no-print-directory", "BUILD=" + build,
                        os.path.join(build, "tests", "mockcluster")], cwd=REPO,
                       capture_output=True)
    if not os.path.exists(MOCK):
        return False, "mock cluster helper %s not built" % MOCK
    if not shutil.which("kcat"):
        return False, "kcat is not installed (make deps installs it)"
    return True, ""


class MockCluster:
    """tests/kafka/mockcluster: prints its bootstrap list, then takes fault
    commands on stdin (see the helper's header comment)."""

    def __init__(self, *args, same_id=False):
        # same_id: without address space randomization, every such cluster
        # gets the same cluster id (librdkafka's mock derives it from an
        # address): the same cluster, as far as a client can tell, whose
        # topic was deleted and re-created.
        pre = ["setarch", os.uname().machine, "-R"] if same_id else []
        self.proc = subprocess.Popen([*pre, MOCK, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        self.bootstraps = self.proc.stdout.readline().strip()
        if not self.bootstraps:
            raise RuntimeError("mock cluster did not start")

    def uri(self, topic="Order"):
        return "kafka://%s/%s" % (self.bootstraps, topic)

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        if not reply.startswith("ok"):
            raise RuntimeError("mock cluster: %r → %r" % (line, reply))
        return reply

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class Ingest(Server):
    """`salesflow ingest` on a free port, producing to a Kafka URI."""

    def __init__(self, broker, data=None, extra=()):
        super().__init__(data=data, extra=extra)
        self.broker = broker

    def start(self, timeout=30):
        self.port = free_port()
        self.stderr_path = self.data.rstrip("/") + ".stderr"
        self.logfile = open(self.stderr_path, "a")
        self.proc = subprocess.Popen(
            [BIN, "ingest", "--listen", "127.0.0.1:%d" % self.port, "--data", self.data,
             "--broker", self.broker, *self.extra], cwd=REPO, stdout=self.logfile,
            stderr=self.logfile)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("salesflow ingest exited with %s:\n%s" %
                                   (self.proc.returncode, self.stderr()))
            try:
                if self.get("/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("salesflow ingest did not become healthy:\n" + self.stderr())


class Process:
    """One `salesflow process` (a consumer group member) writing to a store."""

    def __init__(self, broker, store, name="p", tmp=None, extra=()):
        self.tmp = tmp or tempfile.mkdtemp(prefix="sf-kproc-")
        self.data = os.path.join(self.tmp, name)
        self.broker, self.store, self.extra = broker, store, list(extra)
        self.stderr_path = self.data + ".stderr"
        self.proc = None
        self.logfile = None

    def start(self):
        self.logfile = open(self.stderr_path, "a")
        self.proc = subprocess.Popen(
            [BIN, "process", "--broker", self.broker, "--store", self.store,
             "--data", self.data, *GROUP_OPTS, *self.extra], cwd=REPO,
            stdout=self.logfile, stderr=self.logfile)
        return self

    def stderr(self):
        try:
            with open(self.stderr_path) as f:
                return f.read()
        except OSError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30):
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("salesflow process ignored SIGTERM for %ds" % timeout)
        self._close()
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self):
        if self.logfile:
            self.logfile.close()
            self.logfile = None

    def quarantine(self):
        import json
        path = os.path.join(self.data, "quarantine", "quarantine.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]


def db_query(path, sql, args=()):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def count_orders(path):
    try:
        return db_query(path, "SELECT count(*) FROM orders")[0][0]
    except sqlite3.OperationalError:
        return 0


def wait_count(path, want, timeout=60, procs=()):
    """Wait until the store at path holds `want` orders."""
    deadline = time.time() + timeout
    got = -1
    while time.time() < deadline:
        got = count_orders(path)
        if got >= want:
            return got
        time.sleep(0.2)
    logs = "\n".join(p.stderr()[-3000:] for p in procs)
    raise AssertionError("orders has %d rows, expected %d\n%s" % (got, want, logs))


def kcat(*args, input=None, timeout=60):
    return subprocess.run(["kcat", *args], input=input, capture_output=True,
                          timeout=timeout)


def tempdir():
    return tempfile.mkdtemp(prefix="sf-kafka-")


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


class Poster(threading.Thread):
    """Posts single orders to /orderitem until told to stop: customers 1..17,
    `sources` (default all three), quantity 1..max_qty; keeps the acked ids
    and a count per status ("conn" for a connection error)."""

    def __init__(self, port, seed, sources=SOURCES, max_qty=100, pause=0.003):
        super().__init__(daemon=True)
        self.port, self.rnd = port, random.Random(seed)
        self.sources, self.max_qty, self.pause = list(sources), max_qty, pause
        self.stop_flag = threading.Event()
        self.acked, self.status = [], {}

    def run(self):
        c = None
        while not self.stop_flag.is_set():
            body = json.dumps({"customer_id": self.rnd.randint(1, 17),
                               "source": self.rnd.choice(self.sources),
                               "quantity": self.rnd.randint(1, self.max_qty)})
            try:
                if c is None:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                c.request("POST", "/orderitem", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
            except OSError:
                self.status["conn"] = self.status.get("conn", 0) + 1
                c = None
                time.sleep(0.05)
                continue
            self.status[r.status] = self.status.get(r.status, 0) + 1
            if r.status == 201:
                self.acked.append(json.loads(data)["order_id"])
            elif r.status == 503:
                time.sleep(0.05)
            time.sleep(self.pause)


class KafkaCase(unittest.TestCase):
    """A mock cluster and a temp dir per test; processes started with
    process() are killed afterwards."""

    def setUp(self):
        self.tmp = tempdir()
        self.mock = MockCluster()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()
        self.mock.stop()
        rmtree(self.tmp)

    def process(self, store, name="p"):
        p = Process(self.mock.uri(), "sqlite:" + store, name=name, tmp=self.tmp).start()
        self.procs.append(p)
        return p
