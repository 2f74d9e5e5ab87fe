#!/usr/bin/env python3
"""An independent platform that links a customer's identity at a ucpsim shop (UCP ``dev.ucp.common.identity_linking``).

Written from the UCP spec (release 2026-08-25) and the RFCs it names, with ``authlib`` 1.9.6 as the OAuth 2.0 client
(authorization code + PKCE S256, refresh, RFC 7009 revocation), ``authlib.jose`` for the access-token JWTs (RFC 9068)
and ``httpx``: none of it is ucpsim's code. Against a running ``ucpsim serve --auto-consent alice@example.com`` it

* discovers as the spec's three steps say: RFC 9728 protected-resource metadata → the AS issuer; RFC 8414 metadata at
  ``/.well-known/oauth-authorization-server`` (inserted before any issuer path; OIDC discovery only on a 404); the
  metadata's ``issuer`` compared byte for byte; the metadata validated with authlib's ``AuthorizationServerMetadata``
  (+ RFC 9207) and the UCP MUSTs; ``scopes_supported`` against the profile's ``config.scopes`` (that entry validated
  against the official ``identity_linking.json`` business schema);
* runs the authorization request (with ``--auto-consent`` the shop redirects straight back: the 302 is followed by
  hand and its ``code``, ``state`` and ``iss`` checked, RFC 9207), exchanges the code, verifies the access token with
  the shop's JWKS (ES256, ``typ: at+jwt``, RFC 9068 claims);
* shops as that customer with ``ucp_platform.py``'s platform (its signed profile, signed requests, every answer
  validated with the SDK) plus ``Authorization: Bearer``, then reads the order with ``GET /orders/{id}`` and the token;
* refreshes (the old refresh token is refused afterwards) and revokes; and checks each refusal the spec asks for,
  parsing ``WWW-Authenticate`` (RFC 9110 §11.6.1 challenges) and the UCP message code of the body.

Usage:
    python3 Tests/tools/oauth_platform.py --shop URL [--public] CHECK [CHECK ...]
    CHECK: flow plain-pkce missing-pkce wrong-verifier reused-code redirect-mismatch revoked missing-scope tampered
           no-token all (every one of these), foreign-token (needs --foreign-shop URL: another serve),
           mint (--save FILE: link and place an order, keep the token) and expired (--saved FILE: present that
           token to the same shop restarted after its expiry; see the README's identity-linking section).

``--public`` links as the embedded shop's public client ``demo-agent`` (token_endpoint_auth_method ``none``); the
default is the confidential ``sample-platform`` (``client_secret_basic``); ``--client``/``--secret`` name another.

Output: one line per check on stdout, ``ok <check>: <what held>``; a failure prints ``FAIL <check>: <reason>`` on
stdout and stderr and ends the run. Exit 0 when every check held, 1 on a failure, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

SCRIPT_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPT_DIR))

try:
    import httpx

    from authlib.deprecate import AuthlibDeprecationWarning

    with warnings.catch_warnings():
        # authlib 1.9 announces its successors (joserfc for authlib.jose, httpx2 for its httpx module) on import.
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from authlib.integrations.base_client.errors import OAuthError
        from authlib.integrations.httpx_client import OAuth2Client
        from authlib.jose import JsonWebKey, JsonWebToken, JWTClaims
        from authlib.jose.errors import JoseError
        from authlib.oauth2 import rfc8414, rfc9207
    from pydantic import ValidationError

    import ucp_platform
    import validate_schemas
    from ucp_sdk.models.schemas.common import identity_linking as sdk_identity_linking
except ImportError as _e:  # pragma: no cover
    print(f"oauth_platform: usage_error: missing dependency ({_e}); pip install -r Tests/tools/requirements.txt", file=sys.stderr)
    sys.exit(2)

Failure = ucp_platform.Failure
UsageError = ucp_platform.UsageError

CAPABILITY = "dev.ucp.common.identity_linking"
ORDER_READ = "dev.ucp.shopping.order:read"
ORDER_MANAGE = "dev.ucp.shopping.order:manage"
# The capabilities this platform negotiates (ucp_platform.Platform's profile): scope derivation keeps only theirs.
PLATFORM_CAPABILITIES = (
    "dev.ucp.shopping.catalog.search",
    "dev.ucp.shopping.catalog.lookup",
    "dev.ucp.shopping.cart",
    "dev.ucp.shopping.checkout",
    "dev.ucp.shopping.order",
)
CHECKS = (
    "flow",
    "plain-pkce",
    "missing-pkce",
    "wrong-verifier",
    "reused-code",
    "redirect-mismatch",
    "revoked",
    "missing-scope",
    "tampered",
    "no-token",
)
EXTRA_CHECKS = ("foreign-token", "mint", "expired")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------- WWW-Authenticate (RFC 9110 §11.6.1, RFC 6750 §3)

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_ELEMENT = re.compile(rf"\s*(?:({_TOKEN})\s+)?({_TOKEN})\s*=\s*({_TOKEN}|{_QUOTED})\s*$|\s*({_TOKEN})\s*$")


def _split_top_level(value: str) -> list[str]:
    """Splits at the commas outside quoted-strings."""
    parts, current, quoted, escaped = [], [], False, False
    for c in value:
        if quoted:
            current.append(c)
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
            current.append(c)
        elif c == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    if quoted:
        raise ValueError("unterminated quoted-string")
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_challenges(value: str) -> list[tuple[str, dict[str, str]]]:
    """The challenges of one WWW-Authenticate value: [(scheme lower-cased, {param lower-cased: value})].

    RFC 9110 §11.6.1: challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]; auth-param = token BWS "=" BWS
    ( token / quoted-string ); challenges and parameters are comma-separated. Raises ValueError on anything else (a
    repeated parameter too: each appears at most once). Bearer (RFC 6750) never uses token68.
    """
    challenges: list[tuple[str, dict[str, str]]] = []
    for element in _split_top_level(value):
        m = _ELEMENT.match(element)
        if not m:
            raise ValueError(f"{element.strip()!r} is neither an auth-scheme nor an auth-param")
        scheme, name, raw, bare = m.groups()
        if bare is not None:
            challenges.append((bare.lower(), {}))
            continue
        if scheme is not None:
            challenges.append((scheme.lower(), {}))
        if not challenges:
            raise ValueError(f"parameter {name} before any auth-scheme")
        params = challenges[-1][1]
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if name.lower() in params:
            raise ValueError(f"parameter {name} appears twice")
        params[name.lower()] = raw
    return challenges


def bearer_challenge(step: str, response: httpx.Response) -> dict[str, str]:
    values = response.headers.get_list("www-authenticate")
    if not values:
        raise Failure(step, f"HTTP {response.status_code} without WWW-Authenticate")
    found = []
    for value in values:
        try:
            found += parse_challenges(value)
        except ValueError as e:
            raise Failure(step, f"WWW-Authenticate {value!r} does not parse: {e}")
    bearer = [params for scheme, params in found if scheme == "bearer"]
    if len(bearer) != 1:
        raise Failure(step, f"expected one Bearer challenge, got {values!r}")
    return bearer[0]


# ---------------------------------------------------------------- the platform


class Linker:
    """One platform at one shop: discovery once, then as many links (authorization code grants) as the checks need."""

    def __init__(self, args, shop: str, validator, platform=None):
        self.args = args
        self.shop = shop.rstrip("/")
        self.validator = validator
        self.http = httpx.Client(timeout=args.timeout)
        self.own_platform = platform is None
        self.platform = platform or ucp_platform.Platform()
        self.shopper = ucp_platform.Shopper(self.shop, self.platform, validator, args.timeout)
        self.redirect_uri = f"http://127.0.0.1:{self.platform.server.server_address[1]}/callback"
        if args.public:
            self.client_id, self.secret, self.auth_method = args.client or "demo-agent", None, "none"
        else:
            self.client_id = args.client or "sample-platform"
            self.secret = args.secret if args.secret is not None else "sample-platform-secret"
            self.auth_method = "client_secret_basic"
        self.metadata = None
        self.issuer = None
        self.resource_metadata_url = None
        self.config_scopes = None
        self.jwks = None
        self._order = None

    def close(self):
        self.http.close()
        if self.own_platform:
            self.platform.close()

    # -- discovery

    def discover(self, emit) -> None:
        if self.metadata is not None:
            return
        self.shopper.discover()  # the business profile, validated with the SDK (strict) and the schemas
        profile = self.http.get(self.shop + "/.well-known/ucp").json()
        entries = (profile.get("ucp", {}).get("capabilities") or {}).get(CAPABILITY)
        if not entries:
            raise Failure("profile", f"the business profile does not declare {CAPABILITY}")
        for index, entry in enumerate(entries):
            errors = validate_entry(self.validator, entry)
            if errors:
                raise Failure("profile", f"{CAPABILITY}[{index}] is not valid for identity_linking.json business_schema: {'; '.join(errors)}")
        self.config_scopes = dict(entries[0]["config"]["scopes"])
        for scope, policy in self.config_scopes.items():
            try:
                sdk_identity_linking.ScopePolicy.model_validate_json(json.dumps(policy), strict=True)
            except ValidationError as e:
                raise Failure("profile", f"config.scopes[{scope}] is not a ScopePolicy for ucp-sdk: {e.errors()[0]['msg']}")
        emit("profile", f"{CAPABILITY} valid (business_schema), config.scopes {sorted(self.config_scopes)}")

        # Step 1: RFC 9728 protected-resource metadata → the AS issuer.
        url = self.shop + "/.well-known/oauth-protected-resource"
        response = self.http.get(url, headers={"Accept": "application/json"})
        if response.status_code == 200:
            resource = json_of("protected-resource", response)
            if resource.get("resource") != self.shop:
                raise Failure("protected-resource", f"resource {resource.get('resource')!r} is not the URL it was fetched for, {self.shop!r} (RFC 9728 §3.3)")
            servers = resource.get("authorization_servers")
            if not isinstance(servers, list) or not servers or not all(isinstance(s, str) for s in servers):
                raise Failure("protected-resource", f"authorization_servers {servers!r} is not a non-empty array of issuers")
            if "header" not in (resource.get("bearer_methods_supported") or ["header"]):
                raise Failure("protected-resource", f"bearer_methods_supported {resource['bearer_methods_supported']} lacks header")
            self.issuer = servers[0]
            self.resource_metadata_url = url
            emit("protected-resource", f"resource {self.shop}, issuer {self.issuer}")
        elif response.status_code == 404:
            self.issuer = self.shop  # single-host deployment: the business domain is the issuer
            emit("protected-resource", "none published (404): the issuer is the business domain")
        else:
            raise Failure("protected-resource", f"GET {url} answered HTTP {response.status_code}")

        # Step 2: RFC 8414 at the well-known URL built per §3.1; OIDC discovery only on a 404.
        parts = urlsplit(self.issuer)
        path = parts.path if parts.path != "/" else ""
        well_known = urlunsplit((parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + path, "", ""))
        response = self.http.get(well_known, headers={"Accept": "application/json"})
        if response.status_code == 404:
            well_known = self.issuer + "/.well-known/openid-configuration"
            response = self.http.get(well_known, headers={"Accept": "application/json"})
        if not 200 <= response.status_code < 300:
            raise Failure("metadata", f"GET {well_known} answered HTTP {response.status_code}: discovery aborts")
        metadata = json_of("metadata", response)
        # Step 3: the issuer byte for byte, no normalisation.
        if metadata.get("issuer") != self.issuer:
            raise Failure("metadata", f"issuer {metadata.get('issuer')!r} is not the selected issuer {self.issuer!r} byte for byte")
        try:
            rfc8414.AuthorizationServerMetadata(metadata).validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])
        except ValueError as e:
            raise Failure("metadata", f"authlib's RFC 8414/9207 validation: {e}")
        musts = {
            "scopes_supported": isinstance(metadata.get("scopes_supported"), list),
            'code_challenge_methods_supported == ["S256"]': metadata.get("code_challenge_methods_supported") == ["S256"],
            "authorization_response_iss_parameter_supported == true": metadata.get("authorization_response_iss_parameter_supported") is True,
            f"token_endpoint_auth_methods_supported has {self.auth_method}": self.auth_method in (metadata.get("token_endpoint_auth_methods_supported") or []),
            "revocation_endpoint": isinstance(metadata.get("revocation_endpoint"), str),
            'response_types_supported has "code"': "code" in (metadata.get("response_types_supported") or []),
            "grant_types_supported has authorization_code and refresh_token": {"authorization_code", "refresh_token"} <= set(metadata.get("grant_types_supported") or []),
            "jwks_uri": isinstance(metadata.get("jwks_uri"), str),
        }
        missing = [name for name, held in musts.items() if not held]
        if missing:
            raise Failure("metadata", f"{well_known} fails the UCP requirements: {', '.join(missing)}")
        absent = sorted(set(self.config_scopes) - set(metadata["scopes_supported"]))
        if absent:
            raise Failure("metadata", f"scopes_supported {metadata['scopes_supported']} lacks the profile's config.scopes {absent}")
        self.metadata = metadata
        emit("metadata", f"{well_known}: issuer matches, authlib RFC 8414 + 9207 valid, UCP MUSTs hold, scopes_supported covers config.scopes")

        response = self.http.get(metadata["jwks_uri"])
        if response.status_code != 200:
            raise Failure("jwks", f"GET {metadata['jwks_uri']} answered HTTP {response.status_code}")
        try:
            self.jwks = JsonWebKey.import_key_set(json_of("jwks", response))
        except (JoseError, ValueError, KeyError) as e:
            raise Failure("jwks", f"the JWKS does not import: {e}")
        emit("jwks", f"{len(self.jwks.keys)} key(s) from {metadata['jwks_uri']}")

    def derived_scopes(self) -> list[str]:
        """Scope derivation (spec): config.scopes filtered to the capabilities this platform negotiates, of which it
        uses the order ones."""
        offered = [s for s in self.config_scopes if s.rsplit(":", 1)[0] in PLATFORM_CAPABILITIES]
        return [s for s in (ORDER_READ, ORDER_MANAGE) if s in offered]

    # -- the authorization code flow

    def oauth_client(self) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.secret,
            token_endpoint_auth_method=self.auth_method,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=self.args.timeout,
        )

    def authorize(self, step, client, *, scope, verifier=None, method="S256", redirect_uri=None, challenge=True):
        """Sends the authorization request; returns (HTTP response, sent state)."""
        state = secrets.token_urlsafe(16)
        extra = {"scope": " ".join(scope)}
        if redirect_uri:
            extra["redirect_uri"] = redirect_uri
        if method == "S256" and challenge:
            url, _ = client.create_authorization_url(self.metadata["authorization_endpoint"], state=state, code_verifier=verifier, **extra)
        else:
            if challenge:  # authlib builds S256 only: the forbidden methods are spelled out by hand
                extra.update(code_challenge=verifier, code_challenge_method=method)
            plain = OAuth2Client(client_id=self.client_id, redirect_uri=self.redirect_uri)
            url, _ = plain.create_authorization_url(self.metadata["authorization_endpoint"], state=state, **extra)
        response = self.http.get(url, follow_redirects=False)
        return response, state

    def redirect_params(self, step, response, state, redirect_uri=None) -> dict[str, str]:
        """The authorization response at the redirect URI: state and iss checked (RFC 9207, the spec's step 3)."""
        if response.status_code not in (302, 303):
            raise Failure(step, f"the authorization request answered HTTP {response.status_code}, not a redirect (is serve running with --auto-consent?): {ucp_platform.excerpt(response.content)}")
        location = response.headers.get("location", "")
        target = urlsplit(location)
        expected = urlsplit(redirect_uri or self.redirect_uri)
        if (target.scheme, target.netloc, target.path) != (expected.scheme, expected.netloc, expected.path):
            raise Failure(step, f"redirected to {location!r}, not to the redirect URI {redirect_uri or self.redirect_uri!r}")
        params = {k: v[0] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
        if params.get("iss") != self.issuer:
            raise Failure(step, f"authorization response iss {params.get('iss')!r} is not the issuer {self.issuer!r} (RFC 9207)")
        if params.get("state") != state:
            raise Failure(step, f"authorization response state {params.get('state')!r} is not the one sent")
        return params

    def link(self, step, emit=None, *, scope=None, at_issue=False):
        """Authorization code + PKCE S256 → {'token': the token response, 'claims': the verified claims, ...}."""
        scope = scope or self.derived_scopes()
        client = self.oauth_client()
        verifier = secrets.token_urlsafe(48)
        response, state = self.authorize(step, client, scope=scope, verifier=verifier)
        params = self.redirect_params(step, response, state)
        if "code" not in params:
            raise Failure(step, f"no code in the authorization response: {params}")
        if emit:
            emit(f"{step}-authorize", f"302 to the redirect URI with code, state and iss == issuer ({', '.join(scope)})")
        token = self.exchange(step, client, params["code"], verifier)
        # at_issue: a shop under --fixed-time; its tokens are checked as of their own iat (its clock), not this one's.
        claims = self.verify_access_token(step, token["access_token"], scope=scope, now="iat" if at_issue else None)
        self.check_token_response(step, token, claims, scope)
        if emit:
            emit(f"{step}-token", f"{token['token_type']} token for sub {claims['sub']}, expires_in {token['expires_in']}, refresh token given; JWT ES256 at+jwt verified with the JWKS")
        return {"client": client, "token": dict(token), "claims": claims, "verifier": verifier, "code": params["code"]}

    def exchange(self, step, client, code, verifier, redirect_uri=None):
        try:
            return client.fetch_token(
                self.metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=verifier,
                redirect_uri=redirect_uri or self.redirect_uri,
            )
        except OAuthError as e:
            raise Failure(step, f"the token endpoint refused the code: {e.error}: {e.description}")

    def exchange_raw(self, client, linked):
        """The exchange of `linked`'s code again, exactly as the first time (OAuthError when refused)."""
        return client.fetch_token(self.metadata["token_endpoint"], grant_type="authorization_code", code=linked["code"], code_verifier=linked["verifier"], redirect_uri=self.redirect_uri)

    def check_token_response(self, step, token, claims, scope):
        if str(token.get("token_type", "")).lower() != "bearer":
            raise Failure(step, f"token_type {token.get('token_type')!r}")
        if not token.get("refresh_token"):
            raise Failure(step, "no refresh_token in the token response")
        if token.get("expires_in") != claims["exp"] - claims["iat"]:
            raise Failure(step, f"expires_in {token.get('expires_in')} differs from the JWT's exp - iat {claims['exp'] - claims['iat']}")
        if "scope" in token and set(token["scope"].split()) != set(scope):
            raise Failure(step, f"granted scope {token['scope']!r}, requested {' '.join(scope)!r}")

    def verify_access_token(self, step, access_token, *, scope, now=None):
        """Signature with the JWKS, header (alg ES256, typ at+jwt, kid), RFC 9068 claims."""
        try:
            header = json.loads(b64url_decode(access_token.split(".")[0]))
        except (ValueError, IndexError):
            raise Failure(step, "the access token is not a JWS compact serialization")
        if header.get("alg") != "ES256":
            raise Failure(step, f"JWT alg {header.get('alg')!r}, expected ES256")
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            raise Failure(step, f"JWT typ {header.get('typ')!r}, expected at+jwt (RFC 9068 §2.1)")
        if not header.get("kid") or self.jwks.find_by_kid(header["kid"]) is None:
            raise Failure(step, f"JWT kid {header.get('kid')!r} is not in the JWKS")
        options = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.shop},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "sub": {"essential": True},
            "jti": {"essential": True},
            "client_id": {"essential": True, "value": self.client_id},
        }
        try:
            claims = JsonWebToken(["ES256"]).decode(access_token, self.jwks, claims_cls=JWTClaims, claims_options=options)
            if now == "iat":
                now = claims.get("iat")
            claims.validate(now=now if now is not None else int(time.time()), leeway=5)
        except (JoseError, ValueError) as e:
            raise Failure(step, f"the access token does not verify: {e}")
        if set(str(claims.get("scope", "")).split()) != set(scope):
            raise Failure(step, f"JWT scope {claims.get('scope')!r}, granted {' '.join(scope)!r}")
        return dict(claims)

    # -- the shop's resources with a token

    def shopper_as(self, access_token):
        self.shopper.extra_headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        return self.shopper

    def place_order(self, access_token) -> str:
        """A checkout to completion with the buyer's token on every request (ucp_platform's checks on each answer)."""
        s = self.shopper_as(access_token)
        try:
            doc = ucp_platform.ready_checkout(s, from_cart=False, discount=None)
            done = s.checkout("complete", "POST", f"/checkout-sessions/{doc['id']}/complete", ucp_platform.instrument(s.handler_id, "tok_success"))
        finally:
            self.shopper_as(None)
        if done["status"] != "completed":
            raise Failure("order", f"checkout {doc['id']} ended {done['status']} (messages {ucp_platform.codes(done)})")
        return done["order"]["id"]

    def order(self, emit=None) -> str:
        """One order of the linked customer, placed once per run with a token of its own."""
        if self._order is None:
            linked = self.link("order-link")
            self._order = self.place_order(linked["token"]["access_token"])
            if emit:
                emit("order", f"checkout completed with the buyer token: order {self._order}")
        return self._order

    def get_order(self, order_id, access_token, *, step="read"):
        """GET /orders/{id} with UCP-Agent and the Bearer token (unsigned: the token alone must authorize it)."""
        headers = {"UCP-Agent": f'profile="{self.platform.profile_url}"', "Accept": "application/json"}
        if access_token is not None:
            headers["Authorization"] = f"Bearer {access_token}"
        response = self.http.get(f"{self.shopper.endpoint}/orders/{order_id}", headers=headers)
        self.shopper.verify_response(step, response)
        return response

    def read_order(self, step, order_id, access_token) -> dict:
        response = self.get_order(order_id, access_token, step=step)
        if response.status_code != 200:
            raise Failure(step, f"GET /orders/{order_id} with the token answered HTTP {response.status_code}: {ucp_platform.excerpt(response.content)}")
        doc = json_of(step, response)
        if isinstance(doc.get("ucp"), dict) and doc["ucp"].get("status") == "error":
            raise Failure(step, f"GET /orders/{order_id} with the token answered an error: {ucp_platform.codes(doc)}")
        self.validator.check(step, "order", doc)
        if doc.get("id") != order_id:
            raise Failure(step, f"GET /orders/{order_id} answered order {doc.get('id')!r}")
        return doc

    def refused(self, step, order_id, access_token, *, status, error, scope=None) -> str:
        """The spec's challenge: status, Bearer realm == issuer, error (or none), scope, resource_metadata, body code."""
        response = self.get_order(order_id, access_token, step=step)
        if response.status_code != status:
            raise Failure(step, f"GET /orders/{order_id} answered HTTP {response.status_code}, expected {status}: {ucp_platform.excerpt(response.content)}")
        params = bearer_challenge(step, response)
        if params.get("realm") != self.issuer:
            raise Failure(step, f"realm {params.get('realm')!r} is not the issuer {self.issuer!r}")
        if params.get("error") != error:
            raise Failure(step, f"error {params.get('error')!r}, expected {error!r}" + (" (no token was sent: RFC 6750 §3.1)" if error is None else ""))
        if scope is not None and set(params.get("scope", "").split()) != set(scope):
            raise Failure(step, f"scope {params.get('scope')!r}, expected the full required set {' '.join(scope)!r}")
        if self.resource_metadata_url and params.get("resource_metadata") != self.resource_metadata_url:
            raise Failure(step, f"resource_metadata {params.get('resource_metadata')!r}, expected {self.resource_metadata_url!r}")
        doc = json_of(step, response)
        code = "insufficient_scope" if status == 403 else "identity_required"
        messages = [m for m in doc.get("messages") or [] if isinstance(m, dict)]
        if not any(m.get("type") == "error" and m.get("code") == code for m in messages):
            raise Failure(step, f"body messages {ucp_platform.codes(doc)}, expected an error with code {code}")
        if isinstance(doc.get("ucp"), dict):
            self.validator.check(step, "error", doc)
        shown = ", ".join(f'{k}="{v}"' for k, v in params.items())
        return f"HTTP {status} Bearer {shown}; body code {code}"

    def refresh(self, step, client, refresh_token):
        return client.refresh_token(self.metadata["token_endpoint"], refresh_token=refresh_token)

    def refresh_refused(self, step, client, refresh_token, why):
        try:
            self.refresh(step, client, refresh_token)
        except OAuthError as e:
            if e.error != "invalid_grant":
                raise Failure(step, f"{why}: the token endpoint said {e.error}, expected invalid_grant")
            return
        raise Failure(step, f"{why}: the token endpoint issued new tokens")

    def revoke(self, step, client, token, hint="refresh_token"):
        response = client.revoke_token(self.metadata["revocation_endpoint"], token=token, token_type_hint=hint)
        if response.status_code != 200:
            raise Failure(step, f"POST {self.metadata['revocation_endpoint']} answered HTTP {response.status_code}: {ucp_platform.excerpt(response.content)}")


