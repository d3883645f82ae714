"""Text normalization for comparing answers: case, punctuation, articles, tags, synonyms."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

__all__ = ["SYNONYMS", "WORD_SYNONYMS", "canonical", "normalize_text", "token_f1", "tokens"]

_SEMANTIC_TAG = re.compile(
    r"\((disorder|finding|procedure|situation|qualifier value|regime/therapy|record artifact|"
    r"observable entity|morphologic abnormality)\)"
)
_NON_WORD = re.compile(r"[^a-z0-9.%/ ]+")
_SPACES = re.compile(r"\s+")
_ARTICLES = frozenset({"a", "an", "the"})

# Whole answers that mean the same thing, mapped to one canonical form (after normalize_text).
SYNONYMS: dict[str, str] = {
    "man": "male",
    "boy": "male",
    "m": "male",
    "woman": "female",
    "girl": "female",
    "f": "female",
    "single": "never married",
    "unmarried": "never married",
    "went up": "increased",
    "increase": "increased",
    "rose": "increased",
    "risen": "increased",
    "higher": "increased",
    "up": "increased",
    "went down": "decreased",
    "decrease": "decreased",
    "fell": "decreased",
    "dropped": "decreased",
    "lower": "decreased",
    "down": "decreased",
    "unchanged": "stayed about the same",
    "no change": "stayed about the same",
    "stable": "stayed about the same",
    "stayed the same": "stayed about the same",
    "x ray": "digital radiography",
    "xray": "digital radiography",
    "radiograph": "digital radiography",
    "dx": "digital radiography",
    "ct": "computed tomography",
    "mri": "magnetic resonance",
}

# Word-level equivalences, safe inside any phrase (Synthea spells simvastatin "Simvistatin").
WORD_SYNONYMS: dict[str, str] = {
    "simvastatin": "simvistatin",
    "mould": "mold",
    "behaviour": "behavior",
    "haemoglobin": "hemoglobin",
    "anaemia": "anemia",
    "oesophagus": "esophagus",
}


def normalize_text(text: str) -> str:
    """Lower case, accents and punctuation dropped, SNOMED tags and articles removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode().lower()
    ascii_text = _SEMANTIC_TAG.sub(" ", ascii_text).replace("-", " ").replace("'", "")
    ascii_text = _NON_WORD.sub(" ", ascii_text)
    words = [w.strip(".") for w in _SPACES.split(ascii_text)]
    return " ".join(w for w in words if w and w not in _ARTICLES)


def canonical(text: str) -> str:
    """Normalized text with whole-answer and word synonyms mapped to one form."""
    normalized = " ".join(WORD_SYNONYMS.get(w, w) for w in normalize_text(text).split())
    return SYNONYMS.get(normalized, normalized)


def tokens(text: str) -> list[str]:
    """Canonical words of a text."""
    return canonical(text).split()


def token_f1(predicted: str, gold: str) -> float:
    """Token-overlap F1 of two texts (SQuAD-style, on canonical words)."""
    pred, ref = tokens(predicted), tokens(gold)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)
