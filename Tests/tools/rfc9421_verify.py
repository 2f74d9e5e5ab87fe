#!/usr/bin/env python3
"""Independent verifier for ucpsim's signed UCP webhooks (RFC 9421 + RFC 9530).

Built on PyPI ``http-message-signatures==3.0.0`` (see requirements.txt), which is
an implementation we did not write; used by the Swift tests and by CI.

Usage:
    python3 Tests/tools/rfc9421_verify.py REQUEST.json JWKS.json [--now UNIX] [--max-age SECONDS|none]
    python3 Tests/tools/rfc9421_verify.py REQUEST.json JWKS.json --signature-only
    python3 Tests/tools/rfc9421_verify.py RESPONSE.json JWKS.json --response [--now UNIX]
    python3 Tests/tools/rfc9421_verify.py --self-test

REQUEST.json: {"method": "POST", "url": "http://127.0.0.1:1234/hook?x=1",
               "headers": [["Content-Type", "application/json"], ...],   # field lines as received
               "body_base64": "..."}
RESPONSE.json (--response): {"status": 200, "headers": [[name, value], ...], "body_base64": "..."}
              a response signature must cover "@status", and "content-digest" and
              "content-type" when there is a body (UCP's response signatures).
JWKS.json:    {"keys": [{"kid": ..., "kty": "EC", "crv": "P-256", "x": ..., "y": ...}, ...]}

Output: exactly one line on stdout.
    verified kid=<kid>                 exit 0
    <reason>: <detail>                 exit 1, reason is one of digest_mismatch,
        signature_missing, signature_invalid, key_not_found, coverage_insufficient,
        algorithm_unsupported
    usage_error: <detail> (on stderr)  exit 2, bad arguments or unreadable input

Checks follow the order of the UCP spec's verify_rest_request (signatures.md):
parse Signature-Input -> key lookup by keyid (key_not_found) -> algorithm from
the JWK (algorithm_unsupported) -> coverage (coverage_insufficient) ->
Content-Digest over the raw body (digest_mismatch) -> RFC 9421 signature via
http_message_signatures.HTTPMessageVerifier (signature_invalid).

--signature-only checks the RFC 9421 signature alone: the key by keyid, then the
library's signature check over the signature base, with no coverage, Content-Digest
or created/expires rules (what ucpsim's exported vectors call signature_verifies).

Notes on http-message-signatures 3.0.0, from its source:
* Messages: any object with an uppercase ``method``, an absolute encoded ``url``
  string and ``headers`` whose ``items()`` yields (name, value) field lines, and
  no ``status_code`` attribute (that would make it a response). No ``requests``
  object and no network are needed; ``_FieldLines``/``_Request`` below suffice.
* The algorithm is the class given to the verifier, never taken from the
  message. An ``alg`` parameter, if present, must equal that class's id.
  We pick the class from the JWK (EC P-256 / P-384, OKP Ed25519).
* ECDSA_P256_SHA256 / ECDSA_P384_SHA384 ``verify()`` take the RFC 9421 raw
  ``r||s`` form (64 / 96 bytes, length enforced) and convert to DER
  internally, so no conversion is done here. A DER signature fails.
* Time: ``verify()`` requires ``created`` (require_created=True), rejects
  ``created`` more than 5 s (max_clock_skew) in the future, an elapsed
  ``expires``, and, by default, ``created`` older than max_age=1 day. It reads
  the clock with ``datetime.now()`` and has no "now" argument, so ``--now``
  is implemented by overriding ``validate_created_and_expires`` with the same
  rules evaluated at the given instant.
* Signature-Input parameters other than alg/created/expires/keyid/nonce/tag
  are rejected; the ``@signature-params`` line is the library's canonical
  re-serialization of the parsed Signature-Input member, so a signer must
  serialize it canonically (``("a" "b");created=N;keyid="k"``, single spaces).
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import hmac
import json
import os
import subprocess
import sys
import warnings

try:
    import http_sf
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from http_message_signatures import (
        HTTPMessageSignaturesException,
        HTTPMessageVerifier,
        HTTPSignatureKeyResolver,
        InvalidSignature,
        algorithms,
    )
    from http_message_signatures.signatures import SignatureVerifyWarning
except ImportError as _e:  # pragma: no cover
    print(f"usage_error: missing dependency ({_e}); pip install -r Tests/tools/requirements.txt", file=sys.stderr)
    sys.exit(2)

REQUIRED_COMPONENTS = (
    "@method",
    "@authority",
    "@path",
    "content-digest",
    "content-type",
    "ucp-agent",
    "webhook-id",
    "webhook-timestamp",
)
DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


class Failure(Exception):
    def __init__(self, reason, detail):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- message view


class _FieldLines:
    """Read-only header container: items() yields every field line in order."""

    def __init__(self, pairs):
        self._pairs = list(pairs)

    def items(self):
        return list(self._pairs)

    def __iter__(self):
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def __contains__(self, name):
        return any(n.lower() == name.lower() for n, _ in self._pairs)

    def combined(self, name):
        """Field value with all lines joined by ', ' (RFC 9110), or None."""
        values = [v.strip(" \t") for n, v in self._pairs if n.lower() == name.lower()]
        return ", ".join(values) if values else None


class _Request:
    def __init__(self, method, url, headers):
        self.method = method
        self.url = url
        self.headers = headers


class _Response:
    """A response for the library: the status_code attribute makes it one."""

    def __init__(self, status_code, headers):
        self.status_code = status_code
        self.headers = headers
        self.request = None


# ---------------------------------------------------------------- keys


def _b64url(value, what):
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"{what} is not base64url") from e


_EC_CURVES = {
    # crv: (curve class, coordinate bytes, algorithm class, acceptable JWK alg values)
    "P-256": (ec.SECP256R1, 32, algorithms.ECDSA_P256_SHA256, {"ES256"}),
    "P-384": (ec.SECP384R1, 48, algorithms.ECDSA_P384_SHA384, {"ES384"}),
}


def algorithm_for_jwk(jwk):
    """Return (algorithm class, cryptography public key); the algorithm comes from kty/crv only."""
    kty, crv, jwk_alg = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    if kty == "EC" and crv in _EC_CURVES:
        curve, size, alg_cls, alg_names = _EC_CURVES[crv]
        if jwk_alg is not None and jwk_alg not in alg_names:
            raise Failure("algorithm_unsupported", f"JWK alg {jwk_alg!r} does not match crv {crv}")
        try:
            x, y = _b64url(jwk.get("x"), "x"), _b64url(jwk.get("y"), "y")
            if len(x) != size or len(y) != size:
                raise ValueError(f"x and y must be {size} bytes")
            key = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve()
            ).public_key()
        except ValueError as e:
            raise Failure("key_not_found", f"JWK kid={jwk.get('kid')} is not a usable {crv} key: {e}")
        return alg_cls, key
    if kty == "OKP" and crv == "Ed25519":
        if jwk_alg is not None and jwk_alg not in {"EdDSA", "Ed25519"}:
            raise Failure("algorithm_unsupported", f"JWK alg {jwk_alg!r} does not match crv Ed25519")
        try:
            x = _b64url(jwk.get("x"), "x")
            if len(x) != 32:
                raise ValueError("x must be 32 bytes")
            key = ed25519.Ed25519PublicKey.from_public_bytes(x)
        except ValueError as e:
            raise Failure("key_not_found", f"JWK kid={jwk.get('kid')} is not a usable Ed25519 key: {e}")
        return algorithms.ED25519, key
    raise Failure("algorithm_unsupported", f"JWK kty={kty!r} crv={crv!r} is not supported")


def find_jwk(jwks, kid):
    """First signature-capable key with this kid (skips use=enc, key_ops without verify)."""
    for jwk in jwks:
        if not isinstance(jwk, dict) or jwk.get("kid") != kid:
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        if "key_ops" in jwk and "verify" not in (jwk.get("key_ops") or []):
            continue
        if any(m in jwk for m in ("d", "p", "q", "dp", "dq", "qi", "k")):
            raise UsageError(f"JWKS key kid={kid} contains private key material")
        return jwk
    return None


class _SingleKeyResolver(HTTPSignatureKeyResolver):
    """Library key-resolver interface: resolve_public_key(keyid) -> key object or None."""

    def __init__(self, kid, key):
        self.kid, self.key = kid, key

    def resolve_public_key(self, key_id):
        return self.key if key_id == self.kid else None

    def resolve_private_key(self, key_id):
        raise HTTPMessageSignaturesException("verification only")


# ---------------------------------------------------------------- verifier


class _Verifier(HTTPMessageVerifier):
    """HTTPMessageVerifier whose time checks can run at a fixed instant (--now)."""

    allow_label_only_selection = True  # we select by label ("sig1") without a tag
    fixed_now = None
    ignore_time = False

    def validate_created_and_expires(self, sig_input, max_age=None):
        if self.ignore_time:
            return
        if self.fixed_now is None:
            return super().validate_created_and_expires(sig_input, max_age=max_age)
        # Same rules as the library's method, evaluated at fixed_now.
        now = self.fixed_now
        min_time, max_time = now - self.max_clock_skew, now + self.max_clock_skew
        if "created" in sig_input.params:
            if self._parse_integer_timestamp(sig_input.params["created"], field_name="created") > max_time:
                raise InvalidSignature('Signature "created" parameter is set to a time in the future')
        elif self.require_created or max_age is not None:
            raise InvalidSignature('Signature is missing a required "created" parameter')
        if (
            "expires" in sig_input.params
            and self._parse_integer_timestamp(sig_input.params["expires"], field_name="expires") < min_time
        ):
            raise InvalidSignature('Signature "expires" parameter is set to a time in the past')
        if (
            max_age is not None
            and self._parse_integer_timestamp(sig_input.params["created"], field_name="created") + max_age < min_time
        ):
            raise InvalidSignature(f"Signature age exceeds maximum allowable age {max_age}")


def _parse_dictionary(value, name):
    def reject_duplicate(key, context):
        if context == "dictionary":
            raise ValueError(f"duplicate member {key!r}")

    try:
        parsed = http_sf.parse(value.encode("latin-1"), tltype="dictionary", on_duplicate_key=reject_duplicate)
    except (ValueError, TypeError, UnicodeEncodeError) as e:
        raise Failure("signature_invalid", f"malformed {name} field: {e}")
    return parsed


def check_content_digest(field_value, body):
    if field_value is None:
        raise Failure("digest_mismatch", "Content-Digest header missing")
    try:
        parsed = http_sf.parse(field_value.encode("latin-1"), tltype="dictionary")
    except (ValueError, TypeError, UnicodeEncodeError) as e:
        raise Failure("digest_mismatch", f"malformed Content-Digest: {e}")
    checked = []
    for algorithm, (value, _params) in parsed.items():
        if algorithm not in DIGESTS:
            continue  # RFC 9530: unknown algorithms are ignored
        if not isinstance(value, bytes):
            raise Failure("digest_mismatch", f"Content-Digest member {algorithm} is not a byte sequence")
        if not hmac.compare_digest(value, DIGESTS[algorithm](body).digest()):
            raise Failure(
                "digest_mismatch",
                f"{algorithm} of the {len(body)}-byte body is "
                f"{base64.b64encode(DIGESTS[algorithm](body).digest()).decode()}, header says "
                f"{base64.b64encode(value).decode()}",
            )
        checked.append(algorithm)
    if not checked:
        raise Failure("digest_mismatch", "Content-Digest has no sha-256 or sha-512 member")
    return checked


def verify(request, jwks, *, now=None, max_age=datetime.timedelta(days=1), signature_only=False):
    """Return the kid on success; raise Failure otherwise."""
    method, url, headers, body = request
    fields = _FieldLines(headers)
    is_response = isinstance(method, int)

    # 1. Signature-Input / Signature
    sig_input_value, sig_value = fields.combined("Signature-Input"), fields.combined("Signature")
    if sig_input_value is None or sig_value is None:
        missing = [n for n, v in (("Signature-Input", sig_input_value), ("Signature", sig_value)) if v is None]
        raise Failure("signature_missing", " and ".join(missing) + (" headers" if len(missing) > 1 else " header") + " missing")
    sig_inputs = _parse_dictionary(sig_input_value, "Signature-Input")
    signatures = _parse_dictionary(sig_value, "Signature")
    if not sig_inputs:
        raise Failure("signature_missing", "Signature-Input has no members")
    if "sig1" in sig_inputs:
        label = "sig1"
    elif len(sig_inputs) == 1:
        label = next(iter(sig_inputs))
    else:
        raise Failure("signature_invalid", f"several signatures ({', '.join(sig_inputs)}) and none labelled sig1")
    if label not in signatures:
        raise Failure("signature_missing", f"Signature has no member {label!r}")
    components, params = sig_inputs[label]
    if not isinstance(components, list):
        raise Failure("signature_invalid", f"Signature-Input member {label} is not an inner list")
    keyid = params.get("keyid")
    if not isinstance(keyid, str):
        raise Failure("signature_invalid", 'Signature-Input has no string "keyid" parameter')

    # 2. key by keyid, 2a. algorithm from the JWK (never from "alg")
    jwk = find_jwk(jwks, keyid)
    if jwk is None:
        raise Failure("key_not_found", f"no signature key kid={keyid} in JWKS")
    alg_cls, public_key = algorithm_for_jwk(jwk)
    if "alg" in params and params["alg"] != alg_cls.algorithm_id:
        raise Failure(
            "algorithm_unsupported", f"alg={params['alg']!r} but key kid={keyid} is {alg_cls.algorithm_id}"
        )

    # 2b. coverage (bare component names; "@query" too when the URL has a query)
    if is_response:
        required = ["@status"] + (["content-digest", "content-type"] if body else [])
    else:
        required = list(REQUIRED_COMPONENTS)
        if "?" in url.split("#", 1)[0]:
            required.append("@query")
    covered = {name for name, cparams in components if isinstance(name, str) and not cparams}
    missing = [c for c in required if c not in covered]
    if missing and not signature_only:
        raise Failure("coverage_insufficient", "not covered: " + " ".join(f'"{c}"' for c in missing))

    # 3. body digest
    if not signature_only and (body or not is_response):
        check_content_digest(fields.combined("Content-Digest"), body)

    # 4-5. signature base + signature, by the library
    verifier = _Verifier(signature_algorithm=alg_cls, key_resolver=_SingleKeyResolver(keyid, public_key))
    verifier.fixed_now = now
    verifier.ignore_time = signature_only
    message = _Response(method, fields) if is_response else _Request(method, url, fields)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SignatureVerifyWarning)
            results = verifier.verify(
                message,
                max_age=None if signature_only else max_age,
                expect_label=label if len(sig_inputs) > 1 else None,
                require_components=() if signature_only else required,
                body=None if signature_only else body,
            )
    except (InvalidSignature, HTTPMessageSignaturesException) as e:
        detail = str(e)
        cause = e.__cause__
        if not detail or (cause is not None and detail == str(cause) and not str(cause)):
            detail = f"{alg_cls.algorithm_id} verification failed" + (
                f" ({type(cause).__name__})" if cause is not None else ""
            )
        raise Failure("signature_invalid", f"{detail} [kid={keyid}]")
    if len(results) != 1 or results[0].parameters.get("keyid") != keyid or (results[0].body is None and not signature_only):
        raise Failure("signature_invalid", "library returned an unexpected result")  # defensive
    return keyid


# ---------------------------------------------------------------- I/O


def load_request(path):
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}")
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: expected a JSON object")
    method, url, headers = doc.get("method"), doc.get("url"), doc.get("headers")
    if not isinstance(method, str) or not isinstance(url, str):
        raise UsageError(f"{path}: method and url must be strings")
    if not isinstance(headers, list) or not all(
        isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in headers
    ):
        raise UsageError(f"{path}: headers must be a list of [name, value] string pairs")
    b64 = doc.get("body_base64", "")
    try:
        body = base64.b64decode(b64, validate=True) if isinstance(b64, str) else None
    except (binascii.Error, ValueError):
        body = None
    if body is None:
        raise UsageError(f"{path}: body_base64 must be standard base64")
    return method, url, [tuple(h) for h in headers], body


def load_response(path):
    """RESPONSE.json as (status, None, headers, body): the status takes the method's place."""
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("status"), int):
        raise UsageError(f"{path}: expected a JSON object with an integer status")
    fake = dict(doc, method="GET", url="http://response.invalid/")
    fake.pop("status")
    tmp = path + ".request.json"
    with open(tmp, "w") as f:
        json.dump(fake, f)
    try:
        _, _, headers, body = load_request(tmp)
    finally:
        os.remove(tmp)
    return doc["status"], None, headers, body


