"""The deterministic moderator: which stage decides, and what must not match."""

from __future__ import annotations

import pytest

from evals.simulation.matching import first_alternative, match_diagnosis, normalize_diagnosis

PML = "Progressive multifocal encephalopathy (PML)"


@pytest.mark.parametrize(
    ("prediction", "correct", "method"),
    [
        ("Myasthenia gravis", "Myasthenia gravis", "exact"),
        ("myasthenia  GRAVIS.", "Myasthenia gravis", "exact"),
        ("Hirschsprung disease", "Hirschsprung’s disease", "exact"),
        ("Viral sinusitis", "Viral sinusitis (disorder)", "exact"),
        ("Hemorrhoid", "Hemorrhoids", "exact"),
        ("Haemorrhoids", "Hemorrhoids", "exact"),
        ("PML", "Progressive multifocal encephalopathy (PML)", "exact"),
        (
            "Progressive multifocal encephalopathy",
            "Progressive multifocal encephalopathy (PML)",
            "exact",
        ),
        ("strep throat", "Streptococcal sore throat (disorder)", "synonym"),
        ("Clostridioides difficile colitis", "C. difficile colitis", "synonym"),
        ("UTI", "Urinary tract infection", "synonym"),
        ("Alzheimer's", "Alzheimer's disease (disorder)", "synonym"),
        ("DIAGNOSIS READY: ocular myasthenia gravis", "Myasthenia gravis", "containment"),
        ("Bronchitis", "Acute bronchitis (disorder)", "containment"),
        ("Ankle sprain", "Sprain of ankle", "containment"),
        ("Type 2 diabetes mellitus", "Diabetes", "containment"),
        ("anserine bursitis", "Pes anserine bursitis", "token_overlap"),
    ],
)
def test_names_of_the_same_disease_match(prediction: str, correct: str, method: str) -> None:
    verdict = match_diagnosis(prediction, correct)
    assert verdict.correct, verdict
    assert verdict.method == method


@pytest.mark.parametrize(
    ("prediction", "correct"),
    [
        ("Hypertension", "Prediabetes"),
        ("Chronic bronchitis", "Acute bronchitis (disorder)"),  # opposite qualifier
        ("Acute sinusitis", "Chronic sinusitis (disorder)"),
        ("Bacterial sinusitis", "Viral sinusitis (disorder)"),
        ("Lymphoma", "Diffuse large B-cell lymphoma"),  # too vague
        ("B-cell lymphoma", "Diffuse large B-cell lymphoma"),  # F1 0.75 < 0.8
        ("Type 1 diabetes mellitus", "Type 2 diabetes mellitus"),
        ("Lambert-Eaton syndrome or myasthenia gravis", "Myasthenia gravis"),  # first only
        ("Botulism; myasthenia gravis", "Myasthenia gravis"),
        ("Lambert-Eaton vs. myasthenia gravis", "Myasthenia gravis"),
    ],
)
def test_other_diseases_and_hedges_do_not_match(prediction: str, correct: str) -> None:
    verdict = match_diagnosis(prediction, correct)
    assert not verdict.correct, verdict
    assert verdict.method == "none"


def test_a_sentence_stating_the_diagnosis_is_reduced_to_it() -> None:
    stated = (
        "Based on the information provided, the most likely diagnosis for this 9-year-old "
        "with ankle pain after twisting it on uneven ground is **ankle sprain**."
    )
    verdict = match_diagnosis(stated, "Sprain of ankle")
    assert (verdict.correct, verdict.judged_text) == (True, "ankle sprain")
    wrong = (
        "Based on the tests, the most likely diagnosis is Acute Hematological Disease (AHD). "
        "This condition is characterized by bleeding after a laceration of the hand."
    )
    verdict = match_diagnosis(wrong, "Laceration of hand")
    assert not verdict.correct
    assert verdict.judged_text == "Acute Hematological Disease (AHD)"


def test_the_first_alternative_of_a_hedge_is_judged() -> None:
    verdict = match_diagnosis("Myasthenia gravis or Lambert-Eaton syndrome", "Myasthenia gravis")
    assert verdict.correct
    assert verdict.judged_text == "Myasthenia gravis"
    assert first_alternative("Diagnosis: C. difficile colitis. It fits the history.") == (
        "C. difficile colitis"
    )


@pytest.mark.parametrize("prediction", [None, "", "   "])
def test_no_diagnosis_is_incorrect(prediction: str | None) -> None:
    verdict = match_diagnosis(prediction, "Myasthenia gravis")
    assert (verdict.correct, verdict.method, verdict.score) == (False, "no_diagnosis", 0.0)


def test_normalisation_drops_tags_possessives_plurals_and_punctuation() -> None:
    assert normalize_diagnosis("Graves' disease (disorder)") == "grave disease"
    assert normalize_diagnosis("Hirschsprung’s disease") == "hirschsprung disease"
    assert normalize_diagnosis("Non-Hodgkin Lymphomas") == "non hodgkin lymphoma"
    assert normalize_diagnosis("Sinusitis") == "sinusitis"  # not "sinusiti"
