"""Conversations as the API sees them: ids, ownership, and what a conversation holds.

A conversation's checkpointer thread is ``<owner>.<session_id>``: the owner (see
:mod:`agent.backend.callers`) is part of the key, so one caller's session id names nothing
for another caller, on any replica, without a separate ownership table. The agent records
the patient with every thread, so a thread is never continued for another patient.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from langchain_core.runnables import RunnableConfig

from agent.backend.errors import Conflict
from agent.graph import AgentGraph

__all__ = ["Conversation", "SessionLocks", "load_conversation", "new_session_id", "thread_id"]

_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")


def new_session_id() -> str:
    """A fresh, unguessable session id (32 hex digits)."""
    return uuid.uuid4().hex


def thread_id(owner: str, session_id: str) -> str:
    """The checkpointer thread of ``owner``'s session ``session_id``."""
    if not _SESSION_ID.match(session_id):
        raise ValueError("a session id is 32 lowercase hex digits")
    return f"{owner}.{session_id}"


@dataclass(frozen=True)
class Conversation:
    """What a stored conversation holds.

    Attributes:
        patient_id: The patient it is about.
        turns: (question, answer, citations) of each finished question, oldest first.
    """

    patient_id: str
    turns: list[tuple[str, str, list[str]]]


async def load_conversation(graph: AgentGraph, thread: str) -> Conversation | None:
    """The conversation stored under ``thread``, or None if there is none."""
    config: RunnableConfig = {"configurable": {"thread_id": thread}}
    snapshot = await graph.aget_state(config)
    values = snapshot.values or {}
    patient = values.get("patient_id")
    if not patient:
        return None
    turns = [
        (str(t.get("question", "")), str(t.get("answer", "")), list(t.get("citations") or []))
        for t in values.get("history") or []
    ]
    return Conversation(patient_id=str(patient), turns=turns)


class SessionLocks:
    """One question at a time per conversation (in this process).

    Two concurrent questions in one thread would interleave their checkpoints; the second
    is refused instead. Replicas do not share these locks: a load balancer with session
    affinity (or clients that wait for an answer before asking again) keeps it exact.
    """

    def __init__(self) -> None:
        self._busy: set[str] = set()

    @contextmanager
    def hold(self, thread: str) -> Iterator[None]:
        """Mark ``thread`` busy for the block.

        Raises:
            Conflict: ``session_busy``: a question is already running in it.
        """
        if thread in self._busy:
            raise Conflict(
                "another question is still being answered in this session; wait for it",
                code="session_busy",
            )
        self._busy.add(thread)
        try:
            yield
        finally:
            self._busy.discard(thread)
