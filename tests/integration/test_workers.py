"""`workers N`: the relay on several event loops sharing one credentials cache.

Against the strict emulator (moto, SigV4 verified) a relay with two
workers takes many concurrent SMTP clients; the kernel spreads the
connections over both workers' SO_REUSEPORT listeners (the smtp.connect
line names the worker), every message lands in the shared account signed
with the assumed credentials, and the emulator counts exactly one
AssumeRole for all of it. Also: connection limits count across workers,
SIGTERM drains every worker and exits 0, SIGHUP reaches new connections
in every worker, and a refused AssumeRole fails fast in every worker.
"""

import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aws_emulator import Emulator  # noqa: E402
from sesrelay_daemon import Daemon, make_message, wait_until  # noqa: E402

EMU = Emulator(strict=True)
setUpModule, tearDownModule = EMU.start, EMU.stop
WORKER_RE = re.compile(r'(?:event=smtp\.connect\b.*\bworker=|"event":"smtp\.connect".*"worker":)(\d+)')


def message(n):
    return make_message(subject="load %d" % n, body="body %d\r\n" % n)


def workers_seen(relay, start=0):
    seen = {}
    for line in relay.log_lines()[start:]:
        m = WORKER_RE.search(line)
        if m:
            seen[int(m.group(1))] = seen.get(int(m.group(1)), 0) + 1
    return seen


def banner(host, port):
    with socket.create_connection((host, port), timeout=10) as s:
        f = s.makefile("rb")
        line = f.readline().decode()
        s.sendall(b"QUIT\r\n")
        f.readline()
        return line


def send_many(relay, threads, per_thread):
    """Each message on its own connection (new source port each time, so
    SO_REUSEPORT hashes them over the workers). Returns the replies."""
    results, lock = [], threading.Lock()

    def run(t):
        for i in range(per_thread):
            try:
                with smtplib.SMTP(relay.host, relay.port, timeout=60) as s:
                    s.ehlo("client.test")
                    s.mail("app@example.com")
                    s.rcpt("rcpt@example.org")
                    code, text = s.data(message(t * 1000 + i))
            except (smtplib.SMTPException, OSError) as e:
                code, text = -1, str(e).encode()
            with lock:
                results.append((code, text.decode("utf-8", "replace")))

    ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(180)
    return results


class SesWorkers(unittest.TestCase):
    def start_relay(self, **extra):
        cfg = EMU.relay_config(ses_timeout="10", workers="2", max_connections_per_ip="200",
                               log_level="info")
        cfg.update(extra)
        relay = Daemon(config=cfg, env=EMU.daemon_env())
        relay.start()
        self.addCleanup(relay.cleanup)
        return relay

    def setUp(self):
        EMU.reset()

    def test_concurrent_clients_share_one_assume_role(self):
        relay = self.start_relay(metrics_listen="127.0.0.1:0")
        results = send_many(relay, threads=8, per_thread=15)
        bad = [r for r in results if r[0] != 250]
        self.assertEqual(len(results), 120)
        self.assertEqual(bad, [], "every message gets 250")
        msgs = EMU.wait_messages(120, account=EMU.shared_account)
        self.assertEqual(len(msgs), 120)
        self.assertEqual(EMU.messages(account=EMU.dev_account), [])
        keys = {m["access_key_id"] for m in msgs}
        self.assertEqual(len(keys), 1, "one assumed credential set for all workers")
        self.assertTrue(next(iter(keys)).startswith("ASIA"))
        self.assertEqual(EMU.stats()["assume_role"], 1)
        seen = workers_seen(relay)
        self.assertEqual(set(seen), {0, 1}, "both workers served connections: %s" % seen)
        self.assertEqual(sum(seen.values()), 120)
        # /readyz on the main loop sees the shared cache and the listeners.
        m = re.search(r'event=metrics\.listen\b.*?\baddr=([0-9.]+):(\d+)', relay.log())
        with urllib.request.urlopen("http://%s:%s/readyz" % m.groups(), timeout=10) as r:
            self.assertEqual(r.status, 200)
        relay.stop()
        self.assertEqual(EMU.stats()["assume_role"], 1)

    def test_workers_wait_for_a_slow_assume_role(self):
        # The first AssumeRole takes 1.5 s: messages arriving meanwhile on
        # either worker wait for it (no 4xx) and then all go out with it.
        EMU.fault("AssumeRole", status=0, delay_ms=1500)
        relay = self.start_relay()
        results = send_many(relay, threads=6, per_thread=2)
        self.assertEqual([r for r in results if r[0] != 250], [])
        self.assertEqual(len(EMU.wait_messages(12, account=EMU.shared_account)), 12)
        self.assertEqual(EMU.stats()["assume_role"], 1)
        self.assertEqual(set(workers_seen(relay)), {0, 1})
        lines = relay.log_lines()
        first_connect = next(i for i, x in enumerate(lines) if "event=smtp.connect" in x)
        refreshed = next(i for i, x in enumerate(lines)
                         if "event=sts.refresh" in x and "outcome=ok" in x)
        self.assertLess(first_connect, refreshed, "clients were waiting for the role")
        relay.stop()

    def test_refused_assume_role_fails_fast_in_every_worker(self):
        EMU.set_trust(False)
        relay = self.start_relay(ses_timeout="30")
        t0 = time.monotonic()
        results = send_many(relay, threads=4, per_thread=5)
        elapsed = time.monotonic() - t0
        self.assertEqual(len(results), 20)
        for code, text in results:
            self.assertEqual(code, 454, text)
            self.assertIn("AccessDenied", text)
        self.assertLess(elapsed, 20, "no waiting for ses_timeout (30 s)")
        self.assertEqual(set(workers_seen(relay)), {0, 1})
        self.assertEqual(EMU.messages(), [])
        relay.stop()

    def test_sigterm_drains_every_worker(self):
        relay = self.start_relay(drain_timeout="10")
        socks = []
        for _ in range(16):
            s = socket.create_connection((relay.host, relay.port), timeout=10)
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            socks.append((s, f))
        wait_until(lambda: sum(workers_seen(relay).values()) == 16, what="16 connections logged")
        self.assertEqual(set(workers_seen(relay)), {0, 1})
        self.assertEqual(relay.stop(), 0)
        for s, f in socks:
            self.assertTrue(f.readline().startswith(b"421"))
            s.close()

    def test_reload_reaches_new_connections_in_every_worker(self):
        relay = self.start_relay()
        self.assertIn("relay.test.example", banner(relay.host, relay.port))
        relay.config["hostname"] = "reloaded.test.example"
        relay.reload()
        start = len(relay.log_lines())
        for _ in range(30):
            self.assertIn("reloaded.test.example", banner(relay.host, relay.port))
        self.assertEqual(set(workers_seen(relay, start)), {0, 1})
        # A broken configuration is refused once, and the old one stays.
        relay.config["max_connections"] = "not-a-number"
        start = len(relay.log_lines())
        line = relay.reload()
        self.assertIn("keeping the old configuration", line)
        # Both workers serve after the refusal, so anything the refused
        # reload made them log is in the log before the count.
        served = len(relay.log_lines())
        wait_until(lambda: banner(relay.host, relay.port) and
                   set(workers_seen(relay, served)) == {0, 1}, 20, 0.01, "both workers serving")
        self.assertEqual(sum("config.reload" in x for x in relay.log_lines()[start:]), 1)
        self.assertIn("reloaded.test.example", banner(relay.host, relay.port))
        relay.stop()


