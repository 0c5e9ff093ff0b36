#!/usr/bin/env python3
"""The one-command demo (deploy/local/demo) works end to end with the
binary under test, and fails loudly when the relay does not come up."""

import os
import re
import stat
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get("PROJECT_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "deploy", "local", "demo")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testdeps  # noqa: E402


def binary():
    path = os.environ.get("SESRELAY_BIN", "")
    if not path and os.environ.get("BUILD_ROOT"):
        path = os.path.join(os.environ["BUILD_ROOT"], "src", "sesrelay")
    return path


def run_demo(bin_path, timeout=240):
    env = dict(os.environ, DEMO_SKIP_INSTALL="1", SESRELAY_BIN=bin_path)
    return subprocess.run(["bash", DEMO], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


class Demo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        testdeps.require_aws_modules()
        if not os.access(binary(), os.X_OK):
            raise unittest.SkipTest("SESRELAY_BIN is not an executable")

    def test_message_leaves_through_shared_account(self):
        r = run_demo(binary())
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stdout, r"SMTP reply: 250 ")
        m = re.search(r"^OK: message (\S+) landed in shared account 111111111111; "
                      r"dev account 222222222222 has 0 messages$", r.stdout, re.M)
        self.assertIsNotNone(m, r.stdout)
        self.assertIn(m.group(1), re.search(r"SMTP reply: (.*)", r.stdout).group(1))
        self.assertIn("sesrelay stopped cleanly", r.stdout)

    def test_relay_that_never_listens_fails_the_demo(self):
        with tempfile.TemporaryDirectory() as d:
            fake = os.path.join(d, "sesrelay")
            with open(fake, "w") as f:
                f.write("#!/bin/sh\n[ \"$1\" = --version ] && { echo 'sesrelay fake'; exit 0; }\n"
                        "echo 'event=sesrelay.error msg=\"cannot start\"' >&2\nexit 1\n")
            os.chmod(fake, stat.S_IRWXU)
            r = run_demo(fake)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("DEMO FAILED: sesrelay exited during start-up", r.stdout)
        self.assertIn("cannot start", r.stdout)  # its log is shown


if __name__ == "__main__":
    unittest.main()
