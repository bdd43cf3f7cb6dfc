#!/usr/bin/env python3
"""Every page a person meets from a mail, in a real browser (Debian's chromium, headless, driven
by Playwright), on the local server with the logging mailer:

- each page is opened from a real link in the mail log (the activation link by clicking the
  button of the HTML mail), at a phone width and a desktop width, with a screenshot of each;
- each is checked: its heading, its strict headers, no CSP violation, a system font at a
  readable size, no sideways scrolling on a phone, a visible focus, and axe-core (WCAG 2.1 A
  and AA) finds no violation; the HTML mails are checked with axe-core as well;
- the dead ends are used to the end: a cut activation link and an expired one each lead, by
  their form, to a new link that works; a reset started from an expired link completes, and
  the new password logs in while the old one is refused.

Usage: scripts/browser_test.py <accounts binary> <screenshot directory> <axe.min.js>
(scripts/test runs it beside the soak. The mail throttle holds a second mail to an address back
for a minute, which this waits out once; an expired link, and a third mail, are made by moving
that one token's expiry, or that one address's throttle record, back in the store file, as the
service's clock moving on would.)
"""

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a fresh passphrase typed by hand 77"
# Flags for a closed network: no background connections, no first-run work.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(condition, what):
    if not condition:
        sys.exit(f"browser test failed: {what}")
    print(f"ok: {what}")


