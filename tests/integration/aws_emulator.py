#!/usr/bin/env python3
"""STS + SES emulator for sesrelay's tests and demo, built on moto in server mode.

It stands up the two-account picture sesrelay exists for:

* shared account 111111111111 owns the verified SES identities (domain
  example.com, address sender@example.net), a configuration set, and the
  role `ses-relay-sender` that trusts the dev account when the caller
  presents the agreed ExternalId; the role may send mail and read quota;
* dev account 222222222222 has the IAM user `ses-relay` whose access keys
  the daemon starts from; it may only call sts:AssumeRole.

moto's request authentication is switched on, so every call is SigV4
verified (a wrong secret gives SignatureDoesNotMatch) and every call runs
in the account its access key belongs to. With --strict the server also
enforces what moto leaves out (see aws_emulator_strict.py).

Run as a program it prints one JSON line describing the set-up and serves
until SIGTERM:

    python3 tests/integration/aws_emulator.py --serve [--port 0] [--strict]

From Python:

    with Emulator(strict=True) as emu:
        env = emu.daemon_env()          # AWS_* variables for sesrelay
        ...
        emu.messages(account=emu.shared_account)

Inspection endpoints (no authentication, loopback only):

    GET  /_emu/info                    the JSON line again
    GET  /_emu/messages[?account=&region=]
                                       accepted messages: account, region,
                                       message_id, api, params (Source,
                                       Destinations, SourceArn, FromArn,
                                       ReturnPathArn, ConfigurationSetName,
                                       Tags), access_key_id, raw_b64,
                                       raw_sha256, raw_size
    POST /_emu/messages/clear
    POST /_emu/trust   {"trusted": false[, "role_arn": ...]}
                                       revoke / restore a role's trust policy
    POST /_emu/expire  [?access_key_id=ASIA...]
                                       expire temporary credentials now
    POST /_emu/lifetime {"seconds": N} credentials from later AssumeRole
                                       calls expire after N s (0 = off)
    POST /_emu/quota   {"max_send_rate": 14, "max_24h": 50000}
                                       what GetSendQuota reports (default
                                       1000/s and 1,000,000 a day)
    POST /_emu/fault   {"action": "SendRawEmail", "status": 400,
                        "code": "Throttling", "message": "...",
                        "count": 1, "delay_ms": 0}
                                       answer the next `count` calls of an
                                       action (AssumeRole, GetCallerIdentity,
                                       SendRawEmail, SESv2.SendEmail, or *)
                                       with that error; status 0 = only
                                       delay, then pass through; "drop": true
                                       = reset the connection, no answer
    GET  /_emu/fault                   the faults still armed, with their
                                       remaining counts (a count that went
                                       down: a call has been taken)
    GET  /_emu/stats                   calls per action and status class;
                                       `assume_role` = number of AssumeRole
    POST /_emu/stats/reset
    GET  /_emu/requests[?n=50]         recent calls (action, status, key id,
                                       error code), for debugging
"""

import argparse
import base64
import hashlib
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from collections import deque

SHARED_ACCOUNT = "111111111111"
DEV_ACCOUNT = "222222222222"
OTHER_ACCOUNT = "333333333333"
REGION = "us-east-1"
SES_DOMAIN = "example.com"
SES_ADDRESS = "sender@example.net"
TEMPLATE = "welcome"
CONFIGURATION_SET = "sesrelay-test"
ROLE_NAME = "ses-relay-sender"
UNTRUSTING_ROLE_NAME = "ses-relay-untrusting"
LOCAL_ROLE_NAME = "ses-relay-local"
LOCAL_SES_DOMAIN = "dev.example.org"
RELAY_USER = "ses-relay"
EXTERNAL_ID = "sesrelay-test-external-id"
ROLE_MAX_SESSION = 3600

PREFIX = "/_emu/"
SES_NS = "http://ses.amazonaws.com/doc/2010-12-01/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
REQUEST_LOG = 500


def role_arn_of(account, name):
    return f"arn:aws:iam::{account}:role/{name}"


# ---------------------------------------------------------------------------
# Client side: talk to a running emulator
# ---------------------------------------------------------------------------

