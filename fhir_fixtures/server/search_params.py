"""The resource types the server stores and the FHIR R4 search parameters it indexes.

Everything the server supports is declared here once: the indexer, the query builder and the
CapabilityStatement all read this registry, so the statement lists exactly what works.

Paths are dotted element paths without array indices (``component.code``); a path step that
meets a list walks every item. Choice elements (``effective[x]``) are spelled out per type.
Reference parameters match on the path of the reference element, so one ``references`` table
row per reference serves searches, ``_include`` and ``$everything`` alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "COMMON_PARAMS",
    "COMPARTMENT_REFERENCED_TYPES",
    "RESOURCE_TYPES",
    "ParamType",
    "ResourceDef",
    "SearchParam",
    "resource_def",
]

ParamType = Literal["token", "date", "string", "reference", "quantity", "number", "uri"]


@dataclass(frozen=True)
class SearchParam:
    """One search parameter of one resource type.

    Attributes:
        name: the parameter name as used in URLs (``value-quantity``).
        type: the FHIR search parameter type.
        paths: element paths whose values the parameter matches.
        targets: for reference parameters, the resource types a reference may point to
            (empty means any).
        description: one line for the CapabilityStatement.
        union_of: names of other parameters of the type whose index rows this one searches
            together (``combo-code`` is ``code`` plus ``component-code``); it has no rows
            of its own.
    """

    name: str
    type: ParamType
    paths: tuple[str, ...]
    targets: tuple[str, ...] = ()
    description: str = ""
    union_of: tuple[str, ...] = ()

    def index_names(self) -> tuple[str, ...]:
        """The parameter names whose index rows this parameter matches."""
        return self.union_of or (self.name,)


@dataclass(frozen=True)
class ResourceDef:
    """A stored resource type.

    Attributes:
        name: the resource type.
        params: its search parameters by name (beyond the common ``_id``/``_lastUpdated``).
        patient_paths: reference paths that put a resource in a patient's compartment; the
            first Patient reference found is stored in the denormalised ``patient`` column.
        date_param: the parameter ``_sort=date`` sorts by (None: the type has no clinical date).
    """

    name: str
    params: dict[str, SearchParam] = field(default_factory=dict)
    patient_paths: tuple[str, ...] = ()
    date_param: str | None = None


COMMON_PARAMS: dict[str, ParamType] = {"_id": "token", "_lastUpdated": "date"}

# Types whose resources `$everything` adds when the compartment references them.
COMPARTMENT_REFERENCED_TYPES: tuple[str, ...] = (
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "Medication",
)


def _p(
    name: str,
    type_: ParamType,
    *paths: str,
    targets: tuple[str, ...] = (),
    desc: str = "",
    union_of: tuple[str, ...] = (),
) -> SearchParam:
    return SearchParam(
        name, type_, tuple(paths), targets, desc or f"{type_} on {' | '.join(paths)}", union_of
    )


def _subject_params(*, encounter: str | None = "encounter") -> list[SearchParam]:
    params = [
        _p("subject", "reference", "subject", desc="who the resource is about"),
        _p("patient", "reference", "subject", targets=("Patient",), desc="subject, if a Patient"),
    ]
    if encounter:
        params.append(_p("encounter", "reference", encounter, targets=("Encounter",)))
    return params


def _def(
    name: str,
    params: list[SearchParam],
    *,
    patient_paths: tuple[str, ...] = ("subject",),
    date_param: str | None = None,
) -> ResourceDef:
    return ResourceDef(name, {p.name: p for p in params}, patient_paths, date_param)


_IDENTIFIER = _p("identifier", "token", "identifier", desc="a business identifier")

_DEFS: list[ResourceDef] = [
    _def(
        "Patient",
        [
            _IDENTIFIER,
            _p("name", "string", "name", desc="any part of a name (starts with)"),
            _p("family", "string", "name.family"),
            _p("given", "string", "name.given"),
            _p("birthdate", "date", "birthDate"),
            _p("death-date", "date", "deceasedDateTime"),
            _p("gender", "token", "gender"),
            _p("active", "token", "active"),
            _p("telecom", "token", "telecom"),
            _p("address", "string", "address"),
            _p("address-city", "string", "address.city"),
            _p("address-state", "string", "address.state"),
            _p("address-postalcode", "string", "address.postalCode"),
            _p("general-practitioner", "reference", "generalPractitioner"),
            _p("organization", "reference", "managingOrganization", targets=("Organization",)),
        ],
        patient_paths=(),
        date_param="birthdate",
    ),
    _def(
        "Observation",
        [
            *_subject_params(),
            _IDENTIFIER,
            _p("code", "token", "code"),
            _p("component-code", "token", "component.code"),
            _p(
                "combo-code",
                "token",
                "code",
                "component.code",
                union_of=("code", "component-code"),
            ),
            _p("category", "token", "category"),
            _p("status", "token", "status"),
            _p(
                "date",
                "date",
                "effectiveDateTime",
                "effectivePeriod",
                "effectiveInstant",
                desc="effective[x]",
            ),
            _p("value-quantity", "quantity", "valueQuantity"),
            _p("component-value-quantity", "quantity", "component.valueQuantity"),
            _p(
                "combo-value-quantity",
                "quantity",
                "valueQuantity",
                "component.valueQuantity",
                union_of=("value-quantity", "component-value-quantity"),
            ),
            _p("value-concept", "token", "valueCodeableConcept"),
            _p("value-string", "string", "valueString"),
            _p("performer", "reference", "performer"),
            _p("has-member", "reference", "hasMember", targets=("Observation",)),
            _p("derived-from", "reference", "derivedFrom"),
        ],
        date_param="date",
    ),
    _def(
        "Condition",
        [
            *_subject_params(),
            _IDENTIFIER,
            _p("code", "token", "code"),
            _p("category", "token", "category"),
            _p("clinical-status", "token", "clinicalStatus"),
            _p("verification-status", "token", "verificationStatus"),
            _p("severity", "token", "severity"),
            _p("onset-date", "date", "onsetDateTime", "onsetPeriod", desc="onset[x]"),
            _p("abatement-date", "date", "abatementDateTime", "abatementPeriod"),
            _p("recorded-date", "date", "recordedDate"),
        ],
        date_param="onset-date",
    ),
    _def(
        "MedicationRequest",
        [
            *_subject_params(),
            _IDENTIFIER,
            _p("code", "token", "medicationCodeableConcept"),
            _p("medication", "reference", "medicationReference", targets=("Medication",)),
            _p("status", "token", "status"),
            _p("intent", "token", "intent"),
            _p("category", "token", "category"),
            _p("authoredon", "date", "authoredOn"),
            _p("requester", "reference", "requester"),
        ],
        date_param="authoredon",
    ),
    _def(
        "MedicationAdministration",
        [
            *_subject_params(encounter="context"),
            _p("code", "token", "medicationCodeableConcept"),
            _p("medication", "reference", "medicationReference", targets=("Medication",)),
            _p("status", "token", "status"),
            _p("effective-time", "date", "effectiveDateTime", "effectivePeriod"),
        ],
        date_param="effective-time",
    ),
    _def(
        "MedicationStatement",
        [
            *_subject_params(encounter="context"),
            _p("code", "token", "medicationCodeableConcept"),
            _p("medication", "reference", "medicationReference", targets=("Medication",)),
            _p("status", "token", "status"),
            _p("category", "token", "category"),
            _p("effective", "date", "effectiveDateTime", "effectivePeriod"),
        ],
        date_param="effective",
    ),
    _def(
        "Medication",
        [_IDENTIFIER, _p("code", "token", "code"), _p("status", "token", "status")],
        patient_paths=(),
    ),
    _def(
        "Encounter",
        [
            *_subject_params(encounter=None),
            _IDENTIFIER,
            _p("date", "date", "period"),
            _p("type", "token", "type"),
            _p("class", "token", "class"),
            _p("status", "token", "status"),
            _p("reason-code", "token", "reasonCode"),
            _p("participant", "reference", "participant.individual"),
            _p(
                "practitioner",
                "reference",
                "participant.individual",
                targets=("Practitioner",),
            ),
            _p("service-provider", "reference", "serviceProvider", targets=("Organization",)),
            _p("location", "reference", "location.location", targets=("Location",)),
        ],
        date_param="date",
    ),
    _def(
        "Procedure",
        [
            *_subject_params(),
            _IDENTIFIER,
            _p("code", "token", "code"),
            _p("category", "token", "category"),
            _p("status", "token", "status"),
            _p("date", "date", "performedDateTime", "performedPeriod", desc="performed[x]"),
            _p("reason-code", "token", "reasonCode"),
            _p("reason-reference", "reference", "reasonReference"),
        ],
        date_param="date",
    ),
    _def(
        "Immunization",
        [
            _p("patient", "reference", "patient", targets=("Patient",)),
            _p("encounter", "reference", "encounter", targets=("Encounter",)),
            _IDENTIFIER,
            _p("vaccine-code", "token", "vaccineCode"),
            _p("status", "token", "status"),
            _p("date", "date", "occurrenceDateTime", desc="occurrence[x]"),
        ],
        patient_paths=("patient",),
        date_param="date",
    ),
    _def(
        "AllergyIntolerance",
        [
            _p("patient", "reference", "patient", targets=("Patient",)),
            _p("encounter", "reference", "encounter", targets=("Encounter",)),
            _IDENTIFIER,
            _p("code", "token", "code"),
            _p("clinical-status", "token", "clinicalStatus"),
            _p("verification-status", "token", "verificationStatus"),
            _p("category", "token", "category"),
            _p("criticality", "token", "criticality"),
            _p("type", "token", "type"),
            _p("date", "date", "recordedDate", desc="recordedDate"),
            _p("onset", "date", "onsetDateTime", "onsetPeriod", desc="onset[x]"),
        ],
        patient_paths=("patient",),
        date_param="date",
    ),
    _def(
        "DiagnosticReport",
        [
            *_subject_params(),
            _IDENTIFIER,
            _p("code", "token", "code"),
            _p("category", "token", "category"),
            _p("status", "token", "status"),
            _p("date", "date", "effectiveDateTime", "effectivePeriod", desc="effective[x]"),
            _p("issued", "date", "issued"),
            _p("result", "reference", "result", targets=("Observation",)),
            _p("media", "reference", "media.link", targets=("Media",)),
        ],
        date_param="date",
    ),
    _def(
        "DocumentReference",
        [
            *_subject_params(encounter="context.encounter"),
            _IDENTIFIER,
            _p("type", "token", "type"),
            _p("category", "token", "category"),
            _p("status", "token", "status"),
            _p("date", "date", "date"),
            _p("period", "date", "context.period"),
            _p("contenttype", "token", "content.attachment.contentType"),
        ],
        date_param="date",
    ),
    _def(
        "CarePlan",
        [
            *_subject_params(),
            _IDENTIFIER,
            _p("category", "token", "category"),
            _p("status", "token", "status"),
            _p("intent", "token", "intent"),
            _p("date", "date", "period"),
            _p("activity-code", "token", "activity.detail.code"),
            _p("condition", "reference", "addresses", targets=("Condition",)),
            _p("goal", "reference", "goal", targets=("Goal",)),
        ],
        date_param="date",
    ),
    _def(
        "CareTeam",
        [
            *_subject_params(),
            _p("status", "token", "status"),
            _p("category", "token", "category"),
            _p("date", "date", "period"),
        ],
        date_param="date",
    ),
    _def(
        "Goal",
        [
            *_subject_params(encounter=None),
            _IDENTIFIER,
            _p("lifecycle-status", "token", "lifecycleStatus"),
            _p("achievement-status", "token", "achievementStatus"),
            _p("category", "token", "category"),
            _p("start-date", "date", "startDate"),
            _p("target-date", "date", "target.dueDate"),
        ],
        date_param="start-date",
    ),
    _def(
        "ImagingStudy",
        [
            *_subject_params(),
            _IDENTIFIER,
            _p("status", "token", "status"),
            _p("started", "date", "started"),
            _p("modality", "token", "series.modality"),
            _p("bodysite", "token", "series.bodySite"),
        ],
        date_param="started",
    ),
    _def(
        "Media",
        [
            *_subject_params(),
            _IDENTIFIER,
            _p("status", "token", "status"),
            _p("type", "token", "type"),
            _p("modality", "token", "modality"),
            _p("site", "token", "bodySite"),
            _p("view", "token", "view"),
            _p("created", "date", "createdDateTime", "createdPeriod", desc="created[x]"),
        ],
        date_param="created",
    ),
    _def("Binary", [], patient_paths=()),
    _def(
        "Claim",
        [
            _p("patient", "reference", "patient", targets=("Patient",)),
            _p("encounter", "reference", "item.encounter", targets=("Encounter",)),
            _IDENTIFIER,
            _p("status", "token", "status"),
            _p("use", "token", "use"),
            _p("created", "date", "created"),
            _p("provider", "reference", "provider"),
        ],
        patient_paths=("patient",),
        date_param="created",
    ),
    _def(
        "ExplanationOfBenefit",
        [
            _p("patient", "reference", "patient", targets=("Patient",)),
            _p("encounter", "reference", "item.encounter", targets=("Encounter",)),
            _IDENTIFIER,
            _p("status", "token", "status"),
            _p("created", "date", "created"),
            _p("provider", "reference", "provider"),
            _p("claim", "reference", "claim", targets=("Claim",)),
            _p("care-team", "reference", "careTeam.provider"),
        ],
        patient_paths=("patient",),
        date_param="created",
    ),
    _def(
        "Coverage",
        [
            _p("beneficiary", "reference", "beneficiary", targets=("Patient",)),
            _p("patient", "reference", "beneficiary", targets=("Patient",)),
            _p("status", "token", "status"),
            _p("type", "token", "type"),
        ],
        patient_paths=("beneficiary",),
    ),
    _def(
        "Provenance",
        [
            _p("target", "reference", "target"),
            _p("patient", "reference", "target", targets=("Patient",)),
            _p("recorded", "date", "recorded"),
        ],
        patient_paths=("target",),
        date_param="recorded",
    ),
    _def(
        "Device",
        [
            _p("patient", "reference", "patient", targets=("Patient",)),
            _p("type", "token", "type"),
            _p("status", "token", "status"),
        ],
        patient_paths=("patient",),
    ),
    _def(
        "Organization",
        [
            _IDENTIFIER,
            _p("name", "string", "name", "alias"),
            _p("type", "token", "type"),
            _p("active", "token", "active"),
            _p("address", "string", "address"),
            _p("address-city", "string", "address.city"),
            _p("address-state", "string", "address.state"),
            _p("partof", "reference", "partOf", targets=("Organization",)),
        ],
        patient_paths=(),
    ),
    _def(
        "Practitioner",
        [
            _IDENTIFIER,
            _p("name", "string", "name"),
            _p("family", "string", "name.family"),
            _p("given", "string", "name.given"),
            _p("gender", "token", "gender"),
            _p("active", "token", "active"),
            _p("address", "string", "address"),
        ],
        patient_paths=(),
    ),
    _def(
        "PractitionerRole",
        [
            _IDENTIFIER,
            _p("practitioner", "reference", "practitioner", targets=("Practitioner",)),
            _p("organization", "reference", "organization", targets=("Organization",)),
            _p("role", "token", "code"),
            _p("specialty", "token", "specialty"),
        ],
        patient_paths=(),
    ),
    _def(
        "Location",
        [
            _IDENTIFIER,
            _p("name", "string", "name", "alias"),
            _p("address", "string", "address"),
            _p("organization", "reference", "managingOrganization", targets=("Organization",)),
        ],
        patient_paths=(),
    ),
]

RESOURCE_TYPES: dict[str, ResourceDef] = {d.name: d for d in _DEFS}


def resource_def(resource_type: str) -> ResourceDef | None:
    """The definition of a stored type, or None when the server does not store it."""
    return RESOURCE_TYPES.get(resource_type)
