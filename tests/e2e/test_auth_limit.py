"""Failed key checks are rate-limited per client address and logged without
the key (docs/api.md, "Failed keys").

With keys set, every failed check — a wrong POST /signin, a wrong or
malformed Authorization: Bearer on a read route (pages, /api/*, the stream,
CSV) or on an ingestion route (the fast path's /orderitem and /v1/orders) —
counts against the client's address (an IPv4 address; an IPv6 /64). After
--auth-fail-limit N/AGE of them within AGE, every request from that address
that carries a key (right or wrong) gets 429 with Retry-After for AGE: JSON
{"detail": …} for tools, the sign-in page with a line saying so for a
browser's sign-in. Other addresses are not affected. Each refusal is logged
at most once per address per window (plus one summary line "N more
refused"), never with the key; refusals are counted on /metrics. The table
of addresses is bounded: many source addresses (127.x.y.z, all loopback)
neither grow memory nor the log.
"""

import json
import re
import socket
import threading
import time
import unittest
import urllib.parse

from harness import Server, run_cli, split_replies, vm_rss_kb

READ = "limit-read-key-0001"
INGEST = "limit-ingest-key-0001"
GUESS = "sekrit-guess-%d"       # the wrong keys: never in the log
GOOD = {"customer_id": 3, "source": "Dine In", "quantity": 7}
LIMIT, WINDOW = 5, 3



