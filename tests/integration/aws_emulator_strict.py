"""AWS behaviour that moto 5.2.1 does not enforce, added to the emulator's
server process when it runs with --strict.

Each rule below is something real STS/SES does and sesrelay depends on;
without it a daemon bug (wrong ExternalId, stale credentials kept after
expiry, 8-bit MIME mangled) would pass the integration suites:

* AssumeRole is checked against the trust policy of the role in the
  role's own account (moto only evaluates trust for same-account callers),
  including the sts:ExternalId condition. A role that does not exist is
  denied instead of yielding working credentials.
* DurationSeconds must be 900..43200 and within the role's
  MaxSessionDuration.
* A request signed with expired temporary credentials gets ExpiredToken.
* SendRawEmail: RawMessage.Data over 10 MiB (base64 length) is rejected,
  a missing RawMessage.Data is a 400 rather than a crash, an unknown
  ConfigurationSetName is rejected, and 8-bit (non UTF-8) messages are
  stored byte for byte.

`install()` patches the already-imported moto classes in place; the server
calls it once before it starts serving. `state` holds the knobs the
inspection endpoints change at run time.
"""

import datetime
import json
import re
import threading

SES_V1_MAX_RAW_B64 = 10 * 1024 * 1024
MIN_DURATION = 900
MAX_DURATION = 43200


class _State:
    """Run-time knobs, changed through /_emu/* while serving."""

    def __init__(self):
        self.lock = threading.Lock()
        # When > 0, every AssumeRole hands out credentials that expire this
        # many seconds from now, whatever DurationSeconds asked for, so the
        # daemon's refresh-ahead logic can be exercised in a short test.
        self.forced_lifetime = 0


state = _State()


def _wildcard(pattern, value):
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.DOTALL) is not None


