"""How requests to the FHIR server are authorised.

Four modes, one interface (:class:`Auth`): the client asks for an ``Authorization`` header
value before every attempt and reports a 401 through :meth:`Auth.invalidate`.

* :class:`NoAuth`: nothing is sent.
* :class:`BearerToken`: a static token (an API key, or a SMART app's access token forwarded
  by the HTTP backend). A 401 is final: there is nothing to refresh.
* :class:`ClientCredentials`: OAuth 2.0 client credentials grant (RFC 6749 §4.4). The client
  authenticates with HTTP Basic by default (``client_secret_basic``, the method every server
  must support, RFC 6749 §2.3.1: id and secret form-urlencoded, then base64), or with
  ``client_id``/``client_secret`` in the form body (``client_secret_post``).
* :class:`SmartBackendServices`: SMART App Launch v2 Backend Services, i.e. the client
  credentials grant authenticated with a signed JWT (``private_key_jwt``, RFC 7523): header
  ``alg`` RS384 or ES384, ``kid``, ``typ=JWT`` (and ``jku`` if configured); claims
  ``iss = sub = client_id``, ``aud`` = the token endpoint URL, ``exp`` at most five minutes
  ahead (four by default, leaving room for clock skew), a fresh random ``jti`` for every
  token request (retries included), ``iat``; sent as ``client_assertion`` with
  ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``.

The two OAuth modes cache the access token and fetch a new one ``refresh_margin_s`` before
it expires (at most half its lifetime early), and once more after a 401. Concurrent callers
share one fetch. The token endpoint is taken from the argument, else discovered from the
server's ``.well-known/smart-configuration``, else from the CapabilityStatement's SMART
``oauth-uris`` extension. An :class:`Auth` instance belongs to one FHIR server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote_plus

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tools.fhir.errors import FHIRAuthError, FHIRProtocolError, request_error

__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "Auth",
    "BearerToken",
    "ClientCredentials",
    "NoAuth",
    "SmartBackendServices",
    "TokenEndpointHost",
    "TokenRequest",
]

log = logging.getLogger("ehr_agent.fhir")

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_MAX_ASSERTION_LIFETIME_S = 300
_DEFAULT_TOKEN_LIFETIME_S = 300.0


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One token request: the form fields and the extra headers to POST."""

    form: Mapping[str, str]
    headers: Mapping[str, str]


class TokenEndpointHost(Protocol):
    """What an OAuth auth mode needs from the client that uses it."""

    async def discover_token_url(self) -> str:
        """The token endpoint advertised by the FHIR server."""
        ...

    async def request_token(
        self, token_url: str, make_request: Callable[[], TokenRequest]
    ) -> dict[str, Any]:
        """POST a token request (built afresh for every attempt); return the JSON response."""
        ...


class Auth(ABC):
    """How requests are authorised; subclasses hold credentials and never show them in repr."""

    @property
    def refreshable(self) -> bool:
        """Whether a 401 is worth one more try with a freshly fetched token."""
        return False

    @abstractmethod
    async def authorization(self, host: TokenEndpointHost) -> str | None:
        """The ``Authorization`` header value for the next attempt, or None for none."""

    def invalidate(self, authorization: str) -> None:  # noqa: B027 - optional hook, no-op default
        """The server answered 401 to ``authorization``: forget it if it is still current."""

    def identity(self) -> str | None:
        """Who the requests speak for, as a cache key part (never a secret), or None."""
        return None


class NoAuth(Auth):
    """No authorisation (open servers, the embedded server)."""

    async def authorization(self, host: TokenEndpointHost) -> str | None:
        """No header."""
        return None

    def identity(self) -> str | None:
        """Everyone is the same anonymous caller."""
        return "none"

    def __repr__(self) -> str:
        return "NoAuth()"


class BearerToken(Auth):
    """A static bearer token."""

    def __init__(self, token: str) -> None:
        if not token or any(c.isspace() for c in token):
            raise ValueError("a bearer token must be a non-empty string without whitespace")
        self._token = token

    async def authorization(self, host: TokenEndpointHost) -> str | None:
        """``Bearer <token>``."""
        return f"Bearer {self._token}"

    def identity(self) -> str | None:
        """A hash of the token: two tokens are two callers, and the token never shows."""
        return "bearer:" + hashlib.sha256(self._token.encode()).hexdigest()

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"


@dataclass(frozen=True, slots=True)
class _AccessToken:
    value: str
    refresh_at: float
    expires_at: float
    scope: str | None


def _check_url(url: str | None, what: str) -> str | None:
    if url is not None and not url.startswith(("https://", "http://")):
        raise ValueError(f"{what} must be an absolute http(s) URL, got {url!r}")
    return url


