"""Assembling response Bundles as bytes.

Stored resources are already JSON bytes, so a searchset is spliced together rather than
parsed and re-serialised: a page of 1,000 Observations costs a join, not a round trip
through Python objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson

__all__ = ["SUBSETTED_TAG", "entry_bytes", "page_links", "searchset_bytes", "subset_resource"]

SUBSETTED_TAG = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
_MANDATORY_ELEMENTS = ("resourceType", "id", "meta")

#: Top-level elements with a minimum cardinality of 1 in R4, per type (``[x]`` = any choice).
#: search.html#elements: servers SHOULD return mandatory elements whether asked or not.
_MANDATORY_BY_TYPE: dict[str, tuple[str, ...]] = {
    "Observation": ("status", "code"),
    "Condition": ("subject",),
    "MedicationRequest": ("status", "intent", "medication[x]", "subject"),
    "MedicationAdministration": ("status", "medication[x]", "subject", "effective[x]"),
    "Encounter": ("status", "class"),
    "Procedure": ("status", "subject"),
    "Immunization": ("status", "vaccineCode", "patient", "occurrence[x]"),
    "AllergyIntolerance": ("patient",),
    "DiagnosticReport": ("status", "code"),
    "DocumentReference": ("status", "content"),
    "CarePlan": ("status", "intent", "subject"),
    "ImagingStudy": ("status", "subject"),
    "Media": ("status", "content"),
    "Binary": ("contentType",),
    "Goal": ("lifecycleStatus", "description", "subject"),
    "Provenance": ("target", "recorded", "agent"),
    "Claim": ("status", "type", "use", "patient", "created", "provider", "priority", "insurance"),
    "ExplanationOfBenefit": (
        "status",
        "type",
        "use",
        "patient",
        "created",
        "insurer",
        "provider",
        "outcome",
        "insurance",
    ),
}


def _mandatory(resource_type: str, key: str) -> bool:
    for name in _MANDATORY_BY_TYPE.get(resource_type, ()):
        if name.endswith("[x]"):
            stem = name[:-3]
            if key.startswith(stem) and key[len(stem) : len(stem) + 1].isupper():
                return True
        elif key == name:
            return True
    return False


def entry_bytes(
    base: str, resource_type: str, resource_id: str, body: bytes, mode: str = "match"
) -> bytes:
    """One searchset entry (``mode`` is match, include or outcome)."""
    return b"".join(
        (
            b'{"fullUrl":',
            orjson.dumps(f"{base}/{resource_type}/{resource_id}"),
            b',"resource":',
            body,
            b',"search":{"mode":"',
            mode.encode(),
            b'"}}',
        )
    )


def searchset_bytes(
    *,
    total: int | None,
    links: Sequence[tuple[str, str]],
    entries: Sequence[bytes],
    last_updated: str,
    bundle_type: str = "searchset",
) -> bytes:
    """A Bundle of already-serialised entries."""
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": last_updated},
        "type": bundle_type,
    }
    if total is not None:
        head["total"] = total
    head["link"] = [{"relation": relation, "url": url} for relation, url in links]
    encoded = orjson.dumps(head)
    if not entries:
        return encoded
    return encoded[:-1] + b',"entry":[' + b",".join(entries) + b"]}"


def page_links(
    url: str,
    params: Sequence[tuple[str, str]],
    *,
    count: int,
    offset: int,
    has_more: bool,
) -> list[tuple[str, str]]:
    """self/first/previous/next links; paging is by offset over a deterministic order."""

    def link(at: int) -> str:
        query = [*params, ("_count", str(count))]
        if at > 0:
            query.append(("_offset", str(at)))
        return f"{url}?{urlencode(query)}"

    links = [("self", link(offset)), ("first", link(0))]
    if offset > 0 and count > 0:
        links.append(("previous", link(max(0, offset - count))))
    if has_more and count > 0:
        links.append(("next", link(offset + count)))
    return links


def subset_resource(body: bytes, *, elements: Sequence[str], drop_text: bool) -> bytes:
    """Apply ``_elements`` / ``_summary=data`` to a stored resource, tagging it SUBSETTED."""
    resource = orjson.loads(body)
    if elements:
        keep = set(elements) | set(_MANDATORY_ELEMENTS)
        rt = str(resource.get("resourceType", ""))
        resource = {
            key: value for key, value in resource.items() if key in keep or _mandatory(rt, key)
        }
    if drop_text:
        resource.pop("text", None)
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED_TAG]
    resource["meta"] = meta
    return orjson.dumps(resource)
