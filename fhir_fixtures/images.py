"""Attach image files to the imaging studies already in a FHIR server (a fixture-loading step).

For every ImagingStudy in scope, :func:`attach_images` picks image files, then writes, in one
transaction per study:

- a ``Binary`` per image (the file's bytes and content type, ``securityContext`` the patient),
- a ``Media`` per image (``content.url`` ``Binary/<id>``, ``subject`` the patient, ``partOf`` the
  study, modality, view and body site when known),
- one ``DiagnosticReport`` for the study (``imagingStudy`` the study, ``media`` links to the
  Media, ``presentedForm`` attachments pointing at the Binaries).

Which image goes with which study:

1. A file that names a study belongs to it and to no other: a DICOM file through its
   StudyInstanceUID (matched against ``ImagingStudy.identifier`` ``urn:oid:<uid>``), a PNG or JPEG
   through its file name (``<ImagingStudy id>.png``). The sample cohort ships its images so.
2. Every other file is in a shared pool. A study with no file of its own gets one pool image whose
   body region and modality fit it: ``sha256(study id) mod n`` over the fitting images sorted by
   content hash, so the pairing depends only on the study and the folder's contents. A DICOM file
   tells its region (BodyPartExamined) and modality; a PNG or JPEG carries neither, and is taken
   to be a chest radiograph, which is what the project's images are. Chest images fit studies
   whose body site lies in the chest (thorax, chest wall, lung, heart, rib, clavicle: a frontal
   chest radiograph shows the clavicles) and whose modality is radiography (DX, CR).
   Studies that nothing fits are reported as skipped, with the reason.

Ids are UUIDs derived from the study id and the image's SHA-256, written with PUT, so a second run
finds everything in place and writes nothing; a changed file gets new resources.

The error tree::

    ImageAttachError
    ├── ImageFolderError   the folder is missing or an image file cannot be read
    └── StudySearchError   the studies could not all be listed (the search was truncated)

FHIR failures propagate as :class:`tools.fhir.FHIRError`. Nothing patient-related is logged.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.fhir import FHIRClient, FHIRNotFound

__all__ = [
    "FIXTURE_TAG",
    "AttachReport",
    "Attachment",
    "ImageAttachError",
    "ImageFile",
    "ImageFolderError",
    "SkippedStudy",
    "StudySearchError",
    "attach_images",
    "read_image_folder",
]

logger = logging.getLogger(__name__)

FIXTURE_TAG = {
    "system": "urn:ehr-agent:tags",
    "code": "fixture-image",
    "display": "Image attached by the fixture loader; not acquired from this patient",
}
_NAMESPACE = uuid.UUID("6f1c4c1e-6d2b-4f52-9a59-4a2b8e1d7c10")
_SNOMED = "http://snomed.info/sct"
_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_RASTER_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_DICOM_SUFFIX = ".dcm"
_RADIOGRAPHY = frozenset({"DX", "CR"})
_MODALITY_DISPLAY = {"DX": "Digital Radiography", "CR": "Computed Radiography"}
# Body sites (SNOMED CT) a frontal chest radiograph shows.
_CHEST_SITES = frozenset(
    {
        "51185008",  # Thoracic structure
        "302551006",  # Entire thorax
        "43799004",  # Thoracic structure (older concept)
        "78904004",  # Chest wall structure
        "39607008",  # Lung structure
        "80891009",  # Heart structure
        "113197003",  # Bone structure of rib
        "51299004",  # Clavicle
    }
)
# DICOM CID 4010 view codes for the ViewPosition values a chest radiograph carries.
_VIEWS = {
    "PA": ("399348003", "postero-anterior"),
    "AP": ("399182000", "antero-posterior"),
}


class ImageAttachError(Exception):
    """Images could not be attached (see the module docstring for the subclasses)."""


class ImageFolderError(ImageAttachError):
    """The image folder is missing, or a file in it is not a readable image."""


class StudySearchError(ImageAttachError):
    """The ImagingStudy search could not be completed, so a pairing would be arbitrary."""


@dataclass(frozen=True)
class ImageFile:
    """One image file and what it says about itself."""

    name: str
    content_type: str
    sha256: str
    data: bytes = field(repr=False)
    region: str | None
    modality: str | None
    view: str | None
    study_uid: str | None
    instance_uid: str | None

    @property
    def names_study(self) -> str | None:
        """The study key this file names: ``uid:<StudyInstanceUID>`` or ``id:<file stem>``."""
        if self.study_uid is not None:
            return f"uid:{self.study_uid}"
        stem = Path(self.name).stem
        return f"id:{stem}" if _ID.match(stem) else None


@dataclass(frozen=True)
class Attachment:
    """One image attached to one study."""

    study: str
    patient: str
    image: str
    binary: str
    media: str
    report: str
    written: bool


@dataclass(frozen=True)
class SkippedStudy:
    """A study that got no image, and why."""

    study: str
    reason: str


@dataclass(frozen=True)
class AttachReport:
    """What :func:`attach_images` did.

    Attributes:
        attached: every study-image pair now in the server (written this run or already there).
        skipped: studies in scope that got no image.
        unused_images: files no study in scope used.
        transactions: transactions sent (0 when everything was already in place).
    """

    attached: tuple[Attachment, ...]
    skipped: tuple[SkippedStudy, ...]
    unused_images: tuple[str, ...]
    transactions: int

    @property
    def written(self) -> int:
        """Attachments written by this run."""
        return sum(1 for a in self.attached if a.written)


def _read_dicom(path: Path, data: bytes) -> ImageFile:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise ImageFolderError(f"{path.name} is not a readable DICOM file: {exc}") from exc
    if "PixelData" not in ds:
        raise ImageFolderError(f"{path.name} holds no pixel data")
    study_uid = str(ds.get("StudyInstanceUID", "")).strip() or None
    return ImageFile(
        name=path.name,
        content_type="application/dicom",
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        region=str(ds.get("BodyPartExamined", "")).strip().upper() or None,
        modality=str(ds.get("Modality", "")).strip().upper() or None,
        view=str(ds.get("ViewPosition", "")).strip().upper() or None,
        study_uid=study_uid,
        instance_uid=str(ds.get("SOPInstanceUID", "")).strip() or None,
    )


def _read_raster(path: Path, data: bytes, content_type: str) -> ImageFile:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageFolderError(f"{path.name} is not a readable image: {exc}") from exc
    return ImageFile(
        name=path.name,
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        region="CHEST",
        modality=None,
        view=None,
        study_uid=None,
        instance_uid=None,
    )


def read_image_folder(images_dir: Path) -> list[ImageFile]:
    """Read the PNG, JPEG and DICOM files directly in ``images_dir``, sorted by name.

    Raises:
        ImageFolderError: the folder does not exist, or a file is not a readable image.
    """
    if not images_dir.is_dir():
        raise ImageFolderError(f"{images_dir} is not a folder")
    images = []
    for path in sorted(images_dir.iterdir()):
        suffix = path.suffix.lower()
        if not path.is_file() or (suffix not in _RASTER_TYPES and suffix != _DICOM_SUFFIX):
            continue
        data = path.read_bytes()
        if suffix == _DICOM_SUFFIX:
            images.append(_read_dicom(path, data))
        else:
            images.append(_read_raster(path, data, _RASTER_TYPES[suffix]))
    return images


def _study_keys(study: dict[str, Any]) -> set[str]:
    keys = {f"id:{study['id']}"}
    for identifier in study.get("identifier", []):
        value = str(identifier.get("value", ""))
        if value.startswith("urn:oid:"):
            keys.add(f"uid:{value.removeprefix('urn:oid:')}")
    return keys


def _study_sites(study: dict[str, Any]) -> list[dict[str, Any]]:
    return [s["bodySite"] for s in study.get("series", []) if isinstance(s.get("bodySite"), dict)]


def _study_modalities(study: dict[str, Any]) -> set[str]:
    codes = {str(s.get("modality", {}).get("code", "")).upper() for s in study.get("series", [])}
    codes |= {str(m.get("code", "")).upper() for m in study.get("modality", [])}
    return codes - {""}


def _fits(study: dict[str, Any], image: ImageFile) -> bool:
    if image.region != "CHEST":
        return False
    sites = _study_sites(study)
    if not any(s.get("system") == _SNOMED and s.get("code") in _CHEST_SITES for s in sites):
        return False
    modalities = _study_modalities(study)
    image_modality = image.modality or "DX"
    return bool(modalities & _RADIOGRAPHY) and image_modality in _RADIOGRAPHY


def _why_not(study: dict[str, Any]) -> str:
    sites = ", ".join(str(s.get("display") or s.get("code")) for s in _study_sites(study))
    modalities = ", ".join(sorted(_study_modalities(study))) or "no modality"
    return f"no image fits {modalities} of {sites or 'an unknown body site'}"


def _derived_id(kind: str, study_id: str, *hashes: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join((kind, study_id, *sorted(hashes)))))


def _attachment(image: ImageFile, binary_id: str) -> dict[str, Any]:
    return {
        "contentType": image.content_type,
        "url": f"Binary/{binary_id}",
        "size": len(image.data),
        # FHIR Attachment.hash is the base64 SHA-1 of the data.
        "hash": base64.b64encode(hashlib.sha1(image.data, usedforsecurity=False).digest()).decode(),
        "title": image.name,
    }


def _planned(study: dict[str, Any], images: Sequence[ImageFile]) -> list[dict[str, Any]]:
    """The Binary and Media of each image and the study's DiagnosticReport."""
    study_id = study["id"]
    subject = study["subject"]
    patient_ref = subject["reference"]
    started = study.get("started")
    encounter = study.get("encounter")
    sites = _study_sites(study)
    modalities = sorted(_study_modalities(study) & _RADIOGRAPHY) or sorted(_study_modalities(study))
    meta = {"tag": [FIXTURE_TAG]}
    resources: list[dict[str, Any]] = []
    media_refs = []
    forms = []
    for image in images:
        binary_id = _derived_id("binary", study_id, image.sha256)
        media_id = _derived_id("media", study_id, image.sha256)
        resources.append(
            {
                "resourceType": "Binary",
                "id": binary_id,
                "meta": meta,
                "contentType": image.content_type,
                "securityContext": {"reference": patient_ref},
                "data": base64.b64encode(image.data).decode("ascii"),
            }
        )
        media: dict[str, Any] = {
            "resourceType": "Media",
            "id": media_id,
            "meta": meta,
            "status": "completed",
            "type": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/media-type",
                        "code": "image",
                        "display": "Image",
                    }
                ]
            },
            "partOf": [{"reference": f"ImagingStudy/{study_id}"}],
            "subject": {"reference": patient_ref},
            "content": _attachment(image, binary_id),
        }
        if image.instance_uid is not None:
            media["identifier"] = [
                {"system": "urn:dicom:uid", "value": f"urn:oid:{image.instance_uid}"}
            ]
        modality = image.modality if image.modality in _RADIOGRAPHY else None
        modality = modality or (modalities[0] if modalities else None)
        if modality:
            display = _MODALITY_DISPLAY.get(modality)
            coding = {"system": _DCM, "code": modality, **({"display": display} if display else {})}
            media["modality"] = {"coding": [coding]}
        if image.view in _VIEWS:
            code, display = _VIEWS[image.view]
            media["view"] = {"coding": [{"system": _SNOMED, "code": code, "display": display}]}
        if encounter is not None:
            media["encounter"] = encounter
        if started is not None:
            media["createdDateTime"] = started
        if sites:
            media["bodySite"] = {"coding": [sites[0]]}
        resources.append(media)
        media_refs.append({"comment": image.name, "link": {"reference": f"Media/{media_id}"}})
        forms.append(_attachment(image, binary_id))
    procedure = (study.get("procedureCode") or [{}])[0]
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": _derived_id("report", study_id, *(i.sha256 for i in images)),
        "meta": meta,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                        "code": "RAD",
                        "display": "Radiology",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": "http://loinc.org",
                    "code": "18748-4",
                    "display": "Diagnostic imaging study",
                }
            ],
            "text": procedure.get("text") or "Diagnostic imaging study",
        },
        "subject": {"reference": patient_ref},
        "imagingStudy": [{"reference": f"ImagingStudy/{study_id}"}],
        "media": media_refs,
        "presentedForm": forms,
    }
    if encounter is not None:
        report["encounter"] = encounter
    if started is not None:
        report["effectiveDateTime"] = started
        report["issued"] = started if "T" in started else f"{started}T00:00:00+00:00"
    resources.append(report)
    return resources


