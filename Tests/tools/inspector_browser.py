#!/usr/bin/env python3
"""A real browser on `ucpsim serve`'s inspector page (/inspector).

Headless Chromium (Debian's /usr/bin/chromium and /usr/bin/chromedriver, given explicitly so selenium-manager never
downloads anything) first opens <shop>/inspector without a token (the page asks for one; a wrong one is refused on
its form), then <shop>/inspector#token=TOKEN, and marks its window (a reload would lose the mark). Then:

- with --dead-url: a subscription (standard-webhooks, order.updated) to that URL, which answers 4xx; an order is
  created and shipped, and its order.updated to the subscription is a dead letter: the subscription filter shows it
  alone, its panel enables Redeliver, and Redeliver adds a second failed attempt to its timeline;
- an order is created through the control API (POST /testing/orders) with an item titled
  `<script>window.__pwned=1</script><b>x</b>`; its delivery's row appears in the list without a reload;
- the row opens the delivery's panel: the request headers table has Signature-Input and Webhook-Id, the signature
  base starts with the components Signature-Input covers (one line each, in order) and ends with
  "@signature-params", the order snapshot shows the title as literal text (no <b> element, window.__pwned undefined);
- the filters narrow the list (status dead: the dead letter alone; the order's id; an event type) and clearing them
  brings the row back;
- Resend (to --resend-url when given) puts a second attempt on the panel's timeline without a reload;
- the browser logged no Content-Security-Policy violation, and the page's style sheet applied;
- with --deliveries N: N more orders (N deliveries) while the page is open; the list keeps at most 200 rows, the
  page stays live (a delivery made afterwards appears), "older…" pages older rows in (still at most 200 rows). The
  page's JS heap (performance.memory.usedJSHeapSize after a forced garbage collection) and the serve process's RSS
  (VmRSS of /proc/<--serve-pid>/status) are measured before and after.

Prints one JSON line: {"ok": bool, "failures": [...], "event_id": ..., "delivery_id": ..., "measurements": {...}};
exits 0 when ok.

usage: inspector_browser.py --shop BASE_URL --token TOKEN [--resend-url URL] [--dead-url URL] [--deliveries N]
                            [--serve-pid PID] [--screenshot FILE] [--timeout SECONDS]
"""

import argparse
import concurrent.futures
import json
import re
import secrets
import sys
import time
import urllib.error
import urllib.request

import headless_chromium
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

TITLE = "<script>window.__pwned=1</script><b>x</b>"
ROW_LIMIT = 200


def call(method, url, body=None, token=None):
    """An HTTP call to the shop; (status, parsed JSON or None)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, None


def create_order(shop, order_id, title="Mug"):
    status, body = call(
        "POST", f"{shop}/testing/orders", {"id": order_id, "items": [{"sku": "mug", "price": 1500, "title": title}]}
    )
    if status != 201:
        raise RuntimeError(f"POST /testing/orders {order_id} answered {status}: {body}")


def rss_kb(pid):
    """The process's resident set size in kB (VmRSS), or None."""
    if not pid:
        return None
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def heap_bytes(driver):
    """The page's used JS heap after a forced garbage collection (Chromium's performance.memory)."""
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    return driver.execute_script("return performance.memory ? performance.memory.usedJSHeapSize : null")


def row_ids(driver):
    return driver.execute_script("return [...document.querySelectorAll('#rows tr')].map(r => r.dataset.id)")


def row_for_order(driver, order_id):
    """The id of the row whose order cell is order_id, or None."""
    return driver.execute_script(
        "for (const r of document.querySelectorAll('#rows tr')) {"
        "  if (r.children[3] && r.children[3].textContent === arguments[0]) return r.dataset.id; }"
        "return null;",
        order_id,
    )


def row_status(driver, delivery_id):
    return driver.execute_script(
        "const r = document.querySelector(`#rows tr[data-id=\"${arguments[0]}\"]`);"
        "return r ? r.children[1].textContent : null;",
        delivery_id,
    )


def marked(driver, mark):
    return driver.execute_script("return window.__inspectorMark") == mark


