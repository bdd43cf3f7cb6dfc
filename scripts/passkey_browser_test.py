#!/usr/bin/env python3
"""Passkeys in a real browser (Debian's chromium, headless, driven by Playwright), with the
DevTools protocol's virtual authenticator standing in for a fingerprint reader (CTAP2, built
in, resident keys, user verification):

- the person opens the account page, signs in on the hosted page it sends them to, and adds a
  passkey there with the browser's own WebAuthn (the page's script asks for the options with
  the password, parses them with PublicKeyCredential.parseCreationOptionsFromJSON, and posts
  the credential's toJSON() with the form), renames it, and signs out from the page's link
  (each page held to the pages' checks: strict headers, axe-core, screenshots);
- another person adds one through the JSON routes from a page of the service's origin, as an
  app's own settings page would;
- an app's authorization request shows the hosted sign-in page, which offers the passkey (the
  page passes the pages' checks: strict headers with the script policy, axe-core, screenshots);
  the app gets a code whose ID token says amr ["hwk", "mfa"];
- the sign-in page's autofill (conditional mediation) waits for a passkey as soon as the page
  opens, and signs the person in with nothing typed once the authenticator has one;
- an assertion made on a look-alike origin (another port of the same host) is refused;
- a person with a second factor signs in with the password, then "Use a passkey instead" on
  the second step's page (which passes the pages' checks too): amr ["pwd", "hwk"].

Usage: scripts/passkey_browser_test.py <accounts binary> <screenshot directory> <axe.min.js>
"""

import base64
import functools
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import sync_playwright

from browser_test import CSP, PASSWORD, Browser, Service, check, free_port
from oidc_browser_test import totp, with_second_factor


class App(BaseHTTPRequestHandler):
    """The app's redirect URI: a page that says it got its answer."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"<!doctype html><title>App</title><p>back at the app</p>")

    def log_message(self, *args):
        pass


def authenticator(page):
    """A virtual authenticator on `page`: a platform one with a fingerprint reader."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
        "hasResidentKey": True, "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    return cdp, added["authenticatorId"]


