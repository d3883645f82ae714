"""SMART app callers: allow-list, token introspection, patient pinning, token forwarding."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from backend_common import QUESTION, SERVICE_KEY, headers, scripted_model
from fhir_ground_truth import load_bundles_over_http
from live_server import LiveServer
from smart_ehr import CLIENT_ID, CLIENT_SECRET, SmartEHR
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent.backend import BackendConfig, create_app, normalize_base_url
from agent.config import Settings
from fhir_fixtures.server import BackgroundServer
from fhir_fixtures.server.access_log import AccessLog
from fhir_fixtures.server.app import create_app as create_fhir_app

TOKEN_A = "token-for-patient-a"
TOKEN_A2 = "second-token-for-patient-a"
TOKEN_B = "token-for-patient-b"


@dataclass
class SmartSetup:
    backend: str
    ehr: SmartEHR
    fhir_base: str
    access_log: AccessLog
    patient_a: str
    patient_b: str
    settings: Settings


def _patient_id(path: Path) -> str:
    bundle = json.loads(gzip.decompress(path.read_bytes()))
    return next(
        e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )


@pytest.fixture(scope="module")
def smart(
    tmp_path_factory: pytest.TempPathFactory,
    synthea_dir: Path,
    loaded_fhir_server: BackgroundServer,
) -> Iterator[SmartSetup]:
    tmp = tmp_path_factory.mktemp("smart")
    patients = sorted(
        p
        for p in synthea_dir.glob("*.json.gz")
        if not p.name.startswith(("hospitalInformation", "practitionerInformation"))
    )[:2]
    a, b = (_patient_id(p) for p in patients)
    log = AccessLog()
    fhir_app = create_fhir_app(tmp / "ehr.sqlite", validate=False, token=TOKEN_A, access_log=log)
    now = int(time.time())
    ehr = SmartEHR(
        fhir_app,
        tokens={
            TOKEN_A: {"patient": a, "scope": "launch patient/*.rs", "client_id": "app"},
            TOKEN_A2: {"patient": a, "scope": "launch patient/*.rs", "client_id": "app"},
            TOKEN_B: {"patient": b, "scope": "launch patient/*.rs", "client_id": "app"},
            "inactive-token": {"active": False},
            "expired-token": {"patient": a, "scope": "patient/*.rs", "exp": now - 5},
            "user-level-token": {"scope": "user/*.rs", "client_id": "app"},
        },
    )
    settings = Settings.load(
        {
            "fhir_url": loaded_fhir_server.base_url,
            "data_dir": str(tmp),
            "checkpointer": str(tmp / "checkpoints.sqlite"),
            "fhir_client_id": CLIENT_ID,
            "fhir_client_secret": CLIENT_SECRET,
        },
        environ={},
    )
    with LiveServer(ehr) as ehr_server:
        ehr.base_url = ehr_server.url
        load_bundles_over_http(ehr_server.url, patients, token=TOKEN_A)
        log.clear()
        # The allow-list entry is written unnormalized on purpose.
        config = BackendConfig.from_settings(
            settings.model_copy(update={"smart_fhir_servers": ehr_server.url.upper() + "/"}),
            api_keys=(SERVICE_KEY,),
        )
        with LiveServer(create_app(settings, config, model=scripted_model())) as backend:
            yield SmartSetup(backend.url, ehr, ehr_server.url, log, a, b, settings)


def smart_headers(setup: SmartSetup, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-FHIR-Server": setup.fhir_base}


def _mentions(log: AccessLog, patient: str) -> list[str]:
    return [f"{e.method} {e.path}?{e.query}" for e in log if patient in e.path + e.query]


def test_smart_app_asks_about_its_patient_with_its_token(smart: SmartSetup) -> None:
    smart.access_log.clear()
    calls_before = len(smart.ehr.calls)

    response = httpx.post(
        f"{smart.backend}/v1/ask",
        json={"question": QUESTION},
        headers=smart_headers(smart, TOKEN_A),
        timeout=30,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["patient_id"] == smart.patient_a
    assert body["verified"] is True
    # Every FHIR read went to the EHR, which accepts only the app's token: all succeeded.
    entries = smart.access_log.entries
    assert entries
    assert all(e.status == 200 for e in entries)
    assert _mentions(smart.access_log, smart.patient_a)
    assert not _mentions(smart.access_log, smart.patient_b)
    # The token was introspected as the backend's confidential client.
    new_calls = smart.ehr.calls[calls_before:]
    assert [(c.client_id, c.token, c.token_type_hint) for c in new_calls] == [
        (CLIENT_ID, TOKEN_A, "access_token")
    ]


def test_naming_the_tokens_patient_explicitly_is_accepted(smart: SmartSetup) -> None:
    response = httpx.post(
        f"{smart.backend}/v1/ask",
        json={"question": QUESTION, "patient": f"Patient/{smart.patient_a}"},
        headers=smart_headers(smart, TOKEN_A),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["patient_id"] == smart.patient_a


@pytest.mark.parametrize("endpoint", ["/v1/ask", "/v1/ask/stream"])
def test_asking_about_another_patient_is_403_and_never_reaches_the_fhir_server(
    smart: SmartSetup, endpoint: str
) -> None:
    smart.access_log.clear()

    response = httpx.post(
        f"{smart.backend}{endpoint}",
        json={"question": QUESTION, "patient": smart.patient_b},
        headers=smart_headers(smart, TOKEN_A),
        timeout=30,
    )

    assert response.status_code == 403
    assert response.json()["error"] == "patient_not_in_context"
    assert smart.access_log.entries == []


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        ("inactive-token", 401, "inactive_token"),
        ("expired-token", 401, "inactive_token"),
        ("never-issued-token", 401, "inactive_token"),
        ("user-level-token", 403, "no_patient_context"),
        ("bad token with spaces", 401, "invalid_token"),
    ],
)
def test_tokens_that_do_not_pin_a_patient_are_refused(
    smart: SmartSetup, token: str, status: int, code: str
) -> None:
    smart.access_log.clear()
    response = httpx.post(
        f"{smart.backend}/v1/ask",
        json={"question": QUESTION},
        headers={"Authorization": f"Bearer {token}", "X-FHIR-Server": smart.fhir_base},
        timeout=30,
    )
    assert response.status_code == status
    assert response.json()["error"] == code
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert smart.access_log.entries == []


def test_a_fhir_server_off_the_allow_list_never_receives_the_token(smart: SmartSetup) -> None:
    received: list[str] = []

    async def record(request: Request) -> JSONResponse:
        received.append(f"{request.method} {request.url.path}")
        return JSONResponse({"introspection_endpoint": f"{request.base_url}introspect"})

    lure = Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST"])])
    calls_before = len(smart.ehr.calls)
    with LiveServer(lure) as other:
        response = httpx.post(
            f"{smart.backend}/v1/ask",
            json={"question": QUESTION},
            headers={"Authorization": f"Bearer {TOKEN_A}", "X-FHIR-Server": other.url},
            timeout=30,
        )

    assert response.status_code == 403
    assert response.json()["error"] == "fhir_server_not_allowed"
    assert received == []
    assert len(smart.ehr.calls) == calls_before


def test_the_ehr_enforces_its_own_token_checks(smart: SmartSetup) -> None:
    # TOKEN_A2 introspects as active for patient A, but the FHIR server does not accept it.
    response = httpx.post(
        f"{smart.backend}/v1/ask",
        json={"question": QUESTION},
        headers=smart_headers(smart, TOKEN_A2),
        timeout=30,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "fhir_forbidden"


def test_missing_token_with_fhir_server_is_401(smart: SmartSetup) -> None:
    response = httpx.post(
        f"{smart.backend}/v1/ask",
        json={"question": QUESTION},
        headers={"X-FHIR-Server": smart.fhir_base},
        timeout=30,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "missing_credentials"


def test_introspection_answers_are_reused_within_the_cache_lifetime(smart: SmartSetup) -> None:
    before = [c for c in smart.ehr.calls if c.token == TOKEN_B]
    for _ in range(3):
        response = httpx.get(
            f"{smart.backend}/v1/sessions/{'0' * 32}",
            headers=smart_headers(smart, TOKEN_B),
            timeout=10,
        )
        assert response.status_code == 404
    after = [c for c in smart.ehr.calls if c.token == TOKEN_B]
    assert len(after) - len(before) <= 1


def test_sessions_are_owned_by_the_smart_patient_context(smart: SmartSetup) -> None:
    created = httpx.post(
        f"{smart.backend}/v1/ask",
        json={"question": QUESTION},
        headers=smart_headers(smart, TOKEN_A),
        timeout=30,
    ).json()
    path = f"{smart.backend}/v1/sessions/{created['session_id']}"

    same_token = httpx.get(path, headers=smart_headers(smart, TOKEN_A), timeout=10)
    same_patient = httpx.get(path, headers=smart_headers(smart, TOKEN_A2), timeout=10)
    other_patient = httpx.get(path, headers=smart_headers(smart, TOKEN_B), timeout=10)
    service = httpx.get(path, headers=headers(), timeout=10)

    assert same_token.status_code == 200
    assert same_token.json()["patient_id"] == smart.patient_a
    assert [t["question"] for t in same_token.json()["turns"]] == [QUESTION]
    assert same_patient.status_code == 200
    assert (other_patient.status_code, service.status_code) == (404, 404)


def test_a_service_session_is_invisible_to_smart_apps(smart: SmartSetup) -> None:
    created = httpx.post(
        f"{smart.backend}/v1/ask",
        json={"question": QUESTION, "patient": smart.patient_a},
        headers=headers(),
        timeout=30,
    )
    assert created.status_code == 200, created.text
    response = httpx.get(
        f"{smart.backend}/v1/sessions/{created.json()['session_id']}",
        headers=smart_headers(smart, TOKEN_A),
        timeout=10,
    )
    assert response.status_code == 404


def test_made_up_tokens_cannot_flood_the_introspection_endpoint(smart: SmartSetup) -> None:
    config = BackendConfig.from_settings(
        smart.settings,
        smart_servers=(normalize_base_url(smart.fhir_base),),
        introspections_per_minute=1,
        introspection_burst=2,
    )
    calls_before = len(smart.ehr.calls)
    with LiveServer(create_app(smart.settings, config, model=scripted_model(1))) as backend:
        statuses = [
            httpx.post(
                f"{backend.url}/v1/ask",
                json={"question": QUESTION},
                headers=smart_headers(smart, f"made-up-token-{i}"),
                timeout=10,
            ).status_code
            for i in range(4)
        ]
    assert statuses == [401, 401, 429, 429]
    assert len(smart.ehr.calls) - calls_before == 2
