"""``ehr-agent eval report`` over run folders written the way the runner writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from evals.report import load_run, render_markdown


def _record(
    item_id: str, category: str, correct: bool | None, *, tokens: int, cited: list[str]
) -> dict[str, Any]:
    error = "FHIR server unreachable" if correct is None else None
    return {
        "id": item_id,
        "strategy": "agent",
        "patient_id": "p1",
        "category": category,
        "template_id": "t",
        "answer_type": "yes_no",
        "question": "q?",
        "gold": "yes",
        "answer": "yes" if correct else "no",
        "value": None,
        "unit": None,
        "citations": cited,
        "verified": correct is True,
        "shown": cited,
        "evidence_ids": ["Condition/a"],
        "usage": {
            "prompt_tokens": tokens,
            "completion_tokens": 10,
            "llm_calls": 2,
            "fhir_requests": 3,
            "seconds": 1.5,
        },
        "context_tokens": None,
        "error": error,
        "failure": None,
        "score": None
        if correct is None
        else {"correct": correct, "value": float(correct), "detail": ""},
        "retrieval": None,
    }


def _write_run(folder: Path, strategy: str, records: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    info = {"strategy": strategy, "model": "m", "endpoint": "embedded", "dataset_sha256": "ab" * 32}
    (folder / "run.json").write_text(json.dumps(info))
    lines = [json.dumps(r) for r in records]
    # a torn last line, as a crash mid-write leaves it, is ignored
    (folder / "results.jsonl").write_text("\n".join(lines) + '\n{"id": "torn"')
    return folder


@pytest.fixture
def two_runs(tmp_path: Path) -> list[Path]:
    agent = _write_run(
        tmp_path / "a",
        "agent",
        [
            _record("1", "conditions", True, tokens=4000, cited=["Condition/a"]),
            _record("2", "conditions", True, tokens=4000, cited=["Condition/a", "Condition/b"]),
            _record("3", "conditions", False, tokens=4000, cited=[]),
            _record("4", "medications", True, tokens=2000, cited=["Condition/a"]),
            _record("5", "medications", None, tokens=0, cited=[]),
        ],
    )
    guess = _write_run(
        tmp_path / "b",
        "no-record",
        [
            _record("1", "conditions", False, tokens=500, cited=[]),
            _record("2", "conditions", False, tokens=500, cited=[]),
            _record("3", "conditions", True, tokens=500, cited=[]),
            _record("4", "medications", False, tokens=500, cited=[]),
        ],
    )
    return [agent, guess]


def test_markdown_compares_runs_per_category(two_runs: list[Path]) -> None:
    runs = [load_run(folder) for folder in two_runs]
    assert [r.items for r in runs] == [5, 4]
    text = render_markdown(runs)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("|")}
    # agent: conditions 2/3, medications 1/1 (the error is not a wrong answer)
    assert "66.7" in rows["conditions"].split("|")[2]
    assert "n=3" in rows["conditions"].split("|")[2]
    assert rows["medications"].split("|")[2].strip().startswith("100.0")
    # no-record: conditions 1/3, medications 0/1
    assert rows["conditions"].split("|")[3].strip().startswith("33.3")
    assert rows["medications"].split("|")[3].strip().startswith("0.0")
    # macro = mean of category accuracies: (2/3 + 1) / 2 = 83.3 and (1/3 + 0) / 2 = 16.7
    macro = rows["**macro average**"].split("|")
    assert macro[2].strip().startswith("**83.3**")
    assert macro[3].strip().startswith("**16.7**")
    assert rows["errors (infrastructure)"].split("|")[2].strip() == "1"
    # mean prompt tokens over answered items: (4000 * 3 + 2000) / 4
    assert rows["prompt tokens"].split("|")[2].strip() == "3,500"
    # agent minus no-record on items 1-4 (item 5 failed): deltas +1 +1 -1 | +1
    assert "## agent / m against each other run (paired, same items)" in text
    assert rows["items both answered"].split("|")[2].strip() == "4"
    assert rows["accuracy difference (points)"].split("|")[2].strip().startswith("+50.0 (")
    # macro: conditions 1/3, medications 1 -> 2/3
    assert rows["macro accuracy difference (points)"].split("|")[2].strip().startswith("+66.7 (")
    # prompt tokens on the same items: 14000 / 2000
    assert rows["prompt tokens, ratio"].split("|")[2].strip() == "7.00"


def test_report_command_writes_markdown_and_charts(two_runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    code = main(["eval", "report", *map(str, two_runs), "--out", str(out)])
    assert code == 0
    text = (out / "report.md").read_text()
    assert "agent / m" in text
    assert "no-record / m" in text
    for name in ("accuracy_by_category.png", "tokens_vs_accuracy.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert name in text


def test_report_refuses_a_folder_that_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    code = main(["eval", "report", str(tmp_path / "empty"), "--out", str(tmp_path / "r")])
    assert code != 0
    assert "is not a run folder" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "r" / "report.md").exists()


def test_runs_with_different_items_are_also_compared_on_the_common_ones(
    two_runs: list[Path],
) -> None:
    runs = [load_run(folder) for folder in two_runs]
    text = render_markdown(runs)
    assert "## Paired: the 4 items every run finished" in text
    paired = text.split("## Paired")[1]
    rows = {
        line.split("|")[1].strip(): line for line in paired.splitlines() if line.startswith("|")
    }
    # agent on items 1-4: 3 of 4 right (item 5, an error, is not common); no-record: 1 of 4
    assert rows["overall (micro)"].split("|")[2].strip().startswith("75.0")
    assert rows["overall (micro)"].split("|")[3].strip().startswith("25.0")
