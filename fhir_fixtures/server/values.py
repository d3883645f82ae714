"""FHIR primitive values as the index stores them: date ranges, normalised strings, numbers.

Dates become half-open ranges ``[low, high)`` of epoch seconds covering their precision
("2019-05" is all of May 2019). A date or dateTime without a time zone is read as UTC.
Open period ends are +/- :data:`INFINITY`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache

__all__ = [
    "INFINITY",
    "DateRange",
    "format_instant",
    "normalize_string",
    "number_range",
    "parse_date_range",
    "parse_number",
]

INFINITY = 1e18

DateRange = tuple[float, float]

_DATE_RE = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    return moment.replace(year=moment.year + month_index // 12, month=month_index % 12 + 1)


def parse_date_range(text: str) -> DateRange:
    """The range a FHIR date, dateTime or instant covers, as epoch seconds.

    Raises:
        ValueError: the text is not a FHIR date/dateTime/instant.
    """
    if len(text) in (20, 25) and text[10] == "T" and text[19] in "+-Z":
        # The common full dateTime with offset: the C parser is much faster than the regex.
        try:
            low = datetime.fromisoformat(text).timestamp()
        except ValueError:
            pass
        else:
            return low, low + 1
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise ValueError(f"not a FHIR date: {text!r}")
    parts = match.groupdict()
    tz = UTC
    if parts["tz"] and parts["tz"] != "Z":
        sign = 1 if parts["tz"][0] == "+" else -1
        hours, minutes = int(parts["tz"][1:3]), int(parts["tz"][4:6])
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        year = int(parts["year"])
        if parts["month"] is None:
            start = datetime(year, 1, 1, tzinfo=tz)
            end_ts = (
                datetime(year + 1, 1, 1, tzinfo=tz).timestamp()
                if year < 9999
                else start.timestamp() + 365 * 86400
            )
            return start.timestamp(), end_ts
        month = int(parts["month"])
        if parts["day"] is None:
            start = datetime(year, month, 1, tzinfo=tz)
            if year == 9999 and month == 12:
                return start.timestamp(), start.timestamp() + 31 * 86400
            return start.timestamp(), _add_months(start, 1).timestamp()
        day = int(parts["day"])
        if parts["hour"] is None:
            start = datetime(year, month, day, tzinfo=tz)
            return start.timestamp(), start.timestamp() + 86400
        hour, minute = int(parts["hour"]), int(parts["minute"])
        if parts["second"] is None:
            start = datetime(year, month, day, hour, minute, tzinfo=tz)
            return start.timestamp(), start.timestamp() + 60
        second = int(parts["second"])
        start = datetime(year, month, day, hour, minute, second, tzinfo=tz)
        low = start.timestamp()
        fraction = parts["fraction"]
        if fraction is None:
            return low, low + 1
        low += int(fraction) / 10 ** len(fraction)
        return low, low + 10 ** -len(fraction)
    except ValueError as exc:
        raise ValueError(f"not a valid date: {text!r} ({exc})") from None


@lru_cache(maxsize=64)
def format_instant(epoch: float) -> str:
    """An epoch time as a FHIR instant with milliseconds, in UTC."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def normalize_string(text: str) -> str:
    """Case- and accent-insensitive form used by string search (``Müller`` → ``muller``)."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def parse_number(text: str) -> Decimal:
    """A FHIR decimal search value.

    Raises:
        ValueError: the text is not a number.
    """
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return value


def number_range(value: Decimal) -> tuple[float, float]:
    """The implicit range of a search number's precision (``5.4`` → ``[5.35, 5.45)``)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return float(value - half), float(value + half)
