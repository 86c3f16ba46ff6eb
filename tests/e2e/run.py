"""Runner for the end-to-end tests: discovers tests/e2e/test_*.py (unittest),
prints one line per test, and writes "PASSED FAILED" to --result."""

import argparse
import os
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)


# tests/run.sh points the sanitizer runtime of every process it starts at
# this directory: one report file per process with a finding. A report that
# appears while a test runs fails that test; one that appears between tests
# (a class's shared server stopped in tearDownClass) or after the last is one
# more failure. Each file is moved to reported/ once counted.
SAN_DIR = os.environ.get("SALESFLOW_SANITIZER_DIR")


def take_reports():
    """The text of the report files not taken yet, or None."""
    if not SAN_DIR or not os.path.isdir(SAN_DIR):
        return None
    done = os.path.join(SAN_DIR, "reported")
    out = []
    for name in sorted(os.listdir(SAN_DIR)):
        path = os.path.join(SAN_DIR, name)
        if os.path.isfile(path):
            os.makedirs(done, exist_ok=True)
            os.replace(path, os.path.join(done, name))
            with open(os.path.join(done, name), errors="replace") as f:
                out.append("--- %s\n%s" % (name, f.read()))
    return "sanitizer reports:\n" + "\n".join(out) if out else None


class SanitizerReport(AssertionError):
    pass


class LineResult(unittest.TextTestResult):
    last = None

    def startTest(self, test):
        self.flush_reports()
        self._t0 = time.time()
        super().startTest(test)
        self.last = test.id()

    def flush_reports(self):
        """Count reports that appeared outside any test as one failure."""
        text = take_reports()
        if text:
            name = "sanitizer (after %s)" % (self.last or "start")
            self.errors.append((unittest.suite._ErrorHolder(name), text))
            self.stream.write("e2e: ERROR %s\n" % name)
            self.stream.flush()
        return text

    def _line(self, word, test):
        self.stream.write("e2e: %s %s (%.1fs)\n" % (word, test.id(), time.time() - self._t0))
        self.stream.flush()

    def addSuccess(self, test):
        text = take_reports()
        if text:
            try:
                raise SanitizerReport(text)
            except SanitizerReport:
                self.addFailure(test, sys.exc_info())
            return
        unittest.TestResult.addSuccess(self, test)
        self._line("ok", test)

    def addFailure(self, test, err):
        unittest.TestResult.addFailure(self, test, err)
        self._add_reports(self.failures)
        self._line("FAIL", test)

    def addError(self, test, err):
        unittest.TestResult.addError(self, test, err)
        self._add_reports(self.errors)
        self._line("ERROR", test)

    def _add_reports(self, where):
        """A failing test's reports go with its own error (often its cause)."""
        text = take_reports()
        if text:
            test, msg = where[-1]
            where[-1] = (test, msg + "\n" + text)

    def addSkip(self, test, reason):
        unittest.TestResult.addSkip(self, test, reason)
        self._line("skipped (%s)" % reason, test)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--result", required=True)
    ap.add_argument("-k", dest="patterns", action="append",
                    help="only tests whose id contains this (repeatable: any)")
    args = ap.parse_args()
    suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py")

    def flatten(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                yield from flatten(t)
            else:
                yield t
    tests = [t for t in flatten(suite)
             if not args.patterns or any(p in t.id() for p in args.patterns)]
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=0,
                                     resultclass=LineResult)
    res = runner.run(unittest.TestSuite(tests))
    late = res.flush_reports()
    if late:
        sys.stdout.write(late + "\n")
    failed = len(res.failures) + len(res.errors)
    holders = sum(isinstance(t, unittest.suite._ErrorHolder) for t, _ in res.errors)
    passed = res.testsRun - (failed - holders) - len(res.skipped)
    with open(args.result, "w") as f:
        f.write("%d %d\n" % (passed, failed))


if __name__ == "__main__":
    main()