class EmulatorClient:
    """Inspection/control calls against an emulator at `endpoint`."""

    def __init__(self, endpoint, info=None):
        self.endpoint = endpoint.rstrip("/")
        self.info = info if info is not None else self._call("GET", "info")
        i = self.info
        self.region = i["region"]
        self.shared_account = i["shared_account_id"]
        self.dev_account = i["dev_account_id"]
        self.dev_keys = (i["dev_access_key_id"], i["dev_secret_access_key"])
        self.role_arn = i["role_arn"]
        self.untrusting_role_arn = i["untrusting_role_arn"]
        self.local_role_arn = i["local_role_arn"]
        self.local_ses_identity = i["local_ses_identity"]
        self.external_id = i["external_id"]
        self.ses_identity = i["ses_identity"]
        self.ses_address = i["ses_address"]
        self.configuration_set = i["configuration_set"]
        self.template = i.get("template")
        self.strict = i["strict"]

    def relay_config(self, **over):
        """A relay configuration that sends through this emulator: the SES back
        end, the shared-account role with its ExternalId, the emulator's region;
        `over` adds or replaces keys."""
        conf = {"backend": "ses", "role_arn": self.role_arn, "external_id": self.external_id,
                "region": self.region}
        conf.update(over)
        return conf

    def reset(self):
        """Back to the state a test starts from: no faults, no messages, the
        role trusting the dev account, zeroed request counters."""
        self.clear_faults()
        self.clear_messages()
        self.set_trust(True)
        self.reset_stats()

    def _call(self, method, path, body=None, query=None):
        url = self.endpoint + PREFIX + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def messages(self, account=None, region=None):
        return self._call("GET", "messages", query={"account": account, "region": region})

    def wait_messages(self, count, account=None, timeout=15.0):
        """Poll until at least `count` messages are stored (in `account`)."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages(account=account)
            if len(msgs) >= count or time.monotonic() >= deadline:
                return msgs
            time.sleep(0.05)

    def clear_messages(self):
        return self._call("POST", "messages/clear", {})

    def set_trust(self, trusted, role_arn=None):
        return self._call("POST", "trust", {"trusted": bool(trusted), "role_arn": role_arn})

    def expire(self, access_key_id=None):
        return self._call("POST", "expire", {}, query={"access_key_id": access_key_id})

    def set_lifetime(self, seconds):
        return self._call("POST", "lifetime", {"seconds": int(seconds)})

    def fault(self, action, status=400, code="Throttling", message="Rate exceeded",
              count=1, delay_ms=0, drop=False):
        return self._call("POST", "fault", {"action": action, "status": status, "code": code,
                                            "message": message, "count": count,
                                            "delay_ms": delay_ms, "drop": drop})

    def faults(self):
        return self._call("GET", "fault")["faults"]

    def clear_faults(self):
        return self._call("POST", "fault", {"clear": True})

    def set_quota(self, max_send_rate=None, max_24h=None):
        """What GetSendQuota reports (default 1000/s, 1,000,000 a day)."""
        return self._call("POST", "quota", {"max_send_rate": max_send_rate, "max_24h": max_24h})

    def stats(self):
        return self._call("GET", "stats")

    def reset_stats(self):
        return self._call("POST", "stats/reset", {})

    def requests(self, n=50):
        return self._call("GET", "requests", query={"n": n})

    def fake_calls(self):
        """Calls the SESv2 fake answered (moto lacks them; see _fake_sesv2)."""
        return self._call("GET", "fake")

    def clear_fake_calls(self):
        return self._call("POST", "fake/clear", {})

    def daemon_env(self, base=None):
        """Environment for a process that should reach only this emulator
        with the dev account's base keys: endpoint override, no profile or
        credential files, and no instance metadata lookups (tests must
        never leave loopback)."""
        env = dict(os.environ if base is None else base)
        for k in list(env):
            if k.startswith("AWS_") or k.startswith("SESRELAY_"):
                del env[k]
        env.update({
            "AWS_ACCESS_KEY_ID": self.dev_keys[0],
            "AWS_SECRET_ACCESS_KEY": self.dev_keys[1],
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        return env

    def boto3_client(self, service, keys=None, token=None, validate=True):
        """boto3 client signing with `keys` (default: the dev base keys);
        no retries, so a test sees each error the server returns."""
        import boto3
        from botocore.config import Config

        keys = keys or self.dev_keys
        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
                            aws_session_token=token,
                            config=Config(retries={"total_max_attempts": 1},
                                          parameter_validation=validate))


class Emulator(EmulatorClient):
    """The emulator server as a child process, for the length of a `with`."""

    def __init__(self, strict=True, region=REGION, start_timeout=90.0):
        self._strict = strict
        self._region = region
        self._timeout = start_timeout
        self.proc = None

    def start(self):
        cmd = [sys.executable, os.path.abspath(__file__), "--serve", "--port", "0",
               "--region", self._region] + (["--strict"] if self._strict else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None,
                                     env=_server_env(), preexec_fn=_die_with_parent)
        line = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(self._timeout)
        if not line or not line[0].strip():
            self.stop()
            raise RuntimeError("AWS emulator did not start (see its stderr above)")
        super().__init__(json.loads(line[0])["endpoint"], json.loads(line[0]))
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class EmulatorCase(unittest.TestCase):
    """A test class with an emulator of its own (cls.emu, strict unless the
    class says otherwise), up from before its first test to after its last."""

    strict = True
    emu = None

    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(strict=cls.strict).start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()


def _server_env():
    env = dict(os.environ)
    # MOTO_ACCOUNT_ID would force every request into one account.
    env.pop("MOTO_ACCOUNT_ID", None)
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    return env


def _die_with_parent():
    """A crashed test must not leave an emulator behind."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


