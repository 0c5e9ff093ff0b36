#!/usr/bin/env python3
"""`sesrelay policy`: the documents it prints, every input it refuses, and
whether IAM (moto) accepts and enforces them as intended.

moto evaluates identity policies of the caller (so the sender policy and
the role's permissions policy are enforced for real), but trust policies
only for roles in the caller's own account and only against the exact
caller ARN. The cross-account trust (sender account roots + ExternalId) is
therefore checked with the emulator's strict mode, which evaluates trust
for every AssumeRole. moto authorises SES calls against Resource "*", so
the identity-scoped send permission is checked structurally.
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

BIN = os.environ.get("SESRELAY_BIN")
if not BIN or not os.access(BIN, os.X_OK):
    print("skipped: SESRELAY_BIN not set")
    sys.exit(77)

SHARED = "111111111111"
DEV = "222222222222"
OTHER = "333333333333"
REGION = "us-east-1"


def run(*args):
    p = subprocess.run([BIN, "policy", *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def policy(*args):
    rc, out, err = run(*args)
    if rc != 0:
        raise AssertionError(f"policy {args} exited {rc}: {err}")
    return json.loads(out)


BASE = ["--shared-account", SHARED, "--sender-account", DEV, "--identity", "example.com",
        "--region", REGION]


def listify(v):
    return v if isinstance(v, list) else [v]


def statements(doc):
    return listify(doc["Statement"])


def actions_of(doc):
    return sorted(a for st in statements(doc) for a in listify(st["Action"]))


class Structure(unittest.TestCase):
    def check_document(self, doc):
        self.assertEqual(doc["Version"], "2012-10-17")
        sids = [st["Sid"] for st in statements(doc)]
        self.assertEqual(len(sids), len(set(sids)), "Sids must be unique")
        for st in statements(doc):
            self.assertRegex(st["Sid"], r"^[A-Za-z0-9]{8,}$")
            self.assertEqual(st["Effect"], "Allow")
            for a in listify(st["Action"]):
                self.assertNotIn("*", a, "no wildcard actions")

    def test_minimal(self):
        d = policy(*BASE)
        role_arn = f"arn:aws:iam::{SHARED}:role/ses-relay-sender"
        identity_arn = f"arn:aws:ses:{REGION}:{SHARED}:identity/example.com"
        self.assertEqual(d["role_arn"], role_arn)
        sh = d["shared_account"]
        self.assertEqual(sh["account_id"], SHARED)
        self.assertEqual(sh["role_name"], "ses-relay-sender")

        trust = sh["role_trust_policy"]
        self.check_document(trust)
        [st] = statements(trust)
        self.assertEqual(st["Principal"], {"AWS": [f"arn:aws:iam::{DEV}:root"]})
        self.assertEqual(st["Action"], "sts:AssumeRole")
        self.assertNotIn("Condition", st)
        self.assertNotIn("Resource", st)

        perms = sh["role_permissions_policy"]
        self.check_document(perms)
        [st] = statements(perms)
        self.assertEqual(sorted(st["Action"]), ["ses:SendEmail", "ses:SendRawEmail"])
        self.assertEqual(listify(st["Resource"]), [identity_arn])
        self.assertNotIn("identity_sending_authorization_policy", sh)

        snd = d["sender_account"]
        self.assertEqual(snd["account_ids"], [DEV])
        self.check_document(snd["policy"])
        [st] = statements(snd["policy"])
        self.assertEqual(st["Action"], "sts:AssumeRole")
        self.assertEqual(st["Resource"], role_arn)

        self.assertEqual(d["relay_config"], {"role_arn": role_arn, "region": REGION})

    def test_everything(self):
        d = policy("--shared-account", SHARED, "--sender-account", DEV, "--sender-account", OTHER,
                   "--identity", "relay@mail.example.org", "--region", "eu-central-1",
                   "--external-id", "ext-id:42/x", "--role-name", "mail.sender@team",
                   "--configuration-set", "relay_events-1", "--read-only-checks", "--source-arn")
        role_arn = f"arn:aws:iam::{SHARED}:role/mail.sender@team"
        identity_arn = f"arn:aws:ses:eu-central-1:{SHARED}:identity/relay@mail.example.org"
        cs_arn = f"arn:aws:ses:eu-central-1:{SHARED}:configuration-set/relay_events-1"
        sh = d["shared_account"]
        [st] = statements(sh["role_trust_policy"])
        self.assertEqual(st["Principal"]["AWS"],
                         [f"arn:aws:iam::{DEV}:root", f"arn:aws:iam::{OTHER}:root"])
        self.assertEqual(st["Condition"], {"StringEquals": {"sts:ExternalId": "ext-id:42/x"}})

        perms = sh["role_permissions_policy"]
        self.check_document(perms)
        by_sid = {s["Sid"]: s for s in statements(perms)}
        self.assertEqual(len(by_sid), 3)
        send = [s for s in by_sid.values() if "ses:SendRawEmail" in listify(s["Action"])]
        self.assertEqual(len(send), 1)
        self.assertEqual(sorted(listify(send[0]["Resource"])), sorted([identity_arn, cs_arn]))
        self.assertEqual(actions_of(perms), sorted([
            "ses:SendRawEmail", "ses:SendEmail", "ses:GetSendQuota",
            "ses:GetIdentityVerificationAttributes", "ses:GetAccount", "ses:GetEmailIdentity"]))
        # "*" only for reads that have no resource-level permission
        for s in statements(perms):
            if "*" in listify(s["Resource"]):
                self.assertTrue(set(listify(s["Action"])) <= {
                    "ses:GetSendQuota", "ses:GetIdentityVerificationAttributes",
                    "ses:GetAccount"}, s)
            else:
                self.assertIn(identity_arn, listify(s["Resource"]))

        ident = sh["identity_sending_authorization_policy"]
        self.check_document(ident)
        [st] = statements(ident)
        self.assertEqual(st["Principal"], {"AWS": role_arn})
        self.assertEqual(sorted(listify(st["Action"])), ["ses:SendEmail", "ses:SendRawEmail"])
        self.assertEqual(st["Resource"], identity_arn)

        [st] = statements(d["sender_account"]["policy"])
        self.assertEqual(st["Resource"], role_arn)
        self.assertEqual(d["sender_account"]["account_ids"], [DEV, OTHER])
        self.assertEqual(d["relay_config"], {
            "role_arn": role_arn, "region": "eu-central-1", "external_id": "ext-id:42/x",
            "configuration_set": "relay_events-1", "source_arn": identity_arn,
            "from_arn": identity_arn, "return_path_arn": identity_arn})

    def test_partitions(self):
        for region, part in (("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"),
                             ("ap-southeast-2", "aws")):
            d = policy("--shared-account", SHARED, "--sender-account", DEV,
                       "--identity", "example.com", "--region", region)
            self.assertEqual(d["role_arn"], f"arn:{part}:iam::{SHARED}:role/ses-relay-sender")
            [st] = statements(d["shared_account"]["role_trust_policy"])
            self.assertEqual(st["Principal"]["AWS"], [f"arn:{part}:iam::{DEV}:root"])
            [st] = statements(d["shared_account"]["role_permissions_policy"])
            self.assertEqual(listify(st["Resource"]),
                             [f"arn:{part}:ses:{region}:{SHARED}:identity/example.com"])

    def test_equals_form_and_help(self):
        a = policy(*BASE)
        b = policy(f"--shared-account={SHARED}", f"--sender-account={DEV}",
                   "--identity=example.com", f"--region={REGION}")
        self.assertEqual(a, b)
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        self.assertIn("--shared-account", out)

    def test_output_is_one_json_object(self):
        rc, out, err = run(*BASE, "--external-id", "abc")
        self.assertEqual(rc, 0)
        self.assertEqual(err, "")
        self.assertIsInstance(json.loads(out), dict)

    def test_errors(self):
        opt = {k: v for k, v in zip(BASE[::2], BASE[1::2])}

        def without(name):
            return [x for k, v in opt.items() if k != name for x in (k, v)]

        many = [x for i in range(51) for x in ("--sender-account", f"{300000000000 + i}")]
        cases = [
            (without("--shared-account"), "--shared-account is required"),
            (without("--sender-account"), "--sender-account"),
            (without("--identity"), "--identity is required"),
            (without("--region"), "--region is required"),
            (BASE + ["--shared-account", OTHER], "given twice"),
            (BASE + ["--region", "eu-west-1"], "given twice"),
            (BASE + ["--sender-account", DEV], "given twice"),
            (BASE + ["--sender-account", SHARED], "is the shared account"),
            (BASE + ["--bogus"], "unknown option --bogus"),
            (BASE + ["extra"], "unexpected argument extra"),
            (BASE + ["--external-id"], "--external-id needs a value"),
            (BASE[:-2] + many + ["--region", REGION], "at most 50"),
        ]
        for bad in ("12345678901", "1234567890123", "12345678901a", "", " 11111111111"):
            cases.append((["--shared-account", bad] + without("--shared-account"),
                          "--shared-account"))
            cases.append((without("--sender-account") + ["--sender-account", bad],
                          "--sender-account"))
        for bad in ("example", "user@", "@example.com", "a@b@example.com", "*.example.com",
                    "exa mple.com", "-bad.example.com", "bad-.example.com", "user*@example.com",
                    "example.123", "a..b@example.com", ".a@example.com", "example..com",
                    "example.com.", "us\"er@example.com", "x" * 64 + ".com", ""):
            cases.append((without("--identity") + ["--identity", bad], "--identity"))
        for bad in ("EU-WEST-1", "euwest1", "eu-west", "eu-west-1a", "us-east-100", "e-west-1",
                    "eu--1", "eu-west-1 ", ""):
            cases.append((without("--region") + ["--region", bad], "--region"))
        for bad in ("bad/name", "x" * 65, "", "sp ace"):
            cases.append((BASE + ["--role-name", bad], "--role-name"))
        for bad in ("x", "has space", "quote\"d", "x" * 1225):
            cases.append((BASE + ["--external-id", bad], "--external-id"))
        for bad in ("bad.name", "x" * 65, ""):
            cases.append((BASE + ["--configuration-set", bad], "--configuration-set"))
        for args, needle in cases:
            with self.subTest(args=args):
                rc, out, err = run(*args)
                self.assertEqual(rc, 2, err)
                self.assertEqual(out, "", "nothing on stdout on error")
                self.assertIn(needle, err)
                self.assertTrue(err.startswith("sesrelay policy: "), err)

    def test_valid_edge_values(self):
        for ident in ("a.b", "xn--bcher-kva.example", "first.last+tag@sub.example.co.uk",
                      "o'brien@example.com", "x" * 63 + ".com"):
            with self.subTest(identity=ident):
                d = policy("--shared-account", SHARED, "--sender-account", DEV,
                           "--identity", ident, "--region", REGION)
                self.assertTrue(d["relay_config"]["role_arn"])
        d = policy(*BASE, "--external-id", "x" * 1224, "--role-name", "r" * 64)
        [st] = statements(d["shared_account"]["role_trust_policy"])
        self.assertEqual(st["Condition"]["StringEquals"]["sts:ExternalId"], "x" * 1224)


# ---------------------------------------------------------------------------
# The documents in moto's IAM
# ---------------------------------------------------------------------------

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from aws_emulator import Emulator
    HAVE_MOTO = True
except ImportError as e:  # pragma: no cover
    HAVE_MOTO = False
    WHY = str(e)


class MotoAccounts:
    """Set-up helpers: create things in a chosen account while moto's
    authentication is off, then switch it back on."""

    def __init__(self, emu):
        self.emu = emu

    def auth(self, on):
        import urllib.request
        req = urllib.request.Request(self.emu.endpoint + "/moto-api/reset-auth",
                                     data=b"0" if on else b"inf", method="POST",
                                     headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    def admin(self, service, account):
        c = boto3.client(service, endpoint_url=self.emu.endpoint, region_name=REGION,
                         aws_access_key_id="AKIAPOLICYTESTSETUP0", aws_secret_access_key="x",
                         config=Config(retries={"max_attempts": 1}))
        c.meta.events.register("before-sign.*.*", lambda request, **_:
                               request.headers.__setitem__("x-moto-account-id", account))
        return c

    def client(self, service, key, token=None):
        return boto3.client(service, endpoint_url=self.emu.endpoint, region_name=REGION,
                            aws_access_key_id=key[0], aws_secret_access_key=key[1],
                            aws_session_token=token, config=Config(retries={"max_attempts": 1}))

    def user_with_policy(self, account, name, doc):
        iam = self.admin("iam", account)
        iam.create_user(UserName=name)
        if doc is not None:
            arn = iam.create_policy(PolicyName=name + "-policy",
                                    PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
            iam.attach_user_policy(UserName=name, PolicyArn=arn)
        k = iam.create_access_key(UserName=name)["AccessKey"]
        return (k["AccessKeyId"], k["SecretAccessKey"])

    def role(self, account, name, trust, perms=None):
        iam = self.admin("iam", account)
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        if perms is not None:
            iam.put_role_policy(RoleName=name, PolicyName="relay",
                                PolicyDocument=json.dumps(perms))


def denied(test, fn, **kw):
    with test.assertRaises(ClientError) as cm:
        fn(**kw)
    test.assertEqual(cm.exception.response["Error"]["Code"], "AccessDenied")


@unittest.skipUnless(HAVE_MOTO, "moto/boto3 not available")
class MotoIdentityPolicies(unittest.TestCase):
    """Plain moto: the sender policy and the role permissions policy are
    enforced by moto's own IAM evaluation."""

    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(strict=False).start()
        cls.acc = MotoAccounts(cls.emu)
        cls.docs = policy("--shared-account", SHARED, "--sender-account", DEV,
                          "--identity", "example.com", "--region", REGION,
                          "--role-name", "policy-relay", "--external-id", "policy-ext-1",
                          "--read-only-checks")
        minimal = policy("--shared-account", SHARED, "--sender-account", DEV,
                         "--identity", "example.com", "--region", REGION,
                         "--role-name", "policy-relay-min")
        # same-account trust check: the role lives in the caller's account
        local = policy("--shared-account", DEV, "--sender-account", SHARED,
                       "--identity", "example.com", "--region", REGION,
                       "--role-name", "policy-local", "--external-id", "local-ext")
        cls.local = local
        a = cls.acc
        a.auth(False)
        try:
            sh = cls.docs["shared_account"]
            # moto validates both documents here (MalformedPolicyDocument)
            a.role(SHARED, "policy-relay", sh["role_trust_policy"], sh["role_permissions_policy"])
            a.role(SHARED, "policy-relay-min", minimal["shared_account"]["role_trust_policy"],
                   minimal["shared_account"]["role_permissions_policy"])
            a.role(SHARED, "policy-not-ours", sh["role_trust_policy"],
                   sh["role_permissions_policy"])
            cls.sender = a.user_with_policy(DEV, "policy-sender",
                                            cls.docs["sender_account"]["policy"])
            cls.sender_min = a.user_with_policy(DEV, "policy-sender-min",
                                                minimal["sender_account"]["policy"])
            cls.nopolicy = a.user_with_policy(DEV, "policy-nothing", None)
            cls.local_user_arn = f"arn:aws:iam::{DEV}:user/policy-local-user"
            cls.local_user = a.user_with_policy(DEV, "policy-local-user",
                                                local["sender_account"]["policy"])
            cls.local_nopolicy = a.user_with_policy(DEV, "policy-local-nothing", None)
            # moto matches trust principals against the exact caller ARN only
            # (an account root never matches), so the local role trusts the
            # users by ARN; Action and Condition are the generated ones.
            trust = json.loads(json.dumps(local["shared_account"]["role_trust_policy"]))
            trust["Statement"][0]["Principal"]["AWS"] = [
                cls.local_user_arn, f"arn:aws:iam::{DEV}:user/policy-local-nothing"]
            a.role(DEV, "policy-local", trust)
            a.role(DEV, "policy-local-generated", local["shared_account"]["role_trust_policy"])
        finally:
            a.auth(True)

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def assume(self, key, role, ext="policy-ext-1"):
        kw = {"RoleArn": role, "RoleSessionName": "policy-test"}
        if ext:
            kw["ExternalId"] = ext
        return self.acc.client("sts", key).assume_role(**kw)["Credentials"]

    def test_sender_policy_allows_exactly_the_role(self):
        c = self.assume(self.sender, self.docs["role_arn"])
        who = self.acc.client("sts", (c["AccessKeyId"], c["SecretAccessKey"]),
                              c["SessionToken"]).get_caller_identity()
        self.assertEqual(who["Account"], SHARED)
        self.assertIn(":assumed-role/policy-relay/", who["Arn"])
        sts = self.acc.client("sts", self.sender)
        denied(self, sts.assume_role, RoleArn=f"arn:aws:iam::{SHARED}:role/policy-not-ours",
               RoleSessionName="policy-test", ExternalId="policy-ext-1")

    def test_without_sender_policy_assume_fails(self):
        sts = self.acc.client("sts", self.nopolicy)
        denied(self, sts.assume_role, RoleArn=self.docs["role_arn"], RoleSessionName="policy-test",
               ExternalId="policy-ext-1")
        # another sender policy (other role name) does not reach this role
        sts = self.acc.client("sts", self.sender_min)
        denied(self, sts.assume_role, RoleArn=self.docs["role_arn"], RoleSessionName="policy-test",
               ExternalId="policy-ext-1")

    def test_role_permissions_allow_reads_only_when_asked(self):
        c = self.assume(self.sender, self.docs["role_arn"])
        key = (c["AccessKeyId"], c["SecretAccessKey"])
        ses = self.acc.client("ses", key, c["SessionToken"])
        self.assertIn("Max24HourSend", ses.get_send_quota())
        ses.get_identity_verification_attributes(Identities=["example.com"])
        # nothing beyond what the relay uses
        denied(self, ses.list_identities)
        denied(self, ses.delete_identity, Identity="example.com")
        denied(self, self.acc.client("iam", key, c["SessionToken"]).list_users)

        c = self.assume(self.sender_min, f"arn:aws:iam::{SHARED}:role/policy-relay-min", ext=None)
        ses = self.acc.client("ses", (c["AccessKeyId"], c["SecretAccessKey"]), c["SessionToken"])
        denied(self, ses.get_send_quota)

    def test_same_account_trust_condition(self):
        role = f"arn:aws:iam::{DEV}:role/policy-local"
        c = self.assume(self.local_user, role, ext="local-ext")
        self.assertTrue(c["AccessKeyId"].startswith("ASIA"))
        denied(self, self.acc.client("sts", self.local_user).assume_role, RoleArn=role,
               RoleSessionName="policy-test", ExternalId="wrong-ext")
        # trusted by the role, but no sender policy: the caller's account says no
        denied(self, self.acc.client("sts", self.local_nopolicy).assume_role, RoleArn=role,
               RoleSessionName="policy-test", ExternalId="local-ext")
        # the unmodified trust names only the other account: a caller of
        # this account is refused whatever its own policies say
        denied(self, self.acc.client("sts", self.local_user).assume_role,
               RoleArn=f"arn:aws:iam::{DEV}:role/policy-local-generated",
               RoleSessionName="policy-test", ExternalId="local-ext")


