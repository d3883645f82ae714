"""The whole agent with a real model: embedded SmolLM2 over loopback HTTP + the FHIR server.

The 135M model may well answer wrongly; this checks the machinery end to end: its
structured outputs (plan, answer) parse through the JSON-schema grammar, tools run against
the FHIR server, an answer comes back, and every citation names a resource of this patient
in the raw bundles (``raw_synthea``), never an invented one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir_ground_truth import RawSynthea
from langgraph.checkpoint.memory import InMemorySaver

from agent.config import Settings
from agent.context import AgentOptions
from agent.graph import build_graph
from agent.llm.chat_model import OpenAICompatibleChat
from agent.llm.local_server import LocalModelServer
from agent.session import AgentSession
from fhir_fixtures.server import BackgroundServer
from tools.fhir import FHIRClient

pytestmark = [pytest.mark.model, pytest.mark.slow]

PATIENT = "d78af07c-9cb9-4f31-9b11-c45a28f2eec8"  # the smallest record: a short prompt
AS_OF = date(2019, 6, 1)


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalModelServer]:
    settings = Settings(
        local_model="smollm2-135m",
        local_threads=1,
        local_ctx=4096,
        local_parallel=1,
        data_dir=tmp_path_factory.mktemp("model-data"),
    )
    with LocalModelServer(settings) as server:
        yield server


async def test_one_question_end_to_end_with_the_embedded_model(
    smollm2: LocalModelServer,
    loaded_fhir_server: BackgroundServer,
    raw_synthea: RawSynthea,
    tmp_path: Path,
) -> None:
    assert smollm2.base_url.startswith("http://127.0.0.1:")
    chat = OpenAICompatibleChat(
        base_url=smollm2.base_url, model=smollm2.model_name, max_tokens=400, max_retries=0
    )
    async with FHIRClient(loaded_fhir_server.base_url, max_retries=0) as client:
        session = AgentSession(
            client=client,
            model=chat,
            patient_id=PATIENT,
            as_of=AS_OF,
            options=AgentOptions(max_steps=1, max_calls_per_step=2),
            # with a checkpointer, as the front ends run it
            graph=build_graph(InMemorySaver()),
        )
        events: list[dict[str, Any]] = [
            dict(e) async for e in session.stream("What conditions does the patient have?")
        ]

    kinds = [e["type"] for e in events]
    assert kinds[-1] == "final", events[-1]
    assert "error" not in kinds
    failed_steps = [e for e in events if e["type"] == "step" and e["data"].get("failed")]
    assert failed_steps == [], failed_steps  # the plan parsed (grammar-constrained JSON)
    result = events[-1]["data"]["result"]
    assert isinstance(result["answer"], str)
    assert result["answer"].strip()
    usage = result["usage"]
    assert usage["llm_calls"] >= 2  # a plan and an answer
    assert usage["completion_tokens"] > 0
    assert usage["fhir_requests"] > 0  # the overview tool at least
    assert session.evidence.retrieved  # the tools showed evidence
    mine = {f"{r['resourceType']}/{r['id']}" for r in raw_synthea.by_patient[PATIENT]}
    for ref in result["citations"]:
        assert ref in mine, ref
        assert ref in session.evidence.retrieved, ref
    if result["verified"]:
        assert result["citations"] or not AgentOptions().require_citations
