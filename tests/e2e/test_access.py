"""Scoped keys (issue 18, item 5): ingest, read and admin keys.

With a read key set, every read route (pages, assets, /api/*, the live
stream) refuses a missing or wrong key (401, FastAPI-shape JSON and
WWW-Authenticate: Bearer for tools; a small sign-in page for browsers) and
answers with a read or admin key, sent as a bearer header or through the
session cookie that the sign-in form sets. /healthz, /readyz, /metrics,
/openapi.json and /docs stay open. The ingest key cannot read, a read key
cannot ingest, a read key cannot write (403). Keys never reach the logs or
`salesflow config`. SIGHUP re-reads the read keys. Listening beyond loopback
without a read key logs one warning line."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from harness import BIN, REPO, Server, free_port

GOOD = {"customer_id": 3, "source": "Dine In", "quantity": 7}
READ_ROUTES = ["/", "/app.js", "/style.css", "/echarts.min.js", "/api/sales",
               "/api/sales/minute", "/api/sales/second", "/api/orders", "/api/pipeline",
               "/api/query?metric=revenue&by=source",
               "/api/query?metric=orders&by=day&format=csv", "/api/charts",
               "/api/sales?from=2026-12-01T00:00:00Z"]
OPEN_ROUTES = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]
KEYS = ("ingest-key-1", "read-key-flag", "read-key-file-1", "read-key-env",
        "admin-key-1", "no-such-key")


def bearer(key):
    return {"Authorization": "Bearer " + key}


class AccessTest(unittest.TestCase):
    def setUp(self):
        self.s = Server()
        os.makedirs(self.s.tmp, exist_ok=True)
        self.keyfile = os.path.join(self.s.tmp, "read-keys")
        with open(self.keyfile, "w") as f:
            f.write("# read keys\nread-key-file-1\n")
        # Each route is tried with a wrong key: more than --auth-fail-limit's
        # default lets one address send (test_auth_limit tests the limit).
        self.s.extra = ["--api-key", "ingest-key-1", "--read-key", "read-key-flag",
                        "--read-key-file", self.keyfile, "--auth-fail-limit", "1000/1m"]
        os.environ["SALESFLOW_READ_KEYS"] = "read-key-env"
        os.environ["SALESFLOW_ADMIN_KEYS"] = "admin-key-1"
        try:
            self.s.start()
        finally:
            del os.environ["SALESFLOW_READ_KEYS"]
            del os.environ["SALESFLOW_ADMIN_KEYS"]

    def tearDown(self):
        self.s.cleanup()

    def req(self, method, path, headers=None, body=None):
        return self.s.request(method, path, body, headers or {})

    def sign_in(self, key, nxt="/", headers=None):
        body = urllib.parse.urlencode({"key": key, "next": nxt}).encode()
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.req("POST", "/signin", h, body)

    def cookie_of(self, headers):
        sc = headers.get("Set-Cookie", "")
        m = re.match(r"([A-Za-z_]+)=([^;]*)", sc)
        self.assertTrue(m, sc)
        return m.group(1) + "=" + m.group(2)

    def test_read_routes_need_a_read_key(self):
        for path in READ_ROUTES:
            st, body, h = self.req("GET", path)
            self.assertEqual(st, 401, path)
            self.assertIn("Bearer", h.get("WWW-Authenticate", ""), path)
            self.assertIn("detail", json.loads(body), path)
            st, body, _ = self.req("GET", path, bearer("no-such-key"))
            self.assertEqual(st, 401, path)
            self.assertNotIn(b"no-such-key", body)
            st, body, _ = self.req("GET", path, bearer("ingest-key-1"))
            self.assertEqual(st, 403, (path, body))      # the ingest key cannot read
            for key in ("read-key-flag", "read-key-file-1", "read-key-env",
                        "admin-key-1"):
                st, _, _ = self.req("GET", path, bearer(key))
                self.assertEqual(st, 200, (path, key))
            st, _, _ = self.req("HEAD", path)
            self.assertEqual(st, 401, path)
        for path in OPEN_ROUTES:       # /readyz may still be 503 here
            self.assertIn(self.req("GET", path)[0], (200, 503), path)

    def test_ingest_and_read_keys_are_disjoint(self):
        h = {"Content-Type": "application/json"}
        for key in ("read-key-flag", "admin-key-1"):
            st, body, _ = self.req("POST", "/orderitem", dict(h, **bearer(key)),
                                   json.dumps(GOOD).encode())
            self.assertEqual(st, 403, (key, body))
            self.assertNotIn(key.encode(), body)
        st, _, _ = self.req("POST", "/orderitem", dict(h, **bearer("ingest-key-1")),
                            json.dumps(GOOD).encode())
        self.assertEqual(st, 201)
        st, _, _ = self.req("POST", "/orderitem", h, json.dumps(GOOD).encode())
        self.assertEqual(st, 401)

    def test_browser_gets_sign_in_page(self):
        st, body, h = self.req("GET", "/", {"Accept": "text/html,application/xhtml+xml"})
        self.assertEqual(st, 401)
        self.assertTrue(h["Content-Type"].startswith("text/html"), h)
        self.assertIn(b'action="/signin"', body)
        self.assertIn(b'method="post"', body)
        self.assertNotIn("Set-Cookie", h)
        st, body, h = self.req("GET", "/signin?next=/api/sales")
        self.assertEqual(st, 200)
        self.assertIn(b'value="/api/sales"', body)

    def test_sign_in_cookie_and_sign_out(self):
        for bad in ("no-such-key", "ingest-key-1", ""):
            st, body, h = self.sign_in(bad)
            self.assertEqual(st, 401, bad)
            self.assertNotIn("Set-Cookie", h)
            self.assertIn(b"<form", body)
            if bad:
                self.assertNotIn(bad.encode(), body)
        # another site's form: refused before the key is looked at; another
        # port of this host is another site too
        for origin in ("http://evil.example", "http://127.0.0.1:9",
                       "http://localhost:%d" % (self.s.port + 1)):
            st, _, h = self.sign_in("read-key-flag", headers={"Origin": origin})
            self.assertEqual(st, 403, origin)
            self.assertNotIn("Set-Cookie", h)
            st, _, h = self.req("POST", "/signout", {"Origin": origin}, b"")
            self.assertEqual(st, 403, origin)

        st, _, h = self.sign_in("read-key-flag", "/api/sales")
        self.assertEqual(st, 303)
        self.assertEqual(h["Location"], "/api/sales")
        sc = h["Set-Cookie"]
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attr, sc)
        self.assertNotIn("Secure", sc)          # plain HTTP
        self.assertNotIn("read-key-flag", sc)   # a session token, not the key
        cookie = self.cookie_of(h)
        for path in READ_ROUTES:
            self.assertEqual(self.req("GET", path, {"Cookie": cookie})[0], 200, path)
        # other cookies beside ours are fine; a forged token is not
        self.assertEqual(self.req("GET", "/api/sales",
                                  {"Cookie": "a=b; " + cookie + "; c=d"})[0], 200)
        name, _, tok = cookie.partition("=")
        forged = name + "=" + tok[:-4] + ("0000" if tok[-4:] != "0000" else "1111")
        self.assertEqual(self.req("GET", "/api/sales", {"Cookie": forged})[0], 401)
        # a wrong bearer header is not rescued by a good cookie
        st, _, _ = self.req("GET", "/api/sales",
                            dict(bearer("no-such-key"), Cookie=cookie))
        self.assertEqual(st, 401)

        # no open redirect
        st, _, h = self.sign_in("read-key-flag", "//evil.example/x")
        self.assertEqual((st, h["Location"]), (303, "/"))
        # behind a TLS proxy the cookie is Secure
        st, _, h = self.sign_in("read-key-flag", headers={"X-Forwarded-Proto": "https"})
        self.assertEqual(st, 303)
        self.assertIn("Secure", h["Set-Cookie"])

        # sign-out ends the session and clears the cookie
        st, _, h = self.req("POST", "/signout", {"Cookie": cookie})
        self.assertEqual(st, 303)
        self.assertIn("Max-Age=0", h["Set-Cookie"])
        self.assertEqual(self.req("GET", "/api/sales", {"Cookie": cookie})[0], 401)
        self.assertEqual(self.req("GET", "/signout")[0], 200)   # a page with a button

        # nothing of it in the log
        err = self.s.stderr()
        for k in KEYS:
            self.assertNotIn(k, err)
        self.assertNotIn(tok, err)

    def stream_status(self, headers):
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        try:
            c.request("GET", "/api/stream", headers=dict(headers,
                                                         Accept="text/event-stream"))
            r = c.getresponse()
            first = r.fp.readline() if r.status == 200 else r.read()
            return r.status, r.getheader("Content-Type"), first
        finally:
            c.close()

    def test_stream_with_bearer_and_cookie(self):
        st, _, body = self.stream_status({})
        self.assertEqual(st, 401)
        self.assertIn(b"detail", body)
        st, ctype, _ = self.stream_status(bearer("read-key-env"))
        self.assertEqual((st, ctype), (200, "text/event-stream"))
        _, _, h = self.sign_in("admin-key-1")
        st, ctype, _ = self.stream_status({"Cookie": self.cookie_of(h)})
        self.assertEqual((st, ctype), (200, "text/event-stream"))

    def test_admin_scope_for_writes(self):
        """Saving and removing a chart takes an admin key: a read key (as a
        bearer or a session) gets 403, the ingest key 403, none 401."""
        chart = json.dumps({"name": "by source", "definition": {
            "metric": "revenue", "by": ["source"], "type": "bar"}}).encode()
        h = {"Content-Type": "application/json"}
        _, _, sh = self.sign_in("read-key-flag")
        for extra, want in ((bearer("read-key-flag"), 403), ({"Cookie": self.cookie_of(sh)},
                            403), (bearer("ingest-key-1"), 403), ({}, 401)):
            st, body, _ = self.req("POST", "/api/charts", dict(h, **extra), chart)
            self.assertEqual(st, want, (extra, body))
        self.assertEqual(json.loads(self.req("GET", "/api/charts", bearer("read-key-env"))[1])
                         ["charts"], [])
        st, body, _ = self.req("POST", "/api/charts", dict(h, **bearer("admin-key-1")), chart)
        self.assertEqual(st, 201, body)
        cid = json.loads(body)["id"]
        st, _, _ = self.req("DELETE", "/api/charts/%s" % cid, bearer("read-key-flag"))
        self.assertEqual(st, 403)
        st, _, _ = self.req("DELETE", "/api/charts/%s" % cid, bearer("admin-key-1"))
        self.assertIn(st, (200, 204))
        self.assertEqual(json.loads(self.req("GET", "/api/charts", bearer("admin-key-1"))[1])
                         ["charts"], [])

    def hup(self, lines):
        n = self.s.stderr().count("SIGHUP:")
        self.s.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while self.s.stderr().count("SIGHUP:") < n + lines:
            if time.time() > deadline:
                self.fail("no SIGHUP reload logged:\n" + self.s.stderr())
            time.sleep(0.05)

    def test_sighup_reloads_read_keys(self):
        _, _, h = self.sign_in("read-key-file-1")
        cookie = self.cookie_of(h)
        self.assertEqual(self.req("GET", "/api/sales", {"Cookie": cookie})[0], 200)
        with open(self.keyfile, "w") as f:
            f.write("read-key-file-2\n")
        self.hup(4)     # customers, API keys, read keys, admin keys
        self.assertIn("read keys in force", self.s.stderr())
        self.assertEqual(self.req("GET", "/api/sales", bearer("read-key-file-1"))[0], 401)
        self.assertEqual(self.req("GET", "/api/sales", bearer("read-key-file-2"))[0], 200)
        self.assertEqual(self.req("GET", "/api/sales", bearer("read-key-flag"))[0], 200)
        # the session of a revoked key ends with it
        self.assertEqual(self.req("GET", "/api/sales", {"Cookie": cookie})[0], 401)
        # for good: the key back in force does not bring the session back,
        # whether a request came while it was out (above) or not (below)
        _, _, h = self.sign_in("read-key-file-2")
        cookie2 = self.cookie_of(h)
        with open(self.keyfile, "w") as f:
            f.write("read-key-file-1\n")
        self.hup(4)
        with open(self.keyfile, "w") as f:
            f.write("read-key-file-1\nread-key-file-2\n")
        self.hup(4)
        self.assertEqual(self.req("GET", "/api/sales", bearer("read-key-file-1"))[0], 200)
        self.assertEqual(self.req("GET", "/api/sales", {"Cookie": cookie})[0], 401)
        self.assertEqual(self.req("GET", "/api/sales", {"Cookie": cookie2})[0], 401)
        with open(self.keyfile, "w") as f:
            f.write("read-key-file-2\n")
        # a broken file keeps the keys in force
        os.unlink(self.keyfile)
        self.hup(4)
        self.assertIn("read keys not reloaded", self.s.stderr())
        self.assertEqual(self.req("GET", "/api/sales", bearer("read-key-file-2"))[0], 200)
        err = self.s.stderr()
        for k in KEYS + ("read-key-file-2",):
            self.assertNotIn(k, err)


class KeyFileModeTest(unittest.TestCase):
    """A key file every user can read leaks its keys, and one every user
    (or the group) can write lets them add a key of their own, in force at
    the next SIGHUP: said at start, as for a config file holding a secret
    (outside review)."""

    def test_open_key_files_are_named(self):
        s = Server()
        os.makedirs(s.tmp, exist_ok=True)
        files = {}
        for scope, mode in (("api", 0o644), ("read", 0o600), ("admin", 0o620)):
            files[scope] = os.path.join(s.tmp, scope + "-keys")
            with open(files[scope], "w") as f:
                f.write("%s-key-from-file\n" % scope)
            os.chmod(files[scope], mode)
        s.extra = ["--api-key-file", files["api"], "--read-key-file", files["read"],
                   "--admin-key-file", files["admin"]]
        try:
            s.start()
            err = s.stderr()
            self.assertIn("API key file %s can be read by every user" % files["api"], err)
            self.assertIn("admin key file %s can be changed by other users" % files["admin"],
                          err)
            self.assertIn("chmod 0600 %s" % files["admin"], err)
            self.assertNotIn(files["read"], err)
            self.assertNotIn("key-from-file", err)
        finally:
            s.cleanup()


class SessionExpiryTest(unittest.TestCase):
    def test_cookie_expires(self):
        s = Server(extra=["--read-key", "rk-1", "--session-ttl", "1s"]).start()
        try:
            body = urllib.parse.urlencode({"key": "rk-1"}).encode()
            st, _, h = s.request("POST", "/signin", body,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(st, 303)
            self.assertIn("Max-Age=1", h["Set-Cookie"])
            cookie = h["Set-Cookie"].split(";")[0]
            self.assertEqual(s.request("GET", "/api/sales", None,
                                       {"Cookie": cookie})[0], 200)
            time.sleep(1.5)
            self.assertEqual(s.request("GET", "/api/sales", None,
                                       {"Cookie": cookie})[0], 401)
        finally:
            s.cleanup()


class NoReadKeyTest(unittest.TestCase):
    def start(self, listen_host, extra=()):
        tmp = tempfile.mkdtemp(prefix="sf-e2e-")
        port = free_port()
        p = subprocess.Popen([BIN, "run", "--listen", "%s:%d" % (listen_host, port),
                              "--data", os.path.join(tmp, "data"), *extra],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=20)
        return err

    def test_warning_beyond_loopback(self):
        err = self.start("0.0.0.0")
        lines = [ln for ln in err.splitlines() if "level=warn" in ln]
        self.assertEqual(len(lines), 1, err)
        self.assertIn("no read key", lines[0])
        self.assertIn("0.0.0.0", lines[0])
        err = self.start("0.0.0.0", ["--read-key", "rk-1"])
        self.assertNotIn("level=warn", err)
        self.assertNotIn("rk-1", err)
        err = self.start("127.0.0.1")
        self.assertNotIn("level=warn", err)

    def test_without_read_key_everything_stays_open(self):
        s = Server().start()
        try:
            for path in READ_ROUTES + OPEN_ROUTES:
                self.assertIn(s.get(path)[0], (200, 503), path)
            self.assertEqual(s.get("/signin")[0], 404)
        finally:
            s.cleanup()


class KeyMistakesTest(unittest.TestCase):
    """Key settings that would lock everyone out, or blur the scopes, are
    refused at start with a message naming the setting."""

    def start(self, *args):
        tmp = tempfile.mkdtemp(prefix="sf-keys-")
        try:
            return subprocess.run([BIN, "run", "--listen", "127.0.0.1:%d" % free_port(),
                                   "--data", os.path.join(tmp, "d")] + list(args),
                                  cwd=REPO, capture_output=True, text=True, timeout=30)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_key_file_without_keys(self):
        tmp = tempfile.mkdtemp(prefix="sf-keyfile-")
        try:
            empty = os.path.join(tmp, "empty")
            comments = os.path.join(tmp, "comments")
            open(empty, "w").close()
            with open(comments, "w") as f:
                f.write("# nothing yet\n\n")
            for flag in ("--read-key-file", "--admin-key-file", "--api-key-file"):
                for path, words in ((empty, "no keys"), (comments, "no keys"),
                                    (tmp, "Is a directory"),
                                    (os.path.join(tmp, "missing"), "No such file")):
                    with self.subTest(flag=flag, path=path):
                        r = self.start(flag, path)
                        self.assertNotEqual(r.returncode, 0, r.stderr)
                        self.assertIn(words, r.stderr)
                        self.assertIn(path, r.stderr)
                        self.assertNotIn('msg=""', r.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_one_key_in_two_scopes(self):
        for args in (["--read-key", "same-key-1", "--api-key", "same-key-1"],
                     ["--read-key", "same-key-1", "--admin-key", "same-key-1"],
                     ["--api-keys", "a-key-1,same-key-1", "--admin-keys", "same-key-1"]):
            with self.subTest(args=args):
                r = self.start(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("more than one scope", r.stderr)
                self.assertNotIn("same-key-1", r.stderr)   # keys are never logged

    def test_empty_key_names_its_flag(self):
        r = self.start("--read-key", "")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--read-key", r.stderr)
        self.assertNotIn("--api-key-file", r.stderr)
        r = self.start("--read-keys", "a-key-1,,b-key-2")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--read-keys", r.stderr)


class ConfigTest(unittest.TestCase):
    def test_keys_masked_in_config(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("SALESFLOW_")}
        e["SALESFLOW_ADMIN_KEYS"] = "admin-secret-1,admin-secret-2"
        r = subprocess.run([BIN, "config", "run", "--read-key", "read-secret-1",
                            "--read-keys", "read-secret-2", "--admin-key",
                            "admin-secret-3", "--session-ttl", "2h"],
                           capture_output=True, text=True, env=e, cwd=REPO, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        for k in ("read-secret-1", "read-secret-2", "admin-secret-1", "admin-secret-3"):
            self.assertNotIn(k, r.stdout + r.stderr)
        self.assertIn("SALESFLOW_READ_KEY=***", r.stdout)
        self.assertIn("SALESFLOW_ADMIN_KEYS=***", r.stdout)
        self.assertIn("SALESFLOW_SESSION_TTL=2h", r.stdout)
        # at least a second, at most a year (a far expiry overflowed: every
        # session was dead on arrival)
        for ttl in ("0s", "9223372036854775807ms", "400d"):
            r = subprocess.run([BIN, "config", "run", "--session-ttl", ttl],
                               capture_output=True, text=True, env=e, cwd=REPO, timeout=30)
            self.assertEqual(r.returncode, 2, ttl)
            self.assertIn("--session-ttl", r.stderr)
        r = subprocess.run([BIN, "config", "run", "--read-keys", "a b"],
                           capture_output=True, text=True, env=e, cwd=REPO, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--read-keys", r.stderr)
        r = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True,
                           cwd=REPO, timeout=30)
        for flag in ("--read-key ", "--read-keys", "--read-key-file", "--admin-key ",
                     "--admin-keys", "--admin-key-file", "--session-ttl"):
            self.assertIn(flag, r.stdout)

    def test_read_keys_in_config_file_reload(self):
        tmp = tempfile.mkdtemp(prefix="sf-e2e-")
        conf = os.path.join(tmp, "salesflow.conf")
        with open(conf, "w") as f:
            f.write("SALESFLOW_READ_KEYS=cf-old,cf-keep\nSALESFLOW_ADMIN_KEYS=cf-admin\n")
        os.chmod(conf, 0o600)
        s = Server(extra=["--config", conf]).start()
        try:
            def st(key):
                return s.request("GET", "/api/sales", None, bearer(key))[0]
            self.assertEqual((st("cf-old"), st("cf-keep"), st("cf-admin")), (200, 200, 200))
            with open(conf, "w") as f:
                f.write("SALESFLOW_READ_KEYS=cf-keep,cf-new\nSALESFLOW_ADMIN_KEYS=cf-admin\n")
            n = s.stderr().count("SIGHUP:")
            s.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while s.stderr().count("SIGHUP:") < n + 3:  # customers, read, admin
                self.assertLess(time.time(), deadline, s.stderr())
                time.sleep(0.05)
            self.assertEqual((st("cf-old"), st("cf-keep"), st("cf-new")), (401, 200, 200))
            self.assertIn("2 read keys in force", s.stderr())
            for k in ("cf-old", "cf-keep", "cf-new", "cf-admin"):
                self.assertNotIn(k, s.stderr())
        finally:
            s.cleanup()

    def test_keys_added_to_the_config_file_need_a_restart(self):
        """Keys of a kind salesflow started without (read, API) added to the
        config file: SIGHUP cannot start asking for them, and says so
        instead of leaving the dashboard open in silence."""
        tmp = tempfile.mkdtemp(prefix="sf-e2e-")
        conf = os.path.join(tmp, "salesflow.conf")
        with open(conf, "w") as f:
            f.write("SALESFLOW_ADMIN_KEYS=cf-admin\n")
        os.chmod(conf, 0o600)
        s = Server(extra=["--config", conf]).start()
        try:
            with open(conf, "w") as f:
                f.write("SALESFLOW_ADMIN_KEYS=cf-admin\nSALESFLOW_READ_KEYS=cf-read\n"
                        "SALESFLOW_API_KEYS=cf-ingest\n")
            s.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while s.stderr().count("restart salesflow") < 2:
                self.assertLess(time.time(), deadline, s.stderr())
                time.sleep(0.05)
            err = s.stderr()
            self.assertIn("SALESFLOW_READ_KEYS", err)
            self.assertIn("SALESFLOW_API_KEYS", err)
            for k in ("cf-read", "cf-ingest", "cf-admin"):
                self.assertNotIn(k, err)
        finally:
            s.cleanup()

    def test_serve_takes_read_keys(self):
        s = Server().start()
        s.stop()
        port = free_port()
        keyfile = os.path.join(s.tmp, "serve-keys")
        with open(keyfile, "w") as f:
            f.write("serve-file-1\n")
        p = subprocess.Popen([BIN, "serve", "--store", "sqlite:" + s.db_path, "--listen",
                              "127.0.0.1:%d" % port, "--read-key", "serve-rk",
                              "--read-key-file", keyfile],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)

        def get(key=None):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/api/sales", headers=bearer(key) if key else {})
            return c.getresponse().status
        try:
            deadline, st = time.time() + 15, None
            while time.time() < deadline and st != 200:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    c.request("GET", "/healthz")
                    st = c.getresponse().status
                except OSError:
                    time.sleep(0.05)
            self.assertEqual(get(), 401)
            self.assertEqual(get("serve-rk"), 200)
            self.assertEqual(get("serve-file-1"), 200)
            # serve re-reads its key file on SIGHUP (and keeps running)
            with open(keyfile, "w") as f:
                f.write("serve-file-2\n")
            p.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while get("serve-file-1") != 401:
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            self.assertEqual(get("serve-file-2"), 200)
            self.assertIsNone(p.poll())
        finally:
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=20)
            s.cleanup()
        self.assertNotIn("serve-rk", err)


if __name__ == "__main__":
    unittest.main()
