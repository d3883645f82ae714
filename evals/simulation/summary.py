"""Accuracy of a simulation run, with 95% Wilson intervals, and the judges' agreement.

Accuracy is reported three ways: under the moderator verdict (the LLM judge where it
ruled, the deterministic matcher where it did not), under the LLM judge alone (cases it
ruled on), and under the deterministic matcher alone (every case). A case without a
diagnosis (turn limit, invalid output) is incorrect under all three. Agreement is
measured on the diagnosed cases both ruled on: raw agreement and Cohen's kappa.

Published AgentClinic-MedQA results are attached for reference; they are comparable
only to a full run of that case file with capable patient and measurement models.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from evals.simulation.records import CaseResult

__all__ = [
    "PUBLISHED_AGENTCLINIC_MEDQA",
    "Z_95",
    "accuracy",
    "cohen_kappa",
    "summarize",
    "summary_markdown",
    "wilson_interval",
]

_DIAGNOSIS_WIDTH = 80

Z_95 = 1.959963984540054
"""Two-sided 95% quantile of the standard normal."""

PUBLISHED_AGENTCLINIC_MEDQA: list[dict[str, Any]] = [
    {
        "system": "MedGemma 27B",
        "accuracy": 0.562,
        "note": "MedQA extended split; GPT-4o as patient and measurement agents",
    },
    {"system": "Gemma 3 27B", "accuracy": 0.507, "note": "same setting"},
    {"system": "Human physicians", "accuracy": 0.540, "note": "AgentClinic-MedQA"},
]


def wilson_interval(correct: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion (``(0.0, 1.0)`` when ``total`` is 0).

    Raises:
        ValueError: ``correct`` is negative or larger than ``total``.
    """
    if total < 0 or not 0 <= correct <= max(total, 0):
        raise ValueError(f"need 0 <= correct <= total, got {correct}/{total}")
    if total == 0:
        return (0.0, 1.0)
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def accuracy(verdicts: Sequence[bool]) -> dict[str, Any]:
    """Correct count, total, rate and 95% Wilson interval of a list of verdicts."""
    total = len(verdicts)
    correct = sum(1 for v in verdicts if v)
    low, high = wilson_interval(correct, total)
    return {
        "correct": correct,
        "n": total,
        "accuracy": round(correct / total, 4) if total else None,
        "ci95": [round(low, 4), round(high, 4)],
    }


