"""Reading a date out of free text: ISO, numeric (US month-first), month names, partial dates.

"03/03/2019" is read month-first (US usage, as in the source data) unless the first number
cannot be a month ("25/03/2019" is 25 March).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = ["ParsedDate", "parse_date", "strip_dates"]

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
)
_ORD = r"(?:st|nd|rd|th)?"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ymd", re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})(?![\d])")),
    ("ymd", re.compile(r"\b(\d{4})/(\d{1,2})/(\d{1,2})\b")),
    ("mdy", re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b")),
    ("Mdy", re.compile(rf"\b{_MONTH}\.?\s+(\d{{1,2}}){_ORD},?\s+(\d{{4}})\b")),
    ("dMy", re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?{_MONTH}\.?,?\s+(\d{{4}})\b")),
    ("My", re.compile(rf"\b{_MONTH}\.?,?\s+(?:of\s+)?(\d{{4}})\b")),
    ("ym", re.compile(r"\b(\d{4})-(\d{1,2})\b(?!-)")),
    ("y", re.compile(r"\b(1[89]\d{2}|2[01]\d{2})\b")),
)


_TIME = re.compile(r"t\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:\d{2})?")


@dataclass(frozen=True)
class ParsedDate:
    """A date read from text, as precise as the text was."""

    year: int
    month: int | None = None
    day: int | None = None

    @property
    def precision(self) -> str:
        """'day', 'month' or 'year'."""
        return "day" if self.day else "month" if self.month else "year"


def _valid(year: int, month: int | None, day: int | None) -> ParsedDate | None:
    try:
        if day is not None and month is not None:
            date(year, month, day)
        elif month is not None and not 1 <= month <= 12:
            return None
    except ValueError:
        return None
    return ParsedDate(year, month, day)


def _from_match(kind: str, match: re.Match[str]) -> ParsedDate | None:
    groups = match.groups()
    if kind == "ymd":
        return _valid(int(groups[0]), int(groups[1]), int(groups[2]))
    if kind == "mdy":
        first, second, year = int(groups[0]), int(groups[1]), int(groups[2])
        if first > 12:
            return _valid(year, second, first)
        return _valid(year, first, second)
    if kind == "Mdy":
        return _valid(int(groups[2]), _MONTHS[groups[0]], int(groups[1]))
    if kind == "dMy":
        return _valid(int(groups[2]), _MONTHS[groups[1]], int(groups[0]))
    if kind == "My":
        return _valid(int(groups[1]), _MONTHS[groups[0]], None)
    if kind == "ym":
        return _valid(int(groups[0]), int(groups[1]), None)
    return _valid(int(groups[0]), None, None)


def parse_date(text: str) -> ParsedDate | None:
    """The first date mentioned in a text (the most precise reading at that position)."""
    lowered = text.lower()
    best: tuple[int, int, ParsedDate] | None = None
    for rank, (kind, pattern) in enumerate(_PATTERNS):
        for match in pattern.finditer(lowered):
            parsed = _from_match(kind, match)
            if parsed is None:
                continue
            key = (match.start(), rank, parsed)
            if best is None or key[:2] < best[:2]:
                best = key
            break
    return best[2] if best else None


def strip_dates(text: str) -> str:
    """The text with every full date removed (so its digits are not read as a value)."""
    stripped = _TIME.sub(" ", text.lower())
    for _, pattern in _PATTERNS[:6]:
        stripped = pattern.sub(" ", stripped)
    return stripped
