"""Every evidence tool over real HTTP (the embedded server holding the 41 Synthea patients).

Expected values are computed from the raw bundles (``raw_synthea``: gzip+json, dates read
straight from the resources, helpers in ``tools_truth``); tool output is only parsed, never
trusted. Citation
handles in the text are mapped back to ``Type/id`` with the session's own registry, so
"the tool showed X" means "the text the model reads cites X".
"""

from __future__ import annotations

import re
import statistics
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from fhir_ground_truth import RawSynthea
from tools_truth import (
    AS_OF,
    HANDLE,
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

from fhir_fixtures.server import BackgroundServer
from tools.budget import estimate_tokens
from tools.fhir import FHIRClient
from tools.session import EvidenceSession

EVELYN = "3e26303e-a72a-4c60-866f-e5b81a9f1989"  # died 1985; 35 HbA1c, 35 BP panels
DEVIN = "9a82c90c-ba2d-4b36-a523-ee13e38b8e39"  # alive; one imaging study
EECD = "eecd5395-d638-4b9d-bb79-2d10a475459d"  # 10 HbA1c, two imaging studies
SAMPLE = (EVELYN, DEVIN, EECD)
OVERVIEW_BUDGET = 1500


@pytest.fixture
async def client(loaded_fhir_server: BackgroundServer) -> AsyncIterator[FHIRClient]:
    async with FHIRClient(loaded_fhir_server.base_url, max_retries=0) as c:
        yield c


# --- record_overview ---------------------------------------------------------------------


@pytest.mark.parametrize("when", ["mid-record", "whole record"])
async def test_overview_of_all_41_patients_matches_the_raw_record(
    client: FHIRClient, raw_synthea: RawSynthea, when: str
) -> None:
    sizes: dict[str, int] = {}
    for pid in sorted(raw_synthea.patients):
        as_of = mid_record_day(raw_synthea, pid) if when == "mid-record" else AS_OF
        session = EvidenceSession(client, pid, as_of=as_of, overview_tokens=OVERVIEW_BUDGET)
        result = await session.run("record_overview", {})
        assert result.error is None, (pid, result.error)
        text = result.text
        sizes[pid] = estimate_tokens(text)
        assert_overview_matches(session, text, raw_synthea, pid, as_of)
    largest = max(sizes, key=lambda p: sizes[p])
    print(f"largest overview ({when}): Patient/{largest}, {sizes[largest]} estimated tokens")
    over = {p: n for p, n in sizes.items() if n > OVERVIEW_BUDGET}
    assert not over, f"overviews over {OVERVIEW_BUDGET} tokens: {over}"


# --- search ------------------------------------------------------------------------------


@pytest.mark.parametrize("concept", ["4548-4", "http://loinc.org|4548-4", "HbA1c"])
async def test_search_by_code_or_words_returns_exactly_the_raw_matches(
    client: FHIRClient, raw_synthea: RawSynthea, concept: str
) -> None:
    for pid in (EVELYN, EECD):
        session = session_for(client, pid)
        result = await session.run(
            "search", {"type": "Observation", "concept": concept, "limit": 200}
        )
        want = {
            o["id"]
            for o in raw_until(raw_synthea, pid, "Observation", AS_OF)
            if loinc(o) == "4548-4"
        }
        assert want
        assert ids_of(cited(session, result.text), "Observation") == want
        assert {r.ref for r in result.records} == {f"Observation/{i}" for i in want}
        assert result.truncated == 0


async def test_search_by_date_range_returns_exactly_the_raw_matches(
    client: FHIRClient, raw_synthea: RawSynthea
) -> None:
    date_from, date_to = "1980-01-01", "1981-12-31"
    session = session_for(client, EVELYN)
    for rt in ("Observation", "Encounter", "Procedure", "Immunization"):
        result = await session.run(
            "search", {"type": rt, "date_from": date_from, "date_to": date_to, "limit": 200}
        )
        want = {r["id"] for r in raw_synthea.of(EVELYN, rt) if date_from <= raw_day(r) <= date_to}
        assert want, rt
        assert ids_of(cited(session, result.text), rt) == want, rt


async def test_search_by_status_returns_exactly_the_raw_matches(
    client: FHIRClient, raw_synthea: RawSynthea
) -> None:
    for pid in SAMPLE:
        session = session_for(client, pid)
        for status in ("active", "resolved"):
            result = await session.run("search", {"type": "Condition", "status": status})
            want = {
                c["id"]
                for c in raw_until(raw_synthea, pid, "Condition", AS_OF)
                if c["clinicalStatus"]["coding"][0]["code"] == status
                and (c.get("abatementDateTime") or "")[:10] <= AS_OF.isoformat()
            }
            got = ids_of(cited(session, result.text), "Condition")
            if not want:
                assert got == set()
                assert f"[{session.cites.handle(f'Patient/{pid}')}]" in result.text
            else:
                assert got == want, (pid, status)


def _condition_resolved_after(raw: RawSynthea) -> tuple[str, dict[str, Any]]:
    for pid in sorted(raw.patients):
        for c in raw.of(pid, "Condition"):
            if c.get("abatementDateTime") and c["abatementDateTime"][:10] > c["onsetDateTime"][:10]:
                return pid, c
    raise AssertionError("no condition with an abatement after its onset")


async def test_search_active_as_of_a_day_includes_conditions_resolved_later(
    client: FHIRClient, raw_synthea: RawSynthea
) -> None:
    pid, condition = _condition_resolved_after(raw_synthea)
    as_of = date.fromisoformat(condition["onsetDateTime"][:10])  # active on this day
    session = session_for(client, pid, as_of=as_of)
    result = await session.run("search", {"type": "Condition", "status": "active"})
    assert condition["id"] in ids_of(cited(session, result.text), "Condition")


async def test_search_does_not_count_records_after_as_of_as_cut(
    client: FHIRClient, raw_synthea: RawSynthea
) -> None:
    pid, condition = _condition_resolved_after(raw_synthea)
    as_of = date.fromisoformat(condition["onsetDateTime"][:10])
    assert len(raw_until(raw_synthea, pid, "Condition", as_of)) < len(
        raw_synthea.of(pid, "Condition")
    )
    session = session_for(client, pid, as_of=as_of)
    result = await session.run("search", {"type": "Condition"})
    want = {c["id"] for c in raw_until(raw_synthea, pid, "Condition", as_of)}
    assert ids_of(cited(session, result.text), "Condition") == want
    assert result.truncated == 0
    assert "more not shown" not in result.text


# --- observation_series ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pid", "code", "as_of"),
    [
        (EVELYN, "4548-4", AS_OF),
        (EVELYN, "4548-4", date(1980, 1, 1)),  # the as_of day cuts the series
        (EECD, "4548-4", AS_OF),
        (EVELYN, "8480-6", AS_OF),  # systolic: a component of the blood pressure panels
        (DEVIN, "8462-4", AS_OF),  # diastolic
    ],
)
async def test_observation_series_statistics_match_the_raw_values(
    client: FHIRClient, raw_synthea: RawSynthea, pid: str, code: str, as_of: date
) -> None:
    points = numeric_series(raw_synthea, pid, code, as_of)
    assert len(points) >= 2
    values = [v for _, v, _ in points]
    session = session_for(client, pid, as_of=as_of)
    result = await session.run("observation_series", {"concept": code})
    assert result.error is None
    match = SUMMARY.search(result.text)
    assert match is not None, result.text[:400]
    assert int(match["n"]) == len(points)
    assert match["first_day"] == points[0][0]
    assert match["last_day"] == points[-1][0]
    # printed with 3 significant digits (1 decimal >= 100)
    assert float(match["first"]) == pytest.approx(points[0][1], rel=5e-3, abs=0.051)
    assert float(match["last"]) == pytest.approx(points[-1][1], rel=5e-3, abs=0.051)
    assert float(match["min"]) == pytest.approx(min(values), rel=5e-3, abs=0.051)
    assert float(match["max"]) == pytest.approx(max(values), rel=5e-3, abs=0.051)
    assert float(match["mean"]) == pytest.approx(statistics.fmean(values), rel=5e-3, abs=0.051)
    # the cited first/last/min/max are the raw observations holding those values
    for key, want in (("min_h", min(values)), ("max_h", max(values))):
        ref = session.resolve_citation(match[key])
        assert ref is not None
        assert value_of(raw_synthea, ref, code) == pytest.approx(want)
    first_ref = session.resolve_citation(match["first_h"])
    last_ref = session.resolve_citation(match["last_h"])
    assert first_ref is not None
    assert last_ref is not None
    assert raw_day(raw_synthea.resources[("Observation", first_ref.split("/")[1])]) == points[0][0]
    assert raw_day(raw_synthea.resources[("Observation", last_ref.split("/")[1])]) == points[-1][0]
    # with a large budget every value is listed, each citing its own observation
    assert ids_of(cited(session, result.text), "Observation") == {i for _, _, i in points}


