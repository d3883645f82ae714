"""Condensing FHIR resources into evidence records: the facts a model needs, nothing else.

An :class:`EvidenceRecord` is what every tool returns per resource: its reference, the
clinically relevant date, the concept (code and display), a value with unit, a status and
a few type-specific details. Rendering the records as prompt text lives in
:mod:`tools.render`; this module only reads resources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

__all__ = [
    "CLINICAL_TYPES",
    "DATE_PARAM",
    "ClinicalType",
    "Coding",
    "ComponentValue",
    "EvidenceRecord",
    "codings_of",
    "condense",
    "primary_concept_field",
    "record_date",
    "reference_id",
]

JSON = Mapping[str, Any]

#: Patient-compartment types the tools read (the record index, and the types the search
#: tool takes), in the order the overview lists them.
ClinicalType = Literal[
    "Condition",
    "MedicationRequest",
    "Observation",
    "DiagnosticReport",
    "Procedure",
    "Immunization",
    "AllergyIntolerance",
    "CarePlan",
    "Encounter",
    "ImagingStudy",
    "Media",
    "DocumentReference",
]
CLINICAL_TYPES: tuple[str, ...] = get_args(ClinicalType)

#: The FHIR search parameter that carries each type's clinical date.
DATE_PARAM: dict[str, str] = {
    "Observation": "date",
    "Condition": "onset-date",
    "MedicationRequest": "authoredon",
    "Encounter": "date",
    "Procedure": "date",
    "Immunization": "date",
    "AllergyIntolerance": "date",
    "DiagnosticReport": "date",
    "DocumentReference": "date",
    "CarePlan": "date",
    "ImagingStudy": "started",
    "Media": "created",
    "Claim": "created",
    "ExplanationOfBenefit": "created",
}

_CONCEPT_FIELD: dict[str, str] = {
    "Observation": "code",
    "Condition": "code",
    "Procedure": "code",
    "DiagnosticReport": "code",
    "AllergyIntolerance": "code",
    "MedicationRequest": "medicationCodeableConcept",
    "Immunization": "vaccineCode",
    "Encounter": "type",
    "CarePlan": "category",
    "DocumentReference": "type",
    "ImagingStudy": "procedureCode",
    "Media": "modality",
}


class Coding(BaseModel):
    """One coding of a concept, as ``system|code`` plus its display."""

    model_config = {"frozen": True}

    system: str = ""
    code: str = ""
    display: str = ""

    @property
    def token(self) -> str:
        """The FHIR token form ``system|code``."""
        return f"{self.system}|{self.code}"


class ComponentValue(BaseModel):
    """One component of an Observation (systolic and diastolic of a blood pressure panel)."""

    codes: list[Coding] = Field(default_factory=list)
    display: str = ""
    value: str | None = None
    number: float | None = None
    unit: str | None = None


class EvidenceRecord(BaseModel):
    """One resource, condensed to the facts a model may cite."""

    ref: str = Field(description="Type/id of the resource this fact comes from.")
    resource_type: str
    date: str | None = Field(None, description="Clinical date (ISO 8601), e.g. effective time.")
    end: str | None = Field(None, description="End of the period, when the fact spans one.")
    display: str = Field("", description="Human name of the concept.")
    codes: list[Coding] = Field(default_factory=list)
    value: str | None = Field(None, description="Value as text (with unit), when there is one.")
    number: float | None = Field(None, description="Numeric value, when there is one.")
    unit: str | None = None
    status: str | None = None
    components: list[ComponentValue] = Field(
        default_factory=list, description="Observation components with their own codes."
    )
    encounter: str | None = Field(None, description="Encounter/id this was recorded at.")
    details: dict[str, str] = Field(default_factory=dict, description="Type-specific extras.")
    references: list[str] = Field(
        default_factory=list, description="Type/id of resources this one points to."
    )


def reference_id(reference: str | None) -> str | None:
    """``Type/id`` from a reference string (relative, absolute or versioned), else None."""
    if not reference or reference.startswith(("#", "urn:")):
        return None
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) < 2:
        return None
    return f"{parts[-2]}/{parts[-1]}"


def primary_concept_field(resource_type: str) -> str | None:
    """The element holding the concept of a resource type (``code``, ``vaccineCode``, ...)."""
    return _CONCEPT_FIELD.get(resource_type)


def codings_of(concept: Any) -> list[Coding]:
    """Codings of a CodeableConcept (or a list of them), keeping order, dropping duplicates."""
    concepts = concept if isinstance(concept, list) else [concept]
    seen: set[str] = set()
    out: list[Coding] = []
    for cc in concepts:
        if not isinstance(cc, Mapping):
            continue
        for coding in cc.get("coding") or []:
            # model_construct: these values are already strings; validation costs ~70% of
            # condensing a large record and checks nothing.
            c = Coding.model_construct(
                system=str(coding.get("system", "")),
                code=str(coding.get("code", "")),
                display=str(coding.get("display", "")),
            )
            if c.token not in seen and c.code:
                seen.add(c.token)
                out.append(c)
    return out


def _concept_text(concept: Any) -> str:
    """Text of a CodeableConcept or Coding: its text, else a display, else a code."""
    concepts = concept if isinstance(concept, list) else [concept]
    for cc in concepts:
        if not isinstance(cc, Mapping):
            continue
        if cc.get("text"):
            return str(cc["text"])
        if cc.get("display"):
            return str(cc["display"])
        codings = cc.get("coding") or []
        for coding in codings:
            if coding.get("display"):
                return str(coding["display"])
        for coding in codings:
            if coding.get("code"):
                return str(coding["code"])
        if cc.get("code"):
            return str(cc["code"])
    return ""


def _first(resource: JSON, *keys: str) -> Any:
    for key in keys:
        value = resource.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def _period_start_end(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, Mapping):
        return value.get("start"), value.get("end")
    if isinstance(value, str):
        return value, None
    return None, None


def record_date(resource: JSON) -> tuple[str | None, str | None]:
    """The clinical (start, end) dates of a resource, ISO strings as written in it."""
    rt = resource.get("resourceType")
    if rt == "Observation" or rt == "DiagnosticReport":
        start, end = _period_start_end(
            _first(resource, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
        )
        return start, end
    if rt == "Condition":
        start, _ = _period_start_end(_first(resource, "onsetDateTime", "onsetPeriod"))
        end, _ = _period_start_end(_first(resource, "abatementDateTime", "abatementPeriod"))
        return start or resource.get("recordedDate"), end
    if rt == "MedicationRequest":
        return resource.get("authoredOn"), None
    if rt in ("Encounter", "CarePlan"):
        return _period_start_end(resource.get("period"))
    if rt == "Procedure":
        return _period_start_end(_first(resource, "performedDateTime", "performedPeriod"))
    if rt == "Immunization":
        return _first(resource, "occurrenceDateTime", "recorded"), None
    if rt == "AllergyIntolerance":
        return _first(resource, "onsetDateTime", "recordedDate"), None
    if rt == "ImagingStudy":
        return resource.get("started"), None
    if rt == "Media":
        start, _ = _period_start_end(_first(resource, "createdDateTime", "createdPeriod"))
        return start or resource.get("issued"), None
    if rt == "DocumentReference":
        return resource.get("date"), None
    if rt in ("Claim", "ExplanationOfBenefit"):
        return resource.get("created"), None
    if rt == "Patient":
        return resource.get("birthDate"), resource.get("deceasedDateTime")
    return None, None


def _format_number(value: float) -> str:
    if value == int(value) and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.1f}"


def _quantity(q: Any) -> tuple[str | None, float | None, str | None]:
    if not isinstance(q, Mapping) or q.get("value") is None:
        return None, None, None
    number = float(q["value"])
    unit = q.get("unit") or q.get("code")
    text = _format_number(number) + (f" {unit}" if unit else "")
    return text, number, unit


def _observation_value(obs: JSON) -> tuple[str | None, float | None, str | None]:
    if "valueQuantity" in obs:
        return _quantity(obs["valueQuantity"])
    if "valueCodeableConcept" in obs:
        return _concept_text(obs["valueCodeableConcept"]) or None, None, None
    for key in ("valueString", "valueBoolean", "valueInteger", "valueDateTime"):
        if key in obs:
            raw = obs[key]
            number = float(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None
            return str(raw), number, None
    components = obs.get("component") or []
    parts = []
    for comp in components:
        name = _concept_text(comp.get("code"))
        text, _, _ = _quantity(comp.get("valueQuantity"))
        if text is None and comp.get("valueCodeableConcept"):
            text = _concept_text(comp["valueCodeableConcept"])
        if text is not None:
            parts.append(f"{name} {text}")
    if parts:
        return "; ".join(parts), None, None
    return None, None, None


def _collect_references(value: Any, out: list[str]) -> None:
    # dict/list rather than Mapping/Sequence: ABC isinstance checks dominated the cost of
    # condensing a large record, and parsed JSON only ever holds dicts and lists.
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            rid = reference_id(ref)
            if rid and rid not in out:
                out.append(rid)
        for key, item in value.items():
            if key not in ("reference", "contained") and isinstance(item, (dict, list)):
                _collect_references(item, out)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                _collect_references(item, out)


def _attachment_kinds(attachments: Iterable[Any]) -> list[str]:
    """Content types of attachments (where the bytes live is the image tools' business)."""
    kinds = []
    for att in attachments:
        if isinstance(att, dict) and (att.get("url") or att.get("data")):
            kinds.append(str(att.get("contentType", "unknown type")))
    return kinds


def _details(resource: JSON) -> dict[str, str]:
    rt = resource.get("resourceType")
    details: dict[str, str] = {}
    if rt == "Condition":
        if resource.get("clinicalStatus"):
            details["clinical"] = _concept_text(resource["clinicalStatus"])
        if resource.get("verificationStatus"):
            details["verification"] = _concept_text(resource["verificationStatus"])
        if resource.get("abatementDateTime"):
            details["abated"] = str(resource["abatementDateTime"])
    elif rt == "MedicationRequest":
        dosage = (resource.get("dosageInstruction") or [{}])[0]
        if dosage.get("text"):
            details["dosage"] = str(dosage["text"])
        timing = (dosage.get("timing") or {}).get("repeat") or {}
        if timing.get("frequency") and timing.get("period"):
            details["frequency"] = (
                f"{timing['frequency']} per {timing['period']} {timing.get('periodUnit', '')}"
            ).strip()
        if resource.get("reasonReference") or resource.get("reasonCode"):
            reason = _concept_text(resource.get("reasonCode") or [])
            if reason:
                details["reason"] = reason
        if resource.get("intent"):
            details["intent"] = str(resource["intent"])
    elif rt == "Encounter":
        cls = resource.get("class") or {}
        if cls.get("code"):
            details["class"] = str(cls.get("display") or cls["code"])
        reason = _concept_text(resource.get("reasonCode") or [])
        if reason:
            details["reason"] = reason
    elif rt == "Observation":
        category = _concept_text(resource.get("category") or [])
        if category:
            details["category"] = category
        interp = _concept_text(resource.get("interpretation") or [])
        if interp:
            details["interpretation"] = interp
    elif rt == "AllergyIntolerance":
        for key in ("criticality", "type"):
            if resource.get(key):
                details[key] = str(resource[key])
        allergy_categories = resource.get("category")
        if allergy_categories:
            details["category"] = ", ".join(str(c) for c in allergy_categories)
        clinical = _concept_text(resource.get("clinicalStatus"))
        if clinical:
            details["clinical"] = clinical
        reactions = [
            _concept_text(m)
            for r in resource.get("reaction") or []
            for m in r.get("manifestation") or []
        ]
        if reactions:
            details["reaction"] = ", ".join(sorted(set(filter(None, reactions))))
    elif rt == "CarePlan":
        activities = []
        for act in resource.get("activity") or []:
            detail = act.get("detail") or {}
            text = _concept_text(detail.get("code"))
            if text:
                activities.append(text)
        if activities:
            details["activities"] = "; ".join(activities)
    elif rt == "Procedure":
        reason = _concept_text(resource.get("reasonCode") or [])
        if reason:
            details["reason"] = reason
    elif rt == "DiagnosticReport":
        forms = _attachment_kinds(resource.get("presentedForm") or [])
        if forms:
            details["presented"] = "; ".join(forms)
        if resource.get("conclusion"):
            details["conclusion"] = str(resource["conclusion"])
    elif rt == "ImagingStudy":
        series = resource.get("series") or []
        modalities = sorted({str((s.get("modality") or {}).get("code", "")) for s in series} - {""})
        sites = sorted({_concept_text([s["bodySite"]]) for s in series if s.get("bodySite")})
        if modalities:
            details["modality"] = ", ".join(modalities)
        if sites:
            details["body site"] = ", ".join(sites)
        details["instances"] = str(sum(len(s.get("instance") or []) for s in series))
    elif rt == "Media":
        content = resource.get("content") or {}
        if content.get("contentType"):
            details["content"] = str(content["contentType"])
        if resource.get("bodySite"):
            details["body site"] = _concept_text(resource["bodySite"])
        if resource.get("view"):
            details["view"] = _concept_text(resource["view"])
    elif rt == "DocumentReference":
        kinds = _attachment_kinds(
            c.get("attachment") for c in resource.get("content") or [] if isinstance(c, Mapping)
        )
        if kinds:
            details["content"] = "; ".join(kinds)
    elif rt == "Immunization" and resource.get("primarySource") is False:
        details["source"] = "reported"
    return details


def _imaging_display(study: JSON) -> str:
    parts = []
    for series in study.get("series") or []:
        modality = _concept_text(series.get("modality"))
        site = _concept_text(series.get("bodySite"))
        parts.append(f"{modality} of {site}" if site else modality)
    return "; ".join(dict.fromkeys(p for p in parts if p)) or "Imaging study"


def condense(resource: JSON) -> EvidenceRecord:
    """Condense one resource into an :class:`EvidenceRecord`."""
    rt = str(resource.get("resourceType", ""))
    rid = str(resource.get("id", ""))
    start, end = record_date(resource)
    concept_field = _CONCEPT_FIELD.get(rt)
    concept = resource.get(concept_field) if concept_field else None
    if rt == "CarePlan" and isinstance(concept, list):
        # Synthea puts a generic "assess-plan" category first; the clinical one is last.
        concept = concept[-1:] if concept else concept
    codes = codings_of(concept) if concept is not None else []
    if rt == "ImagingStudy" and not codes:
        # Synthea studies carry no procedureCode; modality and body site say what was imaged.
        series = resource.get("series") or []
        codes = codings_of(
            [{"coding": [s["modality"]]} for s in series if isinstance(s.get("modality"), dict)]
            + [{"coding": [s["bodySite"]]} for s in series if isinstance(s.get("bodySite"), dict)]
        )
    display = _concept_text(concept) if concept is not None else ""
    value = number = unit = None
    components: list[ComponentValue] = []
    if rt == "Observation":
        value, number, unit = _observation_value(resource)
        for comp in resource.get("component") or []:
            c_text, c_number, c_unit = _quantity(comp.get("valueQuantity"))
            if c_text is None and comp.get("valueCodeableConcept"):
                c_text = _concept_text(comp["valueCodeableConcept"]) or None
            components.append(
                ComponentValue.model_construct(
                    codes=codings_of(comp.get("code")),
                    display=_concept_text(comp.get("code")),
                    value=c_text,
                    number=c_number,
                    unit=c_unit,
                )
            )
    status = resource.get("status")
    if rt == "Condition" and resource.get("clinicalStatus"):
        status = _concept_text(resource["clinicalStatus"]) or status
    if rt == "ImagingStudy" and not display:
        display = _imaging_display(resource)
    if rt == "ImagingStudy" and not display:
        display = _imaging_display(resource)
    if rt == "Patient":
        names = resource.get("name") or [{}]
        display = " ".join(names[0].get("given") or []) + " " + str(names[0].get("family", ""))
        display = display.strip()
    encounter = reference_id(
        (resource.get("encounter") or resource.get("context") or {}).get("reference")
    )
    references: list[str] = []
    _collect_references(
        {k: v for k, v in resource.items() if k not in ("subject", "patient")}, references
    )
    return EvidenceRecord.model_construct(
        ref=f"{rt}/{rid}",
        resource_type=rt,
        date=start,
        end=end,
        display=display,
        codes=codes,
        value=value,
        number=number,
        unit=unit,
        status=str(status) if status is not None else None,
        components=components,
        encounter=encounter,
        details=_details(resource),
        references=references,
    )
