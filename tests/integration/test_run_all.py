#!/usr/bin/env python3
"""tests/run-all's counting: the closing `N passed, N failed` line is only
worth something if every kind of test output is counted right."""

import importlib.machinery
import importlib.util
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
    def test_c_checks_line(self):
        self.assertEqual(run_all.parse_counts("noise\n120 checks, 3 failed\n"), (117, 3, 0))

    def test_last_c_line_wins(self):
        self.assertEqual(run_all.parse_counts("5 checks, 5 failed\n9 checks, 0 failed\n"), (9, 0, 0))

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


class CountMesonLog(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="run-all-test-")
        os.makedirs(os.path.join(self.dir, "meson-logs"))
        self.build = self.dir  # an absolute path stays as it is under ROOT

    def tearDown(self):
        shutil.rmtree(self.dir)

    def tally(self, entries):
        with open(os.path.join(self.dir, "meson-logs", "testlog.json"), "w") as f:
            for e in entries:
                f.write(json.dumps(e) + "\n")
        t = run_all.Tally()
        run_all.count_meson_tests(self.build, t)
        return {r[1]: r[2:5] for r in t.rows}

    def test_each_kind(self):
        rows = self.tally([
            {"name": "sesrelay:unit / buf", "result": "OK", "returncode": 0,
             "stdout": "", "stderr": "7 checks, 0 failed\n"},
            {"name": "sesrelay:unit / crashy", "result": "FAIL", "returncode": -11,
             "stdout": "", "stderr": "7 checks, 0 failed\n"},
            {"name": "sesrelay:integration / py", "result": "FAIL", "returncode": 1,
             "stdout": "Ran 3 tests in 1s\n\nFAILED (errors=1)\n", "stderr": ""},
            {"name": "sesrelay:integration / skipped", "result": "SKIP", "returncode": 77,
             "stdout": "", "stderr": ""},
            {"name": "sesrelay:integration / quiet", "result": "OK", "returncode": 0,
             "stdout": "", "stderr": ""},
            {"name": "sesrelay:integration / quietfail", "result": "TIMEOUT", "returncode": -15,
             "stdout": "", "stderr": ""},
        ])
        self.assertEqual(rows["buf"], (7, 0, 0))
        self.assertEqual(rows["crashy"], (7, 1, 0))   # meson saw it fail: at least one failure
        self.assertEqual(rows["py"], (2, 1, 0))
        self.assertEqual(rows["skipped"], (0, 0, 1))
        self.assertEqual(rows["quiet"], (1, 0, 0))
        self.assertEqual(rows["quietfail"], (0, 1, 0))

    def test_missing_log_is_a_failure(self):
        t = run_all.Tally()
        run_all.count_meson_tests(self.build, t)
        self.assertEqual(t.totals(), (0, 1, 0))


class Report(unittest.TestCase):
    def test_final_line(self):
        t = run_all.Tally()
        t.add("b/unit", "a", 5, 0)
        t.add("b/unit", "b", 2, 1)
        final, failed = run_all.report(t)
        self.assertEqual((final, failed), ("7 passed, 1 failed", 1))
        t.add("b/integration", "c", 0, 0, 1)
        self.assertEqual(run_all.report(t)[0], "7 passed, 1 failed, 1 skipped")


if __name__ == "__main__":
    unittest.main()
