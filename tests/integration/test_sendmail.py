"""`sesrelay sendmail` driven by the programs that call sendmail: PHP's
mail() (php-cli with sendmail_path), `git send-email --sendmail-cmd` and a
cron-style pipe, against the real relay.

Each caller's pipe goes through `tee`, so the test knows the exact bytes
the caller wrote; what the relay stored (outbox back end) or SES received
(the emulator, shared account) must be those bytes with CRLF line ends,
without Bcc:, after the Received: field the relay adds and the Date:/From:
fields sendmail adds only when the caller left them out. Exit codes are
sendmail's sysexits, checked against relay replies 4xx, 5xx and bad
options.
"""

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sesrelay_daemon import (Daemon, binary, main, make_cert, make_users_file,  # noqa: E402
                             require_binary, strip_received)
from testdeps import require_aws_modules, require_tool  # noqa: E402

EX_USAGE, EX_DATAERR, EX_TEMPFAIL, EX_NOPERM = 64, 65, 75, 77
DATE_RE = rb"Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}\r\n"


def need(tool, package):
    return require_tool(tool, "apt-get install " + package)


def crlf(data):
    """What sendmail makes of a caller's LF lines."""
    return re.sub(rb"\r?\n", b"\r\n", data)


def without_bcc(msg):
    """The header block minus Bcc: fields (and their folded lines)."""
    head, sep, body = msg.partition(b"\r\n\r\n")
    out, skip = [], False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skip:
                out.append(line)
            continue
        skip = line.lower().startswith(b"bcc:")
        if not skip:
            out.append(line)
    return b"\r\n".join(out) + sep + body


class SendmailCase(unittest.TestCase):
    relay_config = {}

    def setUp(self):
        require_binary()
        self.dir = tempfile.mkdtemp(prefix="sesrelay-sendmail-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        # The name callers use: main() picks sendmail mode from argv[0].
        self.sendmail = os.path.join(self.dir, "sesrelay-sendmail")
        os.symlink(binary(), self.sendmail)
        self.capture = os.path.join(self.dir, "captured")
        self.relay = Daemon(config=dict(self.relay_config, **self.extra_config()),
                            env=self.relay_env())
        self.relay.start()
        self.addCleanup(self.relay.cleanup)
        self.addCleanup(self.relay.stop)
        self.server = "%s:%d" % self.relay.addr

    def extra_config(self):
        return {}

    def relay_env(self):
        return None

    def env(self):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("SESRELAY_"):
                del e[k]
        return e

    def cmd(self, *args):
        """Shell text a caller runs: tee the message, then sendmail."""
        return "tee %s | %s --server %s %s" % (self.capture, self.sendmail, self.server,
                                               " ".join(args))

    @staticmethod
    def php_ini(cmd):
        """-d value: quoted, or php.ini syntax reads `|` as an operator."""
        return 'sendmail_path="%s"' % cmd

    def captured(self):
        with open(self.capture, "rb") as f:
            return f.read()

    def run_sendmail(self, *args, stdin=b"", config=None):
        cmd = [self.sendmail] + list(args)
        env = self.env()
        if config:
            env["SESRELAY_CONFIG"] = config
        p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=120)
        return p.returncode, p.stderr.decode()

    def stored(self):
        ids = sorted(self.relay.outbox_ids())
        self.assertEqual(len(ids), 1, ids)
        return self.relay.read_eml(ids[0]), self.relay.read_envelope(ids[0])

    def assertDelivered(self, delivered, sent, added=()):
        """delivered (without Received:) == the added fields, then what
        the caller sent (CRLF, no Bcc). `added`: regexes, in order."""
        rest = strip_received(delivered)
        for rx in added:
            m = re.match(rx, rest)
            self.assertIsNotNone(m, "expected %r at %r" % (rx, rest[:120]))
            rest = rest[m.end():]
        self.assertEqual(rest, without_bcc(crlf(sent)))
        head = strip_received(delivered).partition(b"\r\n\r\n")[0]
        self.assertNotRegex(head, rb"(?im)^bcc:")


