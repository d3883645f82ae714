"""``act`` (tools): run the planned calls concurrently, dedupe, and keep to the budget."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.events import event
from agent.schemas import PlannedCall, call_arguments
from agent.state import AgentState, EvidenceItem
from tools.budget import estimate_tokens
from tools.evidence.base import ToolResult
from tools.registry import tools_for

__all__ = ["act", "describe_call", "route_after_act"]


def describe_call(call: PlannedCall, args: dict[str, Any]) -> str:
    """A call in words: ``search type=Condition concept=diabetes``."""
    words = " ".join(f"{k}={v}" for k, v in args.items())
    return f"{call.tool} {words}".strip()


async def _run(ctx: AgentContext, call: PlannedCall) -> tuple[str, ToolResult]:
    specs = tools_for(vision=ctx.options.vision)
    spec = specs.get(call.tool)
    if spec is None:
        text = f"ERROR: tool {call.tool} is not available"
        return call.tool, ToolResult(tool=call.tool, text=text, error=text)
    args = call_arguments(call, set(spec.args_model.model_fields))
    return describe_call(call, args), await ctx.session.run(call.tool, args)


async def act(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Run every planned call at once; results beyond the evidence budget are dropped."""
    ctx = runtime.context
    calls = [PlannedCall.model_validate(c) for c in state.get("planned") or []]
    results = await asyncio.gather(*(_run(ctx, call) for call in calls))
    evidence = list(state.get("evidence") or [])
    used = sum(item["tokens"] for item in evidence) + estimate_tokens(state.get("overview", ""))
    budget = ctx.options.max_evidence_tokens
    stop_reason = state.get("stop_reason", "")
    for (described, result), _call in zip(results, calls, strict=True):
        if used + result.tokens > budget and not result.error:
            stop_reason = "budget"
            runtime.stream_writer(
                event("step", "act", f"evidence budget spent; {described} left out", call=described)
            )
            continue
        used += result.tokens
        for image in result.images:
            ctx.images[ctx.session.cites.handle(image.ref)] = image.png
        evidence.append(
            EvidenceItem(
                call=described,
                text=result.text,
                tokens=result.tokens,
                citations=list(result.citations),
                error=result.error is not None,
            )
        )
        runtime.stream_writer(
            event(
                "evidence",
                "act",
                described,
                tool=result.tool,
                rows=len(result.records),
                tokens=result.tokens,
                truncated=result.truncated,
                error=result.error,
                text=result.text,
            )
        )
    return {
        "evidence": evidence,
        "done_calls": [*(state.get("done_calls") or []), *(c.key() for c in calls)],
        "planned": [],
        "stop_reason": stop_reason,
        "handles": ctx.session.cites.known(),
    }


def route_after_act(state: AgentState, runtime: Runtime[AgentContext]) -> Literal["plan", "answer"]:
    """Plan again unless the step or evidence budget is spent."""
    if state.get("stop_reason") == "budget":
        return "answer"
    if state.get("step", 0) >= runtime.context.options.max_steps:
        return "answer"
    return "plan"
