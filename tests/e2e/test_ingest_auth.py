"""API keys: ingestion needs Authorization: Bearer KEY when keys are set
(from --api-key, SALESFLOW_API_KEYS and --api-key-file); missing and wrong
keys get 401 and leave no trace; the dashboard, query API and API docs stay
open; keys never reach the log output. SIGHUP re-reads the key file and the
customers file without dropping requests in flight."""

import http.client
import json
import os
import signal
import threading
import time
import unittest

from harness import Server, post_v1

GOOD = {"customer_id": 3, "source": "Dine In", "quantity": 7}


class IngestAuthTest(unittest.TestCase):
    def setUp(self):
        self.s = Server()
        os.makedirs(self.s.tmp, exist_ok=True)
        self.keyfile = os.path.join(self.s.tmp, "keys")
        self.customers = os.path.join(self.s.tmp, "customers.csv")
        with open(self.keyfile, "w") as f:
            f.write("# one key per line\nfile-key-1\n")
        with open(self.customers, "w") as f:
            f.write("customer_id,state\n1,CA\n2,TX\n3,NY\n")
        self.s.extra = ["--api-key", "flag-key", "--api-key-file", self.keyfile,
                        "--customers", self.customers]
        os.environ["SALESFLOW_API_KEYS"] = "env-key-1,env-key-2"
        try:
            self.s.start()
        finally:
            del os.environ["SALESFLOW_API_KEYS"]

    def tearDown(self):
        self.s.cleanup()

    def post(self, key, obj=GOOD, path="/orderitem"):
        h = {"Content-Type": "application/json"}
        if key is not None:
            h["Authorization"] = key if key.startswith(("Bearer", "Basic", "bearer")) \
                else "Bearer " + key
        status, data, headers = self.s.request("POST", path, json.dumps(obj).encode(), h)
        return status, json.loads(data), headers

    def hup(self):
        """SIGHUP and wait for the two reload lines (customers, keys)."""
        n = self.s.stderr().count("SIGHUP:")
        self.s.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while self.s.stderr().count("SIGHUP:") < n + 2:
            if time.time() > deadline:
                self.fail("no SIGHUP reload logged:\n" + self.s.stderr())
            time.sleep(0.05)

    def test_missing_wrong_and_right_keys(self):
        before = self.s.log_bytes()
        status, body, headers = self.post(None)
        self.assertEqual(status, 401)
        self.assertIn("Bearer", body["detail"])
        self.assertIn("Bearer", headers.get("WWW-Authenticate", ""))
        for bad in ("nope", "flag-ke", "flag-key-and-more", "Basic ZmxhZy1rZXk=",
                    "Bearer", "x" * 300):
            status, body, _ = self.post(bad)
            self.assertEqual(status, 401, bad)
            if bad != "Bearer":
                self.assertNotIn(bad, json.dumps(body))
        status, _, _ = self.post(None, [GOOD], "/v1/orders")
        self.assertEqual(status, 401)
        self.assertEqual(self.s.get("/v1/quarantine")[0], 401)
        self.assertEqual(self.s.log_bytes(), before)
        for good in ("flag-key", "file-key-1", "env-key-1", "env-key-2",
                     "bearer flag-key"):
            status, body, _ = self.post(good)
            self.assertEqual(status, 201, (good, body))
        status, body, _ = self.post("flag-key", [GOOD], "/v1/orders")
        self.assertEqual(status, 201, body)
        h = {"Authorization": "Bearer flag-key"}
        self.assertEqual(self.s.request("GET", "/v1/quarantine", None, h)[0], 200)
        # Reading stays open.
        for path in ("/api/sales", "/healthz", "/openapi.json", "/docs", "/"):
            self.assertEqual(self.s.get(path)[0], 200, path)
        # The keys are never logged.
        err = self.s.stderr()
        for k in ("flag-key", "file-key-1", "env-key-1", "nope"):
            self.assertNotIn(k, err)

    def test_sighup_reloads_keys_and_customers(self):
        self.assertEqual(self.post("file-key-1", dict(GOOD, customer_id=50))[0], 422)
        with open(self.keyfile, "w") as f:
            f.write("file-key-2\n")
        with open(self.customers, "w") as f:
            f.write("customer_id,state\n1,CA\n2,TX\n3,NY\n50,WA\n")

        # Requests keep flowing while the reload happens.
        stop = threading.Event()
        statuses = []

        def load():
            c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
            while not stop.is_set():
                c.request("POST", "/orderitem", json.dumps(GOOD),
                          {"Content-Type": "application/json",
                           "Authorization": "Bearer flag-key"})
                r = c.getresponse()
                r.read()
                statuses.append(r.status)
            c.close()
        t = threading.Thread(target=load)
        t.start()
        time.sleep(0.2)
        self.hup()
        time.sleep(0.2)
        stop.set()
        t.join()
        self.assertTrue(statuses)
        self.assertTrue(all(st == 201 for st in statuses), set(statuses))

        self.assertEqual(self.post("file-key-1")[0], 401)
        self.assertEqual(self.post("file-key-2")[0], 201)
        self.assertEqual(self.post("flag-key")[0], 201)     # flag keys stay
        status, body, _ = self.post("flag-key", dict(GOOD, customer_id=50))
        self.assertEqual(status, 201, body)
        self.s.wait_processed()
        self.assertEqual(self.s.query("SELECT state FROM orders WHERE customer_id = 50"),
                         [("WA",)])

        # A broken file is refused; the loaded data stays in force.
        with open(self.customers, "w") as f:
            f.write("customer_id,state\nnot-a-number,XX\n")
        os.unlink(self.keyfile)
        self.hup()
        self.assertIn("customers not reloaded", self.s.stderr())
        self.assertIn("API keys not reloaded", self.s.stderr())
        self.assertEqual(self.post("file-key-2", dict(GOOD, customer_id=50))[0], 201)


class IngestNoAuthTest(unittest.TestCase):
    def test_no_keys_no_auth(self):
        s = Server().start()
        try:
            status, r = post_v1(s, [GOOD], headers={"Authorization": "Bearer whatever"})
            self.assertEqual(status, 201, r)
            self.assertEqual(s.post_json("/orderitem", GOOD)[0], 201)
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
