"""Aggregation (per category, macro, bootstrap CIs, errors kept apart) and retrieval scores."""

from __future__ import annotations

import pytest

from evals.scoring import (
    PairedOutcome,
    Score,
    ScoredRecord,
    aggregate,
    normalize_reference,
    paired_difference,
    retrieval_scores,
)

RIGHT = Score(True, 1.0, "")
WRONG = Score(False, 0.0, "")


def _records(category: str, right: int, wrong: int, errors: int = 0) -> list[ScoredRecord]:
    out = [ScoredRecord(f"{category}{i}", category, "yes_no", RIGHT) for i in range(right)]
    out += [ScoredRecord(f"{category}w{i}", category, "number", WRONG) for i in range(wrong)]
    out += [
        ScoredRecord(f"{category}e{i}", category, "date", None, error="LLM timeout")
        for i in range(errors)
    ]
    return out


def test_macro_is_the_mean_of_category_accuracies() -> None:
    # Category a: 9/10, category b: 1/2. Micro 10/12, macro (0.9 + 0.5) / 2.
    result = aggregate(_records("a", 9, 1) + _records("b", 1, 1), n_resamples=200)
    assert result.per_category["a"].accuracy == pytest.approx(0.9)
    assert result.per_category["b"].accuracy == pytest.approx(0.5)
    assert result.macro_accuracy == pytest.approx(0.7)
    assert result.overall.accuracy == pytest.approx(10 / 12, abs=1e-4)


def test_errors_are_not_wrong_answers() -> None:
    result = aggregate(_records("a", 3, 1, errors=4), n_resamples=200)
    stats = result.per_category["a"]
    assert (stats.n, stats.answered, stats.errors, stats.correct) == (8, 4, 4, 3)
    assert stats.accuracy == pytest.approx(0.75)
    assert stats.accuracy_errors_as_wrong == pytest.approx(3 / 8)
    assert result.macro_accuracy == pytest.approx(0.75)
    assert result.macro_accuracy_errors_as_wrong == pytest.approx(3 / 8)
    assert result.per_answer_type["date"].errors == 4
    assert result.per_answer_type["date"].accuracy is None


def test_bootstrap_interval_contains_the_estimate_and_is_seeded() -> None:
    records = _records("a", 30, 20) + _records("b", 10, 10)
    first = aggregate(records, n_resamples=500, seed=7)
    again = aggregate(records, n_resamples=500, seed=7)
    other = aggregate(records, n_resamples=500, seed=8)
    ci = first.macro_accuracy_ci
    assert ci is not None
    assert first.macro_accuracy is not None
    assert ci.low < first.macro_accuracy < ci.high
    assert 0.05 < ci.high - ci.low < 0.4
    assert first.to_dict() == again.to_dict()
    assert first.macro_accuracy_ci != other.macro_accuracy_ci


def test_interval_of_a_perfect_category_is_degenerate() -> None:
    result = aggregate(_records("a", 5, 0), n_resamples=100)
    assert result.per_category["a"].accuracy_ci is not None
    assert result.per_category["a"].accuracy_ci.low == 1.0


def test_partial_credit_and_retrieval_are_averaged() -> None:
    records = [
        ScoredRecord("1", "a", "set", Score(False, 0.5, ""), retrieved_ids=("Observation/1",),
                     evidence_ids=("Observation/1", "Observation/2")),
        ScoredRecord("2", "a", "set", Score(True, 1.0, ""), retrieved_ids=("Observation/3",),
                     evidence_ids=("Observation/3",)),
        ScoredRecord("3", "a", "set", Score(True, 1.0, "")),
    ]  # fmt: skip
    stats = aggregate(records, n_resamples=50).per_category["a"]
    assert stats.mean_credit == pytest.approx(2.5 / 3, abs=1e-4)
    assert stats.retrieval_precision == pytest.approx(1.0)
    assert stats.retrieval_recall == pytest.approx(0.75)


