"""Concept resolution: free text ("A1c", "flu shot", "statin") to codes in THIS record.

Resolution never invents codes: it only returns :class:`CodeEntry` items of the patient's
own :class:`RecordIndex`. The steps, first hit wins:

1. a code (``4548-4``, ``http://loinc.org|4548-4``): entries with that code;
2. a lexicon alias (exact after normalisation, then with one or two typos): the concept's
   codes and display terms, looked up in the record. A known concept with nothing in the
   record resolves to *no entries*: that is the answer to "has she ever had a statin?";
3. a display of the record (whole phrase inside a display);
4. word overlap with displays, tolerant of typos.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from tools.concept_lexicon import LEXICON, Concept
from tools.record_index import CodeEntry

__all__ = ["Resolution", "looks_like_code", "normalize", "resolve"]

Method = Literal["code", "alias", "display", "fuzzy", "none"]

_FILLER = frozenset(
    """
    a an the of for in on at to and or his
    her their patient patients patient's level levels value values reading readings result
    results measurement measurements history recent latest last most current test tests lab
    labs record records any ever number count trend over time how much
    many does did he she they is was has had have took take taken get got
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_CODE_RE = re.compile(r"^[A-Za-z]{0,3}[0-9][0-9A-Za-z.\-]*$")
_PAREN_RE = re.compile(
    r"\s*\((?:procedure|disorder|finding|situation|regime/therapy|record artifact)\)"
)


@dataclass(frozen=True)
class Resolution:
    """What a phrase resolved to in one record, and how."""

    phrase: str
    method: Method
    entries: tuple[CodeEntry, ...]
    concept: str | None = None

    @property
    def tokens(self) -> list[str]:
        """``system|code`` of every matched entry, deduplicated, in order."""
        return list(dict.fromkeys(e.token for e in self.entries))

    def explain(self) -> str:
        """One line for the tool output: what the phrase was taken to mean."""
        if not self.entries:
            if self.concept:
                return f"'{self.phrase}' = {self.concept}: not found in this record"
            return f"'{self.phrase}' matched nothing in this record"
        names = ", ".join(dict.fromkeys(e.display for e in self.entries))
        via = f" ({self.concept})" if self.concept and self.method == "alias" else ""
        return f"'{self.phrase}'{via} -> {names}"


def normalize(text: str) -> str:
    """Lower-case, punctuation to spaces (keeping ``/`` and ``+``), single spaces."""
    text = text.lower().replace("'s ", " ").replace("’s ", " ")
    text = re.sub(r"[^a-z0-9/+.]+", " ", text)
    text = re.sub(r"(?<![0-9])\.|\.(?![0-9])", " ", text)
    text = re.sub(r"\bx ray", "xray", text)
    return " ".join(text.split())


def looks_like_code(phrase: str) -> bool:
    """Whether ``phrase`` is a code or ``system|code`` rather than words."""
    phrase = phrase.strip()
    if "|" in phrase:
        return True
    return bool(_CODE_RE.match(phrase)) and any(ch.isdigit() for ch in phrase)


def _strip_filler(norm: str) -> str:
    return " ".join(w for w in norm.split() if w not in _FILLER)


