"""Opening what a front end needs: the FHIR server, the model, the patient, a session.

With ``fhir_url`` set, the client talks to that server with the configured auth. Without
it, the embedded FHIR server is started on loopback over the database under
``data_dir`` (loading the shipped sample cohort the first time), and the client talks to
it over real HTTP, exactly as it would to any other server. The model is the configured
OpenAI-compatible endpoint, or the embedded llama.cpp model.

Failures are turned into :class:`agent.cli_common.UserError` with exit code 3 (FHIR) or
4 (model), naming what is down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import date
from typing import TYPE_CHECKING

from agent.cli_common import FHIR_DOWN, LLM_DOWN, UserError
from agent.config import Settings
from agent.context import AgentOptions
from tools.fhir import FHIRClient, FHIRError, FHIRUnavailable, from_settings

if TYPE_CHECKING:
    from agent.llm import LLMBackend
    from agent.session import AgentSession

__all__ = ["agent_options", "llm_backend", "open_fhir", "open_session", "resolve_patient"]


@asynccontextmanager
async def open_fhir(settings: Settings) -> AsyncIterator[FHIRClient]:
    """A FHIR client for the configured server, embedded when no URL is set."""
    if settings.fhir_url:
        async with from_settings(settings) as client:
            yield client
        return
    from fhir_fixtures.embedded import embedded_fhir_server

    with embedded_fhir_server(settings.fhir_db_path) as server:
        async with FHIRClient(
            server.base_url,
            timeout=settings.fhir_timeout,
            max_retries=settings.fhir_max_retries,
            retry_budget_s=settings.fhir_retry_budget_s,
            max_pages=settings.fhir_max_pages,
        ) as client:
            yield client


@contextmanager
def llm_backend(settings: Settings) -> Iterator[LLMBackend]:
    """The configured chat model (embedded when no URL is set), or a clear failure."""
    from agent.llm import LLMError, open_llm_backend

    try:
        with open_llm_backend(settings) as backend:
            yield backend
    except LLMError as exc:
        where = settings.llm_url or "the embedded model"
        raise UserError(
            f"the model endpoint ({where}) is unavailable: {exc}", exit_code=LLM_DOWN
        ) from None


async def resolve_patient(client: FHIRClient, text: str) -> str:
    """The id of the patient ``text`` names, or a UserError listing close matches."""
    from tools.patients import PatientLookupError, find_patient

    try:
        return (await find_patient(client, text)).id
    except PatientLookupError as exc:
        raise UserError(str(exc)) from None
    except FHIRUnavailable as exc:
        raise UserError(f"the FHIR server is unavailable: {exc}", exit_code=FHIR_DOWN) from None
    except FHIRError as exc:
        raise UserError(
            f"the FHIR server refused the patient lookup: {exc}", exit_code=FHIR_DOWN
        ) from None


def agent_options(settings: Settings, *, vision: bool) -> AgentOptions:
    """Agent budgets from settings."""
    return AgentOptions(
        max_steps=settings.max_steps,
        max_evidence_tokens=settings.max_evidence_tokens,
        tool_mode=settings.llm_tool_mode,
        vision=vision,
        index_cache_ttl_s=settings.index_cache_ttl_s,
    )


@asynccontextmanager
async def open_session(
    settings: Settings,
    patient: str,
    *,
    as_of: date | None = None,
    thread_id: str | None = None,
    persistent: bool = False,
) -> AsyncIterator[AgentSession]:
    """An AgentSession for ``patient`` with everything opened (and closed on exit).

    ``persistent`` keeps the conversation in the configured checkpointer, so follow-up
    questions (and a later ``--session``) continue it.
    """
    from agent.checkpoint import open_checkpointer
    from agent.graph import build_graph
    from agent.session import AgentSession

    with llm_backend(settings) as backend:
        async with open_fhir(settings) as client:
            patient_id = await resolve_patient(client, patient)
            target = settings.checkpoint_target if persistent else ":memory:"
            async with open_checkpointer(target) as saver:
                yield AgentSession(
                    client=client,
                    model=backend.model,
                    patient_id=patient_id,
                    as_of=as_of or settings.as_of,
                    options=agent_options(settings, vision=backend.vision),
                    graph=build_graph(saver),
                    thread_id=thread_id,
                    output_tokens=settings.tool_output_tokens,
                )
