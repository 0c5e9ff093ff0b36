"""SMTP -> sesrelay -> STS AssumeRole -> SES, end to end against moto.

The emulator (tests/integration/aws_emulator.py, strict mode) verifies every SigV4
signature and keeps the shared (111111111111) and dev (222222222222)
accounts apart, so these tests see what real AWS would: which account a
message landed in, which key signed it, and what SES was asked.
"""

import base64
import os
import re
import smtplib
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import testdeps  # noqa: E402
from aws_emulator import Emulator  # noqa: E402
from raw_smtp import RawClient  # noqa: E402
from sesrelay_daemon import make_message, started, strip_received, wait_until  # noqa: E402

EMU = Emulator(strict=True)
setUpModule, tearDownModule = EMU.start, EMU.stop


message = make_message


class RelayCase(unittest.TestCase):
    config = {}

    def setUp(self):
        EMU.reset()
        cfg = EMU.relay_config(ses_timeout="10", timeout_data="60")
        cfg.update(self.config)
        cfg.update(self.extra_config())
        self.relay = started(self, cfg, EMU.daemon_env())

    def extra_config(self):
        return {}

    def send(self, raw, sender="app@example.com", rcpts=("rcpt@example.org",)):
        """Returns (code, text) of the reply to the end of data."""
        with smtplib.SMTP(self.relay.host, self.relay.port, timeout=60) as s:
            s.ehlo("client.test")
            code, text = s.mail(sender)
            self.assertEqual(code, 250, text)
            for r in rcpts:
                code, text = s.rcpt(r)
                self.assertEqual(code, 250, text)
            code, text = s.data(raw)
            return code, text.decode()

    def shared_messages(self):
        return EMU.messages(account=EMU.shared_account)

    def dev_messages(self):
        return EMU.messages(account=EMU.dev_account)


