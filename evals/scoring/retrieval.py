"""Retrieval precision and recall against an item's gold evidence ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from evals.builder.record import ref_key

__all__ = ["RetrievalScore", "normalize_reference", "retrieval_scores"]


@dataclass(frozen=True)
class RetrievalScore:
    """Set overlap between retrieved (or cited) resources and the gold evidence."""

    precision: float
    recall: float
    f1: float
    retrieved: int
    relevant: int
    hits: int


def normalize_reference(reference: str) -> str | None:
    """``Type/id`` of a reference, or None if it names no resource type.

    Accepts 'Type/id', '[Type/id]', a full URL, and versioned references (``_history``).
    """
    text = reference.strip().strip("[]()<>.,;").strip()
    parts = [p for p in text.split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) < 2 or not parts[-2][:1].isupper():
        return None
    resource_id = ref_key(parts[-1])
    return f"{parts[-2]}/{resource_id}" if resource_id else None


def retrieval_scores(retrieved: Iterable[str], gold: Iterable[str]) -> RetrievalScore:
    """Precision, recall and F1 of retrieved ids against gold ids (as sets, normalized).

    Retrieving nothing scores precision 0 (abstaining is not precise); an empty gold set
    scores recall 1.
    """
    got = {r for r in (normalize_reference(x) for x in retrieved) if r}
    want = {g for g in (normalize_reference(x) for x in gold) if g}
    hits = len(got & want)
    precision = hits / len(got) if got else 0.0
    recall = hits / len(want) if want else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return RetrievalScore(precision, recall, f1, len(got), len(want), hits)
