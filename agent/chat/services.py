"""What a chat keeps open from start to end: the FHIR client and the conversation store.

The model is opened by the caller (it may be the embedded llama.cpp server, slow to
start, so it is started once and shared by every conversation). Switching patient or
starting over creates a new :class:`~agent.session.AgentSession` on the same
connections; each conversation is a thread of one in-memory checkpointer, which is how
follow-up questions see the earlier turns. Nothing is written to disk.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

from langchain_core.language_models import BaseChatModel

from agent.config import Settings
from agent.graph import AgentGraph, build_graph
from agent.runtime import agent_options, open_fhir
from agent.session import AgentSession
from tools.fhir import FHIRClient
from tools.patients import PatientChoice, find_patient

__all__ = ["ChatServices", "open_services"]


@dataclass
class ChatServices:
    """The connections every conversation of one chat shares.

    Attributes:
        settings: The chat's settings.
        client: FHIR client (the embedded server's when no URL is configured).
        model: The chat model.
        vision: Whether the model is sent images.
        graph: The agent graph, compiled with the in-memory conversation store.
        fhir_label: Where the record comes from, for the banner and the transcript.
    """

    settings: Settings
    client: FHIRClient
    model: BaseChatModel
    vision: bool
    graph: AgentGraph
    fhir_label: str

    async def find_patient(self, text: str) -> PatientChoice:
        """The patient ``text`` names (id or name).

        Raises:
            tools.patients.PatientLookupError: none or several match (with candidates).
            tools.fhir.FHIRError: the FHIR server failed.
        """
        return await find_patient(self.client, text)

    async def new_session(self, patient_id: str, as_of: date | None) -> AgentSession:
        """A new conversation about ``patient_id`` (created on the loop that will run it)."""
        return AgentSession(
            client=self.client,
            model=self.model,
            patient_id=patient_id,
            as_of=as_of,
            options=agent_options(self.settings, vision=self.vision),
            graph=self.graph,
            thread_id=uuid.uuid4().hex,
            output_tokens=self.settings.tool_output_tokens,
        )


@asynccontextmanager
async def open_services(
    settings: Settings, model: BaseChatModel, *, vision: bool
) -> AsyncIterator[ChatServices]:
    """Open the FHIR client and an in-memory conversation store for one chat.

    Raises:
        tools.fhir.FHIRError: The FHIR client could not be set up (e.g. token discovery).
        agent.config.ConfigError: The FHIR authentication settings are incomplete.
    """
    from agent.checkpoint import open_checkpointer

    async with open_fhir(settings) as client, open_checkpointer(":memory:") as saver:
        yield ChatServices(
            settings=settings,
            client=client,
            model=model,
            vision=vision,
            graph=build_graph(saver),
            fhir_label=settings.fhir_url or f"embedded server ({client.base_url})",
        )
