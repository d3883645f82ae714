"""What one backend process opens once and shares between requests.

The model (opened once per process), the FHIR client of service callers (the configured
server, or the embedded one), the checkpointer and the compiled graph, the SMART verifier
and the limiters. SMART callers get a FHIR client of their own per request, carrying their
token (:mod:`agent.backend.answering`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import httpx
from langchain_core.language_models import BaseChatModel

from agent.backend.callers import KeyRing
from agent.backend.config import BackendConfig
from agent.backend.limits import RateLimiter, RunGate
from agent.backend.patients import PatientResolver
from agent.backend.sessions import SessionLocks
from agent.backend.smart import SmartVerifier
from agent.checkpoint import open_checkpointer
from agent.config import Settings
from agent.context import AgentOptions
from agent.graph import AgentGraph, build_graph
from agent.llm import LLMBackend
from agent.runtime import agent_options, llm_backend, open_fhir
from tools.fhir import FHIRClient

__all__ = ["BackendResources", "ModelSource", "open_resources"]

#: A backend opened by the caller (``ehr-agent serve`` opens it before serving), an
#: in-process chat model (tests, benchmarks), or None to open the configured one here.
ModelSource = LLMBackend | BaseChatModel | None

_PROBE_TIMEOUT_S = 5.0


@dataclass
class BackendResources:
    """Everything requests share in one process.

    Attributes:
        settings: The project settings.
        config: Authentication and limits.
        model: The chat model.
        options: Agent budgets.
        llm_endpoint: The model endpoint's base URL (readiness); None for an in-process one.
        llm_model_name: The served model's name, when known.
        fhir: FHIR client of service callers.
        fhir_probe: A client of the same server that does not retry, for readiness checks.
        graph: The compiled agent, with the checkpointer.
        smart: Verifier of SMART callers.
        keys: Accepted API keys.
        limiter: Per-caller rate limiter.
        gate: Bound on questions in flight.
        sessions: Per-conversation locks.
        patients: Resolves service callers' patient ids and names.
        tasks: Questions being answered (cancelled if still running at shutdown).
    """

    settings: Settings
    config: BackendConfig
    model: BaseChatModel
    options: AgentOptions
    llm_endpoint: str | None
    llm_model_name: str | None
    fhir: FHIRClient
    fhir_probe: FHIRClient
    graph: AgentGraph
    smart: SmartVerifier
    keys: KeyRing
    limiter: RateLimiter
    gate: RunGate
    sessions: SessionLocks
    patients: PatientResolver
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


@asynccontextmanager
async def open_resources(
    settings: Settings,
    config: BackendConfig,
    *,
    model: ModelSource = None,
    smart_transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[BackendResources]:
    """Open the shared parts (closed on exit, in reverse order).

    Args:
        settings: FHIR, model and checkpointer settings.
        config: Authentication and limits.
        model: See :data:`ModelSource`.
        smart_transport: httpx transport for SMART discovery and introspection (tests).

    Raises:
        agent.cli_common.UserError: The model, FHIR server or checkpointer cannot be opened.
    """
    async with AsyncExitStack() as stack:
        if model is None:
            model = stack.enter_context(llm_backend(settings))
        if isinstance(model, LLMBackend):
            chat: BaseChatModel = model.model
            vision, endpoint, name = model.vision, model.base_url, model.model_name
        else:
            chat, vision, endpoint, name = model, False, None, None
        fhir = await stack.enter_async_context(open_fhir(settings))
        probe = await stack.enter_async_context(
            FHIRClient(fhir.base_url, auth=fhir.auth, timeout=_PROBE_TIMEOUT_S, max_retries=0)
        )
        saver = await stack.enter_async_context(open_checkpointer(settings.checkpoint_target))
        smart = SmartVerifier(config, transport=smart_transport)
        stack.push_async_callback(smart.aclose)
        resources = BackendResources(
            settings=settings,
            config=config,
            model=chat,
            options=agent_options(settings, vision=vision),
            llm_endpoint=endpoint,
            llm_model_name=name,
            fhir=fhir,
            fhir_probe=probe,
            graph=build_graph(saver),
            smart=smart,
            keys=KeyRing(config.api_keys),
            limiter=RateLimiter(config.rate_per_minute, config.rate_burst),
            gate=RunGate(config.max_concurrent, config.max_queue, config.queue_timeout_s),
            sessions=SessionLocks(),
            patients=PatientResolver(fhir),
        )
        try:
            yield resources
        finally:
            # Before the clients they use are closed.
            await _cancel(resources.tasks)


async def _cancel(tasks: set[asyncio.Task[None]]) -> None:
    pending = list(tasks)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
