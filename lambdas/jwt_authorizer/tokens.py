"""JWT checks of the consumer API's token authorizer, with no third-party library: the Lambda runtime and the
Powertools layer carry none that verifies signatures.

- Compact JWS (RFC 7515 section 7.1): three base64url parts; only `RS256` (RSASSA-PKCS1-v1_5 with SHA-256,
  RFC 7518 section 3.3) is accepted, so neither `none` nor a key-confusion `HS256` token passes.
- The signature is checked the way RFC 8017 section 8.2.2 specifies: RSAVP1 (s^e mod n), then the expected
  EMSA-PKCS1-v1_5 encoding of the SHA-256 digest is built and compared in constant time (never parsed).
- Claims (RFC 7519 section 4.1): `iss` equal to the configured issuer, `aud` containing one of the configured
  audiences, `exp` in the future and `nbf` (when present) in the past, with a minute of clock skew.
- Keys: the issuer's OpenID discovery document (`<issuer>/.well-known/openid-configuration`) names `jwks_uri`;
  the key set is cached and fetched again, at most every 5 minutes, when a token names a key id it lacks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# DER prefix of the DigestInfo for SHA-256 (RFC 8017 section 9.2, note 1)
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
CLOCK_SKEW_SECONDS = 60
REFETCH_SECONDS = 300
KEYS_TTL_SECONDS = 3600


class TokenError(Exception):
    """The token is refused; the message says why (logged, never returned to the caller)."""


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or any(c in text for c in "+/="):
        raise TokenError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as error:
        raise TokenError("not base64url") from error


def split_token(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not a compact JWS (three parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as error:
        raise TokenError("header or claims are not JSON") from error
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("header or claims are not JSON objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), b64url_decode(parts[2])


def rs256_valid(signing_input: bytes, signature: bytes, jwk: dict[str, Any]) -> bool:
    try:
        n = int.from_bytes(b64url_decode(jwk["n"]), "big")
        e = int.from_bytes(b64url_decode(jwk["e"]), "big")
    except (KeyError, TokenError):
        return False
    k = (n.bit_length() + 7) // 8
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
    if n.bit_length() < 2048 or len(signature) != k or k < len(digest_info) + 11:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    encoded = pow(s, e, n).to_bytes(k, "big")
    expected = b"\x00\x01" + b"\xff" * (k - len(digest_info) - 3) + b"\x00" + digest_info
    return hmac.compare_digest(encoded, expected)


def check_claims(claims: dict[str, Any], *, issuer: str, audiences: list[str], now: float) -> None:
    if claims.get("iss") != issuer:
        raise TokenError(f"issuer {claims.get('iss')!r} is not {issuer!r}")
    audience = claims.get("aud")
    given = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if not set(given) & set(audiences):
        raise TokenError(f"audience {audience!r} is none of {audiences}")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= now - CLOCK_SKEW_SECONDS:
        raise TokenError("expired or without exp")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, (int, float)) or nbf > now + CLOCK_SKEW_SECONDS):
        raise TokenError("not valid yet")


@dataclass
class KeySets:
    """The issuers' signing keys, fetched with `fetch_json(url)` (an HTTPS GET returning JSON)."""

    fetch_json: Callable[[str], Any]
    clock: Callable[[], float] = time.time
    _keys: dict[str, tuple[float, dict[str, dict[str, Any]]]] = field(default_factory=dict)

    def key(self, issuer: str, kid: str | None) -> dict[str, Any]:
        fetched_at, keys = self._keys.get(issuer, (float("-inf"), {}))
        age = self.clock() - fetched_at
        if age > KEYS_TTL_SECONDS or (kid not in keys and age > REFETCH_SECONDS):
            try:
                keys = self._fetch(issuer)
            finally:
                # a failed fetch is not retried for REFETCH_SECONDS either (the known keys stay in use)
                self._keys[issuer] = (self.clock(), keys)
        if kid not in keys:
            raise TokenError(f"no signing key {kid!r} at {issuer}")
        return keys[kid]

    def _fetch(self, issuer: str) -> dict[str, dict[str, Any]]:
        discovery = self.fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
            raise TokenError(f"{issuer} names no https jwks_uri")
        document = self.fetch_json(jwks_uri)
        keys = document.get("keys", []) if isinstance(document, dict) else []
        return {k.get("kid"): k for k in keys if isinstance(k, dict) and k.get("kty") == "RSA"
                and k.get("use", "sig") == "sig"}


def verify(token: str, *, issuer: str, audiences: list[str], keys: KeySets, now: float) -> dict[str, Any]:
    """The token's claims when it is an RS256 token of `issuer` for one of `audiences`; TokenError otherwise."""
    header, claims, signing_input, signature = split_token(token)
    if header.get("alg") != "RS256":
        raise TokenError(f"algorithm {header.get('alg')!r} is not RS256")
    if claims.get("iss") != issuer:  # before any key fetch: another issuer's token never costs a request
        raise TokenError(f"issuer {claims.get('iss')!r} is not {issuer!r}")
    if not rs256_valid(signing_input, signature, keys.key(issuer, header.get("kid"))):
        raise TokenError("bad signature")
    check_claims(claims, issuer=issuer, audiences=audiences, now=now)
    return claims


def bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("no Bearer token in Authorization")
    return token.strip()
