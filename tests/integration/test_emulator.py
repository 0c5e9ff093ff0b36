#!/usr/bin/env python3
"""Self-check of the STS+SES emulator the integration suites rely on: if
these fail, a green integration run proves nothing."""

import base64
import datetime
import hashlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import testdeps  # noqa: E402

testdeps.require_aws_modules(at_import=True)
from botocore.exceptions import ClientError  # noqa: E402

from aws_emulator import Emulator

RAW = (b"From: Relay <relay@example.com>\r\nTo: rcpt@example.org\r\n"
       b"Subject: emulator check\r\nContent-Type: text/plain; charset=latin-1\r\n"
       b"Content-Transfer-Encoding: 8bit\r\n\r\n"
       b"caf\xe9 \xff bytes + / = ~ %\r\n.leading dot\r\n")


def error_code(exc):
    return exc.response["Error"]["Code"]


class StrictEmulator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(strict=True).start()
        # client-side validation off: the server's own checks are under test
        cls.sts = cls.emu.boto3_client("sts", validate=False)

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def setUp(self):
        self.emu.clear_messages()
        self.emu.clear_faults()

    def assume(self, **kw):
        args = {"RoleArn": self.emu.role_arn, "RoleSessionName": "check",
                "ExternalId": self.emu.external_id}
        args.update(kw)
        args = {k: v for k, v in args.items() if v is not None}
        return self.sts.assume_role(**args)["Credentials"]

    def ses_as(self, creds):
        return self.emu.boto3_client("ses", (creds["AccessKeyId"], creds["SecretAccessKey"]),
                                     creds["SessionToken"])

    def test_base_keys_are_dev_account(self):
        ident = self.sts.get_caller_identity()
        self.assertEqual(ident["Account"], "222222222222")
        self.assertEqual(ident["Arn"], "arn:aws:iam::222222222222:user/ses-relay")

    def test_assume_role_gives_shared_account_credentials(self):
        creds = self.assume()
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"))
        sts = self.emu.boto3_client("sts", (creds["AccessKeyId"], creds["SecretAccessKey"]),
                                    creds["SessionToken"])
        self.assertEqual(sts.get_caller_identity()["Account"], "111111111111")

    def test_wrong_or_missing_external_id_denied(self):
        for ext in ("not-the-id", None):
            with self.assertRaises(ClientError) as cm:
                self.assume(ExternalId=ext)
            self.assertEqual(error_code(cm.exception), "AccessDenied")

    def test_untrusting_and_missing_roles_denied(self):
        for arn in (self.emu.untrusting_role_arn, "arn:aws:iam::111111111111:role/no-such-role"):
            with self.assertRaises(ClientError) as cm:
                self.assume(RoleArn=arn)
            self.assertEqual(error_code(cm.exception), "AccessDenied")

    def test_duration_bounds(self):
        for d in (899, 3601, 43201):
            with self.assertRaises(ClientError) as cm:
                self.assume(DurationSeconds=d)
            self.assertEqual(error_code(cm.exception), "ValidationError", d)
        self.assertTrue(self.assume(DurationSeconds=900)["AccessKeyId"].startswith("ASIA"))

    def test_send_lands_in_shared_account_byte_exact(self):
        creds = self.assume()
        ses = self.ses_as(creds)
        arn = f"arn:aws:ses:us-east-1:111111111111:identity/{self.emu.ses_identity}"
        mid = ses.send_raw_email(Source="relay@example.com", Destinations=["rcpt@example.org"],
                                 RawMessage={"Data": RAW}, FromArn=arn, SourceArn=arn,
                                 ReturnPathArn=arn, ConfigurationSetName=self.emu.configuration_set,
                                 Tags=[{"Name": "app", "Value": "check"}])["MessageId"]
        shared = self.emu.messages(account="111111111111")
        self.assertEqual(self.emu.messages(account="222222222222"), [])
        self.assertEqual([m["message_id"] for m in shared], [mid])
        m = shared[0]
        self.assertEqual(base64.b64decode(m["raw_b64"]), RAW)
        self.assertEqual(m["raw_sha256"], hashlib.sha256(RAW).hexdigest())
        self.assertEqual(m["access_key_id"], creds["AccessKeyId"])
        self.assertTrue(m["security_token"])
        p = m["params"]
        self.assertEqual(p["Source"], "relay@example.com")
        self.assertEqual(p["Destinations"], ["rcpt@example.org"])
        self.assertEqual((p["SourceArn"], p["FromArn"], p["ReturnPathArn"]), (arn, arn, arn))
        self.assertEqual(p["ConfigurationSetName"], "sesrelay-test")
        self.assertEqual(p["Tags"], [{"Name": "app", "Value": "check"}])

    def test_unknown_configuration_set_rejected(self):
        ses = self.ses_as(self.assume())
        with self.assertRaises(ClientError) as cm:
            ses.send_raw_email(RawMessage={"Data": RAW}, ConfigurationSetName="nope")
        self.assertEqual(error_code(cm.exception), "ConfigurationSetDoesNotExist")

    def test_base_keys_cannot_send(self):
        ses = self.emu.boto3_client("ses")
        with self.assertRaises(ClientError) as cm:
            ses.send_raw_email(RawMessage={"Data": RAW})
        self.assertEqual(error_code(cm.exception), "AccessDenied")
        self.assertEqual(self.emu.messages(), [])

    def test_bad_secret_is_signature_mismatch(self):
        sts = self.emu.boto3_client("sts", (self.emu.dev_keys[0], "x" * 40))
        with self.assertRaises(ClientError) as cm:
            sts.get_caller_identity()
        self.assertEqual(error_code(cm.exception), "SignatureDoesNotMatch")

    def test_expired_credentials_rejected(self):
        creds = self.assume()
        ses = self.ses_as(creds)
        ses.get_send_quota()
        self.assertEqual(self.emu.expire(creds["AccessKeyId"])["expired"], 1)
        with self.assertRaises(ClientError) as cm:
            ses.get_send_quota()
        self.assertEqual(error_code(cm.exception), "ExpiredToken")

    def test_forced_lifetime(self):
        self.emu.set_lifetime(5)
        try:
            creds = self.assume()
        finally:
            self.emu.set_lifetime(0)
        left = creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(left.total_seconds(), 10)

    def test_trust_revoked_and_restored(self):
        self.emu.set_trust(False)
        try:
            with self.assertRaises(ClientError) as cm:
                self.assume()
            self.assertEqual(error_code(cm.exception), "AccessDenied")
        finally:
            self.emu.set_trust(True)
        self.assertTrue(self.assume()["AccessKeyId"].startswith("ASIA"))

    def test_stats_count_assume_role(self):
        before = self.emu.stats()["assume_role"]
        self.assume()
        with self.assertRaises(ClientError):
            self.assume(ExternalId="wrong")
        after = self.emu.stats()
        self.assertEqual(after["assume_role"], before + 2)
        self.assertGreaterEqual(after["actions"]["AssumeRole"]["4xx"], 1)

    def test_fault_injection(self):
        ses = self.ses_as(self.assume())
        self.emu.fault("SendRawEmail", 400, "Throttling", "Maximum sending rate exceeded.")
        with self.assertRaises(ClientError) as cm:
            ses.send_raw_email(RawMessage={"Data": RAW})
        self.assertEqual(error_code(cm.exception), "Throttling")
        ses.send_raw_email(RawMessage={"Data": RAW})
        self.assertEqual(len(self.emu.messages()), 1)

    def test_dropped_connection_then_recovery(self):
        from botocore.exceptions import ConnectionClosedError, EndpointConnectionError
        ses = self.ses_as(self.assume())
        self.emu.fault("SendRawEmail", drop=True)
        with self.assertRaises((ConnectionClosedError, EndpointConnectionError, ClientError)) as cm:
            ses.send_raw_email(RawMessage={"Data": RAW})
        self.assertNotIsInstance(cm.exception, ClientError)  # no HTTP answer at all
        self.assertEqual(self.emu.messages(), [])
        ses.send_raw_email(RawMessage={"Data": RAW})
        self.assertEqual(len(self.emu.messages()), 1)
        self.assertGreaterEqual(self.emu.stats()["actions"]["SendRawEmail"]["dropped"], 1)

    def test_size_limit(self):
        ses = self.ses_as(self.assume())
        big = RAW + b"x" * (8 * 1024 * 1024)  # > 10 MiB once base64 encoded
        with self.assertRaises(ClientError) as cm:
            ses.send_raw_email(RawMessage={"Data": big})
        self.assertEqual(error_code(cm.exception), "InvalidParameterValue")


class PlainMoto(unittest.TestCase):
    """Without --strict the emulator is moto as shipped, signature checks on."""

    def test_signature_checked_trust_not(self):
        with Emulator(strict=False) as emu:
            sts = emu.boto3_client("sts")
            creds = sts.assume_role(RoleArn=emu.role_arn, RoleSessionName="plain",
                                    ExternalId="wrong")["Credentials"]
            self.assertTrue(creds["AccessKeyId"].startswith("ASIA"))
            bad = emu.boto3_client("sts", (emu.dev_keys[0], "y" * 40))
            with self.assertRaises(ClientError) as cm:
                bad.get_caller_identity()
            self.assertEqual(error_code(cm.exception), "SignatureDoesNotMatch")


if __name__ == "__main__":
    unittest.main()
