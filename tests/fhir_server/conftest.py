"""Fixtures of the FHIR server tests (the loaded server itself is in tests/conftest.py).

``loaded_fhir_server`` is session-scoped and loads the data once over HTTP (transactions of
PUTs built from the raw bundles); ``raw_synthea`` reads the same files with plain gzip+json,
independently of the server, to compute expected answers (see ``fhir_ground_truth.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fhir_fixtures.server import BackgroundServer


@pytest.fixture(scope="session")
def fhir(loaded_fhir_server: BackgroundServer) -> Iterator[httpx.Client]:
    """A plain HTTP client on the loaded server."""
    with httpx.Client(
        base_url=loaded_fhir_server.base_url,
        headers={"Accept": "application/fhir+json"},
        timeout=30,
    ) as client:
        yield client
