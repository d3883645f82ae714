"""POST /v1/ask/stream: server-sent events in the agent's order, final or error last."""

from __future__ import annotations

from typing import Any

import httpx
from backend_common import QUESTION, agent_reply, headers
from fhir_ground_truth import RawSynthea
from sse_events import parse_sse

from agent.backend.schemas import AskResponse
from agent.llm import LLMUnavailable, ScriptedChatModel


def _stream(url: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.stream(
        "POST", f"{url}/v1/ask/stream", json=body, headers=headers(), timeout=30
    ) as response:
        response.read()
    return response


def test_stream_emits_steps_evidence_tokens_then_final_last(
    service_backend: tuple[str, ScriptedChatModel], raw_synthea: RawSynthea
) -> None:
    url, _ = service_backend
    pid = sorted(raw_synthea.patients)[2]

    response = _stream(url, {"question": QUESTION, "patient": pid})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "step"
    assert kinds[-1] == "final"
    assert kinds.count("final") == 1
    assert "error" not in kinds
    first_token, final_at = kinds.index("token"), kinds.index("final")
    assert kinds.index("evidence") < first_token < final_at
    # The planning steps come before the answer is written, the verification after it.
    nodes = [data["node"] for kind, data in events if kind == "step"]
    assert nodes.index("plan") < nodes.index("answer") < nodes.index("verify")
    final = AskResponse.model_validate(events[-1][1])
    assert final.patient_id == pid
    # Tokens spell the answer with short handles; the final text has them resolved.
    streamed = "".join(data["message"] for kind, data in events if kind == "token")
    assert streamed.startswith("The record lists this condition [C")
    assert final.answer.startswith("The record lists this condition [Condition/")
    evidence = [data for kind, data in events if kind == "evidence"]
    assert {e["data"]["tool"] for e in evidence} == {"record_overview", "search"}


def test_a_model_outage_ends_the_stream_with_an_error_event(
    make_backend: Any, raw_synthea: RawSynthea
) -> None:
    model = ScriptedChatModel.from_steps(LLMUnavailable("connection refused", url="http://x"))
    pid = sorted(raw_synthea.patients)[0]
    with make_backend(model=model) as url:
        response = _stream(url, {"question": QUESTION, "patient": pid})

    assert response.status_code == 200
    events = parse_sse(response.text)
    kind, data = events[-1]
    assert kind == "error"
    assert data["status"] == 503
    assert data["error"] == "model_unavailable"
    assert "final" not in [k for k, _ in events]


def test_the_same_outage_on_ask_is_a_503(make_backend: Any, raw_synthea: RawSynthea) -> None:
    model = ScriptedChatModel.from_steps(
        agent_reply, LLMUnavailable("connection refused", url="http://x")
    )
    pid = sorted(raw_synthea.patients)[0]
    with make_backend(model=model) as url:
        response = httpx.post(
            f"{url}/v1/ask",
            json={"question": QUESTION, "patient": pid},
            headers=headers(),
            timeout=30,
        )
    assert response.status_code == 503
    assert response.json()["error"] == "model_unavailable"
    assert "Retry-After" in response.headers


def test_refusals_before_the_agent_starts_are_http_errors_not_events(
    service_backend: tuple[str, ScriptedChatModel],
) -> None:
    url, _ = service_backend
    response = _stream(url, {"question": QUESTION, "patient": "Nobody Nowhere-Atall"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "patient_not_found"