# ---------------------------------------------------------------------------
# Server side
# ---------------------------------------------------------------------------

def _credential_of(environ):
    """Access key id, region and service from the SigV4 Authorization header."""
    m = re.search(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request",
                  environ.get("HTTP_AUTHORIZATION", ""))
    if not m:
        return None, None, None
    return m.group(1), m.group(2), m.group(3)


def _xml_value(body, tag):
    m = re.search(rb"<" + tag.encode() + rb">([^<]*)</" + tag.encode() + rb">", body)
    return m.group(1).decode() if m else None


def _query_send_params(form):
    """SendRawEmail parameters as sent, RawMessage.Data left out."""
    single = {}
    dests = []
    tags = {}
    for k, v in form:
        m = re.fullmatch(r"Destinations\.member\.(\d+)", k)
        t = re.fullmatch(r"Tags\.member\.(\d+)\.(Name|Value)", k)
        if m:
            dests.append((int(m.group(1)), v))
        elif t:
            tags.setdefault(int(t.group(1)), {})[t.group(2)] = v
        elif k != "RawMessage.Data":
            single[k] = v
    out = {key: single.get(key) for key in ("Source", "SourceArn", "FromArn", "ReturnPathArn",
                                            "ConfigurationSetName")}
    out["Destinations"] = [v for _, v in sorted(dests)]
    out["Tags"] = [tags[i] for i in sorted(tags)]
    out["Version"] = single.get("Version")
    return out


def _v2_send_params(doc):
    dest = doc.get("Destination") or {}
    return {
        "Source": doc.get("FromEmailAddress"),
        "Destinations": (dest.get("ToAddresses") or []) + (dest.get("CcAddresses") or [])
        + (dest.get("BccAddresses") or []),
        "SourceArn": None,
        "FromArn": doc.get("FromEmailAddressIdentityArn"),
        "ReturnPathArn": doc.get("FeedbackForwardingEmailAddressIdentityArn"),
        "ConfigurationSetName": doc.get("ConfigurationSetName"),
        "Tags": doc.get("EmailTags") or [],
    }