def test_empty_and_invalid_inputs() -> None:
    result = aggregate([], n_resamples=10)
    assert result.macro_accuracy is None
    assert result.overall.n == 0
    with pytest.raises(ValueError, match="n_resamples"):
        aggregate([], n_resamples=0)
    with pytest.raises(ValueError, match="exactly one"):
        ScoredRecord("x", "a", "text", RIGHT, error="boom")
    with pytest.raises(ValueError, match="exactly one"):
        ScoredRecord("x", "a", "text", None)


def test_retrieval_precision_recall() -> None:
    score = retrieval_scores(
        ["Observation/1", "[Observation/2]", "http://fhir.example/R4/Condition/9/_history/2"],
        ["Observation/1", "Condition/9", "Procedure/4", "Procedure/5"],
    )
    assert (score.hits, score.retrieved, score.relevant) == (2, 3, 4)
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(0.5)
    assert score.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_retrieval_edge_cases() -> None:
    nothing = retrieval_scores([], ["Patient/p"])
    assert (nothing.precision, nothing.recall, nothing.f1) == (0.0, 0.0, 0.0)
    duplicates = retrieval_scores(["Patient/p", "Patient/p"], ["Patient/p"])
    assert (duplicates.precision, duplicates.recall) == (1.0, 1.0)
    assert normalize_reference("urn:uuid:abc") is None
    assert normalize_reference("Observation/urn:uuid:abc") == "Observation/abc"


def _pairs(category: str, *outcomes: tuple[bool, bool]) -> list[PairedOutcome]:
    return [PairedOutcome(category, first, second) for first, second in outcomes]


def test_paired_difference_point_estimates() -> None:
    # a: deltas +1, +1, -1 (mean 1/3); b: +1 (mean 1). Micro 2/4, macro (1/3 + 1) / 2.
    outcomes = _pairs("a", (True, False), (True, False), (False, True)) + _pairs("b", (True, False))
    diff = paired_difference(outcomes)
    assert diff is not None
    assert diff.n == 4
    assert diff.micro == 0.5
    assert diff.macro == pytest.approx(2 / 3, abs=1e-4)
    for point, ci in ((diff.micro, diff.micro_ci), (diff.macro, diff.macro_ci)):
        assert ci.low <= point <= ci.high
    assert paired_difference(outcomes, seed=3) == paired_difference(outcomes, seed=3)


def test_paired_difference_of_identical_and_opposite_runs_is_exact() -> None:
    same = _pairs("a", (True, True), (False, False), (True, True))
    diff = paired_difference(same)
    assert diff is not None
    assert (diff.micro, diff.micro_ci.low, diff.micro_ci.high) == (0.0, 0.0, 0.0)
    opposite = _pairs("a", (True, False), (True, False)) + _pairs("b", (True, False))
    diff = paired_difference(opposite)
    assert diff is not None
    assert (diff.macro, diff.macro_ci.low, diff.macro_ci.high) == (1.0, 1.0, 1.0)


def test_pairing_finds_a_difference_the_separate_intervals_hide() -> None:
    # 50 items: both runs agree on 45 (25 right, 20 wrong); the first alone gets 5 more.
    # Alone, 30/50 and 25/50 have overlapping intervals; paired, every delta is >= 0 and
    # a resample without any of the 5 is rarer than 2.5%, so the interval excludes 0.
    outcomes = _pairs("a", *([(True, True)] * 25 + [(False, False)] * 20 + [(True, False)] * 5))
    diff = paired_difference(outcomes)
    assert diff is not None
    assert diff.micro == 0.1
    assert diff.micro_ci.low > 0
    first = aggregate(_records("a", 30, 20)).overall.accuracy_ci
    second = aggregate(_records("a", 25, 25)).overall.accuracy_ci
    assert first is not None
    assert second is not None
    assert first.low < second.high  # the separate intervals overlap


def test_paired_difference_empty_and_invalid() -> None:
    assert paired_difference([]) is None
    with pytest.raises(ValueError, match="n_resamples"):
        paired_difference(_pairs("a", (True, False)), n_resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        paired_difference(_pairs("a", (True, False)), confidence=1.0)
