"""Ground truth for the conformance cross-check, from the raw bundles and the R4 text alone.

Nothing here imports either server: dates, numbers and strings are matched the way
hl7.org/fhir/R4/search.html words it, written out again with ``datetime``, ``Decimal`` and
``unicodedata``. The sekmet models (``sekmet_*``) restate, just as independently, what
sekmet 0.1.1 does where it departs from the text, so that its deviations are pinned exactly.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fhir_ground_truth import RawSynthea, patient_of

Range = tuple[float, float]
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
DAY = 86400.0
INFINITE = float("inf")

# --- a supplement: Synthea R4 has no medicationReference, so _include needs these ---------

SUPPLEMENT_PATIENT = "conformance-med-patient"
_RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _medication(rid: str, code: str, display: str) -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": rid,
        "status": "active",
        "code": {"coding": [{"system": _RXNORM, "code": code, "display": display}]},
    }


def _request(rid: str, medication: dict[str, Any], authored: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        **medication,
        "subject": {"reference": f"Patient/{SUPPLEMENT_PATIENT}"},
        "authoredOn": authored,
    }


SUPPLEMENT: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": SUPPLEMENT_PATIENT,
        "name": [{"use": "official", "family": "Supplement", "given": ["Conformance"]}],
        "gender": "other",
        "birthDate": "1961-07-15",
    },
    _medication("conformance-med-a", "860975", "Metformin hydrochloride 500 MG Oral Tablet"),
    _medication("conformance-med-b", "314076", "lisinopril 10 MG Oral Tablet"),
    _request(
        "conformance-mr-1",
        {"medicationReference": {"reference": "Medication/conformance-med-a"}},
        "2019-03-14T09:30:00+00:00",
    ),
    _request(
        "conformance-mr-2",
        {"medicationReference": {"reference": "Medication/conformance-med-b"}},
        "2019-06-01T10:00:00+00:00",
    ),
    _request(
        "conformance-mr-3",
        {"medicationReference": {"reference": "Medication/conformance-med-a"}},
        "2020-01-02T08:00:00+00:00",
    ),
    _request(
        "conformance-mr-4",
        {
            "medicationCodeableConcept": {
                "coding": [{"system": _RXNORM, "code": "197361", "display": "amlodipine 5 MG"}]
            }
        },
        "2020-02-02T08:00:00+00:00",
    ),
]


@dataclass
class Truth:
    """Every loaded resource as plain dicts (Synthea plus the supplement), by type and patient."""

    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    by_patient: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(cls, raw: RawSynthea, extra: list[dict[str, Any]]) -> Truth:
        truth = cls(dict(raw.resources))
        for resource in extra:
            truth.resources[(resource["resourceType"], resource["id"])] = resource
        for resource in truth.resources.values():
            pid = patient_of(resource)
            if pid is not None:
                truth.by_patient[pid].append(resource)
        return truth

    def of(self, patient_id: str, resource_type: str) -> list[dict[str, Any]]:
        return [r for r in self.by_patient[patient_id] if r["resourceType"] == resource_type]

    def all_of(self, resource_type: str) -> list[dict[str, Any]]:
        return [r for (t, _), r in self.resources.items() if t == resource_type]

    @property
    def patient_ids(self) -> list[str]:
        return sorted(i for t, i in self.resources if t == "Patient")

    def sample_patients(self) -> list[str]:
        """Three Synthea patients: the most, the median and the fewest observations."""
        ranked = sorted(
            (p for p in self.patient_ids if p != SUPPLEMENT_PATIENT),
            key=lambda p: (len(self.of(p, "Observation")), p),
        )
        return [ranked[-1], ranked[len(ranked) // 2], ranked[0]]


# --- dates ----------------------------------------------------------------------------


def date_range(text: str) -> Range:
    """The half-open range ``[low, high)`` a FHIR date/dateTime covers (no zone = UTC)."""
    if len(text) == 4:
        start = datetime(int(text), 1, 1, tzinfo=UTC)
        return start.timestamp(), start.replace(year=start.year + 1).timestamp()
    if len(text) == 7:
        start = datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=UTC)
        month = start.month % 12 + 1
        end = start.replace(year=start.year + (start.month == 12), month=month)
        return start.timestamp(), end.timestamp()
    if len(text) == 10:
        start = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return start.timestamp(), (start + timedelta(days=1)).timestamp()
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds_given = re.match(r"T\d\d:\d\d:\d\d", text[10:]) is not None
    return moment.timestamp(), moment.timestamp() + (1 if seconds_given else 60)


def period_range(period: dict[str, str]) -> Range:
    """A Period's range; a missing end is open (search.html#date: 'greater than any date')."""
    low = date_range(period["start"])[0] if "start" in period else -INFINITE
    high = date_range(period["end"])[1] if "end" in period else INFINITE
    return low, high


