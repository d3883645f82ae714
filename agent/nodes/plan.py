"""``plan`` (LLM): which tools to call next, as JSON (or native tool calls)."""

from __future__ import annotations

import json
from typing import Any, Literal

from langchain_core.messages import AIMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.runtime import Runtime

from agent.context import AgentContext
from agent.events import event
from agent.llm import LLMOutputError, call_structured
from agent.messages import build_messages
from agent.schemas import Plan, PlannedCall
from agent.state import AgentState, add_usage, llm_usage
from tools.registry import tools_for

__all__ = ["plan", "route_after_plan"]


def _instruction(state: AgentState, ctx: AgentContext) -> str:
    prompts = ctx.options.prompts
    return prompts.plan.format(
        question=state.get("question", ""),
        image_tools=prompts.image_tools if ctx.options.vision else "",
        max_calls=ctx.options.max_calls_per_step,
    )


async def _native_plan(state: AgentState, ctx: AgentContext) -> tuple[Plan, dict[str, Any]]:
    specs = [
        s for s in tools_for(vision=ctx.options.vision).values() if s.name != "record_overview"
    ]
    tools = [
        convert_to_openai_tool(
            {"name": s.name, "description": s.description, "parameters": s.json_schema()}
        )
        for s in specs
    ]
    bound = ctx.model.bind_tools(tools)
    reply = await bound.ainvoke(build_messages(state, ctx, _instruction(state, ctx)))
    assert isinstance(reply, AIMessage)
    calls = []
    for call in reply.tool_calls:
        try:
            calls.append(PlannedCall.model_validate({"tool": call["name"], **call["args"]}))
        except ValueError:
            continue
    usage: dict[str, Any] = dict(reply.usage_metadata or {})
    return Plan(enough=not calls, calls=calls[:3]), dict(
        llm_usage(
            1,
            int(usage.get("input_tokens", 0)),
            int(usage.get("output_tokens", 0)),
            float(reply.response_metadata.get("latency_s", 0.0)),
        )
    )


async def plan(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Ask the model for the next calls; stop planning when it has enough."""
    ctx = runtime.context
    step = state.get("step", 0) + 1
    runtime.stream_writer(event("step", "plan", f"planning (round {step})", round=step))
    try:
        if ctx.options.tool_mode == "native":
            decision, usage = await _native_plan(state, ctx)
        else:
            result = await call_structured(
                ctx.model,
                build_messages(state, ctx, _instruction(state, ctx)),
                Plan,
                name="plan",
                schema_hint=False,
            )
            decision = result.value
            usage = dict(
                llm_usage(
                    result.usage.llm_calls,
                    result.usage.prompt_tokens,
                    result.usage.completion_tokens,
                    result.usage.seconds,
                )
            )
    except LLMOutputError as exc:
        # No usable plan after one repair: answer from what has been gathered so far
        # (the answer still has to cite it), rather than guess at calls.
        runtime.stream_writer(event("step", "plan", f"no usable plan: {exc}", failed=True))
        return {"step": step, "planned": [], "stop_reason": "plan error"}
    done = set(state.get("done_calls") or [])
    fresh: list[PlannedCall] = []
    for call in decision.calls:
        if call.key() not in done and call.key() not in {c.key() for c in fresh}:
            fresh.append(call)
    fresh = fresh[: ctx.options.max_calls_per_step]
    if decision.enough:
        reason = "enough"
        fresh = []
    elif not fresh:
        reason = "no new calls"
    else:
        reason = ""
    runtime.stream_writer(
        event(
            "step",
            "plan",
            "enough evidence" if not fresh else f"{len(fresh)} call(s) planned",
            calls=[json.loads(c.key()) for c in fresh],
            enough=decision.enough,
        )
    )
    return {
        "step": step,
        "planned": [c.model_dump(exclude_none=True) for c in fresh],
        "stop_reason": reason,
        "usage": add_usage(state.get("usage"), usage),  # type: ignore[arg-type]
    }


def route_after_plan(state: AgentState) -> Literal["act", "answer"]:
    """Run the planned calls, or answer when there are none."""
    return "act" if state.get("planned") else "answer"
