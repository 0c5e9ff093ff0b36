"""Faults no emulator produces: SES (and STS) answers that are slow,
reset mid-request, throttled or broken, from a small loopback fake.

The fake plays STS honestly enough (AssumeRole, and GetCallerIdentity
naming the role's account for the assumed keys and the base account for
the base keys) and plays SES from a script: each SES request
takes the next planned behaviour. The assertions are the relay's promise:
every client gets a 4xx for a fault, a 250 only for a request the fake
answered with a MessageId, and the relay keeps serving afterwards.
"""

import datetime
import os
import smtplib
import socket
import struct
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sesrelay_daemon import Daemon  # noqa: E402

ACCOUNT = "111111111111"
BASE_ACCOUNT = "222222222222"
ROLE = "arn:aws:iam::%s:role/relay" % ACCOUNT


class FakeAws:
    """Threaded HTTP/1.1 server on 127.0.0.1 speaking just enough STS/SES."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.endpoint = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.plan = []              # behaviours for the next SES requests
        self.default = "ok"
        self.lock = threading.Lock()
        self.ses_requests = 0
        self.accepted = []          # MessageIds handed out
        self.assume_role = 0
        self.running = True
        threading.Thread(target=self.serve, daemon=True).start()

    def stop(self):
        self.running = False
        # shutdown() wakes the accept() in serve(); a bare close() may not,
        # and a later fake given the same descriptor would have its
        # connections taken by this one's thread.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if not self.running:
                conn.close()
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    @staticmethod
    def read_request(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None, None
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None, None
            body += chunk
        return head, body

    @staticmethod
    def reply(conn, status, body, ctype="text/xml"):
        conn.sendall(("HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                      % (status, ctype, len(body))).encode() + body.encode())

    @staticmethod
    def reset(conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    def handle(self, conn):
        try:
            while True:
                head, body = self.read_request(conn)
                if head is None:
                    break
                form = dict(urllib.parse.parse_qsl(body.decode()))
                action = form.get("Action")
                if action == "AssumeRole":
                    with self.lock:
                        self.assume_role += 1
                    exp = (datetime.datetime.utcnow() + datetime.timedelta(hours=1)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")
                    self.reply(conn, 200, (
                        "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
                        "<AccessKeyId>ASIAFAKEFAKEFAKE0001</AccessKeyId>"
                        "<SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken>"
                        "<Expiration>%s</Expiration></Credentials><AssumedRoleUser>"
                        "<Arn>arn:aws:sts::%s:assumed-role/relay/s</Arn></AssumedRoleUser>"
                        "</AssumeRoleResult></AssumeRoleResponse>") % (exp, ACCOUNT))
                elif action == "GetCallerIdentity":
                    who = BASE_ACCOUNT if b"Credential=AKIA" in head else ACCOUNT
                    self.reply(conn, 200, (
                        "<GetCallerIdentityResponse><GetCallerIdentityResult>"
                        "<Arn>arn:aws:sts::%s:assumed-role/relay/s</Arn><UserId>X:s</UserId>"
                        "<Account>%s</Account></GetCallerIdentityResult>"
                        "</GetCallerIdentityResponse>") % (who, who))
                elif action == "SendRawEmail":
                    if not self.ses(conn, form):
                        return
                else:
                    self.other(conn, action, form)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def other(self, conn, action, form):
        """Any other action (a subclass may answer more of them)."""
        self.reply(conn, 400, "<ErrorResponse><Error><Code>InvalidAction</Code>"
                              "</Error></ErrorResponse>")

    def ses(self, conn, form=None):
        """Play the next planned behaviour; False when the connection is gone."""
        with self.lock:
            self.ses_requests += 1
            what = self.plan.pop(0) if self.plan else self.default
        if what == "ok":
            mid = "fake-%06d" % self.ses_requests
            with self.lock:
                self.accepted.append(mid)
            return self.answer(conn, what, mid)
        return self.answer(conn, what)

    def answer(self, conn, what, mid=None):
        """Send SES's answer for a behaviour; False when the connection is gone."""
        if what == "ok":
            self.reply(conn, 200, "<SendRawEmailResponse><SendRawEmailResult><MessageId>%s"
                                  "</MessageId></SendRawEmailResult></SendRawEmailResponse>" % mid)
        elif what == "throttle":
            self.reply(conn, 400, "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling"
                                  "</Code><Message>Maximum sending rate exceeded.</Message>"
                                  "</Error></ErrorResponse>")
        elif what == "500":
            self.reply(conn, 500, "<ErrorResponse><Error><Code>InternalFailure</Code>"
                                  "</Error></ErrorResponse>")
        elif what == "reset":
            self.reset(conn)            # the body was read: SES may have seen it
            return False
        elif what == "slow":
            time.sleep(4)               # longer than ses_timeout
            self.reset(conn)
            return False
        elif what == "garbage":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        elif what == "rejected":
            self.reply(conn, 400, "<ErrorResponse><Error><Code>MessageRejected</Code>"
                                  "<Message>Email address is not verified.</Message>"
                                  "</Error></ErrorResponse>")
        return True


