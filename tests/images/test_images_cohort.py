"""The shipped cohort's images attach to exactly the studies they were drawn for."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pydicom
import pytest
from images_testserver import imaging_studies, load_into
from PIL import Image

from fhir_fixtures.images import AttachReport, attach_images
from fhir_fixtures.server import BackgroundServer
from tools.fhir import FHIRClient

# Each module loads a real server over HTTP (the shared patients take about 10 s).
pytestmark = pytest.mark.slow

COHORT = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "cohort" / "data"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads((COHORT / "MANIFEST.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cohort_run(
    tmp_path_factory: pytest.TempPathFactory, manifest: dict[str, Any]
) -> Iterator[tuple[BackgroundServer, AttachReport]]:
    bundles = [COHORT / b["path"] for b in manifest["bundles"]]
    db = tmp_path_factory.mktemp("cohort") / "fhir.sqlite"
    server = BackgroundServer(db, validate=True).start()
    load_into(server.base_url, bundles)

    async def run() -> AttachReport:
        async with FHIRClient(server.base_url) as client:
            return await attach_images(client, COHORT / "images")

    try:
        report = asyncio.run(run())
    except BaseException:
        server.stop()
        raise
    yield server, report
    server.stop()


def test_every_image_goes_to_the_study_it_was_drawn_for(
    cohort_run: tuple[BackgroundServer, AttachReport], manifest: dict[str, Any]
) -> None:
    _, report = cohort_run
    expected = {i["imaging_study"]: Path(i["path"]).name for i in manifest["images"]}
    assert {a.study: a.image for a in report.attached} == expected
    assert report.unused_images == ()
    studies = imaging_studies([COHORT / b["path"] for b in manifest["bundles"]])
    skipped_sites = {
        studies[s.study.removeprefix("ImagingStudy/")]["series"][0]["bodySite"]["code"]
        for s in report.skipped
    }
    assert skipped_sites == {"344001", "76752008"}


def test_images_read_back_byte_identical_and_decode(
    cohort_run: tuple[BackgroundServer, AttachReport], manifest: dict[str, Any]
) -> None:
    server, report = cohort_run
    by_study = {i["imaging_study"]: i for i in manifest["images"]}
    for attachment in report.attached:
        entry = by_study[attachment.study]
        response = httpx.get(
            f"{server.base_url}/{attachment.binary}", headers={"Accept": entry["content_type"]}
        )
        assert response.status_code == 200
        assert response.content == (COHORT / entry["path"]).read_bytes()
        if entry["content_type"] == "application/dicom":
            ds = pydicom.dcmread(io.BytesIO(response.content))
            assert f"Patient/{ds.PatientID}" == attachment.patient
            assert ds.pixel_array.shape == (512, 512)
        else:
            assert np.asarray(Image.open(io.BytesIO(response.content))).shape == (512, 512)
