"""Ground truth for the FHIR server tests, computed from the raw Synthea files.

Nothing here touches the server's code: bundles are read with plain gzip+json, and searches
are collected with plain httpx.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fhir_fixtures.synthea_bundle import to_idempotent_transaction

PATIENT_REFERENCE_ELEMENTS = ("subject", "patient", "beneficiary")


@dataclass
class RawSynthea:
    """The shared data as plain dicts, with ``urn:uuid:X`` references resolved to ``Type/X``."""

    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    by_patient: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of(self, patient_id: str, resource_type: str) -> list[dict[str, Any]]:
        return [r for r in self.by_patient[patient_id] if r["resourceType"] == resource_type]

    def all_of(self, resource_type: str) -> list[dict[str, Any]]:
        return [r for (t, _), r in self.resources.items() if t == resource_type]


def _resolve(node: Any, types: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and ref.startswith("urn:uuid:"):
            target = ref[len("urn:uuid:") :]
            node["reference"] = f"{types[target]}/{target}"
        for value in node.values():
            _resolve(value, types)
    elif isinstance(node, list):
        for item in node:
            _resolve(item, types)


def patient_of(resource: dict[str, Any]) -> str | None:
    """The patient id a resource's subject/patient/beneficiary points at (ground truth)."""
    if resource["resourceType"] == "Patient":
        return str(resource["id"])
    for element in PATIENT_REFERENCE_ELEMENTS:
        ref = (resource.get(element) or {}).get("reference", "")
        if ref.startswith("Patient/"):
            return str(ref.split("/", 1)[1])
    return None


def read_raw_synthea(synthea_dir: Path, paths: list[Path] | None = None) -> RawSynthea:
    """Read every bundle (or only ``paths``) with plain gzip+json; references as ``Type/id``."""
    chosen = sorted(synthea_dir.glob("*.json.gz")) if paths is None else sorted(paths)
    bundles = [json.loads(gzip.decompress(p.read_bytes())) for p in chosen]
    types = {
        e["resource"]["id"]: e["resource"]["resourceType"] for b in bundles for e in b["entry"]
    }
    raw = RawSynthea()
    for bundle in bundles:
        for entry in bundle["entry"]:
            resource = entry["resource"]
            _resolve(resource, types)
            raw.resources[(resource["resourceType"], resource["id"])] = resource
    for resource in raw.resources.values():
        pid = patient_of(resource)
        if pid is not None:
            raw.by_patient[pid].append(resource)
        if resource["resourceType"] == "Patient":
            raw.patients[resource["id"]] = resource
    if paths is None:
        assert len(raw.patients) == 41
    return raw


def load_bundles_over_http(base_url: str, paths: list[Path], *, token: str | None = None) -> int:
    """POST each file as a transaction of PUTs; returns the number of resources sent."""
    headers = {"Content-Type": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    sent = 0
    with httpx.Client(base_url=base_url, timeout=120) as client:
        for path in paths:
            bundle = to_idempotent_transaction(json.loads(gzip.decompress(path.read_bytes())))
            response = client.post("/", json=bundle, headers=headers)
            assert response.status_code == 200, (path.name, response.text[:500])
            sent += len(bundle["entry"])
    return sent


def search_all(
    client: httpx.Client, url: str, params: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every match of a search, following next links (asserting no id repeats)."""
    matches: list[dict[str, Any]] = []
    response = client.get(url, params={**(params or {}), "_count": "200"})
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        matches.extend(
            e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"
        )
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not nxt:
            break
        response = client.get(nxt[0])
    keys = [(r["resourceType"], r["id"]) for r in matches]
    assert len(keys) == len(set(keys)), "a search returned the same resource twice"
    return matches


def ids(resources: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in resources}
