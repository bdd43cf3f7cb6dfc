#!/usr/bin/env python3
"""The OpenID Connect provider, driven by relying parties someone else wrote, on the local
server: each signs a person in through the hosted sign-in page as an app would (discovery, the
authorization request with PKCE, state and nonce, the page's forms posted as a browser posts
them, the code redeemed, the ID token verified), then refreshes.

1. openid-client (Node.js; OpenID Certified), scripts/oidc/rp.mjs: a confidential client
   (client_secret_basic), the ID token's signature checked against the JWKS as well as its
   claims; a code presented twice is refused (invalid_grant); UserInfo read with the refreshed
   access token; RP-initiated logout through the end-session URL it builds.
2. authlib (Python): a public client (PKCE, no secret), the ID token validated with authlib's
   own CodeIDToken rules (iss, aud, exp, iat, nonce, at_hash) after its JWS verification with
   the key set found through discovery.

Usage: scripts/oidc_interop_test.py <accounts binary>   (scripts/test runs it)
"""

import html
import json
import os
import re
import subprocess
import sys
import urllib.parse

import warnings

import requests
from authlib.integrations.requests_client import OAuth2Session

# authlib's ID token rules (authlib.oidc.core) stand on authlib.jose, which warns that it will
# move to joserfc in authlib 2; the rules are what is tested here, so the warning is quiet.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken

from browser_test import PASSWORD, Service, check

REDIRECT = "http://127.0.0.1:8080/callback"
BYE = "http://127.0.0.1:8080/signed-out"
HERE = os.path.dirname(os.path.abspath(__file__))


def add_client(binary, service, *args):
    """Registers a client with the operator's command, on the running service's data."""
    out = subprocess.run(
        [binary, "add-client", "--name", "Interop app", "--redirect-uri", REDIRECT,
         "--scope", "openid", "--scope", "profile", "--scope", "email", *args],
        env={**os.environ, "DATA_DIR": service.data}, capture_output=True, text=True,
        check=True).stdout
    found = dict(re.findall(r"^(client_id|client_secret): (\S+)$", out, re.M))
    check("client_id" in found, f"add-client printed the client id ({len(out)} bytes of output)")
    return found["client_id"], found.get("client_secret")


def sign_in_on_the_page(url, login):
    """A browser's sign-in on the hosted page from the authorization URL: the address it is
    sent back to."""
    browser = requests.Session()
    page = browser.get(url, allow_redirects=False, headers={"accept": "text/html"})
    check(page.status_code == 200, f"the hosted sign-in page: {page.status_code}")
    form = page.text.split("<form", 1)[1].split("</form>", 1)[0]
    fields = {html.unescape(m.group(1)): html.unescape(m.group(2)) for m in re.finditer(
        r'<input type="hidden" name="([^"]*)" value="([^"]*)"', form)}
    fields.update({"login": login, "password": PASSWORD})
    back = browser.post(urllib.parse.urljoin(url, "/oauth/authorize"), data=fields,
                        allow_redirects=False, headers={"accept": "text/html"})
    check(back.status_code == 303 and back.headers["location"].startswith(REDIRECT),
          f"back to the app: {back.status_code} {back.headers.get('location')}")
    return back.headers["location"]


def main():
    binary = sys.argv[1]
    service = Service(binary)
    try:
        address = service.sign_up("oidcuser")
        status, _ = service.request("GET", service.link(address, "/activate")[len(service.base):])
        check(status == 200, "activated")

        # 1. openid-client, a confidential first-party client.
        client_id, secret = add_client(binary, service, "--first-party",
                                       "--post-logout-redirect-uri", BYE)
        check(secret is not None, "a confidential client has a secret")
        node = subprocess.run(
            ["node", os.path.join(HERE, "oidc", "rp.mjs"), service.base, client_id, secret,
             REDIRECT, "oidcuser@example.com", PASSWORD, BYE],
            capture_output=True, text=True, timeout=60)
        check(node.returncode == 0, f"openid-client signed in: {node.stderr.strip()}")
        seen = json.loads(node.stdout)
        check(seen["iss"] == service.base and seen["aud"] == client_id,
              f"openid-client verified the ID token (iss, aud): {seen}")
        check(seen["email"] == address and seen["preferred_username"] == "oidcuser",
              "the email and profile claims")
        check(seen["amr"] == ["pwd"] and isinstance(seen["auth_time"], int), "amr and auth_time")
        check(seen["scope"] == "openid profile email", f"scope {seen['scope']!r}")
        check(seen["refreshed_scope"] == "openid profile email", "refreshed with its scopes")
        check(seen["replay"] == "invalid_grant", f"a replayed code: {seen['replay']}")
        check(seen["userinfo_email"] == address, "openid-client read UserInfo")
        check(seen["logout"] == f"303 {BYE}?state=bye-state",
              f"openid-client's end-session URL signed out and went back: {seen['logout']}")

        # 2. authlib, a public client with PKCE.
        public_id, public_secret = add_client(binary, service, "--public", "--first-party")
        check(public_secret is None, "a public client has no secret")
        meta = requests.get(service.base + "/.well-known/openid-configuration").json()
        session = OAuth2Session(public_id, redirect_uri=REDIRECT, scope="openid email",
                                code_challenge_method="S256",
                                token_endpoint_auth_method="none")
        verifier = os.urandom(32).hex()
        nonce = os.urandom(16).hex()
        url, state = session.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        back = sign_in_on_the_page(url, "oidcuser")
        token = session.fetch_token(meta["token_endpoint"], authorization_response=back,
                                    code_verifier=verifier)
        check(token["token_type"] == "Bearer" and "id_token" in token, "authlib got the tokens")
        keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
        claims = jwt.decode(token["id_token"], keys, claims_cls=CodeIDToken,
                            claims_options={"iss": {"values": [meta["issuer"]]},
                                            "aud": {"values": [public_id]}},
                            claims_params={"nonce": nonce,
                                           "access_token": token["access_token"],
                                           "client_id": public_id})
        claims.validate()
        check(claims["email"] == address and "preferred_username" not in claims,
              "authlib validated the ID token (signature, iss, aud, nonce, at_hash): email, "
              "no profile claims for a request without profile")
        refreshed = session.refresh_token(meta["token_endpoint"],
                                          refresh_token=token["refresh_token"])
        check(refreshed["scope"] == "openid email", "authlib refreshed")
    finally:
        service.stop()
    print("oidc interop: ok")


if __name__ == "__main__":
    main()
