"""The deterministic moderator: does the doctor's diagnosis name the correct one?

It backs up the LLM judge (and is recorded beside it on every case). The comparison
runs in stages, the first that succeeds decides:

1. ``exact``: equal after normalisation (case, accents, punctuation, possessives,
   SNOMED semantic tags such as "(disorder)", British spellings, plurals).
2. ``synonym``: equal after mapping known synonyms and abbreviations to one form
   ("strep throat" and "streptococcal pharyngitis", "MI" and "myocardial infarction").
   A parenthesised part of the correct diagnosis is accepted as an alias
   ("Progressive multifocal encephalopathy (PML)" also matches "PML").
3. ``containment``: every meaningful word of the correct diagnosis appears in the
   prediction ("ocular myasthenia gravis" for "Myasthenia gravis"); words like
   "disease" or "acute" do not count, but an opposite qualifier ("chronic" for an
   "acute" diagnosis) rules a match out.
4. ``token_overlap``: F1 of the meaningful words is at least :data:`OVERLAP_THRESHOLD`.

Only the first alternative of a hedged answer is judged ("A or B", "A; B", "A vs B"):
listing differentials does not earn credit for the second one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Literal

__all__ = [
    "OVERLAP_THRESHOLD",
    "PHRASE_SYNONYMS",
    "MatchMethod",
    "MatchVerdict",
    "first_alternative",
    "match_diagnosis",
    "normalize_diagnosis",
]

OVERLAP_THRESHOLD = 0.8
"""Least token F1 (meaningful words) that counts as naming the same diagnosis."""

MatchMethod = Literal["exact", "synonym", "containment", "token_overlap", "none", "no_diagnosis"]

# Whole phrases (after normalisation) mapped to one canonical spelling. Both sides of a
# comparison are mapped, so an entry can only make two names equal, never unequal.
PHRASE_SYNONYMS: dict[str, str] = {
    "strep throat": "streptococcal pharyngitis",
    "streptococcal sore throat": "streptococcal pharyngitis",
    "strep pharyngitis": "streptococcal pharyngitis",
    "group a strep pharyngitis": "streptococcal pharyngitis",
    "sore throat": "pharyngitis",
    "heart attack": "myocardial infarction",
    "mi": "myocardial infarction",
    "stemi": "st elevation myocardial infarction",
    "uti": "urinary tract infection",
    "bladder infection": "cystitis",
    "copd": "chronic obstructive pulmonary disease",
    "htn": "hypertension",
    "high blood pressure": "hypertension",
    "essential hypertension": "hypertension",
    "dm": "diabetes",
    "t2dm": "type 2 diabetes",
    "t1dm": "type 1 diabetes",
    "dvt": "deep vein thrombosis",
    "deep venous thrombosis": "deep vein thrombosis",
    "pe": "pulmonary embolism",
    "gerd": "gastroesophageal reflux disease",
    "gord": "gastroesophageal reflux disease",
    "acid reflux": "gastroesophageal reflux disease",
    "chf": "heart failure",
    "congestive heart failure": "heart failure",
    "afib": "atrial fibrillation",
    "af": "atrial fibrillation",
    "tb": "tuberculosis",
    "ckd": "chronic kidney disease",
    "ra": "rheumatoid arthritis",
    "oa": "osteoarthritis",
    "degenerative joint disease": "osteoarthritis",
    "sle": "systemic lupus erythematosus",
    "lupus": "systemic lupus erythematosus",
    "mg": "myasthenia gravis",
    "ms": "multiple sclerosis",
    "ibs": "irritable bowel syndrome",
    "uri": "upper respiratory tract infection",
    "upper respiratory infection": "upper respiratory tract infection",
    "common cold": "upper respiratory tract infection",
    "pid": "pelvic inflammatory disease",
    "aom": "otitis media",
    "acute otitis media": "otitis media",
    "middle ear infection": "otitis media",
    "ear infection": "otitis media",
    "rhinosinusitis": "sinusitis",
    "sinus infection": "sinusitis",
    "hay fever": "allergic rhinitis",
    "eczema": "atopic dermatitis",
    "adhd": "attention deficit hyperactivity disorder",
    "add": "attention deficit disorder",
    "alzheimer disease": "alzheimers disease",
    "alzheimer": "alzheimers disease",
    "alzheimers": "alzheimers disease",
    "alzheimer dementia": "alzheimers disease",
    "stroke": "cerebrovascular accident",
    "cva": "cerebrovascular accident",
    "seizure disorder": "epilepsy",
    "c diff": "c difficile",
    "clostridium difficile": "c difficile",
    "clostridioides difficile": "c difficile",
    "pml": "progressive multifocal leukoencephalopathy",
    "progressive multifocal encephalopathy": "progressive multifocal leukoencephalopathy",
    "broken": "fracture",
    "piles": "hemorrhoid",
    "ectopic pregnancy": "tubal pregnancy",
}

# Single words with one meaning for comparison purposes (spelling and organ adjectives).
_WORD_SYNONYMS: dict[str, str] = {
    "haemorrhoid": "hemorrhoid",
    "haemorrhage": "hemorrhage",
    "anaemia": "anemia",
    "oedema": "edema",
    "oesophagus": "esophagus",
    "oesophageal": "esophageal",
    "tumour": "tumor",
    "leukaemia": "leukemia",
    "paediatric": "pediatric",
    "haematoma": "hematoma",
    "ischaemic": "ischemic",
    "foetal": "fetal",
    "renal": "kidney",
    "hepatic": "liver",
    "cardiac": "heart",
    "fractured": "fracture",
    "sprained": "sprain",
    "lacerated": "laceration",
    "cut": "laceration",
}

# Words that do not decide what disease is meant.
_GENERIC = frozenset(
    {
        "disease",
        "disorder",
        "syndrome",
        "condition",
        "of",
        "the",
        "a",
        "an",
        "and",
        "with",
        "without",
        "in",
        "on",
        "at",
        "to",
        "its",
        "due",
        "acute",
        "primary",
        "likely",
        "probable",
        "possible",
        "suspected",
        "most",
        "diagnosis",
        "mellitus",
    }
)
# A correct diagnosis carrying the first qualifier is not named by one with the second.
_OPPOSITES: dict[str, frozenset[str]] = {
    "acute": frozenset({"chronic"}),
    "chronic": frozenset({"acute"}),
    "primary": frozenset({"secondary"}),
}

_SEMANTIC_TAG = re.compile(
    r"\((disorder|finding|procedure|situation|qualifier value|morphologic abnormality|"
    r"observable entity|regime/therapy)\)",
    re.IGNORECASE,
)
_PARENTHESES = re.compile(r"\(([^()]*)\)")
_LEAD_IN = re.compile(
    r"^\s*(diagnosis ready|final diagnosis|diagnosis|dx|the diagnosis is|my diagnosis is)"
    r"\s*[:\-]\s*",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"[*_`]+")
# "Based on ..., the most likely diagnosis (for this patient ...) is X": X is what counts.
_STATED = re.compile(r"\bdiagnosis\b[^.:;]*?\bis\s+", re.IGNORECASE)
# A sentence ends at a period after a word of three letters or more, or after a closing
# parenthesis ("C. difficile" stays whole).
_ALTERNATIVES = re.compile(
    r";|\n|\s+(?:or|OR|Or|vs\.?|versus)\s+"
    r"|(?<=[A-Za-z]{3})\.\s+(?=[A-Z])|(?<=\))\.\s+(?=[A-Z])"
)
_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
_UNKEEP_S = ("ss", "is", "us", "ys")


@dataclass(frozen=True)
class MatchVerdict:
    """The deterministic verdict on one diagnosis.

    Attributes:
        correct: Whether the prediction names the correct diagnosis.
        method: The stage that decided (``none`` when nothing matched,
            ``no_diagnosis`` when there was nothing to judge).
        score: Token F1 of the meaningful words (best over the correct diagnosis's
            aliases), for inspection.
        judged_text: The part of the prediction that was compared.
    """

    correct: bool
    method: MatchMethod
    score: float
    judged_text: str


def first_alternative(prediction: str) -> str:
    """The doctor's first candidate, cut at "or", ";", "vs" or the end of a sentence.

    Lead-ins ("DIAGNOSIS READY:") and Markdown emphasis are dropped, and a sentence
    stating the diagnosis ("... the most likely diagnosis is X") is reduced to X.
    """
    text = _MARKUP.sub("", _LEAD_IN.sub("", prediction.strip()))
    stated = _STATED.search(text)
    if stated is not None:
        text = text[stated.end() :]
    text = text.strip().strip("[]").strip()
    head = _ALTERNATIVES.split(text, maxsplit=1)[0]
    return head.strip().rstrip(".").strip()


def normalize_diagnosis(text: str) -> str:
    """Lower-case ASCII words: tags, possessives, punctuation and plurals normalised."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    ascii_text = decomposed.encode("ascii", "ignore").decode().lower()
    ascii_text = _SEMANTIC_TAG.sub(" ", ascii_text)
    ascii_text = re.sub(r"'s\b|s'(?=\s|$)", "s", ascii_text).replace("'", "")
    ascii_text = _NON_WORD.sub(" ", ascii_text.replace("-", " "))
    words = [_singular(w) for w in _SPACES.split(ascii_text.strip()) if w]
    return " ".join(_WORD_SYNONYMS.get(w, w) for w in words)


