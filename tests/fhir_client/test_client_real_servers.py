"""The client against real FHIR R4 servers over HTTP on loopback.

Each test runs against the project's embedded server and against sekmet-fhir, with the
smallest Synthea patient loaded through :meth:`FHIRClient.transaction` (a transaction of PUTs
keeping Synthea's uuids). Expected values come from the raw bundle, read with gzip/json.
"""

from __future__ import annotations

import asyncio
import base64
import math
from pathlib import Path

import httpx
import pytest
from fhir_client_common import RealServer
from fhir_client_fakes import GroundTruth, as_put_transaction

from tools.fhir import (
    BearerToken,
    FHIRAuthError,
    FHIRBadRequest,
    FHIRClient,
    FHIRGone,
    FHIRNotFound,
    SearchParams,
    track_requests,
)
from tools.fhir.sender import MAX_IN_FLIGHT


def test_transaction_stored_every_entry(
    real_server: RealServer, small_patient: GroundTruth
) -> None:
    response = real_server.transaction_response
    assert response["type"] == "transaction-response"
    statuses = [entry["response"]["status"] for entry in response["entry"]]
    assert len(statuses) == len(small_patient.raw_bundle["entry"])
    assert all(status.split()[0] in ("200", "201") for status in statuses)


@pytest.mark.asyncio
async def test_read_returns_the_loaded_patient(
    real_server: RealServer, small_patient: GroundTruth
) -> None:
    async with FHIRClient(real_server.base_url) as client:
        patient = await client.read("Patient", small_patient.patient_id)
        with pytest.raises(FHIRNotFound) as caught:
            await client.read("Patient", "no-such-patient")
    assert patient["name"] == small_patient.patient["name"]
    assert patient["birthDate"] == small_patient.patient["birthDate"]
    assert caught.value.status == 404


@pytest.mark.asyncio
async def test_paging_through_all_pages_matches_total_and_bundle(
    real_server: RealServer, small_patient: GroundTruth
) -> None:
    params = SearchParams().where(patient=small_patient.patient_id).count(7)
    async with FHIRClient(real_server.base_url) as client:
        with track_requests() as usage:
            result = await client.search_all("Observation", params)
    expected = small_patient.observation_ids
    assert result.total == len(expected) == len(result)
    assert {r["id"] for r in result.resources} == expected
    assert result.pages == math.ceil(len(expected) / 7)
    assert not result.truncated
    assert usage.snapshot().requests == result.pages


@pytest.mark.asyncio
async def test_page_cap_reports_what_was_cut(
    real_server: RealServer, small_patient: GroundTruth
) -> None:
    params = SearchParams().where(patient=small_patient.patient_id).count(10)
    async with FHIRClient(real_server.base_url, max_pages=2) as client:
        result = await client.search_all("Observation", params)
    assert (len(result), result.pages, result.truncated) == (20, 2, True)
    assert result.remaining == len(small_patient.observation_ids) - 20


@pytest.mark.asyncio
async def test_everything_returns_the_whole_record(
    real_server: RealServer, small_patient: GroundTruth
) -> None:
    async with FHIRClient(real_server.base_url) as client:
        result = await client.everything(small_patient.patient_id)
    assert set(result.references) == small_patient.references
    assert not result.truncated


@pytest.mark.asyncio
async def test_capabilities(real_server: RealServer) -> None:
    async with FHIRClient(real_server.base_url) as client:
        caps = await client.capabilities()
        again = await client.capabilities()
        requests = client.stats.snapshot().requests
    assert caps.is_r4
    assert caps.fhir_version == "4.0.1"
    assert caps.supports("Observation", "code")
    assert caps.supports("Observation", "patient", interaction="search-type")
    assert caps.supports("Patient", interaction="read")
    assert not caps.supports("Observation", "no-such-param")
    assert caps.supports_operation("everything", "Patient")
    assert again is caps
    assert requests == 1


