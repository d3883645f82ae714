"""Fixtures every test package may use.

The real data (41 Synthea R4 patients, two chest X-rays, AgentClinic cases) lives in
``../shared/data`` beside the repository; it is read in place and never copied here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fhir_ground_truth import RawSynthea, load_bundles_over_http, read_raw_synthea

from fhir_fixtures.server import BackgroundServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EHR_AGENT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(
            f"{path} is missing: the tests read the shared data set from ../shared/data beside "
            "the repository (or EHR_AGENT_SHARED_DATA)."
        )
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder."""
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def synthea_dir(shared_data: Path) -> Path:
    """Folder of the 41 Synthea R4 transaction bundles (plus hospital and practitioner bundles)."""
    return _require(shared_data / "synthea-r4")


@pytest.fixture(scope="session")
def patient_bundle_paths(synthea_dir: Path) -> list[Path]:
    """The 41 per-patient bundles, sorted by file name."""
    paths = sorted(
        p
        for p in synthea_dir.glob("*.json.gz")
        if not p.name.startswith(("hospitalInformation", "practitionerInformation"))
    )
    assert len(paths) == 41, f"expected 41 patient bundles in {synthea_dir}, found {len(paths)}"
    return paths


@pytest.fixture(scope="session")
def images_dir(shared_data: Path) -> Path:
    """The two NIH ChestX-ray14 PNGs."""
    return _require(shared_data / "images")


@pytest.fixture(scope="session")
def raw_synthea(synthea_dir: Path) -> RawSynthea:
    """The shared data set as plain dicts, read with gzip+json (ground truth for tests)."""
    return read_raw_synthea(synthea_dir)


@pytest.fixture(scope="session")
def loaded_fhir_server(
    tmp_path_factory: pytest.TempPathFactory, synthea_dir: Path
) -> Iterator[BackgroundServer]:
    """The embedded server (validation off) holding the 41 patients plus shared organisations.

    Loaded once per test session over real HTTP; tests must not write to it.
    """
    db = tmp_path_factory.mktemp("loaded-fhir") / "fhir.sqlite"
    paths = sorted(synthea_dir.glob("*.json.gz"))
    with BackgroundServer(db, validate=False) as server:
        load_bundles_over_http(server.base_url, paths)
        yield server