def load_jwks(path):
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise UsageError(f'{path}: expected {{"keys": [...]}}')
    return doc["keys"]


# ---------------------------------------------------------------- self-test

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors")
# (request file, jwks file, extra args, expected stdout line)
SELF_TESTS = [
    ("ucp-golden.request.json", "ucp-golden.jwks.json", ["--now", "1775913000"], "verified kid=shop-es256-2026"),
    ("ucp-golden.request.json", "ucp-golden.jwks.json", ["--now", "1775999405"], "verified kid=shop-es256-2026"),
    ("ucp-golden.request.json", "ucp-golden.jwks.json", ["--now", "1775999406"], "signature_invalid:"),
    ("ucp-golden.request.json", "ucp-golden.jwks.json", ["--now", "1775912994"], "signature_invalid:"),
    ("ucp-golden.request.json", "ucp-golden.jwks.json", ["--now", "1795383000", "--max-age", "none"],
     "verified kid=shop-es256-2026"),
    ("ucp-golden.request.json", "ucp-golden.jwks.json", [], "signature_invalid:"),  # > 1 day old today
    ("ucp-tampered-body.request.json", "ucp-golden.jwks.json", ["--now", "1775913000"], "digest_mismatch:"),
    ("ucp-golden.request.json", "ucp-wrong-key.jwks.json", ["--now", "1775913000"], "signature_invalid:"),
    ("ucp-golden.request.json", "ucp-unknown-kid.jwks.json", ["--now", "1775913000"], "key_not_found:"),
    ("ucp-tampered-header.request.json", "ucp-golden.jwks.json", ["--now", "1775913000"], "signature_invalid:"),
    ("ucp-der-signature.request.json", "ucp-golden.jwks.json", ["--now", "1775913000"], "signature_invalid:"),
    ("ucp-no-signature.request.json", "ucp-golden.jwks.json", ["--now", "1775913000"], "signature_missing:"),
    ("ucp-coverage.request.json", "ucp-golden.jwks.json", ["--now", "1775913000"], "coverage_insufficient:"),
    ("ucp-golden.request.json", "ucp-p384-only.jwks.json", ["--now", "1775913000"], "signature_invalid:"),
    ("ucp-golden.request.json", "ucp-unsupported-kty.jwks.json", ["--now", "1775913000"], "algorithm_unsupported:"),
    ("ucp-ed25519.request.json", "ucp-ed25519.jwks.json", ["--now", "1775913000"], "verified kid=shop-ed25519-2026"),
    ("ucp-tampered-body.request.json", "ucp-golden.jwks.json", ["--signature-only"], "verified kid=shop-es256-2026"),
    ("ucp-golden.request.json", "ucp-golden.jwks.json", ["--signature-only"], "verified kid=shop-es256-2026"),
    ("ucp-tampered-header.request.json", "ucp-golden.jwks.json", ["--signature-only"], "signature_invalid:"),
    ("ucp-der-signature.request.json", "ucp-golden.jwks.json", ["--signature-only"], "signature_invalid:"),
]


