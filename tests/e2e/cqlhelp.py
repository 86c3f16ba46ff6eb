"""Start and drive tests/e2e/cqlserver.py (the CQL v4 test server) for the
Cassandra raw-store tests: a subprocess on a free loopback port with a state
file, so that a killed server restarts with its tables; faults by the
control port."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from harness import REPO, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
NS = uuid.NAMESPACE_URL


def row_uuid(order_id):
    """The sink's row key of an order_id (src/store/cassandra.c)."""
    try:
        u = uuid.UUID(order_id)
        if str(u) == order_id:
            return str(u)
    except ValueError:
        pass
    return str(uuid.uuid5(NS, "salesflow:order_id:" + order_id))


class CqlServer:
    def __init__(self, args=(), port=None):
        self.tmp = tempfile.mkdtemp(prefix="sf-cql-")
        self.state = os.path.join(self.tmp, "state.jsonl")
        self.args = list(args)
        self.port = port or free_port()
        self.cport = free_port()
        self.proc = None
        self.log = open(os.path.join(self.tmp, "server.log"), "a")

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "cqlserver.py"), "--port", str(self.port),
             "--control", str(self.cport), "--state", self.state, *self.args],
            stdout=subprocess.PIPE, stderr=self.log, cwd=REPO, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("cqlserver did not start: %r" % line)
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
            self.proc.stdout.close()

    def cleanup(self):
        self.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cmd(self, line):
        with socket.create_connection(("127.0.0.1", self.cport), timeout=30) as s:
            f = s.makefile("rw")
            f.write(line + "\n")
            f.flush()
            return f.readline().strip()

    def rows(self, table="order_ks.order_table"):
        return json.loads(self.cmd("rows")).get(table, {})

    def stats(self):
        return json.loads(self.cmd("stats"))

    def uri(self, user=None, ks="order_ks", query=""):
        return "cassandra://%s127.0.0.1:%d/%s%s" % (user + "@" if user else "", self.port,
                                                    ks, query)


ORIGINAL = ("order_ks.order_table:uuid uuid,customer_id int,source text,quantity int,"
            "total float,created_at text")
