"""POST /v1/ask, follow-ups, GET /v1/sessions/{id}, /healthz and /readyz for API-key callers."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
import pytest
from backend_common import OTHER_KEY, QUESTION, SERVICE_KEY, headers
from fhir_ground_truth import RawSynthea

from agent.backend.schemas import AskResponse
from agent.llm import ScriptedChatModel
from fhir_fixtures.server import BackgroundServer


def _display(resource: dict[str, Any]) -> str:
    """The condition's name without SNOMED's semantic tag, e.g. ``(disorder)``."""
    code = resource["code"]
    return re.sub(r"\s*\([^)]*\)$", "", str(code.get("text") or code["coding"][0]["display"]))


def _patient_with_conditions(raw: RawSynthea, minimum: int = 3) -> str:
    return next(pid for pid in sorted(raw.patients) if len(raw.of(pid, "Condition")) >= minimum)


def _unique_name(raw: RawSynthea) -> tuple[str, str]:
    names = {
        pid: f"{p['name'][0]['given'][0]} {p['name'][0]['family']}"
        for pid, p in raw.patients.items()
    }
    counts = Counter(names.values())
    pid = next(pid for pid in sorted(names) if counts[names[pid]] == 1)
    return pid, names[pid]


def test_ask_answers_with_citations_from_the_patients_record(
    service_backend: tuple[str, ScriptedChatModel], raw_synthea: RawSynthea
) -> None:
    url, _ = service_backend
    pid = _patient_with_conditions(raw_synthea)
    conditions = {c["id"]: c for c in raw_synthea.of(pid, "Condition")}

    response = httpx.post(
        f"{url}/v1/ask", json={"question": QUESTION, "patient": pid}, headers=headers(), timeout=30
    )

    assert response.status_code == 200, response.text
    body = AskResponse.model_validate(response.json())
    assert body.patient_id == pid
    assert body.verified is True
    assert len(body.citations) == 1
    cited = body.citations[0]
    kind, _, cid = cited.ref.partition("/")
    assert kind == "Condition"
    assert cid in conditions
    assert cited.summary is not None
    assert _display(conditions[cid]) in cited.summary
    assert conditions[cid]["onsetDateTime"][:10] in cited.summary
    assert f"[{cited.ref}]" in body.answer
    assert body.usage.llm_calls == 3
    assert body.usage.fhir_requests > 0
    assert len(body.session_id) == 32


def test_patient_named_by_name_is_resolved(
    service_backend: tuple[str, ScriptedChatModel], raw_synthea: RawSynthea
) -> None:
    url, _ = service_backend
    pid, name = _unique_name(raw_synthea)

    response = httpx.post(
        f"{url}/v1/ask", json={"question": QUESTION, "patient": name}, headers=headers(), timeout=30
    )

    assert response.status_code == 200, response.text
    assert response.json()["patient_id"] == pid


def test_follow_up_continues_the_conversation_and_session_lists_its_turns(
    service_backend: tuple[str, ScriptedChatModel], raw_synthea: RawSynthea
) -> None:
    url, model = service_backend
    pid = _patient_with_conditions(raw_synthea)
    first = httpx.post(
        f"{url}/v1/ask",
        json={"question": "First question about conditions?", "patient": pid},
        headers=headers(),
        timeout=30,
    ).json()
    calls_before = model.calls

    second = httpx.post(
        f"{url}/v1/ask",
        json={
            "question": "And the follow-up?",
            "patient": pid,
            "session_id": first["session_id"],
        },
        headers=headers(),
        timeout=30,
    )

    assert second.status_code == 200, second.text
    assert second.json()["session_id"] == first["session_id"]
    # The follow-up's prompts carry the earlier turn, read back from the checkpointer.
    follow_up_prompts = [m[-1].text for m in model.received[calls_before:]]
    assert any("Earlier question: First question about conditions?" in p for p in follow_up_prompts)
    view = httpx.get(f"{url}/v1/sessions/{first['session_id']}", headers=headers(), timeout=10)
    assert view.status_code == 200
    assert view.json()["patient_id"] == pid
    turns = view.json()["turns"]
    assert [t["question"] for t in turns] == [
        "First question about conditions?",
        "And the follow-up?",
    ]
    assert turns[0]["answer"] == first["answer"]
    assert turns[0]["citations"] == [c["ref"] for c in first["citations"]]


def test_sessions_belong_to_the_key_that_created_them(
    service_backend: tuple[str, ScriptedChatModel], raw_synthea: RawSynthea
) -> None:
    url, _ = service_backend
    pid = _patient_with_conditions(raw_synthea)
    created = httpx.post(
        f"{url}/v1/ask", json={"question": QUESTION, "patient": pid}, headers=headers(), timeout=30
    ).json()
    sid = created["session_id"]

    other_read = httpx.get(f"{url}/v1/sessions/{sid}", headers=headers(OTHER_KEY), timeout=10)
    other_continue = httpx.post(
        f"{url}/v1/ask",
        json={"question": QUESTION, "patient": pid, "session_id": sid},
        headers=headers(OTHER_KEY),
        timeout=30,
    )
    own_read = httpx.get(f"{url}/v1/sessions/{sid}", headers=headers(SERVICE_KEY), timeout=10)

    assert other_read.status_code == 404
    assert other_read.json()["error"] == "session_not_found"
    assert other_continue.status_code == 404
    assert own_read.status_code == 200


def test_a_session_cannot_be_continued_for_another_patient(
    service_backend: tuple[str, ScriptedChatModel], raw_synthea: RawSynthea
) -> None:
    url, _ = service_backend
    first, second = sorted(raw_synthea.patients)[:2]
    sid = httpx.post(
        f"{url}/v1/ask",
        json={"question": QUESTION, "patient": first},
        headers=headers(),
        timeout=30,
    ).json()["session_id"]

    response = httpx.post(
        f"{url}/v1/ask",
        json={"question": QUESTION, "patient": second, "session_id": sid},
        headers=headers(),
        timeout=30,
    )

    assert response.status_code == 409
    assert response.json()["error"] == "session_other_patient"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"question": QUESTION}, 422, "patient_required"),
        ({"question": QUESTION, "patient": "Nobody Nowhere-Atall"}, 404, "patient_not_found"),
        ({"question": "", "patient": "x"}, 422, "invalid_request"),
        ({"question": QUESTION, "patient": "x", "answer_type": "choice"}, 422, "invalid_request"),
        (
            {"question": QUESTION, "patient": "x", "session_id": "not-a-session"},
            422,
            "invalid_request",
        ),
        ({"question": QUESTION, "patient": "x", "surprise": 1}, 422, "invalid_request"),
    ],
)
def test_invalid_requests_are_refused_with_a_json_error(
    service_backend: tuple[str, ScriptedChatModel], body: dict[str, Any], status: int, code: str
) -> None:
    url, _ = service_backend
    response = httpx.post(f"{url}/v1/ask", json=body, headers=headers(), timeout=30)
    assert response.status_code == status
    assert response.json()["error"] == code
    assert response.json()["message"]


def test_unknown_session_is_404(
    service_backend: tuple[str, ScriptedChatModel], raw_synthea: RawSynthea
) -> None:
    url, _ = service_backend
    pid = sorted(raw_synthea.patients)[0]
    missing = "0" * 32
    asked = httpx.post(
        f"{url}/v1/ask",
        json={"question": QUESTION, "patient": pid, "session_id": missing},
        headers=headers(),
        timeout=30,
    )
    read = httpx.get(f"{url}/v1/sessions/{missing}", headers=headers(), timeout=10)
    assert (asked.status_code, read.status_code) == (404, 404)


def test_health_and_readiness(service_backend: tuple[str, ScriptedChatModel]) -> None:
    url, _ = service_backend
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert {c["name"]: c["ok"] for c in ready.json()["checks"]} == {"fhir": True, "llm": True}


def test_readiness_fails_when_the_fhir_server_is_down(make_backend: Any) -> None:
    with make_backend(settings={"fhir_url": "http://127.0.0.1:9"}) as url:
        ready = httpx.get(f"{url}/readyz", timeout=30)
    assert ready.status_code == 503
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert checks["fhir"]["ok"] is False
    assert checks["llm"]["ok"] is True


def test_a_patient_named_again_is_not_looked_up_again(
    service_backend: tuple[str, ScriptedChatModel],
    raw_synthea: RawSynthea,
    loaded_fhir_server: BackgroundServer,
) -> None:
    url, _ = service_backend
    pid = sorted(raw_synthea.patients)[5]

    def patient_reads() -> int:
        return sum(1 for e in loaded_fhir_server.access_log if e.path == f"/Patient/{pid}")

    before = patient_reads()
    httpx.post(
        f"{url}/v1/ask", json={"question": QUESTION, "patient": pid}, headers=headers(), timeout=30
    )
    first = patient_reads() - before
    httpx.post(
        f"{url}/v1/ask", json={"question": QUESTION, "patient": pid}, headers=headers(), timeout=30
    )
    second = patient_reads() - before - first
    # The first question resolves the id (one read) before the agent reads the patient.
    assert first == second + 1
