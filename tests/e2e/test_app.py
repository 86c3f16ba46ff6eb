"""The application object the commands share (src/app.c): a path or URI
that does not fit the program's buffers is refused with a message naming
it, never truncated into another path."""

import os
import tempfile
import unittest

from harness import run_cli


class PathTooLong(unittest.TestCase):
    def test_long_store_uri_is_an_error_not_truncated(self):
        with tempfile.TemporaryDirectory() as d:
            # 4,400 bytes: fits no buffer; cut at 4,199 it would name
            # another file ("…/./s" instead of "…/s.db").
            store = "sqlite:" + d + "/" + "./" * 2200 + "s.db"
            for args in (("process", "--broker", "file:" + d + "/log", "--data", d),
                         ("run", "--listen", "127.0.0.1:0", "--data", d)):
                r = run_cli(*args, "--store", store, timeout=30)
                self.assertEqual(r.returncode, 1, (args, r.stderr))
                self.assertIn("--store would be", r.stderr, args)
                self.assertIn("use a shorter path", r.stderr, args)
                self.assertEqual(os.listdir(d) if args[0] == "process" else [], [])


if __name__ == "__main__":
    unittest.main()
