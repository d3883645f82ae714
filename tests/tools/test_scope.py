"""Patient scope against a misbehaving server: refused requests are never sent.

The FHIR server here is an ``httpx.MockTransport`` handler (a fake of the real HTTP
interface) so that it can misbehave on purpose: crafted next links, another patient's data
in a result. Every request the client makes is recorded and checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tools.fhir import FHIRClient
from tools.scope import PatientScope, ScopeBreach, ScopeRefused, belongs_to

BASE = "http://fhir.test/r4"
ME = "pat-me"
OTHER = "pat-other"


def obs(oid: str, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": f"Patient/{patient}"},
    }


def bundle(resources: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    links = [{"relation": "self", "url": f"{BASE}/Observation"}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": links,
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


class FakeServer:
    def __init__(self, respond: Callable[[httpx.Request], dict[str, Any]]) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(
            200,
            headers={"content-type": "application/fhir+json"},
            content=json.dumps(self._respond(request)).encode(),
        )

    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


def scope_over(server: FakeServer) -> PatientScope:
    client = FHIRClient(BASE, transport=httpx.MockTransport(server), max_retries=0)
    return PatientScope(client, ME)


async def test_searches_always_carry_the_bound_patient() -> None:
    server = FakeServer(lambda r: bundle([obs("o1", ME)]))
    page = await scope_over(server).search("Observation", [("code", "http://loinc.org|1-8")])
    assert [r["id"] for r in page.resources] == ["o1"]
    (request,) = server.requests
    assert request.url.params.get_list("patient") == [ME]
    assert request.headers.get("prefer") == "handling=strict"


@pytest.mark.parametrize(
    "params",
    [
        [("patient", OTHER)],
        [("subject", f"Patient/{OTHER}")],
        [("subject:Patient", OTHER)],
        [("_has:Observation:patient:code", "x")],
        [("_revinclude", "Observation:patient")],
        [("_include", "Observation:subject")],
        [("subject.name", "Smith")],
        [("encounter", f"Patient/{OTHER}")],
        [("_filter", "patient eq other")],
    ],
)
async def test_parameters_that_widen_the_scope_are_refused_unsent(
    params: list[tuple[str, str]],
) -> None:
    server = FakeServer(lambda r: bundle([]))
    with pytest.raises(ScopeRefused):
        await scope_over(server).search("Observation", params)
    assert server.requests == []


async def test_types_outside_the_compartment_cannot_be_searched() -> None:
    server = FakeServer(lambda r: bundle([]))
    scope = scope_over(server)
    for rt in ("Patient", "Practitioner", "Organization", "Binary"):
        with pytest.raises(ScopeRefused):
            await scope.search(rt)
    assert server.requests == []


async def test_reading_another_patients_resource_is_a_search_inside_the_compartment() -> None:
    server = FakeServer(lambda r: bundle([]))  # the server holds no such id for ME
    scope = scope_over(server)
    with pytest.raises(ScopeRefused, match="not in this patient's record"):
        await scope.read("Observation/theirs")
    (request,) = server.requests
    assert request.url.path == "/r4/Observation"
    assert request.url.params["patient"] == ME
    assert request.url.params["_id"] == "theirs"


async def test_reading_another_patient_is_refused_unsent() -> None:
    server = FakeServer(lambda r: bundle([]))
    scope = scope_over(server)
    with pytest.raises(ScopeRefused):
        await scope.read(f"Patient/{OTHER}")
    with pytest.raises(ScopeRefused):
        await scope.read("Practitioner/p1")  # not referenced by anything retrieved
    with pytest.raises(ScopeRefused):
        await scope.binary("b1")
    assert server.requests == []


@pytest.mark.parametrize(
    "next_url",
    [
        f"{BASE}/Observation?patient={OTHER}&_offset=1",
        f"{BASE}/Observation?subject=Patient/{OTHER}&_offset=1",
        f"{BASE}/Observation?code=x&_offset=1",  # drops the patient constraint
        f"{BASE}/Condition?patient={ME}&_offset=1",  # switches type
        f"http://evil.test/r4/Observation?patient={ME}",  # another server
        f"{BASE}/Observation?patient={ME}&_revinclude=Observation:patient",
    ],
)
async def test_crafted_next_links_are_not_followed(next_url: str) -> None:
    server = FakeServer(lambda r: bundle([obs("o1", ME)], next_url=next_url))
    with pytest.raises((ScopeBreach, ScopeRefused)):
        await scope_over(server).search("Observation", [("_count", "1")])
    assert len(server.requests) == 1  # the first page only


async def test_honest_next_links_and_opaque_continuations_are_followed() -> None:
    pages = {
        0: bundle([obs("o1", ME)], next_url=f"{BASE}/Observation?patient={ME}&_offset=1"),
        1: bundle([obs("o2", ME)], next_url=f"{BASE}?_getpages=abc&_getpagesoffset=2"),
        2: bundle([obs("o3", ME)]),
    }
    server = FakeServer(lambda r: pages[len(server.requests) - 1])
    page = await scope_over(server).search("Observation")
    assert [r["id"] for r in page.resources] == ["o1", "o2", "o3"]


async def test_another_patients_data_in_a_result_is_a_breach() -> None:
    server = FakeServer(lambda r: bundle([obs("o1", ME), obs("o2", OTHER)]))
    with pytest.raises(ScopeBreach):
        await scope_over(server).search("Observation")


async def test_max_rows_stops_paging_and_says_more() -> None:
    server = FakeServer(
        lambda r: bundle(
            [obs(f"o{len(server.requests)}", ME)],
            next_url=f"{BASE}/Observation?patient={ME}&_offset={len(server.requests)}",
        )
    )
    page = await scope_over(server).search("Observation", max_rows=2)
    assert len(page.resources) == 2
    assert page.more
    assert len(server.requests) == 2


def test_belongs_to() -> None:
    assert belongs_to(obs("o", ME), ME)
    assert not belongs_to(obs("o", OTHER), ME)
    assert belongs_to({"resourceType": "Patient", "id": ME}, ME)
    assert belongs_to(
        {"resourceType": "Immunization", "patient": {"reference": f"http://x/r4/Patient/{ME}"}}, ME
    )
    assert not belongs_to({"resourceType": "Practitioner", "id": ME}, ME)
