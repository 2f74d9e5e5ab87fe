#!/usr/bin/env python3
"""Independent verifier for ucpsim's HMAC webhook dialects (standard-webhooks, ucp-hmac).

standard-webhooks is checked by PyPI ``standardwebhooks==1.1.0`` (see
requirements.txt), the Standard Webhooks project's own Python library, which we
did not write. ucp-hmac has no published library: it is checked here with
Python's ``hmac`` and ``hashlib``, written from the dialect's definition and not
from ucpsim's Swift code.

Usage:
    python3 Tests/tools/webhook_hmac_verify.py standard-webhooks REQUEST.json --secret SECRET [--now UNIX]
    python3 Tests/tools/webhook_hmac_verify.py ucp-hmac REQUEST.json --secret SECRET [--now UNIX]
    python3 Tests/tools/webhook_hmac_verify.py --self-test

REQUEST.json: {"method": "POST", "url": "...", "headers": [["webhook-id", "..."], ...],
               "body_base64": "..."}   (the shape rfc9421_verify.py reads)

Output: exactly one line on stdout.
    verified <detail>                       exit 0
    signature_invalid: <detail>             exit 1 (also: a missing or malformed header)
    timestamp_out_of_range: <detail>        exit 1 (more than 5 minutes from --now)
    usage_error: <detail> (on stderr)       exit 2

Notes on standardwebhooks 1.1.0, from its source:
* ``Webhook(secret)`` strips an optional ``whsec_`` prefix and base64-decodes
  the rest with ``b64decode(secret + "==")`` (padding optional; characters
  outside the alphabet are silently dropped).
* ``verify(body, headers)`` lowercases the header names, needs ``webhook-id``,
  ``webhook-timestamp`` and ``webhook-signature``, splits the signature on
  single spaces into ``v1,<base64>`` entries and accepts when any one matches
  HMAC-SHA256 over ``"<id>.<timestamp>.<body>"``; the timestamp must be within
  5 minutes of ``datetime.now()``. It has no "now" argument, so ``--now``
  replaces the module's ``datetime`` with one whose ``now()`` is that instant.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import sys
import time

try:
    import standardwebhooks.webhooks as standard_webhooks
except ImportError as _e:  # pragma: no cover
    print(f"usage_error: missing dependency ({_e}); pip install -r Tests/tools/requirements.txt", file=sys.stderr)
    sys.exit(2)

TOLERANCE = 300

# The Standard Webhooks specification's test vector (also in the library's own tests).
VECTOR = {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "timestamp": 1614265330,
    "payload": '{"test": 2432232314}',
    "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}


class UsageError(Exception):
    pass


class Rejected(Exception):
    def __init__(self, reason, detail):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _freeze_clock(now):
    """Makes the library read `now` (unix seconds) as the current time."""

    class _Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime.fromtimestamp(now, tz=tz)

    standard_webhooks.datetime = _Frozen


def verify_standard_webhooks(headers, body, secret, now):
    _freeze_clock(now)
    try:
        payload = standard_webhooks.Webhook(secret).verify(body, dict(headers))
    except standard_webhooks.WebhookVerificationError as error:
        reason = "timestamp_out_of_range" if "timestamp too" in str(error) else "signature_invalid"
        raise Rejected(reason, str(error))
    return f"type={payload.get('type')}"


def verify_ucp_hmac(headers, body, secret, now):
    values = [value for name, value in headers if name.lower() == "ucp-signature"]
    if len(values) != 1:
        raise Rejected("signature_invalid", f"expected one UCP-Signature header, found {len(values)}")
    stamp, signatures = None, []
    for item in values[0].split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise Rejected("signature_invalid", f"malformed UCP-Signature item {item!r}")
        if key == "t":
            if stamp is not None:
                raise Rejected("signature_invalid", "more than one t=")
            stamp = value
        elif key == "v1":
            signatures.append(value)
    if stamp is None or not stamp.isdigit() or not signatures:
        raise Rejected("signature_invalid", "UCP-Signature needs t=<unix seconds> and at least one v1=")
    if abs(int(stamp) - now) > TOLERANCE:
        raise Rejected("timestamp_out_of_range", f"t={stamp} is more than {TOLERANCE} s from {now}")
    expected = hmac.new(secret.encode("utf-8"), stamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    for index, signature in enumerate(signatures):
        if hmac.compare_digest(expected, signature):
            return f"t={stamp} v1#{index + 1}"
    raise Rejected("signature_invalid", f"none of {len(signatures)} v1 signatures matches")


def self_test():
    _freeze_clock(VECTOR["timestamp"])
    webhook = standard_webhooks.Webhook(VECTOR["secret"])
    signed_at = datetime.datetime.fromtimestamp(VECTOR["timestamp"], tz=datetime.timezone.utc)
    signature = webhook.sign(VECTOR["id"], signed_at, VECTOR["payload"])
    if signature != VECTOR["signature"]:
        print(f"self-test failed: the library signs the vector as {signature}")
        return 1
    headers = [
        ("webhook-id", VECTOR["id"]),
        ("webhook-timestamp", str(VECTOR["timestamp"])),
        ("webhook-signature", VECTOR["signature"]),
    ]
    verify_standard_webhooks(headers, VECTOR["payload"].encode(), VECTOR["secret"], VECTOR["timestamp"])
    print("self-test passed: the Standard Webhooks vector")
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dialect", nargs="?", choices=["standard-webhooks", "ucp-hmac"])
    parser.add_argument("request", nargs="?", help="REQUEST.json")
    parser.add_argument("--secret", help="the subscription's secret, as given")
    parser.add_argument("--now", type=int, help="verify as of this unix time (default: the clock)")
    parser.add_argument("--self-test", action="store_true", help="check the library against the spec's vector")
    args = parser.parse_args(argv)
    try:
        if args.self_test:
            return self_test()
        if args.dialect is None or args.request is None or args.secret is None:
            raise UsageError("DIALECT, REQUEST.json and --secret are required")
        try:
            with open(args.request, encoding="utf-8") as handle:
                request = json.load(handle)
            headers = [(str(name), str(value)) for name, value in request["headers"]]
            body = base64.b64decode(request["body_base64"], validate=True)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UsageError(f"cannot read {args.request}: {error}")
        now = args.now if args.now is not None else int(time.time())
        verify = verify_standard_webhooks if args.dialect == "standard-webhooks" else verify_ucp_hmac
        print(f"verified {verify(headers, body, args.secret, now)}")
        return 0
    except Rejected as rejected:
        print(f"{rejected.reason}: {rejected.detail}")
        return 1
    except UsageError as error:
        print(f"usage_error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
