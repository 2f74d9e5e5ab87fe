#!/usr/bin/env python3
"""Validate JSON documents emitted by ucpsim against the official UCP schemas
and, for release 2026-08-25, the official Python SDK's models.

Usage:
    python3 Tests/tools/validate_schemas.py --kind order|profile|error|webhook-response|search|lookup|product|cart|identity-linking
        [--version auto|2026-04-08|2026-08-25] [--many] FILE [FILE...]

FILE may be "-" for stdin. With --many, each FILE must hold a JSON array and
every element is validated as a separate document (labelled FILE[i]).

Each document is validated against the schema set of its release: the one
--version names, or by default (auto) the one its own ucp.version names. The
sets live under the schema root (env UCP_SCHEMAS_DIR, default
<repo root>/../shared/ucp-schemas); `main` stands for release 2026-08-25:

    kind              2026-04-08 set                                         main set (2026-08-25)
    order             schemas/shopping/order.json                            schemas/shopping/order.json
    profile           discovery/profile_schema.json#/$defs/business_profile  schemas/profile.json#/$defs/business_schema
    error             schemas/shopping/types/error_response.json             schemas/common/types/error_response.json
    webhook-response  services/shopping/rest.openapi.json webhooks.orderEvent 200 body, its `ucp` also checked
                      against schemas/ucp.json#/$defs/response_order_schema (the OpenAPI's bare ucp.json
                      reference constrains nothing by itself)
    search            schemas/shopping/catalog_search.json#/$defs/search_response (both sets)
    lookup            schemas/shopping/catalog_lookup.json#/$defs/lookup_response (both sets)
    product           schemas/shopping/catalog_lookup.json#/$defs/get_product_response (both sets)
    cart              schemas/shopping/cart.json (both sets)
    identity-linking  schemas/common/identity_linking.json#/$defs/dev.ucp.common.identity_linking/business_schema
                      (both sets): one entry of a business profile's dev.ucp.common.identity_linking, its release
                      from its own `version`

Beyond the schemas' keywords:
- tracking: every fulfillment event whose type is not `processing` carries
  tracking_number and tracking_url (types/fulfillment_event.json says so in
  its descriptions; its `required` list cannot express it);
- ucp-sdk: a 2026-08-25 document must parse with the `ucp-sdk` 0.5.0
  pydantic model of its kind in strict mode: Order, profile.BusinessSchema,
  ErrorResponse, SearchResponse, LookupResponse, GetProductResponse, Cart.

Output, one line per document per check:
    ok <check> <file>                                  (check: a set name, tracking, ucp-sdk-0.5.0)
    invalid <check> <file>: <json path>: <message>    (one line per error)

Exit status: 0 all valid; 1 any document invalid; 2 usage error, unreadable
file, not JSON (or the schemas themselves cannot be loaded/resolved);
3 schema root absent (prints "SKIPPED: UCP schemas not found at <path>" on
stderr). 2 takes precedence over 1.

Requires: jsonschema >= 4.18 (with referencing).  pip install jsonschema
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

try:
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012
except ImportError as exc:  # pragma: no cover
    print(f"error: missing dependency ({exc}); run: pip install 'jsonschema>=4.18'", file=sys.stderr)
    sys.exit(2)

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parent.parent
DEFAULT_SCHEMAS_DIR = REPO_ROOT.parent / "shared" / "ucp-schemas"

# Every schema's $id lives under this base. Both sets reuse the same $ids, so
# each set gets its own registry.
ID_BASE = "https://ucp.dev/"

SETS = ("2026-04-08", "main")

# Release date -> schema set folder.
RELEASES = {"2026-04-08": "2026-04-08", "2026-08-25": "main"}

# The SDK release whose models stand for 2026-08-25.
SDK_RELEASE = "2026-08-25"
SDK_NAME = "ucp-sdk-0.5.0"

# (set, kind) -> path of the entry schema relative to the set folder, plus a
# JSON pointer fragment (or "").
ENTRY_POINTS = {
    ("2026-04-08", "order"): ("schemas/shopping/order.json", ""),
    ("main", "order"): ("schemas/shopping/order.json", ""),
    ("2026-04-08", "profile"): ("discovery/profile_schema.json", "/$defs/business_profile"),
    ("main", "profile"): ("schemas/profile.json", "/$defs/business_schema"),
    ("2026-04-08", "platform-profile"): ("discovery/profile_schema.json", "/$defs/platform_profile"),
    ("main", "platform-profile"): ("schemas/profile.json", "/$defs/platform_schema"),
    ("2026-04-08", "error"): ("schemas/shopping/types/error_response.json", ""),
    ("main", "error"): ("schemas/common/types/error_response.json", ""),
    ("2026-04-08", "webhook-response"): ("services/shopping/rest.openapi.json", ""),
    ("main", "webhook-response"): ("services/shopping/rest.openapi.json", ""),
}
for _set in ("2026-04-08", "main"):
    ENTRY_POINTS[(_set, "search")] = ("schemas/shopping/catalog_search.json", "/$defs/search_response")
    ENTRY_POINTS[(_set, "lookup")] = ("schemas/shopping/catalog_lookup.json", "/$defs/lookup_response")
    ENTRY_POINTS[(_set, "product")] = ("schemas/shopping/catalog_lookup.json", "/$defs/get_product_response")
    ENTRY_POINTS[(_set, "cart")] = ("schemas/shopping/cart.json", "")

# One entry of a business profile's `ucp.capabilities["dev.ucp.common.identity_linking"]` (its release is its own
# `version`, there being no `ucp` member to name it).
IDENTITY_LINKING_ENTRY = "schemas/common/identity_linking.json#/$defs/dev.ucp.common.identity_linking/business_schema"
ENTRY_POINTS[("main", "identity-linking")] = tuple(IDENTITY_LINKING_ENTRY.split("#"))
ENTRY_POINTS[("2026-04-08", "identity-linking")] = ("schemas/common/identity_linking.json", "/$defs/dev.ucp.common.identity_linking/business_schema")

KINDS = ["order", "profile", "platform-profile", "error", "webhook-response", "search", "lookup", "product", "cart", "identity-linking"]

OPENAPI = "services/shopping/rest.openapi.json"

MAX_MESSAGE = 300


class UsageError(Exception):
    pass


def path_uri(rel: str) -> str:
    """URI a schema file would have if its $id mirrored its on-disk location."""
    return ID_BASE + rel


def load_registry(set_dir: Path) -> tuple[Registry, dict[str, str]]:
    """Load every *.json schema in set_dir into one registry keyed by $id.

    Returns the registry and a map relpath -> URI to use for entry lookups.

    Quirk handled here: 2026-04-08/discovery/profile_schema.json declares
    $id https://ucp.dev/schemas/discovery/profile.json but refers to
    "../schemas/ucp.json", which only resolves relative to the *file*
    (against its $id it would be https://ucp.dev/schemas/schemas/ucp.json).
    For any file whose $id differs from its on-disk location, we also register
    an in-memory copy whose $id is rewritten to the location-derived URI
    (https://ucp.dev/<relpath>), so relative $refs resolve file-relatively,
    and we use that URI as its entry point. The files are never modified.
    """
    resources: list[tuple[str, Resource]] = []
    uri_for: dict[str, str] = {}
    for path in sorted(set_dir.rglob("*.json")):
        rel = path.relative_to(set_dir).as_posix()
        try:
            contents = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"cannot load schema {path}: {exc}") from exc
        if not isinstance(contents, dict):
            continue
        if "openapi" in contents:
            continue  # rest.openapi.json is not a JSON Schema document
        schema_id = contents.get("$id")
        location = path_uri(rel)
        if isinstance(schema_id, str) and schema_id:
            resources.append((schema_id, Resource(contents=contents, specification=DRAFT202012)))
            uri_for[rel] = schema_id
        if schema_id != location:
            copy = dict(contents)
            copy["$id"] = location
            resources.append((location, Resource(contents=copy, specification=DRAFT202012)))
            uri_for[rel] = location
    registry = Registry().with_resources(resources).crawl()
    return registry, uri_for


def make_format_checker() -> FormatChecker:
    """Format assertions (Draft 2020-12 treats "format" as annotation only by
    default; we opt in). date-time needs rfc3339-validator and uuid is
    built in. jsonschema's own "uri" checker needs the rfc3987 package, which
    is usually absent; in that case we install a cheap stand-in: an absolute
    URI per RFC 3986 (scheme ":" ...), no whitespace or characters that are
    never allowed in a URI, and a host for http(s). "uri-reference" is only
    checked if jsonschema has a checker for it."""
    checker = FormatChecker()
    if "uri" not in checker.checkers:
        scheme_re = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
        bad_re = re.compile(r'[\s<>"{}|\\^`\x00-\x1f\x7f]')

        @checker.checks("uri", raises=ValueError)
        def is_uri(value: object) -> bool:
            if not isinstance(value, str):
                return True
            if not scheme_re.match(value) or bad_re.search(value):
                return False
            parts = urlsplit(value)  # raises ValueError on e.g. bad IPv6
            if parts.scheme.lower() in ("http", "https") and not parts.hostname:
                return False
            return True

    return checker


def webhook_response_schema(set_dir: Path) -> dict:
    """The orderEvent webhook's 200 body schema from the set's OpenAPI document, with its
    #/components/schemas references resolved against the document's location, and its
    `ucp` member also held to ucp.json#/$defs/response_order_schema."""
    try:
        openapi = json.loads((set_dir / OPENAPI).read_text(encoding="utf-8"))
        schema = openapi["webhooks"]["orderEvent"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(f"cannot read webhooks.orderEvent from {set_dir / OPENAPI}: {exc}") from exc
    components = openapi.get("components", {}).get("schemas", {})
    base = path_uri(OPENAPI)

    def resolve(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                target = components.get(ref.rsplit("/", 1)[-1])
                if not isinstance(target, dict) or not isinstance(target.get("$ref"), str):
                    raise RuntimeError(f"{OPENAPI}: cannot resolve {ref}")
                return {"$ref": urljoin(base, target["$ref"])}
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [
            resolve(schema),
            {"properties": {"ucp": {"$ref": urljoin(base, "../../schemas/ucp.json") + "#/$defs/response_order_schema"}}},
        ],
    }


def build_validators(root: Path, kind: str) -> dict[str, Draft202012Validator]:
    format_checker = make_format_checker()
    validators = {}
    for set_name in SETS:
        set_dir = root / set_name
        if not set_dir.is_dir():
            raise FileNotFoundError(set_dir)
        registry, uri_for = load_registry(set_dir)
        if kind == "webhook-response":
            schema = webhook_response_schema(set_dir)
            for ref in (schema["allOf"][1]["properties"]["ucp"]["$ref"],):
                registry.resolver().lookup(ref)
            validators[set_name] = Draft202012Validator(schema, registry=registry, format_checker=format_checker)
            continue
        rel, fragment = ENTRY_POINTS[(set_name, kind)]
        if rel not in uri_for:
            raise RuntimeError(f"entry schema {set_dir / rel} missing or has no $id")
        ref = uri_for[rel] + ("#" + fragment if fragment else "")
        # Fail early (exit 2) if the entry point itself does not resolve.
        registry.resolver().lookup(ref)
        validators[set_name] = Draft202012Validator(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": ref},
            registry=registry,
            format_checker=format_checker,
        )
    return validators


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def read_documents(name: str, many: bool) -> list[tuple[str, object]]:
    try:
        if name == "-":
            text = sys.stdin.buffer.read().decode("utf-8")
        else:
            text = Path(name).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {name}: {exc}") from exc
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise UsageError(f"{name}: not JSON: {exc}") from exc
    if not many:
        return [(name, doc)]
    if not isinstance(doc, list):
        raise UsageError(f"{name}: --many given but the file does not hold a JSON array")
    return [(f"{name}[{i}]", item) for i, item in enumerate(doc)]


def short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."


def describe(error) -> str:
    text = f"{error.json_path}: {short(error.message)}"
    if error.context:  # anyOf / oneOf: say which branch came closest
        from jsonschema.exceptions import best_match

        best = best_match(error.context)
        if best is not None:
            text += f" [closest: {best.json_path}: {short(best.message)}]"
    return text


def tracking_errors(doc: object) -> list[str]:
    """Fulfillment events other than `processing` without tracking_number or tracking_url."""
    if not isinstance(doc, dict):
        return []
    fulfillment = doc.get("fulfillment")
    events = fulfillment.get("events") if isinstance(fulfillment, dict) else None
    errors = []
    for index, event in enumerate(events if isinstance(events, list) else []):
        if not isinstance(event, dict) or event.get("type") == "processing":
            continue
        for field in ("tracking_number", "tracking_url"):
            if not isinstance(event.get(field), str) or not event.get(field):
                errors.append(
                    f"$.fulfillment.events[{index}]: a {event.get('type')!r} event needs {field} "
                    "(required if type != processing)"
                )
    return errors


def sdk_model(kind: str):
    """The ucp-sdk 0.5.0 model for a kind, or None when the SDK has none to check it with."""
    try:
        from ucp_sdk.models.schemas import profile
        from ucp_sdk.models.schemas.common.types import error_response
        from ucp_sdk.models.schemas.shopping import cart, catalog_lookup, catalog_search, order
    except ImportError as exc:
        raise RuntimeError(f"missing dependency ({exc}); run: pip install ucp-sdk==0.5.0") from exc
    return {
        "order": order.Order,
        "profile": profile.BusinessSchema,
        "platform-profile": profile.PlatformSchema,
        "error": error_response.ErrorResponse,
        "search": catalog_search.SearchResponse,
        "lookup": catalog_lookup.LookupResponse,
        "product": catalog_lookup.GetProductResponse,
        "cart": cart.Cart,
    }.get(kind)


def sdk_errors(model, doc: object) -> list[str]:
    from pydantic import ValidationError

    try:
        model.model_validate_json(json.dumps(doc), strict=True)
    except ValidationError as exc:
        return [
            "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]) + ": " + short(error["msg"])
            for error in exc.errors()
        ]
    return []


def document_set(doc: object, requested: str, kind: str = "") -> tuple[str | None, str]:
    """(schema set, release) for a document: the requested release, or its own ucp.version (a capability entry's
    own version)."""
    if requested != "auto":
        return RELEASES[requested], requested
    if kind == "identity-linking":
        version = doc.get("version") if isinstance(doc, dict) else None
        return RELEASES.get(version) if isinstance(version, str) else None, str(version)
    version = doc.get("ucp", {}).get("version") if isinstance(doc, dict) and isinstance(doc.get("ucp"), dict) else None
    return RELEASES.get(version) if isinstance(version, str) else None, str(version)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Validate UCP documents against the UCP schemas of their release.")
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument(
        "--version",
        default="auto",
        choices=["auto", *RELEASES],
        help="the release to validate against (default: each document's ucp.version)",
    )
    parser.add_argument("--many", action="store_true", help="each FILE holds a JSON array of documents")
    parser.add_argument("files", nargs="+", metavar="FILE", help='JSON file, or "-" for stdin')
    args = parser.parse_args(argv)  # exits 2 on usage errors

    if sum(1 for f in args.files if f == "-") > 1:
        print("error: stdin (-) may be given only once", file=sys.stderr)
        return 2

    root = Path(os.environ.get("UCP_SCHEMAS_DIR") or DEFAULT_SCHEMAS_DIR).resolve()
    if not root.is_dir() or not all((root / s).is_dir() for s in SETS):
        print(f"SKIPPED: UCP schemas not found at {root}", file=sys.stderr)
        return 3

    try:
        validators = build_validators(root, args.kind)
    except (RuntimeError, Unresolvable, FileNotFoundError) as exc:
        print(f"error: cannot load UCP schemas from {root}: {exc}", file=sys.stderr)
        return 2
    try:
        model = sdk_model(args.kind)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    status = 0
    for name in args.files:
        try:
            documents = read_documents(name, args.many)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        for label, doc in documents:
            set_name, release = document_set(doc, args.version, args.kind)
            if set_name is None:
                status = status or 1
                print(f"invalid release {label}: $.ucp.version: {release} is not a known release ({', '.join(RELEASES)})")
                continue
            try:
                errors = sorted(validators[set_name].iter_errors(doc), key=lambda e: (e.json_path, e.message))
            except Unresolvable as exc:
                print(f"error: {set_name}: schema $ref does not resolve: {exc}", file=sys.stderr)
                return 2
            checks = [(set_name, [describe(error) for error in errors])]
            if args.kind == "order":
                checks.append(("tracking", tracking_errors(doc)))
            if model is not None and release == SDK_RELEASE:
                checks.append((SDK_NAME, sdk_errors(model, doc)))
            for check, messages in checks:
                if not messages:
                    print(f"ok {check} {label}")
                    continue
                status = status or 1
                seen = set()  # allOf branches often report the same failure twice
                for message in messages:
                    line = f"invalid {check} {label}: {message}"
                    if line not in seen:
                        seen.add(line)
                        print(line)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
