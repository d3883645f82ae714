"""Counts in words, shared by the screen and the transcript."""

from __future__ import annotations

__all__ = ["counted"]


def counted(number: int, singular: str, plural: str = "") -> str:
    """``1 query``, ``3 queries``, ``2 rows`` (plural defaults to singular + "s")."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
