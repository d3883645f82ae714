"""The cohort's vocabulary: which coded concepts can be named unambiguously, and distractors.

A question that names a concept by its display text ("Has the patient ever had a
Colonoscopy?") is only fair if that text means one code and the code has one text across
the whole cohort. Synthea breaks both ways (one LOINC code for "Appearance of Urine" and
"Odor of Urine"; one SNOMED code for four kinds of physical examination), so such concepts
are never named. The same vocabulary supplies distractors for choice questions: concepts of
the same kind taken from other patients' records.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from evals.builder.record import Concept, PatientRecord, concept_of, norm_key

__all__ = [
    "KINDS",
    "ConceptKind",
    "Vocabulary",
    "concept_for",
    "content_tokens",
    "imaging_concepts",
    "observation_category_codes",
]

ConceptKind = Literal[
    "condition",
    "medication",
    "procedure",
    "immunization",
    "allergy",
    "careplan",
    "observation",
    "encounter_type",
    "imaging_site",
    "imaging_modality",
]
KINDS: tuple[ConceptKind, ...] = (
    "condition",
    "medication",
    "procedure",
    "immunization",
    "allergy",
    "careplan",
    "observation",
    "encounter_type",
    "imaging_site",
    "imaging_modality",
)

_TYPE_OF_KIND: dict[ConceptKind, tuple[str, str]] = {
    "condition": ("Condition", "code"),
    "medication": ("MedicationRequest", "medicationCodeableConcept"),
    "procedure": ("Procedure", "code"),
    "immunization": ("Immunization", "vaccineCode"),
    "allergy": ("AllergyIntolerance", "code"),
    "careplan": ("CarePlan", "category"),
    "observation": ("Observation", "code"),
    "encounter_type": ("Encounter", "type"),
}

# Words that say what kind of thing a concept is rather than which one it is.
_GENERIC_WORDS = frozenset(
    [
        "with",
        "without",
        "from",
        "than",
        "other",
        "following",
        "history",
        "disorder",
        "finding",
        "situation",
        "procedure",
        "allergy",
        "allergic",
        "care",
        "plan",
        "test",
        "therapy",
        "encounter",
        "oral",
        "tablet",
        "capsule",
        "injection",
        "injectable",
        "solution",
        "suspension",
        "pack",
        "extended",
        "release",
        "inhaler",
        "topical",
        "cream",
        "system",
        "metered",
        "dose",
        "day",
        "actuat",
        "chewable",
        "auto",
        "injector",
        "units",
        "measurement",
        "screening",
        "examination",
        "physical",
        "acute",
        "chronic",
        "management",
        "self",
        "monitoring",
        "assessment",
    ]
)
_TOKEN = re.compile(r"[a-z][a-z0-9]{3,}")


@lru_cache(maxsize=65536)
def content_tokens(display: str) -> frozenset[str]:
    """The words of a display that identify the concept (four letters or more, not generic)."""
    return frozenset(t for t in _TOKEN.findall(norm_key(display)) if t not in _GENERIC_WORDS)


def concept_for(kind: ConceptKind, resource: Mapping[str, Any]) -> Concept | None:
    """The concept a resource is about, for one concept kind (None if it has none)."""
    if kind in ("imaging_site", "imaging_modality"):
        concepts = imaging_concepts(resource, kind)
        return concepts[0] if len(concepts) == 1 else None
    resource_type, element = _TYPE_OF_KIND[kind]
    if resource.get("resourceType") != resource_type:
        return None
    value = resource.get(element)
    if isinstance(value, list):
        # Several categories or types make the concept ambiguous: only one is usable.
        return concept_of(value[0]) if len(value) == 1 else None
    return concept_of(value)


def imaging_concepts(resource: Mapping[str, Any], kind: ConceptKind) -> list[Concept]:
    """Distinct body sites or modalities of an ImagingStudy's series (Coding, not Concept)."""
    element = "bodySite" if kind == "imaging_site" else "modality"
    found: dict[tuple[str, str], Concept] = {}
    for series in resource.get("series") or []:
        coding = series.get(element) if isinstance(series, Mapping) else None
        concept = concept_of({"coding": [coding]}) if isinstance(coding, Mapping) else None
        if concept is not None:
            found.setdefault((concept.system, concept.code), concept)
    return list(found.values())


