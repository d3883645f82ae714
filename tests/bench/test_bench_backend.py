"""``ehr-agent bench backend``, briefly: real processes over HTTP, every question answered.

With the record index cache off, every question builds the index (a search per clinical
type), so it costs many more FHIR requests than with the cache on, where only the
first question about each patient does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main


def _bench(out: Path, data: Path, *extra: str) -> dict:
    argv = [
        "bench",
        "backend",
        "--clients",
        "4",
        "--seconds",
        "2",
        "--warmup",
        "1",
        "--patients",
        "2",
    ]
    assert main([*argv, "--data-dir", str(data), "--out", str(out), *extra]) == 0
    assert "questions/s" in (out / "backend.md").read_text()
    return json.loads((out / "backend.json").read_text())


def test_bench_backend_answers_and_the_index_cache_saves_fhir_requests(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    cached = _bench(tmp_path / "cached", data)
    uncached = _bench(tmp_path / "uncached", data, "--index-cache-ttl", "0")
    for doc in (cached, uncached):
        assert doc["questions"] > 0
        assert set(doc["statuses"]) == {"200"}
        assert doc["questions"] == doc["statuses"]["200"]
        assert 0 < doc["latency_p50_s"] <= doc["latency_p95_s"]
        assert doc["cpu_s"]["backend"] > 0
    assert cached["patients"] == uncached["patients"] == 2
    assert cached["index_cache_ttl_s"] == 60.0
    assert uncached["index_cache_ttl_s"] == 0.0
    # One search per question once cached, plus the patient read; the index costs ~10 more.
    assert cached["fhir_requests_per_question"] < 4
    assert uncached["fhir_requests_per_question"] >= cached["fhir_requests_per_question"] + 8


@pytest.mark.parametrize(
    ("flag", "value"), [("--index-cache-ttl", "-1"), ("--patients", "0"), ("--clients", "0")]
)
def test_bench_backend_refuses_bad_arguments_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    assert main(["bench", "backend", flag, value, "--out", str(tmp_path / "out")]) == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
