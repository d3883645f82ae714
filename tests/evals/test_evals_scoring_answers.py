"""Unit tests of the per-answer-type scorers (pure functions, no data needed)."""

from __future__ import annotations

from datetime import date

import pytest

from evals.dataset import QAItem
from evals.scoring import (
    parse_yes_no,
    score_choice,
    score_date,
    score_item,
    score_number,
    score_set,
    score_text,
    score_yes_no,
)
from evals.scoring.dates import parse_date
from evals.scoring.numbers import convert, parse_quantities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("Yes, she was prescribed simvastatin in 2015.", "yes"),
        ("TRUE", "yes"),
        ("present", "yes"),
        ("No.", "no"),
        ("no, never", "no"),
        ("false", "no"),
        ("absent", "no"),
        ("The patient has never been prescribed a statin.", "no"),
        ("There is no record of a statin prescription.", "no"),
        ("The patient does not have diabetes.", "no"),
        ("She isn't deceased.", "no"),
        ("Not known", None),
        ("It is not known whether the patient smoked.", None),
        ("I cannot determine this from the record.", None),
        ("unknown", None),
        ("The record confirms a positive result.", "yes"),
        ("", None),
        ("Hypertension", None),
        (True, "yes"),
        (False, "no"),
        (None, None),
    ],
)
def test_parse_yes_no(text: str | bool | None, expected: str | None) -> None:
    assert parse_yes_no(text) == expected


def test_no_inside_not_known_is_not_a_no() -> None:
    score = score_yes_no("Not known from the available data", "no")
    assert not score.correct
    assert "no yes/no" in score.detail


def test_yes_no_wrong_answer_is_wrong() -> None:
    assert not score_yes_no("Yes", "no").correct
    assert score_yes_no("No", "no").value == 1.0


@pytest.mark.parametrize(
    ("text", "gold", "unit", "tolerance", "correct"),
    [
        ("7.2 %", 7.23, "%", 0.051, True),
        ("7.2%", 7.23, "%", 0.051, True),
        ("The HbA1c was 7.2% on 2019-03-03.", 7.23, "%", 0.051, True),
        ("about 140 mmHg", 140.2, "mm[Hg]", 0.701, True),
        ("140 mm Hg", 140.2, "mm[Hg]", 0.701, True),
        ("150 mmHg", 140.2, "mm[Hg]", 0.701, False),
        ("7.2", 7.23, "%", 0.051, True),
        ("1,234.5 kg", 1234.5, "kg", 0.5, True),
        ("154.3 lb", 70.0, "kg", 0.35, True),
        ("154 pounds", 80.0, "kg", 0.4, False),
        ("69 in", 175.3, "cm", 0.9, True),
        ("98.6 °F", 37.0, "Cel", 0.1, True),
        ("37 C", 37.0, "Cel", 0.1, True),
        ("The patient is 45 years old.", 45.0, "years", 0.0, True),
        ("44 years", 45.0, "years", 0.0, False),
        ("three times", 3.0, "count", 0.0, True),
        ("3 doses", 3.0, "doses", 0.0, True),
        ("twice", 2.0, "count", 0.0, True),
        ("None.", 0.0, "count", 0.0, True),
        ("In 2019 the count was 4", 4.0, "count", 0.0, True),
        ("no number here", 4.0, "count", 0.0, False),
        ("5 mg/dL", 5.0, "%", 0.05, False),
    ],
)
def test_score_number_text(
    text: str, gold: float, unit: str, tolerance: float, correct: bool
) -> None:
    assert score_number(text, gold, unit, tolerance).correct is correct


def test_mass_molar_conversion_needs_the_analyte() -> None:
    # Glucose 99 mg/dL is 5.5 mmol/L; cholesterol uses another factor.
    assert score_number("5.5 mmol/L", 99.0, "mg/dL", 0.5, analyte="2339-0").correct
    assert not score_number("5.5 mmol/L", 99.0, "mg/dL", 0.5).correct
    assert not score_number("5.5 mmol/L", 99.0, "mg/dL", 0.5, analyte="2093-3").correct
    assert score_number("5.12 mmol/L", 198.0, "mg/dL", 1.0, analyte="2093-3").correct


