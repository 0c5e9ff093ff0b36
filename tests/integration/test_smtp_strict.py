"""What a strict peer expects of the relay's SMTP side, checked with real
clients: TLS connections end with close_notify (Python's ssl with ragged
EOFs not suppressed), TLS 1.2 offers no finite-field DHE and the server's
cipher order decides (openssl s_client, Python ssl), a drain never turns a
delivered message into an error (smtplib's `with` block), and every
refusal is in the log at info (the relay's own log).
"""

import os
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import shutil
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sesrelay_daemon as sd  # noqa: E402
import testdeps  # noqa: E402
from raw_smtp import RawClient  # noqa: E402



class Client(RawClient):
    """Line-oriented: send() takes a command without its CRLF, reply() gives
    the code and the text of the last line."""

    def __init__(self, addr, timeout=15.0, tls=False):
        super().__init__(addr, timeout=timeout, tls=tls)

    def send(self, line):
        super().send(line.encode() + b"\r\n")

    def reply(self, timeout=None):
        """(code, text of the last line); EOFError when the server closed."""
        code, lines = super().reply(timeout)
        return code, lines[-1][4:].decode("utf-8", "replace")

    def cmd(self, line):
        self.send(line)
        return self.reply()

    def clean_close(self):
        """The server's next bytes are a TLS close_notify and the end of
        the stream: recv returns b"" (SSLEOFError without close_notify)."""
        self.assertion_buf()
        self.sock.settimeout(self.timeout)
        return self.sock.recv(65536)

    def assertion_buf(self):
        if self.buf:
            raise AssertionError("data before the close: %r" % self.buf)


class DaemonCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sd.require_binary()
        cls.tmp = tempfile.mkdtemp(prefix="sesrelay-strict-")
        cls.cert, cls.key = sd.make_cert(cls.tmp)
        cls.users = sd.make_users_file(cls.tmp, {"alice": "wonderland"})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def daemon(self, **cfg):
        d = sd.Daemon({k: str(v) for k, v in cfg.items()})
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def tls_daemon(self, **cfg):
        return self.daemon(tls_cert=self.cert, tls_key=self.key, **cfg)

    def client(self, addr, tls=False):
        c = Client(addr, tls=tls)
        self.addCleanup(c.close)
        code, _ = c.reply()
        self.assertEqual(code, 220)
        return c

    def starttls_client(self, d):
        c = self.client(d.addr)
        self.assertEqual(c.cmd("EHLO client.example")[0], 250)
        self.assertEqual(c.cmd("STARTTLS")[0], 220)
        c.wrap()
        self.assertEqual(c.cmd("EHLO client.example")[0], 250)
        return c


class CloseNotifyTest(DaemonCase):
    """Every orderly close of a TLS session sends close_notify first."""

    def assert_clean_close(self, c):
        try:
            data = c.clean_close()
        except ssl.SSLEOFError as e:
            self.fail("TCP closed without a TLS close_notify: %s" % e)
        self.assertEqual(data, b"")

    def test_quit_after_starttls(self):
        d = self.tls_daemon()
        c = self.starttls_client(d)
        self.assertEqual(c.cmd("QUIT")[0], 221)
        self.assert_clean_close(c)
        # The client's own close_notify in answer (unwrap) also works.
        d.stop()

    def test_quit_implicit_tls_with_unwrap(self):
        d = self.tls_daemon(smtps_listen="127.0.0.1:0")
        c = self.client(d.tls_addr, tls=True)
        self.assertEqual(c.cmd("EHLO client.example")[0], 250)
        self.assertEqual(c.cmd("QUIT")[0], 221)
        c.assertion_buf()
        try:
            c.sock.unwrap()     # our close_notify out, the server's in
        except ssl.SSLError as e:
            self.fail("no close_notify from the server: %s" % e)
        except OSError:
            pass    # the server already closed the TCP connection after its close_notify
        d.stop()

    def test_timeout(self):
        d = self.tls_daemon(timeout_command=1)
        c = self.starttls_client(d)
        code, text = c.reply()      # unsolicited, after the timeout
        self.assertEqual(code, 421, text)
        self.assertTrue(text.startswith("4.4.2"), text)
        self.assert_clean_close(c)

    def test_error_limit(self):
        d = self.tls_daemon(max_errors=2)
        c = self.starttls_client(d)
        self.assertEqual(c.cmd("BOGUS")[0], 500)
        code, text = c.cmd("BOGUS")
        self.assertEqual(code, 500, text)
        code, text = c.reply()
        self.assertEqual(code, 421, text)
        self.assert_clean_close(c)

    def test_drain(self):
        d = self.tls_daemon(smtps_listen="127.0.0.1:0")
        c = self.starttls_client(d)
        c2 = self.client(d.tls_addr, tls=True)
        self.assertEqual(c2.cmd("EHLO client.example")[0], 250)
        d.proc.send_signal(signal.SIGTERM)
        for cl in (c, c2):
            code, text = cl.reply()
            self.assertEqual(code, 421, text)
            self.assertTrue(text.startswith("4.3.2"), text)
            self.assert_clean_close(cl)
        self.assertEqual(d.proc.wait(20), 0)


