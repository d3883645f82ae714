"""Configuration: the one place settings are read.

Precedence is command-line flags over environment variables over defaults. Every field
can be set from the environment as ``EHR_AGENT_<FIELD_NAME_IN_UPPER_CASE>``; for example
``fhir_url`` is ``EHR_AGENT_FHIR_URL``. No other module reads ``os.environ`` for settings:
front ends build a :class:`Settings` once and pass what each part needs explicitly.

With nothing set everything runs embedded: the local FHIR server with the sample cohort
(stored under ``data_dir``) and the local llama.cpp model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

__all__ = [
    "ENV_PREFIX",
    "ConfigError",
    "Settings",
    "config_error",
    "default_data_dir",
    "env_values",
    "http_base_url",
]

ENV_PREFIX = "EHR_AGENT_"


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it and says how to fix it."""


def default_data_dir() -> Path:
    """Where embedded state lives (FHIR database, checkpoints, joined model files)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ehr-agent"


def http_base_url(value: str | None) -> str | None:
    """A base URL setting as stored: unset when empty, else http(s) without a trailing slash.

    Raises:
        ValueError: The value is not an http(s) URL (in a validator: a validation error).
    """
    if value is None or value == "":
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def env_values(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings among ``names`` set (non-empty) as ``EHR_AGENT_<NAME>`` in ``environ``."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for name in names:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = raw
    return values


def config_error(
    exc: ValidationError, heading: str, flag: Callable[[str], str] = lambda field: field
) -> ConfigError:
    """One line per invalid field, naming its flag (``--`` + ``flag(field)``) and variable."""
    problems = []
    for err in exc.errors(include_input=False):
        field = str(err["loc"][0]) if err["loc"] else "?"
        option = flag(field).replace("_", "-")
        problems.append(f"{field} (flag --{option} or {ENV_PREFIX}{field.upper()}): {err['msg']}")
    return ConfigError(f"{heading}:\n  " + "\n  ".join(problems))


class Settings(BaseModel):
    """Every tunable of the product, with the environment variable that sets it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- FHIR server -----------------------------------------------------------------
    fhir_url: str | None = Field(
        None, description="FHIR R4 base URL. Unset: the embedded server with the sample cohort."
    )
    fhir_auth: Literal["none", "bearer", "client-credentials", "smart-backend"] = Field(
        "none", description="How to authenticate to the FHIR server."
    )
    fhir_token: SecretStr | None = Field(
        None, description="Static bearer token (fhir_auth=bearer)."
    )
    fhir_client_id: str | None = Field(None, description="OAuth2 / SMART client id.")
    fhir_client_secret: SecretStr | None = Field(
        None, description="OAuth2 client secret (fhir_auth=client-credentials)."
    )
    fhir_token_url: str | None = Field(
        None,
        description="Token endpoint; discovered from .well-known/smart-configuration if unset.",
    )
    fhir_scope: str = Field(
        "system/*.read", description="Scopes requested from the token endpoint."
    )
    fhir_private_key: Path | None = Field(
        None, description="PEM private key for SMART Backend Services (RS384 or ES384)."
    )
    fhir_key_id: str | None = Field(None, description="`kid` of the SMART Backend Services key.")
    fhir_timeout: float = Field(30.0, gt=0, description="Seconds per FHIR request.")
    fhir_max_retries: int = Field(4, ge=0, le=10, description="Retries on 429/502/503/504.")
    fhir_retry_budget_s: float = Field(
        30.0, gt=0, description="Seconds one FHIR request may spend retrying."
    )
    fhir_max_pages: int = Field(50, ge=1, description="Hard cap on pages followed per search.")

    # --- LLM endpoint ----------------------------------------------------------------
    llm_url: str | None = Field(
        None, description="OpenAI-compatible base URL (…/v1). Unset: the embedded local model."
    )
    llm_model: str | None = Field(
        None, description="Model name sent to the endpoint; asked of /v1/models when unset."
    )
    llm_api_key: SecretStr | None = Field(None, description="Bearer key for the LLM endpoint.")
    llm_vision: bool | None = Field(
        None, description="Whether the model takes images; detected from the server when unset."
    )
    llm_timeout: float = Field(300.0, gt=0, description="Seconds per LLM call.")
    llm_max_retries: int = Field(2, ge=0, le=5, description="Retries of a failed LLM call.")
    llm_tool_mode: Literal["json", "native"] = Field(
        "json", description="How the model chooses tools: JSON-schema output or native tool calls."
    )
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")

    # --- Embedded local model --------------------------------------------------------
    local_model: Literal["qwen2.5-1.5b", "smollm2-135m"] = Field(
        "qwen2.5-1.5b", description="Which packaged GGUF model the embedded server loads."
    )
    local_threads: int = Field(1, ge=1, description="CPU threads for the embedded model.")
    local_ctx: int = Field(8192, ge=512, description="Context window of the embedded model.")
    local_parallel: int = Field(1, ge=1, description="Concurrent sequences (slots) it serves.")

    # --- Agent -----------------------------------------------------------------------
    as_of: date | None = Field(None, description="Reference date of a session; today when unset.")
    max_steps: int = Field(3, ge=1, le=20, description="Planning rounds before answering.")
    max_evidence_tokens: int = Field(
        6000, ge=500, description="Evidence budget (approximate tokens) across a question."
    )
    index_cache_ttl_s: float = Field(
        default=60.0,
        ge=0,
        description="Seconds a patient's built record index is reused by later sessions of "
        "the same process (same FHIR server, caller identity, patient and reference date); "
        "data written to the server meanwhile shows up after at most this long. 0 rebuilds "
        "it for every session.",
    )
    tool_output_tokens: int = Field(
        1200, ge=100, description="Budget (approximate tokens) for one tool's output."
    )
    checkpointer: str | None = Field(
        None,
        description="Conversation store: SQLite path or postgresql:// URL; default under data_dir.",
    )

    # --- HTTP backend (ehr-agent serve) -----------------------------------------------
    api_keys: SecretStr | None = Field(
        None, description="Comma-separated API keys accepted by the HTTP backend."
    )
    smart_fhir_servers: str | None = Field(
        None,
        description="Comma-separated FHIR base URLs SMART apps may name (their tokens are "
        "forwarded there and nowhere else).",
    )

    # --- Storage ---------------------------------------------------------------------
    data_dir: Path = Field(default_factory=default_data_dir, description="Embedded state.")

    @field_validator("fhir_url", "llm_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return http_base_url(value)

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from defaults, then the environment, then ``overrides``.

        ``overrides`` holds command-line values; ``None`` values are ignored so that an
        unset flag never hides an environment variable.
        """
        values: dict[str, Any] = env_values(cls.model_fields, environ)
        for name, value in (overrides or {}).items():
            if name not in cls.model_fields:
                raise ConfigError(f"unknown setting {name!r}")
            if value is not None:
                values[name] = value
        try:
            return cls(**values)
        except ValidationError as exc:
            raise config_error(exc, "invalid configuration") from None

    @property
    def fhir_db_path(self) -> Path:
        """SQLite database of the embedded FHIR server."""
        return self.data_dir / "fhir.sqlite"

    @property
    def checkpoint_target(self) -> str:
        """Where conversations are stored: a SQLite path or a Postgres URL."""
        return self.checkpointer or str(self.data_dir / "checkpoints.sqlite")
