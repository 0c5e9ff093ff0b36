"""The admin endpoint (metrics_listen) of the real daemon: /metrics parsed
with the Prometheus client library's own text parser, counters checked to
move by exactly the traffic sent (outbox back end, and SES through the AWS
emulator, including an injected SES error), /readyz following the
shared-account credentials and the drain, the HTTP responder's bounds
(garbage, oversized heads, bodies, slow heads, connection cap), and
SIGHUP under load (new TLS certificate for new connections, no
transaction lost; a bad file keeps the old configuration).
"""

import hashlib
import http.client
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sesrelay_daemon as sd  # noqa: E402
import testdeps  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client, when the tests run on another
    # Python than the system one.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None

METRICS_RE = r'event=metrics\.listen addr=(\S+)|"event":"metrics\.listen".*?"addr":"([^"]+)"'


# -- HTTP and exposition helpers -----------------------------------------------

def split_addr(addr):
    host, port = addr.rsplit(":", 1)
    return host.strip("[]"), int(port)


def fetch(addr, path, method="GET", headers=None, body=None, timeout=10):
    """(status, headers dict lowercased, body bytes) of one request."""
    c = http.client.HTTPConnection(*split_addr(addr), timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def raw_exchange(addr, data, timeout=10):
    """Send raw bytes, read until the server closes; returns what it sent."""
    s = socket.create_connection(split_addr(addr), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def parse_exposition(text):
    """{(sample name, frozenset(labels)): value}, and the families' types.
    Uses the Prometheus client's parser; it raises on malformed input."""
    samples, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            if key in samples:
                raise AssertionError("duplicate series %r" % (key,))
            samples[key] = s.value
    return samples, types


class Scrape:
    def __init__(self, addr):
        status, headers, body = fetch(addr, "/metrics")
        if status != 200:
            raise AssertionError("GET /metrics: %d %r" % (status, body))
        self.content_type = headers.get("content-type", "")
        self.text = body.decode("utf-8")
        self.samples, self.types = parse_exposition(self.text)

    def get(self, name, **labels):
        return self.samples.get((name, frozenset(labels.items())))

    def __call__(self, name, **labels):
        v = self.get(name, **labels)
        if v is None:
            raise AssertionError("no series %s%r in:\n%s" % (name, labels, self.text))
        return v


def message(subject="m", body="hello\r\n", size=None):
    head = "From: app@example.com\r\nTo: r@example.org\r\nSubject: %s\r\n\r\n" % subject
    if size is not None:
        body = ("x" * 70 + "\r\n") * (size // 72 + 1)
    return (head + body).encode()


def send(addr, rcpts, raw, tls=False, sender="app@example.com"):
    """One transaction on its own connection; (code, text) of the reply to
    the data. No SIZE parameter, so size limits are judged on the data."""
    with smtplib.SMTP(addr[0], addr[1], timeout=30) as s:
        s.ehlo("client.test")
        if tls:
            s.starttls(context=sd.client_tls_context())
            s.ehlo("client.test")
        code, text = s.mail(sender)
        if code != 250:
            return code, text.decode()
        for r in rcpts:
            code, text = s.rcpt(r)
            if code != 250:
                return code, text.decode()
        code, text = s.data(raw)
        return code, text.decode()


def peer_cert_sha256(addr):
    s = smtplib.SMTP(addr[0], addr[1], timeout=30)
    try:
        s.ehlo("client.test")
        s.starttls(context=sd.client_tls_context())
        der = s.sock.getpeercert(binary_form=True)
        s.quit()
        return hashlib.sha256(der).hexdigest()
    finally:
        s.close()


def cert_sha256(path):
    with open(path) as f:
        pem = f.read()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


class AdminCase(unittest.TestCase):
    """One daemon per class with the admin endpoint on a free port."""

    backend_config = {}
    extra_config = {}
    env = None

    @classmethod
    def setUpClass(cls):
        sd.require_binary()
        if text_string_to_metric_families is None:
            testdeps.missing("Python module prometheus_client",
                             "Debian package python3-prometheus-client")
        cls.tmp = tempfile.mkdtemp(prefix="sesrelay-metrics-")
        cfg = {"metrics_listen": "127.0.0.1:0", "log_level": "info"}
        cfg.update(cls.backend_config)
        cfg.update(cls.extra_config)
        cls.d = sd.Daemon(cfg, workdir=os.path.join(cls.tmp, "d"), env=cls.env)
        os.makedirs(cls.d.workdir, exist_ok=True)
        cls.d.start()
        m = re.search(METRICS_RE, cls.d.wait_log(METRICS_RE))
        cls.admin = m.group(1) or m.group(2)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.d.alive():
                cls.d.stop()
        finally:
            cls.d.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def scrape(self):
        return Scrape(self.admin)

    def wait_series(self, pred, what, timeout=15):
        """The first scrape for which pred(scrape) holds."""
        def attempt():
            s = self.scrape()
            return s if pred(s) else None
        return sd.wait_until(attempt, timeout, 0.05, what)


class OutboxMetricsTest(AdminCase):
    extra_config = {"max_message_size": "2K", "max_connections_per_ip": "3",
                    "metrics_timeout": "1", "metrics_max_connections": "4"}

    def test_counters_move_by_exactly_the_traffic(self):
        before = self.scrape()
        self.assertTrue(before.content_type.startswith("text/plain; version=0.0.4"),
                        before.content_type)
        n, rcpts = 5, ["a@example.org", "b@example.org", "c@example.org"]
        size = 0
        for i in range(n):
            raw = message(subject="n%d" % i, body="line %d\r\n" % i)
            code, text = send(self.d.addr, rcpts, raw)
            self.assertEqual(code, 250, text)
            size += len(raw)
        # One transaction over max_message_size: a 5xx, nothing sent.
        code, text = send(self.d.addr, rcpts[:1], message(size=3000))
        self.assertEqual(code, 552, text)
        after = self.wait_series(lambda s: s("sesrelay_connections_current") == 0,
                                 "connections to close")

        def delta(name, **labels):
            return after(name, **labels) - before(name, **labels)
        self.assertEqual(delta("sesrelay_smtp_transactions_total",
                               outcome="accepted", **{"class": "2xx"}), n)
        self.assertEqual(delta("sesrelay_smtp_transactions_total",
                               outcome="rejected", **{"class": "5xx"}), 1)
        self.assertEqual(delta("sesrelay_smtp_transactions_total",
                               outcome="rejected", **{"class": "4xx"}), 0)
        self.assertEqual(delta("sesrelay_messages_sent_total"), n)
        self.assertEqual(delta("sesrelay_recipients_total"), n * len(rcpts))
        self.assertEqual(delta("sesrelay_message_bytes_total"), size)
        self.assertEqual(delta("sesrelay_connections_total"), n + 1)
        self.assertEqual(self.d.outbox_count(), after("sesrelay_messages_sent_total"))
        # No SES here: the histogram exists and stays empty; no creds series.
        self.assertEqual(after("sesrelay_ses_request_duration_seconds_count"), 0)
        self.assertIsNone(after.get("sesrelay_credentials_ready"))
        self.assertEqual(after.types["sesrelay_ses_request_duration_seconds"], "histogram")
        self.assertEqual(after.types["sesrelay_connections"], "counter")
        self.assertEqual(after("sesrelay_build_info", version=self.version()), 1)

    def version(self):
        import subprocess
        out = subprocess.run([self.d.bin, "--version"], stdout=subprocess.PIPE).stdout
        return out.decode().split()[-1]

    def test_refused_connections_by_reason(self):
        before = self.scrape()
        held = [self.d.connect() for _ in range(3)]
        try:
            for s in held:
                self.assertTrue(s.makefile("rb").readline().startswith(b"220"))
            extra = self.d.connect()
            self.assertTrue(extra.makefile("rb").readline().startswith(b"421"))
            extra.close()
            during = self.scrape()
            self.assertEqual(during("sesrelay_connections_current")
                             - before("sesrelay_connections_current"), 3)
        finally:
            for s in held:
                s.close()
        after = self.wait_series(lambda s: s("sesrelay_connections_current") == 0,
                                 "connections to close")
        self.assertEqual(after("sesrelay_connections_refused_total", reason="max_per_ip")
                         - before("sesrelay_connections_refused_total", reason="max_per_ip"), 1)
        for reason in ("max_connections", "network", "shutdown"):
            self.assertEqual(after("sesrelay_connections_refused_total", reason=reason),
                             before("sesrelay_connections_refused_total", reason=reason))

    def test_routes(self):
        status, _, body = fetch(self.admin, "/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        status, _, body = fetch(self.admin, "/readyz")
        self.assertEqual((status, body), (200, b"ready\n"))
        status, headers, body = fetch(self.admin, "/metrics", method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertGreater(int(headers["content-length"]), 1000)
        status, _, _ = fetch(self.admin, "/metrics?x=1")
        self.assertEqual(status, 200)
        status, _, _ = fetch(self.admin, "/nope")
        self.assertEqual(status, 404)
        status, headers, _ = fetch(self.admin, "/metrics", method="DELETE")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("allow"), "GET, HEAD")
        status, headers, _ = fetch(self.admin, "/healthz", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("connection"), "close")

    def test_bad_requests(self):
        def status_of(reply):
            m = re.match(rb"HTTP/1\.1 (\d{3}) ", reply)
            return int(m.group(1)) if m else None
        self.assertEqual(status_of(raw_exchange(self.admin, b"\x16\x03\x01\x00\xa5\x01\x00")), 400)
        self.assertEqual(status_of(raw_exchange(self.admin, b"hello there\r\n\r\n")), 400)
        self.assertEqual(status_of(raw_exchange(self.admin, b"GET /metrics\r\n\r\n")), 400)
        self.assertEqual(status_of(raw_exchange(
            self.admin, b"GET /metrics HTTP/1.1\r\n\r\n")), 400)          # no Host
        self.assertEqual(status_of(raw_exchange(
            self.admin, b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n")), 505)
        big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
        self.assertEqual(status_of(raw_exchange(self.admin, big)), 431)
        self.assertEqual(status_of(raw_exchange(
            self.admin, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")), 414)
        status, _, _ = fetch(self.admin, "/metrics", method="POST", body=b"x=1" * 100)
        self.assertEqual(status, 413)
        self.assertEqual(status_of(raw_exchange(
            self.admin, b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"\r\n5\r\nhello\r\n0\r\n\r\n")), 413)
        # Still serving after all that.
        self.assertEqual(fetch(self.admin, "/healthz")[0], 200)

    def test_slow_head_is_closed(self):
        # metrics_timeout 1: a head that never completes is dropped unanswered.
        s = socket.create_connection(split_addr(self.admin), timeout=10)
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            t0 = time.monotonic()
            got = b""
            try:
                for _ in range(5):
                    time.sleep(0.3)
                    s.sendall(b"X: y\r\n")      # trickling does not extend it
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                got = s.recv(1024)
            except ConnectionResetError:
                got = b""
            self.assertEqual(got, b"")
            self.assertLess(time.monotonic() - t0, 8)
        finally:
            s.close()

class AdminCapTest(AdminCase):
    """metrics_max_connections: the fifth connection is closed unanswered.
    The held connections must outlive the test's own pace on a loaded
    machine, so this class has a long metrics_timeout of its own."""

    extra_config = {"metrics_timeout": "60", "metrics_max_connections": "4"}

    def test_connection_cap(self):
        held = [socket.create_connection(split_addr(self.admin), timeout=10) for _ in range(4)]
        try:
            # The relay has accepted all four (a descriptor each) before
            # the fifth arrives.
            sd.wait_until(lambda: all(s.send(b"G") == 1 for s in held), 5, what="sends")
            ports = {s.getsockname()[1] for s in held}
            sd.wait_until(lambda: ports <= self.d.peer_ports(), 10,
                          what="four admin connections accepted")
            extra = socket.create_connection(split_addr(self.admin), timeout=10)
            try:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    got = extra.recv(1024)
                except ConnectionResetError:
                    got = b""
                self.assertEqual(got, b"")
            finally:
                extra.close()
        finally:
            for s in held:
                s.close()
        # Capacity comes back once they are gone.
        sd.wait_until(lambda: self._healthz_ok(), 10, 0.05, "admin connections to free up")

    def _healthz_ok(self):
        try:
            return fetch(self.admin, "/healthz", timeout=2)[0] == 200
        except OSError:
            return False


class DrainTest(AdminCase):
    """/readyz says 503 while the relay drains, and the admin endpoint
    closes with the rest so SIGTERM still ends the process."""

    extra_config = {"drain_timeout": "30"}

    def test_readyz_during_drain_and_clean_exit(self):
        self.assertEqual(fetch(self.admin, "/readyz")[0], 200)
        idle = socket.create_connection(split_addr(self.admin), timeout=10)   # left open
        s = smtplib.SMTP(self.d.host, self.d.port, timeout=30)
        s.ehlo("client.test")
        self.assertEqual(s.mail("app@example.com")[0], 250)
        self.assertEqual(s.rcpt("r@example.org")[0], 250)
        self.d.proc.send_signal(signal.SIGTERM)

        def not_ready():
            status, _, body = fetch(self.admin, "/readyz")
            return status == 503 and body.startswith(b"not ready: draining")
        sd.wait_until(not_ready, 10, 0.05, "/readyz 503 while draining")
        self.assertEqual(fetch(self.admin, "/healthz")[0], 200)
        code, _ = s.data(message())
        self.assertEqual(code, 250)
        s.close()
        self.assertEqual(self.d.proc.wait(20), 0)
        idle.close()
        with self.assertRaises(OSError):
            fetch(self.admin, "/healthz", timeout=2)


class Ipv6Test(AdminCase):
    extra_config = {"metrics_listen": "[::1]:0"}

    @classmethod
    def setUpClass(cls):
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            raise unittest.SkipTest("no IPv6 loopback")
        super().setUpClass()

    def test_scrape_over_ipv6(self):
        self.assertTrue(self.admin.startswith("[::1]:"), self.admin)
        self.assertEqual(self.scrape()("sesrelay_connections_current"), 0)


class BadListenTest(unittest.TestCase):
    def test_bad_address_is_a_configuration_error(self):
        sd.require_binary()
        import subprocess
        d = sd.Daemon({"metrics_listen": "localhost:x"})
        try:
            r = subprocess.run([d.bin, "--config", d.write_config()], env=d.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=30, cwd=d.workdir)
            self.assertEqual(r.returncode, 2, r.stderr)
            # refused when the file is read, naming its line
            self.assertRegex(r.stderr, rb"sesrelay\.conf:\d+: metrics_listen: \"localhost:x\" "
                             rb"is not HOST:PORT")
        finally:
            d.cleanup()


# -- SES through the emulator ---------------------------------------------------

EMU = None


def emulator():
    global EMU
    if EMU is None:
        testdeps.require_aws_modules()
        from aws_emulator import Emulator
        EMU = Emulator(strict=True)
        EMU.start()
    return EMU


def tearDownModule():
    if EMU:
        EMU.stop()


class SesMetricsTest(AdminCase):
    @classmethod
    def setUpClass(cls):
        emu = emulator()
        emu.clear_faults()
        emu.set_trust(True)
        cls.backend_config = {"backend": "ses", "role_arn": emu.role_arn,
                              "external_id": emu.external_id, "region": emu.region,
                              "ses_timeout": "10", "ses_max_retries": "0"}
        cls.env = emu.daemon_env()
        super().setUpClass()

    def setUp(self):
        EMU.clear_faults()
        EMU.set_trust(True)
        self.wait_ready()

    def wait_ready(self):
        sd.wait_until(lambda: fetch(self.admin, "/readyz")[0] == 200, 30, 0.1,
                      "/readyz 200 (credentials assumed)")

    def test_ses_series(self):
        before = self.scrape()
        self.assertEqual(before("sesrelay_credentials_ready"), 1)
        self.assertGreater(before("sesrelay_credentials_expiry_seconds"), 60)
        self.assertLessEqual(before("sesrelay_credentials_expiry_seconds"), 3600)
        self.assertGreaterEqual(before("sesrelay_sts_refreshes_total", outcome="ok"), 1)
        n, rcpts = 4, ["a@example.org", "b@example.org"]
        for i in range(n):
            code, text = send(self.d.addr, rcpts, message(subject="s%d" % i))
            self.assertEqual(code, 250, text)
        mid = self.scrape()

        def delta(a, b, name, **labels):
            return b(name, **labels) - a(name, **labels)
        self.assertEqual(delta(before, mid, "sesrelay_ses_request_duration_seconds_count"), n)
        self.assertEqual(delta(before, mid, "sesrelay_ses_request_duration_seconds_bucket",
                               le="+Inf"), n)
        self.assertGreater(delta(before, mid, "sesrelay_ses_request_duration_seconds_sum"), 0)
        self.assertEqual(delta(before, mid, "sesrelay_messages_sent_total"), n)
        self.assertEqual(delta(before, mid, "sesrelay_recipients_total"), n * len(rcpts))
        self.assertIsNone(mid.get("sesrelay_ses_errors_total", code="MessageRejected"))

        EMU.fault("SendRawEmail", status=400, code="MessageRejected", message="x", count=1)
        code, text = send(self.d.addr, rcpts, message(subject="rejected"))
        self.assertGreaterEqual(code, 500, text)
        self.assertIn("MessageRejected", text)
        after = self.scrape()
        self.assertEqual(after("sesrelay_ses_errors_total", code="MessageRejected"), 1)
        self.assertEqual(delta(mid, after, "sesrelay_ses_request_duration_seconds_count"), 1)
        self.assertEqual(delta(mid, after, "sesrelay_smtp_transactions_total",
                               outcome="rejected", **{"class": "5xx"}), 1)
        self.assertEqual(delta(mid, after, "sesrelay_messages_sent_total"), 0)
        # The smtp.txn line carries what an operator needs to follow it up.
        line = self.d.wait_log(r"event=smtp\.txn .*error_code=MessageRejected")
        for key in ("session=", "client=", "smtp_seconds=", "backend_seconds="):
            self.assertIn(key, line)
        ok = [l for l in self.d.log_lines() if "event=smtp.txn" in l and "code=250" in l]
        self.assertTrue(ok and all("message_id=" in l and "session=" in l and "client=" in l
                                   and "smtp_seconds=" in l and "backend_seconds=" in l
                                   for l in ok), ok[-1:])

    def test_readyz_follows_the_shared_credentials(self):
        before = self.scrape()
        # Trust revoked and the held credentials expired: the next send is
        # refused by SES, the cache drops them and cannot get new ones.
        EMU.set_trust(False)
        EMU.expire()
        code, text = send(self.d.addr, ["a@example.org"], message(subject="no creds"))
        self.assertTrue(400 <= code < 500, (code, text))

        def not_ready():
            status, _, body = fetch(self.admin, "/readyz")
            return status == 503 and body.startswith(b"not ready: no valid shared-account")
        sd.wait_until(not_ready, 30, 0.1, "/readyz 503 after trust revoked")
        during = self.scrape()
        self.assertEqual(during("sesrelay_credentials_ready"), 0)
        self.assertGreater(during("sesrelay_sts_refreshes_total", outcome="failed"),
                           before("sesrelay_sts_refreshes_total", outcome="failed"))
        self.assertEqual(fetch(self.admin, "/healthz")[0], 200)
        # Trust restored: the cache's backoff retry gets credentials again.
        EMU.set_trust(True)
        sd.wait_until(lambda: fetch(self.admin, "/readyz")[0] == 200, 90, 0.2,
                      "/readyz 200 after trust restored")
        self.assertEqual(self.scrape()("sesrelay_credentials_ready"), 1)
        code, text = send(self.d.addr, ["a@example.org"], message(subject="again"))
        self.assertEqual(code, 250, text)


class SendQuotaIntervalTest(AdminCase):
    """send_rate auto with a short send_quota_interval: GetSendQuota is read
    again while the relay runs, and the governor's rate follows the
    account's MaxSendRate (times send_rate_share) as the emulator changes
    it. With the former fixed 5 minutes the second figure never comes."""

    @classmethod
    def setUpClass(cls):
        emu = emulator()
        emu.clear_faults()
        emu.set_trust(True)
        emu.set_quota(max_send_rate=40)
        cls.backend_config = {"backend": "ses", "role_arn": emu.role_arn,
                              "external_id": emu.external_id, "region": emu.region,
                              "send_rate": "auto", "send_rate_share": "0.5",
                              "send_quota_interval": "5"}
        cls.env = emu.daemon_env()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            EMU.set_quota(max_send_rate=1000)   # the emulator's default, for the others

    def quota_reads(self):
        return [l for l in self.d.log_lines() if "event=ses.quota " in l]

    def test_rate_follows_the_quota(self):
        self.wait_series(lambda s: s.get("sesrelay_send_rate") == 20,
                         "sesrelay_send_rate 20 (MaxSendRate 40 x share 0.5)", timeout=30)
        reads = len(self.quota_reads())
        EMU.set_quota(max_send_rate=7)
        self.wait_series(lambda s: s.get("sesrelay_send_rate") == 3.5,
                         "sesrelay_send_rate 3.5 after MaxSendRate 7", timeout=30)
        self.assertIn("max_send_rate=7 ", self.quota_reads()[-1])
        self.assertGreater(len(self.quota_reads()), reads)
        # Read again every interval, not once: the next change is seen too.
        EMU.set_quota(max_send_rate=40)
        self.wait_series(lambda s: s.get("sesrelay_send_rate") == 20,
                         "sesrelay_send_rate 20 again", timeout=30)


# -- SIGHUP under load ----------------------------------------------------------

class ReloadUnderLoadTest(AdminCase):
    """Messages keep flowing (plain and STARTTLS) while the configuration
    is rewritten with a new certificate and reloaded: no connection dropped,
    no transaction failed, and new connections get the new certificate. A
    broken file is refused and the running configuration stays."""

    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="sesrelay-certs-")
        os.makedirs(os.path.join(cls.certdir, "a"))
        os.makedirs(os.path.join(cls.certdir, "b"))
        cls.cert_a, cls.key_a = sd.make_cert(os.path.join(cls.certdir, "a"), cn="old.test")
        cls.cert_b, cls.key_b = sd.make_cert(os.path.join(cls.certdir, "b"), cn="new.test")
        cls.extra_config = {"tls_cert": cls.cert_a, "tls_key": cls.key_a}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def _load(self, stop, results):
        i = 0
        while not stop.is_set():
            try:
                code, text = send(self.d.addr, ["r@example.org"],
                                  message(subject="load %d" % i), tls=(i % 2 == 1))
                results.append((code, text))
            except Exception as e:      # any dropped connection is a failure
                results.append((None, repr(e)))
            i += 1

    def test_sighup_under_load(self):
        self.assertEqual(peer_cert_sha256(self.d.addr), cert_sha256(self.cert_a))
        before = self.scrape()
        # A connection opened before the reload and used after it.
        early = smtplib.SMTP(self.d.host, self.d.port, timeout=30)
        early.ehlo("client.test")
        early.starttls(context=sd.client_tls_context())
        early.ehlo("client.test")
        stop, results = threading.Event(), []
        workers = [threading.Thread(target=self._load, args=(stop, results)) for _ in range(3)]
        for w in workers:
            w.start()
        try:
            sd.wait_until(lambda: len(results) >= 10, 30, what="load before the reload")
            self.d.config["tls_cert"], self.d.config["tls_key"] = self.cert_b, self.key_b
            line = self.d.reload()
            self.assertNotIn("keeping the old configuration", line)
            self.assertEqual(peer_cert_sha256(self.d.addr), cert_sha256(self.cert_b))
            mark = len(results)
            sd.wait_until(lambda: len(results) >= mark + 10, 30, what="load after the reload")
            # A broken file: refused with a log line, the new cert stays.
            self.d.config["no_such_key"] = "1"
            line = self.d.reload()
            self.assertIn("keeping the old configuration", line)
            self.assertIn("no_such_key", line)
            mark = len(results)
            sd.wait_until(lambda: len(results) >= mark + 10, 30, what="load after a bad reload")
            self.assertEqual(peer_cert_sha256(self.d.addr), cert_sha256(self.cert_b))
        finally:
            stop.set()
            for w in workers:
                w.join(60)
            del self.d.config["no_such_key"]
            self.d.config["tls_cert"], self.d.config["tls_key"] = self.cert_a, self.key_a
            self.d.write_config()
        # The early connection still works, with the certificate it got.
        self.assertEqual(hashlib.sha256(early.sock.getpeercert(binary_form=True)).hexdigest(),
                         cert_sha256(self.cert_a))
        self.assertEqual(early.sendmail("app@example.com", ["r@example.org"], message()), {})
        early.quit()
        failed = [r for r in results if r[0] != 250]
        self.assertEqual(failed, [])
        after = self.wait_series(lambda s: s("sesrelay_connections_current") == 0,
                                 "connections to close")
        self.assertEqual(after("sesrelay_messages_sent_total")
                         - before("sesrelay_messages_sent_total"), len(results) + 1)
        # one reload applied, one refused
        self.assertEqual(after("sesrelay_reloads_total", outcome="ok")
                         - before("sesrelay_reloads_total", outcome="ok"), 1)
        self.assertEqual(after("sesrelay_reloads_total", outcome="failed")
                         - before("sesrelay_reloads_total", outcome="failed"), 1)
        self.assertEqual(self.d.outbox_count(), after("sesrelay_messages_sent_total"))
        self.assertTrue(self.d.alive())


if __name__ == "__main__":
    sd.main()
