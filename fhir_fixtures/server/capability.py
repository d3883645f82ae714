"""The CapabilityStatement: generated from the registry, so it lists exactly what works."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fhir_fixtures.server.search_params import COMMON_PARAMS

if TYPE_CHECKING:
    from fhir_fixtures.server.service import FHIRService

__all__ = ["SOFTWARE_NAME", "capability_statement"]

SOFTWARE_NAME = "ehr-agent embedded FHIR server"
_COMMON_DOCS = {
    "_id": "logical id",
    "_lastUpdated": "meta.lastUpdated (all date prefixes)",
}
_SEARCH_CONTROLS = (
    "_count (default 50, max 1000), _offset (paging), _sort (date, _lastUpdated, _id, "
    "any date parameter; '-' for descending), _summary (count, data, false), _elements, "
    "_total (none, accurate), _include (Type:param[:Target], *), _revinclude (Type:param). "
    "Modifiers: :missing (all), :not and :text (token), :exact and :contains (string), "
    ":Type (reference). Unknown parameters are ignored and reported in an OperationOutcome "
    "entry unless Prefer: handling=strict."
)


def capability_statement(base: str, service: FHIRService) -> dict[str, Any]:
    """The server's CapabilityStatement for ``base``."""
    resources = []
    for definition in service.types.values():
        search_params: list[dict[str, Any]] = [
            {"name": name, "type": kind, "documentation": _COMMON_DOCS[name]}
            for name, kind in COMMON_PARAMS.items()
        ]
        search_params.extend(
            {"name": p.name, "type": p.type, "documentation": p.description}
            for p in definition.params.values()
        )
        includes = [
            f"{definition.name}:{p.name}"
            for p in definition.params.values()
            if p.type == "reference"
        ]
        resource: dict[str, Any] = {
            "type": definition.name,
            "interaction": [
                {"code": code} for code in ("read", "create", "update", "delete", "search-type")
            ],
            "versioning": "versioned-update",
            "readHistory": False,
            "updateCreate": True,
            "conditionalCreate": False,
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchInclude": [*includes, "*"] if includes else [],
            "searchParam": search_params,
        }
        if definition.name == "Patient":
            resource["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                    "documentation": (
                        "The patient, every resource in its compartment, and the Organization, "
                        "Practitioner, PractitionerRole, Location and Medication resources they "
                        "reference; _count/_offset paging, _type and _since filters."
                    ),
                }
            ]
        if definition.name == "Binary":
            resource["documentation"] = (
                "Read returns the raw content with its contentType unless the Accept header "
                "asks for FHIR JSON; create/update also take raw content."
            )
        resources.append(resource)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).date().isoformat(),
        "publisher": "ehr-agent",
        "kind": "instance",
        "software": {"name": SOFTWARE_NAME, "version": "0.1.0"},
        "implementation": {"description": SOFTWARE_NAME, "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": [],
        "rest": [
            {
                "mode": "server",
                "documentation": _SEARCH_CONTROLS,
                "security": {
                    "cors": False,
                    "description": (
                        "Optional static bearer token (Authorization: Bearer ...); "
                        "/metadata is always open."
                    ),
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
            }
        ],
    }
