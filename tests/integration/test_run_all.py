#!/usr/bin/env python3
"""tests/run-all's counting: the closing `N passed, N failed` line counts
tests (a C test executable is one test, a Python suite its unittest tests),
the line before it counts checks; both are only worth something if every
kind of test output is counted right."""

import contextlib
import importlib.machinery
import importlib.util
import io
import json
import os
import shutil
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
_loader = importlib.machinery.SourceFileLoader("run_all", os.path.join(os.path.dirname(HERE), "run-all"))
_spec = importlib.util.spec_from_loader("run_all", _loader)
run_all = importlib.util.module_from_spec(_spec)
_loader.exec_module(run_all)


class ParseCounts(unittest.TestCase):
    def test_c_checks_are_not_tests(self):
        out = "noise\n120 checks, 3 failed\n"
        self.assertIsNone(run_all.parse_counts(out))
        self.assertEqual(run_all.parse_checks(out), (117, 3))

    def test_last_c_line_wins(self):
        self.assertEqual(run_all.parse_checks("5 checks, 5 failed\n9 checks, 0 failed\n"), (9, 0))

    def test_no_checks(self):
        self.assertIsNone(run_all.parse_checks("Ran 4 tests in 0.1s\n\nOK\n"))

    def test_plain_line_with_skips(self):
        self.assertEqual(run_all.parse_counts("fuzz: 4 passed, 1 failed, 2 skipped\n"), (4, 1, 2))

    def test_unittest_ok(self):
        out = "....\n----\nRan 4 tests in 0.1s\n\nOK\n"
        self.assertEqual(run_all.parse_counts(out), (4, 0, 0))

    def test_unittest_ok_with_skips(self):
        out = "Ran 5 tests in 0.1s\n\nOK (skipped=2)\n"
        self.assertEqual(run_all.parse_counts(out), (3, 0, 2))

    def test_unittest_failed(self):
        out = "Ran 10 tests in 3.0s\n\nFAILED (failures=2, errors=1, skipped=3)\n"
        self.assertEqual(run_all.parse_counts(out), (4, 3, 3))

    def test_nothing_recognisable(self):
        self.assertIsNone(run_all.parse_counts("all good, trust me\n"))
        self.assertIsNone(run_all.parse_checks("all good, trust me\n"))


class CountMesonLog(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="run-all-test-")
        os.makedirs(os.path.join(self.dir, "meson-logs"))
        self.build = self.dir  # an absolute path stays as it is under ROOT

    def tearDown(self):
        shutil.rmtree(self.dir)

    def tally(self, entries, ci=None):
        with open(os.path.join(self.dir, "meson-logs", "testlog.json"), "w") as f:
            for e in entries:
                f.write(json.dumps(e) + "\n")
        t = run_all.Tally()
        saved = os.environ.pop("CI", None)
        try:
            if ci is not None:
                os.environ["CI"] = ci
            run_all.count_meson_tests(self.build, t)
        finally:
            os.environ.pop("CI", None)
            if saved is not None:
                os.environ["CI"] = saved
        self.rows = t.rows
        return {r[1]: r[2:5] + (r[6],) for r in t.rows}

    def test_each_kind(self):
        rows = self.tally([
            {"name": "sesrelay:unit / buf", "result": "OK", "returncode": 0,
             "stdout": "", "stderr": "1000007 checks, 0 failed\n"},
            {"name": "sesrelay:unit / crashy", "result": "FAIL", "returncode": -11,
             "stdout": "", "stderr": "7 checks, 0 failed\n"},
            {"name": "sesrelay:unit / wrong", "result": "FAIL", "returncode": 1,
             "stdout": "", "stderr": "9 checks, 2 failed\n"},
            {"name": "sesrelay:integration / py", "result": "FAIL", "returncode": 1,
             "stdout": "Ran 3 tests in 1s\n\nFAILED (errors=1)\n", "stderr": ""},
            {"name": "sesrelay:integration / skipped", "result": "SKIP", "returncode": 77,
             "stdout": "", "stderr": ""},
            {"name": "sesrelay:integration / quiet", "result": "OK", "returncode": 0,
             "stdout": "", "stderr": ""},
            {"name": "sesrelay:integration / quietfail", "result": "TIMEOUT", "returncode": -15,
             "stdout": "", "stderr": ""},
        ])
        # (tests passed, failed, skipped, (checks passed, failed))
        self.assertEqual(rows["buf"], (1, 0, 0, (1000007, 0)))     # one test, many checks
        self.assertEqual(rows["crashy"], (0, 1, 0, (7, 0)))   # meson saw it fail: a failed test
        self.assertEqual(rows["wrong"], (0, 1, 0, (7, 2)))
        self.assertEqual(rows["py"], (2, 1, 0, (0, 0)))
        self.assertEqual(rows["skipped"], (0, 0, 1, (0, 0)))
        self.assertEqual(rows["quiet"], (1, 0, 0, (0, 0)))
        self.assertEqual(rows["quietfail"], (0, 1, 0, (0, 0)))

    def test_skip_is_a_failure_under_ci(self):
        entry = {"name": "sesrelay:integration / sts_moto", "result": "SKIP", "returncode": 77,
                 "stdout": "skipped: Python modules moto is missing\n", "stderr": ""}
        self.assertEqual(self.tally([entry], ci="true")["sts_moto"], (0, 1, 0, (0, 0)))
        self.assertEqual(self.tally([entry], ci="")["sts_moto"], (0, 0, 1, (0, 0)))

    def test_missing_log_is_a_failure(self):
        t = run_all.Tally()
        run_all.count_meson_tests(self.build, t)
        self.assertEqual(t.totals(), (0, 1, 0))


class Report(unittest.TestCase):
    def report(self, t):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            final, failed = run_all.report(t)
        print(final, file=out)
        return out.getvalue().splitlines(), failed

    def test_last_lines_count_checks_then_tests(self):
        t = run_all.Tally()
        t.add("b/unit", "a", 1, 0, checks=(2541988, 0))
        t.add("b/unit", "b", 0, 1, checks=(5, 1))
        t.add("b/integration", "c", 40, 0)
        lines, failed = self.report(t)
        self.assertEqual(failed, 1)
        self.assertEqual(lines[-2], "checks: 2,541,993 passed, 1 failed")
        self.assertEqual(lines[-1], "41 passed, 1 failed")
        self.assertRegex(lines[-1], r"^\d+ passed, \d+ failed(, \d+ skipped)?$")
        t.add("b/integration", "d", 0, 0, 1)
        self.assertEqual(self.report(t)[0][-1], "41 passed, 1 failed, 1 skipped")


if __name__ == "__main__":
    unittest.main()