class EmulatorApp:
    """WSGI front: /_emu/* answered here, everything else passed to moto."""

    def __init__(self, moto_app, strict):
        self.moto_app = moto_app
        self.strict = strict
        self.info = {}
        self.lock = threading.Lock()
        self.sends = {}          # MessageId -> how it was sent
        self.log = deque(maxlen=REQUEST_LOG)
        self.counts = {}         # action -> {"total", "2xx", "4xx", "5xx"}
        self.faults = []
        self.original_trust = {}
        self.fake_calls = []     # the SESv2 fake's calls (see _fake_sesv2)

    # -- plumbing -----------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            try:
                status, obj = self.control(environ, path[len(PREFIX):])
            except Exception as e:
                status, obj = 500, {"error": repr(e)}
            return self._reply(start_response, status, obj)
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)
        return self.forward(environ, start_response)

    @staticmethod
    def _reply(start_response, status, obj, ctype="application/json"):
        body = obj if isinstance(obj, bytes) else json.dumps(obj, indent=1).encode()
        reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
                  500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Status")
        start_response(f"{status} {reason}", [("Content-Type", ctype),
                                              ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _read_body(environ):
        if environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        elif environ.get("wsgi.input_terminated"):
            body = environ["wsgi.input"].read()
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return body

    # -- a small fake for the SESv2 calls moto 5 lacks ---------------------------
    # moto has no SESv2 GetAccount, SendBulkEmail or templated SendEmail
    # ("Template functionality not ready"). These answers are made up here,
    # after checking the SigV4 signature against the assumed-role session
    # moto issued (so only the shared-account role can get them); the calls
    # are recorded for tests (GET /_emu/fake), nothing is sent.
    @staticmethod
    def _fake_call(environ, body):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET" and path == "/v2/email/account":
            return "SESv2.GetAccount"
        if method == "POST" and path == "/v2/email/outbound-bulk-emails":
            return "SESv2.SendBulkEmail"
        if method == "POST" and path == "/v2/email/outbound-emails":
            try:
                if "Template" in (json.loads(body or b"{}").get("Content") or {}):
                    return "SESv2.SendEmail.Template"
            except (ValueError, AttributeError):
                pass
        return None

    @staticmethod
    def _session_of(key_id):
        """(account, secret) of the moto assumed-role session with this key."""
        from moto.sts.models import sts_backends
        for account in list(dict.keys(sts_backends)):
            for _, backend in list(dict.items(dict.__getitem__(sts_backends, account))):
                for session in backend.assumed_roles:
                    if session.access_key_id == key_id:
                        return session.account_id, session.secret_access_key
        return None, None

    def _fake_sesv2(self, environ, start_response, action, body):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        key_id, region, service = _credential_of(environ)
        account, secret = self._session_of(key_id)
        ok = False
        if secret:
            host = environ.get("HTTP_HOST", "")
            url = "http://" + host + environ.get("PATH_INFO", "")
            headers = {"Host": host, "X-Amz-Date": environ.get("HTTP_X_AMZ_DATE", "")}
            if environ.get("CONTENT_TYPE"):
                headers["Content-Type"] = environ["CONTENT_TYPE"]
            if environ.get("HTTP_X_AMZ_SECURITY_TOKEN"):
                headers["X-Amz-Security-Token"] = environ["HTTP_X_AMZ_SECURITY_TOKEN"]
            req = AWSRequest(method=environ["REQUEST_METHOD"], url=url, data=body, headers=headers)
            signer = SigV4Auth(Credentials(key_id, secret,
                                           environ.get("HTTP_X_AMZ_SECURITY_TOKEN")),
                               service, region)
            req.context["timestamp"] = headers["X-Amz-Date"]
            want = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)),
                                    req)
            ok = environ.get("HTTP_AUTHORIZATION", "").endswith("Signature=" + want)
        if not ok:
            self._record(action, key_id, 403, b"")
            return self._reply(start_response, 403, {"message": "fake: signature not from a moto "
                                                                "assumed-role session"})
        doc = json.loads(body) if body else {}
        if action == "SESv2.GetAccount":
            reply = {"SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0,
                                   "SentLast24Hours": 0.0},
                     "SendingEnabled": True, "ProductionAccessEnabled": False,
                     "EnforcementStatus": "HEALTHY", "DedicatedIpAutoWarmupEnabled": False}
        elif action == "SESv2.SendBulkEmail":
            reply = {"BulkEmailEntryResults": [
                {"Status": "SUCCESS", "MessageId": "fake-" + os.urandom(8).hex()}
                for _ in doc.get("BulkEmailEntries") or []]}
        else:
            reply = {"MessageId": "fake-" + os.urandom(8).hex()}
        with self.lock:
            self.fake_calls.append({"action": action, "account": account,
                                    "access_key_id": key_id, "request": doc, "reply": reply})
        self._record(action, key_id, 200, b"")
        return self._reply(start_response, 200, reply)

    # -- AWS traffic ----------------------------------------------------------
    def forward(self, environ, start_response):
        body = self._read_body(environ)
        key_id, signed_region, service = _credential_of(environ)
        fake = self._fake_call(environ, body)
        if fake:
            return self._fake_sesv2(environ, start_response, fake, body)
        form, doc, action = None, None, None
        if environ.get("PATH_INFO") == "/v2/email/outbound-emails":
            action = "SESv2.SendEmail"
            try:
                doc = json.loads(body or b"{}")
            except ValueError:
                doc = {}
        elif environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            form = urllib.parse.parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            action = dict(form).get("Action")

        fault = self._take_fault(action)
        if fault and fault.get("delay_ms"):
            time.sleep(fault["delay_ms"] / 1000.0)
        if fault and fault.get("drop"):
            self._record(action, key_id, 0, b"")
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                # The client sees the connection end before any answer; linger
                # 0 makes the final close a reset, as a dying proxy's would.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionResetError("emulator fault: connection dropped")
        if fault and fault.get("status"):
            status = int(fault["status"])
            ns = STS_NS if service == "sts" else SES_NS
            err_type = "Receiver" if status >= 500 else "Sender"
            payload = (f'<ErrorResponse xmlns="{ns}"><Error><Type>{err_type}</Type>'
                       f'<Code>{fault.get("code", "")}</Code>'
                       f'<Message>{fault.get("message", "")}</Message></Error>'
                       f'<RequestId>emulator-fault</RequestId></ErrorResponse>').encode()
            self._record(action, key_id, status, payload)
            return self._reply(start_response, status, payload, "text/xml")

        seen = {}

        def capture(status, headers, exc_info=None):
            seen["status"] = int(status.split()[0])
            if exc_info:
                return start_response(status, headers, exc_info)
            return start_response(status, headers)

        try:
            result = self.moto_app(environ, capture)
            chunks = list(result)
            if hasattr(result, "close"):
                result.close()
        except Exception as e:
            seen["status"] = 500
            chunks = [f"emulator: moto raised {e!r}\n".encode()]
            start_response("500 Internal Server Error",
                           [("Content-Type", "text/plain; charset=utf-8")], sys.exc_info())
        reply = b"".join(chunks)
        status = seen.get("status", 500)
        if status == 200 and action in ("SendRawEmail", "SendEmail", "SendTemplatedEmail",
                                        "SESv2.SendEmail"):
            mid = _xml_value(reply, "MessageId")
            if mid is None:
                try:
                    mid = json.loads(reply)["MessageId"]
                except (ValueError, KeyError, TypeError):
                    mid = None
            if mid:
                params = _query_send_params(form) if form is not None else _v2_send_params(doc)
                with self.lock:
                    self.sends[mid] = {
                        "api": action, "params": params, "access_key_id": key_id,
                        "signed_region": signed_region,
                        "security_token": "HTTP_X_AMZ_SECURITY_TOKEN" in environ,
                    }
        self._record(action, key_id, status, reply)
        return chunks

    def _take_fault(self, action):
        with self.lock:
            for f in self.faults:
                if f["action"] in (action, "*") and f["count"] > 0:
                    f["count"] -= 1
                    return dict(f)
        return None

    def _record(self, action, key_id, status, reply):
        name = action or "other"
        klass = f"{status // 100}xx" if status else "dropped"
        with self.lock:
            c = self.counts.setdefault(name, {"total": 0, "2xx": 0, "4xx": 0, "5xx": 0})
            c["total"] += 1
            c[klass] = c.get(klass, 0) + 1
            self.log.append({"time": time.time(), "action": action, "access_key_id": key_id,
                             "status": status, "error_code": _xml_value(reply, "Code")})

    # -- inspection / control ---------------------------------------------------
    def control(self, environ, sub):
        method = environ.get("REQUEST_METHOD", "GET")
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        args = {}
        if method == "POST":
            raw = self._read_body(environ).strip()
            if raw:
                args = json.loads(raw)
        if method == "GET" and sub == "info":
            return 200, self.info
        if method == "GET" and sub == "messages":
            return 200, self.messages(query.get("account"), query.get("region"))
        if method == "POST" and sub == "messages/clear":
            return 200, {"cleared": self.clear_messages()}
        if method == "POST" and sub == "trust":
            return self.set_trust(args.get("role_arn") or self.info["role_arn"],
                                  bool(args.get("trusted", False)))
        if method == "POST" and sub == "expire":
            return 200, {"expired": self.expire(query.get("access_key_id")),
                         "enforced": self.strict}
        if method == "POST" and sub == "lifetime":
            if not self.strict:
                return 400, {"error": "credential lifetime needs --strict"}
            from aws_emulator_strict import state
            with state.lock:
                state.forced_lifetime = int(args.get("seconds", 0))
            return 200, {"seconds": state.forced_lifetime}
        if method == "GET" and sub == "fault":
            with self.lock:
                return 200, {"faults": list(self.faults)}
        if method == "POST" and sub == "fault":
            with self.lock:
                if args.get("clear"):
                    self.faults.clear()
                else:
                    self.faults.append({"action": args["action"],
                                        "status": int(args.get("status", 400)),
                                        "code": args.get("code", "Throttling"),
                                        "message": args.get("message", "Rate exceeded"),
                                        "count": int(args.get("count", 1)),
                                        "delay_ms": int(args.get("delay_ms", 0)),
                                        "drop": bool(args.get("drop", False))})
                return 200, {"faults": list(self.faults)}
        if method == "POST" and sub == "quota":
            return 200, set_quota(args.get("max_send_rate"), args.get("max_24h"))
        if method == "GET" and sub == "stats":
            with self.lock:
                counts = json.loads(json.dumps(self.counts))
            return 200, {"actions": counts,
                         "assume_role": counts.get("AssumeRole", {}).get("total", 0),
                         "assume_role_ok": counts.get("AssumeRole", {}).get("2xx", 0)}
        if method == "POST" and sub == "stats/reset":
            with self.lock:
                self.counts.clear()
                self.log.clear()
            return 200, {"reset": True}
        if method == "GET" and sub == "fake":
            with self.lock:
                return 200, list(self.fake_calls)
        if method == "POST" and sub == "fake/clear":
            with self.lock:
                self.fake_calls.clear()
            return 200, {"cleared": True}
        if method == "GET" and sub == "requests":
            with self.lock:
                return 200, list(self.log)[-int(query.get("n", 50)):]
        return 404, {"error": f"no emulator endpoint {method} {PREFIX}{sub}"}

    @staticmethod
    def _ses_backends():
        from moto.ses.models import ses_backends
        # Plain dict iteration: BackendDict would create backends on lookup.
        for account in list(dict.keys(ses_backends)):
            regions = dict.__getitem__(ses_backends, account)
            for region in list(dict.keys(regions)):
                yield account, region, dict.__getitem__(regions, region)

    def messages(self, account=None, region=None):
        out = []
        for acct, reg, backend in self._ses_backends():
            if account and acct != account or region and reg != region:
                continue
            for m in list(backend.sent_messages):
                raw = getattr(m, "raw_data", None)
                # SendEmail (Simple content) keeps no raw message: listed
                # with its parameters and no raw_* fields.
                data = raw.encode("utf-8", "surrogateescape") if raw is not None else None
                with self.lock:
                    sent = self.sends.get(m.id, {})
                if data is None:
                    out.append({"account": acct, "region": reg, "message_id": m.id,
                                "api": sent.get("api"), "params": sent.get("params"),
                                "access_key_id": sent.get("access_key_id"),
                                "signed_region": sent.get("signed_region"),
                                "security_token": sent.get("security_token"),
                                "raw_size": None, "raw_sha256": None, "raw_b64": None,
                                "source": getattr(m, "source", None),
                                "subject": getattr(m, "subject", None)})
                    continue
                out.append({
                    "account": acct, "region": reg, "message_id": m.id,
                    "api": sent.get("api"), "params": sent.get("params"),
                    "access_key_id": sent.get("access_key_id"),
                    "signed_region": sent.get("signed_region"),
                    "security_token": sent.get("security_token"),
                    "raw_size": len(data), "raw_sha256": hashlib.sha256(data).hexdigest(),
                    "raw_b64": base64.b64encode(data).decode("ascii"),
                })
        return out

    def clear_messages(self):
        n = 0
        for _, _, backend in self._ses_backends():
            n += len(backend.sent_messages)
            backend.sent_messages.clear()
            backend.sent_message_count = 0
        with self.lock:
            self.sends.clear()
        return n

    def set_trust(self, arn, trusted):
        import aws_emulator_strict
        role = aws_emulator_strict.find_role(arn)
        if role is None:
            return 404, {"error": f"no role {arn}"}
        with self.lock:
            self.original_trust.setdefault(arn, role.assume_role_policy_document)
            if trusted:
                role.assume_role_policy_document = self.original_trust[arn]
            else:
                role.assume_role_policy_document = json.dumps({
                    "Version": "2012-10-17", "Statement": [{
                        "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
        return 200, {"role_arn": arn, "trusted": trusted, "enforced": self.strict}

    @staticmethod
    def expire(access_key_id=None):
        import datetime
        from moto.core.utils import utcnow
        from moto.sts.models import sts_backends
        n = 0
        for account in list(dict.keys(sts_backends)):
            for part, backend in list(dict.items(dict.__getitem__(sts_backends, account))):
                for session in backend.assumed_roles:
                    if access_key_id in (None, session.access_key_id):
                        session.expiration = utcnow() - datetime.timedelta(seconds=1)
                        n += 1
        return n


def _boto3_as(endpoint, service, account, region):
    """A client that acts in `account` during set-up, when authentication is
    still off (moto picks the account from the x-moto-account-id header)."""
    import boto3
    c = boto3.client(service, endpoint_url=endpoint, region_name=region,
                     aws_access_key_id="AKIAEMULATORSETUP000", aws_secret_access_key="setup")
    c.meta.events.register("before-sign.*.*",
                           lambda request, **_: request.headers.__setitem__("x-moto-account-id",
                                                                            account))
    return c


def provision(endpoint, region):
    """Create both accounts; returns the description printed by --serve."""
    ses = _boto3_as(endpoint, "ses", SHARED_ACCOUNT, region)
    ses.verify_domain_identity(Domain=SES_DOMAIN)
    ses.verify_email_identity(EmailAddress=SES_ADDRESS)
    ses.create_configuration_set(ConfigurationSet={"Name": CONFIGURATION_SET})
    ses.create_template(Template={"TemplateName": TEMPLATE, "SubjectPart": "Hello {{name}}",
                                  "TextPart": "Dear {{name}}", "HtmlPart": "<p>Dear {{name}}</p>"})

    iam_shared = _boto3_as(endpoint, "iam", SHARED_ACCOUNT, region)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DEV_ACCOUNT}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]}
    # moto authorises SES calls against Resource "*", so an identity-scoped
    # Resource would never match; the real deployment scopes it.
    send = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["ses:SendRawEmail", "ses:SendEmail", "ses:GetSendQuota",
                   "ses:GetIdentityVerificationAttributes",
                   # the API front's templated sends (sesrelay policy --api-front)
                   "ses:SendTemplatedEmail", "ses:SendBulkTemplatedEmail"],
        "Resource": "*"}]}
    role = iam_shared.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust),
                                  MaxSessionDuration=ROLE_MAX_SESSION)["Role"]
    iam_shared.put_role_policy(RoleName=ROLE_NAME, PolicyName="send-mail",
                               PolicyDocument=json.dumps(send))
    other_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
        "Action": "sts:AssumeRole"}]}
    iam_shared.create_role(RoleName=UNTRUSTING_ROLE_NAME,
                           AssumeRolePolicyDocument=json.dumps(other_trust))
    iam_shared.put_role_policy(RoleName=UNTRUSTING_ROLE_NAME, PolicyName="send-mail",
                               PolicyDocument=json.dumps(send))

    iam_dev = _boto3_as(endpoint, "iam", DEV_ACCOUNT, region)
    iam_dev.create_user(UserName=RELAY_USER)
    iam_dev.put_user_policy(UserName=RELAY_USER, PolicyName="assume-only", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    key = iam_dev.create_access_key(UserName=RELAY_USER)["AccessKey"]
    # A role in the dev (base) account itself, trusting it with the same
    # ExternalId, allowed to send, and an identity verified in the dev
    # account's SES: a role_arn that points at the wrong account works in
    # AWS, and the relay must still refuse to send with it.
    iam_dev.create_role(RoleName=LOCAL_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DEV_ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]}),
        MaxSessionDuration=ROLE_MAX_SESSION)
    iam_dev.put_role_policy(RoleName=LOCAL_ROLE_NAME, PolicyName="send-mail",
                            PolicyDocument=json.dumps(send))
    _boto3_as(endpoint, "ses", DEV_ACCOUNT, region).verify_domain_identity(Domain=LOCAL_SES_DOMAIN)
    return {
        "endpoint": endpoint,
        "region": region,
        "shared_account_id": SHARED_ACCOUNT,
        "dev_account_id": DEV_ACCOUNT,
        "dev_access_key_id": key["AccessKeyId"],
        "dev_secret_access_key": key["SecretAccessKey"],
        "dev_user_arn": f"arn:aws:iam::{DEV_ACCOUNT}:user/{RELAY_USER}",
        "role_arn": role["Arn"],
        "role_max_session_duration": ROLE_MAX_SESSION,
        "untrusting_role_arn": role_arn_of(SHARED_ACCOUNT, UNTRUSTING_ROLE_NAME),
        "local_role_arn": role_arn_of(DEV_ACCOUNT, LOCAL_ROLE_NAME),
        "local_ses_identity": LOCAL_SES_DOMAIN,
        "external_id": EXTERNAL_ID,
        "ses_identity": SES_DOMAIN,
        "ses_identity_arn": f"arn:aws:ses:{region}:{SHARED_ACCOUNT}:identity/{SES_DOMAIN}",
        "ses_address": SES_ADDRESS,
        "configuration_set": CONFIGURATION_SET,
        "template": TEMPLATE,
    }


