"""Settings of simulation runs: one endpoint per simulated role, turn limit, concurrency.

They follow :class:`agent.config.Settings` exactly: every field is read from the
environment as ``EHR_AGENT_<FIELD>`` (``sim_patient_url`` is ``EHR_AGENT_SIM_PATIENT_URL``)
and command-line flags override the environment. The doctor is our agent, so it uses the
main settings (``EHR_AGENT_LLM_URL``...); the patient, measurement and moderator roles each
take any OpenAI-compatible endpoint and default to the embedded local model.

This model is the only place the simulation reads the environment. Its fields are named
as they would be in :class:`agent.config.Settings`, so they can move there unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from agent.config import config_error, env_values, http_base_url

__all__ = ["ROLES", "Role", "RoleEndpointConfig", "SimulationSettings"]

Role = Literal["patient", "measurement", "moderator"]
ROLES: tuple[Role, ...] = ("patient", "measurement", "moderator")


@dataclass(frozen=True)
class RoleEndpointConfig:
    """Where one simulated role's model is served (``url`` None: the embedded model)."""

    role: Role
    url: str | None
    model: str | None
    api_key: SecretStr | None


class SimulationSettings(BaseModel):
    """Every tunable of ``ehr-agent simulate``, with the environment variable that sets it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sim_patient_url: str | None = Field(
        None, description="OpenAI-compatible base URL (…/v1) of the patient agent's model."
    )
    sim_patient_model: str | None = Field(
        None, description="Model name for the patient agent; asked of /v1/models when unset."
    )
    sim_patient_api_key: SecretStr | None = Field(None, description="Bearer key (patient).")
    sim_measurement_url: str | None = Field(
        None, description="OpenAI-compatible base URL of the measurement agent's model."
    )
    sim_measurement_model: str | None = Field(
        None, description="Model name for the measurement agent."
    )
    sim_measurement_api_key: SecretStr | None = Field(None, description="Bearer key (measurement).")
    sim_moderator_url: str | None = Field(
        None, description="OpenAI-compatible base URL of the moderator (the LLM judge)."
    )
    sim_moderator_model: str | None = Field(None, description="Model name for the moderator.")
    sim_moderator_api_key: SecretStr | None = Field(None, description="Bearer key (moderator).")

    sim_max_turns: int = Field(
        20, ge=1, le=100, description="Doctor actions per case before the case ends undiagnosed."
    )
    sim_ehr_queries: int = Field(
        5, ge=0, le=50, description="EHR questions the doctor may ask per case."
    )
    sim_concurrency: int = Field(1, ge=1, le=64, description="Cases simulated at once.")
    sim_role_max_tokens: int = Field(
        200, ge=8, le=8192, description="Reply cap of the patient, measurement and moderator."
    )
    sim_role_temperature: float = Field(
        0.0, ge=0, le=2, description="Sampling temperature of the simulated roles."
    )
    sim_doctor_max_tokens: int = Field(
        512, ge=32, le=8192, description="Cap on one doctor action (a JSON object)."
    )

    @field_validator("sim_patient_url", "sim_measurement_url", "sim_moderator_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return http_base_url(value)

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> SimulationSettings:
        """Defaults, then ``EHR_AGENT_SIM_*`` variables, then ``overrides`` (flags).

        ``None`` values in ``overrides`` are ignored, so an unset flag never hides an
        environment variable; names that are not fields are ignored too, so a whole
        ``argparse`` namespace can be passed.

        Raises:
            ConfigError: A value is invalid (the message names the flag and variable).
        """
        values: dict[str, Any] = env_values(cls.model_fields, environ)
        for name, value in (overrides or {}).items():
            if name in cls.model_fields and value is not None:
                values[name] = value
        try:
            return cls(**values)
        except ValidationError as exc:
            raise config_error(
                exc, "invalid simulation settings", lambda field: field.removeprefix("sim_")
            ) from None

    def endpoint(self, role: Role) -> RoleEndpointConfig:
        """The endpoint configuration of one simulated role."""
        return RoleEndpointConfig(
            role=role,
            url=getattr(self, f"sim_{role}_url"),
            model=getattr(self, f"sim_{role}_model"),
            api_key=getattr(self, f"sim_{role}_api_key"),
        )
