"""``ehr-agent tool``: run one evidence tool for one patient and print what the model sees."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``tool`` command (implemented with the evidence tools)."""
