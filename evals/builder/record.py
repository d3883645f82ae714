"""One patient's clinical record read from a raw bundle, and the FHIR field readers it needs.

Only the patient's compartment is kept (resources whose ``subject`` or ``patient`` points at
the Patient) and only clinical types: billing (Claim, ExplanationOfBenefit) and directory
resources (Organization, Practitioner) are never asked about.

Dates are read as the calendar day written in the record (the first ten characters of a
FHIR dateTime, in the offset the record was written in). Partial dates (``2019`` or
``2019-03``) have no day and are treated as undated: a question that needs the day skips them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "CLINICAL_TYPES",
    "Concept",
    "PatientRecord",
    "clean_text",
    "concept_of",
    "day_of",
    "norm_key",
    "record_day",
    "ref_key",
]

Resource = Mapping[str, Any]

CLINICAL_TYPES: tuple[str, ...] = (
    "AllergyIntolerance",
    "CarePlan",
    "Condition",
    "DiagnosticReport",
    "Encounter",
    "ImagingStudy",
    "Immunization",
    "MedicationRequest",
    "Observation",
    "Procedure",
)

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"\s+")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_SEMANTIC_TAG = re.compile(
    r"\s*\((disorder|finding|procedure|situation|qualifier value|regime/therapy|"
    r"record artifact|observable entity|morphologic abnormality)\)\s*$"
)
_NON_WORD = re.compile(r"[^a-z0-9]+")


def clean_text(value: object) -> str | None:
    """A display text without zero-width characters and runs of whitespace (None if empty)."""
    if not isinstance(value, str):
        return None
    text = _SPACES.sub(" ", _ZERO_WIDTH.sub("", value)).strip()
    return text or None


@lru_cache(maxsize=65536)
def norm_key(text: str) -> str:
    """A comparison key: lower case, SNOMED semantic tag and punctuation dropped.

    "Emergency room admission (procedure)" and "Emergency Room Admission" share one key, so
    they are never offered as two different answers.
    """
    lowered = _SEMANTIC_TAG.sub("", text.lower())
    return _NON_WORD.sub(" ", lowered.replace("'", "")).strip()


def day_of(value: object) -> date | None:
    """The calendar day of a FHIR date or dateTime, or None if absent, partial or invalid."""
    if not isinstance(value, str):
        return None
    match = _DAY.match(value)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def ref_key(reference: object) -> str | None:
    """Canonical key of a reference: 'urn:uuid:x', 'Type/x' and 'http://base/Type/x' alike."""
    if not isinstance(reference, str) or not reference:
        return None
    if reference.startswith("urn:uuid:"):
        return reference[len("urn:uuid:") :]
    parts = reference.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return parts[-1] if parts else None


@dataclass(frozen=True)
class Concept:
    """A coded concept: the first coding with both system and code, and its display text."""

    system: str
    code: str
    display: str | None

    @property
    def token(self) -> str:
        """FHIR search token ``system|code``."""
        return f"{self.system}|{self.code}"


def concept_of(codeable: object) -> Concept | None:
    """The concept of a CodeableConcept (display falls back to ``text``), or None."""
    if not isinstance(codeable, Mapping):
        return None
    for coding in codeable.get("coding") or []:
        if not isinstance(coding, Mapping):
            continue
        system, code = coding.get("system"), coding.get("code")
        if isinstance(system, str) and isinstance(code, str) and system and code:
            display = clean_text(coding.get("display")) or clean_text(codeable.get("text"))
            return Concept(system, code, display)
    return None


def _period_start(value: object) -> date | None:
    return day_of(value.get("start")) if isinstance(value, Mapping) else None


def record_day(resource: Resource) -> date | None:
    """The clinical day of a resource (when it happened), or None if it has none."""
    kind = resource.get("resourceType")
    if kind == "Observation" or kind == "DiagnosticReport":
        return day_of(resource.get("effectiveDateTime")) or _period_start(
            resource.get("effectivePeriod")
        )
    if kind == "Condition":
        return day_of(resource.get("onsetDateTime"))
    if kind == "MedicationRequest":
        return day_of(resource.get("authoredOn"))
    if kind == "Immunization":
        return day_of(resource.get("occurrenceDateTime"))
    if kind == "Encounter":
        return _period_start(resource.get("period"))
    if kind == "Procedure":
        return day_of(resource.get("performedDateTime")) or _period_start(
            resource.get("performedPeriod")
        )
    if kind == "CarePlan":
        return _period_start(resource.get("period"))
    if kind == "AllergyIntolerance":
        return day_of(resource.get("recordedDate")) or day_of(resource.get("onsetDateTime"))
    if kind == "ImagingStudy":
        return day_of(resource.get("started"))
    return None


@dataclass
class PatientRecord:
    """A patient and the clinical resources of their compartment, as found in one bundle."""

    patient: Resource
    source: Path
    resources: dict[str, list[Resource]] = field(default_factory=dict)
    by_id: dict[str, Resource] = field(default_factory=dict)

    @property
    def patient_id(self) -> str:
        """The Patient's logical id."""
        return str(self.patient["id"])

    @property
    def patient_ref(self) -> str:
        """``Patient/<id>``."""
        return f"Patient/{self.patient_id}"

    def of_type(self, resource_type: str) -> list[Resource]:
        """The patient's resources of one type, in bundle order."""
        return self.resources.get(resource_type, [])

    def resolve(self, reference: object) -> Resource | None:
        """The patient's resource a reference points at, if it is in the compartment."""
        key = ref_key(reference)
        return self.by_id.get(key) if key else None

    def last_record_day(self) -> date | None:
        """The latest clinical day in the record (including the day of death)."""
        days = [
            day
            for resources in self.resources.values()
            for resource in resources
            if (day := record_day(resource)) is not None
        ]
        death = day_of(self.patient.get("deceasedDateTime"))
        if death is not None:
            days.append(death)
        return max(days) if days else None
