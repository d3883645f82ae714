"""Statistics over a series of dated values, so the model never does arithmetic.

Pure functions: :func:`summarize` takes ``(date, value)`` points and returns n, first,
last, min, max, mean, the change from first to last, the least-squares slope per year and
a plain-words trend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

__all__ = ["Point", "SeriesSummary", "parse_day", "summarize"]

Trend = Literal["rising", "falling", "stable", "single value"]

#: Relative change (of the fitted line over the span, against the mean) below which a
#: series is called stable.
STABLE_FRACTION = 0.05


@dataclass(frozen=True)
class Point:
    """One dated value and the reference of the resource it came from."""

    when: str
    value: float
    ref: str


@dataclass(frozen=True)
class SeriesSummary:
    """What a model needs to know about a series without reading every value."""

    n: int
    first: Point
    last: Point
    minimum: Point
    maximum: Point
    mean: float
    change: float
    slope_per_year: float | None
    trend: Trend
    span_years: float


def parse_day(value: str) -> date:
    """The calendar date of an ISO date or date-time (partial dates take the first day)."""
    text = value.strip()
    if len(text) == 4:
        return date(int(text), 1, 1)
    if len(text) == 7:
        return date(int(text[:4]), int(text[5:7]), 1)
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _years(a: date, b: date) -> float:
    return (b - a).days / 365.25


def summarize(points: Sequence[Point]) -> SeriesSummary:
    """Summarise ``points`` (any order; sorted by date here). Raises on an empty series."""
    if not points:
        raise ValueError("cannot summarise an empty series")
    ordered = sorted(points, key=lambda p: (p.when, p.ref))
    n = len(ordered)
    values = [p.value for p in ordered]
    mean = sum(values) / n
    first, last = ordered[0], ordered[-1]
    minimum = min(ordered, key=lambda p: (p.value, p.when))
    maximum = max(ordered, key=lambda p: (p.value, p.when))
    d0 = parse_day(first.when)
    xs = [_years(d0, parse_day(p.when)) for p in ordered]
    span = xs[-1] - xs[0]
    slope: float | None = None
    trend: Trend = "single value"
    if n >= 2:
        mean_x = sum(xs) / n
        sxx = sum((x - mean_x) ** 2 for x in xs)
        if sxx > 0:
            slope = sum((x - mean_x) * (v - mean) for x, v in zip(xs, values, strict=True)) / sxx
            fitted_change = slope * span
        else:
            fitted_change = last.value - first.value
        scale = abs(mean) if mean else max(abs(v) for v in values) or 1.0
        if abs(fitted_change) <= STABLE_FRACTION * scale:
            trend = "stable"
        else:
            trend = "rising" if fitted_change > 0 else "falling"
    return SeriesSummary(
        n=n,
        first=first,
        last=last,
        minimum=minimum,
        maximum=maximum,
        mean=mean,
        change=last.value - first.value,
        slope_per_year=slope,
        trend=trend,
        span_years=span,
    )