def _listify(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _principal_matches(principal, caller_arn, caller_account):
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for p in _listify(principal.get("AWS")):
        if p in ("*", caller_arn, caller_account, f"arn:aws:iam::{caller_account}:root"):
            return True
    return False


_CONDITION_OPS = {
    "StringEquals": lambda want, have: want == have,
    "StringNotEquals": lambda want, have: want != have,
    "StringEqualsIgnoreCase": lambda want, have: want.lower() == have.lower(),
    "StringLike": _wildcard,
}


def _conditions_hold(conditions, context):
    for op, pairs in (conditions or {}).items():
        test = _CONDITION_OPS.get(op)
        if test is None:
            return False  # an operator we cannot evaluate must not grant access
        for key, wanted in pairs.items():
            have = context.get(key.lower())
            if have is None:
                return False
            wanted = _listify(wanted)
            if op == "StringNotEquals":
                if not all(test(w, have) for w in wanted):
                    return False
            elif not any(test(w, have) for w in wanted):
                return False
    return True


def trust_permits(policy_document, caller_arn, caller_account, context):
    """Evaluate a role trust policy for sts:AssumeRole. Explicit Deny wins;
    no matching Allow means no."""
    doc = json.loads(policy_document) if isinstance(policy_document, str) else policy_document
    allowed = False
    for stmt in _listify((doc or {}).get("Statement")):
        actions = [a.lower() for a in _listify(stmt.get("Action"))]
        if not any(_wildcard(a, "sts:assumerole") for a in actions):
            continue
        if not _principal_matches(stmt.get("Principal"), caller_arn, caller_account):
            continue
        if not _conditions_hold(stmt.get("Condition"), context):
            continue
        if stmt.get("Effect") == "Deny":
            return False
        if stmt.get("Effect") == "Allow":
            allowed = True
    return allowed


def find_role(role_arn):
    from moto.iam.models import iam_backends

    m = re.fullmatch(r"arn:(aws[\w-]*):iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?[\w+=,.@-]+", role_arn or "")
    if not m:
        return None
    try:
        return iam_backends[m.group(2)][m.group(1)].get_role_by_arn(role_arn)
    except Exception:
        return None


def _utcnow():
    from moto.core.utils import utcnow

    return utcnow()


def install():
    from moto.core.exceptions import _RESTError
    from moto.core.responses import ActionResult
    from moto.iam import access_control
    from moto.ses import responses as ses_responses
    from moto.ses.exceptions import ConfigurationSetDoesNotExist, InvalidParameterValue
    from moto.sts import responses as sts_responses
    from moto.sts.exceptions import STSValidationError
    from moto.sts.models import sts_backends

    class ExpiredTokenError(_RESTError):
        code = 403

        def __init__(self):
            super().__init__("ExpiredToken", "The security token included in the request is expired")

    class TrustDeniedError(_RESTError):
        code = 403

        def __init__(self, caller_arn, role_arn):
            super().__init__("AccessDenied", f"User: {caller_arn} is not authorized to perform: "
                                             f"sts:AssumeRole on resource: {role_arn}")

    base = access_control.IAMRequestBase

    # moto only asks for a trust check when the role is in the caller's own
    # account; every AssumeRole on anything that looks like a role gets one.
    def is_assuming_role_operation(self, resource_arn):
        return self._action.lower() == "sts:assumerole" and ":role/" in (resource_arn or "")

    def check_role_trust(self, role_arn):
        role = find_role(role_arn)
        caller = self._access_key.arn
        context = {
            "sts:externalid": _first(self._data.get("ExternalId")),
            "sts:rolesessionname": _first(self._data.get("RoleSessionName")),
            "aws:principalaccount": self.account_id,
            "aws:principalarn": caller,
        }
        if role is None or not trust_permits(role.assume_role_policy_document, caller,
                                             self.account_id, context):
            raise TrustDeniedError(caller, role_arn)
        return True

    base._is_assuming_role_operation = is_assuming_role_operation
    base._check_role_trust_relationship = check_role_trust

    original_check_signature = base.check_signature

    def check_signature(self):
        original_check_signature(self)
        key = self._access_key
        if isinstance(key, access_control.AssumedRoleAccessKey):
            for session in sts_backends[key.account_id][key.partition].assumed_roles:
                if session.access_key_id == key._access_key_id and _utcnow() >= session.expiration:
                    raise ExpiredTokenError()

    base.check_signature = check_signature

    original_assume_role = sts_responses.TokenResponse.assume_role

    def assume_role(self):
        raw = self._get_param("DurationSeconds")
        if raw is not None:
            duration = int(raw)
            if duration < MIN_DURATION or duration > MAX_DURATION:
                bound = ("greater than or equal to 900" if duration < MIN_DURATION
                         else "less than or equal to 43200")
                raise STSValidationError(
                    f"1 validation error detected: Value '{duration}' at 'durationSeconds' "
                    f"failed to satisfy constraint: Member must have value {bound}")
            role = find_role(self._get_param("RoleArn"))
            if role is not None and duration > int(role.max_session_duration or 3600):
                raise STSValidationError("The requested DurationSeconds exceeds the "
                                         "MaxSessionDuration set for this role.")
        result = original_assume_role(self)
        with state.lock:
            lifetime = state.forced_lifetime
        if lifetime > 0:
            session = result.result["Credentials"]
            session.expiration = _utcnow() + datetime.timedelta(seconds=lifetime)
        return result

    sts_responses.TokenResponse.assume_role = assume_role

    def send_raw_email(self):
        encoded = (self.querystring.get("RawMessage.Data") or [None])[0]
        if encoded is None:
            raise InvalidParameterValue(
                "1 validation error detected: Value null at 'rawMessage.data' failed to satisfy "
                "constraint: Member must not be null")
        if len(encoded) > SES_V1_MAX_RAW_B64:
            raise InvalidParameterValue(
                f"Message length is more than {SES_V1_MAX_RAW_B64} bytes long: '{len(encoded)}'.")
        config_set = self._get_param("ConfigurationSetName")
        if config_set is not None and config_set not in self.backend.config_sets:
            raise ConfigurationSetDoesNotExist(f"Configuration set <{config_set}> does not exist.")
        # SES accepts 8-bit MIME; surrogateescape keeps every byte so the
        # stored text encodes back to exactly what the client sent.
        raw = self._get_param("RawMessage.Data").decode("utf-8", "surrogateescape")
        message = self.backend.send_raw_email(self._get_param("Source"),
                                              self._get_param("Destinations", []), raw)
        return ActionResult({"MessageId": message.id})

    ses_responses.EmailResponse.send_raw_email = send_raw_email


def _first(v):
    return v[0] if isinstance(v, list) and v else v
