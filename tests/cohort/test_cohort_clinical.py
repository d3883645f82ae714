"""What the cohort is for: longitudinal, treated chronic disease and imaging to attach images to.

Every check reads the raw bundles, so each is a fact a question-set builder can rely on.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

LOINC_HBA1C = "4548-4"
LOINC_LDL = "18262-6"
LOINC_BP = "55284-4"
SNOMED_T2DM = "44054006"
SNOMED_HTN = "59621000"
SNOMED_HLD = "55822004"
SNOMED_THORAX = "51185008"
RX_METFORMIN = "860975"
RX_STATINS = {"312961", "259255"}
RX_ANTIHYPERTENSIVES = {"314076", "310798", "308136"}
CVX_FLU = "140"


def _code(resource: dict[str, Any], field: str = "code") -> str:
    return str(resource[field]["coding"][0]["code"])


def _of(resources: list[dict[str, Any]], rtype: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == rtype]


def _condition(resources: list[dict[str, Any]], code: str) -> dict[str, Any] | None:
    found = [c for c in _of(resources, "Condition") if _code(c) == code]
    return found[0] if found else None


def _observations(resources: list[dict[str, Any]], code: str) -> list[tuple[str, Any]]:
    return sorted(
        (o["effectiveDateTime"], o.get("valueQuantity", {}).get("value", o.get("component")))
        for o in _of(resources, "Observation")
        if _code(o) == code
    )


def _prescriptions(resources: list[dict[str, Any]], codes: set[str]) -> list[dict[str, Any]]:
    return sorted(
        (m for m in _of(resources, "MedicationRequest")
         if _code(m, "medicationCodeableConcept") in codes),
        key=lambda m: m["authoredOn"],
    )  # fmt: skip


def test_diabetes_is_treated_with_metformin_after_diagnosis_and_hba1c_responds(
    records: list[list[dict[str, Any]]],
) -> None:
    treated = 0
    for resources in records:
        diabetes = _condition(resources, SNOMED_T2DM)
        if diabetes is None:
            continue
        metformin = _prescriptions(resources, {RX_METFORMIN})
        assert len(metformin) == 1
        started = metformin[0]["authoredOn"]
        assert started > diabetes["onsetDateTime"]
        assert metformin[0]["reasonReference"] == [{"reference": f"urn:uuid:{diabetes['id']}"}]
        a1c = _observations(resources, LOINC_HBA1C)
        at_start = [v for t, v in a1c if t <= started][-1]
        after = [v for t, v in a1c if t > started]
        assert len(after) >= 4
        assert min(after[:4]) < at_start - 0.8
        treated += 1
    assert treated >= 6


def test_hypertension_has_blood_pressures_over_years_and_a_drug_after_diagnosis(
    records: list[list[dict[str, Any]]],
) -> None:
    treated = 0
    for resources in records:
        hypertension = _condition(resources, SNOMED_HTN)
        if hypertension is None:
            continue
        drugs = _prescriptions(resources, RX_ANTIHYPERTENSIVES)
        assert drugs
        assert drugs[0]["authoredOn"] > hypertension["onsetDateTime"]
        readings = _observations(resources, LOINC_BP)
        years = {t[:4] for t, _ in readings}
        assert len(readings) >= 10
        assert len(years) >= 5
        components = {c["code"]["coding"][0]["code"] for _, comp in readings for c in comp}
        assert components == {"8480-6", "8462-4"}
        treated += 1
    assert treated >= 10


def test_hyperlipidemia_has_a_statin_and_ldl_falls(records: list[list[dict[str, Any]]]) -> None:
    treated = 0
    for resources in records:
        condition = _condition(resources, SNOMED_HLD)
        if condition is None:
            continue
        statins = _prescriptions(resources, RX_STATINS)
        assert statins[0]["authoredOn"] > condition["onsetDateTime"]
        ldl = _observations(resources, LOINC_LDL)
        before = [v for t, v in ldl if t <= statins[0]["authoredOn"]]
        after = [v for t, v in ldl if t > statins[0]["authoredOn"]]
        assert before
        assert after
        assert max(after) < before[-1]
        treated += 1
    assert treated >= 8


def test_the_cohort_covers_the_conditions_the_evals_ask_about(
    records: list[list[dict[str, Any]]],
) -> None:
    patients_with: Counter[str] = Counter()
    for resources in records:
        codes = {_code(c) for c in _of(resources, "Condition")}
        for label, wanted in {
            "diabetes": {SNOMED_T2DM},
            "hypertension": {SNOMED_HTN},
            "hyperlipidemia": {SNOMED_HLD},
            "asthma": {"195967001", "233678006"},
            "copd": {"185086009"},
            "ckd": {"431856006", "433144002"},
            "pneumonia": {"233604007"},
        }.items():
            if codes & wanted:
                patients_with[label] += 1
        kinds = {r["resourceType"] for r in resources}
        for rtype in ("AllergyIntolerance", "CarePlan", "Goal", "Procedure", "DiagnosticReport"):
            if rtype in kinds:
                patients_with[rtype] += 1
    assert all(patients_with[c] >= 2 for c in ("diabetes", "asthma", "copd", "ckd", "pneumonia"))
    assert patients_with["AllergyIntolerance"] >= 8
    assert patients_with["CarePlan"] >= 12


def test_adults_get_a_flu_shot_every_year(records: list[list[dict[str, Any]]]) -> None:
    for resources in records:
        patient = resources[0]
        if patient["birthDate"] > "2000":
            continue
        flu_years = {
            i["occurrenceDateTime"][:4]
            for i in _of(resources, "Immunization")
            if _code(i, "vaccineCode") == CVX_FLU
        }
        assert len(flu_years) >= 9, patient["id"]


def test_encounters_of_several_classes(records: list[list[dict[str, Any]]]) -> None:
    classes = Counter(
        e["class"]["code"] for resources in records for e in _of(resources, "Encounter")
    )
    assert set(classes) == {"AMB", "EMER", "IMP", "VR"}


def test_patients_with_chest_imaging_after_a_respiratory_visit(
    records: list[list[dict[str, Any]]], manifest: dict[str, Any]
) -> None:
    chest_patients = set()
    for resources in records:
        by_url = {f"urn:uuid:{r['id']}": r for r in resources}
        for study in _of(resources, "ImagingStudy"):
            site = study["series"][0]["bodySite"]["code"]
            if site != SNOMED_THORAX:
                continue
            reason = by_url[study["reasonReference"][0]["reference"]]
            assert _code(reason) in {"233604007", "10509002"}
            encounter = by_url[study["encounter"]["reference"]]
            assert encounter["period"]["start"] == study["started"]
            chest_patients.add(resources[0]["id"])
    assert len(chest_patients) >= 2
    imaged = {i["patient_id"] for i in manifest["images"]}
    assert imaged == chest_patients
    assert {i["content_type"] for i in manifest["images"]} == {"image/png", "application/dicom"}
