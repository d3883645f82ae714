"""Template factories shared by every coded-concept category (conditions, procedures, ...).

Each factory returns a :class:`Template` for one concept kind: ever/never, first or last
date, how many times, which of these, what on a given day, how many in a date range, or for
one resource type: any at all. The draft helpers build the "never had it" and the "which are
active" answers that several categories give the same way.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date

from evals.builder.record import Concept, record_day
from evals.builder.templates.base import (
    Category,
    Draft,
    Template,
    hint,
    period_params,
    period_slots,
    pick_distractors,
    template,
    year_range,
)
from evals.builder.view import Fact, PatientView, ref
from evals.builder.vocabulary import ConceptKind

__all__ = [
    "absent_draft",
    "active_set_drafts",
    "any_of_type",
    "count_in_range",
    "count_of_concept",
    "date_of_concept",
    "ever_absent",
    "ever_present",
    "set_on_day",
    "which_of",
]

FactFilter = Callable[[Fact], bool]


def _all(_: Fact) -> bool:
    return True


def absent_draft(view: PatientView, resource_type: str, concept: Concept) -> Draft:
    """Ever had {name}? answered no. Evidence: ``Patient/<id>`` (the record as a whole)."""
    return Draft(
        params={"op": "exists", "resource_type": resource_type, "code": concept.token},
        slots={"name": concept.display or ""},
        gold="no",
        evidence=(view.patient_ref,),
        hint=hint(resource_type, concept.token, date_to=view.as_of),
        difficulty="medium",
    )


def active_set_drafts(
    view: PatientView,
    op: str,
    resource_type: str,
    active: Sequence[Fact],
    *,
    hard_over: int | None = None,
) -> list[Draft]:
    """Which are active? answered by the distinct names of ``active``; asked for 1 to 8 names.

    The question is hard when it has more than ``hard_over`` names, medium otherwise.
    """
    names = sorted({f.concept.display or "" for f in active})
    if not 1 <= len(names) <= 8:
        return []
    return [
        Draft(
            params={"op": op, "resource_type": resource_type},
            slots={},
            gold=names,
            evidence=tuple(f.ref for f in active),
            hint=hint(resource_type, None, date_to=view.as_of),
            difficulty="hard" if hard_over is not None and len(names) > hard_over else "medium",
        )
    ]


def any_of_type(
    template_id: str, category: Category, resource_type: str, *phrasings: str
) -> Template:
    """Any resource of a type at all? Asked only when every one of them is dated."""

    @template(template_id, category, "yes_no", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        if not view.fully_dated(resource_type):
            return []
        found = view.resources(resource_type)
        return [
            Draft(
                params={"op": "exists", "resource_type": resource_type},
                slots={},
                gold="yes" if found else "no",
                evidence=tuple(ref(r) for r in found) or (view.patient_ref,),
                hint=hint(resource_type, None, date_to=view.as_of),
                difficulty="easy",
            )
        ]

    return generate


def ever_present(
    template_id: str,
    category: Category,
    kind: ConceptKind,
    resource_type: str,
    *phrasings: str,
    keep: FactFilter = _all,
) -> Template:
    """Ever had {name}? answered yes; evidence: every matching resource."""

    @template(template_id, category, "yes_no", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        drafts = []
        for concept, facts in view.by_concept(kind, resource_type).items():
            facts = [f for f in facts if keep(f)]
            if not facts:
                continue
            drafts.append(
                Draft(
                    params={"op": "exists", "resource_type": resource_type, "code": concept.token},
                    slots={"name": concept.display or ""},
                    gold="yes",
                    evidence=tuple(f.ref for f in facts),
                    hint=hint(resource_type, concept.token, date_to=view.as_of),
                    difficulty="easy",
                )
            )
        return drafts

    return generate


def ever_absent(
    template_id: str,
    category: Category,
    kind: ConceptKind,
    resource_type: str,
    *phrasings: str,
) -> Template:
    """Ever had {name}? answered no, for a concept seen in other records.

    Asked only when every resource of the type in this record is dated and named (otherwise
    an unnamed one might be the concept), and only for concepts sharing no identifying word
    with anything in the record. Evidence: ``Patient/<id>`` (the record as a whole).
    """

    @template(template_id, category, "yes_no", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        if not (view.fully_dated(resource_type) and view.fully_coded(kind, resource_type)):
            return []
        present = {(c.system, c.code) for c in (f.concept for f in view.facts(kind, resource_type))}
        pool = [c for c in view.vocabulary.pool(kind) if (c.system, c.code) not in present]
        return [absent_draft(view, resource_type, c) for c in view.unrelated(pool)]

    return generate


def date_of_concept(
    template_id: str,
    category: Category,
    kind: ConceptKind,
    resource_type: str,
    which: str,
    *phrasings: str,
) -> Template:
    """Day of the first or the last resource of a concept (``which``: 'first' or 'last')."""

    @template(template_id, category, "date", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        drafts = []
        for concept, facts in view.by_concept(kind, resource_type).items():
            fact = facts[0] if which == "first" else facts[-1]
            drafts.append(
                Draft(
                    params={
                        "op": f"{which}_date",
                        "resource_type": resource_type,
                        "code": concept.token,
                    },
                    slots={"name": concept.display or ""},
                    gold=fact.day.isoformat(),
                    precision="day",
                    evidence=(fact.ref,),
                    hint=hint(resource_type, concept.token, date_to=view.as_of),
                    difficulty="easy" if len(facts) == 1 else "medium",
                )
            )
        return drafts

    return generate


def count_of_concept(
    template_id: str,
    category: Category,
    kind: ConceptKind,
    resource_type: str,
    unit: str,
    *phrasings: str,
) -> Template:
    """How many resources of one concept up to the as-of day (asked only when it is > 1)."""

    @template(template_id, category, "number", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        if not view.fully_dated(resource_type):
            return []
        return [
            Draft(
                params={"op": "count", "resource_type": resource_type, "code": concept.token},
                slots={"name": concept.display or ""},
                gold=float(len(facts)),
                unit=unit,
                tolerance=0.0,
                evidence=tuple(f.ref for f in facts),
                hint=hint(resource_type, concept.token, date_to=view.as_of),
                difficulty="medium" if len(facts) < 5 else "hard",
            )
            for concept, facts in view.by_concept(kind, resource_type).items()
            if len(facts) > 1
        ]

    return generate


def count_in_range(
    template_id: str,
    category: Category,
    kind: ConceptKind,
    resource_type: str,
    unit: str,
    *phrasings: str,
) -> Template:
    """How many resources of a type fall in a range of whole years (any concept)."""

    @template(template_id, category, "number", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        resources = view.resources(resource_type)
        if len(resources) < 2 or not view.fully_dated(resource_type):
            return []
        facts = view.facts(kind, resource_type)
        days = sorted({f.day for f in facts})
        if len(days) < 2:
            return []
        start, end = year_range(rng, days, view.as_of)
        inside = [f for f in facts if start <= f.day <= end]
        # A resource without a concept still counts: then the evidence would be incomplete.
        if len(inside) != sum(1 for r in resources if start <= (record_day(r) or start) <= end):
            return []
        return [
            Draft(
                params={"op": "count", "resource_type": resource_type, **period_params(start, end)},
                slots=period_slots(start, end),
                gold=float(len(inside)),
                unit=unit,
                tolerance=0.0,
                evidence=tuple(f.ref for f in inside),
                hint=hint(resource_type, None, start, end),
                difficulty="hard",
            )
        ]

    return generate


def which_of(
    template_id: str,
    category: Category,
    kind: ConceptKind,
    resource_type: str,
    *phrasings: str,
) -> Template:
    """Which of these has the patient had? One true concept, three from other records."""

    @template(template_id, category, "choice", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        groups = view.by_concept(kind, resource_type)
        if not groups or not view.fully_coded(kind, resource_type):
            return []
        mine = [c.display or "" for c in groups]
        others = [c.display or "" for c in view.unrelated(view.vocabulary.pool(kind))]
        drafts = []
        for concept, facts in groups.items():
            choices = pick_distractors(rng, concept.display or "", others, avoid=mine)
            if choices is None:
                continue
            drafts.append(
                Draft(
                    params={
                        "op": "exists_choice",
                        "resource_type": resource_type,
                        "code": concept.token,
                    },
                    slots={},
                    gold=concept.display,
                    choices=choices,
                    evidence=tuple(f.ref for f in facts),
                    hint=hint(resource_type, None, date_to=view.as_of),
                    difficulty="easy",
                )
            )
        return drafts

    return generate


def set_on_day(
    template_id: str,
    category: Category,
    kind: ConceptKind,
    resource_type: str,
    *phrasings: str,
    max_size: int = 6,
) -> Template:
    """Every distinct concept of a type recorded on one day (all must be nameable)."""

    @template(template_id, category, "set", *phrasings)
    def generate(view: PatientView, rng: random.Random) -> list[Draft]:
        if not view.fully_coded(kind, resource_type):
            return []
        per_day: dict[date, list[Fact]] = {}
        for fact in view.facts(kind, resource_type):
            per_day.setdefault(fact.day, []).append(fact)
        drafts = []
        for day, facts in per_day.items():
            if not all(view.vocabulary.nameable(kind, f.concept) for f in facts):
                continue
            names = Counter(f.concept.display or "" for f in facts)
            if not 1 <= len(names) <= max_size:
                continue
            drafts.append(
                Draft(
                    params={
                        "op": "set_on_day",
                        "resource_type": resource_type,
                        "day": day.isoformat(),
                    },
                    slots={"day": day.isoformat()},
                    gold=sorted(names),
                    evidence=tuple(f.ref for f in facts),
                    hint=hint(resource_type, None, day, day),
                    difficulty="medium" if len(names) < 3 else "hard",
                )
            )
        return drafts

    return generate
