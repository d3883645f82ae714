"""``/readyz``: can this process answer questions right now?

The FHIR server of service callers must return an R4 CapabilityStatement
(``GET /metadata``, fetched afresh) and the model endpoint must list the model
(``GET /v1/models``, as ``ehr-agent doctor`` checks it). An in-process model is ready by
construction. Each check is bounded by a few seconds; nothing reads patient data.
"""

from __future__ import annotations

import asyncio

from agent.backend.resources import BackendResources
from agent.backend.schemas import Readiness, ReadinessCheck
from agent.llm import LLMError, probe_endpoint
from tools.fhir import FHIRError

__all__ = ["CHECK_TIMEOUT_S", "check_readiness"]

CHECK_TIMEOUT_S = 5.0


async def _check_fhir(res: BackendResources) -> ReadinessCheck:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            statement = await res.fhir_probe.capabilities(refresh=True)
    except TimeoutError:
        return ReadinessCheck(
            name="fhir", ok=False, detail=f"no answer within {CHECK_TIMEOUT_S:g} s"
        )
    except FHIRError as exc:
        return ReadinessCheck(name="fhir", ok=False, detail=str(exc))
    if not statement.is_r4:
        return ReadinessCheck(
            name="fhir", ok=False, detail=f"FHIR {statement.fhir_version}, not R4"
        )
    return ReadinessCheck(name="fhir", ok=True, detail="FHIR R4 server reachable")


async def _check_llm(res: BackendResources) -> ReadinessCheck:
    if res.llm_endpoint is None:
        return ReadinessCheck(name="llm", ok=True, detail="in-process model")
    key = res.settings.llm_api_key
    try:
        info = await asyncio.to_thread(
            probe_endpoint,
            res.llm_endpoint,
            api_key=key.get_secret_value() if key else None,
            timeout=CHECK_TIMEOUT_S,
            model=res.llm_model_name,
        )
    except LLMError as exc:
        return ReadinessCheck(name="llm", ok=False, detail=str(exc))
    if res.llm_model_name is not None and res.llm_model_name not in info.models:
        return ReadinessCheck(
            name="llm", ok=False, detail=f"the endpoint no longer serves {res.llm_model_name!r}"
        )
    return ReadinessCheck(name="llm", ok=True, detail="model endpoint reachable")


async def check_readiness(res: BackendResources) -> Readiness:
    """Both checks, run concurrently."""
    fhir, llm = await asyncio.gather(_check_fhir(res), _check_llm(res))
    return Readiness(ready=fhir.ok and llm.ok, checks=[fhir, llm])