def match_diagnosis(prediction: str | None, correct: str) -> MatchVerdict:
    """Judge ``prediction`` against ``correct`` without a model.

    Args:
        prediction: The doctor's diagnosis text (None or blank: no diagnosis given).
        correct: The case's correct diagnosis.

    Returns:
        The verdict with the deciding stage.
    """
    if prediction is None or not prediction.strip():
        return MatchVerdict(False, "no_diagnosis", 0.0, "")
    judged = first_alternative(prediction)
    predicted = normalize_diagnosis(judged)
    aliases = _aliases(correct)
    if not predicted:
        return MatchVerdict(False, "none", 0.0, judged)
    best = max(_f1(_core(predicted), _core(alias)) for alias in aliases)
    best_canonical = max(
        _f1(_core(_canonical(predicted)), _core(_canonical(alias))) for alias in aliases
    )
    score = round(max(best, best_canonical), 3)
    if predicted in aliases:
        return MatchVerdict(True, "exact", score, judged)
    canonical_prediction = _canonical(predicted)
    for alias in aliases:
        gold = _canonical(alias)
        if canonical_prediction == gold or set(canonical_prediction.split()) == set(gold.split()):
            return MatchVerdict(True, "synonym", score, judged)
    for alias in aliases:
        gold = _canonical(alias)
        gold_core = _core(gold)
        predicted_words = set(canonical_prediction.split())
        if _contradicts(gold.split(), predicted_words):
            continue
        if gold_core and gold_core <= predicted_words:
            return MatchVerdict(True, "containment", score, judged)
    for alias in aliases:
        gold = _canonical(alias)
        if _contradicts(gold.split(), set(canonical_prediction.split())):
            continue
        if _f1(_core(canonical_prediction), _core(gold)) >= OVERLAP_THRESHOLD:
            return MatchVerdict(True, "token_overlap", score, judged)
    return MatchVerdict(False, "none", score, judged)


