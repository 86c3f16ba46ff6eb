"""One local client cannot take every /api/stream slot (issue 23, the
security review's item 2): binding source addresses 127.0.0.2 ... 127.0.0.41
and opening 8 streams from each that it never reads, it held all 256 slots
(the per-address cap is 8, and on a quiet store the unread-stream check
never fires); other clients then got 503 for as long as it liked.

Checked on the real binary: after that flood, a fresh client from another
address gets a working stream (200 and its events), and a dashboard that
was open before the flood keeps its stream and its notices."""

import socket
import time
import unittest

from harness import Server, StreamCase

STREAMS_MAX = 256            # docs/api.md "Live updates"
PER_ADDRESS = 8


def open_stream(port, src, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((src, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return s


def read_until(s, marker, timeout):
    """Read from s until marker has arrived; returns what was read."""
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        got += chunk
    return got


class StreamSlotsTest(StreamCase):

    def clients(self):
        import json
        status, body = self.s.get("/api/pipeline")
        self.assertEqual(status, 200, body)
        return json.loads(body)["stream"]["clients"]

    def test_many_addresses_cannot_hold_every_stream(self):
        # A dashboard open before the flood, reading.
        dash = open_stream(self.s.port, "127.0.0.200")
        self.socks.append(dash)
        first = read_until(dash, b"event: hello", 10)
        self.assertTrue(first.startswith(b"HTTP/1.1 200"), first[:100])

        # The flood: 40 addresses x 8 streams, never read.
        for a in range(2, 42):
            for _ in range(PER_ADDRESS):
                self.socks.append(open_stream(self.s.port, "127.0.0.%d" % a, 2048))
        deadline = time.monotonic() + 20
        while self.clients() < STREAMS_MAX and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertGreaterEqual(self.clients(), STREAMS_MAX)
        time.sleep(1)

        # A fresh client from another address gets a working stream.
        fresh = open_stream(self.s.port, "127.0.0.100")
        self.socks.append(fresh)
        got = read_until(fresh, b"event: hello", 10)
        self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:200])
        self.assertIn(b"event: hello", got)

        # Both it and the dashboard from before get the next notice.
        st, _ = self.s.post_json("/orderitem", {"customer_id": 1, "source": "Takeaway",
                                                "quantity": 1})
        self.assertEqual(st, 201)
        self.assertIn(b"event: commit", read_until(fresh, b"event: commit", 10))
        self.assertIn(b"event: commit", read_until(dash, b"event: commit", 10))
        # Never more than the table holds, once the evicted ones are gone.
        deadline = time.monotonic() + 10
        while self.clients() > STREAMS_MAX and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertLessEqual(self.clients(), STREAMS_MAX)


if __name__ == "__main__":
    unittest.main()