def json_of(step, response):
    try:
        doc = json.loads(response.content)
    except ValueError:
        raise Failure(step, f"HTTP {response.status_code} body is not JSON: {ucp_platform.excerpt(response.content)}")
    if not isinstance(doc, dict):
        raise Failure(step, f"HTTP {response.status_code} body is not a JSON object")
    return doc


def validate_entry(validator, entry) -> list[str]:
    """The profile's identity-linking entry against identity_linking.json's business_schema (the `main` set)."""
    if validator.registry is None:
        return []
    return validator._schema_errors(validate_schemas.IDENTITY_LINKING_ENTRY, entry)


def token_error(step, client_call, expected: str, why: str) -> str:
    """Runs a token-endpoint call that must fail with `expected`; returns the HTTP status seen."""
    try:
        client_call()
    except OAuthError as e:
        if e.error != expected:
            raise Failure(step, f"{why}: the token endpoint said {e.error} ({e.description}), expected {expected}")
        return e.error
    raise Failure(step, f"{why}: the token endpoint issued tokens")


# ---------------------------------------------------------------- the checks


def check_flow(p: Linker, emit, args):
    linked = p.link("link", emit)
    token, client = linked["token"], linked["client"]
    order_id = p.place_order(token["access_token"])
    emit("order", f"checkout completed with the buyer token: order {order_id}")
    p.read_order("read", order_id, token["access_token"])
    emit("read", f"GET /orders/{order_id} with the token: 200, the order (SDK-valid)")
    p._order = p._order or order_id

    fresh = p.refresh("refresh", client, token["refresh_token"])
    if not fresh.get("refresh_token") or fresh["refresh_token"] == token["refresh_token"]:
        raise Failure("refresh", "the refresh did not rotate the refresh token")
    claims = p.verify_access_token("refresh", fresh["access_token"], scope=linked["claims"]["scope"].split())
    if claims["sub"] != linked["claims"]["sub"]:
        raise Failure("refresh", f"the refreshed token is for {claims['sub']}, not {linked['claims']['sub']}")
    p.read_order("refresh", order_id, fresh["access_token"])
    emit("refresh", "new access and refresh tokens (rotated); the new access token reads the order")
    p.refresh_refused("rotation", client, token["refresh_token"], "the rotated-out refresh token")
    emit("rotation", "the old refresh token is refused: invalid_grant")
    # issue 14's choice: presenting a rotated-out refresh token revokes its grant (refresh token reuse detection).
    detail = p.refused("rotation-reuse", order_id, fresh["access_token"], status=401, error="invalid_token")
    p.refresh_refused("rotation-reuse", client, fresh["refresh_token"], "the grant's current refresh token after a reuse")
    emit("rotation-reuse", f"the reuse revoked the grant: its newest access token gets {detail}")
    check_revoked(p, emit, args, order_id=order_id)


