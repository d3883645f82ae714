"""Images made model-ready: decoded, windowed, letterboxed to the model's size, as PNG.

DICOM is decoded with pydicom: modality rescale (slope/intercept), then the VOI window
from WindowCenter/WindowWidth when present (else the full range), MONOCHROME1 inverted
so bone is always bright. PNG and JPEG go through Pillow. The result is padded to a
square (the aspect ratio is kept; MedGemma's image encoder takes 896x896) and encoded as
PNG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["MODEL_IMAGE_SIZE", "DecodedImage", "ImageDecodeError", "decode_image", "to_model_png"]

#: Input size of MedGemma's (SigLIP) image encoder.
MODEL_IMAGE_SIZE = 896

_DICOM_TYPES = frozenset({"application/dicom", "application/dicom+octet-stream"})


class ImageDecodeError(ValueError):
    """The bytes are not an image this module can read."""


@dataclass(frozen=True)
class DecodedImage:
    """A decoded image and where it came from."""

    image: Image.Image
    content_type: str
    width: int
    height: int


def _is_dicom(data: bytes, content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in _DICOM_TYPES or data[128:132] == b"DICM"


def _first_number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        items = list(value)  # type: ignore[call-overload]
        return float(items[0]) if items else None
    return float(value)  # type: ignore[arg-type]


def _decode_dicom(data: bytes) -> Image.Image:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        pixels = ds.pixel_array
    except (
        InvalidDicomError,
        AttributeError,
        ValueError,
        RuntimeError,
        NotImplementedError,
    ) as exc:
        raise ImageDecodeError(f"cannot decode DICOM pixel data: {exc}") from exc
    frames = (
        pixels
        if pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[-1] in (3, 4))
        else pixels[0]
    )
    if frames.ndim == 3 and frames.shape[-1] in (3, 4):
        return Image.fromarray(frames[..., :3].astype(np.uint8), mode="RGB")
    arr = frames.astype(np.float64)
    slope = float(getattr(ds, "RescaleSlope", 1) or 1)
    intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
    arr = arr * slope + intercept
    center = _first_number(getattr(ds, "WindowCenter", None))
    width = _first_number(getattr(ds, "WindowWidth", None))
    if center is not None and width is not None and width > 1:
        low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    else:
        low, high = float(arr.min()), float(arr.max())
    span = max(high - low, 1e-6)
    out = np.clip((arr - low) / span, 0.0, 1.0) * 255.0
    if str(getattr(ds, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        out = 255.0 - out
    return Image.fromarray(out.round().astype(np.uint8), mode="L")


def decode_image(data: bytes, content_type: str) -> DecodedImage:
    """Decode PNG, JPEG or DICOM bytes."""
    if _is_dicom(data, content_type):
        image = _decode_dicom(data)
        kind = "application/dicom"
    else:
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (OSError, Image.DecompressionBombError) as exc:
            raise ImageDecodeError(f"cannot decode image ({content_type}): {exc}") from exc
        kind = Image.MIME.get(image.format or "", content_type)
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB" if "A" in image.mode or image.mode == "P" else "L")
    return DecodedImage(image=image, content_type=kind, width=image.width, height=image.height)


def to_model_png(decoded: DecodedImage, size: int = MODEL_IMAGE_SIZE) -> bytes:
    """Letterbox to ``size`` x ``size`` (black bars keep the aspect ratio) and encode PNG."""
    image = decoded.image
    scale = size / max(image.width, image.height)
    resized = image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    canvas = Image.new(image.mode, (size, size), 0)
    canvas.paste(resized, ((size - resized.width) // 2, (size - resized.height) // 2))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