@unittest.skipUnless(HAVE_MOTO, "moto/boto3 not available")
class StrictCrossAccountTrust(unittest.TestCase):
    """Strict emulator: trust policies are evaluated for cross-account
    AssumeRole, with account-root principals and sts:ExternalId."""

    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator(strict=True).start()
        cls.acc = MotoAccounts(cls.emu)
        cls.docs = policy("--shared-account", SHARED, "--sender-account", DEV,
                          "--identity", "example.com", "--region", REGION,
                          "--role-name", "policy-xacct", "--external-id", "xacct-ext")
        a = cls.acc
        a.auth(False)
        try:
            sh = cls.docs["shared_account"]
            a.role(SHARED, "policy-xacct", sh["role_trust_policy"], sh["role_permissions_policy"])
            cls.sender = a.user_with_policy(DEV, "policy-xsender",
                                            cls.docs["sender_account"]["policy"])
            cls.stranger = a.user_with_policy(OTHER, "policy-stranger",
                                              cls.docs["sender_account"]["policy"])
        finally:
            a.auth(True)

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def call(self, key, ext):
        kw = {"RoleArn": self.docs["role_arn"], "RoleSessionName": "policy-test"}
        if ext is not None:
            kw["ExternalId"] = ext
        return self.acc.client("sts", key).assume_role(**kw)

    def test_listed_account_with_external_id(self):
        c = self.call(self.sender, "xacct-ext")["Credentials"]
        who = self.acc.client("sts", (c["AccessKeyId"], c["SecretAccessKey"]),
                              c["SessionToken"]).get_caller_identity()
        self.assertEqual(who["Account"], SHARED)

    def test_external_id_required(self):
        denied(self, self.call, key=self.sender, ext="other-ext")
        denied(self, self.call, key=self.sender, ext=None)

    def test_unlisted_account_refused(self):
        denied(self, self.call, key=self.stranger, ext="xacct-ext")


if __name__ == "__main__":
    if not HAVE_MOTO:
        print(f"moto checks skipped: {WHY}")
    unittest.main(verbosity=2)
