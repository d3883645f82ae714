"""Checks the hand-labelled concept-resolution list against the raw Synthea bundles.

The record index is built with plain gzip + json (``concept_labels``), independently of
``tools/``: a label is only trusted if its codes really occur in that patient's bundle, in the
resource types it names.
"""

from __future__ import annotations

from collections import Counter

import pytest
from concept_labels import (
    CONCEPTS_DIR,
    Index,
    Item,
    assert_negatives_explained,
    assert_raw_codes_expect_themselves,
    assert_well_typed,
    foreign_system_codes,
    load_items,
    missing_codes,
    question_key,
    raw_code_items,
)

PHRASES = CONCEPTS_DIR / "phrases.jsonl"

MIN_PER_KIND = {"vital": 8, "lab": 8, "condition": 8, "immunization": 8, "procedure": 8}
FEW_KINDS = ("allergy", "encounter", "careplan", "imaging")


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return load_items(PHRASES)


def test_every_line_is_a_well_typed_item(items: list[Item]) -> None:
    for item in items:
        assert_well_typed(item, r"c\d{3,}")


def test_ids_and_questions_are_unique(items: list[Item]) -> None:
    ids = Counter(item["id"] for item in items)
    assert [i for i, n in ids.items() if n > 1] == []
    keys = Counter(question_key(item) for item in items)
    assert [k for k, n in keys.items() if n > 1] == []


def test_size_and_spread(items: list[Item]) -> None:
    assert len(items) >= 150
    assert len({item["patient_id"] for item in items}) >= 25
    kinds = Counter(item["kind"] for item in items)
    for kind, minimum in MIN_PER_KIND.items():
        assert kinds[kind] >= minimum, kind
    assert kinds["medication"] + kinds["drug_class"] >= 8
    assert kinds["drug_class"] >= 1
    for kind in FEW_KINDS:
        assert kinds[kind] >= 1, kind
    negatives = [item for item in items if not item["expected"]]
    assert 15 <= len(negatives) <= len(items) // 5


def test_patients_exist_in_the_shared_bundles(items: list[Item], record_index: Index) -> None:
    assert {item["patient_id"] for item in items} - record_index.keys() == set()


def test_expected_codes_are_in_that_patients_record(items: list[Item], record_index: Index) -> None:
    assert missing_codes(items, record_index) == []


def test_expected_codes_use_each_types_code_system(items: list[Item]) -> None:
    assert foreign_system_codes(items) == []


def test_negative_items_explain_themselves(items: list[Item]) -> None:
    assert_negatives_explained(items)


def test_raw_code_phrases_expect_their_own_code(items: list[Item]) -> None:
    assert len(raw_code_items(items)) >= 3
    assert_raw_codes_expect_themselves(items)
