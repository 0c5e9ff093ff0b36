"""Run the sesrelay daemon under test and talk to what it leaves behind.

Shared by the integration suites: start the binary with a temporary
configuration, wait (with a deadline) for the line saying where it listens,
collect its log, stop it with SIGTERM and insist it exits 0. Also: outbox
readers, a self-signed certificate and a users file made at test time.
"""

import base64
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SKIP = 77

# Both log formats: logfmt `event=smtp.listen addr=127.0.0.1:4242` and JSON
# `"event":"smtp.listen",...,"addr":"127.0.0.1:4242"`.
_LISTEN_RE = re.compile(
    r'(?:event=smtp\.listen\b.*?\baddr="?|"event":"smtp\.listen".*?"addr":")'
    r'(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)')


def binary():
    """Path of the daemon under test (SESRELAY_BIN, as meson sets it)."""
    path = os.environ.get("SESRELAY_BIN")
    if not path:
        root = os.environ.get("BUILD_ROOT", "")
        path = os.path.join(root, "src", "sesrelay") if root else ""
    return os.path.abspath(path) if path else ""


def require_binary():
    """Skip (exit 77 via main()) when there is no daemon to test."""
    path = binary()
    if not path or not os.access(path, os.X_OK):
        raise unittest.SkipTest("SESRELAY_BIN is not set to an executable")
    return path


def wait_until(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value; raise on the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class DaemonError(Exception):
    pass


class Daemon:
    """One sesrelay process with an outbox back end in its own directory.

    config: extra keys (dict, str -> str) on top of the test defaults
    (listen on a free loopback port, outbox back end, debug logs).
    """

    START_TIMEOUT = 15.0

    def __init__(self, config=None, workdir=None, env=None):
        self.bin = require_binary()
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="sesrelay-test-")
        self.outbox = os.path.join(self.workdir, "outbox")
        os.makedirs(self.outbox, exist_ok=True)
        self.config = {
            "listen": "127.0.0.1:0",
            "backend": "outbox",
            "outbox_dir": self.outbox,
            "hostname": "relay.test.example",
            "log_level": "debug",
            # One event loop unless a test asks for more (tests/integration/test_workers.py).
            "workers": "1",
        }
        self.config.update(config or {})
        self.env = dict(os.environ)
        # Keys set in the environment would override the file.
        for k in list(self.env):
            if k.startswith("SESRELAY_") and k != "SESRELAY_BIN":
                del self.env[k]
        self.env.update(env or {})
        self.proc = None
        self.host = None
        self.port = None
        self.tls_addr = None            # smtps_listen (implicit TLS), if any
        self._log = []
        self._log_lock = threading.Lock()
        self._reader = None

    # -- lifecycle -------------------------------------------------------

    def write_config(self):
        path = os.path.join(self.workdir, "sesrelay.conf")
        with open(path, "w") as f:
            for k, v in self.config.items():
                v = str(v)
                if v == "" or v != v.strip() or "#" in v:
                    v = '"%s"' % v
                f.write("%s %s\n" % (k, v))
        return path

    def start(self):
        path = self.write_config()
        self.proc = subprocess.Popen(
            [self.bin, "--config", path], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env,
            cwd=self.workdir)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.START_TIMEOUT
        want_tls = bool(str(self.config.get("smtps_listen", "")).strip())
        while time.monotonic() < deadline:
            plain, tls = [], []
            with self._log_lock:
                for line in self._log:
                    m = _LISTEN_RE.search(line)
                    if m:
                        addr = (m.group(1).strip("[]"), int(m.group(2)))
                        is_tls = re.search(r'\btls[=":]+true', line) is not None
                        (tls if is_tls else plain).append(addr)
            if plain and (tls or not want_tls):
                self.host, self.port = plain[0]
                self.tls_addr = tls[0] if tls else None
                return self
            if self.proc.poll() is not None:
                self._reader.join(2)
                text = self.log()
                if "not built yet" in text:
                    raise unittest.SkipTest("the relay is not built yet")
                raise DaemonError("sesrelay exited with %s before listening:\n%s"
                                  % (self.proc.returncode, text))
            time.sleep(0.01)
        self.proc.kill()
        self.proc.wait()
        raise DaemonError("sesrelay did not log event=smtp.listen within %ss:\n%s"
                          % (self.START_TIMEOUT, self.log()))

    def _read_log(self):
        for raw in iter(self.proc.stderr.readline, b""):
            with self._log_lock:
                self._log.append(raw.decode("utf-8", "replace").rstrip("\n"))
        self.proc.stderr.close()

    def stop(self, timeout=20.0):
        """SIGTERM, wait, and return the exit code (raises if it is not 0)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise DaemonError("sesrelay did not exit within %ss of SIGTERM:\n%s"
                              % (timeout, self.log_tail()))
        if self._reader:
            self._reader.join(5)
        self.proc = None
        if rc != 0:
            raise DaemonError("sesrelay exited with %s after SIGTERM:\n%s"
                              % (rc, self.log_tail()))
        return rc

    def reload(self, timeout=10.0):
        """Rewrite the config file from self.config, send SIGHUP and wait
        for the config.reload log line; returns that line."""
        self.write_config()
        start = len(self.log_lines())
        self.proc.send_signal(signal.SIGHUP)
        return self.wait_log(r'event=config\.reload|"event":"config\.reload"', timeout, start=start)

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        try:
            if et is None:
                self.stop()
        finally:
            self.cleanup()
        return False

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def addr(self):
        return (self.host, self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # -- log -------------------------------------------------------------

    def log(self):
        with self._log_lock:
            return "\n".join(self._log)

    def log_lines(self):
        with self._log_lock:
            return list(self._log)

    def log_tail(self, n=60):
        with self._log_lock:
            return "\n".join(self._log[-n:])

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Wait for a log line (from line index `start`) matching regex."""
        rx = re.compile(pattern)

        def find():
            with self._log_lock:
                for line in self._log[start:]:
                    if rx.search(line):
                        return line
            return None
        return wait_until(find, timeout, what="log line /%s/" % pattern)

    # -- process ---------------------------------------------------------

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def open_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def peer_ports(self):
        """Client ports of the TCP connections the daemon has accepted (a
        descriptor it holds), from /proc: a connection still waiting in
        the kernel's accept queue has no descriptor and is not counted."""
        inodes = set()
        fd_dir = "/proc/%d/fd" % self.proc.pid
        for fd in os.listdir(fd_dir):
            try:
                link = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        ports = set()
        for table in ("tcp", "tcp6"):
            try:
                with open("/proc/%d/net/%s" % (self.proc.pid, table)) as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                col = row.split()
                if len(col) > 9 and col[9] in inodes:
                    ports.add(int(col[2].rsplit(":", 1)[1], 16))
        ports.discard(0)
        return ports

    # -- outbox ----------------------------------------------------------

    def outbox_ids(self):
        """Ids of complete messages (both .eml and .json present)."""
        ids = set()
        for p in glob.glob(os.path.join(self.outbox, "*.eml")):
            i = os.path.basename(p)[:-4]
            if os.path.exists(os.path.join(self.outbox, i + ".json")):
                ids.add(i)
        return ids

    def outbox_count(self):
        return len(self.outbox_ids())

    def read_eml(self, msg_id):
        with open(os.path.join(self.outbox, msg_id + ".eml"), "rb") as f:
            return f.read()

    def read_envelope(self, msg_id):
        with open(os.path.join(self.outbox, msg_id + ".json"), "rb") as f:
            return json.loads(f.read().decode("utf-8"))

    def find_id_in(self, text):
        """The outbox id that a 250 reply text names, or None."""
        for tok in re.findall(r"[A-Za-z0-9._-]+", text):
            if os.path.exists(os.path.join(self.outbox, tok + ".eml")):
                return tok
        return None

    def connect(self, timeout=10.0, source=None):
        s = socket.create_connection(self.addr, timeout=timeout,
                                     source_address=(source, 0) if source else None)
        return s


