"""Procedure questions: ever, never, last performed, how many times, which, on a day."""

from __future__ import annotations

from evals.builder.templates.base import Template
from evals.builder.templates.concepts import (
    count_of_concept,
    date_of_concept,
    ever_absent,
    ever_present,
    set_on_day,
    which_of,
)
from evals.builder.vocabulary import ConceptKind

__all__ = ["TEMPLATES"]

_KIND: ConceptKind = "procedure"
_TYPE = "Procedure"

# One wording whether the answer is yes (ever_present) or no (ever_absent): it gives nothing away.
_EVER_PHRASINGS = (
    "Has the patient ever undergone {name} (as of {as_of})?",
    "Is there a record of the procedure {name} for this patient?",
    "Was {name} ever performed on the patient?",
)

TEMPLATES: tuple[Template, ...] = (
    ever_present("proc.ever", "procedures", _KIND, _TYPE, *_EVER_PHRASINGS),
    ever_absent("proc.never", "procedures", _KIND, _TYPE, *_EVER_PHRASINGS),
    date_of_concept(
        "proc.last_date",
        "procedures",
        _KIND,
        _TYPE,
        "last",
        "When was {name} most recently performed (as of {as_of})?",
        "On what date did the patient last undergo {name}?",
        "What is the date of the latest {name} procedure?",
    ),
    count_of_concept(
        "proc.count",
        "procedures",
        _KIND,
        _TYPE,
        "count",
        "How many times has the patient undergone {name} (as of {as_of})?",
        "How many {name} procedures are recorded for the patient?",
        "Count the patient's recorded {name} procedures.",
    ),
    which_of(
        "proc.which",
        "procedures",
        _KIND,
        _TYPE,
        "Which of the following procedures has the patient undergone?",
        "One of these procedures appears in the patient's record. Which one?",
        "Which of these procedures was performed on the patient?",
    ),
    set_on_day(
        "proc.on_day",
        "procedures",
        _KIND,
        _TYPE,
        "Which procedures were performed on the patient on {day}?",
        "List the procedures recorded on {day}.",
        "On {day}, what procedures did the patient undergo?",
    ),
)
