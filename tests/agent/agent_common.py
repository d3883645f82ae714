"""Agent tests: a real FHIR server on loopback, a scripted model, and helpers to script it."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from agent.context import AgentOptions
from agent.graph import build_graph
from agent.llm import ScriptedChatModel
from agent.session import AgentSession
from fhir_fixtures.server import BackgroundServer
from tools.fhir import FHIRClient

EVELYN = "3e26303e-a72a-4c60-866f-e5b81a9f1989"  # 35 HbA1c results, no statin
DEVIN = "9a82c90c-ba2d-4b36-a523-ee13e38b8e39"  # on simvastatin
AS_OF = date(2019, 6, 1)


def prompt_text(messages: list[BaseMessage]) -> str:
    """Everything the model was sent, as text."""
    parts = []
    for message in messages:
        content = message.content
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(str(content))
    return "\n".join(parts)


def handle_on_line(messages: list[BaseMessage], pattern: str) -> str:
    """The first citation handle after the first match of ``pattern`` in the prompt."""
    text = prompt_text(messages)
    match = re.search(pattern + r".*?\[([A-Z]+\d+)\]", text)
    if match is None:
        raise AssertionError(f"no evidence matches {pattern!r}")
    return match.group(match.lastindex or 1)


def plan(*calls: dict[str, Any], enough: bool = False) -> str:
    return json.dumps({"enough": enough, "calls": list(calls)})


def answer_citing(pattern: str, text: str, **extra: Any) -> Callable[[list[BaseMessage]], str]:
    """A scripted answer citing the handle of the evidence line matching ``pattern``."""

    def reply(messages: list[BaseMessage]) -> str:
        handle = handle_on_line(messages, pattern)
        return json.dumps({"answer": f"{text} [{handle}].", "citations": [handle], **extra})

    return reply


@pytest.fixture
async def fhir_client(loaded_fhir_server: BackgroundServer) -> AsyncIterator[FHIRClient]:
    async with FHIRClient(loaded_fhir_server.base_url, max_retries=0) as client:
        yield client


@pytest.fixture
def make_session(fhir_client: FHIRClient) -> Callable[..., AgentSession]:
    def make(
        model: ScriptedChatModel,
        patient_id: str = EVELYN,
        *,
        options: AgentOptions | None = None,
        graph: Any = None,
        thread_id: str | None = None,
    ) -> AgentSession:
        return AgentSession(
            client=fhir_client,
            model=model,
            patient_id=patient_id,
            as_of=AS_OF,
            options=options or AgentOptions(),
            graph=graph or build_graph(),
            thread_id=thread_id,
        )

    return make