class Service:
    """The local server on a free loopback port, in a data directory of its own."""

    def __init__(self, binary, env=None, data=None, port=None):
        """`data` and `port` of a service stopped before: the same service, restarted."""
        self.data = data or tempfile.mkdtemp()
        self.port = port = port or free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DATA_DIR": self.data, "PORT": str(port), "RUST_LOG": "warn",
               **(env or {})}
        self.process = subprocess.Popen(
            [binary], env=env, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.data, "server.log"), "w"))
        for _ in range(100):
            try:
                urllib.request.urlopen(self.base + "/", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        sys.exit("the server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait()

    def request(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def mails(self, to):
        path = os.path.join(self.data, "mail.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [m for m in map(json.loads, filter(str.strip, f)) if m["to"] == to]

    def mail(self, to, path, newer_than=0, wait=5):
        """The newest mail to `to` with a link to `path` (after the first `newer_than` such
        mails), and that link, waiting up to `wait` seconds."""
        deadline = time.time() + wait
        while True:
            found = [(m, line.strip()) for m in self.mails(to)
                     for line in m["text"].splitlines() if path + "?token=" in line]
            if len(found) > newer_than:
                return found[-1]
            if time.time() >= deadline:
                sys.exit(f"no mail to {to} with a link to {path}")
            time.sleep(0.25)

    def link(self, to, path, newer_than=0):
        return self.mail(to, path, newer_than)[1]

    def sign_up(self, username):
        status, body = self.request("POST", "/user", {
            "username": username, "email": f"{username}@example.com", "password": PASSWORD})
        check(status == 201, f"sign-up of {username}: {status} {body}")
        return f"{username}@example.com"

    def log_in(self, username, password=PASSWORD):
        status, body = self.request("POST", "/auth",
                                    {"username": username, "password": password})
        return status, (json.loads(body).get("token") if status == 200 else None)

    def expire(self, table, username):
        """Moves the expiry of `username`'s tokens in `table` into the past (the service's
        clock a day on, for those tokens alone)."""
        db = sqlite3.connect(os.path.join(self.data, "accounts.db"), timeout=10)
        with db:
            n = db.execute(
                f"UPDATE {table} SET expires_at = expires_at - 86401 WHERE user_id = "
                "(SELECT user_id FROM users WHERE username = ?)", (username,)).rowcount
        db.close()
        check(n > 0, f"{username}'s {table} moved past their expiry")

    def minute_passes_for(self, address):
        """Moves the mail throttle's record of `address` a minute back (its clock a minute on)."""
        db = sqlite3.connect(os.path.join(self.data, "accounts.db"), timeout=10)
        with db:
            n = db.execute("UPDATE mail_counts SET last_sent = last_sent - 61 "
                           "WHERE email_key = ?", (address.lower(),)).rowcount
        db.close()
        check(n == 1, f"a minute passed for the mails to {address}")


class Browser:
    def __init__(self, playwright, shots, axe_path):
        self.browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                  args=CHROMIUM_ARGS)
        self.page = self.browser.new_page(viewport=SIZES["phone"])
        self.shots = shots
        self.axe = open(axe_path).read()
        # The policy the pages must carry (the hosted sign-in pages' allow their app's origin
        # as a form's destination too).
        self.csp = CSP
        self.console = []
        self.page.on("console", lambda m: self.console.append(m.text))

    def close(self):
        self.browser.close()

    def axe_violations(self):
        # Evaluated through the DevTools protocol, which the pages' CSP (no script at all)
        # does not govern; the pages themselves stay as they are served.
        self.page.evaluate(self.axe)
        return self.page.evaluate(
            """async (tags) => {
                const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
                return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => n.target.join(' '))}));
            }""", WCAG)

    def shoot(self, name):
        """A screenshot at each width (phone last, so the page is left at phone width)."""
        for size in ["desktop", "phone"]:
            self.page.set_viewport_size(SIZES[size])
            wide = self.page.evaluate(
                "document.documentElement.scrollWidth <= window.innerWidth")
            check(wide, f"{name}: no sideways scrolling at the {size} width")
            # A short viewport, so that the whole page is as tall as what it shows.
            self.page.set_viewport_size({**SIZES[size], "height": 200})
            self.page.screenshot(path=os.path.join(self.shots, f"{name}-{size}.png"),
                                 full_page=True)
            self.page.set_viewport_size(SIZES[size])

    def check_page(self, name, response, status, title):
        """The checks every page passes; `response` is the navigation that brought it."""
        check(response is not None and response.status == status,
              f"{name}: status {response and response.status}, expected {status}")
        headers = response.headers
        check(headers.get("content-security-policy") == self.csp, f"{name}: the strict CSP")
        check(headers.get("referrer-policy") == "no-referrer", f"{name}: no referrer")
        check(headers.get("x-frame-options") == "DENY", f"{name}: not framed")
        h1 = self.page.locator("h1").inner_text()
        check(h1 == title, f"{name}: the heading is {h1!r}")
        check(self.page.title() == title, f"{name}: the title {self.page.title()!r}")
        font = self.page.evaluate(
            "[getComputedStyle(document.body).fontFamily,"
            " parseFloat(getComputedStyle(document.body).fontSize)]")
        check(font[0].startswith("system-ui") and font[1] >= 16,
              f"{name}: a system font at {font[1]}px")
        self.shoot(name)
        if self.page.locator("input:not([type=hidden])").count():
            self.page.keyboard.press("Tab")
            outline = self.page.evaluate(
                "getComputedStyle(document.activeElement).outlineStyle")
            check(outline == "solid", f"{name}: the focused field shows its focus")
        violations = self.axe_violations()
        check(not violations, f"{name}: axe-core, WCAG 2.1 A and AA: {violations}")
        blocked = [c for c in self.console if "Content Security Policy" in c]
        check(not blocked, f"{name}: nothing refused by the CSP: {blocked}")

    def open(self, name, url, status, title):
        self.check_page(name, self.page.goto(url), status, title)

    def submit(self, name, button, status, title):
        with self.page.expect_navigation() as navigation:
            self.page.get_by_role("button", name=button, exact=True).click()
        self.check_page(name, navigation.value, status, title)

    def open_mail(self, name, mail):
        """The HTML part of a mail, as a mail program shows it."""
        self.page.set_viewport_size({**SIZES["phone"], "height": 200})
        self.page.set_content(mail["html"])
        check(self.page.title() == mail["subject"], f"{name}: the title is the subject")
        check(mail["from"].startswith('"Accounts" <'), f"{name}: from {mail['from']}")
        self.page.screenshot(path=os.path.join(self.shots, f"{name}-phone.png"), full_page=True)
        self.page.set_viewport_size(SIZES["phone"])
        violations = self.axe_violations()
        check(not violations, f"{name}: axe-core, WCAG 2.1 A and AA: {violations}")


def main():
    binary, shots, axe_path = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(shots, exist_ok=True)
    service = Service(binary)
    try:
        run(service, shots, axe_path)
    finally:
        service.stop()


def run(service, shots, axe_path):
    walker = service.sign_up("walker")  # activates by the mail's button, then resets
    cutter = service.sign_up("cutter")  # opens a cut activation link
    tardy = service.sign_up("tardy")  # opens an expired activation link
    mover = service.sign_up("mover")  # changes the address
    late = service.sign_up("late")  # opens an expired reset link
    for name in ["mover", "late"]:
        status, _ = service.request(
            "GET", service.link(f"{name}@example.com", "/activate")[len(service.base):])
        check(status == 200, f"{name} activated")
    first_mails = time.time()

    with sync_playwright() as p:
        b = Browser(p, shots, axe_path)
        page = b.page

        # Activation, from the button of the HTML mail.
        mail, link = service.mail(walker, "/activate")
        b.open_mail("mail-activation", mail)
        with page.expect_navigation() as navigation:
            page.get_by_role("link", name="Activate my account").click()
        check(page.url == link, "the mail's button holds the link")
        b.check_page("activation-done", navigation.value, 200, "Account activated")
        b.open("activation-again", link, 200, "Account already activated")

        # A cut activation link, and an expired one: each page offers a new link.
        cut = service.link(cutter, "/activate")[:-12]
        b.open("activation-link-cut", cut, 400, "This activation link does not work")
        page.get_by_label("Email address").fill("cutter@localhost")
        b.submit("activation-form-mistyped", "Mail me a new link", 400,
                 "Get a new activation link")
        error = page.locator("#email-error")
        check(error.get_attribute("role") == "alert"
              and "whole email address" in error.inner_text(),
              "a mistyped address is refused next to the field, announced")
        check(page.get_by_label("Email address").get_attribute("aria-describedby")
              == "email-error", "the error is tied to the field")

        tardy_link = service.link(tardy, "/activate")
        service.expire("activation_tokens", "tardy")
        b.open("activation-link-expired", tardy_link, 410, "This activation link has expired")

        # Address change: the confirmation link, again, and a cut one.
        status, token = service.log_in("mover")
        status, body = service.request("PUT", "/user/mover/email", {
            "email": "mover.new@example.com", "password": PASSWORD}, token)
        check(status == 202, f"address change asked: {status} {body}")
        mail, link = service.mail("mover.new@example.com", "/email/confirm")
        b.open_mail("mail-email-confirmation", mail)
        b.open("email-confirmed", link, 200, "Email address changed")
        b.open("email-confirmed-again", link, 200, "Already confirmed")
        b.open("email-link-cut", link[:-12], 400, "This confirmation link does not work")
        status, body = service.request("GET", "/user/mover", token=token)
        check(json.loads(body)["email"] == "mover.new@example.com", "the address is changed")

        # The second mail to each address, a minute after the first (the mail throttle).
        time.sleep(max(0, first_mails + 61 - time.time()))

        for dead, address, name in [(tardy_link, tardy, "activation-resent"),
                                    (cut, cutter, "activation-resent-after-cut")]:
            page.goto(dead)
            page.get_by_label("Email address").fill(address)
            b.submit(name, "Mail me a new link", 202, "Check your mail")
            b.open(f"activation-done-after-{address.split('@')[0]}",
                   service.link(address, "/activate", newer_than=1), 200, "Account activated")
            check(service.log_in(address.split("@")[0])[0] == 200,
                  f"the new activation link from the form works ({address})")

        # A reset as a person meets it: the mail, the form, a refusal, then the new password.
        status, _ = service.request("POST", "/password/forgot", {"email": walker})
        check(status == 202, "forgot my password")
        mail, reset = service.mail(walker, "/password/reset")
        b.open_mail("mail-reset", mail)
        b.open("reset-form", reset, 200, "Choose a new password")
        page.get_by_label("New password").fill("short")
        # The browser itself holds back a password under 8 characters (minlength).
        page.get_by_role("button", name="Set the new password").click()
        check(page.url == reset, "a too-short password is held back by the form itself")
        page.get_by_label("New password").fill("walker walker walker")
        b.submit("reset-form-refused", "Set the new password", 400, "Choose a new password")
        check("must not contain your username" in page.locator("#password-error").inner_text(),
              "a refused password says why, next to the field")
        page.get_by_label("New password").fill(NEW_PASSWORD)
        b.submit("reset-done", "Set the new password", 200, "Password changed")
        b.open("reset-link-used", reset, 400, "This password reset link does not work")
        check(service.log_in("walker")[0] == 401, "the old password is refused")
        check(service.log_in("walker", NEW_PASSWORD)[0] == 200, "the new password logs in")

        # A reset started from an expired link completes.
        status, _ = service.request("POST", "/password/forgot", {"email": late})
        check(status == 202, "forgot, for the account whose link will expire")
        old = service.link(late, "/password/reset")
        service.expire("reset_tokens", "late")
        service.minute_passes_for(late)
        b.open("reset-link-expired", old, 410, "This password reset link has expired")
        page.get_by_label("Email address").fill(late)
        b.submit("reset-asked-again", "Mail me a reset link", 202, "Check your mail")
        fresh = service.link(late, "/password/reset", newer_than=1)
        check(fresh != old, "a new reset link came")
        b.open("reset-form-again", fresh, 200, "Choose a new password")
        page.get_by_label("New password").fill(NEW_PASSWORD)
        b.submit("reset-done-again", "Set the new password", 200, "Password changed")
        check(service.log_in("late", NEW_PASSWORD)[0] == 200,
              "the reset started from an expired link completed")

        # A sign-in code by mail: the mail, its link's page (a button and no code: a mail
        # scanner that opens it sees and spends nothing), the button showing the code, which
        # then signs in; the link is dead after.
        service.minute_passes_for(walker)
        status, _ = service.request("POST", "/auth/email-code", {"email": walker})
        check(status == 202, "a sign-in code asked for")
        mail, link = service.mail(walker, "/auth/email-code/link")
        code = re.search(r"\n    (\d{6})\n", mail["text"]).group(1)
        b.open_mail("mail-email-code", mail)
        b.open("email-code-link", link, 200, "Your sign-in code")
        check(code not in page.content(), "the link's page shows no code")
        b.submit("email-code-shown", "Show my code", 200, "Your sign-in code")
        check(page.locator("#code").inner_text() == code, "the button shows the mailed code")
        status, body = service.request("POST", "/auth/email-code/verify",
                                       {"email": walker, "code": code})
        check(status == 200 and "access_token" in json.loads(body),
              f"the code shown signs in: {status}")
        b.open("email-code-link-used", link, 410, "This code no longer works")
        b.close()


if __name__ == "__main__":
    main()
