"""A patient's record as seen on the as-of day: what templates generate questions from.

Only resources dated on or before ``as_of`` count. Statuses written in the record
(``MedicationRequest.status``, an allergy's ``clinicalStatus``) describe the record's last day,
not an earlier one, so questions about "current" status are asked only when ``as_of`` is on or
after the patient's last record day (``status_current``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from evals.builder.record import Concept, PatientRecord, clean_text, day_of, record_day
from evals.builder.vocabulary import ConceptKind, Vocabulary, concept_for, content_tokens

__all__ = ["Fact", "PatientView", "age_on", "ref"]

Resource = Mapping[str, Any]


def ref(resource: Resource) -> str:
    """``Type/id`` of a resource."""
    return f"{resource['resourceType']}/{resource['id']}"


def age_on(birth: date, day: date) -> int:
    """Whole years between a birth date and a day (the usual birthday rule)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Fact:
    """One dated resource and the concept it is about."""

    resource: Resource
    concept: Concept
    day: date

    @property
    def ref(self) -> str:
        """``Type/id`` of the resource."""
        return ref(self.resource)


@dataclass
class PatientView:
    """One patient's record restricted to what was known on ``as_of``."""

    record: PatientRecord
    as_of: date
    vocabulary: Vocabulary
    last_day: date
    memo: dict[object, Any] = field(default_factory=dict)
    """Derived data computed once per view (several templates read the same series)."""
    _facts: dict[ConceptKind, list[Fact]] = field(default_factory=dict)
    _tokens: frozenset[str] | None = None

    @property
    def patient_id(self) -> str:
        """The Patient's logical id."""
        return self.record.patient_id

    @property
    def patient_ref(self) -> str:
        """``Patient/<id>``: the evidence of absence questions."""
        return self.record.patient_ref

    @property
    def status_current(self) -> bool:
        """True if statuses written in the record hold on ``as_of``."""
        return self.as_of >= self.last_day

    @property
    def birth_date(self) -> date | None:
        """Birth date, if complete."""
        return day_of(self.record.patient.get("birthDate"))

    @property
    def death_date(self) -> date | None:
        """Day of death if it is on or before ``as_of``."""
        death = day_of(self.record.patient.get("deceasedDateTime"))
        return death if death is not None and death <= self.as_of else None

    @property
    def alive_status_known(self) -> bool:
        """False when the record says deceased without a usable date (cannot place it)."""
        patient = self.record.patient
        if patient.get("deceasedBoolean") is True:
            return False
        raw = patient.get("deceasedDateTime")
        return raw is None or day_of(raw) is not None

    def resources(self, resource_type: str) -> list[Resource]:
        """Resources of a type dated on or before ``as_of``, oldest first (stable)."""
        dated = [
            (day, index, r)
            for index, r in enumerate(self.record.of_type(resource_type))
            if (day := record_day(r)) is not None and day <= self.as_of
        ]
        return [r for _, _, r in sorted(dated, key=lambda t: (t[0], t[1]))]

    def fully_dated(self, resource_type: str) -> bool:
        """True if every resource of the type has a day (else counts and absences are unsafe)."""
        return all(record_day(r) is not None for r in self.record.of_type(resource_type))

    def fully_coded(self, kind: ConceptKind, resource_type: str) -> bool:
        """True if every resource of the type has a named concept (else absence is unsafe)."""
        return all(
            (c := concept_for(kind, r)) is not None and c.display is not None
            for r in self.record.of_type(resource_type)
        )

    def facts(self, kind: ConceptKind, resource_type: str) -> list[Fact]:
        """Dated resources with their concept, oldest first (concept-less ones left out)."""
        if kind not in self._facts:
            found = []
            for resource in self.resources(resource_type):
                concept = concept_for(kind, resource)
                day = record_day(resource)
                if concept is not None and day is not None:
                    found.append(Fact(resource, concept, day))
            self._facts[kind] = found
        return self._facts[kind]

    def by_concept(self, kind: ConceptKind, resource_type: str) -> dict[Concept, list[Fact]]:
        """Facts grouped by concept (only nameable concepts), in first-seen order."""
        key = ("by_concept", kind, resource_type)
        if key not in self.memo:
            groups: dict[Concept, list[Fact]] = defaultdict(list)
            for fact in self.facts(kind, resource_type):
                if self.vocabulary.nameable(kind, fact.concept):
                    groups[self._canonical(kind, fact.concept)].append(fact)
            self.memo[key] = dict(groups)
        return dict(self.memo[key])

    def _canonical(self, kind: ConceptKind, concept: Concept) -> Concept:
        return self.vocabulary.examples[kind].get((concept.system, concept.code), concept)

    def all_tokens(self) -> frozenset[str]:
        """Identifying words of every concept anywhere in the record (any date).

        An absence question or a distractor must share none of them, so that "Sinusitis" is
        never offered as absent to a patient who had "Viral sinusitis".
        """
        if self._tokens is not None:
            return self._tokens
        tokens: set[str] = set()
        for resources in self.record.resources.values():
            for resource in resources:
                for element in ("code", "vaccineCode", "medicationCodeableConcept", "category"):
                    tokens.update(_codeable_tokens(resource.get(element)))
                for element in ("type", "reasonCode"):
                    tokens.update(_codeable_tokens(resource.get(element)))
                for series in resource.get("series") or []:
                    if isinstance(series, Mapping):
                        tokens.update(_codeable_tokens({"coding": [series.get("bodySite")]}))
                for activity in resource.get("activity") or []:
                    detail = activity.get("detail") if isinstance(activity, Mapping) else None
                    if isinstance(detail, Mapping):
                        tokens.update(_codeable_tokens(detail.get("code")))
        self._tokens = frozenset(tokens)
        return self._tokens

    def unrelated(self, concepts: Sequence[Concept]) -> list[Concept]:
        """Concepts that share no identifying word with anything in the record."""
        mine = self.all_tokens()
        return [c for c in concepts if c.display and not (content_tokens(c.display) & mine)]


def _codeable_tokens(value: object) -> set[str]:
    values = value if isinstance(value, list) else [value]
    tokens: set[str] = set()
    for codeable in values:
        if not isinstance(codeable, Mapping):
            continue
        text = clean_text(codeable.get("text"))
        if text:
            tokens |= content_tokens(text)
        for coding in codeable.get("coding") or []:
            display = clean_text(coding.get("display")) if isinstance(coding, Mapping) else None
            if display:
                tokens |= content_tokens(display)
    return tokens
