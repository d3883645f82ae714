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
from tools_truth import (
    AS_OF,
    SUMMARY,
    assert_items_under_their_encounters,
    assert_overview_matches,
    cited,
    ids_of,
    loinc,
    mid_record_day,
    numeric_series,
    raw_day,
    raw_until,
    session_for,
    value_of,
)

from tools.fhir import FHIRClient, RequestEvent
from tools.records import CLINICAL_TYPES
from tools.session import EvidenceSession

HBA1C = "4548-4"
SYSTOLIC = "8480-6"


# --- ground truth from the loaded files ---------------------------------------------------


def raw_last_day(resource: dict[str, Any]) -> str:
    """The last day a raw resource covers (its period's end, else its clinical day)."""
    period = resource.get("period") or resource.get("performedPeriod") or {}
    return str(period.get("end") or raw_day(resource))[:10]


def most_frequent_numeric_code(truth: Truth, pid: str) -> str | None:
    """The LOINC code with the most numeric results up to AS_OF (ties: smallest code)."""
    counts = Counter(loinc(o) for o in raw_until(truth, pid, "Observation") if "valueQuantity" in o)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[0][0] if ranked and ranked[0][1] >= 2 else None


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
        assert_overview_matches(session, result.text, truth, pid, as_of)


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
    assert_items_under_their_encounters(session, result.text, truth)


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
