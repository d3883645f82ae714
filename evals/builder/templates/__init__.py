"""Every question template, grouped by category module."""

from __future__ import annotations

from evals.builder.templates import (
    allergies_care_plans,
    conditions,
    demographics,
    encounters,
    imaging,
    immunizations,
    labs,
    medications,
    procedures,
    trends,
    vitals,
)
from evals.builder.templates.base import CATEGORIES, Category, Draft, Template

__all__ = ["CATEGORIES", "TEMPLATES", "Category", "Draft", "Template"]

TEMPLATES: tuple[Template, ...] = (
    *demographics.TEMPLATES,
    *conditions.TEMPLATES,
    *medications.TEMPLATES,
    *labs.TEMPLATES,
    *vitals.TEMPLATES,
    *trends.TEMPLATES,
    *encounters.TEMPLATES,
    *procedures.TEMPLATES,
    *immunizations.TEMPLATES,
    *allergies_care_plans.TEMPLATES,
    *imaging.TEMPLATES,
)

_ids = [t.id for t in TEMPLATES]
if len(set(_ids)) != len(_ids):  # pragma: no cover - a programming error, caught by any test
    raise RuntimeError("duplicate template ids")
