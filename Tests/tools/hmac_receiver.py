"""A strict webhook receiver for ucpsim's HMAC dialects, written independently of ucpsim.

- standard-webhooks: verified by the official `standardwebhooks` library (PyPI), which checks the `webhook-id`,
  `webhook-timestamp` and `webhook-signature` headers, a 5-minute tolerance on the timestamp, and every `v1,`
  signature in the header (others are skipped).
- ucp-hmac: `UCP-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(secret's UTF-8, "<t>.<raw body>")>` checked
  with Python's `hmac` (constant-time comparison), the same 5-minute tolerance on `t`, any one `v1=` matching.

Both de-duplicate by event id (`webhook-id`, or the envelope's `event_id`): a repeated id is acknowledged (200) and
not processed again. An unknown event type, validly signed, is acknowledged and ignored.

    hmac_receiver.py serve --dialect D --secret S
        serves on 127.0.0.1 (a free port, printed on the first line of stdout). POST: 200 processed/duplicate/ignored,
        400 missing or malformed headers, 401 a signature that does not verify or a timestamp outside the tolerance.
        GET /processed: {"<event id>": <times processed>}. GET /events: [[<event id>, <event type>, <body>], ...] of
        the processed events, in the order they arrived.
    hmac_receiver.py verify --dialect D --secret S [--now N | --signature-only] FILE...
        checks exported requests ({"headers": [[name, value], ...], "body_base64": ...}, or a `ucpsim check --export`
        vector holding one as `request`) at the instant N (unix seconds; default: now), or the signature alone (no
        clock). One line per file, `FILE: verified` or `FILE: refused (status): reason`; exit 0 when all verified,
        1 otherwise.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standardwebhooks.webhooks as standard_webhooks

TOLERANCE = 300
KNOWN_TYPES = {
    "order.created",
    "order.updated",
    "fulfillment.status_changed",
    "payment.status_changed",
    "agent.interaction_event",
}


class Refused(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def fixed_clock(instant):
    """Makes the official library see `instant` as now (it reads `datetime.now`)."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(instant, tz)

    standard_webhooks.datetime = Clock


def verify_standard_webhooks(secret, headers, body, signature_only):
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        if not headers.get(name):
            raise Refused(400, f"missing {name}")
    if signature_only:
        try:
            fixed_clock(float(headers["webhook-timestamp"]))
        except ValueError:
            raise Refused(400, "malformed webhook-timestamp")
    try:
        standard_webhooks.Webhook(secret).verify(body, headers, json_parse=False)
    except standard_webhooks.WebhookVerificationError as error:
        raise Refused(401, str(error))
    except (ValueError, binascii.Error) as error:
        raise Refused(400, f"malformed webhook-signature: {error}")
    return headers["webhook-id"], json.loads(body).get("type")


def verify_ucp_hmac(secret, headers, body, now, signature_only):
    value = headers.get("ucp-signature")
    if not value:
        raise Refused(400, "missing UCP-Signature")
    stamp = None
    signatures = []
    for part in value.split(","):
        name, separator, text = part.strip().partition("=")
        if not separator:
            raise Refused(400, f"malformed UCP-Signature element {part!r}")
        if name == "t":
            if stamp is not None:
                raise Refused(400, "two t= elements")
            stamp = text
        elif name == "v1":
            signatures.append(text)
        # Other schemes (v0, v2, ...) are not ours: skipped, as Stripe-style verifiers do.
    if stamp is None or not stamp.isdigit():
        raise Refused(400, "UCP-Signature has no t=<unix seconds>")
    if not signatures:
        raise Refused(401, "UCP-Signature has no v1 signature")
    if not signature_only and abs(now - int(stamp)) > TOLERANCE:
        raise Refused(401, "t is outside the 5-minute tolerance")
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected.encode(), signature.encode()) for signature in signatures):
        raise Refused(401, "no v1 signature matches")
    envelope = json.loads(body)
    return envelope.get("event_id"), envelope.get("event_type")


def verify(dialect, secret, headers, body, now=None, signature_only=False):
    """Returns (event id, event type) of a verified request; raises Refused."""
    headers = {name.lower(): value for name, value in headers.items()}
    if dialect == "standard-webhooks":
        if now is not None and not signature_only:
            fixed_clock(now)
        return verify_standard_webhooks(secret, headers, body, signature_only)
    return verify_ucp_hmac(secret, headers, body, time.time() if now is None else now, signature_only)


def serve(dialect, secret):
    processed = {}
    arrived = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def answer(self, status, document):
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with lock:
                self.answer(200, list(arrived) if self.path.endswith("/events") else dict(processed))

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                event_id, event_type = verify(dialect, secret, dict(self.headers.items()), body)
            except Refused as refusal:
                self.answer(refusal.status, {"error": refusal.reason})
                return
            except ValueError as error:  # a verified body that is not JSON
                self.answer(400, {"error": f"body is not JSON: {error}"})
                return
            with lock:
                if event_id in processed:
                    self.answer(200, {"status": "duplicate"})
                    return
                if event_type not in KNOWN_TYPES:
                    self.answer(200, {"status": "ignored"})
                    return
                processed[event_id] = processed.get(event_id, 0) + 1
                arrived.append([event_id, event_type, body.decode()])
            self.answer(200, {"status": "processed"})

        def log_message(self, *arguments):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["serve", "verify"])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--dialect", required=True, choices=["ucp-hmac", "standard-webhooks"])
    parser.add_argument("--secret", required=True)
    parser.add_argument("--now", type=int)
    parser.add_argument("--signature-only", action="store_true")
    options = parser.parse_intermixed_args()
    if options.mode == "serve":
        serve(options.dialect, options.secret)
        return
    refused = False
    for path in options.files:
        with open(path) as file:
            document = json.load(file)
        request = document.get("request", document)
        headers = {}
        for name, value in request["headers"]:
            headers[name.lower()] = value
        body = base64.b64decode(request["body_base64"])
        try:
            verify(options.dialect, options.secret, headers, body, options.now, options.signature_only)
            print(f"{path}: verified")
        except Refused as refusal:
            refused = True
            print(f"{path}: refused ({refusal.status}): {refusal.reason}")
    sys.exit(1 if refused else 0)


if __name__ == "__main__":
    main()
