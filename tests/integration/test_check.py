"""`sesrelay check` against the emulator: it must prove the shared account,
refuse what is wrong with the likely fix, and send a real test message."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aws_emulator import Emulator  # noqa: E402
from sesrelay_daemon import require_binary  # noqa: E402

EMU = Emulator(strict=True)
setUpModule, tearDownModule = EMU.start, EMU.stop


class CheckTest(unittest.TestCase):
    def run_check(self, conf, *args, env=None):
        d = tempfile.mkdtemp(prefix="sesrelay-check-")
        path = os.path.join(d, "sesrelay.conf")
        with open(path, "w") as f:
            for k, v in conf.items():
                f.write("%s %s\n" % (k, v))
        p = subprocess.run([require_binary(), "--config", path, "check"] + list(args),
                           env=env or EMU.daemon_env(), capture_output=True, text=True,
                           timeout=120)
        return p.returncode, p.stdout + p.stderr

    def conf(self, **kw):
        c = {"backend": "ses", "role_arn": EMU.role_arn, "external_id": EMU.external_id,
             "source_arn": "arn:aws:ses:%s:%s:identity/%s" % (EMU.region, EMU.shared_account,
                                                              EMU.ses_identity)}
        c.update(kw)
        return c

    def test_all_steps_pass_and_test_message_lands_in_shared_account(self):
        EMU.clear_messages()
        rc, out = self.run_check(self.conf(), "--send-test", "someone@example.org")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"base account\s+%s" % EMU.dev_account)
        self.assertRegex(out, r"assumed account\s+%s" % EMU.shared_account)
        self.assertIn("account check          ok", out)
        self.assertIn("example.com verified", out)
        self.assertRegex(out, r"quota\s+\S+ of \S+ sent")
        msgs = EMU.messages(account=EMU.shared_account)
        self.assertEqual(len(msgs), 1)
        self.assertIn("MessageId %s" % msgs[0]["message_id"], out)
        self.assertEqual(msgs[0]["params"]["Destinations"], ["someone@example.org"])
        self.assertEqual(EMU.messages(account=EMU.dev_account), [])

    def test_send_test_sender_without_from(self):
        """Without --from and without source_arn: the identity is the sender
        when it is an address; a domain identity asks for --from."""
        conf = self.conf()
        del conf["source_arn"]
        EMU.clear_messages()
        rc, out = self.run_check(conf, "--identity", EMU.ses_address,
                                 "--send-test", "someone@example.org")
        self.assertEqual(rc, 0, out)
        msgs = EMU.messages(account=EMU.shared_account)
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0]["params"]["Source"], EMU.ses_address)
        EMU.clear_messages()
        rc, out = self.run_check(conf, "--identity", EMU.ses_identity,
                                 "--send-test", "someone@example.org")
        self.assertEqual(rc, 2, out)
        self.assertIn("--send-test needs --from", out)
        self.assertEqual(EMU.messages(account=EMU.shared_account), [])

    def test_wrong_external_id_fails_with_fix(self):
        rc, out = self.run_check(self.conf(external_id="not-the-agreed-id"))
        self.assertEqual(rc, 1, out)
        self.assertIn("AccessDenied", out)
        self.assertIn("fix: the role's trust policy", out)
        self.assertNotIn("test message", out)

    def test_untrusting_role_fails(self):
        rc, out = self.run_check(self.conf(role_arn=EMU.untrusting_role_arn))
        self.assertEqual(rc, 1, out)
        self.assertIn("AccessDenied", out)

    def test_unverified_identity_fails(self):
        rc, out = self.run_check(self.conf(), "--identity", "unverified.test")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"identity\s+FAIL: unverified.test")

    def test_identity_verified_in_another_region_is_suggested(self):
        # A region typo: the identity is verified in the emulator's region
        # only, and check says which region has it.
        other = "eu-west-1" if EMU.region != "eu-west-1" else "us-west-2"
        rc, out = self.run_check(self.conf(region=other))
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"identity\s+FAIL: %s is not an identity in account %s, region %s"
                         % (EMU.ses_identity, EMU.shared_account, other))
        self.assertIn("%s is verified in region %s" % (EMU.ses_identity, EMU.region), out)
        self.assertIn("set `region %s`" % EMU.region, out)

    def test_no_base_credentials(self):
        env = EMU.daemon_env()
        del env["AWS_ACCESS_KEY_ID"]
        del env["AWS_SECRET_ACCESS_KEY"]
        rc, out = self.run_check(self.conf(), env=env)
        self.assertEqual(rc, 1, out)
        self.assertIn("NoCredentials", out)


class CredentialProcessOnce(unittest.TestCase):
    """check and whoami show the base identity and assume the role with the
    relay's own identity stack: one base credential lookup per command, so
    a credential_process (which may prompt, hit an SSO broker or be rate
    limited) runs exactly once. The process appends a line per run."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sesrelay-credproc-")
        self.runs = os.path.join(self.dir, "runs")
        tool = os.path.join(self.dir, "cred-tool.py")
        with open(tool, "w") as f:
            f.write("import json, sys\n"
                    "with open(%r, 'a') as f:\n"
                    "    f.write('run\\n')\n"
                    "print(json.dumps({'Version': 1, 'AccessKeyId': %r, 'SecretAccessKey': %r}))\n"
                    % (self.runs, EMU.dev_keys[0], EMU.dev_keys[1]))
        config = os.path.join(self.dir, "config")
        with open(config, "w") as f:
            f.write("[default]\ncredential_process = %s %s\n" % (sys.executable, tool))
        self.env = EMU.daemon_env()
        del self.env["AWS_ACCESS_KEY_ID"]
        del self.env["AWS_SECRET_ACCESS_KEY"]
        self.env.update({"AWS_CONFIG_FILE": config, "SESRELAY_ROLE_ARN": EMU.role_arn,
                         "SESRELAY_EXTERNAL_ID": EMU.external_id, "SESRELAY_BACKEND": "ses"})

    def run_cmd(self, *args):
        p = subprocess.run([require_binary()] + list(args), env=self.env,
                           capture_output=True, text=True, timeout=120)
        with open(self.runs) as f:
            runs = f.read().count("run")
        os.unlink(self.runs)
        return p.returncode, p.stdout + p.stderr, runs

    def test_whoami_runs_it_once(self):
        rc, out, runs = self.run_cmd("whoami")
        self.assertEqual(rc, 0, out)
        self.assertIn("base credentials: credential_process", out)
        self.assertRegex(out, r"assumed account:\s+%s" % EMU.shared_account)
        self.assertEqual(runs, 1, out)

    def test_check_runs_it_once(self):
        rc, out, runs = self.run_cmd("check", "--identity", EMU.ses_identity)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"base credentials\s+credential_process")
        self.assertRegex(out, r"assumed account\s+%s" % EMU.shared_account)
        self.assertEqual(runs, 1, out)


if __name__ == "__main__":
    unittest.main()
