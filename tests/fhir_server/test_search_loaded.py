"""Search over real HTTP against the 41 loaded Synthea patients, checked against the raw files."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fhir_ground_truth import RawSynthea, ids, search_all

LOINC = "http://loinc.org"
PATIENT_TYPES = [
    "Observation",
    "Condition",
    "MedicationRequest",
    "Encounter",
    "Procedure",
    "Immunization",
    "AllergyIntolerance",
    "DiagnosticReport",
    "CarePlan",
    "ImagingStudy",
    "Claim",
    "ExplanationOfBenefit",
    "Goal",
]


def _count(client: httpx.Client, url: str, **params: str) -> int:
    response = client.get(url, params={**params, "_summary": "count"})
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert "entry" not in bundle
    return int(bundle["total"])


def _busiest(raw: RawSynthea) -> str:
    return max(raw.patients, key=lambda pid: len(raw.of(pid, "Observation")))


def test_every_type_count_per_patient_matches_raw_bundles(
    fhir: httpx.Client, raw_synthea: RawSynthea
) -> None:
    mismatches = []
    for pid in raw_synthea.patients:
        for rtype in PATIENT_TYPES:
            expected = len(raw_synthea.of(pid, rtype))
            got = _count(fhir, f"/{rtype}", patient=pid)
            if got != expected:
                mismatches.append((pid, rtype, expected, got))
    assert mismatches == []


def test_total_counts_per_type(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    expected = Counter(t for t, _ in raw_synthea.resources)
    for rtype in [*PATIENT_TYPES, "Patient", "Organization", "Practitioner"]:
        assert _count(fhir, f"/{rtype}") == expected[rtype], rtype


def test_patient_reference_forms_are_equivalent(
    fhir: httpx.Client, raw_synthea: RawSynthea
) -> None:
    pid = _busiest(raw_synthea)
    expected = len(raw_synthea.of(pid, "Observation"))
    base = str(fhir.base_url).rstrip("/")
    for value in (pid, f"Patient/{pid}", f"{base}/Patient/{pid}"):
        assert _count(fhir, "/Observation", patient=value) == expected
        assert _count(fhir, "/Observation", subject=value) == expected
    assert _count(fhir, "/Observation", **{"subject:Patient": pid}) == expected


def _codes(concept: dict[str, Any] | None) -> set[tuple[str, str]]:
    return {(c.get("system", ""), c["code"]) for c in (concept or {}).get("coding", [])}


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        (f"{LOINC}|4548-4", lambda codes: (LOINC, "4548-4") in codes),
        ("4548-4", lambda codes: any(code == "4548-4" for _, code in codes)),
        ("|4548-4", lambda codes: ("", "4548-4") in codes),
        (f"{LOINC}|", lambda codes: any(system == LOINC for system, _ in codes)),
        (
            f"{LOINC}|4548-4,{LOINC}|2339-0",
            lambda codes: bool(codes & {(LOINC, "4548-4"), (LOINC, "2339-0")}),
        ),
    ],
)
def test_code_token_forms(
    fhir: httpx.Client, raw_synthea: RawSynthea, value: str, matches: Any
) -> None:
    expected = {o["id"] for o in raw_synthea.all_of("Observation") if matches(_codes(o["code"]))}
    assert _count(fhir, "/Observation", code=value) == len(expected)
    for pid in list(raw_synthea.patients)[:8]:
        mine = {o["id"] for o in raw_synthea.of(pid, "Observation") if matches(_codes(o["code"]))}
        assert ids(search_all(fhir, "/Observation", {"patient": pid, "code": value})) == mine


def test_systolic_lives_in_components_of_the_bp_panel(
    fhir: httpx.Client, raw_synthea: RawSynthea
) -> None:
    observations = raw_synthea.all_of("Observation")
    top = {o["id"] for o in observations if (LOINC, "8480-6") in _codes(o["code"])}
    inside = {
        o["id"]
        for o in observations
        if any((LOINC, "8480-6") in _codes(c["code"]) for c in o.get("component", []))
    }
    assert top == set()
    assert inside
    assert _count(fhir, "/Observation", code=f"{LOINC}|8480-6") == 0
    assert _count(fhir, "/Observation", **{"component-code": f"{LOINC}|8480-6"}) == len(inside)
    assert _count(fhir, "/Observation", **{"combo-code": "8480-6"}) == len(inside | top)


def test_code_text_modifier_matches_display_words(
    fhir: httpx.Client, raw_synthea: RawSynthea
) -> None:
    def texts(o: dict[str, Any]) -> list[str]:
        return [o["code"].get("text", "")] + [c.get("display", "") for c in o["code"]["coding"]]

    def matches(o: dict[str, Any], word: str) -> bool:
        return any(t.lower().startswith(word) or f" {word}" in t.lower() for t in texts(o))

    for word in ("hemoglobin", "a1c", "glucose"):
        expected = {o["id"] for o in raw_synthea.all_of("Observation") if matches(o, word)}
        assert expected, word
        assert ids(search_all(fhir, "/Observation", {"code:text": word.upper()})) == expected


def test_category_and_status_tokens(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    pid = _busiest(raw_synthea)
    for category in ("vital-signs", "laboratory", "survey"):
        expected = {
            o["id"]
            for o in raw_synthea.of(pid, "Observation")
            if any(c["code"] == category for cat in o["category"] for c in cat["coding"])
        }
        got = search_all(fhir, "/Observation", {"patient": pid, "category": category})
        assert ids(got) == expected
    for status in ("active", "resolved"):
        expected = {
            c["id"]
            for c in raw_synthea.all_of("Condition")
            if any(x["code"] == status for x in c["clinicalStatus"]["coding"])
        }
        assert ids(search_all(fhir, "/Condition", {"clinical-status": status})) == expected
    finals = {o["id"] for o in raw_synthea.of(pid, "Observation") if o["status"] == "final"}
    assert ids(search_all(fhir, "/Observation", {"patient": pid, "status": "final"})) == finals
    not_final = search_all(fhir, "/Observation", {"patient": pid, "status:not": "final"})
    assert ids(not_final) == ids(raw_synthea.of(pid, "Observation")) - finals


# --- dates -------------------------------------------------------------------------------


def _range(text: str) -> tuple[datetime, datetime]:
    """The implicit range of a FHIR date/dateTime, computed independently of the server."""
    if len(text) == 4:
        start = datetime(int(text), 1, 1, tzinfo=UTC)
        return start, start.replace(year=start.year + 1)
    if len(text) == 7:
        start = datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=UTC)
        nxt = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        return start, nxt
    if len(text) == 10:
        start = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return start, start + timedelta(days=1)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment, moment + timedelta(seconds=1)


def _matches(prefix: str, search: str, target: tuple[datetime, datetime]) -> bool:
    s_lo, s_hi = _range(search)
    t_lo, t_hi = target
    contained = s_lo <= t_lo and t_hi <= s_hi
    return {
        "eq": contained,
        "ne": not contained,
        "gt": t_hi > s_hi,
        "lt": t_lo < s_lo,
        "ge": t_hi > s_hi or contained,
        "le": t_lo < s_lo or contained,
        "sa": t_lo >= s_hi,
        "eb": t_hi <= s_lo,
    }[prefix]


PREFIXES = ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("value", ["2015", "2016-07", "2017-03-14", "2014-05-23T10:00:00+00:00"])
def test_observation_date_prefixes(
    fhir: httpx.Client, raw_synthea: RawSynthea, prefix: str, value: str
) -> None:
    pid = _busiest(raw_synthea)
    observations = raw_synthea.of(pid, "Observation")
    expected = {
        o["id"] for o in observations if _matches(prefix, value, _range(o["effectiveDateTime"]))
    }
    got = search_all(fhir, "/Observation", {"patient": pid, "date": prefix + value})
    assert ids(got) == expected


def test_date_prefix_on_an_exact_instant_finds_the_observation(
    fhir: httpx.Client, raw_synthea: RawSynthea
) -> None:
    pid = _busiest(raw_synthea)
    target = raw_synthea.of(pid, "Observation")[0]
    same = {
        o["id"]
        for o in raw_synthea.of(pid, "Observation")
        if o["effectiveDateTime"] == target["effectiveDateTime"]
    }
    got = search_all(fhir, "/Observation", {"patient": pid, "date": target["effectiveDateTime"]})
    assert ids(got) == same
    assert target["id"] in same


def test_date_range_and_is_intersection(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    pid = _busiest(raw_synthea)
    observations = raw_synthea.of(pid, "Observation")
    expected = {
        o["id"]
        for o in observations
        if _matches("ge", "2015-01", _range(o["effectiveDateTime"]))
        and _matches("lt", "2017", _range(o["effectiveDateTime"]))
    }
    got = fhir.get(
        "/Observation",
        params=[("patient", pid), ("date", "ge2015-01"), ("date", "lt2017"), ("_count", "1000")],
    )
    assert {e["resource"]["id"] for e in got.json().get("entry", [])} == expected


def _period(period: dict[str, str]) -> tuple[datetime, datetime]:
    low = _range(period["start"])[0] if "start" in period else datetime.min.replace(tzinfo=UTC)
    high = _range(period["end"])[1] if "end" in period else datetime.max.replace(tzinfo=UTC)
    return low, high


@pytest.mark.parametrize("prefix", PREFIXES)
def test_encounter_period_dates(fhir: httpx.Client, raw_synthea: RawSynthea, prefix: str) -> None:
    pid = _busiest(raw_synthea)
    expected = {
        e["id"]
        for e in raw_synthea.of(pid, "Encounter")
        if _matches(prefix, "2016", _period(e["period"]))
    }
    assert (
        ids(search_all(fhir, "/Encounter", {"patient": pid, "date": f"{prefix}2016"})) == expected
    )


@pytest.mark.parametrize(
    ("rtype", "param", "element"),
    [
        ("Condition", "onset-date", "onsetDateTime"),
        ("Condition", "recorded-date", "recordedDate"),
        ("Condition", "abatement-date", "abatementDateTime"),
        ("MedicationRequest", "authoredon", "authoredOn"),
        ("Immunization", "date", "occurrenceDateTime"),
        ("AllergyIntolerance", "date", "recordedDate"),
        ("DiagnosticReport", "date", "effectiveDateTime"),
        ("ImagingStudy", "started", "started"),
        ("Claim", "created", "created"),
        ("ExplanationOfBenefit", "created", "created"),
    ],
)
def test_type_specific_date_parameters(
    fhir: httpx.Client, raw_synthea: RawSynthea, rtype: str, param: str, element: str
) -> None:
    for prefix, value in (("ge", "2016-06"), ("lt", "2012"), ("eq", "2017")):
        expected = {
            r["id"]
            for r in raw_synthea.all_of(rtype)
            if element in r and _matches(prefix, value, _range(r[element]))
        }
        assert ids(search_all(fhir, f"/{rtype}", {param: prefix + value})) == expected, (
            prefix,
            value,
        )


def test_procedure_performed_period(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    expected = {
        p["id"]
        for p in raw_synthea.all_of("Procedure")
        if _matches("le", "2013-02", _period(p["performedPeriod"]))
    }
    assert ids(search_all(fhir, "/Procedure", {"date": "le2013-02"})) == expected


def test_invalid_date_is_a_400(fhir: httpx.Client) -> None:
    response = fhir.get("/Observation", params={"date": "ge2019-13-45"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


# --- sort, paging, summary, elements, include ------------------------------------------------


def test_sort_by_date_both_directions(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    pid = _busiest(raw_synthea)
    expected = sorted(
        raw_synthea.of(pid, "Observation"),
        key=lambda o: (_range(o["effectiveDateTime"])[0], o["id"]),
    )
    ascending = search_all(fhir, "/Observation", {"patient": pid, "_sort": "date"})
    assert [o["id"] for o in ascending] == [o["id"] for o in expected]
    descending = search_all(fhir, "/Observation", {"patient": pid, "_sort": "-date"})
    moments = [_range(o["effectiveDateTime"])[0] for o in descending]
    assert moments == sorted(moments, reverse=True)
    assert ids(descending) == ids(expected)


def test_sort_by_last_updated_and_type_date(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    pid = _busiest(raw_synthea)
    conditions = search_all(fhir, "/Condition", {"patient": pid, "_sort": "-date"})
    onsets = [_range(c["onsetDateTime"])[0] for c in conditions]
    assert onsets == sorted(onsets, reverse=True)
    assert len(conditions) == len(raw_synthea.of(pid, "Condition"))
    updated = search_all(fhir, "/Encounter", {"patient": pid, "_sort": "-_lastUpdated"})
    stamps = [e["meta"]["lastUpdated"] for e in updated]
    assert stamps == sorted(stamps, reverse=True)


def test_paging_covers_everything_once_with_stable_links(
    fhir: httpx.Client, raw_synthea: RawSynthea
) -> None:
    pid = _busiest(raw_synthea)
    expected = ids(raw_synthea.of(pid, "Observation"))
    seen: list[str] = []
    url: str | None = f"/Observation?patient={pid}&_count=37&_sort=-date"
    pages = 0
    while url:
        first = fhir.get(url).json()
        again = fhir.get(url).json()
        page_ids = [e["resource"]["id"] for e in first.get("entry", [])]
        assert page_ids == [e["resource"]["id"] for e in again.get("entry", [])]
        assert first["link"] == again["link"]
        assert first["total"] == len(expected)
        seen.extend(page_ids)
        links = {link["relation"]: link["url"] for link in first["link"]}
        if pages:
            assert "previous" in links
        url = links.get("next")
        pages += 1
    assert pages == -(-len(expected) // 37)
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


def test_count_limits_and_total_none(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    bundle = fhir.get("/Observation", params={"_count": "3"}).json()
    assert len(bundle["entry"]) == 3
    assert bundle["total"] == len(raw_synthea.all_of("Observation"))
    bundle = fhir.get("/Observation", params={"_count": "5000"}).json()
    assert len(bundle["entry"]) == 1000
    bundle = fhir.get("/Observation", params={"_total": "none", "_count": "2"}).json()
    assert "total" not in bundle
    assert len(bundle["entry"]) == 2
    assert any(link["relation"] == "next" for link in bundle["link"])
    default = fhir.get("/Observation").json()
    assert len(default["entry"]) == 50


def test_elements_subsets_and_tags(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    pid = _busiest(raw_synthea)
    bundle = fhir.get(
        "/Observation", params={"patient": pid, "_elements": "code,valueQuantity", "_count": "20"}
    ).json()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        # what was asked for, plus Observation's mandatory elements (R4: status, code)
        assert set(resource) <= {"resourceType", "id", "meta", "code", "valueQuantity", "status"}
        assert "code" in resource
        assert (
            resource["status"] == raw_synthea.resources[("Observation", resource["id"])]["status"]
        )
        assert "subject" not in resource
        assert any(t["code"] == "SUBSETTED" for t in resource["meta"]["tag"])


def test_include_medication_and_encounter(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    pid = _busiest(raw_synthea)
    bundle = fhir.get(
        "/Observation",
        params={
            "patient": pid,
            "_include": "Observation:encounter",
            "_count": "30",
            "_sort": "date",
        },
    ).json()
    matches = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    included = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    wanted = {o["encounter"]["reference"].split("/")[1] for o in matches}
    assert {r["id"] for r in included} == wanted
    assert {r["resourceType"] for r in included} == {"Encounter"}
    # Synthea R4 uses medicationCodeableConcept: the include must be valid and add nothing.
    bundle = fhir.get(
        "/MedicationRequest", params={"patient": pid, "_include": "MedicationRequest:medication"}
    ).json()
    assert bundle["total"] == len(raw_synthea.of(pid, "MedicationRequest"))
    assert all(e["search"]["mode"] == "match" for e in bundle.get("entry", []))
    bundle = fhir.get(
        "/Encounter",
        params={"patient": pid, "_include": "Encounter:service-provider", "_count": "5"},
    ).json()
    assert {
        e["resource"]["resourceType"] for e in bundle["entry"] if e["search"]["mode"] == "include"
    } == {"Organization"}


def test_revinclude_brings_observations_of_an_encounter(
    fhir: httpx.Client, raw_synthea: RawSynthea
) -> None:
    pid = _busiest(raw_synthea)
    encounter = raw_synthea.of(pid, "Encounter")[3]
    expected = {
        o["id"]
        for o in raw_synthea.of(pid, "Observation")
        if o["encounter"]["reference"] == f"Encounter/{encounter['id']}"
    }
    bundle = fhir.get(
        "/Encounter", params={"_id": encounter["id"], "_revinclude": "Observation:encounter"}
    ).json()
    assert {
        e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"
    } == expected


def test_value_quantity(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    pid = _busiest(raw_synthea)
    observations = [o for o in raw_synthea.of(pid, "Observation") if "valueQuantity" in o]
    cases = [
        ("gt100", lambda q: q["value"] > 100),
        ("le5.5", lambda q: q["value"] <= 5.5),
        ("ge70|http://unitsofmeasure.org|kg", lambda q: q["value"] >= 70 and q.get("code") == "kg"),
        ("lt200||mg/dL", lambda q: q["value"] < 200 and "mg/dL" in (q.get("code"), q.get("unit"))),
    ]
    for value, predicate in cases:
        expected = {o["id"] for o in observations if predicate(o["valueQuantity"])}
        assert expected, value
        assert (
            ids(search_all(fhir, "/Observation", {"patient": pid, "value-quantity": value}))
            == expected
        )
    sample = observations[0]["valueQuantity"]["value"]
    exact = {o["id"] for o in observations if abs(o["valueQuantity"]["value"] - sample) < 1e-9}
    got = ids(search_all(fhir, "/Observation", {"patient": pid, "value-quantity": repr(sample)}))
    assert exact <= got


def test_patient_demographic_parameters(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    patients = list(raw_synthea.patients.values())
    target = patients[5]
    family = target["name"][0]["family"]
    given = target["name"][0]["given"][0]

    def by(predicate: Any) -> set[str]:
        return {p["id"] for p in patients if predicate(p)}

    def names(p: dict[str, Any]) -> list[str]:
        return [
            part
            for n in p["name"]
            for part in [n.get("family", ""), *n.get("given", []), *n.get("prefix", [])]
        ]

    assert ids(search_all(fhir, "/Patient", {"family": family.lower()})) == by(
        lambda p: any(n.get("family", "").lower().startswith(family.lower()) for n in p["name"])
    )
    assert ids(search_all(fhir, "/Patient", {"given": given[:3]})) == by(
        lambda p: any(
            g.lower().startswith(given[:3].lower()) for n in p["name"] for g in n.get("given", [])
        )
    )
    assert ids(search_all(fhir, "/Patient", {"name": family[:4]})) == by(
        lambda p: any(x.lower().startswith(family[:4].lower()) for x in names(p))
    )
    assert target["id"] in ids(search_all(fhir, "/Patient", {"family:exact": family}))
    assert ids(search_all(fhir, "/Patient", {"family:exact": family.upper()})) == (
        set() if family != family.upper() else {target["id"]}
    )
    assert ids(search_all(fhir, "/Patient", {"gender": "female"})) == by(
        lambda p: p["gender"] == "female"
    )
    assert ids(search_all(fhir, "/Patient", {"birthdate": "lt1960"})) == by(
        lambda p: p["birthDate"] < "1960"
    )
    assert ids(search_all(fhir, "/Patient", {"birthdate": target["birthDate"]})) == by(
        lambda p: p["birthDate"] == target["birthDate"]
    )
    ssn = next(i for i in target["identifier"] if i["system"] == "http://hl7.org/fhir/sid/us-ssn")
    assert ids(search_all(fhir, "/Patient", {"identifier": f"{ssn['system']}|{ssn['value']}"})) == {
        target["id"]
    }
    assert ids(search_all(fhir, "/Patient", {"identifier": ssn["value"]})) == {target["id"]}


def test_everything_counts_and_pages(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    for pid in list(raw_synthea.patients)[:6]:
        compartment = {(r["resourceType"], r["id"]) for r in raw_synthea.by_patient[pid]}
        referenced = set()
        for resource in raw_synthea.by_patient[pid]:
            stack: list[Any] = [resource]
            while stack:
                node = stack.pop()
                if isinstance(node, dict):
                    ref = node.get("reference")
                    if isinstance(ref, str) and ref.split("/")[0] in (
                        "Organization",
                        "Practitioner",
                    ):
                        referenced.add(tuple(ref.split("/")))
                    stack.extend(v for k, v in node.items() if k != "contained")
                elif isinstance(node, list):
                    stack.extend(node)
        expected = compartment | {key for key in referenced if key in raw_synthea.resources}
        got = search_all(fhir, f"/Patient/{pid}/$everything")
        assert {(r["resourceType"], r["id"]) for r in got} == expected
        assert got[0]["resourceType"] == "Patient"
        assert got[0]["id"] == pid
    first = fhir.get(f"/Patient/{pid}/$everything", params={"_count": "10"}).json()
    assert first["total"] == len(expected)
    assert len(first["entry"]) == 10
    only = search_all(fhir, f"/Patient/{pid}/$everything", {"_type": "Condition,Patient"})
    assert {r["resourceType"] for r in only} <= {"Condition", "Patient"}
    assert len(only) == 1 + len(raw_synthea.of(pid, "Condition"))


def test_unknown_parameter_lenient_and_strict(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    pid = _busiest(raw_synthea)
    lenient = fhir.get("/Condition", params={"patient": pid, "bogus": "1"})
    assert lenient.status_code == 200
    bundle = lenient.json()
    assert bundle["total"] == len(raw_synthea.of(pid, "Condition"))
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "bogus" not in self_link
    assert "patient=" in self_link
    outcomes = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert len(outcomes) == 1
    assert "bogus" in outcomes[0]["resource"]["issue"][0]["diagnostics"]
    strict = fhir.get(
        "/Condition", params={"patient": pid, "bogus": "1"}, headers={"Prefer": "handling=strict"}
    )
    assert strict.status_code == 400
    assert strict.json()["resourceType"] == "OperationOutcome"
    assert "bogus" in strict.json()["issue"][0]["diagnostics"]
    unsupported_modifier = fhir.get("/Condition", params={"code:below": "123"})
    assert unsupported_modifier.status_code == 400


def test_capability_statement_lists_exactly_what_works(
    fhir: httpx.Client, raw_synthea: RawSynthea
) -> None:
    statement = fhir.get("/metadata").json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    required = {
        "Patient",
        "Observation",
        "Condition",
        "MedicationRequest",
        "Encounter",
        "Procedure",
        "Immunization",
        "AllergyIntolerance",
        "DiagnosticReport",
        "DocumentReference",
        "CarePlan",
        "ImagingStudy",
        "Media",
        "Binary",
        "Claim",
        "ExplanationOfBenefit",
        "Organization",
        "Practitioner",
    }
    assert required <= set(resources)
    assert {op["name"] for op in resources["Patient"]["operation"]} == {"everything"}
    assert {i["code"] for i in statement["rest"][0]["interaction"]} == {"transaction", "batch"}
    samples = {"token": "x", "string": "x", "date": "2019", "quantity": "5", "reference": "x"}
    for rtype, resource in resources.items():
        for param in resource["searchParam"]:
            response = fhir.get(
                f"/{rtype}",
                params={param["name"]: samples[param["type"]], "_summary": "count"},
                headers={"Prefer": "handling=strict"},
            )
            assert response.status_code == 200, (rtype, param["name"], response.text)
        for include in resource["searchInclude"]:
            response = fhir.get(
                f"/{rtype}",
                params={"_include": include, "_count": "1"},
                headers={"Prefer": "handling=strict"},
            )
            assert response.status_code == 200, (rtype, include, response.text)


def test_missing_modifier(fhir: httpx.Client, raw_synthea: RawSynthea) -> None:
    conditions = raw_synthea.all_of("Condition")
    ongoing = {c["id"] for c in conditions if "abatementDateTime" not in c}
    assert ongoing
    assert ongoing != ids(conditions)
    assert ids(search_all(fhir, "/Condition", {"abatement-date:missing": "true"})) == ongoing
    resolved = ids(search_all(fhir, "/Condition", {"abatement-date:missing": "false"}))
    assert resolved == ids(conditions) - ongoing
    no_value = {o["id"] for o in raw_synthea.all_of("Observation") if "valueQuantity" not in o}
    got = ids(search_all(fhir, "/Observation", {"value-quantity:missing": "true"}))
    assert got == no_value


def test_combo_value_quantity_reaches_components(
    fhir: httpx.Client, raw_synthea: RawSynthea
) -> None:
    pid = _busiest(raw_synthea)
    observations = raw_synthea.of(pid, "Observation")

    def values(o: dict[str, Any]) -> list[float]:
        found = [o["valueQuantity"]["value"]] if "valueQuantity" in o else []
        return found + [
            c["valueQuantity"]["value"] for c in o.get("component", []) if "valueQuantity" in c
        ]

    expected = {o["id"] for o in observations if any(v > 130 for v in values(o))}
    assert any("component" in o for o in observations if o["id"] in expected)
    got = ids(search_all(fhir, "/Observation", {"patient": pid, "combo-value-quantity": "gt130"}))
    assert got == expected