def started(test, config, env=None):
    """A daemon started for one test case `test`: stopped after it (when still
    running, so a test may stop it itself) and its files removed."""
    d = Daemon(config=config, env=env)
    d.start()
    test.addCleanup(d.cleanup)
    test.addCleanup(lambda: d.alive() and d.stop())
    return d


def stop_and_remove(d, tmp):
    """The end of a test class's daemon: stop it (insisting on exit 0), then
    remove its files and the class's directory tmp, whatever happened."""
    try:
        d.stop()
    finally:
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def make_message(sender="app@example.com", to="rcpt@example.org", subject="hello",
                 body="hi\r\n", extra=None):
    """A small RFC 5322 message with a unique Message-ID, as bytes."""
    lines = ["From: %s" % sender] + (["To: %s" % to] if to else []) + [
        "Subject: %s" % subject, "Message-ID: <%s@test>" % os.urandom(6).hex()]
    lines += extra or []
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def strip_received(eml):
    """The message minus the one Received: field the relay prepends
    (including its folded continuation lines)."""
    if not eml[:9].lower() == b"received:":
        raise AssertionError("message does not start with a Received: header: %r" % eml[:80])
    i = 0
    while True:
        j = eml.find(b"\r\n", i)
        if j < 0:
            raise AssertionError("unterminated Received: header")
        i = j + 2
        if eml[i:i + 1] not in (b" ", b"\t"):
            return eml[i:]


def received_header(eml):
    return eml[:len(eml) - len(strip_received(eml))]


# -- material made at test time -------------------------------------------

def make_cert(directory, cn="localhost"):
    """Self-signed certificate and key (PEM) for STARTTLS; returns paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=" + cn,
         "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % cn],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: %s" % r.stdout.decode(errors="replace"))
    return cert, key


def scrypt_line(user, password, salt=None):
    """A users-file line in the documented format, made with Python."""
    salt = salt or os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=16384, r=8, p=1,
                         maxmem=64 << 20, dklen=32)
    return "%s:$scrypt$N=16384,r=8,p=1$%s$%s" % (
        user, base64.b64encode(salt).decode(), base64.b64encode(key).decode())


def passwd_line(user, password):
    """`sesrelay passwd USER` output, or the same format made in Python
    while that subcommand is not available."""
    try:
        r = subprocess.run([binary(), "passwd", user], input=password.encode() + b"\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        out = r.stdout.decode().strip()
        if r.returncode == 0 and out.startswith(user + ":$"):
            return out
    except (OSError, subprocess.TimeoutExpired):
        pass
    return scrypt_line(user, password)


def make_users_file(directory, users):
    path = os.path.join(directory, "users")
    with open(path, "w") as f:
        for u, p in users.items():
            f.write(passwd_line(u, p) + "\n")
    return path


def client_tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def main():
    """unittest.main that exits 77 when every test was skipped."""
    prog = unittest.main(exit=False, verbosity=2)
    res = prog.result
    if not res.wasSuccessful():
        sys.exit(1)
    # Class-level skips (setUpClass) are not counted in testsRun.
    if res.skipped and len(res.skipped) >= res.testsRun:
        sys.exit(SKIP)
    sys.exit(0)
