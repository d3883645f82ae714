"""Numeric observation series (labs, vital signs) read from a patient view.

A series is one measured quantity: an Observation code, or one component of a panel
(systolic and diastolic pressure inside a blood-pressure panel). A series is dropped as a
whole when any of its observations lacks a number or a unit, or when its units disagree:
a reader of such a record could not give one answer in one unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from evals.builder.record import Concept, clean_text, concept_of
from evals.builder.templates.base import value_tolerance
from evals.builder.view import PatientView, ref

__all__ = ["Point", "Series", "numeric_series", "quantity"]

Resource = Mapping[str, Any]


@dataclass(frozen=True)
class Point:
    """One value of a series."""

    day: date
    value: float
    resource: Resource

    @property
    def ref(self) -> str:
        """``Observation/<id>``."""
        return ref(self.resource)


@dataclass(frozen=True)
class Series:
    """The values of one quantity, oldest first."""

    label: str
    concept: Concept
    component: str | None
    unit: str
    points: tuple[Point, ...]

    @property
    def tolerance(self) -> float:
        """Tolerance for a value of this series (from its typical magnitude)."""
        return max(value_tolerance(p.value) for p in self.points)

    @property
    def params(self) -> dict[str, Any]:
        """Parameters naming the series in an item."""
        found: dict[str, Any] = {"resource_type": "Observation", "code": self.concept.token}
        if self.component:
            found["component"] = self.component
        return found

    def on(self, day: date) -> list[Point]:
        """Points of one day."""
        return [p for p in self.points if p.day == day]

    def single_value_on(self, day: date) -> Point | None:
        """The point of a day if the day has one value (repeats of one value are fine)."""
        points = self.on(day)
        if not points or len({p.value for p in points}) != 1:
            return None
        return points[0]

    def latest(self) -> Point | None:
        """The latest point, or None if the latest day holds different values."""
        return self.single_value_on(self.points[-1].day)

    def first(self) -> Point | None:
        """The first point, or None if the first day holds different values."""
        return self.single_value_on(self.points[0].day)


def quantity(value: object) -> tuple[float, str] | None:
    """A Quantity's number and unit (UCUM code first, then the human unit), if both exist."""
    if not isinstance(value, Mapping):
        return None
    number = value.get("value")
    unit = value.get("code") or value.get("unit")
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    unit_text = clean_text(unit)
    if unit_text is None:
        return None
    return float(number), unit_text


def numeric_series(view: PatientView, category: str) -> list[Series]:
    """Every usable numeric series of one Observation category ('laboratory', 'vital-signs').

    A code belongs to a category if any observation of it in the cohort says so.
    """
    memo_key = ("numeric_series", category)
    if memo_key not in view.memo:
        view.memo[memo_key] = _numeric_series(view, category)
    return list(view.memo[memo_key])


def _numeric_series(view: PatientView, category: str) -> list[Series]:
    raw: dict[tuple[str, str, str | None], list[tuple[date, Resource, Mapping[str, Any]]]] = {}
    labels: dict[tuple[str, str, str | None], str] = {}
    concepts: dict[tuple[str, str, str | None], Concept] = {}
    broken: set[tuple[str, str]] = set()
    groups = view.by_concept("observation", "Observation")
    for concept, facts in groups.items():
        key_code = (concept.system, concept.code)
        # Every observation of the code belongs to the series, whatever its own category says;
        # the cohort decides whether the code is a lab or a vital sign.
        if category not in view.vocabulary.observation_categories.get(key_code, set()):
            continue
        for fact in facts:
            components = fact.resource.get("component")
            if isinstance(components, list) and components:
                for component in components:
                    part = (
                        concept_of(component.get("code"))
                        if isinstance(component, Mapping)
                        else None
                    )
                    if part is None or part.display is None:
                        broken.add(key_code)
                        continue
                    key: tuple[str, str, str | None] = (concept.system, concept.code, part.code)
                    raw.setdefault(key, []).append((fact.day, fact.resource, component))
                    labels[key] = part.display
                    concepts[key] = concept
            else:
                key = (concept.system, concept.code, None)
                raw.setdefault(key, []).append((fact.day, fact.resource, fact.resource))
                labels[key] = concept.display or ""
                concepts[key] = concept
    found = []
    for key, entries in raw.items():
        if key[:2] in broken:
            continue
        values = [quantity(holder.get("valueQuantity")) for _, _, holder in entries]
        if any(v is None for v in values):
            continue
        units = {v[1] for v in values if v is not None}
        if len(units) != 1:
            continue
        points = tuple(
            Point(day, v[0], resource)
            for (day, resource, _), v in zip(entries, values, strict=True)
            if v is not None
        )
        found.append(Series(labels[key], concepts[key], key[2], units.pop(), points))
    return sorted(found, key=lambda s: (s.label, s.concept.code, s.component or ""))
