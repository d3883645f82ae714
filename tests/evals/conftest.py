"""Shared fixtures of the evals tests: the default build over the 41 shared patients."""

from __future__ import annotations

from pathlib import Path

import pytest
from evals_independent import RawPatient, load_raw

from evals.builder import BuildOptions, BuildResult, build_dataset


@pytest.fixture(scope="session")
def default_build(synthea_dir: Path) -> BuildResult:
    """The dataset built with default settings from the shared Synthea folder."""
    return build_dataset([synthea_dir], BuildOptions())


@pytest.fixture(scope="session")
def raw_patients(patient_bundle_paths: list[Path]) -> dict[str, RawPatient]:
    """The 41 patients read straight from their bundle files (independent of the builder)."""
    return load_raw(patient_bundle_paths)
