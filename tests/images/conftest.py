"""A real embedded FHIR server over HTTP, loaded with the shared Synthea patients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from images_testserver import imaging_studies, load_into

from fhir_fixtures.server import BackgroundServer


@pytest.fixture(scope="module")
def shared_server(
    tmp_path_factory: pytest.TempPathFactory, patient_bundle_paths: list[Path]
) -> Iterator[BackgroundServer]:
    """The embedded server (validating) with the 41 shared patients loaded."""
    db = tmp_path_factory.mktemp("fhir") / "fhir.sqlite"
    with BackgroundServer(db, validate=True) as server:
        load_into(server.base_url, patient_bundle_paths)
        server.access_log.clear()
        yield server


@pytest.fixture(scope="module")
def shared_studies(patient_bundle_paths: list[Path]) -> dict[str, dict[str, Any]]:
    """The ImagingStudy resources of the shared patients, read from the files."""
    return imaging_studies(patient_bundle_paths)
