"""Runner for the end-to-end tests: discovers tests/e2e/test_*.py (unittest),
prints one line per test, and writes "PASSED FAILED" to --result."""

import argparse
import os
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)


class LineResult(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.time()
        super().startTest(test)

    def _line(self, word, test):
        self.stream.write("e2e: %s %s (%.1fs)\n" % (word, test.id(), time.time() - self._t0))
        self.stream.flush()

    def addSuccess(self, test):
        unittest.TestResult.addSuccess(self, test)
        self._line("ok", test)

    def addFailure(self, test, err):
        unittest.TestResult.addFailure(self, test, err)
        self._line("FAIL", test)

    def addError(self, test, err):
        unittest.TestResult.addError(self, test, err)
        self._line("ERROR", test)

    def addSkip(self, test, reason):
        unittest.TestResult.addSkip(self, test, reason)
        self._line("skipped (%s)" % reason, test)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--result", required=True)
    ap.add_argument("-k", dest="pattern", help="only tests whose id contains this")
    args = ap.parse_args()
    suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py")

    def flatten(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                yield from flatten(t)
            else:
                yield t
    tests = [t for t in flatten(suite) if not args.pattern or args.pattern in t.id()]
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=0,
                                     resultclass=LineResult)
    res = runner.run(unittest.TestSuite(tests))
    failed = len(res.failures) + len(res.errors)
    passed = res.testsRun - failed - len(res.skipped)
    with open(args.result, "w") as f:
        f.write("%d %d\n" % (passed, failed))


if __name__ == "__main__":
    main()
