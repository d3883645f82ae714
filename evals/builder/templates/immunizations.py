"""Immunization questions: received or not, how many doses, last dose, vaccines in a year.

"Never received" is asked only for a vaccine whose group (hepatitis A, tetanus-containing,
pneumococcal, ...) the patient has no dose of: a patient with "Hep A, ped/adol" would fairly
answer yes to "the hepatitis A vaccine" even if never given "Hep A, adult".
"""

from __future__ import annotations

import random
import re

from evals.builder.record import Concept
from evals.builder.templates.base import Draft, Template, template
from evals.builder.templates.concepts import (
    absent_draft,
    count_of_concept,
    date_of_concept,
    ever_present,
    set_on_day,
)
from evals.builder.view import PatientView
from evals.builder.vocabulary import ConceptKind, concept_for

__all__ = ["TEMPLATES", "vaccine_group"]

_KIND: ConceptKind = "immunization"
_TYPE = "Immunization"

_GROUPS: tuple[tuple[str, str], ...] = (
    ("influenza", r"influenza|\bflu\b"),
    ("tetanus", r"\btd\b|tdap|dtap|tetanus|diphtheria|pertussis"),
    ("hepatitis_a", r"hep a|hepatitis a"),
    ("hepatitis_b", r"hep b|hepatitis b"),
    ("pneumococcal", r"pneumococcal|pcv|ppsv"),
    ("hpv", r"\bhpv\b|papilloma"),
    ("meningococcal", r"mening|mcv4"),
    ("zoster_varicella", r"zoster|varicella|shingles|chickenpox"),
    ("mmr", r"\bmmr\b|measles|mumps|rubella"),
    ("polio", r"\bipv\b|polio"),
    ("hib", r"\bhib\b|haemophilus"),
    ("rotavirus", r"rotavirus"),
)


# One wording whether the answer is yes (imm.ever) or no (imm.never): it gives nothing away.
_EVER_PHRASINGS = (
    "Has the patient ever received the {name} vaccine (as of {as_of})?",
    "Is there a record of a {name} immunization for this patient?",
    "Was the patient ever given {name}?",
)


def vaccine_group(display: str | None) -> str | None:
    """The vaccine group of a CVX display, or None if not recognised."""
    text = (display or "").lower()
    for group, pattern in _GROUPS:
        if re.search(pattern, text):
            return group
    return None


@template("imm.never", "immunizations", "yes_no", *_EVER_PHRASINGS)
def _never(view: PatientView, rng: random.Random) -> list[Draft]:
    if not (view.fully_dated(_TYPE) and view.fully_coded(_KIND, _TYPE)):
        return []
    mine = {vaccine_group(f.concept.display) for f in view.facts(_KIND, _TYPE)}
    mine |= {vaccine_group(c.display) for c in _all_vaccines(view)}
    if None in mine:
        return []
    return [
        absent_draft(view, _TYPE, c)
        for c in view.vocabulary.pool(_KIND)
        if (group := vaccine_group(c.display)) is not None and group not in mine
    ]


def _all_vaccines(view: PatientView) -> list[Concept]:
    """Every vaccine in the record, after the as-of day too (absence must hold for all)."""
    return [c for r in view.record.of_type(_TYPE) if (c := concept_for(_KIND, r)) is not None]


TEMPLATES: tuple[Template, ...] = (
    ever_present("imm.ever", "immunizations", _KIND, _TYPE, *_EVER_PHRASINGS),
    _never,
    count_of_concept(
        "imm.dose_count",
        "immunizations",
        _KIND,
        _TYPE,
        "doses",
        "How many doses of {name} has the patient received (as of {as_of})?",
        "How many {name} immunizations are recorded?",
        "Count the patient's {name} vaccine doses.",
    ),
    date_of_concept(
        "imm.last_date",
        "immunizations",
        _KIND,
        _TYPE,
        "last",
        "When did the patient last receive {name} (as of {as_of})?",
        "What is the date of the patient's most recent {name} dose?",
        "On what date was the latest {name} vaccine given?",
    ),
    date_of_concept(
        "imm.first_date",
        "immunizations",
        _KIND,
        _TYPE,
        "first",
        "When did the patient receive their first {name} dose?",
        "What is the date of the earliest {name} immunization in the record?",
        "On what date was {name} first given to the patient?",
    ),
    set_on_day(
        "imm.on_day",
        "immunizations",
        _KIND,
        _TYPE,
        "Which vaccines did the patient receive on {day}?",
        "List the immunizations given on {day}.",
        "On {day}, which vaccines were administered?",
    ),
)
