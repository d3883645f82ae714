"""``ehr-agent eval``, ``ehr-agent simulate`` and ``ehr-agent bench``."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the evaluation, simulation and benchmark commands."""