def check_revoked(p: Linker, emit, args, order_id=None):
    order_id = order_id or p.order(emit)
    linked = p.link("revoke-link")
    token, client = linked["token"], linked["client"]
    p.read_order("revoke", order_id, token["access_token"])
    p.revoke("revoke", client, token["refresh_token"])
    detail = p.refused("revoked", order_id, token["access_token"], status=401, error="invalid_token")
    p.refresh_refused("revoked", client, token["refresh_token"], "a revoked refresh token")
    emit("revoked", f"RFC 7009 revocation of the refresh token answered 200; its access token then gets {detail}; the refresh token gets invalid_grant")


def check_plain_pkce(p: Linker, emit, args, method="plain", challenge=True, name="plain-pkce"):
    verifier = secrets.token_urlsafe(48)
    response, state = p.authorize(name, p.oauth_client(), scope=p.derived_scopes(), verifier=verifier, method=method, challenge=challenge)
    params = p.redirect_params(name, response, state)
    if "code" in params:
        raise Failure(name, "the authorization server issued a code")
    if params.get("error") != "invalid_request":
        raise Failure(name, f"error {params.get('error')!r}, expected invalid_request")
    what = "code_challenge_method=plain" if challenge else "no code_challenge"
    emit(name, f"{what}: redirected with error=invalid_request, state and iss == issuer, no code")


