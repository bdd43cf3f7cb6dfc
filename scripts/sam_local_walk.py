"""A walk through the API served by `sam local start-api` (scripts/sam-local): sign-up, the
activation link from the mail, login, the account read, updated and deleted, the widgets
passthrough against the sample upstream, a forgotten password
reset through its link, JWKS and introspection, the admins' listing, logout and the token refused
after it, an app's sign-in through the hosted page (the code, the ID token, UserInfo, the
browser session's cookie). Statuses and bodies as on the local server.

Usage: python3 scripts/sam_local_walk.py <base URL> <moto endpoint> <introspection key>
(the admin is made with target/debug/accounts make-admin against the table `accounts`).
"""

import base64
import html
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

BASE, MOTO, INTROSPECTION_KEY = sys.argv[1:4]
PASSWORD = "correct horse battery staple"


def call(method, path, body=None, token=None, form=False, tries=4):
    """One request; a 502 from SAM itself ("No response from invoke container", which a
    container just started under emulation may give once) is tried again."""
    data, headers = None, {}
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    for attempt in range(tries):
        req = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        if status == 502 and text.strip() == '{"message":"Internal server error"}':
            print(f"{method} {path}: SAM answered 502, asking again", file=sys.stderr, flush=True)
            time.sleep(1 + attempt)
            continue
        return status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)
    raise AssertionError(f"{method} {path}: SAM answered 502 {tries} times")


def expect(got, status, what):
    assert got[0] == status, f"{what}: {got}"
    return got[1]


def link(to, path):
    """The newest link to `path` in a mail moto's SES sent to `to`."""
    for _ in range(30):
        data = json.load(urllib.request.urlopen(MOTO + "/moto-api/data.json"))
        for m in reversed(data.get("ses", {}).get("Message", []) or []):
            text = json.dumps(m)
            if to in text:
                found = re.search(re.escape(BASE + path) + r"\?token=[A-Za-z0-9_-]+", text)
                if found:
                    return found.group(0)[len(BASE):]
        time.sleep(1)
    raise AssertionError(f"no mail to {to} with a link to {path}")


def admin_env():
    """The operator's commands' environment: the walk's table on moto."""
    return {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1", **os.environ, "STORE": "dynamodb",
            "TABLE_NAME": "accounts", "AWS_ENDPOINT_URL": MOTO}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browse(method, path, cookies, fields=None):
    """A browser's request: its cookies sent, the ones set kept, no redirect followed. The
    status, the headers and the text."""
    headers = {"accept": "text/html"}
    if cookies:
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    data = None
    if fields is not None:
        data = urllib.parse.urlencode(fields).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    opener = urllib.request.build_opener(NoRedirect)
    for attempt in range(4):
        req = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
        try:
            with opener.open(req, timeout=120) as r:
                status, got, text = r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            status, got, text = e.code, e.headers, e.read().decode()
        if status == 502 and "Internal server error" in text:
            time.sleep(1 + attempt)
            continue
        for c in got.get_all("set-cookie") or []:
            k, v = c.split(";", 1)[0].split("=", 1)
            cookies[k] = v
        return status, got, text
    raise AssertionError(f"{method} {path}: SAM answered 502 4 times")


