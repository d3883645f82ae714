"""The builder on bundles it has never seen: perturbed copies of the shared ones, bad files.

Perturbed copies are written to a temporary folder (never into the repository). Whatever the
perturbation, the build must not crash, must name the files it could not read, and every item
must agree with its own evidence as re-derived by the independent checker.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from evals_independent import check_item, load_raw

from evals.builder import BuildOptions, BuildResult, build_dataset

Bundle = dict[str, Any]
# A spread of small and large records, living and deceased, with and without imaging.
SAMPLE = (0, 5, 12, 17, 33, 37)


def _drop_entries(bundle: Bundle, rng: random.Random) -> None:
    entries = bundle["entry"]
    keep = [e for e in entries if e["resource"]["resourceType"] == "Patient" or rng.random() > 0.3]
    bundle["entry"] = keep


def _change_values(bundle: Bundle, rng: random.Random) -> None:
    for entry in bundle["entry"]:
        resource = entry["resource"]
        quantity = resource.get("valueQuantity")
        if quantity and rng.random() < 0.5:
            quantity["value"] = round(quantity["value"] * rng.uniform(0.5, 1.5), 3)
        for component in resource.get("component", []):
            if "valueQuantity" in component and rng.random() < 0.5:
                component["valueQuantity"]["value"] += rng.choice([-30, 30, 0.01])
        if "status" in resource and rng.random() < 0.3:
            resource["status"] = rng.choice(["active", "stopped", "completed", "entered-in-error"])
        for key in ("effectiveDateTime", "authoredOn", "occurrenceDateTime", "onsetDateTime"):
            if key in resource and rng.random() < 0.2:
                resource[key] = (
                    f"{rng.randint(1990, 2020)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
                )
        if resource["resourceType"] == "Patient" and rng.random() < 0.5:
            resource["deceasedDateTime"] = "2016-02-29T10:00:00+00:00"


def _rename_codes(bundle: Bundle, rng: random.Random) -> None:
    for entry in bundle["entry"]:
        resource = entry["resource"]
        for key in ("code", "vaccineCode", "medicationCodeableConcept"):
            codeable = resource.get(key)
            if not isinstance(codeable, dict) or rng.random() > 0.3:
                continue
            for coding in codeable.get("coding", []):
                if rng.random() < 0.5:
                    coding["code"] = f"X{rng.randint(1, 5)}"  # different codes, same texts
                else:
                    coding["display"] = rng.choice(["Hypertension", "Glucose", "Body Weight"])


def _strip_optional(bundle: Bundle, rng: random.Random) -> None:
    optional = (
        "display", "text", "unit", "abatementDateTime", "clinicalStatus", "effectiveDateTime",
        "class", "valueQuantity", "birthDate", "period", "performedPeriod", "authoredOn",
        "series", "activity", "addresses", "result", "category", "maritalStatus",
        "communication", "code", "system", "subject", "gender", "onsetDateTime",
    )  # fmt: skip

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            for key in list(node):
                if key in optional and rng.random() < 0.15:
                    del node[key]
                else:
                    strip(node[key])
        elif isinstance(node, list):
            for child in node:
                strip(child)

    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] != "Patient" or rng.random() < 0.5:
            strip(entry["resource"])


def _odd_shapes(bundle: Bundle, rng: random.Random) -> None:
    patient_id = next(
        e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    for entry in bundle["entry"]:
        resource = entry["resource"]
        for key in ("subject", "patient"):
            if key in resource and rng.random() < 0.5:
                resource[key]["reference"] = f"Patient/{patient_id}"
        if rng.random() < 0.05:
            resource.pop("id", None)
        if "effectiveDateTime" in resource and rng.random() < 0.1:
            resource["effectiveDateTime"] = resource["effectiveDateTime"][:7]  # partial date
        if "valueQuantity" in resource and rng.random() < 0.05:
            resource["valueQuantity"]["value"] = "high"
    bundle["entry"] += [{"fullUrl": "urn:uuid:nothing"}, "not an entry", {"resource": []}]


PERTURBATIONS: dict[str, Callable[[Bundle, random.Random], None]] = {
    "drop": _drop_entries,
    "values": _change_values,
    "codes": _rename_codes,
    "optional": _strip_optional,
    "shapes": _odd_shapes,
}


@pytest.fixture(scope="module")
def originals(patient_bundle_paths: list[Path]) -> list[Bundle]:
    return [json.loads(gzip.decompress(patient_bundle_paths[i].read_bytes())) for i in SAMPLE]


def _write_cohort(folder: Path, bundles: list[Bundle], compress: bool) -> None:
    folder.mkdir()
    for index, bundle in enumerate(bundles):
        data = json.dumps(bundle).encode()
        if compress:
            (folder / f"p{index}.json.gz").write_bytes(gzip.compress(data))
        else:
            (folder / f"p{index}.json").write_bytes(data)


def _assert_consistent(result: BuildResult, folder: Path) -> None:
    raw = load_raw(sorted(folder.rglob("*.json*")))
    problems = [p for item in result.items for p in check_item(item.model_dump(mode="json"), raw)]
    assert problems == []
    ids = [i.id for i in result.items]
    assert len(ids) == len(set(ids))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "seed"), [(name, seed) for seed, name in enumerate(sorted(PERTURBATIONS), start=1)]
)
def test_perturbed_bundles(originals: list[Bundle], tmp_path: Path, name: str, seed: int) -> None:
    rng = random.Random(f"{name}-{seed}")
    bundles = copy.deepcopy(originals)
    for bundle in bundles:
        PERTURBATIONS[name](bundle, rng)
    folder = tmp_path / "cohort"
    _write_cohort(folder, bundles, compress=seed % 2 == 1)
    result = build_dataset([folder], BuildOptions(seed=seed))
    assert result.items
    _assert_consistent(result, folder)


@pytest.mark.slow
def test_all_perturbations_at_once(originals: list[Bundle], tmp_path: Path) -> None:
    rng = random.Random(99)
    bundles = copy.deepcopy(originals)
    for bundle in bundles:
        for perturb in PERTURBATIONS.values():
            perturb(bundle, rng)
    folder = tmp_path / "cohort"
    _write_cohort(folder, bundles, compress=False)
    result = build_dataset([folder], BuildOptions(seed=5, max_category_ratio=0))
    _assert_consistent(result, folder)


def test_bad_files_are_named_and_the_others_still_load(
    originals: list[Bundle], tmp_path: Path
) -> None:
    folder = tmp_path / "cohort"
    _write_cohort(folder, originals[:2], compress=True)
    (folder / "broken.json").write_text("{not json")
    (folder / "truncated.json.gz").write_bytes(gzip.compress(b'{"resourceType": "Bundle"')[:20])
    (folder / "not_a_bundle.json").write_text('{"resourceType": "Patient", "id": "x"}')
    (folder / "empty.json").write_text("")
    (folder / "notes.txt").write_text("ignored: not a bundle suffix")
    result = build_dataset([folder], BuildOptions())
    assert result.patients == 2
    assert result.items
    named = sorted(p.path.name for p in result.problems)
    assert named == ["broken.json", "empty.json", "not_a_bundle.json", "truncated.json.gz"]
    assert all(str(p.path) in str(p) for p in result.problems)


def test_a_patient_in_two_files_is_reported(originals: list[Bundle], tmp_path: Path) -> None:
    folder = tmp_path / "cohort"
    _write_cohort(folder, [originals[0], originals[0]], compress=False)
    result = build_dataset([folder], BuildOptions())
    assert result.patients == 1
    assert [p.path.name for p in result.problems] == ["p1.json"]


def test_generated_cohort_if_present() -> None:
    cohort = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "cohort" / "data"
    files = sorted(cohort.glob("*.json*")) if cohort.is_dir() else []
    if not files:
        pytest.skip("no generated cohort in fhir_fixtures/cohort/data yet")
    result = build_dataset([cohort], BuildOptions())
    # Side files such as a manifest are reported and skipped; every bundle must load.
    assert all("not a FHIR Bundle" in p.reason for p in result.problems)
    assert result.patients >= len(files) - len(result.problems) > 0
    _assert_consistent(result, cohort)
