"""The runner's stratified sample: balanced, seeded, and balanced in every prefix."""

from __future__ import annotations

from collections import Counter
from datetime import date

from evals.dataset import QAItem
from evals.runner import sample_items

# Unequal category sizes, one smaller than the per-category count.
SIZES = {"allergies": 2, "conditions": 9, "labs": 30, "vitals": 12}


def _items() -> list[QAItem]:
    return [
        QAItem(
            id=f"{category}-{n:03d}",
            patient_id="p1",
            category=category,
            template_id=f"{category}.t",
            phrasing_id=0,
            question=f"question {n} about {category}?",
            answer_type="yes_no",
            gold="yes",
            as_of=date(2020, 1, 1),
            evidence_ids=["Patient/p1"],
        )
        for category, size in SIZES.items()
        for n in range(size)
    ]


def test_per_category_takes_that_many_from_each_category() -> None:
    chosen = sample_items(_items(), per_category=5, limit=None, seed=0)
    assert Counter(i.category for i in chosen) == {
        "allergies": 2,
        "conditions": 5,
        "labs": 5,
        "vitals": 5,
    }
    assert len({i.id for i in chosen}) == len(chosen)


def test_same_seed_same_sample_other_seed_other_sample() -> None:
    first = [i.id for i in sample_items(_items(), per_category=5, limit=None, seed=3)]
    again = [
        i.id for i in sample_items(list(reversed(_items())), per_category=5, limit=None, seed=3)
    ]
    other = [i.id for i in sample_items(_items(), per_category=5, limit=None, seed=4)]
    assert first == again  # the input order does not matter
    assert set(first) != set(other)


def test_every_prefix_is_balanced_so_limit_and_partial_runs_cover_all_categories() -> None:
    chosen = sample_items(_items(), per_category=5, limit=None, seed=0)
    # Round 1 is one item of every category, round 2 likewise...
    assert [i.category for i in chosen[:4]] == sorted(SIZES)
    for end in range(1, len(chosen) + 1):
        counts = Counter(i.category for i in chosen[:end])
        full = [counts[c] for c in ("conditions", "labs", "vitals")]
        assert max(full) - min(full) <= 1, (end, counts)
    limited = sample_items(_items(), per_category=5, limit=8, seed=0)
    assert Counter(i.category for i in limited) == {c: 2 for c in SIZES}
    assert limited == chosen[:8]


def test_without_per_category_limit_takes_the_first_items() -> None:
    items = _items()
    assert sample_items(items, per_category=None, limit=3, seed=0) == items[:3]
    assert sample_items(items, per_category=None, limit=None, seed=0) == items