class AuthLimitTest(unittest.TestCase):
    def setUp(self):
        self.s = Server(extra=["--read-key", READ, "--api-key", INGEST,
                               "--auth-fail-limit", "%d/%ds" % (LIMIT, WINDOW)])
        self.s.start()

    def tearDown(self):
        self.s.cleanup()

    def req(self, src, method, path, headers=None, body=None):
        return self.s.request(method, path, body=body, headers=headers, source=src)

    def sign_in(self, src, key):
        body = urllib.parse.urlencode({"key": key, "next": "/"}).encode()
        return self.req(src, "POST", "/signin",
                        {"Content-Type": "application/x-www-form-urlencoded",
                         "Accept": "text/html"}, body)

    def bearer_get(self, src, key, path="/api/sales"):
        return self.req(src, "GET", path, {"Authorization": "Bearer " + key})

    def ingest(self, src, key, path="/orderitem", body=GOOD):
        return self.req(src, "POST", path, {"Content-Type": "application/json",
                                            "Authorization": "Bearer " + key},
                        json.dumps(body).encode())

    def metric(self, name):
        st, body, _ = self.req("127.0.0.1", "GET", "/metrics")
        self.assertEqual(st, 200)
        m = re.search(r"^%s (\d+)$" % re.escape(name), body.decode(), re.M)
        return int(m.group(1)) if m else None

    def log_lines(self, addr):
        return [l for l in self.s.stderr().splitlines()
                if re.search(r"\b%s\b" % re.escape(addr), l)]

    def assert_429_json(self, st, body, h):
        self.assertEqual(st, 429, body)
        wait = int(h["Retry-After"])
        self.assertTrue(1 <= wait <= WINDOW, wait)
        detail = json.loads(body)["detail"]
        self.assertIn("Too many failed", detail)
        self.assertIn("%d s" % wait, detail)

    def test_wrong_sign_ins_then_429_until_the_window_passes(self):
        src = "127.0.0.2"
        # A browser signed in before from the same address keeps its session.
        st, _, h = self.sign_in(src, READ)
        self.assertEqual(st, 303)
        cookie = h["Set-Cookie"].split(";")[0]
        for i in range(LIMIT):
            st, body, h = self.sign_in(src, GUESS % i)
            self.assertEqual(st, 401, body)
            self.assertNotIn("Set-Cookie", h)
        st, body, h = self.sign_in(src, GUESS % 99)
        self.assertEqual(st, 429, body)
        self.assertTrue(h["Content-Type"].startswith("text/html"), h)
        wait = int(h["Retry-After"])
        self.assertTrue(1 <= wait <= WINDOW, wait)
        self.assertIn(b"Too many failed sign-ins", body)
        self.assertIn(b"<form", body)
        self.assertNotIn(b"sekrit", body)
        # The right key is refused too while limited: guessing cannot go on.
        st, body, h = self.sign_in(src, READ)
        self.assertEqual(st, 429, body)
        self.assertNotIn("Set-Cookie", h)
        self.assert_429_json(*self.bearer_get(src, READ))
        self.assertEqual(self.req(src, "GET", "/api/sales", {"Cookie": cookie})[0], 200)
        # The sign-in page says so while it lasts; a browser's page request
        # without a key still gets the form (no key is no guess).
        st, body, _ = self.req(src, "GET", "/signin")
        self.assertEqual(st, 200)
        self.assertIn(b"Too many failed sign-ins", body)
        st, body, _ = self.req(src, "GET", "/", {"Accept": "text/html"})
        self.assertEqual(st, 401)
        self.assertIn(b"Too many failed sign-ins", body)
        # Another address is not affected.
        st, _, h = self.sign_in("127.0.0.3", READ)
        self.assertEqual(st, 303)
        self.assertIn("Set-Cookie", h)
        self.assertEqual(self.bearer_get("127.0.0.1", READ)[0], 200)
        self.assertEqual(self.bearer_get("127.0.0.3", "wrong")[0], 401)
        # Past the window the address may sign in again.
        time.sleep(wait + 0.3)
        st, _, h = self.sign_in(src, READ)
        self.assertEqual(st, 303)
        self.assertIn("salesflow_session=", h["Set-Cookie"])
        self.assertEqual(self.bearer_get(src, READ)[0], 200)

    def test_wrong_bearer_keys_count_on_both_paths(self):
        src = "127.0.0.4"
        self.assertEqual(self.bearer_get(src, "wrong-1")[0], 401)
        self.assertEqual(self.bearer_get(src, "wrong-2", "/api/query?metric=orders"
                                         "&by=day&format=csv")[0], 401)
        self.assertEqual(self.req(src, "GET", "/api/stream",
                                  {"Authorization": "Basic d3Jvbmc="})[0], 401)
        self.assertEqual(self.ingest(src, "wrong-3")[0], 401)             # fast path
        self.assertEqual(self.ingest(src, "wrong-4", "/v1/orders", [GOOD])[0], 401)
        # Limited now, on every route that checks a key, whichever path
        # serves it, and with the right keys too.
        self.assert_429_json(*self.ingest(src, INGEST))
        self.assert_429_json(*self.ingest(src, INGEST, "/v1/orders", [GOOD]))
        self.assert_429_json(*self.bearer_get(src, READ))
        self.assert_429_json(*self.bearer_get(src, READ, "/"))
        # The fast path answers the same bytes as libmicrohttpd would.
        raw = ("POST /orderitem HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer "
               "%s\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n"
               % (self.s.port, INGEST)).encode()
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10,
                                      source_address=(src, 0)) as c:
            c.sendall(raw * 2)          # kept alive: both answered on one connection
            got = b""
            while got.count(b"HTTP/1.1 ") < 2 or not split_replies(got)[-1][2]:
                chunk = c.recv(65536)
                if not chunk:
                    break
                got += chunk
        replies = split_replies(got)
        self.assertEqual([r[0] for r in replies], [429, 429], got)
        self.assertIn("retry-after", replies[0][1])
        # Open routes stay open, and other addresses ingest and read.
        self.assertEqual(self.req(src, "GET", "/healthz")[0], 200)
        self.assertEqual(self.ingest("127.0.0.1", INGEST)[0], 201)
        self.assertEqual(self.bearer_get("127.0.0.1", READ)[0], 200)
        self.assertGreaterEqual(
            self.metric('salesflow_auth_refused_total{reason="wrong_key"}'), 4)
        self.assertGreaterEqual(
            self.metric('salesflow_auth_refused_total{reason="no_key"}'), 1)
        self.assertGreaterEqual(
            self.metric('salesflow_auth_refused_total{reason="rate_limited"}'), 6)

    def test_no_key_counts_what_it_says(self):
        """reason="no_key" counts an Authorization header that carries no
        bearer key; a request with no Authorization header at all (a
        browser before sign-in) is not a refused key, and /metrics' help
        says so."""
        name = 'salesflow_auth_refused_total{reason="no_key"}'
        before = self.metric(name)
        self.assertEqual(self.req("127.0.0.2", "GET", "/api/sales")[0], 401)
        self.assertEqual(self.metric(name), before)
        self.assertEqual(self.req("127.0.0.2", "GET", "/api/sales",
                                  {"Authorization": "Basic eDp5"})[0], 401)
        self.assertEqual(self.metric(name), before + 1)
        self.assertEqual(self.req("127.0.0.2", "GET", "/api/sales",
                                  {"Authorization": "Bearer"})[0], 401)
        self.assertEqual(self.metric(name), before + 2)
        st, body, _ = self.req("127.0.0.1", "GET", "/metrics")
        help_line = [l for l in body.decode().splitlines()
                     if l.startswith("# HELP salesflow_auth_refused_total")][0]
        self.assertIn("no Authorization header", help_line)

    def test_log_bounded_under_a_flood_and_never_holds_a_key(self):
        src = "127.0.0.5"
        good = []
        stop = threading.Event()

        def legit():        # an unaffected client keeps working meanwhile
            while not stop.is_set():
                good.append(self.ingest("127.0.0.1", INGEST)[0])
                good.append(self.bearer_get("127.0.0.1", READ)[0])
        t = threading.Thread(target=legit)
        t.start()
        try:
            n = 5000
            head = ("POST /orderitem HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: "
                    "Bearer %s\r\nContent-Type: application/json\r\n"
                    "Content-Length: 0\r\n\r\n")
            statuses = []
            with socket.create_connection(("127.0.0.1", self.s.port), timeout=30,
                                          source_address=(src, 0)) as c:
                for k in range(0, n, 100):
                    c.sendall(b"".join((head % (self.s.port, GUESS % i)).encode()
                                       for i in range(k, k + 100)))
                    got = b""
                    while got.count(b"HTTP/1.1 ") < 100 or \
                            len(split_replies(got)) < 100:
                        chunk = c.recv(1 << 20)
                        self.assertTrue(chunk, "connection closed")
                        got += chunk
                    statuses += [r[0] for r in split_replies(got)]
            for i in range(20):
                statuses.append(self.sign_in(src, GUESS % i)[0])
        finally:
            stop.set()
            t.join()
        self.assertEqual(statuses[:LIMIT], [401] * LIMIT)
        self.assertEqual(set(statuses[LIMIT:]), {429})
        self.assertTrue(good)
        self.assertEqual(set(good), {200, 201})
        # Past the window, summary lines say how many were not logged one by
        # one: with the lines that were, every refusal is accounted for.
        total = len(statuses)

        def accounted():
            lines = self.log_lines(src)
            one = [l for l in lines if re.search(r"refused \S+ \S+ from %s: " % src, l)]
            more = sum(int(m.group(1)) for l in lines
                       for m in [re.search(r"(\d+) more refused from %s" % src, l)] if m)
            return len(one) + more
        deadline = time.time() + WINDOW + 5
        while accounted() < total:
            self.assertLess(time.time(), deadline, self.log_lines(src))
            time.sleep(0.2)
        self.assertEqual(accounted(), total)
        lines = self.log_lines(src)
        self.assertLessEqual(len(lines), 12, "\n".join(lines))
        self.assertTrue(any("POST /orderitem" in l and "wrong key" in l for l in lines),
                        lines)
        err = self.s.stderr()
        self.assertNotIn("sekrit", err)
        self.assertNotIn("guess", err)
        self.assertNotIn(READ, err)
        self.assertNotIn(INGEST, err)

    def test_many_addresses_bounded_memory_and_log(self):
        # Warm up what a first request allocates, then measure.
        self.assertEqual(self.bearer_get("127.0.0.1", READ)[0], 200)
        self.assertEqual(self.ingest("127.0.0.1", INGEST)[0], 201)
        rss0 = vm_rss_kb(self.s.proc.pid)
        head = ("POST /orderitem HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: "
                "Bearer wrong\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                % self.s.port).encode()
        n = 0
        t0 = time.time()
        for x in range(1, 48):
            for y in range(1, 255):
                with socket.create_connection(("127.0.0.1", self.s.port), timeout=10,
                                              source_address=("127.1.%d.%d" % (x, y), 0)) \
                        as c:
                    c.sendall(head)
                    got = b""
                    while True:
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        got += chunk
                    self.assertTrue(got.startswith(b"HTTP/1.1 401"), got[:100])
                n += 1
        self.assertGreater(n, 8192 + 3000)      # more than the table holds
        tracked = self.metric("salesflow_auth_tracked_addresses")
        self.assertIsNotNone(tracked)
        self.assertGreater(tracked, 0)
        self.assertLessEqual(tracked, 8192)
        self.assertEqual(self.metric('salesflow_auth_refused_total{reason="wrong_key"}'),
                         n)
        grown = vm_rss_kb(self.s.proc.pid) - rss0
        self.assertLess(grown, 8 * 1024, "RSS grew by %d KiB" % grown)
        # At most 60 lines a minute about refused keys, whatever the addresses.
        minutes = int(time.time() - t0) // 60 + 1
        lines = [l for l in self.s.stderr().splitlines() if "auth:" in l]
        self.assertLessEqual(len(lines), 62 * (minutes + 1), "\n".join(lines[-5:]))
        # The limit still works, and an unaffected address still gets in.
        for i in range(LIMIT):
            self.assertEqual(self.bearer_get("127.0.0.9", "wrong-%d" % i)[0], 401)
        self.assert_429_json(*self.bearer_get("127.0.0.9", READ))
        self.assertEqual(self.bearer_get("127.0.0.1", READ)[0], 200)
        self.assertEqual(self.ingest("127.0.0.1", INGEST)[0], 201)



class FlagTest(unittest.TestCase):
    def test_flag_takes_no_spaces_or_signs(self):
        """--auth-fail-limit is N/AGE exactly: a space before or after, or a
        sign, is the same clear error (a leading space was taken)."""
        for val in (" 10/1m", "10/1m ", "\t10/1m", "+10/1m", "-10/1m", "10 /1m", "10/ 1m"):
            r = run_cli("config", "run", "--auth-fail-limit", val)
            self.assertEqual(r.returncode, 2, (val, r.stdout))
            self.assertIn("expected N/AGE", r.stderr, val)
        r = run_cli("config", "run", "--auth-fail-limit", "10/1m")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
