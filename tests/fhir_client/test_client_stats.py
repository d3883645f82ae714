"""Usage accounting: stats, hooks, per-context tracking, and what the log may contain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest
from fhir_client_fakes import Script, fhir_response

from tools.fhir import FHIRClient, FHIRUnavailable, RequestEvent, track_requests

Make = Callable[..., FHIRClient]
SECRET_ID = "pat-7f1e-secret"
SECRET_NAME = "Ottoline Quackenbush"
PATIENT = {"resourceType": "Patient", "id": SECRET_ID, "name": [{"family": SECRET_NAME}]}
BUNDLE = {
    "resourceType": "Bundle",
    "type": "searchset",
    "total": 1,
    "entry": [{"resource": PATIENT, "search": {"mode": "match"}}],
}


@pytest.mark.asyncio
async def test_hook_sees_every_attempt(make_client: Make) -> None:
    events: list[RequestEvent] = []
    script = Script(fhir_response(503), fhir_response(200, PATIENT), fhir_response(200, BUNDLE))
    async with make_client(script, on_request=events.append) as client:
        await client.read("Patient", SECRET_ID)
        remove = client.add_request_hook(lambda e: events.append(e))
        await client.search("Patient", {"_id": SECRET_ID})
        remove()
        await client.search("Patient", {"_id": SECRET_ID})
    assert [(e.method, e.path, e.status, e.attempt) for e in events] == [
        ("GET", f"/r4/Patient/{SECRET_ID}", 503, 1),
        ("GET", f"/r4/Patient/{SECRET_ID}", 200, 2),
        ("GET", "/r4/Patient", 200, 1),
        ("GET", "/r4/Patient", 200, 1),  # the added hook, once, before removal
        ("GET", "/r4/Patient", 200, 1),
    ]
    assert events[1].is_retry
    assert not events[0].is_retry
    assert [e.interaction for e in events[1:3]] == ["read", "search-type"]
    assert events[2].url == f"https://fhir.test/r4/Patient?_id={SECRET_ID}"
    assert events[2].param_names == ("_id",)


@pytest.mark.asyncio
async def test_stats_snapshot_difference_and_reset(make_client: Make) -> None:
    script = Script(fhir_response(200, PATIENT))
    async with make_client(script) as client:
        await client.read("Patient", SECRET_ID)
        before = client.stats.snapshot()
        await client.read("Patient", SECRET_ID)
        await client.read("Patient", SECRET_ID)
        delta = client.stats.snapshot() - before
        assert delta.requests == 2
        assert delta.bytes_received == 2 * len(script.steps[0].content)  # type: ignore[union-attr]
        assert client.stats.reset().requests == 3
        assert client.stats.snapshot().as_dict()["requests"] == 0


@pytest.mark.asyncio
async def test_track_requests_separates_concurrent_questions(make_client: Make) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return fhir_response(200, PATIENT)

    async with make_client(slow) as client:

        async def question(reads: int) -> int:
            with track_requests() as usage:
                # The evidence tools run concurrently: child tasks count too.
                await asyncio.gather(*(client.read("Patient", SECRET_ID) for _ in range(reads)))
                return usage.snapshot().requests

        with track_requests() as everything:
            counts = await asyncio.gather(question(3), question(5))
        assert counts == [3, 5]
        assert everything.requests == 8
        assert client.stats.requests == 8


@pytest.mark.asyncio
async def test_logs_never_carry_query_values_or_contents(
    make_client: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ehr_agent.fhir")
    script = Script(
        fhir_response(429, headers={"Retry-After": "1"}),
        fhir_response(200, BUNDLE),
        fhir_response(200, PATIENT),
        fhir_response(503),
    )
    async with make_client(script, max_retries=1) as client:
        await client.search("Patient", {"name": SECRET_NAME, "identifier": SECRET_ID})
        await client.read("Patient", SECRET_ID)
        with pytest.raises(FHIRUnavailable):
            await client.search("Patient", {"name": SECRET_NAME})
    messages = [r.getMessage() for r in caplog.records if r.name == "ehr_agent.fhir"]
    assert len(messages) >= 5
    assert any("search-type Patient -> 200" in m for m in messages)
    assert any("retry 1" in m for m in messages)
    for message in messages:
        assert SECRET_NAME not in message
        assert SECRET_ID not in message