class SendTest(RelayCase):
    def test_lands_in_shared_account_byte_exact_with_bcc(self):
        raw = message(body="line one\r\n.leading dot\r\n\r\nlast\r\n")
        code, text = self.send(raw, rcpts=("rcpt@example.org", "hidden@example.net"))
        self.assertEqual(code, 250, text)
        self.assertTrue(text.startswith("2.0.0 Ok "), text)
        msg_id = text.split()[-1]
        msgs = self.shared_messages()
        self.assertEqual([m["message_id"] for m in msgs], [msg_id])
        m = msgs[0]
        got = base64.b64decode(m["raw_b64"])
        self.assertEqual(strip_received(got), raw)
        self.assertEqual(m["params"]["Source"], "app@example.com")
        self.assertEqual(m["params"]["Destinations"], ["rcpt@example.org", "hidden@example.net"])
        # Signed with the assumed role's temporary key, never the dev key.
        self.assertTrue(m["access_key_id"].startswith("ASIA"), m["access_key_id"])
        self.assertNotEqual(m["access_key_id"], EMU.dev_keys[0])
        self.assertEqual(self.dev_messages(), [])
        # the relay logs smtp.txn as it answers; the reader thread may not have it yet
        self.relay.wait_log(r"event=smtp\.txn .*%s" % msg_id)

    def test_sts_called_once_for_many_messages(self):
        for i in range(15):
            code, text = self.send(message(subject="n%d" % i))
            self.assertEqual(code, 250, text)
        self.assertEqual(len(self.shared_messages()), 15)
        # One AssumeRole at start-up, none per message.
        self.assertEqual(EMU.stats().get("assume_role"), 1)

    def test_unverified_sender_is_permanent(self):
        code, text = self.send(message(sender="x@unverified.test"), sender="x@unverified.test")
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith("5.7.1"), text)
        self.assertIn("MessageRejected", text)
        self.assertEqual(self.shared_messages(), [])

    def test_x_ses_headers_are_stripped(self):
        raw = message(extra=["X-SES-CONFIGURATION-SET: attacker-set",
                             "X-SES-SOURCE-ARN: arn:aws:ses:us-east-1:999999999999:identity/x.test"])
        code, text = self.send(raw)
        self.assertEqual(code, 250, text)
        got = base64.b64decode(self.shared_messages()[0]["raw_b64"])
        self.assertNotIn(b"X-SES-", got)
        self.assertIn(b"Subject: hello", got)

    def test_too_many_recipients(self):
        with smtplib.SMTP(self.relay.host, self.relay.port, timeout=30) as s:
            s.ehlo("client.test")
            s.mail("app@example.com")
            for i in range(50):
                self.assertEqual(s.rcpt("r%d@example.org" % i)[0], 250)
            code, text = s.rcpt("one-too-many@example.org")
            self.assertEqual(code, 452, text)
            # No To: header: SES (and moto) count header addresses too.
            code, text = s.data(message(to=None))
            self.assertEqual(code, 250, text)
        self.assertEqual(len(self.shared_messages()[0]["params"]["Destinations"]), 50)

    def test_over_ses_size_limit(self):
        # 8 MiB raw is over 10 MiB once base64-encoded: SES v1 would refuse it.
        body = ("x" * 998 + "\r\n") * (8 * 1024 * 1024 // 1000)
        code, text = self.send(message(body=body))
        self.assertEqual(code, 552, text)
        self.assertTrue(text.startswith("5.3.4"), text)
        self.assertEqual(self.shared_messages(), [])


class InternationalAddressTest(RelayCase):
    """SES has no SMTPUTF8: what it cannot take is converted or refused at
    MAIL/RCPT, never left to fail at SES as a 4xx the client retries."""

    def test_utf8_domain_arrives_as_punycode(self):
        # swaks sends the envelope addresses as given (UTF-8), as a
        # client that ignores the missing SMTPUTF8 would; the header
        # fields are the client's and already ASCII.
        testdeps.require_tool("swaks", "Debian package swaks")
        r = subprocess.run(
            ["swaks", "--server", "%s:%d" % self.relay.addr, "--helo", "client.test",
             "--from", "app@example.com", "--to", "Joerg@Bücher.example,user@пример.рф",
             "--header", "To: Joerg@xn--bcher-kva.example, user@xn--e1afmkfd.xn--p1ai",
             "--header", "Subject: idna", "--body", "idna body", "--timeout", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, out)
        msgs = self.shared_messages()
        self.assertEqual(len(msgs), 1, out)
        self.assertEqual(msgs[0]["params"]["Source"], "app@example.com")
        # A-labels (IDNA2008 after UTS #46 mapping: case folded); the
        # ASCII local part is kept exactly.
        self.assertEqual(msgs[0]["params"]["Destinations"],
                         ["Joerg@xn--bcher-kva.example", "user@xn--e1afmkfd.xn--p1ai"])

    def test_utf8_local_part_is_553_not_4xx(self):
        with socket.create_connection(self.relay.addr, timeout=30) as c:
            f = c.makefile("rwb")

            def cmd(line):
                if line is not None:
                    f.write(line.encode("utf-8") + b"\r\n")
                    f.flush()
                return f.readline().decode("utf-8", "replace")
            self.assertTrue(cmd(None).startswith("220"))
            cmd("EHLO client.test")
            while True:     # the rest of the EHLO reply
                if f.readline()[3:4] == b" ":
                    break
            self.assertTrue(cmd("MAIL FROM:<app@example.com>").startswith("250"))
            reply = cmd("RCPT TO:<jörg@example.org>")
            self.assertTrue(reply.startswith("553 5.6.7"), reply)
            self.assertTrue(cmd("QUIT").startswith("221"))
        self.assertEqual(self.shared_messages(), [])


class IdentityConfigTest(RelayCase):
    config = {
        "source_arn": "arn:aws:ses:us-east-1:111111111111:identity/example.com",
        "from_arn": "arn:aws:ses:us-east-1:111111111111:identity/example.com",
        "return_path_arn": "arn:aws:ses:us-east-1:111111111111:identity/example.com",
        "message_tags": "team=mail,env=dev",
    }

    def extra_config(self):
        return {"configuration_set": EMU.configuration_set}

    def test_arns_configuration_set_and_tags_arrive(self):
        code, text = self.send(message())
        self.assertEqual(code, 250, text)
        p = self.shared_messages()[0]["params"]
        for k in ("SourceArn", "FromArn", "ReturnPathArn"):
            self.assertEqual(p[k], IdentityConfigTest.config["source_arn"])
        self.assertEqual(p["ConfigurationSetName"], EMU.configuration_set)
        self.assertEqual(p["Tags"], [{"Name": "team", "Value": "mail"},
                                     {"Name": "env", "Value": "dev"}])


class RejectHeadersTest(RelayCase):
    config = {"ses_headers": "reject"}

    def test_x_ses_header_refused(self):
        code, text = self.send(message(extra=["X-SES-CONFIGURATION-SET: evil"]))
        self.assertEqual(code, 550, text)
        self.assertEqual(self.shared_messages(), [])
        # The session is still in step: the next transaction works.
        self.assertEqual(self.send(message())[0], 250)


class V2Test(RelayCase):
    config = {"ses_api": "v2",
              "source_arn": "arn:aws:ses:us-east-1:111111111111:identity/example.com"}

    def test_sesv2_send_email_raw(self):
        raw = message(body="v2 body\r\n")
        code, text = self.send(raw)
        self.assertEqual(code, 250, text)
        m = self.shared_messages()[0]
        self.assertEqual(m["api"], "SESv2.SendEmail")
        self.assertEqual(strip_received(base64.b64decode(m["raw_b64"])), raw)
        # FromEmailAddressIdentityArn, which the emulator reports as FromArn.
        self.assertEqual(m["params"].get("FromArn"), V2Test.config["source_arn"])


class FaultTest(RelayCase):
    config = {"ses_max_retries": "2"}

    def test_throttling_is_retried_then_answered_4xx(self):
        EMU.fault("SendRawEmail", status=400, code="Throttling",
                  message="Maximum sending rate exceeded.", count=1)
        code, text = self.send(message())
        self.assertEqual(code, 250, text)       # one throttle, retried inside
        EMU.fault("SendRawEmail", status=400, code="Throttling",
                  message="Maximum sending rate exceeded.", count=10)
        code, text = self.send(message())
        self.assertEqual(code, 451, text)
        self.assertIn("Throttling", text)
        self.assertEqual(len(self.shared_messages()), 1)

    def test_server_error_is_temporary(self):
        EMU.fault("SendRawEmail", status=500, code="InternalFailure", message="boom", count=10)
        code, text = self.send(message())
        self.assertEqual(code // 100, 4, text)
        self.assertEqual(self.shared_messages(), [])
        EMU.clear_faults()
        self.assertEqual(self.send(message())[0], 250)

    def test_daily_quota_not_retried(self):
        EMU.reset_stats()
        EMU.fault("SendRawEmail", status=400, code="Throttling",
                  message="Daily message quota exceeded.", count=5)
        code, text = self.send(message())
        self.assertEqual(code, 451, text)
        self.assertEqual(EMU.stats()["actions"].get("SendRawEmail", {}).get("4xx", 0), 1)


class VanishedClientTest(RelayCase):
    """A client sends the final "." and vanishes (a reset) while SES still
    holds the message: the emulator delays SendRawEmail, and the client
    resets only once the emulator has taken the request. SES finishes on its
    own; the relay must write no reply to the gone client, must not send the
    message again (no retry, no second commit), and must serve the next
    client."""

    HOLD_MS = 5000      # how long SES keeps the request: the client resets within it

    def test_client_vanishes_during_commit(self):
        marker = "vanished-" + os.urandom(6).hex()
        EMU.fault("SendRawEmail", status=0, delay_ms=self.HOLD_MS, count=1)
        c = RawClient(self.relay.addr, timeout=30)
        self.addCleanup(c.close)
        port = c.sock.getsockname()[1]
        c.expect(220)
        sid = re.search(r"session=(\w+)", self.relay.wait_log(
            r"event=smtp\.connect .*port=%d\b" % port)).group(1)
        c.send(b"EHLO client.test\r\nMAIL FROM:<app@example.com>\r\n"
               b"RCPT TO:<rcpt@example.org>\r\nDATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(4)], [250, 250, 250, 354])
        c.send(message(subject=marker) + b".\r\n")
        self.relay.wait_log(r"event=smtp\.state session=%s from=data to=commit" % sid)
        wait_until(lambda: all(x["count"] == 0 for x in EMU.faults()), 30,
                   what="SES taking the request")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        self.assertEqual(EMU.stats()["actions"].get("SendRawEmail", {}).get("total", 0), 0,
                         "SES answered before the client was gone: hold it longer")
        self.relay.wait_log(r"event=smtp\.disconnect session=%s" % sid, 30)

        # SES finishes the held request on its own; the next client is served.
        wait_until(lambda: EMU.stats()["actions"].get("SendRawEmail", {}).get("total"), 30,
                   what="SES finishing the held request")
        code, text = self.send(message(subject="next-client"))
        self.assertEqual(code, 250, text)
        # Stopping the relay ends anything it still had in flight, so no
        # later retry can escape the counts below.
        self.relay.stop()

        session = [x for x in self.relay.log_lines() if "session=%s " % sid in x + " "]
        commit = next(i for i, x in enumerate(session) if "to=commit" in x)
        # Every answer to the end of data is logged as smtp.txn, every
        # other refusal as smtp.reject: neither may follow the commit.
        self.assertEqual([x for x in session[commit:] if "event=smtp.txn" in x
                          or "event=smtp.reject" in x], [],
                         "a reply was written to the vanished client")
        subjects = [base64.b64decode(m["raw_b64"]).split(b"\r\nSubject: ", 1)[1].split(b"\r\n")[0]
                    for m in self.shared_messages()]
        self.assertEqual(sorted(subjects), sorted([marker.encode(), b"next-client"]))
        self.assertEqual(EMU.stats()["actions"]["SendRawEmail"]["total"], 2)
        self.assertEqual(self.dev_messages(), [])


class CredentialTest(RelayCase):
    def test_trust_revoked_while_running(self):
        self.assertEqual(self.send(message())[0], 250)
        EMU.set_trust(False)
        EMU.expire()            # the session the relay holds ends now
        code, text = self.send(message())
        self.assertEqual(code // 100, 4, text)
        self.assertEqual(len(self.shared_messages()), 1)
        self.assertEqual(self.dev_messages(), [])
        EMU.set_trust(True)
        # The relay retries STS with backoff; mail flows again once it has
        # new credentials, without a restart.
        deadline = time.monotonic() + 30
        while True:
            code, text = self.send(message())
            if code == 250 or time.monotonic() > deadline:
                break
            self.assertEqual(code // 100, 4, text)
            time.sleep(0.5)
        self.assertEqual(code, 250, text)
        # Every message that went out was signed by an assumed-role key.
        for m in self.shared_messages():
            self.assertTrue(m["access_key_id"].startswith("ASIA"))


class BadBaseCredentialsTest(unittest.TestCase):
    def test_wrong_secret_gives_4xx_and_nothing_sent(self):
        env = EMU.daemon_env()
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        EMU.clear_messages()
        relay = started(self, EMU.relay_config(), env)
        with smtplib.SMTP(relay.host, relay.port, timeout=60) as s:
            s.ehlo("client.test")
            s.mail("app@example.com")
            s.rcpt("rcpt@example.org")
            code, text = s.data(message())
        self.assertEqual(code, 454, text)
        self.assertIn(b"SignatureDoesNotMatch", text)
        self.assertEqual(EMU.messages(), [])


if __name__ == "__main__":
    unittest.main()
