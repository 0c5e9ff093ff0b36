"""What an integration suite does when a test dependency is missing.

On a developer machine the test is skipped (a whole suite exits 77). Under
CI=true every dependency is meant to be installed (.ci/packages, and
.ci/run for the Python packages), so a missing one fails the test with
what to install: otherwise CI would pass without running the test.
"""

import importlib
import os
import shutil
import sys
import unittest

SKIP = 77

# The AWS emulator (aws_emulator.py) is moto in server mode, driven with boto3.
AWS_MODULES = ("moto", "boto3", "werkzeug")
AWS_INSTALL = "pip install 'moto[server]>=5,<6' boto3 (moto 5.x; .ci/run installs moto[server]==5.2.1)"


class DependencyMissing(AssertionError):
    """A test dependency is missing under CI=true: a failure, never a skip."""


def in_ci():
    return os.environ.get("CI") == "true"


def missing(what, install):
    """Skip the current test or class; under CI=true fail it instead."""
    msg = f"missing {what} (install: {install})"
    if in_ci():
        raise DependencyMissing(msg + "; CI=true does not skip tests")
    raise unittest.SkipTest(msg)


def exit_missing(what, install):
    """For a suite that cannot even import: exit 77 (skipped), or 1 under
    CI=true, naming what to install."""
    msg = f"missing {what} (install: {install})"
    if in_ci():
        print(f"FAILED: {msg}; CI=true does not skip tests", file=sys.stderr)
        sys.exit(1)
    print(f"skipped: {msg}")
    sys.exit(SKIP)


def _unimportable(modules):
    bad = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            bad.append(name)
    return bad


def require_aws_modules(at_import=False):
    """moto, boto3 and werkzeug, for the AWS emulator. With at_import the
    whole suite exits (exit_missing); otherwise the test or class is
    skipped (missing)."""
    bad = _unimportable(AWS_MODULES)
    if bad:
        what = f"Python modules {', '.join(bad)} for {sys.executable}"
        (exit_missing if at_import else missing)(what, AWS_INSTALL)


def require_module(module, install, at_import=False):
    if _unimportable([module]):
        (exit_missing if at_import else missing)(
            f"Python module {module} for {sys.executable}", install)


def require_tool(tool, install, path=None):
    """The path of a program (on PATH, or at `path`); skip or fail without it."""
    found = path if path and os.access(path, os.X_OK) else shutil.which(tool)
    if not found:
        missing(f"program {path or tool}", install)
    return found
