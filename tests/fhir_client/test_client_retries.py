"""Fault injection: every failure ends in the specified retry or a clear error."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from collections.abc import Callable

import httpx
import pytest
from fhir_client_fakes import BASE, FakeTime, Script, fhir_response, outcome

from tools.fhir import (
    BearerToken,
    FHIRAuthError,
    FHIRClient,
    FHIRProtocolError,
    FHIRUnavailable,
)

PATIENT = {"resourceType": "Patient", "id": "p1"}
Make = Callable[..., FHIRClient]


@pytest.mark.asyncio
async def test_429_waits_exactly_the_retry_after_seconds(
    make_client: Make, fake_time: FakeTime
) -> None:
    script = Script(fhir_response(429, headers={"Retry-After": "7"}), fhir_response(200, PATIENT))
    async with make_client(script) as client:
        assert await client.read("Patient", "p1") == PATIENT
        assert client.stats.snapshot().retries == 1
    assert fake_time.sleeps == [7.0]
    assert len(script.requests) == 2


@pytest.mark.asyncio
async def test_retry_after_as_http_date_is_honoured(make_client: Make, fake_time: FakeTime) -> None:
    when = email.utils.formatdate(time.time() + 12, usegmt=True)
    script = Script(fhir_response(503, headers={"Retry-After": when}), fhir_response(200, PATIENT))
    async with make_client(script) as client:
        await client.read("Patient", "p1")
    assert len(fake_time.sleeps) == 1
    # HTTP-dates have one-second resolution.
    assert 10.5 <= fake_time.sleeps[0] <= 12.0


@pytest.mark.asyncio
async def test_503_then_success_backs_off_with_jitter(
    make_client: Make, fake_time: FakeTime
) -> None:
    script = Script(fhir_response(503), fhir_response(503), fhir_response(200, PATIENT))
    async with make_client(script, backoff_base_s=1.0) as client:
        assert await client.read("Patient", "p1") == PATIENT
    first, second = fake_time.sleeps
    assert 0.5 <= first <= 1.0  # equal jitter on 1 s
    assert 1.0 <= second <= 2.0  # equal jitter on 2 s


@pytest.mark.asyncio
async def test_503_forever_fails_after_max_retries(make_client: Make, fake_time: FakeTime) -> None:
    script = Script(fhir_response(503, outcome("maintenance", "transient")))
    async with make_client(script, max_retries=3) as client:
        with pytest.raises(FHIRUnavailable) as caught:
            await client.read("Patient", "p1")
    assert len(script.requests) == 4
    assert len(fake_time.sleeps) == 3
    error = caught.value
    assert error.status == 503
    assert error.diagnostics == "maintenance"
    assert "gave up after 4 attempts" in str(error)
    assert "GET /r4/Patient/p1" in str(error)


@pytest.mark.asyncio
async def test_retry_after_beyond_the_budget_fails_at_once(
    make_client: Make, fake_time: FakeTime
) -> None:
    script = Script(fhir_response(429, headers={"Retry-After": "120"}), fhir_response(200, PATIENT))
    async with make_client(script, retry_budget_s=30) as client:
        with pytest.raises(FHIRUnavailable) as caught:
            await client.read("Patient", "p1")
    assert len(script.requests) == 1
    assert fake_time.sleeps == []
    assert "retry after 120 s" in str(caught.value)
    assert "budget" in str(caught.value)


@pytest.mark.asyncio
async def test_time_budget_bounds_the_retries(make_client: Make, fake_time: FakeTime) -> None:
    script = Script(fhir_response(502))
    async with make_client(
        script, max_retries=10, retry_budget_s=5, backoff_base_s=1, backoff_max_s=4
    ) as client:
        with pytest.raises(FHIRUnavailable, match="retry budget of 5 s spent"):
            await client.read("Patient", "p1")
    assert sum(fake_time.sleeps) <= 5
    assert len(script.requests) == len(fake_time.sleeps) + 1 < 11


@pytest.mark.asyncio
async def test_time_budget_bounds_transport_retries(make_client: Make, fake_time: FakeTime) -> None:
    script = Script(httpx.ConnectError)
    async with make_client(script, max_retries=10, retry_budget_s=2, backoff_base_s=1) as client:
        with pytest.raises(FHIRUnavailable, match="the retry budget of 2 s is spent"):
            await client.read("Patient", "p1")
    assert sum(fake_time.sleeps) <= 2
    assert len(script.requests) == len(fake_time.sleeps) + 1


@pytest.mark.asyncio
async def test_get_is_retried_after_a_read_timeout(make_client: Make) -> None:
    script = Script(httpx.ReadTimeout, fhir_response(200, PATIENT))
    async with make_client(script) as client:
        assert await client.read("Patient", "p1") == PATIENT
    assert len(script.requests) == 2


@pytest.mark.asyncio
async def test_slow_server_hits_the_per_attempt_timeout(make_client: Make) -> None:
    calls = 0

    async def stall(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(5)
        return fhir_response(200, PATIENT)

    async with make_client(stall, timeout=0.05, max_retries=1) as client:
        started = time.perf_counter()
        with pytest.raises(FHIRUnavailable, match=r"timed out after 0\.05 s; gave up after 2"):
            await client.read("Patient", "p1")
    assert calls == 2
    assert time.perf_counter() - started < 2


@pytest.mark.asyncio
async def test_connect_errors_are_retried_then_reported(make_client: Make) -> None:
    script = Script(httpx.ConnectError)
    async with make_client(script, max_retries=2) as client:
        with pytest.raises(FHIRUnavailable, match=r"cannot connect to fhir\.test:443"):
            await client.read("Patient", "p1")
    assert len(script.requests) == 3


@pytest.mark.asyncio
async def test_nothing_listening_on_loopback(fake_time: FakeTime) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = FHIRClient(
        f"http://127.0.0.1:{port}/fhir", max_retries=1, sleep=fake_time.sleep, clock=fake_time.clock
    )
    async with client:
        with pytest.raises(FHIRUnavailable, match=rf"cannot connect to 127\.0\.0\.1:{port}"):
            await client.capabilities()
    assert client.stats.snapshot().requests == 2


@pytest.mark.asyncio
async def test_create_is_not_retried_on_503(make_client: Make) -> None:
    script = Script(fhir_response(503), fhir_response(201, {"resourceType": "Patient", "id": "x"}))
    async with make_client(script) as client:
        with pytest.raises(FHIRUnavailable, match="not idempotent and may have been applied"):
            await client.create({"resourceType": "Patient"})
    assert len(script.requests) == 1


@pytest.mark.asyncio
async def test_create_is_not_retried_after_a_read_timeout(make_client: Make) -> None:
    script = Script(httpx.ReadTimeout, fhir_response(201, {"resourceType": "Patient", "id": "x"}))
    async with make_client(script) as client:
        with pytest.raises(FHIRUnavailable, match="not idempotent"):
            await client.create({"resourceType": "Patient"})
    assert len(script.requests) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "first",
    [httpx.ConnectError, fhir_response(429, headers={"Retry-After": "1"})],
    ids=["connect-error", "429"],
)
async def test_create_is_retried_when_it_surely_was_not_processed(
    make_client: Make, first: httpx.Response | type[Exception]
) -> None:
    created = {"resourceType": "Patient", "id": "new"}
    script = Script(first, fhir_response(201, created))
    async with make_client(script) as client:
        assert await client.create({"resourceType": "Patient"}) == created
    assert [r.method for r in script.requests] == ["POST", "POST"]


def _transaction(*methods: str) -> dict[str, object]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "id": f"p{i}"},
                "request": {"method": m, "url": f"Patient/p{i}" if m == "PUT" else "Patient"},
            }
            for i, m in enumerate(methods)
        ],
    }


def _response_for(bundle: dict[str, object]) -> dict[str, object]:
    entries = bundle["entry"]
    assert isinstance(entries, list)
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [{"response": {"status": "200 OK"}} for _ in entries],
    }


@pytest.mark.asyncio
async def test_transaction_of_puts_is_retried(make_client: Make) -> None:
    bundle = _transaction("PUT", "PUT")
    script = Script(fhir_response(504), fhir_response(200, _response_for(bundle)))
    async with make_client(script) as client:
        response = await client.transaction(bundle)
    assert response["type"] == "transaction-response"
    assert len(script.requests) == 2


@pytest.mark.asyncio
async def test_transaction_with_a_create_is_not_retried(make_client: Make) -> None:
    bundle = _transaction("PUT", "POST")
    script = Script(fhir_response(504), fhir_response(200, _response_for(bundle)))
    async with make_client(script) as client:
        with pytest.raises(FHIRUnavailable, match="not idempotent"):
            await client.transaction(bundle)
    assert len(script.requests) == 1


@pytest.mark.asyncio
async def test_truncated_json_is_a_protocol_error(make_client: Make) -> None:
    truncated = b'{"resourceType": "Patient", "id": "p1", "name": [{"fam'
    script = Script(
        httpx.Response(200, content=truncated, headers={"Content-Type": "application/fhir+json"})
    )
    async with make_client(script) as client:
        with pytest.raises(FHIRProtocolError, match="not valid JSON"):
            await client.read("Patient", "p1")
    assert len(script.requests) == 1


@pytest.mark.asyncio
async def test_body_cut_short_on_a_real_socket(fake_time: FakeTime) -> None:
    """The server promises 5000 bytes, sends 40 and hangs up: never a partial resource."""
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n"
            b"Content-Length: 5000\r\n\r\n" + b'{"resourceType":"Patient","id":"p1","name"'
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        FHIRClient(
            f"http://127.0.0.1:{port}", max_retries=2, sleep=fake_time.sleep, clock=fake_time.clock
        ) as client,
    ):
        with pytest.raises(FHIRProtocolError, match="incomplete or malformed HTTP response"):
            await client.read("Patient", "p1")
    assert connections == 3


@pytest.mark.asyncio
async def test_oversized_response_is_refused(make_client: Make) -> None:
    big = {"resourceType": "Patient", "id": "p1", "text": {"div": "x" * 5000}}
    script = Script(fhir_response(200, big))
    async with make_client(script, max_response_bytes=1000) as client:
        with pytest.raises(FHIRProtocolError, match="larger than the 1000 byte limit"):
            await client.read("Patient", "p1")
    assert len(script.requests) == 1


@pytest.mark.asyncio
async def test_static_bearer_401_is_final(make_client: Make) -> None:
    script = Script(fhir_response(401, outcome("token expired", "login")))
    async with make_client(script, auth=BearerToken("abc")) as client:
        with pytest.raises(FHIRAuthError) as caught:
            await client.read("Patient", "p1")
    assert len(script.requests) == 1
    assert script.requests[0].headers["Authorization"] == "Bearer abc"
    assert caught.value.status == 401
    assert caught.value.diagnostics == "token expired"


@pytest.mark.asyncio
async def test_retries_count_in_stats_and_failures(make_client: Make) -> None:
    script = Script(fhir_response(503), fhir_response(200, PATIENT))
    async with make_client(script) as client:
        await client.read("Patient", "p1")
        snap = client.stats.snapshot()
    assert (snap.requests, snap.retries, snap.failures) == (2, 1, 1)
    assert snap.bytes_received == len(fhir_response(200, PATIENT).content)


def test_base_url_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        FHIRClient("fhir.test/r4")
    with pytest.raises(ValueError, match="query"):
        FHIRClient(BASE + "?x=1")
