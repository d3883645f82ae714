"""The evidence tools over real HTTP against both servers: ours and sekmet-fhir 0.1.1.

The same suite runs against the embedded server and against sekmet (a server we did not
write), both loaded by ``conftest.py`` with the same five Synthea patients. Expected values
come from ``truth`` (the loaded files read with gzip+json); tool output is only parsed.
Citation handles in the text are mapped back to ``Type/id`` with the session's registry, so
"the tool showed X" means "the text the model reads cites X".

sekmet's documented defects (``fhir_fixtures.sekmet_harness``) do not reach these tools:
they never use ``$everything``, ``value-quantity``, ``Goal`` or ``ge``/``le`` dates, and
sekmet builds its paging links from the URL it serves on. (``view_image``, whose Binary read
sekmet answers 406, is not covered: the loaded Synthea data holds no image attachments.)
``_elements`` (the index fetch) is honoured by both servers; a test pins that, so a
fallback to full resources (or a silent over-fetch) would show.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from conformance_http import Server
from conformance_truth import Truth

from tools.fhir import FHIRClient, RequestEvent
from tools.records import CLINICAL_TYPES
from tools.session import EvidenceSession

AS_OF = date(2019, 6, 1)
BIG = 50_000  # output budget large enough that nothing is cut
HBA1C = "4548-4"
SYSTOLIC = "8480-6"
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


# --- ground truth from the loaded files ---------------------------------------------------


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


def raw_last_day(resource: dict[str, Any]) -> str:
    """The last day a raw resource covers (its period's end, else its clinical day)."""
    period = resource.get("period") or resource.get("performedPeriod") or {}
    return str(period.get("end") or raw_day(resource))[:10]


def raw_until(truth: Truth, pid: str, rt: str, as_of: date = AS_OF) -> list[dict[str, Any]]:
    """The patient's resources of one type dated on or before ``as_of``."""
    return [r for r in truth.of(pid, rt) if raw_day(r) <= as_of.isoformat()]


def loinc(resource: dict[str, Any]) -> str:
    return str(resource["code"]["coding"][0]["code"])


def age(birth: str, when: str) -> int:
    b, w = date.fromisoformat(birth[:10]), date.fromisoformat(when[:10])
    return w.year - b.year - ((w.month, w.day) < (b.month, b.day))


def numeric_series(
    truth: Truth, pid: str, code: str, as_of: date = AS_OF, since: date = date.min
) -> list[tuple[str, float, str]]:
    """(day, value, id) of a LOINC code from ``since`` to ``as_of``, as result or component."""
    out = []
    for obs in raw_until(truth, pid, "Observation", as_of):
        if raw_day(obs) < since.isoformat():
            continue
        if loinc(obs) == code and "valueQuantity" in obs:
            out.append((raw_day(obs), float(obs["valueQuantity"]["value"]), obs["id"]))
        for comp in obs.get("component") or []:
            if comp["code"]["coding"][0]["code"] == code and "valueQuantity" in comp:
                out.append((raw_day(obs), float(comp["valueQuantity"]["value"]), obs["id"]))
    return sorted(out)


def value_of(truth: Truth, ref: str, code: str) -> float:
    obs = truth.resources[("Observation", ref.split("/", 1)[1])]
    if loinc(obs) == code:
        return float(obs["valueQuantity"]["value"])
    (comp,) = [c for c in obs["component"] if c["code"]["coding"][0]["code"] == code]
    return float(comp["valueQuantity"]["value"])


def most_frequent_numeric_code(truth: Truth, pid: str) -> str | None:
    """The LOINC code with the most numeric results up to AS_OF (ties: smallest code)."""
    counts = Counter(loinc(o) for o in raw_until(truth, pid, "Observation") if "valueQuantity" in o)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[0][0] if ranked and ranked[0][1] >= 2 else None


def mid_record_day(truth: Truth, pid: str) -> date:
    """The median clinical day of the patient's record (so as_of cuts the record in two)."""
    days = sorted(
        raw_day(r)
        for rt in {*LABELS.values()} - {"Media", "DocumentReference"}
        for r in truth.of(pid, rt)
    )
    return date.fromisoformat(days[len(days) // 2])


# --- the server under test ---------------------------------------------------------------


@pytest.fixture(params=["ours", "sekmet"])
def server(request: pytest.FixtureRequest) -> Server:
    """Each server in turn (both session fixtures, loaded once)."""
    found: Server = request.getfixturevalue(request.param)
    return found


def base_url(server: Server) -> str:
    return str(server.client.base_url).rstrip("/")


@pytest.fixture
async def client(server: Server) -> AsyncIterator[FHIRClient]:
    async with FHIRClient(base_url(server), max_retries=0) as c:
        yield c


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


# --- the index fetch ---------------------------------------------------------------------


def test_the_sample_spans_the_data(truth: Truth, patients: list[str]) -> None:
    """The facts below need these in the sample; without them the suite would prove less."""
    assert len(patients) == 3
    assert any(numeric_series(truth, p, HBA1C) for p in patients)
    assert any(len(numeric_series(truth, p, SYSTOLIC)) >= 2 for p in patients)
    assert any(truth.of(p, "ImagingStudy") for p in truth.patient_ids)


class _Requests:
    """Every request the client made (a hook on the real client, nothing patched)."""

    def __init__(self) -> None:
        self.events: list[RequestEvent] = []

    def __call__(self, event: RequestEvent) -> None:
        self.events.append(event)


@pytest.fixture
def recorded(server: Server) -> tuple[FHIRClient, _Requests]:
    requests = _Requests()
    return FHIRClient(base_url(server), max_retries=0, on_request=requests), requests


async def test_the_index_is_fetched_with_elements_on_both_servers(
    recorded: tuple[FHIRClient, _Requests], truth: Truth, patients: list[str]
) -> None:
    client, requests = recorded
    async with client:
        pid = patients[0]
        session = session_for(client, pid)
        index = await session.index()
    searches = [e for e in requests.events if e.interaction == "search-type"]
    by_type = Counter(e.resource_type for e in searches)
    # one search per clinical type, each with _elements, none refused (no fallback)
    assert by_type == Counter(CLINICAL_TYPES), by_type
    assert all("_elements" in e.param_names and e.status == 200 for e in searches)
    want = {f"{rt}/{r['id']}" for rt in CLINICAL_TYPES for r in raw_until(truth, pid, rt)}
    assert {rec.ref for rec in index.records} == want
    # the subset still carries what the index keeps: codes and values
    hba1c = {i for _, _, i in numeric_series(truth, pid, HBA1C)}
    for rec in index.records:
        if rec.ref.split("/", 1)[1] in hba1c:
            assert rec.value, rec.ref


# --- record_overview ---------------------------------------------------------------------


@pytest.mark.parametrize("when", ["mid-record", "as of 2019-06-01"])
async def test_overview_matches_the_raw_record(
    client: FHIRClient, truth: Truth, patients: list[str], when: str
) -> None:
    for pid in patients:
        as_of = mid_record_day(truth, pid) if when == "mid-record" else AS_OF
        session = EvidenceSession(client, pid, as_of=as_of, overview_tokens=1500)
        result = await session.run("record_overview", {})
        assert result.error is None, (pid, result.error)
        text = result.text
        first = text.splitlines()[0]
        patient = truth.resources[("Patient", pid)]
        birth = patient["birthDate"]
        assert first.startswith("Patient: ")
        assert f", {patient['gender']}, born {birth}, " in first, pid
        died = patient.get("deceasedDateTime")
        if died and died[:10] <= as_of.isoformat():
            assert f"died {died[:10]} (age {age(birth, died)} at death)" in first, pid
        else:
            assert f"age {age(birth, as_of.isoformat())} as of {as_of.isoformat()}" in first
        assert session.resolve_citation(HANDLE.findall(first)[-1]) == f"Patient/{pid}"

        expected = {
            rt: n for rt in set(LABELS.values()) if (n := len(raw_until(truth, pid, rt, as_of)))
        }
        shown = {
            LABELS[m.group(1)]: int(m.group(2))
            for m in re.finditer(rf"(?m)^({'|'.join(LABELS)}) \((\d+)[,)]", text)
        }
        assert shown == expected, pid
        total = re.search(r"Record: (\d+) clinical resources", text)
        assert total is not None
        assert int(total.group(1)) == sum(expected.values()), pid
        for ref in cited(session, text):
            rt, rid = ref.split("/", 1)
            if rt != "Patient":
                resource = truth.resources[(rt, rid)]
                assert f"Patient/{pid}" in str(resource), (pid, ref)
                assert raw_day(resource) <= as_of.isoformat(), (pid, ref)


# --- search ------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["code", "system|code"])
async def test_search_by_code_returns_exactly_the_raw_matches(
    client: FHIRClient, truth: Truth, patients: list[str], form: str
) -> None:
    for pid in patients:
        code = most_frequent_numeric_code(truth, pid)
        if code is None:
            continue
        concept = code if form == "code" else f"http://loinc.org|{code}"
        session = session_for(client, pid)
        result = await session.run(
            "search", {"type": "Observation", "concept": concept, "limit": 200}
        )
        want = {o["id"] for o in raw_until(truth, pid, "Observation") if loinc(o) == code}
        assert ids_of(cited(session, result.text), "Observation") == want, (pid, code)
        assert {r.ref for r in result.records} == {f"Observation/{i}" for i in want}
        assert result.truncated == 0


async def test_search_by_concept_words_returns_exactly_the_raw_matches(
    client: FHIRClient, truth: Truth, patients: list[str]
) -> None:
    for pid in patients:
        session = session_for(client, pid)
        result = await session.run(
            "search", {"type": "Observation", "concept": "HbA1c", "limit": 200}
        )
        want = {o["id"] for o in raw_until(truth, pid, "Observation") if loinc(o) == HBA1C}
        assert ids_of(cited(session, result.text), "Observation") == want, pid
        if not want:
            assert result.records == []
            assert f"[{session.cites.handle(f'Patient/{pid}')}]" in result.text


@pytest.mark.parametrize("rt", ["Observation", "Encounter", "Procedure", "Immunization"])
async def test_search_by_date_range_returns_exactly_the_raw_matches(
    client: FHIRClient, truth: Truth, patients: list[str], rt: str
) -> None:
    pid = patients[0]
    middle = mid_record_day(truth, pid)
    date_from, date_to = date(middle.year - 1, 1, 1), date(middle.year, 12, 31)
    session = session_for(client, pid)
    result = await session.run(
        "search",
        {
            "type": rt,
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
            "limit": 200,
        },
    )
    # overlap semantics: the resource's days meet [date_from, date_to]
    want = {
        r["id"]
        for r in truth.of(pid, rt)
        if raw_day(r) <= date_to.isoformat() and raw_last_day(r) >= date_from.isoformat()
    }
    assert want, rt
    assert ids_of(cited(session, result.text), rt) == want, rt
    assert result.truncated == 0


async def test_search_by_status_returns_exactly_the_raw_matches(
    client: FHIRClient, truth: Truth, patients: list[str]
) -> None:
    for pid in patients:
        session = session_for(client, pid)
        for status in ("active", "resolved"):
            result = await session.run("search", {"type": "Condition", "status": status})
            want = {
                c["id"]
                for c in raw_until(truth, pid, "Condition")
                if c["clinicalStatus"]["coding"][0]["code"] == status
                and (c.get("abatementDateTime") or "")[:10] <= AS_OF.isoformat()
            }
            assert ids_of(cited(session, result.text), "Condition") == want, (pid, status)


async def test_search_by_encounter_status_is_sent_to_the_server(
    client: FHIRClient, truth: Truth, patients: list[str]
) -> None:
    """Encounter status is a server-side filter (Condition status is decided locally)."""
    for pid in patients:
        session = session_for(client, pid)
        result = await session.run(
            "search", {"type": "Encounter", "status": "finished", "limit": 200}
        )
        want = {e["id"] for e in raw_until(truth, pid, "Encounter") if e["status"] == "finished"}
        assert want
        assert ids_of(cited(session, result.text), "Encounter") == want, pid
        assert result.truncated == 0


# --- observation_series ------------------------------------------------------------------

SUMMARY = re.compile(
    r"n=(?P<n>\d+), first (?P<first>[-\d.]+) on (?P<first_day>[\d-]+) \[(?P<first_h>\w+)\], "
    r"last (?P<last>[-\d.]+) on (?P<last_day>[\d-]+) \[(?P<last_h>\w+)\], "
    r"min (?P<min>[-\d.]+) on [\d-]+ \[(?P<min_h>\w+)\], "
    r"max (?P<max>[-\d.]+) on [\d-]+ \[(?P<max_h>\w+)\], mean (?P<mean>[-\d.]+)"
)


@pytest.mark.parametrize("which", ["most frequent result", "systolic component"])
@pytest.mark.parametrize("period", ["up to 2019-06-01", "mid-record window"])
async def test_observation_series_statistics_match_the_raw_values(
    client: FHIRClient, truth: Truth, patients: list[str], which: str, period: str
) -> None:
    checked = 0
    for pid in patients:
        code = most_frequent_numeric_code(truth, pid) if which != "systolic component" else SYSTOLIC
        as_of, since, args = AS_OF, date.min, {}
        if period == "mid-record window":
            # as_of cuts the record; date_from starts the series two years earlier
            as_of = mid_record_day(truth, pid)
            since = as_of - timedelta(days=730)
            args = {"date_from": since.isoformat()}
        points = numeric_series(truth, pid, code, as_of, since) if code else []
        if code is None or len(points) < 2:
            continue
        checked += 1
        values = [v for _, v, _ in points]
        session = session_for(client, pid, as_of=as_of)
        result = await session.run("observation_series", {"concept": code, **args})
        assert result.error is None, result.error
        match = SUMMARY.search(result.text)
        assert match is not None, result.text[:400]
        assert int(match["n"]) == len(points), (pid, code)
        assert match["first_day"] == points[0][0]
        assert match["last_day"] == points[-1][0]
        # printed with 3 significant digits (1 decimal >= 100)
        assert float(match["first"]) == printed(points[0][1])
        assert float(match["last"]) == printed(points[-1][1])
        assert float(match["min"]) == printed(min(values))
        assert float(match["max"]) == printed(max(values))
        assert float(match["mean"]) == printed(statistics.fmean(values))
        for key, want in (("min_h", min(values)), ("max_h", max(values))):
            ref = session.resolve_citation(match[key])
            assert ref is not None
            assert value_of(truth, ref, code) == pytest.approx(want)
        assert ids_of(cited(session, result.text), "Observation") == {i for _, _, i in points}
    assert checked


def printed(value: float) -> Any:
    """``value`` as the series prints it: 3 significant digits, 1 decimal at or above 100."""
    return pytest.approx(value, rel=5e-3, abs=0.051)


# --- read --------------------------------------------------------------------------------


async def test_read_by_type_id_and_by_handle(
    client: FHIRClient, truth: Truth, patients: list[str]
) -> None:
    for pid in patients:
        obs = max(
            (o for o in raw_until(truth, pid, "Observation") if "valueQuantity" in o),
            key=lambda o: (raw_day(o), o["id"]),
        )
        session = session_for(client, pid)
        by_id = await session.run("read", {"ref": f"Observation/{obs['id']}"})
        assert by_id.error is None, by_id.error
        assert [r.ref for r in by_id.records] == [f"Observation/{obs['id']}"]
        assert f"LOINC {loinc(obs)}" in by_id.text
        assert f"date: {obs['effectiveDateTime']}" in by_id.text
        value = obs["valueQuantity"]["value"]
        assert re.search(rf"value: {value:.4g}\b", by_id.text) or f"value: {value}" in by_id.text
        handle = session.cites.handle(f"Observation/{obs['id']}")
        by_handle = await session.run("read", {"ref": handle})
        assert by_handle.text == by_id.text


async def test_read_refuses_another_patients_resource(
    client: FHIRClient, truth: Truth, patients: list[str]
) -> None:
    other = truth.of(patients[1], "Observation")[0]
    session = session_for(client, patients[0])
    result = await session.run("read", {"ref": f"Observation/{other['id']}"})
    assert result.error is not None
    assert "not in this patient's record" in result.error
    assert result.records == []


async def test_read_of_a_report_lists_exactly_its_results(
    client: FHIRClient, truth: Truth, patients: list[str]
) -> None:
    pid = patients[0]
    report = next(
        r for r in raw_until(truth, pid, "DiagnosticReport") if len(r.get("result") or []) >= 3
    )
    session = session_for(client, pid)
    result = await session.run("read", {"ref": f"DiagnosticReport/{report['id']}"})
    assert result.error is None, result.error
    want = {ref["reference"].split("/", 1)[1] for ref in report["result"]}
    assert ids_of(cited(session, result.text), "Observation") == want
    assert ids_of(cited(session, result.text), "DiagnosticReport") == {report["id"]}


# --- timeline ----------------------------------------------------------------------------


async def test_timeline_lists_the_encounters_of_the_range_with_their_items(
    client: FHIRClient, truth: Truth, patients: list[str]
) -> None:
    pid = patients[0]
    middle = mid_record_day(truth, pid)
    date_from, date_to = date(middle.year - 1, 1, 1), date(middle.year + 1, 12, 31)
    session = session_for(client, pid)
    result = await session.run(
        "timeline",
        {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "limit": 50},
    )
    assert result.error is None, result.error
    want = {
        e["id"]
        for e in truth.of(pid, "Encounter")
        if raw_day(e) <= date_to.isoformat() and raw_last_day(e) >= date_from.isoformat()
    }
    assert 0 < len(want) <= 50
    assert ids_of(cited(session, result.text), "Encounter") == want
    # each "  - " item line belongs to the encounter line above it (raw encounter reference)
    current: str | None = None
    items = 0
    for line in result.text.splitlines()[1:]:
        refs = cited(session, line)
        if not line.startswith("  - "):
            current = refs[-1] if refs else None
            continue
        assert current is not None
        assert current.startswith("Encounter/")
        for ref in refs:
            rt, rid = ref.split("/", 1)
            assert truth.resources[(rt, rid)]["encounter"]["reference"] == current, (line, ref)
            items += 1
    assert items > 0


async def test_timeline_with_no_encounters_cites_the_patient(
    client: FHIRClient, truth: Truth, patients: list[str]
) -> None:
    pid = patients[0]
    born = date.fromisoformat(truth.resources[("Patient", pid)]["birthDate"])
    before = born - timedelta(days=3 * 365)
    session = session_for(client, pid)
    result = await session.run(
        "timeline", {"date_from": before.isoformat(), "date_to": born.isoformat()}
    )
    assert not [e for e in truth.of(pid, "Encounter") if raw_day(e) <= born.isoformat()]
    assert "No encounters in that period" in result.text
    assert cited(session, result.text) == [f"Patient/{pid}"]


# --- images ------------------------------------------------------------------------------


async def test_images_lists_exactly_the_raw_imaging_studies(
    client: FHIRClient, truth: Truth
) -> None:
    for pid in truth.patient_ids:
        session = session_for(client, pid)
        result = await session.run("images", {})
        assert result.error is None, result.error
        want = {s["id"] for s in raw_until(truth, pid, "ImagingStudy")}
        assert ids_of(cited(session, result.text), "ImagingStudy") == want, pid
        if not want:
            assert "No images or imaging studies in this record" in result.text


# --- server-side order, limits and counts --------------------------------------------------


def moment(resource: dict[str, Any]) -> datetime:
    """An Observation's effective instant (Synthea writes offsets that change with DST)."""
    return datetime.fromisoformat(resource["effectiveDateTime"])


@pytest.mark.parametrize("sort", ["newest", "oldest"])
async def test_a_small_limit_returns_the_newest_or_oldest_and_counts_the_rest(
    client: FHIRClient, truth: Truth, patients: list[str], sort: str
) -> None:
    """The server sorts (``_sort``), cuts (``_count``) and counts (``total``) for the tool."""
    limit = 5
    for pid in patients:
        raw = raw_until(truth, pid, "Observation")
        assert len(raw) > limit
        session = session_for(client, pid)
        result = await session.run("search", {"type": "Observation", "sort": sort, "limit": limit})
        shown = [
            truth.resources[("Observation", i)]
            for i in ids_of(cited(session, result.text), "Observation")
        ]
        assert len(shown) == limit, pid
        rest = [o for o in raw if o["id"] not in {s["id"] for s in shown}]
        if sort == "newest":
            assert min(map(moment, shown)) >= max(map(moment, rest)), pid
        else:
            assert max(map(moment, shown)) <= min(map(moment, rest)), pid
        days = [
            raw_day(truth.resources[("Observation", r.ref.split("/")[1])]) for r in result.records
        ]
        assert days == sorted(days, reverse=sort == "newest"), pid
        assert result.truncated == len(raw) - limit, pid
        assert result.text.splitlines()[0].startswith(f"Observation: {limit} shown of {len(raw)}")


async def test_a_small_limit_does_not_count_records_after_as_of_as_cut(
    client: FHIRClient, truth: Truth, patients: list[str]
) -> None:
    """Conditions are fetched without a date cap; the later ones are counted out (``sa``)."""
    checked = 0
    for pid in patients:
        as_of = mid_record_day(truth, pid)
        current = raw_until(truth, pid, "Condition", as_of)
        if len(current) < 3 or len(current) == len(truth.of(pid, "Condition")):
            continue
        checked += 1
        session = session_for(client, pid, as_of=as_of)
        result = await session.run("search", {"type": "Condition", "limit": 2})
        shown = ids_of(cited(session, result.text), "Condition")
        assert shown <= {c["id"] for c in current}, pid
        assert result.text.splitlines()[0].startswith(f"Condition: 2 shown of {len(current)}"), (
            pid,
            result.text.splitlines()[0],
        )
        assert len(shown) == 2, pid
        assert result.truncated == len(current) - 2, pid
    assert checked


async def test_timeline_with_a_small_limit_shows_the_newest_encounters_of_all(
    client: FHIRClient, truth: Truth, patients: list[str]
) -> None:
    pid = patients[0]
    raw = raw_until(truth, pid, "Encounter")
    session = session_for(client, pid)
    result = await session.run("timeline", {"limit": 3})
    shown = ids_of(cited(session, result.text), "Encounter")
    newest = sorted(raw, key=lambda e: datetime.fromisoformat(e["period"]["start"]))[-3:]
    assert shown == {e["id"] for e in newest}
    assert result.text.splitlines()[0] == f"Encounters: 3 shown of {len(raw)}, newest first"
