"""Limits: question length, body size, rate, time, concurrency, CORS; each with its status."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from backend_common import OTHER_KEY, QUESTION, SERVICE_KEY, headers, openai_model_server
from fhir_ground_truth import RawSynthea
from sse_events import parse_sse

from agent.backend.errors import RateLimited
from agent.backend.limits import RateLimiter
from agent.llm.scripted_server import ScriptedOpenAIServer


@pytest.fixture
def patient(raw_synthea: RawSynthea) -> str:
    return sorted(raw_synthea.patients)[0]


@pytest.fixture
def model_server() -> Iterator[ScriptedOpenAIServer]:
    with openai_model_server() as server:
        yield server


def _ask(url: str, body: dict[str, Any], key: str = SERVICE_KEY) -> httpx.Response:
    return httpx.post(f"{url}/v1/ask", json=body, headers=headers(key), timeout=30)


def _in_background(url: str, body: dict[str, Any]) -> tuple[threading.Thread, list[httpx.Response]]:
    done: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: done.append(_ask(url, body)))
    thread.start()
    return thread, done


def _wait_for_model_call(server: ScriptedOpenAIServer, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while len(server.requests) < count:
        assert time.monotonic() < deadline, "the first question never reached the model"
        time.sleep(0.01)


def test_a_question_over_the_limit_is_422(make_backend: Any, patient: str) -> None:
    with make_backend(max_question_chars=40) as url:
        too_long = _ask(url, {"question": "x" * 41, "patient": patient})
        schema = httpx.get(f"{url}/openapi.json").json()
    assert too_long.status_code == 422
    assert too_long.json()["error"] == "question_too_long"
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["maxLength"] == 40


def test_bodies_over_the_limit_are_413_whether_announced_or_streamed(
    make_backend: Any, patient: str
) -> None:
    padding = "y" * 300

    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        yield padding.encode()
        yield b'", "patient": "x"}'

    with make_backend(max_body_bytes=200) as url:
        announced = _ask(url, {"question": padding, "patient": patient})
        streamed = httpx.post(
            f"{url}/v1/ask",
            content=chunks(),
            headers={**headers(), "Content-Type": "application/json"},
            timeout=30,
        )
        small = httpx.get(f"{url}/v1/sessions/{'b' * 32}", headers=headers(), timeout=10)
    assert "content-length" not in streamed.request.headers
    for response in (announced, streamed):
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"
    assert small.status_code == 404


def test_the_rate_limit_is_per_key_with_retry_after(make_backend: Any) -> None:
    path = f"/v1/sessions/{'c' * 32}"
    with make_backend(rate_per_minute=1, rate_burst=2) as url:
        statuses = [
            httpx.get(f"{url}{path}", headers=headers(), timeout=10).status_code for _ in range(2)
        ]
        limited = httpx.get(f"{url}{path}", headers=headers(), timeout=10)
        other_key = httpx.get(f"{url}{path}", headers=headers(OTHER_KEY), timeout=10)
    assert statuses == [404, 404]
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert other_key.status_code == 404


def test_a_slow_question_times_out_with_504(
    make_backend: Any, model_server: ScriptedOpenAIServer, patient: str
) -> None:
    settings = {"llm_url": model_server.base_url}
    with make_backend(model=None, settings=settings, request_timeout_s=0.3) as url:
        started = time.monotonic()
        response = _ask(url, {"question": f"SLOW {QUESTION}", "patient": patient})
        elapsed = time.monotonic() - started
        with httpx.stream(
            "POST",
            f"{url}/v1/ask/stream",
            json={"question": f"SLOW {QUESTION}", "patient": patient},
            headers=headers(),
            timeout=30,
        ) as streamed:
            streamed.read()
    assert response.status_code == 504
    assert response.json()["error"] == "timeout"
    assert elapsed < 2.0
    kind, data = parse_sse(streamed.text)[-1]
    assert (kind, data["status"], data["error"]) == ("error", 504, "timeout")


def test_over_capacity_is_503_with_retry_after(
    make_backend: Any, model_server: ScriptedOpenAIServer, patient: str
) -> None:
    settings = {"llm_url": model_server.base_url}
    slow = {"question": f"SLOW {QUESTION}", "patient": patient}
    with make_backend(model=None, settings=settings, max_concurrent=1, max_queue=0) as url:
        thread, first = _in_background(url, slow)
        _wait_for_model_call(model_server)
        refused = _ask(url, {"question": QUESTION, "patient": patient})
        thread.join()
    assert refused.status_code == 503
    assert refused.json()["error"] == "overloaded"
    assert int(refused.headers["Retry-After"]) >= 1
    assert first[0].status_code == 200


def test_a_queued_question_gives_up_after_the_queue_timeout(
    make_backend: Any, model_server: ScriptedOpenAIServer, patient: str
) -> None:
    settings = {"llm_url": model_server.base_url}
    slow = {"question": f"SLOW {QUESTION}", "patient": patient}
    with make_backend(
        model=None, settings=settings, max_concurrent=1, max_queue=1, queue_timeout_s=0.2
    ) as url:
        thread, first = _in_background(url, slow)
        _wait_for_model_call(model_server)
        started = time.monotonic()
        refused = _ask(url, {"question": QUESTION, "patient": patient})
        waited = time.monotonic() - started
        thread.join()
    assert refused.status_code == 503
    assert refused.json()["error"] == "overloaded"
    assert 0.2 <= waited < 1.0
    assert first[0].status_code == 200


def test_one_question_at_a_time_per_session(
    make_backend: Any, model_server: ScriptedOpenAIServer, patient: str
) -> None:
    settings = {"llm_url": model_server.base_url}
    with make_backend(model=None, settings=settings) as url:
        created = _ask(url, {"question": QUESTION, "patient": patient}).json()
        follow_up = {"question": f"SLOW {QUESTION}", "patient": patient}
        follow_up["session_id"] = created["session_id"]
        calls = len(model_server.requests)
        thread, first = _in_background(url, follow_up)
        _wait_for_model_call(model_server, calls + 1)
        busy = _ask(url, {**follow_up, "question": QUESTION})
        thread.join()
    assert busy.status_code == 409
    assert busy.json()["error"] == "session_busy"
    assert first[0].status_code == 200


def test_cors_allows_only_the_configured_origins(make_backend: Any) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-fhir-server,content-type",
    }
    with make_backend(cors_origins=("https://app.example.org",)) as url:
        allowed = httpx.options(
            f"{url}/v1/ask", headers={"Origin": "https://app.example.org", **preflight}
        )
        other = httpx.options(
            f"{url}/v1/ask", headers={"Origin": "https://evil.example.com", **preflight}
        )
        refusal = httpx.post(
            f"{url}/v1/ask", json={}, headers={"Origin": "https://app.example.org"}, timeout=10
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.org"
    assert "x-fhir-server" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert refusal.status_code == 401
    assert refusal.headers["access-control-allow-origin"] == "https://app.example.org"


def test_a_client_leaving_a_stream_stops_its_question_and_frees_the_slot(
    make_backend: Any, model_server: ScriptedOpenAIServer, patient: str
) -> None:
    settings = {"llm_url": model_server.base_url}
    slow = {"question": f"SLOW {QUESTION}", "patient": patient}
    with make_backend(model=None, settings=settings, max_concurrent=1, max_queue=0) as url:
        with httpx.stream(
            "POST", f"{url}/v1/ask/stream", json=slow, headers=headers(), timeout=30
        ) as stream:
            first_line = next(stream.iter_lines())
        deadline = time.monotonic() + 10
        while (
            answered := _ask(url, {"question": QUESTION, "patient": patient})
        ).status_code == 503:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert first_line.startswith("id: 1")
    assert answered.status_code == 200
    slow_calls = [r for r in model_server.requests if "SLOW" in str(r["messages"])]
    assert len(slow_calls) <= 1  # planning stopped with the client; no answer was written


def test_token_bucket_refills_at_the_configured_rate() -> None:
    now = [100.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    limiter.check("a")
    limiter.check("a")
    with pytest.raises(RateLimited) as limited:
        limiter.check("a")
    assert limited.value.headers["Retry-After"] == "1"
    limiter.check("b")  # buckets are per key
    now[0] += 0.5
    with pytest.raises(RateLimited):
        limiter.check("a")
    now[0] += 0.5
    limiter.check("a")  # one token back after one second at 60 a minute
    now[0] += 60
    limiter.check("a")
    limiter.check("a")  # refilled to the burst, never beyond
    with pytest.raises(RateLimited):
        limiter.check("a")