def check_missing_pkce(p, emit, args):
    check_plain_pkce(p, emit, args, challenge=False, name="missing-pkce")


def check_wrong_verifier(p: Linker, emit, args):
    endpoint = p.metadata["token_endpoint"]
    for why, wrong in (("a code_verifier not matching the S256 challenge", secrets.token_urlsafe(48)), ("no code_verifier", None)):
        client = p.oauth_client()  # a fresh code for each: a server may spend a code on a failed attempt
        response, state = p.authorize("wrong-verifier", client, scope=p.derived_scopes(), verifier=secrets.token_urlsafe(48))
        code = p.redirect_params("wrong-verifier", response, state)["code"]
        extra = {"code_verifier": wrong} if wrong else {}
        token_error("wrong-verifier", lambda: client.fetch_token(endpoint, grant_type="authorization_code", code=code, **extra), "invalid_grant", why)
    emit("wrong-verifier", "a code_verifier not matching the S256 challenge, and none at all: invalid_grant")


def check_reused_code(p: Linker, emit, args):
    order_id = p.order(emit)
    linked = p.link("reused-code")
    client = linked["client"]
    p.read_order("reused-code", order_id, linked["token"]["access_token"])
    token_error("reused-code", lambda: p.exchange_raw(client, linked), "invalid_grant", "the same code a second time")
    emit("reused-code", "the code's second exchange: invalid_grant")
    detail = p.refused("reused-code", order_id, linked["token"]["access_token"], status=401, error="invalid_token")
    p.refresh_refused("reused-code", client, linked["token"]["refresh_token"], "the first exchange's refresh token after the code's reuse")
    emit("reused-code-revokes", f"the tokens of the first exchange are revoked: access {detail}; refresh invalid_grant")


