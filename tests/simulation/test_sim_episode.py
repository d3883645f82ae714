"""One consultation with scripted models in every role (in process)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from agent.llm import LLMRequestError, LLMUnavailable, ScriptedChatModel
from evals.simulation.cases import SimulationCase, load_cases
from evals.simulation.episode import EpisodeParts, run_episode
from evals.simulation.errors import CaseFailed, RoleUnavailable

INFO = "Below is all of the information you have: "


def act(action: str, text: str) -> str:
    return json.dumps({"action": action, "text": text})


@pytest.fixture
def case(medqa_path: Path) -> SimulationCase:
    """MedQA case 1 (myasthenia gravis)."""
    return load_cases(medqa_path, limit=1)[0]


def measurement_from_case(messages: list[BaseMessage]) -> str:
    """A measurement reader that reads its answer out of the facts it was given."""
    system = messages[0].text
    facts = json.loads(system.split(INFO, 1)[1].split("\n", 1)[0])
    value = facts["Test_Results"]["Blood_Tests"]["Acetylcholine_Receptor_Antibodies"]
    return f"RESULTS: Acetylcholine receptor antibodies: {value}"


def parts(
    doctor: ScriptedChatModel,
    *,
    patient: ScriptedChatModel | None = None,
    measurement: ScriptedChatModel | None = None,
    moderator: ScriptedChatModel | None = None,
    **options: Any,
) -> EpisodeParts:
    return EpisodeParts(
        doctor=doctor,
        patient=patient or ScriptedChatModel.from_steps(),
        measurement=measurement or ScriptedChatModel.from_steps(),
        moderator=moderator or ScriptedChatModel.from_steps(),
        **options,
    )


async def test_the_doctor_asks_requests_a_test_and_diagnoses_correctly(
    case: SimulationCase, medqa_raw: list[dict[str, Any]]
) -> None:
    raw = medqa_raw[0]["OSCE_Examination"]
    doctor = ScriptedChatModel.from_steps(
        act("ask_patient", "What brings you in today?"),
        act("request_test", "Acetylcholine receptor antibodies"),
        act("diagnose", "Myasthenia gravis"),
    )
    patient = ScriptedChatModel.from_steps("I keep seeing   double,\nand my arms feel weak.")
    measurement = ScriptedChatModel.from_steps(measurement_from_case)
    moderator = ScriptedChatModel.from_steps("Yes.")

    result, turns = await run_episode(
        case, parts(doctor, patient=patient, measurement=measurement, moderator=moderator)
    )

    assert [(t.role, t.action) for t in turns] == [
        ("doctor", "ask_patient"),
        ("patient", "reply"),
        ("doctor", "request_test"),
        ("measurement", "results"),
        ("doctor", "diagnose"),
        ("moderator", "judge"),
    ]
    assert [t.seq for t in turns] == [1, 2, 3, 4, 5, 6]
    assert [t.turn for t in turns] == [1, 1, 2, 2, 3, 3]
    assert turns[1].text == "I keep seeing double, and my arms feel weak."
    expected_value = raw["Test_Results"]["Blood_Tests"]["Acetylcholine_Receptor_Antibodies"]
    assert turns[3].text == f"RESULTS: Acetylcholine receptor antibodies: {expected_value}"
    # The patient plays the case's Patient_Actor and never sees the diagnosis.
    patient_system = patient.received[0][0].text
    assert raw["Patient_Actor"]["History"] in patient_system
    assert raw["Correct_Diagnosis"] not in patient_system
    # The doctor is told only the objective, then sees each reply.
    first_prompt = "\n".join(m.text for m in doctor.received[0])
    assert raw["Objective_for_Doctor"] in first_prompt
    assert raw["Correct_Diagnosis"] not in first_prompt
    assert "Patient: I keep seeing double, and my arms feel weak." in doctor.received[1][1].text
    assert expected_value in doctor.received[2][1].text
    # Structured output: the schema offers no EHR action for a case without a patient.
    schema = doctor.call_kwargs[0]["response_format"]["json_schema"]
    assert schema["name"] == "doctor_action"
    assert schema["schema"]["properties"]["action"]["enum"] == [
        "ask_patient",
        "request_test",
        "diagnose",
    ]
    # The moderator compares the two diagnoses.
    assert "Here is the correct diagnosis: Myasthenia gravis" in moderator.received[0][1].text
    assert result.diagnosis == "Myasthenia gravis"
    assert (result.outcome, result.turns, result.correct) == ("diagnosed", 3, True)
    assert result.actions == {"ask_patient": 1, "diagnose": 1, "request_test": 1}
    assert (result.judge.correct, result.judge.reply, result.verdict_source) == (
        True,
        "Yes.",
        "judge",
    )
    assert (result.fallback.correct, result.fallback.method) == (True, "exact")
    assert result.usage.llm_calls == 6
    assert result.usage.prompt_tokens == sum(t.prompt_tokens for t in turns) > 0
    assert all(t.started_at <= t.ended_at for t in turns)
    assert all(a.ended_at <= b.started_at for a, b in itertools.pairwise(turns))


async def test_a_wrong_diagnosis_is_incorrect_under_both_verdicts(case: SimulationCase) -> None:
    doctor = ScriptedChatModel.from_steps(act("diagnose", "Lambert-Eaton syndrome"))
    moderator = ScriptedChatModel.from_steps("No")
    result, turns = await run_episode(case, parts(doctor, moderator=moderator))
    assert (result.correct, result.judge.correct, result.fallback.correct) == (False, False, False)
    assert result.fallback.method == "none"
    assert [t.role for t in turns] == ["doctor", "moderator"]


async def test_the_turn_limit_ends_an_undiagnosed_case(case: SimulationCase) -> None:
    doctor = ScriptedChatModel.from_steps(*(act("ask_patient", f"Question {i}?") for i in range(3)))
    patient = ScriptedChatModel.from_steps("Yes.", "No.", "Maybe.")
    # The moderator's script is empty: calling it would fail the test.
    result, turns = await run_episode(case, parts(doctor, patient=patient, max_turns=3))
    assert (result.outcome, result.turns, result.diagnosis, result.correct) == (
        "turn_limit",
        3,
        None,
        False,
    )
    assert (result.judge.correct, result.fallback.method) == (False, "no_diagnosis")
    assert [t.role for t in turns] == ["doctor", "patient"] * 3
    assert "This is action 3 of 3. This is your final action" in doctor.received[2][1].text
    assert "This is your final action" not in doctor.received[1][1].text


@pytest.mark.parametrize(
    ("moderator_step", "error"),
    [
        (LLMUnavailable("connection refused", url="http://127.0.0.1:9/v1"), "LLMUnavailable"),
        ("I think they might be related.", "neither Yes nor No"),
    ],
)
async def test_without_a_judge_verdict_the_fallback_decides_and_both_are_recorded(
    case: SimulationCase, moderator_step: Any, error: str
) -> None:
    doctor = ScriptedChatModel.from_steps(act("diagnose", "Ocular myasthenia gravis"))
    moderator = ScriptedChatModel.from_steps(moderator_step)
    result, _ = await run_episode(case, parts(doctor, moderator=moderator))
    assert result.judge.correct is None
    assert result.judge.error is not None
    assert error in result.judge.error
    assert (result.fallback.correct, result.fallback.method) == (True, "containment")
    assert (result.correct, result.verdict_source) == (True, "fallback")


async def test_a_doctor_without_a_valid_action_ends_the_case(case: SimulationCase) -> None:
    doctor = ScriptedChatModel.from_steps("I would like to examine", '{"action": "operate"}')
    result, turns = await run_episode(case, parts(doctor))
    assert (result.outcome, result.correct, result.diagnosis) == ("invalid_output", False, None)
    assert [(t.role, t.action) for t in turns] == [("doctor", "invalid")]
    assert turns[0].text == '{"action": "operate"}'
    assert turns[0].note is not None
    assert "doctor_action" in turns[0].note


async def test_a_role_outage_stops_the_run_and_a_refused_request_fails_the_case(
    case: SimulationCase,
) -> None:
    def doctor() -> ScriptedChatModel:
        return ScriptedChatModel.from_steps(act("ask_patient", "Hello?"))

    down = ScriptedChatModel.from_steps(LLMUnavailable("HTTP 503", status=503))
    with pytest.raises(RoleUnavailable) as outage:
        await run_episode(case, parts(doctor(), patient=down))
    assert (outage.value.role, outage.value.kind) == ("patient", "LLMUnavailable")

    refused = ScriptedChatModel.from_steps(
        LLMRequestError("context too long", status=400, server_message="too long")
    )
    with pytest.raises(CaseFailed) as failed:
        await run_episode(case, parts(doctor(), patient=refused))
    assert (failed.value.case_id, failed.value.role) == (case.id, "patient")
    assert failed.value.kind == "LLMRequestError"
