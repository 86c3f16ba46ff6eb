"""The dashboard in a real browser: Debian's chromium, headless, driven by
playwright-core (tests/browser/dashboard.test.js) against `salesflow run` on
a fresh data directory. Each case of the script is one test here.

The script needs playwright-core from tests/browser/package-lock.json; it is
installed with `npm ci` when missing. Screenshots go to
BUILD/test-artifacts/dashboard/ (BUILD is the directory of SALESFLOW_BIN).
"""

import json
import os
import subprocess
import sys
import threading
import time
import unittest

import harness
from harness import REPO, Server

BROWSER_DIR = os.path.join(REPO, "tests", "browser")
SCRIPT = os.path.join(BROWSER_DIR, "dashboard.test.js")
CHROMIUM = "/usr/bin/chromium"
CASES = [
    "empty_state_on_fresh_data_dir",
    "live_update_without_reload_within_2s",
    "second_batch_updates_stacked_chart_and_tables",
    "filters_apply_to_every_chart",
    "top_table_sorts_by_column",
    "range_picker_and_pipeline_panel",
    "screenshots_1280x800_phone_and_dark",
    "stream_drop_polls_then_reconnects",
    "pages_run_under_their_csp",
    "time_series_partial_bucket_grain_and_day_labels",
    "unknown_filter_value_shown_removable_pill_amber",
    "theme_switch_recolours_charts",
    "layout_390_1280_1920_nothing_cut_or_overlapping",
    "accessibility_axe_contrast_patterns_named_controls",
    "cross_filter_clicks_and_multi_select",
    "per_chart_info_png_csv_link_and_rate_labels",
    "pause_and_redraw_rate",
    "redraw_once_a_second_by_default_panels_drawn_together",
    "unreadable_range_in_the_address_is_named",
    "highlights_only_new_rows_none_with_reduced_motion",
    "steady_load_200_per_s_flat_rate_stable_bars_calm",
    "no_script_errors",
]


def artifacts_dir():
    build = os.path.dirname(os.path.abspath(harness.BIN))
    return os.path.join(build, "test-artifacts", "dashboard")


def ensure_playwright():
    """npm ci in tests/browser if playwright-core or axe-core is not
    installed (or the install is older than the lockfile). Returns an error
    text or None."""
    lock = os.path.join(BROWSER_DIR, "package-lock.json")
    mods = [os.path.join(BROWSER_DIR, "node_modules", m, "package.json")
            for m in ("playwright-core", "axe-core")]
    stamp = os.path.join(BROWSER_DIR, "node_modules", ".package-lock.json")
    if all(os.path.exists(m) for m in mods) and os.path.exists(stamp) and \
            os.path.getmtime(stamp) >= os.path.getmtime(lock) - 1:
        return None
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=BROWSER_DIR, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        return "npm ci in tests/browser failed:\n" + r.stdout + r.stderr
    return None


def restart_same_port(server):
    """Stop the server and start it again on the same port and data dir."""
    port = server.port
    server.stop()
    orig = harness.free_port
    harness.free_port = lambda: port
    try:
        for _ in range(50):     # the port may linger for a moment
            try:
                server.start()
                return
            except RuntimeError:
                time.sleep(0.1)
        server.start()
    finally:
        harness.free_port = orig


class DashboardBrowserTest(unittest.TestCase):
    results = {}
    failure = None      # the script could not run at all

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
        env = dict(os.environ, SALESFLOW_URL=cls.s.url, SALESFLOW_BIN=harness.BIN,
                   SALESFLOW_ARTIFACTS=artifacts_dir(), CHROMIUM=CHROMIUM)
        proc = subprocess.Popen(["node", SCRIPT], cwd=BROWSER_DIR, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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
                elif line.startswith("ACTION restart"):
                    try:
                        restart_same_port(cls.s)
                        proc.stdin.write("ok\n")
                    except Exception as e:  # report it to the script
                        proc.stdin.write("failed: %s\n" % str(e).replace("\n", " "))
                    proc.stdin.flush()
                else:
                    other.append(line)
            proc.wait()
        finally:
            killer.cancel()
            t.join(5)
        if proc.returncode not in (0, 1) or not cls.results:
            cls.failure = ("dashboard.test.js exited %s\nstdout:\n%s\nstderr:\n%s"
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
    setattr(DashboardBrowserTest, "test_%02d_%s" % (_i, _name), _make(_name))


if __name__ == "__main__":
    unittest.main()