def check_redirect_mismatch(p: Linker, emit, args):
    client = p.oauth_client()
    verifier = secrets.token_urlsafe(48)
    response, state = p.authorize("redirect-mismatch", client, scope=p.derived_scopes(), verifier=verifier)
    code = p.redirect_params("redirect-mismatch", response, state)["code"]
    other = "http://127.0.0.1/elsewhere"
    token_error("redirect-mismatch", lambda: client.fetch_token(p.metadata["token_endpoint"], grant_type="authorization_code", code=code, code_verifier=verifier, redirect_uri=other), "invalid_grant", f"redirect_uri {other} in the token request, {p.redirect_uri} in the authorization request")
    emit("redirect-mismatch-token", "a token request whose redirect_uri differs from the authorization request's: invalid_grant")
    evil = "https://attacker.example/callback"
    response, state = p.authorize("redirect-mismatch", client, scope=p.derived_scopes(), verifier=verifier, redirect_uri=evil)
    if response.is_redirect or "location" in response.headers:
        raise Failure("redirect-mismatch", f"an unregistered redirect_uri was answered HTTP {response.status_code} Location {response.headers.get('location')!r}: it must be an error page, no redirect (RFC 6749 §4.1.2.1)")
    if not 400 <= response.status_code < 500:
        raise Failure("redirect-mismatch", f"an unregistered redirect_uri was answered HTTP {response.status_code}, expected a 4xx error page")
    emit("redirect-mismatch-authorize", f"an unregistered redirect_uri at /oauth/authorize: HTTP {response.status_code} error page, no redirect")


