"""Vital sign questions: latest, first, on a day, when last, lowest, high blood pressure count."""

from __future__ import annotations

import random

from evals.builder.templates.base import (
    Draft,
    Template,
    day_range,
    hint,
    template,
    year_range,
)
from evals.builder.templates.observations import Series, numeric_series
from evals.builder.view import PatientView

__all__ = ["TEMPLATES"]

_VITAL = "vital-signs"
_SYSTOLIC = "8480-6"
_HIGH_SYSTOLIC = 140.0


def _vitals(view: PatientView) -> list[Series]:
    return numeric_series(view, _VITAL)


@template(
    "vital.latest_value",
    "vital_signs",
    "number",
    "What was the patient's most recent {name} as of {as_of}?",
    "As of {as_of}, what is the latest recorded {name}?",
    "Report the last {name} measured on or before {as_of}.",
)
def _latest_value(view: PatientView, rng: random.Random) -> list[Draft]:
    return [
        Draft(
            params={"op": "latest_value", **s.params},
            slots={"name": s.label},
            gold=round(p.value, 2),
            unit=s.unit,
            tolerance=s.tolerance,
            evidence=(p.ref,),
            hint=hint("Observation", s.concept.token, date_to=view.as_of),
            difficulty="easy",
        )
        for s in _vitals(view)
        if (p := s.latest())
    ]


@template(
    "vital.first_value",
    "vital_signs",
    "number",
    "What was the first {name} recorded for the patient?",
    "What was the patient's earliest recorded {name}?",
    "When {name} was first measured, what was the value?",
)
def _first_value(view: PatientView, rng: random.Random) -> list[Draft]:
    return [
        Draft(
            params={"op": "first_value", **s.params},
            slots={"name": s.label},
            gold=round(p.value, 2),
            unit=s.unit,
            tolerance=s.tolerance,
            evidence=(p.ref,),
            hint=hint("Observation", s.concept.token, date_to=view.as_of),
        )
        for s in _vitals(view)
        if len(s.points) > 1 and (p := s.first())
    ]


@template(
    "vital.value_on_day",
    "vital_signs",
    "number",
    "What was the patient's {name} on {day}?",
    "On {day}, what {name} was recorded?",
    "Which {name} value was measured on {day}?",
)
def _value_on_day(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for series in _vitals(view):
        days = sorted({p.day for p in series.points})
        for day in days:
            point = series.single_value_on(day)
            if point is None:
                continue
            drafts.append(
                Draft(
                    params={"op": "value_on_day", **series.params, "day": day.isoformat()},
                    slots={"name": series.label, "day": day.isoformat()},
                    gold=round(point.value, 2),
                    unit=series.unit,
                    tolerance=series.tolerance,
                    evidence=tuple(p.ref for p in series.on(day)),
                    hint=hint("Observation", series.concept.token, day, day),
                )
            )
    return drafts


@template(
    "vital.latest_date",
    "vital_signs",
    "date",
    "When was the patient's {name} last recorded (as of {as_of})?",
    "On what date was {name} most recently measured?",
    "What is the date of the latest {name} on or before {as_of}?",
)
def _latest_date(view: PatientView, rng: random.Random) -> list[Draft]:
    return [
        Draft(
            params={"op": "last_date", **s.params},
            slots={"name": s.label},
            gold=s.points[-1].day.isoformat(),
            precision="day",
            evidence=tuple(p.ref for p in s.on(s.points[-1].day)),
            hint=hint("Observation", s.concept.token, date_to=view.as_of),
            difficulty="easy",
        )
        for s in _vitals(view)
    ]


@template(
    "vital.min_in_range",
    "vital_signs",
    "number",
    "What was the lowest {name} recorded between {range}?",
    "Between {range}, what was the patient's minimum {name}?",
    "Of the {name} values from {from} to {to}, which was the lowest?",
)
def _min_in_range(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for series in _vitals(view):
        if len(series.points) < 3:
            continue
        start, end = year_range(rng, [p.day for p in series.points], view.as_of)
        inside = sorted((p for p in series.points if start <= p.day <= end), key=lambda p: p.value)
        if len(inside) < 2 or inside[1].value - inside[0].value <= 2 * series.tolerance:
            continue
        drafts.append(
            Draft(
                params={
                    "op": "min_value",
                    **series.params,
                    "date_from": start.isoformat(),
                    "date_to": end.isoformat(),
                },
                slots={
                    "name": series.label,
                    "range": day_range(start, end),
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                },
                gold=round(inside[0].value, 2),
                unit=series.unit,
                tolerance=series.tolerance,
                evidence=tuple(p.ref for p in inside),
                hint=hint("Observation", series.concept.token, start, end),
                difficulty="hard",
            )
        )
    return drafts


@template(
    "vital.high_bp_count",
    "vital_signs",
    "number",
    "How many blood pressure readings between {range} had a systolic pressure of 140 mmHg or more?",
    "Between {range}, how many times was the systolic blood pressure at least 140 mmHg?",
    "Count the readings from {from} to {to} with systolic blood pressure of 140 mmHg or higher.",
)
def _high_bp_count(view: PatientView, rng: random.Random) -> list[Draft]:
    for series in _vitals(view):
        if series.component != _SYSTOLIC or len(series.points) < 2:
            continue
        start, end = year_range(rng, [p.day for p in series.points], view.as_of)
        inside = [p for p in series.points if start <= p.day <= end]
        # A reading within rounding of the cut-off would be counted differently by readers.
        if any(abs(p.value - _HIGH_SYSTOLIC) <= 0.5 for p in inside):
            return []
        high = [p for p in inside if p.value >= _HIGH_SYSTOLIC]
        return [
            Draft(
                params={
                    "op": "count_at_least",
                    **series.params,
                    "threshold": _HIGH_SYSTOLIC,
                    "date_from": start.isoformat(),
                    "date_to": end.isoformat(),
                },
                slots={
                    "range": day_range(start, end),
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                },
                gold=float(len(high)),
                unit="count",
                tolerance=0.0,
                evidence=tuple(p.ref for p in inside),
                hint=hint("Observation", series.concept.token, start, end),
                difficulty="hard",
            )
        ]
    return []


TEMPLATES: tuple[Template, ...] = (
    _latest_value,
    _first_value,
    _value_on_day,
    _latest_date,
    _min_in_range,
    _high_bp_count,
)
