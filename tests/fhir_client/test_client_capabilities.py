"""Discovery: the CapabilityStatement summary and the SMART configuration document."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fhir_client_fakes import Script, fhir_response

from tools.fhir import FHIRClient, FHIRProtocolError

Make = Callable[..., FHIRClient]

STATEMENT = {
    "resourceType": "CapabilityStatement",
    "fhirVersion": "4.0.1",
    "software": {"name": "HAPI FHIR Server", "version": "7.4.0"},
    "implementation": {"url": "https://fhir.test/r4"},
    "format": ["application/fhir+json"],
    "rest": [
        {"mode": "client", "resource": [{"type": "Basic"}]},
        {
            "mode": "server",
            "security": {
                "extension": [
                    {
                        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                        "extension": [
                            {"url": "token", "valueUri": "https://auth.test/token"},
                            {"url": "authorize", "valueUri": "https://auth.test/authorize"},
                        ],
                    }
                ]
            },
            "resource": [
                {
                    "type": "Observation",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": [
                        {"name": "code", "type": "token"},
                        {"name": "value-quantity", "type": "quantity"},
                        {"name": "subject", "type": "reference"},
                    ],
                    "operation": [{"name": "lastn", "definition": "x"}],
                },
                {"type": "Patient", "operation": [{"name": "$everything", "definition": "y"}]},
            ],
            "interaction": [{"code": "transaction"}, {"code": "batch"}],
            "operation": [{"name": "validate", "definition": "z"}],
        },
    ],
}


@pytest.mark.asyncio
async def test_capability_summary(make_client: Make) -> None:
    script = Script(fhir_response(200, STATEMENT))
    async with make_client(script) as client:
        caps = await client.capabilities()
        await client.capabilities()
        await client.capabilities(refresh=True)
    assert len(script.requests) == 2
    assert script.requests[0].url.path == "/r4/metadata"
    assert caps.is_r4
    assert caps.software == "HAPI FHIR Server 7.4.0"
    assert caps.token_url == "https://auth.test/token"
    assert caps.system_interactions == {"transaction", "batch"}
    assert "Basic" not in caps.resources  # the client-mode rest entry is not the server
    assert caps.supports("Observation", "value-quantity")
    assert caps.supports("Observation", "code:text")
    assert caps.supports("Observation", "subject:Patient.name")
    assert not caps.supports("Observation", "date")
    assert caps.supports("Observation", interaction="read")
    assert not caps.supports("Observation", interaction="delete")
    assert not caps.supports("Condition")
    assert caps.supports_operation("$everything", "Patient")
    assert caps.supports_operation("lastn", "Observation")
    assert not caps.supports_operation("lastn", "Patient")
    assert caps.supports_operation("validate", "Patient")  # system level


@pytest.mark.asyncio
async def test_metadata_that_is_not_a_capability_statement(make_client: Make) -> None:
    async with make_client(Script(fhir_response(200, {"resourceType": "Patient"}))) as client:
        with pytest.raises(FHIRProtocolError, match="expected a CapabilityStatement"):
            await client.capabilities()


@pytest.mark.asyncio
async def test_smart_configuration(make_client: Make) -> None:
    config = {"token_endpoint": "https://auth.test/token", "capabilities": ["permission-v2"]}
    script = Script(fhir_response(200, config))
    async with make_client(script) as client:
        assert await client.smart_configuration() == config
        assert await client.discover_token_url() == "https://auth.test/token"
    (request,) = script.requests
    assert request.url.path == "/r4/.well-known/smart-configuration"
    assert request.headers["Accept"] == "application/json"
    assert "Authorization" not in request.headers


@pytest.mark.asyncio
async def test_missing_smart_configuration_is_none(make_client: Make) -> None:
    script = Script(fhir_response(404), fhir_response(200, STATEMENT))
    async with make_client(script) as client:
        assert await client.smart_configuration() is None
        # Falls back to the CapabilityStatement's oauth-uris extension.
        assert await client.discover_token_url() == "https://auth.test/token"
    assert [r.url.path for r in script.requests] == [
        "/r4/.well-known/smart-configuration",
        "/r4/metadata",
    ]