def _aliases(correct: str) -> list[str]:
    """The correct diagnosis, without and with its parenthesised part, and that part."""
    plain = _SEMANTIC_TAG.sub(" ", correct)
    forms = [normalize_diagnosis(plain)]
    inner = [m.strip() for m in _PARENTHESES.findall(plain) if m.strip()]
    if inner:
        forms.append(normalize_diagnosis(_PARENTHESES.sub(" ", plain)))
        forms.extend(normalize_diagnosis(part) for part in inner)
    unique: list[str] = []
    for form in forms:
        if form and form not in unique:
            unique.append(form)
    return unique


def _canonical(normalized: str) -> str:
    synonyms, pattern = _phrase_table()
    return pattern.sub(lambda m: synonyms[m.group(1)], normalized)


@cache
def _phrase_table() -> tuple[dict[str, str], re.Pattern[str]]:
    """The synonym table in normalised form, and one pattern trying longest phrases first."""
    table = {normalize_diagnosis(k): normalize_diagnosis(v) for k, v in PHRASE_SYNONYMS.items()}
    phrases = sorted(table, key=lambda p: (-len(p), p))
    pattern = re.compile(r"\b(" + "|".join(re.escape(p) for p in phrases) + r")\b")
    return table, pattern


def _core(normalized: str) -> set[str]:
    return {w for w in normalized.split() if w not in _GENERIC}


def _contradicts(gold_words: list[str], predicted: set[str]) -> bool:
    return any(predicted & _OPPOSITES.get(word, frozenset()) for word in gold_words)


def _f1(predicted: set[str], gold: set[str]) -> float:
    common = len(predicted & gold)
    if not common:
        return 0.0
    precision = common / len(predicted)
    recall = common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith(_UNKEEP_S):
        return word[:-1]
    return word