def self_test():
    failures = 0
    for req, jwks, extra, expected in SELF_TESTS:
        cmd = [sys.executable, os.path.abspath(__file__), os.path.join(VECTORS, req), os.path.join(VECTORS, jwks), *extra]
        p = subprocess.run(cmd, capture_output=True, text=True)
        out = p.stdout.strip()
        want_rc = 0 if expected.startswith("verified") else 1
        ok = out.startswith(expected) and p.returncode == want_rc and "\n" not in out
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {req} {jwks} {' '.join(extra)} -> rc={p.returncode} {out}{p.stderr.strip()}")
    print(f"self-test: {len(SELF_TESTS) - failures}/{len(SELF_TESTS)} passed")
    return 0 if failures == 0 else 1


# ---------------------------------------------------------------- main


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def main(argv):
    parser = _Parser(description=__doc__.split("\n\n")[0], add_help=True)
    parser.add_argument("request", nargs="?", help="REQUEST.json")
    parser.add_argument("jwks", nargs="?", help="JWKS.json")
    parser.add_argument("--now", help="verify as of this unix time (seconds)")
    parser.add_argument("--max-age", help='maximum signature age in seconds, or "none" (default: 86400)')
    parser.add_argument("--signature-only", action="store_true", help="the RFC 9421 signature alone (no coverage, digest or time rules)")
    parser.add_argument("--response", action="store_true", help="the first file is RESPONSE.json (a signed response)")
    parser.add_argument("--self-test", action="store_true", help="run the vectors in Tests/tools/vectors")
    try:
        args = parser.parse_args(argv)
        if args.self_test:
            return self_test()
        if args.request is None or args.jwks is None:
            raise UsageError("REQUEST.json and JWKS.json are required")
        now = None
        if args.now is not None:
            try:
                now = datetime.datetime.fromtimestamp(int(args.now), tz=datetime.timezone.utc)
            except (ValueError, OverflowError, OSError):
                raise UsageError(f"--now must be unix seconds, got {args.now!r}")
        max_age = datetime.timedelta(days=1)
        if args.max_age is not None:
            if args.max_age.lower() == "none":
                max_age = None
            else:
                try:
                    seconds = int(args.max_age)
                    if seconds < 0:
                        raise ValueError
                except ValueError:
                    raise UsageError(f'--max-age must be non-negative seconds or "none", got {args.max_age!r}')
                max_age = datetime.timedelta(seconds=seconds)
        request = load_response(args.request) if args.response else load_request(args.request)
        jwks = load_jwks(args.jwks)
        kid = verify(request, jwks, now=now, max_age=max_age, signature_only=args.signature_only)
    except UsageError as e:
        print(f"usage_error: {e}", file=sys.stderr)
        return 2
    except Failure as f:
        print(f"{f.reason}: {f.detail}".replace("\n", " "))
        return 1
    print(f"verified kid={kid}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
