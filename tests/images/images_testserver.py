"""Helpers for the image tests: load bundles through the project's loader, read raw studies."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fhir_fixtures.loader import load_paths
from tools.fhir import FHIRClient


def load_into(base_url: str, paths: Sequence[Path]) -> None:
    """Load bundles with the project's loader (fails the test if any file fails)."""

    async def run() -> None:
        async with FHIRClient(base_url) as client:
            report = await load_paths(paths, client, progress=False)
        assert not report.failed, report.failed

    asyncio.run(run())


def imaging_studies(paths: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """Every ImagingStudy in the raw bundles (ids as in the files), with its patient id."""
    studies = {}
    for path in paths:
        for entry in json.loads(gzip.decompress(path.read_bytes()))["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "ImagingStudy":
                patient = resource["subject"]["reference"].removeprefix("urn:uuid:")
                studies[resource["id"]] = {**resource, "_patient": patient}
    return studies
