"""Image decoding for the model: DICOM windowing, inversion, letterboxing, real X-rays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from tools.imaging import ImageDecodeError, decode_image, to_model_png


def dicom_bytes(
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    window: tuple[float, float] | None = None,
    slope: float = 1.0,
    intercept: float = 0.0,
) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("x.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def test_dicom_window_maps_center_to_mid_grey_and_clips_outside() -> None:
    pixels = np.array([[0, 800, 1000], [1100, 2000, 4000]], dtype=np.uint16)
    decoded = decode_image(dicom_bytes(pixels, window=(1000, 201)), "application/dicom")
    out = np.asarray(decoded.image)
    # window 1000±100: below → black, above → white, centre → mid grey
    assert out[0, 0] == 0
    assert out[0, 1] == 0
    assert out[1, 1] == 255
    assert out[1, 2] == 255
    assert 120 <= out[0, 2] <= 135
    assert decoded.content_type == "application/dicom"


def test_rescale_is_applied_before_the_window() -> None:
    pixels = np.array([[0, 10], [20, 30]], dtype=np.uint16)
    # stored 10 * 10 - 100 = 0 → window centre
    decoded = decode_image(
        dicom_bytes(pixels, window=(0, 101), slope=10, intercept=-100), "application/dicom"
    )
    assert 120 <= np.asarray(decoded.image)[0, 1] <= 135


def test_monochrome1_is_inverted_and_full_range_without_window() -> None:
    pixels = np.array([[0, 100]], dtype=np.uint16)
    normal = np.asarray(decode_image(dicom_bytes(pixels), "application/dicom").image)
    inverted = np.asarray(
        decode_image(dicom_bytes(pixels, photometric="MONOCHROME1"), "application/dicom").image
    )
    assert normal.tolist() == [[0, 255]]
    assert inverted.tolist() == [[255, 0]]


def test_letterbox_keeps_aspect_and_size() -> None:
    image = Image.new("L", (400, 200), 255)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    png = to_model_png(decode_image(buffer.getvalue(), "image/png"))
    out = Image.open(io.BytesIO(png))
    assert out.size == (896, 896)
    arr = np.asarray(out)
    # the image fills the middle 448 rows; bars above and below are black
    assert arr[0, 448] == 0
    assert arr[895, 448] == 0
    assert arr[448, 448] == 255
    assert arr[448, 0] == 255


def test_real_chest_xray_decodes_and_resizes(images_dir: Path) -> None:
    data = (images_dir / "nih-cxr14-00000001_000.png").read_bytes()
    decoded = decode_image(data, "image/png")
    assert (decoded.width, decoded.height) == (512, 512)
    out = Image.open(io.BytesIO(to_model_png(decoded)))
    assert out.size == (896, 896)
    assert out.mode == "L"
    assert np.asarray(out).std() > 20  # an X-ray, not a blank


def test_garbage_is_a_clear_error() -> None:
    with pytest.raises(ImageDecodeError):
        decode_image(b"not an image", "image/png")
