#!/usr/bin/env python3
"""A real browser on `ucpsim listen`'s inspector page (the receiver-side simulator view).

Headless Chromium (Debian's /usr/bin/chromium and /usr/bin/chromedriver, given explicitly so selenium-manager never
downloads anything) opens `<listen>/#token=TOKEN` and waits until the page says it is live; the token must have left
the address bar. It marks the page (`window.__marker`) to prove nothing reloads, then:

1. asks the running `ucpsim serve` (--shop, which sends its webhooks to the listener) to place an order whose item
   title is `<script>window.__pwned=1</script><b>x</b>`: the verified webhook must appear in the list by itself;
2. forges a webhook: the verified one's headers and signature again, over a body changed after signing (the order's
   total), POSTed to the listener: it must appear as rejected with the reason digest_mismatch;
3. opens the verified one: its panel shows the key id and the signer's profile (as the API reports them), the
   headers (Signature-Input among them) and the body, in which the title is text: no `<b>` element, no
   `window.__pwned`; the filter "rejected" shows the forged one only.

The page must not have reloaded, its style sheet must have applied (the CSP hash matches), and the browser must log
no Content-Security-Policy violation. With --screenshot it saves a PNG of the page with the verified webhook open.

Prints one JSON line: {"ok": bool, "failures": [...], "verified": id, "rejected": id, "kid": ...}; exits 0 when ok.

usage: receiver_browser.py --listen BASE_URL --token TOKEN --shop BASE_URL [--screenshot FILE]
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

import headless_chromium
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

TITLE = "<script>window.__pwned=1</script><b>x</b>"
# Headers the HTTP client sets itself when it re-sends the forged request.
HOP_HEADERS = {"host", "content-length", "connection", "accept", "accept-encoding", "expect", "user-agent"}


def http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def rows(driver, verdict):
    return driver.find_elements(By.CSS_SELECTOR, f"#rows tr[data-verdict={verdict}]")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True, help="the listener's base URL")
    parser.add_argument("--token", required=True, help="the listener's --api-token")
    parser.add_argument("--shop", required=True, help="the base URL of a ucpsim serve sending to the listener")
    parser.add_argument("--screenshot", help="save a PNG of the page here")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    listen = args.listen.rstrip("/")
    shop = args.shop.rstrip("/")
    failures = []
    result = {"ok": False, "failures": failures}
    auth = {"Authorization": f"Bearer {args.token}"}

    driver = headless_chromium.start(1400, 1250)
    try:
        driver.set_page_load_timeout(args.timeout)
        wait = WebDriverWait(driver, args.timeout)
        driver.get(f"{listen}/#token={args.token}")
        wait.until(lambda d: d.find_element(By.ID, "connection").text == "live")
        if "token" in driver.current_url:
            failures.append(f"the token is still in the address bar: {driver.current_url}")
        driver.execute_script("window.__marker = 'no reload'")

        # 1. A real shop's verified webhook arrives, live.
        order = {"id": "ord_browser_1", "items": [{"sku": "mug", "price": 1500, "title": TITLE}]}
        status, answer = http(
            "POST", f"{shop}/testing/orders", json.dumps(order).encode(), {"Content-Type": "application/json"}
        )
        if status != 201 and status != 200:
            failures.append(f"the shop refused the order: {status} {answer[:200]!r}")
        wait.until(lambda d: rows(d, "verified"))
        verified_id = rows(driver, "verified")[0].get_attribute("data-id")
        result["verified"] = verified_id
        status, raw = http("GET", f"{listen}/v1/received/{verified_id}", headers=auth)
        record = json.loads(raw) if status == 200 else {}
        if status != 200:
            failures.append(f"GET /v1/received/{verified_id} answered {status}")
        key = record.get("key") or {}
        result["kid"] = key.get("kid")

        # 2. A forged webhook: signed headers, body changed after signing.
        body = record.get("body", "")
        forged = body.replace('"amount":1500', '"amount":1').replace('"amount": 1500', '"amount": 1')
        if forged == body:
            forged = body.replace("ord_browser_1", "ord_browser_2")
        headers = {h["name"]: h["value"] for h in record.get("headers", []) if h["name"].lower() not in HOP_HEADERS}
        path = record.get("url", f"{listen}/webhooks").split("/", 3)[3]
        status, _ = http("POST", f"{listen}/{path}", forged.encode(), headers)
        if status != 400:
            failures.append(f"the forged webhook was answered {status}, not 400")
        wait.until(lambda d: rows(d, "rejected"))
        rejected = rows(driver, "rejected")[0]
        result["rejected"] = rejected.get_attribute("data-id")
        reason = rejected.find_element(By.CSS_SELECTOR, ".reason").text
        if reason != "digest_mismatch":
            failures.append(f"the rejected row's reason is {reason!r}, not digest_mismatch")
        first = driver.find_elements(By.CSS_SELECTOR, "#rows tr")[0].get_attribute("data-id")
        if first != result["rejected"]:
            failures.append(f"the newest webhook is not at the top: {first}")
        badge = rows(driver, "verified")[0].find_element(By.CSS_SELECTOR, ".badge")
        if badge.text != "verified" or badge.value_of_css_property("color") not in ("rgba(22, 121, 76, 1)", "rgb(22, 121, 76)"):
            failures.append(
                f"the verified badge is {badge.text!r} in {badge.value_of_css_property('color')}: did the style apply?"
            )

        # The rejected one's panel: the reason and its detail.
        rejected.click()
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#detail h2").text.startswith(result["rejected"]))
        facts = driver.find_element(By.ID, "facts").text
        if "digest_mismatch" not in facts:
            failures.append(f"the rejected panel does not give the reason: {facts!r}")

        # The filter.
        Select(driver.find_element(By.ID, "verdict")).select_by_value("rejected")
        wait.until(lambda d: not rows(d, "verified") and rows(d, "rejected"))
        Select(driver.find_element(By.ID, "verdict")).select_by_value("")
        wait.until(lambda d: rows(d, "verified") and rows(d, "rejected"))

        # 3. The verified one's panel.
        rows(driver, "verified")[0].click()
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#detail h2").text.startswith(verified_id))
        facts = driver.find_element(By.ID, "facts").text
        for expected in ("verified", key.get("kid") or "(no kid)", key.get("profile") or "(no profile)"):
            if expected not in facts:
                failures.append(f"the verified panel does not show {expected!r}: {facts!r}")
        header_text = driver.find_element(By.ID, "headers").text
        for expected in ("Signature-Input", "Content-Digest", "Webhook-Id", "UCP-Agent"):
            if expected not in header_text:
                failures.append(f"the headers table has no {expected}")
        shown = driver.find_element(By.ID, "body").text
        if TITLE not in shown:
            failures.append("the body does not show the title as text")
        if driver.find_elements(By.CSS_SELECTOR, "#detail b, #rows b"):
            failures.append("the title's <b> became an element")
        if driver.execute_script("return typeof window.__pwned") != "undefined":
            failures.append("the title's <script> ran")
        if len(driver.find_elements(By.TAG_NAME, "script")) != 1:
            failures.append("the page has more than its one script element")
        if driver.execute_script("return window.__marker") != "no reload":
            failures.append("the page reloaded")
        if args.screenshot:
            # The title's line in view: the body is longer than its box.
            driver.execute_script(
                "const pre = document.getElementById('body');"
                "const lines = pre.textContent.split('\\n');"
                "const at = lines.findIndex((line) => line.includes('__pwned'));"
                "pre.scrollTop = Math.max(0, at - 6) * (pre.scrollHeight / lines.length);"
            )
            driver.save_screenshot(args.screenshot)
        headless_chromium.check_csp(driver, failures)
    except Exception as error:  # a driver failure is a failure of this run, reported in the JSON line
        failures.append(f"{type(error).__name__}: {error}")
    finally:
        driver.quit()
    return headless_chromium.report(result, failures)


if __name__ == "__main__":
    sys.exit(main())
