"""The agent graph with a scripted model over a real FHIR server (41 Synthea patients).

Expected values come from the raw bundles (``raw_synthea``); the model is scripted, so
these tests check the machinery: planning rounds, budgets, repairs, verification,
outages, events and usage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from agent_common import (
    DEVIN,
    EVELYN,
    answer_citing,
    handle_on_line,
    plan,
    prompt_text,
)
from fhir_ground_truth import RawSynthea

from agent.checkpoint import open_checkpointer
from agent.context import AgentOptions
from agent.graph import build_graph
from agent.llm import LLMUnavailable, ScriptedChatModel
from agent.session import AgentFailure, AgentSession, SessionPatientMismatch
from fhir_fixtures.server import BackgroundServer
from tools.fhir import FHIRClient

LOINC_A1C = "4548-4"


def latest_a1c(raw: RawSynthea, patient_id: str) -> dict[str, Any]:
    results = [
        r
        for r in raw.of(patient_id, "Observation")
        if r["code"]["coding"][0]["code"] == LOINC_A1C and r["effectiveDateTime"] < "2019-06-02"
    ]
    return max(results, key=lambda r: r["effectiveDateTime"])


async def collect(session: AgentSession, question: str, **kw: Any) -> list[dict[str, Any]]:
    return [dict(e) for e in [ev async for ev in session.stream(question, **kw)]]


async def test_two_rounds_then_a_verified_typed_answer(
    make_session: Callable[..., AgentSession], raw_synthea: RawSynthea
) -> None:
    last = latest_a1c(raw_synthea, EVELYN)
    value = round(last["valueQuantity"]["value"], 2)
    model = ScriptedChatModel.from_steps(
        plan({"tool": "observation_series", "concept": "A1c"}),
        plan(enough=True),
        answer_citing(
            rf"(?m)^\s+{last['effectiveDateTime'][:10]} ", "The last HbA1c", value=value, unit="%"
        ),
    )
    events = await collect(
        make_session(model), "What was her most recent HbA1c?", answer_type="number"
    )
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "final"
    assert kinds.index("evidence") < kinds.index("final")
    result = events[-1]["data"]["result"]
    assert result["verified"] is True
    assert result["citations"] == [f"Observation/{last['id']}"]
    assert f"[Observation/{last['id']}]" in result["answer"]
    assert result["value"] == pytest.approx(value)
    assert result["usage"]["llm_calls"] == 3
    assert result["usage"]["fhir_requests"] >= 13  # index fetch (12 types) + the series
    # the series call reached the model as evidence, with computed statistics
    second_plan_prompt = prompt_text(model.received[1])
    assert "observation_series concept=A1c" in second_plan_prompt
    assert "n=35" in second_plan_prompt
    assert result["evidence"][0]["ref"] == f"Observation/{last['id']}"


async def test_planning_stops_at_the_step_budget(
    make_session: Callable[..., AgentSession],
) -> None:
    concepts = ["A1c", "glucose", "creatinine", "sodium", "potassium"]
    plans = [plan({"tool": "observation_series", "concept": c}) for c in concepts]
    model = ScriptedChatModel.from_steps(
        *plans[:2], answer_citing(r"Patient: ", "Not enough time to look")
    )
    session = make_session(model, options=AgentOptions(max_steps=2))
    result = await session.ask("Tell me everything about her labs")
    assert model.calls == 3  # two plans, one answer: no third planning round
    assert "Result of observation_series concept=glucose" in prompt_text(model.received[2])
    assert result.verified


async def test_evidence_budget_drops_results_and_answers(
    make_session: Callable[..., AgentSession],
) -> None:
    model = ScriptedChatModel.from_steps(
        plan(
            {"tool": "observation_series", "concept": "A1c"},
            {"tool": "observation_series", "concept": "blood pressure"},
        ),
        answer_citing(r"Patient: ", "Partial answer"),
    )
    # the overview alone is ~1,300 tokens: room for one series, not two
    session = make_session(model, options=AgentOptions(max_evidence_tokens=2300))
    events = await collect(session, "How are her A1c and blood pressure?")
    budget_notes = [e for e in events if "evidence budget spent" in e.get("message", "")]
    assert len(budget_notes) == 1
    answer_prompt = prompt_text(model.received[-1])
    assert "Result of observation_series concept=A1c" in answer_prompt
    assert "concept=blood pressure" not in answer_prompt.split("</record>", 1)[1]
    assert model.calls == 2  # no further planning once the budget is spent


async def test_invalid_plan_json_is_repaired_once(
    make_session: Callable[..., AgentSession],
) -> None:
    model = ScriptedChatModel.from_steps(
        "I think we should search the conditions",  # not JSON
        plan({"tool": "search", "type": "Condition"}),
        plan(enough=True),
        answer_citing(r"Hypertension: active", "She has hypertension"),
    )
    result = await make_session(model).ask("Does she have high blood pressure?")
    repair_request = prompt_text(model.received[1])
    assert "could not be used" in repair_request
    assert result.verified
    assert result.citations[0].startswith("Condition/")


async def test_unusable_plan_twice_answers_from_the_overview(
    make_session: Callable[..., AgentSession],
) -> None:
    model = ScriptedChatModel.from_steps(
        "nope", "still nope", answer_citing(r"Patient: ", "She is a woman")
    )
    events = await collect(make_session(model), "Is she female?")
    assert any(e["data"].get("failed") for e in events if e["type"] == "step")
    assert events[-1]["type"] == "final"
    assert events[-1]["data"]["result"]["citations"] == [f"Patient/{EVELYN}"]


async def test_answer_json_invalid_twice_is_a_clear_failure(
    make_session: Callable[..., AgentSession],
) -> None:
    model = ScriptedChatModel.from_steps(plan(enough=True), "{oops", "{still oops")
    with pytest.raises(AgentFailure, match="language model failed") as failure:
        await make_session(model).ask("Anything?")
    assert failure.value.kind == "LLMOutputError"


async def test_citation_of_evidence_never_retrieved_is_repaired_or_flagged(
    make_session: Callable[..., AgentSession],
) -> None:
    def bogus_inline(messages: list[Any]) -> str:
        real = handle_on_line(messages, r"Hypertension \(active")
        # the list is valid, but the text cites O999, which the model never saw
        return json.dumps(
            {"answer": f"Hypertension [{real}] and more [O999].", "citations": [real]}
        )

    fixed = answer_citing(r"Hypertension \(active", "She has hypertension")
    model = ScriptedChatModel.from_steps(plan(enough=True), bogus_inline, fixed)
    result = await make_session(model).ask("Conditions?")
    assert "[O999]" in prompt_text(model.received[-1])  # the repair names the bad citation
    assert result.verified
    assert "O999" not in result.answer

    stubborn = ScriptedChatModel.from_steps(plan(enough=True), bogus_inline, bogus_inline)
    result = await make_session(stubborn).ask("Conditions?")
    assert result.verified is False
    assert "O999" not in result.answer  # the bad citation is dropped from the text
    assert all(c.startswith("Condition/") for c in result.citations)


async def test_uncited_answer_gets_one_repair(make_session: Callable[..., AgentSession]) -> None:
    model = ScriptedChatModel.from_steps(
        plan(enough=True),
        json.dumps({"answer": "She is fine.", "citations": []}),
        json.dumps({"answer": "She is fine.", "citations": []}),
    )
    result = await make_session(model).ask("How is she?")
    assert "cited no evidence" in prompt_text(model.received[-1])
    assert result.verified is False
    assert result.citations == []


async def test_llm_outage_is_reported_as_an_outage(
    make_session: Callable[..., AgentSession],
) -> None:
    model = ScriptedChatModel.from_steps(LLMUnavailable("connection refused", url="http://x/v1"))
    events = await collect(make_session(model), "Anything?")
    assert events[-1]["type"] == "error"
    assert "language model" in events[-1]["message"]
    assert events[-1]["data"]["failure"] == "LLMUnavailable"
    assert not any(e["type"] == "final" for e in events)


async def test_fhir_outage_is_reported_as_an_outage(tmp_path: Any) -> None:
    with BackgroundServer(tmp_path / "down.sqlite") as server:
        url = server.base_url
    async with FHIRClient(url, max_retries=0, timeout=2) as client:  # nothing listens any more
        model = ScriptedChatModel.from_steps(plan(enough=True))
        session = AgentSession(client=client, model=model, patient_id=EVELYN)
        events = await collect(session, "Anything?")
    assert events[-1]["type"] == "error"
    assert "FHIR server" in events[-1]["message"]
    assert events[-1]["data"]["failure"] == "FHIRUnavailable"
    assert model.calls == 0  # no answer was attempted without the record


async def test_follow_up_uses_the_conversation(
    make_session: Callable[..., AgentSession],
) -> None:
    model = ScriptedChatModel.from_steps(
        plan({"tool": "search", "type": "MedicationRequest", "concept": "statin"}),
        plan(enough=True),
        answer_citing(r"Simvistatin", "Simvastatin"),
        plan(enough=True),
        answer_citing(r"Simvistatin", "Since 2010"),
    )
    async with open_checkpointer(":memory:") as saver:
        session = make_session(model, DEVIN, graph=build_graph(saver))
        first = await session.ask("Is he on a statin?")
        second = await session.ask("Since when?")
    follow_up_prompt = prompt_text(model.received[3])
    assert "Earlier question: Is he on a statin?" in follow_up_prompt
    assert first.answer.split("[")[0] in follow_up_prompt
    assert "Evidence it cited:" in follow_up_prompt
    # the follow-up cites the same resource, retrieved in the first turn
    assert second.citations == first.citations
    assert second.verified


async def test_a_conversation_cannot_move_to_another_patient(
    make_session: Callable[..., AgentSession],
) -> None:
    model = ScriptedChatModel.from_steps(plan(enough=True), answer_citing(r"Patient: ", "Hi"))
    async with open_checkpointer(":memory:") as saver:
        graph = build_graph(saver)
        first = make_session(model, EVELYN, graph=graph, thread_id="t1")
        await first.ask("Hello?")
        other = make_session(ScriptedChatModel.from_steps(), DEVIN, graph=graph, thread_id="t1")
        with pytest.raises(SessionPatientMismatch):
            await other.ask("Hello?")


async def test_choice_questions_get_a_typed_choice(
    make_session: Callable[..., AgentSession],
) -> None:
    model = ScriptedChatModel.from_steps(
        plan(enough=True), answer_citing(r"Patient: ", "Female", value="female")
    )
    result = await make_session(model).ask(
        "What is her gender?", answer_type="choice", choices=["female", "male"]
    )
    assert result.value == "female"
    schema = model.call_kwargs[-1]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["value"]["anyOf"][0]["enum"] == ["female", "male"]
    # citations may only be handles the model was shown
    assert "PT1" in schema["properties"]["citations"]["items"]["enum"]
