"""The agent's own commands: ``ask``, ``chat``, ``serve``, ``serve-llm``, ``doctor``, ``demo``."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the agent's commands."""
