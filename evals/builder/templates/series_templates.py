"""Template factories and helpers shared by the numeric-series categories.

Labs, vital signs and trends ask the same questions of a series. Each factory returns a
:class:`Template` over the series that ``series_of`` picks from a patient view: the first or
the latest value, the day of the latest measurement, the highest or the lowest value in a
range of whole years.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from evals.builder.templates.base import (
    Category,
    Difficulty,
    Draft,
    Template,
    hint,
    period_params,
    period_slots,
    template,
    year_range,
)
from evals.builder.templates.observations import Point, Series
from evals.builder.view import PatientView

__all__ = [
    "SeriesOf",
    "distinct",
    "end_value",
    "extreme_in_range",
    "latest_date",
    "period",
    "period_draft",
]

SeriesOf = Callable[[PatientView], list[Series]]


def distinct(series: Series, a: Point, b: Point) -> bool:
    """Whether two values differ by more than twice the series' tolerance.

    Closer values could fairly be read as equal, so no question turns on their order.
    """
    return abs(a.value - b.value) > 2 * series.tolerance


def period(rng: random.Random, series: Series, as_of: date) -> tuple[date, date, list[Point]]:
    """A range of whole years around two of the series' days, and the points inside it."""
    start, end = year_range(rng, [p.day for p in series.points], as_of)
    return start, end, [p for p in series.points if start <= p.day <= end]


def period_draft(
    series: Series,
    op: str,
    start: date,
    end: date,
    *,
    gold: Any,
    evidence: tuple[str, ...],
    difficulty: Difficulty,
    unit: str | None = None,
    tolerance: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Draft:
    """A question about one series over a range of days: its parameters, slots and hint."""
    return Draft(
        params={"op": op, **series.params, **period_params(start, end)},
        slots={"name": series.label, **period_slots(start, end)},
        gold=gold,
        unit=unit,
        tolerance=tolerance,
        choices=choices,
        evidence=evidence,
        hint=hint("Observation", series.concept.token, start, end),
        difficulty=difficulty,
    )


def end_value(
    template_id: str,
    category: Category,
    series_of: SeriesOf,
    which: Literal["first", "latest"],
    *phrasings: str,
    difficulty: Difficulty = "medium",
) -> Template:
    """The first or the latest value of each series, when that day holds a single value.

    The first value is asked only of a series with several points: with one, it is the latest.
    """

    @template(template_id, category, "number", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        drafts = []
        for series in series_of(view):
            if which == "first" and len(series.points) < 2:
                continue
            point = series.first() if which == "first" else series.latest()
            if point is None:
                continue
            drafts.append(
                Draft(
                    params={"op": f"{which}_value", **series.params},
                    slots={"name": series.label},
                    gold=round(point.value, 2),
                    unit=series.unit,
                    tolerance=series.tolerance,
                    evidence=(point.ref,),
                    hint=hint("Observation", series.concept.token, date_to=view.as_of),
                    difficulty=difficulty,
                )
            )
        return drafts

    return generate


def latest_date(
    template_id: str, category: Category, series_of: SeriesOf, *phrasings: str
) -> Template:
    """Day of each series' latest measurement; evidence: every value of that day."""

    @template(template_id, category, "date", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        drafts = []
        for series in series_of(view):
            last = series.points[-1].day
            drafts.append(
                Draft(
                    params={"op": "last_date", **series.params},
                    slots={"name": series.label},
                    gold=last.isoformat(),
                    precision="day",
                    evidence=tuple(p.ref for p in series.on(last)),
                    hint=hint("Observation", series.concept.token, date_to=view.as_of),
                    difficulty="easy",
                )
            )
        return drafts

    return generate


def extreme_in_range(
    template_id: str,
    category: Category,
    series_of: SeriesOf,
    extreme: Literal["max", "min"],
    *phrasings: str,
) -> Template:
    """Highest or lowest value of a series (of three or more points) in a range of whole years.

    Asked only when the extreme stands clear of the runner-up. Evidence: every value in the
    range, the extreme first.
    """

    @template(template_id, category, "number", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        drafts = []
        for series in series_of(view):
            if len(series.points) < 3:
                continue
            start, end, inside = period(rng, series, view.as_of)
            ranked = sorted(inside, key=lambda p: p.value, reverse=extreme == "max")
            if len(ranked) < 2 or not distinct(series, ranked[0], ranked[1]):
                continue
            drafts.append(
                period_draft(
                    series,
                    f"{extreme}_value",
                    start,
                    end,
                    gold=round(ranked[0].value, 2),
                    unit=series.unit,
                    tolerance=series.tolerance,
                    evidence=tuple(p.ref for p in ranked),
                    difficulty="hard",
                )
            )
        return drafts

    return generate
