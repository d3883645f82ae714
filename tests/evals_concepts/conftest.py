"""Fixtures shared by the concept-label checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from concept_labels import Index, build_record_index


@pytest.fixture(scope="session")
def record_index(patient_bundle_paths: list[Path]) -> Index:
    """Patient.id -> resource type -> ``system|code`` set, read once from the raw bundles."""
    return build_record_index(patient_bundle_paths)