def token_request(base, fields):
    body = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(base + "/auth/token", data=body, method="POST", headers={
        "content-type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def claims(jwt):
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def main():
    binary, shots, axe_path = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(shots, exist_ok=True)
    port = free_port()
    # The relying party is the base URL's host: localhost (an IP address cannot be one).
    origin = f"http://localhost:{port}"
    service = Service(binary, env={"PUBLIC_BASE_URL": origin}, port=port)
    app = ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    redirect_uri = f"http://127.0.0.1:{app.server_address[1]}/cb"
    try:
        address = service.sign_up("pat")
        status, _ = service.request("GET", service.link(address, "/activate")[len(origin):])
        check(status == 200, "pat activated")
        _, token = service.log_in("pat")
        out = subprocess.run(
            [binary, "add-client", "--name", "Sample app", "--redirect-uri", redirect_uri,
             "--public", "--first-party", "--scope", "openid", "--scope", "profile"],
            env={**os.environ, "DATA_DIR": service.data}, capture_output=True, text=True,
            check=True).stdout
        client_id = re.search(r"^client_id: (\S+)$", out, re.M).group(1)
        with sync_playwright() as p:
            b = Browser(p, shots, axe_path)
            try:
                run(b, origin, token, client_id, redirect_uri, app, service)
            finally:
                b.close()
    finally:
        service.stop()
        app.shutdown()
    print("passkey browser test: ok")


def authorization_url(origin, client_id, redirect_uri):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid profile", "state": "st-1", "nonce": "n-1",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    return f"{origin}/oauth/authorize?{query}", verifier


ADD_PASSKEY = """async ([username, token, password, name]) => {
    const headers = {"content-type": "application/json", "authorization": "Bearer " + token};
    let r = await fetch("/user/" + username + "/passkeys/options", {method: "POST", headers,
        body: JSON.stringify({password})});
    const options = await r.json();
    const credential = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey)});
    r = await fetch("/user/" + username + "/passkeys", {method: "POST", headers,
        body: JSON.stringify({name, credential: credential.toJSON()})});
    return [r.status, await r.json()];
}"""


def add_passkey(page, origin, username, token, name):
    """A passkey added through the JSON routes by the browser's own WebAuthn, from a document
    of the service's origin (its home: JSON, no page policy)."""
    page.goto(origin + "/")
    added = page.evaluate(ADD_PASSKEY, [username, token, PASSWORD, name])
    check(added[0] == 201 and added[1]["name"] == name,
          f"{username}: a passkey added with the browser's WebAuthn: {added}")


def add_on_the_account_page(b, origin, cdp, authenticator_id, service):
    """The account page: its sign-in first (the hosted page, which brings the browser back; a
    code by mail, this time), then a passkey added with the page's form and script, renamed,
    and the person signed out from the page's link."""
    page, before = b.page, b.csp
    script = "script-src 'self'; connect-src 'self'; style-src"
    b.csp = CSP.replace("form-action 'self'", f"form-action 'self' {origin}").replace(
        "style-src", script)
    b.open("passkey-account-sign-in", origin + "/account/passkeys", 200, "Sign in")
    check("your account's passkeys" in page.locator("main").inner_text(),
          "the account page's sign-in names what it continues to")
    # Signed in with a code by mail (the sign-in page's other way in): the address, then the
    # code read from the mail.
    service.minute_passes_for("pat@example.com")
    page.get_by_text("No password at hand? Get a code by mail").click()
    page.fill("#code-email", "pat@example.com")
    b.csp = CSP.replace("form-action 'self'", f"form-action 'self' {origin}")
    b.submit("email-code-asked", "Mail me a sign-in code", 200, "Enter the code we mailed")
    mail, _ = service.mail("pat@example.com", "/auth/email-code/link")
    page.fill("#code", re.search(r"\n    (\d{6})\n", mail["text"]).group(1))
    b.csp = CSP.replace("style-src", script)
    b.submit("passkey-account-none", "Continue", 200, "Your passkeys")
    check(page.locator("#passkey-add").is_visible()
          and not page.locator("#passkey-unsupported").is_visible(),
          "the page's script shows the form that adds a passkey")
    page.fill("#name", "This laptop")
    page.fill("#password", "not the password")
    page.get_by_role("button", name="Add a passkey", exact=True).click()
    # (A selector, not a function: the page's policy allows no eval.)
    page.wait_for_selector("#passkey-status:not(:empty)")
    said = page.locator("#passkey-status").inner_text()
    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    check("password" in said.lower() and not held["credentials"],
          f"a wrong password is said on the page, nothing made: {said!r}")
    page.fill("#password", PASSWORD)
    b.submit("passkey-account", "Add a passkey", 200, "Your passkeys")
    text = page.locator("main").inner_text()
    check("Your passkey was added." in text and "This laptop" in text,
          "the page lists the passkey added")
    page.fill("#name-0", "Work laptop")
    b.submit("passkey-account-renamed", "Rename", 200, "Your passkeys")
    check("Work laptop" in page.locator("section h2").inner_text(), "the passkey renamed")
    # Signed out from the page's link: the question, then its answer.
    b.csp = CSP
    with page.expect_navigation() as navigation:
        page.get_by_role("link", name="Sign out").click()
    b.check_page("passkey-account-sign-out", navigation.value, 200, "Sign out?")
    b.submit("passkey-account-signed-out", "Sign out", 200, "Signed out")
    b.csp = before


def redeemed(origin, page_url, client_id, redirect_uri, verifier):
    """The ID token's claims of the code the app got."""
    back = urllib.parse.parse_qs(urllib.parse.urlsplit(page_url).query)
    check(back.get("state") == ["st-1"] and "code" in back, f"back at the app: {page_url}")
    status, tokens = token_request(origin, {
        "grant_type": "authorization_code", "code": back["code"][0],
        "redirect_uri": redirect_uri, "code_verifier": verifier, "client_id": client_id})
    check(status == 200, f"the code redeemed: {status} {tokens.get('error')}")
    return claims(tokens["id_token"])


def run(b, origin, token, client_id, redirect_uri, app, service):
    page = b.page
    cdp, authenticator_id = authenticator(page)
    app_origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(redirect_uri))
    b.csp = CSP.replace("form-action 'self'", f"form-action 'self' {app_origin}").replace(
        "style-src", "script-src 'self'; connect-src 'self'; style-src")

    # The hosted sign-in page offers passkeys: its button, and the username field's autofill,
    # whose request waits as soon as the page opens (the authenticator holds none yet).
    url, verifier = authorization_url(origin, client_id, redirect_uri)
    b.open("passkey-sign-in", url, 200, "Sign in")
    check(page.get_by_role("button", name="Sign in with a passkey").is_visible(),
          "the page's script shows the passkey's button")
    check(page.get_attribute("#login", "autocomplete") == "username webauthn",
          "the username field offers passkeys in its autofill")
    page.wait_for_selector("body[data-autofill=waiting]")
    check(True, "the autofill's request waits for a passkey as the page opens")

    add_on_the_account_page(b, origin, cdp, authenticator_id, service)
    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    check(len(held["credentials"]) == 1 and held["credentials"][0]["isResidentCredential"],
          "the authenticator holds one discoverable credential")

    # The autofill: with the passkey there (and the person's touch simulated), the page the
    # app sends them to signs them in as it opens, nothing typed.
    url, verifier = authorization_url(origin, client_id, redirect_uri)
    with page.expect_navigation(url=re.compile(re.escape(redirect_uri) + ".*")):
        page.goto(url)
    id_token = redeemed(origin, page.url, client_id, redirect_uri, verifier)
    check(id_token["amr"] == ["hwk", "mfa"] and id_token["acr"] == "aal2",
          f"signed in by the autofill with the passkey: {id_token['amr']} {id_token['acr']}")

    # A look-alike origin (another port of the same host) gets an assertion from the browser
    # (the RP ID is the host), which the service refuses: not one of its origins.
    lookalike = ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=lookalike.serve_forever, daemon=True).start()
    try:
        _, options = post_json(origin, "/auth/passkey/options", {})
        page.goto(f"http://localhost:{lookalike.server_address[1]}/")
        answered = page.evaluate(
            """async ([options]) => {
                const c = await navigator.credentials.get({
                    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey)});
                return c.toJSON();
            }""", [options])
        status, body = post_json(origin, "/auth/passkey", {
            "passkey_token": options["passkey_token"], "credential": answered})
        check(status == 401, f"an assertion made on another origin is refused: {status} {body}")
    finally:
        lookalike.shutdown()

    # Another person, with a second factor and a passkey, in a browser of their own: the
    # password, then "Use a passkey instead" on the second step's page.
    secret = with_second_factor(service, "sam")
    status, body = service.request("POST", "/auth", {"username": "sam", "password": PASSWORD})
    mfa_token = json.loads(body)["mfa_token"]
    status, body = service.request("POST", "/auth/mfa", {"mfa_token": mfa_token,
                                                         "code": totp(secret, time.time() + 30)})
    check(status == 200, f"sam signed in with a code: {status}")
    sam_token = json.loads(body)["token"]
    context = b.browser.new_context(viewport={"width": 390, "height": 844})
    sam = context.new_page()
    sam.on("console", lambda m: b.console.append(m.text))
    sam_cdp, sam_id = authenticator(sam)
    add_passkey(sam, origin, "sam", sam_token, "Phone")
    # Their touch held back until the second step (the sign-in page's autofill waits).
    sam_cdp.send("WebAuthn.setAutomaticPresenceSimulation",
                 {"authenticatorId": sam_id, "enabled": False})
    url, verifier = authorization_url(origin, client_id, redirect_uri)
    sam.goto(url)
    sam.fill("#login", "sam")
    sam.fill("#password", PASSWORD)
    main_page, b.page = b.page, sam
    try:
        b.submit("passkey-second-step", "Sign in", 200, "Enter your code")
        check(sam.get_by_role("button", name="Use a passkey instead").is_visible(),
              "the second step's page offers the account's passkey")
        sam_cdp.send("WebAuthn.setAutomaticPresenceSimulation",
                     {"authenticatorId": sam_id, "enabled": True})
        with sam.expect_navigation(url=re.compile(re.escape(redirect_uri) + ".*")):
            sam.get_by_role("button", name="Use a passkey instead").click()
    finally:
        b.page = main_page
    id_token = redeemed(origin, sam.url, client_id, redirect_uri, verifier)
    check(id_token["amr"] == ["pwd", "hwk"],
          f"the second step was the passkey: {id_token['amr']}")
    context.close()


def post_json(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


if __name__ == "__main__":
    main()
