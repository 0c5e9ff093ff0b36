"""AWS SDK clients -> sesrelay's API front -> SES in the shared account.

Real SDK clients (boto3 `ses` and `sesv2`, the AWS CLI) are pointed at the
relay only through AWS_ENDPOINT_URL_SES / AWS_ENDPOINT_URL_SESV2, sign with
a key pair from the relay's clients file, and the relay forwards to the
emulator (tests/integration/aws_emulator.py --strict, which verifies every
signature and keeps the shared and dev accounts apart). So these tests see
what a real application would: its SDK's own parsing of our answers and
errors, and where each message landed.
"""

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import testdeps  # noqa: E402
from aws_emulator import Emulator  # noqa: E402
from sesrelay_daemon import Daemon, make_cert, require_binary  # noqa: E402

EMU = None
KEY_ID = SECRET = CLIENT_LINE = None    # made by `sesrelay client` in setUpModule

_API_RE = re.compile(r'event=api\.listen\b.*?\baddr="?([0-9.]+):(\d+)')


def setUpModule():
    global EMU, CLIENT_LINE, KEY_ID, SECRET
    testdeps.require_module("boto3", "pip install boto3 (or the Debian python3-boto3)")
    EMU = Emulator(strict=True)
    EMU.start()
    # The application's entry as an operator makes it: a fresh key pair.
    p = subprocess.run([require_binary(), "client", "billing", "--senders", "@example.com",
                        "--configuration-set", EMU.configuration_set, "--tags", "app=billing"],
                       capture_output=True, text=True, timeout=30, check=True)
    CLIENT_LINE = p.stdout.strip()
    KEY_ID = re.search(r"\bkey_id=(\S+)", CLIENT_LINE).group(1)
    SECRET = re.search(r"\bsecret=(\S+)", CLIENT_LINE).group(1)


def tearDownModule():
    if EMU:
        EMU.stop()


def raw_message(sender, to="rcpt@example.org", subject="hello", extra=()):
    lines = ["From: %s" % sender, "To: %s" % to, "Subject: %s" % subject,
             "Message-ID: <%s@test>" % os.urandom(6).hex()] + list(extra)
    return ("\r\n".join(lines) + "\r\n\r\nhi\r\n").encode()



def wrong_secret():
    """The client's secret with its last character changed (always a
    different secret, whatever the generated one ends with)."""
    return SECRET[:-1] + ("y" if SECRET.endswith("x") else "x")

