"""The scorers against the real dataset: every gold answer, written as a person would write it,
scores correct; a wrong answer of the right type scores wrong."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

from evals.builder import BuildResult
from evals.dataset import QAItem
from evals.scoring import score_item


def _as_prose(item: QAItem) -> str:
    gold = item.gold
    if item.answer_type == "yes_no":
        return "Yes, according to the record." if gold == "yes" else "No, there is none."
    if item.answer_type == "number":
        unit = "" if item.unit in ("count", "doses") else item.unit
        return f"The value was {gold:g} {unit}".strip()
    if item.answer_type == "date":
        day = date.fromisoformat(gold)
        return f"It was on {day.strftime('%B')} {day.day}, {day.year}."
    if item.answer_type == "choice":
        assert item.choices is not None
        return f"({'ABCDEFGH'[item.choices.index(gold)]})"
    if item.answer_type == "set":
        return "; ".join(gold)
    return f"{gold}."


def _wrong(item: QAItem) -> str:
    if item.answer_type == "yes_no":
        return "No." if item.gold == "yes" else "Yes."
    if item.answer_type == "number":
        assert item.tolerance is not None
        return f"{item.gold + 2 * item.tolerance + 1:g}"
    if item.answer_type == "date":
        return "1899-01-01"
    if item.answer_type == "choice":
        assert item.choices is not None
        return next(c for c in item.choices if c != item.gold)
    return "Zebra fever"


def test_every_gold_answer_in_prose_scores_correct(default_build: BuildResult) -> None:
    wrongly_scored = [
        (item.id, item.answer_type, _as_prose(item), score.detail)
        for item in default_build.items
        if not (score := score_item(item, answer=_as_prose(item))).correct
    ]
    assert wrongly_scored == []


def test_wrong_answers_score_wrong(default_build: BuildResult) -> None:
    accepted = [
        (item.id, _wrong(item))
        for item in default_build.items
        if score_item(item, answer=_wrong(item)).correct
    ]
    assert accepted == []


def test_builder_does_not_import_the_code_under_test() -> None:
    code = (
        "import sys, evals.builder, evals.scoring, evals.dataset; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'agent', 'tools'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
