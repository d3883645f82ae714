"""Shared schema and record index for the hand-labelled concept-resolution lists.

Both ``phrases.jsonl`` and ``phrases_heldout.jsonl`` are checked against the raw Synthea bundles
with the plain gzip + json reader below, independently of ``tools/``: a label is only trusted if
its codes really occur in that patient's bundle, in the resource types it names.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

CONCEPTS_DIR = Path(__file__).resolve().parents[2] / "evals" / "concepts"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"

# The element that carries the concept for each resource type, and the code system it uses.
CONCEPT_FIELD: dict[str, tuple[str, str]] = {
    "Observation": ("code", LOINC),
    "DiagnosticReport": ("code", LOINC),
    "Condition": ("code", SNOMED),
    "Procedure": ("code", SNOMED),
    "Encounter": ("type", SNOMED),
    "CarePlan": ("category", SNOMED),
    "AllergyIntolerance": ("code", SNOMED),
    "MedicationRequest": ("medicationCodeableConcept", RXNORM),
    "Immunization": ("vaccineCode", CVX),
}

KIND_TYPES: dict[str, set[str]] = {
    "vital": {"Observation"},
    "lab": {"Observation", "DiagnosticReport"},
    "condition": {"Condition"},
    "medication": {"MedicationRequest"},
    "drug_class": {"MedicationRequest"},
    "immunization": {"Immunization"},
    "procedure": {"Procedure"},
    "allergy": {"AllergyIntolerance"},
    "encounter": {"Encounter"},
    "careplan": {"CarePlan"},
    "imaging": {"Procedure", "Observation", "DiagnosticReport"},
}

REQUIRED = {"id", "phrase", "patient_id", "resource_types", "expected", "kind"}
OPTIONAL = {"note"}

# A phrase that is only a code, optionally prefixed by its system: "4548-4", "http://loinc.org|8302-2".
RAW_CODE = re.compile(r"(\S+\|)?[0-9][0-9-]*")

Item = dict[str, Any]
Index = dict[str, dict[str, set[str]]]


def load_items(path: Path) -> list[Item]:
    """Read one JSON object per non-blank line."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _codings(element: Any) -> list[dict[str, Any]]:
    concepts = element if isinstance(element, list) else [element]
    return [c for concept in concepts if concept for c in concept.get("coding", [])]


def build_record_index(bundle_paths: list[Path]) -> Index:
    """Patient.id -> resource type -> every ``system|code`` in that type's concept element."""
    index: Index = {}
    for path in bundle_paths:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            bundle = json.load(fh)
        resources = [entry["resource"] for entry in bundle["entry"]]
        patients = [r["id"] for r in resources if r["resourceType"] == "Patient"]
        assert len(patients) == 1, f"{path.name}: expected one Patient"
        codes: dict[str, set[str]] = defaultdict(set)
        for res in resources:
            field = CONCEPT_FIELD.get(res["resourceType"])
            if field is None:
                continue
            for coding in _codings(res.get(field[0])):
                codes[res["resourceType"]].add(f"{coding['system']}|{coding['code']}")
        index[patients[0]] = dict(codes)
    return index


def assert_well_typed(item: Item, id_pattern: str) -> None:
    """Fail unless ``item`` has exactly the documented fields, each of the documented type."""
    label = item.get("id", item)
    assert REQUIRED <= item.keys() <= REQUIRED | OPTIONAL, label
    assert re.fullmatch(id_pattern, item["id"]), label
    assert isinstance(item["phrase"], str), label
    assert item["phrase"].strip(), label
    assert isinstance(item["patient_id"], str), label
    assert item["kind"] in KIND_TYPES, label
    types = item["resource_types"]
    assert isinstance(types, list), label
    assert types, label
    assert len(set(types)) == len(types), label
    assert set(types) <= KIND_TYPES[item["kind"]], label
    expected = item["expected"]
    assert isinstance(expected, list), label
    assert len(set(expected)) == len(expected), label
    for code in expected:
        assert isinstance(code, str), label
        assert re.fullmatch(r"[^|\s]+\|[^|\s]+", code), label
    if "note" in item:
        assert isinstance(item["note"], str), label
        assert item["note"].strip(), label


def question_key(item: Item) -> tuple[str, str, tuple[str, ...]]:
    """What makes two items the same question: phrase, patient and where to look."""
    return (item["phrase"].lower(), item["patient_id"], tuple(sorted(item["resource_types"])))


def missing_codes(items: list[Item], index: Index) -> list[tuple[str, str]]:
    """``(id, code)`` for every expected code absent from that patient's listed resource types."""
    missing = []
    for item in items:
        record = index[item["patient_id"]]
        present = set().union(*(record.get(t, set()) for t in item["resource_types"]))
        missing += [(item["id"], code) for code in item["expected"] if code not in present]
    return missing


def foreign_system_codes(items: list[Item]) -> list[tuple[str, str]]:
    """``(id, code)`` for every expected code whose system none of the item's types uses."""
    wrong = []
    for item in items:
        systems = {CONCEPT_FIELD[t][1] for t in item["resource_types"]}
        wrong += [
            (item["id"], code) for code in item["expected"] if code.split("|", 1)[0] not in systems
        ]
    return wrong


def assert_negatives_explained(items: list[Item]) -> None:
    """Fail unless exactly the items with an empty expected set have a note starting NEGATIVE."""
    for item in items:
        if not item["expected"]:
            assert item.get("note", "").startswith("NEGATIVE"), item["id"]
        else:
            assert not item.get("note", "").startswith("NEGATIVE"), item["id"]


def raw_code_items(items: list[Item]) -> list[Item]:
    """The items whose phrase is a bare code token."""
    return [i for i in items if RAW_CODE.fullmatch(i["phrase"].strip())]


def assert_raw_codes_expect_themselves(items: list[Item]) -> None:
    """Fail unless a raw-code phrase with a non-empty label expects exactly that code."""
    for item in raw_code_items(items):
        code = item["phrase"].strip().rsplit("|", 1)[-1]
        if item["expected"]:
            assert [c.rsplit("|", 1)[1] for c in item["expected"]] == [code], item["id"]


def normalised_phrase(phrase: str) -> str:
    """Case-folded phrase with every space and punctuation mark removed ("X-ray" == "xray")."""
    return re.sub(r"[^0-9a-z]+", "", phrase.casefold())
