"""The graph's state: what goes in, what comes out, and what the nodes share in between.

The patient is deliberately absent: it lives in the run context (``agent.context``),
fixed when the session starts, where nothing a model says can change it.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

__all__ = [
    "ZERO_USAGE",
    "AgentInput",
    "AgentOutput",
    "AgentState",
    "EvidenceItem",
    "Turn",
    "Usage",
    "add_usage",
    "llm_usage",
]


class Usage(TypedDict):
    """Cost of one question."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    fhir_requests: int
    seconds: float


ZERO_USAGE = Usage(llm_calls=0, prompt_tokens=0, completion_tokens=0, fhir_requests=0, seconds=0.0)


def add_usage(left: Usage | None, right: Usage | None) -> Usage:
    """The sum of two usages."""
    out: dict[str, Any] = dict(left or {})
    for key, value in (right or {}).items():
        out[key] = (
            round(out.get(key, 0) + value, 3) if key == "seconds" else out.get(key, 0) + value
        )
    return out  # type: ignore[return-value]


def llm_usage(calls: int, prompt_tokens: int, completion_tokens: int, seconds: float) -> Usage:
    """Usage of model calls alone."""
    return Usage(
        llm_calls=calls,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        fhir_requests=0,
        seconds=round(seconds, 3),
    )


class EvidenceItem(TypedDict):
    """One tool result as the model saw it."""

    call: str
    """The call in words, e.g. ``observation_series concept=A1c``."""
    text: str
    """What the model read."""
    tokens: int
    citations: list[str]
    """``Type/id`` of everything the text cites."""
    error: bool


class Turn(TypedDict):
    """One finished question and answer, kept for follow-up questions."""

    question: str
    answer: str
    """The answer as returned (citations as [Type/id])."""
    citations: list[str]
    answer_for_model: str
    """The answer as the model wrote it (citations as handles), for follow-up prompts."""
    cited_lines: list[str]
    """The evidence lines the answer cited, as the model read them."""


class AgentInput(TypedDict, total=False):
    """What a caller passes for one question."""

    question: str
    patient_id: str
    """The session's patient, recorded with the conversation so that a thread can never be
    continued for another patient. Nodes do not read it: they use the bound session."""
    answer_type: str | None
    """``yes_no``, ``number``, ``date``, ``choice``, ``set`` or ``text``, for a typed value."""
    choices: list[str] | None
    """The options of a ``choice`` question."""
    context_text: str | None
    """Direct mode only (baselines): the record text to answer from, instead of planning."""


class AgentOutput(TypedDict, total=False):
    """What a caller gets back."""

    answer: str
    value: Any
    unit: str | None
    citations: list[str]
    """``Type/id`` of every resource the answer rests on (all retrieved, when verified)."""
    verified: bool
    """True when every citation is evidence that was retrieved for this session."""
    usage: Usage


class AgentState(AgentInput, AgentOutput, total=False):
    """Everything the nodes share."""

    overview: str
    """The record overview (built once per conversation)."""
    evidence: list[EvidenceItem]
    """Tool results gathered for the current question."""
    done_calls: list[str]
    """Canonical keys of calls already made for the current question."""
    step: int
    """Planning rounds used for the current question."""
    stop_reason: str
    """Why planning stopped: ``enough``, ``no calls``, ``steps``, ``budget``."""
    planned: list[dict[str, Any]]
    """Calls the last plan asked for (PlannedCall dumps), not yet run."""
    draft: dict[str, Any]
    """The model's answer before verification."""
    repair_note: str
    """Why the last draft failed verification (sent back to the model once)."""
    repairs: int
    """Repair passes used for the current question."""
    history: Annotated[list[Turn], operator.add]
    """Earlier questions of this conversation."""
    handles: dict[str, str]
    """Citation handles issued so far (handle -> Type/id), to resume a conversation."""