class CipherTest(DaemonCase):
    """TLS 1.2: ECDHE only, the server's order decides."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        testdeps.require_tool("openssl", "Debian package openssl")
        # RSA: finite-field DHE suites exist only with RSA authentication.
        cls.rsa_cert = os.path.join(cls.tmp, "rsa.pem")
        cls.rsa_key = os.path.join(cls.tmp, "rsa.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", cls.rsa_key, "-out", cls.rsa_cert, "-days", "2",
                        "-subj", "/CN=localhost"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def s_client(self, d, cipher):
        r = subprocess.run(
            ["openssl", "s_client", "-connect", "%s:%d" % d.addr, "-starttls", "smtp",
             "-tls1_2", "-cipher", cipher, "-brief"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=30)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def test_dhe_refused_ecdhe_served(self):
        d = self.daemon(tls_cert=self.rsa_cert, tls_key=self.rsa_key)
        rc, out = self.s_client(d, "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384")
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("CONNECTION ESTABLISHED", out)
        rc, out = self.s_client(d, "ECDHE-RSA-AES128-GCM-SHA256")
        self.assertEqual(rc, 0, out)
        self.assertIn("ECDHE-RSA-AES128-GCM-SHA256", out)

    def test_server_order_decides(self):
        d = self.daemon(tls_cert=self.rsa_cert, tls_key=self.rsa_key)
        ctx = sd.client_tls_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        # The client prefers AES-128; the server's list puts AES-256 first.
        ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
        with smtplib.SMTP(d.host, d.port, timeout=15) as s:
            s.starttls(context=ctx)
            self.assertEqual(s.sock.cipher()[0], "ECDHE-RSA-AES256-GCM-SHA384")
            s.ehlo("client.example")


class DrainTest(DaemonCase):
    """SIGTERM: a transaction finishes; after one, QUIT gets 221 and any
    other command 421; an idle session gets 421 at once."""

    def test_drain_keeps_quit_after_delivery(self):
        d = self.daemon()
        idle = self.client(d.addr)
        self.assertEqual(idle.cmd("EHLO client.example")[0], 250)
        in_txn_quit = self.client(d.addr)
        in_txn_mail = self.client(d.addr)
        for c in (in_txn_quit, in_txn_mail):
            self.assertEqual(c.cmd("EHLO client.example")[0], 250)
            self.assertEqual(c.cmd("MAIL FROM:<a@example.com>")[0], 250)
            self.assertEqual(c.cmd("RCPT TO:<b@example.com>")[0], 250)
        before = d.outbox_count()
        with smtplib.SMTP(d.host, d.port, timeout=15) as s:
            s.sendmail("a@example.com", ["b@example.com"], b"Subject: sent\r\n\r\nbody\r\n")
            start = len(d.log_lines())
            d.proc.send_signal(signal.SIGTERM)
            d.wait_log(r"event=smtp\.shutdown", start=start)
            # Leaving the block sends QUIT; a 421 here would raise.
        # The idle session was told at once.
        code, text = idle.reply()
        self.assertEqual((code, text[:5]), (421, "4.3.2"), text)
        # Sessions in a transaction finish it ...
        for c in (in_txn_quit, in_txn_mail):
            self.assertEqual(c.cmd("DATA")[0], 354)
            c.send("Subject: finishing\r\n\r\nbody\r\n.")
            code, text = c.reply()
            self.assertEqual(code, 250, text)
        # ... then QUIT is answered 221, anything else 421.
        self.assertEqual(in_txn_quit.cmd("QUIT")[0], 221)
        code, text = in_txn_mail.cmd("MAIL FROM:<a@example.com>")
        self.assertEqual((code, text[:5]), (421, "4.3.2"), text)
        with self.assertRaises(EOFError):
            in_txn_mail.reply()
        self.assertEqual(d.outbox_count() - before, 3)
        self.assertEqual(d.proc.wait(20), 0)


class RefusalLogTest(DaemonCase):
    """Every refusal is one smtp.reject line at info; smtp.txn names the
    authenticated user."""

    def reject_lines(self, d, start=0):
        return [x for x in d.log_lines()[start:]
                if "event=smtp.reject" in x and "level=info" in x]

    def wait_reject(self, d, code, start):
        return d.wait_log(r"level=info event=smtp\.reject .*\bcode=%d\b" % code, start=start)

    def test_refusals_logged_and_user_in_txn(self):
        d = self.daemon(log_level="info", max_recipients=2, max_message_size=2048,
                        auth_users_file=self.users, allow_plaintext_auth="yes")
        c = self.client(d.addr)
        self.assertEqual(c.cmd("EHLO client.example")[0], 250)
        start = len(d.log_lines())
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com> SIZE=100000")[0], 552)
        line = self.wait_reject(d, 552, start)
        self.assertIn("command=MAIL", line)
        self.assertIn("enhanced=5.3.4", line)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<b1@example.com>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<b2@example.com>")[0], 250)
        start = len(d.log_lines())
        self.assertEqual(c.cmd("RCPT TO:<b3@example.com>")[0], 452)
        line = self.wait_reject(d, 452, start)
        self.assertIn("command=RCPT", line)
        self.assertIn("why=max_recipients", line)
        self.assertEqual(c.cmd("QUIT")[0], 221)

        with smtplib.SMTP(d.host, d.port, timeout=15) as s:
            s.login("alice", "wonderland")
            s.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nbody\r\n")
        line = d.wait_log(r"event=smtp\.txn .*code=250")
        self.assertIn("user=alice", line)
        # One line per refusal: the two above, nothing for the successes.
        self.assertEqual(len(self.reject_lines(d)), 2, "\n".join(self.reject_lines(d)))
        d.stop()

    def test_access_refusal_logged(self):
        d = self.daemon(log_level="info", allow_networks="192.0.2.0/24")
        c = self.client_refused(d)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>")[0], 503)
        line = self.wait_reject(d, 554, 0)
        self.assertIn("why=network", line)
        self.wait_reject(d, 503, 0)
        self.assertEqual(c.cmd("QUIT")[0], 221)
        d.stop()

    def client_refused(self, d):
        c = Client(d.addr)
        self.addCleanup(c.close)
        code, text = c.reply()
        self.assertEqual(code, 554, text)
        return c


if __name__ == "__main__":
    sd.main()
