"""Scoring benchmark answers.

Per-answer-type scorers, aggregation with bootstrap CIs, retrieval precision and recall.
"""

from evals.scoring.aggregate import (
    Aggregate,
    Difference,
    GroupStats,
    Interval,
    PairedOutcome,
    ScoredRecord,
    aggregate,
    paired_difference,
)
from evals.scoring.answers import (
    Prediction,
    Score,
    parse_yes_no,
    score_choice,
    score_date,
    score_item,
    score_number,
    score_set,
    score_text,
    score_yes_no,
)
from evals.scoring.retrieval import RetrievalScore, normalize_reference, retrieval_scores

__all__ = [
    "Aggregate",
    "Difference",
    "GroupStats",
    "Interval",
    "PairedOutcome",
    "Prediction",
    "RetrievalScore",
    "Score",
    "ScoredRecord",
    "aggregate",
    "normalize_reference",
    "paired_difference",
    "parse_yes_no",
    "retrieval_scores",
    "score_choice",
    "score_date",
    "score_item",
    "score_number",
    "score_set",
    "score_text",
    "score_yes_no",
]
