"""EHR-grounded simulation cases, built deterministically from raw FHIR bundles.

A case is a visit (Encounter) at which exactly one diagnosis was recorded (a Condition
pointing at the encounter, with its onset on the visit day; findings such as "BMI 30+"
and situations such as "History of ..." do not count) and whose diagnosis has a
presenting complaint in :data:`~evals.simulation.complaints.COMPLAINTS` (a finding made
at a check-up also needs test results recorded at that visit). Then:

* the correct diagnosis is that Condition's display text;
* the patient agent knows the complaint, their demographics at the visit, and their
  history *before* the visit day (earlier conditions, recent medications, allergies,
  smoking status);
* the measurement agent knows the vital signs and results recorded at the visit and the
  latest earlier value of each measurement, with its date;
* the doctor can query the patient's record through our agent up to the day before the
  visit (``ehr.as_of``), so the visit's own diagnosis is never visible to it.

Bundles are read with plain json/gzip (:mod:`evals.builder.bundles`), never through the
agent's tools. Selection is deterministic: at most ``per_diagnosis`` visits per
diagnosis code, chosen and ordered by a hash of their ids, so the same bundles always
give the same file, and the order mixes symptomatic and screening cases.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from evals.builder.bundles import collect_bundle_paths, load_bundle, patient_records
from evals.builder.errors import BuildError
from evals.builder.record import PatientRecord, clean_text, concept_of, day_of, record_day, ref_key
from evals.simulation.complaints import COMPLAINTS, SNOMED, Complaint
from evals.simulation.errors import CaseBuildError
from evals.simulation.store import write_atomically

__all__ = ["CaseBuildReport", "build_ehr_cases", "write_case_file"]

Resource = Mapping[str, Any]

_EXCLUDED_TAGS = re.compile(r"\((finding|situation)\)\s*$", re.IGNORECASE)
_SEMANTIC_TAG = re.compile(r"\s*\((disorder|finding|procedure|situation)\)\s*$", re.IGNORECASE)
_SMOKING_LOINC = "72166-2"
_BLOOD_PRESSURE = ("8480-6", "8462-4")
_EARLIER_RESULTS = 25
_HISTORY_CONDITIONS = 15
_MEDICATION_WINDOW = timedelta(days=365)
_SETTINGS = {
    "EMER": "emergency department",
    "AMB": "clinic",
    "IMP": "hospital",
    "WELLNESS": "clinic",
    "OUTPATIENT": "clinic",
}


@dataclass
class CaseBuildReport:
    """What a build produced.

    Attributes:
        cases: The case lines (JSON objects), in file order.
        files: Bundle files read.
        patients: Patients found.
        candidates: Visits that qualified before the per-diagnosis selection.
        problems: Files that could not be read, with the reason (the others are used).
    """

    cases: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0
    patients: int = 0
    candidates: int = 0
    problems: list[tuple[Path, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Candidate:
    record: PatientRecord
    encounter: Resource
    condition: Resource
    code: str
    day: date

    @property
    def key(self) -> str:
        return hashlib.sha256(
            f"{self.record.patient_id}|{self.encounter['id']}".encode()
        ).hexdigest()


def build_ehr_cases(
    paths: Sequence[Path], *, per_diagnosis: int = 1, max_cases: int | None = None
) -> CaseBuildReport:
    """Build EHR-grounded cases from bundle files or folders.

    Args:
        paths: Bundle files (``.json``/``.json.gz``) or folders searched recursively.
        per_diagnosis: Most visits kept per diagnosis code.
        max_cases: Most cases kept in all.

    Raises:
        CaseBuildError: A path does not exist, or no visit qualifies.
    """
    try:
        files = collect_bundle_paths(list(paths))
    except BuildError as exc:
        raise CaseBuildError(str(exc)) from exc
    report = CaseBuildReport(files=len(files))
    candidates: list[_Candidate] = []
    for path in files:
        try:
            records = patient_records(load_bundle(path), path)
        except BuildError as exc:
            report.problems.append((path, str(exc)))
            continue
        report.patients += len(records)
        for record in records:
            candidates.extend(_candidates(record))
    report.candidates = len(candidates)
    by_code: dict[str, list[_Candidate]] = {}
    for candidate in sorted(candidates, key=lambda c: c.key):
        by_code.setdefault(candidate.code, []).append(candidate)
    chosen = [c for group in by_code.values() for c in group[:per_diagnosis]]
    cases = [_case(c) for c in chosen]
    cases.sort(key=lambda case: hashlib.sha256(case["id"].encode()).hexdigest())
    report.cases = cases[:max_cases] if max_cases is not None else cases
    if not report.cases:
        raise CaseBuildError(
            f"no visit in {len(files)} bundle file(s) qualifies for a case (a visit with "
            "exactly one diagnosis that has a presenting complaint)"
        )
    return report


def write_case_file(cases: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Write case lines as JSON Lines (atomically)."""
    write_atomically(path, "".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases))