def check_missing_scope(p: Linker, emit, args):
    order_id = p.order(emit)
    if ORDER_MANAGE not in p.config_scopes:
        raise Failure("missing-scope", f"the profile offers no {ORDER_MANAGE}")
    linked = p.link("missing-scope", scope=[ORDER_MANAGE])
    detail = p.refused("missing-scope", order_id, linked["token"]["access_token"], status=403, error="insufficient_scope", scope=[ORDER_READ])
    emit("missing-scope", f"a token with {ORDER_MANAGE} only: {detail}")


def check_tampered(p: Linker, emit, args):
    order_id = p.order(emit)
    linked = p.link("tampered")
    head, payload, signature = linked["token"]["access_token"].split(".")
    claims = json.loads(b64url_decode(payload))
    claims["sub"] = "cus_bob" if claims.get("sub") != "cus_bob" else "cus_alice"
    forged = ".".join([head, b64url(json.dumps(claims, separators=(",", ":")).encode()), signature])
    detail = p.refused("tampered", order_id, forged, status=401, error="invalid_token")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    p.refused("tampered", order_id, ".".join([head, payload, flipped]), status=401, error="invalid_token")
    emit("tampered", f"the JWT with sub changed (signature kept), and with its signature altered: {detail}")


def check_no_token(p: Linker, emit, args):
    order_id = p.order(emit)
    detail = p.refused("no-token", order_id, None, status=401, error=None)
    if not p.resource_metadata_url:
        raise Failure("no-token", "no resource_metadata to check (the shop publishes no RFC 9728 document)")
    emit("no-token", f"unsigned, no token: {detail}")


