"""What a question template is, what it produces, and the helpers every template shares.

A template turns a :class:`~evals.builder.view.PatientView` into drafts: every question of
its kind that this patient's record answers unambiguously. The builder then samples among
drafts, picks a phrasing, and turns each into a dataset item.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_args

from evals.builder.record import norm_key
from evals.builder.view import PatientView
from evals.dataset import AnswerType, DatePrecision, RetrievalHint

__all__ = [
    "CATEGORIES",
    "Category",
    "Difficulty",
    "Draft",
    "Generator",
    "Template",
    "day_range",
    "hint",
    "period_params",
    "period_slots",
    "pick_distractors",
    "template",
    "value_tolerance",
    "year_range",
]

Category = Literal[
    "demographics",
    "conditions",
    "medications",
    "lab_results",
    "vital_signs",
    "longitudinal_trends",
    "encounters",
    "procedures",
    "immunizations",
    "allergies_care_plans",
    "imaging",
]
# Read off the Literal, so that the two cannot drift apart; the order is the Literal's.
CATEGORIES: tuple[Category, ...] = get_args(Category)
Difficulty = Literal["easy", "medium", "hard"]


@dataclass(frozen=True)
class Draft:
    """One answerable question before phrasing: parameters, gold answer, evidence."""

    params: dict[str, Any]
    slots: dict[str, str]
    gold: Any
    evidence: tuple[str, ...]
    unit: str | None = None
    tolerance: float | None = None
    choices: tuple[str, ...] | None = None
    precision: DatePrecision | None = None
    hint: RetrievalHint | None = None
    difficulty: Difficulty = "medium"


Generator = Callable[[PatientView, random.Random], list[Draft]]


@dataclass(frozen=True)
class Template:
    """A question kind: id, category, answer type, phrasings and the generator of drafts."""

    id: str
    category: Category
    answer_type: AnswerType
    phrasings: tuple[str, ...]
    generate: Generator = field(compare=False)


def template(
    template_id: str, category: Category, answer_type: AnswerType, *phrasings: str
) -> Callable[[Generator], Template]:
    """Decorator turning a generator function into a :class:`Template`."""
    if len(phrasings) < 2:
        raise ValueError(f"{template_id}: a template needs several phrasings")

    def wrap(generate: Generator) -> Template:
        return Template(template_id, category, answer_type, tuple(phrasings), generate)

    return wrap


def value_tolerance(value: float) -> float:
    """Tolerance of a measured value: one decimal of rounding, or 0.5 % of large values."""
    return round(max(0.051, abs(value) * 0.005), 3)


def hint(
    resource_type: str,
    code: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> RetrievalHint:
    """A retrieval hint (one FHIR search)."""
    return RetrievalHint(
        resource_type=resource_type, code=code, date_from=date_from, date_to=date_to
    )


def year_range(rng: random.Random, days: Sequence[date], as_of: date) -> tuple[date, date]:
    """A range of whole calendar years around two of the given days, ending by ``as_of``."""
    first, second = sorted(rng.sample(list(days), 2)) if len(days) > 1 else (days[0], days[0])
    end = min(date(second.year, 12, 31), as_of)
    return date(first.year, 1, 1), end


def day_range(start: date, end: date) -> str:
    """Human text of an inclusive range of days."""
    return f"{start.isoformat()} and {end.isoformat()}"


def period_params(start: date, end: date) -> dict[str, str]:
    """Item parameters of an inclusive range of days."""
    return {"date_from": start.isoformat(), "date_to": end.isoformat()}


def period_slots(start: date, end: date) -> dict[str, str]:
    """Phrasing slots of an inclusive range of days: ``{range}``, ``{from}`` and ``{to}``."""
    return {"range": day_range(start, end), "from": start.isoformat(), "to": end.isoformat()}


def pick_distractors(
    rng: random.Random,
    correct: str,
    pool: Sequence[str],
    avoid: Sequence[str] = (),
    count: int = 3,
) -> tuple[str, ...] | None:
    """Choices: the correct answer and ``count`` distractors, shuffled; None if too few.

    Distractors differ from the answer and from everything in ``avoid`` (what else is true of
    the patient) once normalized, and from each other.
    """
    taken = {norm_key(correct)} | {norm_key(a) for a in avoid}
    candidates: list[str] = []
    for option in sorted(set(pool)):
        key = norm_key(option)
        if key and key not in taken:
            taken.add(key)
            candidates.append(option)
    if len(candidates) < count:
        return None
    options = [correct, *rng.sample(candidates, count)]
    rng.shuffle(options)
    return tuple(options)
