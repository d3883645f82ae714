"""Encounter questions: counts, last visit of a class, ever admitted, type of a visit."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from evals.builder.record import record_day
from evals.builder.templates.base import Draft, Template, hint, pick_distractors, template
from evals.builder.templates.concepts import count_in_range
from evals.builder.view import PatientView, ref

__all__ = ["ENCOUNTER_CLASSES", "TEMPLATES", "encounter_class"]

_TYPE = "Encounter"
ENCOUNTER_CLASSES: dict[str, str] = {
    "EMER": "emergency department visit",
    "IMP": "inpatient admission",
    "AMB": "ambulatory (outpatient) visit",
}


def encounter_class(resource: Mapping[str, Any]) -> str | None:
    """The v3 ActCode of an Encounter's class, if present."""
    value = resource.get("class")
    code = value.get("code") if isinstance(value, Mapping) else None
    return code if isinstance(code, str) else None


def _by_class(view: PatientView) -> list[tuple[str, str, list[Mapping[str, Any]]]]:
    """(code, label, encounters) of every class in ENCOUNTER_CLASSES, the empty ones too.

    Nothing when any encounter of the record lacks a class or a day: no class count is sure.
    """
    records = view.record.of_type(_TYPE)
    if not all(encounter_class(r) and record_day(r) for r in records):
        return []
    encounters = view.resources(_TYPE)
    return [
        (code, label, [r for r in encounters if encounter_class(r) == code])
        for code, label in ENCOUNTER_CLASSES.items()
    ]


@template(
    "enc.ever_class",
    "encounters",
    "yes_no",
    "Has the patient ever had an {name} (as of {as_of})?",
    "Does the record contain any {name} for this patient?",
    "As of {as_of}, has the patient had at least one {name}?",
)
def _ever_class(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for code, label, hits in _by_class(view):
        drafts.append(
            Draft(
                params={"op": "exists_class", "resource_type": _TYPE, "class": code},
                slots={"name": label},
                gold="yes" if hits else "no",
                evidence=tuple(ref(r) for r in hits) or (view.patient_ref,),
                hint=hint(_TYPE, None, date_to=view.as_of),
                difficulty="easy" if hits else "medium",
            )
        )
    return drafts


@template(
    "enc.class_count",
    "encounters",
    "number",
    "How many {plural} has the patient had (as of {as_of})?",
    "Count the patient's {plural} on or before {as_of}.",
    "As of {as_of}, what is the total number of {plural} in the record?",
)
def _class_count(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for code, label, hits in _by_class(view):
        if not hits:
            continue
        drafts.append(
            Draft(
                params={"op": "count", "resource_type": _TYPE, "class": code},
                slots={
                    "plural": label.replace("visit", "visits").replace("admission", "admissions")
                },
                gold=float(len(hits)),
                unit="count",
                tolerance=0.0,
                evidence=tuple(ref(r) for r in hits),
                hint=hint(_TYPE, None, date_to=view.as_of),
                difficulty="medium" if len(hits) < 5 else "hard",
            )
        )
    return drafts


@template(
    "enc.last_of_class",
    "encounters",
    "date",
    "When was the patient's most recent {name} (as of {as_of})?",
    "On what date did the patient last have an {name}?",
    "What is the date of the latest {name} on or before {as_of}?",
)
def _last_of_class(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for code, label, hits in _by_class(view):
        if not hits:
            continue
        last = record_day(hits[-1])
        assert last is not None
        drafts.append(
            Draft(
                params={"op": "last_date", "resource_type": _TYPE, "class": code},
                slots={"name": label},
                gold=last.isoformat(),
                precision="day",
                evidence=tuple(ref(r) for r in hits if record_day(r) == last),
                hint=hint(_TYPE, None, date_to=view.as_of),
            )
        )
    return drafts


@template(
    "enc.type_on_day",
    "encounters",
    "choice",
    "What type of encounter did the patient have on {day}?",
    "On {day} the patient had an encounter. Which type was it?",
    "Which of these describes the patient's encounter of {day}?",
)
def _type_on_day(view: PatientView, rng: random.Random) -> list[Draft]:
    facts = view.facts("encounter_type", _TYPE)
    per_day: dict[str, list[Any]] = {}
    for resource in view.resources(_TYPE):
        per_day.setdefault(str(record_day(resource)), []).append(resource)
    pool = [c.display or "" for c in view.vocabulary.pool("encounter_type")]
    drafts = []
    for fact in facts:
        if len(per_day.get(str(fact.day), [])) != 1:
            continue
        if not view.vocabulary.nameable("encounter_type", fact.concept):
            continue
        choices = pick_distractors(rng, fact.concept.display or "", pool)
        if choices is None:
            continue
        drafts.append(
            Draft(
                params={
                    "op": "type_on_day",
                    "resource_type": _TYPE,
                    "day": fact.day.isoformat(),
                    "code": fact.concept.token,
                },
                slots={"day": fact.day.isoformat()},
                gold=fact.concept.display,
                choices=choices,
                evidence=(fact.ref,),
                hint=hint(_TYPE, None, fact.day, fact.day),
            )
        )
    return drafts


TEMPLATES: tuple[Template, ...] = (
    _ever_class,
    _class_count,
    _last_of_class,
    _type_on_day,
    count_in_range(
        "enc.count_in_range",
        "encounters",
        "encounter_type",
        _TYPE,
        "count",
        "How many encounters did the patient have between {range}?",
        "Between {range}, how many healthcare encounters are recorded?",
        "Count the patient's encounters dated from {from} to {to}.",
    ),
)
