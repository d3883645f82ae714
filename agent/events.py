"""Events the agent emits while it works; every front end renders the same stream.

``step`` (a node started or planned calls), ``evidence`` (one tool result), ``token``
(a piece of the answer text as it is generated), ``final`` (the answer) and ``error``.
Events carry counts, tool names and arguments, never record contents, except ``evidence``
(what the model read, for the front end's /evidence view) and ``token``/``final``.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

__all__ = ["AgentEvent", "EventKind", "event"]

EventKind = Literal["step", "evidence", "token", "final", "error"]


class AgentEvent(TypedDict, total=False):
    """One event of the stream."""

    type: EventKind
    node: str
    message: str
    data: dict[str, Any]


def event(kind: EventKind, node: str = "", message: str = "", **data: Any) -> AgentEvent:
    """Build an event."""
    return AgentEvent(type=kind, node=node, message=message, data=data)
