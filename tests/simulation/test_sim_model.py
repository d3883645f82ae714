"""The machinery end to end with the real embedded SmolLM2 in every role (not its quality)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from evals.simulation.records import CaseResult, Turn

pytestmark = pytest.mark.model


def test_smollm2_plays_every_role(
    tmp_path: Path,
    medqa_raw: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Short replies keep this a machinery check (SmolLM2 rambles to any cap).
    monkeypatch.setenv("EHR_AGENT_SIM_ROLE_MAX_TOKENS", "24")
    monkeypatch.setenv("EHR_AGENT_SIM_DOCTOR_MAX_TOKENS", "64")
    cases = tmp_path / "one.jsonl"
    cases.write_text(json.dumps(medqa_raw[0]) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    code = main(
        [
            "simulate",
            "--cases",
            str(cases),
            "--out",
            str(out),
            "--local-model",
            "smollm2-135m",
            "--max-turns",
            "1",
            "--json",
        ]
    )
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["simulated"] == 1
    [line] = (out / "results.jsonl").read_text().splitlines()
    result = CaseResult.model_validate_json(line)
    assert result.outcome in {"diagnosed", "turn_limit", "invalid_output"}
    assert result.turns == 1
    turns = [
        Turn.model_validate_json(t)
        for t in (out / "transcripts" / f"{result.case_id}.jsonl").read_text().splitlines()
    ]
    assert turns[0].role == "doctor"
    assert turns[0].model == "smollm2-135m"
    assert result.usage.llm_calls >= 1
    if result.outcome != "invalid_output":
        assert turns[0].prompt_tokens > 0
    # The deterministic verdict is always there; the judge's when there was a diagnosis.
    assert result.fallback.method in {
        "exact",
        "synonym",
        "containment",
        "token_overlap",
        "none",
        "no_diagnosis",
    }
    manifest = json.loads((out / "run.json").read_text())
    # One embedded server serves every role.
    assert set(manifest["invocations"][0]["endpoints"].values()) == {"embedded"}
    identity = manifest["identity"]
    assert set(identity["models"].values()) == {"smollm2-135m"}
    assert document["summary"]["finished"] == 1
