"""Scoring one answer against one item: a small pure function per answer type.

Every scorer takes the prediction as free text or as a typed value (bool, number, date,
list) and returns a :class:`Score`. An answer that cannot be read ("not known", no number,
no date) is wrong, with a detail that says so; it is never guessed into a right one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from evals.dataset import QAItem
from evals.scoring.dates import ParsedDate, parse_date
from evals.scoring.normalize import canonical, token_f1
from evals.scoring.numbers import Reading, canonical_unit, convert, is_unitless, parse_quantities

__all__ = [
    "Prediction",
    "Score",
    "parse_yes_no",
    "score_choice",
    "score_date",
    "score_item",
    "score_number",
    "score_set",
    "score_text",
    "score_yes_no",
]

Prediction = str | bool | int | float | date | Sequence[str] | Mapping[str, object] | None
TEXT_F1_THRESHOLD = 0.6
SET_MATCH_F1 = 0.8
_DIASTOLIC = "8462-4"


@dataclass(frozen=True)
class Score:
    """The verdict on one answer.

    Attributes:
        correct: Whether the answer counts as right.
        value: Partial credit in [0, 1] (F1 for sets and texts; 0 or 1 otherwise).
        detail: What was read from the answer and why it was judged so.
    """

    correct: bool
    value: float
    detail: str


def _verdict(correct: bool, detail: str, value: float | None = None) -> Score:
    return Score(correct, float(correct) if value is None else round(value, 4), detail)


_UNKNOWN = re.compile(
    r"\b(unknown|not known|don'?t know|do not know|cannot (?:be )?determined?|can'?t (?:be )?"
    r"determined?|unable to|unclear|not sure|uncertain|insufficient|no information|"
    r"not enough information|not available|not documented whether)\b"
)
_YES_FIRST = frozenset({"yes", "yeah", "yep", "true", "correct", "affirmative", "y", "present"})
_NO_FIRST = frozenset({"no", "nope", "false", "negative", "absent", "none", "never", "n"})
_YES_WORDS = re.compile(r"\b(yes|true|present|positive|confirmed|indeed)\b")
_NO_WORDS = re.compile(r"\b(no|not|never|none|absent|negative|false|neither|nor|without)\b|n't\b")


def parse_yes_no(prediction: Prediction) -> Literal["yes", "no"] | None:
    """Read yes or no from a typed value or free text; None when the answer does not say."""
    if isinstance(prediction, bool):
        return "yes" if prediction else "no"
    if not isinstance(prediction, str):
        return None
    text = prediction.strip().lower()
    words = re.findall(r"[a-z']+", text)
    if not words:
        return None
    if words[0] in _YES_FIRST:
        return "yes"
    if words[0] in _NO_FIRST:
        return "no"
    if _UNKNOWN.search(text):
        return None
    has_yes, has_no = bool(_YES_WORDS.search(text)), bool(_NO_WORDS.search(text))
    if has_yes != has_no:
        return "yes" if has_yes else "no"
    return None


def score_yes_no(prediction: Prediction, gold: str) -> Score:
    """Yes/no answers: 'yes', 'No, never', True, 'absent', ...; 'not known' is wrong."""
    read = parse_yes_no(prediction)
    if read is None:
        return _verdict(False, "no yes/no answer found")
    return _verdict(read == gold, f"read {read!r}, gold {gold!r}")


def _pick_reading(
    readings: list[Reading], unit: str, analyte: str | None
) -> tuple[float, str] | None:
    """The first reading usable in the gold unit: (value in gold unit, how it was read)."""
    unitless_gold = is_unitless(unit)
    plain = [r for r in readings if r.unit is None]
    # A bare year (2019) among other numbers is a date fragment, not the value.
    if len(readings) > 1:
        plain = [
            r for r in plain if not (r.value.is_integer() and 1900 <= r.value <= 2100)
        ] or plain
    for reading in readings:
        if reading.unit is None:
            continue
        if unitless_gold:
            return reading.value, f"{reading.value:g}"
        converted = convert(reading.value, reading.unit, unit, analyte)
        if converted is not None:
            return converted, f"{reading.value:g} {reading.unit}"
    if plain:
        return plain[0].value, f"{plain[0].value:g} (no unit, taken as {unit})"
    return None


def score_number(
    prediction: Prediction,
    gold: float,
    unit: str,
    tolerance: float,
    analyte: str | None = None,
    component: str | None = None,
) -> Score:
    """Numbers with units: '7.2 %', 'about 140 mmHg', '154 lb' (for kg), 7.2 (typed).

    A number without a unit is taken in the gold unit; a number in another unit is converted
    when the conversion is known (mass/molar conversions only with ``analyte``, a LOINC code).

    Args:
        prediction: Free text, a number, or a mapping with ``value`` and ``unit``.
        gold: Gold value in ``unit``.
        unit: Gold unit.
        tolerance: Largest accepted absolute difference, in ``unit``.
        analyte: LOINC code of the measured substance.
        component: LOINC code of the panel component asked about (diastolic reads "120/80"
            as 80).
    """
    if isinstance(prediction, bool) or prediction is None:
        return _verdict(False, "no number found")
    found: tuple[float, str] | None
    if isinstance(prediction, int | float):
        found = float(prediction), f"{prediction:g}"
    elif isinstance(prediction, Mapping):
        raw, raw_unit = prediction.get("value"), prediction.get("unit")
        if not isinstance(raw, int | float) or isinstance(raw, bool):
            return _verdict(False, "no number found")
        if raw_unit is None:
            found = float(raw), f"{raw:g}"
        else:
            converted = convert(float(raw), str(raw_unit), unit, analyte)
            if converted is None:
                return _verdict(False, f"unit {raw_unit!r} cannot be converted to {unit!r}")
            found = converted, f"{raw:g} {raw_unit}"
    elif isinstance(prediction, str):
        readings = parse_quantities(prediction, pairs_second=component == _DIASTOLIC)
        if not readings:
            return _verdict(False, "no number found")
        found = _pick_reading(readings, unit, analyte)
        if found is None:
            units = sorted({canonical_unit(r.unit) or "" for r in readings})
            return _verdict(False, f"unit(s) {units} cannot be converted to {unit!r}")
    else:
        return _verdict(False, "no number found")
    value, how = found
    correct = abs(value - gold) <= tolerance + 1e-9
    return _verdict(correct, f"read {how} = {value:.4g} {unit}, gold {gold:g} ± {tolerance:g}")


def _as_parsed(prediction: Prediction) -> ParsedDate | None:
    if isinstance(prediction, datetime):
        return ParsedDate(prediction.year, prediction.month, prediction.day)
    if isinstance(prediction, date):
        return ParsedDate(prediction.year, prediction.month, prediction.day)
    if isinstance(prediction, str):
        return parse_date(prediction)
    return None


def score_date(prediction: Prediction, gold: str, precision: str = "day") -> Score:
    """Dates in many formats ('March 3, 2019', '03/03/2019', '2019-03-03T10:00:00Z').

    The day must match when ``precision`` is 'day'; month and year precision compare only
    what they name. A prediction vaguer than the gold precision is wrong.
    """
    read = _as_parsed(prediction)
    target = parse_date(gold)
    if target is None:
        raise ValueError(f"gold date {gold!r} is not a date")
    if read is None:
        return _verdict(False, "no date found")
    shown = "-".join(f"{p:02d}" for p in (read.year, read.month, read.day) if p is not None)
    if (precision == "day" and read.day is None) or (precision == "month" and read.month is None):
        return _verdict(False, f"read {shown}, less precise than the gold {precision}")
    same = read.year == target.year
    if precision in ("month", "day"):
        same = same and read.month == target.month
    if precision == "day":
        same = same and read.day == target.day
    return _verdict(same, f"read {shown}, gold {gold} ({precision})")


_LETTER = re.compile(
    r"^\s*(?:(?:option|answer|choice)\s*:?\s*)?\(?([a-h])\)?(?:[\s.):,]|$)", re.IGNORECASE
)


def _choice_index(prediction: str, choices: Sequence[str]) -> int | None:
    match = _LETTER.match(prediction)
    if match:
        index = ord(match.group(1).lower()) - ord("a")
        if index < len(choices):
            return index
    said = canonical(prediction)
    keys = [canonical(c) for c in choices]
    if said in keys:
        return keys.index(said)
    found = [
        (len(key), i)
        for i, key in enumerate(keys)
        if key and re.search(rf"(?<![\w]){re.escape(key)}(?![\w])", said)
    ]
    if not found:
        return None
    found.sort(reverse=True)
    best = keys[found[0][1]]
    # "never married" contains "married": the longer one wins only if it covers the others.
    if all(keys[i] in best for _, i in found[1:]):
        return found[0][1]
    return None


def score_choice(prediction: Prediction, gold: str, choices: Sequence[str]) -> Score:
    """A letter ('B', '(B)', 'Option B') or the text of one option (normalized, synonyms)."""
    if not isinstance(prediction, str):
        return _verdict(False, "no option found")
    index = _choice_index(prediction, choices)
    if index is None:
        return _verdict(False, "no single option found")
    return _verdict(choices[index] == gold, f"read {choices[index]!r}, gold {gold!r}")


_SEPARATORS = re.compile(r"\n|;|,|:|\band\b|\u2022|(?:^|\s)[-*]\s|\b\d+[.)]\s")
_FILLER = frozenset(
    [
        "patient",
        "patients",
        "has",
        "have",
        "had",
        "is",
        "are",
        "was",
        "were",
        "the",
        "a",
        "an",
        "of",
        "following",
        "include",
        "includes",
        "including",
        "currently",
        "current",
        "active",
        "list",
        "record",
        "records",
        "recorded",
        "their",
        "his",
        "her",
        "with",
        "condition",
        "conditions",
        "problem",
        "problems",
        "diagnosis",
        "diagnoses",
        "medication",
        "medications",
        "drug",
        "drugs",
        "prescription",
        "prescriptions",
        "allergy",
        "allergies",
        "procedure",
        "procedures",
        "vaccine",
        "vaccines",
        "immunization",
        "immunizations",
        "care",
        "plan",
        "plans",
        "activity",
        "activities",
        "test",
        "tests",
        "result",
        "results",
        "these",
        "those",
        "which",
        "that",
        "this",
        "as",
        "on",
        "in",
        "to",
        "for",
        "also",
        "only",
        "other",
        "none",
        "answer",
    ]
)


_SEP_WORD = "xsepx"


def _phrase_pattern(key: str) -> str:
    """Regex for a canonical phrase whose commas or 'and' may have become separators."""
    words = [f"(?:and|{_SEP_WORD})" if w == "and" else re.escape(w) for w in key.split()]
    return r"(?<![\w])" + rf"(?:\s+{_SEP_WORD})*\s+".join(words) + r"(?![\w])"


def score_set(prediction: Prediction, gold: Sequence[str]) -> Score:
    """A set of names: correct iff it is exactly the gold set; ``value`` is the F1.

    Gold names are found in free text first as whole phrases (they may contain commas,
    "Influenza, seasonal, injectable"), then the rest is split on commas, semicolons, 'and'
    and bullets; leftover fragments with content words count as extra elements.
    """
    if prediction is None or isinstance(prediction, bool | int | float | date | Mapping):
        return _verdict(False, "no list found", 0.0)
    keys = sorted({canonical(g) for g in gold}, key=len, reverse=True)
    matched: set[str] = set()
    if isinstance(prediction, str):
        text = canonical(_SEPARATORS.sub(f" {_SEP_WORD} ", prediction))
        for key in keys:
            pattern = _phrase_pattern(key)
            if key and re.search(pattern, text):
                matched.add(key)
                text = re.sub(pattern, f" {_SEP_WORD} ", text)
        parts = [p.strip() for p in text.split(_SEP_WORD)]
        parts = [p for p in parts if p and not all(w in _FILLER for w in p.split())]
    else:
        parts = [canonical(str(p)) for p in prediction]
    extras: list[str] = []
    for key in parts:
        if not key:
            continue
        if key in keys:
            matched.add(key)
            continue
        fuzzy = [g for g in keys if g not in matched and token_f1(key, g) >= SET_MATCH_F1]
        if fuzzy:
            matched.add(fuzzy[0])
        else:
            extras.append(key)
    true_positive = len(matched)
    predicted = true_positive + len(extras)
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / len(keys) if keys else float(not predicted)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    correct = true_positive == len(keys) and not extras
    detail = f"matched {true_positive}/{len(keys)}, extra {len(extras)}; F1 {f1:.2f}"
    return _verdict(correct, detail, f1)


def score_text(prediction: Prediction, gold: str, threshold: float = TEXT_F1_THRESHOLD) -> Score:
    """Short text: normalized exact match, the gold phrase inside the answer, or token F1."""
    if not isinstance(prediction, str) or not prediction.strip():
        return _verdict(False, "no answer", 0.0)
    said, target = canonical(prediction), canonical(gold)
    if said == target:
        return _verdict(True, "exact match")
    if target and re.search(rf"(?<![\w]){re.escape(target)}(?![\w])", said):
        return _verdict(True, "gold phrase found in the answer")
    f1 = token_f1(prediction, gold)
    return _verdict(f1 >= threshold, f"token F1 {f1:.2f} (threshold {threshold})", f1)


def score_item(item: QAItem, answer: str | None = None, value: Prediction = None) -> Score:
    """Score one prediction for one item.

    Args:
        item: The benchmark item.
        answer: The system's free-text answer.
        value: A typed answer (bool, number, date, list of names, option text), used in
            preference to ``answer`` when given.

    Returns:
        The :class:`Score`; a missing answer is wrong, never an error.
    """
    prediction: Prediction = value if value is not None else answer
    if prediction is None:
        return _verdict(False, "no answer", 0.0)
    kind = item.answer_type
    if kind == "yes_no":
        return score_yes_no(prediction, str(item.gold))
    if kind == "number":
        assert item.unit is not None
        assert item.tolerance is not None
        code = item.params.get("code")
        analyte = code.split("|")[-1] if isinstance(code, str) else None
        component = item.params.get("component")
        return score_number(
            prediction, float(item.gold), item.unit, item.tolerance, analyte,
            component if isinstance(component, str) else None,
        )  # fmt: skip
    if kind == "date":
        return score_date(prediction, str(item.gold), item.precision or "day")
    if kind == "choice":
        assert item.choices is not None
        return score_choice(prediction, str(item.gold), item.choices)
    if kind == "set":
        return score_set(prediction, [str(g) for g in item.gold])
    return score_text(prediction, str(item.gold))
