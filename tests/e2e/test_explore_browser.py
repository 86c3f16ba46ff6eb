"""Issue 18 in a real browser: the dashboard's time range and the Explore
page (tests/browser/explore.test.js), Debian's chromium driven by
playwright-core against `salesflow run` on a fresh data directory. Each
case of the script is one test here (the same protocol as
test_dashboard_browser.py: one "RESULT {json}" line per case).
"""

import json
import os
import sqlite3
import subprocess
import sys
import threading
import unittest

import harness
from harness import Server
from test_dashboard_browser import BROWSER_DIR, CHROMIUM, artifacts_dir, ensure_playwright

SCRIPT = os.path.join(BROWSER_DIR, "explore.test.js")
CASES = [
    "today_total_equals_api_in_the_viewers_time_zone",
    "seven_days_buckets_split_at_the_viewers_midnight",
    "long_saved_chart_name_does_not_widen_the_dashboard",
    "damaged_saved_definition_shown_removable_page_loads",
    "live_updates_within_1s_with_a_range",
    "custom_range_and_shared_url_restore_the_view",
    "explore_chart_and_table_equal_the_api",
    "explore_days_are_the_viewers_days",
    "explore_csv_download_equals_json",
    "explore_add_to_dashboard_reload_live_remove",
    "explore_accessibility_axe_and_named_controls",
    "no_script_errors",
]


class ExploreBrowserTest(unittest.TestCase):
    results = {}
    failure = None

    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.results = {}
        cls.failure = None
        if not os.access(CHROMIUM, os.X_OK):
            cls.failure = ("%s is missing: install Debian's chromium (make deps does)"
                           % CHROMIUM)
            return
        err = ensure_playwright()
        if err:
            cls.failure = err
            return
        cls.s.start()
        # A saved chart whose stored definition no longer validates (edited
        # by hand): the dashboard must still load, and it can be removed.
        con = sqlite3.connect(cls.s.db_path, timeout=10)
        with con:
            con.execute("INSERT INTO salesflow_charts (name, definition, created) "
                        "VALUES ('Damaged chart', '{\"metric\":\"nope\",\"type\":\"bar\"}', "
                        "'2026-12-01T00:00:00.000Z')")
        con.close()
        env = dict(os.environ, SALESFLOW_URL=cls.s.url, SALESFLOW_BIN=harness.BIN,
                   SALESFLOW_ARTIFACTS=artifacts_dir(), CHROMIUM=CHROMIUM)
        proc = subprocess.Popen(["node", SCRIPT], cwd=BROWSER_DIR, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, bufsize=1)
        errs = []
        t = threading.Thread(target=lambda: errs.append(proc.stderr.read()), daemon=True)
        t.start()
        killer = threading.Timer(300, proc.kill)    # a hung browser never hangs make test
        killer.start()
        other = []
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                if line.startswith("RESULT "):
                    r = json.loads(line[7:])
                    cls.results[r["name"]] = r
                    sys.stderr.write("browser: %s %s in %.1f s\n"
                                     % (r["name"], "ok" if r["ok"] else "FAILED", r["ms"] / 1000))
                else:
                    other.append(line)
            proc.wait()
        finally:
            killer.cancel()
            t.join(5)
        if proc.returncode not in (0, 1) or not cls.results:
            cls.failure = ("explore.test.js exited %s\nstdout:\n%s\nstderr:\n%s"
                           % (proc.returncode, "\n".join(other[-40:]),
                              "".join(errs)[-4000:]))

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def check(self, name):
        if self.failure:
            self.fail(self.failure)
        r = self.results.get(name)
        self.assertIsNotNone(r, "case %s did not run (server log:\n%s)" %
                             (name, self.s.stderr()[-2000:]))
        self.assertTrue(r["ok"], "%s failed after %d ms:\n%s" % (name, r["ms"], r.get("error")))


def _make(name):
    return lambda self: self.check(name)


for _i, _name in enumerate(CASES):
    setattr(ExploreBrowserTest, "test_%02d_%s" % (_i, _name), _make(_name))


if __name__ == "__main__":
    unittest.main()
