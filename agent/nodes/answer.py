"""``answer`` (LLM): the answer with cited handles and, when asked, a typed value."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.events import event
from agent.llm import call_structured
from agent.messages import build_messages
from agent.prompts import TYPED_VALUE_INSTRUCTIONS
from agent.schemas import answer_model
from agent.state import AgentState, add_usage, llm_usage

__all__ = ["answer", "answer_instruction", "shown_handles"]


def answer_instruction(state: AgentState, ctx: AgentContext) -> str:
    """The final instruction of an answering call."""
    answer_type = state.get("answer_type")
    typed = ""
    if answer_type:
        typed = TYPED_VALUE_INSTRUCTIONS[answer_type].format(
            choices="; ".join(state.get("choices") or [])
        )
    fields = ""
    if answer_type:
        fields = ', "value": ...' + (', "unit": "..."' if answer_type == "number" else "")
    return ctx.options.prompts.answer.format(
        question=state.get("question", ""), typed=typed, typed_fields=fields
    )


def shown_handles(ctx: AgentContext) -> list[str]:
    """Handles of everything the model has been shown (the only citable evidence)."""
    session = ctx.session
    return [session.cites.handle(ref) for ref in session.retrieved]


async def answer(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Draft the answer (a repair pass re-asks with the reason the draft failed)."""
    ctx = runtime.context
    repair = state.get("repair_note", "")
    runtime.stream_writer(
        event("step", "answer", "revising the answer" if repair else "writing the answer")
    )
    schema = answer_model(state.get("answer_type"), state.get("choices"), shown_handles(ctx))
    images = [(h, png) for h, png in ctx.images.items()] if ctx.options.vision else None
    messages = build_messages(state, ctx, answer_instruction(state, ctx), images=images)
    if repair:
        messages += [AIMessage(state.get("draft", {}).get("raw", "")), HumanMessage(repair)]
    result = await call_structured(ctx.model, messages, schema, name="answer", schema_hint=False)
    draft = result.value.model_dump(mode="json")
    draft["raw"] = result.raw_text
    usage = llm_usage(
        result.usage.llm_calls,
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
        result.usage.seconds,
    )
    return {
        "draft": draft,
        "repair_note": "",
        "usage": add_usage(state.get("usage"), usage),
    }