def check_foreign_token(p: Linker, emit, args):
    if not args.foreign_shop:
        raise UsageError("foreign-token needs --foreign-shop URL (another ucpsim serve with --auto-consent)")
    order_id = p.order(emit)
    other = Linker(args, args.foreign_shop, p.validator, platform=p.platform)
    try:
        other.discover(lambda *_: None)
        if other.issuer == p.issuer:
            raise UsageError("--foreign-shop has the same issuer as --shop")
        linked = other.link("foreign-token")
    finally:
        other.close()
    detail = p.refused("foreign-token", order_id, linked["token"]["access_token"], status=401, error="invalid_token")
    emit("foreign-token", f"a valid token of {other.issuer} (same client id, same customer) at {p.issuer}: {detail}")


def check_mint(p: Linker, emit, args):
    if not args.save:
        raise UsageError("mint needs --save FILE")
    linked = p.link("mint", at_issue=True)
    order_id = p.place_order(linked["token"]["access_token"])
    p.read_order("mint", order_id, linked["token"]["access_token"])
    saved = {"issuer": p.issuer, "order_id": order_id, "access_token": linked["token"]["access_token"], "exp": linked["claims"]["exp"]}
    Path(args.save).write_text(json.dumps(saved))
    emit("mint", f"order {order_id} read with a token expiring at {linked['claims']['exp']}; saved to {args.save}")


