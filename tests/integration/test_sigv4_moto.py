#!/usr/bin/env python3
"""sesrelay's Query encoder, streaming base64 and SigV4 signer against the
AWS emulator (moto, whose signature check is botocore's): requests built
and signed by tests/integration/probes/sigv4_probe.c must be accepted, carry the message byte
for byte, and the emulator's live error bodies must parse."""

import base64
import datetime
import os
import re
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import testdeps  # noqa: E402

testdeps.require_aws_modules(at_import=True)

from aws_emulator import Emulator

BUILD_ROOT = os.environ.get("BUILD_ROOT", "")
PROBE = os.path.join(BUILD_ROOT, "tests", "sigv4_probe")

# CRLF, 8-bit, every base64 alphabet edge (+ / =), '%', '&', '~', leading dot.
RAW = (b"From: Relay <relay@example.com>\r\nTo: rcpt+tag@example.org\r\n"
       b"Subject: +/= ~%&; caf\xc3\xa9\r\nContent-Type: text/plain; charset=latin-1\r\n"
       b"Content-Transfer-Encoding: 8bit\r\n\r\n"
       b"caf\xe9 \xfb\xff\xfe\xbf?> + / = ~ % & \x00\r\n.leading dot\r\n")
# moto's SESv2 handler decodes the message as UTF-8 (and crashes otherwise).
RAW_UTF8 = RAW.replace(b"\xe9 \xfb\xff\xfe\xbf", "\u00e9 \u20ac \U0001f600".encode())


def amz_date():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


