"""How AWS's answers become SMTP replies, against the AWS emulator in
strict mode: `soft_bounce` turns every permanent answer from SES into the
matching temporary one, quoted AWS messages are cut only between words,
retry log lines name the session and the error code, and an oversized
message is told the limit.
"""

import os
import re
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aws_emulator import Emulator  # noqa: E402
from sesrelay_daemon import make_message, started  # noqa: E402

EMU = Emulator(strict=True)
setUpModule, tearDownModule = EMU.start, EMU.stop

NOT_VERIFIED = ("Email address is not verified. The following identities failed the check "
                "in region US-EAST-1: app@example.com")


def message(body="hi\r\n"):
    return make_message(subject="replies", body=body)


class Replies(unittest.TestCase):
    def start(self, **cfg):
        EMU.reset()
        return started(self, EMU.relay_config(ses_timeout="10", log_level="info", **cfg),
                       EMU.daemon_env())

    def send(self, d, raw=None):
        with smtplib.SMTP(d.host, d.port, timeout=120) as s:
            s.ehlo("client.test")
            self.assertEqual(s.mail("app@example.com")[0], 250)
            self.assertEqual(s.rcpt("rcpt@example.org")[0], 250)
            code, text = s.data(raw or message())
            return code, text.decode()

    def test_permanent_ses_answer_without_soft_bounce(self):
        d = self.start()
        EMU.fault("SendRawEmail", 400, "MessageRejected", NOT_VERIFIED)
        code, text = self.send(d)
        self.assertEqual(code, 550, text)
        self.assertEqual(text, "5.7.1 sender or recipient identity not verified "
                               "(MessageRejected: %s)" % NOT_VERIFIED)

    def test_soft_bounce_answers_the_matching_4xx(self):
        d = self.start(soft_bounce="yes")
        EMU.fault("SendRawEmail", 400, "MessageRejected", NOT_VERIFIED)
        code, text = self.send(d)
        self.assertEqual(code, 450, text)
        self.assertEqual(text, "4.7.1 sender or recipient identity not verified "
                               "(MessageRejected: %s)" % NOT_VERIFIED)
        EMU.fault("SendRawEmail", 400, "ConfigurationSetDoesNotExist", "Configuration set <x> "
                  "does not exist.")
        code, text = self.send(d)
        self.assertEqual(code, 454, text)
        self.assertTrue(text.startswith("4.3.5 configuration set does not exist"), text)
        # Temporary answers stay as they are; and nothing was sent.
        EMU.fault("SendRawEmail", 400, "AccessDenied", "not allowed")
        code, text = self.send(d)
        self.assertEqual(code, 454, text)
        self.assertTrue(text.startswith("4.7.0 "), text)
        self.assertEqual(EMU.messages(), [])
        # And a message SES takes is still sent.
        self.assertEqual(self.send(d)[0], 250)

    def test_quoted_message_is_cut_between_words(self):
        d = self.start()
        arn = "arn:aws:ses:%s:%s:identity/%s" % (EMU.region, EMU.shared_account,
                                                "a-very-long-identity-name." * 3 + "example.com")
        long_message = ("User is not authorized to perform ses:SendRawEmail because no "
                        "identity-based policy allows the action on resource " + arn +
                        " with the current session " + "and more words " * 20).strip()
        EMU.fault("SendRawEmail", 400, "MessageRejected", long_message)
        code, text = self.send(d)
        self.assertEqual(code, 554, text)
        self.assertLessEqual(len(text) + 4, 512)
        m = re.fullmatch(r"5\.6\.0 message rejected \(MessageRejected: (.*) \.\.\.\)", text)
        self.assertIsNotNone(m, text)
        quoted = m.group(1)
        # A prefix of AWS's message that ends where a word ends.
        self.assertTrue(long_message.startswith(quoted), (quoted, long_message))
        self.assertEqual(long_message[len(quoted)], " ")
        # The ARN is whole or absent, never cut.
        self.assertTrue(arn in quoted or "arn:" not in quoted, quoted)

    def test_retry_log_names_the_session_and_code(self):
        d = self.start()
        EMU.fault("SendRawEmail", 400, "Throttling", "Maximum sending rate exceeded.")
        code, text = self.send(d)
        self.assertEqual(code, 250, text)
        line = d.wait_log(r"event=ses\.retry")
        self.assertIn("code=Throttling", line)
        session = re.search(r"\bsession=(\S+)", line)
        self.assertIsNotNone(session, line)
        self.assertRegex(d.log(), r"event=smtp\.connect\b.*\bsession=%s\b"
                         % re.escape(session.group(1)))

    def test_oversized_message_is_told_the_limit_and_v2(self):
        d = self.start(ses_api="v1", max_message_size="20M")
        limit = 10 * 1024 * 1024 // 4 * 3     # raw octets whose base64 fits SES v1
        want = ("5.3.4 Message size exceeds the limit of %d octets (the SES v1 limit; "
                "ses_api v2 allows 40 MB)" % limit)
        with smtplib.SMTP(d.host, d.port, timeout=120) as s:
            s.ehlo("client.test")
            self.assertEqual(int(s.esmtp_features["size"]), limit)
            code, text = s.mail("app@example.com", ["SIZE=%d" % (limit + 1)])
            self.assertEqual((code, text.decode()), (552, want))
            # Without SIZE=, judged on the data: the same reply after it.
            self.assertEqual(s.mail("app@example.com")[0], 250)
            self.assertEqual(s.rcpt("rcpt@example.org")[0], 250)
            code, text = s.data(message() + (b"y" * 74 + b"\r\n") * (limit // 76 + 10))
            self.assertEqual((code, text.decode()), (552, want))
        self.assertEqual(EMU.messages(), [])

    def test_oversized_for_v1_is_fine_with_v2(self):
        d = self.start(ses_api="v2", max_message_size="20M")
        with smtplib.SMTP(d.host, d.port, timeout=120) as s:
            s.ehlo("client.test")
            self.assertEqual(int(s.esmtp_features["size"]), 20 * 1024 * 1024)
            self.assertEqual(s.mail("app@example.com", ["SIZE=%d" % (8 * 1024 * 1024)])[0], 250)
            s.rset()
            code, text = s.mail("app@example.com", ["SIZE=%d" % (21 * 1024 * 1024)])
        self.assertEqual(code, 552)
        self.assertEqual(text.decode(), "5.3.4 Message size exceeds the limit of %d octets"
                         % (20 * 1024 * 1024))


if __name__ == "__main__":
    unittest.main()