def check_expired(p: Linker, emit, args):
    if not args.saved:
        raise UsageError("expired needs --saved FILE (from mint)")
    saved = json.loads(Path(args.saved).read_text())
    if saved["issuer"] != p.issuer:
        raise UsageError(f"the saved token is of {saved['issuer']}, this shop is {p.issuer}: restart serve on the same --state and --port")
    token = saved["access_token"]
    now = int(time.time())
    if saved["exp"] >= now:
        raise UsageError(f"the saved token expires at {saved['exp']}, after now ({now}): it is not expired yet")
    # Nothing but exp is wrong with it: it verifies with the shop's current JWKS, as of its own issue time.
    claims = JsonWebToken(["ES256"]).decode(token, p.jwks)
    p.verify_access_token("expired", token, scope=claims["scope"].split(), now="iat")
    detail = p.refused("expired", saved["order_id"], token, status=401, error="invalid_token")
    # The control: a fresh token of the same client and customer passes the same request's identity check. (Its
    # answer is HTTP 200 with the order, or with `not_found` where the shop keeps no orders across a restart.)
    fresh = p.link("expired-control")["token"]["access_token"]
    response = p.get_order(saved["order_id"], fresh, step="expired-control")
    if response.status_code != 200 or "www-authenticate" in response.headers:
        raise Failure("expired-control", f"a fresh token was answered HTTP {response.status_code} {response.headers.get('www-authenticate', '')}: the refusal was not the expiry's")
    answer = json_of("expired-control", response)
    seen = "the order" if answer.get("id") == saved["order_id"] else f"HTTP 200 {ucp_platform.codes(answer)}"
    emit("expired", f"a token expired {now - saved['exp']} s ago, valid otherwise: {detail}; a fresh token passes (answer: {seen})")


RUNNERS = {
    "flow": check_flow,
    "plain-pkce": check_plain_pkce,
    "missing-pkce": check_missing_pkce,
    "wrong-verifier": check_wrong_verifier,
    "reused-code": check_reused_code,
    "redirect-mismatch": check_redirect_mismatch,
    "revoked": check_revoked,
    "missing-scope": check_missing_scope,
    "tampered": check_tampered,
    "no-token": check_no_token,
    "foreign-token": check_foreign_token,
    "mint": check_mint,
    "expired": check_expired,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def main(argv) -> int:
    parser = _Parser(description="An independent platform that links a customer at a ucpsim shop (see the module docstring).")
    parser.add_argument("--shop", required=True, help="the shop's base URL")
    parser.add_argument("--public", action="store_true", help="link as the public client demo-agent (auth method none)")
    parser.add_argument("--client", help="the client id (default sample-platform, or demo-agent with --public)")
    parser.add_argument("--secret", help="the client secret (default sample-platform-secret)")
    parser.add_argument("--foreign-shop", help="another serve, for foreign-token")
    parser.add_argument("--save", help="mint: where to keep the token")
    parser.add_argument("--saved", help="expired: the file mint wrote")
    parser.add_argument("--schemas", help="the UCP schema set of 2026-08-25 (default: <repo>/../shared/ucp-schemas/main)")
    parser.add_argument("--no-schemas", action="store_true", help="validate with the SDK only")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a response (default 30)")
    parser.add_argument("checks", nargs="+", metavar="CHECK", help=f"{', '.join(CHECKS + EXTRA_CHECKS)}, or all")
    linker = None
    current = "usage"

    def emit(step, detail):
        print(f"ok {step}: {detail}", flush=True)

    try:
        args = parser.parse_args(argv)
        names = list(CHECKS) if args.checks == ["all"] else args.checks
        unknown = [n for n in names if n not in RUNNERS]
        if unknown:
            raise UsageError(f"unknown check {', '.join(unknown)} (known: {', '.join(CHECKS + EXTRA_CHECKS)}, all)")
        schemas = None
        if not args.no_schemas:
            schemas = Path(args.schemas or os.environ.get("UCP_SCHEMAS_MAIN") or ucp_platform.DEFAULT_SCHEMAS)
            if not (schemas / "schemas" / "common" / "identity_linking.json").is_file():
                raise UsageError(f"no UCP schema set at {schemas} (give --schemas DIR, or --no-schemas)")
        validator = ucp_platform.Validator(schemas)
        linker = Linker(args, args.shop, validator)
        current = "discovery"
        linker.discover(emit)
        for name in names:
            current = name
            RUNNERS[name](linker, emit, args)
        return 0
    except Failure as f:
        line = f"FAIL {current if f.step == current else current + ' ' + f.step}: {f.reason}"
        print(line, flush=True)
        print(f"oauth_platform: {line}", file=sys.stderr)
        return 1
    except (httpx.HTTPError, OAuthError) as e:
        line = f"FAIL {current}: {type(e).__name__}: {e}"
        print(line, flush=True)
        print(f"oauth_platform: {line}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, JoseError) as e:
        line = f"FAIL {current}: unexpected answer shape: {type(e).__name__}: {e}"
        print(line, flush=True)
        print(f"oauth_platform: {line}", file=sys.stderr)
        return 1
    except UsageError as e:
        print(f"oauth_platform: usage_error: {e}", file=sys.stderr)
        return 2
    finally:
        if linker is not None:
            linker.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
