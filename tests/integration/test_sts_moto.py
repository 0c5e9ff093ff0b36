#!/usr/bin/env python3
"""`sesrelay whoami` against the AWS emulator (moto with SigV4 verification
and cross-account trust enforcement): the real STS exchange the relay
depends on, and the errors an operator sees when it goes wrong."""
import os
import socket
import subprocess
import sys
import unittest

ROOT = os.environ.get("PROJECT_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import testdeps  # noqa: E402

testdeps.require_aws_modules(at_import=True)
from aws_emulator import EmulatorCase  # noqa: E402

BIN = os.environ.get("SESRELAY_BIN", os.path.join(ROOT, "build", "src", "sesrelay"))


class WhoamiAgainstEmulator(EmulatorCase):

    def setUp(self):
        self.emu.clear_faults()
        self.emu.set_trust(True)

    def env(self, **over):
        env = self.emu.daemon_env()
        env["SESRELAY_ROLE_ARN"] = self.emu.role_arn
        env["SESRELAY_EXTERNAL_ID"] = self.emu.external_id
        env["SESRELAY_STS_TIMEOUT"] = "5"
        for k, v in over.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def whoami(self, *args, **over):
        p = subprocess.run([BIN, *args, "whoami"], env=self.env(**over), capture_output=True,
                           text=True, timeout=60)
        out = p.stdout + p.stderr
        # Whatever happens, no secret is ever printed.
        self.assertNotIn(self.emu.dev_keys[1], out)
        self.assertNotIn(self.emu.external_id, out)
        self.assertNotIn("SessionToken", out)
        return p

    def test_success_proves_shared_account(self):
        before = self.emu.stats()["actions"]
        p = self.whoami()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("base credentials: env (long-term)", p.stdout)
        self.assertIn("base account:     222222222222", p.stdout)
        self.assertIn("base identity:    arn:aws:iam::222222222222:user/ses-relay", p.stdout)
        self.assertIn("assumed account:  111111111111", p.stdout)
        self.assertRegex(p.stdout, r"assumed identity: arn:aws:sts::111111111111:assumed-role/"
                                   r"ses-relay-sender/sesrelay-[\w+=,.@-]+\n")
        self.assertRegex(p.stdout, r"expires: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 3[56]\d\d s\)")
        self.assertIn("account check:    ok", p.stdout)
        after = self.emu.stats()["actions"]
        # base identity + proof with the assumed keys = two GetCallerIdentity
        gci = after["GetCallerIdentity"]["2xx"] - before.get("GetCallerIdentity", {}).get("2xx", 0)
        ar = after["AssumeRole"]["2xx"] - before.get("AssumeRole", {}).get("2xx", 0)
        self.assertEqual((gci, ar), (2, 1))
        # The proof was signed with the temporary key, not the base key.
        reqs = [r for r in self.emu.requests(20) if r["action"] == "GetCallerIdentity"]
        self.assertTrue(reqs[-1]["access_key_id"].startswith("ASIA"), reqs[-1])

    def test_session_name_and_duration_from_config(self):
        p = self.whoami(SESRELAY_ROLE_SESSION_NAME="relay-test@dev", SESRELAY_ROLE_DURATION="900")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("assumed-role/ses-relay-sender/relay-test@dev", p.stdout)
        self.assertRegex(p.stdout, r"\(in (89\d|900) s\)")

    def test_wrong_secret_is_signature_mismatch(self):
        p = self.whoami(AWS_SECRET_ACCESS_KEY="not-the-secret-" + "x" * 25)
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed at GetCallerIdentity: SignatureDoesNotMatch", p.stderr)
        self.assertIn("(HTTP 403)", p.stderr)
        self.assertNotIn("assumed account", p.stdout)

    def test_unknown_key(self):
        p = self.whoami(AWS_ACCESS_KEY_ID="AKIAUNKNOWNUNKNOWN00")
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed at GetCallerIdentity: InvalidClientTokenId", p.stderr)

    def test_wrong_external_id_is_access_denied(self):
        p = self.whoami(SESRELAY_EXTERNAL_ID="some-other-external-id")
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed at AssumeRole: AccessDenied", p.stderr)
        self.assertIn(self.emu.role_arn, p.stderr)
        self.assertNotIn("[temporary]", p.stderr)

    def test_missing_external_id_is_access_denied(self):
        p = self.whoami(SESRELAY_EXTERNAL_ID=None)
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed at AssumeRole: AccessDenied", p.stderr)

    def test_role_that_does_not_trust_us(self):
        p = self.whoami(SESRELAY_ROLE_ARN=self.emu.untrusting_role_arn)
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed at AssumeRole: AccessDenied", p.stderr)

    def test_trust_revoked(self):
        self.emu.set_trust(False)
        p = self.whoami()
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed at AssumeRole: AccessDenied", p.stderr)

    def test_throttling_is_temporary(self):
        self.emu.fault("AssumeRole", status=400, code="Throttling", message="Rate exceeded")
        p = self.whoami()
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed at AssumeRole: Throttling: Rate exceeded (HTTP 400) [temporary]",
                      p.stderr)

    def test_region_disabled(self):
        self.emu.fault("AssumeRole", status=403, code="RegionDisabledException",
                       message="STS is not activated in this region for account:111111111111")
        p = self.whoami()
        self.assertEqual(p.returncode, 1)
        self.assertIn("AssumeRole: RegionDisabledException", p.stderr)

    def test_sts_unreachable(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))     # bound, never listening: refused
        try:
            p = self.whoami(AWS_ENDPOINT_URL=f"http://127.0.0.1:{s.getsockname()[1]}")
        finally:
            s.close()
        self.assertEqual(p.returncode, 1)
        self.assertIn("GetCallerIdentity: NetworkError", p.stderr)
        self.assertIn("[temporary]", p.stderr)

    def test_sts_timeout(self):
        self.emu.fault("GetCallerIdentity", status=0, delay_ms=4000)
        p = self.whoami(SESRELAY_STS_TIMEOUT="1")
        self.assertEqual(p.returncode, 1)
        self.assertIn("GetCallerIdentity: Timeout", p.stderr)

    def test_configuration_errors_exit_2(self):
        p = self.whoami(SESRELAY_ROLE_ARN=None)
        self.assertEqual(p.returncode, 2)
        self.assertIn("role_arn", p.stderr)
        p = self.whoami(AWS_REGION=None, AWS_DEFAULT_REGION=None)
        self.assertEqual(p.returncode, 2)
        self.assertIn("no region", p.stderr)
        p = self.whoami(SESRELAY_ROLE_ARN="arn:aws:iam::role/no-account")
        self.assertEqual(p.returncode, 2)
        p = self.whoami(AWS_ENDPOINT_URL="ftp://127.0.0.1/")
        self.assertEqual(p.returncode, 2)

    def test_no_base_credentials(self):
        p = self.whoami(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                        SESRELAY_BASE_CREDENTIALS="env")
        self.assertEqual(p.returncode, 1)
        self.assertIn("finding base credentials", p.stderr)

    def test_endpoint_override_per_service(self):
        # AWS_ENDPOINT_URL_STS wins over a broken AWS_ENDPOINT_URL.
        p = self.whoami(AWS_ENDPOINT_URL="http://127.0.0.1:1", AWS_ENDPOINT_URL_STS=self.emu.endpoint)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"sts endpoint:     {self.emu.endpoint}\n", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
