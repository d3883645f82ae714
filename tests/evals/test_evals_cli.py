"""``ehr-agent eval build`` end to end through the real command line."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from agent.cli import main
from evals.dataset import QAItem, read_items


@pytest.fixture
def small_cohort(patient_bundle_paths: list[Path], tmp_path: Path) -> Path:
    folder = tmp_path / "bundles"
    folder.mkdir()
    for path in patient_bundle_paths[:3]:
        shutil.copy(path, folder / path.name)
    # Same patient data uncompressed, under another name, in a nested folder: read as JSON.
    nested = folder / "nested"
    nested.mkdir()
    (nested / "fourth.json").write_bytes(gzip.decompress(patient_bundle_paths[3].read_bytes()))
    (folder / "broken.json.gz").write_bytes(b"\x1f\x8b garbage")
    return folder


def test_build_json_summary(
    small_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "qa.jsonl"
    code = main(["eval", "build", "--bundles", str(small_cohort), "--out", str(out),
                 "--seed", "4", "--json"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    items = read_items(out)
    assert summary["items"] == len(items) > 0
    assert summary["patients"] == 4
    assert summary["files"] == 5
    assert summary["problems"] == [
        {"file": str(small_cohort / "broken.json.gz"), "error": summary["problems"][0]["error"]}
    ]
    assert sum(summary["by_category"].values()) == len(items)
    assert sum(summary["by_answer_type"].values()) == len(items)
    assert {i.category for i in items} == set(summary["by_category"])


def test_build_as_of_and_human_summary(
    small_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "qa.jsonl"
    code = main(["eval", "build", "--bundles", str(small_cohort), "--out", str(out),
                 "--as-of", "2015-06-30", "--per-template", "1"])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "items from 4 patients" in captured.out
    assert "broken.json.gz" in captured.err
    items = read_items(out)
    assert {str(i.as_of) for i in items} == {"2015-06-30"}
    assert all(n <= 1 for n in _per_template(items).values())


def _per_template(items: list[QAItem]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for item in items:
        key = (item.patient_id, item.template_id)
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_build_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert main(["eval", "build", "--bundles", str(missing), "--out", str(tmp_path / "x")]) == 1
    assert str(missing) in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "bad.json").write_text("[]")
    assert main(["eval", "build", "--bundles", str(empty), "--out", str(tmp_path / "x")]) == 1
    assert "no patient found" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):
        main(["eval", "build", "--bundles", str(empty), "--out", "x", "--as-of", "03/03/2019"])
