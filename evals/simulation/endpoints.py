"""The chat model of every role, each on its own OpenAI-compatible endpoint.

Our doctor, and the simulated patient, measurement reader and moderator.

The doctor (and the EHR agent it consults) use the main settings (``EHR_AGENT_LLM_*``),
exactly as ``ehr-agent ask`` would. Each simulated role uses its own URL, model and key
(``EHR_AGENT_SIM_<ROLE>_URL``...) and, without a URL, the embedded local model. At most
one embedded llama.cpp server is started, whoever needs it: when the doctor is embedded
too, every role shares the doctor's server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from agent.config import Settings
from agent.llm import (
    LLMError,
    LLMUnavailable,
    LocalModelServer,
    OpenAICompatibleChat,
    open_llm_backend,
    probe_endpoint,
)
from evals.simulation.errors import RoleUnavailable
from evals.simulation.settings import ROLES, Role, SimulationSettings

__all__ = ["RoleModel", "RoleModels", "open_role_models"]

_PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RoleModel:
    """One role's chat model and where it is served."""

    role: str
    model: BaseChatModel
    base_url: str
    model_name: str
    embedded: bool


@dataclass(frozen=True)
class RoleModels:
    """The models of one run.

    Attributes:
        doctor: Our model choosing the doctor's actions (reply cap from the simulation
            settings).
        ehr: The same endpoint with the agent's own settings, for query-EHR.
        patient: The patient agent.
        measurement: The measurement reader.
        moderator: The LLM judge.
        ehr_vision: Whether the doctor's endpoint takes images (the agent's tools).
    """

    doctor: RoleModel
    ehr: RoleModel
    patient: RoleModel
    measurement: RoleModel
    moderator: RoleModel
    ehr_vision: bool

    def names(self) -> dict[str, str]:
        """Model name per role."""
        return {
            "doctor": self.doctor.model_name,
            "patient": self.patient.model_name,
            "measurement": self.measurement.model_name,
            "moderator": self.moderator.model_name,
        }

    def urls(self) -> dict[str, str]:
        """Endpoint per role (embedded ones on a loopback port of this run)."""
        return {
            "doctor": self.doctor.base_url,
            "patient": self.patient.base_url,
            "measurement": self.measurement.base_url,
            "moderator": self.moderator.base_url,
        }


@contextmanager
def open_role_models(settings: Settings, sim: SimulationSettings) -> Iterator[RoleModels]:
    """Open every role's model; embedded servers stop on exit.

    Raises:
        RoleUnavailable: A role's endpoint is unreachable, serves no model, or the
            embedded model cannot start (``role`` names which).
    """
    with ExitStack() as stack:
        try:
            backend = stack.enter_context(open_llm_backend(settings))
        except LLMError as exc:
            raise RoleUnavailable("doctor", str(exc), kind=type(exc).__name__) from exc
        ehr = RoleModel(
            "ehr", backend.model, backend.base_url, backend.model_name, backend.embedded
        )
        doctor = RoleModel(
            "doctor",
            backend.model.model_copy(update={"max_tokens": sim.sim_doctor_max_tokens}),
            backend.base_url,
            backend.model_name,
            backend.embedded,
        )
        embedded: tuple[str, str] | None = (
            (backend.base_url, backend.model_name) if backend.embedded else None
        )
        roles: dict[Role, RoleModel] = {}
        for role in ROLES:
            config = sim.endpoint(role)
            api_key = config.api_key
            if config.url is None:
                if embedded is None:
                    embedded = _start_embedded(stack, settings, role)
                base_url, name = embedded
            else:
                base_url = config.url
                name = config.model or _served_model(role, base_url, api_key)
            roles[role] = RoleModel(
                role,
                OpenAICompatibleChat(
                    base_url=base_url,
                    model=name,
                    api_key=api_key if config.url else None,
                    timeout=settings.llm_timeout,
                    max_retries=settings.llm_max_retries,
                    temperature=sim.sim_role_temperature,
                    max_tokens=sim.sim_role_max_tokens,
                ),
                base_url,
                name,
                config.url is None,
            )
        yield RoleModels(
            doctor=doctor,
            ehr=ehr,
            patient=roles["patient"],
            measurement=roles["measurement"],
            moderator=roles["moderator"],
            ehr_vision=backend.vision,
        )


def _start_embedded(stack: ExitStack, settings: Settings, role: str) -> tuple[str, str]:
    try:
        server = stack.enter_context(LocalModelServer(settings))
    except LLMError as exc:
        raise RoleUnavailable(role, str(exc), kind=type(exc).__name__) from exc
    return server.base_url, server.model_name


def _served_model(role: str, base_url: str, api_key: SecretStr | None) -> str:
    key = api_key.get_secret_value() if api_key else None
    try:
        info = probe_endpoint(base_url, api_key=key, timeout=_PROBE_TIMEOUT_S)
    except LLMError as exc:
        raise RoleUnavailable(role, str(exc), kind=type(exc).__name__) from exc
    if not info.models:
        raise RoleUnavailable(
            role, f"the endpoint at {base_url} serves no model", kind=LLMUnavailable.__name__
        )
    return info.models[0]