def spec_date(prefix: str, search: str, target: Range) -> bool:
    """search.html#prefix, the range column, word for word.

    'Range above the search value' starts where the search value's range ends; 'range below'
    ends where it starts.
    """
    s_lo, s_hi = date_range(search)
    t_lo, t_hi = target
    contained = s_lo <= t_lo and t_hi <= s_hi
    above = t_hi > s_hi
    below = t_lo < s_lo
    return {
        "eq": contained,
        "ne": not contained,
        "gt": above,
        "lt": below,
        "ge": above or contained,
        "le": below or contained,
        "sa": t_lo >= s_hi,
        "eb": t_hi <= s_lo,
    }[prefix]


def sekmet_date(prefix: str, search: str, target: Range) -> bool:
    """sekmet 0.1.1: ``ge`` is 'ends after the search start', ``le`` 'starts before its end'."""
    s_lo, s_hi = date_range(search)
    t_lo, t_hi = target
    if prefix == "ge":
        return t_hi > s_lo
    if prefix == "le":
        return t_lo < s_hi
    return spec_date(prefix, search, target)


def approximately(search: str, target: Range, margin: float) -> bool:
    """``ap``: the target overlaps the search range widened by ``margin`` on both sides."""
    s_lo, s_hi = date_range(search)
    return target[0] < s_hi + margin and target[1] > s_lo - margin


def ours_ap_margin(search: str, now: float) -> float:
    """The embedded server's documented ``ap`` margin: 10 % of the gap to now, >= 1 day."""
    return max(abs(now - date_range(search)[0]) * 0.1, DAY)


# --- numbers and quantities -----------------------------------------------------------


def number_range(text: str) -> tuple[Decimal, Decimal]:
    """search.html#number: '100' means [99.5, 100.5), '5.4' means [5.35, 5.45)."""
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return value - half, value + half


def spec_number(prefix: str, text: str, value: float) -> bool:
    """Number prefixes: eq/ne use the implicit precision, the others compare exactly."""
    number = Decimal(repr(value))
    low, high = number_range(text)
    exact = Decimal(text)
    return {
        "eq": low <= number < high,
        "ne": not low <= number < high,
        "gt": number > exact,
        "lt": number < exact,
        "ge": number >= exact,
        "le": number <= exact,
        "sa": number > exact,
        "eb": number < exact,
        "ap": exact * Decimal("0.9") <= number <= exact * Decimal("1.1"),
    }[prefix]


def sekmet_number(prefix: str, text: str, value: float) -> bool:
    """sekmet 0.1.1: ``eq``/``ne`` compare the float exactly; the precision is ignored."""
    if prefix == "eq":
        return value == float(text)
    if prefix == "ne":
        return value != float(text)
    return spec_number(prefix, text, value)


def spec_quantity(search: str, quantity: dict[str, Any]) -> bool:
    """search.html#quantity: ``[prefix]number[|system|code]``; ``||code`` matches code or unit."""
    prefix, rest = split_prefix(search)
    number, _, units = rest.partition("|")
    if not spec_number(prefix, number, quantity["value"]):
        return False
    if not units:
        return True
    system, _, code = units.partition("|")
    if system:
        return quantity.get("system") == system and quantity.get("code") == code
    return code in (quantity.get("code"), quantity.get("unit"))


def split_prefix(value: str) -> tuple[str, str]:
    if value[:2] in (*PREFIXES, "ap") and value[2:3].isdigit():
        return value[:2], value[2:]
    return "eq", value


# --- tokens and strings ---------------------------------------------------------------


def codings(concept: dict[str, Any] | None) -> set[tuple[str, str]]:
    """``(system, code)`` pairs of a CodeableConcept (system "" when absent)."""
    return {(c.get("system", ""), c["code"]) for c in (concept or {}).get("coding", [])}


def texts(concept: dict[str, Any] | None) -> list[str]:
    """The text associated with a code: CodeableConcept.text and every Coding.display."""
    concept = concept or {}
    found = [c["display"] for c in concept.get("coding", []) if "display" in c]
    return [concept["text"], *found] if "text" in concept else found


def fold(text: str) -> str:
    """search.html#string normalisation: case and combining characters do not count."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def starts(value: str, search: str) -> bool:
    """A default string match: equals or starts with, after folding."""
    return fold(value).startswith(fold(search))


def starts_a_word(value: str, search: str) -> bool:
    """The embedded server's wider ``:text`` match: the text or any word in it starts so."""
    folded, wanted = fold(value), fold(search)
    return folded.startswith(wanted) or f" {wanted}" in folded


def name_parts(name: dict[str, Any]) -> list[str]:
    """The string parts of a HumanName that ``name`` searches."""
    parts = [name[k] for k in ("family", "text") if k in name]
    for key in ("given", "prefix", "suffix"):
        parts.extend(name.get(key, []))
    return parts


# --- references -----------------------------------------------------------------------


def references(node: Any) -> set[tuple[str, str]]:
    """Every literal ``Type/id`` reference in a resource (contained resources excluded)."""
    found: set[tuple[str, str]] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str) and ref.count("/") == 1 and ref[:1].isupper():
                rtype, rid = ref.split("/")
                found.add((rtype, rid))
            stack.extend(v for k, v in item.items() if k != "contained")
        elif isinstance(item, list):
            stack.extend(item)
    return found
