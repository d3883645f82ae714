"""``ehr-agent bench tools`` on two patients: every asked call is measured and reported."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from agent.cli import main

# The benchmark's fixed mix per patient, restated here rather than imported.
MIX = {"record_overview": 1, "search": 5, "observation_series": 2, "read": 2, "timeline": 1}


def test_bench_tools_quick(
    tmp_path: Path, synthea_dir: Path, patient_bundle_paths: list[Path]
) -> None:
    status = main(
        ["bench", "tools", "--patients", "2", "--bundles", str(synthea_dir), "--out", str(tmp_path)]
    )
    assert status == 0
    doc = json.loads((tmp_path / "tools.json").read_text())
    assert "p95" in (tmp_path / "tools.md").read_text()

    # The patients measured are those of the first two bundles, read with gzip + json.
    expected = set()
    for path in patient_bundle_paths[:2]:
        bundle = json.loads(gzip.decompress(path.read_bytes()))
        expected |= {
            e["resource"]["id"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Patient"
        }
    assert {p["patient_id"] for p in doc["per_patient"]} == expected
    assert doc["patients"] == 2

    for run in ("cold", "warm"):
        figures = doc["runs"][run]
        assert {tool: s["calls"] for tool, s in figures["tools"].items()} == {
            tool: 2 * n for tool, n in MIX.items()
        }
        assert figures["all"]["calls"] == 2 * sum(MIX.values())
        assert figures["all"]["errors"] == 0
        assert figures["first_call"]["calls"] == 2
        assert all(s["p50_ms"] > 0 and s["tokens_mean"] > 0 for s in figures["tools"].values())
    for patient in doc["per_patient"]:
        assert patient["overview_tokens"] > 0
        assert patient["mix_tokens"] > patient["overview_tokens"]
        assert patient["calls"] == sum(MIX.values())
    assert doc["overview_tokens"]["max"] == max(p["overview_tokens"] for p in doc["per_patient"])

    # Cold first calls build the index (one search per clinical type); warm ones reuse it.
    assert doc["index_cache"] == {"stored_by_cold_run": 2, "hits_in_warm_run": 2}
    cold_first = doc["runs"]["cold"]["first_call"]["fhir_requests_mean"]
    warm_first = doc["runs"]["warm"]["first_call"]["fhir_requests_mean"]
    assert cold_first >= warm_first + 10