class _OAuthTokenAuth(Auth):
    """Shared machinery of the OAuth modes: token cache, refresh, discovery, parsing."""

    def identity(self) -> str | None:
        """The registered client and scope (tokens rotate; the principal does not)."""
        client_id = getattr(self, "_client_id", None)
        if client_id is None:
            return None
        return f"{type(self).__name__}:{self._token_url}:{client_id}:{self._scope}"

    def __init__(
        self,
        token_url: str | None,
        scope: str,
        *,
        clock: Callable[[], float],
        refresh_margin_s: float,
    ) -> None:
        self._token_url = _check_url(token_url, "token_url")
        self._resolved_url: str | None = None
        self._scope = scope
        self._clock = clock
        self._margin = refresh_margin_s
        self._current: _AccessToken | None = None
        self._lock = asyncio.Lock()

    @property
    def refreshable(self) -> bool:
        """OAuth tokens can be fetched again after a 401."""
        return True

    @property
    def token_url(self) -> str | None:
        """The token endpoint: as configured, or as discovered by the first token request."""
        return self._token_url or self._resolved_url

    @property
    def expires_at(self) -> float | None:
        """When the cached token expires (clock time), or None when none is cached."""
        return self._current.expires_at if self._current else None

    @property
    def granted_scope(self) -> str | None:
        """The scope the token endpoint says it granted, if it said."""
        return self._current.scope if self._current else None

    async def authorization(self, host: TokenEndpointHost) -> str | None:
        """``Bearer <access token>``, fetching or refreshing the token as needed."""
        return f"Bearer {await self.access_token(host)}"

    async def access_token(self, host: TokenEndpointHost) -> str:
        """A valid access token; one fetch is shared by all concurrent callers."""
        current = self._current
        if current is not None and self._clock() < current.refresh_at:
            return current.value
        async with self._lock:
            current = self._current
            if current is not None and self._clock() < current.refresh_at:
                return current.value
            fresh = await self._fetch(host)
            self._current = fresh
            return fresh.value

    def invalidate(self, authorization: str) -> None:
        """Drop the cached token if it is the one the server just refused."""
        current = self._current
        if current is not None and authorization == f"Bearer {current.value}":
            self._current = None

    async def _fetch(self, host: TokenEndpointHost) -> _AccessToken:
        url = self._token_url or self._resolved_url
        if url is None:
            url = await host.discover_token_url()
            self._resolved_url = url
        issued = self._clock()
        payload = await host.request_token(url, lambda: self._token_request(url))
        token = self._parse(url, payload, issued)
        log.debug(
            "access token obtained (lifetime %.0f s, scope %s)",
            token.expires_at - issued,
            token.scope or "unstated",
        )
        return token

    def _parse(self, url: str, payload: Mapping[str, Any], issued: float) -> _AccessToken:
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            raise request_error(
                FHIRProtocolError, "POST", url, "token response has no access_token"
            )
        token_type = payload.get("token_type")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise request_error(
                FHIRAuthError,
                "POST",
                url,
                f"token endpoint issued a {token_type!r} token; only bearer tokens are supported",
            )
        raw_lifetime = payload.get("expires_in")
        try:
            lifetime = float(raw_lifetime) if raw_lifetime is not None else None
        except (TypeError, ValueError):
            lifetime = None
        if lifetime is None or lifetime <= 0:
            # RFC 6749 only recommends expires_in; assume a short life rather than forever.
            lifetime = _DEFAULT_TOKEN_LIFETIME_S
        early = min(self._margin, lifetime / 2)
        scope = payload.get("scope")
        return _AccessToken(
            value=access,
            refresh_at=issued + lifetime - early,
            expires_at=issued + lifetime,
            scope=scope if isinstance(scope, str) else None,
        )

    @abstractmethod
    def _token_request(self, token_url: str) -> TokenRequest:
        """Build one token request (called again for every attempt)."""


class ClientCredentials(_OAuthTokenAuth):
    """OAuth 2.0 client credentials with a shared secret (see the module docstring)."""

    def __init__(
        self,
        token_url: str | None,
        client_id: str,
        client_secret: str,
        scope: str = "",
        *,
        auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic",
        clock: Callable[[], float] = time.time,
        refresh_margin_s: float = 60.0,
    ) -> None:
        super().__init__(token_url, scope, clock=clock, refresh_margin_s=refresh_margin_s)
        if not client_id or not client_secret:
            raise ValueError("client credentials need a client_id and a client_secret")
        self._client_id = client_id
        self._secret = client_secret
        self._method = auth_method

    def _token_request(self, token_url: str) -> TokenRequest:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        if self._method == "client_secret_post":
            return TokenRequest(
                {**form, "client_id": self._client_id, "client_secret": self._secret}, {}
            )
        userpass = f"{quote_plus(self._client_id)}:{quote_plus(self._secret)}"
        basic = base64.b64encode(userpass.encode()).decode("ascii")
        return TokenRequest(form, {"Authorization": f"Basic {basic}"})

    def __repr__(self) -> str:
        return (
            f"ClientCredentials(token_url={self.token_url!r}, client_id={self._client_id!r}, "
            f"client_secret=<redacted>, scope={self._scope!r}, auth_method={self._method!r})"
        )


