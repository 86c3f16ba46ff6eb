"""Sign-in in a real browser (tests/browser/signin.test.js: Debian's chromium
driven by playwright-core) against `salesflow run` with a read key and an
API key: the form, a wrong key, the session cookie (HttpOnly,
SameSite=Strict), the dashboard and its live stream on that cookie, and
sign-out."""

import os
import subprocess
import unittest

import harness
from harness import Server
from test_dashboard_browser import BROWSER_DIR, CHROMIUM, ensure_playwright


class SignInBrowserTest(unittest.TestCase):
    def test_sign_in_dashboard_stream_sign_out(self):
        if not os.access(CHROMIUM, os.X_OK):
            self.fail("%s is missing: install Debian's chromium (make deps does)" % CHROMIUM)
        err = ensure_playwright()
        if err:
            self.fail(err)
        s = Server(extra=["--read-key", "browser-read-key", "--api-key", "browser-ingest"])
        s.start()
        try:
            env = dict(os.environ, SALESFLOW_URL=s.url, SALESFLOW_BIN=harness.BIN,
                       SALESFLOW_READ_KEY="browser-read-key",
                       SALESFLOW_INGEST_KEY="browser-ingest", CHROMIUM=CHROMIUM)
            r = subprocess.run(["node", os.path.join(BROWSER_DIR, "signin.test.js")],
                               cwd=BROWSER_DIR, env=env, capture_output=True, text=True,
                               timeout=180)
            self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:] +
                             "\nserver:\n" + s.stderr()[-2000:])
            self.assertIn("OK", r.stdout)
            for k in ("browser-read-key", "browser-ingest"):
                self.assertNotIn(k, s.stderr())
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
