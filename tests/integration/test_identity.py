"""The shared-account identity as the running relay holds it, against the
AWS emulator in strict mode (tests/integration/aws_emulator.py):

- the account rule: credentials whose proven account is the base (dev)
  account are never used to send, whatever path asks (SMTP, /readyz,
  `whoami`, `check`); `allow_same_account yes` allows it deliberately;
  `shared_account` pins the one account mail may leave from;
- SIGHUP rebuilds the identity and switches to it once it proved its
  account; a new identity that fails leaves the running one serving;
- the series that show it: STS errors apart from SES errors, reloads,
  the proven identity.
"""

import http.client
import os
import re
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aws_emulator import Emulator  # noqa: E402
from sesrelay_daemon import make_message, require_binary, started  # noqa: E402

EMU = Emulator(strict=True)
setUpModule, tearDownModule = EMU.start, EMU.stop
METRICS_RE = r'event=metrics\.listen addr=(\S+)'


def message(sender):
    return make_message(sender, subject="identity")


def http_get(addr, path):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def series(text, name, **labels):
    """Value of one series in a Prometheus exposition, or None."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if m and m.group(1) == name:
            got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
            if got == want:
                return float(m.group(3))
    return None


class Relay(unittest.TestCase):
    workers = "1"

    def start(self, **cfg):
        EMU.reset()
        conf = EMU.relay_config(ses_timeout="10", metrics_listen="127.0.0.1:0",
                                log_level="info", workers=self.workers)
        conf.update(cfg)
        d = started(self, conf, EMU.daemon_env())
        d.admin = re.search(METRICS_RE, d.wait_log(METRICS_RE)).group(1)
        return d

    def send(self, d, sender="app@example.com"):
        with smtplib.SMTP(d.host, d.port, timeout=60) as s:
            s.ehlo("client.test")
            self.assertEqual(s.mail(sender)[0], 250)
            self.assertEqual(s.rcpt("rcpt@example.org")[0], 250)
            code, text = s.data(message(sender))
            return code, text.decode()

    def metrics(self, d):
        status, body = http_get(d.admin, "/metrics")
        self.assertEqual(status, 200)
        return body

    def command(self, d, *args):
        """Run a subcommand on the daemon's own configuration file."""
        path = d.write_config()
        p = subprocess.run([require_binary(), "--config", path] + list(args),
                           env=EMU.daemon_env(), capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout + p.stderr


class AccountRule(Relay):
    def test_role_in_base_account_is_never_used_to_send(self):
        # The role exists, trusts the dev account and may send from the dev
        # account's SES: AWS would send. The relay must not.
        d = self.start(role_arn=EMU.local_role_arn)
        line = d.wait_log(r"event=sts\.account_mismatch")
        self.assertIn("code=SameAccount", line)
        self.assertIn("base_account=%s" % EMU.dev_account, line)
        self.assertRegex(line, r"fix=.*set role_arn to the role in the shared account")

        code, text = self.send(d, "app@%s" % EMU.local_ses_identity)
        self.assertEqual(code, 454, text)
        self.assertTrue(text.startswith("4.7.0 "), text)
        self.assertIn("SameAccount", text)
        self.assertEqual(EMU.messages(account=EMU.dev_account), [])
        self.assertEqual(EMU.messages(account=EMU.shared_account), [])
        self.assertEqual(EMU.stats()["actions"].get("SendRawEmail", {}).get("total", 0), 0)

        status, body = http_get(d.admin, "/readyz")
        self.assertEqual(status, 503)
        self.assertIn("SameAccount", body)
        self.assertIn("base account %s" % EMU.dev_account, body)

        text = self.metrics(d)
        self.assertGreaterEqual(series(text, "sesrelay_sts_errors_total", code="SameAccount"), 1)
        self.assertIsNone(series(text, "sesrelay_ses_errors_total", code="SameAccount"))
        self.assertIsNone(series(text, "sesrelay_ses_errors_total", code="NoCredentials"))
        self.assertNotIn("sesrelay_identity_info{", text)

        rc, out = self.command(d, "whoami")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("SameAccount", out)
        self.assertNotIn("account check:    ok", out)
        rc, out = self.command(d, "check")
        self.assertEqual(rc, 1, out)
        self.assertIn("SameAccount", out)
        self.assertNotIn("account check          ok", out)

    def test_allow_same_account_sends_from_the_base_account(self):
        d = self.start(role_arn=EMU.local_role_arn, allow_same_account="yes")
        code, text = self.send(d, "app@%s" % EMU.local_ses_identity)
        self.assertEqual(code, 250, text)
        self.assertEqual(len(EMU.messages(account=EMU.dev_account)), 1)
        rc, out = self.command(d, "whoami")
        self.assertEqual(rc, 0, out)

    def test_shared_account_pin_refuses_any_other_account(self):
        d = self.start(shared_account="333333333333")
        d.wait_log(r"event=sts\.account_mismatch.*code=NotSharedAccount")
        code, text = self.send(d)
        self.assertEqual(code, 454, text)
        self.assertIn("NotSharedAccount", text)
        self.assertEqual(EMU.messages(), [])
        status, body = http_get(d.admin, "/readyz")
        self.assertEqual(status, 503)
        self.assertIn("NotSharedAccount", body)
        rc, out = self.command(d, "whoami")
        self.assertNotEqual(rc, 0, out)

    def test_shared_account_pin_matching_sends_and_shows_the_identity(self):
        d = self.start(shared_account=EMU.shared_account)
        code, text = self.send(d)
        self.assertEqual(code, 250, text)
        self.assertEqual(len(EMU.messages(account=EMU.shared_account)), 1)
        text = self.metrics(d)
        self.assertEqual(series(text, "sesrelay_identity_info", account=EMU.shared_account,
                                role_arn=EMU.role_arn), 1)


class IdentityReload(Relay):
    def test_fixed_external_id_applies_on_sighup(self):
        d = self.start(external_id="not-the-right-one")
        code, text = self.send(d)
        self.assertEqual(code, 454, text)
        self.assertIn("AccessDenied", text)
        self.assertEqual(series(self.metrics(d), "sesrelay_reload_last_success_timestamp_seconds"),
                         0)

        d.config["external_id"] = EMU.external_id
        start = len(d.log_lines())
        line = d.reload()
        self.assertIn("need a restart: listen,", line)
        restart = re.search(r"need a restart: ([a-z_, ]+)\)", line).group(1).split(", ")
        self.assertNotIn("external_id", restart)
        # The same keys in sesrelay.conf(5)'s paragraph on SIGHUP, and in
        # the example configuration's header.
        root = os.environ.get("PROJECT_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
        with open(os.path.join(root, "deploy", "man", "sesrelay.conf.5")) as f:
            man = f.read()
        para = man[man.index("which need a restart"):man.index("When a key of the shared")]
        with open(os.path.join(root, "config", "sesrelay.conf")) as f:
            conf = f.read()
        head = re.sub(r"\s*#\s*", " ", conf[:conf.index("## SMTP")])
        for key in restart:
            self.assertIn(".Cm %s" % key, para)
            self.assertRegex(head, r"need\s+a restart:.*\b%s\b" % key)
        self.assertEqual(len(re.findall(r"^\.Cm ", para, re.M)), len(restart))
        line = d.wait_log(r"event=identity\.reload outcome=ok", timeout=30, start=start)
        self.assertIn("account=%s" % EMU.shared_account, line)

        code, text = self.send(d)
        self.assertEqual(code, 250, text)
        self.assertEqual(len(EMU.messages(account=EMU.shared_account)), 1)
        self.assertEqual(http_get(d.admin, "/readyz")[0], 200)
        text = self.metrics(d)
        self.assertEqual(series(text, "sesrelay_identity_reloads_total", outcome="ok"), 1)
        self.assertEqual(series(text, "sesrelay_reloads_total", outcome="ok"), 1)
        self.assertGreater(series(text, "sesrelay_reload_last_success_timestamp_seconds"), 0)
        self.assertGreaterEqual(series(text, "sesrelay_sts_errors_total", code="AccessDenied"), 1)
        self.assertIsNone(series(text, "sesrelay_ses_errors_total", code="AccessDenied"))

    def test_bad_new_identity_keeps_the_running_one(self):
        d = self.start()
        self.assertEqual(self.send(d)[0], 250)
        d.config["external_id"] = "typo"
        start = len(d.log_lines())
        d.reload()
        line = d.wait_log(r"event=identity\.reload outcome=failed", timeout=30, start=start)
        self.assertIn("code=AccessDenied", line)
        self.assertIn("running identity keeps serving", line)
        code, text = self.send(d)
        self.assertEqual(code, 250, text)
        self.assertEqual(len(EMU.messages(account=EMU.shared_account)), 2)
        text = self.metrics(d)
        self.assertEqual(series(text, "sesrelay_identity_reloads_total", outcome="failed"), 1)
        self.assertEqual(series(text, "sesrelay_identity_reloads_total", outcome="ok"), 0)
        self.assertEqual(http_get(d.admin, "/readyz")[0], 200)

    def test_role_moved_to_the_base_account_is_refused_on_reload(self):
        d = self.start()
        self.assertEqual(self.send(d)[0], 250)
        d.config["role_arn"] = EMU.local_role_arn
        start = len(d.log_lines())
        d.reload()
        line = d.wait_log(r"event=identity\.reload outcome=failed", timeout=30, start=start)
        self.assertIn("code=SameAccount", line)
        self.assertEqual(self.send(d)[0], 250)
        self.assertEqual(EMU.messages(account=EMU.dev_account), [])

    def test_region_change_moves_sending_on_sighup(self):
        # The identity is verified in the emulator's region only: after the
        # switch SES in the new region refuses the sender, which shows the
        # new region's endpoint and signing scope are in use.
        d = self.start()
        self.assertEqual(self.send(d)[0], 250)
        d.config["region"] = "eu-west-1" if EMU.region != "eu-west-1" else "us-west-2"
        start = len(d.log_lines())
        d.reload()
        d.wait_log(r"event=identity\.reload outcome=ok", timeout=30, start=start)
        code, text = self.send(d)
        self.assertEqual(code, 550, text)
        self.assertIn("MessageRejected", text)
        self.assertEqual(len(EMU.messages(account=EMU.shared_account)), 1)

    def test_unchanged_identity_is_not_rebuilt(self):
        d = self.start()
        self.assertEqual(self.send(d)[0], 250)
        EMU.reset_stats()
        d.config["max_recipients"] = "20"
        d.reload()
        self.assertEqual(self.send(d)[0], 250)
        self.assertNotIn("event=identity.reload", d.log())
        self.assertEqual(EMU.stats()["assume_role"], 0)


class IdentityReloadWorkers(IdentityReload):
    """The same with two workers: one identity, switched for both."""
    workers = "2"


if __name__ == "__main__":
    unittest.main()
