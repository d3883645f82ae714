r"""Generate the sample cohort: one Synthea-style transaction bundle per patient, images, manifest.

Run it as::

    python -m fhir_fixtures.cohort.generate --seed 20261122 --as-of 2026-11-01 --patients 25 \\
        --out fhir_fixtures/cohort/data

The same seed, date and patient count give byte-identical files: ids are hashes of the seed,
every random draw comes from a per-patient :class:`random.Random`, JSON is written in insertion
order, and gzip headers carry no time stamp or file name. The output folder is replaced as a whole
(written beside it first), so a failed run leaves the previous cohort in place.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fhir_fixtures import chest_phantom
from fhir_fixtures.cohort.archetypes import SimulatedPatient, simulate_patient
from fhir_fixtures.cohort.course import PlannedImage
from fhir_fixtures.cohort.demographics import care_network

__all__ = [
    "GENERATOR_VERSION",
    "MANIFEST_NAME",
    "CohortError",
    "GeneratedCohort",
    "generate_cohort",
    "main",
    "write_cohort",
]

GENERATOR_VERSION = "1.0.0"
MANIFEST_NAME = "MANIFEST.json"
IMAGES_DIR = "images"


class CohortError(Exception):
    """The cohort cannot be generated or written (bad arguments, a folder we must not replace)."""


@dataclass(frozen=True)
class GeneratedCohort:
    """A generated cohort in memory: file contents by relative path, and the manifest."""

    files: dict[str, bytes]
    manifest: dict[str, Any]


def _gzip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    # mtime=0 and an empty file name keep the gzip header identical from run to run.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buffer.getvalue()


def _bundle(patient: SimulatedPatient) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{resource['id']}",
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
            for resource in patient.resources
        ],
    }


def _file_stem(patient: SimulatedPatient) -> str:
    name = f"{patient.person.given}_{patient.person.family}".replace("'", "")
    return f"{name}_{patient.patient_id}"


def _image_file(
    patient: SimulatedPatient, image: PlannedImage, seed: int
) -> tuple[str, bytes, str]:
    phantom_seed = int.from_bytes(hashlib.sha256(f"{seed}/{image.study_id}".encode()).digest()[:8])
    pixels = chest_phantom.render(image.finding, seed=phantom_seed)
    if image.file_format == "png":
        # A raster file names its study by its file name (ImagingStudy id).
        return f"{IMAGES_DIR}/{image.study_id}.png", chest_phantom.png_bytes(pixels), "image/png"
    person = patient.person
    header = chest_phantom.DicomHeader(
        patient_id=patient.patient_id,
        patient_name=f"{person.family}^{person.given}",
        patient_sex="F" if person.gender == "female" else "M",
        birth_date=person.birth_date.strftime("%Y%m%d"),
        study_uid=image.study_uid,
        series_uid=image.series_uid,
        instance_uid=image.instance_uid,
        sop_class=image.sop_class,
        modality=image.modality,
        acquired=image.started,
        accession=image.study_id[:16],
    )
    data = chest_phantom.dicom_bytes(pixels, header)
    return f"{IMAGES_DIR}/{image.study_id}.dcm", data, "application/dicom"


def _command(seed: int, as_of: date, patients: int) -> str:
    return (
        f"python -m fhir_fixtures.cohort.generate --seed {seed} --as-of {as_of.isoformat()} "
        f"--patients {patients} --out <DIR>"
    )


def generate_cohort(seed: int, as_of: date, patients: int) -> GeneratedCohort:
    """Generate the cohort in memory.

    Args:
        seed: any integer; the same seed gives the same patients.
        as_of: reference date; every event in the record happens before it.
        patients: how many patients (12 or more covers every archetype).

    Returns:
        The files (``<Given>_<Family>_<id>.json.gz`` bundles and ``images/<study id>.dcm|.png``)
        and the manifest describing them.

    Raises:
        CohortError: if ``patients`` is not positive.
    """
    if patients < 1:
        raise CohortError(f"--patients must be at least 1, got {patients}")
    network = care_network(seed)
    taken: set[str] = set()
    files: dict[str, bytes] = {}
    bundle_entries: list[dict[str, Any]] = []
    image_entries: list[dict[str, Any]] = []
    for index in range(patients):
        patient = simulate_patient(seed, index, as_of, network, taken)
        raw = json.dumps(_bundle(patient), ensure_ascii=False, separators=(",", ":"))
        path = f"{_file_stem(patient)}.json.gz"
        files[path] = _gzip(raw.encode("utf-8"))
        counts = Counter(r["resourceType"] for r in patient.resources)
        bundle_entries.append(
            {
                "path": path,
                "sha256": hashlib.sha256(files[path]).hexdigest(),
                "bytes": len(files[path]),
                "patient_id": patient.patient_id,
                "archetype": patient.archetype,
                "resources": dict(sorted(counts.items())),
            }
        )
        for image in patient.images:
            image_path, data, content_type = _image_file(patient, image, seed)
            files[image_path] = data
            image_entries.append(
                {
                    "path": image_path,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                    "content_type": content_type,
                    "patient_id": patient.patient_id,
                    "imaging_study": f"ImagingStudy/{image.study_id}",
                    "study_uid": image.study_uid,
                    "finding": image.finding,
                }
            )
    manifest = {
        "generator": "fhir_fixtures.cohort.generate",
        "version": GENERATOR_VERSION,
        "command": _command(seed, as_of, patients),
        "seed": seed,
        "as_of": as_of.isoformat(),
        "patients": patients,
        "bundles": bundle_entries,
        "images": image_entries,
        "licence": "Synthetic data generated by this project (Apache-2.0); no real patient.",
    }
    return GeneratedCohort(files=files, manifest=manifest)


def _manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_cohort(cohort: GeneratedCohort, out: Path) -> None:
    """Replace ``out`` with the cohort's files and ``MANIFEST.json``.

    The files are written to a sibling temporary folder which then takes ``out``'s place, so a
    failure leaves ``out`` as it was.

    Raises:
        CohortError: if ``out`` exists, is not empty and holds no ``MANIFEST.json`` (it is not a
            cohort folder, and replacing it could destroy someone's files).
    """
    out = out.resolve()
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST_NAME).is_file():
        raise CohortError(f"{out} is not empty and is not a cohort folder (no {MANIFEST_NAME})")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would make the installed data unreadable to others
    try:
        for relative, data in cohort.files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (staging / MANIFEST_NAME).write_bytes(_manifest_bytes(cohort.manifest))
        previous = out.with_name(f".{out.name}-previous")
        if previous.exists():
            shutil.rmtree(previous)
        if out.exists():
            out.rename(previous)
        staging.rename(out)
        if previous.exists():
            shutil.rmtree(previous)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m fhir_fixtures.cohort.generate",
        description="Generate the deterministic sample cohort (Synthea-style FHIR R4 bundles).",
    )
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument("--as-of", type=_parse_date, required=True, help="reference date")
    parser.add_argument("--patients", type=int, default=25, help="number of patients")
    parser.add_argument("--out", type=Path, required=True, help="output folder (replaced)")
    args = parser.parse_args(argv)
    try:
        cohort = generate_cohort(args.seed, args.as_of, args.patients)
        write_cohort(cohort, args.out)
    except CohortError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = sum(len(data) for data in cohort.files.values())
    print(
        f"wrote {len(cohort.manifest['bundles'])} bundles and {len(cohort.manifest['images'])} "
        f"images ({total / 1e6:.2f} MB) to {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
