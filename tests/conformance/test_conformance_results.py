"""What comes back: paging, sorting, counts, subsets, includes and $everything, on both servers.

Same setup as the filter tests (``conftest.py``); each assertion cites the R4 text it checks,
and known sekmet deviations are pinned as such (README.md in this folder).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from conformance_http import Server, Unsupported
from conformance_truth import (
    SUPPLEMENT_PATIENT,
    Truth,
    date_range,
    period_range,
    references,
)

pytestmark = pytest.mark.sekmet

SUBSETTED = "SUBSETTED"
# Referenced types our $everything adds to the compartment (fhir_fixtures/server docs).
SUPPORTING_TYPES = {"Organization", "Practitioner", "PractitionerRole", "Location", "Medication"}


def _links(bundle: dict[str, Any]) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle.get("link", [])}


# --- paging -----------------------------------------------------------------------------


@pytest.mark.parametrize("sort", [None, "-date"])
@pytest.mark.parametrize("count", [23, 101])
def test_paging_covers_every_match_once(
    ours: Server, sekmet: Server, truth: Truth, patients: list[str], count: int, sort: str | None
) -> None:
    """search.html#count: pages of at most _count, and links that repeat _count."""
    for pid in patients:
        expected = {o["id"] for o in truth.of(pid, "Observation")}
        params = [("patient", pid), ("_count", str(count))]
        if sort:
            params.append(("_sort", sort))
        for server in (ours, sekmet):
            result = server.search("/Observation", params)
            assert result.ids == expected, server.name
            assert len(result.pages) == math.ceil(len(expected) / count), server.name
            for page in result.pages[:-1]:
                assert f"_count={count}" in _links(page)["next"], server.name
            if sort:
                moments = [date_range(o["effectiveDateTime"])[0] for o in result.matches]
                assert moments == sorted(moments, reverse=True), server.name


# --- sorting ----------------------------------------------------------------------------


def _key(resource: dict[str, Any]) -> float:
    if resource["resourceType"] == "Observation":
        return date_range(resource["effectiveDateTime"])[0]
    if resource["resourceType"] == "Encounter":
        return period_range(resource["period"])[0]
    if resource["resourceType"] == "Condition":
        return date_range(resource["onsetDateTime"])[0]
    return date_range(resource["birthDate"])[0]


@pytest.mark.parametrize(
    ("rtype", "sort"),
    [
        ("Observation", "date"),
        ("Observation", "-date"),
        ("Encounter", "-date"),
        ("Condition", "-onset-date"),
        ("Observation", "_id"),
    ],
)
def test_sort_within_a_patient(
    ours: Server, sekmet: Server, truth: Truth, patients: list[str], rtype: str, sort: str
) -> None:
    """search.html#sort: the order of the sort keys; ties may come in any order."""
    for pid in patients:
        resources = truth.of(pid, rtype)
        descending = sort.startswith("-")
        if sort == "_id":
            expected_keys: list[Any] = sorted(r["id"] for r in resources)
        else:
            expected_keys = sorted((_key(r) for r in resources), reverse=descending)
        for server in (ours, sekmet):
            result = server.search(f"/{rtype}", [("patient", pid), ("_sort", sort)])
            got = [r["id"] if sort == "_id" else _key(r) for r in result.matches]
            assert got == expected_keys, (server.name, sort)
            assert result.ids == {r["id"] for r in resources}


@pytest.mark.parametrize("sort", ["birthdate", "-birthdate"])
def test_sort_patients_by_birthdate(ours: Server, sekmet: Server, truth: Truth, sort: str) -> None:
    expected = sorted((_key(p) for p in truth.all_of("Patient")), reverse=sort.startswith("-"))
    for server in (ours, sekmet):
        got = [_key(p) for p in server.search("/Patient", [("_sort", sort)]).matches]
        assert got == expected, server.name


# --- _summary=count and _count=0 ---------------------------------------------------------


@pytest.mark.parametrize("form", [("_summary", "count"), ("_count", "0")])
def test_count_only(
    ours: Server, sekmet: Server, truth: Truth, patients: list[str], form: tuple[str, str]
) -> None:
    """search.html#count: '_count=0 shall be treated the same as _summary=count': the
    total, no entries, and no prev/next/last links."""
    for pid in patients:
        for server in (ours, sekmet):
            response = server.get("/Observation", [("patient", pid), form])
            assert response.status_code == 200
            bundle = response.json()
            assert bundle["total"] == len(truth.of(pid, "Observation")), server.name
            assert "entry" not in bundle
            assert not {"next", "previous", "prev", "last"} & set(_links(bundle)), server.name


