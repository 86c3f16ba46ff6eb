"""Slow clients cannot hold connections: one that dribbles its headers (or
its body) is closed after --header-timeout (--body-timeout) with a 408,
while other clients are served meanwhile; an order waiting for its fsync is
not a slow client."""

import socket
import threading
import time
import unittest

from harness import Server

GOOD = {"customer_id": 3, "source": "Dine In", "quantity": 7}


class IngestSlowClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(extra=["--header-timeout", "2", "--body-timeout", "2"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def dribble(self, first, drip, seconds=8):
        """Send `first`, then `drip` every 0.3 s until the server closes the
        connection. Returns (seconds until closed, bytes received)."""
        c = socket.create_connection(("127.0.0.1", self.s.port), timeout=1)
        t0 = time.time()
        got = b""
        try:
            c.sendall(first)
            while time.time() - t0 < seconds:
                try:
                    c.sendall(drip)
                except OSError:
                    break
                try:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                except socket.timeout:
                    pass
                except OSError:
                    break
                time.sleep(0.3)
            return time.time() - t0, got
        finally:
            c.close()

    def served_meanwhile(self, fn):
        """Run fn in a thread while posting orders; returns fn's result and
        the statuses the other client got."""
        out, statuses = {}, []
        t = threading.Thread(target=lambda: out.setdefault("r", fn()))
        t.start()
        while t.is_alive():
            statuses.append(self.s.post_json("/orderitem", GOOD)[0])
            time.sleep(0.1)
        t.join()
        return out["r"], statuses

    def test_dribbled_headers_are_cut(self):
        (took, got), statuses = self.served_meanwhile(lambda: self.dribble(
            b"POST /orderitem HTTP/1.1\r\nHost: localhost\r\n", b"X-Slow: 1\r\n"))
        self.assertLess(took, 6, "the slow connection was not closed")
        self.assertGreaterEqual(took, 1.5)
        self.assertTrue(got.startswith(b"HTTP/1.1 408"), got)
        self.assertTrue(statuses and all(s == 201 for s in statuses), statuses)

    def test_dribbled_body_is_cut(self):
        before = sum(len(v) for v in self.s.log_records().values())
        (took, got), statuses = self.served_meanwhile(lambda: self.dribble(
            b"POST /orderitem HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{", b" "))
        self.assertLess(took, 6, "the slow connection was not closed")
        self.assertTrue(got.startswith(b"HTTP/1.1 408"), got)
        self.assertTrue(statuses and all(s == 201 for s in statuses), statuses)
        # Only the other client's orders reached the log.
        after = sum(len(v) for v in self.s.log_records().values())
        self.assertEqual(after, before + len(statuses))

    def test_idle_keepalive_is_closed_quietly(self):
        c = socket.create_connection(("127.0.0.1", self.s.port), timeout=5)
        body = b'{"customer_id":3,"source":"Dine In","quantity":7}'
        c.sendall(b"POST /orderitem HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
                  b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        first = c.recv(4096)
        self.assertTrue(first.startswith(b"HTTP/1.1 201"), first)
        t0 = time.time()
        rest = c.recv(4096)   # nothing more is sent: the server closes it
        self.assertEqual(rest, b"")
        self.assertLess(time.time() - t0, 4.5)
        c.close()


if __name__ == "__main__":
    unittest.main()
