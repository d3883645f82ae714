"""Condition questions: ever, never, active on the as-of day, onset, resolution, episodes.

A condition's state on a day comes from its onset and abatement dates. A condition that
recurred (several Condition resources with one code) has no single "is it active?" answer a
reader could agree on, so that question is asked only of single-episode conditions, and only
when the record's clinicalStatus agrees with the dates.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from evals.builder.record import Concept, day_of
from evals.builder.templates.base import Draft, Template, hint, template
from evals.builder.templates.concepts import (
    active_set_drafts,
    count_in_range,
    count_of_concept,
    date_of_concept,
    ever_absent,
    ever_present,
    which_of,
)
from evals.builder.view import Fact, PatientView
from evals.builder.vocabulary import ConceptKind

__all__ = ["TEMPLATES", "condition_active_on"]

_KIND: ConceptKind = "condition"
_TYPE = "Condition"


def _clinical_status(resource: Mapping[str, Any]) -> str | None:
    status = resource.get("clinicalStatus")
    for coding in status.get("coding") or [] if isinstance(status, Mapping) else []:
        if isinstance(coding, Mapping) and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def condition_active_on(view: PatientView, fact: Fact) -> bool | None:
    """Whether a condition was active on the as-of day; None when the record cannot say."""
    resource = fact.resource
    status = _clinical_status(resource)
    raw_end = resource.get("abatementDateTime")
    end = day_of(raw_end)
    if raw_end is not None and end is None:
        return None
    if end is not None:
        if status not in ("resolved", "inactive", "remission"):
            return None
        return end > view.as_of
    if status in ("active", "recurrence", "relapse"):
        return True
    # Resolved without a date: true on the record's last day, unknown before it.
    if status in ("resolved", "inactive", "remission") and view.status_current:
        return False
    return None


def _single_episodes(view: PatientView) -> list[tuple[Concept, Fact]]:
    """Conditions recorded once: a recurring one has no single state or resolution day."""
    return [
        (concept, facts[0])
        for concept, facts in view.by_concept(_KIND, _TYPE).items()
        if len(facts) == 1
    ]


@template(
    "cond.active",
    "conditions",
    "yes_no",
    "As of {as_of}, is the patient's {name} active?",
    "Is {name} a current (active) condition for the patient on {as_of}?",
    "On {as_of}, was the patient's {name} still active?",
)
def _active(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for concept, fact in _single_episodes(view):
        state = condition_active_on(view, fact)
        if state is None:
            continue
        drafts.append(
            Draft(
                params={"op": "condition_active", "resource_type": _TYPE, "code": concept.token},
                slots={"name": concept.display or ""},
                gold="yes" if state else "no",
                evidence=(fact.ref,),
                hint=hint(_TYPE, concept.token, date_to=view.as_of),
            )
        )
    return drafts


@template(
    "cond.active_set",
    "conditions",
    "set",
    "Which conditions are active for the patient as of {as_of}?",
    "List the patient's active problems on {as_of}.",
    "As of {as_of}, what conditions does the patient currently have (active only)?",
)
def _active_set(view: PatientView, rng: random.Random) -> list[Draft]:
    if not (view.fully_dated(_TYPE) and view.fully_coded(_KIND, _TYPE)):
        return []
    active: list[Fact] = []
    for fact in view.facts(_KIND, _TYPE):
        state = condition_active_on(view, fact)
        if state is None or not view.vocabulary.nameable(_KIND, fact.concept):
            return []
        if state:
            active.append(fact)
    return active_set_drafts(view, "active_conditions", _TYPE, active, hard_over=3)


@template(
    "cond.resolution_date",
    "conditions",
    "date",
    "When did the patient's {name} resolve?",
    "On what date was the patient's {name} recorded as resolved?",
    "What is the abatement date of the patient's {name}?",
)
def _resolution_date(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for concept, fact in _single_episodes(view):
        end = day_of(fact.resource.get("abatementDateTime"))
        if end is None or end > view.as_of:
            continue
        drafts.append(
            Draft(
                params={"op": "abatement_date", "resource_type": _TYPE, "code": concept.token},
                slots={"name": concept.display or ""},
                gold=end.isoformat(),
                precision="day",
                evidence=(fact.ref,),
                hint=hint(_TYPE, concept.token, date_to=view.as_of),
            )
        )
    return drafts


# One wording whether the answer is yes (ever_present) or no (ever_absent): it gives nothing away.
_EVER_PHRASINGS = (
    "Has the patient ever been diagnosed with {name} (as of {as_of})?",
    "Does the patient's record show a diagnosis of {name}?",
    "Has {name} ever been recorded as a condition for this patient?",
)

TEMPLATES: tuple[Template, ...] = (
    ever_present("cond.ever", "conditions", _KIND, _TYPE, *_EVER_PHRASINGS),
    ever_absent("cond.never", "conditions", _KIND, _TYPE, *_EVER_PHRASINGS),
    _active,
    _active_set,
    date_of_concept(
        "cond.onset_date",
        "conditions",
        _KIND,
        _TYPE,
        "first",
        "When was the patient first diagnosed with {name}?",
        "What is the onset date of the patient's first episode of {name}?",
        "On what date did {name} first appear in the patient's record?",
    ),
    _resolution_date,
    count_of_concept(
        "cond.episode_count",
        "conditions",
        _KIND,
        _TYPE,
        "count",
        "How many separate episodes of {name} has the patient had (as of {as_of})?",
        "How many times has the patient been diagnosed with {name}?",
        "Count the recorded occurrences of {name} in the patient's conditions.",
    ),
    which_of(
        "cond.which",
        "conditions",
        _KIND,
        _TYPE,
        "Which of the following conditions has the patient been diagnosed with?",
        "One of these conditions appears in the patient's record. Which one?",
        "Which of these diagnoses is recorded for the patient?",
    ),
    count_in_range(
        "cond.count_in_range",
        "conditions",
        _KIND,
        _TYPE,
        "count",
        "How many condition diagnoses have an onset between {range}?",
        "Between {range}, how many new conditions (episodes) were diagnosed?",
        "Count the conditions with onset dated from {from} to {to}.",
    ),
)
