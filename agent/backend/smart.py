"""SMART app callers: which FHIR server, whose token, which patient.

A SMART app that was launched against an EHR calls the backend with its access token
(``Authorization: Bearer <token>``) and the EHR's FHIR base URL (``X-FHIR-Server``). Before
anything else:

1. the base URL must be on the configured allow-list (``smart_fhir_servers``): tokens are
   never sent anywhere else;
2. the token is introspected (RFC 7662) at the ``introspection_endpoint`` that the server's
   ``.well-known/smart-configuration`` advertises, authenticated as the backend's
   confidential client when one is configured (HTTP Basic, RFC 6749 §2.3.1);
3. an inactive or expired token is refused (401); an active one must carry a ``patient``
   launch context (SMART App Launch 2.x, token introspection: launch context parameters of
   the token response SHALL be in the introspection response), which pins the session.

The token itself is then forwarded to the FHIR server for the agent's reads, so the EHR
enforces its scopes. Positive answers are cached for ``introspection_cache_s`` (never past
``exp``) so that a conversation does not introspect every question; the introspections one
client address can cause are rate-limited, so that made-up tokens cannot flood the EHR.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx

from agent.backend.config import BackendConfig, normalize_base_url
from agent.backend.errors import Forbidden, Unauthorized, Unavailable, UpstreamError
from agent.backend.limits import RateLimiter
from tools.fhir import FHIRClient, FHIRError, FHIRUnavailable

__all__ = ["SmartContext", "SmartVerifier"]

log = logging.getLogger("ehr_agent.backend.smart")

_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,8192}$")
_CACHE_MAX = 10_000
_HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SmartContext:
    """What an introspected token allows.

    Attributes:
        fhir_base: The (normalized, allow-listed) FHIR base URL.
        patient_id: The token's patient launch context.
        scope: Granted scopes, space-separated.
        client_id: The app the token was issued to.
        expires_at: ``exp`` (epoch seconds), when given.
    """

    fhir_base: str
    patient_id: str
    scope: str
    client_id: str | None
    expires_at: float | None


def _basic_auth(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: form-urlencode id and secret before base64.
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


class SmartVerifier:
    """Checks SMART callers' FHIR server and token; one per backend process.

    Args:
        config: Allow-list, client credentials and cache lifetime.
        transport: httpx transport for discovery and introspection (tests).
        clock: Wall-clock seconds (``exp`` is compared with it).
        monotonic: Monotonic seconds for the cache.
    """

    def __init__(
        self,
        config: BackendConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._allowed = frozenset(config.smart_servers)
        self._transport = transport
        self._clock = clock
        self._monotonic = monotonic
        self._http = httpx.AsyncClient(
            timeout=_HTTP_TIMEOUT_S, transport=transport, follow_redirects=False
        )
        self._discovery: dict[str, FHIRClient] = {}
        self._introspections = RateLimiter(
            config.introspections_per_minute, config.introspection_burst
        )
        self._cache: OrderedDict[str, tuple[SmartContext, float]] = OrderedDict()

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self._http.aclose()
        for client in self._discovery.values():
            await client.aclose()

    def allowed_base(self, fhir_base: str) -> str:
        """The normalized ``fhir_base`` if SMART callers may name it.

        Raises:
            Forbidden: ``fhir_server_not_allowed``: not on the allow-list (or not a URL).
        """
        if not self._allowed:
            raise Forbidden(
                "this server does not accept SMART app tokens (no FHIR server is allowed)",
                code="fhir_server_not_allowed",
            )
        try:
            base = normalize_base_url(fhir_base)
        except ValueError:
            base = ""
        if base not in self._allowed:
            raise Forbidden(
                "X-FHIR-Server is not a FHIR server this backend may send tokens to",
                code="fhir_server_not_allowed",
            )
        return base

    async def verify(self, fhir_base: str, token: str, *, client: str = "") -> SmartContext:
        """Check the server and the token; return the token's launch context.

        Args:
            fhir_base: The ``X-FHIR-Server`` the caller named.
            token: The caller's access token.
            client: The caller's address: introspections it causes are rate-limited.

        Raises:
            Forbidden: The server is not allowed, or the token has no patient context.
            Unauthorized: The token is malformed, inactive or expired.
            RateLimited: The address caused too many introspections.
            Unavailable: The FHIR or authorization server cannot be reached.
            UpstreamError: They answered something unusable.
        """
        base = self.allowed_base(fhir_base)
        if not _TOKEN.match(token):
            raise Unauthorized("the access token is malformed", code="invalid_token")
        key = hashlib.sha256(f"{base}\0{token}".encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            context, valid_until = cached
            if self._monotonic() < valid_until:
                return context
            del self._cache[key]
        self._introspections.check(f"introspection:{client}")
        endpoint = await self._introspection_endpoint(base)
        body = await self._introspect(endpoint, token)
        context = self._context(base, body)
        self._remember(key, context)
        return context

    def _remember(self, key: str, context: SmartContext) -> None:
        ttl = self._config.introspection_cache_s
        if context.expires_at is not None:
            ttl = min(ttl, context.expires_at - self._clock())
        if ttl <= 0:
            return
        self._cache[key] = (context, self._monotonic() + ttl)
        if len(self._cache) > _CACHE_MAX:
            self._cache.popitem(last=False)

    async def _introspection_endpoint(self, base: str) -> str:
        client = self._discovery.get(base)
        if client is None:
            client = FHIRClient(
                base, timeout=_HTTP_TIMEOUT_S, max_retries=1, transport=self._transport
            )
            self._discovery[base] = client
        try:
            config = await client.smart_configuration()
        except FHIRUnavailable as exc:
            raise Unavailable(
                f"the FHIR server's SMART configuration is unreachable: {exc}",
                code="fhir_unavailable",
                retry_after_s=5,
            ) from None
        except FHIRError as exc:
            raise UpstreamError(
                f"the FHIR server's SMART configuration could not be read: {exc}",
                code="smart_configuration_invalid",
            ) from None
        endpoint = (config or {}).get("introspection_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise UpstreamError(
                "the FHIR server advertises no introspection_endpoint in "
                ".well-known/smart-configuration, so its tokens cannot be checked",
                code="introspection_unsupported",
            )
        return endpoint

    async def _introspect(self, endpoint: str, token: str) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self._config.smart_client_id:
            headers["Authorization"] = _basic_auth(
                self._config.smart_client_id, self._config.smart_client_secret or ""
            )
        started = time.perf_counter()
        try:
            response = await self._http.post(
                endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"the token introspection endpoint is unreachable ({type(exc).__name__})",
                code="introspection_unavailable",
                retry_after_s=5,
            ) from None
        log.info(
            "token introspection: HTTP %d in %.0f ms",
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        if response.status_code in (401, 403):
            raise UpstreamError(
                "the authorization server refused this backend's client credentials for "
                "token introspection (check EHR_AGENT_FHIR_CLIENT_ID/SECRET)",
                code="introspection_refused",
            )
        if response.status_code != 200:
            raise UpstreamError(
                f"token introspection failed with HTTP {response.status_code}",
                code="introspection_failed",
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("active"), bool):
            raise UpstreamError(
                "token introspection returned no JSON object with a boolean 'active'",
                code="introspection_failed",
            )
        return body

    def _context(self, base: str, body: dict[str, Any]) -> SmartContext:
        if body["active"] is not True:
            raise Unauthorized("the access token is not active", code="inactive_token")
        exp = body.get("exp")
        expires_at = float(exp) if isinstance(exp, int | float) else None
        if expires_at is not None and expires_at <= self._clock():
            raise Unauthorized("the access token has expired", code="inactive_token")
        patient = body.get("patient")
        if patient is None:
            raise Forbidden(
                "the access token has no patient context: launch the app for one patient",
                code="no_patient_context",
            )
        if not isinstance(patient, str) or not _FHIR_ID.match(patient):
            raise UpstreamError(
                "token introspection returned a patient context that is not a FHIR id",
                code="introspection_failed",
            )
        client_id = body.get("client_id")
        return SmartContext(
            fhir_base=base,
            patient_id=patient,
            scope=str(body.get("scope") or ""),
            client_id=client_id if isinstance(client_id, str) else None,
            expires_at=expires_at,
        )
