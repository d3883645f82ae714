"""Accuracy under each verdict, Wilson intervals and agreement."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evals.simulation.records import (
    CaseOutcome,
    CaseResult,
    CaseUsage,
    FallbackVerdict,
    JudgeVerdict,
)
from evals.simulation.summary import cohen_kappa, summarize, summary_markdown, wilson_interval

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("correct", "total", "low", "high"),
    # Published Wilson 95% intervals (e.g. Newcombe 1998, Table I; Brown, Cai & DasGupta).
    [(5, 10, 0.2366, 0.7634), (0, 10, 0.0, 0.2775), (1, 10, 0.0179, 0.4042), (10, 10, 0.7225, 1.0)],
)
def test_wilson_interval_matches_published_values(
    correct: int, total: int, low: float, high: float
) -> None:
    got = wilson_interval(correct, total)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_edge_cases() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="0 <= correct <= total"):
        wilson_interval(3, 2)


def test_cohen_kappa() -> None:
    pairs = [(True, True), (True, False), (False, False), (False, False)]
    # observed 0.75; chance 0.5*0.25 + 0.5*0.75 = 0.5; kappa = 0.25 / 0.5
    assert cohen_kappa(pairs) == pytest.approx(0.5)
    assert cohen_kappa([(True, True), (False, False)]) == pytest.approx(1.0)
    assert cohen_kappa([]) is None
    assert cohen_kappa([(True, True), (True, True)]) is None


def _result(
    case_id: str,
    *,
    judge: bool | None,
    fallback: bool,
    outcome: CaseOutcome = "diagnosed",
    source: str = "agentclinic",
) -> CaseResult:
    correct = judge if judge is not None else fallback
    return CaseResult(
        case_id=case_id,
        line=1,
        source=source,
        case_sha256="0" * 64,
        correct_diagnosis="Myasthenia gravis",
        diagnosis=None if outcome != "diagnosed" else "something",
        outcome=outcome,
        turns=3,
        actions={"ask_patient": 2, "diagnose": 1},
        correct=correct,
        verdict_source="judge" if judge is not None else "fallback",
        judge=JudgeVerdict(correct=judge, error=None if judge is not None else "LLMUnavailable"),
        fallback=FallbackVerdict(
            correct=fallback,
            method="exact" if fallback else ("none" if outcome == "diagnosed" else "no_diagnosis"),
            score=1.0,
            judged_text="something" if outcome == "diagnosed" else "",
        ),
        usage=CaseUsage(llm_calls=5, prompt_tokens=100, completion_tokens=10, seconds=2.0),
        started_at=NOW,
        finished_at=NOW,
    )


def test_summary_reports_each_verdict_and_their_agreement() -> None:
    results = [
        _result("a", judge=True, fallback=True),
        _result("b", judge=False, fallback=True),
        _result("c", judge=None, fallback=True, source="ehr"),
        _result("d", judge=False, fallback=False, outcome="turn_limit", source="ehr"),
    ]
    summary = summarize(results, total_cases=5, identity={"models": {"doctor": "m"}})
    accuracy = summary["accuracy"]
    assert (accuracy["moderator"]["correct"], accuracy["moderator"]["n"]) == (2, 4)
    assert (accuracy["judge"]["correct"], accuracy["judge"]["n"]) == (1, 3)
    assert (accuracy["fallback"]["correct"], accuracy["fallback"]["n"]) == (3, 4)
    assert accuracy["moderator"]["ci95"] == pytest.approx(list(wilson_interval(2, 4)), abs=1e-4)
    agreement = summary["agreement"]
    assert (agreement["cases"], agreement["agree"], agreement["judge_gave_no_verdict"]) == (2, 1, 1)
    assert agreement["rate"] == 0.5
    assert summary["by_source"]["ehr"]["fallback"]["correct"] == 1
    assert summary["by_source"]["agentclinic"]["judge"]["n"] == 2
    assert (summary["finished"], summary["unfinished"]) == (4, 1)
    assert summary["outcomes"] == {"diagnosed": 3, "turn_limit": 1}
    assert summary["usage"]["prompt_tokens"] == 400
    published = {row["system"]: row["accuracy"] for row in summary["reference"]["published"]}
    assert published == {"MedGemma 27B": 0.562, "Gemma 3 27B": 0.507, "Human physicians": 0.54}
    markdown = summary_markdown(summary, results)
    assert "| moderator (judge, else fallback) | 2 | 4 | 50.0% |" in markdown
    assert "MedGemma 27B 56.2%; Gemma 3 27B 50.7%; Human physicians 54.0%" in markdown
    assert "| c | Myasthenia gravis | something | diagnosed | 3 | n/a | yes (exact) |" in markdown
    assert "| d | Myasthenia gravis | - | turn_limit | 3 | no | no (no_diagnosis) |" in markdown
