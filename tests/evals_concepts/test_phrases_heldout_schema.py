"""Checks the held-out concept-resolution list against the raw Synthea bundles.

Same schema and record index as ``phrases.jsonl`` (``concept_labels``); the checks both lists
share (codes in that patient's record, code systems, negatives, raw codes) run over both in
``test_phrases_schema.py``. Here: its ids, and what makes the list held out: none of its
wordings occurs in the list the resolver was tuned on, and it spreads over every kind and most
patients.
"""

from __future__ import annotations

from collections import Counter

import pytest
from concept_labels import (
    CONCEPTS_DIR,
    KIND_TYPES,
    Item,
    assert_well_typed,
    load_items,
    normalised_phrase,
    question_key,
)

HELDOUT = CONCEPTS_DIR / "phrases_heldout.jsonl"
TUNED = CONCEPTS_DIR / "phrases.jsonl"

MIN_ITEMS = 120
MIN_PATIENTS = 25
MIN_PER_KIND = 5


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return load_items(HELDOUT)


def test_every_line_is_a_well_typed_item(items: list[Item]) -> None:
    for item in items:
        assert_well_typed(item, r"h\d{3,}")


def test_ids_are_sequential_and_questions_unique(items: list[Item]) -> None:
    assert [item["id"] for item in items] == [f"h{n:03d}" for n in range(1, len(items) + 1)]
    keys = Counter(question_key(item) for item in items)
    assert [k for k, n in keys.items() if n > 1] == []


def test_no_wording_is_shared_with_the_tuned_list(items: list[Item]) -> None:
    tuned = {normalised_phrase(item["phrase"]) for item in load_items(TUNED)}
    shared = [item["id"] for item in items if normalised_phrase(item["phrase"]) in tuned]
    assert shared == []


def test_size_and_spread(items: list[Item]) -> None:
    assert len(items) >= MIN_ITEMS
    assert len({item["patient_id"] for item in items}) >= MIN_PATIENTS
    kinds = Counter(item["kind"] for item in items)
    assert {k: n for k, n in kinds.items() if n < MIN_PER_KIND} == {}
    assert kinds.keys() == KIND_TYPES.keys()
    negatives = [item for item in items if not item["expected"]]
    assert 0.10 * len(items) <= len(negatives) <= 0.20 * len(items)
    negative_kinds = {item["kind"] for item in negatives}
    assert negative_kinds == KIND_TYPES.keys()
