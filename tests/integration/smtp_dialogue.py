"""Replay the SMTP dialogue scripts in proto/smtp/*.dialogue against the
daemon. The script format is documented in proto/smtp/README.md.

Scripts with the same @config share one daemon (started fresh for this
run, stopped with SIGTERM and required to exit 0). Each script is one
subtest. Run some scripts alone with DIALOGUE=name1,name2; DIALOGUE_TRACE=1
prints every reply, DIALOGUE_VERBOSE=1 the time each script took.
"""

import glob
import os
import re
import socket
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sesrelay_daemon as sd  # noqa: E402

PROJECT_ROOT = os.environ.get(
    "PROJECT_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT_DIR = os.path.join(PROJECT_ROOT, "proto", "smtp")


# -- script text ------------------------------------------------------------

_ESC = re.compile(rb"\\(x[0-9a-fA-F]{2}|[rnt\\]|\{(\d+)\*)")


def unescape(text):
    """Script text -> bytes. \\r \\n \\t \\\\ \\xHH, and \\{N*TEXT} which
    repeats TEXT (itself escaped) N times. Everything else is literal
    UTF-8. Repetitions nest."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    out = bytearray()
    i = 0
    while i < len(raw):
        m = _ESC.search(raw, i)
        if not m:
            out += raw[i:]
            break
        out += raw[i:m.start()]
        tok = m.group(1)
        if tok.startswith(b"x"):
            out.append(int(tok[1:], 16))
            i = m.end()
        elif tok.startswith(b"{"):
            end, depth = m.end(), 1
            while depth:
                if end >= len(raw):
                    raise ValueError("unterminated \\{N*...}")
                if re.match(rb"\\\{\d+\*", raw[end:end + 12]):
                    depth += 1
                    end += 2
                elif raw[end:end + 1] == b"}":
                    depth -= 1
                    if not depth:
                        break
                end += 1
            out += unescape(raw[m.end():end]) * int(m.group(2))
            i = end + 1
        else:
            out += {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\"}[tok]
            i = m.end()
    return bytes(out)


class Step:
    def __init__(self, op, arg, lineno):
        self.op = op
        self.arg = arg
        self.lineno = lineno

    def __repr__(self):
        return "line %d: %s %s" % (self.lineno, self.op, self.arg)


class Script:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)[:-len(".dialogue")]
        self.config = {}
        self.timeout = 10.0
        self.steps = []
        self.description = ""
        self._parse()

    def _parse(self):
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for n, line in enumerate(lines, 1):
            if line.endswith("\r"):
                raise ValueError("%s:%d: script lines end in LF only" % (self.path, n))
            if not line.strip():
                continue
            if line.startswith("#"):
                if not self.description:
                    self.description = line.lstrip("# ").strip()
                continue
            if line.startswith("@config "):
                parts = line[8:].strip().split(None, 1)
                self.config[parts[0]] = parts[1] if len(parts) > 1 else ""
                continue
            if line.startswith("@timeout "):
                self.timeout = float(line[9:])
                continue
            m = re.match(r"^(C:|C>|RAW:|RAW>|S:|S\?:|HAS:|LACKS:|OUTBOX|ACCEPTED|MSG|"
                         r"ENVELOPE|CLOSE|TLS|WAIT|CONN|DROP)(?: (.*)|$)", line)
            if not m:
                raise ValueError("%s:%d: cannot parse: %r" % (self.path, n, line))
            self.steps.append(Step(m.group(1), m.group(2) if m.group(2) is not None else "", n))
        if not self.steps:
            raise ValueError("%s: no steps" % self.path)

    def config_key(self):
        return tuple(sorted(self.config.items()))


# -- replies ----------------------------------------------------------------

class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class Reply:
    def __init__(self, lines):
        self.lines = lines                  # list of str, without CRLF
        self.code = lines[0][:3]
        first = lines[0][4:]
        m = re.match(r"^([245]\.\d{1,3}\.\d{1,3})(?: |$)", first)
        self.enhanced = m.group(1) if m else None

    @property
    def texts(self):
        return [line[4:] for line in self.lines]

    def __str__(self):
        return " | ".join(self.lines)


class Conn:
    """A raw SMTP client socket with a line buffer; optionally TLS."""

    def __init__(self, addr, timeout=10.0):
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.pending = b""
        self.closed = False

    def queue(self, data):
        self.pending += data

    def send(self, data=b""):
        data = self.pending + data
        self.pending = b""
        if data:
            self.sock.sendall(data)

    def _recv(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("no data within %.1fs" % self.timeout)
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError,
                ssl.SSLZeroReturnError):
            data = b""
        except ssl.SSLError as e:
            if "UNEXPECTED_EOF" in str(e) or "EOF" in str(e):
                data = b""
            else:
                raise
        if not data:
            self.closed = True
            raise Closed()
        self.buf += data

    def read_line(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100000:
                raise AssertionError("reply line without CRLF: %r" % self.buf[:200])
            self._recv(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def read_reply(self, timeout=None):
        lines = []
        while True:
            line = self.read_line(timeout)
            if not re.match(r"^[2-5]\d\d([ -]|$)", line):
                raise AssertionError("malformed reply line: %r" % line)
            if lines and line[:3] != lines[0][:3]:
                raise AssertionError("multi-line reply changes code: %r after %r"
                                     % (line, lines))
            lines.append(line)
            if len(line) == 3 or line[3] == " ":
                return Reply(lines)

    def expect_close(self, timeout=None):
        """EOF (or reset) must come before any further byte."""
        if self.buf:
            raise AssertionError("expected close, got data: %r" % self.buf[:300])
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            self._recv(deadline)
        except Closed:
            return
        raise AssertionError("expected close, got data: %r" % self.buf[:300])

    def starttls(self):
        if self.buf:
            raise AssertionError("plaintext after the STARTTLS reply: %r" % self.buf[:300])
        self.sock.settimeout(self.timeout)
        self.sock = sd.client_tls_context().wrap_socket(self.sock)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def match_code(expected, code):
    """`250`, `5..`, `503|554`."""
    return any(re.fullmatch(alt.replace(".", r"\d"), code) for alt in expected.split("|"))


def match_enhanced(expected, got):
    """`5.5.1`, `5.x.x`, `5.5.1|5.5.4`."""
    if got is None:
        return False
    for alt in expected.split("|"):
        pat = r"\.".join(r"\d+" if part == "x" else re.escape(part)
                         for part in alt.split("."))
        if re.fullmatch(pat, got):
            return True
    return False


def parse_expect(arg):
    """`CODE [ENH] [~ TEXT]` -> (code, enhanced or None, text bytes or None)."""
    text = None
    if " ~ " in " " + arg + " ":
        arg, _, t = (" " + arg).partition(" ~ ")
        arg = arg.strip()
        text = t
    parts = arg.split()
    if not parts or len(parts) > 2:
        raise ValueError("bad expectation %r" % arg)
    return parts[0], (parts[1] if len(parts) > 1 else None), text


def check_reply(reply, arg):
    code, enh, text = parse_expect(arg)
    if not match_code(code, reply.code):
        raise AssertionError("expected %s, got: %s" % (arg, reply))
    if enh and not match_enhanced(enh, reply.enhanced):
        raise AssertionError("expected enhanced code %s, got: %s" % (enh, reply))
    if text is not None and not any(text in line for line in reply.lines):
        raise AssertionError("expected text %r in: %s" % (text, reply))


def has_keyword(reply, arg):
    want = arg.upper().split()
    for t in reply.texts:
        toks = t.upper().split()
        if toks and toks[0] == want[0] and all(w in toks[1:] for w in want[1:]):
            return True
    return False


# -- runner -----------------------------------------------------------------

class Runner:
    def __init__(self, daemon, script):
        self.d = daemon
        self.s = script
        self.conns = {}
        self.cur = None
        self.last = None                    # last Reply
        self.last_id = None
        self.start_count = daemon.outbox_count()

    def well_formed(self, reply):
        """Rules every reply follows, whatever the script expects:
        RFC 5321 4.5.3.1.5 line length; RFC 2034/3463 enhanced codes on
        everything but the greeting, the EHLO/HELO reply and 334/354,
        with the same class digit as the reply code."""
        for line in reply.lines:
            if len(line.encode("utf-8")) + 2 > 512:
                raise AssertionError("reply line over 512 octets: %r" % line[:80])
        host = self.s.config.get("hostname", "relay.test.example")
        if reply.enhanced is None:
            if reply.code in ("334", "354"):
                return
            if reply.code in ("220", "250", "554") and reply.texts[0].startswith(host):
                return
            raise AssertionError("reply without an enhanced status code: %s" % reply)
        if reply.enhanced[0] != reply.code[0]:
            raise AssertionError("enhanced code class differs from reply code: %s" % reply)

    def conn(self, name="1"):
        if name not in self.conns:
            self.conns[name] = Conn(self.d.addr, self.s.timeout)
        self.cur = self.conns[name]
        return self.cur

    def run(self):
        self.conn("1")
        try:
            for step in self.s.steps:
                try:
                    self.do(step)
                except (AssertionError, Closed, OSError, ValueError) as e:
                    if isinstance(e, Closed):
                        e = "server closed the connection"
                    raise AssertionError("%s:%d: %s %s\n  -> %s" % (
                        self.s.name, step.lineno, step.op, step.arg[:120], e)) from None
        finally:
            for c in self.conns.values():
                c.close()

    def do(self, st):
        op, arg = st.op, st.arg
        if op not in ("C>", "RAW>") and self.cur and self.cur.pending:
            self.cur.send()
        if op == "C:":
            self.cur.send(unescape(arg) + b"\r\n")
        elif op == "C>":
            self.cur.queue(unescape(arg) + b"\r\n")
        elif op == "RAW:":
            self.cur.send(unescape(arg))
        elif op == "RAW>":
            self.cur.queue(unescape(arg))
        elif op == "S:":
            self.last = self.cur.read_reply()
            if os.environ.get("DIALOGUE_TRACE"):
                print("%s:%d %-22s <- %s" % (self.s.name, st.lineno, arg, self.last),
                      file=sys.stderr)
            check_reply(self.last, arg)
            self.well_formed(self.last)
        elif op == "S?:":
            # A reply may come or the connection may close instead.
            try:
                self.last = self.cur.read_reply()
            except Closed:
                if os.environ.get("DIALOGUE_TRACE"):
                    print("%s:%d %-22s <- (closed)" % (self.s.name, st.lineno, arg),
                          file=sys.stderr)
                return
            if os.environ.get("DIALOGUE_TRACE"):
                print("%s:%d %-22s <- %s" % (self.s.name, st.lineno, arg, self.last),
                      file=sys.stderr)
            check_reply(self.last, arg)
            self.well_formed(self.last)
        elif op == "HAS:":
            if not has_keyword(self.last, arg):
                raise AssertionError("reply lacks %r: %s" % (arg, self.last))
        elif op == "LACKS:":
            if has_keyword(self.last, arg):
                raise AssertionError("reply has %r: %s" % (arg, self.last))
        elif op == "ACCEPTED":
            self.last = self.cur.read_reply()
            check_reply(self.last, "250 2.0.0")
            self.well_formed(self.last)
            mid = self.d.find_id_in(" ".join(self.last.texts))
            if mid is None:
                raise AssertionError("250 reply names no outbox message: %s (outbox: %s)"
                                     % (self.last, sorted(self.d.outbox_ids())))
            if not os.path.exists(os.path.join(self.d.outbox, mid + ".json")):
                raise AssertionError("outbox has %s.eml but no %s.json" % (mid, mid))
            self.last_id = mid
        elif op == "OUTBOX":
            want = int(arg)
            got = self.d.outbox_count() - self.start_count
            if got != want:
                raise AssertionError("expected %d new outbox messages, found %d" % (want, got))
        elif op == "MSG":
            self.check_msg(arg)
        elif op == "ENVELOPE":
            self.check_envelope(arg)
        elif op == "CLOSE":
            self.cur.expect_close()
        elif op == "TLS":
            self.cur.starttls()
        elif op == "WAIT":
            time.sleep(float(arg))
        elif op == "CONN":
            self.conn(arg.strip())
        elif op == "DROP":
            self.cur.close()
        else:
            raise ValueError("unknown step %s" % op)

    def _last_msg(self):
        if self.last_id is None:
            raise AssertionError("no ACCEPTED message to inspect")
        return sd.strip_received(self.d.read_eml(self.last_id))

    def check_msg(self, arg):
        """`= TEXT` exact body, `~ TEXT` contains, `!~ TEXT` lacks,
        `^ TEXT` starts with (all without the Received: header),
        `received ~ TEXT` the prepended Received: header contains."""
        m = re.match(r"^(received )?(=|~|!~|\^)(?: (.*)|$)", arg)
        if not m:
            raise ValueError("bad MSG %r" % arg)
        want = unescape(m.group(3) or "")
        if m.group(1):
            body = sd.received_header(self.d.read_eml(self.last_id))
        else:
            body = self._last_msg()
        op = m.group(2)
        ok = {"=": body == want, "~": want in body, "!~": want not in body,
              "^": body.startswith(want)}[op]
        if not ok:
            raise AssertionError("message %s %r fails; message is %r" % (
                op, want[:200], body[:600] if len(body) < 2000 else body[:300] + b"..."))

    def check_envelope(self, arg):
        m = re.match(r"^(\S+) =(?: (.*))?$", arg)
        if not m:
            raise ValueError("bad ENVELOPE %r" % arg)
        key, want = m.group(1), unescape(m.group(2) or "").decode("utf-8")
        env = self.d.read_envelope(self.last_id)
        if key not in env:
            raise AssertionError("envelope has no %r: %s" % (key, env))
        v = env[key]
        if isinstance(v, list):
            v = ",".join(str(x) for x in v)
        elif isinstance(v, bool):
            v = "true" if v else "false"
        if str(v) != want:
            raise AssertionError("envelope %s is %r, expected %r" % (key, v, want))


# -- test -------------------------------------------------------------------

def load_scripts():
    paths = sorted(glob.glob(os.path.join(SCRIPT_DIR, "*.dialogue")))
    only = os.environ.get("DIALOGUE")
    scripts = [Script(p) for p in paths]
    if only:
        names = set(only.split(","))
        scripts = [s for s in scripts if s.name in names]
    return scripts


class ScriptsTest(unittest.TestCase):
    """The scripts themselves, without a daemon: they parse, describe
    themselves, and every BDAT announces the size of the data it sends."""

    def test_scripts_well_formed(self):
        scripts = load_scripts()
        for sc in scripts:
            with self.subTest(script=sc.name):
                self.assertTrue(sc.description, "no leading # description")
                self.assertEqual(sc.steps[0].op, "S:", "must start by reading the greeting")
                st = sc.steps
                for i, step in enumerate(st):
                    m = re.match(r"(?i)^BDAT (\d+)", step.arg)
                    if step.op in ("C:", "C>") and m and int(m.group(1)) < (1 << 32):
                        n = int(m.group(1))
                        data, after = b"", None
                        for j in range(i + 1, len(st)):
                            after = st[j + 1] if j + 1 < len(st) else None
                            if st[j].op not in ("RAW:", "RAW>"):
                                break
                            data += unescape(st[j].arg)
                            if st[j].op == "RAW:":
                                break
                        # A chunk cut short is only for the data timeout.
                        short = (len(data) < n and after is not None and after.op == "S:"
                                 and after.arg.startswith("421 4.4.2"))
                        self.assertTrue(len(data) == n or short,
                                        "line %d: BDAT %d sends %d octets"
                                        % (step.lineno, n, len(data)))


class DialogueTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sd.require_binary()
        cls.tmp = tempfile.mkdtemp(prefix="sesrelay-dialogue-")
        cls.cert, cls.key = sd.make_cert(cls.tmp)
        cls.users = sd.make_users_file(cls.tmp, {"alice": "wonderland", "bob": "builder"})
        cls.vars = {"$TLS_CERT": cls.cert, "$TLS_KEY": cls.key, "$USERS_FILE": cls.users}

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def expand(self, config):
        out = {}
        for k, v in config.items():
            for name, val in self.vars.items():
                v = v.replace(name, val)
            out[k] = v
        return out

    def test_dialogues(self):
        scripts = load_scripts()
        self.assertTrue(scripts, "no scripts in %s" % SCRIPT_DIR)
        groups = {}
        for s in scripts:
            groups.setdefault(s.config_key(), []).append(s)
        ran = 0
        for key, group in sorted(groups.items()):
            d = sd.Daemon(self.expand(dict(key)))
            try:
                try:
                    d.start()
                except sd.DaemonError as e:
                    for s in group:
                        with self.subTest(script=s.name):
                            self.fail("daemon for %s did not start: %s" % (dict(key), e))
                    continue
                for s in group:
                    with self.subTest(script=s.name):
                        t0 = time.monotonic()
                        try:
                            Runner(d, s).run()
                        except AssertionError as e:
                            raise AssertionError("%s\n--- daemon log tail ---\n%s"
                                                 % (e, d.log_tail(15))) from None
                        finally:
                            if os.environ.get("DIALOGUE_VERBOSE"):
                                print("%-40s %.2fs" % (s.name, time.monotonic() - t0),
                                      file=sys.stderr)
                        ran += 1
                with self.subTest(stop=str(dict(key))):
                    d.stop()
            finally:
                d.cleanup()
        print("dialogue scripts passed: %d of %d" % (ran, len(scripts)), file=sys.stderr)


if __name__ == "__main__":
    sd.main()
