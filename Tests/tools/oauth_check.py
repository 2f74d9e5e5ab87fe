#!/usr/bin/env python3
"""Check ucpsim's OAuth authorization server with authlib (independent of ucpsim's own code).

Usage:
    python3 Tests/tools/oauth_check.py metadata FILE
    python3 Tests/tools/oauth_check.py token --jwks FILE --issuer URL --client-id ID --scope SCOPE TOKEN

metadata  FILE holds /.well-known/oauth-authorization-server. authlib's RFC 8414
          AuthorizationServerMetadata(...).validate() must pass, and UCP's identity
          linking rules must hold: code_challenge_methods_supported ["S256"],
          authorization_response_iss_parameter_supported true, scopes_supported,
          revocation_endpoint, jwks_uri, token_endpoint_auth_methods_supported.
token     TOKEN is an access token; FILE holds /oauth/jwks. The JWS must verify with
          authlib.jose (ES256 only) under that JWKS, its header must say alg ES256 and
          typ at+jwt, and authlib's RFC 9068 JWTBearerTokenValidator (resource server
          = issuer) must accept its claims (iss, aud, exp, sub, client_id, iat, jti)
          and find SCOPE among its scopes; client_id must be ID.

Output: "ok metadata" or "ok token CLAIMS_JSON" on stdout and exit 0; otherwise
"invalid: REASON" and exit 1. Exit 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

warnings.simplefilter("ignore")

from authlib.jose import JsonWebKey, JsonWebToken  # noqa: E402
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata  # noqa: E402
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator  # noqa: E402


def check_metadata(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    AuthorizationServerMetadata(data).validate()
    rules = [
        (data.get("code_challenge_methods_supported") == ["S256"], "code_challenge_methods_supported is not [S256]"),
        (data.get("authorization_response_iss_parameter_supported") is True, "iss parameter support is not true"),
        (bool(data.get("scopes_supported")), "scopes_supported is missing"),
        (bool(data.get("revocation_endpoint")), "revocation_endpoint is missing"),
        (bool(data.get("jwks_uri")), "jwks_uri is missing"),
        (bool(data.get("token_endpoint_auth_methods_supported")), "token_endpoint_auth_methods_supported is missing"),
        ("code" in data.get("response_types_supported", []), "response_types_supported lacks code"),
    ]
    for holds, reason in rules:
        if not holds:
            raise ValueError(reason)
    return "ok metadata"


def check_token(args: argparse.Namespace) -> str:
    with open(args.jwks, encoding="utf-8") as handle:
        jwks = json.load(handle)
    # authlib.jose: the signature, ES256 only.
    claims = JsonWebToken(["ES256"]).decode(args.token, JsonWebKey.import_key_set(jwks))
    if claims.header.get("alg") != "ES256":
        raise ValueError(f"alg is {claims.header.get('alg')}, not ES256")
    if claims.header.get("typ") != "at+jwt":
        raise ValueError(f"typ is {claims.header.get('typ')}, not at+jwt")

    # authlib's RFC 9068 resource-server validator: signature again, then the claims.
    class Validator(JWTBearerTokenValidator):
        def get_jwks(self):
            return jwks

    validator = Validator(issuer=args.issuer, resource_server=args.issuer)
    token = validator.authenticate_token(args.token)
    validator.validate_token(token, [args.scope], None)
    if token.get("client_id") != args.client_id:
        raise ValueError(f"client_id is {token.get('client_id')}, not {args.client_id}")
    return "ok token " + json.dumps(dict(token), sort_keys=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    metadata = commands.add_parser("metadata")
    metadata.add_argument("file")
    token = commands.add_parser("token")
    token.add_argument("--jwks", required=True)
    token.add_argument("--issuer", required=True)
    token.add_argument("--client-id", required=True)
    token.add_argument("--scope", required=True)
    token.add_argument("token")
    args = parser.parse_args()
    try:
        print(check_metadata(args.file) if args.command == "metadata" else check_token(args))
        return 0
    except Exception as error:  # every failure is a finding, reported on one line
        print(f"invalid: {type(error).__name__}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