class ApiCase(unittest.TestCase):
    auth = "sigv4"
    ses_max_retries = "0"
    https = False
    workers = "1"

    def setUp(self):
        EMU.clear_faults()
        EMU.clear_messages()
        EMU.set_trust(True)
        EMU.reset_stats()
        self.relay = Daemon(config={}, env=EMU.daemon_env())
        clients = os.path.join(self.relay.workdir, "clients")
        with open(clients, "w") as f:
            f.write("# test applications\n")
            f.write(CLIENT_LINE + "\n")
        os.chmod(clients, 0o600)
        self.relay.config.update({
            "backend": "ses", "role_arn": EMU.role_arn, "external_id": EMU.external_id,
            "region": EMU.region, "ses_timeout": "10", "ses_max_retries": self.ses_max_retries,
            "api_listen": "127.0.0.1:0", "api_auth": self.auth, "clients_file": clients,
            "workers": self.workers, **getattr(self, "extra", {}),
            "source_arn": "arn:aws:ses:%s:%s:identity/example.com" % (EMU.region,
                                                                     EMU.shared_account),
        })
        if self.https:
            self.cert, key = make_cert(self.relay.workdir, cn="localhost")
            self.relay.config.update({"api_tls_cert": self.cert, "api_tls_key": key})
        self.relay.start()
        self.addCleanup(self.relay.cleanup)
        self.addCleanup(self.relay.stop)
        line = self.relay.wait_log(r"event=api\.listen")
        m = _API_RE.search(line)
        self.api = "%s://%s:%s" % ("https" if self.https else "http", m.group(1), m.group(2))

    # -- SDK clients configured the way an application would be -----------

    def sdk_env(self):
        """An application's environment: its own (dev) credentials replaced
        by the relay's key pair, and one endpoint variable per API."""
        return {"AWS_ENDPOINT_URL_SES": self.api, "AWS_ENDPOINT_URL_SESV2": self.api,
                "AWS_ENDPOINT_URL_PINPOINT": self.api, "AWS_ACCESS_KEY_ID": KEY_ID,
                "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": EMU.region,
                "AWS_DEFAULT_REGION": EMU.region,
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                **({"AWS_CA_BUNDLE": self.cert} if self.https else {})}

    def client(self, service, key_id=None, secret=None, attempts=1):
        import boto3
        from botocore.config import Config

        env = self.sdk_env()
        env["AWS_ACCESS_KEY_ID"] = key_id or KEY_ID
        env["AWS_SECRET_ACCESS_KEY"] = secret or SECRET
        with mock.patch.dict(os.environ, env, clear=False):
            for k in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
                os.environ.pop(k, None)
            session = boto3.session.Session()
            return session.client(service, config=Config(
                retries={"mode": "standard", "total_max_attempts": attempts}))

    def shared(self):
        return EMU.messages(account=EMU.shared_account)

    def dev(self):
        return EMU.messages(account=EMU.dev_account)

    def emulator_requests(self):
        return [r for r in EMU.requests(200) if r.get("action") not in (None,)]

    def assert_error(self, call, code):
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            call()
        self.assertEqual(cm.exception.response["Error"]["Code"], code,
                         cm.exception.response)
        return cm.exception

    # -- sending ----------------------------------------------------------

    def test_sesv2_simple_lands_in_shared_account(self):
        c = self.client("sesv2")
        self.assertEqual(c.meta.endpoint_url, self.api)
        out = c.send_email(
            FromEmailAddress="Billing <billing@example.com>",
            Destination={"ToAddresses": ["rcpt@example.org"]},
            Content={"Simple": {"Subject": {"Data": "Invoice"},
                                "Body": {"Text": {"Data": "Your invoice."}}}},
            EmailTags=[{"Name": "kind", "Value": "invoice"}])
        msgs = self.shared()
        self.assertEqual([m["message_id"] for m in msgs], [out["MessageId"]])
        self.assertEqual(self.dev(), [])
        self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 200)
        line = self.relay.wait_log(r"event=api\.request .*outcome=sent")
        self.assertIn("app=billing" if self.auth == "sigv4" else "app=network", line)
        self.assertIn("action=SendEmail", line)
        self.assertIn("message_id=" + out["MessageId"], line)

    def test_sesv2_raw_lands_with_x_ses_headers_stripped(self):
        c = self.client("sesv2")
        raw = raw_message("app@example.com", extra=["X-SES-CONFIGURATION-SET: other"])
        out = c.send_email(Content={"Raw": {"Data": raw}})
        msgs = self.shared()
        self.assertEqual([m["message_id"] for m in msgs], [out["MessageId"]])
        self.assertEqual(self.dev(), [])
        landed = base64.b64decode(msgs[0]["raw_b64"])
        self.assertNotIn(b"X-SES-", landed)
        self.assertEqual(landed, raw.replace(b"X-SES-CONFIGURATION-SET: other\r\n", b""))
        # the relay's identity ARN and the policy's configuration set and tags
        params = msgs[0]["params"]
        self.assertEqual(params["FromArn"], self.relay.config["source_arn"])
        if self.auth == "sigv4":
            self.assertEqual(params["ConfigurationSetName"], EMU.configuration_set)
            self.assertIn({"Name": "app", "Value": "billing"}, params["Tags"])
        # signed by the assumed shared-account role, not the caller's key
        self.assertNotIn(msgs[0]["access_key_id"], (KEY_ID, EMU.dev_keys[0]))

    def test_ses_v1_send_email_and_raw(self):
        c = self.client("ses")
        self.assertEqual(c.meta.endpoint_url, self.api)
        a = c.send_email(Source="billing@example.com",
                         Destination={"ToAddresses": ["rcpt@example.org"]},
                         Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}})
        b = c.send_raw_email(RawMessage={"Data": raw_message("billing@example.com")})
        ids = sorted(m["message_id"] for m in self.shared())
        self.assertEqual(ids, sorted([a["MessageId"], b["MessageId"]]))
        self.assertEqual(self.dev(), [])
        quota = c.get_send_quota()
        self.assertIn("Max24HourSend", quota)

    def test_pinpoint_send_messages_becomes_sesv2_sends(self):
        pp = self.client("pinpoint")
        self.assertEqual(pp.meta.endpoint_url, self.api)
        out = pp.send_messages(ApplicationId="0123456789abcdef0123456789abcdef", MessageRequest={
            "Addresses": {"a@example.org": {"ChannelType": "EMAIL"},
                          "b@example.org": {"ChannelType": "EMAIL"},
                          "+15555550100": {"ChannelType": "SMS"}},
            "MessageConfiguration": {"EmailMessage": {
                "FromAddress": "billing@example.com",
                "SimpleEmail": {"Subject": {"Charset": "UTF-8", "Data": "Hi"},
                                "TextPart": {"Charset": "UTF-8", "Data": "text"},
                                "HtmlPart": {"Charset": "UTF-8", "Data": "<p>html</p>"}}}}})
        res = out["MessageResponse"]["Result"]
        self.assertEqual(out["MessageResponse"]["ApplicationId"], "0123456789abcdef0123456789abcdef")
        self.assertEqual(res["a@example.org"]["DeliveryStatus"], "SUCCESSFUL")
        self.assertEqual(res["b@example.org"]["StatusCode"], 200)
        self.assertEqual(res["+15555550100"]["DeliveryStatus"], "PERMANENT_FAILURE")
        self.assertIn("EMAIL channel only", res["+15555550100"]["StatusMessage"])
        ids = sorted(m["message_id"] for m in self.shared())
        self.assertEqual(ids, sorted([res["a@example.org"]["MessageId"],
                                      res["b@example.org"]["MessageId"]]))
        self.assertEqual(self.dev(), [])

    def test_ses_v1_templated_and_bulk_templated(self):
        ses = self.client("ses")
        a = ses.send_templated_email(Source="billing@example.com",
                                     Destination={"ToAddresses": ["a@example.org"]},
                                     Template=EMU.template, TemplateData='{"name": "A"}')
        ses.send_bulk_templated_email(
            Source="billing@example.com", Template=EMU.template, DefaultTemplateData='{"name": "x"}',
            Destinations=[{"Destination": {"ToAddresses": ["b@example.org"]},
                           "ReplacementTemplateData": '{"name": "B"}'}])
        ids = [m["message_id"] for m in self.shared()]
        self.assertIn(a["MessageId"], ids)
        self.assertEqual(len(ids), 2)
        self.assertEqual(self.dev(), [])

    def test_sesv2_templates_bulk_and_account_through_the_fake(self):
        # moto lacks these SESv2 calls: the emulator's small fake answers
        # them after checking the signature is the assumed role's.
        EMU.clear_fake_calls()
        v2 = self.client("sesv2")
        acct = v2.get_account()
        self.assertTrue(acct["SendingEnabled"])
        one = v2.send_email(FromEmailAddress="billing@example.com",
                            Destination={"ToAddresses": ["a@example.org"]},
                            Content={"Template": {"TemplateName": "welcome",
                                                  "TemplateData": '{"name": "A"}'}})
        bulk = v2.send_bulk_email(
            FromEmailAddress="billing@example.com",
            DefaultContent={"Template": {"TemplateName": "welcome", "TemplateData": "{}"}},
            BulkEmailEntries=[{"Destination": {"ToAddresses": ["b@example.org"]}},
                              {"Destination": {"ToAddresses": ["c@example.org"]}}])
        self.assertEqual(len(bulk["BulkEmailEntryResults"]), 2)
        calls = EMU.fake_calls()
        self.assertEqual([c["action"] for c in calls],
                         ["SESv2.GetAccount", "SESv2.SendEmail.Template", "SESv2.SendBulkEmail"])
        for c in calls:
            self.assertEqual(c["account"], EMU.shared_account)
            self.assertNotIn(c["access_key_id"], (KEY_ID, EMU.dev_keys[0]))
        self.assertEqual(calls[1]["reply"]["MessageId"], one["MessageId"])
        self.assertEqual(calls[2]["request"]["FromEmailAddressIdentityArn"],
                         self.relay.config["source_arn"])
        if self.auth == "sigv4":
            self.assertIn({"Name": "app", "Value": "billing"},
                          calls[2]["request"]["DefaultEmailTags"])
        self.assertEqual(self.shared(), [])

    def test_aws_cli_sesv2_send_email(self):
        aws = testdeps.require_tool("aws", "the Debian package awscli")
        env = dict(os.environ)
        env.update(self.sdk_env())
        env.pop("AWS_ENDPOINT_URL", None)
        p = subprocess.run([aws, "sesv2", "send-email", "--endpoint-url", self.api,
                            "--from-email-address", "billing@example.com",
                            "--destination", "ToAddresses=rcpt@example.org",
                            "--content", "Simple={Subject={Data=cli},Body={Text={Data=x}}}",
                            "--output", "json"], capture_output=True, text=True, env=env,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("MessageId", p.stdout)
        self.assertEqual(len(self.shared()), 1)

    # -- who may call and what ------------------------------------------

    def test_wrong_secret_unknown_key_stale_date(self):
        send = dict(FromEmailAddress="billing@example.com",
                    Destination={"ToAddresses": ["rcpt@example.org"]},
                    Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})
        c = self.client("sesv2", secret=wrong_secret())
        self.assert_error(lambda: c.send_email(**send), "SignatureDoesNotMatch")
        c = self.client("sesv2", key_id="SRLYUNKNOWNKEY000001")
        self.assert_error(lambda: c.send_email(**send), "InvalidClientTokenId")
        c = self.client("ses")
        import datetime
        stale = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
            datetime.timedelta(hours=1)
        with mock.patch("botocore.auth.get_current_datetime", return_value=stale):
            self.assert_error(lambda: c.send_email(
                Source="billing@example.com", Destination={"ToAddresses": ["r@example.org"]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}),
                "RequestExpired")
        self.assertEqual(self.shared() + self.dev(), [])

    @staticmethod
    def ses_calls():
        """What the emulator was asked of SES, the relay's own calls aside: STS,
        and the GetSendQuota its rate governor makes on its own schedule
        (send_rate auto), which may fall between two reads."""
        acts = EMU.stats().get("actions", {})
        return {k: v for k, v in acts.items()
                if k not in ("AssumeRole", "GetCallerIdentity", "GetSendQuota")}

    def test_not_sending_calls_refused_and_never_forwarded(self):
        before = self.ses_calls()
        ses = self.client("ses")
        self.assert_error(lambda: ses.delete_identity(Identity="example.com"), "AccessDenied")
        self.assert_error(lambda: ses.verify_email_identity(EmailAddress="x@example.com"),
                          "AccessDenied")
        v2 = self.client("sesv2")
        e = self.assert_error(lambda: v2.create_email_identity(EmailIdentity="evil.example"),
                              "AccessDeniedException")
        self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        self.assertEqual(self.ses_calls(), before)

    def test_sender_outside_policy_refused(self):
        v2 = self.client("sesv2")
        self.assert_error(lambda: v2.send_email(
            FromEmailAddress="ceo@example.net", Destination={"ToAddresses": ["r@example.org"]},
            Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}),
            "AccessDeniedException")
        ses = self.client("ses")
        self.assert_error(lambda: ses.send_raw_email(
            Source="billing@example.com",
            RawMessage={"Data": raw_message("ceo@example.net")}), "AccessDenied")
        self.assertEqual(self.shared() + self.dev(), [])

    def test_caller_identity_arn_and_endpoint_id_refused(self):
        v2 = self.client("sesv2")
        content = {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
        self.assert_error(lambda: v2.send_email(
            FromEmailAddress="billing@example.com", Destination={"ToAddresses": ["r@example.org"]},
            FromEmailAddressIdentityArn="arn:aws:ses:%s:%s:identity/example.com" % (
                EMU.region, EMU.dev_account), Content=content), "BadRequestException")
        self.assertEqual(self.shared() + self.dev(), [])

    def test_upstream_throttling_seen_by_sdk_and_nothing_sent_twice(self):
        EMU.fault("SendEmail", status=400, code="Throttling", message="Maximum sending rate exceeded.")
        once = self.client("ses", attempts=1)
        send = dict(Source="billing@example.com", Destination={"ToAddresses": ["r@example.org"]},
                    Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}})
        self.assert_error(lambda: once.send_email(**send), "Throttling")
        self.assertEqual(self.shared(), [])
        EMU.fault("SendEmail", status=400, code="Throttling", message="Maximum sending rate exceeded.")
        retrying = self.client("ses", attempts=3)
        out = retrying.send_email(**send)
        self.assertEqual(out["ResponseMetadata"]["RetryAttempts"], 1)
        self.assertEqual([m["message_id"] for m in self.shared()], [out["MessageId"]])

    def test_no_answer_after_sending_is_not_retryable(self):
        # SES's connection drops after the request went out: it may have
        # sent the mail, so the SDK must get an error it does not retry.
        EMU.fault("SESv2.SendEmail", drop=True)
        v2 = self.client("sesv2", attempts=3)
        e = self.assert_error(lambda: v2.send_email(
            FromEmailAddress="billing@example.com", Destination={"ToAddresses": ["r@example.org"]},
            Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}),
            "RequestOutcomeUnknown")
        self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(e.response["ResponseMetadata"]["RetryAttempts"], 0)
        self.assertEqual(self.ses_calls().get("SESv2.SendEmail", {}).get("total"), 1)

    def test_sighup_reloads_the_clients_file(self):
        line = subprocess.run([require_binary(), "client", "web", "--senders", "@example.com"],
                              capture_output=True, text=True, timeout=30, check=True).stdout
        key = re.search(r"\bkey_id=(\S+)", line).group(1)
        secret = re.search(r"\bsecret=(\S+)", line).group(1)
        send = dict(FromEmailAddress="web@example.com",
                    Destination={"ToAddresses": ["r@example.org"]},
                    Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})
        web = self.client("sesv2", key_id=key, secret=secret)
        self.assert_error(lambda: web.send_email(**send), "InvalidClientTokenId")
        with open(self.relay.config["clients_file"], "a") as f:
            f.write(line)
        self.relay.reload()
        out = self.client("sesv2", key_id=key, secret=secret).send_email(**send)
        self.assertEqual([m["message_id"] for m in self.shared()], [out["MessageId"]])

    def test_pipelined_requests_answered_in_order_on_one_connection(self):
        host, port = self.api[len("http://"):].split(":")
        req = (b"GET /v2/email/account HTTP/1.1\r\nHost: x\r\n\r\n"
               b"POST /v2/email/identities HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
               b"Content-Type: application/json\r\n\r\n{}"
               b"GET /v2/email/account HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        want = [200, 403, 200] if self.auth == "network" else [403, 403, 403]
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(req)
            # one buffered reader for all the answers (http.client would
            # close it after the first)
            fp = s.makefile("rb")
            got = []
            for _ in want:
                status = int(fp.readline().split()[1])
                length = 0
                while True:
                    line = fp.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                fp.read(length)
                got.append(status)
            self.assertEqual(got, want)
            self.assertEqual(fp.read(1), b"")     # closed after the last answer

    def test_malformed_requests_get_errors_not_hangs(self):
        import http.client
        host, port = self.api[len("http://"):].split(":")
        unsigned = (403, "MissingAuthenticationToken") if self.auth == "sigv4" else \
            (400, "BadRequestException")
        cases = [
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "NotImplemented"),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413, None),
            (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "MalformedRequest"),
            (b"POST /v2/email/outbound-emails HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
             b"Content-Type: application/json\r\n\r\n{}", unsigned[0], unsigned[1]),
        ]
        for req, status, code in cases:
            with socket.create_connection((host, int(port)), timeout=10) as s:
                s.sendall(req)
                resp = http.client.HTTPResponse(s)
                resp.begin()
                body = resp.read().decode()
                self.assertEqual(resp.status, status, (req, body))
                self.assertTrue(resp.getheader("x-amzn-RequestId"))
                if code:
                    self.assertIn(code, body + (resp.getheader("x-amzn-ErrorType") or ""))
        self.assertEqual(self.shared(), [])


