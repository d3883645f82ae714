"""The synthetic chest radiograph: deterministic, findings visible, valid PNG and DICOM."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pydicom
import pytest
from PIL import Image

from fhir_fixtures.chest_phantom import (
    WINDOW_CENTER,
    WINDOW_WIDTH,
    DicomHeader,
    dicom_bytes,
    png_bytes,
    render,
)

HEADER = DicomHeader(
    patient_id="p-1",
    patient_name="Doe^Jane",
    patient_sex="F",
    birth_date="19600102",
    study_uid="2.25.1001",
    series_uid="2.25.1002",
    instance_uid="2.25.1003",
    sop_class="1.2.840.10008.5.1.4.1.1.1.1",
    modality="DX",
    acquired=datetime(2024, 3, 4, 15, 30, 0, tzinfo=UTC),
    accession="ACC1",
)


def test_same_seed_same_pixels_other_seed_other_noise() -> None:
    assert np.array_equal(render("clear", seed=3), render("clear", seed=3))
    assert not np.array_equal(render("clear", seed=3), render("clear", seed=4))


def test_consolidation_brightens_the_right_lower_zone_only() -> None:
    clear, sick = render("clear", seed=5), render("consolidation", seed=5)
    # Patient's right lower zone is on the viewer's left, below the hila.
    right_lower = (slice(280, 360), slice(110, 200))
    left_upper = (slice(120, 200), slice(320, 400))
    assert sick[right_lower].mean() > clear[right_lower].mean() + 15
    assert abs(int(sick[left_upper].mean()) - int(clear[left_upper].mean())) <= 2


def test_cardiomegaly_widens_the_heart_shadow() -> None:
    # Across the lower chest, the heart is the band denser than the aerated lung around it.
    row, between_chest_walls = 330, slice(130, 400)
    normal = render("clear", seed=6)[row, between_chest_walls]
    large = render("cardiomegaly", seed=6)[row, between_chest_walls]
    assert (large > 70).sum() > (normal > 70).sum() + 40


def test_unknown_finding_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown finding"):
        render("fracture", seed=1)


def test_png_and_dicom_hold_the_same_pixels_with_proper_display_tags() -> None:
    pixels = render("consolidation", seed=9)
    png = Image.open(io.BytesIO(png_bytes(pixels)))
    assert png.mode == "L"
    assert png.size == (512, 512)
    assert np.array_equal(np.asarray(png), pixels)

    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(pixels, HEADER)))
    assert np.array_equal(ds.pixel_array, pixels)
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert (ds.WindowCenter, ds.WindowWidth) == (WINDOW_CENTER, WINDOW_WIDTH)
    assert ds.StudyInstanceUID == HEADER.study_uid
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID == HEADER.instance_uid
    assert (ds.BodyPartExamined, ds.ViewPosition, ds.Modality) == ("CHEST", "PA", "DX")
    assert (ds.PatientID, str(ds.PatientName)) == ("p-1", "Doe^Jane")
    assert ds.StudyDate == "20240304"


def test_encodings_are_byte_stable() -> None:
    pixels = render("clear", seed=2)
    assert png_bytes(pixels) == png_bytes(pixels.copy())
    assert dicom_bytes(pixels, HEADER) == dicom_bytes(pixels.copy(), HEADER)
