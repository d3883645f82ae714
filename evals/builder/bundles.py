"""Reading raw FHIR bundles (.json or .json.gz files, or folders of them) into patient records.

This module reads the files with plain ``json`` and ``gzip`` on purpose: the benchmark's
ground truth must not depend on the code under test (``tools/``, ``agent/``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.builder.errors import BundleError
from evals.builder.record import CLINICAL_TYPES, PatientRecord, ref_key

__all__ = ["collect_bundle_paths", "load_bundle", "patient_records"]

_SUFFIXES = (".json", ".json.gz")
_GZIP_MAGIC = b"\x1f\x8b"


def collect_bundle_paths(paths: Sequence[Path]) -> list[Path]:
    """Expand files and folders into the sorted, de-duplicated list of bundle files.

    Folders are searched recursively for ``*.json`` and ``*.json.gz``; files named
    explicitly are taken whatever their suffix.

    Raises:
        BundleError: A path does not exist.
    """
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES))
        elif path.is_file():
            found.add(path)
        else:
            raise BundleError(path, "no such file or folder")
    return sorted(found, key=lambda p: str(p))


def load_bundle(path: Path) -> Mapping[str, Any]:
    """Read one bundle, gzip-compressed or not (detected from the content, not the name).

    Raises:
        BundleError: The file cannot be read, is not JSON, or is not a FHIR Bundle.
    """
    try:
        raw = path.read_bytes()
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
        document = json.loads(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise BundleError(path, f"cannot read: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(path, f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        raise BundleError(path, "not a FHIR Bundle (resourceType is not 'Bundle')")
    if not isinstance(document.get("entry", []), list):
        raise BundleError(path, "Bundle.entry is not a list")
    return document


def _entries(bundle: Mapping[str, Any]) -> Iterable[tuple[str | None, Mapping[str, Any]]]:
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, Mapping) and isinstance(resource.get("resourceType"), str):
            yield ref_key(entry.get("fullUrl")), resource


def _owner_key(resource: Mapping[str, Any]) -> str | None:
    for name in ("subject", "patient"):
        link = resource.get(name)
        if isinstance(link, Mapping):
            return ref_key(link.get("reference"))
    return None


def patient_records(bundle: Mapping[str, Any], source: Path) -> list[PatientRecord]:
    """Split a bundle into one record per Patient it holds (usually exactly one).

    Resources without an id cannot be cited and are left out; so are resources whose
    subject is not one of the bundle's patients.

    Raises:
        BundleError: Two resources of one type share an id, or a Patient has no id.
    """
    entries = list(_entries(bundle))
    records: dict[str, PatientRecord] = {}
    # A reference may use the entry's fullUrl rather than the logical id: accept both.
    aliases: dict[str, str] = {}
    for full_url, resource in entries:
        if resource["resourceType"] != "Patient":
            continue
        patient_id = resource.get("id")
        if not isinstance(patient_id, str) or not patient_id:
            raise BundleError(source, "a Patient has no id")
        if patient_id in records:
            raise BundleError(source, f"Patient/{patient_id} appears twice")
        records[patient_id] = PatientRecord(patient=resource, source=source)
        aliases[patient_id] = patient_id
        if full_url:
            aliases[full_url] = patient_id
    seen: set[tuple[str, str]] = set()
    for full_url, resource in entries:
        kind = resource["resourceType"]
        resource_id = resource.get("id")
        if kind not in CLINICAL_TYPES or not isinstance(resource_id, str) or not resource_id:
            continue
        if (kind, resource_id) in seen:
            raise BundleError(source, f"{kind}/{resource_id} appears twice")
        seen.add((kind, resource_id))
        owner = _owner_key(resource)
        record = records.get(aliases.get(owner, "")) if owner else None
        if record is None:
            continue
        record.resources.setdefault(kind, []).append(resource)
        record.by_id[resource_id] = resource
        if full_url:
            record.by_id.setdefault(full_url, resource)
    return [records[key] for key in sorted(records)]
