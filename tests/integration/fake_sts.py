#!/usr/bin/env python3
"""A deliberately lying STS, for the one check no honest emulator can
exercise: AssumeRole succeeds for the role's account, but
GetCallerIdentity with the new credentials reports ANOTHER account
(a mis-routed endpoint, a proxy, a compromised or misconfigured STS).
The relay must refuse those credentials ("AccountMismatch").

With --skew SECONDS it also plays a server whose clock differs from
ours: its Date headers and the Expiration it hands out are shifted. For
that case it also answers the SES calls `sesrelay check` makes
(GetIdentityVerificationAttributes, GetSendQuota, SendRawEmail), and, as
AWS does, refuses them with RequestTimeTooSkewed when their X-Amz-Date is
more than 15 minutes off its clock: no emulator can run on another clock.

Requests are not signature-checked: this server only plays the answers.
Prints one JSON line ({"endpoint", "calls"}), then serves until stdin
closes or SIGTERM.

    python3 tests/integration/fake_sts.py --identity-account 999999999999
"""
import argparse
import datetime
import json
import sys
import email.utils
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NS = "https://sts.amazonaws.com/doc/2011-06-15/"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    identity_account = "999999999999"
    skew = 0
    calls = {}
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(time.time() + self.skew, usegmt=True)

    def reply(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/calls":
            with self.lock:
                self.reply(200, json.dumps(self.calls))
        else:
            self.reply(404, "")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
        action = form.get("Action", "")
        with self.lock:
            self.calls[action] = self.calls.get(action, 0) + 1
        if action == "AssumeRole":
            role = form.get("RoleArn", "")
            account = role.split(":")[4] if role.count(":") >= 5 else "000000000000"
            exp = (datetime.datetime.now(datetime.timezone.utc) +
                   datetime.timedelta(seconds=3600 + self.skew)).strftime("%Y-%m-%dT%H:%M:%SZ")
            name = role.rsplit("/", 1)[-1]
            self.reply(200, f"""<AssumeRoleResponse xmlns="{NS}"><AssumeRoleResult>
<AssumedRoleUser><AssumedRoleId>AROAFAKE:{form.get('RoleSessionName')}</AssumedRoleId>
<Arn>arn:aws:sts::{account}:assumed-role/{name}/{form.get('RoleSessionName')}</Arn></AssumedRoleUser>
<Credentials><AccessKeyId>ASIAFAKEFAKEFAKE0001</AccessKeyId>
<SecretAccessKey>fakeSecretKeyfakeSecretKeyfakeSecretKey0</SecretAccessKey>
<SessionToken>FakeSessionToken</SessionToken><Expiration>{exp}</Expiration></Credentials>
</AssumeRoleResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></AssumeRoleResponse>""")
        elif action == "GetCallerIdentity":
            key = self.headers.get("Authorization", "")
            # Base keys (AKIA...) get the dev account; the assumed ones the lie.
            account = self.identity_account if "Credential=ASIA" in key else "222222222222"
            self.reply(200, f"""<GetCallerIdentityResponse xmlns="{NS}"><GetCallerIdentityResult>
<Arn>arn:aws:sts::{account}:assumed-role/somebody/else</Arn><UserId>AROAFAKE:else</UserId>
<Account>{account}</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>""")
        elif action in SES_ANSWERS:
            self.ses(action)
        else:
            self.reply(400, f"""<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type>
<Code>InvalidAction</Code><Message>not faked: {action}</Message></Error></ErrorResponse>""")


SES_NS = "http://ses.amazonaws.com/doc/2010-12-01/"
SES_ANSWERS = {
    "GetIdentityVerificationAttributes": """<VerificationAttributes><entry><key>example.com</key>
<value><VerificationStatus>Success</VerificationStatus></value></entry></VerificationAttributes>""",
    "GetSendQuota": "<SentLast24Hours>0.0</SentLast24Hours><Max24HourSend>200.0</Max24HourSend>"
                    "<MaxSendRate>1.0</MaxSendRate>",
    "SendRawEmail": "<MessageId>0100fake-check-message</MessageId>",
}


def ses(self, action):
    signed = self.headers.get("X-Amz-Date", "")
    try:
        when = datetime.datetime.strptime(signed, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        when = 0
    now = time.time() + self.skew
    if abs(now - when) > 15 * 60:
        self.reply(403, f"""<ErrorResponse xmlns="{SES_NS}"><Error><Type>Sender</Type>
<Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the
current time is too large.</Message></Error><RequestId>fake</RequestId></ErrorResponse>""")
        return
    self.reply(200, f"""<{action}Response xmlns="{SES_NS}"><{action}Result>{SES_ANSWERS[action]}
</{action}Result><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></{action}Response>""")


Handler.ses = ses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--identity-account", default="999999999999")
    ap.add_argument("--skew", type=int, default=0)
    args = ap.parse_args()
    Handler.identity_account = args.identity_account
    Handler.skew = args.skew
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(json.dumps({"endpoint": f"http://127.0.0.1:{srv.server_address[1]}"}), flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
