"""attach_images over real HTTP against the embedded server holding the 41 shared patients.

The shared record has 12 ImagingStudy resources, all plain radiographs (DX) of clavicle, arm,
wrist, ankle or pelvis. A frontal chest X-ray shows the clavicles, so the two NIH chest PNGs go
to the six clavicle studies; the other six get nothing. Expectations are computed from the raw
bundles and the image files, not from the code under test.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pydicom
import pytest
from PIL import Image

from fhir_fixtures.chest_phantom import DicomHeader, dicom_bytes, render
from fhir_fixtures.images import AttachReport, ImageFolderError, attach_images
from fhir_fixtures.server import AccessLogEntry, BackgroundServer
from tools.fhir import FHIRBadRequest, FHIRClient

# Each module loads a real server over HTTP (the shared patients take about 10 s).
pytestmark = pytest.mark.slow

CLAVICLE = "51299004"


@dataclass(frozen=True)
class Run:
    report: AttachReport
    requests: list[AccessLogEntry]


def _attach(
    server: BackgroundServer, images: Path, patient_ids: Sequence[str] | None = None
) -> Run:
    async def run() -> AttachReport:
        async with FHIRClient(server.base_url) as client:
            return await attach_images(client, images, patient_ids=patient_ids)

    server.access_log.clear()
    report = asyncio.run(run())
    return Run(report, list(server.access_log))


@pytest.fixture(scope="module")
def runs(shared_server: BackgroundServer, images_dir: Path) -> tuple[Run, Run]:
    """attach_images twice over the shared images."""
    return _attach(shared_server, images_dir), _attach(shared_server, images_dir)


def _expected_pairs(studies: dict[str, dict[str, Any]], images_dir: Path) -> dict[str, str]:
    """The documented rule: sha256(study id) mod n over the images sorted by content hash."""
    images = sorted(
        images_dir.glob("*.png"), key=lambda p: hashlib.sha256(p.read_bytes()).hexdigest()
    )
    pairs = {}
    for study_id, study in studies.items():
        if study["series"][0]["bodySite"]["code"] == CLAVICLE:
            index = int(hashlib.sha256(study_id.encode()).hexdigest(), 16) % len(images)
            pairs[f"ImagingStudy/{study_id}"] = images[index].name
    return pairs


def _get(
    server: BackgroundServer, path: str, accept: str = "application/fhir+json"
) -> httpx.Response:
    response = httpx.get(f"{server.base_url}/{path}", headers={"Accept": accept})
    response.raise_for_status()
    return response


def test_chest_images_go_to_the_clavicle_studies_and_nowhere_else(
    runs: tuple[Run, Run], shared_studies: dict[str, dict[str, Any]], images_dir: Path
) -> None:
    first = runs[0].report
    expected = _expected_pairs(shared_studies, images_dir)
    assert len(shared_studies) == 12
    assert len(expected) == 6
    assert {a.study: a.image for a in first.attached} == expected
    assert {s.study for s in first.skipped} == {f"ImagingStudy/{i}" for i in shared_studies} - set(
        expected
    )
    assert all(s.reason.startswith("no image fits DX of ") for s in first.skipped)
    assert len({a.image for a in first.attached}) == 2
    assert first.unused_images == ()
    for attachment in first.attached:
        study_id = attachment.study.removeprefix("ImagingStudy/")
        assert attachment.patient == f"Patient/{shared_studies[study_id]['_patient']}"


def test_first_run_writes_one_transaction_per_study(runs: tuple[Run, Run]) -> None:
    first = runs[0]
    writes = [r for r in first.requests if r.method != "GET"]
    assert [(r.method, r.status) for r in writes] == [("POST", 200)] * 6
    assert first.report.transactions == 6
    assert first.report.written == 6


def test_second_run_finds_everything_in_place_and_writes_nothing(runs: tuple[Run, Run]) -> None:
    first, second = runs
    assert [r for r in second.requests if r.method != "GET"] == []
    assert second.report.transactions == 0
    assert second.report.written == 0
    assert [(a.study, a.binary, a.media, a.report) for a in second.report.attached] == [
        (a.study, a.binary, a.media, a.report) for a in first.report.attached
    ]


def test_stored_resources_link_patient_study_media_and_binary(
    runs: tuple[Run, Run], shared_server: BackgroundServer, images_dir: Path
) -> None:
    for attachment in runs[0].report.attached:
        media = _get(shared_server, attachment.media).json()
        binary_id = attachment.binary.removeprefix("Binary/")
        assert media["subject"] == {"reference": attachment.patient}
        assert media["partOf"] == [{"reference": attachment.study}]
        assert media["content"]["url"] == attachment.binary
        assert media["content"]["contentType"] == "image/png"
        assert media["modality"]["coding"][0]["code"] == "DX"
        assert media["bodySite"]["coding"][0]["code"] == CLAVICLE
        report = _get(shared_server, attachment.report).json()
        assert report["subject"] == {"reference": attachment.patient}
        assert report["imagingStudy"] == [{"reference": attachment.study}]
        assert report["media"][0]["link"] == {"reference": attachment.media}
        form = report["presentedForm"][0]
        assert (form["url"], form["contentType"]) == (attachment.binary, "image/png")
        raw = _get(shared_server, f"Binary/{binary_id}", accept="image/png")
        original = (images_dir / attachment.image).read_bytes()
        assert raw.content == original
        assert raw.headers["content-type"].startswith("image/png")
        decoded = Image.open(io.BytesIO(raw.content))
        assert (decoded.mode, decoded.size) == ("L", (512, 512))
        as_json = _get(shared_server, f"Binary/{binary_id}").json()
        assert as_json["securityContext"] == {"reference": attachment.patient}


def test_reports_are_found_from_the_patient_and_the_study(
    runs: tuple[Run, Run], shared_server: BackgroundServer
) -> None:
    attachment = runs[0].report.attached[0]
    patient_id = attachment.patient.removeprefix("Patient/")
    bundle = _get(shared_server, f"Media?patient={patient_id}").json()
    media_ids = {e["resource"]["id"] for e in bundle.get("entry", [])}
    assert attachment.media.removeprefix("Media/") in media_ids


def _dicom_for(study: dict[str, Any], path: Path) -> bytes:
    uid = study["identifier"][0]["value"].removeprefix("urn:oid:")
    header = DicomHeader(
        patient_id=study["_patient"],
        patient_name="Test^Patient",
        patient_sex="O",
        birth_date="19700101",
        study_uid=uid,
        series_uid=study["series"][0]["uid"],
        instance_uid=study["series"][0]["instance"][0]["uid"],
        sop_class="1.2.840.10008.5.1.4.1.1.1.1",
        modality="DX",
        acquired=datetime(2016, 5, 25, 6, 25, tzinfo=UTC),
        accession="T1",
    )
    data = dicom_bytes(render("clear", seed=11), header)
    path.write_bytes(data)
    return data


def _ankle_study(studies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return next(s for s in studies.values() if s["series"][0]["bodySite"]["code"] == "344001")


def test_a_dicom_file_goes_to_the_study_it_names(
    runs: tuple[Run, Run],
    shared_server: BackgroundServer,
    shared_studies: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    study = _ankle_study(shared_studies)
    data = _dicom_for(study, tmp_path / "ankle.dcm")
    run = _attach(shared_server, tmp_path, patient_ids=[study["_patient"]])
    [attachment] = run.report.attached
    assert attachment.study == f"ImagingStudy/{study['id']}"
    assert attachment.written
    searches = [r for r in run.requests if r.path == "/ImagingStudy"]
    assert [r.query for r in searches] == [f"patient={study['_patient']}"]
    raw = _get(shared_server, attachment.binary, accept="application/dicom").content
    assert raw == data
    ds = pydicom.dcmread(io.BytesIO(raw))
    assert np.array_equal(ds.pixel_array, render("clear", seed=11))
    media = _get(shared_server, attachment.media).json()
    assert media["content"]["contentType"] == "application/dicom"
    assert media["identifier"][0]["value"] == f"urn:oid:{ds.SOPInstanceUID}"
    assert media["view"]["coding"][0]["code"] == "399348003"


def test_a_dicom_file_naming_another_patients_study_is_not_reused(
    runs: tuple[Run, Run],
    shared_server: BackgroundServer,
    shared_studies: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    _dicom_for(_ankle_study(shared_studies), tmp_path / "ankle.dcm")
    clavicle = next(
        s for s in shared_studies.values() if s["series"][0]["bodySite"]["code"] == CLAVICLE
    )
    run = _attach(shared_server, tmp_path, patient_ids=[clavicle["_patient"]])
    assert run.report.attached == ()
    assert [s.study for s in run.report.skipped] == [f"ImagingStudy/{clavicle['id']}"]
    assert run.report.unused_images == ("ankle.dcm",)
    assert [r for r in run.requests if r.method != "GET"] == []


def test_an_unreadable_image_fails_before_any_request(
    shared_server: BackgroundServer, tmp_path: Path
) -> None:
    (tmp_path / "good.png").write_bytes(b"")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ImageFolderError, match=r"broken\.png"):
        _attach(shared_server, tmp_path)
    assert list(shared_server.access_log) == []


def test_a_missing_folder_is_reported(shared_server: BackgroundServer, tmp_path: Path) -> None:
    with pytest.raises(ImageFolderError, match="not a folder"):
        _attach(shared_server, tmp_path / "nowhere")


def test_a_refused_transaction_propagates_and_leaves_nothing_written(
    runs: tuple[Run, Run],
    shared_server: BackgroundServer,
    shared_studies: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    wrist = next(
        s for s in shared_studies.values() if s["series"][0]["bodySite"]["code"] == "8205005"
    )
    _dicom_for(wrist, tmp_path / "wrist.dcm")
    upstream = httpx.Client(base_url=shared_server.base_url)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "invalid", "diagnostics": "refused"}],
            }
            return httpx.Response(400, json=outcome)
        answer = upstream.send(
            upstream.build_request(
                request.method, request.url.raw_path.decode(), headers=request.headers
            )
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    async def run() -> None:
        transport = httpx.MockTransport(handler)
        async with FHIRClient(shared_server.base_url, transport=transport) as client:
            await attach_images(client, tmp_path, patient_ids=[wrist["_patient"]])

    with pytest.raises(FHIRBadRequest):
        asyncio.run(run())
    upstream.close()
    found = _get(shared_server, f"DiagnosticReport?patient={wrist['_patient']}").json()
    imaging_reports = [e for e in found.get("entry", []) if e["resource"].get("imagingStudy")]
    assert imaging_reports == []