def check_signature_base(headers, base, failures):
    """The base's lines are the covered components of Signature-Input, in order, then @signature-params."""
    value = next((v for n, v in headers if n.lower() == "signature-input"), None)
    if value is None or base is None:
        failures.append("no Signature-Input header or no signature base to compare")
        return
    inner = re.search(r"\(([^)]*)\)", value)
    components = re.findall(r'"([^"]+)"', inner.group(1)) if inner else []
    lines = base.split("\n")
    if not components:
        failures.append(f"Signature-Input names no components: {value!r}")
        return
    for index, component in enumerate(components):
        if index >= len(lines) or not lines[index].startswith(f'"{component}"'):
            failures.append(f"signature base line {index + 1} is not {component!r}: {lines[index:index + 1]}")
            return
    if not lines[len(components)].startswith('"@signature-params": '):
        failures.append(f"the signature base does not end with @signature-params: {lines[len(components):]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shop", required=True, help="the shop's base URL")
    parser.add_argument("--token", required=True, help="serve's --api-token")
    parser.add_argument("--resend-url", help="resend the delivery to this URL (default: its own)")
    parser.add_argument("--dead-url", help="a URL that answers 4xx: a subscription there makes a dead letter")
    parser.add_argument("--deliveries", type=int, default=0, help="then drive this many more deliveries")
    parser.add_argument("--serve-pid", type=int, help="serve's process id, for its RSS")
    parser.add_argument("--screenshot", help="save a PNG of the page with the delivery's panel open here")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    shop = args.shop.rstrip("/")
    failures = []
    measurements = {}
    result = {"ok": False, "failures": failures, "measurements": measurements}

    driver = headless_chromium.start(1440, 1000, "--enable-precise-memory-info")
    try:
        driver.set_page_load_timeout(args.timeout)
        wait = WebDriverWait(driver, args.timeout, poll_frequency=0.05)

        def until(condition):
            """wait.until, and a timeout names the line that waited."""
            try:
                return wait.until(condition)
            except TimeoutException:
                line = sys._getframe(1).f_lineno
                raise TimeoutException(f"waited {args.timeout:g} s at inspector_browser.py:{line}") from None
        # Without a token the page asks for one; a wrong one is refused on the form.
        driver.get(f"{shop}/inspector")
        until(lambda d: d.find_element(By.ID, "token-form").is_displayed())
        driver.find_element(By.ID, "token-input").send_keys("not-the-token")
        driver.find_element(By.CSS_SELECTOR, "#token-form button").click()
        until(lambda d: "refused" in d.find_element(By.ID, "token-message").text)
        if driver.find_element(By.ID, "app").is_displayed():
            failures.append("the page shows itself with a refused token")
        driver.get("about:blank")

        # A subscription whose receiver answers 404 (dead letters at once), for order.updated only.
        if args.dead_url:
            status, answer = call(
                "POST",
                f"{shop}/v1/webhooks",
                {
                    "url": args.dead_url,
                    "event_types": ["order.updated"],
                    "dialect": "standard-webhooks",
                    "description": "answers 404",
                },
                token=args.token,
            )
            if status != 201:
                raise RuntimeError(f"POST /v1/webhooks answered {status}: {answer}")
            subscription = answer["id"]

        driver.get(f"{shop}/inspector#token={args.token}")
        until(lambda d: "live" in d.find_element(By.ID, "connection").get_attribute("class").split())
        if args.token in driver.current_url:
            failures.append(f"the token stayed in the address bar: {driver.current_url}")
        live = driver.find_element(By.ID, "connection")
        if live.value_of_css_property("color") not in ("rgba(22, 121, 76, 1)", "rgb(22, 121, 76)"):
            failures.append(f"the page's style sheet did not apply (live is {live.value_of_css_property('color')})")
        mark = secrets.token_hex(8)
        driver.execute_script("window.__inspectorMark = arguments[0]", mark)

        # A few deliveries to fill the list: an order, shipped.
        earlier = "ord_mug_" + secrets.token_hex(3)
        create_order(shop, earlier)
        status, answer = call(
            "POST",
            f"{shop}/testing/orders/{earlier}/ship",
            {"lines": [{"id": "li_1", "quantity": 1}], "carrier": "UPS"},
        )
        if status != 200:
            failures.append(f"shipping {earlier} answered {status}: {answer}")

        # The subscription's delivery of order.updated is a dead letter: the subscription filter finds it, and
        # Redeliver (enabled for it alone) sends it again: a second failed attempt on its timeline.
        if args.dead_url:
            until(
                lambda d: d.execute_script(
                    "return [...document.querySelectorAll('#rows tr')].some(r => r.children[1].textContent === 'dead')"
                )
            )
            until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#filter-subscription option[value="{subscription}"]'))
            Select(driver.find_element(By.ID, "filter-subscription")).select_by_value(subscription)
            until(lambda d: len(row_ids(d)) == 1 and row_for_order(d, earlier))
            dead = row_ids(driver)[0]
            if row_status(driver, dead) != "dead":
                failures.append(f"the subscription's delivery is {row_status(driver, dead)}, not dead")
            driver.find_element(By.CSS_SELECTOR, f'#rows tr[data-id="{dead}"]').click()
            until(lambda d: d.find_elements(By.CSS_SELECTOR, "#attempts li.bad"))
            if "standard-webhooks" not in driver.find_element(By.ID, "summary").text:
                failures.append("the dead letter's panel does not name its dialect")
            until(lambda d: d.find_element(By.ID, "redeliver").is_enabled())
            driver.find_element(By.ID, "redeliver").click()
            until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#attempts li.bad")) >= 2)
            if not driver.find_element(By.ID, "action-result").text.startswith("Redelivered"):
                failures.append(f"Redeliver said {driver.find_element(By.ID, 'action-result').text!r}")
            until(lambda d: row_status(d, dead) == "dead")
            Select(driver.find_element(By.ID, "filter-subscription")).select_by_value("")
            until(lambda d: len(row_ids(d)) >= 3)

        # A delivery arrives live.
        order = "ord_insp_" + secrets.token_hex(3)
        create_order(shop, order, TITLE)
        until(lambda d: row_for_order(d, order))
        delivery = row_for_order(driver, order)
        result["delivery_id"] = delivery
        if not marked(driver, mark):
            failures.append("the page reloaded to show the new delivery")
        until(lambda d: row_status(d, delivery) == "delivered")

        # Its panel.
        driver.find_element(By.CSS_SELECTOR, f'#rows tr[data-id="{delivery}"]').click()
        until(lambda d: d.find_elements(By.CSS_SELECTOR, "#request-headers tr"))
        until(lambda d: d.find_elements(By.CSS_SELECTOR, "#attempts li.ok"))
        headers = [
            (row.find_elements(By.TAG_NAME, "td")[0].text, row.find_elements(By.TAG_NAME, "td")[1].text)
            for row in driver.find_elements(By.CSS_SELECTOR, "#request-headers tr")
        ]
        names = [name.lower() for name, _ in headers]
        for wanted in ("Signature-Input", "Signature", "Webhook-Id", "Content-Digest"):
            if wanted.lower() not in names:
                failures.append(f"the headers table has no {wanted}: {names}")
        result["event_id"] = next((v for n, v in headers if n.lower() == "webhook-id"), None)
        base = driver.execute_script(
            "const p = document.getElementById('signature-base'); return p ? p.textContent : null"
        )
        check_signature_base(headers, base, failures)
        snapshot = driver.find_element(By.ID, "order-snapshot")
        if TITLE not in snapshot.text:
            failures.append("the order snapshot does not show the <script> title as text")
        if snapshot.find_elements(By.TAG_NAME, "b") or snapshot.find_elements(By.TAG_NAME, "script"):
            failures.append("the order title became markup in the snapshot")
        if json.loads(snapshot.text).get("id") != order:
            failures.append("the order snapshot is not the order's")
        if driver.execute_script("return typeof window.__pwned") != "undefined":
            failures.append("the order title's script ran")
        body = driver.find_element(By.ID, "request-body").text
        if order not in body:
            failures.append("the body shown is not the order's")

        # The status filter narrows the list (dead: the dead letter alone, if any); "any" brings the row back.
        Select(driver.find_element(By.ID, "filter-status")).select_by_value("dead")
        until(
            lambda d: not row_for_order(d, order)
            and len(row_ids(d)) == (1 if args.dead_url else 0)
            and all(row_status(d, shown) == "dead" for shown in row_ids(d))
        )
        Select(driver.find_element(By.ID, "filter-status")).select_by_value("")
        until(lambda d: row_for_order(d, order))
        # The order filter (exact id) and the event type filter.
        field = driver.find_element(By.ID, "filter-order")
        field.send_keys(earlier, Keys.ENTER)
        until(lambda d: len(row_ids(d)) == (3 if args.dead_url else 2) and not row_for_order(d, order))
        Select(driver.find_element(By.ID, "filter-type")).select_by_value("order.updated")
        until(lambda d: len(row_ids(d)) == (2 if args.dead_url else 1))
        cells = driver.execute_script(
            "return [...document.querySelectorAll('#rows tr')].map(r => r.children[2].textContent)"
        )
        if set(cells) != {"order.updated"}:
            failures.append(f"the event type filter shows {cells}")
        Select(driver.find_element(By.ID, "filter-type")).select_by_value("")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.DELETE, Keys.ENTER)
        until(lambda d: row_for_order(d, order))

        # Resend: a second attempt on the timeline, no reload.
        if args.resend_url:
            driver.find_element(By.ID, "resend-url").send_keys(args.resend_url)
        until(lambda d: d.find_element(By.ID, "resend").is_enabled())
        driver.find_element(By.ID, "resend").click()
        until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#attempts li.ok")) >= 2)
        # The list's row follows the stream too: delivered again, two attempts.
        until(
            lambda d: row_status(d, delivery) == "delivered"
            and d.find_element(By.CSS_SELECTOR, f'#rows tr[data-id="{delivery}"] td:nth-child(6)').text == "2"
        )
        shown = driver.find_element(By.ID, "action-result").text
        if not shown.startswith("Resent"):
            failures.append(f"Resend said {shown!r}")
        if args.resend_url and args.resend_url not in driver.find_element(By.ID, "summary").text:
            failures.append("the panel does not show the resend's URL")
        if not marked(driver, mark):
            failures.append("the page reloaded after Resend")
        result["attempts"] = [li.text.split("\n")[0] for li in driver.find_elements(By.CSS_SELECTOR, "#attempts li")]
        if not driver.find_element(By.ID, "redeliver").get_attribute("disabled"):
            failures.append("Redeliver is enabled for a delivery that is not a dead letter")
        if args.screenshot:
            driver.save_screenshot(args.screenshot)

        if args.deliveries > 0:
            measurements["deliveries"] = args.deliveries
            measurements["heap_before_bytes"] = heap_bytes(driver)
            measurements["rss_before_kb"] = rss_kb(args.serve_pid)
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda n: create_order(shop, f"ord_bulk_{n:05d}"), range(1, args.deliveries + 1)))

            def settled(_):
                status, answer = call("GET", f"{shop}/v1/deliveries?status=pending&limit=1", token=args.token)
                return status == 200 and not answer["deliveries"]

            until(settled)
            measurements["seconds"] = round(time.monotonic() - started, 1)
            # The page shows the newest rows, all delivered, and no more than its bound.
            until(
                lambda d: d.execute_script(
                    "const rows = [...document.querySelectorAll('#rows tr')];"
                    "return rows.length > 0 && rows.every(r => r.children[1].textContent === 'delivered')"
                )
            )
            count = len(row_ids(driver))
            measurements["rows_after"] = count
            if count > ROW_LIMIT:
                failures.append(f"the page keeps {count} rows after {args.deliveries} deliveries")
            if not marked(driver, mark):
                failures.append(f"the page reloaded during {args.deliveries} deliveries")
            # Still live: one more delivery appears.
            after = "ord_after_" + secrets.token_hex(3)
            create_order(shop, after)
            until(lambda d: row_for_order(d, after))
            if "live" not in driver.find_element(By.ID, "connection").get_attribute("class").split():
                failures.append("the page is not live after the deliveries")
            # "older…" pages older rows in, still within the bound.
            last = row_ids(driver)[-1]
            driver.find_element(By.ID, "older").click()
            until(lambda d: row_ids(d)[-1] != last)
            measurements["rows_after_older"] = len(row_ids(driver))
            if measurements["rows_after_older"] > ROW_LIMIT:
                failures.append(f"'older…' left {measurements['rows_after_older']} rows")
            # "newer…" goes back to the newest page; "older…" then follows the API's cursor: the rows are the API's
            # first two pages, in its order.
            driver.find_element(By.ID, "newest").click()
            until(lambda d: len(row_ids(d)) == 50 and not d.find_element(By.ID, "newest").is_displayed())
            driver.find_element(By.ID, "older").click()
            until(lambda d: len(row_ids(d)) == 100)
            status, answer = call("GET", f"{shop}/v1/deliveries?limit=100", token=args.token)
            if row_ids(driver) != [shown["id"] for shown in answer["deliveries"]]:
                failures.append("after 'newer…' and 'older…' the rows are not the API's first 100, in order")
            measurements["heap_after_bytes"] = heap_bytes(driver)
            measurements["rss_after_kb"] = rss_kb(args.serve_pid)
            measurements["rows_after"] = count

        headless_chromium.check_csp(driver, failures)
    except Exception as error:  # a driver failure is a failure of this run, reported in the JSON line
        failures.append(f"{type(error).__name__}: {error}")
    finally:
        driver.quit()
    return headless_chromium.report(result, failures)


if __name__ == "__main__":
    sys.exit(main())
