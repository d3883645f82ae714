"""Who is calling: a service with an API key, a SMART app with its token, or nobody.

* Service callers send ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Keys are
  compared in constant time (SHA-256 digests with :func:`hmac.compare_digest`, every key
  checked).
* SMART apps send ``X-FHIR-Server: <EHR FHIR base>`` with ``Authorization: Bearer <access
  token>`` (see :mod:`agent.backend.smart`).
* With ``--no-auth`` (loopback only) callers without credentials are served anonymously.

Each caller has an ``owner``: a digest naming whose conversations these are (the key, or
the SMART server plus the token's patient), used to keep conversations apart and as the
rate-limit key. Neither keys nor tokens are kept in it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from agent.backend.errors import Unauthorized
from agent.backend.smart import SmartContext, SmartVerifier

__all__ = ["Caller", "KeyRing", "authenticate"]


@dataclass(frozen=True)
class Caller:
    """An authenticated caller.

    Attributes:
        kind: ``service`` (API key), ``smart`` (SMART token) or ``anonymous`` (--no-auth).
        owner: Opaque id of whose conversations these are; also the rate-limit key.
        smart: The token's launch context (SMART callers only).
        token: The SMART access token, forwarded to that FHIR server only.
    """

    kind: Literal["service", "smart", "anonymous"]
    owner: str
    smart: SmartContext | None = None
    token: str | None = field(default=None, repr=False)


def _digest(label: str, *parts: str) -> str:
    return hashlib.sha256("\0".join((label, *parts)).encode()).hexdigest()


class KeyRing:
    """The accepted API keys, kept as digests and compared in constant time."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._digests = [hashlib.sha256(key.encode()).digest() for key in keys]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def owner_of(self, candidate: str) -> str | None:
        """The owner id of ``candidate`` if it is an accepted key, else None."""
        probe = hashlib.sha256(candidate.encode()).digest()
        matched = False
        for digest in self._digests:
            # No early exit: the time taken does not depend on which key matched.
            matched |= hmac.compare_digest(probe, digest)
        return "k" + _digest("ehr-agent api key", candidate)[:32] if matched else None


async def authenticate(
    *,
    keys: KeyRing,
    no_auth: bool,
    smart: SmartVerifier,
    api_key: str | None,
    bearer: str | None,
    fhir_server: str | None,
    client: str = "",
) -> Caller:
    """The caller behind a request's credentials.

    Args:
        keys: Accepted API keys.
        no_auth: Serve callers without credentials.
        smart: Verifier of SMART callers.
        api_key: The ``X-API-Key`` header.
        bearer: The token of an ``Authorization: Bearer`` header.
        fhir_server: The ``X-FHIR-Server`` header (SMART callers).
        client: The caller's network address (limits the introspections it can cause).

    Raises:
        Unauthorized: Missing or unknown credentials, or an inactive token.
        Forbidden: A FHIR server off the allow-list, or a token without patient context.
        RateLimited: The address caused too many token introspections.
        Unavailable, UpstreamError: Introspection could not be done.
    """
    if fhir_server is not None:
        if not bearer:
            raise Unauthorized(
                "X-FHIR-Server needs the app's access token in 'Authorization: Bearer'",
                code="missing_credentials",
            )
        context = await smart.verify(fhir_server, bearer, client=client)
        owner = "s" + _digest("ehr-agent smart", context.fhir_base, context.patient_id)[:32]
        return Caller("smart", owner, smart=context, token=bearer)
    candidate = api_key or bearer
    if candidate is None:
        if no_auth:
            return Caller("anonymous", "anonymous")
        raise Unauthorized(
            "credentials required: an API key ('Authorization: Bearer <key>' or 'X-API-Key'),"
            " or a SMART token with 'X-FHIR-Server'",
            code="missing_credentials",
        )
    key_owner = keys.owner_of(candidate)
    if key_owner is None:
        raise Unauthorized("unknown API key", code="invalid_api_key")
    return Caller("service", key_owner)
