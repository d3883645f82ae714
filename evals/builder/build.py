"""Building the benchmark: raw bundles in, balanced and deterministic list of items out.

Determinism: every random choice comes from a ``random.Random`` seeded with a string made of
the build seed, the patient id and the template id (string seeds are hashed with SHA-512 by
the standard library, independent of ``PYTHONHASHSEED``), and items are sorted before they
are written. Same bundles, seed and as-of day give a byte-identical file.

Balance: each template contributes at most ``per_template`` questions per patient, each
category at most ``per_category`` per patient, and across the dataset no category holds
more than ``max_category_ratio`` times the smallest non-empty one. Where a cap bites, items
are taken round-robin across templates so that every question kind stays represented.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from evals.builder.bundles import collect_bundle_paths, load_bundle, patient_records
from evals.builder.errors import BuildError, BundleError
from evals.builder.record import PatientRecord, day_of
from evals.builder.templates import TEMPLATES, Draft, Template
from evals.builder.view import PatientView
from evals.builder.vocabulary import Vocabulary
from evals.dataset import QAItem

__all__ = ["BuildOptions", "BuildResult", "build_dataset", "build_items", "load_records"]

_LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class BuildOptions:
    """How many questions to make, and as of when."""

    seed: int = 0
    as_of: date | None = None
    per_template: int = 2
    per_category: int = 8
    max_category_ratio: float = 3.0

    def __post_init__(self) -> None:
        if self.per_template < 1 or self.per_category < 1:
            raise BuildError("per_template and per_category must be at least 1")
        if self.max_category_ratio != 0 and self.max_category_ratio < 1:
            raise BuildError("max_category_ratio must be 0 (no cap) or at least 1")


@dataclass
class BuildResult:
    """The items of a build and what went wrong along the way."""

    items: list[QAItem]
    files: int
    patients: int
    problems: list[BundleError] = field(default_factory=list)
    skipped_patients: list[str] = field(default_factory=list)


def load_records(
    paths: Sequence[Path], on_file: Callable[[Path], None] | None = None
) -> tuple[list[PatientRecord], list[BundleError], int]:
    """Read every bundle under ``paths``; a bad file is reported, the others still load.

    Returns:
        The patient records (sorted by patient id), the per-file problems, and the number of
        files read.

    Raises:
        BundleError: A path given does not exist.
        BuildError: Two files hold the same patient.
    """
    files = collect_bundle_paths(paths)
    records: dict[str, PatientRecord] = {}
    problems: list[BundleError] = []
    for path in files:
        try:
            found = patient_records(load_bundle(path), path)
        except BundleError as exc:
            problems.append(exc)
            found = []
        for record in found:
            if record.patient_id in records:
                problems.append(
                    BundleError(
                        path,
                        f"Patient/{record.patient_id} is also in "
                        f"{records[record.patient_id].source}; this copy is ignored",
                    )
                )
                continue
            records[record.patient_id] = record
        if on_file is not None:
            on_file(path)
    return [records[key] for key in sorted(records)], problems, len(files)


def _item_id(patient_id: str, template_id: str, params: dict[str, object], as_of: date) -> str:
    key = json.dumps(
        {"patient": patient_id, "template": template_id, "params": params, "as_of": str(as_of)},
        sort_keys=True,
    )
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _question(template: Template, phrasing: int, draft: Draft, as_of: date) -> str:
    text = template.phrasings[phrasing].format(as_of=as_of.isoformat(), **draft.slots)
    if draft.choices:
        options = "; ".join(f"({_LETTERS[i]}) {c}" for i, c in enumerate(draft.choices))
        text = f"{text} Options: {options}."
    return text


def _to_item(view: PatientView, template: Template, draft: Draft, rng: random.Random) -> QAItem:
    phrasing = rng.randrange(len(template.phrasings))
    return QAItem(
        id=_item_id(view.patient_id, template.id, draft.params, view.as_of),
        patient_id=view.patient_id,
        category=template.category,
        template_id=template.id,
        phrasing_id=phrasing,
        question=_question(template, phrasing, draft, view.as_of),
        answer_type=template.answer_type,
        gold=draft.gold,
        unit=draft.unit,
        tolerance=draft.tolerance,
        choices=list(draft.choices) if draft.choices else None,
        precision=draft.precision,
        as_of=view.as_of,
        evidence_ids=list(dict.fromkeys(draft.evidence)),
        params=draft.params,
        difficulty=draft.difficulty,
        retrieval_hint=draft.hint,
    )


def _spread(items: list[QAItem], limit: int, rng: random.Random) -> list[QAItem]:
    """At most ``limit`` items, taken round-robin across templates in a seeded order."""
    if len(items) <= limit:
        return items
    groups: dict[str, list[QAItem]] = defaultdict(list)
    for item in sorted(items, key=lambda i: i.id):
        groups[item.template_id].append(item)
    order = sorted(groups)
    rng.shuffle(order)
    for key in order:
        rng.shuffle(groups[key])
    chosen: list[QAItem] = []
    while len(chosen) < limit:
        for key in order:
            if groups[key] and len(chosen) < limit:
                chosen.append(groups[key].pop())
    return chosen


def _pick_drafts(drafts: list[Draft], limit: int, rng: random.Random) -> list[Draft]:
    """Up to ``limit`` drafts, alternating between gold answers when there are two or three.

    Otherwise "no" would dominate yes/no templates, whose absences outnumber presences.
    """
    groups: dict[str, list[Draft]] = defaultdict(list)
    for draft in drafts:
        groups[json.dumps(draft.gold, sort_keys=True)].append(draft)
    if len(groups) < 2 or len(groups) > 3:
        return rng.sample(drafts, min(limit, len(drafts)))
    order = sorted(groups)
    rng.shuffle(order)
    for key in order:
        rng.shuffle(groups[key])
    picked: list[Draft] = []
    while len(picked) < min(limit, len(drafts)):
        for key in order:
            if groups[key] and len(picked) < limit:
                picked.append(groups[key].pop())
    return picked


def _patient_items(view: PatientView, options: BuildOptions) -> list[QAItem]:
    by_category: dict[str, list[QAItem]] = defaultdict(list)
    for template in TEMPLATES:
        rng = random.Random(f"{options.seed}|{view.patient_id}|{template.id}")
        drafts = template.generate(view, rng)
        picked = _pick_drafts(drafts, options.per_template, rng)
        for draft in picked:
            by_category[template.category].append(_to_item(view, template, draft, rng))
    chosen: list[QAItem] = []
    for category in sorted(by_category):
        rng = random.Random(f"{options.seed}|{view.patient_id}|category|{category}")
        chosen += _spread(by_category[category], options.per_category, rng)
    return chosen


def build_items(
    records: Sequence[PatientRecord],
    options: BuildOptions,
    skipped: list[str] | None = None,
) -> list[QAItem]:
    """Generate, balance and sort the items for a cohort of records.

    Args:
        records: Every patient of the cohort (also the source of choice distractors).
        options: Seed, as-of day and caps.
        skipped: If given, receives ``Patient/<id>`` of patients with no usable as-of day
            (no dated record, or born after the fixed as-of day).
    """
    vocabulary = Vocabulary.from_records(records)
    items: dict[str, QAItem] = {}
    for record in records:
        last_day = record.last_record_day()
        as_of = options.as_of or last_day
        birth = day_of(record.patient.get("birthDate"))
        if last_day is None or as_of is None or (birth is not None and birth > as_of):
            if skipped is not None:
                skipped.append(record.patient_ref)
            continue
        view = PatientView(record, as_of, vocabulary, last_day)
        for item in _patient_items(view, options):
            items.setdefault(item.id, item)
    balanced = _balance(list(items.values()), options)
    return sorted(balanced, key=lambda i: (i.patient_id, i.category, i.template_id, i.id))


def _balance(items: list[QAItem], options: BuildOptions) -> list[QAItem]:
    if not options.max_category_ratio or not items:
        return items
    by_category: dict[str, list[QAItem]] = defaultdict(list)
    for item in items:
        by_category[item.category].append(item)
    cap = math.floor(options.max_category_ratio * min(len(v) for v in by_category.values()))
    kept: list[QAItem] = []
    for category in sorted(by_category):
        rng = random.Random(f"{options.seed}|dataset|{category}")
        kept += _spread(by_category[category], cap, rng)
    return kept


def build_dataset(
    paths: Sequence[Path],
    options: BuildOptions,
    on_file: Callable[[Path], None] | None = None,
) -> BuildResult:
    """Read bundles and build the dataset (nothing is written here).

    Raises:
        BuildError: No input path exists, or no file held a usable patient.
    """
    records, problems, files = load_records(paths, on_file)
    if not records:
        raise BuildError(
            f"no patient found in {files} file(s)"
            + (f"; {len(problems)} could not be read" if problems else "")
        )
    skipped: list[str] = []
    items = build_items(records, options, skipped)
    return BuildResult(items, files, len(records), problems, skipped)
