"""Preparing bundles and NDJSON for loading into any FHIR server, idempotently.

Synthea writes per-patient ``transaction`` Bundles whose entries are ``POST Type`` with
``fullUrl: urn:uuid:<X>`` and ``resource.id == <X>``, linked by ``urn:uuid:<X>`` references.
Posting them would make the server mint new ids on every load. Instead each entry becomes
``PUT Type/<X>`` and each ``urn:uuid:<X>`` reference becomes ``Type/<X>``: the logical ids are
Synthea's UUIDs, loading twice updates rather than duplicates, and it works on any server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BundleError",
    "PreparedBundle",
    "bundle_of_puts",
    "chunks",
    "prepare_transaction",
    "to_idempotent_transaction",
]


class BundleError(ValueError):
    """A bundle or resource cannot be prepared; the message names the entry index."""


def _rewrite(node: Any, mapping: dict[str, str]) -> None:
    if isinstance(node, dict):
        reference = node.get("reference")
        if isinstance(reference, str) and reference in mapping:
            node["reference"] = mapping[reference]
        for key, value in node.items():
            if key != "reference" and isinstance(value, dict | list):
                _rewrite(value, mapping)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _rewrite(item, mapping)


@dataclass(frozen=True)
class PreparedBundle:
    """A transaction of PUTs and, per entry, the index of the entry it came from."""

    bundle: dict[str, Any]
    source_index: list[int]


def to_idempotent_transaction(bundle: Any) -> dict[str, Any]:
    """:func:`prepare_transaction`, returning only the Bundle."""
    return prepare_transaction(bundle).bundle


def prepare_transaction(bundle: Any) -> PreparedBundle:
    """Turn a transaction/batch/collection Bundle into a transaction of ``PUT Type/id``.

    Entries keep their order. A resource without an id gets the UUID of its ``urn:uuid``
    fullUrl, or a fresh UUID. Later entries for the same ``Type/id`` replace earlier ones
    (servers refuse a transaction that writes one resource twice).

    Raises:
        BundleError: not a Bundle, or an entry without a resource (message names the index).
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BundleError("not a FHIR Bundle")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise BundleError("Bundle.entry is not a list")
    mapping: dict[str, str] = {}
    prepared: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise BundleError(f"entry {index}: not a JSON object")
        resource = entry.get("resource")
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BundleError(f"entry {index}: no resource with a resourceType")
        request = entry.get("request") or {}
        if isinstance(request, dict) and request.get("method") == "DELETE":
            raise BundleError(f"entry {index}: DELETE entries cannot be loaded")
        full_url = entry.get("fullUrl")
        resource_type = resource["resourceType"]
        resource_id = resource.get("id")
        if not isinstance(resource_id, str) or not resource_id:
            if isinstance(full_url, str) and full_url.startswith("urn:uuid:"):
                resource_id = full_url.removeprefix("urn:uuid:")
            else:
                resource_id = str(uuid.uuid4())
            resource["id"] = resource_id
        if isinstance(full_url, str):
            mapping[full_url] = f"{resource_type}/{resource_id}"
        mapping.setdefault(f"urn:uuid:{resource_id}", f"{resource_type}/{resource_id}")
        prepared.pop((resource_type, resource_id), None)
        prepared[(resource_type, resource_id)] = (index, resource)
    for _, resource in prepared.values():
        _rewrite(resource, mapping)
    return PreparedBundle(
        bundle_of_puts(resource for _, resource in prepared.values()),
        [index for index, _ in prepared.values()],
    )


def bundle_of_puts(
    resources: Iterable[dict[str, Any]], *, kind: str = "transaction"
) -> dict[str, Any]:
    """A transaction (or batch) Bundle that PUTs each resource at ``Type/id``."""
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "fullUrl": f"urn:uuid:{resource['id']}"
                if _is_uuid(resource["id"])
                else f"{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            }
            for resource in resources
        ],
    }


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of at most ``size`` items."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
