#!/usr/bin/env python3
"""A real browser on the shop's sign-in and consent page.

Headless Chromium (Debian's /usr/bin/chromium and /usr/bin/chromedriver, given explicitly so selenium-manager never
downloads anything) opens the authorization URL of a running `ucpsim serve` for the public client `demo-agent`
(PKCE S256, a random state), signs in once with a wrong password (the page must say so), then as
alice@example.com / alice-password, clicks Allow, and lands on the redirect: a loopback HTTP server in this script.
The redirect must carry a code, the same state, and iss equal to the issuer (--issuer; by default the `issuer` of
the shop's RFC 8414 metadata, which must be the shop's base URL, or that base URL while the shop serves no metadata).
It also checks that the page's inline style sheet applied (the Content-Security-Policy allows it by its hash) and
that the browser logged no Content-Security-Policy violation.

Prints one JSON line: {"ok": bool, "failures": [...], "code": ..., "state": ..., "iss": ...}; exits 0 when ok.

usage: consent_browser.py --shop BASE_URL [--issuer ISSUER] [--screenshot FILE]
"""

import argparse
import base64
import hashlib
import http.server
import json
import secrets
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

import headless_chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

SCOPES = ["dev.ucp.shopping.order:read", "dev.ucp.shopping.order:manage"]


class Callback(http.server.BaseHTTPRequestHandler):
    """The client's redirect target: keeps the query of the first GET /callback."""

    received = []
    arrived = threading.Event()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        body = b"<!doctype html><title>Linked</title><p>Back at the application.</p>"
        self.send_response(200 if url.path == "/callback" else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if url.path == "/callback":
            Callback.received.append(urllib.parse.parse_qs(url.query, keep_blank_values=True))
            Callback.arrived.set()

    def log_message(self, *args):
        pass


def metadata_issuer(shop, failures):
    """The issuer the shop's RFC 8414 metadata names; None when it serves none (404: not built yet)."""
    try:
        with urllib.request.urlopen(f"{shop}/.well-known/oauth-authorization-server", timeout=30) as response:
            issuer = json.load(response).get("issuer")
    except urllib.error.HTTPError as error:
        if error.code != 404:
            failures.append(f"the metadata answered HTTP {error.code}")
        return None
    if issuer != shop:
        failures.append(f"the metadata's issuer {issuer!r} is not the shop's base URL {shop!r}")
    return issuer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", required=True, help="the shop's base URL")
    parser.add_argument("--issuer", help="the expected iss (default: the shop's base URL)")
    parser.add_argument("--screenshot", help="save a PNG of the consent page here")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    failures = []
    result = {"ok": False, "failures": failures}
    issuer = args.issuer or metadata_issuer(args.shop.rstrip("/"), failures) or args.shop.rstrip("/")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/callback"

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": "demo-agent",
            "redirect_uri": redirect_uri,
            "scope": " ".join(SCOPES),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    url = f"{args.shop.rstrip('/')}/oauth/authorize?{query}"

    driver = headless_chromium.start(900, 1000)
    try:
        driver.set_page_load_timeout(args.timeout)
        wait = WebDriverWait(driver, args.timeout)
        driver.get(url)
        wait.until(expected_conditions.presence_of_element_located((By.ID, "email")))
        page = driver.find_element(By.TAG_NAME, "main").text
        for expected in ["Demo Agent", "View your orders and their shipping status.", *SCOPES]:
            if expected not in page:
                failures.append(f"the consent page does not show {expected!r}")
        allow = driver.find_element(By.CSS_SELECTOR, "button[value=allow]")
        # The inline style sheet applied: the CSP's hash matches it.
        if allow.value_of_css_property("background-color") not in ("rgba(31, 111, 235, 1)", "rgb(31, 111, 235)"):
            failures.append(
                "the page's style sheet did not apply (Allow is "
                f"{allow.value_of_css_property('background-color')}): is its CSP hash right?"
            )

        # A wrong password: the page again, with the error, and no redirect.
        driver.find_element(By.ID, "email").send_keys("alice@example.com")
        if args.screenshot:
            driver.save_screenshot(args.screenshot)
        driver.find_element(By.ID, "password").send_keys("not-her-password")
        allow.click()
        wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".error")))
        if "wrong" not in driver.find_element(By.CSS_SELECTOR, ".error").text:
            failures.append("a wrong password did not say so")
        if Callback.arrived.is_set():
            failures.append("a wrong password reached the redirect URI")
        if driver.find_element(By.ID, "email").get_attribute("value") != "alice@example.com":
            failures.append("the email was not kept after a wrong password")

        driver.find_element(By.ID, "password").send_keys("alice-password")
        driver.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
        if not Callback.arrived.wait(args.timeout):
            failures.append(f"the browser never reached the redirect URI (it is at {driver.current_url})")
        else:
            wait.until(expected_conditions.title_is("Linked"))
            landed = urllib.parse.urlsplit(driver.current_url)
            if f"{landed.scheme}://{landed.netloc}{landed.path}" != redirect_uri:
                failures.append(f"the browser is at {driver.current_url}, not the redirect URI")
            received = Callback.received[0]
            for name in ("code", "state", "iss"):
                values = received.get(name, [])
                if len(values) != 1 or not values[0]:
                    failures.append(f"the redirect has no single {name}: {received}")
                result[name] = values[0] if values else None
            if "error" in received:
                failures.append(f"the redirect is an error: {received}")
            if result.get("state") != state:
                failures.append(f"state {result.get('state')!r} is not the one sent ({state!r})")
            if result.get("iss") != issuer:
                failures.append(f"iss {result.get('iss')!r} is not the issuer {issuer!r}")
        headless_chromium.check_csp(driver, failures)
    except Exception as error:  # a driver failure is a failure of this run, reported in the JSON line
        failures.append(f"{type(error).__name__}: {error}")
    finally:
        driver.quit()
        server.shutdown()
    return headless_chromium.report(result, failures)


if __name__ == "__main__":
    sys.exit(main())
