"""The sample cohort the project ships, and the deterministic generator that made it.

The committed files live in ``data/``: one Synthea-style transaction bundle per patient
(``.json.gz``), chest radiographs for the imaging studies that have one (``images/``), and
``MANIFEST.json`` (command, seed, reference date, hashes, resource counts). Regenerate them with
``python -m fhir_fixtures.cohort.generate`` (see that module); this package's import is kept light
so loaders can find the files without importing numpy or pydicom.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "IMAGES_DIR", "MANIFEST_PATH", "bundle_paths"]

DATA_DIR = Path(__file__).resolve().parent / "data"
IMAGES_DIR = DATA_DIR / "images"
MANIFEST_PATH = DATA_DIR / "MANIFEST.json"


def bundle_paths() -> list[Path]:
    """The sample cohort's patient bundles, sorted by file name."""
    return sorted(DATA_DIR.glob("*.json.gz"))
