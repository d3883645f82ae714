"""Statuses and bodies become the documented exceptions, with where and why but no values."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fhir_client_fakes import Script, fhir_response, outcome

from tools.fhir import (
    FHIRAuthError,
    FHIRBadRequest,
    FHIRClient,
    FHIRConflict,
    FHIRError,
    FHIRGone,
    FHIRNotFound,
    FHIRNotSupported,
    FHIRProtocolError,
    FHIRUnavailable,
)

Make = Callable[..., FHIRClient]
PATIENT_ID = "9f3c2b1a-secret"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, FHIRBadRequest),
        (401, FHIRAuthError),
        (403, FHIRAuthError),
        (404, FHIRNotFound),
        (405, FHIRNotSupported),
        (409, FHIRConflict),
        (410, FHIRGone),
        (412, FHIRConflict),
        (422, FHIRBadRequest),
        (500, FHIRUnavailable),
        (501, FHIRNotSupported),
        (418, FHIRError),
    ],
)
@pytest.mark.asyncio
async def test_status_maps_to_its_exception(
    make_client: Make, status: int, expected: type[FHIRError]
) -> None:
    body = outcome(f"problem {status}", "processing")
    script = Script(fhir_response(status, body, {"X-Request-Id": "req-42"}))
    async with make_client(script) as client:
        with pytest.raises(FHIRError) as caught:
            await client.search("Observation", {"patient": PATIENT_ID, "code": "4548-4"})
    error = caught.value
    assert type(error) is expected
    assert (error.method, error.path, error.status) == ("GET", "/r4/Observation", status)
    assert error.param_names == ("code", "patient")
    assert error.diagnostics == f"problem {status}"
    assert error.request_id == "req-42"
    assert len(script.requests) == 1
    message = str(error)
    assert "GET /r4/Observation [params: code, patient]" in message
    assert PATIENT_ID not in message
    assert "4548-4" not in message


@pytest.mark.asyncio
async def test_bad_request_carries_every_issue(make_client: Make) -> None:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "not-supported",
                "diagnostics": "Unknown search parameter 'colour'",
                "expression": ["Observation.colour"],
            },
            {"severity": "warning", "code": "processing", "details": {"text": "slow query"}},
        ],
    }
    async with make_client(Script(fhir_response(400, body))) as client:
        with pytest.raises(FHIRBadRequest) as caught:
            await client.search("Observation", {"colour": "red"})
    first, second = caught.value.issues
    assert (first.severity, first.code, first.expression) == (
        "error",
        "not-supported",
        ("Observation.colour",),
    )
    assert second.text == "slow query"
    assert caught.value.diagnostics == "Unknown search parameter 'colour'; slow query"


@pytest.mark.asyncio
async def test_error_without_an_operation_outcome_still_says_what_failed(make_client: Make) -> None:
    html = httpx.Response(
        502, content=b"<html>Bad gateway</html>", headers={"Content-Type": "text/html"}
    )
    async with make_client(Script(html), max_retries=0) as client:
        with pytest.raises(FHIRUnavailable) as caught:
            await client.read("Patient", "p1")
    assert str(caught.value).startswith("FHIR GET /r4/Patient/p1 -> 502 Bad Gateway")
    assert caught.value.diagnostics == ""


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda c: c.read("Patient", "../Observation/x"), "invalid FHIR id"),
        (lambda c: c.read("Patient", "a b"), "invalid FHIR id"),
        (lambda c: c.read("patient", "p1"), "invalid FHIR resource type"),
        (lambda c: c.read("Patient/x", "p1"), "invalid FHIR resource type"),
        (lambda c: c.search("Observation", {"a&b": "1"}), "invalid FHIR search parameter"),
        (lambda c: c.everything("p1/../p2"), "invalid FHIR patient id"),
        (lambda c: c.binary("x?y"), "invalid FHIR id"),
        (lambda c: c.delete("Patient", ""), "invalid FHIR id"),
    ],
)
@pytest.mark.asyncio
async def test_malformed_arguments_never_reach_the_server(
    make_client: Make, call: Callable[[FHIRClient], object], what: str
) -> None:
    script = Script(fhir_response(200, {"resourceType": "Patient", "id": "p1"}))
    async with make_client(script) as client:
        with pytest.raises(FHIRBadRequest, match=what) as caught:
            await call(client)  # type: ignore[misc]
    assert caught.value.status is None
    assert script.requests == []


@pytest.mark.asyncio
async def test_read_answered_with_another_resource_is_a_protocol_error(make_client: Make) -> None:
    script = Script(fhir_response(200, {"resourceType": "Observation", "id": "p1"}))
    async with make_client(script) as client:
        with pytest.raises(FHIRProtocolError, match="expected a Patient, got 'Observation'"):
            await client.read("Patient", "p1")
    script = Script(fhir_response(200, {"resourceType": "Patient", "id": "p2"}))
    async with make_client(script) as client:
        with pytest.raises(FHIRProtocolError, match="different resource id"):
            await client.read("Patient", "p1")


@pytest.mark.asyncio
async def test_an_html_page_with_200_is_a_protocol_error(make_client: Make) -> None:
    page = httpx.Response(
        200, content=b"<html>Sign in</html>", headers={"Content-Type": "text/html"}
    )
    async with make_client(Script(page)) as client:
        with pytest.raises(FHIRProtocolError, match="not valid JSON \\(text/html"):
            await client.search("Observation")


@pytest.mark.asyncio
async def test_redirects_are_not_followed(make_client: Make) -> None:
    redirect = httpx.Response(302, headers={"Location": "https://login.elsewhere.test/"})
    script = Script(redirect)
    async with make_client(script) as client:
        with pytest.raises(FHIRProtocolError, match="redirects are not followed"):
            await client.read("Patient", "p1")
    assert script.urls == ["https://fhir.test/r4/Patient/p1"]


@pytest.mark.asyncio
async def test_transaction_answer_must_match_the_request(make_client: Make) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "id": "a"},
                "request": {"method": "PUT", "url": "Patient/a"},
            },
            {
                "resource": {"resourceType": "Patient", "id": "b"},
                "request": {"method": "PUT", "url": "Patient/b"},
            },
        ],
    }
    short = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [{"response": {"status": "200"}}],
    }
    async with make_client(Script(fhir_response(200, short))) as client:
        with pytest.raises(FHIRProtocolError, match="transaction of 2 entries answered with 1"):
            await client.transaction(bundle)
        with pytest.raises(ValueError, match="expected a Bundle of type 'batch'"):
            await client.batch(bundle)


@pytest.mark.asyncio
async def test_create_without_body_reads_back_the_location(make_client: Make) -> None:
    stored = {"resourceType": "Observation", "id": "new1", "status": "final"}
    script = Script(
        fhir_response(201, None, {"Location": "https://fhir.test/r4/Observation/new1/_history/1"}),
        fhir_response(200, stored),
    )
    async with make_client(script) as client:
        created = await client.create({"resourceType": "Observation", "status": "final"})
    assert created == stored
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("POST", "/r4/Observation"),
        ("GET", "/r4/Observation/new1"),
    ]
    assert script.requests[0].headers["Prefer"] == "return=representation"
    assert script.requests[0].headers["Content-Type"] == "application/fhir+json"


@pytest.mark.asyncio
async def test_conditional_create_and_versioned_update_send_their_headers(
    make_client: Make,
) -> None:
    stored = {"resourceType": "Patient", "id": "p1"}
    script = Script(fhir_response(200, stored))
    async with make_client(script) as client:
        await client.create(stored, if_none_exist={"identifier": "urn:mrn|123"})
        await client.update(stored, if_match='W/"3"')
        with pytest.raises(ValueError, match="needs a resource with an id"):
            await client.update({"resourceType": "Patient"})
    create, update = script.requests
    assert create.headers["If-None-Exist"] == "identifier=urn%3Amrn%7C123"
    assert (update.method, update.url.path, update.headers["If-Match"]) == (
        "PUT",
        "/r4/Patient/p1",
        'W/"3"',
    )


@pytest.mark.asyncio
async def test_binary_decodes_a_binary_resource_or_passes_raw_bytes(make_client: Make) -> None:
    resource = {
        "resourceType": "Binary",
        "id": "b1",
        "contentType": "image/png",
        "data": "iVBORw0KGgo=",
    }
    raw = httpx.Response(200, content=b"\x00\x01raw", headers={"Content-Type": "application/dicom"})
    script = Script(fhir_response(200, resource), raw)
    async with make_client(script) as client:
        assert await client.binary("b1") == (b"\x89PNG\r\n\x1a\n", "image/png")
        assert await client.binary("b2", accept="application/dicom") == (
            b"\x00\x01raw",
            "application/dicom",
        )
    assert script.requests[1].headers["Accept"] == "application/dicom"


@pytest.mark.asyncio
async def test_binary_with_broken_base64_is_a_protocol_error(make_client: Make) -> None:
    resource = {
        "resourceType": "Binary",
        "id": "b1",
        "contentType": "image/png",
        "data": "no*base64",
    }
    async with make_client(Script(fhir_response(200, resource))) as client:
        with pytest.raises(FHIRProtocolError, match="not valid base64"):
            await client.binary("b1")
