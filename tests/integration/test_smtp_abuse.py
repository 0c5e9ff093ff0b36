"""Hostile and broken clients against the relay: random garbage, over-long
lines, silent and trickling clients, a thousand idle connections, the
connection limit, SMTP smuggling and STARTTLS command injection. The
daemon must stay up, bounded in memory, and keep serving normal clients.
"""

import os
import random
import resource
import smtplib
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sesrelay_daemon as sd  # noqa: E402
from raw_smtp import RawClient  # noqa: E402

RSS_LIMIT_KB = 100 * 1024


class Client(RawClient):
    def session(self):
        self.expect(220)
        self.send(b"EHLO abuse.example\r\n")
        self.expect(250)

    def start_data(self):
        """MAIL, RCPT and DATA in one write, answered up to the 354."""
        self.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        self.expect(250)
        self.expect(250)
        self.expect(354)


class AbuseCase(unittest.TestCase):
    config = {}

    @classmethod
    def setUpClass(cls):
        sd.require_binary()
        cls.tmp = tempfile.mkdtemp(prefix="sesrelay-abuse-")
        cfg = dict(cls.config)
        if cfg.pop("tls", None):
            cfg["tls_cert"], cfg["tls_key"] = sd.make_cert(cls.tmp)
        cls.d = sd.Daemon(cfg, workdir=cls.tmp)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        sd.stop_and_remove(cls.d, cls.tmp)

    def client(self, timeout=10.0, source=None):
        c = Client(self.d.addr, timeout, source)
        self.addCleanup(c.close)
        return c

    def assert_serves(self):
        """A well-behaved client still gets a message through."""
        before = self.d.outbox_count()
        s = smtplib.SMTP(self.d.host, self.d.port, timeout=20)
        try:
            self.assertEqual(s.sendmail("ok@example.com", ["ok@example.com"],
                                        b"Subject: still serving\r\n\r\nok\r\n"), {})
        finally:
            s.quit()
        self.assertEqual(self.d.outbox_count(), before + 1)

    def assert_rss_bounded(self):
        rss = self.d.rss_kb()
        self.assertLess(rss, RSS_LIMIT_KB, "daemon RSS %d kB" % rss)
        return rss


