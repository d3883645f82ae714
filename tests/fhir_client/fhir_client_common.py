"""Fixtures of the FHIR client tests: fake time, scripted clients, keys, real servers."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fhir_client_fakes import (
    BASE,
    SMALL_PATIENT,
    FakeTime,
    GroundTruth,
    as_put_transaction,
)

from tools.fhir import FHIRClient


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake_time: FakeTime) -> Callable[..., FHIRClient]:
    """Build a client on a MockTransport with fake time; the test closes it."""

    def build(handler: Callable[[httpx.Request], Any], **options: Any) -> FHIRClient:
        options.setdefault("sleep", fake_time.sleep)
        options.setdefault("clock", fake_time.clock)
        options.setdefault("rng", random.Random(7))
        return FHIRClient(
            options.pop("base_url", BASE), transport=httpx.MockTransport(handler), **options
        )

    return build


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="session")
def small_patient(synthea_dir: Path) -> GroundTruth:
    """The smallest Synthea patient, as ground truth read straight from the raw bundle."""
    with gzip.open(synthea_dir / SMALL_PATIENT, "rt", encoding="utf-8") as handle:
        raw = json.load(handle)
    resources = [entry["resource"] for entry in raw["entry"]]
    # Synthea's fullUrls are urn:uuid:<id>; loaders keep that uuid as the logical id.
    ids = [entry["fullUrl"].removeprefix("urn:uuid:") for entry in raw["entry"]]
    pairs = list(zip(resources, ids, strict=True))
    references = frozenset(f"{r['resourceType']}/{i}" for r, i in pairs)
    observations = frozenset(i for r, i in pairs if r["resourceType"] == "Observation")
    patient_id, patient = next((i, r) for r, i in pairs if r["resourceType"] == "Patient")
    return GroundTruth(patient_id, raw, references, observations, patient)


# --- real servers on loopback ----------------------------------------------------------


@dataclass
class RealServer:
    name: str
    base_url: str
    transaction_response: dict[str, Any]


def _load(base_url: str, truth: GroundTruth) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with FHIRClient(base_url) as client:
            return await client.transaction(as_put_transaction(truth.raw_bundle))

    return asyncio.run(run())


@pytest.fixture(scope="session")
def embedded_server(
    tmp_path_factory: pytest.TempPathFactory, small_patient: GroundTruth
) -> Iterator[RealServer]:
    """The project's embedded server (fhir_fixtures.server) with the small patient loaded."""
    from fhir_fixtures.server import BackgroundServer

    db = tmp_path_factory.mktemp("embedded") / "fhir.sqlite"
    with BackgroundServer(db, validate=False) as server:
        yield RealServer("embedded", server.base_url, _load(server.base_url, small_patient))


@pytest.fixture(scope="session")
def sekmet_server(
    tmp_path_factory: pytest.TempPathFactory, small_patient: GroundTruth
) -> Iterator[RealServer]:
    """sekmet-fhir 0.1.1 in a subprocess (simulator and inbound validation off)."""
    from fhir_fixtures.sekmet_harness import ServerProcessError, start_sekmet

    try:
        sekmet = start_sekmet(tmp_path_factory.mktemp("sekmet"))
    except ServerProcessError as exc:
        pytest.fail(str(exc))
    with sekmet:
        yield RealServer("sekmet", sekmet.base_url, _load(sekmet.base_url, small_patient))


@pytest.fixture(params=["embedded", pytest.param("sekmet", marks=pytest.mark.sekmet)])
def real_server(request: pytest.FixtureRequest) -> RealServer:
    """Each real FHIR server in turn, with the small patient loaded."""
    server: RealServer = request.getfixturevalue(f"{request.param}_server")
    return server
