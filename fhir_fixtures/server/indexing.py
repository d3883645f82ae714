"""Turning one resource into the rows of the search index.

The index has one table per search parameter kind (tokens, strings, dates, quantities,
references); :func:`index_resource` computes the rows for one resource, and the store writes
them. Every reference in the resource (outside ``contained``) is indexed by its element path,
whatever the search parameters, so ``_include``, reference search and ``$everything`` share
one table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fhir_fixtures.server.search_params import ResourceDef
from fhir_fixtures.server.values import INFINITY, normalize_string, parse_date_range

__all__ = ["IndexRows", "index_resource", "parse_reference", "values_at"]

_REFERENCE_RE = re.compile(
    r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$"
)


@dataclass
class IndexRows:
    """Index rows of one resource (without the resource's row id).

    Attributes:
        tokens: ``(param, system, code)``; plain codes have system ``""``.
        strings: ``(param, normalised value, raw value)``; ``param:text`` rows carry the text
            of coded values for the ``:text`` modifier.
        dates: ``(param, low, high)`` epoch-second ranges, high exclusive.
        quantities: ``(param, value, system, code, unit)``.
        references: ``(element path, target type, target id)``.
        patient: the id of the patient whose compartment holds the resource.
        date_key: the low end of the type's sort date, if any.
    """

    tokens: set[tuple[str, str, str]] = field(default_factory=set)
    strings: set[tuple[str, str, str]] = field(default_factory=set)
    dates: set[tuple[str, float, float]] = field(default_factory=set)
    quantities: set[tuple[str, float, str, str, str]] = field(default_factory=set)
    references: set[tuple[str, str, str]] = field(default_factory=set)
    patient: str | None = None
    date_key: float | None = None


def parse_reference(reference: str) -> tuple[str, str] | None:
    """``(type, id)`` of a literal reference (relative, absolute or versioned), else None."""
    match = _REFERENCE_RE.search(reference)
    if match is None:
        return None
    return match.group("type"), match.group("id")


def values_at(resource: dict[str, Any], path: str) -> list[Any]:
    """Every value at a dotted element path, walking into lists."""
    if "." not in path:
        value = resource.get(path)
        if value is None:
            return []
        return value if value.__class__ is list else [value]
    current: list[Any] = [resource]
    for step in path.split("."):
        found: list[Any] = []
        for item in current:
            if isinstance(item, dict) and step in item:
                value = item[step]
                if isinstance(value, list):
                    found.extend(value)
                else:
                    found.append(value)
        current = found
        if not current:
            break
    return current


# Elements whose R4 datatypes (CodeableConcept, Coding, Quantity, Money, Period, HumanName,
# Address, ContactPoint, Meta, Narrative, Observation.component) cannot hold a Reference:
# not walking them halves the cost of indexing claims and observations.
_SKIPPED_ELEMENTS = frozenset(
    (
        "contained",
        "text",
        "meta",
        "coding",
        "code",
        "category",
        "class",
        "status",
        "valueQuantity",
        "valueCodeableConcept",
        "period",
        "billablePeriod",
        "name",
        "telecom",
        "address",
        "maritalStatus",
        "clinicalStatus",
        "verificationStatus",
        "vaccineCode",
        "medicationCodeableConcept",
        "reasonCode",
        "modality",
        "bodySite",
        "unitPrice",
        "net",
        "productOrService",
        "component",
        "valueMoney",
        "amount",
        "quantity",
        "communication",
        "type",
        "priority",
    )
)


def _walk_references(
    node: dict[str, Any], path: str, found: list[tuple[str, str]], rewrite: dict[str, str] | None
) -> None:
    # Hot path of every write: exact class checks and no generators, on purpose.
    reference = node.get("reference")
    if reference.__class__ is str:
        if rewrite and reference in rewrite:
            reference = node["reference"] = rewrite[reference]
        found.append((path, reference))
    for key, value in node.items():
        cls = value.__class__
        if cls is dict:
            if key not in _SKIPPED_ELEMENTS:
                _walk_references(value, f"{path}.{key}" if path else key, found, rewrite)
        elif cls is list and key not in _SKIPPED_ELEMENTS:
            child = f"{path}.{key}" if path else key
            for item in value:
                if item.__class__ is dict:
                    _walk_references(item, child, found, rewrite)


def _tokens(value: Any) -> Iterator[tuple[str, str, str | None]]:
    """``(system, code, text)`` triples of a coded value; text may be None."""
    if isinstance(value, str):
        yield "", value, None
    elif isinstance(value, bool):
        yield "", "true" if value else "false", None
    elif isinstance(value, dict):
        if "coding" in value or ("text" in value and "code" not in value and "value" not in value):
            for coding in value.get("coding") or ():
                if isinstance(coding, dict):
                    yield from _tokens(coding)
            text = value.get("text")
            if isinstance(text, str):
                yield "", "", text
        elif "code" in value:
            code = value.get("code")
            if isinstance(code, str):
                yield str(value.get("system") or ""), code, value.get("display")
        elif "value" in value:
            code = value.get("value")
            if isinstance(code, str):
                yield str(value.get("system") or ""), code, None


_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        parts = _NAME_PARTS if ("family" in value or "given" in value) else _ADDRESS_PARTS
        for part in parts:
            item = value.get(part)
            if isinstance(item, str):
                yield item
            elif isinstance(item, list):
                yield from (x for x in item if isinstance(x, str))


def _date_range(value: Any) -> tuple[float, float] | None:
    try:
        if isinstance(value, str):
            return parse_date_range(value)
        if isinstance(value, dict) and ("start" in value or "end" in value):
            start, end = value.get("start"), value.get("end")
            low = parse_date_range(start)[0] if isinstance(start, str) else -INFINITY
            high = parse_date_range(end)[1] if isinstance(end, str) else INFINITY
            return low, high
    except ValueError:
        return None
    return None


def index_resource(
    resource: dict[str, Any], definition: ResourceDef, *, rewrite: dict[str, str] | None = None
) -> IndexRows:
    """Compute the index rows of one resource of a stored type.

    Args:
        resource: the resource; references found in ``rewrite`` are replaced in place (a
            transaction's ``urn:uuid`` fullUrls), in the same walk that indexes them.
        definition: its type's definition.
        rewrite: reference replacements.
    """
    rows = IndexRows()
    found: list[tuple[str, str]] = []
    _walk_references(resource, "", found, rewrite)
    for path, reference in found:
        parsed = parse_reference(reference)
        if parsed is not None:
            rows.references.add((path, parsed[0], parsed[1]))
        elif not reference.startswith("#"):
            rows.references.add((path, "", reference))
    if definition.name == "Patient":
        rows.patient = resource.get("id")
    else:
        for path in definition.patient_paths:
            for ref_path, target_type, target_id in rows.references:
                if ref_path == path and target_type == "Patient":
                    rows.patient = target_id
                    break
            if rows.patient is not None:
                break

    for param in definition.params.values():
        if param.type == "reference" or param.union_of:
            continue
        for path in param.paths:
            for value in values_at(resource, path):
                _index_value(rows, param.name, param.type, value)
    if definition.date_param is not None:
        lows = [low for name, low, _ in rows.dates if name == definition.date_param]
        if lows:
            rows.date_key = min(lows)
    return rows


def _index_value(rows: IndexRows, name: str, kind: str, value: Any) -> None:
    if kind == "token":
        for system, code, text in _tokens(value):
            if code:
                rows.tokens.add((name, system, code))
            if text:
                rows.strings.add((f"{name}:text", normalize_string(text), text))
    elif kind == "string":
        for text in _strings(value):
            rows.strings.add((name, normalize_string(text), text))
    elif kind == "date":
        found = _date_range(value)
        if found is not None:
            rows.dates.add((name, found[0], found[1]))
    elif kind == "quantity" and isinstance(value, dict):
        number = value.get("value")
        if isinstance(number, int | float | Decimal) and not isinstance(number, bool):
            rows.quantities.add(
                (
                    name,
                    float(number),
                    str(value.get("system") or ""),
                    str(value.get("code") or ""),
                    str(value.get("unit") or ""),
                )
            )
