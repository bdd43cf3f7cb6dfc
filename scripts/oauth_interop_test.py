#!/usr/bin/env python3
"""The standard pieces, driven by clients someone else wrote, on the local server:

1. A deployment that signed with EdDSA switches to RS256 (a restart with JWT_ALGORITHM=RS256 on
   the same data): a sign-in made before goes on.
2. PyJWT finds the keys through discovery (issuer -> /.well-known/openid-configuration ->
   jwks_uri) and verifies tokens of both kinds.
3. Tokens are checked step by step as API Gateway's JWT authorizer on an HTTP API checks them
   (its documented steps: discovery from the issuer, jwks_uri, kid, an RSA algorithm, iss, aud
   or client_id, exp, nbf, iat, scope or scp): the RS256 token passes, the EdDSA one is refused
   as the gateway would refuse it, and so are a wrong audience, a scope the route needs and the
   token lacks, an expired token and a changed byte.
4. authlib's OAuth2Session (the OAuth 2.0 client most Python frameworks wrap) keeps a sign-in
   alive through the token endpoint by itself, refreshing before an expired access token is
   used; revokes at sign-out (RFC 7009), after which its refresh token is refused with
   invalid_grant, which it raises as such; and after a logout (DELETE /auth) likewise.

Usage: scripts/oauth_interop_test.py <accounts binary>   (scripts/test runs it)
"""

import base64
import json
import sys
import time
import urllib.request

import jwt
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client import OAuthError

from browser_test import Service, check

AUDIENCE = "accounts"
# What API Gateway's JWT authorizer on an HTTP API verifies: RSA-based algorithms only.
GATEWAY_ALGORITHMS = ["RS256", "RS384", "RS512"]


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def header_of(token):
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def log_in(service, username):
    status, body = service.request("POST", "/auth", {"username": username,
                                                     "password": "correct horse battery staple"})
    check(status == 200, f"{username} logged in: {status}")
    return json.loads(body)


class Refused(Exception):
    pass


