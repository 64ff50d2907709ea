"""Signed access tokens (JWT, RS256 by default), with PyJWT.

`TokenSigner` issues them (the accounts service; tests mint their own with a key of their own);
`TokenVerifier` checks them in every service: signature against the issuer's published keys
(JWKS, fetched from `JIEDAO_AUTH_JWKS_URL` or given inline as `JIEDAO_AUTH_JWKS`), issuer,
audience and expiry. Where the user id, name and roles sit in the token are settings, so a
district's own OpenID Connect provider (Keycloak: `JIEDAO_AUTH_CLAIM_ROLES=realm_access.roles`)
can issue them instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.access import Grant, Principal, parse_grants
from shared.errors import JiedaoError

JWKS_REFRESH_SECONDS = 30.0  # at most this often, when a token names a key not yet known
VERIFIED_CACHE_SIZE = 10_000  # tokens verified lately, kept until they expire (or are pushed out)


class Unauthenticated(JiedaoError):
    """No token, or one that is not valid here (answered 401 with WWW-Authenticate)."""

    status = 401

    def __init__(self, reason: str, *, token_given: bool = True) -> None:
        super().__init__(reason)
        # RFC 6750 §3: name the error only when a token was sent
        self.headers = {"WWW-Authenticate": 'Bearer error="invalid_token"' if token_given
                        else "Bearer"}


class KeysUnavailable(JiedaoError):
    """The issuer's published keys could not be fetched (answered 503)."""

    status = 503


def generate_private_key() -> str:
    """A new RSA private key, PEM (what `jiedao up` and the tests sign with)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass(frozen=True)
class Claims:
    """Where a token carries the user id, display name and roles (dotted paths)."""

    user: str = "sub"
    name: str = "name"
    roles: str = "roles"


class TokenSigner:
    def __init__(self, private_key_pem: str, *, issuer: str, audience: str,
                 minutes: float = 15.0, algorithm: str = "RS256") -> None:
        self.key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        self.issuer, self.audience, self.minutes = issuer, audience, minutes
        self.algorithm = algorithm
        public = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = hashlib.sha256(public).hexdigest()[:16]

    def issue(self, user_id: str, grants: Iterable[Grant | str], *, name: str = "",
              minutes: float | None = None, audience: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer, "aud": audience or self.audience, "sub": user_id,
            "name": name, "roles": [str(g) for g in grants], "iat": now,
            "exp": now + int((self.minutes if minutes is None else minutes) * 60),
            "jti": uuid.uuid4().hex, **claims,
        }
        return jwt.encode(payload, self.key, algorithm=self.algorithm, headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        """The public half, as the JWKS document verifiers fetch."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}]}


class TokenVerifier:
    def __init__(self, *, issuer: str, audience: str, jwks: dict[str, Any] | None = None,
                 jwks_url: str | None = None, algorithms: Iterable[str] = ("RS256",),
                 claims: Claims = Claims(), leeway: float = 10.0) -> None:
        if jwks is None and jwks_url is None:
            raise ValueError("a token verifier needs the issuer's keys: a JWKS or its URL")
        self.issuer, self.audience, self.jwks_url = issuer, audience, jwks_url
        self.algorithms, self.claims, self.leeway = list(algorithms), claims, leeway
        self._keys: dict[str, Any] = _keys(jwks) if jwks else {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        # A caller sends the same token with each request until it expires: its signature is
        # checked once (RS256 with PyJWT: ~150 µs, the largest cost of a signed-in filing).
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        principal, expires = await self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))  # the oldest
        self._verified[token] = (principal, expires + self.leeway)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = await self._key(kid)
            payload = jwt.decode(token, key, algorithms=self.algorithms, issuer=self.issuer,
                                 audience=self.audience, leeway=self.leeway,
                                 options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from exc
        user = _claim(payload, self.claims.user)
        if not isinstance(user, str) or not user:
            raise Unauthenticated(f"the token has no {self.claims.user!r} claim")
        name = _claim(payload, self.claims.name)
        roles = _claim(payload, self.claims.roles) or []
        return Principal(user, name if isinstance(name, str) else "",
                         parse_grants(roles if isinstance(roles, list) else [])), payload["exp"]

    async def _key(self, kid: str | None) -> Any:
        if kid in self._keys:
            return self._keys[kid]
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        if self.jwks_url and time.monotonic() - self._fetched_at > JWKS_REFRESH_SECONDS:
            async with self._lock:
                if kid not in self._keys:
                    await self._fetch()
            if kid in self._keys or (kid is None and len(self._keys) == 1):
                return await self._key(kid)
        raise Unauthenticated("the token is signed by a key this service does not know")

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(self.jwks_url)  # type: ignore[arg-type]
                response.raise_for_status()
                self._keys = _keys(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise KeysUnavailable("the issuer's keys could not be fetched "
                                  f"({type(exc).__name__})") from exc
        finally:
            self._fetched_at = time.monotonic()


def _keys(jwks: dict[str, Any]) -> dict[str, Any]:
    return {jwk.key_id: jwk.key for jwk in jwt.PyJWKSet.from_dict(jwks).keys}


def _claim(payload: dict[str, Any], path: str) -> Any:
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
