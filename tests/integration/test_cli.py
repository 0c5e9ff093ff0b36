"""The command line as an operator types it: global options before or after
the command, --help for the program and for each command, --help and the
sesrelay(8) page telling the same story, and the configuration errors the
binary prints (file:line: key). No AWS peer is needed: every case here ends
before the relay would talk to AWS, or uses the outbox back end."""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sesrelay_daemon import require_binary, wait_until  # noqa: E402

ROOT = os.environ.get("PROJECT_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMANDS = ("run", "check", "whoami", "passwd", "client", "policy", "queue")


def run(args, env=None, stdin=b""):
    e = dict(os.environ)
    e.pop("SESRELAY_CONFIG", None)
    e.update(env or {})
    p = subprocess.run([require_binary()] + args, input=stdin, capture_output=True,
                       env=e, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class Conf:
    """A configuration file in a temporary directory (removed at exit)."""
    made = []

    def __init__(self, text):
        self.dir = tempfile.TemporaryDirectory(prefix="sesrelay-cli-")
        Conf.made.append(self.dir)
        self.path = os.path.join(self.dir.name, "sesrelay.conf")
        with open(self.path, "w") as f:
            f.write(text)


# Line 3 is wrong: whichever command reads this file must say so with the
# file, the line and the key, and exit 2.
BAD = "backend ses\nrole_arn arn:aws:iam::111111111111:role/ses-relay-sender\nmax_errors 0\n"


class GlobalOptions(unittest.TestCase):
    def test_config_before_or_after_the_command(self):
        c = Conf(BAD)
        want = "%s:3: max_errors" % c.path
        for cmd in (["whoami"], ["check"], ["check", "--identity", "example.com"], ["run"]):
            for args in (["--config", c.path] + cmd, ["-c", c.path] + cmd,
                         cmd + ["--config", c.path], cmd + ["-c", c.path],
                         cmd + ["--config=" + c.path], ["--config=" + c.path] + cmd):
                with self.subTest(args=args):
                    rc, out, err = run(args)
                    self.assertEqual(rc, 2, err)
                    self.assertIn(want, err)

    def test_same_output_either_way(self):
        c = Conf(BAD)
        self.assertEqual(run(["-c", c.path, "whoami"]), run(["whoami", "-c", c.path]))

    def test_sesrelay_config_variable_and_option(self):
        c = Conf(BAD)
        rc, _, err = run(["whoami"], env={"SESRELAY_CONFIG": c.path})
        self.assertEqual(rc, 2)
        self.assertIn("%s:3: max_errors" % c.path, err)
        # the option wins over the variable
        good = Conf("backend outbox\nmax_errors 1\nmax_errors 2\n")
        rc, _, err = run(["whoami", "-c", good.path], env={"SESRELAY_CONFIG": c.path})
        self.assertIn("%s:3: max_errors" % good.path, err)
        self.assertIn("line 2", err)

    def serve(self, args, conf_text, listeners):
        """Runs the relay with args (the configuration file's path put in
        for CONF) until it logs `listeners` smtp.listen lines; returns their
        (host, port) and stops it with SIGTERM, which must exit 0."""
        d = tempfile.TemporaryDirectory(prefix="sesrelay-cli-run-")
        self.addCleanup(d.cleanup)
        c = Conf("backend outbox\noutbox_dir %s\nworkers 1\n%s" % (d.name, conf_text))
        log = open(os.path.join(d.name, "log"), "w+")
        self.addCleanup(log.close)
        p = subprocess.Popen([require_binary()] + [c.path if a == "CONF" else a for a in args],
                             stderr=log)

        def listening():
            with open(log.name) as f:
                found = re.findall(r"event=smtp\.listen .*?addr=\"?([0-9.]+):(\d+)", f.read())
            return found if len(found) >= listeners else None
        try:
            addrs = wait_until(listening, timeout=30, what="smtp.listen lines")
            for host, port in addrs:
                with socket.create_connection((host, int(port)), timeout=10) as s:
                    self.assertTrue(s.recv(512).startswith(b"220 "))
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=60), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return addrs

    def test_run_with_config_after_the_command_serves(self):
        self.serve(["run", "--config", "CONF"], "listen 127.0.0.1:0\n", 1)

    def test_every_listen_line_is_bound(self):
        """Two `listen` lines: both addresses serve (once only the last did)."""
        addrs = self.serve(["-c", "CONF"], "listen 127.0.0.1:0\nlisten 127.0.0.2:0\n", 2)
        self.assertEqual(sorted(a for a, _ in addrs), ["127.0.0.1", "127.0.0.2"])

    def test_missing_value_and_unknown_option(self):
        rc, _, err = run(["whoami", "--config"])
        self.assertEqual(rc, 2)
        self.assertIn("needs a file name", err)
        rc, _, err = run(["--bogus", "whoami"])
        self.assertEqual(rc, 2)
        self.assertIn("unknown option --bogus", err)


class Help(unittest.TestCase):
    def test_program_help(self):
        rc, out, err = run(["--help"])
        self.assertEqual((rc, err), (0, ""))
        for word in ("-c FILE", "--config FILE", "SESRELAY_CONFIG", "SESRELAY_<KEY>", "[run]",
                     "before or after the command") + COMMANDS:
            self.assertIn(word, out)
        self.assertEqual(run(["-h"])[1], out)

    def test_every_command_has_help(self):
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                rc, out, err = run([cmd, "--help"])
                self.assertEqual((rc, err), (0, ""))
                self.assertTrue(out.startswith("usage: sesrelay"), out)
                self.assertIn(cmd, out.splitlines()[0])

    def test_help_and_manual_agree(self):
        with open(os.path.join(ROOT, "deploy", "man", "sesrelay.8")) as f:
            man = f.read()
        synopsis = re.search(r"^\.Sh SYNOPSIS\n(.*?)^\.Sh ", man, re.M | re.S).group(1)
        options = re.search(r"^\.Sh OPTIONS\n(.*?)^\.Sh ", man, re.M | re.S).group(1)
        environment = re.search(r"^\.Sh ENVIRONMENT\n(.*?)^\.Sh ", man, re.M | re.S).group(1)
        _, top, _ = run(["--help"])
        # the global option, both spellings, in both
        self.assertIn("-c FILE, --config FILE, --config=FILE", top)
        self.assertIn(".It Fl c Ar file , Fl \\-config Ar file , Fl \\-config Ns = Ns Ar file",
                      options)
        self.assertIn("Fl c Ar file", synopsis)
        for flag, man_flag in (("-V", "Fl V"), ("--version", "\\-version"), ("-h", "Fl h"),
                               ("--help", "\\-help")):
            self.assertIn(flag, top)
            self.assertIn(man_flag, synopsis + options)
        # `run` is optional in both
        self.assertIn("[run]", top)
        self.assertIn(".Op Cm run", synopsis)
        # SESRELAY_CONFIG in both
        self.assertIn("SESRELAY_CONFIG", top)
        self.assertIn(".It Ev SESRELAY_CONFIG", environment)
        # every command in both, and every option of every command's help
        # in the page
        for cmd in COMMANDS:
            self.assertIn(cmd, top)
            self.assertIn("Cm " + cmd, synopsis)
            _, usage, _ = run([cmd, "--help"])
            for opt in set(re.findall(r"(?<![\w-])--([a-z][a-z-]*)", usage)) - {"config", "help"}:
                with self.subTest(cmd=cmd, opt=opt):
                    self.assertIn("Fl \\-" + opt.replace("-", "\\-"), man)


class CheckOptions(unittest.TestCase):
    CONF = "backend ses\nrole_arn arn:aws:iam::111111111111:role/ses-relay-sender\n"

    def test_send_test_without_sender_asks_for_from(self):
        c = Conf(self.CONF)
        for extra in ([], ["--identity", "example.com"]):
            with self.subTest(extra=extra):
                rc, out, err = run(["-c", c.path, "check", "--send-test", "to@example.org"] + extra)
                self.assertEqual(rc, 2, out + err)
                self.assertIn("--send-test needs --from", err)
                self.assertEqual(out, "")
        rc, out, _ = run(["check", "--help"])
        self.assertEqual(rc, 0)
        self.assertIn("--from SENDER", out)
        self.assertRegex(" ".join(out.split()), r"Needed unless the identity is an address")

    def test_unknown_option(self):
        rc, out, err = run(["check", "--bogus"])
        self.assertEqual(rc, 2)
        self.assertIn("--bogus is not an option", err)
        self.assertIn("usage:", err)


class ConfigErrors(unittest.TestCase):
    """What the binary prints for configurations that used to be accepted."""

    def start(self, text):
        c = Conf(text)
        return c, run(["-c", c.path, "run"])

    def test_open_relay_refused(self):
        c, (rc, _, err) = self.start("backend outbox\nlisten 0.0.0.0:0\nallow_networks 0.0.0.0/0\n")
        self.assertEqual(rc, 2)
        self.assertIn("%s:3: allow_networks" % c.path, err)
        self.assertIn("open relay", err)
        self.assertIn("allow_open_relay", err)

    def test_bad_network_names_its_line(self):
        c, (rc, _, err) = self.start("backend outbox\nlisten 127.0.0.1:0\n"
                                     "allow_networks 10.0.0.0/8\nallow_networks 10.1.2.3/8\n")
        self.assertEqual(rc, 2)
        self.assertIn("%s:4: allow_networks" % c.path, err)

    def test_missing_tls_key_names_tls_cert_line(self):
        c, (rc, _, err) = self.start("backend outbox\n\ntls_cert /nonexistent/cert.pem\n")
        self.assertEqual(rc, 2)
        self.assertIn("%s:3: tls_cert: needs tls_key" % c.path, err)

    def test_unreadable_certificate_names_its_line(self):
        c, (rc, _, err) = self.start("backend outbox\nlisten 127.0.0.1:0\n"
                                     "tls_cert /nonexistent/cert.pem\ntls_key /nonexistent/key.pem\n")
        self.assertEqual(rc, 2)
        self.assertIn("%s:3: tls_cert" % c.path, err)

    def test_empty_external_id_from_environment(self):
        c = Conf(CheckOptions.CONF)
        rc, _, err = run(["-c", c.path, "whoami"], env={"SESRELAY_EXTERNAL_ID": ""})
        self.assertEqual(rc, 2)
        self.assertIn("environment SESRELAY_EXTERNAL_ID", err)
        self.assertIn("empty", err)


if __name__ == "__main__":
    try:
        require_binary()
    except unittest.SkipTest as e:
        print(e, file=sys.stderr)
        sys.exit(77)
    r = unittest.main(exit=False, verbosity=2).result
    for d in Conf.made:
        d.cleanup()
    sys.exit(0 if r.wasSuccessful() else 1)
