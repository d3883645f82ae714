"""Medication questions: ever, never, drug classes, first prescribed, active list, latest.

Drug classes are recognised from ingredient names in the RxNorm display (Synthea spells
simvastatin "Simvistatin"). Nystatin is an antifungal, not a statin: classes list
ingredients, never a suffix.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

from evals.builder.templates.base import Draft, Template, hint, template
from evals.builder.templates.concepts import (
    active_set_drafts,
    count_of_concept,
    date_of_concept,
    ever_absent,
    ever_present,
    which_of,
)
from evals.builder.view import PatientView
from evals.builder.vocabulary import ConceptKind

__all__ = ["DRUG_CLASSES", "TEMPLATES"]

_KIND: ConceptKind = "medication"
_TYPE = "MedicationRequest"

DRUG_CLASSES: dict[str, tuple[str, str]] = {
    "statin": (
        "a statin",
        r"\b(simvastatin|simvistatin|atorvastatin|rosuvastatin|pravastatin|lovastatin|"
        r"fluvastatin|pitavastatin)\b",
    ),
    "opioid": (
        "an opioid",
        r"\b(oxycodone|hydrocodone|morphine|fentanyl|meperidine|codeine|tramadol|"
        r"hydromorphone|methadone|buprenorphine)\b",
    ),
    "antibiotic": (
        "an antibiotic",
        r"\b(amoxicillin|penicillin|cephalexin|azithromycin|doxycycline|ciprofloxacin|"
        r"nitrofurantoin|clavulanate|cefuroxime|clindamycin|trimethoprim)\b",
    ),
    "insulin": ("insulin", r"\binsulin\b"),
    "metformin": ("metformin", r"\bmetformin\b"),
    "nsaid": ("an NSAID", r"\b(ibuprofen|naproxen|aspirin|diclofenac|celecoxib|meloxicam)\b"),
    "anticoagulant": (
        "an anticoagulant",
        r"\b(warfarin|heparin|enoxaparin|apixaban|rivaroxaban|dabigatran)\b",
    ),
    "inhaled_corticosteroid": (
        "an inhaled corticosteroid",
        r"\b(fluticasone|budesonide|beclomethasone|mometasone)\b",
    ),
}


def _status(resource: Mapping[str, Any]) -> str | None:
    status = resource.get("status")
    return status if isinstance(status, str) else None


@template(
    "med.class_ever",
    "medications",
    "yes_no",
    "Has the patient ever been prescribed {name} (as of {as_of})?",
    "Is there any prescription for {name} in the patient's record?",
    "Has {name} ever been ordered for this patient?",
)
def _class_ever(view: PatientView, rng: random.Random) -> list[Draft]:
    # An unnamed medication could belong to any class: absence would be unprovable.
    if not (view.fully_dated(_TYPE) and view.fully_coded(_KIND, _TYPE)):
        return []
    facts = view.facts(_KIND, _TYPE)
    drafts = []
    for key, (label, pattern) in DRUG_CLASSES.items():
        hits = [f for f in facts if re.search(pattern, (f.concept.display or "").lower())]
        drafts.append(
            Draft(
                params={
                    "op": "exists_class",
                    "resource_type": _TYPE,
                    "drug_class": key,
                    "pattern": pattern,
                },
                slots={"name": label},
                gold="yes" if hits else "no",
                evidence=tuple(f.ref for f in hits) or (view.patient_ref,),
                hint=hint(_TYPE, None, date_to=view.as_of),
                difficulty="medium" if hits else "hard",
            )
        )
    return drafts


@template(
    "med.active_set",
    "medications",
    "set",
    "Which medications are active for the patient as of {as_of}?",
    "List the patient's active medication orders on {as_of}.",
    "As of {as_of}, which prescriptions are still active?",
)
def _active_set(view: PatientView, rng: random.Random) -> list[Draft]:
    if not view.status_current or not view.fully_coded(_KIND, _TYPE):
        return []
    facts = view.facts(_KIND, _TYPE)
    if any(_status(f.resource) is None for f in facts):
        return []
    active = [f for f in facts if _status(f.resource) == "active"]
    if not all(view.vocabulary.nameable(_KIND, f.concept) for f in active):
        return []
    return active_set_drafts(view, "active_medications", _TYPE, active)


@template(
    "med.latest",
    "medications",
    "text",
    "What was the most recently prescribed medication as of {as_of}?",
    "Which medication was ordered for the patient most recently (as of {as_of})?",
    "Name the latest medication prescription in the record on or before {as_of}.",
)
def _latest(view: PatientView, rng: random.Random) -> list[Draft]:
    facts = view.facts(_KIND, _TYPE)
    if not facts or not view.fully_coded(_KIND, _TYPE):
        return []
    last_day = facts[-1].day
    latest = [f for f in facts if f.day == last_day]
    concepts = {f.concept for f in latest}
    if len(concepts) != 1 or not view.vocabulary.nameable(_KIND, latest[0].concept):
        return []
    return [
        Draft(
            params={"op": "latest_concept", "resource_type": _TYPE},
            slots={},
            gold=latest[0].concept.display,
            evidence=tuple(f.ref for f in latest),
            hint=hint(_TYPE, None, date_to=view.as_of),
        )
    ]


# One wording whether the answer is yes (ever_present) or no (ever_absent): it gives nothing away.
_EVER_PHRASINGS = (
    "Has the patient ever been prescribed {name} (as of {as_of})?",
    "Is there a prescription for {name} in the patient's record?",
    "Was {name} ever ordered for this patient?",
)

TEMPLATES: tuple[Template, ...] = (
    ever_present("med.ever", "medications", _KIND, _TYPE, *_EVER_PHRASINGS),
    ever_absent("med.never", "medications", _KIND, _TYPE, *_EVER_PHRASINGS),
    _class_ever,
    date_of_concept(
        "med.first_prescribed",
        "medications",
        _KIND,
        _TYPE,
        "first",
        "When was {name} first prescribed to the patient?",
        "On what date was the patient's first prescription of {name}?",
        "What is the date of the earliest order for {name}?",
    ),
    count_of_concept(
        "med.prescription_count",
        "medications",
        _KIND,
        _TYPE,
        "count",
        "How many times has {name} been prescribed (as of {as_of})?",
        "How many prescriptions for {name} are in the patient's record?",
        "Count the medication orders for {name}.",
    ),
    which_of(
        "med.which",
        "medications",
        _KIND,
        _TYPE,
        "Which of the following medications has the patient been prescribed?",
        "One of these medications appears in the patient's prescriptions. Which one?",
        "Which of these drugs was ordered for the patient?",
    ),
    _active_set,
    _latest,
)