def _candidates(record: PatientRecord) -> list[_Candidate]:
    at_encounter: dict[str, list[Resource]] = {}
    for condition in record.of_type("Condition"):
        encounter = record.resolve((condition.get("encounter") or {}).get("reference"))
        if encounter is None or encounter.get("resourceType") != "Encounter":
            continue
        at_encounter.setdefault(str(encounter["id"]), []).append(condition)
    found = []
    for encounter_id, conditions in sorted(at_encounter.items()):
        diagnoses = [c for c in conditions if not _EXCLUDED_TAGS.search(_display(c) or "")]
        if len(diagnoses) != 1:
            continue
        condition = diagnoses[0]
        concept = concept_of(condition.get("code"))
        encounter = record.by_id[encounter_id]
        day = record_day(encounter)
        if concept is None or concept.system != SNOMED or concept.code not in COMPLAINTS:
            continue
        if day is None or record_day(condition) != day:
            continue
        candidate = _Candidate(record, encounter, condition, concept.code, day)
        if COMPLAINTS[concept.code].screening and not any(
            _category(o) != "vital-signs" for o in _at_encounter(candidate)
        ):
            # A screening finding with no test at the visit cannot be worked out.
            continue
        found.append(candidate)
    return found


def _case(candidate: _Candidate) -> dict[str, Any]:
    record, day = candidate.record, candidate.day
    complaint = COMPLAINTS[candidate.code]
    age = _age(record.patient, day)
    sex = {"male": "male", "female": "female"}.get(str(record.patient.get("gender")), "")
    person = f"{age} {sex}".strip()
    setting = _SETTINGS.get(str((candidate.encounter.get("class") or {}).get("code")), "clinic")
    if complaint.screening:
        objective = (
            f"Evaluate a {person} patient at a routine check-up in the {setting} on "
            f"{day.isoformat()} and diagnose any new condition."
        )
    else:
        objective = (
            f"Evaluate and diagnose a {person} patient seen in the {setting} on "
            f"{day.isoformat()} with: {complaint.primary[0].lower()}{complaint.primary[1:]}."
        )
    patient_id = record.patient_id
    encounter_id = str(candidate.encounter["id"])
    return {
        "id": f"ehr-{patient_id[:8]}-{encounter_id[:8]}",
        "source": "ehr",
        "ehr": {
            "patient_id": patient_id,
            "as_of": (day - timedelta(days=1)).isoformat(),
            "encounter": f"Encounter/{encounter_id}",
            "condition": f"Condition/{candidate.condition['id']}",
            "diagnosis_code": f"{SNOMED}|{candidate.code}",
        },
        "OSCE_Examination": {
            "Objective_for_Doctor": objective,
            "Patient_Actor": _patient_actor(record, day, person, complaint),
            "Physical_Examination_Findings": {"Vital_Signs": _vital_signs(candidate)},
            "Test_Results": _test_results(candidate),
            "Correct_Diagnosis": _SEMANTIC_TAG.sub("", _display(candidate.condition) or ""),
        },
    }


def _patient_actor(
    record: PatientRecord, day: date, person: str, complaint: Complaint
) -> dict[str, Any]:
    earlier: dict[str, int] = {}
    for condition in sorted(record.of_type("Condition"), key=_day_key):
        when = record_day(condition)
        name = _SEMANTIC_TAG.sub("", _display(condition) or "")
        if when is not None and when < day and name and name not in earlier:
            earlier[name] = when.year
    history = [f"{name} ({year})" for name, year in earlier.items()][-_HISTORY_CONDITIONS:]
    medications = _names_between(
        record.of_type("MedicationRequest"),
        day - _MEDICATION_WINDOW,
        day,
        "medicationCodeableConcept",
    )
    allergies = _names_between(record.of_type("AllergyIntolerance"), date.min, day, "code")
    history_text = complaint.primary + "."
    if complaint.screening:
        history_text = "Came for a routine check-up and has no specific complaints."
    return {
        "Demographics": person,
        "History": history_text,
        "Symptoms": {
            "Primary_Symptom": complaint.primary,
            "Secondary_Symptoms": list(complaint.secondary),
        },
        "Past_Medical_History": "; ".join(history) or "None recorded.",
        "Current_Medications": "; ".join(medications) or "None in the past year.",
        "Allergies": "; ".join(allergies) or "None recorded.",
        "Social_History": _smoking(record, day),
        "Review_of_Systems": "Nothing else to report.",
    }


