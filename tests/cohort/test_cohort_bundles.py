"""The committed bundles: valid R4 transactions, Synthea conventions, resolvable references."""

from __future__ import annotations

import hashlib
import importlib
from collections import Counter
from pathlib import Path
from typing import Any

MAX_BYTES = 5_000_000


def test_manifest_lists_exactly_the_committed_files(
    cohort_dir: Path, manifest: dict[str, Any]
) -> None:
    listed = {e["path"] for e in manifest["bundles"]} | {e["path"] for e in manifest["images"]}
    on_disk = {
        str(p.relative_to(cohort_dir))
        for p in cohort_dir.rglob("*")
        if p.is_file() and p.name != "MANIFEST.json"
    }
    assert listed == on_disk
    for entry in [*manifest["bundles"], *manifest["images"]]:
        data = (cohort_dir / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        assert len(data) == entry["bytes"]


def test_manifest_resource_counts_match_the_bundles(
    manifest: dict[str, Any], bundles: dict[str, dict[str, Any]]
) -> None:
    for entry in manifest["bundles"]:
        resources = [e["resource"] for e in bundles[entry["path"]]["entry"]]
        assert entry["resources"] == dict(Counter(r["resourceType"] for r in resources))
        patients = [r for r in resources if r["resourceType"] == "Patient"]
        assert [p["id"] for p in patients] == [entry["patient_id"]]
        assert entry["path"].endswith(f"_{entry['patient_id']}.json.gz")


def test_total_size_is_under_5_mb(cohort_dir: Path) -> None:
    total = sum(p.stat().st_size for p in cohort_dir.rglob("*") if p.is_file())
    assert total < MAX_BYTES


def test_every_bundle_is_a_synthea_style_transaction(bundles: dict[str, dict[str, Any]]) -> None:
    owners: dict[str, set[str]] = {}
    for name, bundle in bundles.items():
        assert bundle["resourceType"] == "Bundle"
        assert bundle["type"] == "transaction"
        assert bundle["entry"][0]["resource"]["resourceType"] == "Patient", name
        ids = [entry["resource"]["id"] for entry in bundle["entry"]]
        assert len(ids) == len(set(ids)), name
        for entry in bundle["entry"]:
            resource = entry["resource"]
            assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
            assert entry["request"] == {"method": "POST", "url": resource["resourceType"]}
            owners.setdefault(resource["id"], set()).add(resource["resourceType"])
    shared = {i: types for i, types in owners.items() if len(types) > 1}
    assert shared == {}
    repeated = Counter(
        e["resource"]["resourceType"]
        for bundle in bundles.values()
        for e in bundle["entry"]
        if e["resource"]["resourceType"] in ("Organization", "Practitioner")
    )
    # Clinics and clinicians are shared between patients, as in Synthea's per-patient bundles.
    assert repeated["Organization"] == 2 * len(bundles)


def _model(resource_type: str) -> Any:
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


def test_every_resource_parses_as_fhir_r4(records: list[list[dict[str, Any]]]) -> None:
    checked: Counter[str] = Counter()
    for resources in records:
        for resource in resources:
            _model(resource["resourceType"]).model_validate(resource)
            checked[resource["resourceType"]] += 1
    assert checked["Observation"] > 1000


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for k, v in node.items() if k != "reference" for r in _references(v)]
    if isinstance(node, list):
        return [r for item in node for r in _references(item)]
    return []


def test_every_reference_resolves_within_its_bundle(bundles: dict[str, dict[str, Any]]) -> None:
    for name, bundle in bundles.items():
        full_urls = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"]}
        patient = bundle["entry"][0]["fullUrl"]
        for entry in bundle["entry"]:
            resource = entry["resource"]
            references = _references(resource)
            assert all(r in full_urls for r in references), (name, resource["resourceType"])
            for field in ("subject", "patient"):
                if field in resource:
                    assert resource[field]["reference"] == patient
            if "encounter" in resource:
                assert full_urls[resource["encounter"]["reference"]] == "Encounter"


def test_coding_systems_are_the_ones_synthea_uses(records: list[list[dict[str, Any]]]) -> None:
    expected = {
        ("Observation", "code"): "http://loinc.org",
        ("DiagnosticReport", "code"): "http://loinc.org",
        ("Condition", "code"): "http://snomed.info/sct",
        ("Procedure", "code"): "http://snomed.info/sct",
        ("AllergyIntolerance", "code"): "http://snomed.info/sct",
        (
            "MedicationRequest",
            "medicationCodeableConcept",
        ): "http://www.nlm.nih.gov/research/umls/rxnorm",
        ("Immunization", "vaccineCode"): "http://hl7.org/fhir/sid/cvx",
    }
    for resources in records:
        for resource in resources:
            for (rtype, field), system in expected.items():
                if resource["resourceType"] == rtype:
                    assert {c["system"] for c in resource[field]["coding"]} == {system}
            if resource["resourceType"] == "Encounter":
                assert resource["type"][0]["coding"][0]["system"] == "http://snomed.info/sct"
            quantity = resource.get("valueQuantity")
            if quantity is not None:
                assert quantity["system"] == "http://unitsofmeasure.org"
                assert quantity["unit"] == quantity["code"]


def test_nothing_happens_on_or_after_the_reference_date(
    records: list[list[dict[str, Any]]], manifest: dict[str, Any]
) -> None:
    as_of = manifest["as_of"]
    fields = (
        "effectiveDateTime", "issued", "onsetDateTime", "recordedDate", "authoredOn",
        "occurrenceDateTime", "started", "abatementDateTime",
    )  # fmt: skip
    for resources in records:
        for resource in resources:
            stamps = [resource[f] for f in fields if f in resource]
            for period_field in ("period", "performedPeriod"):
                stamps += list(resource.get(period_field, {}).values())
            assert all(stamp[:10] < as_of for stamp in stamps), resource["resourceType"]


def test_resolved_conditions_have_an_abatement_and_active_ones_none(
    records: list[list[dict[str, Any]]],
) -> None:
    for resources in records:
        for resource in resources:
            if resource["resourceType"] != "Condition":
                continue
            status = resource["clinicalStatus"]["coding"][0]["code"]
            assert (status == "resolved") == ("abatementDateTime" in resource)