@pytest.mark.asyncio
async def test_binary_round_trip(real_server: RealServer, images_dir: Path) -> None:
    png = (images_dir / "nih-cxr14-00000001_000.png").read_bytes()
    resource = {
        "resourceType": "Binary",
        "contentType": "image/png",
        "data": base64.b64encode(png).decode(),
    }
    async with FHIRClient(real_server.base_url) as client:
        created = await client.create(resource)
        content, content_type = await client.binary(created["id"])
    assert content == png
    assert content_type.startswith("image/png")


@pytest.mark.asyncio
async def test_write_cycle(real_server: RealServer, small_patient: GroundTruth) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "preliminary",
        "code": {"text": "client write test"},
        "subject": {"reference": f"Patient/{small_patient.patient_id}"},
    }
    async with FHIRClient(real_server.base_url) as client:
        created = await client.create(observation)
        updated = await client.update({**created, "status": "final"})
        read = await client.read("Observation", created["id"])
        await client.delete("Observation", created["id"])
        with pytest.raises((FHIRGone, FHIRNotFound)):
            await client.read("Observation", created["id"])
    assert created["id"]
    assert updated["status"] == read["status"] == "final"


@pytest.mark.asyncio
async def test_unknown_search_parameter_is_refused_not_ignored(real_server: RealServer) -> None:
    async with FHIRClient(real_server.base_url) as client:
        with pytest.raises(FHIRBadRequest) as caught:
            await client.search("Observation", {"colour-of-sky": "blue"})
    assert caught.value.status == 400
    assert "colour-of-sky" in caught.value.diagnostics


@pytest.mark.asyncio
async def test_reloading_a_bundle_of_puts_changes_nothing(
    real_server: RealServer, small_patient: GroundTruth
) -> None:
    params = {"patient": small_patient.patient_id, "_summary": "count"}
    async with FHIRClient(real_server.base_url) as client:
        before = (await client.search("Observation", params))["total"]
        await client.transaction(as_put_transaction(small_patient.raw_bundle))
        after = (await client.search("Observation", params))["total"]
    assert before == after == len(small_patient.observation_ids)


@pytest.mark.asyncio
async def test_bearer_token_against_the_embedded_server(
    tmp_path: Path, small_patient: GroundTruth
) -> None:
    from fhir_fixtures.server import BackgroundServer

    with BackgroundServer(tmp_path / "fhir.sqlite", validate=False, token="s3cret") as server:
        async with FHIRClient(server.base_url, auth=BearerToken("s3cret")) as client:
            assert (await client.capabilities()).is_r4
            await client.transaction(as_put_transaction(small_patient.raw_bundle))
            assert (await client.read("Patient", small_patient.patient_id))["id"]
        async with FHIRClient(server.base_url, auth=BearerToken("wrong")) as client:
            with pytest.raises(FHIRAuthError) as caught:
                await client.read("Patient", small_patient.patient_id)
        assert caught.value.status == 401
        wrong = [e for e in server.access_log if e.status == 401]
        assert len(wrong) == 1


class _CountingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, counting the requests it has in flight at once."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.in_flight = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.mark.asyncio
async def test_many_concurrent_searches_are_sent_a_bounded_number_at_a_time(
    real_server: RealServer, small_patient: GroundTruth
) -> None:
    transport = _CountingTransport()
    params = SearchParams().where(patient=small_patient.patient_id)
    kinds = ("Condition", "Observation", "Encounter", "Procedure")
    async with FHIRClient(real_server.base_url, transport=transport) as client:
        results = await asyncio.gather(
            *(client.search(kinds[i % len(kinds)], params) for i in range(4 * MAX_IN_FLIGHT))
        )
    await transport.aclose()
    assert transport.peak == MAX_IN_FLIGHT
    ids = [sorted(e["resource"]["id"] for e in r.get("entry", [])) for r in results]
    for i, found in enumerate(ids):
        assert found == ids[i % len(kinds)]  # every request answered, and the same way
    assert ids[0] == sorted(
        entry["resource"]["id"]
        for entry in small_patient.raw_bundle["entry"]
        if entry["resource"]["resourceType"] == "Condition"
    )