def oidc_sign_in(name, env):
    """The authorization code flow of a confidential client, through the hosted page."""
    redirect = "http://127.0.0.1:8080/callback"
    made = subprocess.run(
        ["target/debug/accounts", "add-client", "--name", "Walk app", "--redirect-uri",
         redirect, "--first-party", "--scope", "openid", "--scope", "email"],
        capture_output=True, text=True, env=env)
    assert made.returncode == 0, f"add-client: {made.stderr}"
    found = dict(re.findall(r"^(client_id|client_secret): (\S+)$", made.stdout, re.M))
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": found["client_id"], "redirect_uri": redirect,
        "scope": "openid email", "state": "walk-state", "nonce": "walk-nonce"})
    cookies = {}
    status, _, page = browse("GET", "/oauth/authorize?" + query, cookies)
    assert status == 200 and "Sign in" in page, f"the hosted sign-in page: {status}"
    # The password's form is the page's first (the others: a passkey, a code by mail).
    first_form = page.split("</form>", 1)[0]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', first_form))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    fields.update({"login": name, "password": PASSWORD})
    status, headers, _ = browse("POST", "/oauth/authorize", cookies, fields)
    location = headers.get("location", "")
    assert status == 303 and location.startswith(redirect), f"back to the app: {status} {location}"
    assert "accounts-session" in cookies, f"the browser session's cookie: {cookies}"
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
    basic = base64.b64encode(f"{found['client_id']}:{found['client_secret']}".encode()).decode()
    req = urllib.request.Request(
        BASE + "/auth/token", method="POST",
        data=urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": redirect}).encode(),
        headers={"authorization": f"Basic {basic}",
                 "content-type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=120) as r:
        tokens = json.loads(r.read())
    claims = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
    assert (claims["aud"], claims["nonce"]) == (found["client_id"], "walk-nonce"), claims
    info = expect(call("GET", "/oauth/userinfo", token=tokens["access_token"]), 200, "userinfo")
    assert info["email"] == f"{name}@example.com", info
    # Signed in on this browser: the next request goes straight back with a code.
    status, headers, _ = browse("GET", "/oauth/authorize?" + query, cookies)
    assert status == 303 and "code=" in headers.get("location", ""), f"again: {status}"


def main():
    started = time.monotonic()
    name = "walk" + uuid.uuid4().hex[:8]
    email = f"{name}@example.com"
    expect(call("GET", "/"), 200, "home")
    user = expect(
        call("POST", "/user", {"username": name, "email": email, "password": PASSWORD}),
        201,
        "sign-up",
    )
    assert user["activated"] is False, user
    mailed = time.monotonic()  # the activation mail went out before this answer
    activated = expect(call("GET", link(email, "/activate")), 200, "activation link")
    assert activated == {"activated": True, "username": name}, activated
    login = {"username": name, "password": PASSWORD}
    token = expect(call("POST", "/auth", login), 200, "login")["token"]
    me = expect(call("GET", "/user", token=token), 200, "GET /user")
    assert (me["username"], me["activated"]) == (name, True), me
    updated = expect(
        call("PUT", f"/user/{name}", {"name": "Walker", "city": "Oxford"}, token=token),
        200,
        "PUT /user/{username}",
    )
    assert updated["data"] == {"name": "Walker", "city": "Oxford"}, updated
    expect(call("GET", f"/user/{name}", token=token), 200, "GET /user/{username}")

    # The widgets passthrough, against the sample upstream scripts/sam-local started (its
    # fixed data set: widgets 3 and 5 are foo-bar, from 2019-03-01 on).
    widgets = call("GET", "/widgets?type=foo-bar&created_start=2019-03-01T00:00:00Z", token=token)
    widgets = expect(widgets, 200, "GET /widgets")
    assert widgets["total_widgets_own_by_user"] == 5, widgets
    assert [w["id"] for w in widgets["matching_items"]] == [3, 5], widgets
    assert widgets["matching_items"][0]["type_label"] == "Foo Bar", widgets
    expect(call("GET", "/widgets?created_start=yesterday", token=token), 400, "a bad date")
    expect(call("GET", "/widgets"), 401, "GET /widgets without a token")

    # JWKS and introspection.
    jwks = expect(call("GET", "/.well-known/jwks.json"), 200, "JWKS")
    assert jwks["keys"] and all(k["kty"] == "OKP" for k in jwks["keys"]), jwks
    intro = call("POST", "/auth/introspect", {"token": token}, token=INTROSPECTION_KEY)
    intro = expect(intro, 200, "introspection")
    assert (intro["active"], intro["username"], intro["role"]) == (True, name, "user"), intro
    expect(call("POST", "/auth/introspect", {"token": token}), 401, "introspection, no key")

    # Discovery names the issuer (the tokens' iss) and the endpoints; revocation ends a sign-in.
    disc = expect(call("GET", "/.well-known/openid-configuration"), 200, "discovery")
    assert disc["issuer"] == BASE and disc["revocation_endpoint"] == BASE + "/auth/revoke", disc
    pair = expect(call("POST", "/auth", login), 200, "a second login")
    revoked = call("POST", "/auth/revoke", {"token": pair["refresh_token"]}, form=True)
    assert expect(revoked, 200, "revocation") == {}, revoked
    refreshed = call("POST", "/auth/token", {"grant_type": "refresh_token",
                                              "refresh_token": pair["refresh_token"]}, form=True)
    expect(refreshed, 400, "a revoked refresh token")
    expect(call("GET", "/user", token=pair["access_token"]), 401, "its access token")

    # The admins' listing: refused to the user, open to an admin (made by the operator).
    expect(call("GET", "/users", token=token), 403, "listing as a user")
    made = subprocess.run(
        ["target/debug/accounts", "make-admin", name],
        capture_output=True,
        text=True,
        env=admin_env(),
    )
    assert made.returncode == 0, f"make-admin: {made.stderr}"
    admin = expect(call("POST", "/auth", login), 200, "login as admin")["token"]
    listed = expect(call("GET", "/users?limit=100", token=admin), 200, "listing")
    assert name in [u["username"] for u in listed["users"]], listed

    # Logout, and the token refused after it.
    expect(call("DELETE", "/auth", token=token), 204, "logout")
    expect(call("GET", "/user", token=token), 401, "the token after logout")

    # Signing in to an app through the hosted page (the authorize and token functions, the
    # browser session's cookies through API Gateway's cookie fields), while the mail throttle's
    # minute passes.
    oidc_sign_in(name, admin_env())

    # A forgotten password, reset through its link (a minute after the activation mail: the
    # mail throttle's interval).
    wait = 62 - (time.monotonic() - mailed)
    if wait > 0:
        time.sleep(wait)
    expect(call("POST", "/password/forgot", {"email": email}), 202, "forgot")
    reset = link(email, "/password/reset")
    expect(call("GET", reset), 200, "the reset link")
    new_password = "a whole new passphrase 1984"
    done = call("POST", "/password/reset", {"token": reset.split("=", 1)[1], "password": new_password})
    assert expect(done, 200, "reset") == {"reset": True}, done
    expect(call("GET", "/user", token=admin), 401, "a token from before the reset")
    expect(call("POST", "/auth", login), 401, "the old password")
    fresh = expect(
        call("POST", "/auth", {"username": name, "password": new_password}), 200, "new password"
    )["token"]

    # The account deleted: its token and its name gone.
    expect(call("DELETE", f"/user/{name}", token=fresh), 204, "DELETE /user/{username}")
    expect(call("GET", "/user", token=fresh), 401, "the token after deletion")
    print(f"sam local walk: every step as expected, in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
