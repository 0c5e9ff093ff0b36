#!/usr/bin/env python3
"""The shared-account credentials cache over real STS traffic.

tests/integration/probes/creds_probe (the relay's own credential modules: env base keys ->
AssumeRole -> GetCallerIdentity proof -> cache) runs against the AWS
emulator in strict mode, which hands out credentials living only a few
seconds, rejects expired ones with ExpiredToken, and injects delays and
failures on demand. Every credential set the probe gets is "used" by
signing a GetCallerIdentity with it, so the server itself says whether it
was still valid. tests/integration/fake_sts.py covers the one case no honest server
can: a GetCallerIdentity that names the wrong account.
"""
import json
import os
import queue
import subprocess
import sys
import threading
import time
import unittest

ROOT = os.environ.get("PROJECT_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("BUILD_ROOT", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import testdeps  # noqa: E402

testdeps.require_aws_modules(at_import=True)
from aws_emulator import EmulatorCase  # noqa: E402

PROBE = os.path.join(BUILD, "tests", "creds_probe")
BIN = os.environ.get("SESRELAY_BIN", os.path.join(BUILD, "src", "sesrelay"))


def parse(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


class Probe:
    """creds_probe as a child; its JSON events readable while it runs."""

    def __init__(self, env, *args):
        self.p = subprocess.Popen([PROBE, *map(str, args)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.q = queue.Queue()
        self.events = []
        self.err = []
        threading.Thread(target=self._pump, args=(self.p.stdout, self.q), daemon=True).start()
        self.err_reader = threading.Thread(target=lambda: self.err.extend(self.p.stderr),
                                           daemon=True)
        self.err_reader.start()

    @staticmethod
    def _pump(f, q):
        for line in f:
            if line.startswith("{"):
                q.put(json.loads(line))
        q.put(None)

    def wait_for(self, pred, timeout):
        """Next event matching pred (all events are kept in self.events)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ev = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if ev is None:
                break
            self.events.append(ev)
            if pred(ev):
                return ev
        raise AssertionError(f"no matching event within {timeout}s; last: {self.events[-5:]}")

    def finish(self, timeout=60):
        self.p.wait(timeout)
        while True:
            ev = self.q.get(timeout=5)
            if ev is None:
                break
            self.events.append(ev)
        self.err_reader.join(10)
        self.p.stdout.close()
        self.p.stderr.close()
        return self.p.returncode

    def logs(self):
        return parse("".join(self.err))


class RefreshAgainstEmulator(EmulatorCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(PROBE, os.X_OK):
            raise unittest.SkipTest(f"{PROBE} not built")
        super().setUpClass()

    def setUp(self):
        self.emu.clear_faults()
        self.emu.set_lifetime(0)
        self.emu.reset_stats()

    def env(self):
        env = self.emu.daemon_env()
        env.update({"SESRELAY_ROLE_ARN": self.emu.role_arn,
                    "SESRELAY_EXTERNAL_ID": self.emu.external_id,
                    "SESRELAY_BASE_CREDENTIALS": "env",
                    "SESRELAY_STS_TIMEOUT": "10"})
        return env

    def run_probe(self, *args, timeout=90):
        p = Probe(self.env(), *args)
        rc = p.finish(timeout)
        self.assertEqual(rc, 0, "".join(p.err)[-2000:])
        return p

    def test_proactive_refresh_and_never_expired(self):
        # Credentials live 10 s; refresh window 6 s (+ up to 0.6 s jitter);
        # below 2 s left they must not be handed out.
        self.emu.set_lifetime(10)
        p = self.run_probe("--before", 6, "--min", 2, "--interval-ms", 200,
                           "--duration-ms", 16000)
        uses = [e for e in p.events if e["event"] == "use"]
        self.assertGreater(len(uses), 50)
        # The verifying server accepted every single use: nothing was ever
        # signed with expired credentials, and nothing below min_remaining
        # was handed out.
        bad = [u for u in uses if not u["ok"]]
        self.assertEqual(bad, [])
        self.assertTrue(all(u["account"] == "111111111111" for u in uses))
        self.assertGreaterEqual(min(u["left"] for u in uses), 2.0 - 0.05)
        # Refreshed ahead of time: each new set took over while the old one
        # still had more than min_remaining (in fact about `before`) left.
        akids, switches = [], []
        for u in uses:
            if not akids or akids[-1][0] != u["akid"]:
                if akids:
                    switches.append(akids[-1][1] - u["t"])
                akids.append((u["akid"], u["exp"]))
        self.assertGreaterEqual(len(akids), 3, akids)
        self.assertTrue(all(s > 2.5 for s in switches), switches)
        # Mail never waited once the first set was there.
        self.assertEqual([e for e in p.events if e["event"] == "wait"], [])
        # One AssumeRole per credential set: no duplicate refreshes.
        stats = self.emu.stats()
        self.assertIn(stats["assume_role_ok"], (len(akids), len(akids) + 1))
        refreshes = [r for r in p.logs() if r.get("event") == "sts.refresh"]
        self.assertTrue(all(r["outcome"] == "ok" for r in refreshes))
        self.assertTrue(all(r["account"] == "111111111111" for r in refreshes))

    def test_single_flight_under_many_waiters(self):
        # STS answers AssumeRole slowly; 200 callers wait at once.
        self.emu.fault("AssumeRole", status=0, delay_ms=1500)
        p = self.run_probe("--burst", 200, "--duration-ms", 0)
        gets = [e for e in p.events if e["event"] == "get"]
        self.assertEqual(len(gets), 200)
        self.assertTrue(all(g["err"] == 0 and g["verified"] for g in gets), gets[:3])
        self.assertEqual(len({g["akid"] for g in gets}), 1)
        self.assertEqual(self.emu.stats()["assume_role"], 1)

    def test_backoff_then_recovery(self):
        # Four failures, then STS recovers. Backoff 0.4 s doubling, cap 2 s,
        # half of it random: gaps in [0.2,0.4], [0.4,0.8], [0.8,1.6], [1,2].
        self.emu.fault("AssumeRole", status=503, code="ServiceUnavailable",
                       message="try later", count=4)
        p = self.run_probe("--backoff-initial-ms", 400, "--backoff-max-ms", 2000,
                           "--interval-ms", 100, "--duration-ms", 7000)
        attempts = [r for r in self.emu.requests(200) if r["action"] == "AssumeRole"]
        self.assertEqual([r["status"] for r in attempts], [503] * 4 + [200])
        gaps = [b["time"] - a["time"] for a, b in zip(attempts, attempts[1:])]
        bounds = [(0.2, 0.4), (0.4, 0.8), (0.8, 1.6), (1.0, 2.0)]
        for g, (lo, hi) in zip(gaps, bounds):
            self.assertGreaterEqual(g, lo - 0.02, gaps)
            self.assertLessEqual(g, hi + 0.35, gaps)
        # Callers arriving meanwhile failed fast with STS's reason, marked
        # temporary, instead of hanging; afterwards everything worked.
        waits = [e for e in p.events if e["event"] == "wait_done" and e["err"] != 0]
        self.assertTrue(waits)
        self.assertTrue(all(w["code"] == "ServiceUnavailable" and w["retryable"] for w in waits))
        self.assertTrue(all(w["waited"] < 0.3 for w in waits))
        uses = [e for e in p.events if e["event"] == "use"]
        self.assertTrue(uses and all(u["ok"] for u in uses))
        logs = [r for r in p.logs() if r.get("event") == "sts.refresh"]
        self.assertEqual([r["outcome"] for r in logs], ["error"] * 4 + ["ok"])
        self.assertEqual([r["failures"] for r in logs[:4]], [1, 2, 3, 4])
        self.assertTrue(all(r["code"] == "ServiceUnavailable" for r in logs[:4]))

    def test_stale_but_valid_served_while_refresh_fails(self):
        # After the first set, every refresh fails: the first set keeps
        # serving until min_remaining, then nothing is handed out.
        self.emu.set_lifetime(8)
        p = Probe(self.env(), "--before", 6, "--min", 3, "--interval-ms", 100,
                  "--backoff-initial-ms", 500, "--backoff-max-ms", 1000,
                  "--duration-ms", 9000)
        first = p.wait_for(lambda e: e["event"] == "use" and e["ok"], 20)
        self.emu.fault("AssumeRole", status=500, code="InternalFailure", message="down", count=1000)
        rc = p.finish()
        self.assertEqual(rc, 0)
        uses = [e for e in p.events if e["event"] == "use"]
        self.assertEqual({u["akid"] for u in uses}, {first["akid"]})
        self.assertTrue(all(u["ok"] for u in uses))
        self.assertGreaterEqual(min(u["left"] for u in uses), 3.0 - 0.05)
        # Served well into the failing refresh window...
        self.assertLess(min(u["left"] for u in uses), 3.6)
        # ...and after that callers were told, temporarily.
        waits = [e for e in p.events if e["event"] == "wait_done" and e["t"] > first["t"]]
        self.assertTrue(waits)
        self.assertTrue(all(w["err"] != 0 and w["code"] == "InternalFailure" and w["retryable"]
                            for w in waits), waits)
        self.assertGreaterEqual(self.emu.stats()["assume_role"], 3)

    def test_expired_token_invalidates_and_refreshes(self):
        p = Probe(self.env(), "--interval-ms", 100, "--duration-ms", 6000)
        first = p.wait_for(lambda e: e["event"] == "use" and e["ok"], 20)
        self.emu.expire()          # AWS now refuses the current set
        p.wait_for(lambda e: e["event"] == "invalidate", 10)
        fresh = p.wait_for(lambda e: e["event"] == "use" and e["ok"], 10)
        self.assertNotEqual(fresh["akid"], first["akid"])
        self.assertEqual(p.finish(), 0)
        # Once invalidated, the refused set was never used again.
        inv = next(i for i, e in enumerate(p.events) if e["event"] == "invalidate")
        later = [e for e in p.events[inv + 1:] if e["event"] == "use"]
        self.assertTrue(later)
        stale_after = [e for e in later if e["akid"] == first["akid"] and e["t"] > p.events[inv]["t"]]
        self.assertLessEqual(len(stale_after), 1)  # one use may have been in flight
        self.assertTrue(all(e["ok"] for e in later if e["akid"] != first["akid"]))


class FakeStsCase(unittest.TestCase):
    """Runs tests/integration/fake_sts.py with server_args for each test."""
    server_args = []

    def setUp(self):
        self.srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "integration", "fake_sts.py"),
                                     *self.server_args],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.endpoint = json.loads(self.srv.stdout.readline())["endpoint"]

    def tearDown(self):
        self.srv.stdin.close()
        self.srv.wait(10)
        self.srv.stdout.close()

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and not k.startswith("SESRELAY_")}
        env.update({"AWS_ACCESS_KEY_ID": "AKIAFAKEBASEKEY00001",
                    "AWS_SECRET_ACCESS_KEY": "base-secret-base-secret-base-secret-0000",
                    "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1",
                    "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                    "AWS_EC2_METADATA_DISABLED": "true",
                    "SESRELAY_ROLE_ARN": "arn:aws:iam::111111111111:role/ses-relay-sender",
                    "SESRELAY_BASE_CREDENTIALS": "env"})
        return env


class AccountProof(FakeStsCase):
    """STS says AssumeRole worked but the new keys belong to someone else."""
    server_args = ["--identity-account", "999999999999"]

    def test_whoami_refuses_other_account(self):
        p = subprocess.run([BIN, "whoami"], env=self.env(), capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed at GetCallerIdentity: AccountMismatch", p.stderr)
        self.assertIn("999999999999", p.stderr)
        self.assertNotIn("account check:    ok", p.stdout)
        self.assertIn("sts.account_mismatch", p.stderr)

    @unittest.skipUnless(os.access(PROBE, os.X_OK), "creds_probe not built")
    def test_cache_never_hands_them_out(self):
        p = Probe(self.env(), "--burst", 5, "--interval-ms", 200, "--duration-ms", 1500)
        self.assertEqual(p.finish(), 0)
        gets = [e for e in p.events if e["event"] == "get"]
        self.assertEqual(len(gets), 5)
        self.assertTrue(all(g["err"] != 0 and g["code"] == "AccountMismatch" for g in gets))
        self.assertEqual([e for e in p.events if e["event"] == "use"], [])
        status = [e for e in p.events if e["event"] == "status"][-1]
        self.assertFalse(status["ready"])
        self.assertEqual(status["refresh_ok"], 0)


class ClockSkew(FakeStsCase):
    """STS's clock is two hours ahead of ours: its Expiration, read on our
    clock, would look three hours away. The relay moves it onto its own
    clock (and signs on STS's), as the SDKs do."""
    server_args = ["--identity-account", "111111111111", "--skew", "7200"]

    def test_expiry_on_our_clock(self):
        p = subprocess.run([BIN, "whoami"], env=self.env(), capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"\(in 3[56]\d\d s\)")
        # Date headers have a one-second resolution: 2 h is 7199..7201 s.
        self.assertRegex(p.stdout, r"clock skew:       STS is 7(199|200|201) s")
        self.assertIn("ahead of this host", p.stdout)
        self.assertIn("sts.clock_skew", p.stderr)

    def test_check_signs_on_the_sts_clock(self):
        """`check` signs its SES calls as the relay does, on the clock STS's
        Date showed: SES (here: fake_sts.py's, on the same skewed clock)
        refuses requests more than 15 minutes off."""
        p = subprocess.run([BIN, "check", "--identity", "example.com",
                            "--send-test", "someone@example.org",
                            "--from", "sesrelay-check@example.com"],
                           env=self.env(), capture_output=True, text=True, timeout=60)
        out = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, out)
        self.assertNotIn("RequestTimeTooSkewed", out)
        self.assertRegex(out, r"identity\s+example.com verified in account 111111111111")
        self.assertRegex(out, r"quota\s+0.0 of 200.0 sent")
        self.assertIn("MessageId 0100fake-check-message", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
