#!/usr/bin/env python3
"""STS stand-in for the benchmarks: HTTPS on loopback, answers AssumeRole
(credentials expiring one hour after each call, so the relay never needs
to refresh during a run) and GetCallerIdentity (the account of the role
ARN the relay asked for), and counts every call.

The relay calls STS once per credential lifetime, so this does not need
to be fast; it needs to be countable: GET /_stats answers
{"AssumeRole": n, "GetCallerIdentity": n, "other": n}.

    python3 bench/sts_standin.py --cert C --key K [--account 111111111111]

prints one JSON line {"port": N} once it listens, serves until SIGTERM.
"""

import argparse
import datetime
import http.server
import json
import signal
import socketserver
import ssl
import sys
import threading
import urllib.parse

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
BASE_ACCOUNT = "222222222222"   # the account of the relay's own (base) keys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sts-standin"

    def log_message(self, *a):
        pass

    def _send(self, status, body, ctype="text/xml"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/_stats"):
            with self.server.lock:
                body = json.dumps(self.server.counts)
            self._send(200, body, "application/json")
        else:
            self._send(404, "")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode("utf-8", "replace"))
        action = (form.get("Action") or [""])[0]
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("AWS4-HMAC-SHA256 Credential="):
            self._send(403, "<ErrorResponse><Error><Code>MissingAuthenticationToken"
                       "</Code><Message>unsigned</Message></Error></ErrorResponse>")
            return
        key = action if action in ("AssumeRole", "GetCallerIdentity") else "other"
        with self.server.lock:
            self.server.counts[key] += 1
        if action == "AssumeRole":
            arn = (form.get("RoleArn") or [""])[0]
            self.server.role_account = arn.split(":")[4] if arn.count(":") >= 5 else ""
            name = (form.get("RoleSessionName") or ["bench"])[0]
            exp = (datetime.datetime.now(datetime.timezone.utc)
                   + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            acct = self.server.role_account or self.server.account
            self._send(200, (
                f'<AssumeRoleResponse xmlns="{NS}"><AssumeRoleResult><Credentials>'
                f'<AccessKeyId>ASIABENCHBENCHBENCH1</AccessKeyId>'
                f'<SecretAccessKey>benchsecretbenchsecretbenchsecretbench12</SecretAccessKey>'
                f'<SessionToken>{"FQoGZXIvYXdzEBYaDbench" * 20}</SessionToken>'
                f'<Expiration>{exp}</Expiration></Credentials>'
                f'<AssumedRoleUser><AssumedRoleId>AROABENCH:{name}</AssumedRoleId>'
                f'<Arn>arn:aws:sts::{acct}:assumed-role/bench/{name}</Arn></AssumedRoleUser>'
                f'</AssumeRoleResult><ResponseMetadata><RequestId>bench-assume</RequestId>'
                f'</ResponseMetadata></AssumeRoleResponse>'))
        elif action == "GetCallerIdentity":
            # The caller's account by the key that signed: the assumed
            # role's session is in the role's account, the relay's base
            # keys in the sender account (the relay proves the two differ).
            if "Credential=ASIABENCHBENCHBENCH1/" in auth:
                acct = self.server.role_account or self.server.account
                arn = f"arn:aws:sts::{acct}:assumed-role/bench/bench"
            else:
                acct = BASE_ACCOUNT
                arn = f"arn:aws:iam::{acct}:user/bench-relay"
            self._send(200, (
                f'<GetCallerIdentityResponse xmlns="{NS}"><GetCallerIdentityResult>'
                f'<UserId>AROABENCH:bench</UserId><Account>{acct}</Account>'
                f'<Arn>{arn}</Arn>'
                f'</GetCallerIdentityResult><ResponseMetadata><RequestId>bench-gci'
                f'</RequestId></ResponseMetadata></GetCallerIdentityResponse>'))
        else:
            self._send(400, "<ErrorResponse><Error><Code>InvalidAction</Code>"
                       "<Message>not emulated</Message></Error></ErrorResponse>")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--account", default="111111111111")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.lock = threading.Lock()
    srv.counts = {"AssumeRole": 0, "GetCallerIdentity": 0, "other": 0}
    srv.account = a.account
    srv.role_account = ""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print(json.dumps({"port": srv.server_address[1]}), flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
