"""Test doubles and helpers of the FHIR client tests (imported by the tests and conftest)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

BASE = "https://fhir.test/r4"
SMALL_PATIENT = "Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json.gz"


def fhir_response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A FHIR JSON response (``body`` None: empty)."""
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(
        status,
        content=content,
        headers={"Content-Type": "application/fhir+json", **(headers or {})},
    )


def outcome(diagnostics: str, code: str = "invalid") -> dict[str, Any]:
    """An OperationOutcome with one error issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


Step = httpx.Response | Callable[[httpx.Request], httpx.Response] | type[Exception]


class Script:
    """A MockTransport handler that answers with a scripted sequence (the last step repeats).

    A step is a response, a function of the request, or an httpx transport exception class
    (raised with the request attached). Every request is recorded.
    """

    def __init__(self, *steps: Step) -> None:
        assert steps
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("injected failure", request=request)  # type: ignore[call-arg]
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the client sleeps (or the test moves it)."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    """PKCS#8 PEM of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class GroundTruth:
    """What the raw bundle of one patient holds, read with plain gzip/json."""

    patient_id: str
    raw_bundle: dict[str, Any]
    references: frozenset[str]
    observation_ids: frozenset[str]
    patient: dict[str, Any]


def as_put_transaction(raw: dict[str, Any]) -> dict[str, Any]:
    """The Synthea bundle as a transaction of PUTs keeping the uuids (what a loader does)."""
    text = json.dumps(raw)
    for entry in raw["entry"]:
        uuid = entry["fullUrl"].removeprefix("urn:uuid:")
        text = text.replace(f'"urn:uuid:{uuid}"', f'"{entry["resource"]["resourceType"]}/{uuid}"')
    bundle = json.loads(text)
    for entry, original in zip(bundle["entry"], raw["entry"], strict=True):
        uuid = original["fullUrl"].removeprefix("urn:uuid:")
        resource = entry["resource"]
        resource["id"] = uuid
        entry["fullUrl"] = original["fullUrl"]
        entry["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{uuid}"}
    return bundle
