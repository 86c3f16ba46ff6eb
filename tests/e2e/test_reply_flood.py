"""Per-row error replies cannot blow up the server's memory (issue 23, the
security review's item 1): a body of 100,000 `{}` rows (300 KB) used to get
a ~25 MB reply held in memory; 40 connections with a 2 KiB receive buffer
that send it and never read took the server from ~12 MB to 3.36 GB
resident, and a 9.9 MB array of invalid rows sent by eight such clients to
2.58 GB.

Checked on the real binary: the server's resident memory (VmRSS) stays
under 96 MB during such floods and after them, a normal client is still
answered meanwhile, and a reply names every row (rejected rows past the
first ones carry a short detail that points to GET /v1/quarantine)."""

import json
import os
import socket
import threading
import time
import unittest

from harness import Server, post_v1
from test_quarantine_flood import RSS_LIMIT_KB, RssWatch, rss_kb

GOOD = {"customer_id": 3, "source": "Dine In", "quantity": 1}


def never_reader(port, body, out):
    """Open a connection with a 2 KiB receive buffer, send body as a POST
    /v1/orders and never read; the socket goes to out."""
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    c.settimeout(30)
    try:
        c.connect(("127.0.0.1", port))
        c.sendall(b"POST /v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
    except OSError:
        pass
    out.append(c)


class ReplyFloodTest(unittest.TestCase):
    def setUp(self):
        self.s = Server().start()
        self.socks = []

    def tearDown(self):
        for c in self.socks:
            c.close()
        self.s.cleanup()

    def flood(self, body, clients, watch_s, during=None):
        pid = self.s.proc.pid
        with RssWatch(pid) as w:
            ts = [threading.Thread(target=never_reader,
                                   args=(self.s.port, body, self.socks))
                  for _ in range(clients)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(40)
            deadline = time.monotonic() + watch_s
            while time.monotonic() < deadline:
                time.sleep(0.5)
            # A normal client is still answered while the flood is held.
            status, r = post_v1(self.s, [GOOD])
            self.assertEqual(status, 201, r)
            if during:
                during()
        self.assertLess(w.peak, RSS_LIMIT_KB, "peak VmRSS %d KiB during the flood" % w.peak)
        for c in self.socks:
            c.close()
        self.socks = []
        time.sleep(2)
        after = rss_kb(pid)
        self.assertLess(after, RSS_LIMIT_KB, "VmRSS %d KiB after the flood" % after)
        status, r = post_v1(self.s, [GOOD])
        self.assertEqual(status, 201, r)

    def test_empty_rows_40_clients(self):
        body = b"[" + b",".join([b"{}"] * 100000) + b"]"
        # A batch whose reply could not fit the reply budget now: 503 with
        # Retry-After, and nothing of it stored (its retry stores it all).
        big = [dict(GOOD, order_id="big-%d" % i) for i in range(90000)]
        seen = {}

        def during():
            status, r = post_v1(self.s, big)
            seen["status"], seen["reply"] = status, r

        self.flood(body, 40, 10, during)
        self.assertEqual(seen["status"], 503, str(seen["reply"])[:300])
        self.assertIn("unread replies", seen["reply"]["detail"])
        status, r = post_v1(self.s, big)
        self.assertEqual(status, 201, str(r)[:300])
        self.assertEqual(r["accepted"], len(big))
        self.assertFalse(any(x.get("duplicate") for x in r["results"]))

    def test_invalid_array_8_clients(self):
        row = b'{"customer_id":"x","source":1,"quantity":"y","unit_price":"z"}'
        n = 9900000 // (len(row) + 1)
        body = b"[" + b",".join([row] * n) + b"]"
        self.flood(body, 8, 10)

    def test_reply_names_every_row(self):
        """A big reply keeps the per-row contract: one result per row, in
        order, each rejected one with a detail list; past the first ones
        the detail is short and points to GET /v1/quarantine, which has
        every row with its full details."""
        n = 10000
        for body, ctype in (
                (json.dumps([{}] * n + [GOOD]).encode(), "application/json"),
                (b"{}\n" * n + json.dumps(GOOD).encode(), "application/x-ndjson")):
            status, r = post_v1(self.s, body, ctype=ctype)
            self.assertEqual(status, 207, str(r)[:300])
            self.assertEqual((r["accepted"], r["rejected"]), (1, n))
            self.assertEqual([x["index"] for x in r["results"]], list(range(n + 1)))
            self.assertIn("order_id", r["results"][n])
            first = r["results"][0]["detail"]
            self.assertGreater(len(first), 1)        # every missing field named
            self.assertEqual(first[0]["loc"][:2], ["body", 0])
            self.assertGreater(len(r["results"][999]["detail"]), 1)
            for i in (1000, n - 1):
                last = r["results"][i]["detail"]
                self.assertEqual(len(last), 1, last)
                self.assertEqual(last[0]["loc"], ["body", i])
                self.assertEqual(last[0]["type"], "detail_omitted")
                self.assertIn("/v1/quarantine", last[0]["msg"])
            size = len(json.dumps(r, separators=(",", ":")))
            self.assertLess(size, (1 << 20) + (n + 1) * 130)
        # The quarantine has every row, in order, with its full details
        # (those past the first ones are written while the batch is read).
        with open(os.path.join(self.s.data, "quarantine", "quarantine.jsonl")) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual([it["index"] for it in lines], list(range(n)) * 2)
        for it in lines:
            self.assertEqual(sorted(d["loc"][-1] for d in it["detail"]),
                             ["customer_id", "quantity", "source"], it)

if __name__ == "__main__":
    unittest.main()
