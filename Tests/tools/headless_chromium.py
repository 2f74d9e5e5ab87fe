"""What the real-browser checks share (consent_browser.py, inspector_browser.py, receiver_browser.py).

Debian's headless Chromium (/usr/bin/chromium, /usr/bin/chromedriver: given explicitly so selenium-manager never
downloads anything) with the browser's console log kept, the Content-Security-Policy violations it logged, and the
one JSON line each script ends with.
"""

import json

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def start(width, height, *arguments):
    """A headless Chromium window of that size (more command-line arguments after), logging the console."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     *arguments):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def check_csp(driver, failures):
    """Adds a failure when the browser logged a Content-Security-Policy violation."""
    violations = [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry.get("message", "")
    ]
    if violations:
        failures.append(f"the browser logged CSP violations: {violations}")


def report(result, failures):
    """Prints the run's JSON line ({"ok": no failures, "failures": [...], ...}); returns the exit status."""
    result["ok"] = not failures
    print(json.dumps(result, sort_keys=True))
    return 0 if result["ok"] else 1
