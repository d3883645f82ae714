"""Reading a number and its unit out of free text, and converting between units.

Conversions between mass concentration and molar concentration depend on the analyte
(glucose and cholesterol differ by a factor of two), so they are keyed by LOINC code and
used only when the item names its analyte. Generic conversions (kg/lb, cm/in, degrees C/F)
apply everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from evals.scoring.dates import strip_dates

__all__ = ["Reading", "canonical_unit", "convert", "parse_quantities"]

# Alias (lower case, spaces removed) -> canonical unit.
_UNIT_ALIASES: dict[str, str] = {}
for _canonical, _aliases in {
    "%": ("%", "percent", "pct", "percentage"),
    "mm[Hg]": ("mm[hg]", "mmhg", "mmofmercury", "millimetersofmercury", "millimetresofmercury"),
    "kg": ("kg", "kgs", "kilogram", "kilograms", "kilo", "kilos"),
    "g": ("g", "gram", "grams"),
    "[lb_av]": ("lb", "lbs", "pound", "pounds", "[lb_av]"),
    "cm": ("cm", "centimeter", "centimeters", "centimetre", "centimetres"),
    "m": ("m", "meter", "meters", "metre", "metres"),
    "[in_i]": ("in", "inch", "inches", "[in_i]"),
    "Cel": ("cel", "°c", "ºc", "degc", "degreesc", "degreec", "celsius", "degreescelsius", "c"),
    "[degF]": ("°f", "ºf", "degf", "degreesf", "fahrenheit", "degreesfahrenheit", "f", "[degf]"),
    "mg/dL": ("mg/dl", "mgperdl", "milligramsperdeciliter"),
    "mmol/L": ("mmol/l", "mmolperl", "millimolesperliter"),
    "mm": ("mm", "millimeter", "millimeters", "millimetre", "millimetres"),
    "umol/L": ("umol/l", "µmol/l", "μmol/l", "micromol/l"),
    "mmol/mol": ("mmol/mol",),
    "g/dL": ("g/dl",),
    "g/L": ("g/l",),
    "mg/g": ("mg/g",),
    "fL": ("fl", "femtoliter", "femtoliters"),
    "pg": ("pg", "picogram", "picograms"),
    "U/L": ("u/l", "iu/l", "units/l"),
    "kU/L": ("ku/l",),
    "kg/m2": ("kg/m2", "kg/m^2", "kg/m²", "kilogramspersquaremeter"),
    "10*3/uL": ("10*3/ul", "10^3/ul", "x10^3/ul", "k/ul", "thousand/ul", "10*3/μl", "10^9/l"),
    "10*6/uL": ("10*6/ul", "10^6/ul", "x10^6/ul", "m/ul", "million/ul", "10^12/l"),
    "mL/min": ("ml/min",),
    "mL/min/{1.73_m2}": ("ml/min/{1.73_m2}", "ml/min/1.73m2", "ml/min/1.73m^2"),
    "years": ("years", "year", "yrs", "yr", "y", "yearsold", "yearold", "a"),
    "/min": ("/min", "bpm", "beatsperminute", "breathsperminute", "perminute"),
}.items():
    for _alias in _aliases:
        _UNIT_ALIASES[_alias] = _canonical

# Gold units that are just counts or scores: any word after the number is not a unit.
_UNITLESS = frozenset({"count", "doses", "{score}", "(score)", "{count}", "{nominal}", "1"})

_LINEAR: dict[tuple[str, str], float] = {
    ("kg", "[lb_av]"): 2.20462262,
    ("g", "kg"): 0.001,
    ("cm", "[in_i]"): 1 / 2.54,
    ("m", "cm"): 100.0,
    ("cm", "mm"): 10.0,
    ("g/dL", "g/L"): 10.0,
}

# LOINC code -> (mass unit, molar unit, factor: molar = mass * factor).
_ANALYTE: dict[str, tuple[str, str, float]] = {
    "2339-0": ("mg/dL", "mmol/L", 1 / 18.016),  # glucose
    "2345-7": ("mg/dL", "mmol/L", 1 / 18.016),  # glucose, serum
    "2093-3": ("mg/dL", "mmol/L", 1 / 38.67),  # total cholesterol
    "18262-6": ("mg/dL", "mmol/L", 1 / 38.67),  # LDL cholesterol
    "2085-9": ("mg/dL", "mmol/L", 1 / 38.67),  # HDL cholesterol
    "2571-8": ("mg/dL", "mmol/L", 1 / 88.57),  # triglycerides
    "38483-4": ("mg/dL", "umol/L", 88.42),  # creatinine
    "2160-0": ("mg/dL", "umol/L", 88.42),  # creatinine, serum
    "49765-1": ("mg/dL", "mmol/L", 1 / 4.008),  # calcium
    "6299-2": ("mg/dL", "mmol/L", 1 / 2.801),  # urea nitrogen as urea
}
_A1C = "4548-4"

_NUMBER = re.compile(r"(?<![\w.])(?:(?<![\d)])[-+−])?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")
_BP_PAIR = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*/\s*(\d{2,3}(?:\.\d+)?)\s*(?=mm\s*\[?hg)", re.I)
_WORDS = {
    "zero": 0, "one": 1, "once": 1, "two": 2, "twice": 2, "three": 3, "thrice": 3,
    "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
}  # fmt: skip
_NONE_WORDS = re.compile(r"\b(none|never|no|not any|zero)\b")


@dataclass(frozen=True)
class Reading:
    """A number found in text, with the canonical unit written after it (if any)."""

    value: float
    unit: str | None


def canonical_unit(unit: str | None) -> str | None:
    """The canonical form of a unit (UCUM-like), or None if unknown or empty."""
    if unit is None:
        return None
    key = unit.strip().lower().replace(" ", "")
    if key in _UNIT_ALIASES:
        return _UNIT_ALIASES[key]
    return unit.strip() or None


def _unit_after(text: str) -> str | None:
    """The longest known unit alias made of whole words at the start of ``text``."""
    words = text[:60].lower().split()[:4]
    for count in range(len(words), 0, -1):
        candidate = "".join(words[:count]).rstrip(".,;:)!?")
        if candidate in _UNIT_ALIASES:
            return _UNIT_ALIASES[candidate]
    return None


def parse_quantities(text: str, pairs_second: bool = False) -> list[Reading]:
    """Every number in a text (dates removed), each with the unit written after it.

    Args:
        text: Free text.
        pairs_second: For "120/80 mmHg", read the second number first (diastolic).
    """
    cleaned = strip_dates(text)
    readings: list[Reading] = []
    for pair in _BP_PAIR.finditer(cleaned):
        first, second = float(pair[1]), float(pair[2])
        ordered = (second, first) if pairs_second else (first, second)
        readings += [Reading(v, "mm[Hg]") for v in ordered]
    cleaned = _BP_PAIR.sub(" ", cleaned)
    for match in _NUMBER.finditer(cleaned):
        raw = match.group(0)
        if not raw or not any(ch.isdigit() for ch in raw):
            continue
        value = float(raw.replace(",", "").replace("−", "-"))
        readings.append(Reading(value, _unit_after(cleaned[match.end() :])))
    if not readings:
        lowered = cleaned.lower()
        for word, number in _WORDS.items():
            if re.search(rf"\b{word}\b", lowered):
                readings.append(Reading(float(number), None))
                break
        else:
            if _NONE_WORDS.search(lowered):
                readings.append(Reading(0.0, None))
    return readings


def _affine(value: float, source: str, target: str) -> float | None:
    if (source, target) == ("Cel", "[degF]"):
        return value * 9 / 5 + 32
    if (source, target) == ("[degF]", "Cel"):
        return (value - 32) * 5 / 9
    return None


def convert(value: float, source: str, target: str, analyte: str | None = None) -> float | None:
    """``value`` in ``source`` units expressed in ``target`` units, or None if not convertible.

    Args:
        value: The number.
        source: Its unit (any alias).
        target: The wanted unit (any alias).
        analyte: LOINC code of the measured substance, needed for mass/molar conversions.
    """
    src, dst = canonical_unit(source), canonical_unit(target)
    if src is None or dst is None:
        return None
    if src == dst:
        return value
    if (src, dst) in _LINEAR:
        return value * _LINEAR[(src, dst)]
    if (dst, src) in _LINEAR:
        return value / _LINEAR[(dst, src)]
    affine = _affine(value, src, dst)
    if affine is not None:
        return affine
    if analyte == _A1C:
        converters: dict[tuple[str, str], Callable[[float], float]] = {
            ("%", "mmol/mol"): lambda v: (v - 2.15) * 10.929,
            ("mmol/mol", "%"): lambda v: v / 10.929 + 2.15,
        }
        if (src, dst) in converters:
            return converters[(src, dst)](value)
    if analyte in _ANALYTE:
        mass, molar, factor = _ANALYTE[analyte]
        if (src, dst) == (mass, molar):
            return value * factor
        if (src, dst) == (molar, mass):
            return value / factor
    return None


def is_unitless(unit: str | None) -> bool:
    """True for gold units that are counts or scores."""
    return unit is None or unit.strip().lower() in _UNITLESS
