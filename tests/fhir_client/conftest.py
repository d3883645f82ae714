"""Fixtures of the FHIR client tests: fake time, scripted clients, keys, real servers."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import socket
import subprocess
import sys
import time
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
    home = tmp_path_factory.mktemp("sekmet")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/fhir"
    config = home / "settings.yaml"
    config.write_text(
        f"base_url: {base_url}\nhost: 127.0.0.1\nport: {port}\ndata_dir: {home / 'data'}\n"
        "simulator:\n  enabled: false\nvalidation:\n  inbound: 'off'\nlog_inbound: false\n"
    )
    sekmet = Path(sys.executable).with_name("sekmet")
    process = subprocess.Popen(
        [str(sekmet), "serve", "--config", str(config)],
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(300):  # up to 30 s
            if process.poll() is not None:
                assert process.stderr is not None
                pytest.fail(f"sekmet exited: {process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{base_url}/metadata", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("sekmet did not start within 30 s")
        yield RealServer("sekmet", base_url, _load(base_url, small_patient))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture(params=["embedded", pytest.param("sekmet", marks=pytest.mark.sekmet)])
def real_server(request: pytest.FixtureRequest) -> RealServer:
    """Each real FHIR server in turn, with the small patient loaded."""
    server: RealServer = request.getfixturevalue(f"{request.param}_server")
    return server