_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _load_private_key(
    source: str | bytes | os.PathLike[str], password: bytes | None
) -> _PrivateKey:
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str) and "-----BEGIN" in source:
        data = source.encode()
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read the private key file {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a usable PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("SMART Backend Services needs an RSA or an EC (P-384) private key")
    return key


def _algorithm_for(key: _PrivateKey, requested: str | None) -> Literal["RS384", "ES384"]:
    if isinstance(key, rsa.RSAPrivateKey):
        if requested not in (None, "RS384"):
            raise ValueError(f"an RSA key signs RS384, not {requested}")
        if key.key_size < 2048:
            raise ValueError(f"RSA keys must have at least 2048 bits, this one has {key.key_size}")
        return "RS384"
    if not isinstance(key.curve, ec.SECP384R1):
        raise ValueError(f"ES384 needs a P-384 (secp384r1) key, this one is {key.curve.name}")
    if requested not in (None, "ES384"):
        raise ValueError(f"a P-384 EC key signs ES384, not {requested}")
    return "ES384"


class SmartBackendServices(_OAuthTokenAuth):
    """SMART Backend Services: client credentials with a signed JWT assertion."""

    def __init__(
        self,
        token_url: str | None,
        client_id: str,
        private_key: str | bytes | os.PathLike[str],
        key_id: str,
        algorithm: Literal["RS384", "ES384"] | None = None,
        scope: str = "system/*.read",
        *,
        jku: str | None = None,
        key_password: bytes | None = None,
        assertion_lifetime_s: int = 240,
        clock: Callable[[], float] = time.time,
        refresh_margin_s: float = 60.0,
    ) -> None:
        """Load and check the key now, so a bad key fails at start-up, not at the first request.

        Args:
            token_url: token endpoint; None to discover it from the server.
            client_id: the registered client id (``iss`` and ``sub``).
            private_key: PEM text or bytes, or the path of a PEM file.
            key_id: ``kid`` of the registered public key.
            algorithm: ``RS384`` or ``ES384``; None to infer from the key type.
            scope: scopes to request (``system/*.read`` or SMART v2 ``system/*.rs``).
            jku: URL of the client's JWK Set, sent in the header when the server wants it.
            key_password: passphrase of an encrypted PEM.
            assertion_lifetime_s: ``exp - now`` of each assertion (at most 300).
            clock: Unix time source (injectable for tests).
            refresh_margin_s: fetch a new token this long before the old one expires.
        """
        super().__init__(token_url, scope, clock=clock, refresh_margin_s=refresh_margin_s)
        if not client_id or not key_id:
            raise ValueError("SMART Backend Services needs a client_id and a key_id (kid)")
        if not 0 < assertion_lifetime_s <= _MAX_ASSERTION_LIFETIME_S:
            raise ValueError("assertion_lifetime_s must be in (0, 300]: SMART caps exp at 5 min")
        self._client_id = client_id
        self._kid = key_id
        self._jku = _check_url(jku, "jku")
        self._key = _load_private_key(private_key, key_password)
        self._alg = _algorithm_for(self._key, algorithm)
        self._assertion_lifetime = assertion_lifetime_s

    @property
    def algorithm(self) -> str:
        """The JWS algorithm in use (RS384 or ES384)."""
        return self._alg

    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set to register with the authorisation server (public key only)."""
        public = self._key.public_key()
        jwk: dict[str, Any] = (
            RSAAlgorithm.to_jwk(public, as_dict=True)
            if isinstance(public, rsa.RSAPublicKey)
            else ECAlgorithm.to_jwk(public, as_dict=True)
        )
        jwk.update({"kid": self._kid, "alg": self._alg, "key_ops": ["verify"]})
        return {"keys": [jwk]}

    def client_assertion(self, token_url: str) -> str:
        """A freshly signed assertion for ``token_url`` (new ``jti`` on every call)."""
        now = int(self._clock())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": token_url,
            "iat": now,
            "exp": now + self._assertion_lifetime,
            "jti": secrets.token_urlsafe(32),
        }
        headers: dict[str, Any] = {"kid": self._kid, "typ": "JWT"}
        if self._jku:
            headers["jku"] = self._jku
        return jwt.encode(claims, self._key, algorithm=self._alg, headers=headers)

    def _token_request(self, token_url: str) -> TokenRequest:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self.client_assertion(token_url),
        }
        if self._scope:
            form["scope"] = self._scope
        return TokenRequest(form, {})

    def __repr__(self) -> str:
        return (
            f"SmartBackendServices(token_url={self.token_url!r}, client_id={self._client_id!r}, "
            f"key_id={self._kid!r}, algorithm={self._alg!r}, scope={self._scope!r})"
        )
