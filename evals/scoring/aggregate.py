"""Aggregating scored items: per-category and EHRQA-style macro accuracy with bootstrap CIs.

Infrastructure failures (the system crashed, timed out, the FHIR server was down) are not
wrong answers: a record with an ``error`` is left out of ``accuracy`` and counted in
``errors``. ``accuracy_errors_as_wrong`` shows the same figure with every error counted as a
wrong answer, for readers who want the pessimistic view.

The macro average is the mean of per-category accuracies (as in Google's EHRQA). Its
confidence interval comes from a stratified percentile bootstrap: each resample redraws
every category's items with replacement, then averages the category means.

Two runs over the same items are compared with :func:`paired_difference`: the same
resampled items are scored for both runs, so the interval is that of the difference itself
(much narrower than two runs' intervals side by side, which ignore that they share items).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import numpy as np

from evals.scoring.answers import Score
from evals.scoring.retrieval import retrieval_scores

_Item = TypeVar("_Item")

__all__ = [
    "Aggregate",
    "Difference",
    "GroupStats",
    "Interval",
    "PairedOutcome",
    "ScoredRecord",
    "aggregate",
    "paired_difference",
]


@dataclass(frozen=True)
class ScoredRecord:
    """One item's outcome, as the runner records it.

    Attributes:
        item_id: The item's id.
        category: The item's category.
        answer_type: The item's answer type.
        score: The verdict, or None when the run failed (then ``error`` says why).
        error: Infrastructure failure message; such a record is not a wrong answer.
        retrieved_ids: ``Type/id`` the system retrieved or cited (None if not measured).
        evidence_ids: The item's gold evidence ids.
    """

    item_id: str
    category: str
    answer_type: str
    score: Score | None
    error: str | None = None
    retrieved_ids: tuple[str, ...] | None = None
    evidence_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.score is None) == (self.error is None):
            raise ValueError("a scored record has exactly one of score and error")


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap confidence interval."""

    low: float
    high: float


@dataclass(frozen=True)
class GroupStats:
    """Figures for a group of records (a category, an answer type, or all)."""

    n: int
    answered: int
    errors: int
    correct: int
    accuracy: float | None
    accuracy_ci: Interval | None
    accuracy_errors_as_wrong: float | None
    mean_credit: float | None
    retrieval_precision: float | None
    retrieval_recall: float | None


@dataclass(frozen=True)
class Aggregate:
    """Everything a report shows about a run."""

    overall: GroupStats
    macro_accuracy: float | None
    macro_accuracy_ci: Interval | None
    macro_accuracy_errors_as_wrong: float | None
    macro_accuracy_errors_as_wrong_ci: Interval | None
    per_category: dict[str, GroupStats] = field(default_factory=dict)
    per_answer_type: dict[str, GroupStats] = field(default_factory=dict)
    n_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return asdict(self)


def _interval(draws: np.ndarray, confidence: float) -> Interval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(round(float(low), 4), round(float(high), 4))


