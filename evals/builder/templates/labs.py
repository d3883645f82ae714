"""Lab result questions: latest, first, highest, how many, ever, thresholds, panels."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from evals.builder.record import concept_of, record_day
from evals.builder.templates.base import Draft, Template, hint, template
from evals.builder.templates.concepts import absent_draft
from evals.builder.templates.observations import Series, numeric_series, quantity
from evals.builder.templates.series_templates import (
    end_value,
    extreme_in_range,
    latest_date,
    period,
    period_draft,
)
from evals.builder.view import PatientView, ref
from evals.builder.vocabulary import observation_category_codes

__all__ = ["TEMPLATES"]

_LAB = "laboratory"

# (direction, threshold, unit): clinically meaningful cut-offs for common Synthea labs.
_THRESHOLDS: dict[str, tuple[str, float, str]] = {
    "4548-4": ("above", 6.5, "%"),
    "2339-0": ("above", 125.0, "mg/dL"),
    "2093-3": ("above", 240.0, "mg/dL"),
    "18262-6": ("above", 160.0, "mg/dL"),
    "2571-8": ("above", 200.0, "mg/dL"),
    "2085-9": ("below", 40.0, "mg/dL"),
    "38483-4": ("above", 1.3, "mg/dL"),
    "2947-0": ("below", 135.0, "mmol/L"),
    "6298-4": ("above", 5.0, "mmol/L"),
    "718-7": ("below", 12.0, "g/dL"),
    "14959-1": ("above", 30.0, "mg/g"),
}


def _labs(view: PatientView) -> list[Series]:
    return numeric_series(view, _LAB)


@template(
    "lab.count_in_range",
    "lab_results",
    "number",
    "How many {name} results were recorded between {range} (inclusive)?",
    "Between {range}, how many times was {name} measured?",
    "Count the {name} measurements dated from {from} to {to}.",
)
def _count_in_range(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for series in _labs(view):
        if len(series.points) < 3:
            continue
        start, end, inside = period(rng, series, view.as_of)
        drafts.append(
            period_draft(
                series,
                "count",
                start,
                end,
                gold=float(len(inside)),
                unit="count",
                tolerance=0.0,
                evidence=tuple(p.ref for p in inside),
                difficulty="hard",
            )
        )
    return drafts


@template(
    "lab.ever_measured",
    "lab_results",
    "yes_no",
    "Has the patient ever had a {name} test (as of {as_of})?",
    "Is there any {name} result in the patient's record?",
    "Was {name} ever measured for this patient?",
)
def _ever_measured(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = [
        Draft(
            params={"op": "exists", "resource_type": "Observation", "code": s.concept.token},
            slots={"name": s.label},
            gold="yes",
            evidence=tuple(p.ref for p in s.points),
            hint=hint("Observation", s.concept.token, date_to=view.as_of),
            difficulty="easy",
        )
        for s in _labs(view)
        if s.component is None
    ]
    if view.fully_dated("Observation") and view.fully_coded("observation", "Observation"):
        present = {
            (f.concept.system, f.concept.code) for f in view.facts("observation", "Observation")
        }
        categories = view.vocabulary.observation_categories
        pool = [
            c
            for c in view.vocabulary.pool("observation")
            if (c.system, c.code) not in present and categories.get((c.system, c.code)) == {_LAB}
        ]
        drafts += [absent_draft(view, "Observation", c) for c in view.unrelated(pool)]
    return drafts


@template(
    "lab.threshold",
    "lab_results",
    "yes_no",
    "Has the patient's {name} ever been {direction} {threshold} {unit} (as of {as_of})?",
    "As of {as_of}, was any {name} result {direction} {threshold} {unit}?",
    "Did any recorded {name} value fall {direction} {threshold} {unit}?",
)
def _threshold(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for series in _labs(view):
        rule = _THRESHOLDS.get(series.concept.code)
        if rule is None or series.component is not None or rule[2] != series.unit:
            continue
        direction, cut, unit = rule
        if any(abs(p.value - cut) <= series.tolerance for p in series.points):
            continue
        hits = [
            p for p in series.points if (p.value > cut if direction == "above" else p.value < cut)
        ]
        drafts.append(
            Draft(
                params={
                    "op": "any_beyond",
                    **series.params,
                    "direction": direction,
                    "threshold": cut,
                },
                slots={
                    "name": series.label,
                    "direction": direction,
                    "threshold": f"{cut:g}",
                    "unit": unit,
                },
                gold="yes" if hits else "no",
                # No value beyond the cut-off is proven by all the values there are.
                evidence=tuple(p.ref for p in (hits or series.points)),
                hint=hint("Observation", series.concept.token, date_to=view.as_of),
                difficulty="medium",
            )
        )
    return drafts


def _lab_reports(view: PatientView) -> list[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]:
    """Lab reports on or before as-of, unique by (code, day), with all results resolved."""
    reports = view.resources("DiagnosticReport")
    keys = [(concept_of(r.get("code")), record_day(r)) for r in reports]
    usable = []
    for report, key in zip(reports, keys, strict=True):
        concept = key[0]
        if concept is None or concept.display is None or keys.count(key) != 1:
            continue
        results: list[Mapping[str, Any]] = []
        for link in report.get("result") or []:
            target = view.record.resolve(
                link.get("reference") if isinstance(link, Mapping) else None
            )
            if target is None or target.get("resourceType") != "Observation":
                results = []
                break
            results.append(target)
        if results and all(_LAB in observation_category_codes(r) for r in results):
            usable.append((report, results))
    return usable


@template(
    "lab.report_value",
    "lab_results",
    "number",
    "In the {report} of {day}, what was the {name} result?",
    "What {name} value did the {report} dated {day} report?",
    "The patient had a {report} on {day}. What was the {name}?",
)
def _report_value(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for report, results in _lab_reports(view):
        names = [concept_of(r.get("code")) for r in results]
        report_concept = concept_of(report.get("code"))
        day = record_day(report)
        assert report_concept is not None
        assert day is not None
        for result, concept in zip(results, names, strict=True):
            value = quantity(result.get("valueQuantity"))
            if (
                value is None
                or concept is None
                or not view.vocabulary.nameable("observation", concept)
                or sum(1 for c in names if c == concept) != 1
            ):
                continue
            drafts.append(
                Draft(
                    params={
                        "op": "report_value",
                        "resource_type": "Observation",
                        "code": concept.token,
                        "report_code": report_concept.token,
                        "day": day.isoformat(),
                    },
                    slots={
                        "name": concept.display or "",
                        "report": report_concept.display or "",
                        "day": day.isoformat(),
                    },
                    gold=round(value[0], 2),
                    unit=value[1],
                    tolerance=max(0.051, round(abs(value[0]) * 0.005, 3)),
                    evidence=(ref(report), ref(result)),
                    hint=hint("DiagnosticReport", report_concept.token, day, day),
                )
            )
    return drafts


@template(
    "lab.report_members",
    "lab_results",
    "set",
    "Which tests were reported in the {report} of {day}?",
    "List the results included in the patient's {report} dated {day}.",
    "What did the {report} on {day} measure? Name each test.",
)
def _report_members(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for report, results in _lab_reports(view):
        concepts = [concept_of(r.get("code")) for r in results]
        if not all(view.vocabulary.nameable("observation", c) for c in concepts):
            continue
        names = sorted({c.display or "" for c in concepts if c is not None})
        if not 2 <= len(names) <= 8:
            continue
        report_concept = concept_of(report.get("code"))
        day = record_day(report)
        assert report_concept is not None
        assert day is not None
        drafts.append(
            Draft(
                params={
                    "op": "report_members",
                    "resource_type": "DiagnosticReport",
                    "code": report_concept.token,
                    "day": day.isoformat(),
                },
                slots={"report": report_concept.display or "", "day": day.isoformat()},
                gold=names,
                evidence=(ref(report), *(ref(r) for r in results)),
                hint=hint("DiagnosticReport", report_concept.token, day, day),
                difficulty="medium",
            )
        )
    return drafts


TEMPLATES: tuple[Template, ...] = (
    end_value(
        "lab.latest_value",
        "lab_results",
        _labs,
        "latest",
        "What was the patient's most recent {name} result as of {as_of}?",
        "As of {as_of}, what is the latest recorded value of {name}?",
        "Give the value of the last {name} measurement on or before {as_of}.",
    ),
    end_value(
        "lab.first_value",
        "lab_results",
        _labs,
        "first",
        "What was the patient's first recorded {name} result?",
        "What value did the earliest {name} measurement in the record show?",
        "When {name} was measured for the first time, what was the result?",
    ),
    latest_date(
        "lab.latest_date",
        "lab_results",
        _labs,
        "When was {name} last measured (as of {as_of})?",
        "On what date was the patient's most recent {name} test?",
        "What is the date of the latest {name} result on or before {as_of}?",
    ),
    _count_in_range,
    extreme_in_range(
        "lab.max_in_range",
        "lab_results",
        _labs,
        "max",
        "What was the highest {name} value between {range}?",
        "Between {range}, what was the peak {name} result?",
        "Of all {name} results from {from} to {to}, which value was the highest?",
    ),
    _ever_measured,
    _threshold,
    _report_value,
    _report_members,
)