def cohen_kappa(pairs: Sequence[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of two raters' yes/no verdicts.

    None when it is undefined: no pairs, or both raters constant and equal.
    """
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(1 for a, b in pairs if a == b) / n
    yes_a = sum(1 for a, _ in pairs if a) / n
    yes_b = sum(1 for _, b in pairs if b) / n
    expected = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def _three_ways(results: Sequence[CaseResult]) -> dict[str, Any]:
    return {
        "moderator": accuracy([r.correct for r in results]),
        "judge": accuracy([r.judge.correct for r in results if r.judge.correct is not None]),
        "fallback": accuracy([r.fallback.correct for r in results]),
    }


def summarize(
    results: Sequence[CaseResult],
    *,
    total_cases: int,
    identity: dict[str, Any],
    failed: Sequence[str] = (),
) -> dict[str, Any]:
    """The run's summary document (``summary.json``).

    Args:
        results: Finished cases, in case-file order.
        total_cases: Cases selected from the file (after ``--limit``).
        identity: The run's settings (models per role, limits), echoed for readers.
        failed: Case ids that failed in this run (left unfinished).
    """
    diagnosed = [r for r in results if r.diagnosis is not None]
    pairs = [
        (bool(r.judge.correct), r.fallback.correct)
        for r in diagnosed
        if r.judge.correct is not None
    ]
    kappa = cohen_kappa(pairs)
    turns = [r.turns for r in results]
    seconds = [r.usage.seconds for r in results]
    actions: Counter[str] = Counter()
    for result in results:
        actions.update(result.actions)
    by_source: dict[str, Any] = {}
    for source in sorted({r.source for r in results}):
        group = [r for r in results if r.source == source]
        by_source[source] = {"cases": len(group), **_three_ways(group)}
    return {
        "cases": total_cases,
        "finished": len(results),
        "unfinished": total_cases - len(results),
        "failed_this_run": list(failed),
        "accuracy": _three_ways(results),
        "agreement": {
            "cases": len(pairs),
            "agree": sum(1 for a, b in pairs if a == b),
            "rate": round(sum(1 for a, b in pairs if a == b) / len(pairs), 4) if pairs else None,
            "cohen_kappa": round(kappa, 4) if kappa is not None else None,
            "judge_gave_no_verdict": sum(1 for r in diagnosed if r.judge.correct is None),
        },
        "by_source": by_source,
        "outcomes": dict(sorted(Counter(r.outcome for r in results).items())),
        "fallback_methods": dict(sorted(Counter(r.fallback.method for r in results).items())),
        "actions": dict(sorted(actions.items())),
        "turns": {
            "mean": round(statistics.fmean(turns), 2) if turns else None,
            "median": statistics.median(turns) if turns else None,
            "max": max(turns) if turns else None,
        },
        "usage": {
            "llm_calls": sum(r.usage.llm_calls for r in results),
            "prompt_tokens": sum(r.usage.prompt_tokens for r in results),
            "completion_tokens": sum(r.usage.completion_tokens for r in results),
            "doctor_prompt_tokens": sum(r.usage.doctor_prompt_tokens for r in results),
            "doctor_completion_tokens": sum(r.usage.doctor_completion_tokens for r in results),
            "ehr_queries": sum(r.usage.ehr_queries for r in results),
            "fhir_requests": sum(r.usage.fhir_requests for r in results),
            "seconds_total": round(sum(seconds), 1),
            "seconds_per_case_mean": round(statistics.fmean(seconds), 1) if seconds else None,
        },
        "settings": identity,
        "reference": {
            "benchmark": "AgentClinic-MedQA",
            "published": PUBLISHED_AGENTCLINIC_MEDQA,
            "note": "Published figures use the whole case set and capable patient, "
            "measurement and moderator models; a small slice run with a small local model "
            "is not comparable to them (see the intervals).",
        },
    }


def summary_markdown(summary: dict[str, Any], results: Sequence[CaseResult] = ()) -> str:
    """The summary as a short Markdown report (``summary.md``), with one row per case."""
    lines = [
        "# Simulation summary",
        "",
        f"{summary['finished']} of {summary['cases']} cases finished"
        + (f" ({summary['unfinished']} unfinished)" if summary["unfinished"] else "")
        + ".",
        "",
        "| verdict | correct | n | accuracy | 95% CI (Wilson) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, label in (
        ("moderator", "moderator (judge, else fallback)"),
        ("judge", "LLM judge"),
        ("fallback", "deterministic fallback"),
    ):
        lines.append(_accuracy_row(label, summary["accuracy"][name]))
    agreement = summary["agreement"]
    lines += [
        "",
        f"Judge and fallback agree on {agreement['agree']} of {agreement['cases']} diagnosed "
        f"cases (Cohen's kappa {_fmt(agreement['cohen_kappa'])}); the judge gave no verdict "
        f"on {agreement['judge_gave_no_verdict']}.",
        "",
    ]
    if len(summary["by_source"]) > 1:
        lines += ["| source | verdict | correct | n | accuracy | 95% CI |", *_source_rows(summary)]
        lines.append("")
    usage = summary["usage"]
    lines += [
        f"Outcomes: {_counts(summary['outcomes'])}. Doctor actions: {_counts(summary['actions'])}.",
        f"Turns per case: mean {_fmt(summary['turns']['mean'])}, max {summary['turns']['max']}. "
        f"Tokens: {usage['prompt_tokens']} prompt, {usage['completion_tokens']} completion "
        f"over {usage['llm_calls']} calls; {usage['seconds_total']} s in total.",
        "",
        "Models: "
        + ", ".join(f"{role} {name}" for role, name in summary["settings"]["models"].items())
        + ".",
        "",
        "Published AgentClinic-MedQA accuracy (for reference, not comparable to a small "
        "slice): "
        + "; ".join(
            f"{row['system']} {row['accuracy'] * 100:.1f}%"
            for row in summary["reference"]["published"]
        )
        + ".",
        "",
    ]
    if results:
        lines += [
            "| case | correct diagnosis | doctor diagnosis (as compared) | outcome | turns | judge "
            "| fallback |",
            "| --- | --- | --- | --- | ---: | --- | --- |",
            *(_case_row(result) for result in results),
            "",
        ]
    return "\n".join(lines)


def _case_row(result: CaseResult) -> str:
    # The part of the doctor's text that was compared (full text in results.jsonl).
    diagnosis = (result.fallback.judged_text or "-").replace("|", "/").replace("\n", " ")
    if len(diagnosis) > _DIAGNOSIS_WIDTH:
        diagnosis = diagnosis[: _DIAGNOSIS_WIDTH - 1] + "…"
    judge = "n/a" if result.judge.correct is None else ("yes" if result.judge.correct else "no")
    fallback = f"{'yes' if result.fallback.correct else 'no'} ({result.fallback.method})"
    return (
        f"| {result.case_id} | {result.correct_diagnosis} | {diagnosis} | {result.outcome} | "
        f"{result.turns} | {judge} | {fallback} |"
    )


def _accuracy_row(label: str, acc: dict[str, Any]) -> str:
    rate = "n/a" if acc["accuracy"] is None else f"{acc['accuracy'] * 100:.1f}%"
    low, high = acc["ci95"]
    return (
        f"| {label} | {acc['correct']} | {acc['n']} | {rate} | {low * 100:.1f}-{high * 100:.1f}% |"
    )


def _source_rows(summary: dict[str, Any]) -> list[str]:
    rows = []
    for source, group in summary["by_source"].items():
        for name in ("moderator", "judge", "fallback"):
            row = _accuracy_row(name, group[name])
            rows.append(f"| {source} " + row)
    return ["| --- | --- | ---: | ---: | ---: | --- |", *rows]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "none"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
