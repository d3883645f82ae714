"""from_settings: the settings decide the server, the auth mode and the limits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fhir_client_fakes import Script, fhir_response, pem

from agent.config import ConfigError, Settings
from tools.fhir import (
    BearerToken,
    ClientCredentials,
    NoAuth,
    SmartBackendServices,
    auth_from_settings,
    from_settings,
)

PATIENT = {"resourceType": "Patient", "id": "p1"}


@pytest.mark.asyncio
async def test_bearer_settings_reach_the_wire() -> None:
    settings = Settings(fhir_url="https://fhir.test/r4", fhir_auth="bearer", fhir_token="tok-1")
    script = Script(fhir_response(200, PATIENT))
    async with from_settings(settings, transport=httpx.MockTransport(script)) as client:
        assert await client.read("Patient", "p1") == PATIENT
        assert client.base_url == "https://fhir.test/r4"
        assert client.max_pages == settings.fhir_max_pages
    assert script.requests[0].headers["Authorization"] == "Bearer tok-1"


@pytest.mark.asyncio
async def test_max_retries_setting_is_applied() -> None:
    settings = Settings(fhir_url="https://fhir.test/r4", fhir_max_retries=1, fhir_max_pages=3)
    script = Script(fhir_response(503))

    async def no_wait(seconds: float) -> None:
        return None

    async with from_settings(
        settings, transport=httpx.MockTransport(script), sleep=no_wait
    ) as client:
        with pytest.raises(Exception, match="gave up after 2 attempts"):
            await client.read("Patient", "p1")
        assert client.max_pages == 3


def test_auth_modes(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes(pem(ec_key))
    assert isinstance(auth_from_settings(Settings()), NoAuth)
    assert isinstance(auth_from_settings(Settings(fhir_auth="bearer", fhir_token="t")), BearerToken)
    credentials = auth_from_settings(
        Settings(fhir_auth="client-credentials", fhir_client_id="c", fhir_client_secret="s")
    )
    assert isinstance(credentials, ClientCredentials)
    smart = auth_from_settings(
        Settings(
            fhir_auth="smart-backend",
            fhir_client_id="c",
            fhir_private_key=key,
            fhir_key_id="k1",
            fhir_token_url="https://auth.test/token",
        )
    )
    assert isinstance(smart, SmartBackendServices)
    assert smart.algorithm == "ES384"
    assert smart.token_url == "https://auth.test/token"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(fhir_auth="bearer"), "needs fhir_token"),
        (Settings(fhir_auth="client-credentials", fhir_client_id="c"), "needs fhir_client_secret"),
        (Settings(fhir_auth="client-credentials"), "needs fhir_client_id"),
        (Settings(fhir_auth="smart-backend", fhir_client_id="c"), "needs fhir_private_key"),
    ],
)
def test_incomplete_auth_settings_are_config_errors(settings: Settings, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        auth_from_settings(settings)


def test_unreadable_key_is_a_config_error(tmp_path: Path) -> None:
    settings = Settings(
        fhir_auth="smart-backend",
        fhir_client_id="c",
        fhir_private_key=tmp_path / "absent.pem",
        fhir_key_id="k",
    )
    with pytest.raises(ConfigError, match="fhir_private_key: cannot read"):
        auth_from_settings(settings)


@pytest.mark.asyncio
async def test_no_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no FHIR base URL"):
        from_settings(Settings())
    async with from_settings(Settings(), base_url="http://127.0.0.1:8080") as client:
        assert client.base_url == "http://127.0.0.1:8080"


def test_tools_fhir_does_not_import_agent() -> None:
    code = "import sys, tools.fhir; print('agent' in sys.modules or 'agent.config' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