JS_PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probes", "api_sdk.js")
JS_MODULES = ("@aws-sdk/client-sesv2", "@aws-sdk/client-ses", "@aws-sdk/client-pinpoint")


def node_path():
    """Where the JS SDK is: NODE_PATH (.ci/run installs .ci/npm-packages
    there), else node_modules under the build directory."""
    paths = [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    build = os.environ.get("BUILD_ROOT")
    if build:
        paths.append(os.path.join(build, "npm", "node_modules"))
    return os.pathsep.join(paths)


class JsSdkCase(ApiCase):
    """The AWS SDK for JavaScript v3 (client-sesv2, client-ses,
    client-pinpoint): a second, independent SDK signs our requests and
    parses our answers."""

    def setUp(self):
        node = testdeps.require_tool("node", "the Debian package nodejs")
        env = dict(os.environ, NODE_PATH=node_path())
        p = subprocess.run([node, "-e", "for (const m of process.argv.slice(1)) require(m)"]
                           + list(JS_MODULES), env=env, capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            testdeps.missing("the AWS SDK for JavaScript v3 (%s)" % ", ".join(JS_MODULES),
                             "the npm packages in .ci/npm-packages (npm install)")
        self.node = node
        super().setUp()

    def js(self, call, **over):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("AWS_"):
                del env[k]
        env.update(self.sdk_env())
        env.update(over)
        env["NODE_PATH"] = node_path()
        p = subprocess.run([self.node, JS_PROBE, call], env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        import json
        return json.loads(p.stdout.strip().splitlines()[-1])

    def test_js_sdk_sends_and_errors(self):
        a = self.js("sesv2-send")
        b = self.js("ses-send")
        c = self.js("ses-raw")
        d = self.js("pinpoint-send")
        res = d["MessageResponse"]["Result"]["a@example.org"]
        self.assertEqual(res["DeliveryStatus"], "SUCCESSFUL")
        ids = sorted(m["message_id"] for m in self.shared())
        self.assertEqual(ids, sorted([a["MessageId"], b["MessageId"], c["MessageId"],
                                      res["MessageId"]]))
        self.assertEqual(self.dev(), [])
        self.assertEqual(self.js("ses-delete-identity")["error"], "AccessDenied")
        e = self.js("sesv2-create-identity")
        self.assertEqual((e["error"], e["status"]), ("AccessDeniedException", 403))
        self.assertEqual(self.js("sesv2-send-ceo")["error"], "AccessDeniedException")
        e = self.js("sesv2-send", AWS_SECRET_ACCESS_KEY=wrong_secret())
        self.assertEqual(e["error"], "SignatureDoesNotMatch")
        e = self.js("ses-send", AWS_ACCESS_KEY_ID="SRLYUNKNOWNKEY000001")
        self.assertEqual(e["error"], "InvalidClientTokenId")
        self.assertEqual(len(self.shared()), 4)

    # the boto3 tests are ApiCase's; run them once
    for _name in [n for n in dir(ApiCase) if n.startswith("test_")]:
        locals()[_name] = None
    del _name


class SmtpPolicyCase(unittest.TestCase):
    """The clients file's policy applies to SMTP AUTH users too: the
    envelope sender and every From mailbox must be the client's."""

    def setUp(self):
        bin_ = require_binary()
        pw = subprocess.run([bin_, "passwd", "billing"], input="s3cret-pass\n", text=True,
                            capture_output=True, timeout=60, check=True).stdout.strip()
        line = subprocess.run([bin_, "client", "billing", "--no-key", "--senders",
                               "@example.com", "--password-hash", pw.split(":", 1)[1]],
                              capture_output=True, text=True, timeout=30, check=True).stdout
        self.relay = Daemon(config={})
        clients = os.path.join(self.relay.workdir, "clients")
        with open(clients, "w") as f:
            f.write(line)
        self.relay.config.update({"clients_file": clients, "allow_plaintext_auth": "yes",
                                  "require_auth": "yes", "allow_networks": "192.0.2.0/24"})
        self.relay.start()
        self.addCleanup(self.relay.cleanup)
        self.addCleanup(self.relay.stop)

    def send(self, envelope_from, header_from):
        import smtplib
        msg = raw_message(header_from)
        with smtplib.SMTP(self.relay.host, self.relay.port, timeout=30) as s:
            s.ehlo("client.test")
            s.login("billing", "s3cret-pass")
            code, text = s.mail(envelope_from)
            if code != 250:
                return code, text.decode()
            s.rcpt("rcpt@example.org")
            code, text = s.data(msg)
            return code, text.decode()

    def test_sender_policy_of_an_smtp_user(self):
        self.assertEqual(self.send("app@example.com", "App <app@example.com>")[0], 250)
        code, text = self.send("ceo@example.net", "ceo@example.net")
        self.assertEqual(code, 550, text)
        code, text = self.send("app@example.com", "CEO <ceo@example.net>")
        self.assertEqual((code, text), (550, "5.7.1 From <ceo@example.net> not allowed for this user"))
        self.assertEqual(len(self.relay.outbox_ids()), 1)


class HttpsCase(ApiCase):
    """The same SDK calls over HTTPS (api_tls_cert/api_tls_key), the SDK
    trusting the relay's certificate through AWS_CA_BUNDLE."""
    https = True

    # the plain-socket tests speak HTTP; the SDK tests run over TLS here
    test_malformed_requests_get_errors_not_hangs = None
    test_pipelined_requests_answered_in_order_on_one_connection = None


class SlowAndWrongCase(ApiCase):
    """Bounds: a head that trickles past api_timeout_header is cut off; a
    body of the wrong type is refused in the API's shape."""
    auth = "network"

    def setUp(self):
        self.extra = {"api_timeout_header": "1"}
        super().setUp()

    def test_slow_head_is_closed(self):
        host, port = self.api[len("http://"):].split(":")
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(b"POST /v2/email/outbound-emails HTTP/1.1\r\nHost: x\r\n")
            self.assertEqual(s.recv(1), b"")        # closed, unanswered
        self.relay.wait_log(r"event=api\.reject .*reason=timeout_header")

    def test_wrong_content_type_refused(self):
        import http.client
        host, port = self.api[len("http://"):].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/", body=b'{"Action": "SendEmail"}',
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read().decode()
        self.assertEqual(resp.status, 400)
        self.assertIn("<Code>InvalidParameterValue</Code>", body)
        conn.request("POST", "/v2/email/outbound-emails", body=b"Action=SendEmail",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        resp.read()
        self.assertEqual((resp.status, resp.getheader("x-amzn-ErrorType")),
                         (400, "BadRequestException"))
        conn.close()
        self.assertEqual(self.shared(), [])

    for _name in [n for n in dir(ApiCase) if n.startswith("test_")]:
        locals()[_name] = None
    del _name


class TwoWorkersCase(ApiCase):
    """`workers 2`: the API front on both loops (one listener group, each
    worker's own SES client), a reload reaching both."""
    workers = "2"

    def test_many_connections_over_both_workers(self):
        c = [self.client("sesv2") for _ in range(6)]
        ids = [x.send_email(FromEmailAddress="billing@example.com",
                            Destination={"ToAddresses": ["r@example.org"]},
                            Content={"Simple": {"Subject": {"Data": "s"},
                                                "Body": {"Text": {"Data": "b"}}}})["MessageId"]
               for x in c]
        self.assertEqual(sorted(m["message_id"] for m in self.shared()), sorted(ids))

    for _name in [n for n in dir(ApiCase) if n.startswith("test_") and n not in (
            "test_sesv2_simple_lands_in_shared_account", "test_sighup_reloads_the_clients_file",
            "test_pinpoint_send_messages_becomes_sesv2_sends")]:
        locals()[_name] = None
    del _name


class NetworkModeCase(ApiCase):
    """`api_auth network`: the application keeps whatever credentials its
    SDK has (here the dev account's own keys) and only sets the endpoint."""
    auth = "network"

    def test_dev_credentials_accepted_from_allowed_network(self):
        c = self.client("sesv2", key_id=EMU.dev_keys[0], secret=EMU.dev_keys[1])
        out = c.send_email(
            FromEmailAddress="app@example.com", Destination={"ToAddresses": ["r@example.org"]},
            Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})
        self.assertEqual([m["message_id"] for m in self.shared()], [out["MessageId"]])
        self.assertEqual(self.dev(), [])
        sent = self.shared()[0]
        self.assertNotEqual(sent.get("access_key_id"), EMU.dev_keys[0])

    # signatures are not checked in this mode
    test_wrong_secret_unknown_key_stale_date = None
    test_sighup_reloads_the_clients_file = None
    test_sender_outside_policy_refused = None


class GovernorCase(ApiCase):
    """The send-rate governor counts an API request's recipients as SES
    does, not the request: at send_rate 0.001 the bucket holds one
    recipient and refills too slowly to matter during the test, so the
    first send of a burst goes (a send larger than the bucket goes once it
    is full) and leaves the bucket in debt by exactly its recipients less
    one, and with rate_wait 0 every other send is refused by the relay."""
    extra = {"send_rate": "0.001", "rate_wait": "0", "metrics_listen": "127.0.0.1:0"}

    def tokens(self):
        import urllib.request
        line = self.relay.wait_log(r"event=metrics\.listen", 10)
        addr = re.search(r"addr=\"?([0-9.]+:\d+)", line).group(1)
        with urllib.request.urlopen("http://%s/metrics" % addr, timeout=10) as r:
            text = r.read().decode()
        return float(re.search(r"^sesrelay_send_tokens (\S+)$", text, re.M).group(1))

    def test_sync_burst_counts_recipients_not_requests(self):
        import threading
        from botocore.exceptions import ClientError
        simple = {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}
        rcpts = ["r%d@example.org" % i for i in range(8)]
        # clients made here: client() patches os.environ, which threads share
        v1, v2 = [self.client("ses") for _ in range(3)], [self.client("sesv2") for _ in range(2)]
        sender = "billing@example.com"
        sends = {   # request -> the recipients SES counts for it
            "v2 simple To+Cc": (3, lambda: v2[0].send_email(
                FromEmailAddress=sender, Content={"Simple": simple},
                Destination={"ToAddresses": rcpts[:2], "CcAddresses": rcpts[2:3]})),
            "v1 SendEmail To+Cc+Bcc": (4, lambda: v1[0].send_email(
                Source=sender, Message=simple,
                Destination={"ToAddresses": rcpts[:1], "CcAddresses": rcpts[1:2],
                             "BccAddresses": rcpts[2:4]})),
            "v1 SendRawEmail, header To+Cc": (5, lambda: v1[1].send_raw_email(
                RawMessage={"Data": raw_message(sender, to=", ".join(rcpts[:3]),
                                                extra=["Cc: %s" % ", ".join(rcpts[3:5])])})),
            "v2 Raw, header To": (6, lambda: v2[1].send_email(
                Content={"Raw": {"Data": raw_message(sender, to=", ".join(rcpts[:6]))}})),
            "v1 SendRawEmail, Destinations": (2, lambda: v1[2].send_raw_email(
                Destinations=rcpts[:2],
                RawMessage={"Data": raw_message(sender, to=", ".join(rcpts[:7]))})),
        }
        self.assertEqual(self.tokens(), 1)
        results, lock, go = {}, threading.Lock(), threading.Barrier(len(sends))

        def run(name, call):
            go.wait()
            try:
                out = call()
            except ClientError as e:
                out = e.response["Error"]["Code"]
            with lock:
                results[name] = out
        ts = [threading.Thread(target=run, args=(n, c)) for n, (_, c) in sends.items()]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        sent = [n for n, out in results.items() if isinstance(out, dict)]
        self.assertEqual(len(sent), 1, results)
        self.assertEqual(sorted(out for n, out in results.items() if n not in sent),
                         ["ServiceUnavailable"] * (len(sends) - 1))
        # the one that went took its recipients, as SES counts them
        self.assertAlmostEqual(self.tokens(), 1 - sends[sent[0]][0], delta=0.05)
        self.assertEqual([m["message_id"] for m in self.shared()], [results[sent[0]]["MessageId"]])
        # in debt: a one-recipient send is refused too, and SES is not asked
        self.assert_error(lambda: self.client("sesv2").send_email(
            FromEmailAddress=sender, Destination={"ToAddresses": rcpts[:1]},
            Content={"Simple": simple}), "ServiceUnavailable")
        self.assertEqual(len(self.shared()), 1)

    for _name in [n for n in dir(ApiCase) if n.startswith("test_")]:
        locals()[_name] = None
    del _name


if __name__ == "__main__":
    unittest.main(verbosity=2)
