"""Vital sign questions: latest, first, on a day, when last, lowest, high blood pressure count."""

from __future__ import annotations

import random

from evals.builder.templates.base import (
    Draft,
    Template,
    hint,
    period_params,
    period_slots,
    template,
)
from evals.builder.templates.observations import Series, numeric_series
from evals.builder.templates.series_templates import (
    end_value,
    extreme_in_range,
    latest_date,
    period,
)
from evals.builder.view import PatientView

__all__ = ["TEMPLATES"]

_VITAL = "vital-signs"
_SYSTOLIC = "8480-6"
_HIGH_SYSTOLIC = 140.0


def _vitals(view: PatientView) -> list[Series]:
    return numeric_series(view, _VITAL)


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
        start, end, inside = period(rng, series, view.as_of)
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
                    **period_params(start, end),
                },
                slots=period_slots(start, end),
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
    end_value(
        "vital.latest_value",
        "vital_signs",
        _vitals,
        "latest",
        "What was the patient's most recent {name} as of {as_of}?",
        "As of {as_of}, what is the latest recorded {name}?",
        "Report the last {name} measured on or before {as_of}.",
        difficulty="easy",
    ),
    end_value(
        "vital.first_value",
        "vital_signs",
        _vitals,
        "first",
        "What was the first {name} recorded for the patient?",
        "What was the patient's earliest recorded {name}?",
        "When {name} was first measured, what was the value?",
    ),
    _value_on_day,
    latest_date(
        "vital.latest_date",
        "vital_signs",
        _vitals,
        "When was the patient's {name} last recorded (as of {as_of})?",
        "On what date was {name} most recently measured?",
        "What is the date of the latest {name} on or before {as_of}?",
    ),
    extreme_in_range(
        "vital.min_in_range",
        "vital_signs",
        _vitals,
        "min",
        "What was the lowest {name} recorded between {range}?",
        "Between {range}, what was the patient's minimum {name}?",
        "Of the {name} values from {from} to {to}, which was the lowest?",
    ),
    _high_bp_count,
)
