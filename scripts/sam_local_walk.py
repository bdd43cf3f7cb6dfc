"""A walk through the API served by `sam local start-api` (scripts/sam-local): sign-up, the
activation link from the mail, login, the account read, updated and deleted, the widgets
passthrough against the sample upstream, a forgotten password
reset through its link, JWKS and introspection, the admins' listing, logout and the token refused
after it. Statuses and bodies as on the local server.

Usage: python3 scripts/sam_local_walk.py <base URL> <moto endpoint> <introspection key>
(the admin is made with target/debug/accounts make-admin against the table `accounts`).
"""

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
        env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
             "AWS_REGION": "us-east-1", **os.environ, "STORE": "dynamodb",
             "TABLE_NAME": "accounts", "AWS_ENDPOINT_URL": MOTO},
    )
    assert made.returncode == 0, f"make-admin: {made.stderr}"
    admin = expect(call("POST", "/auth", login), 200, "login as admin")["token"]
    listed = expect(call("GET", "/users?limit=100", token=admin), 200, "listing")
    assert name in [u["username"] for u in listed["users"]], listed

    # Logout, and the token refused after it.
    expect(call("DELETE", "/auth", token=token), 204, "logout")
    expect(call("GET", "/user", token=token), 401, "the token after logout")

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
