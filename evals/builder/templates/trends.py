"""Longitudinal questions: direction and size of change, comparisons, peaks, since a drug.

"Has it improved since the medication started?" compares the last value before the first
prescription with the latest value. Changes smaller than twice a series' tolerance are
never asked about: a reader could fairly call them "no change".
"""

from __future__ import annotations

import random
import re

from evals.builder.templates.base import Draft, Template, hint, template
from evals.builder.templates.observations import Series, numeric_series
from evals.builder.templates.series_templates import distinct, period, period_draft
from evals.builder.view import PatientView

__all__ = ["TEMPLATES"]

DIRECTIONS = ("increased", "decreased", "stayed about the same")

# Medication (ingredient pattern, label) -> the series it is meant to lower.
_MED_TARGETS: tuple[tuple[str, str, str, str | None], ...] = (
    (r"metformin", "metformin", "4548-4", None),
    (r"insulin", "insulin", "4548-4", None),
    (
        r"simvastatin|simvistatin|atorvastatin|rosuvastatin|pravastatin|lovastatin",
        "a statin",
        "18262-6",
        None,
    ),
    (
        r"simvastatin|simvistatin|atorvastatin|rosuvastatin|pravastatin|lovastatin",
        "a statin",
        "2093-3",
        None,
    ),
    (
        r"hydrochlorothiazide|lisinopril|amlodipine|losartan",
        "an antihypertensive",
        "55284-4",
        "8480-6",
    ),
)


def _series(view: PatientView) -> list[Series]:
    return [*numeric_series(view, "laboratory"), *numeric_series(view, "vital-signs")]


@template(
    "trend.direction",
    "longitudinal_trends",
    "choice",
    "Between {range}, did the patient's {name} increase, decrease or stay about the same "
    "(first versus last measurement in that period)?",
    "Comparing the first and the last {name} measured between {range}, how did it change?",
    "From {from} to {to}, what was the direction of change of {name} (earliest to latest "
    "value in the period)?",
)
def _direction(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for series in _series(view):
        if len(series.points) < 3:
            continue
        start, end, inside = period(rng, series, view.as_of)
        if len({p.day for p in inside}) < 2:
            continue
        first, last = series.single_value_on(inside[0].day), series.single_value_on(inside[-1].day)
        if first is None or last is None or not distinct(series, first, last):
            continue
        gold = DIRECTIONS[0] if last.value > first.value else DIRECTIONS[1]
        drafts.append(
            period_draft(
                series,
                "trend",
                start,
                end,
                gold=gold,
                choices=DIRECTIONS,
                evidence=(first.ref, last.ref),
                difficulty="medium",
            )
        )
    return drafts


@template(
    "trend.change",
    "longitudinal_trends",
    "number",
    "By how much did the patient's {name} change between {day1} and {day2}? Give the absolute "
    "difference.",
    "What is the absolute difference between the {name} measured on {day1} and on {day2}?",
    "How large was the change in {name} from {day1} to {day2} (absolute value)?",
)
def _change(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for series in _series(view):
        days = sorted({p.day for p in series.points})
        if len(days) < 2:
            continue
        day1, day2 = sorted(rng.sample(days, 2))
        a, b = series.single_value_on(day1), series.single_value_on(day2)
        if a is None or b is None or not distinct(series, a, b):
            continue
        drafts.append(
            Draft(
                params={
                    "op": "abs_change",
                    **series.params,
                    "day1": day1.isoformat(),
                    "day2": day2.isoformat(),
                },
                slots={"name": series.label, "day1": day1.isoformat(), "day2": day2.isoformat()},
                gold=round(abs(b.value - a.value), 2),
                unit=series.unit,
                tolerance=round(2 * series.tolerance, 3),
                evidence=(a.ref, b.ref),
                hint=hint("Observation", series.concept.token, day1, day2),
                difficulty="hard",
            )
        )
    return drafts


@template(
    "trend.latest_vs_day",
    "longitudinal_trends",
    "yes_no",
    "As of {as_of}, is the patient's most recent {name} higher than the value measured on {day}?",
    "Was the latest {name} (as of {as_of}) above the {name} recorded on {day}?",
    "Compared with {day}, is the most recent {name} higher?",
)
def _latest_vs_day(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for series in _series(view):
        latest = series.latest()
        earlier = sorted({p.day for p in series.points if latest and p.day < latest.day})
        if latest is None or not earlier:
            continue
        day = rng.choice(earlier)
        then = series.single_value_on(day)
        if then is None or not distinct(series, then, latest):
            continue
        drafts.append(
            Draft(
                params={"op": "latest_higher_than_day", **series.params, "day": day.isoformat()},
                slots={"name": series.label, "day": day.isoformat()},
                gold="yes" if latest.value > then.value else "no",
                evidence=(then.ref, latest.ref),
                hint=hint("Observation", series.concept.token, day, view.as_of),
            )
        )
    return drafts


@template(
    "trend.peak_date",
    "longitudinal_trends",
    "date",
    "On what date was the patient's highest {name} recorded (as of {as_of})?",
    "When did {name} reach its highest recorded value?",
    "What is the date of the peak {name} in the record?",
)
def _peak_date(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for series in _series(view):
        ranked = sorted(series.points, key=lambda p: -p.value)
        if len(ranked) < 3 or not distinct(series, ranked[0], ranked[1]):
            continue
        drafts.append(
            Draft(
                params={"op": "max_date", **series.params},
                slots={"name": series.label},
                gold=ranked[0].day.isoformat(),
                precision="day",
                evidence=tuple(p.ref for p in series.points),
                hint=hint("Observation", series.concept.token, date_to=view.as_of),
                difficulty="hard",
            )
        )
    return drafts


@template(
    "trend.improved_since_medication",
    "longitudinal_trends",
    "yes_no",
    "Is the patient's most recent {name} lower than the last value measured before {med} was "
    "first prescribed on {start}?",
    "Since starting {med} on {start}, has {name} come down (latest value versus the last value "
    "before the start)?",
    "Comparing the last {name} before {med} was started ({start}) with the latest one, is the "
    "latest lower?",
)
def _improved_since_medication(view: PatientView, rng: random.Random) -> list[Draft]:
    if not view.fully_coded("medication", "MedicationRequest"):
        return []
    by_code = {(s.concept.code, s.component): s for s in _series(view)}
    requests = view.facts("medication", "MedicationRequest")
    drafts = []
    done: set[tuple[str, str]] = set()
    for pattern, label, code, component in _MED_TARGETS:
        series = by_code.get((code, component))
        matching = [f for f in requests if re.search(pattern, (f.concept.display or "").lower())]
        if series is None or not matching or (label, series.label) in done:
            continue
        done.add((label, series.label))
        start = matching[0].day
        before = [p for p in series.points if p.day < start]
        latest = series.latest()
        if not before or latest is None or latest.day < start:
            continue
        baseline = series.single_value_on(before[-1].day)
        if baseline is None or not distinct(series, baseline, latest):
            continue
        drafts.append(
            Draft(
                params={
                    "op": "lower_since_start",
                    **series.params,
                    "medication_pattern": pattern,
                    "start": start.isoformat(),
                },
                slots={"name": series.label, "med": label, "start": start.isoformat()},
                gold="yes" if latest.value < baseline.value else "no",
                evidence=(matching[0].ref, baseline.ref, latest.ref),
                hint=hint("Observation", series.concept.token, date_to=view.as_of),
                difficulty="hard",
            )
        )
    return drafts


TEMPLATES: tuple[Template, ...] = (
    _direction,
    _change,
    _latest_vs_day,
    _peak_date,
    _improved_since_medication,
)
