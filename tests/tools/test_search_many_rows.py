"""search on a patient with more conditions than one page holds (230; a page is 200).

Condition status and the reference-date cut are decided by the tool on the rows it
fetched, so its counts are only right if it fetched every row. The record is written
here, so the expected counts are known without the tool: 230 conditions up to the
reference date, of which the 10 oldest were resolved before it, plus 5 recorded after it.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fhir_ground_truth import load_bundles_over_http

from fhir_fixtures.server import BackgroundServer
from tools.fhir import FHIRClient
from tools.session import EvidenceSession

PID = "many-conditions"
AS_OF = date(2020, 1, 1)
BEFORE, RESOLVED, AFTER = 230, 10, 5
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def _condition(n: int, onset: date, abated: date | None) -> dict[str, Any]:
    status = "resolved" if abated else "active"
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"c{n:03d}",
        "subject": {"reference": f"Patient/{PID}"},
        "clinicalStatus": {"coding": [{"system": _CLINICAL, "code": status}]},
        "code": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": str(100000 + n),
                    "display": f"Finding {n}",
                }
            ],
            "text": f"Finding {n}",
        },
        "onsetDateTime": onset.isoformat(),
        "recordedDate": onset.isoformat(),
    }
    if abated:
        resource["abatementDateTime"] = abated.isoformat()
    return resource


def _bundle() -> dict[str, Any]:
    patient = {"resourceType": "Patient", "id": PID, "gender": "female", "birthDate": "1950-02-03"}
    conditions = []
    for n in range(BEFORE):
        onset = date(1990, 1, 1) + timedelta(days=40 * n)  # oldest first
        abated = onset + timedelta(days=20) if n < RESOLVED else None
        conditions.append(_condition(n, onset, abated))
    for n in range(BEFORE, BEFORE + AFTER):
        conditions.append(_condition(n, date(2021, 1, 1) + timedelta(days=n), None))
    assert max(c["onsetDateTime"] for c in conditions[:BEFORE]) < AS_OF.isoformat()
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in [patient, *conditions]
        ],
    }


@pytest.fixture(scope="module")
def many_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    folder = tmp_path_factory.mktemp("many-conditions")
    path = folder / "bundle.json.gz"
    path.write_bytes(gzip.compress(json.dumps(_bundle()).encode()))
    with BackgroundServer(folder / "fhir.sqlite", validate=False) as server:
        load_bundles_over_http(server.base_url, [path])
        yield server


@pytest.fixture
async def session(many_server: BackgroundServer) -> AsyncIterator[EvidenceSession]:
    async with FHIRClient(many_server.base_url, max_retries=0) as client:
        yield EvidenceSession(client, PID, as_of=AS_OF, output_tokens=800)


def _header_counts(text: str) -> tuple[int, int]:
    found = re.match(r"Condition: (\d+) shown(?: of (\d+))?", text)
    assert found, text[:200]
    return int(found.group(1)), int(found.group(2) or found.group(1))


async def test_active_count_is_exact_beyond_one_page(session: EvidenceSession) -> None:
    result = await session.run("search", {"type": "Condition", "status": "active", "limit": 5})
    assert result.error is None
    shown, total = _header_counts(result.text)
    assert (shown, total) == (5, BEFORE - RESOLVED)
    assert result.truncated == BEFORE - RESOLVED - 5


async def test_resolved_count_is_exact_though_they_are_the_oldest_rows(
    session: EvidenceSession,
) -> None:
    result = await session.run("search", {"type": "Condition", "status": "resolved"})
    assert result.error is None
    assert _header_counts(result.text)[1] == RESOLVED
    assert {f"Condition/c{n:03d}" for n in range(RESOLVED)} == {r.ref for r in result.records}


async def test_rows_after_the_reference_date_are_neither_shown_nor_counted(
    session: EvidenceSession,
) -> None:
    result = await session.run("search", {"type": "Condition", "limit": 5})
    assert result.error is None
    assert _header_counts(result.text) == (5, BEFORE)
    newest = {f"Condition/c{n:03d}" for n in range(BEFORE - 5, BEFORE)}
    assert {r.ref for r in result.records} == newest