# What GetSendQuota reports for every account. moto's own figures are the
# sandbox's (1/s, 200 a day); the shared account here stands for one out
# of the sandbox, so sending tests are not paced by a quota they do not
# test. Tests of the rate governor set their own (POST /_emu/quota).
QUOTA = {"max_send_rate": 1000.0, "max_24h": 1000000.0}


def set_quota(max_send_rate=None, max_24h=None):
    from moto.ses import models
    if max_send_rate is not None:
        QUOTA["max_send_rate"] = float(max_send_rate)
    if max_24h is not None:
        QUOTA["max_24h"] = float(max_24h)
    orig = models.SESQuota.__init__

    def init(self, sent, _orig=getattr(orig, "_emu_orig", orig)):
        _orig(self, sent)
        self.max_send_rate = QUOTA["max_send_rate"]
        self.max24_hour_send = QUOTA["max_24h"]
    init._emu_orig = getattr(orig, "_emu_orig", orig)
    models.SESQuota.__init__ = init
    return dict(QUOTA)


def serve(port, strict, region):
    import logging

    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    if strict:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import aws_emulator_strict
        aws_emulator_strict.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    set_quota()
    app = EmulatorApp(DomainDispatcherApplication(create_backend_app), strict)
    server = make_server("127.0.0.1", port, app, threaded=True)
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    worker.start()
    try:
        info = provision(endpoint, region)
    except Exception:
        server.shutdown()
        raise
    # From here on every request is SigV4-verified and authorised.
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    info.update(strict=strict, auth_enabled=True, pid=os.getpid(),
                moto_version=__import__("moto").__version__,
                inspect=endpoint + PREFIX)
    app.info = info

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(json.dumps(info), flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="STS+SES emulator (moto) for sesrelay tests")
    ap.add_argument("--serve", action="store_true", help="run the server (prints one JSON line)")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free)")
    ap.add_argument("--strict", action="store_true", help="enforce what moto does not (see module doc)")
    ap.add_argument("--region", default=REGION)
    args = ap.parse_args(argv)
    if not args.serve:
        ap.print_help()
        return 2
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    return serve(args.port, args.strict, args.region)


if __name__ == "__main__":
    sys.exit(main())