class CallersTest(SendmailCase):
    """Real callers into the outbox back end, compared byte for byte."""

    def test_php_mail_with_bcc(self):
        php = need("php", "php-cli")
        code = ('$ok = mail("to@example.org", "PHP report", "line one\\nline two\\n.\\nafter dot",'
                ' "From: App <app@example.com>\\r\\nCc: cc@example.org\\r\\n'
                'Bcc: hidden@example.org, \\"Also Hidden\\" <hidden2@example.org>");'
                ' exit($ok ? 0 : 1);')
        p = subprocess.run([php, "-n", "-d", self.php_ini(self.cmd("-t", "-i")), "-r", code],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env(),
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        sent = self.captured()
        self.assertIn(b"Bcc:", sent)                    # PHP did hand it over
        eml, env = self.stored()
        # PHP writes no Date: sendmail adds it, nothing else.
        self.assertDelivered(eml, sent, added=[DATE_RE])
        self.assertEqual(env["mail_from"], "app@example.com")
        self.assertEqual(sorted(env["rcpts"]), ["cc@example.org", "hidden2@example.org",
                                                "hidden@example.org", "to@example.org"])
        self.assertIn(b"\r\n.\r\nafter dot", eml)       # -i: a lone dot is data

    def test_git_send_email(self):
        git = need("git", "git")
        exec_path = subprocess.run([git, "--exec-path"], stdout=subprocess.PIPE,
                                   text=True).stdout.strip()
        require_tool("git-send-email", "apt-get install git-email",
                     path=os.path.join(exec_path, "git-send-email"))
        repo = os.path.join(self.dir, "repo")
        genv = dict(self.env(), GIT_AUTHOR_NAME="Dev One", GIT_AUTHOR_EMAIL="dev@example.com",
                    GIT_COMMITTER_NAME="Dev One", GIT_COMMITTER_EMAIL="dev@example.com",
                    HOME=self.dir, GIT_CONFIG_NOSYSTEM="1")
        for args in (["init", "-q", repo], ["-C", repo, "commit", "-q", "--allow-empty", "-m", "base"]):
            subprocess.run([git] + args, check=True, env=genv)
        with open(os.path.join(repo, "fix.txt"), "w") as f:
            f.write("the fix\n.\nnot the end\n")
        subprocess.run([git, "-C", repo, "add", "fix.txt"], check=True, env=genv)
        subprocess.run([git, "-C", repo, "commit", "-q", "-m", "Fix the thing"], check=True, env=genv)
        p = subprocess.run(
            [git, "-C", repo, "send-email", "--sendmail-cmd=" + self.cmd(), "--confirm=never",
             "--quiet", "--to=list@example.org", "--cc=reviewer@example.org",
             "--bcc=archive@example.org", "--from=Dev One <dev@example.com>",
             "--suppress-cc=all", "--no-chain-reply-to", "-1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=genv, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        sent = self.captured()
        eml, env = self.stored()
        # git writes Date: and From: itself: nothing is added.
        self.assertDelivered(eml, sent)
        self.assertIn(b"Subject: [PATCH] Fix the thing", eml)
        self.assertNotIn(b"archive@example.org", eml)   # Bcc only in the envelope
        self.assertEqual(sorted(env["rcpts"]), ["archive@example.org", "list@example.org",
                                                "reviewer@example.org"])
        self.assertEqual(env["mail_from"], "dev@example.com")

    def test_cron_style_pipe(self):
        # What cron runs: sendmail -FCronDaemon -i -B8BITMIME -oem <user>,
        # the job's output after a few header fields, no From: and no Date:.
        sent = (b"To: ops@example.org\nSubject: Cron <root@host> /usr/local/bin/nightly\n"
                b"Content-Type: text/plain; charset=UTF-8\n\nbackup done \xe2\x9c\x93\n"
                b".hidden file kept\n")
        p = subprocess.run("%s -FCronDaemon -i -B8BITMIME -oem -f cron@example.com "
                           "ops@example.org" % self.cmd(), shell=True, input=sent,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env(),
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        self.assertEqual(self.captured(), sent)
        eml, env = self.stored()
        self.assertDelivered(eml, sent, added=[DATE_RE, rb"From: CronDaemon <cron@example\.com>\r\n"])
        self.assertEqual(env["rcpts"], ["ops@example.org"])
        self.assertTrue(env["body_8bit"])

    def test_without_i_a_lone_dot_ends_the_message(self):
        rc, err = self.run_sendmail("--server", self.server, "-f", "a@example.com",
                                    "b@example.org",
                                    stdin=b"Subject: x\n\nfirst\n.\nnever sent\n")
        self.assertEqual(rc, 0, err)
        eml, _ = self.stored()
        self.assertTrue(eml.endswith(b"\r\n\r\nfirst\r\n"), eml)

    def test_server_by_name(self):
        # A name is resolved; where localhost is also ::1 (some hosts),
        # that address refuses and the next one is tried.
        rc, err = self.run_sendmail("--server", "localhost:%d" % self.relay.port,
                                    "-f", "a@example.com", "b@example.org",
                                    stdin=b"Subject: by name\n\nx\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.relay.outbox_count(), 1)


class ExitCodesTest(SendmailCase):
    """sysexits for every kind of refusal, with the relay's reply printed."""

    relay_config = {"max_recipients": "2", "allow_senders": "@example.com",
                    "max_message_size": "2K"}

    def send(self, *args, stdin=b"Subject: t\n\nbody\n"):
        return self.run_sendmail("--server", self.server, *args, stdin=stdin)

    def test_bad_options_and_no_recipients_are_usage_errors(self):
        for args in (["-x", "a@example.org"], ["-f"], ["--server"], ["-bs"],
                     ["--auth-user", "u", "a@example.org"]):
            rc, err = self.run_sendmail(*args, stdin=b"")
            self.assertEqual(rc, EX_USAGE, (args, err))
            self.assertIn("usage:", err)
        rc, err = self.send("-f", "a@example.com")
        self.assertEqual(rc, EX_USAGE, err)
        self.assertIn("no recipients", err)
        self.assertEqual(self.relay.outbox_count(), 0)

    def test_4xx_is_tempfail(self):
        rc, err = self.send("-f", "a@example.com", "r1@example.org", "r2@example.org",
                            "r3@example.org")
        self.assertEqual(rc, EX_TEMPFAIL, err)
        self.assertIn("452 4.5.3", err)
        self.assertEqual(self.relay.outbox_count(), 0)

    def test_unreachable_relay_is_tempfail(self):
        with socket.socket() as s:          # a loopback port nobody listens on
            s.bind(("127.0.0.1", 0))
            closed = "127.0.0.1:%d" % s.getsockname()[1]
        rc, err = self.run_sendmail("--server", closed, "-f", "a@example.com", "r@example.org",
                                    stdin=b"Subject: t\n\nbody\n")
        self.assertEqual(rc, EX_TEMPFAIL, err)
        self.assertIn("connect", err)

    def test_5xx_policy_is_noperm(self):
        rc, err = self.send("-f", "someone@example.net", "r@example.org")
        self.assertEqual(rc, EX_NOPERM, err)
        self.assertIn("550 5.7.1", err)

    def test_5xx_for_the_message_is_dataerr(self):
        rc, err = self.send("-f", "a@example.com", "r@example.org",
                            stdin=b"Subject: big\n\n" + (b"x" * 70 + b"\n") * 60)
        self.assertEqual(rc, EX_DATAERR, err)
        self.assertIn("552 5.3.4", err)
        self.assertEqual(self.relay.outbox_count(), 0)

    def test_bad_addresses_are_dataerr(self):
        for args in (["-f", "a@example.com", "not an address"],
                     ["-f", "a@example.com", "x@example.org>\r\nRCPT TO:<y@example.org"]):
            rc, err = self.send(*args)
            self.assertEqual(rc, EX_DATAERR, (args, err))
        rc, err = self.send("-t", stdin=b"To: <unbalanced@example.org\n\nx\n")
        self.assertEqual(rc, EX_DATAERR, err)
        self.assertEqual(self.relay.outbox_count(), 0)


class TlsAuthTest(SendmailCase):
    """The relay's first `listen`, STARTTLS pinned to its tls_cert, AUTH."""

    def extra_config(self):
        cert, key = make_cert(self.dir_for_material())
        self.users = make_users_file(self.material, {"app": "s3cret-pass"})
        return {"tls_cert": cert, "tls_key": key, "auth_users_file": self.users,
                "require_auth": "yes", "require_tls": "yes"}

    def dir_for_material(self):
        self.material = tempfile.mkdtemp(prefix="sesrelay-sendmail-tls-")
        self.addCleanup(shutil.rmtree, self.material, ignore_errors=True)
        return self.material

    def client_config(self):
        """The configuration sendmail reads: the relay's own keys, with
        the port it really bound as the first listen address."""
        path = os.path.join(self.dir, "client.conf")
        with open(path, "w") as f:
            f.write("listen %s, 127.0.0.1:9\nbackend outbox\ntls_cert %s\ntls_key %s\n"
                    % (self.server, self.relay.config["tls_cert"], self.relay.config["tls_key"]))
        return path

    def password_file(self, pw):
        path = os.path.join(self.dir, "pw")
        with open(path, "w") as f:
            f.write(pw + "\n")
        return path

    def test_starttls_and_auth_from_the_configuration(self):
        rc, err = self.run_sendmail("--auth-user", "app", "--auth-password-file",
                                    self.password_file("s3cret-pass"), "-f", "a@example.com",
                                    "r@example.org", stdin=b"Subject: tls\n\nsecure\n",
                                    config=self.client_config())
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.relay.outbox_count(), 1)
        self.relay.wait_log(r"smtp\.tls")
        self.relay.wait_log(r"smtp\.auth.*\bapp\b")
        eml, _ = self.stored()
        self.assertRegex(eml.split(b"\r\n\r\n")[0], rb"with ESMTPSA")

    def test_wrong_password_and_missing_auth_are_noperm(self):
        rc, err = self.run_sendmail("--auth-user", "app", "--auth-password-file",
                                    self.password_file("wrong"), "-f", "a@example.com",
                                    "r@example.org", stdin=b"Subject: x\n\ny\n",
                                    config=self.client_config())
        self.assertEqual(rc, EX_NOPERM, err)
        self.assertIn("535 5.7.8", err)
        rc, err = self.run_sendmail("-f", "a@example.com", "r@example.org",
                                    stdin=b"Subject: x\n\ny\n", config=self.client_config())
        self.assertEqual(rc, EX_NOPERM, err)
        self.assertIn("530 5.7.0", err)
        self.assertEqual(self.relay.outbox_count(), 0)

    def test_certificate_that_does_not_verify_is_refused(self):
        other, _ = make_cert(self.dir)          # a different self-signed certificate
        rc, err = self.run_sendmail("--server", self.server, "--tls-ca", other,
                                    "-f", "a@example.com", "r@example.org",
                                    stdin=b"Subject: x\n\ny\n")
        self.assertEqual(rc, EX_TEMPFAIL, err)
        self.assertIn("certificate not verified", err)
        self.assertEqual(self.relay.outbox_count(), 0)


class SesTest(SendmailCase):
    """PHP's mail() through the relay to SES in the shared account."""

    @classmethod
    def setUpClass(cls):
        require_aws_modules()
        from aws_emulator import Emulator
        cls.emu = Emulator(strict=True)
        cls.emu.start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def extra_config(self):
        return {"backend": "ses", "role_arn": self.emu.role_arn,
                "external_id": self.emu.external_id, "region": self.emu.region}

    def relay_env(self):
        return self.emu.daemon_env()

    def test_php_mail_lands_in_the_shared_account_byte_for_byte(self):
        php = need("php", "php-cli")
        self.emu.clear_messages()
        code = ('exit(mail("rcpt@example.org", "via SES", "hello from php\\n",'
                ' "From: app@example.com\\r\\nBcc: audit@example.org") ? 0 : 1);')
        p = subprocess.run([php, "-n", "-d", self.php_ini(self.cmd("-t", "-i")), "-r", code],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env(),
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        msgs = self.emu.messages(account=self.emu.shared_account)
        self.assertEqual(len(msgs), 1)
        self.assertEqual(self.emu.messages(account=self.emu.dev_account), [])
        raw = base64.b64decode(msgs[0]["raw_b64"])
        self.assertDelivered(raw, self.captured(), added=[DATE_RE])
        self.assertEqual(sorted(msgs[0]["params"]["Destinations"]),
                         ["audit@example.org", "rcpt@example.org"])


if __name__ == "__main__":
    main()