def gateway_authorize(token, issuer, audiences, route_scopes, now=None):
    """The claims of `token` if API Gateway's JWT authorizer (HTTP API) configured with `issuer`,
    `audiences` and a route's `route_scopes` lets it through; else Refused with the step."""
    # Its keys: from the issuer's discovery document, never from the token.
    metadata = get_json(issuer + "/.well-known/openid-configuration")
    if metadata.get("issuer") != issuer:
        raise Refused("the discovery document names another issuer")
    keys = {k["kid"]: k for k in get_json(metadata["jwks_uri"])["keys"] if "kid" in k}
    header = header_of(token)
    if header.get("kid") not in keys:
        raise Refused("kid: no such key")
    if header.get("alg") not in GATEWAY_ALGORITHMS:
        raise Refused(f"algorithm {header.get('alg')}: only RSA-based algorithms")
    key = jwt.PyJWK(keys[header["kid"]], algorithm=header["alg"]).key
    try:
        claims = jwt.decode(token, key, algorithms=[header["alg"]],
                            options={"verify_aud": False, "verify_iss": False,
                                     "verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False})
    except jwt.InvalidTokenError as e:
        raise Refused(f"signature: {type(e).__name__}")
    now = now or time.time()
    if claims.get("iss") != issuer:
        raise Refused("iss")
    aud = claims.get("aud")
    aud = aud if isinstance(aud, list) else [aud]
    if not set(aud) & set(audiences) and claims.get("client_id") not in audiences:
        raise Refused("aud or client_id")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        raise Refused("exp")
    if "nbf" in claims and claims["nbf"] > now:
        raise Refused("nbf")
    if not isinstance(claims.get("iat"), int) or claims["iat"] > now:
        raise Refused("iat")
    granted = set((claims.get("scope") or claims.get("scp") or "").split())
    if route_scopes and not granted & set(route_scopes):
        raise Refused("scope")
    return claims


def refused(step, **kwargs):
    try:
        gateway_authorize(**kwargs)
    except Refused as e:
        check(step in str(e), f"the gateway's steps refuse it at {step!r} ({e})")
        return
    check(False, f"the gateway's steps let through what they must refuse at {step!r}")


def main():
    binary = sys.argv[1]
    # 1. EdDSA first: a sign-in made before the switch.
    first = Service(binary)
    try:
        address = first.sign_up("olivia")
        status, _ = first.request("GET", first.link(address, "/activate")[len(first.base):])
        check(status == 200, "activated")
        before = log_in(first, "olivia")
        check(header_of(before["access_token"])["alg"] == "EdDSA", "signed with EdDSA before")
    finally:
        first.stop()
    service = Service(binary, env={"JWT_ALGORITHM": "RS256"}, data=first.data, port=first.port)
    try:
        issuer = service.base
        metadata = get_json(issuer + "/.well-known/openid-configuration")
        check(metadata["issuer"] == issuer, f"discovery from the issuer: {issuer}")
        check(metadata["id_token_signing_alg_values_supported"] == ["RS256", "EdDSA"],
              "the switch: RS256 signs, EdDSA still verifies")
        after = log_in(service, "olivia")
        check(header_of(after["access_token"])["alg"] == "RS256", "signed with RS256 after")
        status, _ = service.request("GET", "/user", token=before["access_token"])
        check(status == 200, "the access token from before the switch still works")

        # 2. PyJWT, with nothing but the issuer: both kinds verify.
        keys = jwt.PyJWKClient(metadata["jwks_uri"], cache_keys=False)
        for login, alg in [(before, "EdDSA"), (after, "RS256")]:
            key = keys.get_signing_key_from_jwt(login["access_token"])
            claims = jwt.decode(login["access_token"], key.key, algorithms=[alg],
                                audience=AUDIENCE, issuer=issuer,
                                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
            check(claims["sub"] and key.algorithm_name == alg,
                  f"PyJWT verified a {alg} token through discovery ({key.key_id[:12]}...)")

        # 3. API Gateway's JWT authorizer, step by step.
        claims = gateway_authorize(after["access_token"], issuer, [AUDIENCE], ["widgets"])
        check(claims["scope"] == "widgets", "the gateway's steps let the RS256 token through")
        refused("algorithm", token=before["access_token"], issuer=issuer, audiences=[AUDIENCE],
                route_scopes=["widgets"])
        refused("aud", token=after["access_token"], issuer=issuer, audiences=["another-api"],
                route_scopes=[])
        refused("scope", token=after["access_token"], issuer=issuer, audiences=[AUDIENCE],
                route_scopes=["admin"])
        refused("exp", token=after["access_token"], issuer=issuer, audiences=[AUDIENCE],
                route_scopes=[], now=time.time() + 2 * 86400)
        changed = after["access_token"][:-6] + ("AAAAAA" if not after["access_token"].endswith(
            "AAAAAA") else "BBBBBB")
        refused("signature", token=changed, issuer=issuer, audiences=[AUDIENCE],
                route_scopes=[])

        # 4. authlib keeps the sign-in alive by itself, then revokes at sign-out.
        updates = []
        session = OAuth2Session(
            client_id="interop-test", token=dict(after),
            token_endpoint=metadata["token_endpoint"], token_endpoint_auth_method="none",
            update_token=lambda token, refresh_token=None, access_token=None:
                updates.append(token))
        r = session.get(service.base + "/user")
        check(r.status_code == 200 and r.json()["username"] == "olivia", "authlib: GET /user")
        old_access = session.token["access_token"]
        session.token["expires_at"] = int(time.time()) - 5   # as if the hour had passed
        r = session.get(service.base + "/user")
        check(r.status_code == 200 and len(updates) == 1,
              "authlib refreshed the expired access token by itself before using it")
        check(session.token["refresh_token"] != after["refresh_token"]
              and session.token["expires_at"] > time.time() + 60,
              "a new refresh token, and an access token valid again")
        check(session.token["scope"] == "widgets", "scope as a space-delimited string")
        # (The access token of the same second may be the same: its claims are.)
        # The refresh token of the sign-in from before the switch works through authlib too.
        earlier = OAuth2Session(client_id="interop-test", token=dict(before),
                                token_endpoint=metadata["token_endpoint"],
                                token_endpoint_auth_method="none")
        renewed = earlier.refresh_token(metadata["token_endpoint"])
        check(header_of(renewed["access_token"])["alg"] == "RS256",
              "the EdDSA sign-in refreshed into RS256: nobody signed out by the switch")
        # Sign-out by revocation.
        r = session.revoke_token(metadata["revocation_endpoint"],
                                 token=session.token["refresh_token"],
                                 token_type_hint="refresh_token")
        check(r.status_code == 200, "authlib revoked the refresh token at sign-out")
        status, _ = service.request("GET", "/user", token=session.token["access_token"])
        check(status == 401, "the sign-in's access token is refused after revocation")
        try:
            session.refresh_token(metadata["token_endpoint"])
            check(False, "a revoked refresh token was accepted")
        except OAuthError as e:
            check(e.error == "invalid_grant", f"authlib raises invalid_grant ({e.description})")
        # Sign-out by DELETE /auth: the same for the client.
        status, _ = service.request("DELETE", "/auth", token=renewed["access_token"])
        check(status == 204, "logged out")
        try:
            earlier.refresh_token(metadata["token_endpoint"])
            check(False, "a logged-out sign-in's refresh token was accepted")
        except OAuthError as e:
            check(e.error == "invalid_grant", "after logout, authlib gets invalid_grant")
    finally:
        service.stop()


if __name__ == "__main__":
    main()
