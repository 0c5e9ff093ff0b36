"""Real SMTP clients against the relay (outbox back end): Python smtplib
(plain, STARTTLS, implicit TLS, AUTH PLAIN/LOGIN, SMTPUTF8), BDAT over a
raw socket, swaks, curl, and postfix's smtp-source for many concurrent
sessions. Checks that
what lands in the outbox, minus the Received: header the relay prepends,
is byte for byte what the client sent (including the mail corpus in
tests/data/mail-corpus).
"""

import glob
import os
import re
import smtplib
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sesrelay_daemon as sd  # noqa: E402
from raw_smtp import RawClient  # noqa: E402
import testdeps  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(os.path.dirname(HERE), "data", "mail-corpus", "eml")
USERS = {"alice": "wonderland", "bob": "builder pass 42"}


def crlf(data):
    """Line endings as an SMTP client puts them on the wire."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def on_wire(data):
    """What a client sends for `data` (CRLF-terminated last line)."""
    data = crlf(data)
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


class RelayCase(unittest.TestCase):
    """One daemon per class: TLS certificate and users file included."""

    extra_config = {}

    @classmethod
    def setUpClass(cls):
        sd.require_binary()
        cls.tmp = tempfile.mkdtemp(prefix="sesrelay-clients-")
        cls.cert, cls.key = sd.make_cert(cls.tmp)
        cls.users = sd.make_users_file(cls.tmp, USERS)
        # One user hashed independently (Python's hashlib.scrypt) to check
        # the documented format, not just what `sesrelay passwd` writes.
        with open(cls.users, "a") as f:
            f.write(sd.scrypt_line("carol", "hashed by python") + "\n")
        cfg = {"tls_cert": cls.cert, "tls_key": cls.key, "auth_users_file": cls.users}
        cfg.update(cls.extra_config)
        cls.d = sd.Daemon(cfg, workdir=os.path.join(cls.tmp, "d"))
        os.makedirs(cls.d.workdir, exist_ok=True)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        sd.stop_and_remove(cls.d, cls.tmp)

    def smtp(self):
        s = smtplib.SMTP(self.d.host, self.d.port, local_hostname="client.example", timeout=30)
        self.addCleanup(self._quit, s)
        return s

    def raw_client(self, timeout=10):
        """For what smtplib will not send: BDAT, pipelining, empty data."""
        c = RawClient(self.d.addr, timeout)
        self.addCleanup(c.close)
        return c

    @staticmethod
    def _quit(s):
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()

    def send(self, s, sender, rcpts, msg, mail_options=()):
        """MAIL/RCPT/DATA with smtplib; returns the outbox id the 250 names."""
        code, resp = s.mail(sender, list(mail_options))
        self.assertEqual(code, 250, resp)
        for r in rcpts:
            code, resp = s.rcpt(r)
            self.assertEqual(code, 250, resp)
        code, resp = s.data(msg)
        self.assertEqual(code, 250, resp)
        text = resp.decode("utf-8", "replace")
        self.assertTrue(text.startswith("2.0.0"), text)
        mid = self.d.find_id_in(text)
        self.assertIsNotNone(mid, "250 reply names no outbox message: %r" % text)
        return mid

    def assertStored(self, mid, sent):
        got = sd.strip_received(self.d.read_eml(mid))
        if got != sent:
            n = next((i for i in range(min(len(got), len(sent))) if got[i] != sent[i]),
                     min(len(got), len(sent)))
            self.fail("stored message differs at octet %d (stored %d, sent %d octets):\n"
                      "stored %r\nsent   %r" % (n, len(got), len(sent),
                                                 got[max(0, n - 40):n + 40],
                                                 sent[max(0, n - 40):n + 40]))


class SmtplibTest(RelayCase):
    def test_plain_session(self):
        s = self.smtp()
        code, _ = s.ehlo()
        self.assertEqual(code, 250)
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes",
                    "chunking", "starttls"):
            self.assertTrue(s.has_extn(ext), "EHLO lacks %s: %s" % (ext, s.esmtp_features))
        # SES has no SMTPUTF8, so neither does the relay.
        self.assertFalse(s.has_extn("smtputf8"), s.esmtp_features)
        self.assertFalse(s.has_extn("auth"), "AUTH offered without TLS")
        msg = (b"From: a@example.com\r\nTo: b@example.org\r\nSubject: plain\r\n"
               b"Message-ID: <plain@example.com>\r\n\r\nHello over plain SMTP.\r\n")
        mid = self.send(s, "a@example.com", ["b@example.org", "c@example.net"], msg)
        self.assertStored(mid, msg)
        env = self.d.read_envelope(mid)
        self.assertEqual(env["mail_from"], "a@example.com")
        self.assertEqual(env["rcpts"], ["b@example.org", "c@example.net"])
        rec = sd.received_header(self.d.read_eml(mid))
        self.assertIn(b"client.example", rec)
        self.assertIn(b"127.0.0.1", rec)

    def test_envelope_record(self):
        s = self.smtp()
        s.ehlo()
        msg = b"Subject: envelope\r\n\r\n\xc3\xa9t\xc3\xa9\r\n"
        mid = self.send(s, "a@example.com", ["b@example.com"], msg,
                        mail_options=("BODY=8BITMIME", "SIZE=%d" % len(msg)))
        env = self.d.read_envelope(mid)
        self.assertEqual(env.get("id", mid), mid)
        self.assertEqual(env["client_addr"], "127.0.0.1")
        self.assertIs(env["body_8bit"], True)
        self.assertIs(env["smtputf8"], False)
        # Size of the stored message (what a back end would send on).
        self.assertEqual(env["size"], len(self.d.read_eml(mid)))

    def test_bodies_never_logged(self):
        token = "body-token-%d" % os.getpid()
        s = self.smtp()
        s.ehlo()
        self.send(s, "a@example.com", ["b@example.com"],
                  ("Subject: log check\r\n\r\n%s\r\n" % token).encode())
        self.assertIn("a@example.com", self.d.log())   # the log does see envelopes
        self.assertNotIn(token, self.d.log())

    def test_sendmail_refused_recipient_only(self):
        s = self.smtp()
        s.ehlo()
        before = self.d.outbox_count()
        refused = s.sendmail("a@example.com", ["ok@example.com", "bad"],
                             b"Subject: partial\r\n\r\nx\r\n")
        self.assertIn("bad", refused)
        self.assertEqual(self.d.outbox_count(), before + 1)

    def test_starttls(self):
        s = self.smtp()
        s.ehlo()
        code, _ = s.starttls(context=sd.client_tls_context())
        self.assertEqual(code, 220)
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"))
        self.assertTrue(s.has_extn("auth"))
        self.assertIn("PLAIN", s.esmtp_features["auth"].upper().split())
        self.assertIn("LOGIN", s.esmtp_features["auth"].upper().split())
        self.assertTrue(s.sock.version().startswith("TLSv1."))
        msg = b"Subject: tls\r\n\r\nover TLS\r\n"
        mid = self.send(s, "a@example.com", ["b@example.com"], msg)
        self.assertStored(mid, msg)

    def _auth(self, mech, user, password, initial_ok=True):
        s = self.smtp()
        s.ehlo()
        s.starttls(context=sd.client_tls_context())
        s.ehlo()
        s.user, s.password = user, password
        fn = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login}[mech]
        return s, s.auth(mech, fn, initial_response_ok=initial_ok)

    def test_auth_plain(self):
        s, (code, resp) = self._auth("PLAIN", "alice", "wonderland")
        self.assertEqual(code, 235, resp)
        self.assertTrue(resp.startswith(b"2.7.0"), resp)
        mid = self.send(s, "a@example.com", ["b@example.com"], b"Subject: auth\r\n\r\nx\r\n")
        self.assertTrue(mid)

    def test_auth_plain_no_initial_response(self):
        s, (code, resp) = self._auth("PLAIN", "alice", "wonderland", initial_ok=False)
        self.assertEqual(code, 235, resp)

    def test_auth_login(self):
        s, (code, resp) = self._auth("LOGIN", "bob", USERS["bob"], initial_ok=False)
        self.assertEqual(code, 235, resp)

    def test_auth_login_initial_response(self):
        s, (code, resp) = self._auth("LOGIN", "bob", USERS["bob"])
        self.assertEqual(code, 235, resp)

    def test_auth_python_scrypt_hash(self):
        s, (code, resp) = self._auth("PLAIN", "carol", "hashed by python")
        self.assertEqual(code, 235, resp)

    def test_auth_wrong_password(self):
        for mech in ("PLAIN", "LOGIN"):
            with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                self._auth(mech, "alice", "not the password")
            self.assertEqual(cm.exception.smtp_code, 535)
            self.assertTrue(cm.exception.smtp_error.startswith(b"5.7.8"), cm.exception.smtp_error)

    def test_auth_unknown_user(self):
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            self._auth("PLAIN", "mallory", "wonderland")
        self.assertEqual(cm.exception.smtp_code, 535)

    def test_password_never_logged(self):
        self._auth("PLAIN", "alice", "wonderland")
        with self.assertRaises(smtplib.SMTPAuthenticationError):
            self._auth("LOGIN", "alice", "wrong-secret-xyz")
        log = self.d.log()
        for secret in ("wonderland", "wrong-secret-xyz", "d29uZGVybGFuZA", "AGFsaWNlAHdvbmRlcmxhbmQ"):
            self.assertNotIn(secret, log)

    def test_smtputf8_not_offered(self):
        # smtplib will not send UTF-8 addresses to a server without
        # SMTPUTF8: the application gets a clear error at once, not a
        # message that SES refuses later.
        s = self.smtp()
        s.ehlo()
        with self.assertRaises(smtplib.SMTPNotSupportedError):
            s.sendmail("j\u00fcrgen@example.com", ["b@example.com"], b"Subject: x\r\n\r\nx\r\n",
                       mail_options=("SMTPUTF8",))

    def test_send_message_utf8_headers(self):
        # ASCII addresses, UTF-8 text: the email package encodes the
        # header fields (RFC 2047), and the message goes through.
        from email.message import EmailMessage
        m = EmailMessage()
        m["From"] = "J\u00fcrgen <jurgen@example.com>"
        m["To"] = "b@example.com"
        m["Subject"] = "\u00fcber"
        m.set_content("caf\u00e9\n")
        s = self.smtp()
        before = self.d.outbox_count()
        self.assertEqual(s.send_message(m), {})
        self.assertEqual(self.d.outbox_count(), before + 1)


class ByteExactTest(RelayCase):
    """What the client sends is what the outbox holds."""

    def roundtrip(self, msg, s=None, **kw):
        s = s or self.smtp()
        if not s.does_esmtp:
            s.ehlo()
        mid = self.send(s, "a@example.com", ["b@example.com"], msg, **kw)
        self.assertStored(mid, on_wire(msg))
        return mid

    def test_dot_stuffed_lines(self):
        msg = (b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n. space\r\n"
               b"middle . dot\r\n.\r\n.\r\nend.\r\n")
        self.roundtrip(msg)

    def test_8bit(self):
        msg = b"Subject: 8bit\r\n\r\n" + bytes(range(0x80, 0x100)) + b"\r\n\xc3\xa9\xe2\x82\xac\r\n"
        self.roundtrip(msg, mail_options=("BODY=8BITMIME",))

    def test_all_octets_but_line_ends_and_nul(self):
        octets = bytes(b for b in range(1, 256) if b not in (10, 13))
        self.roundtrip(b"Subject: octets\r\n\r\n" + octets + b"\r\n",
                       mail_options=("BODY=8BITMIME",))

    def test_headers_only(self):
        self.roundtrip(b"Subject: empty body\r\n\r\n")

    def test_zero_length_message(self):
        c = self.raw_client()
        c.expect(220)
        c.send(b"EHLO client.example\r\n")
        c.expect(250)
        c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        for want in (250, 250, 354):
            c.expect(want)
        c.send(b".\r\n")
        line = c.expect(250, "2.0.0")[0].decode()
        mid = self.d.find_id_in(line)
        self.assertEqual(sd.strip_received(self.d.read_eml(mid)), b"")

    def test_last_line_without_newline(self):
        # smtplib adds the CRLF SMTP needs; the stored message has it.
        self.roundtrip(b"Subject: no eol\r\n\r\nlast line")

    def test_line_998(self):
        self.roundtrip(b"Subject: 998\r\n\r\n" + b"x" * 998 + b"\r\n")

    def test_ten_megabytes(self):
        line = b"".join(bytes([0x41 + i % 26]) for i in range(76)) + b"\r\n"
        body = line * (10_000_000 // len(line))
        msg = b"Subject: big\r\n\r\n" + body
        self.roundtrip(msg)

    def test_ten_megabytes_over_tls(self):
        s = self.smtp()
        s.ehlo()
        s.starttls(context=sd.client_tls_context())
        s.ehlo()
        line = bytes(range(0x21, 0x7f)) + b"\r\n"
        msg = b"Subject: big tls\r\n\r\n" + line * (10_000_000 // len(line))
        self.roundtrip(msg, s=s)

    def test_bdat_one_big_chunk_over_tls(self):
        # One 9 MB chunk in a single write: TLS records arrive far faster
        # than one read's worth; nothing may be dropped or reordered.
        body = b"".join(b"%08d " % i + b"q" * 70 + b"\r\n" for i in range(9_000_000 // 81))
        msg = b"Subject: bdat tls\r\n\r\n" + body
        c = self.raw_client(timeout=30)
        c.expect(220)
        c.send(b"EHLO client.example\r\nSTARTTLS\r\n")
        c.expect(250)
        c.expect(220)
        c.wrap()
        c.send(b"EHLO client.example\r\n")
        c.expect(250)
        c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
               b"BDAT %d LAST\r\n" % len(msg) + msg)
        rs = [c.expect(250)[0] for _ in range(3)]
        self.assertStored(self.d.find_id_in(rs[2].decode()), msg)

    def test_bdat_raw_socket(self):
        msg = (b"Subject: chunked\r\n\r\n" + b".not stuffed\r\n.\r\n" +
               bytes(range(0x80, 0x100)) + b"\r\nend\r\n")
        chunks = [msg[:7], msg[7:40], msg[40:]]
        c = self.raw_client()
        c.expect(220)
        c.send(b"EHLO client.example\r\n")
        self.assertIn(b"CHUNKING", b"".join(c.expect(250)).upper())
        c.send(b"MAIL FROM:<a@example.com> BODY=8BITMIME\r\nRCPT TO:<b@example.com>\r\n")
        c.expect(250)
        c.expect(250)
        for i, ch in enumerate(chunks):
            last = b" LAST" if i == len(chunks) - 1 else b""
            c.send(b"BDAT %d%s\r\n" % (len(ch), last) + ch)
            r = c.expect(250)[0]
        mid = self.d.find_id_in(r.decode())
        self.assertIsNotNone(mid, r)
        self.assertStored(mid, msg)
        # A second message on the same connection, BDAT 0 LAST after chunks.
        c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
               b"BDAT 14\r\nSubject: z\r\n\r\nBDAT 0 LAST\r\n")
        rs = [c.expect(250)[0] for _ in range(4)]
        self.assertStored(self.d.find_id_in(rs[3].decode()), b"Subject: z\r\n\r\n")

    def test_random_messages(self):
        # Seeded random messages built from the lines that matter to the
        # DATA and BDAT decoders (dots, empty lines, 8-bit, 998-octet
        # lines), sent with DATA (smtplib dot-stuffs) and with BDAT split
        # at random points: every one is stored exactly.
        import random
        rng = random.Random(5321)
        pieces = [b"", b".", b"..", b"...", b". ", b".x", b"x.", b"a", b"\xe9\xff",
                  b"x" * 998, b"y" * 997 + b".", b"\t.", b" ", b"-- ", b"From x"]
        s = self.smtp()
        s.ehlo()
        raw = self.raw_client(timeout=30)
        raw.expect(220)
        raw.send(b"EHLO client.example\r\n")
        raw.expect(250)
        for n in range(60):
            lines = [rng.choice(pieces) for _ in range(rng.randint(0, 30))]
            msg = b"Subject: r%d\r\n\r\n" % n + b"".join(l + b"\r\n" for l in lines)
            with self.subTest(n=n, via="DATA"):
                mid = self.send(s, "a@example.com", ["b@example.com"], msg,
                                mail_options=("BODY=8BITMIME",))
                self.assertStored(mid, msg)
            with self.subTest(n=n, via="BDAT"):
                cuts = sorted(rng.sample(range(1, len(msg)), min(3, len(msg) - 1)))
                parts = [msg[a:b] for a, b in zip([0] + cuts, cuts + [len(msg)])]
                out = b"MAIL FROM:<a@example.com> BODY=8BITMIME\r\nRCPT TO:<b@example.com>\r\n"
                for i, p in enumerate(parts):
                    out += b"BDAT %d%s\r\n" % (len(p), b" LAST" if i == len(parts) - 1 else b"") + p
                raw.send(out)
                rs = [raw.reply()[1][0] for _ in range(2 + len(parts))]
                self.assertTrue(all(r.startswith(b"250") for r in rs), rs)
                self.assertStored(self.d.find_id_in(rs[-1].decode()), msg)

    def test_mail_corpus(self):
        files = sorted(glob.glob(os.path.join(CORPUS, "**", "*.eml"), recursive=True))
        self.assertGreater(len(files), 100, "corpus missing from %s" % CORPUS)
        s = self.smtp()
        s.ehlo()
        for i, path in enumerate(files):
            with open(path, "rb") as fh:
                raw = fh.read()
            with self.subTest(eml=os.path.relpath(path, CORPUS)):
                if b"\0" in raw:
                    # Binary: refused after the data (no BINARYMIME).
                    with self.assertRaises(smtplib.SMTPDataError) as cm:
                        s.sendmail("corpus@example.com", ["b@example.com"], on_wire(raw),
                                   mail_options=("BODY=8BITMIME",))
                    self.assertEqual(cm.exception.smtp_code, 550)
                    self.assertTrue(cm.exception.smtp_error.startswith(b"5.6.1"))
                    continue
                mid = self.send(s, "corpus@example.com", ["b@example.com"], on_wire(raw),
                                mail_options=("BODY=8BITMIME",))
                self.assertStored(mid, on_wire(raw))
            if i % 25 == 24:
                s.quit()
                s = self.smtp()
                s.ehlo()


class ConcurrentTlsTest(RelayCase):
    def test_parallel_tls_auth_sessions(self):
        # 16 clients at once, each STARTTLS + AUTH + 8 messages: every
        # message lands exactly once and carries its own envelope.
        import threading
        before = self.d.outbox_ids()
        errors = []

        def worker(n):
            try:
                s = smtplib.SMTP(self.d.host, self.d.port, timeout=60)
                s.ehlo("w%d.example" % n)
                s.starttls(context=sd.client_tls_context())
                s.ehlo("w%d.example" % n)
                s.login("alice", "wonderland")
                for i in range(8):
                    body = b"Subject: w%d-%d\r\n\r\n" % (n, i) + (b"z" * 98 + b"\r\n") * (10 * i)
                    r = s.sendmail("w%d@example.com" % n, ["m%d@example.com" % i], body)
                    if r:
                        errors.append(r)
                s.quit()
            except Exception as e:      # reported below, with the worker number
                errors.append((n, repr(e)))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        new = self.d.outbox_ids() - before
        self.assertEqual(len(new), 16 * 8)
        seen = set()
        for mid in new:
            env = self.d.read_envelope(mid)
            subj = re.search(rb"Subject: (w\d+-\d+)", self.d.read_eml(mid)).group(1).decode()
            n, i = subj[1:].split("-")
            self.assertEqual(env["mail_from"], "w%s@example.com" % n)
            self.assertEqual(env["rcpts"], ["m%s@example.com" % i])
            seen.add(subj)
        self.assertEqual(len(seen), 16 * 8)


class ReloadTest(RelayCase):
    """SIGHUP reloads the configuration for new connections; a broken
    file keeps the old one."""

    extra_config = {"allow_plaintext_auth": "yes"}

    def mail_from(self, s, addr):
        return s.mail(addr)[0]

    def test_reload(self):
        old = self.smtp()
        old.ehlo()
        with open(self.users, "a") as f:
            f.write(sd.passwd_line("dave", "added later") + "\n")
        self.d.config["allow_senders"] = "@example.com"
        line = self.d.reload()
        self.assertNotIn("level=error", line)
        new = self.smtp()
        new.ehlo()
        self.assertEqual(self.mail_from(new, "x@evil.example"), 550)
        self.assertEqual(self.mail_from(new, "a@example.com"), 250)
        new.rset()
        self.assertEqual(new.login("dave", "added later")[0], 235)
        # The connection opened before the reload keeps its configuration.
        self.assertEqual(self.mail_from(old, "x@evil.example"), 250)
        old.rset()
        # A broken file: logged, old configuration kept, daemon serving.
        self.d.config["max_recipients"] = "not-a-number"
        line = self.d.reload()
        self.assertIn("keeping the old configuration", line)
        self.assertTrue(self.d.alive())
        again = self.smtp()
        again.ehlo()
        self.assertEqual(self.mail_from(again, "x@evil.example"), 550)
        self.assertEqual(self.mail_from(again, "a@example.com"), 250)
        del self.d.config["max_recipients"]
        self.d.write_config()


class LongLinesTest(RelayCase):
    extra_config = {"allow_long_lines": "yes"}

    def test_long_lines_allowed(self):
        s = self.smtp()
        s.ehlo()
        msg = (b"Subject: long\r\n\r\n" + b"a" * 999 + b"\r\n" + b"b" * 20000 + b"\r\n"
               + b"c" * 100000 + b"\r\n")
        mid = self.send(s, "a@example.com", ["b@example.com"], msg)
        self.assertStored(mid, msg)

    def test_long_lines_default_refused(self):
        # Same message against a default daemon: 500 5.5.2.
        d = sd.Daemon({}, workdir=os.path.join(self.tmp, "d2"))
        os.makedirs(d.workdir, exist_ok=True)
        with d:
            s = smtplib.SMTP(d.host, d.port, timeout=30)
            s.ehlo()
            s.mail("a@example.com")
            s.rcpt("b@example.com")
            code, resp = s.data(b"Subject: long\r\n\r\n" + b"a" * 999 + b"\r\n")
            self.assertEqual(code, 500, resp)
            self.assertTrue(resp.startswith(b"5.5.2"), resp)
            self.assertEqual(d.outbox_count(), 0)
            s.quit()


class ImplicitTlsTest(RelayCase):
    extra_config = {"smtps_listen": "127.0.0.1:0"}

    def test_smtps(self):
        self.assertIsNotNone(self.d.tls_addr, "no smtps listener logged")
        s = smtplib.SMTP_SSL(self.d.tls_addr[0], self.d.tls_addr[1], timeout=30,
                             local_hostname="client.example",
                             context=sd.client_tls_context())
        self.addCleanup(self._quit, s)
        s.ehlo()
        self.assertFalse(s.has_extn("starttls"))
        self.assertTrue(s.has_extn("auth"))
        code, resp = s.login("alice", "wonderland")
        self.assertEqual(code, 235, resp)
        msg = b"Subject: smtps\r\n\r\nimplicit TLS\r\n"
        mid = self.send(s, "a@example.com", ["b@example.com"], msg)
        self.assertStored(mid, msg)
        self.assertIn(b"with ESMTPSA", sd.received_header(self.d.read_eml(mid)))

    def test_smtps_plaintext_client(self):
        # A plaintext client on the TLS port never gets an SMTP greeting.
        c = socket.create_connection(self.d.tls_addr, timeout=10)
        self.addCleanup(c.close)
        c.sendall(b"EHLO client.example\r\n")
        data = b""
        try:
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        self.assertNotIn(b"220 ", data)
        self.assertNotIn(b"250", data)


class SwaksTest(RelayCase):
    @classmethod
    def setUpClass(cls):
        testdeps.require_tool("swaks", "Debian package swaks")
        super().setUpClass()

    def swaks(self, *args):
        before = self.d.outbox_ids()
        r = subprocess.run(
            ["swaks", "--server", "%s:%d" % self.d.addr, "--helo", "swaks.example",
             "--from", "swaks@example.com", "--to", "rcpt@example.com",
             "--timeout", "20", "--header", "Subject: swaks test"] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, out)
        new = self.d.outbox_ids() - before
        self.assertEqual(len(new), 1, out)
        mid = new.pop()
        self.assertIn(mid, out)     # the 250 reply swaks printed names it
        return mid, out

    def test_plain(self):
        mid, out = self.swaks("--body", "plain swaks body")
        self.assertIn(b"plain swaks body", self.d.read_eml(mid))
        self.assertEqual(self.d.read_envelope(mid)["rcpts"], ["rcpt@example.com"])

    def test_tls(self):
        mid, out = self.swaks("--tls", "--body", "tls body")
        self.assertIn("220", out)
        self.assertRegex(out, r"TLS started")
        self.assertIn(b"tls body", self.d.read_eml(mid))

    def test_auth_plain(self):
        mid, out = self.swaks("--tls", "--auth", "PLAIN", "--auth-user", "alice",
                              "--auth-password", "wonderland")
        self.assertIn("235", out)

    def test_auth_login(self):
        mid, out = self.swaks("--tls", "--auth", "LOGIN", "--auth-user", "alice",
                              "--auth-password", "wonderland")
        self.assertIn("235", out)

    def test_auth_wrong_password_fails(self):
        r = subprocess.run(
            ["swaks", "--server", "%s:%d" % self.d.addr, "--from", "a@example.com",
             "--to", "b@example.com", "--tls", "--auth", "PLAIN", "--auth-user", "alice",
             "--auth-password", "nope", "--timeout", "20"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("utf-8", "replace")
        self.assertNotEqual(r.returncode, 0, out)
        self.assertIn("535", out)

    def test_pipeline(self):
        mid, out = self.swaks("--pipeline", "--to", "r1@example.com,r2@example.com",
                              "--body", "pipelined")
        self.assertEqual(self.d.read_envelope(mid)["rcpts"], ["r1@example.com", "r2@example.com"])

    def test_tls_pipeline_auth(self):
        self.swaks("--tls", "--pipeline", "--auth", "PLAIN", "--auth-user", "bob",
                   "--auth-password", USERS["bob"])


class CurlTest(RelayCase):
    """libcurl's SMTP client: plain, STARTTLS (--ssl-reqd) with AUTH, and
    a byte-exact upload (curl dot-stuffs on its own)."""

    @classmethod
    def setUpClass(cls):
        testdeps.require_tool("curl", "Debian package curl")
        super().setUpClass()

    def curl(self, msg, *args, scheme="smtp"):
        path = os.path.join(self.tmp, "curl-msg.eml")
        with open(path, "wb") as f:
            f.write(msg)
        before = self.d.outbox_ids()
        r = subprocess.run(
            ["curl", "-sS", "--max-time", "30", "%s://%s:%d/client.example" % (
                scheme, self.d.host, self.d.port),
             "--mail-from", "curl@example.com", "--mail-rcpt", "r1@example.com",
             "--mail-rcpt", "r2@example.com", "--upload-file", path] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, out)
        new = self.d.outbox_ids() - before
        self.assertEqual(len(new), 1, out)
        return new.pop()

    MSG = (b"From: curl@example.com\r\nSubject: curl\r\n\r\n.leading dot\r\n..two\r\n"
           b".\r\nlast\r\n")

    def test_plain(self):
        mid = self.curl(self.MSG)
        self.assertStored(mid, self.MSG)
        env = self.d.read_envelope(mid)
        self.assertEqual(env["mail_from"], "curl@example.com")
        self.assertEqual(env["rcpts"], ["r1@example.com", "r2@example.com"])

    def test_starttls_auth(self):
        mid = self.curl(self.MSG, "--ssl-reqd", "--insecure", "--user", "alice:wonderland")
        self.assertStored(mid, self.MSG)
        self.assertIn(b"with ESMTPSA", sd.received_header(self.d.read_eml(mid)))

    def test_wrong_password(self):
        r = subprocess.run(
            ["curl", "-sS", "--max-time", "30", "smtp://%s:%d" % self.d.addr,
             "--mail-from", "a@example.com", "--mail-rcpt", "b@example.com",
             "--upload-file", "/dev/null", "--ssl-reqd", "--insecure",
             "--user", "alice:nope"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(r.returncode, 67, r.stdout)     # CURLE_LOGIN_DENIED


class SmtpSourceTest(RelayCase):
    SOURCE = "/usr/sbin/smtp-source"

    @classmethod
    def setUpClass(cls):
        testdeps.require_tool("smtp-source", "Debian package postfix", path=cls.SOURCE)
        super().setUpClass()

    def run_source(self, *args):
        r = subprocess.run([self.SOURCE] + list(args) + ["%s:%d" % self.d.addr],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = r.stdout.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, out)
        return out

    def test_concurrent_sessions(self):
        before = self.d.outbox_count()
        self.run_source("-s", "20", "-m", "200", "-f", "src@example.com",
                        "-t", "dst@example.com", "-l", "2048")
        self.assertEqual(self.d.outbox_count() - before, 200)
        self.assertTrue(self.d.alive())

    def test_many_messages_per_session(self):
        # Three recipients per message; sessions carry several messages.
        before = self.d.outbox_ids()
        self.run_source("-s", "5", "-m", "100", "-r", "3", "-f", "src@example.com",
                        "-t", "dst@example.com")
        new = self.d.outbox_ids() - before
        self.assertEqual(len(new), 100)
        for mid in new:
            self.assertEqual(len(self.d.read_envelope(mid)["rcpts"]), 3)


if __name__ == "__main__":
    sd.main()
