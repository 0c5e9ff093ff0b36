#!/usr/bin/env python3
"""Base credential sources and the chain, end to end through
tests/integration/probes/creds_base_probe: real files in a temporary HOME, real environment
variables, real child processes for credential_process and loopback HTTP
servers standing in for the ECS/EKS agent, EC2 IMDS and STS (plus moto as
an independent STS for AssumeRoleWithWebIdentity).

Every probe run points IMDS at a closed loopback port (or disables it), so
nothing ever leaves the machine.
"""
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testdeps  # noqa: E402

BUILD_ROOT = os.environ.get("BUILD_ROOT", "")
PROBE = os.path.join(BUILD_ROOT, "tests", "creds_base_probe")


def sha16(s):
    return hashlib.sha256(s.encode()).hexdigest()[:16]


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Server:
    """Loopback HTTP server; `handler(req)` returns (status, body[, headers])
    for each request and every request is recorded."""

    def __init__(self, handler):
        self.requests = []
        self.handler = handler
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(n) if n else b""
                req = {"method": self.command, "path": self.path,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body.decode("utf-8", "replace")}
                outer.requests.append(req)
                res = outer.handler(req)
                status, rbody = res[0], res[1]
                extra = res[2] if len(res) > 2 else {}
                if isinstance(rbody, str):
                    rbody = rbody.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(rbody)))
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(rbody)
                except (BrokenPipeError, ConnectionResetError):
                    pass        # the client gave up (cancel tests)

            do_GET = do_PUT = do_POST = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def creds_json(akid, secret, token, exp, token_key="Token", **extra):
    d = {"AccessKeyId": akid, "SecretAccessKey": secret, token_key: token,
         "Expiration": iso(exp)}
    d.update(extra)
    return json.dumps(d)


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.home = self.tmp.name
        os.makedirs(os.path.join(self.home, ".aws"))
        # A bound but not listening socket: connecting to it is refused at
        # once, and nobody else can take the port while the test runs.
        self.dead = socket.socket()
        self.dead.bind(("127.0.0.1", 0))
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AWS_", "SESRELAY_"))}
        self.env["HOME"] = self.home
        self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = \
            "http://127.0.0.1:%d" % self.dead.getsockname()[1]
        for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            self.env.pop(k, None)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.close()
        self.dead.close()
        self.tmp.cleanup()

    def server(self, handler):
        s = Server(handler)
        self.servers.append(s)
        return s

    def write(self, rel, text, mode=0o600):
        path = os.path.join(self.home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def probe(self, sets=(), rounds=1, between=None, timeout=60, par=1, abandon=None):
        args = [PROBE, "-n", str(rounds), "-p", str(par)]
        if abandon is not None:
            args += ["-a", str(abandon)]
        for kv in sets:
            args += ["-s", kv]
        p = subprocess.Popen(args, env=self.env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killer = threading.Timer(timeout, p.kill)
        killer.start()
        out = []
        try:
            for i in range(rounds):
                if i > 0:
                    if between:
                        between(i)
                    p.stdin.write("\n")
                    p.stdin.flush()
                for _ in range(1 if abandon is not None and i == rounds - 1 else par):
                    line = p.stdout.readline()
                    if not line:
                        p.kill()
                        self.fail("probe ended early (round %d): %s" % (i, p.stderr.read()))
                    out.append(json.loads(line))
                    if "setup_error" in out[-1]:
                        break
                if "setup_error" in out[-1]:
                    break
            p.stdin.close()
            rc = p.wait()
            err = p.stderr.read()
        finally:
            killer.cancel()
            p.kill() if p.poll() is None else None
            p.wait()
            p.stdout.close()
            p.stderr.close()
        if "setup_error" not in out[-1]:
            self.assertEqual(rc, 0, "probe exit %d, stderr: %s" % (rc, err))
        return out if len(out) > 1 else out[0]

    def assertOk(self, r, source, akid, secret):
        self.assertTrue(r.get("ok"), r)
        self.assertEqual(r["source"], source)
        self.assertEqual(r["access_key_id"], akid)
        self.assertEqual(r["secret_sha256"], sha16(secret))

    def assertErr(self, r, code, *words):
        self.assertFalse(r.get("ok", True), r)
        self.assertEqual(r["code"], code, r)
        for w in words:
            self.assertIn(w, r["message"], r)


class EnvTest(Base):
    def test_full(self):
        self.env.update(AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="envsecret",
                        AWS_SESSION_TOKEN="envtoken")
        r = self.probe()
        self.assertOk(r, "env", "AKIAENV", "envsecret")
        self.assertTrue(r["has_token"])
        self.assertEqual(r["token_sha256"], sha16("envtoken"))
        self.assertEqual(r["expiration"], 0)

    def test_without_token(self):
        self.env.update(AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="envsecret")
        r = self.probe()
        self.assertOk(r, "env", "AKIAENV", "envsecret")
        self.assertFalse(r["has_token"])

    def test_partial_names_what_is_missing(self):
        self.env.update(AWS_ACCESS_KEY_ID="AKIAENV")
        # A valid profile further down must not be used instead.
        self.write(".aws/credentials", "[default]\naws_access_key_id=AKIAPROF\n"
                   "aws_secret_access_key=profsecret\n")
        r = self.probe()
        self.assertErr(r, "IncompleteCredentials", "AWS_SECRET_ACCESS_KEY")
        self.assertEqual(r["step"], "env")
        del self.env["AWS_ACCESS_KEY_ID"]
        self.env["AWS_SECRET_ACCESS_KEY"] = "x"
        self.assertErr(self.probe(), "IncompleteCredentials", "AWS_ACCESS_KEY_ID")


class ProfileTest(Base):
    CREDS = ("[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = defsecret\n"
             "\n# the dev profile\n[dev]\naws_access_key_id=AKIADEV\n"
             "aws_secret_access_key=devsecret\naws_session_token=devtoken\n")

    def test_default_profile(self):
        self.write(".aws/credentials", self.CREDS)
        r = self.probe()
        self.assertOk(r, "profile", "AKIADEF", "defsecret")
        self.assertFalse(r["has_token"])

    def test_aws_profile_selects(self):
        self.write(".aws/credentials", self.CREDS)
        self.env["AWS_PROFILE"] = "dev"
        r = self.probe()
        self.assertOk(r, "profile", "AKIADEV", "devsecret")
        self.assertEqual(r["token_sha256"], sha16("devtoken"))

    def test_unknown_aws_profile_is_an_error(self):
        self.write(".aws/credentials", self.CREDS)
        self.env["AWS_PROFILE"] = "nope"
        self.assertErr(self.probe(), "ProfileNotFound", "nope")

    def test_config_file_profile_section(self):
        self.write(".aws/config", "[default]\nregion = us-west-2\n\n"
                   "[profile staging]\nregion = eu-central-1\n"
                   "aws_access_key_id = AKIASTG\naws_secret_access_key = stgsecret\n"
                   "[staging]\naws_access_key_id = AKIAWRONG\n"
                   "aws_secret_access_key = wrong\n")
        self.env["AWS_PROFILE"] = "staging"
        self.assertOk(self.probe(), "profile", "AKIASTG", "stgsecret")

    def test_custom_file_locations(self):
        c = self.write("elsewhere/creds", "[default]\naws_access_key_id=AKIAOTHER\n"
                       "aws_secret_access_key=othersecret\n")
        self.write(".aws/credentials", self.CREDS)
        self.env["AWS_SHARED_CREDENTIALS_FILE"] = c
        self.assertOk(self.probe(), "profile", "AKIAOTHER", "othersecret")
        cfg = self.write("elsewhere/config", "[profile q]\naws_access_key_id=AKIAQ\n"
                         "aws_secret_access_key=qsecret\n")
        self.env["AWS_CONFIG_FILE"] = cfg
        self.env["AWS_PROFILE"] = "q"
        self.assertOk(self.probe(), "profile", "AKIAQ", "qsecret")

    def test_credentials_file_wins_over_config(self):
        self.write(".aws/credentials", self.CREDS)
        self.write(".aws/config", "[default]\naws_access_key_id=AKIACFG\n"
                   "aws_secret_access_key=cfgsecret\n")
        self.assertOk(self.probe(), "profile", "AKIADEF", "defsecret")

    def test_region(self):
        self.write(".aws/config", "[default]\nregion = us-west-2\n"
                   "[profile dev]\nregion = eu-west-3 # comment\n")
        out = subprocess.run([PROBE, "-r"], env=self.env, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(json.loads(out.stdout), {"region": "us-west-2", "err": 0})
        self.env["AWS_PROFILE"] = "dev"
        out = subprocess.run([PROBE, "-r"], env=self.env, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(json.loads(out.stdout)["region"], "eu-west-3")
        os.unlink(os.path.join(self.home, ".aws/config"))
        out = subprocess.run([PROBE, "-r"], env=self.env, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(json.loads(out.stdout)["region"], "")

    def test_syntax_error_names_file_and_line(self):
        path = self.write(".aws/config", "[default]\nregion = x\nthis is not ini\n")
        self.assertErr(self.probe(), "InvalidConfiguration", path, "line 3")

    def test_odd_unrelated_profile_does_not_break_the_selected_one(self):
        self.write(".aws/config", "[profile odd]\nregion = eu-west-1\nthis is not ini\n"
                   "[profile dev]\naws_access_key_id = AKIACFGDEV\n"
                   "aws_secret_access_key = cfgdevsecret\n")
        self.write(".aws/credentials", "[scratch]\n= no key\n" + self.CREDS)
        self.assertOk(self.probe(), "profile", "AKIADEF", "defsecret")
        self.env["AWS_PROFILE"] = "dev"
        self.assertOk(self.probe(), "profile", "AKIADEV", "devsecret")

    def test_odd_selected_profile_names_file_and_line(self):
        path = self.write(".aws/config", "[profile dev]\nregion = eu-west-1\n"
                          "aws_access_key_id AKIA-no-equals\n[default]\nregion = x\n")
        self.env["AWS_PROFILE"] = "dev"
        self.assertErr(self.probe(), "InvalidConfiguration", path, "line 3", "[profile dev]")

    def test_continuation_lines(self):
        # botocore reads "s3cr\net" for an indented second line; what matters
        # here is that the file is accepted and the value is the same.
        self.write(".aws/credentials", "[default]\naws_access_key_id = AKIACONT\n"
                   "aws_secret_access_key = first\n    second\n")
        self.assertOk(self.probe(), "profile", "AKIACONT", "first\nsecond")

    def test_role_arn_profile_is_refused(self):
        self.write(".aws/config", "[default]\nrole_arn = arn:aws:iam::1:role/x\n"
                   "source_profile = base\n")
        self.assertErr(self.probe(), "InvalidConfiguration", "role_arn", "not supported")

    def test_profile_without_credentials_is_skipped(self):
        self.write(".aws/config", "[default]\nregion = us-east-1\n")
        r = self.probe()
        self.assertErr(r, "NoCredentials", "profile: profile \"default\" has no credentials")

    def test_partial_static_keys(self):
        self.write(".aws/credentials", "[default]\naws_access_key_id = AKIAX\n")
        self.assertErr(self.probe(), "IncompleteCredentials", "aws_secret_access_key")


class ProcessTest(Base):
    def script(self, body):
        path = self.write("bin/cred tool.py", "import json, os, sys, time\n" + body, 0o700)
        return path

    def use(self, cmd):
        self.write(".aws/config", "[default]\ncredential_process = %s\n" % cmd)

    def test_success_with_quoted_arguments(self):
        exp = int(time.time()) + 7200
        path = self.script(
            "assert sys.argv[1:] == ['two words', \"it's\", '$HOME;x'], sys.argv\n"
            "print(json.dumps({'Version': 1, 'AccessKeyId': 'AKIAPROC',\n"
            "  'SecretAccessKey': 'procsecret', 'SessionToken': 'proctoken',\n"
            "  'Expiration': '%s'}))\n" % iso(exp))
        self.use("%s \"%s\" 'two words' \"it's\" $HOME;x" % (sys.executable, path))
        r = self.probe()
        self.assertOk(r, "credential_process", "AKIAPROC", "procsecret")
        self.assertEqual(r["expiration"], exp)
        self.assertEqual(r["token_sha256"], sha16("proctoken"))

    def test_command_continued_on_indented_lines(self):
        # As the AWS CLI reads it: the indented lines continue the value,
        # and the command line is split on all blanks, line ends included.
        path = self.script(
            "assert sys.argv[1:] == ['--profile', 'two words'], sys.argv\n"
            "print(json.dumps({'Version': 1, 'AccessKeyId': 'AKIACONT',\n"
            "  'SecretAccessKey': 'contsecret'}))\n")
        self.write(".aws/config", "[default]\ncredential_process = %s\n  \"%s\"\n"
                   "  --profile\n\n  'two words'\nregion = eu-west-1\n"
                   % (sys.executable, path))
        self.assertOk(self.probe(), "credential_process", "AKIACONT", "contsecret")

    def test_already_expired(self):
        path = self.script("print(json.dumps({'Version': 1, 'AccessKeyId': 'AKIAP',"
                           " 'SecretAccessKey': 's', 'SessionToken': 't',"
                           " 'Expiration': '%s'}))\n" % iso(int(time.time()) - 600))
        self.use("%s '%s'" % (sys.executable, path))
        r = self.probe()
        self.assertErr(r, "ExpiredCredentials", "credential_process", "expired")
        self.assertEqual(r["step"], "profile")

    def test_long_term_keys_without_expiration(self):
        path = self.script("print(json.dumps({'Version': 1, 'AccessKeyId': 'AKIAP',"
                           " 'SecretAccessKey': 's'}))\n")
        self.use("%s '%s'" % (sys.executable, path))
        r = self.probe()
        self.assertOk(r, "credential_process", "AKIAP", "s")
        self.assertEqual(r["expiration"], 0)
        self.assertFalse(r["has_token"])

    def test_nonzero_exit(self):
        path = self.script("sys.stderr.write('token expired, run login\\n'); sys.exit(3)\n")
        self.use("%s '%s'" % (sys.executable, path))
        self.assertErr(self.probe(), "ProcessError", "status 3", "token expired, run login")

    def test_missing_program(self):
        self.use("/nonexistent/credential-helper --x")
        self.assertErr(self.probe(), "ProcessError", "/nonexistent/credential-helper")

    def test_bad_json(self):
        path = self.script("print('AccessKeyId=AKIA')\n")
        self.use("%s '%s'" % (sys.executable, path))
        self.assertErr(self.probe(), "InvalidResponse")

    def test_wrong_version(self):
        path = self.script("print(json.dumps({'Version': 2, 'AccessKeyId': 'A',"
                           " 'SecretAccessKey': 'B'}))\n")
        self.use("%s '%s'" % (sys.executable, path))
        self.assertErr(self.probe(), "InvalidResponse", "Version")

    def test_missing_secret(self):
        path = self.script("print(json.dumps({'Version': 1, 'AccessKeyId': 'A'}))\n")
        self.use("%s '%s'" % (sys.executable, path))
        self.assertErr(self.probe(), "InvalidResponse", "SecretAccessKey")

    def test_output_cap(self):
        path = self.script("sys.stdout.write('x' * 200000)\n")
        self.use("%s '%s'" % (sys.executable, path))
        self.assertErr(self.probe(["credential_process_max_output=64K"]),
                       "ProcessError", "exceeds 65536")

    def test_timeout_kills_the_process_group(self):
        pidfile = os.path.join(self.home, "child.pid")
        path = self.script(
            "import subprocess\n"
            "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "open(%r, 'w').write(str(c.pid))\n"
            "time.sleep(60)\n" % pidfile)
        self.use("%s '%s'" % (sys.executable, path))
        t0 = time.monotonic()
        r = self.probe(["credential_process_timeout=3"])
        self.assertLess(time.monotonic() - t0, 15)
        self.assertErr(r, "Timeout")
        with open(pidfile) as f:
            child = int(f.read())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            # Killed but not yet reaped by its new parent counts as gone.
            try:
                with open("/proc/%d/stat" % child) as f:
                    if f.read().split(") ")[1].startswith("Z"):
                        break
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.05)
        else:
            self.fail("grandchild %d survived the timeout" % child)


    def test_destroy_kills_the_running_command(self):
        pidfile = os.path.join(self.home, "proc.pid")
        path = self.script("open(%r, 'w').write(str(os.getpid()))\n"
                           "time.sleep(60)\n" % pidfile)
        self.use("%s '%s'" % (sys.executable, path))
        deadline = time.monotonic() + 20

        def wait_pidfile():
            while not os.path.exists(pidfile) and time.monotonic() < deadline:
                time.sleep(0.02)
        t0 = time.monotonic()
        r = self.probe(abandon=1500)
        self.assertEqual(r, {"abandoned": True, "callbacks": 0})
        self.assertLess(time.monotonic() - t0, 15)
        wait_pidfile()
        with open(pidfile) as f:
            pid = int(f.read())
        # The probe exits only after reaping it: it must be gone now.
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)


class WebIdentityTest(Base):
    ROLE = "arn:aws:iam::222222222222:role/irsa-relay"

    def sts(self, lifetime=3600, fail=None):
        n = {"i": 0}

        def handler(req):
            q = parse_qs(req["body"])
            n["i"] += 1
            if fail and fail(n["i"]):
                return (400, '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                        '<Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>'
                        '<Message>Token expired</Message></Error>'
                        '<RequestId>r1</RequestId></ErrorResponse>',
                        {"Content-Type": "text/xml"})
            tok = q["WebIdentityToken"][0]
            return (200, '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/'
                    'doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>'
                    '<SubjectFromWebIdentityToken>system:serviceaccount:mail:relay'
                    '</SubjectFromWebIdentityToken><AssumedRoleUser><Arn>'
                    'arn:aws:sts::222222222222:assumed-role/irsa-relay/%s</Arn>'
                    '<AssumedRoleId>AROAX:%s</AssumedRoleId></AssumedRoleUser>'
                    '<Credentials><AccessKeyId>ASIAWI%d</AccessKeyId>'
                    '<SecretAccessKey>wisecret-%s</SecretAccessKey>'
                    '<SessionToken>witoken%d</SessionToken><Expiration>%s</Expiration>'
                    '</Credentials></AssumeRoleWithWebIdentityResult><ResponseMetadata>'
                    '<RequestId>r2</RequestId></ResponseMetadata>'
                    '</AssumeRoleWithWebIdentityResponse>'
                    % (q["RoleSessionName"][0], q["RoleSessionName"][0], n["i"], tok,
                       n["i"], iso(int(time.time()) + lifetime)),
                    {"Content-Type": "text/xml"})
        s = self.server(handler)
        self.env["AWS_ENDPOINT_URL_STS"] = s.url
        return s

    def setup_token(self, token="jwt-one"):
        self.token_file = self.write("token", token + "\n")
        self.env.update(AWS_WEB_IDENTITY_TOKEN_FILE=self.token_file, AWS_ROLE_ARN=self.ROLE,
                        AWS_ROLE_SESSION_NAME="relay-sess", AWS_REGION="us-east-1")

    def test_exchange_is_unsigned_query_post(self):
        s = self.sts()
        self.setup_token()
        r = self.probe()
        self.assertOk(r, "web_identity", "ASIAWI1", "wisecret-jwt-one")
        self.assertEqual(r["arn"], "arn:aws:sts::222222222222:assumed-role/irsa-relay/relay-sess")
        self.assertGreater(r["expiration"], time.time() + 3000)
        self.assertEqual(len(s.requests), 1)
        req = s.requests[0]
        self.assertEqual(req["method"], "POST")
        self.assertNotIn("authorization", req["headers"])
        q = parse_qs(req["body"])
        self.assertEqual(q["Action"], ["AssumeRoleWithWebIdentity"])
        self.assertEqual(q["Version"], ["2011-06-15"])
        self.assertEqual(q["RoleArn"], [self.ROLE])
        self.assertEqual(q["RoleSessionName"], ["relay-sess"])
        self.assertEqual(q["WebIdentityToken"], ["jwt-one"])

    def test_token_file_reread_on_refresh(self):
        # Creds inside the 5-minute refresh window: every get refetches.
        s = self.sts(lifetime=200)
        self.setup_token("jwt-one")

        def rotate(i):
            self.write("token", "jwt-two")
        a, b = self.probe(rounds=2, between=rotate)
        self.assertOk(a, "web_identity", "ASIAWI1", "wisecret-jwt-one")
        self.assertOk(b, "web_identity", "ASIAWI2", "wisecret-jwt-two")
        self.assertEqual([parse_qs(r["body"])["WebIdentityToken"][0] for r in s.requests],
                         ["jwt-one", "jwt-two"])

    def test_cached_until_refresh_window(self):
        s = self.sts(lifetime=3600)
        self.setup_token()
        a, b = self.probe(rounds=2)
        self.assertEqual(a, b)
        self.assertEqual(len(s.requests), 1)

    def test_failed_refresh_keeps_serving_valid_creds(self):
        s = self.sts(lifetime=200, fail=lambda i: i >= 2)
        self.setup_token()
        a, b = self.probe(rounds=2)
        self.assertOk(a, "web_identity", "ASIAWI1", "wisecret-jwt-one")
        self.assertEqual(a, b)
        self.assertEqual(len(s.requests), 2)

    def test_sts_error_stops_the_chain(self):
        self.sts(fail=lambda i: True)
        self.setup_token()
        self.write(".aws/credentials", "[default]\naws_access_key_id=AKIAPROF\n"
                   "aws_secret_access_key=profsecret\n")
        r = self.probe()
        self.assertErr(r, "InvalidIdentityToken", "Token expired")
        self.assertEqual(r["step"], "web_identity")
        self.assertEqual(r["status"], 400)
        self.assertTrue(r["retryable"])

    def test_missing_role_arn(self):
        self.setup_token()
        del self.env["AWS_ROLE_ARN"]
        self.assertErr(self.probe(), "IncompleteConfiguration", "AWS_ROLE_ARN")

    def test_missing_token_file(self):
        self.setup_token()
        self.env["AWS_WEB_IDENTITY_TOKEN_FILE"] = os.path.join(self.home, "absent")
        self.assertErr(self.probe(), "InvalidIdentityToken", "absent")

    def test_against_moto(self):
        testdeps.require_aws_modules()
        from moto.server import ThreadedMotoServer
        m = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        m.start()
        try:
            self.setup_token()
            self.env["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:%d" % m._server.server_port
            r = self.probe()
        finally:
            m.stop()
        self.assertTrue(r.get("ok"), r)
        self.assertEqual(r["source"], "web_identity")
        self.assertTrue(r["access_key_id"].startswith("ASIA"), r)
        self.assertTrue(r["has_token"])
        self.assertGreater(r["expiration"], time.time())


class EcsTest(Base):
    def agent(self, want_auth=None, lifetime=3600):
        n = {"i": 0}

        def handler(req):
            if want_auth is not None and req["headers"].get("authorization") != want_auth():
                return (401, '{"message": "bad token"}')
            n["i"] += 1
            return (200, creds_json("ASIAECS%d" % n["i"], "ecssecret", "ecstoken",
                                    int(time.time()) + lifetime))
        return self.server(handler)

    def test_relative_uri(self):
        s = self.agent()
        self.env["SESRELAY_ECS_HOST"] = "127.0.0.1:%d" % s.port
        self.env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/v2/credentials/abc-123"
        r = self.probe()
        self.assertOk(r, "ecs", "ASIAECS1", "ecssecret")
        self.assertEqual(r["token_sha256"], sha16("ecstoken"))
        self.assertEqual(s.requests[0]["path"], "/v2/credentials/abc-123")
        self.assertNotIn("authorization", s.requests[0]["headers"])

    def test_full_uri_with_token(self):
        s = self.agent(want_auth=lambda: "Bearer abc")
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = s.url + "/get-credentials"
        self.env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "Bearer abc"
        self.assertOk(self.probe(), "ecs", "ASIAECS1", "ecssecret")
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = \
            "http://localhost:%d/get-credentials" % s.port
        self.assertTrue(self.probe().get("ok"))

    def test_token_file_reread(self):
        tok = {"v": "pod-token-1"}
        s = self.agent(want_auth=lambda: tok["v"], lifetime=120)
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = s.url + "/v1/credentials"
        self.env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "ignored when the file is set"
        self.env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = self.write("eks-token",
                                                                        "pod-token-1\n")

        def rotate(i):
            tok["v"] = "pod-token-2"
            self.write("eks-token", "pod-token-2")
        a, b = self.probe(rounds=2, between=rotate)
        self.assertOk(a, "ecs", "ASIAECS1", "ecssecret")
        self.assertOk(b, "ecs", "ASIAECS2", "ecssecret")
        self.assertEqual([r["headers"]["authorization"] for r in s.requests],
                         ["pod-token-1", "pod-token-2"])

    def test_agent_error(self):
        s = self.agent(want_auth=lambda: "right")
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = s.url + "/creds"
        self.env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong"
        r = self.probe()
        self.assertErr(r, "HttpError", "401")
        self.assertEqual(r["status"], 401)

    def test_forbidden_hosts_are_never_contacted(self):
        s = self.agent()
        self.env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "secret-token"
        # On Linux 0.0.0.0 and :: reach local listeners: a missing check
        # would show up as a request to our server.
        for uri in ("http://0.0.0.0:%d/creds" % s.port,
                    "http://[::]:%d/creds" % s.port,
                    "https://0.0.0.0:%d/creds" % s.port,
                    "http://localhost@0.0.0.0:%d/creds" % s.port,
                    "http://169.254.170.3/creds",
                    "ftp://127.0.0.1/creds"):
            self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = uri
            r = self.probe()
            self.assertFalse(r["ok"], uri)
            self.assertIn(r["code"], ("ForbiddenEndpoint", "InvalidConfiguration"), r)
            self.assertEqual(r["step"], "ecs")
        self.assertEqual(s.requests, [])


class ImdsTest(Base):
    def imds(self, role="relay-role", token_status=200, code="Success"):
        state = {"tokens": []}

        def handler(req):
            p, h = req["path"], req["headers"]
            if req["method"] == "PUT" and p == "/latest/api/token":
                if token_status != 200:
                    return (token_status, "")
                if h.get("x-aws-ec2-metadata-token-ttl-seconds") != "21600":
                    return (400, "")
                t = "imds-token-%d" % len(state["tokens"])
                state["tokens"].append(t)
                return (200, t)
            if h.get("x-aws-ec2-metadata-token") not in state["tokens"]:
                return (401, "")        # IMDSv2 enforced
            base = "/latest/meta-data/iam/security-credentials/"
            if req["method"] == "GET" and p == base:
                return (200, role) if role else (404, "")
            if req["method"] == "GET" and p == base + (role or ""):
                return (200, creds_json("ASIAIMDS", "imdssecret", "imdstoken",
                                        int(time.time()) + 21600, Code=code,
                                        Type="AWS-HMAC"))
            return (404, "")
        s = self.server(handler)
        self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = s.url + "/"
        return s

    def test_v2_token_flow(self):
        s = self.imds()
        r = self.probe()
        self.assertOk(r, "imds", "ASIAIMDS", "imdssecret")
        self.assertEqual(r["token_sha256"], sha16("imdstoken"))
        self.assertEqual([(q["method"], q["path"]) for q in s.requests], [
            ("PUT", "/latest/api/token"),
            ("GET", "/latest/meta-data/iam/security-credentials/"),
            ("GET", "/latest/meta-data/iam/security-credentials/relay-role")])
        for q in s.requests[1:]:
            self.assertEqual(q["headers"]["x-aws-ec2-metadata-token"], "imds-token-0")

    def test_v1_only_service_is_not_used(self):
        s = self.imds(token_status=403)
        r = self.probe()
        self.assertErr(r, "NoCredentials", "imds:", "IMDSv2")
        self.assertEqual([q["method"] for q in s.requests], ["PUT"])

    def test_no_role_attached(self):
        self.imds(role=None)
        self.assertErr(self.probe(), "NoCredentials", "no IAM role")

    def test_failed_code(self):
        self.imds(code="Failed")
        r = self.probe()
        self.assertErr(r, "InvalidResponse", "Failed")
        self.assertEqual(r["step"], "imds")

    def test_disabled(self):
        s = self.imds()
        self.env["AWS_EC2_METADATA_DISABLED"] = "true"
        self.assertErr(self.probe(), "NoCredentials", "AWS_EC2_METADATA_DISABLED")
        self.assertEqual(s.requests, [])

    def test_unreachable_is_quick(self):
        # A listener that never accepts: the kernel completes the TCP
        # handshake, the request is sent and no answer ever comes.
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        try:
            self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = \
                "http://127.0.0.1:%d" % hole.getsockname()[1]
            t0 = time.monotonic()
            r = self.probe(["metadata_timeout=1"])
            elapsed = time.monotonic() - t0
        finally:
            hole.close()
        self.assertErr(r, "NoCredentials", "imds:", "no metadata service")
        self.assertLess(elapsed, 8)


class ChainTest(Base):
    def profile(self):
        self.write(".aws/credentials", "[default]\naws_access_key_id=AKIAPROF\n"
                   "aws_secret_access_key=profsecret\n")

    def ecs(self):
        s = self.server(lambda req: (200, creds_json("ASIAECS", "ecssecret", "t",
                                                     int(time.time()) + 3600)))
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = s.url + "/c"
        return s

    def test_env_wins_over_profile(self):
        self.profile()
        self.env.update(AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="envsecret")
        self.assertOk(self.probe(), "env", "AKIAENV", "envsecret")

    def test_profile_wins_over_ecs(self):
        s = self.ecs()
        self.profile()
        self.assertOk(self.probe(), "profile", "AKIAPROF", "profsecret")
        self.assertEqual(s.requests, [])

    def test_odd_profile_does_not_stop_the_chain(self):
        # No default profile and one broken unrelated profile: the chain
        # goes on to the container endpoint, as with no files at all.
        self.write(".aws/config", "[profile odd]\nnot a property\n")
        self.ecs()
        self.assertOk(self.probe(), "ecs", "ASIAECS", "ecssecret")

    def test_ecs_wins_over_imds(self):
        self.ecs()
        imds = self.server(lambda req: (500, ""))
        self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url
        self.assertOk(self.probe(), "ecs", "ASIAECS", "ecssecret")
        self.assertEqual(imds.requests, [])

    def test_pinned_source(self):
        self.profile()
        self.env.update(AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="envsecret")
        self.assertOk(self.probe(["base_credentials=profile"]), "profile", "AKIAPROF",
                      "profsecret")
        self.assertOk(self.probe(["base_credentials=env"]), "env", "AKIAENV", "envsecret")
        r = self.probe(["base_credentials=ecs"])
        self.assertErr(r, "NoCredentials", "ecs:")
        self.assertNotIn("env:", r["message"])

    def test_concurrent_gets_share_one_fetch(self):
        def slow(req):
            time.sleep(0.3)
            return (200, creds_json("ASIAECS", "ecssecret", "t", int(time.time()) + 3600))
        s = self.server(slow)
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = s.url + "/c"
        out = self.probe(par=5)
        self.assertEqual(len(out), 5)
        for r in out:
            self.assertOk(r, "ecs", "ASIAECS", "ecssecret")
        self.assertEqual(len(s.requests), 1)

    def test_source_that_answered_is_asked_first(self):
        s = self.server(lambda req: (200, creds_json("ASIAECS", "ecssecret", "t",
                                                     int(time.time()) + 120)))
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = s.url + "/c"
        # A profile appearing later does not take over from the container
        # endpoint, whose 2-minute creds are refetched every time.
        a, b = self.probe(rounds=2, between=lambda i: self.profile())
        self.assertOk(a, "ecs", "ASIAECS", "ecssecret")
        self.assertOk(b, "ecs", "ASIAECS", "ecssecret")
        self.assertEqual(len(s.requests), 2)

    def test_search_restarts_when_the_source_goes_away(self):
        self.ecs()
        self.profile()
        a, b = self.probe(rounds=2, between=lambda i: os.unlink(
            os.path.join(self.home, ".aws/credentials")))
        self.assertOk(a, "profile", "AKIAPROF", "profsecret")
        self.assertOk(b, "ecs", "ASIAECS", "ecssecret")

    def test_destroy_cancels_http_fetch(self):
        def slow(req):
            time.sleep(5)
            return (200, creds_json("ASIAECS", "ecssecret", "t", int(time.time()) + 3600))
        s = self.server(slow)
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = s.url + "/c"
        t0 = time.monotonic()
        r = self.probe(abandon=300, par=3, sets=["metadata_timeout=10"])
        self.assertEqual(r, {"abandoned": True, "callbacks": 0})
        self.assertLess(time.monotonic() - t0, 4)
        self.assertEqual(len(s.requests), 1)

    def test_unknown_pin(self):
        r = self.probe(["base_credentials=vault"])
        self.assertIn("setup_error", r)

    def test_nothing_found_lists_every_source(self):
        r = self.probe()
        self.assertErr(r, "NoCredentials", "env:", "web_identity:", "profile:", "ecs:",
                       "imds:")
        self.assertTrue(r["retryable"])


if __name__ == "__main__":
    if not os.access(PROBE, os.X_OK):
        print("creds_base_probe not built (BUILD_ROOT=%r)" % BUILD_ROOT)
        sys.exit(77)
    unittest.main(verbosity=2)