def test_hba1c_ifcc_conversion() -> None:
    # 7.0 % NGSP is 53 mmol/mol IFCC.
    assert score_number("53 mmol/mol", 7.0, "%", 0.1, analyte="4548-4").correct


def test_blood_pressure_pair_reads_the_asked_component() -> None:
    assert score_number("120/80 mmHg", 120.0, "mm[Hg]", 0.6, component="8480-6").correct
    assert score_number("120/80 mmHg", 80.0, "mm[Hg]", 0.6, component="8462-4").correct
    assert not score_number("120/80 mmHg", 80.0, "mm[Hg]", 0.6, component="8480-6").correct


def test_score_number_typed_values() -> None:
    assert score_number(7.2, 7.23, "%", 0.051).correct
    assert score_number({"value": 154.3, "unit": "lb"}, 70.0, "kg", 0.35).correct
    assert not score_number({"value": 1, "unit": "furlong"}, 70.0, "kg", 0.35).correct
    assert not score_number(True, 1.0, "count", 0.0).correct
    assert not score_number(None, 1.0, "count", 0.0).correct


def test_unit_conversions() -> None:
    assert convert(100.0, "kg", "lb") == pytest.approx(220.462, abs=1e-3)
    assert convert(212.0, "°F", "Cel") == pytest.approx(100.0)
    assert convert(10.0, "in", "cm") == pytest.approx(25.4)
    assert convert(1.0, "mg/dL", "mmol/L") is None
    assert convert(1.0, "mg/dL", "umol/L", analyte="38483-4") == pytest.approx(88.42)


def test_dates_are_not_read_as_values() -> None:
    readings = parse_quantities("On 03/03/2019 and March 4, 2019 the weight was 70 kg")
    assert [(r.value, r.unit) for r in readings] == [(70.0, "kg")]


@pytest.mark.parametrize(
    "text",
    [
        "2019-03-03",
        "2019-03-03T10:00:00Z",
        "2019-03-03T23:59:59+05:00",
        "March 3, 2019",
        "Mar 3 2019",
        "3 March 2019",
        "3rd of March, 2019",
        "03/03/2019",
        "3/3/2019",
        "2019/03/03",
        "It was on March 3rd, 2019, during a check-up.",
    ],
)
def test_date_formats(text: str) -> None:
    assert score_date(text, "2019-03-03", "day").correct


def test_date_day_month_order() -> None:
    assert score_date("25/03/2019", "2019-03-25").correct
    assert not score_date("03/04/2019", "2019-04-03").correct  # read as March 4 (US)


def test_date_precision() -> None:
    assert not score_date("March 2019", "2019-03-03", "day").correct
    assert score_date("March 2019", "2019-03", "month").correct
    assert score_date("2019-03-17", "2019-03", "month").correct
    assert score_date("in 2019", "2019", "year").correct
    assert not score_date("2019-03-04", "2019-03-03", "day").correct
    assert not score_date("no idea", "2019-03-03", "day").correct
    assert score_date(date(2019, 3, 3), "2019-03-03").correct


def test_parse_date_picks_the_first_date() -> None:
    parsed = parse_date("from 2018-01-02 to 2019-03-03")
    assert parsed is not None
    assert (parsed.year, parsed.month, parsed.day) == (2018, 1, 2)


CHOICES = ["Married", "Never married", "Divorced", "Widowed"]


@pytest.mark.parametrize(
    ("text", "correct"),
    [
        ("B", True),
        ("(B)", True),
        ("b) Never married", True),
        ("Option B", True),
        ("Answer: B", True),
        ("never married", True),
        ("The patient has never married.", True),
        ("The patient is never married.", True),
        ("Single", True),
        ("A", False),
        ("Married", False),
        ("E", False),
        ("", False),
    ],
)
def test_score_choice(text: str, correct: bool) -> None:
    assert score_choice(text, "Never married", CHOICES).correct is correct