def _same(stored: dict[str, Any], planned: dict[str, Any]) -> bool:
    def strip(resource: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in resource.items() if k not in ("meta", "text")}
        tags = [t.get("code") for t in resource.get("meta", {}).get("tag", [])]
        body["_tags"] = sorted(str(t) for t in tags)
        return body

    return strip(stored) == strip(planned)


async def _missing(client: FHIRClient, resources: Sequence[dict[str, Any]]) -> bool:
    """True when any planned resource is absent or differs from what is stored."""
    for resource in resources:
        try:
            stored = await client.read(resource["resourceType"], resource["id"])
        except FHIRNotFound:
            return True
        if not _same(stored, resource):
            return True
    return False


async def _studies(client: FHIRClient, patient_ids: Sequence[str] | None) -> list[dict[str, Any]]:
    searches = (
        [None] if patient_ids is None else [{"patient": pid} for pid in dict.fromkeys(patient_ids)]
    )
    studies: dict[str, dict[str, Any]] = {}
    for params in searches:
        result = await client.search_all("ImagingStudy", params)
        if result.truncated:
            raise StudySearchError(
                f"the ImagingStudy search stopped after {result.pages} pages; "
                "narrow it with patient_ids"
            )
        for study in result.resources:
            studies[study["id"]] = study
    return sorted(
        studies.values(),
        key=lambda s: (s.get("subject", {}).get("reference", ""), s.get("started", ""), s["id"]),
    )


