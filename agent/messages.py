"""The messages of a planning or answering call, built from state in a fixed order.

System prompt, record overview, earlier turns, evidence, then the step's instruction: the
order never changes within a question, so each call extends the previous call's prefix
and the server's prompt cache does most of the work.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.context import AgentContext
from agent.llm import image_part
from agent.state import AgentState

__all__ = ["MAX_HISTORY_TURNS", "build_messages", "record_block"]

#: Earlier turns repeated in the prompt for follow-up questions.
MAX_HISTORY_TURNS = 3


def record_block(state: AgentState, ctx: AgentContext) -> str:
    """Overview, earlier turns and this question's evidence, as one text."""
    prompts = ctx.options.prompts
    parts = [prompts.record.format(overview=state.get("overview", ""))]
    for turn in (state.get("history") or [])[-MAX_HISTORY_TURNS:]:
        parts.append(
            prompts.history.format(
                question=turn["question"],
                answer=turn.get("answer_for_model") or turn["answer"],
                evidence="\n".join(turn.get("cited_lines") or []) or "(none)",
            )
        )
    for item in state.get("evidence") or []:
        parts.append(prompts.evidence.format(call=item["call"], text=item["text"]))
    return "\n\n".join(parts)


def build_messages(
    state: AgentState,
    ctx: AgentContext,
    instruction: str,
    *,
    images: list[tuple[str, bytes]] | None = None,
) -> list[BaseMessage]:
    """System prompt plus one user message: the record, then ``instruction``.

    ``images`` (handle, PNG bytes) are attached only when the model takes images.
    """
    prompts = ctx.options.prompts
    system = SystemMessage(prompts.system.format(as_of=ctx.session.as_of.isoformat()))
    text = record_block(state, ctx) + "\n\n" + instruction
    if images and ctx.options.vision:
        content: list[str | dict[str, Any]] = [{"type": "text", "text": text}]
        for handle, png in images:
            content.append({"type": "text", "text": f"Image [{handle}]:"})
            content.append(image_part(png, "image/png"))
        return [system, HumanMessage(content=content)]
    return [system, HumanMessage(text)]
