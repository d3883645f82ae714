"""Paging: next links followed exactly, loops and foreign links refused, caps made explicit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fhir_client_fakes import BASE, Script, fhir_response

from tools.fhir import FHIRClient, FHIRProtocolError, SearchParams

Make = Callable[..., FHIRClient]


def observation(i: int) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": f"o{i}", "status": "final"}


def page(
    matches: list[dict[str, Any]],
    *,
    next_url: str | None = None,
    total: int | None = None,
    included: tuple[dict[str, Any], ...] = (),
    outcomes: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": []}
    if total is not None:
        bundle["total"] = total
    if next_url is not None:
        bundle["link"].append({"relation": "next", "url": next_url})
    bundle["entry"] = (
        [{"resource": r, "search": {"mode": "match"}} for r in matches]
        + [{"resource": r, "search": {"mode": "include"}} for r in included]
        + [{"resource": r, "search": {"mode": "outcome"}} for r in outcomes]
    )
    return bundle


class PagedServer:
    """Serves ``n`` Observations in pages of ``size``, HAPI-style: next links are opaque
    tokens on the base URL (``[base]?_getpages=...``), with a deliberately odd encoding
    that a client rebuilding URLs would not reproduce."""

    def __init__(self, n: int, size: int, *, total: bool = True) -> None:
        self.items = [observation(i) for i in range(n)]
        self.size = size
        self.total = total
        self.requests: list[httpx.Request] = []

    def link(self, offset: int) -> str:
        return f"{BASE}?_getpages=tok%2Dabc&_getpagesoffset={offset}&_count={self.size}&_x=a%2Cb"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        offset = int(request.url.params.get("_getpagesoffset", "0"))
        chunk = self.items[offset : offset + self.size]
        more = offset + self.size < len(self.items)
        body = page(
            chunk,
            next_url=self.link(offset + self.size) if more else None,
            total=len(self.items) if self.total else None,
        )
        return fhir_response(200, body)


@pytest.mark.asyncio
async def test_all_pages_are_read_following_links_exactly(make_client: Make) -> None:
    server = PagedServer(23, 10)
    async with make_client(server) as client:
        result = await client.search_all("Observation", SearchParams().where(patient="p1"))
    assert result.references == [f"Observation/o{i}" for i in range(23)]
    assert (result.total, result.pages, result.truncated, result.remaining) == (23, 3, False, 0)
    sent = [r.url.raw_path.decode() for r in server.requests]
    assert sent == [
        "/r4/Observation?patient=p1",
        "/r4?_getpages=tok%2Dabc&_getpagesoffset=10&_count=10&_x=a%2Cb",
        "/r4?_getpages=tok%2Dabc&_getpagesoffset=20&_count=10&_x=a%2Cb",
    ]
    assert all(r.url.host == "fhir.test" for r in server.requests)


@pytest.mark.asyncio
async def test_page_cap_marks_the_result_truncated(make_client: Make) -> None:
    server = PagedServer(50, 10)
    async with make_client(server, max_pages=2) as client:
        result = await client.search_all("Observation", {"patient": "p1"})
        explicit = await client.search_all("Observation", {"patient": "p1"}, max_pages=4)
    assert (len(result), result.pages, result.truncated, result.remaining) == (20, 2, True, 30)
    assert result.next_url == server.link(20)
    assert (len(explicit), explicit.pages, explicit.remaining) == (40, 4, 10)
    assert len(server.requests) == 6


@pytest.mark.asyncio
async def test_truncated_without_total_says_the_rest_is_unknown(make_client: Make) -> None:
    server = PagedServer(50, 10, total=False)
    async with make_client(server) as client:
        result = await client.search_all("Observation", {"patient": "p1"}, max_pages=1)
    assert result.truncated
    assert result.total is None
    assert result.remaining is None


@pytest.mark.asyncio
async def test_includes_outcomes_and_duplicates_are_sorted_out(make_client: Make) -> None:
    practitioner = {"resourceType": "Practitioner", "id": "dr1"}
    warning = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "warning", "code": "processing", "diagnostics": "ignored x"}],
    }
    second = f"{BASE}/Observation?page=2"
    script = Script(
        fhir_response(
            200,
            page(
                [observation(1), observation(2)],
                next_url=second,
                total=3,
                included=(practitioner,),
                outcomes=(warning,),
            ),
        ),
        # Offset paging under concurrent writes can repeat a match on the next page.
        fhir_response(200, page([observation(2), observation(3)], included=(practitioner,))),
    )
    async with make_client(script) as client:
        result = await client.search_all("Observation", {"_include": "Observation:performer"})
    assert result.references == ["Observation/o1", "Observation/o2", "Observation/o3"]
    assert result.included == (practitioner,)
    assert result.outcomes == (warning,)


@pytest.mark.asyncio
async def test_a_looping_next_link_is_an_error(make_client: Make) -> None:
    first = f"{BASE}/Observation?patient=p1"
    second = f"{BASE}/Observation?patient=p1&page=2"
    script = Script(
        fhir_response(200, page([observation(1)], next_url=second)),
        fhir_response(200, page([observation(2)], next_url=first)),
    )
    async with make_client(script) as client:
        with pytest.raises(FHIRProtocolError, match="points back to a page already read"):
            await client.search_all("Observation", {"patient": "p1"})
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    "foreign",
    [
        "https://evil.test/r4/Observation?page=2",
        "http://fhir.test/r4/Observation?page=2",
        "https://fhir.test:8443/r4/Observation?page=2",
        "https://fhir.test/other/Observation?page=2",
        "https://fhir.test/r4x/Observation?page=2",
    ],
    ids=["host", "scheme", "port", "path", "path-prefix"],
)
@pytest.mark.asyncio
async def test_a_next_link_leaving_the_server_is_refused(make_client: Make, foreign: str) -> None:
    script = Script(fhir_response(200, page([observation(1)], next_url=foreign)))
    async with make_client(script, auth=None) as client:
        with pytest.raises(FHIRProtocolError, match="leaves the configured server"):
            await client.search_all("Observation", {"patient": "p1"})
        with pytest.raises(FHIRProtocolError, match="leaves the configured server"):
            await client.follow(foreign)
    assert script.urls == [f"{BASE}/Observation?patient=p1"]


@pytest.mark.asyncio
async def test_default_port_spelled_out_is_the_same_server(make_client: Make) -> None:
    script = Script(
        fhir_response(
            200, page([observation(1)], next_url="https://fhir.test:443/r4/Observation?p=2")
        ),
        fhir_response(200, page([observation(2)])),
    )
    async with make_client(script) as client:
        result = await client.search_all("Observation")
    assert len(result) == 2


@pytest.mark.asyncio
async def test_a_relative_next_link_is_refused(make_client: Make) -> None:
    script = Script(fhir_response(200, page([observation(1)], next_url="Observation?page=2")))
    async with make_client(script) as client:
        with pytest.raises(FHIRProtocolError, match="relative link"):
            await client.search_all("Observation")
    assert len(script.requests) == 1


@pytest.mark.asyncio
async def test_search_reads_exactly_one_page(make_client: Make) -> None:
    server = PagedServer(30, 10)
    async with make_client(server) as client:
        bundle = await client.search("Observation", [("patient", "p1"), ("_count", 10)])
        nxt = await client.follow(bundle["link"][0]["url"])
    assert len(bundle["entry"]) == 10
    assert [e["resource"]["id"] for e in nxt["entry"]] == [f"o{i}" for i in range(10, 20)]
    assert len(server.requests) == 2


@pytest.mark.asyncio
async def test_everything_is_paged_too(make_client: Make) -> None:
    second = f"{BASE}/Patient/p1/$everything?_page=2"
    script = Script(
        fhir_response(
            200, page([{"resourceType": "Patient", "id": "p1"}, observation(1)], next_url=second)
        ),
        fhir_response(200, page([observation(2)])),
    )
    async with make_client(script) as client:
        result = await client.everything("p1", {"_type": "Patient,Observation"})
    assert result.references == ["Patient/p1", "Observation/o1", "Observation/o2"]
    assert script.requests[0].url.path == "/r4/Patient/p1/$everything"
    assert script.requests[0].url.params["_type"] == "Patient,Observation"


@pytest.mark.asyncio
async def test_a_page_that_is_not_a_searchset_is_refused(make_client: Make) -> None:
    script = Script(
        fhir_response(200, {"resourceType": "Bundle", "type": "collection", "entry": []})
    )
    async with make_client(script) as client:
        with pytest.raises(FHIRProtocolError, match="expected a searchset Bundle"):
            await client.search("Observation")


@pytest.mark.asyncio
async def test_an_entry_without_a_resource_is_refused(make_client: Make) -> None:
    broken = page([observation(1)])
    broken["entry"].append({"fullUrl": f"{BASE}/Observation/o9"})
    async with make_client(Script(fhir_response(200, broken))) as client:
        with pytest.raises(FHIRProtocolError, match="entry 1 has no resource"):
            await client.search_all("Observation")


@pytest.mark.asyncio
async def test_truncation_and_total_mismatch_are_logged_without_values(
    make_client: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ehr_agent.fhir")
    async with make_client(PagedServer(30, 10)) as client:
        await client.search_all("Observation", {"patient": "secret-patient-id"}, max_pages=1)
    messages = [r.getMessage() for r in caplog.records if r.name == "ehr_agent.fhir"]
    assert any(
        "stopped at the page cap after 1 pages: 10 matches read, 20 left" in m for m in messages
    )
    assert not any("secret-patient-id" in m for m in messages)
