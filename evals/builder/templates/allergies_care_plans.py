"""Allergy and care plan questions.

Allergy and care plan statuses carry no dates, so "which are active" is asked only when the
as-of day is the record's last day. An inactive allergy makes "Is the patient allergic to
X?" a matter of opinion, so it is never asked about.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from evals.builder.record import concept_of
from evals.builder.templates.base import Draft, Template, hint, template
from evals.builder.templates.concepts import (
    absent_draft,
    active_set_drafts,
    any_of_type,
    date_of_concept,
)
from evals.builder.view import Fact, PatientView, ref

__all__ = ["TEMPLATES"]

_ALLERGY = "AllergyIntolerance"
_PLAN = "CarePlan"


def _clinical_status(resource: Mapping[str, Any]) -> str | None:
    status = resource.get("clinicalStatus")
    concept = concept_of(status) if isinstance(status, Mapping) else None
    if concept is not None:
        return concept.code
    codings = status.get("coding") if isinstance(status, Mapping) else None
    for coding in codings or []:
        if isinstance(coding, Mapping) and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def _allergy_facts(view: PatientView) -> list[tuple[Fact, str | None]] | None:
    if not view.fully_coded("allergy", _ALLERGY) or not view.fully_dated(_ALLERGY):
        return None
    return [(f, _clinical_status(f.resource)) for f in view.facts("allergy", _ALLERGY)]


@template(
    "allergy.active_set",
    "allergies_care_plans",
    "set",
    "Which allergies are active for the patient as of {as_of}?",
    "List the patient's active allergies on {as_of}.",
    "As of {as_of}, what is the patient currently allergic to, according to the record?",
)
def _active_allergies(view: PatientView, rng: random.Random) -> list[Draft]:
    facts = _allergy_facts(view)
    if not view.status_current or not facts or any(s is None for _, s in facts):
        return []
    active = [f for f, s in facts if s == "active"]
    if not all(view.vocabulary.nameable("allergy", f.concept) for f in active):
        return []
    return active_set_drafts(view, "active_allergies", _ALLERGY, active)


@template(
    "allergy.specific",
    "allergies_care_plans",
    "yes_no",
    "Does the patient have a recorded {name} (as of {as_of})?",
    "Is {name} documented among the patient's allergies?",
    "According to the record, does the patient have {name}?",
)
def _specific_allergy(view: PatientView, rng: random.Random) -> list[Draft]:
    facts = _allergy_facts(view)
    if facts is None:
        return []
    drafts = []
    present = {(f.concept.system, f.concept.code) for f, _ in facts}
    for fact, status in facts:
        if status != "active" or not view.vocabulary.nameable("allergy", fact.concept):
            continue
        drafts.append(
            Draft(
                params={"op": "exists", "resource_type": _ALLERGY, "code": fact.concept.token},
                slots={"name": fact.concept.display or ""},
                gold="yes",
                evidence=(fact.ref,),
                hint=hint(_ALLERGY, fact.concept.token, date_to=view.as_of),
            )
        )
    pool = [c for c in view.vocabulary.pool("allergy") if (c.system, c.code) not in present]
    drafts += [absent_draft(view, _ALLERGY, c) for c in view.unrelated(pool)]
    return drafts


def _plans(view: PatientView) -> list[Fact] | None:
    if not view.fully_coded("careplan", _PLAN) or not view.fully_dated(_PLAN):
        return None
    facts = view.facts("careplan", _PLAN)
    return facts if all(view.vocabulary.nameable("careplan", f.concept) for f in facts) else None


@template(
    "careplan.active_set",
    "allergies_care_plans",
    "set",
    "Which care plans are active for the patient as of {as_of}?",
    "List the patient's active care plans on {as_of}.",
    "As of {as_of}, which care plans are still in progress?",
)
def _active_plans(view: PatientView, rng: random.Random) -> list[Draft]:
    plans = _plans(view)
    if not view.status_current or not plans:
        return []
    if any(not isinstance(f.resource.get("status"), str) for f in plans):
        return []
    active = [f for f in plans if f.resource.get("status") == "active"]
    return active_set_drafts(view, "active_care_plans", _PLAN, active)


def _unique_plans(view: PatientView) -> list[Fact]:
    plans = _plans(view) or []
    keys = [(f.concept, f.day) for f in plans]
    return [f for f, key in zip(plans, keys, strict=True) if keys.count(key) == 1]


def _plan_draft(fact: Fact, op: str, gold: Any, evidence: tuple[str, ...]) -> Draft:
    """A question about one care plan, named by its concept and its start day."""
    return Draft(
        params={
            "op": op,
            "resource_type": _PLAN,
            "code": fact.concept.token,
            "day": fact.day.isoformat(),
        },
        slots={"name": fact.concept.display or "", "day": fact.day.isoformat()},
        gold=gold,
        evidence=evidence,
        hint=hint(_PLAN, fact.concept.token, fact.day, fact.day),
    )


@template(
    "careplan.activities",
    "allergies_care_plans",
    "set",
    "What activities are part of the patient's {name} care plan that started on {day}?",
    "List the activities of the {name} care plan begun on {day}.",
    "The patient's {name} plan started {day}. Which activities does it include?",
)
def _activities(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for fact in _unique_plans(view):
        activities = fact.resource.get("activity") or []
        names: set[str] = set()
        for activity in activities:
            detail = activity.get("detail") if isinstance(activity, Mapping) else None
            concept = concept_of(detail.get("code")) if isinstance(detail, Mapping) else None
            if concept is None or concept.display is None:
                names = set()
                break
            names.add(concept.display)
        if not 1 <= len(names) <= 6:
            continue
        drafts.append(_plan_draft(fact, "care_plan_activities", sorted(names), (fact.ref,)))
    return drafts


@template(
    "careplan.addresses",
    "allergies_care_plans",
    "text",
    "Which condition does the patient's {name} care plan started on {day} address?",
    "What problem is the {name} plan begun on {day} for?",
    "The {name} care plan of {day} was created for which condition?",
)
def _addresses(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for fact in _unique_plans(view):
        targets = fact.resource.get("addresses") or []
        if len(targets) != 1 or not isinstance(targets[0], Mapping):
            continue
        condition = view.record.resolve(targets[0].get("reference"))
        concept = concept_of(condition.get("code")) if condition else None
        if condition is None or concept is None or concept.display is None:
            continue
        drafts.append(
            _plan_draft(fact, "care_plan_addresses", concept.display, (fact.ref, ref(condition)))
        )
    return drafts


TEMPLATES: tuple[Template, ...] = (
    any_of_type(
        "allergy.any",
        "allergies_care_plans",
        _ALLERGY,
        "Does the patient have any recorded allergies or intolerances (as of {as_of})?",
        "Is any allergy documented in the patient's record?",
        "As of {as_of}, has an allergy been recorded for this patient?",
    ),
    _active_allergies,
    _specific_allergy,
    _active_plans,
    _activities,
    _addresses,
    date_of_concept(
        "careplan.start_date",
        "allergies_care_plans",
        "careplan",
        _PLAN,
        "first",
        "When did the patient's first {name} care plan start?",
        "On what date did the patient's earliest {name} plan begin?",
        "What is the start date of the first {name} care plan in the record?",
    ),
)
