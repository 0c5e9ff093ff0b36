"""`sesrelay passwd USER` against an independent scrypt (Python hashlib):
the printed users-file line must verify with the documented format."""
import base64
import hashlib
import os
import pty
import re
import select
import subprocess
import sys
import time
import unittest

BIN = os.environ.get("SESRELAY_BIN")

LINE = re.compile(
    r"^(?P<user>[^:\s]+):\$scrypt\$N=(?P<n>\d+),r=(?P<r>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/=]+)\$(?P<key>[A-Za-z0-9+/=]+)$")


def run(args, stdin):
    return subprocess.run([BIN] + args, input=stdin, capture_output=True, timeout=60)


def check(line, password):
    m = LINE.match(line)
    assert m, line
    salt = base64.b64decode(m["salt"], validate=True)
    key = base64.b64decode(m["key"], validate=True)
    got = hashlib.scrypt(password, salt=salt, n=int(m["n"]), r=int(m["r"]),
                         p=int(m["p"]), dklen=len(key), maxmem=64 << 20)
    return m, salt, key, got


class Passwd(unittest.TestCase):
    def test_hash_verifies_independently(self):
        pw = "correct horse \u00e9 battery:$#"
        p = run(["passwd", "alice"], (pw + "\nsecond line ignored\n").encode())
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        self.assertTrue(out.endswith("\n"))
        lines = out.splitlines()
        self.assertEqual(len(lines), 1)
        m, salt, key, got = check(lines[0], pw.encode())
        self.assertEqual(m["user"], "alice")
        self.assertEqual((m["n"], m["r"], m["p"]), ("16384", "8", "1"))
        self.assertEqual(len(salt), 16)
        self.assertEqual(len(key), 32)
        self.assertEqual(got, key)
        # and a different password does not
        _, _, key2, got2 = check(lines[0], pw.encode() + b"x")
        self.assertNotEqual(got2, key2)
        # the password never appears in any output
        self.assertNotIn(pw.encode("utf-8"), p.stdout + p.stderr)

    def test_crlf_and_no_newline(self):
        for raw, pw in ((b"s3cret\r\n", b"s3cret"), (b"s3cret", b"s3cret")):
            p = run(["passwd", "bob@example.com"], raw)
            self.assertEqual(p.returncode, 0, p.stderr)
            _, _, key, got = check(p.stdout.decode().strip(), pw)
            self.assertEqual(got, key)

    def test_fresh_salt(self):
        a = run(["passwd", "u"], b"same\n").stdout
        b = run(["passwd", "u"], b"same\n").stdout
        self.assertTrue(a and b)
        self.assertNotEqual(a, b)

    def test_usage_errors(self):
        for args in (["passwd"], ["passwd", "a", "b"], ["passwd", "a:b"],
                     ["passwd", "with space"], ["passwd", ""]):
            p = run(args, b"pw\n")
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(p.stdout, b"", args)
            self.assertIn(b"usage", p.stderr)

    def test_empty_or_too_long_password(self):
        for stdin in (b"", b"\n", b"x" * 1025 + b"\n"):
            p = run(["passwd", "alice"], stdin)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(p.stdout, b"")

    def test_help_is_not_a_user(self):
        for args in (["passwd", "--help"], ["passwd", "-h"]):
            p = run(args, b"pw\n")
            self.assertEqual(p.returncode, 0, args)
            self.assertTrue(p.stdout.startswith(b"usage: sesrelay passwd"), p.stdout)
            self.assertNotIn(b"$scrypt$", p.stdout)
        # anything else that looks like an option is refused, not a user
        for args in (["passwd", "--bogus"], ["passwd", "-c"], ["passwd", "--", "a", "b"]):
            p = run(args, b"pw\n")
            self.assertEqual((p.returncode, p.stdout), (2, b""), args)
        # a user that starts with '-' after --
        p = run(["passwd", "--", "-odd"], b"pw\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(check(p.stdout.decode().strip(), b"pw")[0]["user"], "-odd")

    def terminal(self, user, answers):
        """Runs passwd on a pty, answering each prompt in turn; returns
        (exit code, stdout, everything the terminal showed)."""
        master, slave = pty.openpty()
        proc = subprocess.Popen([BIN, "passwd", user], stdin=slave,
                                stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        seen = b""
        try:
            for n, answer in enumerate(answers, 1):
                deadline = time.monotonic() + 30
                while seen.count(b"assword for %s:" % user.encode()) < n:
                    self.assertLess(time.monotonic(), deadline, seen)
                    if select.select([master], [], [], 0.5)[0]:
                        seen += os.read(master, 1024)
                os.write(master, answer + b"\n")
            out, _ = proc.communicate(timeout=60)
            while select.select([master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(master, 1024)
                except OSError:  # EIO once the child closed the tty
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
        return proc.returncode, out, seen

    def test_terminal_does_not_echo_and_asks_twice(self):
        pw = b"tty-secret-42"
        rc, out, seen = self.terminal("carol", [pw, pw])
        self.assertEqual(rc, 0, seen)
        self.assertIn(b"Password for carol:", seen)
        self.assertIn(b"Again, password for carol:", seen)
        self.assertNotIn(pw, seen)
        _, _, key, got = check(out.decode().strip(), pw)
        self.assertEqual(got, key)

    def test_terminal_mismatch_writes_nothing(self):
        rc, out, seen = self.terminal("dave", [b"first-try-1", b"first-try-2"])
        self.assertEqual(rc, 1)
        self.assertEqual(out, b"")
        self.assertIn(b"do not match", seen)
        self.assertNotIn(b"first-try", seen)

if __name__ == "__main__":
    if not BIN or not os.access(BIN, os.X_OK):
        print("SESRELAY_BIN not set", file=sys.stderr)
        sys.exit(77)
    r = unittest.main(exit=False).result
    sys.exit(0 if r.wasSuccessful() else 1)
