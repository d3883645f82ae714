"""``ehr-agent doctor``: are the FHIR server and the model endpoint usable?

* FHIR: ``GET {fhir_url}/metadata`` must return a CapabilityStatement for FHIR R4
  (4.0.x); the FHIR version and the server software are reported.
* LLM: ``GET {llm_url}/models`` must list the configured model (or any model when none
  is configured); whether it takes images is reported with how that was decided.
* With ``fhir_url`` / ``llm_url`` unset the embedded parts are checked instead: the
  embedded FHIR server's package, and xllamacpp plus the configured packaged model.

Nothing is started and no patient data is read.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from agent.config import Settings
from agent.llm.endpoint import probe_endpoint
from agent.llm.errors import LLMError
from agent.llm.local_models import local_model_status
from agent.llm.transport import describe_http_error

__all__ = ["Check", "DoctorReport", "check_fhir", "check_llm", "run_doctor"]

_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Check:
    """The outcome of one check.

    Attributes:
        name: ``"fhir"`` or ``"llm"``.
        ok: Whether the part is usable.
        mode: ``"remote"`` (a URL is configured) or ``"embedded"``.
        target: The URL checked, or the embedded component.
        summary: One sentence for people.
        details: Facts found (versions, models, vision, latency).
    """

    name: str
    ok: bool
    mode: Literal["remote", "embedded"]
    target: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DoctorReport:
    """All checks; ``ok`` only if every one passed."""

    checks: list[Check]

    @property
    def ok(self) -> bool:
        """Whether everything is usable."""
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON-serialisable document."""
        return {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}


def run_doctor(settings: Settings) -> DoctorReport:
    """Run every check for ``settings``."""
    return DoctorReport([check_fhir(settings), check_llm(settings)])


def check_fhir(settings: Settings, *, transport: httpx.BaseTransport | None = None) -> Check:
    """Check the FHIR server (or that the embedded one is available)."""
    if settings.fhir_url is None:
        present = importlib.util.find_spec("fhir_fixtures.server") is not None
        return Check(
            "fhir",
            present,
            "embedded",
            "fhir_fixtures.server",
            "embedded FHIR server available"
            if present
            else "embedded FHIR server missing (fhir_fixtures.server is not installed)",
            {"database": str(settings.fhir_db_path)},
        )
    url = f"{settings.fhir_url}/metadata"
    headers = {"Accept": "application/fhir+json"}
    if settings.fhir_auth == "bearer" and settings.fhir_token is not None:
        headers["Authorization"] = f"Bearer {settings.fhir_token.get_secret_value()}"
    started = time.perf_counter()
    try:
        with httpx.Client(
            timeout=min(settings.fhir_timeout, _TIMEOUT_S), transport=transport
        ) as client:
            response = client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return Check(
            "fhir",
            False,
            "remote",
            settings.fhir_url,
            f"FHIR server at {settings.fhir_url} is unreachable ({describe_http_error(exc)})",
        )
    latency = round(time.perf_counter() - started, 3)
    if response.status_code != 200:
        return Check(
            "fhir",
            False,
            "remote",
            settings.fhir_url,
            f"FHIR server at {settings.fhir_url} answered GET /metadata with "
            f"HTTP {response.status_code}",
            {"status": response.status_code, "latency_s": latency},
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("resourceType") != "CapabilityStatement":
        return Check(
            "fhir",
            False,
            "remote",
            settings.fhir_url,
            f"{url} did not return a CapabilityStatement; is this a FHIR base URL?",
            {"latency_s": latency},
        )
    version = str(body.get("fhirVersion", ""))
    raw_software = body.get("software")
    software: dict[str, Any] = raw_software if isinstance(raw_software, dict) else {}
    details = {
        "fhir_version": version or None,
        "software": software.get("name"),
        "software_version": software.get("version"),
        "latency_s": latency,
    }
    named = " ".join(str(v) for v in (software.get("name"), software.get("version")) if v)
    if not version.startswith("4.0"):
        return Check(
            "fhir",
            False,
            "remote",
            settings.fhir_url,
            f"FHIR server at {settings.fhir_url} speaks FHIR {version or 'of unknown version'},"
            " ehr-agent needs R4 (4.0.x)",
            details,
        )
    return Check(
        "fhir",
        True,
        "remote",
        settings.fhir_url,
        f"FHIR R4 ({version}) server reachable" + (f": {named}" if named else ""),
        details,
    )


def check_llm(settings: Settings, *, transport: httpx.BaseTransport | None = None) -> Check:
    """Check the model endpoint (or that the embedded model can start)."""
    if settings.llm_url is None:
        return _check_embedded_llm(settings)
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    started = time.perf_counter()
    try:
        info = probe_endpoint(
            settings.llm_url,
            api_key=api_key,
            timeout=_TIMEOUT_S,
            model=settings.llm_model,
            transport=transport,
        )
    except LLMError as exc:
        return Check("llm", False, "remote", settings.llm_url, str(exc))
    latency = round(time.perf_counter() - started, 3)
    vision, source = info.vision, info.vision_source
    if settings.llm_vision is not None:
        vision, source = settings.llm_vision, "EHR_AGENT_LLM_VISION"
    details = {
        "models": info.models,
        "server": info.server,
        "model": settings.llm_model or (info.models[0] if info.models else None),
        "vision": vision,
        "vision_source": source,
        "latency_s": latency,
    }
    if not info.models:
        return Check(
            "llm", False, "remote", settings.llm_url, "the endpoint serves no model", details
        )
    if settings.llm_model is not None and settings.llm_model not in info.models:
        return Check(
            "llm",
            False,
            "remote",
            settings.llm_url,
            f"the endpoint does not serve {settings.llm_model!r} (it serves "
            f"{', '.join(info.models)}); fix EHR_AGENT_LLM_MODEL or --served-model-name",
            details,
        )
    images = {True: "takes images", False: "text only", None: "image support unknown"}[vision]
    return Check(
        "llm",
        True,
        "remote",
        settings.llm_url,
        f"serving {details['model']} ({images}, from {source})",
        details,
    )


def _check_embedded_llm(settings: Settings) -> Check:
    runtime = importlib.util.find_spec("xllamacpp") is not None
    status = local_model_status(settings.local_model, settings.data_dir)
    problems = []
    if not runtime:
        problems.append("xllamacpp is not installed: pip install 'ehr-agent[local]'")
    if not status.available:
        problems.append(status.detail)
    details = {
        "local_model": settings.local_model,
        "xllamacpp": runtime,
        "model_file": str(status.path) if status.path else None,
        "threads": settings.local_threads,
        "vision": False,
    }
    summary = (
        f"embedded model {settings.local_model} available ({status.detail})"
        if not problems
        else "; ".join(problems)
    )
    return Check("llm", not problems, "embedded", settings.local_model, summary, details)
