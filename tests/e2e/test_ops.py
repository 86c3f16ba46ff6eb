"""Operating salesflow: SIGTERM under load exits 0 within 5 s with every
acknowledged order stored and nothing half-written; `make install` puts the
binary, man page and systemd units where the units expect them; logs are
logfmt or JSON lines."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import BIN, REPO, Server, run_cli
from test_crash import check_consistent


class ShutdownTest(unittest.TestCase):
    def test_sigterm_under_load(self):
        s = Server()
        acked = os.path.join(s.tmp, "acked.txt")
        try:
            s.start()
            gen = subprocess.Popen([BIN, "gen", "--url", s.url, "--count", "1000000",
                                    "--concurrency", "16", "--acked", acked],
                                   cwd=REPO, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            t0 = time.time()
            s.proc.terminate()
            code = s.proc.wait(timeout=30)
            took = time.time() - t0
            gen.wait(timeout=120)
            self.assertEqual(code, 0, s.stderr())
            self.assertLess(took, 5.0, "SIGTERM took %.1fs" % took)
            self.assertIn("shutting down", s.stderr())
            with open(acked) as f:
                ids = {l.strip() for l in f if l.strip()}
            self.assertGreater(len(ids), 100)
            s.logfile.close()
            s.logfile = None
            s.start()
            self.assertNotIn("torn tail", s.stderr(), "a clean stop leaves no torn tail")
            check_consistent(self, s, ids)
        finally:
            s.cleanup()


class InstallTest(unittest.TestCase):
    def test_make_install_destdir(self):
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run(["make", "-s", "install", "DESTDIR=" + d,
                                "BUILD=" + os.path.dirname(BIN)],
                               cwd=REPO, capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            binary = os.path.join(d, "usr/local/bin/salesflow")
            self.assertTrue(os.access(binary, os.X_OK))
            self.assertTrue(os.path.exists(os.path.join(d, "usr/local/share/man/man1/salesflow.1")))
            units = os.path.join(d, "usr/local/lib/systemd/system")
            names = sorted(os.listdir(units))
            self.assertEqual(names, ["salesflow-ingest.service", "salesflow-process@.service",
                                     "salesflow-serve.service"])
            for n in names:
                with open(os.path.join(units, n)) as f:
                    text = f.read()
                exec_line = [l for l in text.splitlines() if l.startswith("ExecStart=")][0]
                path, cmd = exec_line.split("=", 1)[1].split()[:2]
                self.assertEqual(path, "/usr/local/bin/salesflow")
                # The command the unit runs exists and takes --config.
                r = subprocess.run([binary, cmd, "--help"], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, (n, r.stderr))
                self.assertIn("--config", r.stdout)
            if shutil.which("systemd-analyze") is None:
                self.skipTest("systemd-analyze is not installed: units only parsed")
            # Verify copies whose ExecStart points into DESTDIR.
            vdir = os.path.join(d, "verify")
            os.mkdir(vdir)
            for n in names:
                with open(os.path.join(units, n)) as f:
                    text = f.read().replace("/usr/local/bin/salesflow", binary)
                with open(os.path.join(vdir, n), "w") as f:
                    f.write(text)
            env = dict(os.environ, MANPATH=os.path.join(d, "usr/local/share/man"))
            r = subprocess.run(["systemd-analyze", "verify",
                                *[os.path.join(vdir, n) for n in names]],
                               capture_output=True, text=True, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "")


class LogFormatTest(unittest.TestCase):
    def test_logfmt_and_json(self):
        s = Server().start()
        try:
            line = s.stderr().splitlines()[0]
            self.assertRegex(line, r'^ts=\S+Z level=info msg="salesflow .* listening')
        finally:
            s.cleanup()
        s = Server(extra=["--log-format", "json", "--log-level", "debug"]).start()
        try:
            rec = json.loads(s.stderr().splitlines()[0])
            self.assertEqual(rec["level"], "info")
            self.assertIn("listening", rec["msg"])
        finally:
            s.cleanup()
        s = Server(extra=["--log-level", "error"]).start()
        try:
            self.assertEqual(s.stderr(), "")
        finally:
            s.cleanup()
        r = run_cli("run", "--log-level", "chatty")
        self.assertEqual(r.returncode, 2)
        self.assertIn("debug, info", r.stderr)


class ProcessReadyzTest(unittest.TestCase):
    def test_process_readyz_does_not_show_the_store_error(self):
        # `process --listen`'s /readyz used to put the store's whole error in
        # the body of this open route; serve and run say "store unavailable".
        import http.client
        import socket
        import sqlite3
        s = Server().start()      # makes the embedded log
        s.stop()
        tmp = s.tmp
        db = os.path.join(tmp, "secret-name.db")
        with socket.socket() as so:
            so.bind(("127.0.0.1", 0))
            port = so.getsockname()[1]
        log = open(os.path.join(tmp, "stderr"), "w")
        proc = subprocess.Popen([BIN, "process", "--broker", "file:" + s.data + "/log",
                                 "--store", "sqlite:" + db, "--data", tmp + "/p",
                                 "--listen", "127.0.0.1:%d" % port], cwd=REPO,
                                stdout=log, stderr=log)

        def readyz():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/readyz")
            r = c.getresponse()
            out = (r.status, r.read().decode())
            c.close()
            return out

        try:
            deadline, body = time.time() + 30, ""
            while time.time() < deadline and '"store":"ok"' not in body:
                self.assertIsNone(proc.poll())
                try:
                    st, body = readyz()
                except OSError:
                    time.sleep(0.1)
            self.assertIn('"store":"ok"', body)
            con = sqlite3.connect(db)
            con.execute("DROP TABLE sales")
            con.commit()
            con.close()
            st, body = readyz()
            self.assertEqual(st, 503, body)
            self.assertEqual(json.loads(body)["checks"]["store"], "store unavailable")
            self.assertNotIn("secret-name", body)
            self.assertNotIn("sales", body.replace("salesflow", ""))
            with open(os.path.join(tmp, "stderr")) as f:
                self.assertIn("GET /readyz", f.read())
        finally:
            proc.terminate()
            proc.wait(20)
            log.close()
            shutil.rmtree(tmp, ignore_errors=True)


class ServeDoesNotIngestTest(unittest.TestCase):
    def test_serve_answers_404_before_checking_the_body(self):
        # docs/api.md: serve answers the ingest routes 404 "this server does
        # not ingest orders"; without a Content-Type it used to say 415.
        import http.client
        import socket
        s = Server().start()
        s.stop()
        with socket.socket() as so:
            so.bind(("127.0.0.1", 0))
            port = so.getsockname()[1]
        log = open(os.path.join(s.tmp, "serve.stderr"), "w")
        proc = subprocess.Popen([BIN, "serve", "--store", "sqlite:" + s.db_path,
                                 "--listen", "127.0.0.1:%d" % port], cwd=REPO,
                                stdout=log, stderr=log)
        try:
            deadline = time.time() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except OSError:
                    self.assertLess(time.time(), deadline)
                    time.sleep(0.1)
            for path in ("/orderitem", "/v1/orders"):
                for headers in ({}, {"Content-Type": "text/plain"},
                                {"Content-Type": "application/json"}):
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    c.request("POST", path, body=b'{"customer_id":1}', headers=headers)
                    r = c.getresponse()
                    body = r.read().decode()
                    c.close()
                    self.assertEqual(r.status, 404, (path, headers, body))
                    self.assertIn("does not ingest orders", body)
        finally:
            proc.terminate()
            proc.wait(20)
            log.close()
            s.cleanup()


class IngestReadyzKafkaDownTest(unittest.TestCase):
    def test_ingest_not_ready_while_kafka_is_down(self):
        # /readyz said ready while every POST got 503 (all brokers down).
        from kafkahelp import Ingest, MockCluster, have_kafka_tools
        ok, why = have_kafka_tools()
        if not ok:
            self.skipTest(why)
        mock = MockCluster()
        ing = None
        try:
            ing = Ingest(mock.uri()).start()

            def wait_ready(status, timeout=60):
                deadline = time.time() + timeout
                while True:
                    st, body = ing.get("/readyz")[:2]
                    if st == status or time.time() > deadline:
                        return st, body
                    time.sleep(0.2)

            st, body = wait_ready(200)
            self.assertEqual(st, 200, body)
            mock.cmd("down all")
            # a produce makes the producer notice (as every POST would)
            order = {"customer_id": 3, "source": "Dine In", "quantity": 1}
            deadline = time.time() + 60
            while ing.post_json("/orderitem", order)[0] != 503:
                self.assertLess(time.time(), deadline, ing.stderr())
                time.sleep(0.2)
            st, body = wait_ready(503)
            self.assertEqual(st, 503, body)
            self.assertIn("broker unavailable", str(body))
            mock.cmd("up all")
            st, body = wait_ready(200)
            self.assertEqual(st, 200, body)
        finally:
            if ing:
                ing.cleanup()
            mock.stop()


if __name__ == "__main__":
    unittest.main()


class MetricsTest(unittest.TestCase):
    def test_metrics_move_and_pass_promtool(self):
        import re
        from harness import post_many, random_orders
        s = Server().start()
        try:
            res = post_many(s, random_orders(300, seed=11), threads=4)
            self.assertTrue(all(st == 201 for _, st, _ in res))
            for _ in range(5):
                st, _ = s.post_json("/orderitem", {"customer_id": 99, "source": "Takeaway",
                                                   "quantity": 1})
                self.assertEqual(st, 422)
            s.wait_processed(300)
            # The rows are visible a moment before the processor's gauges
            # move (they are set after the commit): scrape until they have.
            lag_re = r"^salesflow_processor_lag\{partition=\"\d+\"\} (\S+)$"
            deadline = time.time() + 10
            while True:
                st, body, headers = s.request("GET", "/metrics")
                text = body.decode()
                if time.time() > deadline or not sum(
                        float(v) for v in re.findall(lag_re, text, re.M)):
                    break
                time.sleep(0.05)
            self.assertEqual(st, 200)
            self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))

            def value(series):
                m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
                self.assertIsNotNone(m, series)
                return float(m.group(1))
            self.assertEqual(value('salesflow_http_requests_total{route="/orderitem",'
                                   'code="201"}'), 300)
            self.assertEqual(value('salesflow_http_requests_total{route="/orderitem",'
                                   'code="422"}'), 5)
            self.assertEqual(value("salesflow_orders_accepted_total"), 300)
            self.assertEqual(value("salesflow_orders_rejected_total"), 5)
            ends = sum(float(v) for v in re.findall(
                r"^salesflow_log_end_offset\{partition=\"\d+\"\} (\S+)$", text, re.M))
            self.assertEqual(ends, 300)
            self.assertEqual(sum(float(v) for v in re.findall(
                r"^salesflow_processor_lag\{partition=\"\d+\"\} (\S+)$", text, re.M)), 0)
            self.assertGreater(value("salesflow_log_fsync_seconds_count"), 0)
            self.assertGreater(value("salesflow_processor_commit_seconds_count"), 0)
            self.assertGreater(value("process_resident_memory_bytes"), 1e6)
            self.assertGreater(value("process_open_fds"), 3)
            if shutil.which("promtool") is None:
                self.skipTest("promtool (Debian package prometheus) is not installed")
            r = subprocess.run(["promtool", "check", "metrics"], input=text,
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            s.cleanup()

    def test_readyz_and_healthz(self):
        s = Server().start()
        try:
            st, body = s.get("/healthz")
            self.assertEqual(st, 200)
            st, body = s.get("/readyz")
            self.assertEqual(st, 200, body)
            rep = json.loads(body)
            self.assertTrue(rep["ready"])
            self.assertEqual(rep["checks"]["log"], "ok")
            self.assertEqual(rep["checks"]["store"], "ok")
            self.assertEqual(rep["checks"]["processor"], "ok")
        finally:
            s.cleanup()


class ReadinessFlipsWithStoreTest(unittest.TestCase):
    """/readyz goes 503 naming the store while the MySQL server is down,
    and back to 200 once it returns, without a restart of salesflow."""

    def test_store_away_and_back(self):
        import mariadb
        ok, why = mariadb.available()
        if not ok:
            self.skipTest(why)
        db = mariadb.MariaDB().start()
        s = None
        try:
            db.create_db("ready_db")
            s = Server(extra=["--store", db.uri("ready_db")]).start()

            def ready():
                st, body = s.get("/readyz")
                return st, json.loads(body)

            def wait_for(status, timeout=30):
                deadline = time.time() + timeout
                while True:
                    st, rep = ready()
                    if st == status or time.time() > deadline:
                        return st, rep
                    time.sleep(0.2)
            st, rep = wait_for(200)
            self.assertEqual(st, 200, rep)
            db.kill9()
            st, rep = wait_for(503)
            self.assertEqual(st, 503, rep)
            self.assertFalse(rep["ready"])
            self.assertNotEqual(rep["checks"]["store"], "ok")
            self.assertEqual(rep["checks"]["log"], "ok")
            db.restart()
            st, rep = wait_for(200, timeout=60)
            self.assertEqual(st, 200, rep)
            self.assertEqual(rep["checks"]["store"], "ok")
        finally:
            if s:
                s.cleanup()
            db.stop()
