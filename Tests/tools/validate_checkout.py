#!/usr/bin/env python3
"""Validate checkout answers ucpsim emitted, release 2026-08-25.

Usage:
    python3 Tests/tools/validate_checkout.py [--release 2026-04-08] FILE

With --release 2026-04-08 the answers are checked against the 2026-04-08
schema set instead (jsonschema only: the SDK models are 2026-08-25's).

FILE holds a JSON array of answers of the checkout REST operations. Each is
either a checkout (ucp.status "success") or an error_response (ucp.status
"error"), and is checked:

    checkout        jsonschema: main/schemas/shopping/checkout.json, and the
                    extensions' checkout shapes fulfillment.json and
                    discount.json #/$defs/dev.ucp.shopping.checkout;
                    ucp-sdk 0.5.0 strict: shopping.checkout.Checkout,
                    shopping.fulfillment.Checkout, shopping.discount.Checkout
    error_response  jsonschema: main/schemas/common/types/error_response.json;
                    ucp-sdk 0.5.0 strict: common.types.error_response.ErrorResponse

Output: one line per answer, "ok FILE[i]" or "invalid FILE[i]: <check>: <path>:
<message>" per error. Exit 0 all valid, 1 any invalid, 2 usage or unreadable,
3 schemas absent (prints SKIPPED).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate_schemas as vs  # noqa: E402

from jsonschema import Draft202012Validator  # noqa: E402


def validators(set_dir: Path, legacy: bool) -> dict[str, list[tuple[str, Draft202012Validator]]]:
    registry, uri_for = vs.load_registry(set_dir)
    checker = vs.make_format_checker()

    def make(rel: str, fragment: str = "") -> Draft202012Validator:
        ref = uri_for[rel] + ("#" + fragment if fragment else "")
        registry.resolver().lookup(ref)
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": ref}
        return Draft202012Validator(schema, registry=registry, format_checker=checker)

    return {
        "checkout": [
            ("checkout.json", make("schemas/shopping/checkout.json")),
            ("fulfillment.json", make("schemas/shopping/fulfillment.json", "/$defs/dev.ucp.shopping.checkout")),
            ("discount.json", make("schemas/shopping/discount.json", "/$defs/dev.ucp.shopping.checkout")),
        ],
        "error": [
            (
                "error_response.json",
                make(
                    "schemas/shopping/types/error_response.json"
                    if legacy
                    else "schemas/common/types/error_response.json"
                ),
            )
        ],
    }


def models() -> dict[str, list[tuple[str, object]]]:
    from ucp_sdk.models.schemas.common.types import error_response
    from ucp_sdk.models.schemas.shopping import checkout, discount, fulfillment

    return {
        "checkout": [
            ("Checkout", checkout.Checkout),
            ("fulfillment.Checkout", fulfillment.Checkout),
            ("discount.Checkout", discount.Checkout),
        ],
        "error": [("ErrorResponse", error_response.ErrorResponse)],
    }


def main(argv: list[str]) -> int:
    legacy = len(argv) == 4 and argv[1] == "--release" and argv[2] == "2026-04-08"
    if legacy:
        argv = [argv[0], argv[3]]
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(os.environ.get("UCP_SCHEMAS_DIR", vs.DEFAULT_SCHEMAS_DIR))
    set_name = "2026-04-08" if legacy else "main"
    if not (root / set_name).is_dir():
        print(f"SKIPPED: UCP schemas not found at {root}", file=sys.stderr)
        return 3
    try:
        documents = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {argv[1]}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(documents, list):
        print(f"error: {argv[1]} must hold a JSON array", file=sys.stderr)
        return 2
    schemas = validators(root / set_name, legacy)
    sdk = {"checkout": [], "error": []} if legacy else models()
    invalid = False
    for index, doc in enumerate(documents):
        label = f"{argv[1]}[{index}]"
        kind = "error" if isinstance(doc, dict) and doc.get("ucp", {}).get("status") == "error" else "checkout"
        problems = []
        for name, validator in schemas[kind]:
            for error in validator.iter_errors(doc):
                problems.append(f"{name}: {vs.describe(error)}")
        for name, model in sdk[kind]:
            for error in vs.sdk_errors(model, doc):
                problems.append(f"ucp-sdk {name}: {error}")
        if problems:
            invalid = True
            for problem in problems:
                print(f"invalid {label} ({kind}): {problem}")
        else:
            print(f"ok {label} ({kind})")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
