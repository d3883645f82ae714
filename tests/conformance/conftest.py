"""Both servers loaded with the same data, and the ground truth to judge them by.

sekmet-fhir 0.1.1 runs as a subprocess (simulator and inbound validation off, see
``fhir_fixtures.sekmet_harness``); the embedded server runs in-process. Each receives, as
transactions of PUTs over HTTP, five of the Synthea patients (see ``SUBSET``) with the shared
organisation and practitioner bundles, plus a small supplement with ``medicationReference``
(which Synthea R4 never uses). The truth is the same files read with gzip/json, plus that
supplement.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conformance_http import STRICT, Server
from conformance_truth import SUPPLEMENT, Truth
from fhir_ground_truth import RawSynthea, load_bundles_over_http, read_raw_synthea

from fhir_fixtures.sekmet_harness import ServerProcess, ServerProcessError, start_sekmet
from fhir_fixtures.synthea_bundle import bundle_of_puts


def _load(base_url: str, paths: list[Path]) -> None:
    load_bundles_over_http(base_url, paths)
    with httpx.Client(timeout=60) as client:
        response = client.post(
            f"{base_url}/",
            json=bundle_of_puts(SUPPLEMENT),
            headers={"Content-Type": "application/fhir+json"},
        )
    assert response.status_code == 200, response.text[:500]


def _server(name: str, base_url: str) -> Server:
    client = httpx.Client(base_url=base_url, headers=STRICT, timeout=60)
    capability = client.get("/metadata").json()
    return Server(name, client, capability)


#: Patients loaded into both servers: sekmet-fhir loads slowly (minutes for all 41 on two
#: cores), so the cross-check uses a subset that still spans the data: the patients with
#: the most, the median and the fewest observations (the ones the tests query), and two
#: more so that every search also has other patients' data to leave out.
SUBSET = 5


@pytest.fixture(scope="session")
def bundle_paths(synthea_dir: Path, raw_synthea: RawSynthea) -> list[Path]:
    """The shared organisation/practitioner bundles, then the chosen patients' bundles."""
    ranked = sorted(raw_synthea.patients, key=lambda p: (len(raw_synthea.of(p, "Observation")), p))
    middle = len(ranked) // 2
    chosen = {ranked[-1], ranked[middle], ranked[0], ranked[-2], ranked[1]}
    assert len(chosen) == SUBSET
    shared, patients = [], []
    for path in sorted(synthea_dir.glob("*.json.gz")):
        first = json.loads(gzip.decompress(path.read_bytes()))["entry"][0]["resource"]
        if first["resourceType"] != "Patient":
            shared.append(path)
        elif first["id"] in chosen:
            patients.append(path)
    assert len(patients) == SUBSET
    return shared + patients


@pytest.fixture(scope="session")
def truth(synthea_dir: Path, bundle_paths: list[Path]) -> Truth:
    """The loaded files read with gzip+json, plus the supplement."""
    return Truth.build(read_raw_synthea(synthea_dir, bundle_paths), SUPPLEMENT)


@pytest.fixture(scope="session")
def patients(truth: Truth) -> list[str]:
    return truth.sample_patients()


@pytest.fixture(scope="session")
def sekmet_loading(
    tmp_path_factory: pytest.TempPathFactory, bundle_paths: list[Path]
) -> Iterator[tuple[ServerProcess, Future[None]]]:
    """sekmet started, and its load running in the background (it takes most of the setup)."""
    try:
        process = start_sekmet(tmp_path_factory.mktemp("conformance-sekmet"))
    except ServerProcessError as exc:
        pytest.fail(str(exc))
    with process, ThreadPoolExecutor(1, thread_name_prefix="sekmet-load") as pool:
        yield process, pool.submit(_load, process.base_url, bundle_paths)


@pytest.fixture(scope="session")
def ours(
    tmp_path_factory: pytest.TempPathFactory,
    bundle_paths: list[Path],
    sekmet_loading: tuple[ServerProcess, Future[None]],
) -> Iterator[Server]:
    """The embedded server, loaded while sekmet loads (hence the sekmet_loading argument)."""
    from fhir_fixtures.server import BackgroundServer

    db = tmp_path_factory.mktemp("conformance-ours") / "fhir.sqlite"
    with BackgroundServer(db, validate=False) as background:
        _load(background.base_url, bundle_paths)
        server = _server("ours", background.base_url)
        yield server
        server.client.close()


@pytest.fixture(scope="session")
def sekmet(sekmet_loading: tuple[ServerProcess, Future[None]]) -> Iterator[Server]:
    process, loading = sekmet_loading
    loading.result()
    server = _server("sekmet", process.base_url)
    yield server
    server.client.close()
