#!/usr/bin/env python3
"""An independent UCP platform (an agent's side) that shops at a ucpsim shop over the REST binding.

Written from the UCP spec (release 2026-08-25) and the official SDK, not from ucpsim's code: it proves the shop
works with a client ucpsim did not write. It

* serves its own platform profile over loopback HTTP (``ucp`` metadata valid for the SDK's ``PlatformSchema``, an
  ES256 public key in ``keys``, and ``dev.ucp.shopping.order`` ``config.webhook_url`` pointing at its own receiver),
  and a webhook receiver that verifies every delivery (RFC 9421 signature and RFC 9530 ``Content-Digest``, with
  ``rfc9421_verify.py`` beside this file, which is built on ``http-message-signatures``) against the keys of the
  shop's ``/.well-known/ucp``;
* sends every request with ``UCP-Agent: profile="<its profile URL>"``, a ``Request-Id``, an ``Idempotency-Key``
  (uuid4) on the mutating ones, and an RFC 9421 signature made with ``http-message-signatures`` over
  ``@method @authority @path ucp-agent [idempotency-key] [content-digest content-type]``;
* verifies the shop's response signatures when there are any (``@status content-digest content-type``);
* validates EVERY response body twice: with the SDK ``ucp-sdk`` 0.5.0 models in strict mode, and with ``jsonschema``
  against the UCP schema set of 2026-08-25 (``--schemas``, default ``<repo>/../shared/ucp-schemas/main``). The SDK
  is the authority: an SDK failure fails the run; a body the SDK accepts and the schemas refuse is reported under
  ``disagreements`` (e.g. where 2026-08-25 moved the payment types to ``common/``) and does not fail it.

Usage:
    python3 Tests/tools/ucp_platform.py --shop http://127.0.0.1:8080 journey [--from cart|items] [--drive ship,deliver]
    python3 Tests/tools/ucp_platform.py --shop URL negative NAME [NAME ...]     (or: negative all)
    python3 Tests/tools/ucp_platform.py --self-test                              (the platform side alone)

Negative cases (NAME): idempotency-conflict, second-complete, update-after-cancel, out-of-stock, unknown-discount,
declined-token, unadvertised-handler, version-unsupported, profile-unreachable, bad-signature (needs a shop started
with ``serve --require-signed-requests``; not part of ``all``).

The version and profile cases and bad-signature send a cart create (``POST /carts``): every shopping route passes the
same gateway, so they need no checkout. ``--platform-port N`` fixes the loopback port of the platform's profile and
receiver (default: any free one).

``--drive ship,deliver`` (journey) then moves the placed order with the shop's control API
(``POST /testing/orders/{id}/ship`` and ``/deliver``, ``--simulation-secret`` when the shop wants one) and waits for
the verified webhook that shows each step (a fulfillment event of type ``shipped``, then ``delivered``).

Output: exactly one JSON line on stdout: ``{"ok": bool, "command": ..., "steps": [...], "failures": [...],
"disagreements": [...], ...}``. On a failure the reason is also printed on stderr as
``ucp_platform: FAIL <step>: <reason>``. Exit 0 when everything passed, 1 on any failure, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import os
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

SCRIPT_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPT_DIR))

try:
    import httpx
    from cryptography.hazmat.primitives.asymmetric import ec
    from http_message_signatures import (
        HTTPMessageSignaturesException,
        HTTPMessageSigner,
        HTTPSignatureKeyResolver,
        InvalidSignature,
        algorithms,
    )
    from jsonschema import Draft202012Validator
    from pydantic import ValidationError

    import rfc9421_verify
    import validate_schemas
    from ucp_sdk.models.schemas import profile as sdk_profile
    from ucp_sdk.models.schemas.common.types import error_response as sdk_error_response
    from ucp_sdk.models.schemas.shopping import cart as sdk_cart
    from ucp_sdk.models.schemas.shopping import catalog_lookup as sdk_lookup
    from ucp_sdk.models.schemas.shopping import catalog_search as sdk_search
    from ucp_sdk.models.schemas.shopping import checkout as sdk_checkout
    from ucp_sdk.models.schemas.shopping import discount as sdk_discount
    from ucp_sdk.models.schemas.shopping import fulfillment as sdk_fulfillment
    from ucp_sdk.models.schemas.shopping import order as sdk_order
except ImportError as _e:  # pragma: no cover
    print(f"ucp_platform: usage_error: missing dependency ({_e}); pip install -r Tests/tools/requirements.txt", file=sys.stderr)
    sys.exit(2)

VERSION = "2026-08-25"
DEFAULT_SCHEMAS = SCRIPT_DIR.parent.parent.parent / "shared" / "ucp-schemas" / "main"
KID = "platform-es256"
PLATFORM_SPEC = "https://ucp.dev/2026-08-25/specification/overview/"
MOCK_HANDLER = "dev.ucpsim.mock_payment"
NEGATIVES = (
    "idempotency-conflict",
    "second-complete",
    "update-after-cancel",
    "out-of-stock",
    "unknown-discount",
    "declined-token",
    "unadvertised-handler",
    "version-unsupported",
    "profile-unreachable",
    "bad-signature",
)
# The embedded shop (Sources/UCPSimKit/Catalog/ShopFile+Embedded.swift): what the journey buys and where it ships.
IN_STOCK = "var_mug_white"
OUT_OF_STOCK = "var_mug_black"
ADDRESS = {
    "first_name": "Alice",
    "last_name": "Jones",
    "street_address": "123 Main St",
    "address_locality": "Springfield",
    "address_region": "IL",
    "postal_code": "62701",
    "address_country": "US",
}


class Failure(Exception):
    """A check that did not hold: the run fails with this step and reason."""

    def __init__(self, step: str, reason: str):
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


class UsageError(Exception):
    pass


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def excerpt(body: bytes, limit: int = 300) -> str:
    text = body.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- validation (SDK strict + jsonschema on main)


class Validator:
    """Each response body against the SDK's models (strict; they decide) and the `main` schema set."""

    # kind -> (SDK models, schema refs relative to the set)
    def __init__(self, schemas: Path | None):
        self.disagreements: list[dict] = []
        self.checked = 0
        self.registry = None
        self.uri_for = {}
        self.format_checker = validate_schemas.make_format_checker()
        self._validators: dict[str, Draft202012Validator] = {}
        if schemas is not None:
            self.registry, self.uri_for = validate_schemas.load_registry(schemas)

    def _schema(self, ref: str) -> Draft202012Validator:
        if ref not in self._validators:
            rel, _, fragment = ref.partition("#")
            if rel not in self.uri_for:
                raise UsageError(f"schema {rel} is not in the schema set")
            full = self.uri_for[rel] + ("#" + fragment if fragment else "")
            self.registry.resolver().lookup(full)
            self._validators[ref] = Draft202012Validator(
                {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": full},
                registry=self.registry,
                format_checker=self.format_checker,
            )
        return self._validators[ref]

    @staticmethod
    def _sdk_errors(model, doc) -> list[str]:
        try:
            model.model_validate_json(json.dumps(doc), strict=True)
        except ValidationError as exc:
            return [
                "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]) + ": " + e["msg"]
                for e in exc.errors()
            ][:5]
        return []

    def _schema_errors(self, ref: str, doc) -> list[str]:
        if self.registry is None:
            return []
        errors = sorted(self._schema(ref).iter_errors(doc), key=lambda e: (e.json_path, e.message))
        return list(dict.fromkeys(validate_schemas.describe(e) for e in errors))[:5]

    def check(self, step: str, kind: str, doc) -> None:
        """Raise Failure when the SDK refuses `doc` as `kind`; note where only the schemas refuse it."""
        models, refs = self.plan(kind, doc)
        self.checked += 1
        for model in models:
            errors = self._sdk_errors(model, doc)
            if errors:
                raise Failure(step, f"not a valid {kind} for ucp-sdk 0.5.0 ({model.__module__}.{model.__name__}, strict): {'; '.join(errors)}")
        for ref in refs:
            errors = self._schema_errors(ref, doc)
            if errors:
                self.disagreements.append({"step": step, "kind": kind, "schema": ref, "sdk": "valid", "schema_errors": errors})

    @staticmethod
    def plan(kind: str, doc):
        has = (lambda key: isinstance(doc, dict) and key in doc)
        if kind == "business_profile":
            return [sdk_profile.BusinessSchema], ["schemas/profile.json#/$defs/business_schema"]
        if kind == "platform_profile":
            return [sdk_profile.PlatformSchema], ["schemas/profile.json#/$defs/platform_schema"]
        if kind == "search":
            return [sdk_search.SearchResponse], ["schemas/shopping/catalog_search.json#/$defs/search_response"]
        if kind == "lookup":
            return [sdk_lookup.LookupResponse], ["schemas/shopping/catalog_lookup.json#/$defs/lookup_response"]
        if kind == "cart":
            models, refs = [sdk_cart.Cart], ["schemas/shopping/cart.json"]
            if has("discounts"):
                models.append(sdk_discount.Cart)
                refs.append("schemas/shopping/discount.json#/$defs/dev.ucp.shopping.cart")
            return models, refs
        if kind == "checkout":
            models, refs = [sdk_checkout.Checkout], ["schemas/shopping/checkout.json"]
            if has("fulfillment"):
                models.append(sdk_fulfillment.Checkout)
                refs.append("schemas/shopping/fulfillment.json#/$defs/dev.ucp.shopping.checkout")
            if has("discounts"):
                models.append(sdk_discount.Checkout)
                refs.append("schemas/shopping/discount.json#/$defs/dev.ucp.shopping.checkout")
            if has("cart_id"):
                models.append(sdk_cart.Checkout)
                refs.append("schemas/shopping/cart.json#/$defs/checkout")
            return models, refs
        if kind == "error":
            return [sdk_error_response.ErrorResponse], ["schemas/common/types/error_response.json"]
        if kind == "order":
            return [sdk_order.Order], ["schemas/shopping/order.json"]
        raise UsageError(f"unknown kind {kind}")


# ---------------------------------------------------------------- the platform's HTTP side (profile + receiver)


class Platform:
    """The platform's loopback server: its profiles and its order webhook receiver."""

    def __init__(self, port: int = 0):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private_key.public_key().public_numbers()
        self.jwk = {
            "kid": KID,
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
            "alg": "ES256",
            "use": "sig",
        }
        self.webhooks: list[dict] = []
        self.cond = threading.Condition()
        self.shop_keys: list[dict] = []
        self.shop_profile_urls: list[str] = []
        self.refresh_keys = None  # set by the client: fetches the shop's keys again (once per unknown kid)
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes, cache: bool = False):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if cache:
                    self.send_header("Cache-Control", "public, max-age=60")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                documents = {"/.well-known/ucp": platform.profile(VERSION), "/old/.well-known/ucp": platform.profile("2025-01-01")}
                if self.path in documents:
                    self._send(200, json.dumps(documents[self.path]).encode(), cache=True)
                else:
                    self._send(404, b'{"code":"not_found","content":"no such document"}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path != "/webhooks/ucp/orders":
                    self._send(404, b'{"code":"not_found","content":"no such route"}')
                    return
                record = platform.receive(self.command, self.headers.get("Host", ""), self.path, list(self.headers.items()), body)
                if record["verified"]:
                    ack = {"ucp": {"version": VERSION, "status": "success", "capabilities": {"dev.ucp.shopping.order": [{"version": VERSION}]}}}
                    self._send(200, json.dumps(ack).encode())
                else:
                    self._send(401, json.dumps({"code": record["reason"], "content": record["detail"]}).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def profile_url(self) -> str:
        return self.base + "/.well-known/ucp"

    @property
    def old_profile_url(self) -> str:
        return self.base + "/old/.well-known/ucp"

    @property
    def webhook_url(self) -> str:
        return self.base + "/webhooks/ucp/orders"

    def profile(self, version: str) -> dict:
        def entry(name: str, spec: str, schema: str, **extra) -> dict:
            return {
                "version": version,
                "spec": f"https://ucp.dev/{version}/specification/{spec}",
                "schema": f"https://ucp.dev/{version}/schemas/shopping/{schema}",
                **extra,
            }

        return {
            "ucp": {
                "version": version,
                "services": {
                    "dev.ucp.shopping": [
                        {
                            "version": version,
                            "spec": f"https://ucp.dev/{version}/specification/overview/",
                            "transport": "rest",
                            "schema": f"https://ucp.dev/{version}/services/shopping/rest.openapi.json",
                        }
                    ]
                },
                "capabilities": {
                    "dev.ucp.shopping.catalog.search": [entry("search", "shopping/catalog/search", "catalog_search.json")],
                    "dev.ucp.shopping.catalog.lookup": [entry("lookup", "shopping/catalog/lookup", "catalog_lookup.json")],
                    "dev.ucp.shopping.cart": [entry("cart", "shopping/cart", "cart.json")],
                    "dev.ucp.shopping.checkout": [entry("checkout", "shopping/checkout", "checkout.json")],
                    "dev.ucp.shopping.fulfillment": [
                        entry("fulfillment", "fulfillment", "fulfillment.json", extends="dev.ucp.shopping.checkout")
                    ],
                    "dev.ucp.shopping.discount": [
                        entry("discount", "discount", "discount.json", extends=["dev.ucp.shopping.checkout", "dev.ucp.shopping.cart"])
                    ],
                    "dev.ucp.shopping.order": [
                        entry("order", "shopping/order", "order.json", config={"webhook_url": self.webhook_url})
                    ],
                },
                "payment_handlers": {
                    MOCK_HANDLER: [
                        {
                            "id": "mock_payment",
                            "version": version,
                            "spec": "https://ucpsim.dev/specification/mock-payment",
                            "schema": "https://ucpsim.dev/schemas/mock-payment.json",
                        }
                    ]
                },
            },
            "keys": [self.jwk],
        }

    def receive(self, method: str, host: str, path: str, headers: list, body: bytes) -> dict:
        """Verify one webhook delivery and keep it, verified or not."""
        record = {"verified": False, "reason": "", "detail": "", "webhook_id": None, "order_id": None, "body": None}
        for name, value in headers:
            if name.lower() == "webhook-id":
                record["webhook_id"] = value
        url = f"http://{host}{path}"
        for attempt in range(2):
            try:
                kid = rfc9421_verify.verify((method, url, [tuple(h) for h in headers], body), self.shop_keys)
                record.update(verified=True, kid=kid)
                break
            except rfc9421_verify.Failure as f:
                record.update(reason=f.reason, detail=f.detail)
                if f.reason == "key_not_found" and attempt == 0 and self.refresh_keys is not None:
                    self.refresh_keys()
                    continue
                break
        if record["verified"]:
            agent = next((v for n, v in headers if n.lower() == "ucp-agent"), "")
            # Identity binding: the signer must be the shop whose profile gave the keys.
            if not any(f'profile="{url}"' in agent for url in self.shop_profile_urls):
                record.update(verified=False, reason="identity_mismatch", detail=f"UCP-Agent {agent!r} is not the shop's profile ({' or '.join(self.shop_profile_urls)})")
        try:
            record["body"] = json.loads(body)
            record["order_id"] = record["body"].get("id") if isinstance(record["body"], dict) else None
        except ValueError:
            record.update(verified=False, reason="not_json", detail=excerpt(body))
        with self.cond:
            self.webhooks.append(record)
            self.cond.notify_all()
        return record

    def wait_for(self, step: str, predicate, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for record in self.webhooks:
                    if record["verified"] and predicate(record["body"]):
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [
                        f"{r['webhook_id']} order={r['order_id']} "
                        + ("verified" if r["verified"] else f"{r['reason']}: {r['detail']}")
                        for r in self.webhooks
                    ]
                    raise Failure(step, f"no verified webhook within {timeout:.0f} s; received: {seen or 'none'}")
                self.cond.wait(remaining)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- the platform's client side


class _KeyResolver(HTTPSignatureKeyResolver):
    def __init__(self, key):
        self.key = key

    def resolve_private_key(self, key_id):
        return self.key

    def resolve_public_key(self, key_id):
        return self.key.public_key()


class _Message:
    """The request as http-message-signatures sees it: method, absolute URL, headers (a dict it may write to)."""

    def __init__(self, method: str, url: str, headers: dict):
        self.method = method
        self.url = url
        self.headers = headers


class _ResponseMessage:
    def __init__(self, status: int, headers):
        self.status_code = status
        self.headers = headers


class Shopper:
    """Signed, negotiated requests to the shop; every answer checked and validated."""

    def __init__(self, shop: str, platform: Platform, validator: Validator, timeout: float):
        self.shop = shop.rstrip("/")
        self.platform = platform
        self.validator = validator
        self.timeout = timeout
        self.http = httpx.Client(timeout=timeout)
        self.signer = HTTPMessageSigner(signature_algorithm=algorithms.ECDSA_P256_SHA256, key_resolver=_KeyResolver(platform.private_key))
        self.steps: list[dict] = []
        self.endpoint = self.shop
        self.handler_id = None
        self.signed_responses = 0
        self.unsigned_responses = 0
        # Sent with every request besides the UCP ones, e.g. a buyer's ``Authorization: Bearer`` (oauth_platform.py).
        self.extra_headers: dict[str, str] = {}
        platform.refresh_keys = self.refresh_keys

    # -- discovery

    def discover(self):
        step = "discovery"
        response = self.http.get(self.shop + "/.well-known/ucp", headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise Failure(step, f"GET /.well-known/ucp answered HTTP {response.status_code}: {excerpt(response.content)}")
        doc = self._json(step, response)
        self.validator.check(step, "business_profile", doc)
        self.platform.shop_keys = doc.get("keys") or []
        if not self.platform.shop_keys:
            raise Failure(step, "the business profile publishes no keys (webhooks and response signatures cannot be verified)")
        ucp = doc["ucp"]
        if ucp.get("version") != VERSION:
            raise Failure(step, f"the shop speaks {ucp.get('version')}, this platform {VERSION}")
        rest = [s for s in ucp.get("services", {}).get("dev.ucp.shopping", []) if s.get("transport") == "rest"]
        if not rest or not rest[0].get("endpoint"):
            raise Failure(step, "no dev.ucp.shopping service with transport rest and an endpoint")
        self.endpoint = rest[0]["endpoint"].rstrip("/")
        # The shop's profile URL as --shop names it, and as its own endpoint's origin does (what it signs UCP-Agent with).
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.endpoint))
        self.platform.shop_profile_urls = list(dict.fromkeys([self.shop + "/.well-known/ucp", origin + "/.well-known/ucp"]))
        capabilities = ucp.get("capabilities") or {}
        wanted = ["dev.ucp.shopping.catalog.search", "dev.ucp.shopping.catalog.lookup", "dev.ucp.shopping.cart", "dev.ucp.shopping.checkout", "dev.ucp.shopping.order"]
        missing = [c for c in wanted if c not in capabilities]
        if missing:
            raise Failure(step, f"the business profile does not advertise {', '.join(missing)}")
        handlers = ucp.get("payment_handlers") or {}
        entries = handlers.get(MOCK_HANDLER) or next(iter(handlers.values()), [])
        self.handler_id = entries[0]["id"] if entries else None
        if not self.handler_id:
            raise Failure(step, "the business profile advertises no payment handler")
        self.record(step, "GET", "/.well-known/ucp", response.status_code, endpoint=self.endpoint, handler=self.handler_id)

    def refresh_keys(self):
        try:
            doc = self.http.get(self.shop + "/.well-known/ucp").json()
            self.platform.shop_keys = doc.get("keys") or self.platform.shop_keys
        except (httpx.HTTPError, ValueError):
            pass

    # -- requests

    def request(self, step, method, path, body=None, *, key=None, profile_url=None, sign=True, tamper=False, expect=(200,)):
        """Send one request; check the status is in `expect`; return (status, parsed JSON body or None, headers)."""
        url = self.endpoint + path
        headers = {
            "UCP-Agent": f'profile="{profile_url or self.platform.profile_url}"',
            "Request-Id": str(uuid.uuid4()),
            "Accept": "application/json",
            **self.extra_headers,
        }
        raw = None
        covered = ["@method", "@authority", "@path", "ucp-agent"]
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            headers["Idempotency-Key"] = key or str(uuid.uuid4())
            covered.append("idempotency-key")
        if body is not None:
            raw = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
            covered += ["content-digest", "content-type"]
        if sign:
            message = _Message(method, url, headers)
            # tamper: a forgery — signed under the platform's kid by a key that is not the one its profile publishes.
            signer = self.signer
            if tamper:
                signer = HTTPMessageSigner(signature_algorithm=algorithms.ECDSA_P256_SHA256, key_resolver=_KeyResolver(ec.generate_private_key(ec.SECP256R1())))
            try:
                signer.sign(message, key_id=KID, label="sig1", include_alg=False, covered_component_ids=covered, body=raw)
            except HTTPMessageSignaturesException as e:
                raise Failure(step, f"cannot sign the request: {e}")
        elif raw is not None:
            headers["Content-Digest"] = "sha-256=:" + base64.b64encode(hashlib.sha256(raw).digest()).decode() + ":"
        try:
            response = self.http.request(method, url, headers=headers, content=raw)
        except httpx.HTTPError as e:
            raise Failure(step, f"{method} {path}: {type(e).__name__}: {e}")
        if response.status_code not in expect:
            raise Failure(step, f"{method} {path} answered HTTP {response.status_code}, expected {' or '.join(map(str, expect))}: {excerpt(response.content)}")
        self.verify_response(step, response)
        doc = self._json(step, response) if response.content else None
        return response.status_code, doc, response.headers

    def verify_response(self, step, response):
        """A signed response must verify with the shop's keys; an unsigned one is counted."""
        if "signature-input" not in response.headers:
            self.unsigned_responses += 1
            return
        fields = rfc9421_verify._FieldLines(response.headers.multi_items())
        try:
            sig_inputs = rfc9421_verify._parse_dictionary(fields.combined("Signature-Input"), "Signature-Input")
            label = "sig1" if "sig1" in sig_inputs else next(iter(sig_inputs))
            keyid = sig_inputs[label][1].get("keyid")
            jwk = rfc9421_verify.find_jwk(self.platform.shop_keys, keyid)
            if jwk is None:
                self.refresh_keys()
                jwk = rfc9421_verify.find_jwk(self.platform.shop_keys, keyid)
            if jwk is None:
                raise Failure(step, f"response signed with keyid {keyid!r}, not in the shop's profile")
            alg_cls, public_key = rfc9421_verify.algorithm_for_jwk(jwk)
            covered = {name for name, params in sig_inputs[label][0]}
            needed = {"@status"} | ({"content-digest", "content-type"} if response.content else set())
            if not needed <= covered:
                raise Failure(step, f"response signature does not cover {sorted(needed - covered)}")
            if response.content:
                rfc9421_verify.check_content_digest(fields.combined("Content-Digest"), response.content)
            verifier = rfc9421_verify._Verifier(signature_algorithm=alg_cls, key_resolver=rfc9421_verify._SingleKeyResolver(keyid, public_key))
            verifier.require_created = False
            verifier.verify(_ResponseMessage(response.status_code, fields), max_age=None, expect_label=label if len(sig_inputs) > 1 else None, body=response.content or None)
        except rfc9421_verify.Failure as f:
            raise Failure(step, f"response signature: {f.reason}: {f.detail}")
        except (InvalidSignature, HTTPMessageSignaturesException) as e:
            raise Failure(step, f"response signature does not verify: {e or type(e).__name__}")
        self.signed_responses += 1

    @staticmethod
    def _json(step, response):
        try:
            return json.loads(response.content)
        except ValueError:
            raise Failure(step, f"HTTP {response.status_code} body is not JSON: {excerpt(response.content)}")

    def record(self, step, method, path, status, **facts):
        self.steps.append({"step": step, "request": f"{method} {path}", "status": status, **facts})

    # -- shopping operations (each validates its answer)

    def resource(self, step, kind, method, path, body=None, *, key=None, expect=(200,)):
        """A call whose answer is `kind` or the spec's error_response: returns (status, doc, is_error)."""
        status, doc, _ = self.request(step, method, path, body, key=key, expect=expect)
        is_error = isinstance(doc, dict) and isinstance(doc.get("ucp"), dict) and doc["ucp"].get("status") == "error"
        self.validator.check(step, "error" if is_error else kind, doc)
        return status, doc, is_error

    def checkout(self, step, method, path, body=None, *, key=None, expect=(200,)):
        status, doc, is_error = self.resource(step, "checkout", method, path, body, key=key, expect=expect)
        if is_error:
            raise Failure(step, f"{method} {path}: error_response {codes(doc)}, expected a checkout")
        check_checkout(step, doc)
        self.record(step, method, path, status, checkout=doc["id"], checkout_status=doc["status"], messages=codes(doc))
        return doc


# ---------------------------------------------------------------- checks on resources


def codes(doc) -> list[str]:
    return [f"{m.get('type')}:{m.get('code')}" for m in (doc.get("messages") or []) if isinstance(m, dict)] if isinstance(doc, dict) else []


def errors_of(doc) -> list[dict]:
    return [m for m in (doc.get("messages") or []) if isinstance(m, dict) and m.get("type") == "error"]


def check_checkout(step, doc):
    """What the spec requires of any checkout beyond its schema."""
    ucp = doc.get("ucp", {})
    if ucp.get("version") != VERSION:
        raise Failure(step, f"ucp.version {ucp.get('version')!r}, negotiated {VERSION}")
    if "dev.ucp.shopping.checkout" not in (ucp.get("capabilities") or {}):
        raise Failure(step, "ucp.capabilities lacks dev.ucp.shopping.checkout")
    if not isinstance(ucp.get("payment_handlers"), dict):
        raise Failure(step, "ucp.payment_handlers is required in a checkout response")
    totals = {t["type"]: t["amount"] for t in doc.get("totals", [])}
    parts = sum(t["amount"] for t in doc.get("totals", []) if t["type"] not in ("subtotal", "total")) + totals.get("subtotal", 0)
    if totals.get("total") != parts:
        raise Failure(step, f"totals do not add up: {doc.get('totals')}")
    if doc.get("status") == "completed" and not doc.get("order"):
        raise Failure(step, "status completed without order")
    if doc.get("status") != "completed" and doc.get("order"):
        raise Failure(step, f"order present with status {doc.get('status')}")
    if doc.get("status") == "requires_escalation" and not doc.get("continue_url"):
        raise Failure(step, "requires_escalation without continue_url")


def update_body(doc, **changes) -> dict:
    """A full-replacement update from the checkout as it is (the platform resends what it keeps)."""
    body = {
        "line_items": [{"id": li["id"], "item": {"id": li["item"]["id"]}, "quantity": li["quantity"]} for li in doc["line_items"]],
    }
    for field in ("buyer", "context"):
        if doc.get(field):
            body[field] = doc[field]
    if "discounts" in doc and doc["discounts"].get("codes"):
        body["discounts"] = {"codes": doc["discounts"]["codes"]}
    body.update(changes)
    return body


def shipping(doc, *, destination=None, option=None) -> dict:
    """The fulfillment member of an update: one shipping method over every line, an address or a selection."""
    line_ids = [li["id"] for li in doc["line_items"]]
    methods = (doc.get("fulfillment") or {}).get("methods") or []
    current = next((m for m in methods if m.get("type") == "shipping"), None)
    method = {"type": "shipping", "line_item_ids": line_ids}
    if current and current.get("id"):
        method["id"] = current["id"]
    if destination is not None:
        method["destinations"] = [{"type": "shipping_address", **destination}]
    if current and current.get("destinations"):
        method["selected_destination_id"] = current.get("selected_destination_id") or current["destinations"][0]["id"]
        if destination is None:
            method["destinations"] = [{k: v for k, v in d.items()} for d in current["destinations"] if d.get("type", "shipping_address") == "shipping_address"]
    if option is not None and current:
        groups = current.get("groups") or []
        if not groups:
            raise Failure("update", f"no fulfillment groups to choose option {option!r} from: {json.dumps(current)[:300]}")
        method["groups"] = [{"id": g["id"], "selected_option_id": option} for g in groups]
    return {"methods": [method]}


def instrument(handler_id, token) -> dict:
    return {
        "payment": {
            "instruments": [
                {
                    "id": "instr_1",
                    "handler_id": handler_id,
                    "type": "card",
                    "selected": True,
                    "credential": {"type": "PAYMENT_GATEWAY", "token": token},
                }
            ]
        }
    }


# ---------------------------------------------------------------- the journey


def ready_checkout(s: Shopper, *, from_cart: bool, discount: str | None = "WELCOME10") -> dict:
    """Catalog → cart → checkout → updates until ready_for_complete; returns the checkout."""
    _, found, _ = s.resource("search", "search", "POST", "/catalog/search", {"query": "mug"})
    ids = [v["id"] for p in found.get("products", []) for v in p.get("variants", [])]
    if IN_STOCK not in ids:
        raise Failure("search", f"searching 'mug' did not find {IN_STOCK} (variants found: {ids})")
    s.record("search", "POST", "/catalog/search", 200, products=len(found["products"]))
    _, looked, _ = s.resource("lookup", "lookup", "POST", "/catalog/lookup", {"ids": [IN_STOCK, "prod_tee"]})
    products = [p["id"] for p in looked.get("products", [])]
    if "prod_mug" not in products or "prod_tee" not in products:
        raise Failure("lookup", f"lookup of {IN_STOCK} and prod_tee gave products {products}")
    s.record("lookup", "POST", "/catalog/lookup", 200, products=products)
    lines = [{"item": {"id": IN_STOCK}, "quantity": 2}]
    create = {"line_items": lines}
    if from_cart:
        status, cart, is_error = s.resource("cart", "cart", "POST", "/carts", {"line_items": lines}, expect=(201,))
        if is_error:
            raise Failure("cart", f"cart create answered error_response {codes(cart)}")
        if [li["item"]["id"] for li in cart["line_items"]] != [IN_STOCK]:
            raise Failure("cart", f"cart lines {cart['line_items']}")
        s.record("cart", "POST", "/carts", status, cart=cart["id"])
        create = {"cart_id": cart["id"], "line_items": lines}
    doc = s.checkout("create", "POST", "/checkout-sessions", create, expect=(201,))
    if from_cart and doc.get("cart_id") != create["cart_id"]:
        raise Failure("create", f"checkout created from cart {create['cart_id']} carries cart_id {doc.get('cart_id')!r}")
    if [(li["item"]["id"], li["quantity"]) for li in doc["line_items"]] != [(IN_STOCK, 2)]:
        raise Failure("create", f"line items {doc['line_items']}")
    if doc["status"] == "completed":
        raise Failure("create", "a new checkout is already completed")
    cid = doc["id"]
    changes = {
        "buyer": {"email": "alice@example.com", "first_name": "Alice", "last_name": "Jones"},
        "fulfillment": shipping(doc, destination=ADDRESS),
    }
    if discount:
        changes["discounts"] = {"codes": [discount]}
    doc = s.checkout("update-address", "PUT", f"/checkout-sessions/{cid}", update_body(doc, **changes))
    if (doc.get("buyer") or {}).get("email") != "alice@example.com":
        raise Failure("update-address", f"buyer not kept: {doc.get('buyer')}")
    doc = s.checkout("update-option", "PUT", f"/checkout-sessions/{cid}", update_body(doc, fulfillment=shipping(doc, option="standard")))
    if doc["status"] != "ready_for_complete":
        raise Failure("update-option", f"status {doc['status']} after buyer, address and option (messages {codes(doc)}), expected ready_for_complete")
    totals = {t["type"]: t["amount"] for t in doc["totals"]}
    if discount:
        applied = [a.get("code", "").upper() for a in (doc.get("discounts") or {}).get("applied", [])]
        if discount not in applied:
            raise Failure("update-option", f"discount {discount} not applied: {doc.get('discounts')}")
        if totals.get("discount", 0) >= 0 and totals.get("items_discount", 0) >= 0:
            raise Failure("update-option", f"no negative discount total for {discount}: {doc['totals']}")
    if "fulfillment" not in totals:
        raise Failure("update-option", f"no fulfillment total after choosing standard shipping: {doc['totals']}")
    return doc


def journey(s: Shopper, args) -> dict:
    s.discover()
    doc = ready_checkout(s, from_cart=args.source == "cart")
    cid = doc["id"]
    key = str(uuid.uuid4())
    done = s.checkout("complete", "POST", f"/checkout-sessions/{cid}/complete", instrument(s.handler_id, "tok_success"), key=key)
    if done["status"] != "completed":
        raise Failure("complete", f"status {done['status']} (messages {codes(done)}), expected completed")
    order_id = done["order"]["id"]
    # The same request again with the same key: the stored answer, nothing done twice.
    again = s.checkout("complete-replay", "POST", f"/checkout-sessions/{cid}/complete", instrument(s.handler_id, "tok_success"), key=key)
    if (again.get("order") or {}).get("id") != order_id:
        raise Failure("complete-replay", f"replaying the complete with its Idempotency-Key gave order {again.get('order')}, first {order_id}")
    got = s.checkout("get", "GET", f"/checkout-sessions/{cid}")
    if got["status"] != "completed" or got["order"]["id"] != order_id:
        raise Failure("get", f"GET after complete: status {got['status']}, order {got.get('order')}")
    created = s.platform.wait_for("order.created", lambda b: isinstance(b, dict) and b.get("id") == order_id, args.timeout)
    s.validator.check("order.created", "order", created["body"])
    order = created["body"]
    if order.get("checkout_id") != cid:
        raise Failure("order.created", f"order {order_id} has checkout_id {order.get('checkout_id')!r}, expected {cid}")
    order_total = next((t["amount"] for t in order.get("totals", []) if t["type"] == "total"), None)
    checkout_total = next(t["amount"] for t in done["totals"] if t["type"] == "total")
    if order_total != checkout_total:
        raise Failure("order.created", f"order total {order_total} differs from the checkout's {checkout_total}")
    s.steps.append({"step": "order.created", "webhook_id": created["webhook_id"], "order": order_id, "kid": created.get("kid")})
    result = {"checkout_id": cid, "order_id": order_id, "total": checkout_total}
    for transition in [t for t in (args.drive or "").split(",") if t]:
        drive(s, args, order_id, transition)
    return result


FULFILLMENT_EVENT = {"ship": "shipped", "deliver": "delivered", "in_transit": "in_transit"}


def drive(s: Shopper, args, order_id: str, transition: str):
    """Move the order with the shop's control API, then wait for the verified webhook that shows it."""
    step = f"drive-{transition}"
    event = FULFILLMENT_EVENT.get(transition)
    if event is None:
        raise UsageError(f"--drive takes {', '.join(FULFILLMENT_EVENT)}, got {transition!r}")
    headers = {"Content-Type": "application/json"}
    if args.simulation_secret:
        headers["Simulation-Secret"] = args.simulation_secret
    response = s.http.post(f"{s.shop}/testing/orders/{order_id}/{transition}", headers=headers, content=b"{}")
    if response.status_code != 200:
        raise Failure(step, f"POST /testing/orders/{order_id}/{transition} answered HTTP {response.status_code}: {excerpt(response.content)}")

    def shows(body):
        events = ((body or {}).get("fulfillment") or {}).get("events") or []
        return body.get("id") == order_id and any(e.get("type") == event for e in events)

    record = s.platform.wait_for(step, shows, args.timeout)
    s.validator.check(step, "order", record["body"])
    s.steps.append({"step": step, "webhook_id": record["webhook_id"], "order": order_id, "event": event, "kid": record.get("kid")})


# ---------------------------------------------------------------- negative paths


def neg_idempotency_conflict(s: Shopper, args):
    key = str(uuid.uuid4())
    first = s.checkout("idem-create", "POST", "/checkout-sessions", {"line_items": [{"item": {"id": IN_STOCK}, "quantity": 1}]}, key=key, expect=(201,))
    replay = s.checkout("idem-replay", "POST", "/checkout-sessions", {"line_items": [{"item": {"id": IN_STOCK}, "quantity": 1}]}, key=key, expect=(201,))
    if replay["id"] != first["id"]:
        raise Failure("idem-replay", f"the same key and body created a second checkout ({replay['id']} after {first['id']})")
    status, doc, _ = s.request("idem-conflict", "POST", "/checkout-sessions", {"line_items": [{"item": {"id": IN_STOCK}, "quantity": 3}]}, key=key, expect=(409,))
    s.record("idem-conflict", "POST", "/checkout-sessions", status, code=(doc or {}).get("code"))


def neg_second_complete(s: Shopper, args):
    doc = ready_checkout(s, from_cart=False, discount=None)
    cid = doc["id"]
    done = s.checkout("complete", "POST", f"/checkout-sessions/{cid}/complete", instrument(s.handler_id, "tok_success"))
    if done["status"] != "completed":
        raise Failure("complete", f"status {done['status']} (messages {codes(done)})")
    status, again, is_error = s.resource("second-complete", "checkout", "POST", f"/checkout-sessions/{cid}/complete", instrument(s.handler_id, "tok_success"))
    if is_error:
        s.record("second-complete", "POST", f"/checkout-sessions/{cid}/complete", status, error_response=codes(again))
        return
    if not errors_of(again):
        raise Failure("second-complete", f"a second complete (new Idempotency-Key) was accepted without an error: status {again['status']}")
    if (again.get("order") or {}).get("id") != done["order"]["id"]:
        raise Failure("second-complete", f"a second complete changed the order: {again.get('order')} after {done['order']}")
    s.record("second-complete", "POST", f"/checkout-sessions/{cid}/complete", status, messages=codes(again))


def neg_update_after_cancel(s: Shopper, args):
    doc = s.checkout("create", "POST", "/checkout-sessions", {"line_items": [{"item": {"id": IN_STOCK}, "quantity": 1}]}, expect=(201,))
    cid = doc["id"]
    canceled = s.checkout("cancel", "POST", f"/checkout-sessions/{cid}/cancel")
    if canceled["status"] != "canceled":
        raise Failure("cancel", f"status {canceled['status']} after cancel")
    status, after, is_error = s.resource("update-after-cancel", "checkout", "PUT", f"/checkout-sessions/{cid}", update_body(doc, buyer={"email": "alice@example.com"}))
    if is_error:
        s.record("update-after-cancel", "PUT", f"/checkout-sessions/{cid}", status, error_response=codes(after))
        return
    if after["status"] != "canceled" or not errors_of(after):
        raise Failure("update-after-cancel", f"update of a canceled checkout gave status {after['status']} with messages {codes(after)}")
    if (after.get("buyer") or {}).get("email"):
        raise Failure("update-after-cancel", "the canceled checkout took the update's buyer")
    s.record("update-after-cancel", "PUT", f"/checkout-sessions/{cid}", status, messages=codes(after))


def neg_out_of_stock(s: Shopper, args):
    status, doc, is_error = s.resource("out-of-stock", "checkout", "POST", "/checkout-sessions", {"line_items": [{"item": {"id": OUT_OF_STOCK}, "quantity": 1}]}, expect=(200, 201))
    found = [m for m in errors_of(doc) if m.get("code") == "out_of_stock"]
    if not found:
        raise Failure("out-of-stock", f"creating a checkout of {OUT_OF_STOCK} (inventory 0) gave no out_of_stock error: {codes(doc)}")
    if not is_error:
        check_checkout("out-of-stock", doc)
        if doc["status"] in ("ready_for_complete", "completed"):
            raise Failure("out-of-stock", f"status {doc['status']} with an out-of-stock line")
    s.record("out-of-stock", "POST", "/checkout-sessions", status, error_response=is_error, messages=codes(doc))


def neg_unknown_discount(s: Shopper, args):
    doc = s.checkout("create", "POST", "/checkout-sessions", {"line_items": [{"item": {"id": IN_STOCK}, "quantity": 1}]}, expect=(201,))
    after = s.checkout("unknown-discount", "PUT", f"/checkout-sessions/{doc['id']}", update_body(doc, discounts={"codes": ["NOSUCHCODE"]}))
    warnings = [m for m in after.get("messages") or [] if m.get("code") == "discount_code_invalid"]
    if not warnings:
        raise Failure("unknown-discount", f"code NOSUCHCODE gave no discount_code_invalid message: {codes(after)}")
    if warnings[0].get("path") != "$.discounts.codes[0]":
        raise Failure("unknown-discount", f"discount_code_invalid path {warnings[0].get('path')!r}, expected $.discounts.codes[0]")
    if (after.get("discounts") or {}).get("applied"):
        raise Failure("unknown-discount", f"an unknown code applied a discount: {after['discounts']}")


def neg_declined_token(s: Shopper, args):
    doc = ready_checkout(s, from_cart=False, discount=None)
    after = s.checkout("declined-token", "POST", f"/checkout-sessions/{doc['id']}/complete", instrument(s.handler_id, "tok_decline"))
    if after["status"] == "completed" or not any(m.get("code") == "payment_failed" for m in errors_of(after)):
        raise Failure("declined-token", f"tok_decline gave status {after['status']} with messages {codes(after)}, expected no order and payment_failed")


def neg_unadvertised_handler(s: Shopper, args):
    doc = ready_checkout(s, from_cart=False, discount=None)
    after = s.checkout("unadvertised-handler", "POST", f"/checkout-sessions/{doc['id']}/complete", instrument("no_such_handler", "tok_success"))
    if after["status"] == "completed" or not errors_of(after):
        raise Failure("unadvertised-handler", f"handler no_such_handler gave status {after['status']} with messages {codes(after)}, expected no order and an error")


def protocol_error(s: Shopper, step, expect_status, expect_code, path="/carts", **kwargs):
    """A request the gateway must refuse before any handler runs: the flat {code, content} body, no ucp envelope.
    (A cart create: every shopping route passes the same gateway, and this one changes state, so it is signed with
    its Idempotency-Key.)"""
    body = {"line_items": [{"item": {"id": IN_STOCK}, "quantity": 1}]}
    status, doc, _ = s.request(step, "POST", path, body, expect=(expect_status,), **kwargs)
    if not isinstance(doc, dict) or doc.get("code") != expect_code or not isinstance(doc.get("content"), str):
        raise Failure(step, f"HTTP {status} body {doc!r}, expected {{\"code\": \"{expect_code}\", \"content\": ...}}")
    if "ucp" in doc:
        raise Failure(step, "a transport error body carries a ucp envelope")
    s.record(step, "POST", path, status, code=doc["code"])


def neg_version_unsupported(s: Shopper, args):
    protocol_error(s, "version-unsupported", 422, "version_unsupported", profile_url=s.platform.old_profile_url)


def neg_profile_unreachable(s: Shopper, args):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    protocol_error(s, "profile-unreachable", 424, "profile_unreachable", profile_url=f"http://127.0.0.1:{port}/.well-known/ucp")


def neg_bad_signature(s: Shopper, args):
    protocol_error(s, "tampered-signature", 401, "signature_invalid", tamper=True)
    protocol_error(s, "unsigned", 401, "signature_missing", sign=False)


NEGATIVE_RUNNERS = {
    "idempotency-conflict": neg_idempotency_conflict,
    "second-complete": neg_second_complete,
    "update-after-cancel": neg_update_after_cancel,
    "out-of-stock": neg_out_of_stock,
    "unknown-discount": neg_unknown_discount,
    "declined-token": neg_declined_token,
    "unadvertised-handler": neg_unadvertised_handler,
    "version-unsupported": neg_version_unsupported,
    "profile-unreachable": neg_profile_unreachable,
    "bad-signature": neg_bad_signature,
}


# ---------------------------------------------------------------- main


def self_test(validator: Validator) -> dict:
    """The platform side alone: its profile is valid, it signs, its receiver refuses an unsigned webhook."""
    platform = Platform()
    try:
        doc = httpx.get(platform.profile_url).json()
        validator.check("self-test", "platform_profile", doc)
        response = httpx.post(platform.webhook_url, content=b"{}", headers={"Content-Type": "application/json"})
        if response.status_code != 401:
            raise Failure("self-test", f"an unsigned webhook was answered HTTP {response.status_code}")
        return {"profile": platform.profile_url}
    finally:
        platform.close()


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def main(argv) -> int:
    parser = _Parser(description="An independent UCP platform that shops at a ucpsim shop (see the module docstring).")
    parser.add_argument("--shop", help="the shop's base URL (its /.well-known/ucp is read first)")
    parser.add_argument("--schemas", help="the UCP schema set of 2026-08-25 (default: <repo>/../shared/ucp-schemas/main)")
    parser.add_argument("--no-schemas", action="store_true", help="validate with the SDK only")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a response or a webhook (default 30)")
    parser.add_argument("--platform-port", type=int, default=0, help="loopback port of the platform's profile and receiver (default: any free one)")
    parser.add_argument("--simulation-secret", help="the shop's --simulation-secret, for --drive")
    parser.add_argument("--self-test", action="store_true", help="check the platform side alone (no shop)")
    sub = parser.add_subparsers(dest="command")
    j = sub.add_parser("journey", help="the happy path, ending with the verified order.created webhook")
    j.add_argument("--from", dest="source", choices=["cart", "items"], default="cart", help="create the checkout from a cart (default) or from line items")
    j.add_argument("--drive", help="then move the order: comma-separated control-API transitions (ship, in_transit, deliver)")
    n = sub.add_parser("negative", help="negative paths")
    n.add_argument("names", nargs="+", metavar="NAME", help=f"one of {', '.join(NEGATIVES)}, or all (every one but bad-signature)")
    result = {"ok": False, "command": None, "steps": [], "failures": [], "disagreements": []}
    platform = None
    try:
        args = parser.parse_args(argv)
        schemas = None
        if not args.no_schemas:
            schemas = Path(args.schemas or os.environ.get("UCP_SCHEMAS_MAIN") or DEFAULT_SCHEMAS)
            if not (schemas / "schemas" / "shopping" / "checkout.json").is_file():
                raise UsageError(f"no UCP schema set at {schemas} (give --schemas DIR, or --no-schemas)")
        validator = Validator(schemas)
        result["schemas"] = str(schemas) if schemas else None
        if args.self_test:
            result.update(command="self-test", **self_test(validator))
            result["ok"] = True
            return 0
        if not args.command or not args.shop:
            raise UsageError("give --shop URL and a command: journey or negative NAME...")
        if urlsplit(args.shop).scheme not in ("http", "https"):
            raise UsageError(f"--shop must be an http(s) URL, got {args.shop!r}")
        platform = Platform(args.platform_port)
        shopper = Shopper(args.shop, platform, validator, args.timeout)
        result["platform_profile"] = platform.profile_url
        validator.check("platform-profile", "platform_profile", platform.profile(VERSION))
        try:
            if args.command == "journey":
                result["command"] = f"journey --from {args.source}" + (f" --drive {args.drive}" if args.drive else "")
                result.update(journey(shopper, args))
            else:
                names = [x for x in NEGATIVES if x != "bad-signature"] if args.names == ["all"] else args.names
                unknown = [x for x in names if x not in NEGATIVE_RUNNERS]
                if unknown:
                    raise UsageError(f"unknown negative case {', '.join(unknown)} (known: {', '.join(NEGATIVES)}, all)")
                result["command"] = "negative " + " ".join(names)
                shopper.discover()
                result["cases"] = {}
                for name in names:
                    try:
                        NEGATIVE_RUNNERS[name](shopper, args)
                        result["cases"][name] = "ok"
                    except Failure as f:
                        result["cases"][name] = f"FAIL {f.step}: {f.reason}"
                        result["failures"].append({"case": name, "step": f.step, "reason": f.reason})
                    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
                        reason = f"unexpected answer shape: {type(e).__name__}: {e}"
                        result["cases"][name] = f"FAIL {name}: {reason}"
                        result["failures"].append({"case": name, "step": name, "reason": reason})
        except Failure as f:
            result["failures"].append({"step": f.step, "reason": f.reason})
        except httpx.HTTPError as e:
            result["failures"].append({"step": "http", "reason": f"{type(e).__name__}: {e}"})
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            # An answer shaped unlike anything checked above: one readable line, not a trace.
            last = shopper.steps[-1]["step"] if shopper.steps else "start"
            result["failures"].append({"step": f"after {last}", "reason": f"unexpected answer shape: {type(e).__name__}: {e}"})
        result["steps"] = shopper.steps
        result["responses"] = {"signed": shopper.signed_responses, "unsigned": shopper.unsigned_responses}
        result["webhooks"] = [
            {k: r.get(k) for k in ("webhook_id", "order_id", "verified", "reason", "kid")} for r in platform.webhooks
        ]
        result["validated"] = validator.checked
        result["disagreements"] = validator.disagreements
        result["ok"] = not result["failures"]
        for f in result["failures"]:
            print(f"ucp_platform: FAIL {f.get('case', '') + ' ' if 'case' in f else ''}{f['step']}: {f['reason']}", file=sys.stderr)
        return 0 if result["ok"] else 1
    except Failure as f:
        result["failures"].append({"step": f.step, "reason": f.reason})
        print(f"ucp_platform: FAIL {f.step}: {f.reason}", file=sys.stderr)
        return 1
    except UsageError as e:
        result["failures"].append({"step": "usage", "reason": str(e)})
        print(f"ucp_platform: usage_error: {e}", file=sys.stderr)
        return 2
    finally:
        if platform is not None:
            platform.close()
        print(json.dumps(result, sort_keys=True, default=str))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