# --- read --------------------------------------------------------------------------------


async def test_read_by_type_id_and_by_handle(client: FHIRClient, raw_synthea: RawSynthea) -> None:
    obs = max(
        (o for o in raw_synthea.of(EVELYN, "Observation") if loinc(o) == "4548-4"),
        key=raw_day,
    )
    session = session_for(client, EVELYN)
    by_id = await session.run("read", {"ref": f"Observation/{obs['id']}"})
    assert by_id.error is None
    assert [r.ref for r in by_id.records] == [f"Observation/{obs['id']}"]
    assert "LOINC 4548-4" in by_id.text
    assert f"date: {obs['effectiveDateTime']}" in by_id.text
    value = obs["valueQuantity"]["value"]
    assert re.search(rf"value: {value:.4g}\b", by_id.text) or f"value: {value}" in by_id.text
    handle = session.cites.handle(f"Observation/{obs['id']}")
    by_handle = await session.run("read", {"ref": handle})
    assert by_handle.text == by_id.text


async def test_read_of_a_report_lists_exactly_its_results(
    client: FHIRClient, raw_synthea: RawSynthea
) -> None:
    report = next(
        r for r in raw_synthea.of(EVELYN, "DiagnosticReport") if len(r.get("result") or []) >= 3
    )
    session = session_for(client, EVELYN)
    result = await session.run("read", {"ref": f"DiagnosticReport/{report['id']}"})
    assert result.error is None
    want = {ref["reference"].split("/", 1)[1] for ref in report["result"]}
    assert ids_of(cited(session, result.text), "Observation") == want
    assert ids_of(cited(session, result.text), "DiagnosticReport") == {report["id"]}