# --- _elements --------------------------------------------------------------------------


def _tags(resource: dict[str, Any]) -> set[str]:
    return {t.get("code", "") for t in resource.get("meta", {}).get("tag", [])}


def test_elements_subsets_and_marks(
    ours: Server, sekmet: Server, truth: Truth, patients: list[str]
) -> None:
    """search.html#elements: the listed elements (plus id/meta, and on ours the mandatory
    ones: see below), tagged SUBSETTED."""
    for pid in patients:
        raw = {o["id"]: o for o in truth.of(pid, "Observation")}
        for server in (ours, sekmet):
            params = [("patient", pid), ("_elements", "code,valueQuantity")]
            result = server.search("/Observation", params)
            assert result.ids == set(raw), server.name
            for resource in result.matches:
                source = raw[resource["id"]]
                listed = {"resourceType", "id", "meta", "code", "valueQuantity"}
                assert set(resource) <= listed | ({"status"} if server is ours else set())
                assert resource["code"] == source["code"]
                assert resource.get("valueQuantity") == source.get("valueQuantity")
                assert SUBSETTED in _tags(resource), server.name


def _mandatory_kept(server: Server, pid: str) -> bool:
    result = server.search("/Observation", [("patient", pid), ("_elements", "code")])
    return all("status" in r for r in result.matches)


def test_elements_keeps_mandatory_elements_ours(ours: Server, patients: list[str]) -> None:
    assert _mandatory_kept(ours, patients[0])


def test_elements_drops_mandatory_elements_sekmet(sekmet: Server, patients: list[str]) -> None:
    # sekmet 0.1.1 departs from the same SHOULD: pinned so that a fix shows up here.
    assert not _mandatory_kept(sekmet, patients[0])


# --- _include ---------------------------------------------------------------------------


def test_include_observation_encounter_per_page(
    ours: Server, sekmet: Server, truth: Truth, patients: list[str]
) -> None:
    """search.html#include: included resources come with each page, for that page's matches."""
    for pid in patients:
        for server in (ours, sekmet):
            params = [
                ("patient", pid),
                ("_include", "Observation:encounter"),
                ("_count", "50"),
                ("_sort", "date"),
            ]
            result = server.search("/Observation", params)
            assert result.ids == {o["id"] for o in truth.of(pid, "Observation")}
            for page in result.pages:
                entries = page.get("entry", [])
                matches = [e["resource"] for e in entries if e["search"]["mode"] == "match"]
                included = [e["resource"] for e in entries if e["search"]["mode"] == "include"]
                wanted = {o["encounter"]["reference"].split("/")[1] for o in matches}
                assert {r["id"] for r in included} == wanted, server.name
                assert len(included) == len(wanted), server.name
                assert {r["resourceType"] for r in included} <= {"Encounter"}


def test_include_medication_request_medication(ours: Server, sekmet: Server, truth: Truth) -> None:
    requests = truth.of(SUPPLEMENT_PATIENT, "MedicationRequest")
    wanted = {
        r["medicationReference"]["reference"].split("/")[1]
        for r in requests
        if "medicationReference" in r
    }
    assert len(wanted) == 2
    for server in (ours, sekmet):
        params = [("patient", SUPPLEMENT_PATIENT), ("_include", "MedicationRequest:medication")]
        result = server.search("/MedicationRequest", params)
        assert result.ids == {r["id"] for r in requests}, server.name
        assert sorted(r["id"] for r in result.includes) == sorted(wanted), server.name
        assert {r["resourceType"] for r in result.includes} == {"Medication"}


def test_include_medication_on_synthea_adds_nothing(
    ours: Server, sekmet: Server, truth: Truth, patients: list[str]
) -> None:
    # Synthea R4 prescribes with medicationCodeableConcept: a valid include with no targets.
    pid = patients[0]
    for server in (ours, sekmet):
        params = [("patient", pid), ("_include", "MedicationRequest:medication")]
        result = server.search("/MedicationRequest", params)
        assert result.ids == {r["id"] for r in truth.of(pid, "MedicationRequest")}
        assert result.includes == []


