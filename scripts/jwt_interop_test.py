#!/usr/bin/env python3
"""A token of the service, verified from outside the project's code: PyJWT fetches the JWKS
from GET /.well-known/jwks.json, picks the key the token's header names, and verifies the
token (EdDSA, issuer, audience, expiry) with nothing secret. Then a token with one byte changed,
in its signature or in its claims, is refused by PyJWT too.

Usage: scripts/jwt_interop_test.py <accounts binary>   (scripts/test runs it)
"""

import base64
import json
import sys

import jwt

from browser_test import Service, check


def flipped(token, part):
    """`token` with one byte of its `part` (0 header, 1 claims, 2 signature) changed."""
    parts = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(parts[part] + "=" * (-len(parts[part]) % 4)))
    raw[len(raw) // 2] ^= 0x01
    parts[part] = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    return ".".join(parts)


def main():
    service = Service(sys.argv[1])
    try:
        address = service.sign_up("verifier")
        status, _ = service.request("GET", service.link(address, "/activate")[len(service.base):])
        check(status == 200, "activated")
        status, token = service.log_in("verifier")
        check(status == 200, "logged in")

        jwks = jwt.PyJWKClient(service.base + "/.well-known/jwks.json", cache_keys=False)
        key = jwks.get_signing_key_from_jwt(token)
        check(key.algorithm_name == "EdDSA", f"the JWKS key is an EdDSA key ({key.key_id})")
        claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="accounts",
                            issuer=service.base, options={"require": ["exp", "iat", "sub"]})
        check(claims["name"] == "verifier" and claims["email"] == address,
              f"PyJWT verified the token with the JWKS alone: {json.dumps(claims)[:120]}")
        for part, what in [(2, "signature"), (1, "claims")]:
            try:
                jwt.decode(flipped(token, part), key.key, algorithms=["EdDSA"],
                           audience="accounts", issuer=service.base)
                check(False, f"a byte of the {what} changed, and PyJWT accepted it")
            except jwt.InvalidTokenError as e:
                check(True, f"a byte of the {what} changed: refused ({type(e).__name__})")
        # And the service itself agrees: the changed token is refused, the real one accepted.
        status, _ = service.request("GET", "/user", token=flipped(token, 2))
        check(status == 401, "the service refuses the changed token")
        status, _ = service.request("GET", "/user", token=token)
        check(status == 200, "and accepts the real one")
    finally:
        service.stop()


if __name__ == "__main__":
    main()
