"""Checks the hand-labelled concept-resolution list against the raw Synthea bundles.

The record index is built with plain gzip + json (``concept_labels``), independently of
``tools/``: a label is only trusted if its codes really occur in that patient's bundle, in the
resource types it names. The checks against the record run over both lists, this one and the
held-out one (whose own checks are in ``test_phrases_heldout_schema.py``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

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
HELDOUT = CONCEPTS_DIR / "phrases_heldout.jsonl"

MIN_PER_KIND = {"vital": 8, "lab": 8, "condition": 8, "immunization": 8, "procedure": 8}
FEW_KINDS = ("allergy", "encounter", "careplan", "imaging")


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return load_items(PHRASES)


@pytest.fixture(scope="module", params=[PHRASES, HELDOUT], ids=lambda path: path.stem)
def each_list(request: pytest.FixtureRequest) -> list[Item]:
    """The items of each labelled list in turn: the tuned one and the held-out one."""
    path: Path = request.param
    return load_items(path)


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


# --- checks both lists share ------------------------------------------------------------


def test_patients_exist_in_the_shared_bundles(each_list: list[Item], record_index: Index) -> None:
    assert {item["patient_id"] for item in each_list} - record_index.keys() == set()


def test_expected_codes_are_in_that_patients_record(
    each_list: list[Item], record_index: Index
) -> None:
    assert missing_codes(each_list, record_index) == []


def test_expected_codes_use_each_types_code_system(each_list: list[Item]) -> None:
    assert foreign_system_codes(each_list) == []


def test_negative_items_explain_themselves(each_list: list[Item]) -> None:
    assert_negatives_explained(each_list)


def test_raw_code_phrases_expect_their_own_code(each_list: list[Item]) -> None:
    assert len(raw_code_items(each_list)) >= 3
    assert_raw_codes_expect_themselves(each_list)
