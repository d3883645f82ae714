"""Building a client from the project's settings (the only place tools.fhir touches agent/).

``agent.config`` is imported lazily so that ``tools`` keeps no runtime dependency on ``agent``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from tools.fhir.auth import Auth, BearerToken, ClientCredentials, NoAuth, SmartBackendServices
from tools.fhir.client import FHIRClient

if TYPE_CHECKING:
    from agent.config import Settings

__all__ = ["auth_from_settings", "from_settings"]


def _config_error(message: str) -> Exception:
    from agent.config import ConfigError

    return ConfigError(message)


def auth_from_settings(settings: Settings) -> Auth:
    """The :class:`Auth` that ``settings.fhir_auth`` and its companion fields describe.

    Raises:
        agent.config.ConfigError: a field the chosen mode needs is missing or unusable.
    """
    mode = settings.fhir_auth
    if mode == "none":
        return NoAuth()
    if mode == "bearer":
        if settings.fhir_token is None:
            raise _config_error("fhir_auth=bearer needs fhir_token (EHR_AGENT_FHIR_TOKEN)")
        return BearerToken(settings.fhir_token.get_secret_value())
    if not settings.fhir_client_id:
        raise _config_error(f"fhir_auth={mode} needs fhir_client_id (EHR_AGENT_FHIR_CLIENT_ID)")
    if mode == "client-credentials":
        if settings.fhir_client_secret is None:
            raise _config_error(
                "fhir_auth=client-credentials needs fhir_client_secret "
                "(EHR_AGENT_FHIR_CLIENT_SECRET)"
            )
        return ClientCredentials(
            settings.fhir_token_url,
            settings.fhir_client_id,
            settings.fhir_client_secret.get_secret_value(),
            settings.fhir_scope,
        )
    if settings.fhir_private_key is None or not settings.fhir_key_id:
        raise _config_error(
            "fhir_auth=smart-backend needs fhir_private_key and fhir_key_id "
            "(EHR_AGENT_FHIR_PRIVATE_KEY, EHR_AGENT_FHIR_KEY_ID)"
        )
    try:
        return SmartBackendServices(
            settings.fhir_token_url,
            settings.fhir_client_id,
            settings.fhir_private_key,
            settings.fhir_key_id,
            scope=settings.fhir_scope,
        )
    except ValueError as exc:
        raise _config_error(f"fhir_private_key: {exc}") from exc


def from_settings(
    settings: Settings,
    *,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Any,
) -> FHIRClient:
    """A :class:`FHIRClient` configured from ``settings``.

    Args:
        settings: the project settings (``fhir_*`` fields).
        base_url: overrides ``settings.fhir_url``; needed when that is unset, i.e. when the
            caller has just started the embedded server and knows its URL.
        transport: an httpx transport to use instead of the network.
        **options: further :class:`FHIRClient` keyword arguments (``on_request``, ...).

    Raises:
        agent.config.ConfigError: no base URL, or the authentication settings are incomplete.
    """
    url = base_url or settings.fhir_url
    if url is None:
        raise _config_error(
            "no FHIR base URL: set fhir_url (EHR_AGENT_FHIR_URL) or start the embedded server "
            "and pass its URL"
        )
    return FHIRClient(
        url,
        auth=auth_from_settings(settings),
        timeout=settings.fhir_timeout,
        max_retries=settings.fhir_max_retries,
        retry_budget_s=settings.fhir_retry_budget_s,
        max_pages=settings.fhir_max_pages,
        transport=transport,
        **options,
    )
