#!/usr/bin/env python3
"""Independent signer for ucpsim's HMAC webhook dialects, used by the receiver tests.

standard-webhooks is signed by the official PyPI ``standardwebhooks`` library (see
requirements.txt), an implementation we did not write; ucp-hmac by Python's own
``hmac`` module, following the dialect's definition:
    UCP-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(secret UTF-8, "<t>.<raw body>")>

Usage:
    python3 Tests/tools/sign_hmac_webhook.py REQUESTS.json

REQUESTS.json: a list of {"dialect": "ucp-hmac" | "standard-webhooks",
                          "secrets": ["whsec_...", ...],   # one signature per secret, in order
                          "body_base64": "...",
                          "timestamp": <unix seconds>,
                          "id": "msg_..."}                 # standard-webhooks only
Output: a JSON list, one entry per request: the header fields to send, [[name, value], ...].
Exit 2 with one line on stderr for bad input.
"""

import base64
import hashlib
import hmac
import json
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook


def ucp_hmac(request, body):
    timestamp = str(int(request["timestamp"]))
    signed = timestamp.encode() + b"." + body
    entries = [f"t={timestamp}"]
    for secret in request["secrets"]:
        entries.append("v1=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest())
    return [["UCP-Signature", ",".join(entries)]]


def standard_webhooks(request, body):
    moment = datetime.fromtimestamp(int(request["timestamp"]), tz=timezone.utc)
    signatures = [
        Webhook(secret).sign(msg_id=request["id"], timestamp=moment, data=body.decode("utf-8"))
        for secret in request["secrets"]
    ]
    return [
        ["webhook-id", request["id"]],
        ["webhook-timestamp", str(int(request["timestamp"]))],
        ["webhook-signature", " ".join(signatures)],
    ]


def main(argv):
    if len(argv) != 2:
        print("usage_error: expected REQUESTS.json", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as handle:
            requests = json.load(handle)
        out = []
        for request in requests:
            body = base64.b64decode(request["body_base64"])
            signer = {"ucp-hmac": ucp_hmac, "standard-webhooks": standard_webhooks}[request["dialect"]]
            out.append(signer(request, body))
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"usage_error: {error!r}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