class OutboxWorkers(unittest.TestCase):
    def test_outbox_two_workers(self):
        relay = Daemon(config={"workers": "2", "max_connections_per_ip": "200"})
        relay.start()
        self.addCleanup(relay.cleanup)
        results = send_many(relay, threads=4, per_thread=10)
        self.assertEqual([r for r in results if r[0] != 250], [])
        self.assertEqual(relay.outbox_count(), 40)
        self.assertEqual(set(workers_seen(relay)), {0, 1})
        relay.stop()

    def test_connection_limit_counts_across_workers(self):
        relay = Daemon(config={"workers": "2", "max_connections": "3"})
        relay.start()
        self.addCleanup(relay.cleanup)
        held = []
        for _ in range(3):
            s = socket.create_connection((relay.host, relay.port), timeout=10)
            self.assertTrue(s.makefile("rb").readline().startswith(b"220"))
            held.append(s)
        for _ in range(12):
            self.assertTrue(banner(relay.host, relay.port).startswith("421"))
        self.assertEqual(set(workers_seen(relay)), {0, 1})
        for s in held:
            s.close()
        relay.stop()

    def test_port_zero_on_two_addresses(self):
        relay = Daemon(config={"workers": "3", "listen": "127.0.0.1:0, 127.0.0.2:0"})
        relay.start()
        self.addCleanup(relay.cleanup)
        relay.wait_log(r'event=sesrelay\.start')
        addrs = re.findall(r'event=smtp\.listen\b.*?\baddr=([0-9.]+):(\d+)', relay.log())
        self.assertEqual(len(addrs), 2, "one smtp.listen line per address")
        for host, port in addrs:
            for _ in range(10):
                self.assertTrue(banner(host, int(port)).startswith("220"))
        relay.stop()



class StopRightAfterStartTest(unittest.TestCase):
    """A supervisor (or a test) takes the smtp.listen line as "up" and may
    send SIGTERM at once: the relay must already catch it then and exit 0
    after a clean drain, not die by the signal. The signal goes out the
    moment the line is read, as a supervisor would send it."""

    def test_sigterm_at_first_listen_line(self):
        for workers in ("1", "2"):
            d = Daemon(config={"workers": workers})
            try:
                path = d.write_config()
                for i in range(40):
                    p = subprocess.Popen([d.bin, "--config", path], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         env=d.env, cwd=d.workdir)
                    for line in p.stderr:
                        if b"smtp.listen" in line:
                            break
                    p.send_signal(signal.SIGTERM)
                    p.stderr.read()
                    p.stderr.close()
                    self.assertEqual(p.wait(30), 0, "workers %s, round %d" % (workers, i))
            finally:
                d.cleanup()

if __name__ == "__main__":
    unittest.main()
