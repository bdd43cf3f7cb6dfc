#!/usr/bin/env python3
"""A web app on another origin uses the API from a real browser (Debian's chromium, headless,
driven by Playwright), as CORS (`ALLOWED_ORIGINS`) allows it, and no other origin can:

- the local server runs with one allowed origin, a page served from another loopback port;
  from that page, `fetch` signs up, logs in, reads `GET /user`, updates the profile with
  `PUT`, and reads the exposed `WWW-Authenticate` of a refused call;
- a page served from a third loopback port (an origin not allowed) tries the same: every call
  fails in the browser as a CORS failure, and the server holds no trace of it (no user, no
  mail, the profile unchanged).

Usage: scripts/cors_browser_test.py <accounts binary>
(scripts/test runs it beside the soak, as the page test.)
"""

import functools
import json
import os
import sqlite3
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import sync_playwright

from browser_test import CHROMIUM_ARGS, PASSWORD, Service, check

# Runs in the page: one call to the API, its status, body and the headers a script may read,
# or the browser's error when it refuses the call.
FETCH = """async ({url, method, token, body}) => {
    const headers = {};
    if (body !== null) headers["content-type"] = "application/json";
    if (token !== null) headers["authorization"] = "Bearer " + token;
    try {
        const r = await fetch(url, {method, headers,
                                    body: body === null ? undefined : JSON.stringify(body)});
        return {status: r.status, text: await r.text(),
                wwwAuthenticate: r.headers.get("www-authenticate")};
    } catch (e) {
        return {error: String(e)};
    }
}"""


class App:
    """A web app's origin: an empty page served from its own loopback port."""

    def __init__(self):
        root = tempfile.mkdtemp()
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<!doctype html><html lang=en><title>a web app</title><h1>app</h1>")
        handler = functools.partial(QuietHandler, directory=root)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def users_named(service, username):
    db = sqlite3.connect(os.path.join(service.data, "accounts.db"), timeout=10)
    n = db.execute("SELECT count(*) FROM users WHERE username = ?", (username,)).fetchone()[0]
    db.close()
    return n


def main():
    binary = sys.argv[1]
    allowed, other = App(), App()
    service = Service(binary, env={"ALLOWED_ORIGINS": allowed.origin})
    try:
        run(service, allowed, other)
    finally:
        service.stop()
        allowed.stop()
        other.stop()


def run(service, allowed, other):
    api = service.base
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        console = []
        page.on("console", lambda m: console.append(m.text))

        def call(method, path, token=None, body=None):
            return page.evaluate(FETCH, {"url": api + path, "method": method,
                                         "token": token, "body": body})

        # The allowed origin: the whole sign-in path, from the page's own scripts.
        page.goto(allowed.origin + "/")
        r = call("POST", "/user", body={"username": "ada", "email": "ada@example.com",
                                        "password": PASSWORD, "name": "Ada"})
        check(r.get("status") == 201, f"{allowed.origin}: sign-up by fetch: {r}")
        status, _ = service.request(
            "GET", service.link("ada@example.com", "/activate")[len(api):])
        check(status == 200, "ada activated by the mail's link")
        r = call("POST", "/auth", body={"username": "ada", "password": PASSWORD})
        check(r.get("status") == 200, f"{allowed.origin}: log-in by fetch: {r.get('status')}")
        token = json.loads(r["text"])["token"]
        r = call("GET", "/user", token=token)
        check(r.get("status") == 200 and json.loads(r["text"])["username"] == "ada",
              f"{allowed.origin}: GET /user by fetch: {r.get('status')}")
        r = call("PUT", "/user/ada", token=token, body={"name": "Ada L."})
        check(r.get("status") == 200 and json.loads(r["text"])["name"] == "Ada L.",
              f"{allowed.origin}: PUT /user/ada by fetch: {r.get('status')}")
        r = call("GET", "/user")
        check(r.get("status") == 401 and (r.get("wwwAuthenticate") or "").startswith("Bearer"),
              f"{allowed.origin}: a refused call's WWW-Authenticate is readable: {r}")

        # Another origin: the same calls fail in the browser, and change nothing.
        page.goto(other.origin + "/")
        console.clear()
        r = call("POST", "/user", body={"username": "mallory", "email": "mallory@example.com",
                                        "password": PASSWORD})
        check("error" in r, f"{other.origin}: sign-up refused by the browser: {r}")
        r = call("GET", "/user", token=token)
        check("error" in r, f"{other.origin}: GET /user with a stolen token refused: {r}")
        r = call("PUT", "/user/ada", token=token, body={"name": "Mallory was here"})
        check("error" in r, f"{other.origin}: PUT refused: {r}")
        blocked = [m for m in console if "blocked by CORS policy" in m]
        check(len(blocked) == 3, f"the browser says CORS blocked each of the three: {console}")
        check(users_named(service, "mallory") == 0, "no user made by the refused sign-up")
        check(not service.mails("mallory@example.com"), "no mail sent by the refused sign-up")
        status, body = service.request("GET", "/user", token=token)
        check(status == 200 and json.loads(body)["name"] == "Ada L.",
              "the profile unchanged by the refused PUT")
        browser.close()


if __name__ == "__main__":
    main()