def _names_between(
    resources: Sequence[Resource], first: date, before: date, element: str
) -> list[str]:
    """Distinct display names of resources dated from ``first`` to the day before ``before``."""
    names: set[str] = set()
    for resource in resources:
        when = record_day(resource)
        label = _display(resource, element)
        if when is not None and first <= when < before and label:
            names.add(label)
    return sorted(names)


def _vital_signs(candidate: _Candidate) -> dict[str, str] | str:
    found = {
        name: value
        for observation in _at_encounter(candidate)
        if _category(observation) == "vital-signs"
        and (name := _display(observation))
        and (value := _value(observation))
    }
    return found or "Not recorded at this visit."


def _test_results(candidate: _Candidate) -> dict[str, Any]:
    this_visit = {
        name: value
        for observation in _at_encounter(candidate)
        if _category(observation) != "vital-signs"
        and _code(observation) != _SMOKING_LOINC
        and (name := _display(observation))
        and (value := _value(observation))
    }
    latest: dict[str, tuple[date, str]] = {}
    for observation in candidate.record.of_type("Observation"):
        when = record_day(observation)
        name = _display(observation)
        value = _value(observation)
        if when is None or when >= candidate.day or not name or not value:
            continue
        if _category(observation) not in ("laboratory", "vital-signs"):
            continue
        if name not in latest or latest[name][0] < when:
            latest[name] = (when, value)
    newest = sorted(latest.items(), key=lambda item: (item[1][0], item[0]), reverse=True)
    earlier = {
        name: f"{value} ({when.isoformat()})" for name, (when, value) in newest[:_EARLIER_RESULTS]
    }
    return {
        "This_Visit": this_visit or "No tests were recorded at this visit.",
        "Earlier_Results": earlier or "No earlier results.",
    }


def _at_encounter(candidate: _Candidate) -> list[Resource]:
    encounter_id = str(candidate.encounter["id"])
    return [
        observation
        for observation in candidate.record.of_type("Observation")
        if ref_key((observation.get("encounter") or {}).get("reference")) == encounter_id
    ]


def _smoking(record: PatientRecord, day: date) -> str:
    statuses = [
        (when, value)
        for observation in record.of_type("Observation")
        if _code(observation) == _SMOKING_LOINC
        and (when := record_day(observation)) is not None
        and when <= day
        and (value := _value(observation))
    ]
    return f"Smoking status: {max(statuses)[1]}." if statuses else "Not recorded."


def _age(patient: Resource, day: date) -> str:
    born = day_of(patient.get("birthDate"))
    if born is None:
        return "adult"
    months = (day.year - born.year) * 12 + day.month - born.month - (day.day < born.day)
    if months < 24:
        return f"{months}-month-old"
    return f"{months // 12}-year-old"


def _display(resource: Resource, element: str = "code") -> str | None:
    concept = concept_of(resource.get(element))
    if concept is not None and concept.display:
        return concept.display
    codeable = resource.get(element)
    return clean_text(codeable.get("text")) if isinstance(codeable, Mapping) else None


def _code(resource: Mapping[str, Any]) -> str | None:
    concept = concept_of(resource.get("code"))
    return concept.code if concept else None


def _category(observation: Resource) -> str | None:
    for category in observation.get("category") or []:
        concept = concept_of(category)
        if concept is not None:
            return concept.code
    return None


def _value(observation: Resource) -> str | None:
    components = {_code(c): c for c in observation.get("component") or [] if isinstance(c, Mapping)}
    if all(code in components for code in _BLOOD_PRESSURE):
        systolic, diastolic = (
            components[code].get("valueQuantity") or {} for code in _BLOOD_PRESSURE
        )
        if "value" in systolic and "value" in diastolic:
            unit = clean_text(systolic.get("unit")) or "mmHg"
            return f"{_number(systolic['value'])}/{_number(diastolic['value'])} {unit}"
    quantity = observation.get("valueQuantity")
    if isinstance(quantity, Mapping) and "value" in quantity:
        unit = clean_text(quantity.get("unit")) or ""
        return f"{_number(quantity['value'])} {unit}".strip()
    concept = concept_of(observation.get("valueCodeableConcept"))
    if concept is not None and concept.display:
        return _SEMANTIC_TAG.sub("", concept.display)
    return clean_text(observation.get("valueString"))


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _day_key(resource: Resource) -> tuple[str, str]:
    when = record_day(resource)
    return (when.isoformat() if when else "", str(resource.get("id")))
