"""``ehr-agent simulate`` end to end: every role on its own scripted HTTP endpoint."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.llm.scripted_server import ScriptedOpenAIServer
from evals.simulation.records import CaseResult, Turn

ROLE_MARKERS = {
    "patient": "You are a patient in a clinic",
    "measurement": "You are a measurement reader",
    "moderator": "You are responsible for determining",
}


def act(action: str, text: str, objective: str) -> dict[str, Any]:
    """A doctor step answering only the case whose objective the request carries."""
    return {
        "content": json.dumps({"action": action, "text": text}),
        "match": {"schema": "doctor_action", "contains": objective},
    }


@pytest.fixture
def two_cases(tmp_path: Path, medqa_raw: list[dict[str, Any]]) -> Path:
    """The first two MedQA cases (myasthenia gravis, then PML) in a case file."""
    path = tmp_path / "two.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in medqa_raw[:2]), encoding="utf-8")
    return path


class Servers:
    """One scripted endpoint per role."""

    def __init__(self, stack: ExitStack, scripts: dict[str, list[Any]]) -> None:
        self.by_role = {
            role: stack.enter_context(ScriptedOpenAIServer(steps, model=f"{role}-model"))
            for role, steps in scripts.items()
        }

    def flags(self) -> list[str]:
        flags = ["--llm-url", self.by_role["doctor"].base_url]
        for role in ("patient", "measurement", "moderator"):
            flags += [f"--{role}-url", self.by_role[role].base_url]
        return flags

    def chat_requests(self, role: str) -> list[dict[str, Any]]:
        return [r for r in self.by_role[role].requests if "messages" in r]


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def _scripts(medqa_raw: list[dict[str, Any]]) -> dict[str, list[Any]]:
    first = medqa_raw[0]["OSCE_Examination"]
    second = medqa_raw[1]["OSCE_Examination"]
    objective_1 = first["Objective_for_Doctor"]
    objective_2 = second["Objective_for_Doctor"]
    return {
        "doctor": [
            act("ask_patient", "What brings you in?", objective_1),
            act("request_test", "Acetylcholine receptor antibodies", objective_1),
            act("diagnose", "Myasthenia gravis", objective_1),
            act("diagnose", "Multiple sclerosis", objective_2),
        ],
        "patient": ["I see double and my arms are weak."],
        "measurement": ["RESULTS: Acetylcholine receptor antibodies present."],
        "moderator": [
            {"content": "Yes", "match": {"contains": "correct diagnosis: Myasthenia gravis"}},
            {"content": "No", "match": {"contains": second["Correct_Diagnosis"]}},
        ],
    }


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["simulate", *argv, "--json"])
    captured = capsys.readouterr()
    document = json.loads(captured.out) if captured.out.strip() else {}
    return code, document, " ".join(captured.err.split())  # rich wraps long lines


def test_runs_each_role_on_its_endpoint_writes_results_and_resumes(
    two_cases: Path,
    tmp_path: Path,
    medqa_raw: list[dict[str, Any]],
    stack: ExitStack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    servers = Servers(stack, _scripts(medqa_raw))
    out = tmp_path / "run"
    base = [
        "--cases",
        str(two_cases),
        "--out",
        str(out),
        *servers.flags(),
        "--moderator-api-key",
        "sekrit-key",
    ]

    code, first, _ = _run(capsys, *base, "--limit", "1")
    assert code == 0
    assert (first["simulated"], first["skipped"]) == (1, 0)
    code, second, _ = _run(capsys, *base)
    assert code == 0
    assert (second["simulated"], second["skipped"]) == (1, 1)

    summary = second["summary"]
    assert summary["accuracy"]["moderator"]["correct"] == 1
    assert summary["accuracy"]["moderator"]["n"] == 2
    assert summary["accuracy"]["fallback"]["correct"] == 1
    assert summary["agreement"] == {
        "cases": 2,
        "agree": 2,
        "rate": 1.0,
        "cohen_kappa": 1.0,
        "judge_gave_no_verdict": 0,
    }
    assert summary["settings"]["models"] == {
        "doctor": "doctor-model",
        "patient": "patient-model",
        "measurement": "measurement-model",
        "moderator": "moderator-model",
    }
    assert json.loads((out / "summary.json").read_text()) == summary
    assert "MedGemma 27B 56.2%" in (out / "summary.md").read_text()

    # Every simulated role got only its own requests, on its own endpoint.
    for role, marker in ROLE_MARKERS.items():
        requests = servers.chat_requests(role)
        assert requests, role
        assert all(r["messages"][0]["content"].startswith(marker) for r in requests)
        assert all(r["model"] == f"{role}-model" for r in requests)
    doctor_requests = servers.chat_requests("doctor")
    assert len(doctor_requests) == 4
    assert all(
        r["response_format"]["json_schema"]["name"] == "doctor_action" for r in doctor_requests
    )

    results = [
        CaseResult.model_validate_json(line)
        for line in (out / "results.jsonl").read_text().splitlines()
    ]
    assert [r.case_id for r in results] == ["two-0001", "two-0002"]
    assert [r.correct for r in results] == [True, False]
    transcript = [
        Turn.model_validate_json(line)
        for line in (out / "transcripts" / "two-0001.jsonl").read_text().splitlines()
    ]
    assert [t.role for t in transcript] == [
        "doctor",
        "patient",
        "doctor",
        "measurement",
        "doctor",
        "moderator",
    ]
    assert [t.model for t in transcript] == [
        "doctor-model",
        "patient-model",
        "doctor-model",
        "measurement-model",
        "doctor-model",
        "moderator-model",
    ]
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["identity"]["max_turns"] == 20
    assert [i["arguments"].get("limit") for i in manifest["invocations"]] == ["1", None]
    assert manifest["invocations"][0]["arguments"]["sim_moderator_api_key"] == "***"
    assert "sekrit-key" not in (out / "run.json").read_text()

    # A third run finds everything finished and asks no model anything.
    before = {role: len(s.requests) for role, s in servers.by_role.items()}
    code, third, _ = _run(capsys, *base)
    assert (code, third["simulated"], third["skipped"]) == (0, 0, 2)
    chat_after = {role: len(servers.chat_requests(role)) for role in servers.by_role}
    assert chat_after == {
        role: len([r for r in s.requests[: before[role]] if "messages" in r])
        for role, s in servers.by_role.items()
    }

    # Resuming with other settings is refused rather than mixing two runs.
    code, _, err = _run(capsys, *base, "--max-turns", "5")
    assert code == 2
    assert "max_turns" in err


def test_a_judge_that_is_down_leaves_the_fallback_verdict(
    two_cases: Path,
    tmp_path: Path,
    medqa_raw: list[dict[str, Any]],
    stack: ExitStack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scripts = _scripts(medqa_raw)
    scripts["moderator"] = [{"status": 503, "error": "overloaded"}] * 2
    servers = Servers(stack, scripts)
    out = tmp_path / "run"
    code, document, _ = _run(capsys, "--cases", str(two_cases), "--out", str(out), *servers.flags())
    assert code == 0
    results = {
        r["case_id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())
    }
    first = results["two-0001"]
    assert first["judge"]["correct"] is None
    assert first["judge"]["error"].startswith("LLMUnavailable")
    assert (first["fallback"]["correct"], first["fallback"]["method"]) == (True, "exact")
    assert (first["correct"], first["verdict_source"]) == (True, "fallback")
    assert results["two-0002"]["correct"] is False
    accuracy = document["summary"]["accuracy"]
    assert accuracy["judge"]["n"] == 0
    assert accuracy["moderator"]["correct"] == accuracy["fallback"]["correct"] == 1
    assert document["summary"]["agreement"]["judge_gave_no_verdict"] == 2
    transcript = (out / "transcripts" / "two-0001.jsonl").read_text()
    assert '"role":"moderator"' not in transcript


def test_concurrent_cases_overlap_in_time(
    two_cases: Path,
    tmp_path: Path,
    medqa_raw: list[dict[str, Any]],
    stack: ExitStack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def patient_turns(concurrency: int) -> list[Turn]:
        objectives = [c["OSCE_Examination"]["Objective_for_Doctor"] for c in medqa_raw[:2]]
        histories = [c["OSCE_Examination"]["Patient_Actor"]["History"] for c in medqa_raw[:2]]
        scripts: dict[str, list[Any]] = {
            "doctor": [act("ask_patient", "What happened?", o) for o in objectives]
            + [act("diagnose", "Myasthenia gravis", o) for o in objectives],
            "patient": [
                {"content": "It started last month.", "delay": 0.4, "match": {"contains": h}}
                for h in histories
            ],
            "measurement": [],
            "moderator": ["Yes", "No"],
        }
        servers = Servers(stack, scripts)
        out = tmp_path / f"run-{concurrency}"
        code, _, _ = _run(
            capsys,
            "--cases",
            str(two_cases),
            "--out",
            str(out),
            "--concurrency",
            str(concurrency),
            *servers.flags(),
        )
        assert code == 0
        return [
            Turn.model_validate_json(line)
            for path in sorted((out / "transcripts").glob("*.jsonl"))
            for line in path.read_text().splitlines()
            if '"role":"patient"' in line
        ]

    a, b = patient_turns(2)
    assert a.started_at < b.ended_at and b.started_at < a.ended_at  # noqa: PT018
    a, b = patient_turns(1)
    assert a.ended_at <= b.started_at or b.ended_at <= a.started_at


def test_an_invalid_case_file_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"OSCE_Examination": {}}\n', encoding="utf-8")
    code = main(["simulate", "--cases", str(path), "--out", str(tmp_path / "out")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1
    assert re.search(r"line 1: OSCE_Examination\.Objective_for_Doctor: Field required", err)
    assert not (tmp_path / "out").exists()


def test_an_unreachable_role_endpoint_is_reported_before_any_case(
    two_cases: Path, tmp_path: Path, stack: ExitStack, capsys: pytest.CaptureFixture[str]
) -> None:
    doctor = stack.enter_context(ScriptedOpenAIServer([]))
    code = main(
        [
            "simulate",
            "--cases",
            str(two_cases),
            "--out",
            str(tmp_path / "out"),
            "--llm-url",
            doctor.base_url,
            "--patient-url",
            "http://127.0.0.1:9/v1",
        ]
    )
    err = " ".join(capsys.readouterr().err.split())
    assert code == 4
    assert "the patient endpoint failed" in err
    assert not (tmp_path / "out").exists()
