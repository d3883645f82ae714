"""Series statistics: values worked out by hand, not by the code under test."""

from __future__ import annotations

import pytest

from tools.series import Point, parse_day, summarize


def test_summary_of_a_rising_series() -> None:
    points = [
        Point("2019-01-01", 6.0, "Observation/c"),
        Point("2017-01-01", 5.0, "Observation/a"),
        Point("2018-01-01T08:00:00Z", 5.5, "Observation/b"),
    ]
    s = summarize(points)
    assert s.n == 3
    assert (s.first.ref, s.last.ref) == ("Observation/a", "Observation/c")
    assert (s.minimum.value, s.maximum.value) == (5.0, 6.0)
    assert s.mean == pytest.approx(5.5)
    assert s.change == pytest.approx(1.0)
    # two years apart, +1.0 overall: about +0.5 per year
    assert s.slope_per_year == pytest.approx(0.5, rel=0.01)
    assert s.trend == "rising"
    assert s.span_years == pytest.approx(2.0, rel=0.01)


def test_small_changes_are_stable_and_drops_are_falling() -> None:
    flat = summarize([Point("2019-01-01", 100.0, "a"), Point("2020-01-01", 102.0, "b")])
    assert flat.trend == "stable"
    falling = summarize([Point("2019-01-01", 9.0, "a"), Point("2020-01-01", 7.0, "b")])
    assert falling.trend == "falling"
    assert falling.change == pytest.approx(-2.0)


def test_single_value_and_same_day_values() -> None:
    one = summarize([Point("2019-05-01", 7.1, "a")])
    assert one.trend == "single value"
    assert one.slope_per_year is None
    same_day = summarize([Point("2019-05-01", 1.0, "a"), Point("2019-05-01", 3.0, "b")])
    assert same_day.mean == pytest.approx(2.0)
    assert same_day.trend == "rising"


def test_minimum_ties_go_to_the_earliest() -> None:
    s = summarize([Point("2019-01-01", 5.0, "late"), Point("2018-01-01", 5.0, "early")])
    assert s.minimum.ref == "early"


def test_empty_series_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        summarize([])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019", "2019-01-01"),
        ("2019-05", "2019-05-01"),
        ("2019-05-03", "2019-05-03"),
        ("2019-05-03T23:30:00-05:00", "2019-05-03"),
        ("2019-05-03T10:00:00Z", "2019-05-03"),
    ],
)
def test_parse_day(text: str, expected: str) -> None:
    assert parse_day(text).isoformat() == expected
