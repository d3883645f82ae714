"""Runs of several cases: failures, outages and the output folder's guarantees."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from agent.config import ConfigError
from agent.llm import LLMRequestError, LLMUnavailable, ScriptedChatModel
from evals.simulation.cases import SimulationCase, load_cases
from evals.simulation.episode import EpisodeParts
from evals.simulation.errors import RoleUnavailable, RunDirectoryError
from evals.simulation.runner import run_simulation
from evals.simulation.settings import SimulationSettings
from evals.simulation.store import RunStore

IDENTITY: dict[str, Any] = {"models": {"doctor": "scripted"}, "max_turns": 20}


def act(action: str, text: str) -> str:
    return json.dumps({"action": action, "text": text})


@pytest.fixture
def cases(tmp_path: Path, medqa_raw: list[dict[str, Any]]) -> list[SimulationCase]:
    path = tmp_path / "three.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in medqa_raw[:3]), encoding="utf-8")
    return load_cases(path)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


async def test_a_refused_case_is_skipped_and_an_outage_stops_the_run(
    cases: list[SimulationCase], tmp_path: Path
) -> None:
    store = RunStore(tmp_path / "run")
    store.prepare(IDENTITY, {})
    parts = EpisodeParts(
        doctor=ScriptedChatModel.from_steps(
            act("diagnose", "Myasthenia gravis"),
            act("ask_patient", "Where does it hurt?"),
            act("ask_patient", "Any fever?"),
        ),
        patient=ScriptedChatModel.from_steps(
            LLMRequestError("prompt too long", status=400, server_message="too long"),
            LLMUnavailable("connection refused"),
        ),
        measurement=ScriptedChatModel.from_steps(),
        moderator=ScriptedChatModel.from_steps("Yes"),
    )
    with pytest.raises(RoleUnavailable) as outage:
        await run_simulation(cases, parts, store, identity=IDENTITY, concurrency=1)
    assert outage.value.role == "patient"
    # Case 1 finished, case 2 was refused (not recorded), case 3 hit the outage.
    assert _files(store.root) == {
        "run.json",
        "results.jsonl",
        "summary.json",
        "summary.md",
        f"results/{cases[0].id}.json",
        f"transcripts/{cases[0].id}.jsonl",
    }
    summary = json.loads((store.root / "summary.json").read_text())
    assert (summary["cases"], summary["finished"], summary["unfinished"]) == (3, 1, 2)
    assert summary["failed_this_run"] == [cases[1].id]


async def test_finished_cases_are_not_simulated_again(
    cases: list[SimulationCase], tmp_path: Path
) -> None:
    store = RunStore(tmp_path / "run")
    store.prepare(IDENTITY, {})
    doctor = ScriptedChatModel.from_steps(*[act("diagnose", "Myasthenia gravis")] * 3)
    parts = EpisodeParts(
        doctor=doctor,
        patient=ScriptedChatModel.from_steps(),
        measurement=ScriptedChatModel.from_steps(),
        moderator=ScriptedChatModel.from_steps("Yes", "No", "No"),
    )
    first = await run_simulation(cases[:2], parts, store, identity=IDENTITY)
    assert (first.simulated, first.skipped) == ([c.id for c in cases[:2]], [])
    # Fresh models with empty scripts: any call would fail the test.
    idle = EpisodeParts(
        doctor=ScriptedChatModel.from_steps(act("diagnose", "Hirschsprung disease")),
        patient=ScriptedChatModel.from_steps(),
        measurement=ScriptedChatModel.from_steps(),
        moderator=ScriptedChatModel.from_steps("Yes"),
    )
    second = await run_simulation(cases, idle, store, identity=IDENTITY)
    assert second.skipped == [c.id for c in cases[:2]]
    assert second.simulated == [cases[2].id]
    assert [r.case_id for r in second.results] == [c.id for c in cases]
    assert [r.correct for r in second.results] == [True, False, True]


async def test_a_changed_case_or_a_foreign_folder_is_refused(
    cases: list[SimulationCase], tmp_path: Path
) -> None:
    store = RunStore(tmp_path / "run")
    store.prepare(IDENTITY, {})
    parts = EpisodeParts(
        doctor=ScriptedChatModel.from_steps(act("diagnose", "Myasthenia gravis")),
        patient=ScriptedChatModel.from_steps(),
        measurement=ScriptedChatModel.from_steps(),
        moderator=ScriptedChatModel.from_steps("Yes"),
    )
    await run_simulation(cases[:1], parts, store, identity=IDENTITY)
    edited = dataclasses.replace(cases[0], sha256="f" * 64)
    with pytest.raises(RunDirectoryError, match="changed since it was simulated"):
        await run_simulation([edited], parts, store, identity=IDENTITY)
    with pytest.raises(RunDirectoryError, match="max_turns differ"):
        store.prepare({**IDENTITY, "max_turns": 5}, {})
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(RunDirectoryError, match="not empty"):
        RunStore(foreign).prepare(IDENTITY, {})


def test_simulation_settings_follow_the_env_convention() -> None:
    environ = {
        "EHR_AGENT_SIM_PATIENT_URL": "http://gpu:8000/v1/",
        "EHR_AGENT_SIM_MAX_TURNS": "12",
        "EHR_AGENT_SIM_MODERATOR_API_KEY": "k",
    }
    settings = SimulationSettings.load({"sim_max_turns": 7, "sim_ehr_queries": None}, environ)
    assert settings.endpoint("patient").url == "http://gpu:8000/v1"
    assert settings.endpoint("measurement").url is None
    assert settings.sim_max_turns == 7  # the flag wins over the environment
    assert settings.sim_ehr_queries == 5  # an unset flag hides nothing
    key = settings.endpoint("moderator").api_key
    assert key is not None
    assert key.get_secret_value() == "k"
    with pytest.raises(ConfigError) as caught:
        SimulationSettings.load({}, {"EHR_AGENT_SIM_MEASUREMENT_URL": "gpu:8000"})
    assert "--measurement-url or EHR_AGENT_SIM_MEASUREMENT_URL" in str(caught.value)
    with pytest.raises(ConfigError, match="sim_max_turns"):
        SimulationSettings.load({"sim_max_turns": 0}, {})
