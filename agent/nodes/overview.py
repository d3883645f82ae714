"""``overview`` (deterministic): start a question; read the record overview once."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.events import event
from agent.state import ZERO_USAGE, AgentState

__all__ = ["intake", "overview"]


def _fresh_question() -> dict[str, Any]:
    return {
        "evidence": [],
        "done_calls": [],
        "planned": [],
        "step": 0,
        "stop_reason": "",
        "draft": {},
        "repair_note": "",
        "repairs": 0,
        "answer": "",
        "value": None,
        "unit": None,
        "citations": [],
        "verified": False,
        "usage": dict(ZERO_USAGE),
    }


async def intake(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Direct mode (baselines): the caller's record text stands in for the overview."""
    updates = _fresh_question()
    updates["overview"] = state.get("context_text") or ""
    runtime.stream_writer(event("step", "intake", "record given by the caller"))
    return updates


async def overview(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Reset the per-question fields; fetch the overview on a conversation's first turn."""
    updates = _fresh_question()
    if not state.get("overview"):
        runtime.stream_writer(event("step", "overview", "reading the record overview"))
        result = await runtime.context.session.run("record_overview")
        updates["overview"] = result.text
        runtime.stream_writer(
            event(
                "evidence",
                "overview",
                "record overview",
                tool="record_overview",
                tokens=result.tokens,
                rows=len(result.records),
                text=result.text,
            )
        )
    updates["handles"] = runtime.context.session.cites.known()
    return updates
