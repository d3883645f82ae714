"""API keys: every protected endpoint refuses missing and unknown keys; both headers work."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from backend_common import OTHER_KEY, QUESTION, SERVICE_KEY

from agent.backend import BackendConfig, KeyRing
from agent.config import ConfigError, Settings
from agent.llm import ScriptedChatModel

_PROTECTED = [
    ("POST", "/v1/ask", {"question": QUESTION, "patient": "x"}),
    ("POST", "/v1/ask/stream", {"question": QUESTION, "patient": "x"}),
    ("GET", f"/v1/sessions/{'a' * 32}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), _PROTECTED)
@pytest.mark.parametrize(
    ("auth", "code"),
    [
        ({}, "missing_credentials"),
        ({"X-API-Key": "not-a-key-but-long-enough"}, "invalid_api_key"),
        ({"Authorization": "Bearer not-a-key-but-long-enough"}, "invalid_api_key"),
        ({"X-API-Key": SERVICE_KEY[:-1]}, "invalid_api_key"),
        ({"Authorization": f"Basic {SERVICE_KEY}"}, "missing_credentials"),
    ],
)
def test_missing_or_unknown_keys_are_401(
    service_backend: tuple[str, ScriptedChatModel],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    auth: dict[str, str],
    code: str,
) -> None:
    url, model = service_backend
    calls = model.calls
    response = httpx.request(method, f"{url}{path}", json=body, headers=auth, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == code
    assert response.headers["www-authenticate"] == "Bearer"
    assert model.calls == calls


@pytest.mark.parametrize(
    "auth", [{"X-API-Key": OTHER_KEY}, {"Authorization": f"Bearer {SERVICE_KEY}"}]
)
def test_either_header_carries_a_key(
    service_backend: tuple[str, ScriptedChatModel], auth: dict[str, str]
) -> None:
    url, _ = service_backend
    response = httpx.get(f"{url}/v1/sessions/{'a' * 32}", headers=auth, timeout=10)
    assert response.status_code == 404  # authenticated; the session simply does not exist


def test_health_endpoints_need_no_credentials(
    service_backend: tuple[str, ScriptedChatModel],
) -> None:
    url, _ = service_backend
    assert httpx.get(f"{url}/healthz").status_code == 200
    assert httpx.get(f"{url}/openapi.json").status_code == 200


def test_without_keys_or_smart_servers_every_api_call_is_refused(make_backend: Any) -> None:
    with make_backend(api_keys=()) as url:
        response = httpx.post(
            f"{url}/v1/ask", json={"question": QUESTION, "patient": "x"}, timeout=10
        )
    assert response.status_code == 401


def test_no_auth_serves_anonymous_callers(make_backend: Any) -> None:
    with make_backend(api_keys=(), no_auth=True) as url:
        response = httpx.get(f"{url}/v1/sessions/{'a' * 32}", timeout=10)
    assert response.status_code == 404


def test_key_ring_names_each_key_apart() -> None:
    ring = KeyRing([SERVICE_KEY, OTHER_KEY])
    owners = {ring.owner_of(SERVICE_KEY), ring.owner_of(OTHER_KEY)}
    assert None not in owners
    assert len(owners) == 2
    assert ring.owner_of(SERVICE_KEY + "x") is None
    assert ring.owner_of("") is None
    assert SERVICE_KEY not in str(owners)


def test_keys_come_from_the_environment_and_short_keys_are_refused() -> None:
    settings = Settings.load(environ={"EHR_AGENT_API_KEYS": f" {SERVICE_KEY}, {OTHER_KEY} ,"})
    assert BackendConfig.from_settings(settings).api_keys == (SERVICE_KEY, OTHER_KEY)
    with pytest.raises(ConfigError, match="16 characters"):
        BackendConfig.from_settings(Settings.load(environ={"EHR_AGENT_API_KEYS": "short"}))
    assert SERVICE_KEY not in repr(BackendConfig.from_settings(settings))