class ProbeAgainstEmulator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(PROBE, os.X_OK):
            raise unittest.SkipTest(f"{PROBE} not built")
        cls.emu = Emulator(strict=True).start()
        cls.host = cls.emu.endpoint.split("//", 1)[1]
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.emu.clear_messages()

    def send(self, keys, service, params=(), path="/", raw=None, chunk=4096, json_wrap=None,
             token=None):
        """Sign with the probe, POST with urllib; returns (status, body, headers)."""
        body_file = os.path.join(self.tmp.name, "body")
        args = [PROBE, "sign", service, self.emu.region, self.host, path, amz_date(), body_file]
        if raw is not None:
            raw_file = os.path.join(self.tmp.name, "raw")
            with open(raw_file, "wb") as f:
                f.write(raw)
            args += ["--raw", raw_file, "--chunk", str(chunk)]
        if json_wrap:
            args += ["--json", json_wrap[0], json_wrap[1]]
        args += [f"{k}={v}" for k, v in params]
        env = {"PATH": os.environ.get("PATH", ""), "AWS_ACCESS_KEY_ID": keys[0],
               "AWS_SECRET_ACCESS_KEY": keys[1]}
        if token:
            env["AWS_SESSION_TOKEN"] = token
        out = subprocess.run(args, env=env, capture_output=True, check=True, timeout=60)
        headers = dict(line.split(": ", 1) for line in out.stdout.decode().splitlines())
        with open(body_file, "rb") as f:
            body = f.read()
        req = urllib.request.Request(self.emu.endpoint + path, data=body, headers=headers,
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def parse_error(self, status, body, errortype=None):
        path = os.path.join(self.tmp.name, "resp")
        with open(path, "wb") as f:
            f.write(body)
        args = [PROBE, "error", str(status), path] + ([errortype] if errortype else [])
        out = subprocess.run(args, capture_output=True, check=True, timeout=30)
        rc, code, retryable, message = out.stdout.decode().split("\n")[:4]
        return int(rc), code, retryable == "1", message

    def assume(self):
        status, body, _ = self.send(self.emu.dev_keys, "sts", [
            ("Action", "AssumeRole"), ("Version", "2011-06-15"),
            ("RoleArn", self.emu.role_arn), ("RoleSessionName", "sesrelay-probe"),
            ("ExternalId", self.emu.external_id), ("DurationSeconds", "900")])
        self.assertEqual(status, 200, body)
        text = body.decode()

        def field(name):
            return re.search(f"<{name}>([^<]*)</{name}>", text).group(1)
        return (field("AccessKeyId"), field("SecretAccessKey")), field("SessionToken")

    def test_assume_role_and_caller_identity(self):
        keys, token = self.assume()
        self.assertTrue(keys[0].startswith("ASIA"))
        status, body, _ = self.send(keys, "sts", [("Action", "GetCallerIdentity"),
                                                  ("Version", "2011-06-15")], token=token)
        self.assertEqual(status, 200, body)
        self.assertIn(f"<Account>{self.emu.shared_account}</Account>".encode(), body)

    def test_send_raw_email_any_chunking(self):
        keys, token = self.assume()
        big = RAW + bytes(range(256)) * 4000     # ~1 MB, base64 full of + and /
        cases = [(RAW, 1), (RAW, 2), (RAW, 7), (big, 3), (big, 65537)]
        for raw, chunk in cases:
            with self.subTest(size=len(raw), chunk=chunk):
                self.emu.clear_messages()
                status, body, _ = self.send(keys, "ses", [
                    ("Action", "SendRawEmail"), ("Version", "2010-12-01"),
                    ("Source", "relay@example.com"),
                    ("Destinations.member.1", "rcpt+tag@example.org"),
                    ("Destinations.member.2", "Other Person <other@example.org>")],
                    raw=raw, chunk=chunk, token=token)
                self.assertEqual(status, 200, body[:500])
                msgs = self.emu.messages(account=self.emu.shared_account)
                self.assertEqual(len(msgs), 1)
                self.assertEqual(base64.b64decode(msgs[0]["raw_b64"]), raw)
                self.assertEqual(msgs[0]["params"]["Destinations"],
                                 ["rcpt+tag@example.org", "Other Person <other@example.org>"])
                mid = re.search(rb"<MessageId>([^<]+)</MessageId>", body).group(1).decode()
                self.assertEqual(msgs[0]["message_id"], mid)

    def test_sesv2_raw_json(self):
        keys, token = self.assume()
        status, body, _ = self.send(
            keys, "ses", path="/v2/email/outbound-emails", raw=RAW_UTF8, chunk=5, token=token,
            json_wrap=('{"Destination":{"ToAddresses":["rcpt+tag@example.org"]},'
                       '"Content":{"Raw":{"Data":"', '"}}}'))
        self.assertEqual(status, 200, body)
        msgs = self.emu.messages(account=self.emu.shared_account)
        self.assertEqual(len(msgs), 1)
        self.assertEqual(base64.b64decode(msgs[0]["raw_b64"]), RAW_UTF8)

    def test_wrong_secret_rejected_and_parsed(self):
        keys, token = self.assume()
        bad = (keys[0], keys[1][:-1] + ("A" if keys[1][-1] != "A" else "B"))
        status, body, _ = self.send(bad, "ses", [("Action", "SendRawEmail"),
                                                 ("Version", "2010-12-01")],
                                    raw=RAW, token=token)
        self.assertEqual(status, 403)
        rc, code, retryable, message = self.parse_error(status, body)
        self.assertEqual((rc, code, retryable), (0, "SignatureDoesNotMatch", False))
        self.assertTrue(message.startswith("The request signature we calculated"))
        self.assertEqual(self.emu.messages(), [])

    def test_live_errors_parse(self):
        keys, token = self.assume()
        status, body, _ = self.send(keys, "ses", [
            ("Action", "SendRawEmail"), ("Version", "2010-12-01"),
            ("Source", "x@unverified.test")], raw=RAW, token=token)
        self.assertEqual(status, 400)
        self.assertEqual(self.parse_error(status, body),
                         (0, "MessageRejected", False,
                          "Did not have authority to send from email x@unverified.test"))

        status, body, headers = self.send(
            keys, "ses", path="/v2/email/outbound-emails", raw=RAW_UTF8, token=token,
            json_wrap=('{"FromEmailAddress":"x@unverified.test","Destination":'
                       '{"ToAddresses":["a@example.org"]},"Content":{"Raw":{"Data":"', '"}}}'))
        self.assertEqual(status, 400)
        rc, code, retryable, message = self.parse_error(status, body,
                                                        headers.get("x-amzn-errortype"))
        self.assertEqual((rc, code, retryable), (0, "MessageRejected", False))
        self.assertIn("x@unverified.test", message)

        # Base keys must not reach SES: AccessDenied, not retryable.
        status, body, _ = self.send(self.emu.dev_keys, "ses", [
            ("Action", "SendRawEmail"), ("Version", "2010-12-01")], raw=RAW)
        self.assertEqual(status, 403)
        rc, code, retryable, _ = self.parse_error(status, body)
        self.assertEqual((rc, code, retryable), (0, "AccessDenied", False))


if __name__ == "__main__":
    unittest.main(verbosity=2)