async def _claimed_elsewhere(client: FHIRClient, key: str) -> bool:
    """Whether a study outside the current scope is the one ``key`` names."""
    kind, value = key.split(":", 1)
    if kind == "id":
        try:
            await client.read("ImagingStudy", value)
        except FHIRNotFound:
            return False
        return True
    found = await client.search("ImagingStudy", {"identifier": f"urn:oid:{value}"})
    return any(
        e.get("resource", {}).get("resourceType") == "ImagingStudy" for e in found.get("entry", [])
    )


async def attach_images(
    client: FHIRClient, images_dir: Path, *, patient_ids: Sequence[str] | None = None
) -> AttachReport:
    """Attach the images in ``images_dir`` to the ImagingStudy resources on the server.

    Args:
        client: an open client for the server holding the studies.
        images_dir: folder of ``.png``, ``.jpg``/``.jpeg`` and ``.dcm`` files (not searched
            recursively).
        patient_ids: only these patients' studies (default: every ImagingStudy on the server).

    Returns:
        What was attached, skipped and left unused.

    Raises:
        ImageFolderError: the folder is missing or holds an unreadable image.
        StudySearchError: the study search was truncated.
        tools.fhir.FHIRError: the server failed or refused a request.
    """
    images = read_image_folder(images_dir)
    studies = await _studies(client, patient_ids)
    owner_of: dict[str, str] = {}
    for study in studies:
        for key in _study_keys(study):
            owner_of[key] = study["id"]
    own: dict[str, list[ImageFile]] = {}
    pool: list[ImageFile] = []
    for image in images:
        named = image.names_study
        if named is not None and named in owner_of:
            own.setdefault(owner_of[named], []).append(image)
        elif named is None or not await _claimed_elsewhere(client, named):
            pool.append(image)
    pool.sort(key=lambda i: i.sha256)

    attached: list[Attachment] = []
    skipped: list[SkippedStudy] = []
    used: set[str] = set()
    transactions = 0
    for study in studies:
        chosen = own.get(study["id"])
        if not chosen:
            fitting = [image for image in pool if _fits(study, image)]
            if not fitting:
                skipped.append(SkippedStudy(f"ImagingStudy/{study['id']}", _why_not(study)))
                continue
            digest = int(hashlib.sha256(study["id"].encode()).hexdigest(), 16)
            chosen = [fitting[digest % len(fitting)]]
        resources = _planned(study, chosen)
        write = await _missing(client, resources)
        if write:
            await client.transaction(
                {
                    "resourceType": "Bundle",
                    "type": "transaction",
                    "entry": [
                        {
                            "resource": r,
                            "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
                        }
                        for r in resources
                    ],
                }
            )
            transactions += 1
        report_id = resources[-1]["id"]
        for image in chosen:
            used.add(image.name)
            attached.append(
                Attachment(
                    study=f"ImagingStudy/{study['id']}",
                    patient=study["subject"]["reference"],
                    image=image.name,
                    binary=f"Binary/{_derived_id('binary', study['id'], image.sha256)}",
                    media=f"Media/{_derived_id('media', study['id'], image.sha256)}",
                    report=f"DiagnosticReport/{report_id}",
                    written=write,
                )
            )
    logger.info(
        "attached images to %d studies (%d transactions), skipped %d studies",
        len({a.study for a in attached}),
        transactions,
        len(skipped),
    )
    return AttachReport(
        attached=tuple(attached),
        skipped=tuple(skipped),
        unused_images=tuple(i.name for i in images if i.name not in used),
        transactions=transactions,
    )
