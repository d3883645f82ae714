"""Demographic questions, answered by the Patient resource (and the smoking-status survey).

Age is whole years on the as-of day, or at death for a patient who died on or before it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from evals.builder.record import clean_text, concept_of
from evals.builder.templates.base import Draft, Template, hint, pick_distractors, template
from evals.builder.view import PatientView, age_on, ref

__all__ = ["TEMPLATES"]

_GENDERS = ("female", "male", "other", "unknown")
# HL7 v3 MaritalStatus codes: Synthea writes the code as the display ("M"), so map it.
_MARITAL = {
    "A": "Annulled",
    "D": "Divorced",
    "I": "Interlocutory",
    "L": "Legally separated",
    "M": "Married",
    "P": "Polygamous",
    "S": "Never married",
    "T": "Domestic partner",
    "W": "Widowed",
}
_MARITAL_CHOICES = ("Married", "Never married", "Divorced", "Widowed", "Legally separated")
_RACES = (
    "White",
    "Black or African American",
    "Asian",
    "American Indian or Alaska Native",
    "Native Hawaiian or Other Pacific Islander",
    "Other",
)
_SMOKING_CODE = "72166-2"
_SMOKING_CHOICES = (
    "Never smoker",
    "Former smoker",
    "Current every day smoker",
    "Current some day smoker",
)
_RACE_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"


def _patient_draft(view: PatientView, op: str, gold: Any, **extra: Any) -> Draft:
    return Draft(
        params={"op": op},
        slots={},
        gold=gold,
        evidence=(view.patient_ref,),
        hint=hint("Patient"),
        difficulty="easy",
        **extra,
    )


def _patient_day(
    template_id: str, op: str, day_of: Callable[[PatientView], date | None], *phrasings: str
) -> Template:
    """A day the Patient resource records (birth, death), asked when it is there."""

    @template(template_id, "demographics", "date", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        day = day_of(view)
        if day is None:
            return []
        return [_patient_draft(view, op, day.isoformat(), precision="day")]

    return generate


def _patient_choice(
    view: PatientView, rng: random.Random, op: str, gold: str, options: tuple[str, ...]
) -> list[Draft]:
    """The recorded value among distractors from fixed ``options``; nothing if too few."""
    choices = pick_distractors(rng, gold, options)
    return [_patient_draft(view, op, gold, choices=choices)] if choices else []


@template(
    "demo.age",
    "demographics",
    "number",
    "How old is the patient as of {as_of}?",
    "What is the patient's age in whole years on {as_of}?",
    "As of {as_of}, how many full years old is the patient?",
)
def _age(view: PatientView, rng: random.Random) -> list[Draft]:
    birth = view.birth_date
    if birth is None or not view.alive_status_known or view.death_date is not None:
        return []
    if birth > view.as_of:
        return []
    return [
        _patient_draft(view, "age", float(age_on(birth, view.as_of)), unit="years", tolerance=0.0)
    ]


@template(
    "demo.age_at_death",
    "demographics",
    "number",
    "How old was the patient when they died?",
    "At what age, in whole years, did the patient die?",
    "What was the patient's age at death?",
)
def _age_at_death(view: PatientView, rng: random.Random) -> list[Draft]:
    birth, death = view.birth_date, view.death_date
    if birth is None or death is None or death < birth:
        return []
    return [
        _patient_draft(
            view, "age_at_death", float(age_on(birth, death)), unit="years", tolerance=0.0
        )
    ]


@template(
    "demo.gender",
    "demographics",
    "choice",
    "What is the patient's administrative gender?",
    "Which gender is recorded for the patient?",
    "The patient's record lists which gender?",
)
def _gender(view: PatientView, rng: random.Random) -> list[Draft]:
    gender = view.record.patient.get("gender")
    if gender not in _GENDERS:
        return []
    return [_patient_draft(view, "gender", gender, choices=_GENDERS)]


@template(
    "demo.deceased",
    "demographics",
    "yes_no",
    "As of {as_of}, is the patient deceased?",
    "Had the patient died by {as_of}?",
    "Does the record show that the patient died on or before {as_of}?",
)
def _deceased(view: PatientView, rng: random.Random) -> list[Draft]:
    if not view.alive_status_known:
        return []
    return [_patient_draft(view, "deceased", "yes" if view.death_date else "no")]


@template(
    "demo.marital_status",
    "demographics",
    "choice",
    "What is the patient's marital status?",
    "Which marital status is recorded for the patient?",
    "According to the record, what is the patient's marital status?",
)
def _marital_status(view: PatientView, rng: random.Random) -> list[Draft]:
    status = view.record.patient.get("maritalStatus")
    codings = status.get("coding") if isinstance(status, Mapping) else None
    codes = {c.get("code") for c in codings or [] if isinstance(c, Mapping)}
    if len(codes) != 1:
        return []
    gold = _MARITAL.get(str(codes.pop()))
    if gold is None:
        return []
    return _patient_choice(view, rng, "marital_status", gold, _MARITAL_CHOICES)


@template(
    "demo.language",
    "demographics",
    "text",
    "What language does the patient speak?",
    "Which language is recorded for communicating with the patient?",
    "In what language does the patient communicate?",
)
def _language(view: PatientView, rng: random.Random) -> list[Draft]:
    communication = view.record.patient.get("communication")
    if not isinstance(communication, list) or len(communication) != 1:
        return []
    language = communication[0].get("language") if isinstance(communication[0], Mapping) else None
    concept = concept_of(language)
    if concept is None or concept.display is None:
        return []
    return [_patient_draft(view, "language", concept.display)]


def race_of(patient: Mapping[str, Any]) -> str | None:
    """The US Core race category display, if exactly one is recorded."""
    found = []
    for extension in patient.get("extension") or []:
        if not isinstance(extension, Mapping) or extension.get("url") != _RACE_URL:
            continue
        for part in extension.get("extension") or []:
            if isinstance(part, Mapping) and part.get("url") == "ombCategory":
                coding = part.get("valueCoding")
                display = clean_text(coding.get("display")) if isinstance(coding, Mapping) else None
                if display:
                    found.append(display)
    return found[0] if len(found) == 1 else None


@template(
    "demo.race",
    "demographics",
    "choice",
    "What race is recorded for the patient?",
    "Which race category does the patient's record list?",
    "According to the record, what is the patient's race?",
)
def _race(view: PatientView, rng: random.Random) -> list[Draft]:
    race = race_of(view.record.patient)
    if race is None:
        return []
    return _patient_choice(view, rng, "race", race, _RACES)


@template(
    "demo.smoking_status",
    "demographics",
    "choice",
    "What is the patient's most recent recorded tobacco smoking status (as of {as_of})?",
    "As of {as_of}, how is the patient's smoking status recorded?",
    "Which smoking status did the patient's latest tobacco use survey record?",
)
def _smoking_status(view: PatientView, rng: random.Random) -> list[Draft]:
    surveys = [
        f for f in view.facts("observation", "Observation") if f.concept.code == _SMOKING_CODE
    ]
    if not surveys:
        return []
    last_day = surveys[-1].day
    latest = [f for f in surveys if f.day == last_day]
    values = {(concept_of(f.resource.get("valueCodeableConcept")) or None) for f in latest}
    if len(values) != 1:
        return []
    value = values.pop()
    if value is None or value.display is None:
        return []
    choices = pick_distractors(rng, value.display, _SMOKING_CHOICES)
    if choices is None:
        return []
    return [
        Draft(
            params={
                "op": "latest_coded_value",
                "resource_type": "Observation",
                "code": latest[0].concept.token,
            },
            slots={},
            gold=value.display,
            choices=choices,
            evidence=tuple(ref(f.resource) for f in latest),
            hint=hint("Observation", latest[0].concept.token, date_to=view.as_of),
        )
    ]


TEMPLATES: tuple[Template, ...] = (
    _age,
    _age_at_death,
    _patient_day(
        "demo.birth_date",
        "birth_date",
        lambda view: view.birth_date,
        "What is the patient's date of birth?",
        "When was the patient born?",
        "Give the patient's birth date.",
    ),
    _gender,
    _deceased,
    _patient_day(
        "demo.death_date",
        "death_date",
        lambda view: view.death_date,
        "On what date did the patient die?",
        "When did the patient die?",
        "What is the patient's date of death?",
    ),
    _marital_status,
    _language,
    _race,
    _smoking_status,
)
