#!/usr/bin/env python3
"""Loopback HTTP/1.1 peer for the HTTP client unit test.

Prints its port on stdout (with --tls: "port cafile", serving HTTPS
with a fresh self-signed certificate for 127.0.0.1), then serves until stdin closes (the test
process holding the pipe exits or closes it), so it never outlives the
test. Paths:
  /status/N        answer status N, body "status N"
  /echo            answer 200 with the request body; header
                   x-amzn-errortype if ?errtype=X
  /slow?ms=N       wait N ms, then 200 "slow"
  /big?n=N         200 with N bytes of 'x'
  /reset           promise 1000 bytes, send 10, then reset the connection
  /port            200 with the client's source port (keep-alive check)
  /headers         200 with the request headers as received
  /prefix/...      200 with the request path, a newline, then the headers
                   (an endpoint with a path prefix, as a proxy in front of AWS)
"""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def route(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        body = self._body()
        if u.path.startswith("/status/"):
            n = int(u.path.split("/")[2])
            self._send(n, b"status %d" % n)
        elif u.path == "/echo":
            extra = []
            if "errtype" in q:
                extra.append(("x-amzn-ErrorType", q["errtype"][0]))
            self._send(200, body, extra)
        elif u.path == "/slow":
            time.sleep(int(q["ms"][0]) / 1000.0)
            self._send(200, b"slow")
        elif u.path == "/big":
            self._send(200, b"x" * int(q["n"][0]))
        elif u.path == "/reset":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif u.path == "/port":
            self._send(200, str(self.client_address[1]).encode())
        elif u.path == "/headers":
            self._send(200, str(self.headers).encode())
        elif u.path.startswith("/prefix/"):
            self._send(200, (u.path + "\n" + str(self.headers)).encode())
        else:
            self._send(404, b"not found")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # cancelled and timed-out calls hang up on purpose


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = None
    line = str(srv.server_address[1])
    if "--tls" in sys.argv:
        tmp = tempfile.mkdtemp(prefix="http_peer")
        cert, key = make_cert(tmp)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        line += " " + cert
    print(line, flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
