"""The dataset built from the 41 shared patients: coverage, balance, ids, evidence, determinism."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from evals_independent import RawPatient, check_item, when

from evals.builder import BuildOptions, BuildResult, build_dataset
from evals.builder.errors import BuildError
from evals.dataset import ANSWER_TYPES, dump_item, write_items

MAX_CATEGORY_RATIO = 3.0


def test_size_and_coverage(default_build: BuildResult) -> None:
    items = default_build.items
    assert default_build.patients == 41
    assert default_build.problems == []
    assert len(items) > 2000
    categories = Counter(i.category for i in items)
    assert len(categories) >= 10
    assert len({i.template_id for i in items}) >= 40
    assert set(Counter(i.answer_type for i in items)) == set(ANSWER_TYPES)
    assert {i.patient_id for i in items} == {
        json.loads(line)["patient_id"] for line in (dump_item(i) for i in items)
    }
    assert len({i.patient_id for i in items}) == 41


def test_categories_are_balanced(default_build: BuildResult) -> None:
    counts = Counter(i.category for i in default_build.items)
    assert max(counts.values()) <= MAX_CATEGORY_RATIO * min(counts.values())
    per_patient = Counter((i.patient_id, i.category) for i in default_build.items)
    assert max(per_patient.values()) <= BuildOptions().per_category


def test_ids_are_unique_and_questions_distinct(default_build: BuildResult) -> None:
    ids = [i.id for i in default_build.items]
    assert len(ids) == len(set(ids))
    keys = Counter((i.patient_id, i.question) for i in default_build.items)
    # The same words may ask two things only if they are different templates' yes/no pair.
    assert all(n == 1 for n in keys.values())


def test_question_kinds_are_represented(default_build: BuildResult) -> None:
    items = default_build.items
    absence = [i for i in items if i.answer_type == "yes_no" and i.gold == "no"]
    assert any(i.template_id == "med.class_ever" and i.params["drug_class"] == "statin"
               for i in absence)  # fmt: skip
    assert sum(1 for i in items if "date_from" in i.params) > 100
    assert sum(1 for i in items if i.category == "longitudinal_trends") > 100
    assert sum(1 for i in items if i.params.get("op") == "count") > 100
    assert sum(1 for i in items if i.category == "imaging") >= 12
    choices = [i for i in items if i.answer_type == "choice"]
    assert all(len(i.choices or []) >= 3 and i.gold in (i.choices or []) for i in choices)


def test_every_evidence_id_exists_in_the_patients_own_bundle(
    default_build: BuildResult, raw_patients: dict[str, RawPatient]
) -> None:
    for item in default_build.items:
        patient = raw_patients[item.patient_id]
        for ref in item.evidence_ids:
            resource = patient.by_ref.get(ref)
            assert resource is not None, f"{item.id}: {ref} not in the patient's compartment"
            if ref.startswith("Patient/"):
                assert ref == f"Patient/{item.patient_id}"
            else:
                day = when(resource)
                assert day is not None
                assert day <= item.as_of, f"{item.id}: {ref} is after as_of"


def test_absence_items_cite_only_the_patient(default_build: BuildResult) -> None:
    for item in default_build.items:
        if item.params.get("op") == "exists" and item.gold == "no":
            assert item.evidence_ids == [f"Patient/{item.patient_id}"]


def test_default_as_of_is_the_patients_last_record_day(
    default_build: BuildResult, raw_patients: dict[str, RawPatient]
) -> None:
    for patient_id, patient in raw_patients.items():
        days = [d for d in (when(r) for r in patient.resources) if d]
        death = patient.patient.get("deceasedDateTime")
        if death:
            days.append(date.fromisoformat(death[:10]))
        as_of = {i.as_of for i in default_build.items if i.patient_id == patient_id}
        assert as_of == {max(days)}


def test_gold_answers_agree_with_the_raw_bundles(
    default_build: BuildResult, raw_patients: dict[str, RawPatient]
) -> None:
    problems = [
        p for item in default_build.items for p in check_item(item.model_dump(mode="json"),
                                                              raw_patients)
    ]  # fmt: skip
    assert problems == []


@pytest.mark.slow
def test_fixed_as_of_build_agrees_with_the_raw_bundles(
    patient_bundle_paths: list[Path], raw_patients: dict[str, RawPatient]
) -> None:
    as_of = date(2012, 6, 30)
    result = build_dataset(patient_bundle_paths[:20], BuildOptions(as_of=as_of, seed=3))
    assert result.items
    assert {i.as_of for i in result.items} == {as_of}
    # Statuses written in the record describe its last day: not asked about on earlier days.
    current_only = {"med.active_set", "allergy.active_set", "careplan.active_set"}
    later = {
        pid
        for pid, p in raw_patients.items()
        if max(d for r in p.resources if (d := when(r))) > as_of
    }
    assert [
        i for i in result.items if i.template_id in current_only and i.patient_id in later
    ] == []
    assert any(i.template_id in current_only for i in result.items)  # those whose record ended
    problems = [
        p for i in result.items for p in check_item(i.model_dump(mode="json"), raw_patients)
    ]
    assert problems == []


@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_other_phrasings(
    patient_bundle_paths: list[Path], tmp_path: Path
) -> None:
    # Reversed file order must not matter either.
    paths = patient_bundle_paths[::3]
    first = build_dataset(paths, BuildOptions(seed=0)).items
    write_items(first, tmp_path / "a.jsonl")
    write_items(build_dataset(paths[::-1], BuildOptions(seed=0)).items, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    other = build_dataset(paths, BuildOptions(seed=1)).items
    ours = {i.id: i for i in first}
    shared = [i for i in other if i.id in ours]
    assert len(shared) > len(other) // 4
    changed = sum(1 for i in shared if i.phrasing_id != ours[i.id].phrasing_id)
    assert changed > len(shared) // 3
    # Identical question parameters keep their id whatever the seed.
    assert all(i.gold == ours[i.id].gold for i in shared)


def test_options_are_validated() -> None:
    with pytest.raises(BuildError):
        BuildOptions(per_template=0)
    with pytest.raises(BuildError):
        BuildOptions(max_category_ratio=0.5)
