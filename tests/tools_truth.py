"""Ground truth and output parsing shared by the evidence-tool tests over HTTP.

``tests/tools/test_tools_http.py`` (the embedded server, all 41 patients) and
``tests/conformance/test_tools_on_sekmet.py`` (ours and sekmet-fhir, five patients) check the
same tools the same way. Test modules import this by its unique name, as they do
``fhir_ground_truth`` (every test folder has a conftest, so ``from conftest import`` is
ambiguous).

Expected values come from the raw resources (plain dicts read with gzip+json, dates read
straight from the elements that hold them); nothing here calls the tools' own date or code
logic. Tool output is only parsed: citation handles are mapped back to ``Type/id`` with the
session's own registry.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Protocol

from tools.fhir import FHIRClient
from tools.session import EvidenceSession

__all__ = [
    "AS_OF",
    "BIG",
    "HANDLE",
    "LABELS",
    "SUMMARY",
    "RawRecords",
    "age",
    "assert_items_under_their_encounters",
    "assert_overview_matches",
    "cited",
    "ids_of",
    "loinc",
    "mid_record_day",
    "numeric_series",
    "raw_day",
    "raw_until",
    "session_for",
    "value_of",
]

AS_OF = date(2019, 6, 1)
BIG = 50_000  # output budget large enough that nothing is cut

HANDLE = re.compile(r"\[([A-Z]+\d+)\]")

#: Overview section label -> resource type (the labels the overview prints).
LABELS = {
    "Conditions": "Condition",
    "Allergies": "AllergyIntolerance",
    "Medications": "MedicationRequest",
    "Observations": "Observation",
    "Immunizations": "Immunization",
    "Procedures": "Procedure",
    "Care plans": "CarePlan",
    "Reports": "DiagnosticReport",
    "Encounters": "Encounter",
    "Imaging studies": "ImagingStudy",
    "Images": "Media",
    "Documents": "DocumentReference",
}

#: The summary line of ``observation_series``.
SUMMARY = re.compile(
    r"n=(?P<n>\d+), first (?P<first>[-\d.]+) on (?P<first_day>[\d-]+) \[(?P<first_h>\w+)\], "
    r"last (?P<last>[-\d.]+) on (?P<last_day>[\d-]+) \[(?P<last_h>\w+)\], "
    r"min (?P<min>[-\d.]+) on [\d-]+ \[(?P<min_h>\w+)\], "
    r"max (?P<max>[-\d.]+) on [\d-]+ \[(?P<max_h>\w+)\], mean (?P<mean>[-\d.]+)"
)


class RawRecords(Protocol):
    """Raw resources by key and by patient (``fhir_ground_truth.RawSynthea``, ``Truth``)."""

    resources: dict[tuple[str, str], dict[str, Any]]

    def of(self, patient_id: str, resource_type: str) -> list[dict[str, Any]]: ...


# --- ground truth from the raw resources -------------------------------------------------


def raw_day(resource: dict[str, Any]) -> str:
    """The clinical day of a raw Synthea resource, read from the element that holds it."""
    rt = resource["resourceType"]
    if rt in ("Observation", "DiagnosticReport"):
        value = resource["effectiveDateTime"]
    elif rt in ("Condition", "AllergyIntolerance"):
        value = resource.get("onsetDateTime") or resource["recordedDate"]
    elif rt == "MedicationRequest":
        value = resource["authoredOn"]
    elif rt in ("Encounter", "CarePlan"):
        value = resource["period"]["start"]
    elif rt == "Procedure":
        value = resource.get("performedDateTime") or resource["performedPeriod"]["start"]
    elif rt == "Immunization":
        value = resource["occurrenceDateTime"]
    elif rt == "ImagingStudy":
        value = resource["started"]
    else:
        raise AssertionError(f"no clinical date rule for {rt}")
    return str(value)[:10]


def raw_until(raw: RawRecords, pid: str, rt: str, as_of: date = AS_OF) -> list[dict[str, Any]]:
    """The patient's resources of one type dated on or before ``as_of``."""
    return [r for r in raw.of(pid, rt) if raw_day(r) <= as_of.isoformat()]


def loinc(resource: dict[str, Any]) -> str:
    return str(resource["code"]["coding"][0]["code"])


def age(birth: str, when: str) -> int:
    b, w = date.fromisoformat(birth[:10]), date.fromisoformat(when[:10])
    return w.year - b.year - ((w.month, w.day) < (b.month, b.day))


def numeric_series(
    raw: RawRecords, pid: str, code: str, as_of: date = AS_OF, since: date = date.min
) -> list[tuple[str, float, str]]:
    """(day, value, id) of a LOINC code from ``since`` to ``as_of``, as result or component."""
    out = []
    for obs in raw_until(raw, pid, "Observation", as_of):
        if raw_day(obs) < since.isoformat():
            continue
        if loinc(obs) == code and "valueQuantity" in obs:
            out.append((raw_day(obs), float(obs["valueQuantity"]["value"]), obs["id"]))
        for comp in obs.get("component") or []:
            if comp["code"]["coding"][0]["code"] == code and "valueQuantity" in comp:
                out.append((raw_day(obs), float(comp["valueQuantity"]["value"]), obs["id"]))
    return sorted(out)