def test_choice_synonyms_for_trends() -> None:
    options = ["increased", "decreased", "stayed about the same"]
    assert score_choice("It went up", "increased", options).correct is False  # phrase, not option
    assert score_choice("went up", "increased", options).correct
    assert score_choice("Decreased.", "decreased", options).correct


GOLD_SET = ["Hypertension", "Influenza, seasonal, injectable, preservative free", "Prediabetes"]


def test_set_exact_free_text_with_commas_inside_names() -> None:
    text = (
        "Active: Hypertension; Influenza, seasonal, injectable, preservative free and prediabetes."
    )
    score = score_set(text, GOLD_SET)
    assert score.correct
    assert score.value == 1.0


def test_set_missing_and_extra_elements() -> None:
    missing = score_set("Hypertension and Prediabetes", GOLD_SET)
    assert not missing.correct
    assert missing.value == pytest.approx(0.8)  # P 1, R 2/3
    extra = score_set(["Hypertension", "Prediabetes", "Asthma", *GOLD_SET[1:2]], GOLD_SET)
    assert not extra.correct
    assert extra.value == pytest.approx(2 * 0.75 * 1 / 1.75, abs=1e-4)


def test_set_normalization_and_synonyms() -> None:
    gold = ["Hypertension", "Simvistatin 10 MG"]
    assert score_set(["hypertension (disorder)", "simvastatin 10 mg"], gold).correct
    assert score_set("- Hypertension\n- Simvastatin 10 mg", gold).correct
    assert not score_set("", gold).correct
    assert not score_set(None, gold).correct


def test_score_text() -> None:
    assert score_text("English", "English").correct
    assert score_text("The patient speaks English.", "English").correct
    assert score_text("fracture of the clavicle", "Fracture of clavicle").correct
    assert not score_text("Spanish", "English").correct
    partial = score_text("Hydrochlorothiazide 50 MG", "Hydrochlorothiazide 25 MG")
    assert partial.correct
    assert partial.value == pytest.approx(2 / 3, abs=1e-3)
    assert not score_text("", "English").correct


def _item(**overrides: object) -> QAItem:
    base: dict[str, object] = {
        "id": "x",
        "patient_id": "p",
        "category": "lab_results",
        "template_id": "lab.latest_value",
        "phrasing_id": 0,
        "question": "q",
        "answer_type": "number",
        "gold": 99.0,
        "unit": "mg/dL",
        "tolerance": 0.5,
        "as_of": "2019-01-01",
        "evidence_ids": ["Observation/1"],
        "params": {"op": "latest_value", "code": "http://loinc.org|2339-0"},
    }
    base.update(overrides)
    return QAItem.model_validate(base)


def test_score_item_uses_the_items_analyte_and_prefers_typed_values() -> None:
    item = _item()
    assert score_item(item, answer="Glucose was 5.5 mmol/L").correct
    assert score_item(item, answer="12", value=99.2).correct
    missing = score_item(item)
    assert not missing.correct
    assert missing.detail == "no answer"


def test_score_item_dispatches_every_type() -> None:
    yes_no = _item(answer_type="yes_no", gold="no", unit=None, tolerance=None)
    assert score_item(yes_no, answer="No, never.").correct
    choice = _item(answer_type="choice", gold="male", unit=None, tolerance=None,
                   choices=["female", "male"])  # fmt: skip
    assert score_item(choice, answer="(B)").correct
    dated = _item(answer_type="date", gold="2019-03-03", unit=None, tolerance=None,
                  precision="day")  # fmt: skip
    assert score_item(dated, answer="March 3, 2019").correct
    names = _item(answer_type="set", gold=["A1", "B2"], unit=None, tolerance=None)
    assert score_item(names, value=["b2", "a1"]).correct
    text = _item(answer_type="text", gold="English", unit=None, tolerance=None)
    assert score_item(text, answer="english").correct
