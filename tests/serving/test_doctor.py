"""``ehr-agent doctor`` against real servers on loopback, and against closed ports."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.cli import main
from agent.config import Settings
from agent.llm.scripted_server import ScriptedOpenAIServer
from agent.serving.doctor import check_fhir


def _closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return int(port)


def _doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["doctor", "--json", *args])
    doc = json.loads(capsys.readouterr().out)
    return code, {check["name"]: check for check in doc["checks"]} | {"ok": doc["ok"]}


@pytest.fixture
def fhir_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    from fhir_fixtures.server.background import BackgroundServer

    with BackgroundServer(tmp_path / "fhir.sqlite") as server:
        yield server


def test_everything_up_reports_versions_models_and_vision(
    fhir_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with ScriptedOpenAIServer([], model="google/medgemma-27b-it") as llm:
        code, report = _doctor(
            capsys, "--fhir-url", fhir_server.base_url, "--llm-url", llm.base_url
        )
    assert code == 0
    assert report["ok"] is True
    fhir = report["fhir"]
    assert fhir["ok"] is True
    assert fhir["mode"] == "remote"
    assert fhir["details"]["fhir_version"].startswith("4.0")
    assert fhir["details"]["software"]
    assert report["llm"]["details"]["models"] == ["google/medgemma-27b-it"]
    assert report["llm"]["details"]["server"] == "vllm"
    assert report["llm"]["details"]["vision"] is True
    assert report["llm"]["details"]["vision_source"] == "known model google/medgemma-27b-it"
    assert fhir_server.access_log  # the request really reached the FHIR server


def test_closed_ports_are_down_and_named(capsys: pytest.CaptureFixture[str]) -> None:
    fhir_url = f"http://127.0.0.1:{_closed_port()}/fhir"
    llm_url = f"http://127.0.0.1:{_closed_port()}/v1"
    code, report = _doctor(capsys, "--fhir-url", fhir_url, "--llm-url", llm_url)
    assert code == 1
    assert report["ok"] is False
    assert report["fhir"]["summary"] == (
        f"FHIR server at {fhir_url} is unreachable (connection refused)"
    )
    assert report["llm"]["summary"] == (
        f"the model endpoint at {llm_url} is unreachable (connection refused)"
    )


def test_human_output_names_what_is_down(capsys: pytest.CaptureFixture[str]) -> None:
    with ScriptedOpenAIServer([], model="qwen") as llm:
        code = main(
            [
                "doctor",
                "--fhir-url",
                f"http://127.0.0.1:{_closed_port()}",
                "--llm-url",
                llm.base_url,
            ]
        )
    captured = capsys.readouterr()
    assert code == 1
    assert "not ready: fhir" in captured.err
    assert "DOWN" in captured.out


def test_a_model_the_endpoint_does_not_serve_is_reported(
    fhir_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with ScriptedOpenAIServer([], model="served-a", vision=True) as llm:
        code, report = _doctor(
            capsys,
            "--fhir-url", fhir_server.base_url,
            "--llm-url", llm.base_url,
            "--llm-model", "medgemma",
        )  # fmt: skip
    assert code == 1
    assert report["fhir"]["ok"] is True
    assert report["llm"]["ok"] is False
    assert "does not serve 'medgemma' (it serves served-a)" in report["llm"]["summary"]


def test_embedded_parts_are_checked_when_no_urls_are_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _doctor(capsys, "--local-model", "smollm2-135m", "--data-dir", str(tmp_path))
    assert code == 0
    assert report["fhir"]["mode"] == "embedded"
    assert report["llm"]["mode"] == "embedded"
    assert report["llm"]["details"]["xllamacpp"] is True
    assert report["llm"]["details"]["model_file"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        (
            {"resourceType": "CapabilityStatement", "fhirVersion": "5.0.0"},
            "speaks FHIR 5.0.0, ehr-agent needs R4 (4.0.x)",
        ),
        ({"hello": "world"}, "did not return a CapabilityStatement"),
    ],
)
def test_a_server_that_is_not_fhir_r4_is_down(body: dict[str, Any], summary: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/base/metadata"
        return httpx.Response(200, json=body)

    check = check_fhir(
        Settings(fhir_url="http://fhir.invalid/base"), transport=httpx.MockTransport(handler)
    )
    assert check.ok is False
    assert summary in check.summary