class GarbageTest(AbuseCase):
    config = {"tls": True}

    def test_random_garbage(self):
        rng = random.Random(20261126)
        replies = 0
        for conn in range(40):
            c = self.client(timeout=5)
            c.expect(220)
            if conn % 2:
                c.send(b"EHLO g.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n")
            if conn % 4 == 3:
                c.send(b"DATA\r\n")
            for _ in range(rng.randint(1, 30)):
                n = rng.choice((1, 2, 10, 100, 600, 5000))
                blob = bytes(rng.getrandbits(8) for _ in range(n))
                if rng.random() < 0.5:
                    blob += b"\r\n"
                try:
                    c.send(blob)
                except (BrokenPipeError, ConnectionResetError):
                    break
            try:
                c.send(b"\r\n.\r\nQUIT\r\n")
                while True:
                    c.reply(timeout=5)      # every line must be a well-formed reply
                    replies += 1
            except (EOFError, BrokenPipeError, ConnectionResetError):
                pass
            except socket.timeout:
                # Still inside a DATA/BDAT the garbage opened: allowed, not stuck.
                pass
            c.close()
        self.assertGreater(replies, 0)
        self.assertTrue(self.d.alive())
        self.assert_rss_bounded()
        self.assert_serves()

    def test_garbage_never_makes_a_message(self):
        rng = random.Random(7)
        before = self.d.outbox_ids()
        for _ in range(20):
            c = self.client(timeout=5)
            c.expect(220)
            junk = bytes(rng.choice(b"MAILFROM:<>RCPTDATA.\r\n @x") for _ in range(3000))
            try:
                c.send(junk)
            except OSError:
                pass
            c.close()
        new = self.d.outbox_ids() - before
        for mid in new:
            # Only a complete, well-formed transaction could have produced it.
            self.assertTrue(self.d.read_envelope(mid)["rcpts"])

    def test_http_request_is_refused(self):
        c = self.client()
        c.expect(220)
        c.send(b"GET / HTTP/1.1\r\nHost: relay\r\n\r\n")
        out = c.drain_until_eof(10)
        self.assertNotIn(b"250", out)

    def test_overlong_command_line(self):
        c = self.client()
        c.session()
        c.send(b"NOOP " + b"x" * (1 << 20) + b"\r\n")
        c.expect(500, "5.5.6")
        c.send(b"NOOP\r\n")
        c.expect(250)
        self.assert_rss_bounded()

    def test_endless_command_line_memory_bounded(self):
        c = self.client(timeout=20)
        c.session()
        chunk = b"y" * 65536
        sent = 0
        try:
            while sent < (32 << 20):
                c.send(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass            # closing on an endless line is fine too
        self.assert_rss_bounded()
        try:
            c.send(b"\r\nNOOP\r\n")
            code, lines = c.reply()
            self.assertIn(code, (500, 421), lines)
            if code == 500:
                self.assertTrue(lines[0][4:].startswith(b"5.5.6"), lines)
                c.expect(250)
        except (EOFError, BrokenPipeError, ConnectionResetError):
            pass
        self.assertTrue(self.d.alive())
        self.assert_serves()

    def test_overlong_data_line_memory_bounded(self):
        c = self.client(timeout=30)
        c.session()
        c.start_data()
        line = b"z" * 65536
        for _ in range(8 * 16):         # one 8 MB line
            c.send(line)
        c.send(b"\r\n.\r\n")
        c.expect(500, "5.5.2")
        self.assert_rss_bounded()
        c.send(b"NOOP\r\n")
        c.expect(250)

    def test_starttls_injection(self):
        c = self.client()
        c.session()
        c.send(b"STARTTLS\r\nRSET\r\n")
        out = c.drain_until_eof(10)
        lines = out.split(b"\r\n")
        self.assertFalse([l for l in lines if l.startswith(b"250")],
                         "RSET after STARTTLS was answered in plaintext: %r" % out)
        self.assertLessEqual(len([l for l in lines if l]), 1, out)

    def test_starttls_injection_split_tls_record(self):
        # The injected command arrives in the same segment as STARTTLS but
        # the client then tries TLS anyway: the handshake must not succeed
        # on a connection that had plaintext queued.
        c = self.client()
        c.session()
        c.send(b"STARTTLS\r\nNOOP\r\n")
        try:
            c.reply(timeout=5)
        except EOFError:
            return
        try:
            tls = sd.client_tls_context().wrap_socket(c.sock)
            tls.sendall(b"EHLO x\r\n")
            data = tls.recv(1000)
            self.assertFalse(data, "TLS session continued after injection: %r" % data)
        except (OSError, ValueError):
            pass


    def test_plaintext_after_starttls(self):
        # The client promised a TLS handshake and sends commands instead.
        c = self.client()
        c.session()
        c.send(b"STARTTLS\r\n")
        c.expect(220)
        c.send(b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n")
        out = c.drain_until_eof(10)
        self.assertNotIn(b"250", out)
        self.assert_serves()


class FloodTest(AbuseCase):
    def test_pipelined_flood_without_reading(self):
        # A client that pipelines 200k commands and does not read: the
        # server must apply back-pressure (bounded memory) and still
        # answer every command, in order, once the client reads.
        n = 200_000
        c = self.client(timeout=30)
        c.session()
        sent = threading.Event()
        errors = []

        def sender():
            try:
                c.sock.sendall(b"NOOP\r\n" * n + b"QUIT\r\n")
            except OSError as e:
                errors.append(e)
            sent.set()

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        peak = 0
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not sent.is_set():
            peak = max(peak, self.d.rss_kb())
            time.sleep(0.05)
        got = 0
        while True:
            code, lines = c.reply(timeout=30)
            if code == 221:
                break
            self.assertEqual(code, 250, lines)
            got += 1
        t.join(30)
        self.assertFalse(errors, errors)
        self.assertEqual(got, n)
        peak = max(peak, self.assert_rss_bounded())
        self.assertLess(peak, RSS_LIMIT_KB)

    def test_byte_by_byte_message(self):
        # Every octet in its own segment: the DATA decoder's state must
        # carry across reads (CR, LF, dot, CR, LF each arriving alone).
        msg = b"Subject: bytes\r\n\r\n..stuffed\r\nplain\r\n...\r\nend\r\n"
        c = self.client()
        c.session()
        c.start_data()
        for i in range(len(msg + b".\r\n")):
            c.send((msg + b".\r\n")[i:i + 1])
            time.sleep(0.002)
        lines = c.expect(250, "2.0.0")
        mid = self.d.find_id_in(lines[0].decode())
        self.assertEqual(sd.strip_received(self.d.read_eml(mid)),
                         b"Subject: bytes\r\n\r\n.stuffed\r\nplain\r\n..\r\nend\r\n")


class HalfCloseTest(AbuseCase):
    def test_half_closed_client_gets_replies(self):
        # A client that sends the rest of its session (RFC 2920 groups: the
        # message after 354, then QUIT) and shuts down its side still gets
        # every reply, and the message is delivered.
        before = self.d.outbox_count()
        c = self.client()
        c.expect(220)
        c.send(b"EHLO half.example\r\n")
        c.expect(250)
        c.start_data()
        c.send(b"Subject: half\r\n\r\nx\r\n.\r\nQUIT\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        codes = []
        while True:
            try:
                code, lines = c.reply()
            except EOFError:
                break
            codes.append(code)
        self.assertEqual(codes, [250, 221])
        self.assertEqual(self.d.outbox_count(), before + 1)

    def test_half_closed_after_quit(self):
        c = self.client()
        c.expect(220)
        c.send(b"EHLO half.example\r\nNOOP\r\nQUIT\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 221])
        c.drain_until_eof(5)


class SourceAddressTest(AbuseCase):
    """Per-address accounting, using other loopback source addresses."""

    config = {"max_connections_per_ip": "3", "allow_networks": "127.0.0.1/32,127.0.0.3/32"}

    def test_per_ip_limit(self):
        for _ in range(3):
            self.client(source="127.0.0.1").expect(220)
        over = self.client(source="127.0.0.1")
        over.expect(421, "4.7.0")
        over.drain_until_eof(5)
        # Another address has its own budget.
        self.client(source="127.0.0.3").expect(220)

    def test_allow_networks_by_source(self):
        c = self.client(source="127.0.0.2")
        c.expect(554, "5.7.1")
        c.send(b"EHLO outside.example\r\n")
        c.expect(503, "5.5.1")
        c.send(b"MAIL FROM:<a@example.com>\r\n")
        c.expect(503, "5.5.1")
        c.send(b"QUIT\r\n")
        c.expect(221)
        c.drain_until_eof(5)
        self.client(source="127.0.0.3").expect(220)


class ShutdownTest(AbuseCase):
    """SIGTERM: idle sessions get 421 4.3.2, a transaction in progress
    finishes and its next command (not QUIT) gets 421 4.3.2, then the
    daemon exits 0."""

    config = {"drain_timeout": "20"}

    def test_graceful_drain(self):
        idle = self.client()
        idle.session()
        busy = self.client()
        busy.session()
        busy.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        busy.expect(250)
        busy.expect(250)
        busy.expect(354)
        busy.send(b"Subject: drain\r\n\r\nfirst half\r\n")
        before = self.d.outbox_count()
        n = len(self.d.log_lines())
        self.d.proc.send_signal(__import__("signal").SIGTERM)
        self.d.wait_log(r"event=smtp\.shutdown|\"smtp\.shutdown\"", 10, start=n)
        idle.expect(421, "4.3.2")
        idle.drain_until_eof(5)
        # New connections are no longer accepted.
        def refused():
            try:
                c = Client(self.d.addr, 2)
            except OSError:
                return True
            try:
                code, _ = c.reply()
                return code == 421
            except (EOFError, OSError):
                return True
            finally:
                c.close()
        sd.wait_until(refused, 5, what="listener closed")
        self.assertTrue(self.d.alive(), "daemon exited with a transaction in progress")
        busy.send(b"second half\r\n.\r\n")
        busy.expect(250, "2.0.0")
        busy.send(b"NOOP\r\n")
        busy.expect(421, "4.3.2")
        busy.drain_until_eof(5)
        self.assertEqual(self.d.outbox_count(), before + 1)
        self.assertEqual(self.d.proc.wait(15), 0)


class SmugglingTest(AbuseCase):
    """<LF>.<LF> and friends never end DATA; nothing is injected."""

    SEQS = [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r", b"\r.\r\n", b"\r\n.\r", b"\n..\n"]

    def smuggle(self, seq, split):
        c = self.client()
        c.session()
        payload = (b"Subject: s\r\n\r\nhello" + seq +
                   b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\n"
                   b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
        head = b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
        # The text goes after the 354: sent before it, by a client that
        # has not authenticated, it is refused (test_pipelined_payload).
        c.send(head)
        for _ in range(3):
            c.reply()
        if split:
            i = payload.index(seq)
            # Segment boundaries inside the sequence (best effort: TCP may merge).
            for part in (payload[:i + 1], payload[i + 1:i + 2], payload[i + 2:]):
                c.send(part)
                time.sleep(0.02)
        else:
            c.send(payload)
        code, lines = c.reply()
        c.send(b"EXPN probe\r\n")
        # If the smuggled commands had run, their replies would come first.
        c.expect(502)
        return code, lines

    def check(self, normalize):
        for seq in self.SEQS:
            for split in (False, True):
                with self.subTest(seq=seq, split=split):
                    before = self.d.outbox_ids()
                    code, lines = self.smuggle(seq, split)
                    new = self.d.outbox_ids() - before
                    for mid in new:
                        self.assertEqual(self.d.read_envelope(mid)["rcpts"], ["b@example.com"])
                        self.assertIn(b"victim@example.com", self.d.read_eml(mid))
                    self.assertLessEqual(len(new), 1)
                    if code == 250:
                        self.assertEqual(len(new), 1)
                    else:
                        self.assertEqual((code, lines[0][4:9]), (550, b"5.6.2"), lines)
                        self.assertEqual(len(new), 0)
                    if normalize:
                        self.assertEqual(code, 250, lines)


class SmugglingRejectTest(SmugglingTest):
    def test_smuggling_bare_lf_reject(self):
        self.check(normalize=False)
        self.assertTrue(self.d.alive())

    def test_pipelined_payload(self):
        """The whole attack in one write, as smuggling scanners send it:
        text before the 354 from a client that has not authenticated is
        refused (554 5.5.0) and the connection closed; nothing stored."""
        before = self.d.outbox_count()
        for seq in self.SEQS:
            with self.subTest(seq=seq):
                c = self.client()
                c.session()
                c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
                       b"Subject: s\r\n\r\nhello" + seq +
                       b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\n"
                       b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
                c.expect(250)
                c.expect(250)
                c.expect(554, "5.5.0")
                c.drain_until_eof(5)
        self.assertEqual(self.d.outbox_count(), before)


class SmugglingNormalizeTest(SmugglingTest):
    config = {"bare_lf": "normalize"}

    def test_smuggling_bare_lf_normalize(self):
        self.check(normalize=True)


class TimeoutTest(AbuseCase):
    config = {"timeout_command": "2", "timeout_data": "3", "tls": True}

    def test_stalled_tls_handshake(self):
        # STARTTLS accepted, then no ClientHello: closed after the timeout.
        c = self.client(timeout=10)
        c.session()
        c.send(b"STARTTLS\r\n")
        c.expect(220)
        t0 = time.monotonic()
        c.drain_until_eof(8)
        self.assertLess(time.monotonic() - t0, 6)

    def test_silent_client(self):
        c = self.client(timeout=10)
        t0 = time.monotonic()
        c.expect(220)
        c.expect(421, "4.4.2")
        elapsed = time.monotonic() - t0
        c.drain_until_eof(5)
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 6)

    def test_byte_a_second(self):
        # A command trickled in a byte at a time never completes: the
        # command timeout counts from the start of the command, so the
        # client is cut off after about timeout_command, not kept forever.
        c = self.client(timeout=10)
        c.expect(220)
        t0 = time.monotonic()
        got = None
        for b in b"EHLO trickle.example.com.but.very.slowly" * 2:
            if time.monotonic() - t0 > 15:
                break
            try:
                c.send(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                got = c.reply(timeout=1.0)
                break
            except socket.timeout:
                continue
            except EOFError:
                break
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(got, "no reply while trickling for %.1fs" % elapsed)
        self.assertEqual(got[0], 421, got)
        self.assertTrue(got[1][0][4:].startswith(b"4.4.2"), got)
        self.assertLess(elapsed, 2 + 3, "cut off only after %.1fs" % elapsed)

    def test_commands_within_timeout_keep_session(self):
        c = self.client(timeout=10)
        c.session()
        for _ in range(4):
            time.sleep(1.0)
            c.send(b"NOOP\r\n")
            c.expect(250)

    def test_data_trickle_is_progress(self):
        # Documented: message data must keep arriving within timeout_data
        # (3 s here); data that keeps coming, slowly, is not cut off.
        c = self.client(timeout=10)
        c.session()
        c.start_data()
        t0 = time.monotonic()
        for part in (b"Subject: slow\r\n", b"\r\n", b"one\r\n", b"two\r\n", b"three\r\n"):
            c.send(part)
            time.sleep(1.2)
        self.assertGreater(time.monotonic() - t0, 3)
        c.send(b".\r\n")
        c.expect(250, "2.0.0")

    def test_data_stall(self):
        c = self.client(timeout=10)
        c.session()
        c.start_data()
        t0 = time.monotonic()
        c.send(b"Subject: stall\r\n")
        c.expect(421, "4.4.2")
        self.assertGreater(time.monotonic() - t0, 2.5)
        c.drain_until_eof(5)


class ManyConnectionsTest(AbuseCase):
    config = {"max_connections": "2000", "max_connections_per_ip": "2000"}
    N = 1000

    @classmethod
    def setUpClass(cls):
        # Client and daemon each hold N sockets (in separate processes).
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
        if want < cls.N + 200:
            raise unittest.SkipTest("RLIMIT_NOFILE hard limit %d is too low" % hard)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        super().setUpClass()        # the daemon inherits the raised limit

    def test_thousand_idle_connections(self):
        socks = []
        try:
            for _ in range(self.N):
                s = socket.create_connection(self.d.addr, timeout=10)
                socks.append(s)
            rss0 = self.d.rss_kb()
            # Every one of them was greeted with 220, none refused.
            for s in socks:
                f = s.makefile("rb")
                line = f.readline()
                self.assertTrue(line.startswith(b"220"), line)
            sd.wait_until(lambda: self.d.open_fds() >= self.N, 10, what="daemon fds")
            t0 = time.monotonic()
            self.assert_serves()
            self.assertLess(time.monotonic() - t0, 10)
            rss = self.assert_rss_bounded()
            print("1000 idle connections: daemon RSS %d kB (%d kB right after connect)"
                  % (rss, rss0), file=sys.stderr)
        finally:
            for s in socks:
                s.close()
        self.assert_serves()


class ConnectionLimitTest(AbuseCase):
    config = {"max_connections": "5"}

    def test_limit_and_recovery(self):
        held = []
        for _ in range(5):
            c = self.client()
            c.expect(220)
            held.append(c)
        extra = self.client()
        extra.expect(421, "4.3.2")
        extra.drain_until_eof(5)
        held.pop().close()

        def admitted():
            c = Client(self.d.addr)
            try:
                code, _ = c.reply()
                return code == 220
            except EOFError:
                return False
            finally:
                c.close()
        sd.wait_until(admitted, 5, interval=0.1, what="a slot after one client left")
        for c in held:
            c.send(b"NOOP\r\n")
            c.expect(250)


if __name__ == "__main__":
    sd.main()