def value_of(raw: RawRecords, ref: str, code: str) -> float:
    """The value of a LOINC code in the Observation ``ref``, as its result or a component."""
    obs = raw.resources[("Observation", ref.split("/", 1)[1])]
    if loinc(obs) == code:
        return float(obs["valueQuantity"]["value"])
    (comp,) = [c for c in obs["component"] if c["code"]["coding"][0]["code"] == code]
    return float(comp["valueQuantity"]["value"])


def mid_record_day(raw: RawRecords, pid: str) -> date:
    """The median clinical day of the patient's record (so as_of cuts the record in two)."""
    days = sorted(
        raw_day(r)
        for rt in {*LABELS.values()} - {"Media", "DocumentReference"}
        for r in raw.of(pid, rt)
    )
    return date.fromisoformat(days[len(days) // 2])


# --- tool sessions and their output ------------------------------------------------------


def session_for(
    client: FHIRClient, pid: str, as_of: date = AS_OF, output_tokens: int = BIG
) -> EvidenceSession:
    return EvidenceSession(client, pid, as_of=as_of, output_tokens=output_tokens)


def cited(session: EvidenceSession, text: str) -> list[str]:
    """``Type/id`` of every handle in ``text``; each must resolve to shown evidence."""
    refs = []
    for handle in HANDLE.findall(text):
        ref = session.resolve_citation(handle)
        assert ref is not None, f"handle [{handle}] in the output does not resolve"
        refs.append(ref)
    return refs


def ids_of(refs: list[str], rt: str) -> set[str]:
    return {r.split("/", 1)[1] for r in refs if r.startswith(rt + "/")}


# --- checks of tool output against the raw record ----------------------------------------


def raw_demographics(patient: dict[str, Any]) -> dict[str, str]:
    """Language, race and ethnicity as the raw Patient records them (the first coding's
    display; the US Core OMB category display), for the ones present."""
    found: dict[str, str] = {}
    languages = [c["language"]["coding"][0]["display"] for c in patient.get("communication", [])]
    if languages:
        found["language"] = " and ".join(languages)
    for label in ("race", "ethnicity"):
        url = f"http://hl7.org/fhir/us/core/StructureDefinition/us-core-{label}"
        for extension in patient.get("extension", []):
            if extension["url"] == url:
                omb = [p["valueCoding"]["display"] for p in extension["extension"]
                       if p["url"] == "ombCategory"]  # fmt: skip
                found[label] = " and ".join(omb)
    return found


def assert_overview_matches(
    session: EvidenceSession, text: str, raw: RawRecords, pid: str, as_of: date
) -> None:
    """``record_overview`` text against the raw record: patient line, counts, citations."""
    first = text.splitlines()[0]
    patient = raw.resources[("Patient", pid)]
    birth = patient["birthDate"]
    assert first.startswith("Patient: ")
    assert f", {patient['gender']}, born {birth}, " in first, pid
    died = patient.get("deceasedDateTime")
    if died and died[:10] <= as_of.isoformat():
        assert f"died {died[:10]} (age {age(birth, died)} at death)" in first, pid
    else:
        assert f"age {age(birth, as_of.isoformat())} as of {as_of.isoformat()}" in first, pid
    assert session.resolve_citation(HANDLE.findall(first)[-1]) == f"Patient/{pid}"
    for label, value in raw_demographics(patient).items():
        assert f", {label} {value}" in first, (pid, label)

    expected = {rt: n for rt in set(LABELS.values()) if (n := len(raw_until(raw, pid, rt, as_of)))}
    shown = {
        LABELS[m.group(1)]: int(m.group(2))
        for m in re.finditer(rf"(?m)^({'|'.join(LABELS)}) \((\d+)[,)]", text)
    }
    assert shown == expected, pid
    total = re.search(r"Record: (\d+) clinical resources", text)
    assert total is not None
    assert int(total.group(1)) == sum(expected.values()), pid
    # every citation names a resource of this patient, dated on or before as_of
    for ref in cited(session, text):
        rt, rid = ref.split("/", 1)
        resource = raw.resources[(rt, rid)]
        if rt != "Patient":
            assert f"Patient/{pid}" in str(resource), (pid, ref)
            assert raw_day(resource) <= as_of.isoformat(), (pid, ref)


def assert_items_under_their_encounters(
    session: EvidenceSession, text: str, raw: RawRecords
) -> None:
    """Each ``  - `` item line of a timeline cites only resources of the encounter above it.

    Read from the raw resources' ``encounter`` reference; the timeline must list some item.
    """
    current: str | None = None
    items = 0
    for line in text.splitlines()[1:]:
        refs = cited(session, line)
        if not line.startswith("  - "):
            current = refs[-1] if refs else None
            continue
        assert current is not None
        assert current.startswith("Encounter/")
        for ref in refs:
            rt, rid = ref.split("/", 1)
            assert raw.resources[(rt, rid)]["encounter"]["reference"] == current, (line, ref)
            items += 1
    assert items > 0
