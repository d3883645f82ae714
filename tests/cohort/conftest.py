"""Fixtures for the sample-cohort tests: the committed data, read with plain json and gzip."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

COHORT_DIR = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "cohort" / "data"


@pytest.fixture(scope="session")
def cohort_dir() -> Path:
    """The committed sample cohort."""
    assert (COHORT_DIR / "MANIFEST.json").is_file(), f"no committed cohort in {COHORT_DIR}"
    return COHORT_DIR


@pytest.fixture(scope="session")
def manifest(cohort_dir: Path) -> dict[str, Any]:
    """The committed MANIFEST.json."""
    return json.loads((cohort_dir / "MANIFEST.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def bundles(cohort_dir: Path) -> dict[str, dict[str, Any]]:
    """Every committed bundle by file name."""
    return {
        path.name: json.loads(gzip.decompress(path.read_bytes()))
        for path in sorted(cohort_dir.glob("*.json.gz"))
    }


@pytest.fixture(scope="session")
def records(bundles: dict[str, dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Each patient's resources (bundle entry order)."""
    return [[entry["resource"] for entry in bundle["entry"]] for bundle in bundles.values()]
