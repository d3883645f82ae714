"""``ehr-agent bench agent`` on two patients: every question answered, the cache really used."""

from __future__ import annotations

import json
from pathlib import Path

from agent.cli import main


def test_bench_agent_quick(tmp_path: Path, synthea_dir: Path) -> None:
    argv = ["bench", "agent", "--patients", "2", "--questions", "3", "--bundles", str(synthea_dir)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "agent.json").read_text())
    assert "p50" in (tmp_path / "agent.md").read_text()
    assert doc["patients"] == 2

    no_cache, cache = doc["runs"]["no cache"], doc["runs"]["cache"]
    for figures in (no_cache, cache):
        # 2 patients x 3 questions, each answered with a checked citation
        assert figures["questions"] == 6
        assert figures["verified"] == 6
        assert figures["cited_nothing"] == 0
        assert figures["first_question_per_patient"]["questions"] == 2
        assert figures["llm_calls_per_question"] >= 2  # at least one plan and one answer
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]

    # Without the cache every question builds the index (a search per clinical type);
    # with it only the first question about each patient does.
    assert doc["index_cache"] == {"stored": 2, "hits": 4}
    built = no_cache["fhir_requests_per_question"]
    assert no_cache["later_questions"]["fhir_requests_per_question"] == built
    assert cache["first_question_per_patient"]["fhir_requests_per_question"] == built
    assert cache["later_questions"]["fhir_requests_per_question"] <= built - 10