# --- $everything ------------------------------------------------------------------------


def _supporting(truth: Truth, pid: str) -> set[tuple[str, str]]:
    """Existing resources outside the compartment that its resources reference."""
    compartment = {(r["resourceType"], r["id"]) for r in truth.by_patient[pid]}
    found: set[tuple[str, str]] = set()
    for resource in truth.by_patient[pid]:
        found |= references(resource)
    return {key for key in found - compartment if key in truth.resources}


@pytest.mark.parametrize("which", [0, 1, 2, "supplement"])
def test_everything(
    ours: Server, sekmet: Server, truth: Truth, patients: list[str], which: Any
) -> None:
    """R4 Patient/$everything: the patient, its compartment, and 'whatever resources are
    needed to support the records' (which ones is the server's choice)."""
    pid = SUPPLEMENT_PATIENT if which == "supplement" else patients[which]
    compartment = {(r["resourceType"], r["id"]) for r in truth.by_patient[pid]}
    supporting = _supporting(truth, pid)

    got = ours.search(f"/Patient/{pid}/$everything", [("_count", "200")])
    keys = {(r["resourceType"], r["id"]) for r in got.matches}
    assert keys == compartment | {k for k in supporting if k[0] in SUPPORTING_TYPES}
    assert (got.matches[0]["resourceType"], got.matches[0]["id"]) == ("Patient", pid)
    assert all(len(page.get("entry", [])) <= 200 for page in got.pages)

    response = sekmet.get(f"/Patient/{pid}/$everything", [("_count", "10")])
    assert response.status_code == 200
    bundle = response.json()
    entries = [e["resource"] for e in bundle["entry"]]
    keys = {(r["resourceType"], r["id"]) for r in entries}
    goals = {k for k in compartment if k[0] == "Goal"}
    # sekmet 0.1.1: Goal has no search parameters, so goals are not in its compartment...
    assert keys & compartment == compartment - goals
    assert keys - compartment <= supporting
    # ...and it answers one page whatever _count says, with no links at all.
    assert len(entries) == bundle["total"] == len(keys)
    if len(compartment) > 10:  # more than one page of _count=10 was due
        assert len(entries) > 10
    assert "link" not in bundle


# --- strict handling and CapabilityStatements -------------------------------------------

# Every (type, parameter) the suite sends, with a value of the right kind.
SENT = [
    ("Observation", "patient", "x"),
    ("Observation", "subject", "x"),
    ("Observation", "code", "x"),
    ("Observation", "category", "x"),
    ("Observation", "status", "x"),
    ("Observation", "date", "2019"),
    ("Observation", "value-quantity", "5"),
    ("Observation", "encounter", "x"),
    ("Condition", "clinical-status", "x"),
    ("Condition", "onset-date", "2019"),
    ("Encounter", "date", "2019"),
    ("Encounter", "status", "x"),
    ("MedicationRequest", "authoredon", "2019"),
    ("MedicationRequest", "medication", "x"),
    ("Procedure", "date", "2019"),
    ("Immunization", "date", "2019"),
    ("Goal", "patient", "x"),
    ("Patient", "name", "x"),
    ("Patient", "family", "x"),
    ("Patient", "given", "x"),
    ("Patient", "birthdate", "2019"),
    ("Patient", "gender", "x"),
    ("Patient", "identifier", "x"),
]


@pytest.mark.parametrize(("rtype", "param", "value"), SENT)
def test_capability_statement_matches_behaviour(
    ours: Server, sekmet: Server, rtype: str, param: str, value: str
) -> None:
    """A parameter is declared in /metadata exactly when a strict search accepts it."""
    for server in (ours, sekmet):
        response = server.get(f"/{rtype}", [(param, value), ("_summary", "count")])
        assert response.status_code in (200, 400), server.name
        assert (response.status_code == 200) == server.declares(rtype, param), (
            server.name,
            rtype,
            param,
        )


def test_unknown_parameter_is_an_error_when_strict(ours: Server, sekmet: Server) -> None:
    """search.html#errors: with handling=strict, an unknown parameter is an error."""
    for server in (ours, sekmet):
        with pytest.raises(Unsupported, match="colour"):
            server.search("/Observation", [("colour", "blue")])
