"""``ehr-agent bench concepts`` on three patients: its scoring agrees with the raw labels."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from agent.cli import main

REPO = Path(__file__).resolve().parents[2]
LISTS = ("phrases.jsonl", "phrases_heldout.jsonl")


def _codes(node: Any, out: set[str]) -> None:
    """Every ``system|code`` anywhere in a resource (concept, components, reasons...)."""
    if isinstance(node, dict):
        if "system" in node and "code" in node:
            out.add(f"{node['system']}|{node['code']}")
        for value in node.values():
            _codes(value, out)
    elif isinstance(node, list):
        for item in node:
            _codes(item, out)


def test_bench_concepts_quick(
    tmp_path: Path, synthea_dir: Path, patient_bundle_paths: list[Path]
) -> None:
    argv = ["bench", "concepts", "--patients", "3", "--bundles", str(synthea_dir)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "concepts.json").read_text())
    assert "Misses" in (tmp_path / "concepts.md").read_text()

    # Ground truth from the first three bundles, read with gzip + json.
    record: dict[str, dict[str, set[str]]] = {}
    for path in patient_bundle_paths[:3]:
        resources = [e["resource"] for e in json.loads(gzip.decompress(path.read_bytes()))["entry"]]
        patient = next(r["id"] for r in resources if r["resourceType"] == "Patient")
        record[patient] = {}
        for resource in resources:
            _codes(resource, record[patient].setdefault(resource["resourceType"], set()))

    results = {(item["list_name"], item["id"]): item for item in doc["items"]}
    for name in LISTS:
        lines = (REPO / "evals" / "concepts" / name).read_text().splitlines()
        labels = [json.loads(line) for line in lines if line.strip()]
        mine = [label for label in labels if label["patient_id"] in record]
        assert mine, name
        figures = doc["lists"][name]
        assert figures["items"] == len(mine)
        assert figures["skipped_patient_not_loaded"] == len(labels) - len(mine)
        hits = 0
        for label in mine:
            result = results[(name, label["id"])]
            # the resolver never names a code that is not in that record, in those types
            present = set().union(
                *(record[label["patient_id"]].get(t, set()) for t in label["resource_types"])
            )
            assert set(result["got"]) <= present, label["id"]
            assert result["hit"] == (set(result["got"]) == set(label["expected"])), label["id"]
            hits += result["hit"]
        assert figures["hits"] == hits
        assert figures["accuracy"] == round(hits / len(mine), 4)
        assert sum(g["items"] for g in figures["by_kind"].values()) == len(mine)
    missed = {(m["list_name"], m["id"]) for m in doc["misses"]}
    assert missed == {key for key, item in results.items() if not item["hit"]}
