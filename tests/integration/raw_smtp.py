"""A raw SMTP client for the suites that must control every byte a client
sends (garbage, pipelining, smuggling, TLS closes), which smtplib cannot:
exact bytes out, replies in, each reply line checked for its form.
"""

import re
import socket
import time

import sesrelay_daemon as sd

REPLY_RE = re.compile(rb"^[2-5]\d\d(?:[ -]|$)")


class RawClient:
    """One connection; `tls=True` wraps it at once (implicit TLS), wrap()
    does it later (after a STARTTLS reply)."""

    def __init__(self, addr, timeout=10.0, source=None, tls=False):
        self.sock = socket.create_connection(addr, timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.timeout = timeout
        if tls:
            self.wrap()

    def wrap(self):
        # suppress_ragged_eofs=False: a TCP close without close_notify is
        # an error (SSLEOFError, UNEXPECTED_EOF_WHILE_READING), as strict
        # clients see it.
        if self.buf:
            raise AssertionError("plaintext after the STARTTLS reply: %r" % self.buf)
        self.sock = sd.client_tls_context().wrap_socket(self.sock, suppress_ragged_eofs=False)

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            raise EOFError()
        self.buf += data

    def reply(self, timeout=None):
        """One reply: (code, [lines]). Raises EOFError when closed."""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                self._fill(deadline)
            line, self.buf = self.buf.split(b"\r\n", 1)
            if not REPLY_RE.match(line):
                raise AssertionError("malformed reply line %r" % line)
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def expect(self, code, enhanced=None, timeout=None):
        c, lines = self.reply(timeout)
        if c != code or (enhanced and not lines[0][4:].startswith(enhanced.encode())):
            raise AssertionError("expected %s %s, got %r" % (code, enhanced or "", lines))
        return lines

    def drain_until_eof(self, timeout):
        """Everything the server sends until it closes; AssertionError if
        it is still open after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() >= deadline:
                raise AssertionError("server kept the connection open; got %r" % self.buf[-300:])
            try:
                self._fill(deadline)
            except EOFError:
                return self.buf
            except socket.timeout:
                continue

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