def _singular(word: str) -> str:
    """A crude stem: plurals, and -ed/-ing on longer words ("sprained", "testing")."""
    if len(word) >= 6 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 5 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _within_typos(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance small enough for the length (1 up to 7 letters, else 2)."""
    if a == b:
        return True
    # "type 1" is not a typo of "type 2": numbers must agree exactly
    if [c for c in a if c.isdigit()] != [c for c in b if c.isdigit()]:
        return False
    shortest = min(len(a), len(b))
    if shortest < 5:
        return False
    limit = 1 if shortest < 8 else 2
    if abs(len(a) - len(b)) > limit:
        return False
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1] <= limit


@cache
def _alias_table() -> dict[str, tuple[Concept, ...]]:
    table: dict[str, list[Concept]] = {}
    for concept in LEXICON:
        for alias in concept.aliases:
            table.setdefault(normalize(alias), []).append(concept)
    return {alias: tuple(concepts) for alias, concepts in table.items()}


@cache
def _term_pattern(term: str) -> re.Pattern[str]:
    if term.endswith("*"):
        return re.compile(r"\b" + re.escape(term[:-1].lower()))
    return re.compile(r"\b" + re.escape(term.lower()) + r"(?:s|es)?\b")


def _display_norm(display: str) -> str:
    return normalize(_PAREN_RE.sub("", display))


def _concept_matches(concept: Concept, entry: CodeEntry) -> bool:
    if entry.resource_type not in concept.types:
        return False
    for code in concept.codes:
        if "|" in code:
            if code == entry.token:
                return True
        elif code == entry.code:
            return True
    display = entry.display.lower()
    if any(_term_pattern(term).search(display) for term in concept.exclude):
        return False
    if any(_term_pattern(term).search(display) for term in concept.terms):
        return True
    return not concept.codes and not concept.terms


def _allowed(entries: Iterable[CodeEntry], types: Sequence[str] | None) -> list[CodeEntry]:
    return [e for e in entries if types is None or e.resource_type in types]


def _by_code(phrase: str, entries: list[CodeEntry]) -> list[CodeEntry]:
    phrase = phrase.strip()
    if "|" in phrase:
        system, _, code = phrase.partition("|")
        return [e for e in entries if e.code == code and (not system or e.system == system)]
    return [e for e in entries if e.code.lower() == phrase.lower()]


#: Word-level abbreviations and shorthand, expanded before looking a phrase up.
_ABBREVIATIONS: dict[str, str] = {
    "bp": "blood pressure",
    "htn": "hypertension",
    "hld": "hyperlipidemia",
    "dm": "diabetes",
    "dm2": "diabetes",
    "t2dm": "diabetes",
    "abx": "antibiotic",
    "ht": "height",
    "wt": "weight",
    "vit": "vitamin",
    "uti": "urinary tract infection",
    "cxr": "chest x-ray",
    "meds": "medication",
    "med": "medication",
    "medications": "medication",
    "medicines": "medication",
    "medicine": "medication",
    "pills": "medication",
    "pill": "medication",
    "drugs": "medication",
    "tablets": "medication",
    "rx": "medication",
    "shots": "vaccine",
    "shot": "vaccine",
    "jab": "vaccine",
    "vaccination": "vaccine",
    "vaccinations": "vaccine",
    "immunization": "vaccine",
    "postop": "post-operative",
    "iud": "intrauterine device",
    "hep": "hepatitis",
    "op": "operative",
}


def _expand(norm: str) -> str:
    return " ".join(_ABBREVIATIONS.get(w, w) for w in norm.split())


def _variants(norm: str) -> list[str]:
    """The forms of a phrase tried against the aliases, most literal first."""
    expanded = normalize(_expand(norm))
    forms = [
        norm,
        _strip_filler(norm),
        " ".join(_singular(w) for w in norm.split()),
        expanded,
        _strip_filler(expanded),
    ]
    return [f for f in dict.fromkeys(forms) if f]


def _concepts_for(norm: str) -> tuple[Concept, ...]:
    table = _alias_table()
    variants = _variants(norm)
    for candidate in variants:
        if candidate in table:
            return table[candidate]
    for candidate in variants:
        if len(candidate) < 5:
            continue
        for alias, concepts in table.items():
            if len(alias) >= 5 and _within_typos(candidate, alias):
                return concepts
    return ()


def _contained_concepts(norm: str) -> tuple[tuple[Concept, ...], list[str]]:
    """Concepts whose alias appears inside the phrase (longest alias), and the words left."""
    table = _alias_table()
    best: tuple[int, tuple[Concept, ...], list[str]] = (0, (), [])
    for candidate in _variants(norm):
        padded = f" {candidate} "
        for alias, concepts in table.items():
            if (
                (len(alias) >= 4 or " " in alias)
                and f" {alias} " in padded
                and len(alias) > best[0]
            ):
                rest = padded.replace(f" {alias} ", " ", 1).split()
                best = (len(alias), concepts, rest)
    return best[1], best[2]


#: Words every display of a type shares, which say nothing about which one is meant.
_TYPE_GENERIC: dict[str, frozenset[str]] = {
    "CarePlan": frozenset({"care", "plan", "management", "program"}),
    "Encounter": frozenset({"visit", "encounter", "appointment"}),
    "AllergyIntolerance": frozenset({"allergy", "allergic", "intolerance", "allergies"}),
    "Immunization": frozenset({"vaccine", "immunization", "vaccination"}),
    "MedicationRequest": frozenset({"medication", "prescription"}),
    "Condition": frozenset({"disease", "disorder", "condition", "problem", "diagnosis"}),
    "Procedure": frozenset({"procedure"}),
}


def _specific_words(text: str, types: Sequence[str] | None) -> list[str]:
    """Words of ``text`` that are neither filler nor generic for ``types``."""
    words = [_singular(w) for w in normalize(_expand(text)).split() if w not in _FILLER]
    generic = frozenset().union(*(_TYPE_GENERIC.get(t, frozenset()) for t in types or ()))
    return [w for w in words if w not in generic]


def _query_words(target: str, types: Sequence[str] | None) -> list[str]:
    words = [_singular(w) for w in normalize(_expand(target)).split() if w not in _FILLER]
    if types:
        generic = frozenset().union(*(_TYPE_GENERIC.get(t, frozenset()) for t in types))
        specific = [w for w in words if w not in generic]
        if specific:
            return specific
    return words


#: Lay words and the words clinical displays use for them.
_WORD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "broken": ("fracture",),
    "break": ("fracture",),
    "collarbone": ("clavicle",),
    "kidney": ("renal", "nephropathy"),
    "heart": ("cardiac", "myocardial", "coronary"),
    "lung": ("pulmonary", "respiratory"),
    "liver": ("hepatic",),
    "stomach": ("gastric", "abdominal"),
    "belly": ("abdominal",),
    "womb": ("uterine", "uterus"),
    "shot": ("injection", "vaccine", "immunization"),
    "jab": ("injection", "vaccine"),
    "baby": ("fetal", "newborn", "infant"),
    "brain": ("cerebral",),
    "teeth": ("tooth", "molar", "dental"),
    "sugar": ("glucose",),
    "xray": ("radiograph", "radiography"),
    "cancer": ("malignant", "neoplasm", "carcinoma"),
    "tumor": ("neoplasm",),
    "stool": ("fecal", "faecal"),
    "gunshot": ("bullet",),
    "arthritis": ("osteoarthritis",),
    "colorectal": ("colon", "rectum", "rectal"),
    "arm": ("forearm", "humerus", "radius", "ulna"),
    "cut": ("laceration",),
    "film": ("x-ray", "xray", "radiograph", "radiography"),
    "vaccine": ("injection", "immunization", "vaccination"),
    "eczema": ("skin", "dermatitis"),
    "removal": ("excision", "extraction", "removal"),
}


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _word_hit(q: str, display_words: list[str]) -> bool:
    for form in (q, *_WORD_SYNONYMS.get(q, ())):
        for d in display_words:
            if form == d or _singular(form) == _singular(d) or _within_typos(form, d):
                return True
            # "detox" names "detoxification"; only stems long enough to mean something
            if len(form) >= 4 and d.startswith(form):
                return True
            # "allergy" and "allergic" share their stem
            stem = _common_prefix(form, d)
            if stem >= 6 and stem >= 0.75 * min(len(form), len(d)):
                return True
    return False


def _word_match(query_words: list[str], display_words: list[str]) -> float:
    if not query_words:
        return 0.0
    # "70/30" against "70 UNT/ML ... 30 UNT/ML": compare the parts either side of a slash
    parts = [p for w in display_words for p in (w, *w.split("/")) if p]
    hits = sum(1 for q in query_words if all(_word_hit(x, parts) for x in q.split("/") if x))
    return hits / len(query_words)


def resolve(
    phrase: str, entries: Sequence[CodeEntry], types: Sequence[str] | None = None
) -> Resolution:
    """Resolve ``phrase`` to entries of one record's index, optionally only of ``types``."""
    candidates = _allowed(entries, types)
    norm = normalize(phrase)
    if not norm:
        return Resolution(phrase, "none", ())

    concepts = () if "|" in phrase else _concepts_for(norm)
    if not concepts and looks_like_code(phrase):
        return Resolution(phrase, "code", tuple(_by_code(phrase, candidates)))
    if concepts:
        found = _by_concepts(phrase, concepts, candidates, types)
        if found is not None:
            return found

    target = _strip_filler(norm) or norm
    for candidate in dict.fromkeys((norm, target)):
        pattern = re.compile(r"\b" + re.escape(candidate) + r"\b")
        exact = [e for e in candidates if pattern.search(_display_norm(e.display))]
        if exact:
            return Resolution(phrase, "display", tuple(exact))

    words = _query_words(target, types)
    scored: list[tuple[float, CodeEntry]] = []
    for entry in candidates:
        score = _word_match(words, [_singular(w) for w in _display_norm(entry.display).split()])
        if score > 0:
            scored.append((score, entry))
    best = max((score for score, _ in scored), default=0.0)
    if best == 1.0:
        return Resolution(phrase, "fuzzy", tuple(e for s, e in scored if s == best))

    contained, leftover = _contained_concepts(norm)
    # Only when nothing else qualifies the concept: "shots for shingles" is shingles, but
    # "hip arthritis" is not any arthritis.
    if contained and not _specific_words(" ".join(leftover), types):
        found = _by_concepts(phrase, contained, candidates, types)
        if found is not None:
            return found

    # partial word overlap: two-word phrases need both words ("hip arthritis" is not
    # "rheumatoid arthritis"); longer ones most of them
    needed = 1.0 if len(words) <= 2 else 0.6
    if best >= needed:
        return Resolution(phrase, "fuzzy", tuple(e for s, e in scored if s == best))
    return Resolution(phrase, "none", ())


def _by_concepts(
    phrase: str,
    concepts: Sequence[Concept],
    candidates: list[CodeEntry],
    types: Sequence[str] | None,
) -> Resolution | None:
    applicable = [c for c in concepts if types is None or set(c.types) & set(types)]
    if not applicable:
        return None
    matched = [e for e in candidates if any(_concept_matches(c, e) for c in applicable)]
    return Resolution(phrase, "alias", tuple(matched), concept=applicable[0].name)
