"""What the HTTP backend is configured with: who may call it and how much it will take.

Secrets and the SMART allow-list come from :class:`agent.config.Settings` (the only reader
of the environment: ``EHR_AGENT_API_KEYS``, ``EHR_AGENT_SMART_FHIR_SERVERS``); the limits
come from ``ehr-agent serve`` flags or the app factory's caller.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent.backend.schemas import MAX_QUESTION_CHARS
from agent.config import ConfigError, Settings

__all__ = ["MIN_API_KEY_CHARS", "BackendConfig", "normalize_base_url"]

#: Shorter keys are refused: they could be guessed.
MIN_API_KEY_CHARS = 16


def normalize_base_url(url: str) -> str:
    """The canonical form of a FHIR base URL, for exact comparison with the allow-list.

    Scheme and host are lower-cased, a trailing slash is dropped; user info, a query or a
    fragment make the URL unusable as a FHIR base.

    Raises:
        ValueError: not an absolute http(s) URL, or one carrying user info/query/fragment.
    """
    text = url.strip()
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("a FHIR base URL must be an absolute http(s) URL")
    if parsed.userinfo or parsed.query or parsed.fragment or "?" in text or "#" in text:
        raise ValueError("a FHIR base URL must not carry user info, a query or a fragment")
    port = f":{parsed.port}" if parsed.port is not None else ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host.lower()}{port}{parsed.path.rstrip('/')}"


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@dataclass(frozen=True)
class BackendConfig:
    """Authentication and limits of one backend process.

    Attributes:
        api_keys: Keys accepted from service callers (``Authorization: Bearer`` or
            ``X-API-Key``).
        no_auth: Serve callers without credentials (loopback only; ``--no-auth``).
        smart_servers: FHIR base URLs (normalized) that SMART apps may name; their tokens
            are forwarded there and nowhere else. Empty: SMART callers are refused.
        smart_client_id: The backend's confidential client, used to authenticate to the
            token introspection endpoint (HTTP Basic); None sends no client credentials.
        smart_client_secret: Its secret.
        introspection_cache_s: How long a positive introspection answer is reused (never
            beyond the token's ``exp``); 0 introspects every request.
        introspections_per_minute: Introspections one client address may cause (tokens not
            in the cache), so that made-up tokens cannot flood the EHR; 0 = no limit.
        introspection_burst: Introspections an address may cause at once.
        max_question_chars: Longest question accepted (422 above).
        max_body_bytes: Largest request body accepted (413 above).
        rate_per_minute: Sustained requests per minute per caller (token bucket); 0 = off.
        rate_burst: Requests a caller may make at once before the rate applies.
        request_timeout_s: Wall time one question may take (504 beyond, or an ``error``
            event on a stream).
        max_concurrent: Questions answered at once by this process.
        max_queue: Questions that may wait for a free slot; more are refused at once (503).
        queue_timeout_s: How long a question may wait for a slot (503 beyond).
        cors_origins: Browser origins allowed to call the API (CORS); empty = none.
    """

    api_keys: tuple[str, ...] = field(default=(), repr=False)
    no_auth: bool = False
    smart_servers: tuple[str, ...] = ()
    smart_client_id: str | None = None
    smart_client_secret: str | None = field(default=None, repr=False)
    introspection_cache_s: float = 30.0
    introspections_per_minute: float = 60.0
    introspection_burst: int = 20
    max_question_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    rate_per_minute: float = 120.0
    rate_burst: int = 20
    request_timeout_s: float = 600.0
    max_concurrent: int = 16
    max_queue: int = 64
    queue_timeout_s: float = 30.0
    cors_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if any(len(key) < MIN_API_KEY_CHARS for key in self.api_keys):
            problems.append(f"every API key must have at least {MIN_API_KEY_CHARS} characters")
        if any(not key.isprintable() or " " in key for key in self.api_keys):
            problems.append("API keys must be printable and contain no spaces")
        if self.api_keys and self.no_auth:
            problems.append("--no-auth contradicts the configured API keys (EHR_AGENT_API_KEYS)")
        for name in (
            "max_question_chars",
            "max_body_bytes",
            "max_concurrent",
            "rate_burst",
            "introspection_burst",
        ):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        for name in ("request_timeout_s", "queue_timeout_s"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0")
        for name in (
            "max_queue",
            "rate_per_minute",
            "introspection_cache_s",
            "introspections_per_minute",
        ):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if self.max_question_chars > MAX_QUESTION_CHARS:
            problems.append(f"max_question_chars must be <= {MAX_QUESTION_CHARS}")
        if self.smart_client_secret and not self.smart_client_id:
            problems.append("a SMART client secret needs a client id")
        for url in self.smart_servers:
            if url != normalize_base_url(url):
                problems.append(f"SMART server {url!r} is not normalized")
        if problems:
            raise ConfigError("invalid backend configuration:\n  " + "\n  ".join(problems))

    @property
    def smart_enabled(self) -> bool:
        """Whether SMART app callers are accepted at all."""
        return bool(self.smart_servers)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BackendConfig:
        """Keys and the SMART allow-list from ``settings``; limits from ``overrides``.

        ``None`` values in ``overrides`` are ignored (an unset flag keeps the default).
        The backend's confidential client for introspection is ``fhir_client_id`` /
        ``fhir_client_secret``.

        Raises:
            ConfigError: a value is invalid (the message names it).
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise ConfigError(f"unknown backend settings: {', '.join(sorted(unknown))}")
        keys = _split(settings.api_keys.get_secret_value() if settings.api_keys else None)
        servers = []
        for url in _split(settings.smart_fhir_servers):
            try:
                servers.append(normalize_base_url(url))
            except ValueError as exc:
                raise ConfigError(
                    f"smart_fhir_servers (EHR_AGENT_SMART_FHIR_SERVERS): {url!r}: {exc}"
                ) from None
        values: dict[str, Any] = {
            "api_keys": tuple(dict.fromkeys(keys)),
            "smart_servers": tuple(dict.fromkeys(servers)),
            "smart_client_id": settings.fhir_client_id,
            "smart_client_secret": (
                settings.fhir_client_secret.get_secret_value()
                if settings.fhir_client_secret
                else None
            ),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("smart_servers", "cors_origins", "api_keys"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)
