#!/usr/bin/env python3
"""The pages behind the links in the mails, in a real browser (Debian's chromium, headless,
driven by Playwright): a person signs up, opens the activation link, asks for a password reset,
opens the reset link from the mail log, types a new password, submits, and logs in with it.

Usage: scripts/browser_test.py <accounts binary> <screenshot directory>
(scripts/test runs it beside the soak: the mail throttle holds the reset mail back until a
minute after the activation mail, which this waits out.)
"""

import json
import os
import socket
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
PHONE = {"width": 390, "height": 844}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def link(mail_log, to, path, after=0):
    """The newest link to `path` in a mail to `to`, waiting up to `after` seconds for it."""
    deadline = time.time() + after
    while True:
        with open(mail_log) as f:
            mails = [json.loads(line) for line in f if line.strip()]
        for m in reversed(mails):
            if m["to"] == to:
                for line in m["text"].splitlines():
                    if path + "?token=" in line:
                        return line.strip()
        if time.time() >= deadline:
            sys.exit(f"no mail to {to} with a link to {path}")
        time.sleep(0.5)


def check(condition, what):
    if not condition:
        sys.exit(f"browser test failed: {what}")
    print(f"ok: {what}")


def main():
    binary, shots = sys.argv[1], sys.argv[2]
    os.makedirs(shots, exist_ok=True)
    data = tempfile.mkdtemp()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATA_DIR": data, "PORT": str(port), "RUST_LOG": "warn"}
    server = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(data, "server.log"), "w"))
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        mail_log = os.path.join(data, "mail.log")
        address = "walker@example.com"
        status, body = request(base, "POST", "/user",
                               {"username": "walker", "email": address, "password": PASSWORD})
        check(status == 201, f"sign-up: {status} {body}")
        signed_up = time.time()

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=PHONE)

            page.goto(link(mail_log, address, "/activate"))
            check("Account activated" in page.content(), "the activation link, in a browser")
            page.screenshot(path=os.path.join(shots, "activated-phone.png"))

            # The reset mail is the address's second: a minute after the first.
            time.sleep(max(0, signed_up + 61 - time.time()))
            status, _ = request(base, "POST", "/password/forgot", {"email": address})
            check(status == 202, "forgot my password")
            reset = link(mail_log, address, "/password/reset", after=5)

            response = page.goto(reset)
            check(response.headers.get("referrer-policy") == "no-referrer",
                  "the reset page sends no referrer")
            page.screenshot(path=os.path.join(shots, "reset-form-phone.png"))
            page.get_by_label("New password").fill("short")
            # The browser itself refuses a password under 8 characters (minlength): nothing
            # is posted, the form stays.
            page.get_by_role("button", name="Set the new password").click()
            check(page.url == reset, "a too-short password is held back by the form itself")
            page.get_by_label("New password").fill(NEW_PASSWORD)
            page.get_by_role("button", name="Set the new password").click()
            page.wait_for_load_state()
            check("Password changed" in page.content(), f"the answer page: {page.content()[:300]}")
            page.screenshot(path=os.path.join(shots, "reset-done-phone.png"))

            page.goto(reset)
            check("not valid" in page.content(), "the link works once")
            browser.close()

        status, _ = request(base, "POST", "/auth", {"username": "walker", "password": PASSWORD})
        check(status == 401, "the old password is refused")
        status, _ = request(base, "POST", "/auth",
                            {"username": "walker", "password": NEW_PASSWORD})
        check(status == 200, "the new password logs in")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
