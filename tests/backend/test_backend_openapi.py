"""The OpenAPI document is accurate: schemathesis finds no 5xx and no undocumented response."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from backend_common import SERVICE_KEY, scripted_model
from fhir_ground_truth import RawSynthea
from hypothesis import HealthCheck, given, settings
from live_server import LiveServer
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from agent.backend import BackendConfig, create_app
from agent.config import Settings
from fhir_fixtures.server import BackgroundServer

#: Examples per operation: enough to cover the schema's shapes, few enough to stay fast.
MAX_EXAMPLES = 30
_NO_INPUTS = {"GET /healthz", "GET /readyz"}


@pytest.fixture(scope="module")
def fuzzed_backend(
    tmp_path_factory: pytest.TempPathFactory, loaded_fhir_server: BackgroundServer
) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    built = Settings.load(
        {
            "fhir_url": loaded_fhir_server.base_url,
            "data_dir": str(tmp),
            "checkpointer": str(tmp / "checkpoints.sqlite"),
        },
        environ={},
    )
    config = BackendConfig.from_settings(
        built,
        api_keys=(SERVICE_KEY,),
        smart_servers=("https://ehr.example.org/fhir",),
        max_question_chars=500,
        max_body_bytes=8192,
        rate_per_minute=0,
    )
    with LiveServer(create_app(built, config, model=scripted_model(2000))) as live:
        yield live.url


def _fuzz(operation: Any, mode: schemathesis.GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(headers={"X-API-Key": SERVICE_KEY}, timeout=30)
        case.validate_response(
            response,
            checks=(
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ),
        )

    check()


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_no_server_errors_and_every_response_is_documented(
    fuzzed_backend: str, mode: schemathesis.GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed_backend}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "POST /v1/ask",
        "POST /v1/ask/stream",
        "GET /v1/sessions/{session_id}",
    }
    for operation in operations:
        if mode is schemathesis.GenerationMode.NEGATIVE and operation.label in _NO_INPUTS:
            continue  # nothing to make invalid
        _fuzz(operation, mode)


def test_the_document_describes_auth_limits_and_errors(fuzzed_backend: str) -> None:
    document = httpx.get(f"{fuzzed_backend}/openapi.json").json()
    assert set(document["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
    ask = document["paths"]["/v1/ask"]["post"]
    assert {p["name"] for p in ask["parameters"]} == {"X-FHIR-Server"}
    for status in ("401", "403", "404", "409", "413", "422", "429", "502", "503", "504"):
        content = ask["responses"][status]["content"]["application/json"]
        assert content["schema"]["$ref"] == "#/components/schemas/ErrorBody"
    stream = document["paths"]["/v1/ask/stream"]["post"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]
    question = document["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["maxLength"] == 500
    assert "8192 bytes" in document["info"]["description"]


def test_successful_responses_match_the_document(
    fuzzed_backend: str, raw_synthea: RawSynthea
) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed_backend}/openapi.json")
    patient = sorted(raw_synthea.patients)[0]
    checks = (status_code_conformance, content_type_conformance, response_schema_conformance)
    ask = schema["/v1/ask"]["POST"].Case(
        body={"question": "Which conditions?", "patient": patient, "answer_type": "text"},
        media_type="application/json",
    )
    answered = ask.call(headers={"X-API-Key": SERVICE_KEY}, timeout=30)
    assert answered.status_code == 200
    ask.validate_response(answered, checks=checks)
    session = schema["/v1/sessions/{session_id}"]["GET"].Case(
        path_parameters={"session_id": answered.json()["session_id"]}
    )
    read = session.call(headers={"X-API-Key": SERVICE_KEY}, timeout=30)
    assert read.status_code == 200
    session.validate_response(read, checks=checks)
