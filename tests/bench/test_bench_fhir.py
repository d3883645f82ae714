"""``ehr-agent bench fhir`` in smoke-test mode: it loads what it says and its queries find the data.

The figures themselves are not judged (speed targets are for the benchmark to print); what is
checked is that the load carried every resource of the raw bundles (and of the replicas), and
that the record-index searches it timed returned, for every patient queried, exactly the
resources the raw bundle of that patient (or of the patient it was replicated from) holds.
Truth comes from the raw files read with gzip/json (``raw_synthea``), not from the benchmark.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from fhir_ground_truth import RawSynthea

from agent.cli import main

_SHARED_TYPES = {"Organization", "Practitioner", "Location", "PractitionerRole"}
_PATIENTS = 50


def _entries(path: Path) -> list[dict]:
    return [e["resource"] for e in json.loads(gzip.decompress(path.read_bytes()))["entry"]]


@pytest.mark.slow
def test_quick_run_loads_everything_and_queries_find_each_patients_record(
    tmp_path: Path, synthea_dir: Path, patient_bundle_paths: list[Path], raw_synthea: RawSynthea
) -> None:
    out = tmp_path / "results"
    argv = ["bench", "fhir", "--quick", "--skip-sekmet", "--out", str(out)]
    argv += ["--bundles", str(synthea_dir), "--patients", str(_PATIENTS), "--queries", "48"]
    assert main(argv) == 0

    document = json.loads((out / "fhir.json").read_text())
    assert (out / "fhir.md").read_text().startswith("# FHIR server benchmark")
    shared, scale = document["steps"]
    assert (shared["step"], scale["step"]) == ("shared", "scale")
    assert shared["patients_held"] == {"ours": 41}
    assert scale["patients_held"] == {"ours": _PATIENTS}

    # Every resource of every shared file went in; replicas carry their patient's own resources.
    every = sum(len(_entries(p)) for p in sorted(synthea_dir.glob("*.json.gz")))
    assert shared["load"]["ours"]["resources"] == every
    replicated = patient_bundle_paths[: _PATIENTS - 41]
    own = sum(1 for p in replicated for r in _entries(p) if r["resourceType"] not in _SHARED_TYPES)
    assert scale["load"]["ours"]["resources"] == own
    for step in (shared, scale):
        load = step["load"]["ours"]
        assert load["seconds"] > 0
        assert load["resources_per_s"] > 0
        latency = step["latency"]["ours"]
        assert latency["overall"]["n"] == 48
        assert 0 < latency["overall"]["p50_ms"] <= latency["overall"]["p95_ms"]
        assert latency["searches"]["p95_ms"] > 0
        assert step["errors"] == {"ours": {}}
        assert "sekmet" not in step["latency"]
        assert "speedup" not in step
        assert latency["by_kind"]["read Patient"]["resources_returned"] >= 1

    # The timed index searches returned each queried patient's whole record, type by type,
    # replicas (new ids) included and originals left intact by them.
    replicas = 0
    for step in (shared, scale):
        assert step["index_counts"]
        for patient, counts in step["index_counts"].items():
            source = counts.pop("source_patient")
            assert source in raw_synthea.patients
            replicas += patient != source
            expected = {rt: len(raw_synthea.of(source, rt)) for rt in counts}
            assert counts == expected, patient
            assert sum(counts.values()) > 0
    assert replicas >= 1
    assert set(document["verdict"]) >= {"load_met", "p95_search_met", "load_resources_per_s_min"}