MSG = b"From: app@example.com\r\nTo: r@example.org\r\nSubject: x\r\n\r\nbody\r\n"


class FaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.aws = FakeAws()
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("AWS_"):
                del env[k]
        env.update({"AWS_ACCESS_KEY_ID": "AKIABASEBASEBASE0001", "AWS_SECRET_ACCESS_KEY": "s",
                    "AWS_ENDPOINT_URL": cls.aws.endpoint, "AWS_REGION": "us-east-1",
                    "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                    "AWS_EC2_METADATA_DISABLED": "true"})
        cls.relay = Daemon(config={"backend": "ses", "role_arn": ROLE, "ses_timeout": "2",
                                   "ses_max_retries": "2"}, env=env)
        cls.relay.start()

    @classmethod
    def tearDownClass(cls):
        cls.relay.stop()
        cls.relay.cleanup()
        cls.aws.stop()

    def send(self):
        with smtplib.SMTP(self.relay.host, self.relay.port, timeout=60) as s:
            s.ehlo("t")
            s.mail("app@example.com")
            s.rcpt("r@example.org")
            try:
                code, text = s.data(MSG)
            except smtplib.SMTPDataError as e:
                code, text = e.smtp_code, e.smtp_error
            return code, text.decode()

    def plan(self, *what):
        with self.aws.lock:
            self.aws.plan = list(what)

    def test_each_fault_gives_4xx_and_only_accepted_get_250(self):
        cases = [
            (["throttle", "throttle", "throttle"], 451, "Throttling"),
            (["500", "500", "500"], 451, "InternalFailure"),
            (["reset"], 451, "NetworkError"),
            (["slow"], 451, "Timeout"),
            (["garbage"], 451, "NoMessageId"),
        ]
        for plan, code, why in cases:
            with self.subTest(plan=plan):
                before = len(self.aws.accepted)
                self.plan(*plan)
                got, text = self.send()
                self.assertEqual(got, code, text)
                self.assertIn(why, text)
                self.assertEqual(len(self.aws.accepted), before)
        # Still serving, and a 250 names the MessageId the fake handed out.
        got, text = self.send()
        self.assertEqual(got, 250, text)
        self.assertIn(self.aws.accepted[-1], text)

    def test_transient_faults_are_retried_to_success(self):
        self.plan("throttle", "500")
        got, text = self.send()
        self.assertEqual(got, 250, text)
        self.assertIn(self.aws.accepted[-1], text)

    def test_reset_after_body_is_not_retried(self):
        # The request may have reached SES: sending again could duplicate it.
        before = self.aws.ses_requests
        self.plan("reset", "ok")
        got, text = self.send()
        self.assertEqual(got, 451, text)
        self.assertEqual(self.aws.ses_requests - before, 1)

    def test_permanent_rejection_is_5xx(self):
        self.plan("rejected")
        got, text = self.send()
        self.assertEqual(got, 550, text)

    def test_many_clients_during_faults_all_get_truthful_replies(self):
        replies = []
        lock = threading.Lock()
        with self.aws.lock:
            self.aws.plan = ["throttle", "ok", "500", "reset", "ok", "garbage"] * 4
        before = len(self.aws.accepted)

        def client():
            r = self.send()
            with lock:
                replies.append(r)
        threads = [threading.Thread(target=client) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(len(replies), 12)
        ok = [t for c, t in replies if c == 250]
        self.assertTrue(all(c in (250, 451) for c, _ in replies), replies)
        # Every 250 names a MessageId the fake really handed out, once.
        accepted = set(self.aws.accepted[before:])
        named = [t.split()[-1] for t in ok]
        self.assertEqual(len(named), len(set(named)))
        self.assertTrue(set(named) <= accepted, (named, accepted))
        self.assertTrue(self.relay.alive())

    def test_one_assume_role_for_everything(self):
        self.send()
        self.assertEqual(self.aws.assume_role, 1)


if __name__ == "__main__":
    unittest.main()