def _record_resources(record: PatientRecord, kind: ConceptKind) -> list[Mapping[str, Any]]:
    if kind in ("imaging_site", "imaging_modality"):
        return record.of_type("ImagingStudy")
    return record.of_type(_TYPE_OF_KIND[kind][0])


@dataclass
class Vocabulary:
    """Per concept kind: texts of each code, codes of each text, and who has what."""

    texts: dict[ConceptKind, dict[tuple[str, str], set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    codes: dict[ConceptKind, dict[str, set[tuple[str, str]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    examples: dict[ConceptKind, dict[tuple[str, str], Concept]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    unnamed: dict[ConceptKind, set[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(set)
    )
    observation_categories: dict[tuple[str, str], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    _nameable: dict[tuple[ConceptKind, Concept], bool] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[PatientRecord]) -> Vocabulary:
        """Collect every concept of every kind from the cohort's records."""
        vocabulary = cls()
        for record in records:
            for kind in KINDS:
                for resource in _record_resources(record, kind):
                    for concept in _all_concepts(kind, resource):
                        vocabulary._add(kind, concept)
                        if kind == "observation":
                            key = (concept.system, concept.code)
                            vocabulary.observation_categories[key] |= observation_category_codes(
                                resource
                            )
        return vocabulary

    def _add(self, kind: ConceptKind, concept: Concept) -> None:
        key = (concept.system, concept.code)
        if concept.display is None:
            self.unnamed[kind].add(key)
            return
        text = norm_key(concept.display)
        self.texts[kind][key].add(text)
        self.codes[kind][text].add(key)
        previous = self.examples[kind].get(key)
        # The smallest display wins so the example does not depend on file order.
        if previous is None or (previous.display or "") > concept.display:
            self.examples[kind][key] = concept

    def nameable(self, kind: ConceptKind, concept: Concept | None) -> bool:
        """True if the concept has a display that means it alone, everywhere in the cohort."""
        if concept is None or concept.display is None:
            return False
        memo = self._nameable.get((kind, concept))
        if memo is None:
            memo = self._nameable[(kind, concept)] = self._compute_nameable(kind, concept)
        return memo

    def _compute_nameable(self, kind: ConceptKind, concept: Concept) -> bool:
        key = (concept.system, concept.code)
        if key in self.unnamed[kind]:
            return False
        texts = self.texts[kind].get(key, set())
        if len(texts) != 1:
            return False
        return len(self.codes[kind].get(next(iter(texts)), set())) == 1

    def pool(self, kind: ConceptKind) -> list[Concept]:
        """Every nameable concept of a kind in the cohort, sorted by display then code."""
        concepts = [c for c in self.examples[kind].values() if self.nameable(kind, c)]
        return sorted(concepts, key=lambda c: (c.display or "", c.system, c.code))


def observation_category_codes(resource: Mapping[str, Any]) -> set[str]:
    """Codes of an Observation's categories ('laboratory', 'vital-signs', ...)."""
    codes: set[str] = set()
    for category in resource.get("category") or []:
        for coding in (category.get("coding") or []) if isinstance(category, Mapping) else []:
            if isinstance(coding, Mapping) and isinstance(coding.get("code"), str):
                codes.add(coding["code"])
    return codes


def _all_concepts(kind: ConceptKind, resource: Mapping[str, Any]) -> list[Concept]:
    if kind in ("imaging_site", "imaging_modality"):
        return imaging_concepts(resource, kind)
    element = _TYPE_OF_KIND[kind][1]
    value = resource.get(element)
    values = value if isinstance(value, list) else [value]
    # Every coding counts for ambiguity, not only the first one a question would use.
    found: list[Concept] = []
    for codeable in values:
        if not isinstance(codeable, Mapping):
            continue
        for coding in codeable.get("coding") or []:
            concept = concept_of({"coding": [coding], "text": codeable.get("text")})
            if concept is not None:
                found.append(concept)
    return found