def _resample_means(values: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    picks = rng.integers(0, len(values), size=(n, len(values)))
    means: np.ndarray = values[picks].mean(axis=1)
    return means


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _group(
    records: Sequence[ScoredRecord], n_resamples: int, confidence: float, rng: np.random.Generator
) -> GroupStats:
    answered = [r for r in records if r.score is not None]
    hits = np.array([float(r.score.correct) for r in answered if r.score is not None])
    retrieval = [
        retrieval_scores(r.retrieved_ids, r.evidence_ids)
        for r in answered
        if r.retrieved_ids is not None
    ]
    return GroupStats(
        n=len(records),
        answered=len(answered),
        errors=len(records) - len(answered),
        correct=int(hits.sum()),
        accuracy=_mean(list(hits)),
        accuracy_ci=(
            _interval(_resample_means(hits, n_resamples, rng), confidence) if len(hits) else None
        ),
        accuracy_errors_as_wrong=(round(float(hits.sum()) / len(records), 4) if records else None),
        mean_credit=_mean([r.score.value for r in answered if r.score is not None]),
        retrieval_precision=_mean([s.precision for s in retrieval]),
        retrieval_recall=_mean([s.recall for s in retrieval]),
    )


def _check_bootstrap(n_resamples: int, confidence: float) -> None:
    if n_resamples < 1 or not 0 < confidence < 1:
        raise ValueError("n_resamples must be >= 1 and confidence in (0, 1)")


def _macro(
    groups: dict[str, list[_Item]],
    values_of: Callable[[list[_Item]], list[float]],
    n_resamples: int,
    confidence: float,
    rng: np.random.Generator,
) -> tuple[float | None, Interval | None]:
    arrays = [np.array(v) for v in (values_of(g) for g in groups.values()) if v]
    if not arrays:
        return None, None
    point = round(float(np.mean([a.mean() for a in arrays])), 4)
    draws = np.mean([_resample_means(a, n_resamples, rng) for a in arrays], axis=0)
    return point, _interval(draws, confidence)


def aggregate(
    records: Sequence[ScoredRecord],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Aggregate:
    """Per-category, per-answer-type, overall and macro figures with bootstrap CIs.

    Args:
        records: Every item's outcome in the run.
        n_resamples: Bootstrap resamples.
        confidence: Two-sided confidence level of the percentile intervals.
        seed: Bootstrap seed (the same records and seed give the same intervals).
    """
    _check_bootstrap(n_resamples, confidence)
    rng = np.random.default_rng(seed)
    by_category: dict[str, list[ScoredRecord]] = defaultdict(list)
    by_type: dict[str, list[ScoredRecord]] = defaultdict(list)
    for record in records:
        by_category[record.category].append(record)
        by_type[record.answer_type].append(record)
    categories = {k: by_category[k] for k in sorted(by_category)}
    macro, macro_ci = _macro(
        categories,
        lambda g: [float(r.score.correct) for r in g if r.score is not None],
        n_resamples,
        confidence,
        rng,
    )
    pessimistic, pessimistic_ci = _macro(
        categories,
        lambda g: [float(r.score is not None and r.score.correct) for r in g],
        n_resamples,
        confidence,
        rng,
    )
    return Aggregate(
        overall=_group(records, n_resamples, confidence, rng),
        macro_accuracy=macro,
        macro_accuracy_ci=macro_ci,
        macro_accuracy_errors_as_wrong=pessimistic,
        macro_accuracy_errors_as_wrong_ci=pessimistic_ci,
        per_category={k: _group(v, n_resamples, confidence, rng) for k, v in categories.items()},
        per_answer_type={
            k: _group(by_type[k], n_resamples, confidence, rng) for k in sorted(by_type)
        },
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


@dataclass(frozen=True)
class PairedOutcome:
    """One item both runs answered: its category and whether each run got it right."""

    category: str
    first: bool
    second: bool


@dataclass(frozen=True)
class Difference:
    """First run minus second run over the items both answered (fractions, not points).

    Attributes:
        n: Items both runs answered (an infrastructure error in either leaves an item out).
        micro: Difference in overall accuracy.
        micro_ci: Its paired percentile bootstrap interval.
        macro: Difference in the mean of per-category accuracies.
        macro_ci: Its paired bootstrap interval, resampled within each category.
    """

    n: int
    micro: float
    micro_ci: Interval
    macro: float
    macro_ci: Interval


def paired_difference(
    outcomes: Sequence[PairedOutcome],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Difference | None:
    """Accuracy of the first run minus the second's, with paired bootstrap intervals.

    Each resample draws items with replacement and scores the same draw for both runs
    (for the macro figure, within each category, like :func:`aggregate`). None when there
    are no items.
    """
    _check_bootstrap(n_resamples, confidence)
    if not outcomes:
        return None
    rng = np.random.default_rng(seed)
    by_category: dict[str, list[PairedOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_category[outcome.category].append(outcome)
    macro, macro_ci = _macro(
        {k: by_category[k] for k in sorted(by_category)},
        lambda g: [float(o.first) - float(o.second) for o in g],
        n_resamples,
        confidence,
        rng,
    )
    assert macro is not None and macro_ci is not None  # noqa: PT018 (there are outcomes)
    deltas = np.array([float(o.first) - float(o.second) for o in outcomes])
    return Difference(
        n=len(outcomes),
        micro=round(float(deltas.mean()), 4),
        micro_ci=_interval(_resample_means(deltas, n_resamples, rng), confidence),
        macro=macro,
        macro_ci=macro_ci,
    )
