"""Synthetic chest radiographs the project can ship: drawn with numpy, saved as PNG or DICOM.

The phantom is a frontal (PA) chest radiograph in outline: body, lungs with domed diaphragms,
heart, spine, clavicles and ribs, blurred and with a little quantum noise. A finding changes the
drawing: ``"consolidation"`` adds a mottled opacity in the right lower zone (the viewer's left),
``"cardiomegaly"`` widens the heart past half the chest, ``"clear"`` draws nothing extra. It is not
anatomy and is not meant to fool anyone; it is a legally shippable image whose findings agree with
the record it is attached to.

Pixel values are 8-bit (MONOCHROME2: dense is bright), the same in the PNG and in the DICOM
file, whose window (centre 128, width 256) shows them as the PNG does. Eight bits keep the
deflated DICOM files small enough to commit; the loader treats them like any other DICOM.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

__all__ = [
    "FINDINGS",
    "WINDOW_CENTER",
    "WINDOW_WIDTH",
    "DicomHeader",
    "dicom_bytes",
    "png_bytes",
    "render",
]

FINDINGS = ("clear", "consolidation", "cardiomegaly")
WINDOW_CENTER = 128
WINDOW_WIDTH = 256
_MAX = 255
# pydicom's own implementation UID would change the bytes with every pydicom release.
_IMPLEMENTATION_UID = "2.25.269118135311745361843455209428547424357"
_IMPLEMENTATION_NAME = "EHR_AGENT_1"


@dataclass(frozen=True)
class DicomHeader:
    """The identifying attributes a generated DICOM file carries."""

    patient_id: str
    patient_name: str
    patient_sex: str
    birth_date: str
    study_uid: str
    series_uid: str
    instance_uid: str
    sop_class: str
    modality: str
    acquired: datetime
    accession: str


def _blur(image: NDArray[np.float64], sigma: float) -> NDArray[np.float64]:
    """Gaussian blur by multiplication in the frequency domain (no scipy needed)."""
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    kernel = np.exp(-2 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    return np.real(np.fft.ifft2(np.fft.fft2(image) * kernel))


def render(finding: str, *, seed: int, size: int = 512) -> NDArray[np.uint8]:
    """Draw a phantom chest radiograph.

    Args:
        finding: one of :data:`FINDINGS`.
        seed: seeds the noise and the small anatomical variations.
        size: width and height in pixels.

    Returns:
        A ``size`` x ``size`` array of 8-bit values.

    Raises:
        ValueError: for an unknown finding.
    """
    if finding not in FINDINGS:
        raise ValueError(f"unknown finding {finding!r}; expected one of {FINDINGS}")
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    jitter = rng.uniform(-0.03, 0.03, 4)

    density = np.zeros((size, size))
    body = (x / 0.86) ** 2 + ((y - 0.12) / 1.08) ** 2 < 1
    density += 0.42 * body

    lungs = np.zeros_like(density, dtype=bool)
    for side in (-1, 1):
        cx = side * (0.37 + jitter[0])
        dome = 0.42 + jitter[1] - 0.35 * ((x - cx) / 0.3) ** 2 + (0.04 if side > 0 else 0.0)
        lung = ((x - cx) / 0.27) ** 2 + ((y + 0.08) / 0.62) ** 2 < 1
        lungs |= lung & (y < dome)
    density -= 0.33 * lungs

    heart_rx = 0.38 if finding == "cardiomegaly" else 0.25
    heart = ((x - 0.08 - jitter[2]) / heart_rx) ** 2 + ((y - 0.27) / 0.21) ** 2 < 1
    mediastinum = (np.abs(x - 0.02) < 0.1) & (y > -0.75) & (y < 0.45)
    density += 0.22 * (heart | mediastinum) * body

    spine = np.abs(x) < 0.075
    density += (0.12 + 0.04 * np.cos(y * 42)) * spine * body

    for side in (-1, 1):
        rel = np.abs(x) - 0.12
        curve = -0.66 + jitter[3] + 0.22 * rel**2 - 0.05 * rel
        clavicle = (np.abs(y - curve) < 0.03) & (rel > 0) & (rel < 0.6) & (np.sign(x) == side)
        density += 0.2 * clavicle
        for k in range(10):
            arc = -0.6 + 0.105 * k + 0.28 * (np.abs(x) - 0.1) ** 2
            rib = (np.abs(y - arc) < 0.018) & (np.abs(x) > 0.09) & (np.abs(x) < 0.66)
            density += 0.08 * (rib & (np.sign(x) == side))

    markings = _blur(rng.normal(0, 1, (size, size)), size / 90)
    density += 0.05 * markings / (np.abs(markings).max() or 1.0) * lungs

    if finding == "consolidation":
        blob = np.exp(-(((x + 0.38) / 0.17) ** 2 + ((y - 0.2) / 0.14) ** 2))
        mottle = _blur(rng.normal(0, 1, (size, size)), size / 120)
        mottle = 0.6 + 0.4 * mottle / (np.abs(mottle).max() or 1.0)
        density += 0.3 * blob * mottle * lungs

    density = _blur(density, size / 300)
    density += rng.normal(0, 0.008, (size, size))
    scaled = np.clip(0.06 + density / 0.95, 0.0, 1.0) * _MAX
    return np.rint(scaled).astype(np.uint8)


def png_bytes(pixels: NDArray[np.uint8]) -> bytes:
    """The phantom as an 8-bit grayscale PNG (no metadata chunks, so the bytes are stable)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def dicom_bytes(pixels: NDArray[np.uint8], header: DicomHeader) -> bytes:
    """The phantom as a DICOM Part 10 file (Deflated Explicit VR Little Endian, MONOCHROME2)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(header.sop_class)
    meta.MediaStorageSOPInstanceUID = UID(header.instance_uid)
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(_IMPLEMENTATION_UID)
    meta.ImplementationVersionName = _IMPLEMENTATION_NAME

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SOPClassUID = header.sop_class
    ds.SOPInstanceUID = header.instance_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = header.acquired.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = header.acquired.strftime("%H%M%S")
    ds.AccessionNumber = header.accession
    ds.Modality = header.modality
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = "ehr-agent synthetic phantom"
    ds.StudyDescription = "Chest X-ray"
    ds.SeriesDescription = "Chest PA"
    ds.PatientName = header.patient_name
    ds.PatientID = header.patient_id
    ds.PatientBirthDate = header.birth_date
    ds.PatientSex = header.patient_sex
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]
    ds.StudyInstanceUID = header.study_uid
    ds.SeriesInstanceUID = header.series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.ImagerPixelSpacing = [0.7, 0.7]
    ds.PixelSpacing = [0.7, 0.7]
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.WindowCenter = WINDOW_CENTER
    ds.WindowWidth = WINDOW_WIDTH
    ds.VOILUTFunction = "LINEAR"
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()

    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