# --- timeline ----------------------------------------------------------------------------


async def test_timeline_lists_the_encounters_of_the_range_with_their_items(
    client: FHIRClient, raw_synthea: RawSynthea
) -> None:
    date_from, date_to = "1982-01-01", "1984-12-31"
    session = session_for(client, EVELYN)
    result = await session.run(
        "timeline", {"date_from": date_from, "date_to": date_to, "limit": 50}
    )
    assert result.error is None
    want = {
        e["id"] for e in raw_synthea.of(EVELYN, "Encounter") if date_from <= raw_day(e) <= date_to
    }
    assert want
    assert ids_of(cited(session, result.text), "Encounter") == want
    assert_items_under_their_encounters(session, result.text, raw_synthea)


async def test_timeline_with_no_encounters_cites_the_patient(client: FHIRClient) -> None:
    session = session_for(client, EVELYN)
    result = await session.run("timeline", {"date_from": "2000-01-01", "date_to": "2001-01-01"})
    assert "No encounters in that period" in result.text
    assert cited(session, result.text) == [f"Patient/{EVELYN}"]


# --- images ------------------------------------------------------------------------------


async def test_images_lists_exactly_the_raw_imaging_studies(
    client: FHIRClient, raw_synthea: RawSynthea
) -> None:
    for pid in SAMPLE:
        session = session_for(client, pid)
        result = await session.run("images", {})
        want = {s["id"] for s in raw_until(raw_synthea, pid, "ImagingStudy", AS_OF)}
        assert ids_of(cited(session, result.text), "ImagingStudy") == want, pid


# --- output budget -----------------------------------------------------------------------


async def test_a_tiny_budget_says_how_many_rows_were_cut_and_how_to_narrow(
    client: FHIRClient, raw_synthea: RawSynthea
) -> None:
    total = len(raw_until(raw_synthea, EVELYN, "Observation", AS_OF))
    session = session_for(client, EVELYN, output_tokens=120)
    result = await session.run("search", {"type": "Observation", "limit": 50})
    assert result.tokens <= 120 + 40  # the header and the note are always kept
    rows = [line for line in result.text.splitlines() if HANDLE.search(line)]
    assert 0 < len(rows) < 50
    note = re.search(r"\((\d+) more not shown; narrow with (.+)\)", result.text)
    assert note is not None, result.text
    assert int(note.group(1)) == total - len(rows)
    assert "date_from/date_to" in note.group(2)
    assert result.truncated == total - len(rows)

    series = session_for(client, EVELYN, output_tokens=150)
    out = await series.run("observation_series", {"concept": "4548-4"})
    listed = [line for line in out.text.splitlines() if line.startswith("  1")]
    cut = re.search(r"\((\d+) earlier values not listed; use date_from/date_to", out.text)
    assert cut is not None, out.text
    assert int(cut.group(1)) + len(listed) == 35


async def test_the_search_header_counts_the_rows_actually_shown(client: FHIRClient) -> None:
    session = session_for(client, EVELYN, output_tokens=120)
    result = await session.run("search", {"type": "Observation", "limit": 50})
    header = result.text.splitlines()[0]
    rows = [line for line in result.text.splitlines() if HANDLE.search(line)]
    assert header.startswith(f"Observation: {len(rows)} shown")
