#!/usr/bin/env python3
"""A single-page app signs a person in through the hosted sign-in page, in a real browser
(Debian's chromium, headless, driven by Playwright):

- the app (scripts/spa/, served from another loopback port: its own origin) is a public client
  not marked first-party; it builds the authorization request with PKCE (S256), state and
  nonce, and redeems the code from the browser (CORS allows its origin), then reads UserInfo;
- the person has a second factor: the sign-in page, the second step's page and the consent page
  each pass the pages' checks (the strict headers, a readable size, no sideways scrolling, a
  visible focus, axe-core finding no WCAG 2.1 A or AA violation, nothing refused by the CSP),
  with screenshots at a phone and a desktop width;
- the app ends signed in as the person, with amr ["pwd", "otp"]; a second sign-in from the app
  goes straight through (the browser session, the consent remembered).

Usage: scripts/oidc_browser_test.py <accounts binary> <screenshot directory> <axe.min.js>
"""

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import sync_playwright

from browser_test import CSP, PASSWORD, Browser, Service, check

HERE = os.path.dirname(os.path.abspath(__file__))


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Spa:
    """scripts/spa/ on its own loopback port, with its config.json."""

    def __init__(self):
        self.root = tempfile.mkdtemp()
        for f in ["index.html", "app.js"]:
            shutil.copy(os.path.join(HERE, "spa", f), self.root)
        handler = functools.partial(Quiet, directory=self.root)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.redirect_uri = self.origin + "/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def configure(self, issuer, client_id):
        with open(os.path.join(self.root, "config.json"), "w") as f:
            json.dump({"issuer": issuer, "client_id": client_id,
                       "redirect_uri": self.redirect_uri}, f)

    def stop(self):
        self.server.shutdown()


def totp(secret_b32, at=None):
    """RFC 6238's code (SHA-1, 30 s, 6 digits) of a base32 secret."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 15
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def with_second_factor(service, username):
    """Signs `username` up, activates it and turns a TOTP factor on: its base32 secret."""
    address = service.sign_up(username)
    status, _ = service.request("GET", service.link(address, "/activate")[len(service.base):])
    check(status == 200, f"{username} activated")
    _, token = service.log_in(username)
    status, body = service.request("POST", f"/user/{username}/mfa/totp",
                                   {"password": PASSWORD}, token)
    check(status == 200, f"{username} enrols: {status}")
    secret = json.loads(body)["secret"]
    status, _ = service.request("POST", f"/user/{username}/mfa/totp/verify",
                                {"code": totp(secret)}, token)
    check(status == 200, f"{username}'s second factor is on")
    return secret


def main():
    binary, shots, axe_path = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(shots, exist_ok=True)
    spa = Spa()
    service = Service(binary, env={"ALLOWED_ORIGINS": spa.origin})
    try:
        secret = with_second_factor(service, "spa")
        out = subprocess.run(
            [binary, "add-client", "--name", "Sample SPA", "--redirect-uri", spa.redirect_uri,
             "--public", "--scope", "openid", "--scope", "profile", "--scope", "email"],
            env={**os.environ, "DATA_DIR": service.data}, capture_output=True, text=True,
            check=True).stdout
        client_id = re.search(r"^client_id: (\S+)$", out, re.M).group(1)
        spa.configure(service.base, client_id)
        with sync_playwright() as p:
            b = Browser(p, shots, axe_path)
            # The pages' strict policy, with the app's origin as where their forms may end.
            b.csp = CSP.replace("form-action 'self'", f"form-action 'self' {spa.origin}")
            run(b, spa, secret)
    finally:
        service.stop()
        spa.stop()
    print("oidc browser test: ok")


def run(b, spa, secret):
    page = b.page
    page.goto(spa.redirect_uri)
    page.wait_for_selector("body[data-ready=yes]")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign in with accounts").click()
    b.check_page("oidc-sign-in", navigation.value, 200, "Sign in")
    check("Sample SPA" in page.locator("main").inner_text(), "the page names the app")

    page.fill("#login", "spa@example.com")
    page.fill("#password", PASSWORD)
    b.submit("oidc-second-step", "Sign in", 200, "Enter your code")
    page.fill("#code", "000000")
    b.submit("oidc-second-step-wrong", "Continue", 401, "Enter your code")
    check(page.locator("[role=alert]").count() == 1, "the wrong code is said, as an alert")
    # The next time step's code (the one now may have been spent by enrolment).
    page.fill("#code", totp(secret, time.time() + 30))
    b.submit("oidc-consent", "Continue", 200, "Allow access?")
    check("see your email address" in page.locator("main").inner_text(),
          "the consent page says what the app asks for")

    # Back to the app: the form's answer is a redirect to the app's origin, which the page's
    # CSP (form-action) must allow, or the browser stops there.
    with page.expect_navigation(url=re.compile(re.escape(spa.origin) + ".*")):
        page.get_by_role("button", name="Allow").click()
    page.wait_for_selector("body[data-result]")
    result = json.loads(page.locator("body").get_attribute("data-result"))
    check(result.get("username") == "spa" and result.get("amr") == ["pwd", "otp"],
          f"the app is signed in, with the second factor: {result}")
    check(result.get("scope") == "openid profile email", "with the scopes it asked for")

    # Again: the browser session and the consent are remembered; no page on the way.
    page.wait_for_selector("body[data-ready=yes]")
    with page.expect_navigation(url=re.compile(re.escape(spa.origin) + ".*")):
        page.get_by_role("button", name="Sign in with accounts").click()
    page.wait_for_selector("body[data-result]")
    result = json.loads(page.locator("body").get_attribute("data-result"))
    check(result.get("username") == "spa", f"signed in again without a page: {result}")
    b.close()


if __name__ == "__main__":
    main()
